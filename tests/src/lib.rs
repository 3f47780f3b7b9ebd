//! Multi-node integration tests of tacnode live in `tests/tests/`; this
//! library holds their shared harness.

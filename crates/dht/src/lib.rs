//! Sans-IO Kademlia for tacnode (to come): k-buckets over the XOR distance of
//! `NodeId`s, iterative FIND_NODE / FIND_VALUE lookups as pure state machines,
//! and validated storage of signed records. Driven by `handle_*(now, input)`,
//! `poll()` and `poll_timeout()`; never reads the clock or the OS rng.

//! Deterministic in-process network simulator for tacnode (to come): drives
//! thousands of unmodified DHT cores on a virtual clock with seeded latency,
//! loss, partitions and crashes.

//! Fuzz target bodies of tacnode, one module per surface that parses hostile
//! bytes. Each module exposes `run(data: &[u8])`, which must never panic,
//! hang or allocate without bound for any input; invariants are checked with
//! `assert!`, so a violated invariant is reported like a crash.
//!
//! `fuzz_targets/<name>.rs` is a one-line libFuzzer entry point calling
//! `<name>::run`; [`TARGETS`] lists every body so the seed replay test (stable
//! `cargo test`) and the corpus generator see the same set.
//!
//! Adding a target: write `src/<name>.rs` with `pub fn run(data: &[u8])`,
//! add it to [`TARGETS`], copy a file in `fuzz_targets/`, add a `[[bin]]`
//! to Cargo.toml, and give `examples/gen_corpus.rs` a seed writer.

pub mod address;
pub mod broadcast;
pub mod config;
pub mod control_request;
pub mod dht_core;
pub mod envelope;
pub mod frame_codec;
pub mod keystore;
pub mod peer_record;
pub mod prekey_bundle;
pub mod ratchet_decrypt;
pub mod sphinx_packet;
pub mod x3dh_initial;

/// Every target: its name (the `[[bin]]` name) and its body.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("frame_codec", frame_codec::run),
    ("envelope", envelope::run),
    ("peer_record", peer_record::run),
    ("keystore", keystore::run),
    ("address", address::run),
    ("ratchet_decrypt", ratchet_decrypt::run),
    ("x3dh_initial", x3dh_initial::run),
    ("prekey_bundle", prekey_bundle::run),
    ("dht_core", dht_core::run),
    ("config", config::run),
    ("control_request", control_request::run),
    ("broadcast", broadcast::run),
    ("sphinx_packet", sphinx_packet::run),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Replays the committed seeds through every target on stable, so a seed
    /// that trips an invariant is caught without nightly.
    #[test]
    fn committed_seeds_pass_every_target() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for (name, run) in super::TARGETS {
            let dir = seeds.join(name);
            let mut n = 0;
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
                let path = entry.unwrap().path();
                run(&std::fs::read(&path).unwrap());
                n += 1;
            }
            assert!(n > 0, "no seeds for {name}");
        }
    }
}

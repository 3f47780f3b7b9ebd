#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacnode_fuzz::sphinx_packet::run(data));

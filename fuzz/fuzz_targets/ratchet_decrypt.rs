#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacnode_fuzz::ratchet_decrypt::run(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacnode_fuzz::x3dh_initial::run(data));

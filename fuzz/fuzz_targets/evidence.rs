#![no_main]
//! See `livecheck_fuzz::evidence`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| livecheck_fuzz::evidence(data));

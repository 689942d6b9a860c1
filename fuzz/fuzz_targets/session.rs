#![no_main]
//! See `livecheck_fuzz::session`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| livecheck_fuzz::session(data));

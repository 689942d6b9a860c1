#![no_main]
//! See `livecheck_fuzz::frame`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| livecheck_fuzz::frame(data));

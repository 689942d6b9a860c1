#![no_main]
//! See `livecheck_fuzz::wav`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| livecheck_fuzz::wav(data));

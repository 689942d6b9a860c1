#![no_main]
//! See `livecheck_fuzz::pcm`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| livecheck_fuzz::pcm(data));

//! Audio: WAV decoding, resampling to 16 kHz, voice activity (Silero VAD), spoken-digit
//! recognition, energy envelopes and a host-fed stream type keyed by the caller's timestamps.
//!
//! Everything downstream (VAD, lip/audio sync) works on 16 kHz mono `f32` samples in `[-1, 1]`.
//! Hosts either decode a file ([`wav::read_path`], [`wav::read_bytes`]) and resample it
//! ([`resample::resample`]), or push microphone chunks into an [`AudioBuffer`], which resamples
//! on the fly and places each chunk on the caller's clock.
//!
//! ```no_run
//! use livecheck::audio::{self, vad::{Vad, VadConfig, VadModel}};
//! # fn main() -> livecheck::Result<()> {
//! let pcm = audio::wav::read_path("take.wav")?.to_16k();
//! let model = VadModel::load(&std::fs::read("models/silero_vad_16k.onnx").unwrap())?;
//! let speech = Vad::new(&model, VadConfig::default())?.detect(&pcm.samples)?;
//! # Ok(()) }
//! ```

pub mod digit_decoder;
pub mod digits;
pub mod envelope;
pub mod logmel;
pub mod resample;
pub mod stream;
pub mod vad;
pub mod wav;

pub use digit_decoder::DigitDecoder;
pub use digits::{DigitModel, DigitModelBytes, DigitSegment, Recognition};
pub use envelope::Envelope;
pub use stream::{AudioBuffer, AudioBufferConfig};
pub use vad::{SpeechSegment, Vad, VadConfig, VadModel};

use crate::error::{Error, Result};

/// The rate every analysis stage works at, Hz.
pub const TARGET_RATE: u32 = 16_000;
/// Lowest input sample rate accepted, Hz.
pub const MIN_RATE: u32 = 4_000;
/// Highest input sample rate accepted, Hz.
pub const MAX_RATE: u32 = 384_000;
/// Longest audio accepted from a file or a stream, seconds (10 minutes): a liveness attempt
/// lasts seconds, so anything longer is a wrong file or a runaway stream.
pub const MAX_SECONDS: u32 = 600;

/// Mono audio: samples in `[-1, 1]` at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// Mono samples, nominally in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Pcm {
    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 * 1000.0 / self.sample_rate as f64
    }

    /// This audio at [`TARGET_RATE`] (a copy when it is already there).
    pub fn to_16k(&self) -> Pcm {
        Pcm {
            samples: resample::resample(&self.samples, self.sample_rate, TARGET_RATE),
            sample_rate: TARGET_RATE,
        }
    }
}

/// Checks that `rate` is within [`MIN_RATE`]`..=`[`MAX_RATE`].
pub fn check_rate(rate: u32) -> Result<()> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(Error::BadSampleRate {
            rate,
            min: MIN_RATE,
            max: MAX_RATE,
        })
    }
}

/// Checks that `frames` samples at `rate` stay within [`MAX_SECONDS`].
pub(crate) fn check_length(frames: u64, rate: u32) -> Result<()> {
    let seconds = frames as f64 / rate.max(1) as f64;
    if seconds > MAX_SECONDS as f64 {
        Err(Error::AudioTooLong {
            seconds,
            max_seconds: MAX_SECONDS,
        })
    } else {
        Ok(())
    }
}

//! [`AudioBuffer`]: microphone chunks pushed by the host, resampled to 16 kHz and placed on the
//! caller's clock.
//!
//! The first chunk's timestamp is the time of sample 0. After that the sample count is the
//! clock: chunks are appended back to back, and a chunk whose timestamp lies more than
//! [`AudioBufferConfig::gap_tolerance_ms`] after the end of the audio so far (dropped buffers,
//! a paused microphone) is preceded by silence filling the gap, so later audio stays aligned
//! with the video. Timestamp jitter within the tolerance, or a chunk that claims to start a
//! little before the previous one ended, does not move the samples.

use super::resample::Resampler;
use super::vad::{SpeechSegment, Vad};
use super::{check_rate, Pcm, MAX_SECONDS, TARGET_RATE};
use crate::error::{Error, Result};

/// Settings of an [`AudioBuffer`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AudioBufferConfig {
    /// A chunk starting later than this after the end of the audio so far is preceded by
    /// silence filling the gap, ms.
    pub gap_tolerance_ms: u32,
}

impl Default for AudioBufferConfig {
    fn default() -> Self {
        AudioBufferConfig {
            gap_tolerance_ms: 60,
        }
    }
}

/// Host-fed mono audio, kept at 16 kHz, with optional streaming voice activity detection. The
/// samples are zeroed when the buffer is dropped.
#[derive(Debug, Clone)]
pub struct AudioBuffer {
    config: AudioBufferConfig,
    rate: Option<u32>,
    resampler: Option<Resampler>,
    samples: Vec<f32>,
    start_ms: Option<i64>,
    last_ts: Option<i64>,
    /// Input-rate samples taken in so far, gap fill included.
    input_len: u64,
    /// Silence inserted for gaps, ms.
    gap_ms: i64,
    vad: Option<Vad>,
    vad_fed: usize,
    finished: bool,
}

impl Default for AudioBuffer {
    fn default() -> Self {
        AudioBuffer::new(AudioBufferConfig::default())
    }
}

impl Drop for AudioBuffer {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.samples);
    }
}

impl AudioBuffer {
    /// An empty buffer.
    pub fn new(config: AudioBufferConfig) -> Self {
        AudioBuffer {
            config,
            rate: None,
            resampler: None,
            samples: Vec::new(),
            start_ms: None,
            last_ts: None,
            input_len: 0,
            gap_ms: 0,
            vad: None,
            vad_fed: 0,
            finished: false,
        }
    }

    /// Runs `vad` on the audio as it arrives (segments then come from
    /// [`speech_segments`](Self::speech_segments)). The detector is reset.
    pub fn with_vad(mut self, mut vad: Vad) -> Self {
        vad.reset();
        self.vad = Some(vad);
        self.vad_fed = 0;
        self
    }

    /// Appends mono `f32` samples in `[-1, 1]` recorded at `sample_rate` Hz, the first of them
    /// at `timestamp_ms` on the caller's clock.
    ///
    /// Errors: [`Error::BadSampleRate`] for a rate outside the supported range (zero
    /// included), [`Error::SampleRateChanged`] when the rate differs from earlier chunks,
    /// [`Error::TimestampNotIncreasing`] when `timestamp_ms` is not after the previous chunk's,
    /// [`Error::AudioTooLong`] past [`MAX_SECONDS`], and [`Error::InvalidConfig`] after
    /// [`finish`](Self::finish).
    pub fn push(&mut self, samples: &[f32], sample_rate: u32, timestamp_ms: i64) -> Result<()> {
        self.push_iter(
            samples.iter().copied(),
            samples.len(),
            sample_rate,
            timestamp_ms,
        )
    }

    /// [`push`](Self::push) for 16-bit integer samples (scaled by 1/32768).
    pub fn push_i16(&mut self, samples: &[i16], sample_rate: u32, timestamp_ms: i64) -> Result<()> {
        self.push_iter(
            samples.iter().map(|&s| s as f32 / 32768.0),
            samples.len(),
            sample_rate,
            timestamp_ms,
        )
    }

    fn push_iter(
        &mut self,
        samples: impl Iterator<Item = f32>,
        len: usize,
        sample_rate: u32,
        timestamp_ms: i64,
    ) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidConfig(
                "audio pushed after AudioBuffer::finish".into(),
            ));
        }
        check_rate(sample_rate)?;
        crate::error::check_timestamp(timestamp_ms)?;
        if let Some(previous) = self.rate {
            if previous != sample_rate {
                return Err(Error::SampleRateChanged {
                    previous,
                    got: sample_rate,
                });
            }
        }
        if let Some(previous) = self.last_ts {
            if timestamp_ms <= previous {
                return Err(Error::TimestampNotIncreasing {
                    previous,
                    got: timestamp_ms,
                });
            }
        }
        let start = *self.start_ms.get_or_insert(timestamp_ms);
        let rate = sample_rate as u64;
        let end_ms = start as f64 + self.input_len as f64 * 1000.0 / rate as f64;
        let late = timestamp_ms as f64 - end_ms;
        let fill = if late > self.config.gap_tolerance_ms as f64 {
            (late * rate as f64 / 1000.0).round() as u64
        } else {
            0
        };
        // Saturating: a timestamp far in the future must fail as too long, not overflow.
        let total = self
            .input_len
            .saturating_add(fill)
            .saturating_add(len as u64);
        if total > MAX_SECONDS as u64 * rate {
            return Err(Error::AudioTooLong {
                seconds: total as f64 / rate as f64,
                max_seconds: MAX_SECONDS,
            });
        }
        self.rate = Some(sample_rate);
        self.last_ts = Some(timestamp_ms);
        let resampler = self
            .resampler
            .get_or_insert_with(|| Resampler::new(sample_rate, TARGET_RATE));
        if fill > 0 {
            self.gap_ms += (fill * 1000 / rate) as i64;
            // In bounded time and memory: a gap of minutes at 384 kHz is not allocated.
            self.samples.extend(resampler.process_silence(fill));
        }
        let input: Vec<f32> = samples.collect();
        self.samples.extend(resampler.process(&input));
        self.input_len = total;
        self.feed_vad()
    }

    /// Ends the stream: emits the resampler's last samples and closes an open speech segment.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if let Some(r) = self.resampler.as_mut() {
            self.samples.extend(r.flush());
            // The flush pads past the real input; keep exactly the resampled length.
            let want = (self.input_len * TARGET_RATE as u64)
                .div_ceil(self.rate.unwrap_or(TARGET_RATE) as u64) as usize;
            self.samples.truncate(want);
        }
        self.feed_vad()?;
        if let Some(vad) = self.vad.as_mut() {
            vad.finish()?;
        }
        Ok(())
    }

    fn feed_vad(&mut self) -> Result<()> {
        if let Some(vad) = self.vad.as_mut() {
            vad.push(&self.samples[self.vad_fed..])?;
            self.vad_fed = self.samples.len();
        }
        Ok(())
    }

    /// The 16 kHz samples so far (a few ms behind the input until [`finish`](Self::finish)).
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// The audio so far as [`Pcm`] at 16 kHz.
    pub fn pcm(&self) -> Pcm {
        Pcm {
            samples: self.samples.clone(),
            sample_rate: TARGET_RATE,
        }
    }

    /// Caller's time of 16 kHz sample 0, once audio arrived.
    pub fn start_ms(&self) -> Option<i64> {
        self.start_ms
    }

    /// The index of the 16 kHz sample at the caller's time `t_ms`, clamped to the samples so
    /// far (0 before any audio arrived).
    pub fn index_at(&self, t_ms: i64) -> usize {
        let Some(start) = self.start_ms else {
            return 0;
        };
        let offset = i128::from(t_ms) - i128::from(start);
        let index = offset.max(0) * i128::from(TARGET_RATE) / 1000;
        index.min(self.samples.len() as i128) as usize
    }

    /// Caller's time of 16 kHz sample `index`, ms.
    pub fn time_ms(&self, index: usize) -> Option<f64> {
        self.start_ms
            .map(|s| s as f64 + index as f64 * 1000.0 / TARGET_RATE as f64)
    }

    /// The host's sample rate, once audio arrived.
    pub fn input_rate(&self) -> Option<u32> {
        self.rate
    }

    /// Length of the audio taken in (gap fill included), ms.
    pub fn duration_ms(&self) -> f64 {
        match self.rate {
            Some(r) => self.input_len as f64 * 1000.0 / r as f64,
            None => 0.0,
        }
    }

    /// Silence inserted to fill timestamp gaps so far, ms.
    pub fn gap_fill_ms(&self) -> i64 {
        self.gap_ms
    }

    /// The attached detector, if any.
    pub fn vad(&self) -> Option<&Vad> {
        self.vad.as_ref()
    }

    /// Closed speech segments on the caller's clock (empty without a detector; the last one
    /// closes at [`finish`](Self::finish) if speech runs to the end).
    pub fn speech_segments(&self) -> Vec<SpeechSegment> {
        let (Some(vad), Some(start)) = (self.vad.as_ref(), self.start_ms) else {
            return Vec::new();
        };
        vad.segments()
            .iter()
            .map(|s| SpeechSegment {
                start_ms: s.start_ms + start,
                end_ms: s.end_ms + start,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_audio_to_caller_time_and_fills_gaps() {
        let mut b = AudioBuffer::default();
        assert_eq!(b.index_at(5000), 0, "no audio yet");
        // 100 ms chunks at 48 kHz starting at t = 1000 ms, then a 500 ms gap.
        let chunk = vec![0.25f32; 4800];
        b.push(&chunk, 48_000, 1000).unwrap();
        b.push(&chunk, 48_000, 1100).unwrap();
        b.push(&chunk, 48_000, 1230).unwrap(); // 30 ms jitter: no fill
        b.push(&chunk, 48_000, 1800).unwrap(); // 500 ms late: filled
        b.finish().unwrap();
        assert_eq!(b.start_ms(), Some(1000));
        assert_eq!(b.gap_fill_ms(), 500);
        assert!((b.duration_ms() - 900.0).abs() < 1e-9);
        assert_eq!(b.samples().len(), 900 * 16);
        assert_eq!(b.time_ms(16_000), Some(2000.0));
        // Caller's times back to sample indices, clamped to the audio.
        assert_eq!(
            [0, 1000, 1500, 1900, i64::MAX].map(|t| b.index_at(t)),
            [0, 0, 8000, 14_400, 14_400]
        );
        // The gap is silent, the chunk after it carries the signal.
        let at = |t: f64| b.samples()[((t - 1000.0) * 16.0) as usize];
        assert!(at(1500.0).abs() < 1e-3);
        assert!((at(1850.0) - 0.25).abs() < 1e-3);
        assert!((at(1050.0) - 0.25).abs() < 1e-3);
    }

    #[test]
    fn rejects_bad_rates_and_timestamps() {
        let mut b = AudioBuffer::default();
        assert!(matches!(
            b.push(&[0.0; 10], 0, 0),
            Err(Error::BadSampleRate { rate: 0, .. })
        ));
        b.push_i16(&[0; 160], 16_000, 0).unwrap();
        assert!(matches!(
            b.push(&[0.0; 10], 44_100, 10),
            Err(Error::SampleRateChanged {
                previous: 16_000,
                got: 44_100
            })
        ));
        assert!(matches!(
            b.push(&[0.0; 10], 16_000, 0),
            Err(Error::TimestampNotIncreasing {
                previous: 0,
                got: 0
            })
        ));
        assert!(matches!(
            b.push(&[0.0; 10], 16_000, 3_600_000),
            Err(Error::AudioTooLong { .. })
        ));
        // A timestamp at the end of time: out of range; at the end of the range: too long,
        // not an overflow (found by fuzzing).
        assert!(matches!(
            b.push(&[0.0; 10], 16_000, i64::MAX),
            Err(Error::TimestampOutOfRange { .. })
        ));
        assert!(matches!(
            b.push(&[0.0; 10], 16_000, 1 << 53),
            Err(Error::AudioTooLong { .. })
        ));
        b.finish().unwrap();
        assert!(b.push(&[0.0; 10], 16_000, 20).is_err());
    }

    #[test]
    fn i16_is_scaled() {
        let mut b = AudioBuffer::default();
        b.push_i16(&[16_384; 320], 16_000, 5).unwrap();
        b.finish().unwrap();
        assert_eq!(b.samples().len(), 320);
        assert!(b.samples().iter().all(|&s| s == 0.5));
    }
}

//! Voice activity detection with Silero VAD v6 (16 kHz, stateful), plus hysteresis
//! segmentation into speech segments.
//!
//! The model sees 512 new samples (32 ms) per step with the previous 64 samples as context and
//! carries a `[2, 1, 128]` recurrent state from step to step; it outputs the speech probability
//! of the 512 new samples. Each stream starts from the state left by 512 ms of silence
//! ([`PRIME_STEPS`]). [`Vad`] keeps that state between pushes, so audio can arrive in chunks
//! of any size, and turns the probabilities into segments: speech starts when the probability
//! reaches [`VadConfig::on`], ends once it stays below [`VadConfig::off`] for
//! [`VadConfig::min_silence_ms`], segments shorter than [`VadConfig::min_speech_ms`] are dropped,
//! and the rest are widened by [`VadConfig::pad_ms`] on each side (never overlapping).

use crate::error::{Error, Result};
use crate::models::Model;

/// New samples per model step (32 ms at 16 kHz).
pub const CHUNK: usize = 512;
/// Samples of the previous step repeated at the start of each input.
pub const CONTEXT: usize = 64;
/// Elements of the recurrent state (`[2, 1, 128]`).
pub const STATE_LEN: usize = 2 * 128;
/// Milliseconds per model step.
pub const STEP_MS: f64 = CHUNK as f64 * 1000.0 / 16_000.0;

/// Model steps of silence run through a fresh state before any audio (512 ms).
///
/// Silero's recurrent state starting from zeros needs a few hundred milliseconds before it
/// trusts speech: on FSDD digits (takes 5 and 6, trimmed tight to the word) the zero state
/// found speech in 71 of 80 recordings, the primed state in 80 of 80 (10 -> 11 of 11 on the
/// Shtooka Mandarin digits). A live recording has such a lead-in anyway; priming makes clips
/// without one work.
pub const PRIME_STEPS: usize = 16;

/// The loaded Silero VAD model (`models/silero_vad_16k.onnx`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct VadModel {
    model: Model,
    /// The state after [`PRIME_STEPS`] steps of silence from zeros.
    primed: Vec<f32>,
}

impl VadModel {
    /// Loads and checks the ONNX bytes: inputs `input [1, 576]` and `state [2, 1, 128]`,
    /// outputs `output [1, 1]` and `stateN [2, 1, 128]`.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let model = Model::load(
            "vad",
            bytes,
            &[&[1, CONTEXT + CHUNK], &[2, 1, 128]],
            &[1, STATE_LEN],
        )?;
        let mut vad = VadModel {
            model,
            primed: vec![0.0; STATE_LEN],
        };
        let silence = [0.0f32; CONTEXT + CHUNK];
        let mut state = vec![0.0; STATE_LEN];
        for _ in 0..PRIME_STEPS {
            state = vad.step(&silence, &state)?.1;
        }
        vad.primed = state;
        Ok(vad)
    }

    /// The speech segments of a whole recording (16 kHz samples) with the default settings.
    pub fn speech(&self, samples: &[f32]) -> Result<Vec<SpeechSegment>> {
        Vad::new(self, VadConfig::default())?.detect(samples)
    }

    /// One model step: speech probability of `input` (context + chunk) and the next state.
    fn step(&self, input: &[f32], state: &[f32]) -> Result<(f32, Vec<f32>)> {
        let mut out = self.model.run(&[input, state])?;
        let state = out.pop().unwrap_or_default();
        let p = out.first().and_then(|o| o.first()).copied().unwrap_or(0.0);
        Ok((p, state))
    }
}

/// Thresholds and durations of the speech segmentation.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct VadConfig {
    /// Probability at or above which speech starts (Silero's default 0.5).
    pub on: f32,
    /// Probability below which speech may end (hysteresis; below `on`).
    pub off: f32,
    /// Segments shorter than this (before padding) are dropped, ms.
    pub min_speech_ms: u32,
    /// Silence shorter than this does not end a segment, ms.
    pub min_silence_ms: u32,
    /// Each segment is widened by this much on both sides, ms.
    pub pad_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            on: 0.5,
            off: 0.35,
            min_speech_ms: 100,
            min_silence_ms: 200,
            pad_ms: 30,
        }
    }
}

impl VadConfig {
    /// Checks the values: `0 < off <= on < 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.off > 0.0 && self.off <= self.on && self.on < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "VAD thresholds need 0 < off <= on < 1, got off {} on {}",
                self.off, self.on
            )));
        }
        Ok(())
    }
}

/// A stretch of speech, in milliseconds from the start of the audio given to the [`Vad`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SpeechSegment {
    /// Start, ms (inclusive).
    pub start_ms: i64,
    /// End, ms (exclusive).
    pub end_ms: i64,
}

impl SpeechSegment {
    /// Length in ms.
    pub fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// Streaming voice activity detector over 16 kHz samples.
#[derive(Debug, Clone)]
pub struct Vad {
    model: VadModel,
    config: VadConfig,
    state: Vec<f32>,
    /// Model input: 64 context samples followed by the chunk being filled.
    input: Vec<f32>,
    /// Samples in `input` past the context.
    filled: usize,
    /// Per-step probabilities so far.
    probs: Vec<f32>,
    /// Start sample of the open segment, if speech is on.
    open: Option<u64>,
    /// Sample where the current run of low probability began, while speech is on.
    quiet_since: Option<u64>,
    /// Closed segments, padded.
    segments: Vec<SpeechSegment>,
    /// Samples consumed in whole steps.
    samples: u64,
}

impl Vad {
    /// A detector over a loaded model.
    pub fn new(model: &VadModel, config: VadConfig) -> Result<Self> {
        config.validate()?;
        Ok(Vad {
            model: model.clone(),
            config,
            state: model.primed.clone(),
            input: vec![0.0; CONTEXT + CHUNK],
            filled: 0,
            probs: Vec::new(),
            open: None,
            quiet_since: None,
            segments: Vec::new(),
            samples: 0,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Feeds 16 kHz samples; returns the segments this push closed (also kept in
    /// [`segments`](Self::segments)). A tail shorter than one step waits for the next push.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<SpeechSegment>> {
        let before = self.segments.len();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (CHUNK - self.filled).min(rest.len());
            self.input[CONTEXT + self.filled..CONTEXT + self.filled + take]
                .copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled == CHUNK {
                let (p, state) = self.model.step(&self.input, &self.state)?;
                self.state = state;
                self.input.copy_within(CHUNK.., 0);
                self.filled = 0;
                self.probs.push(p);
                self.samples += CHUNK as u64;
                self.update(p);
            }
        }
        Ok(self.segments[before..].to_vec())
    }

    /// Ends the stream: a partial last step is zero-padded and run, an open segment is closed
    /// at the end of the audio. Returns the segments this closed. The detector can then be
    /// [`reset`](Self::reset) for another stream.
    pub fn finish(&mut self) -> Result<Vec<SpeechSegment>> {
        let before = self.segments.len();
        if self.filled > 0 {
            let real = self.filled;
            self.push(&vec![0.0; CHUNK - real])?;
            // Only the real samples count as audio.
            self.samples -= (CHUNK - real) as u64;
        }
        if let Some(start) = self.open.take() {
            let end = self
                .quiet_since
                .take()
                .unwrap_or(self.samples)
                .min(self.samples);
            self.close(start, end);
        }
        Ok(self.segments[before..].to_vec())
    }

    /// Runs a whole recording through a fresh state and returns its speech segments.
    pub fn detect(&mut self, samples: &[f32]) -> Result<Vec<SpeechSegment>> {
        self.reset();
        self.push(samples)?;
        self.finish()?;
        Ok(self.segments.clone())
    }

    /// Forgets everything: state, probabilities and segments.
    pub fn reset(&mut self) {
        self.state.copy_from_slice(&self.model.primed);
        self.input.iter_mut().for_each(|v| *v = 0.0);
        self.filled = 0;
        self.probs.clear();
        self.open = None;
        self.quiet_since = None;
        self.segments.clear();
        self.samples = 0;
    }

    /// Speech probability of every 32 ms step so far (step `i` covers samples
    /// `512 i .. 512 (i + 1)`).
    pub fn probabilities(&self) -> &[f32] {
        &self.probs
    }

    /// Every closed segment so far, in order.
    pub fn segments(&self) -> &[SpeechSegment] {
        &self.segments
    }

    /// Whether speech is on at the latest step.
    pub fn in_speech(&self) -> bool {
        self.open.is_some()
    }

    /// Hysteresis on the probability of the step that ended at `self.samples`.
    fn update(&mut self, p: f32) {
        let step_start = self.samples - CHUNK as u64;
        let min_silence = self.config.min_silence_ms as u64 * 16;
        match self.open {
            None => {
                if p >= self.config.on {
                    self.open = Some(step_start);
                    self.quiet_since = None;
                }
            }
            Some(start) => {
                if p >= self.config.on {
                    self.quiet_since = None;
                } else if p < self.config.off {
                    let since = *self.quiet_since.get_or_insert(step_start);
                    if self.samples - since >= min_silence {
                        self.open = None;
                        self.quiet_since = None;
                        self.close(start, since);
                    }
                }
            }
        }
    }

    /// Records a segment of samples `start..end` if long enough, padded and kept disjoint.
    fn close(&mut self, start: u64, end: u64) {
        if end <= start || (end - start) < self.config.min_speech_ms as u64 * 16 {
            return;
        }
        let pad = self.config.pad_ms as i64;
        let to_ms = |s: u64| (s as f64 / 16.0).round() as i64;
        let mut seg = SpeechSegment {
            start_ms: (to_ms(start) - pad).max(0),
            end_ms: (to_ms(end) + pad).min(to_ms(self.samples)),
        };
        if let Some(last) = self.segments.last() {
            // Only when pad_ms * 2 > min_silence_ms can paddings meet.
            seg.start_ms = seg.start_ms.max(last.end_ms);
        }
        self.segments.push(seg);
    }
}

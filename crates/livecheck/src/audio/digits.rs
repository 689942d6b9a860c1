//! Spoken digits: 16 kHz speech → a digit string with per-digit times and confidences, in
//! English and Mandarin alike (零 and "zero" are the same class), and the challenge check as
//! verification ([`Recognition::margin`]).
//!
//! Two models in a row, on fixed 6 s windows:
//! 1. Whisper's log-mel ([`super::logmel`]) and **OpenAI Whisper base's encoder**
//!    (`whisper_encoder_base_6s.onnx`, MIT; rebuilt at provisioning time from the pinned PyPI
//!    wheels by `models/whisper_digits/provision.py`, positional table sliced to the window):
//!    a frozen front end trained on 680,000 hours of speech in 97 languages, one 512-d vector
//!    per 20 ms;
//! 2. `digits.onnx`, the project's own CTC head (`models/whisper_digits/run.sh`): log-probabilities
//!    of blank and the ten digits per 40 ms step.
//!
//! The challenge is then checked by two verifiers whose margins are fused into one score
//! ([`DigitModel::margin`], [`fuse`]): the head's CTC scores ([`Recognition::margin`]) and
//! Whisper's own decoder ([`super::digit_decoder`], `whisper_decoder_base_digits.onnx`), which
//! reads the challenge as Whisper would write it.
//!
//! [`recognise`] places windows on the speech the VAD found
//! (consecutive segments share a window while they fit; a longer stretch is cut at its pauses;
//! each window takes in the audio around its speech up to 6 s, so a digit the VAD missed beside
//! the speech it found is still heard), runs the models on each and decodes: CTC prefix beam search for the digit string (summing
//! over alignments), then the most likely alignment of that string for each digit's times.
//!
//! ```no_run
//! use livecheck::audio::{self, digits::{self, DigitModel, DigitModelBytes}};
//! use livecheck::audio::vad::{Vad, VadConfig, VadModel};
//! # fn main() -> livecheck::Result<()> {
//! let pcm = audio::wav::read_path("take.wav")?.to_16k();
//! let vad = VadModel::load(&std::fs::read("models/silero_vad_16k.onnx").unwrap())?;
//! let speech = Vad::new(&vad, VadConfig::default())?.detect(&pcm.samples)?;
//! let read = |f: &str| std::fs::read(format!("models/{f}")).unwrap();
//! let model = DigitModel::load(&DigitModelBytes {
//!     encoder: read("whisper_encoder_base_6s.onnx"),
//!     head: read("digits.onnx"),
//!     decoder: read("whisper_decoder_base_digits.onnx"),
//! })?;
//! let heard = digits::recognise(&model, &pcm.samples, Some(&speech))?;
//! let config = livecheck::DigitsConfig::new(livecheck::Language::Mandarin);
//! let score = model.margin(&heard, "4829", &config)?;
//! println!("{} (4829 verified: {})", heard.digits, score > config.threshold(4));
//! # Ok(()) }
//! ```

use crate::audio::digit_decoder::DigitDecoder;
use crate::audio::logmel::{self, LogMel};
use crate::audio::{SpeechSegment, TARGET_RATE};
use crate::error::Result;
use crate::models::Model;
use crate::reading::{DigitsConfig, Language};

/// Samples in one model window (6 s at 16 kHz).
pub const WINDOW: usize = logmel::WINDOW;
/// Encoder frames per window (20 ms each) and their size.
const ENCODER_FRAMES: usize = logmel::FRAMES / 2;
const ENCODER_DIM: usize = 512;
/// Values in one window's encoder output (`[300, 512]`).
pub const ENCODED_LEN: usize = ENCODER_FRAMES * ENCODER_DIM;
/// Output steps per window (one per two encoder frames).
pub const STEPS: usize = ENCODER_FRAMES / 2;
/// Output classes: 0 is the CTC blank, `d + 1` is digit `d`.
pub const CLASSES: usize = 11;
/// Time between output steps, ms: step `t` is the audio from `t · STEP_MS` to
/// `(t + 1) · STEP_MS` after the window's first sample (the encoder sees the whole window).
pub const STEP_MS: f64 = 40.0;
/// Samples per output step.
const STEP_SAMPLES: usize = WINDOW / STEPS;
/// Silence kept before and after the speech in a window, ms.
const MARGIN_MS: i64 = 250;
/// The head's margin is clipped to ±this before fusion: beyond it the head is as sure as it
/// gets, and an impossible or unheard reading (−∞, `f32::MIN`) must not outweigh the decoder.
pub const HEAD_CLIP: f32 = 20.0;
/// The decoder's margin is clipped to ±this before fusion.
pub const DECODER_CLIP: f32 = 10.0;

/// The check's score from the two verifiers' margins (natural-log ratios against the best
/// competing reading): `clip(head, ±HEAD_CLIP) + decoder_weight · clip(decoder, ±DECODER_CLIP)`,
/// a linear fusion of two log-likelihood ratios whose weight and threshold
/// ([`DigitsConfig::decoder_weight`], [`DigitsConfig::min_margin`]) are calibrated on speakers
/// by `cargo xtask eval digits`. NaN inputs count as the worst margin.
pub fn fuse(head: f32, decoder: f32, decoder_weight: f32) -> f32 {
    let clip = |x: f32, c: f32| if x.is_nan() { -c } else { x.clamp(-c, c) };
    clip(head, HEAD_CLIP) + decoder_weight * clip(decoder, DECODER_CLIP)
}

/// Whether the head's margin alone decides a check of `challenge_len` digits in its favour:
/// its score with the decoder's worst margin already exceeds `config.threshold`, so Whisper's
/// decoder need not run ([`DigitModel::margin`]).
pub fn head_settles(head: f32, challenge_len: usize, config: &DigitsConfig) -> bool {
    fuse(head, -DECODER_CLIP, config.decoder_weight) > config.threshold(challenge_len)
}

/// The digit recogniser's three models' ONNX bytes.
#[derive(Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DigitModelBytes {
    /// `whisper_encoder_base_6s.onnx` (Whisper base's encoder, 6 s window).
    pub encoder: Vec<u8>,
    /// `digits.onnx` (the CTC head).
    pub head: Vec<u8>,
    /// `whisper_decoder_base_digits.onnx` (Whisper base's decoder, cut to the digit tokens).
    pub decoder: Vec<u8>,
}

impl std::fmt::Debug for DigitModelBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitModelBytes")
            .field("encoder_bytes", &self.encoder.len())
            .field("head_bytes", &self.head.len())
            .field("decoder_bytes", &self.decoder.len())
            .finish()
    }
}

/// The loaded digit models, optimised and runnable. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DigitModel {
    mel: LogMel,
    encoder: Model,
    head: Model,
    decoder: DigitDecoder,
}

impl DigitModel {
    /// Loads the three models and checks their shapes (`[1, 80, 600]` log-mel → `[1, 300, 512]`
    /// encoder frames → `[1, 150, 11]` log-probabilities; the decoder's in
    /// [`DigitDecoder::load`]).
    pub fn load(bytes: &DigitModelBytes) -> Result<Self> {
        Ok(DigitModel {
            mel: LogMel::new(),
            encoder: Model::load(
                "whisper_encoder",
                &bytes.encoder,
                &[&[1, logmel::BANDS, logmel::FRAMES]],
                &[ENCODER_FRAMES * ENCODER_DIM],
            )?,
            head: Model::load(
                "digits",
                &bytes.head,
                &[&[1, ENCODER_FRAMES, ENCODER_DIM]],
                &[STEPS * CLASSES],
            )?,
            decoder: DigitDecoder::load(&bytes.decoder)?,
        })
    }

    /// Whisper's encoder output (`[300, 512]`, row-major) for one window: `samples` (16 kHz, at
    /// most [`WINDOW`]) are zero-padded at the end.
    pub fn encode(&self, samples: &[f32]) -> Result<Vec<f32>> {
        let mel = self.mel.compute(&samples[..samples.len().min(WINDOW)]);
        Ok(self.encoder.run(&[&mel])?.remove(0))
    }

    /// How well `heard` supports `challenge`, as the check scores it: the two verifiers'
    /// margins fused ([`fuse`] with `config.decoder_weight`): the head's
    /// ([`Recognition::margin`]) and Whisper's decoder's on any window
    /// ([`Self::decoder_margin`], in `config.language`). The check passes above
    /// `config.threshold(challenge.len())`. The decoder runs only when the head alone cannot
    /// settle it (its score with the decoder's worst margin is at most that): most genuine
    /// readings skip its ~140 ms, and then the result is that lower bound.
    pub fn margin(
        &self,
        heard: &Recognition,
        challenge: &str,
        config: &DigitsConfig,
    ) -> Result<f32> {
        let head = heard.margin(challenge);
        if head_settles(head, challenge.len(), config) {
            return Ok(fuse(head, -DECODER_CLIP, config.decoder_weight));
        }
        let decoder = self.decoder_margin(heard, challenge, config.language)?;
        Ok(fuse(head, decoder, config.decoder_weight))
    }

    /// Whisper's decoder's margin for `challenge` ([`DigitDecoder::margin`]): the best over
    /// `heard`'s windows, `f32::MIN` when there are none.
    pub fn decoder_margin(
        &self,
        heard: &Recognition,
        challenge: &str,
        language: Language,
    ) -> Result<f32> {
        let mut best = f32::MIN;
        for encoded in &heard.encoded {
            best = best.max(self.decoder.margin(encoded, challenge, language)?);
        }
        Ok(best)
    }

    /// Log-probabilities per step of one window: `samples` (16 kHz, at most [`WINDOW`]) are
    /// zero-padded at the end; steps that start after the audio are dropped.
    pub fn log_probs(&self, samples: &[f32]) -> Result<Vec<[f32; CLASSES]>> {
        self.head_log_probs(&self.encode(samples)?, samples.len())
    }

    /// The head's log-probabilities per step on one window's encoder output, for the first
    /// `samples` samples of the window (at most [`WINDOW`] count).
    fn head_log_probs(&self, encoded: &[f32], samples: usize) -> Result<Vec<[f32; CLASSES]>> {
        let out = self.head.run(&[encoded])?.remove(0);
        Ok(out
            .chunks_exact(CLASSES)
            .take(samples.min(WINDOW).div_ceil(STEP_SAMPLES))
            .map(|c| std::array::from_fn(|k| c[k]))
            .collect())
    }
}

/// One recognised digit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DigitSegment {
    /// The digit, 0..=9.
    pub digit: u8,
    /// Start of its first step, ms from the start of the audio.
    pub start_ms: i64,
    /// End of its last step, ms.
    pub end_ms: i64,
    /// Highest posterior of the digit over its steps, 0..1.
    pub confidence: f32,
}

/// What was heard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recognition {
    /// The digits in order, as text ("4829"); empty when none were heard.
    pub digits: String,
    /// One entry per digit, in order.
    pub segments: Vec<DigitSegment>,
    /// The model's log-probabilities over every step of every window, in time order.
    pub steps: Vec<[f32; CLASSES]>,
    /// Whisper's encoder output of each window (`[300, 512]` row-major), for the decoder.
    pub encoded: Vec<Vec<f32>>,
}

impl Recognition {
    /// The head's verdict on `challenge` (the check uses [`DigitModel::margin`], which also
    /// asks Whisper's decoder): how much better the audio supports it than any competing reading: the
    /// log-likelihood ratio `log P(challenge) − max log P(competitor)` (natural log, CTC summed
    /// over alignments) where the competitors are every reading with one digit changed, one
    /// digit left out or two different digits swapped ([`competitors`]), and the beam search's
    /// best readings. Positive when the challenge is the most likely of them; the check fuses
    /// it with the decoder's ([`fuse`]). Finite: `f32::MIN` when the challenge
    /// is impossible (not digits, or longer than the audio allows).
    pub fn margin(&self, challenge: &str) -> f32 {
        let want = sequence_log_prob(&self.steps, challenge);
        let heard = beam_hypotheses(&self.steps, BEAM)
            .into_iter()
            .take(RIVAL_BEAMS)
            .map(|labels| {
                labels
                    .iter()
                    .map(|&l| char::from(b'0' + (l - 1) as u8))
                    .collect()
            });
        let best = competitors(challenge)
            .into_iter()
            .chain(heard)
            .filter(|r: &String| r != challenge)
            .map(|r| sequence_log_prob(&self.steps, &r))
            .fold(f32::NEG_INFINITY, f32::max);
        let margin = want - best;
        if margin.is_nan() {
            f32::MIN
        } else {
            margin.clamp(f32::MIN, f32::MAX)
        }
    }
}

/// Beam-search readings counted as competitors by [`Recognition::margin`].
const RIVAL_BEAMS: usize = 4;

/// The readings a verifier weighs `challenge` against: every one-digit substitution, every
/// single deletion and every swap of two different digits (sorted, without duplicates and
/// without `challenge` itself). Empty when `challenge` is not all digits.
pub fn competitors(challenge: &str) -> Vec<String> {
    let c = challenge.as_bytes();
    if !c.iter().all(u8::is_ascii_digit) {
        return Vec::new();
    }
    let text = |v: Vec<u8>| String::from_utf8(v).expect("ascii digits");
    let mut out = std::collections::BTreeSet::new();
    for i in 0..c.len() {
        for d in b'0'..=b'9' {
            let mut v = c.to_vec();
            v[i] = d;
            out.insert(text(v));
        }
        let mut v = c.to_vec();
        v.remove(i);
        out.insert(text(v));
        for j in i + 1..c.len() {
            let mut v = c.to_vec();
            v.swap(i, j);
            out.insert(text(v));
        }
    }
    out.remove(challenge);
    out.into_iter().collect()
}

/// CTC log-probability of the digit string `digits` given per-step log-probabilities (the
/// forward algorithm, summing over every alignment). `-inf` when the steps are too few or a
/// character is not a digit.
pub fn sequence_log_prob(steps: &[[f32; CLASSES]], digits: &str) -> f32 {
    let Some(labels) = digits
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| (b - b'0') as usize + 1))
        .collect::<Option<Vec<usize>>>()
    else {
        return f32::NEG_INFINITY;
    };
    // Extended sequence: blank, l1, blank, l2, …, blank.
    let ext: Vec<usize> = std::iter::once(0)
        .chain(labels.iter().flat_map(|&l| [l, 0]))
        .collect();
    let n = ext.len();
    let add = log_add;
    let mut alpha = vec![f64::NEG_INFINITY; n];
    for (t, step) in steps.iter().enumerate() {
        let mut next = vec![f64::NEG_INFINITY; n];
        for s in 0..n {
            let mut a = if t == 0 {
                if s < 2 {
                    0.0
                } else {
                    f64::NEG_INFINITY
                }
            } else {
                let mut a = alpha[s];
                if s >= 1 {
                    a = add(a, alpha[s - 1]);
                }
                if s >= 2 && ext[s] != 0 && ext[s] != ext[s - 2] {
                    a = add(a, alpha[s - 2]);
                }
                a
            };
            if a != f64::NEG_INFINITY {
                a += step[ext[s]] as f64;
            }
            next[s] = a;
        }
        alpha = next;
    }
    if steps.is_empty() {
        return if labels.is_empty() {
            0.0
        } else {
            f32::NEG_INFINITY
        };
    }
    let total = if n >= 2 {
        add(alpha[n - 1], alpha[n - 2])
    } else {
        alpha[n - 1]
    };
    total as f32
}

/// Prefixes kept by the beam search.
const BEAM: usize = 8;

/// Decodes `steps` (log-probabilities, class 0 blank) of a window that starts at `start_ms`:
/// the most likely digit string by CTC prefix beam search (which, unlike the best single path,
/// sums over alignments), then each digit's steps from the most likely alignment of that
/// string.
pub fn decode(steps: &[[f32; CLASSES]], start_ms: f64) -> Vec<DigitSegment> {
    let labels = beam_search(steps, BEAM);
    align(steps, &labels)
        .into_iter()
        .zip(&labels)
        .map(|((first, last, confidence), &label)| {
            let at = |t: usize| (start_ms + t as f64 * STEP_MS).round() as i64;
            DigitSegment {
                digit: (label - 1) as u8,
                start_ms: at(first),
                end_ms: at(last + 1),
                confidence,
            }
        })
        .collect()
}

/// `log(e^a + e^b)`.
fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        b
    } else if b == f64::NEG_INFINITY {
        a
    } else {
        a.max(b) + (-(a - b).abs()).exp().ln_1p()
    }
}

/// A prefix's (log P ending in blank, log P ending in its last label), impossible until set.
fn slot(
    beams: &mut std::collections::HashMap<Vec<usize>, (f64, f64)>,
    prefix: Vec<usize>,
) -> &mut (f64, f64) {
    beams
        .entry(prefix)
        .or_insert((f64::NEG_INFINITY, f64::NEG_INFINITY))
}

/// CTC prefix beam search: the label sequence (classes 1..) with the highest probability
/// summed over its alignments, among the `beam` best prefixes kept at each step.
pub fn beam_search(steps: &[[f32; CLASSES]], beam: usize) -> Vec<usize> {
    beam_hypotheses(steps, beam)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The `beam` prefixes the CTC prefix beam search keeps at the last step, most likely first.
pub fn beam_hypotheses(steps: &[[f32; CLASSES]], beam: usize) -> Vec<Vec<usize>> {
    use std::collections::HashMap;
    // prefix -> (log P ending in blank, log P ending in its last label)
    let mut beams: Vec<(Vec<usize>, (f64, f64))> = vec![(Vec::new(), (0.0, f64::NEG_INFINITY))];
    for step in steps {
        let mut next: HashMap<Vec<usize>, (f64, f64)> = HashMap::new();
        for (prefix, (pb, pnb)) in &beams {
            let total = log_add(*pb, *pnb);
            // blank: the prefix stays
            let e = slot(&mut next, prefix.clone());
            e.0 = log_add(e.0, total + step[0] as f64);
            for (c, &p) in step.iter().enumerate().skip(1) {
                let p = p as f64;
                let repeat = prefix.last() == Some(&c);
                if repeat {
                    // the same label again without a blank merges into the prefix
                    let e = slot(&mut next, prefix.clone());
                    e.1 = log_add(e.1, pnb + p);
                }
                // a new digit; a repeated one only after a blank
                let mut longer = prefix.clone();
                longer.push(c);
                let e = slot(&mut next, longer);
                e.1 = log_add(e.1, if repeat { *pb } else { total } + p);
            }
        }
        let mut all: Vec<_> = next.into_iter().collect();
        all.sort_by(|x, y| {
            log_add(y.1 .0, y.1 .1)
                .total_cmp(&log_add(x.1 .0, x.1 .1))
                .then_with(|| x.0.cmp(&y.0))
        });
        all.truncate(beam.max(1));
        beams = all;
    }
    beams.into_iter().map(|b| b.0).collect()
}

/// The most likely alignment (Viterbi) of `labels` to `steps`: per label, its first and last
/// step and its highest posterior over them. Empty when the labels cannot fit.
fn align(steps: &[[f32; CLASSES]], labels: &[usize]) -> Vec<(usize, usize, f32)> {
    if labels.is_empty() || steps.is_empty() {
        return Vec::new();
    }
    let ext: Vec<usize> = std::iter::once(0)
        .chain(labels.iter().flat_map(|&l| [l, 0]))
        .collect();
    let n = ext.len();
    let mut score = vec![f32::NEG_INFINITY; n];
    let mut back = vec![vec![0usize; n]; steps.len()];
    for (t, step) in steps.iter().enumerate() {
        let mut next = vec![f32::NEG_INFINITY; n];
        for s in 0..n {
            let (best, from) = if t == 0 {
                (if s < 2 { 0.0 } else { f32::NEG_INFINITY }, s)
            } else {
                let mut best = (score[s], s);
                if s >= 1 && score[s - 1] > best.0 {
                    best = (score[s - 1], s - 1);
                }
                if s >= 2 && ext[s] != 0 && ext[s] != ext[s - 2] && score[s - 2] > best.0 {
                    best = (score[s - 2], s - 2);
                }
                best
            };
            next[s] = best + step[ext[s]];
            back[t][s] = from;
        }
        score = next;
    }
    let mut s = if n >= 2 && score[n - 2] > score[n - 1] {
        n - 2
    } else {
        n - 1
    };
    if score[s] == f32::NEG_INFINITY {
        return Vec::new();
    }
    let mut spans = vec![(usize::MAX, 0usize, 0.0f32); labels.len()];
    for t in (0..steps.len()).rev() {
        if ext[s] != 0 {
            let span = &mut spans[s / 2];
            span.0 = span.0.min(t);
            span.1 = span.1.max(t);
            span.2 = span.2.max(steps[t][ext[s]].exp());
        }
        s = back[t][s];
    }
    spans
}

/// Sample ranges `[start, end)` of the windows to run over `len` samples: the speech segments
/// (ms from the first sample), widened by a margin, grouped while a group fits one window;
/// longer segments are cut into whole windows. `None` covers all the audio.
///
/// Each window then takes in as much of the audio around its speech as fits (centred on it,
/// within the audio, never overlapping its neighbours): the encoder runs on a whole 6 s window
/// anyway, and the VAD misses short or clipped digits next to the speech it found (a first or
/// last digit said abruptly, a sung one), which a window cut at the VAD's edges would drop.
pub fn plan_windows(len: usize, speech: Option<&[SpeechSegment]>) -> Vec<(usize, usize)> {
    let to_sample = |ms: i64| (ms.max(0) as usize * TARGET_RATE as usize / 1000).min(len);
    let spans: Vec<(usize, usize)> = match speech {
        None => vec![(0, len)],
        Some(segments) => segments
            .iter()
            .map(|s| {
                (
                    to_sample(s.start_ms - MARGIN_MS),
                    to_sample(s.end_ms + MARGIN_MS),
                )
            })
            .filter(|(a, b)| b > a)
            .collect(),
    };
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (a, b) in spans {
        match groups.last_mut() {
            Some(w) if b <= w.0 + WINDOW => w.1 = w.1.max(b),
            _ => {
                let mut start = a;
                while b - start > WINDOW {
                    groups.push((start, start + WINDOW));
                    start += WINDOW;
                }
                groups.push((start, b));
            }
        }
    }
    let mut windows: Vec<(usize, usize)> = Vec::with_capacity(groups.len());
    for (i, &(a, b)) in groups.iter().enumerate() {
        let lo = windows.last().map_or(0, |w| w.1);
        let hi = groups.get(i + 1).map_or(len, |g| g.0);
        let free = WINDOW - (b - a);
        let end = (a.saturating_sub(free / 2).max(lo) + WINDOW).min(hi).max(b);
        let start = end.saturating_sub(WINDOW).min(a).max(lo);
        windows.push((start, end));
    }
    windows
}

/// Recognises the digits spoken in `samples` (16 kHz mono) within `speech` (the VAD's
/// segments, ms from the first sample; `None` reads all the audio, `Some(&[])` hears nothing).
pub fn recognise(
    model: &DigitModel,
    samples: &[f32],
    speech: Option<&[SpeechSegment]>,
) -> Result<Recognition> {
    let mut segments = Vec::new();
    let mut all = Vec::new();
    let mut windows = Vec::new();
    for (a, b) in plan_windows(samples.len(), speech) {
        let encoded = model.encode(&samples[a..b])?;
        let steps = model.head_log_probs(&encoded, b - a)?;
        segments.extend(decode(&steps, a as f64 * 1000.0 / TARGET_RATE as f64));
        all.extend(steps);
        windows.push(encoded);
    }
    Ok(Recognition {
        digits: segments
            .iter()
            .map(|s| char::from(b'0' + s.digit))
            .collect(),
        segments,
        steps: all,
        encoded: windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(best: usize, p: f32) -> [f32; CLASSES] {
        let rest = ((1.0 - p) / (CLASSES - 1) as f32).ln();
        std::array::from_fn(|k| if k == best { p.ln() } else { rest })
    }

    #[test]
    fn ctc_decoding_merges_repeats_and_keeps_doubled_digits_apart() {
        // blank, 4 4, blank, 8, 8 via blank 8, 2
        let steps: Vec<_> = [(0, 0.9), (5, 0.6), (5, 0.8), (0, 0.9), (9, 0.7), (0, 0.5)]
            .iter()
            .chain(&[(9, 0.95), (3, 0.55)])
            .map(|&(c, p)| step(c, p))
            .collect();
        let d = decode(&steps, 1000.0);
        let text: String = d.iter().map(|s| char::from(b'0' + s.digit)).collect();
        assert_eq!(text, "4882");
        assert_eq!((d[0].start_ms, d[0].end_ms), (1040, 1120));
        assert_eq!(STEPS, 150);
        assert!((d[0].confidence - 0.8).abs() < 1e-5);
        assert!((d[3].confidence - 0.55).abs() < 1e-5);
    }

    #[test]
    fn ctc_probability_sums_every_alignment() {
        // Two steps, one label: alignments "1 -", "- 1", "1 1" (class 2 = digit 1).
        let steps = [step(2, 0.6), step(0, 0.7)];
        let p = |t: usize, c: usize| steps[t][c].exp() as f64;
        let want = p(0, 2) * p(1, 0) + p(0, 0) * p(1, 2) + p(0, 2) * p(1, 2);
        let got = sequence_log_prob(&steps, "1").exp() as f64;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // A doubled digit needs a blank between: impossible in two steps.
        assert_eq!(sequence_log_prob(&steps, "11"), f32::NEG_INFINITY);
        assert!((sequence_log_prob(&steps, "").exp() as f64 - p(0, 0) * p(1, 0)).abs() < 1e-6);
        assert_eq!(sequence_log_prob(&steps, "1a"), f32::NEG_INFINITY);
    }

    #[test]
    fn margin_prefers_the_challenge_only_when_the_audio_does() {
        let steps: Vec<_> = [(0, 0.9), (5, 0.9), (0, 0.9), (9, 0.55), (0, 0.9), (3, 0.9)]
            .iter()
            .map(|&(c, p)| step(c, p))
            .collect();
        let r = Recognition {
            digits: "482".into(),
            segments: Vec::new(),
            steps,
            encoded: Vec::new(),
        };
        let heard = r.margin("482");
        assert!(heard > 0.0, "{heard}");
        // One digit off: negative; less so for the unsure middle digit than a confident one.
        let unsure = r.margin("472");
        let sure = r.margin("782");
        assert!(unsure < 0.0 && sure < unsure, "{unsure} {sure}");
        assert!(r.margin("4829") < -5.0);
        assert_eq!(r.margin("48a"), f32::MIN);
    }

    #[test]
    fn fusion_clips_each_margin_and_weighs_the_decoder() {
        assert_eq!(fuse(3.0, 2.0, 1.5), 6.0);
        // An impossible reading (f32::MIN) or NaN counts as the clipped worst, not as -inf.
        assert_eq!(fuse(f32::MIN, 0.0, 1.5), -HEAD_CLIP);
        assert_eq!(fuse(f32::NAN, f32::NAN, 1.0), -HEAD_CLIP - DECODER_CLIP);
        assert_eq!(fuse(100.0, 100.0, 2.0), HEAD_CLIP + 2.0 * DECODER_CLIP);
        // A head sure enough settles the score whatever the decoder says.
        let w = DigitsConfig::new(Language::English).decoder_weight;
        assert!(
            fuse(HEAD_CLIP, -DECODER_CLIP, w) > DigitsConfig::new(Language::English).min_margin
        );
    }

    #[test]
    fn competitors_change_drop_or_swap_one_digit() {
        let c = competitors("4829");
        // 4 x 9 substitutions + 4 deletions + 6 swaps (all digits differ).
        assert_eq!(c.len(), 36 + 4 + 6);
        assert!(["4828", "489", "8429", "9824"]
            .iter()
            .all(|x| c.contains(&x.to_string())));
        assert!(!c.contains(&"4829".to_string()));
        // Repeated digits: swapping equal digits or deleting either copy gives one reading.
        assert_eq!(competitors("1111").len(), 36 + 1);
        assert!(competitors("12x").is_empty());
    }

    #[test]
    fn the_beam_finds_a_digit_spread_over_steps_that_greedy_misses() {
        // Each step: blank 0.6, digit 7 0.4. Best path: all blank; but "7" sums to
        // 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64 > 0.36.
        let two = [step(8, 0.4), step(8, 0.4)].map(|mut s| {
            s[0] = 0.6f32.ln();
            s
        });
        assert!(two[0][0] > two[0][8]);
        let d = decode(&two, 0.0);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].digit, 7);
        // A beam of one keeps only the best prefix at each step: the best path.
        assert_eq!(beam_search(&two, 1), Vec::<usize>::new());
    }

    #[test]
    fn all_blank_decodes_to_nothing() {
        assert!(decode(&vec![step(0, 0.99); 20], 0.0).is_empty());
    }

    fn seg(a: i64, b: i64) -> SpeechSegment {
        SpeechSegment {
            start_ms: a,
            end_ms: b,
        }
    }

    #[test]
    fn windows_follow_the_speech_with_all_the_context_that_fits() {
        let len = 20 * 16_000;
        assert_eq!(plan_windows(len, Some(&[])), vec![]);
        // two close segments share one window (1.75 to 4.25 s with the margins), centred in
        // the 6 s it takes; here it starts at the audio's start
        assert_eq!(
            plan_windows(len, Some(&[seg(1000, 2000), seg(2500, 4000)])),
            vec![(0, 96_000)]
        );
        // later speech: the window is centred on it
        assert_eq!(
            plan_windows(len, Some(&[seg(9750, 11_250)])),
            vec![(120_000, 216_000)]
        );
        // a segment that would overflow the window opens a new one; the first window takes
        // the context up to the second's speech, the second what is left after the first
        assert_eq!(
            plan_windows(len, Some(&[seg(1000, 2000), seg(6000, 8000)])),
            vec![(0, 92_000), (92_000, 188_000)]
        );
        // a 13 s segment is cut into whole windows, the last one widened backwards as far as
        // the previous window allows and forwards into the rest of the audio
        let w = plan_windows(len, Some(&[seg(1000, 14_000)]));
        assert_eq!(
            w,
            vec![(12_000, 108_000), (108_000, 204_000), (204_000, 300_000)]
        );
        // no VAD: everything, in windows
        assert_eq!(
            plan_windows(100_000, None),
            vec![(0, 96_000), (96_000, 100_000)]
        );
        // windows never run past the audio
        assert_eq!(
            plan_windows(16_000, Some(&[seg(0, 2000)])),
            vec![(0, 16_000)]
        );
    }
}

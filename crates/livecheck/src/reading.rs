//! The digits challenge (读数认证) decision: did the user say exactly the digits shown, with their
//! own moving lips, in time with the voice? Pure logic over what the session collected: the
//! recogniser's output, the VAD's speech segments, the mouth opening per frame and the lip/audio
//! synchrony result.

use crate::audio::{DigitSegment, SpeechSegment, VadConfig};
use crate::error::{Error, Result};
use crate::reason::Reason;
use crate::sync::{SyncConfig, SyncResult};

/// The language the digits are read in. The recogniser is bilingual (零 and "zero" are one
/// class), so the language does not change recognition: it is recorded in the verdict and
/// tells the host which prompt text and voice to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Language {
    /// Mandarin (普通话): 零/〇 一/幺 二/两 三 … 九.
    Mandarin,
    /// English: zero/oh, one … nine.
    English,
    /// Either.
    Auto,
}

impl Language {
    /// Stable code: `zh`, `en` or `auto`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Mandarin => "zh",
            Language::English => "en",
            Language::Auto => "auto",
        }
    }

    /// Parses a code (`zh`/`cmn`/`mandarin`, `en`/`english`, `auto`).
    pub fn parse(code: &str) -> Option<Language> {
        match code.to_ascii_lowercase().as_str() {
            "zh" | "cmn" | "mandarin" => Some(Language::Mandarin),
            "en" | "english" => Some(Language::English),
            "auto" => Some(Language::Auto),
            _ => None,
        }
    }
}

/// Settings of the digits challenge.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitsConfig {
    /// Language of the prompt.
    pub language: Language,
    /// How many digits to draw (2..=8).
    pub length: usize,
    /// Digits to ask for instead of drawing them (checking a clip recorded elsewhere).
    pub expected: Option<String>,
    /// Time allowed for reading, from the moment the digits are shown, ms.
    pub timeout_ms: i64,
    /// Silence after speech that ends the reading phase, ms (elderly readers pause between
    /// digits: keep it generous).
    pub end_silence_ms: i64,
    /// Least speech after the digits are shown, ms.
    pub min_speech_ms: i64,
    /// A challenge of 4 or more digits passes when the fused score of its two verifiers
    /// ([`crate::audio::DigitModel::margin`], [`crate::audio::digits::fuse`]: the head's
    /// log-likelihood ratio against every competing reading plus `decoder_weight` times
    /// Whisper's decoder's, each clipped) exceeds this; shorter ones face a higher bar
    /// ([`Self::threshold`]). The default, −13.2, is calibrated for 1 % of one-digit-off
    /// readings accepted over the leave-speakers-out trials of every real voice (`cargo xtask
    /// eval digits`, which also reports each voice scored with a threshold calibrated without
    /// it); a higher value trades true accepts for fewer false ones. Must lie above the lowest
    /// possible score.
    pub min_margin: f32,
    /// Weight of Whisper's decoder's margin against the head's in the fused score (default
    /// 1.6, fitted with `min_margin` by logistic regression on the same trials).
    pub decoder_weight: f32,
    /// Least [`Reading::snr_db`]: below it the reading fails as [`Reason::TooNoisy`] whatever
    /// was heard, since in loud noise the verifiers accept readings with a digit wrong more
    /// often than `min_margin` was calibrated for (`cargo xtask eval digits --snr-db N`).
    pub min_snr_db: f32,
    /// Least spread (90th minus 10th percentile) of the mouth opening over the frames inside
    /// speech: below it the lips did not move while the voice spoke.
    pub min_mouth_motion: f32,
    /// Least share of the frames inside speech that must show the face.
    pub min_face_coverage: f32,
    /// Voice activity settings.
    pub vad: VadConfig,
    /// Lip/audio synchrony settings.
    pub sync: SyncConfig,
}

/// The default [`DigitsConfig::min_snr_db`], dB: midway between the spliced leave-speakers-out
/// readings under pink noise 10 dB below the speech (which read 14.1–14.9 dB at their 1st
/// percentile and keep the one-digit-off accepts at 1.1–1.7 %) and 5 dB below it (11.9–13.0 dB
/// at their median; 2.0–3.2 % one-digit-off accepts without the rule, 0.2 % with it). `cargo
/// xtask eval digits --only voices --snr-db N`, 2026-12-05.
pub const MIN_SNR_DB: f32 = 13.0;

/// How much higher the threshold is for each digit a challenge has below four
/// ([`DigitsConfig::threshold`]).
pub const SHORT_CHALLENGE_STEP: f32 = 3.3;

impl DigitsConfig {
    /// The fused score a challenge of `digits` digits must exceed: [`Self::min_margin`] for
    /// four or more, [`SHORT_CHALLENGE_STEP`] higher for each digit fewer. A short challenge
    /// has few digits to be wrong in, so a reading that supports none of them clearly scores
    /// close to it: thresholds calibrated per length for 1 % one-digit-off accepts (`cargo
    /// xtask eval digits --only lengths`) were −3.65, −10.48 and −9.98 for 1 to 3 digits
    /// (2026-12-05; −3.2, −9.5, −10.0 before the recogniser's windows took in the audio around
    /// the speech); this rule (−3.3, −6.6, −9.9) is at least as strict.
    pub fn threshold(&self, digits: usize) -> f32 {
        self.min_margin + SHORT_CHALLENGE_STEP * (4 - digits.min(4)) as f32
    }

    /// Four digits in `language`, 12 s to read them.
    pub fn new(language: Language) -> Self {
        DigitsConfig {
            language,
            length: 4,
            expected: None,
            timeout_ms: 12_000,
            end_silence_ms: 1_500,
            min_speech_ms: 300,
            min_margin: -13.2,
            decoder_weight: 1.6,
            min_snr_db: MIN_SNR_DB,
            min_mouth_motion: 0.04,
            min_face_coverage: 0.7,
            vad: VadConfig::default(),
            sync: SyncConfig::default(),
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if let Some(d) = &self.expected {
            if !(1..=8).contains(&d.len()) || !d.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::InvalidConfig(format!(
                    "expected digits must be 1 to 8 characters 0-9, got {d:?}"
                )));
            }
        }
        if self.timeout_ms <= 0 || self.end_silence_ms <= 0 || self.min_speech_ms < 0 {
            return Err(Error::InvalidConfig(format!(
                "digits timeout_ms and end_silence_ms must be > 0 and min_speech_ms >= 0, got {}, {} and {}",
                self.timeout_ms, self.end_silence_ms, self.min_speech_ms
            )));
        }
        if !(self.min_mouth_motion >= 0.0
            && (0.0..=1.0).contains(&self.min_face_coverage)
            && self.min_margin.is_finite()
            && self.min_snr_db.is_finite())
        {
            return Err(Error::InvalidConfig(
                "min_mouth_motion must be >= 0, min_face_coverage within 0..=1 and min_margin and min_snr_db finite"
                    .into(),
            ));
        }
        let lowest = crate::audio::digits::fuse(f32::MIN, f32::MIN, self.decoder_weight);
        if !((0.0..=100.0).contains(&self.decoder_weight) && self.min_margin > lowest) {
            return Err(Error::InvalidConfig(format!(
                "decoder_weight must be within 0..=100 and min_margin above the lowest score {lowest}, got {} and {}",
                self.decoder_weight, self.min_margin
            )));
        }
        self.vad.validate()?;
        self.sync.validate()
    }
}

/// What the digits check found (part of the verdict).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Reading {
    /// The digits asked for.
    pub challenge: String,
    /// The digits heard ("" when none).
    pub recognised: String,
    /// How well the audio supports the challenge against competing readings: the two
    /// verifiers' fused score ([`crate::audio::DigitModel::margin`]; a lower bound when the
    /// head alone settles it); the challenge is verified above [`DigitsConfig::threshold`].
    pub margin: f32,
    /// The language of the prompt.
    pub language: Language,
    /// Each digit heard, times on the caller's clock.
    pub digits: Vec<DigitSegment>,
    /// Speech heard after the digits were shown, on the caller's clock.
    pub speech: Vec<SpeechSegment>,
    /// Spread of the mouth opening over the frames inside speech (see
    /// [`DigitsConfig::min_mouth_motion`]).
    pub mouth_motion: f32,
    /// Share of the frames inside speech that showed the face.
    pub face_coverage: f32,
    /// How far the voice stood above the background over the reading, dB
    /// ([`crate::audio::envelope::level_spread_db`] of the audio the recogniser heard: its loud
    /// frames over its quiet ones, about 60 over digital silence).
    pub snr_db: f32,
    /// Lip/audio synchrony.
    pub sync: SyncResult,
}

/// One frame of the reading phase: its time and the mouth opening when the face was usable.
pub type MouthSample = (i64, Option<f32>);

/// Share of the frames inside `speech` that had a face, and the spread of the mouth opening
/// over those frames (0 with fewer than 3).
pub fn mouth_in_speech(frames: &[MouthSample], speech: &[SpeechSegment]) -> (f32, f32) {
    let inside: Vec<Option<f32>> = frames
        .iter()
        .filter(|(t, _)| speech.iter().any(|s| *t >= s.start_ms && *t < s.end_ms))
        .map(|&(_, m)| m)
        .collect();
    if inside.is_empty() {
        return (0.0, 0.0);
    }
    let mut open: Vec<f32> = inside.iter().flatten().copied().collect();
    let coverage = open.len() as f32 / inside.len() as f32;
    if open.len() < 3 {
        return (coverage, 0.0);
    }
    open.sort_by(f32::total_cmp);
    let q = |p: f32| open[((open.len() - 1) as f32 * p).round() as usize];
    (coverage, q(0.9) - q(0.1))
}

/// The reasons the reading fails, in a fixed order: no speech; otherwise the face missing,
/// the voice too close to the noise (then the digits are not judged) or the wrong digits,
/// lips that did not move, and (only when they did) lips out of step with the voice.
pub fn judge(reading: &Reading, config: &DigitsConfig) -> Vec<Reason> {
    let speech_ms: i64 = reading.speech.iter().map(|s| s.duration_ms()).sum();
    if speech_ms < config.min_speech_ms.max(1) {
        return vec![Reason::NoSpeech];
    }
    let mut reasons = Vec::new();
    if reading.face_coverage < config.min_face_coverage {
        reasons.push(Reason::FaceLost);
    }
    let verified = reading.margin > config.threshold(reading.challenge.len()); // false for NaN
    let clear = reading.snr_db >= config.min_snr_db; // false for NaN
    if !clear {
        reasons.push(Reason::TooNoisy);
    } else if !verified {
        reasons.push(Reason::WrongDigits);
    }
    if reading.mouth_motion < config.min_mouth_motion {
        reasons.push(Reason::NoLipMotion);
    } else if !reading.sync.in_sync {
        reasons.push(Reason::OutOfSync);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(a: i64, b: i64) -> SpeechSegment {
        SpeechSegment {
            start_ms: a,
            end_ms: b,
        }
    }

    fn reading(recognised: &str, motion: f32, coverage: f32, in_sync: bool) -> Reading {
        Reading {
            challenge: "4829".into(),
            recognised: recognised.into(),
            margin: if recognised == "4829" { 18.0 } else { -30.0 },
            language: Language::Mandarin,
            digits: Vec::new(),
            speech: vec![seg(1000, 3000)],
            mouth_motion: motion,
            face_coverage: coverage,
            snr_db: 40.0,
            sync: SyncResult {
                offset_ms: 40,
                confidence: if in_sync { 0.6 } else { 0.1 },
                in_sync,
                prominence: 2.0,
                frames: 50,
                speech_ms: 2000,
            },
        }
    }

    #[test]
    fn every_reason_on_its_own() {
        let c = DigitsConfig::new(Language::Mandarin);
        assert!(judge(&reading("4829", 0.2, 1.0, true), &c).is_empty());
        assert_eq!(
            judge(&reading("4828", 0.2, 1.0, true), &c),
            [Reason::WrongDigits]
        );
        // Decoded one digit differently, but the fused score still passes the threshold.
        let close = Reading {
            margin: c.min_margin + 0.5,
            ..reading("4828", 0.2, 1.0, true)
        };
        assert!(judge(&close, &c).is_empty());
        // Decoded right, but the score only reaches the threshold: not enough.
        let tie = Reading {
            margin: c.min_margin,
            ..reading("4829", 0.2, 1.0, true)
        };
        assert_eq!(judge(&tie, &c), [Reason::WrongDigits]);
        assert_eq!(
            judge(&reading("4829", 0.01, 1.0, false), &c),
            [Reason::NoLipMotion]
        );
        assert_eq!(
            judge(&reading("4829", 0.2, 1.0, false), &c),
            [Reason::OutOfSync]
        );
        assert_eq!(
            judge(&reading("4829", 0.2, 0.3, true), &c),
            [Reason::FaceLost]
        );
        let mut silent = reading("", 0.0, 0.0, false);
        silent.speech.clear();
        assert_eq!(judge(&silent, &c), [Reason::NoSpeech]);
        // A voice barely above the noise: not judged, whatever was heard; NaN counts as noise.
        for snr_db in [c.min_snr_db - 0.5, f32::NAN] {
            for heard in ["4829", "4828"] {
                let noisy = Reading {
                    snr_db,
                    ..reading(heard, 0.2, 1.0, true)
                };
                assert_eq!(judge(&noisy, &c), [Reason::TooNoisy], "{heard} {snr_db}");
            }
        }
        let just = Reading {
            snr_db: c.min_snr_db,
            ..reading("4829", 0.2, 1.0, true)
        };
        assert!(judge(&just, &c).is_empty());
    }

    #[test]
    fn shorter_challenges_face_a_higher_bar() {
        let c = DigitsConfig::new(Language::English);
        assert_eq!(c.threshold(4), c.min_margin);
        assert_eq!(c.threshold(8), c.min_margin);
        assert!((c.threshold(1) - (c.min_margin + 3.0 * SHORT_CHALLENGE_STEP)).abs() < 1e-5);
        // A score that verifies four digits does not verify one.
        let one = Reading {
            challenge: "7".into(),
            recognised: "7".into(),
            margin: c.min_margin + 1.0,
            ..reading("4829", 0.2, 1.0, true)
        };
        assert_eq!(judge(&one, &c), [Reason::WrongDigits]);
        let four = Reading {
            margin: c.min_margin + 1.0,
            ..reading("4829", 0.2, 1.0, true)
        };
        assert!(judge(&four, &c).is_empty());
    }

    #[test]
    fn a_threshold_every_score_passes_or_a_wild_weight_is_refused() {
        let ok = DigitsConfig::new(Language::Mandarin);
        assert!(ok.validate().is_ok());
        let lowest = crate::audio::digits::fuse(f32::MIN, f32::MIN, ok.decoder_weight);
        for bad in [
            DigitsConfig {
                min_margin: lowest,
                ..ok.clone()
            },
            DigitsConfig {
                decoder_weight: -1.0,
                ..ok.clone()
            },
            DigitsConfig {
                decoder_weight: f32::NAN,
                ..ok.clone()
            },
            DigitsConfig {
                min_snr_db: f32::NAN,
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mouth_spread_counts_only_frames_inside_speech() {
        let frames: Vec<MouthSample> = (0..100)
            .map(|i| {
                let t = i * 40;
                // wide open outside speech, small motion inside, face missing at 2000..2400
                let m = if (1000..3000).contains(&t) {
                    0.1 + 0.02 * ((i % 4) as f32)
                } else {
                    0.8
                };
                (
                    t,
                    if (2000..2400).contains(&t) {
                        None
                    } else {
                        Some(m)
                    },
                )
            })
            .collect();
        let (coverage, spread) = mouth_in_speech(&frames, &[seg(1000, 3000)]);
        assert!((coverage - 0.8).abs() < 1e-6, "{coverage}");
        assert!((spread - 0.06).abs() < 1e-6, "{spread}");
        assert_eq!(mouth_in_speech(&frames, &[]), (0.0, 0.0));
    }

    #[test]
    fn config_checks() {
        let mut c = DigitsConfig::new(Language::English);
        assert!(c.validate().is_ok());
        c.expected = Some("48a9".into());
        assert!(c.validate().is_err());
        c.expected = Some("4829".into());
        c.timeout_ms = 0;
        assert!(c.validate().is_err());
        assert_eq!(Language::parse("ZH"), Some(Language::Mandarin));
        assert_eq!(Language::parse("fr"), None);
    }
}

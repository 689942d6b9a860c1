//! One liveness attempt as a state machine: `Align → Action(0) → … → Done`, driven frame by
//! frame by the caller, with time taken only from the caller's timestamps.
//!
//! - **Align**: the quality checks must all pass (one face, in the oval, lit, facing the screen,
//!   still) for `align_hold_ms`; the tracked face at that moment becomes *the* face.
//! - **Action(i)**: the detector of the i-th requested action sees only frames where that same
//!   face is alone, in the oval and roughly facing the screen (other frames are gaps). The action
//!   passes when its detector reports an event; it fails after `action_timeout_ms`.
//! - **Continuity**: once aligned, a new track (the face was lost and a face came back) or a jump
//!   of the face between consecutive frames ends the attempt with [`crate::Reason::FaceChanged`].
//! - **Digits** (instead of actions, [`SessionConfig::digits`]): the digits are shown; frames
//!   record the mouth opening of the same face while the host pushes microphone audio
//!   ([`Session::push_audio`]). The phase ends once speech has been followed by
//!   [`crate::DigitsConfig::end_silence_ms`] of silence, or after [`crate::DigitsConfig::timeout_ms`]; at
//!   [`Session::finish`] the recogniser, the lip/audio sync and [`crate::reading::judge`] decide.
//! - **Done**: further frames are ignored; [`Session::finish`] returns the verdict.
//!
//! The module: [`SessionConfig`] (config.rs), the pure [`Machine`] that decides from
//! observations (machine.rs), and [`Session`] (here), which feeds it from camera frames and
//! microphone audio through the models, keeps the best frame and signs the evidence.

mod config;
mod machine;

pub use config::{IdentityConfig, SessionConfig};
pub use machine::{Feedback, Heard, Machine, Observation, ObservedFace, Phase};

use crate::audio::{self, digits, AudioBuffer, AudioBufferConfig, DigitModel, SpeechSegment, Vad};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::evidence::{self, FeedDigest};
use crate::frame::{Border, FrameRef, Normalize, OwnedFrame, Roi};
use crate::quality::Prompt;
use crate::signals::ActionKind;
use crate::verdict::{BestFrame, Verdict};
use crate::vision::geometry::OvalFit;
use crate::vision::identity::{self, Embedding, FaceEmbedder};
use crate::vision::Face;
use crate::{Analyzer, Engine};

/// The best frame so far, kept as upright RGB until the verdict encodes it (zeroed when
/// replaced or dropped).
struct BestCandidate {
    score: f32,
    t_ms: i64,
    width: u32,
    height: u32,
    rgb: Zeroizing<Vec<u8>>,
}

/// The faces embedded during the attempt (when the engine has the embedding model).
struct Identity {
    embedder: FaceEmbedder,
    /// Every embedding taken; the first, on the alignment frame, is the anchor the others are
    /// compared with (zeroed when dropped: they describe a face).
    seen: Vec<Embedding>,
    last_ms: i64,
}

impl Drop for Identity {
    fn drop(&mut self) {
        for e in &mut self.seen {
            e.zeroize();
        }
    }
}

/// Longest side of the stored best frame.
const BEST_FRAME_MAX_SIDE: u32 = 640;

/// One liveness attempt on camera frames: the [`Machine`] fed by an [`Analyzer`], plus the
/// best frame. Create with [`Engine::session`].
pub struct Session {
    analyzer: Analyzer,
    machine: Machine,
    best: Option<BestCandidate>,
    /// Microphone audio and the recogniser (digits challenge only).
    audio: Option<(AudioBuffer, DigitModel)>,
    /// Digests of what was fed, when the evidence is to be signed.
    fed: Option<FeedDigest>,
    /// The engine's models and their SHA-256, for the evidence.
    models: std::sync::Arc<std::collections::BTreeMap<String, String>>,
    /// Continuity and 1:1 match by face embedding.
    identity: Option<Identity>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("machine", &self.machine)
            .finish()
    }
}

impl Engine {
    /// Starts an attempt: draws the challenge from `config.seed`. The digits challenge needs
    /// the VAD and digit models in the engine.
    pub fn session(&self, config: SessionConfig) -> Result<Session> {
        let analyzer = self.analyzer(config.analyzer);
        let audio = match &config.digits {
            Some(d) => {
                let vad = self.vad().ok_or(Error::ModelNotLoaded {
                    name: crate::models::files::VAD,
                })?;
                let model = self.digits().ok_or(Error::ModelNotLoaded {
                    name: crate::models::files::DIGITS,
                })?;
                let buffer =
                    AudioBuffer::new(AudioBufferConfig::default()).with_vad(Vad::new(vad, d.vad)?);
                Some((buffer, model.clone()))
            }
            None => None,
        };
        let fed = config.evidence.as_ref().map(|_| FeedDigest::default());
        let identity = self.embedder().map(|e| Identity {
            embedder: e.clone(),
            seen: Vec::new(),
            last_ms: 0,
        });
        if config.identity.reference.is_some() && identity.is_none() {
            return Err(Error::ModelNotLoaded {
                name: crate::models::files::EMBEDDER,
            });
        }
        Ok(Session {
            identity,
            analyzer,
            machine: Machine::new(config)?,
            best: None,
            audio,
            fed,
            models: self.model_sha256.clone(),
        })
    }
}

impl Session {
    /// The actions to ask for, in order (show them one at a time as the phase advances);
    /// empty in the digits challenge.
    pub fn challenge(&self) -> &[ActionKind] {
        self.machine.challenge()
    }

    /// The digits to show and have read aloud (digits challenge only).
    pub fn digits(&self) -> Option<&str> {
        self.machine.digits()
    }

    /// Takes microphone audio recorded from `t_ms` on (the frames' clock): mono samples in
    /// `[-1, 1]` at `sample_rate`. Chunks must follow each other in time; small gaps are
    /// filled with silence. The action challenge needs no audio: there this does nothing.
    pub fn push_audio(&mut self, samples: &[f32], sample_rate: u32, t_ms: i64) -> Result<()> {
        if let Some((buffer, _)) = self.audio.as_mut() {
            buffer.push(samples, sample_rate, t_ms)?;
            if let Some(fed) = self.fed.as_mut() {
                fed.audio(t_ms, sample_rate, samples);
            }
            self.hear();
        }
        Ok(())
    }

    /// As [`Session::push_audio`], for 16-bit samples.
    pub fn push_audio_i16(&mut self, samples: &[i16], sample_rate: u32, t_ms: i64) -> Result<()> {
        if let Some((buffer, _)) = self.audio.as_mut() {
            buffer.push_i16(samples, sample_rate, t_ms)?;
            if let Some(fed) = self.fed.as_mut() {
                let f: Vec<f32> = samples.iter().map(|&s| s as f32 / 32768.0).collect();
                fed.audio(t_ms, sample_rate, &f);
            }
            self.hear();
        }
        Ok(())
    }

    fn hear(&mut self) {
        if let Some((buffer, _)) = &self.audio {
            let in_speech = buffer.vad().is_some_and(|v| v.in_speech());
            self.machine.hear(buffer.speech_segments(), in_speech);
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.machine.phase()
    }

    /// Processes one camera frame taken at `t_ms` (caller's clock; must increase). Push each
    /// camera frame once: byte-identical consecutive frames beyond a small allowance fail the
    /// attempt ([`crate::Reason::RepeatedFrames`]).
    pub fn push_frame(&mut self, frame: &FrameRef, t_ms: i64) -> Result<Feedback> {
        self.machine.check_time(t_ms)?;
        if let Some(fed) = self.fed.as_mut() {
            frame.digest_into(fed, t_ms);
        }
        if self.machine.phase().is_done() {
            let obs = Observation {
                t_ms,
                faces: 0,
                prompt: Prompt::Done,
                fit: None,
                face: None,
                fingerprint: None,
            };
            return self.machine.step(&obs);
        }
        // The iris model runs on every frame only while a blink is awaited; the best frame and
        // the identity check measure the eyes of the few frames they consider.
        self.analyzer.set_eyes(self.machine.phase().needs_eyes());
        let mut report = self.analyzer.push_frame(frame, t_ms)?;
        let obs = Observation {
            t_ms,
            faces: report.analysis.faces,
            prompt: report.quality.prompt,
            fit: report.quality.fit,
            face: report
                .analysis
                .face
                .as_ref()
                .map(|f| ObservedFace::from_frame(frame, f)),
            fingerprint: Some(frame.fingerprint()),
        };
        let before = self.machine.phase();
        let was_acting = matches!(before, Phase::Action { .. });
        let feedback = self.machine.step(&obs)?;
        if let Some(f) = report.analysis.face.as_mut() {
            self.check_identity(frame, f, before, t_ms)?;
            if report.quality.prompt == Prompt::Ok
                || (was_acting && feedback.prompt != Prompt::Done)
            {
                self.consider_best(frame, f, report.quality.fit, t_ms)?;
            }
        }
        Ok(feedback)
    }

    /// Ends the attempt and returns the verdict. Pending actions count as failed; in the
    /// digits challenge the recogniser runs here on the speech heard during the reading.
    pub fn finish(self) -> Result<Verdict> {
        let heard = match self.audio {
            Some((mut buffer, model)) => {
                buffer.finish()?;
                let start_ms = buffer.start_ms().unwrap_or(0);
                let speech = self.machine.reading_speech(&buffer.speech_segments());
                // The recogniser hears the reading only (its windows take in the audio around
                // the speech, which must not reach back into the alignment phase).
                let (from, to) = self
                    .machine
                    .reading_span(&speech)
                    .map(|(a, b)| (buffer.index_at(a), buffer.index_at(b)))
                    .unwrap_or((0, 0));
                let from_ms = buffer.time_ms(from).map_or(start_ms, |t| t as i64);
                let relative: Vec<SpeechSegment> = speech
                    .iter()
                    .map(|s| SpeechSegment {
                        start_ms: s.start_ms - from_ms,
                        end_ms: s.end_ms - from_ms,
                    })
                    .collect();
                let reading = &buffer.samples()[from..to.max(from)];
                let mut recognition = digits::recognise(&model, reading, Some(&relative))?;
                for d in &mut recognition.segments {
                    d.start_ms += from_ms;
                    d.end_ms += from_ms;
                }
                let margin = match (self.machine.digits(), &self.machine.config().digits) {
                    (Some(challenge), Some(config)) => {
                        model.margin(&recognition, challenge, config)?
                    }
                    _ => f32::MIN,
                };
                Heard {
                    snr_db: audio::envelope::level_spread_db(reading, audio::TARGET_RATE),
                    samples: buffer.samples().to_vec(),
                    start_ms,
                    speech,
                    recognition,
                    margin,
                }
            }
            None => Heard::default(),
        };
        let mut machine = self.machine;
        if let (Some(reference), Some(id)) = (&machine.config().identity.reference, &self.identity)
        {
            if let Some(face) = Embedding::mean(&id.seen) {
                let similarity = reference.similarity(&face);
                machine.reference_match(similarity);
            }
        }
        let key = machine.config().evidence.clone();
        let plan = match machine.digits() {
            Some(d) => format!("digits:{d}"),
            None => {
                let codes: Vec<&str> = machine.challenge().iter().map(|a| a.code()).collect();
                format!("actions:{}", codes.join(","))
            }
        };
        let mut verdict = machine.finish_with_audio(&heard)?;
        verdict.best_frame = match self.best {
            Some(b) => Some(encode_best(b)?),
            None => None,
        };
        if let (Some(key), Some(fed)) = (key, self.fed) {
            let record = evidence::Evidence::new(&key.nonce, &plan, &verdict, &fed, &self.models);
            verdict.evidence = Some(evidence::sign(&record, key.scheme, &key.secret)?);
        }
        Ok(verdict)
    }

    /// Runs a whole recorded clip through the session (stopping once it is done) and returns
    /// the verdict: the offline entry point used by the CLI, evaluation and tests. For the
    /// digits challenge push the recording's audio first ([`Session::push_audio`]).
    pub fn run<E: std::fmt::Display>(
        mut self,
        frames: impl IntoIterator<Item = std::result::Result<OwnedFrame, E>>,
    ) -> Result<Verdict> {
        for frame in frames {
            let frame = frame.map_err(|e| Error::Source(e.to_string()))?;
            let fb = self.push_frame(&frame.view()?, frame.t_ms)?;
            if fb.phase.is_done() {
                break;
            }
        }
        self.finish()
    }

    /// Embeds the tracked face when an identity check is due: the first frame after alignment
    /// (the anchor), then every [`IdentityConfig::interval_ms`](crate::IdentityConfig) and on
    /// the frame a phase ends, on frames where the face is roughly frontal with open eyes. Each
    /// later embedding is compared with the anchor ([`Machine::identity`]).
    fn check_identity(
        &mut self,
        frame: &FrameRef,
        face: &mut Face,
        before: Phase,
        t_ms: i64,
    ) -> Result<()> {
        let Some(id) = self.identity.as_mut() else {
            return Ok(());
        };
        let config = &self.machine.config().identity;
        let phase = self.machine.phase();
        let failed = self.machine.reasons().contains(&crate::Reason::FaceChanged);
        if !self.machine.aligned() || failed || before.is_done() {
            return Ok(());
        }
        let due = id.seen.is_empty() || phase != before || t_ms - id.last_ms >= config.interval_ms;
        let pose = face.pose;
        if !(due && identity::facing(pose, config.max_angle)) {
            return Ok(());
        }
        let eyes = self.analyzer.measure_eyes(frame, face)?;
        if !identity::embeddable(pose, eyes, config.max_angle) {
            return Ok(());
        }
        let embedding = id.embedder.embed(frame, &face.mesh)?;
        id.last_ms = t_ms;
        if let Some(anchor) = id.seen.first() {
            self.machine.identity(anchor.similarity(&embedding));
        }
        id.seen.push(embedding);
        Ok(())
    }

    /// Keeps the frame if it is the best so far: sharp, frontal, eyes open, centred.
    /// The eyes are measured only when the frame could beat the best with them wide open.
    fn consider_best(
        &mut self,
        frame: &FrameRef,
        face: &mut Face,
        fit: Option<OvalFit>,
        t_ms: i64,
    ) -> Result<()> {
        let frontal = (1.0 - (face.pose.yaw.abs() + face.pose.pitch.abs()) / 60.0).clamp(0.0, 1.0);
        let centred = fit.map_or(0.5, |f| (1.0 - f.offset).clamp(0.0, 1.0));
        let sharp = sharpness(frame, &face.mesh.roi_inner());
        let beats = |score: f32| self.best.as_ref().is_none_or(|b| score > b.score * 1.02);
        if !beats(frontal * centred * sharp) {
            return Ok(());
        }
        let eyes = (self.analyzer.measure_eyes(frame, face)?.min() / 0.3).clamp(0.0, 1.0);
        let score = frontal * eyes * centred * sharp;
        if !beats(score) {
            return Ok(());
        }
        let (w, h) = frame.display_size();
        let k = (BEST_FRAME_MAX_SIDE as f32 / w.max(h) as f32).min(1.0);
        let (ow, oh) = (
            ((w as f32 * k).round() as u32).max(1),
            ((h as f32 * k).round() as u32).max(1),
        );
        let roi = Roi {
            cx: w as f32 / 2.0,
            cy: h as f32 / 2.0,
            width: w as f32,
            height: h as f32,
            angle: 0.0,
        };
        let mut planar = Zeroizing::new(vec![0.0f32; 3 * (ow * oh) as usize]);
        frame.crop_into(
            &roi,
            ow as usize,
            oh as usize,
            Border::Replicate,
            Normalize {
                scale: 255.0,
                offset: 0.0,
            },
            &mut planar,
        );
        let plane = (ow * oh) as usize;
        let rgb = Zeroizing::new(
            (0..plane)
                .flat_map(|i| {
                    [0, 1, 2].map(|c| planar[c * plane + i].round().clamp(0.0, 255.0) as u8)
                })
                .collect(),
        );
        self.best = Some(BestCandidate {
            score,
            t_ms,
            width: ow,
            height: oh,
            rgb,
        });
        Ok(())
    }
}

/// Sharpness in 0..1: variance of the Laplacian of a 64x64 luma crop, squashed.
fn sharpness(frame: &FrameRef, roi: &Roi) -> f32 {
    const N: usize = 64;
    let mut t = vec![0.0f32; 3 * N * N];
    frame.crop_into(
        roi,
        N,
        N,
        Border::Replicate,
        Normalize {
            scale: 255.0,
            offset: 0.0,
        },
        &mut t,
    );
    let luma: Vec<f32> = (0..N * N)
        .map(|i| 0.299 * t[i] + 0.587 * t[N * N + i] + 0.114 * t[2 * N * N + i])
        .collect();
    let mut sum = 0.0;
    let mut sq = 0.0;
    let mut n = 0.0;
    for y in 1..N - 1 {
        for x in 1..N - 1 {
            let l = 4.0 * luma[y * N + x]
                - luma[y * N + x - 1]
                - luma[y * N + x + 1]
                - luma[(y - 1) * N + x]
                - luma[(y + 1) * N + x];
            sum += l;
            sq += l * l;
            n += 1.0;
        }
    }
    let var = sq / n - (sum / n).powi(2);
    var / (var + 100.0)
}

fn encode_best(b: BestCandidate) -> Result<BestFrame> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(&b.rgb, b.width, b.height, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(BestFrame {
        t_ms: b.t_ms,
        width: b.width,
        height: b.height,
        jpeg,
        score: b.score,
    })
}

//! One liveness attempt as a state machine: `Align → Action(0) → … → Done`, driven frame by
//! frame by the caller, with time taken only from the caller's timestamps.
//!
//! - **Align**: the quality checks must all pass (one face, in the oval, lit, facing the screen,
//!   still) for `align_hold_ms`; the tracked face at that moment becomes *the* face.
//! - **Action(i)**: the detector of the i-th requested action sees only frames where that same
//!   face is alone, in the oval and roughly facing the screen (other frames are gaps). The action
//!   passes when its detector reports an event; it fails after `action_timeout_ms`.
//! - **Continuity**: once aligned, a new track (the face was lost and a face came back) or a jump
//!   of the face between consecutive frames ends the attempt with [`Reason::FaceChanged`].
//! - **Digits** (instead of actions, [`SessionConfig::digits`]): the digits are shown; frames
//!   record the mouth opening of the same face while the host pushes microphone audio
//!   ([`Session::push_audio`]). The phase ends once speech has been followed by
//!   [`DigitsConfig::end_silence_ms`] of silence, or after [`DigitsConfig::timeout_ms`]; at
//!   [`Session::finish`] the recogniser, the lip/audio sync and [`reading::judge`] decide.
//! - **Done**: further frames are ignored; [`Session::finish`] returns the verdict.

use crate::audio::{digits, AudioBuffer, AudioBufferConfig, DigitModel, SpeechSegment, Vad};
use crate::challenge;
use crate::error::{Error, Result};
use crate::evidence::{self, EvidenceKey, FeedDigest, Scheme};
use crate::frame::{Border, FrameRef, Normalize, OwnedFrame, Roi};
use crate::quality::Prompt;
use crate::reading::{self, DigitsConfig, Language, MouthSample, Reading};
use crate::signals::{self, ActionDetector, ActionKind, FaceSignals, Measurement};
use crate::verdict::{ActionResult, BestFrame, Reason, Verdict};
use crate::vision::detector::BBox;
use crate::vision::geometry::OvalFit;
use crate::vision::Face;
use crate::{Analyzer, AnalyzerConfig, Engine};

/// Settings of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// Actions the plan draws from.
    pub actions: Vec<ActionKind>,
    /// How many actions to ask for.
    pub count: usize,
    /// Seed of the challenge draw (from the server's nonce: [`challenge::seed_from_nonce`]).
    pub seed: u64,
    /// How long the quality checks must pass before the challenge starts, ms.
    pub align_hold_ms: i64,
    /// Time allowed for each action, ms (generous: elderly users react slowly).
    pub action_timeout_ms: i64,
    /// Largest |pitch| and |yaw| (degrees) at which action frames still count.
    pub action_max_angle: f32,
    /// Largest movement of the nose between consecutive frames, in face heights, before the
    /// track counts as having jumped to another face.
    pub max_jump: f32,
    /// Frame analysis settings (tracking, oval, quality thresholds).
    pub analyzer: AnalyzerConfig,
    /// The digits challenge instead of actions (`actions` and `count` are then unused).
    pub digits: Option<DigitsConfig>,
    /// Sign the attempt's evidence with this nonce and key ([`crate::evidence`]); `None`: no
    /// evidence.
    pub evidence: Option<EvidenceKey>,
}

impl SessionConfig {
    /// The common action flow: blink and nod in random order, 10 s each.
    pub fn action() -> Self {
        SessionConfig {
            actions: vec![ActionKind::Blink, ActionKind::Nod],
            count: 2,
            seed: 0,
            align_hold_ms: 500,
            action_timeout_ms: 10_000,
            action_max_angle: 40.0,
            max_jump: 0.5,
            analyzer: AnalyzerConfig::default(),
            digits: None,
            evidence: None,
        }
    }

    /// The digits flow (读数认证): four random digits read aloud in `language`, with the same
    /// alignment and continuity checks as the action flow.
    pub fn digits(language: Language) -> Self {
        SessionConfig {
            actions: Vec::new(),
            count: 0,
            digits: Some(DigitsConfig::new(language)),
            ..SessionConfig::action()
        }
    }

    /// The same settings asking for exactly `digits` instead of drawing them (to check a clip
    /// recorded against a challenge issued elsewhere). Turns an action config into a digits one.
    pub fn with_digits(mut self, digits: &str) -> Self {
        let mut d = self
            .digits
            .take()
            .unwrap_or_else(|| DigitsConfig::new(Language::Auto));
        d.expected = Some(digits.to_string());
        self.digits = Some(d);
        self
    }

    /// The same settings bound to the server's one-time `nonce`: the challenge is drawn from it
    /// ([`challenge::seed_from_nonce`]) and [`Session::finish`] signs the evidence of the
    /// attempt with `secret` under `scheme` ([`Verdict::evidence`]).
    pub fn with_evidence(mut self, nonce: &[u8], scheme: Scheme, secret: &[u8]) -> Self {
        self.seed = challenge::seed_from_nonce(nonce);
        self.evidence = Some(EvidenceKey {
            nonce: nonce.to_vec(),
            scheme,
            secret: secret.to_vec(),
        });
        self
    }

    /// The same settings with another challenge seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same settings asking for exactly `actions` (all of them, in random order).
    pub fn with_actions(mut self, actions: &[ActionKind]) -> Self {
        self.actions = actions.to_vec();
        self.count = actions.len();
        self
    }

    fn validate(&self) -> Result<()> {
        if self.align_hold_ms < 0 || self.action_timeout_ms <= 0 {
            return Err(Error::InvalidConfig(format!(
                "align_hold_ms must be >= 0 and action_timeout_ms > 0, got {} and {}",
                self.align_hold_ms, self.action_timeout_ms
            )));
        }
        if !(self.action_max_angle > 0.0 && self.max_jump > 0.0) {
            return Err(Error::InvalidConfig(
                "action_max_angle and max_jump must be positive".into(),
            ));
        }
        if let Some(d) = &self.digits {
            d.validate()?;
        }
        if let Some(e) = &self.evidence {
            e.validate()?;
        }
        self.analyzer.quality.oval.validate()
    }
}

/// Where the attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the face to settle in the oval.
    Align,
    /// Asking for the `index`-th action.
    Action {
        /// Position in the plan.
        index: usize,
        /// The action asked for.
        kind: ActionKind,
    },
    /// Digits challenge: the digits are shown and read aloud.
    Digits,
    /// Finished; call [`Session::finish`].
    Done,
}

impl Phase {
    /// Whether the attempt is over.
    pub fn is_done(&self) -> bool {
        matches!(self, Phase::Done)
    }
}

/// What the host shows after each frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// Timestamp of the frame, ms.
    pub t_ms: i64,
    /// Current phase (after this frame).
    pub phase: Phase,
    /// The instruction to show: a quality problem to fix, or the current challenge.
    pub prompt: Prompt,
    /// The tracked face box in display pixels.
    pub face_box: Option<BBox>,
    /// How the face sits in the oval.
    pub oval_fit: Option<OvalFit>,
    /// Progress of the current phase, 0..1.
    pub progress: f32,
}

/// What the state machine sees of one frame: the measurements, not the pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Caller timestamp, ms.
    pub t_ms: i64,
    /// Faces the detector sees.
    pub faces: usize,
    /// The quality verdict (prompt and oval fit).
    pub prompt: Prompt,
    /// Oval fit of the tracked face.
    pub fit: Option<OvalFit>,
    /// The tracked face.
    pub face: Option<ObservedFace>,
}

/// The tracked face as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObservedFace {
    /// Track identity (changes when the face was lost and found again).
    pub track_id: u32,
    /// Landmark box, display pixels.
    pub bbox: BBox,
    /// Nose tip, display pixels.
    pub nose: (f32, f32),
    /// Eye, pose and mouth measurements.
    pub signals: FaceSignals,
    /// Mean RGB (0..255) of the inner face, when the pixels were seen: a cut to another
    /// person or another recording changes it abruptly even where the box does not move.
    pub colour: Option<[f32; 3]>,
}

impl ObservedFace {
    /// Extracts what the state machine needs from a tracked face (no colour).
    pub fn from_face(face: &Face) -> Self {
        ObservedFace {
            track_id: face.track_id,
            bbox: face.bbox,
            nose: face.nose(),
            signals: FaceSignals::from(face),
            colour: None,
        }
    }

    /// As [`ObservedFace::from_face`], with the mean colour of the inner face from `frame`.
    pub fn from_frame(frame: &FrameRef, face: &Face) -> Self {
        const N: usize = 16;
        let mut t = vec![0.0f32; 3 * N * N];
        let unit = Normalize {
            scale: 255.0,
            offset: 0.0,
        };
        frame.crop_into(
            &face.mesh.roi_inner(),
            N,
            N,
            Border::Replicate,
            unit,
            &mut t,
        );
        let mean = |c: usize| t[c * N * N..(c + 1) * N * N].iter().sum::<f32>() / (N * N) as f32;
        ObservedFace {
            colour: Some([mean(0), mean(1), mean(2)]),
            ..ObservedFace::from_face(face)
        }
    }
}

/// The pure state machine of an attempt: observations in, feedback out. No models, no pixels;
/// [`Session`] feeds it from the camera and keeps the best frame.
pub struct Machine {
    config: SessionConfig,
    plan: Vec<ActionKind>,
    phase: Phase,
    detector: Option<Box<dyn ActionDetector>>,
    align_since: Option<i64>,
    track_id: Option<u32>,
    asked_ms: Option<i64>,
    results: Vec<ActionResult>,
    reasons: Vec<Reason>,
    frames: usize,
    first_t: Option<i64>,
    last_t: Option<i64>,
    last_face: Option<(ObservedFace, i64)>,
    digits: Option<String>,
    reading_frames: Vec<MouthSample>,
    speech: Vec<SpeechSegment>,
    in_speech: bool,
    reading_end: Option<i64>,
}

/// What the microphone gave in a digits attempt, for [`Machine::finish_with_audio`].
#[derive(Debug, Clone)]
pub struct Heard {
    /// 16 kHz mono samples.
    pub samples: Vec<f32>,
    /// Caller's time of the first sample, ms.
    pub start_ms: i64,
    /// Speech segments on the caller's clock.
    pub speech: Vec<SpeechSegment>,
    /// The recogniser's output over the speech of the reading phase only (as
    /// [`Session::finish`] runs it: its steps decide [`Reading::margin`]); digit times on the
    /// caller's clock.
    pub recognition: digits::Recognition,
    /// Whisper's decoder's margin for the challenge
    /// ([`crate::audio::DigitModel::decoder_margin`]); `f32::MIN` when it did not run. The
    /// reading's margin is the larger of this and the recognition's.
    pub decoder_margin: f32,
}

impl Default for Heard {
    fn default() -> Self {
        Heard {
            samples: Vec::new(),
            start_ms: 0,
            speech: Vec::new(),
            recognition: digits::Recognition::default(),
            decoder_margin: f32::MIN,
        }
    }
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("plan", &self.plan)
            .field("phase", &self.phase)
            .field("frames", &self.frames)
            .finish()
    }
}

impl Machine {
    /// A new attempt: validates the configuration and draws the challenge from its seed.
    pub fn new(config: SessionConfig) -> Result<Self> {
        config.validate()?;
        let (plan, digits) = match &config.digits {
            Some(d) => (
                Vec::new(),
                Some(match &d.expected {
                    Some(e) => e.clone(),
                    None => challenge::plan_digits(d.length, config.seed)?,
                }),
            ),
            None => (
                challenge::plan_actions(&config.actions, config.count, config.seed)?,
                None,
            ),
        };
        Ok(Machine {
            config,
            plan,
            phase: Phase::Align,
            detector: None,
            align_since: None,
            track_id: None,
            asked_ms: None,
            results: Vec::new(),
            reasons: Vec::new(),
            frames: 0,
            first_t: None,
            last_t: None,
            last_face: None,
            digits,
            reading_frames: Vec::new(),
            speech: Vec::new(),
            in_speech: false,
            reading_end: None,
        })
    }

    /// The actions to ask for, in order (empty in the digits challenge).
    pub fn challenge(&self) -> &[ActionKind] {
        &self.plan
    }

    /// The digits to read aloud (digits challenge only).
    pub fn digits(&self) -> Option<&str> {
        self.digits.as_deref()
    }

    /// Tells the machine what the voice activity detector has heard so far (speech segments on
    /// the caller's clock, and whether speech is going on now): the reading phase ends on the
    /// silence after speech.
    pub fn hear(&mut self, speech: Vec<SpeechSegment>, in_speech: bool) {
        self.speech = speech;
        self.in_speech = in_speech;
    }

    /// Speech that counts for the reading: segments ending after the digits were shown and
    /// starting before the reading phase ended.
    pub fn reading_speech(&self, speech: &[SpeechSegment]) -> Vec<SpeechSegment> {
        let Some(asked) = self.asked_ms.filter(|_| self.digits.is_some()) else {
            return Vec::new();
        };
        let end = self.reading_end.unwrap_or(i64::MAX);
        speech
            .iter()
            .filter(|s| s.end_ms > asked && s.start_ms < end)
            .copied()
            .collect()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Checks that `t_ms` comes after the previous observation.
    pub fn check_time(&self, t_ms: i64) -> Result<()> {
        match self.last_t {
            Some(previous) if t_ms <= previous => Err(Error::TimestampNotIncreasing {
                previous,
                got: t_ms,
            }),
            _ => Ok(()),
        }
    }

    /// Advances on one observation.
    pub fn step(&mut self, obs: &Observation) -> Result<Feedback> {
        self.check_time(obs.t_ms)?;
        let t_ms = obs.t_ms;
        self.last_t = Some(t_ms);
        let face_box = obs.face.map(|f| f.bbox);
        if self.phase.is_done() {
            return Ok(self.feedback(t_ms, Prompt::Done, face_box, obs.fit, 1.0));
        }
        self.frames += 1;
        self.first_t.get_or_insert(t_ms);

        if let (Some(id), Some(f)) = (self.track_id, &obs.face) {
            if f.track_id != id || self.jumped(f, t_ms) {
                self.reasons.push(Reason::FaceChanged);
                self.end_actions();
                return Ok(self.feedback(t_ms, Prompt::Done, face_box, obs.fit, 1.0));
            }
        }

        let (prompt, progress) = match self.phase {
            Phase::Align => {
                if self.digits.is_some() {
                    // The mouth before the digits show counts for the sync (the reader may
                    // start at once): keep the current track's frames.
                    let new_track =
                        obs.face.map(|f| f.track_id) != self.last_face.map(|(f, _)| f.track_id);
                    if new_track {
                        self.reading_frames.clear();
                    }
                    let usable = self.usable(obs);
                    self.reading_frames
                        .push((t_ms, usable.map(|f| f.signals.mouth_open)));
                }
                if obs.prompt == Prompt::Ok && obs.face.is_some() {
                    let since = *self.align_since.get_or_insert(t_ms);
                    if t_ms - since >= self.config.align_hold_ms {
                        self.track_id = obs.face.map(|f| f.track_id);
                        self.start_action(0, t_ms);
                    }
                    let hold = self.config.align_hold_ms.max(1) as f32;
                    (Prompt::Ok, ((t_ms - since) as f32 / hold).min(1.0))
                } else {
                    self.align_since = None;
                    (obs.prompt, 0.0)
                }
            }
            Phase::Digits => {
                let usable = self.usable(obs);
                self.reading_frames
                    .push((t_ms, usable.map(|f| f.signals.mouth_open)));
                let asked = self.asked_ms.unwrap_or(t_ms);
                let d = self
                    .config
                    .digits
                    .as_ref()
                    .expect("digits phase has a config");
                let heard_until = self
                    .speech
                    .iter()
                    .filter(|s| s.end_ms > asked)
                    .map(|s| s.end_ms)
                    .max();
                let elapsed = t_ms - asked;
                if elapsed > d.timeout_ms
                    || (!self.in_speech
                        && heard_until.is_some_and(|e| t_ms - e >= d.end_silence_ms))
                {
                    self.reading_end = Some(t_ms);
                    self.phase = Phase::Done;
                }
                let prompt = if usable.is_none() && obs.prompt.is_problem() {
                    obs.prompt
                } else {
                    Prompt::ReadDigits
                };
                (prompt, (elapsed as f32 / d.timeout_ms as f32).min(1.0))
            }
            Phase::Action { index, kind } => {
                let usable = self.usable(obs);
                let m = Measurement {
                    t_ms,
                    face: usable.map(|f| f.signals),
                };
                let detector = self
                    .detector
                    .as_mut()
                    .expect("a detector runs in every action phase");
                let event = detector.push(&m);
                let progress = detector.progress();
                let asked = self.asked_ms.unwrap_or(t_ms);
                if let Some(event) = event {
                    self.results.push(ActionResult {
                        kind,
                        passed: true,
                        asked_ms: Some(asked),
                        event: Some(event),
                    });
                    self.start_action(index + 1, t_ms);
                } else if t_ms - asked > self.config.action_timeout_ms {
                    self.reasons.push(Reason::ActionTimeout);
                    self.end_actions();
                }
                let prompt = if usable.is_none() && obs.prompt.is_problem() {
                    obs.prompt
                } else {
                    Prompt::for_action(kind)
                };
                (prompt, progress)
            }
            Phase::Done => unreachable!("handled above"),
        };
        self.last_face = obs.face.map(|f| (f, t_ms));
        let prompt = if self.phase.is_done() {
            Prompt::Done
        } else {
            prompt
        };
        Ok(self.feedback(t_ms, prompt, face_box, obs.fit, progress))
    }

    /// Ends the attempt: pending actions count as failed. Returns the verdict without a best
    /// frame (the [`Session`] adds it). A digits attempt is judged as if nothing was heard:
    /// use [`Machine::finish_with_audio`].
    pub fn finish(self) -> Result<Verdict> {
        self.finish_with_audio(&Heard::default())
    }

    /// Ends the attempt with what the microphone gave: in a digits attempt that got to the
    /// reading, the speech, the digits heard, the mouth motion and the lip/audio sync are
    /// judged ([`reading::judge`]). In an action attempt `heard` is ignored.
    pub fn finish_with_audio(mut self, heard: &Heard) -> Result<Verdict> {
        let reading_started = self.digits.is_some() && self.asked_ms.is_some();
        if self.track_id.is_none() && !self.reasons.contains(&Reason::FaceChanged) {
            self.reasons.push(Reason::NotAligned);
        } else if !self.phase.is_done() && !reading_started {
            self.reasons.push(Reason::Incomplete);
        }
        self.end_actions();
        let reading = if reading_started {
            Some(self.judge_reading(heard)?)
        } else {
            None
        };
        let passed = self.reasons.is_empty() && self.results.iter().all(|r| r.passed);
        Ok(Verdict {
            passed,
            reasons: self.reasons,
            actions: self.results,
            reading,
            frames: self.frames,
            duration_ms: match (self.first_t, self.last_t) {
                (Some(a), Some(b)) => b - a,
                _ => 0,
            },
            best_frame: None,
            evidence: None,
        })
    }

    fn feedback(
        &self,
        t_ms: i64,
        prompt: Prompt,
        face_box: Option<BBox>,
        oval_fit: Option<OvalFit>,
        progress: f32,
    ) -> Feedback {
        Feedback {
            t_ms,
            phase: self.phase,
            prompt,
            face_box,
            oval_fit,
            progress,
        }
    }

    /// Builds the reading from what was heard and adds its failures to the reasons.
    fn judge_reading(&mut self, heard: &Heard) -> Result<Reading> {
        let config = self.config.digits.clone().expect("digits attempt");
        let speech = self.reading_speech(&heard.speech);
        let (face_coverage, mouth_motion) = reading::mouth_in_speech(&self.reading_frames, &speech);
        let mouth: Vec<(i64, f32)> = self
            .reading_frames
            .iter()
            .filter_map(|&(t, m)| Some((t, m?)))
            .collect();
        let sync = crate::sync::check_sync(
            &mouth,
            &heard.samples,
            heard.start_ms,
            Some(&speech),
            &config.sync,
        )?;
        let digits: Vec<_> = heard
            .recognition
            .segments
            .iter()
            .filter(|d| {
                speech
                    .iter()
                    .any(|s| d.end_ms > s.start_ms && d.start_ms < s.end_ms)
            })
            .copied()
            .collect();
        let challenge = self.digits.clone().unwrap_or_default();
        let reading = Reading {
            margin: heard
                .recognition
                .margin(&challenge)
                .max(heard.decoder_margin),
            challenge,
            recognised: digits.iter().map(|d| char::from(b'0' + d.digit)).collect(),
            language: config.language,
            digits,
            speech,
            mouth_motion,
            face_coverage,
            sync,
        };
        self.reasons.extend(reading::judge(&reading, &config));
        Ok(reading)
    }

    /// The tracked face if this frame can be measured: alone, facing the screen, and no
    /// quality problem that spoils the measurements.
    fn usable(&self, obs: &Observation) -> Option<ObservedFace> {
        let max = self.config.action_max_angle;
        // Every quality problem spoils the frame but pose and motion, which the actions cause.
        let spoiled = obs.prompt.is_problem()
            && !matches!(obs.prompt, Prompt::FaceScreen | Prompt::HoldStill);
        obs.face.filter(|f| {
            obs.faces <= 1 && f.signals.yaw.abs() <= max && f.signals.pitch.abs() <= max && !spoiled
        })
    }

    fn start_action(&mut self, index: usize, t_ms: i64) {
        if self.digits.is_some() {
            self.phase = Phase::Digits;
            self.asked_ms = Some(t_ms);
            return;
        }
        match self.plan.get(index) {
            Some(&kind) => {
                self.phase = Phase::Action { index, kind };
                self.detector = Some(signals::detector(kind));
                self.asked_ms = Some(t_ms);
            }
            None => {
                self.phase = Phase::Done;
                self.detector = None;
            }
        }
    }

    /// Marks every action not yet decided as failed and ends the attempt.
    fn end_actions(&mut self) {
        if self.phase == Phase::Digits {
            self.reading_end = self.last_t;
        }
        for (i, &kind) in self.plan.iter().enumerate().skip(self.results.len()) {
            let asked = if matches!(self.phase, Phase::Action { index, .. } if index == i) {
                self.asked_ms
            } else {
                None
            };
            self.results.push(ActionResult {
                kind,
                passed: false,
                asked_ms: asked,
                event: None,
            });
        }
        self.phase = Phase::Done;
        self.detector = None;
    }

    /// Whether the face moved implausibly far since the previous frame.
    fn jumped(&self, face: &ObservedFace, t_ms: i64) -> bool {
        let Some((prev, t)) = &self.last_face else {
            return false;
        };
        if prev.track_id != face.track_id || t_ms - t > 250 {
            return false;
        }
        let (a, b) = (prev.nose, face.nose);
        let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        let h = prev.bbox.height().max(1.0);
        let scale = face.bbox.height() / h;
        d / h > self.config.max_jump
            || !(0.7..=1.43).contains(&scale)
            || colour_jump(prev.colour, face.colour)
    }
}

/// Whether the inner-face colour changed more than lighting changes between two frames:
/// brightness by over 20 %, or hue (chromaticity) by over 0.012. Frame to frame, a live face
/// under auto-exposure moves < 1 % and < 0.002; a cut between two real clips measured 30 % and
/// 0.022 (`tests/session.rs`).
fn colour_jump(a: Option<[f32; 3]>, b: Option<[f32; 3]>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let (sa, sb) = (
        a.iter().sum::<f32>().max(1.0),
        b.iter().sum::<f32>().max(1.0),
    );
    let luma = (sa / sb).max(sb / sa);
    let chroma = ((a[0] / sa - b[0] / sb).powi(2) + (a[1] / sa - b[1] / sb).powi(2)).sqrt();
    luma > 1.2 || chroma > 0.012
}

/// The best frame so far, kept as upright RGB until the verdict encodes it.
struct BestCandidate {
    score: f32,
    t_ms: i64,
    width: u32,
    height: u32,
    rgb: Vec<u8>,
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
        Ok(Session {
            analyzer,
            machine: Machine::new(config)?,
            best: None,
            audio,
            fed,
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

    /// Processes one camera frame taken at `t_ms` (caller's clock; must increase).
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
            };
            return self.machine.step(&obs);
        }
        let report = self.analyzer.push_frame(frame, t_ms)?;
        let face = report.analysis.face.as_ref();
        let obs = Observation {
            t_ms,
            faces: report.analysis.faces,
            prompt: report.quality.prompt,
            fit: report.quality.fit,
            face: face.map(|f| ObservedFace::from_frame(frame, f)),
        };
        let was_acting = matches!(self.machine.phase(), Phase::Action { .. });
        let feedback = self.machine.step(&obs)?;
        if let Some(f) = face {
            if report.quality.prompt == Prompt::Ok
                || (was_acting && feedback.prompt != Prompt::Done)
            {
                self.consider_best(frame, f, report.quality.fit, t_ms);
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
                let relative: Vec<SpeechSegment> = speech
                    .iter()
                    .map(|s| SpeechSegment {
                        start_ms: s.start_ms - start_ms,
                        end_ms: s.end_ms - start_ms,
                    })
                    .collect();
                let mut recognition = digits::recognise(&model, buffer.samples(), Some(&relative))?;
                for d in &mut recognition.segments {
                    d.start_ms += start_ms;
                    d.end_ms += start_ms;
                }
                let language = self.machine.config.digits.as_ref().map(|c| c.language);
                let decoder_margin = match (self.machine.digits(), language) {
                    (Some(challenge), Some(language)) => {
                        model.decoder_margin(&recognition, challenge, language)?
                    }
                    _ => f32::MIN,
                };
                Heard {
                    samples: buffer.samples().to_vec(),
                    start_ms,
                    speech,
                    recognition,
                    decoder_margin,
                }
            }
            None => Heard::default(),
        };
        let key = self.machine.config.evidence.clone();
        let plan = match self.machine.digits() {
            Some(d) => format!("digits:{d}"),
            None => {
                let codes: Vec<&str> = self.machine.challenge().iter().map(|a| a.code()).collect();
                format!("actions:{}", codes.join(","))
            }
        };
        let mut verdict = self.machine.finish_with_audio(&heard)?;
        verdict.best_frame = match self.best {
            Some(b) => Some(encode_best(b)?),
            None => None,
        };
        if let (Some(key), Some(fed)) = (key, self.fed) {
            let reasons: Vec<&str> = verdict.reasons.iter().map(|r| r.code()).collect();
            let best = verdict.best_frame.as_ref().map(|b| b.jpeg.as_slice());
            let record =
                evidence::Evidence::new(&key.nonce, &plan, verdict.passed, &reasons, &fed, best);
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

    /// Keeps the frame if it is the best so far: sharp, frontal, eyes open, centred.
    fn consider_best(&mut self, frame: &FrameRef, face: &Face, fit: Option<OvalFit>, t_ms: i64) {
        let frontal = (1.0 - (face.pose.yaw.abs() + face.pose.pitch.abs()) / 60.0).clamp(0.0, 1.0);
        let eyes = (face.eyes.left.min(face.eyes.right) / 0.3).clamp(0.0, 1.0);
        let centred = fit.map_or(0.5, |f| (1.0 - f.offset).clamp(0.0, 1.0));
        let sharp = sharpness(frame, &face.mesh.roi_inner());
        let score = frontal * eyes * centred * sharp;
        if self.best.as_ref().is_some_and(|b| score <= b.score * 1.02) {
            return;
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
        let mut planar = vec![0.0f32; 3 * (ow * oh) as usize];
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
        let rgb = (0..plane)
            .flat_map(|i| [0, 1, 2].map(|c| planar[c * plane + i].round().clamp(0.0, 255.0) as u8))
            .collect();
        self.best = Some(BestCandidate {
            score,
            t_ms,
            width: ow,
            height: oh,
            rgb,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::ActionKind::{Blink, Nod};

    /// A 30 fps observation stream of one face whose signals a closure sets per time.
    struct Script {
        t: i64,
        track: u32,
        x: f32,
    }

    impl Script {
        fn obs(&mut self, f: impl Fn(i64) -> FaceSignals) -> Observation {
            self.t += 33;
            let bbox = BBox {
                x0: self.x,
                y0: 100.0,
                x1: self.x + 200.0,
                y1: 340.0,
            };
            Observation {
                t_ms: self.t,
                faces: 1,
                prompt: Prompt::Ok,
                fit: None,
                face: Some(ObservedFace {
                    track_id: self.track,
                    bbox,
                    nose: (self.x + 100.0, 220.0),
                    signals: f(self.t),
                    colour: None,
                }),
            }
        }
    }

    fn still(_: i64) -> FaceSignals {
        FaceSignals {
            eye_left: 0.38,
            eye_right: 0.38,
            pitch: -5.0,
            yaw: 1.0,
            roll: 0.0,
            mouth_open: 0.02,
        }
    }

    fn run_for(
        m: &mut Machine,
        s: &mut Script,
        ms: i64,
        f: impl Fn(i64) -> FaceSignals,
    ) -> Feedback {
        let end = s.t + ms;
        let mut fb = None;
        while s.t < end {
            fb = Some(m.step(&s.obs(&f)).unwrap());
        }
        fb.unwrap()
    }

    fn blink_at(start: i64) -> impl Fn(i64) -> FaceSignals {
        move |t| {
            let closed = (start..start + 200).contains(&t);
            FaceSignals {
                eye_left: if closed { 0.06 } else { 0.38 },
                eye_right: if closed { 0.06 } else { 0.38 },
                ..still(t)
            }
        }
    }

    fn nod_at(start: i64) -> impl Fn(i64) -> FaceSignals {
        move |t| {
            let p = ((t - start) as f32 / 800.0).clamp(0.0, 1.0);
            FaceSignals {
                pitch: -5.0 - 22.0 * (p * std::f32::consts::PI).sin(),
                ..still(t)
            }
        }
    }

    fn machine(actions: &[ActionKind]) -> Machine {
        Machine::new(SessionConfig::action().with_actions(actions)).unwrap()
    }

    fn talking(t: i64) -> FaceSignals {
        FaceSignals {
            mouth_open: 0.05 + 0.15 * ((t as f32 / 90.0).sin().abs()),
            ..still(t)
        }
    }

    fn speech(start_ms: i64, end_ms: i64) -> SpeechSegment {
        SpeechSegment { start_ms, end_ms }
    }

    fn digit(d: u8, start_ms: i64) -> digits::DigitSegment {
        digits::DigitSegment {
            digit: d,
            start_ms,
            end_ms: start_ms + 200,
            confidence: 0.9,
        }
    }

    /// Recogniser steps that clearly say `text`: each digit for two steps between blanks.
    fn spelled(text: &str) -> Vec<[f32; digits::CLASSES]> {
        let step = |class: usize| std::array::from_fn(|k| if k == class { -0.01 } else { -6.0 });
        let mut steps = vec![step(0)];
        for b in text.bytes() {
            let class = (b - b'0') as usize + 1;
            steps.extend([step(class), step(class), step(0)]);
        }
        steps
    }

    #[test]
    fn digits_reading_ends_on_the_silence_after_speech_and_is_judged() {
        let config = SessionConfig::digits(Language::English).with_digits("4829");
        let mut m = Machine::new(config).unwrap();
        assert_eq!((m.digits(), m.challenge()), (Some("4829"), &[][..]));
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        let fb = run_for(&mut m, &mut s, 700, still);
        assert_eq!((fb.phase, fb.prompt), (Phase::Digits, Prompt::ReadDigits));
        m.hear(vec![speech(1200, 2600)], true);
        assert_eq!(run_for(&mut m, &mut s, 2300, talking).phase, Phase::Digits);
        m.hear(vec![speech(1200, 2600)], false);
        assert_eq!(run_for(&mut m, &mut s, 1000, still).phase, Phase::Digits);
        let fb = run_for(&mut m, &mut s, 600, still);
        assert_eq!((fb.phase, fb.prompt), (Phase::Done, Prompt::Done));

        // The right digits inside the speech (one more said before the digits showed is not
        // counted); no audio samples, so the sync has nothing to measure.
        let heard = Heard {
            speech: vec![speech(100, 500), speech(1200, 2600)],
            recognition: digits::Recognition {
                digits: "14829".into(),
                segments: [(1, 200), (4, 1300), (8, 1700), (2, 2000), (9, 2300)]
                    .map(|(d, t)| digit(d, t))
                    .to_vec(),
                steps: spelled("4829"),
                encoded: Vec::new(),
            },
            ..Heard::default()
        };
        let v = m.finish_with_audio(&heard).unwrap();
        let r = v.reading.expect("the reading ran");
        assert_eq!(
            (r.challenge.as_str(), r.recognised.as_str()),
            ("4829", "4829")
        );
        assert_eq!(r.speech, [speech(1200, 2600)]);
        assert!(r.mouth_motion > 0.1 && r.face_coverage == 1.0, "{r:?}");
        assert_eq!(v.reasons, [Reason::OutOfSync]);
        assert!(!v.passed && v.actions.is_empty());
    }

    #[test]
    fn digits_time_out_without_speech_and_an_early_finish_is_judged_too() {
        let mut m = Machine::new(SessionConfig::digits(Language::Mandarin).with_seed(3)).unwrap();
        let d = m.digits().unwrap().to_string();
        assert!(d.len() == 4 && !challenge::is_guessable(&d), "{d}");
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        run_for(&mut m, &mut s, 700, still);
        assert_eq!(run_for(&mut m, &mut s, 12_100, still).phase, Phase::Done);
        let v = m.finish().unwrap();
        assert_eq!(v.reasons, [Reason::NoSpeech]);
        assert_eq!(v.reading.unwrap().recognised, "");

        // Finishing while the user is still reading is not "incomplete": what was heard is judged.
        let mut m = Machine::new(SessionConfig::digits(Language::Mandarin)).unwrap();
        run_for(&mut m, &mut s, 2000, still);
        assert_eq!(m.phase(), Phase::Digits);
        assert_eq!(m.finish().unwrap().reasons, [Reason::NoSpeech]);
    }

    #[test]
    fn blink_then_nod_passes() {
        let mut m = Machine::new(SessionConfig::action().with_actions(&[Blink, Nod])).unwrap();
        let plan = m.challenge().to_vec();
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        let fb = run_for(&mut m, &mut s, 1500, still);
        assert!(matches!(fb.phase, Phase::Action { index: 0, .. }), "{fb:?}");
        for kind in plan {
            let at = s.t + 600;
            let fb = match kind {
                Blink => run_for(&mut m, &mut s, 2000, blink_at(at)),
                _ => run_for(&mut m, &mut s, 2500, nod_at(at)),
            };
            assert!(fb.phase != Phase::Align, "{fb:?}");
        }
        assert!(m.phase().is_done());
        let v = m.finish().unwrap();
        assert!(v.passed, "{v:?}");
        assert!(v.actions.iter().all(|a| a.passed && a.event.is_some()));
    }

    #[test]
    fn a_still_face_times_out() {
        let mut m = machine(&[Blink]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        run_for(&mut m, &mut s, 12_000, still);
        let v = m.finish().unwrap();
        assert!(!v.passed);
        assert_eq!(v.reasons, vec![Reason::ActionTimeout]);
        assert!(!v.actions[0].passed && v.actions[0].asked_ms.is_some());
    }

    #[test]
    fn another_face_after_alignment_fails_continuity() {
        let mut m = machine(&[Nod]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        run_for(&mut m, &mut s, 1000, still);
        s.track = 2;
        let fb = run_for(&mut m, &mut s, 100, still);
        assert!(fb.phase.is_done() && fb.prompt == Prompt::Done);
        assert_eq!(m.finish().unwrap().reasons, vec![Reason::FaceChanged]);
    }

    #[test]
    fn a_jump_within_one_track_fails_continuity() {
        let mut m = machine(&[Nod]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        run_for(&mut m, &mut s, 1000, still);
        s.x += 150.0; // 0.6 face heights in one frame
        run_for(&mut m, &mut s, 40, still);
        assert_eq!(m.finish().unwrap().reasons, vec![Reason::FaceChanged]);
    }

    #[test]
    fn never_aligned_and_quality_prompts_pass_through() {
        let mut m = machine(&[Blink]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        let mut o = s.obs(still);
        o.prompt = Prompt::MoveCloser;
        let fb = m.step(&o).unwrap();
        assert_eq!((fb.phase, fb.prompt), (Phase::Align, Prompt::MoveCloser));
        let v = m.finish().unwrap();
        assert_eq!(v.reasons, vec![Reason::NotAligned]);
        assert!(!v.passed);
    }

    #[test]
    fn several_faces_pause_the_action_and_finish_early_is_incomplete() {
        let mut m = machine(&[Blink]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        run_for(&mut m, &mut s, 1000, still);
        let mut o = s.obs(blink_at(s.t));
        o.faces = 2;
        o.prompt = Prompt::SeveralFaces;
        let fb = m.step(&o).unwrap();
        assert_eq!(fb.prompt, Prompt::SeveralFaces);
        let v = m.finish().unwrap();
        assert_eq!(v.reasons, vec![Reason::Incomplete]);
    }

    #[test]
    fn time_must_increase_and_config_is_checked() {
        let mut m = machine(&[Blink]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        let o = s.obs(still);
        m.step(&o).unwrap();
        assert!(matches!(
            m.step(&o),
            Err(Error::TimestampNotIncreasing { .. })
        ));
        let bad = SessionConfig {
            action_timeout_ms: 0,
            ..SessionConfig::action()
        };
        assert!(matches!(Machine::new(bad), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn same_seed_same_challenge() {
        let a = Machine::new(SessionConfig::action().with_seed(5)).unwrap();
        let b = Machine::new(SessionConfig::action().with_seed(5)).unwrap();
        assert_eq!(a.challenge(), b.challenge());
    }

    #[test]
    fn colour_cut_between_frames_counts_as_a_jump() {
        let a = Some([128.0, 100.0, 89.0]);
        assert!(!colour_jump(a, Some([129.0, 100.5, 89.2])));
        assert!(!colour_jump(a, None));
        // The cut measured between two real clips: +30 % brightness, 0.02 chromaticity.
        assert!(colour_jump(a, Some([174.5, 126.3, 112.0])));
        // Same brightness, different hue.
        assert!(colour_jump(a, Some([110.0, 110.0, 97.0])));
    }
}

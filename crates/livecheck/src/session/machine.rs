//! The pure state machine of an attempt: observations in, feedback out.

use super::SessionConfig;
use crate::audio::{digits, SpeechSegment};
use crate::challenge;
use crate::error::{Error, Result};
use crate::frame::{Border, FrameRef, Normalize};
use crate::quality::Prompt;
use crate::reading::{self, MouthSample, Reading};
use crate::signals::{self, ActionDetector, ActionKind, FaceSignals, Measurement};
use crate::verdict::{ActionResult, Continuity, FaceMatch, Reason, Verdict};
use crate::vision::detector::BBox;
use crate::vision::geometry::OvalFit;
use crate::vision::Face;

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
    /// Finished; call [`super::Session::finish`].
    Done,
}

impl Phase {
    /// Whether the attempt is over.
    pub fn is_done(&self) -> bool {
        matches!(self, Phase::Done)
    }

    /// Whether this phase's detector reads the eyes (the blink): only then does a session run
    /// the iris model on every frame.
    pub fn needs_eyes(&self) -> bool {
        matches!(
            self,
            Phase::Action {
                kind: ActionKind::Blink,
                ..
            }
        )
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
    /// The frame's [`FrameRef::fingerprint`], when the pixels were seen: consecutive equal
    /// fingerprints are repeated frames.
    pub fingerprint: Option<u64>,
}

/// Byte-identical consecutive frames an attempt tolerates: this many plus one in twenty of its
/// frames (a camera never repeats a frame; a glitching host might, rarely). Above that the
/// feed is frozen, looped or stretched: [`Reason::RepeatedFrames`].
const REPEATED_FRAMES_ALLOWED: usize = 2;

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
/// [`Session`](super::Session) feeds it from the camera and keeps the best frame.
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
    /// The previous frame's fingerprint and how many frames repeated the one before.
    last_fingerprint: Option<u64>,
    repeated: usize,
    digits: Option<String>,
    reading_frames: Vec<MouthSample>,
    speech: Vec<SpeechSegment>,
    in_speech: bool,
    reading_end: Option<i64>,
    continuity: Option<Continuity>,
    face_match: Option<FaceMatch>,
}

/// What the microphone gave in a digits attempt, for [`Machine::finish_with_audio`]. The
/// samples and the encoder's output are zeroed when it is dropped.
#[derive(Debug, Clone)]
pub struct Heard {
    /// 16 kHz mono samples.
    pub samples: Vec<f32>,
    /// Caller's time of the first sample, ms.
    pub start_ms: i64,
    /// Speech segments on the caller's clock.
    pub speech: Vec<SpeechSegment>,
    /// The recogniser's output over the reading phase only (as
    /// [`super::Session::finish`] runs it: its steps decide [`Reading::margin`]); digit times on the
    /// caller's clock.
    pub recognition: digits::Recognition,
    /// The verifiers' margin for the challenge, as [`crate::audio::DigitModel::margin`]
    /// decides it; `f32::MIN` when nothing was recognised. It becomes [`Reading::margin`].
    pub margin: f32,
    /// The voice over the background in the audio the recogniser heard, dB
    /// ([`crate::audio::envelope::level_spread_db`]; 0 without audio). It becomes
    /// [`Reading::snr_db`].
    pub snr_db: f32,
}

impl Drop for Heard {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.samples);
        for window in &mut self.recognition.encoded {
            zeroize::Zeroize::zeroize(window);
        }
    }
}

impl Default for Heard {
    fn default() -> Self {
        Heard {
            samples: Vec::new(),
            start_ms: 0,
            speech: Vec::new(),
            recognition: digits::Recognition::default(),
            margin: f32::MIN,
            snr_db: 0.0,
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
            last_fingerprint: None,
            repeated: 0,
            digits,
            reading_frames: Vec::new(),
            speech: Vec::new(),
            in_speech: false,
            reading_end: None,
            continuity: None,
            face_match: None,
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

    /// The stretch of the caller's clock the recogniser hears, ms: from when the digits were
    /// shown (or the start of `speech`, the reading's segments, if earlier) to the end of the
    /// reading phase (or of `speech`, if later); `None` before the digits were shown.
    pub fn reading_span(&self, speech: &[SpeechSegment]) -> Option<(i64, i64)> {
        let asked = self.asked_ms.filter(|_| self.digits.is_some())?;
        let end = self.reading_end.or(self.last_t).unwrap_or(asked);
        let first = speech.iter().map(|s| s.start_ms).min().unwrap_or(asked);
        let last = speech.iter().map(|s| s.end_ms).max().unwrap_or(end);
        Some((asked.min(first), end.max(last)))
    }

    /// The attempt's settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Checks that `t_ms` is in range ([`crate::error::MAX_TIMESTAMP_MS`]) and comes after the
    /// previous observation.
    pub fn check_time(&self, t_ms: i64) -> Result<()> {
        crate::error::check_timestamp(t_ms)?;
        match self.last_t {
            Some(previous) if t_ms <= previous => Err(Error::TimestampNotIncreasing {
                previous,
                got: t_ms,
            }),
            _ => Ok(()),
        }
    }

    /// Whether the face has held still in the oval and become *the* face of the attempt.
    pub fn aligned(&self) -> bool {
        self.track_id.is_some()
    }

    /// The reasons the attempt has failed so far.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// Takes one identity check: the cosine similarity of the tracked face's embedding to the
    /// embedding taken at alignment ([`crate::vision::identity`]). Below the configured
    /// [`super::IdentityConfig::continuity_threshold`] another person has taken over: the
    /// attempt ends with [`Reason::FaceChanged`], even after its last action passed.
    pub fn identity(&mut self, similarity: f32) {
        let c = self.continuity.get_or_insert(Continuity {
            checks: 0,
            min_similarity: 1.0,
        });
        c.checks += 1;
        c.min_similarity = c.min_similarity.min(similarity);
        // NaN (a broken embedding) counts as changed.
        let changed = similarity.is_nan() || similarity < self.config.identity.continuity_threshold;
        if changed && !self.reasons.contains(&Reason::FaceChanged) {
            self.reasons.push(Reason::FaceChanged);
            self.end_actions();
        }
    }

    /// Takes the 1:1 comparison with the registered face ([`super::IdentityConfig::reference`]);
    /// when it does not match, the verdict fails with [`Reason::NotThePerson`].
    pub fn reference_match(&mut self, similarity: f32) {
        self.face_match = Some(FaceMatch {
            similarity,
            matched: similarity >= self.config.identity.match_threshold,
        });
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
        if obs.fingerprint.is_some() && obs.fingerprint == self.last_fingerprint {
            self.repeated += 1;
        }
        self.last_fingerprint = obs.fingerprint;

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
    /// frame (the [`Session`](super::Session) adds it). A digits attempt is judged as if nothing was heard:
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
        if self.repeated > REPEATED_FRAMES_ALLOWED + self.frames / 20 {
            self.reasons.push(Reason::RepeatedFrames);
        }
        // With a registered face, an attempt that never compared a face to it fails closed.
        if self.config.identity.reference.is_some()
            && self.track_id.is_some()
            && !self.face_match.is_some_and(|m| m.matched)
        {
            self.reasons.push(Reason::NotThePerson);
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
            continuity: self.continuity,
            face_match: self.face_match,
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
            margin: heard.margin,
            challenge,
            recognised: digits.iter().map(|d| char::from(b'0' + d.digit)).collect(),
            language: config.language,
            digits,
            speech,
            mouth_motion,
            face_coverage,
            snr_db: heard.snr_db,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::Language;
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
                fingerprint: Some(self.t as u64),
            }
        }
    }

    fn still(_: i64) -> FaceSignals {
        FaceSignals {
            eyes: Some((0.38, 0.38)),
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
                eyes: Some(if closed { (0.06, 0.06) } else { (0.38, 0.38) }),
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

    /// A blink session in which every frame of the given period repeats the one before it
    /// `hold` times (a stretched or slideshow feed); returns the verdict.
    fn blink_session_holding(hold: u64) -> Verdict {
        let mut m = machine(&[Blink]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        for i in 0u64.. {
            let mut o = s.obs(blink_at(1500));
            o.fingerprint = Some(i / (hold + 1));
            if m.step(&o).unwrap().phase.is_done() {
                break;
            }
        }
        m.finish().unwrap()
    }

    #[test]
    fn repeated_frames_fail_the_attempt_beyond_a_small_allowance() {
        // Every frame distinct: the blink passes.
        let live = blink_session_holding(0);
        assert!(live.passed, "{:?}", live.reasons);
        // Every frame pushed twice (stretched) or held for nine (slideshow): rejected.
        for hold in [1, 9] {
            let v = blink_session_holding(hold);
            assert!(!v.passed);
            assert_eq!(v.reasons, vec![Reason::RepeatedFrames], "hold {hold}");
        }
        // Two repeats in an attempt are tolerated (a host glitch).
        let mut m = machine(&[Blink]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        for i in 0..60u64 {
            let mut o = s.obs(blink_at(1500));
            o.fingerprint = Some(if (10..13).contains(&i) { 0 } else { i + 1 });
            m.step(&o).unwrap();
        }
        let v = m.finish().unwrap();
        assert!(v.passed, "{:?}", v.reasons);
    }

    #[test]
    fn digits_reading_ends_on_the_silence_after_speech_and_is_judged() {
        let config = SessionConfig::digits(Language::English).with_digits("4829");
        let mut m = Machine::new(config).unwrap();
        assert_eq!((m.digits(), m.challenge()), (Some("4829"), &[][..]));
        assert_eq!(m.reading_span(&[]), None, "nothing shown, nothing to hear");
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
        // The recogniser hears from when the digits showed to the end of the reading, and all
        // of a reading segment that began a little before the digits showed.
        let (asked, end) = (m.asked_ms.unwrap(), m.reading_end.unwrap());
        assert!(asked < 1200 && end >= 2600 + 1500, "{asked} {end}");
        let reading = m.reading_speech(&[speech(100, 500), speech(1200, 2600)]);
        assert_eq!(m.reading_span(&reading), Some((asked, end)));
        let early = m.reading_speech(&[speech(asked - 300, asked + 200)]);
        assert_eq!(m.reading_span(&early), Some((asked - 300, end)));

        // The right digits inside the speech (one more said before the digits showed is not
        // counted); no audio samples, so the sync has nothing to measure.
        let heard = Heard {
            samples: Vec::new(),
            start_ms: 0,
            speech: vec![speech(100, 500), speech(1200, 2600)],
            recognition: digits::Recognition {
                digits: "14829".into(),
                segments: [(1, 200), (4, 1300), (8, 1700), (2, 2000), (9, 2300)]
                    .map(|(d, t)| digit(d, t))
                    .to_vec(),
                steps: spelled("4829"),
                encoded: Vec::new(),
            },
            margin: 3.0,
            snr_db: 40.0,
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
    fn an_identity_check_below_the_threshold_fails_continuity_even_when_done() {
        let mut m = machine(&[Nod]);
        let mut s = Script {
            t: 0,
            track: 1,
            x: 100.0,
        };
        run_for(&mut m, &mut s, 1000, still);
        assert!(m.aligned());
        let t = m.config().identity.continuity_threshold;
        m.identity(t + 0.2);
        m.identity(t + 0.01);
        assert!(m.reasons().is_empty() && !m.phase().is_done());
        let at = s.t + 300;
        run_for(&mut m, &mut s, 2000, nod_at(at));
        assert!(m.phase().is_done());
        // The last action passed, then the face that did it was someone else's.
        m.identity(t - 0.01);
        m.identity(f32::NAN);
        let v = m.finish().unwrap();
        assert!(!v.passed);
        assert_eq!(v.reasons, vec![Reason::FaceChanged]);
        let c = v.continuity.unwrap();
        assert_eq!(c.checks, 4);
        assert!((c.min_similarity - (t - 0.01)).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn the_reference_must_match_and_a_reference_never_compared_fails() {
        let mut values = vec![0.0f32; crate::vision::identity::EMBED_DIM];
        values[0] = 1.0;
        let reference = crate::vision::identity::Embedding::new(values).unwrap();
        let config = SessionConfig::action()
            .with_actions(&[Blink])
            .with_reference(reference);
        let threshold = config.identity.match_threshold;
        for (similarity, passes) in [
            (Some(threshold + 0.1), true),
            (Some(threshold - 0.1), false),
            (None, false),
        ] {
            let mut m = Machine::new(config.clone()).unwrap();
            let mut s = Script {
                t: 0,
                track: 1,
                x: 100.0,
            };
            run_for(&mut m, &mut s, 1000, still);
            let at = s.t + 300;
            run_for(&mut m, &mut s, 1500, blink_at(at));
            if let Some(sim) = similarity {
                m.reference_match(sim);
            }
            let v = m.finish().unwrap();
            assert_eq!(v.passed, passes, "{similarity:?}: {v:?}");
            assert_eq!(v.face_match.map(|f| f.matched), similarity.map(|_| passes));
            if !passes {
                assert_eq!(v.reasons, vec![Reason::NotThePerson]);
            }
        }
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
        // Beyond ±2^53 ms: refused, so no difference of timestamps can overflow (a fuzzed
        // session jumping from i64::MIN to i64::MAX overflowed the duration).
        for t in [i64::MAX, i64::MIN, (1 << 53) + 1] {
            assert!(matches!(
                m.step(&Observation { t_ms: t, ..o }),
                Err(Error::TimestampOutOfRange { .. })
            ));
        }
        let mut m = machine(&[Blink]);
        m.step(&Observation {
            t_ms: -(1 << 53),
            ..o
        })
        .unwrap();
        m.step(&Observation { t_ms: 1 << 53, ..o }).unwrap();
        assert_eq!(m.finish().unwrap().duration_ms, 1 << 54);
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

//! Records and enums of the boundary that the core's types cannot carry directly (`usize`
//! fields, display strings for prompts and reasons), each converted from the core type in one
//! `From` impl. Everything else (`ActionKind`, `Prompt`, `Reason`, `PixelFormat`, `Event`,
//! `ActionResult`, `BestFrame`, `BBox`, `OvalFit`, `Language`, `Reading`, `DigitSegment`,
//! `SpeechSegment`, `SyncResult`, `Scheme`, `SignedEvidence`, `Continuity`, `FaceMatch`) is the
//! core's own type, derived behind its `uniffi` feature.

use livecheck::evidence::{Scheme, SignedEvidence};
use livecheck::vision::detector::BBox;
use livecheck::{
    ActionKind, ActionResult, BestFrame, Continuity, FaceMatch, Language, OvalFit, Prompt, Reading,
    Reason,
};

/// Where the attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Phase {
    /// Waiting for the face to settle in the oval.
    Align,
    /// Asking for the `index`-th action of the challenge.
    Action {
        /// Position in the challenge (0-based).
        index: u32,
        /// The action asked for.
        kind: ActionKind,
    },
    /// Digits challenge: show the digits and record the user reading them aloud.
    Digits,
    /// Finished: call `finish()` for the verdict.
    Done,
}

impl From<livecheck::Phase> for Phase {
    fn from(p: livecheck::Phase) -> Self {
        match p {
            livecheck::Phase::Align => Phase::Align,
            livecheck::Phase::Action { index, kind } => Phase::Action {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                kind,
            },
            livecheck::Phase::Digits => Phase::Digits,
            livecheck::Phase::Done => Phase::Done,
        }
    }
}

/// What the host shows after each frame.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Feedback {
    /// Timestamp of the frame, ms (the caller's clock).
    pub timestamp_ms: i64,
    /// Current phase (after this frame).
    pub phase: Phase,
    /// Whether the attempt is over (`phase` is `Done`): stop pushing and call `finish()`.
    pub done: bool,
    /// The instruction to show: a quality problem to fix, or the current challenge.
    pub prompt: Prompt,
    /// Stable machine-readable code of `prompt` (`move_closer`, `blink`, …).
    pub prompt_code: String,
    /// Chinese text of `prompt`, to show or speak.
    pub prompt_zh: String,
    /// English text of `prompt`.
    pub prompt_en: String,
    /// The tracked face box in display (upright) pixels.
    pub face_box: Option<BBox>,
    /// How the face sits in the oval.
    pub oval_fit: Option<OvalFit>,
    /// Progress of the current phase, 0..1.
    pub progress: f32,
}

impl From<livecheck::Feedback> for Feedback {
    fn from(f: livecheck::Feedback) -> Self {
        Feedback {
            timestamp_ms: f.t_ms,
            phase: f.phase.into(),
            done: f.phase.is_done(),
            prompt: f.prompt,
            prompt_code: f.prompt.code().to_string(),
            prompt_zh: f.prompt.zh().to_string(),
            prompt_en: f.prompt.en().to_string(),
            face_box: f.face_box,
            oval_fit: f.oval_fit,
            progress: f.progress,
        }
    }
}

/// The verdict of one attempt.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Verdict {
    /// True only if every check passed.
    pub passed: bool,
    /// One reason per failed check (empty when passed).
    pub reasons: Vec<Reason>,
    /// Stable codes of `reasons` (`action_timeout`, `face_changed`, …), for servers and logs.
    pub reason_codes: Vec<String>,
    /// Per requested action, in the order asked (empty in the digits challenge).
    pub actions: Vec<ActionResult>,
    /// The digits challenge's findings: digits heard, speech, mouth motion, lip/audio sync.
    pub reading: Option<Reading>,
    /// Frames pushed.
    pub frames: u64,
    /// Time from the first to the last frame, ms.
    pub duration_ms: i64,
    /// The best frame (upright JPEG) for the server's 1:1 match, if a face was ever well placed.
    pub best_frame: Option<BestFrame>,
    /// The signed record of the attempt for the server (when the options carry
    /// `evidence_nonce` and `evidence_key`); check it with `verify_evidence`.
    pub evidence: Option<SignedEvidence>,
    /// The identity checks within the attempt (with the face-embedding model loaded).
    pub continuity: Option<Continuity>,
    /// The 1:1 match with `SessionOptions.reference_photo`, when one was given.
    pub face_match: Option<FaceMatch>,
}

impl From<livecheck::Verdict> for Verdict {
    fn from(v: livecheck::Verdict) -> Self {
        Verdict {
            passed: v.passed,
            reason_codes: v.reasons.iter().map(|r| r.code().to_string()).collect(),
            reasons: v.reasons,
            actions: v.actions,
            reading: v.reading,
            frames: v.frames as u64,
            duration_ms: v.duration_ms,
            best_frame: v.best_frame,
            evidence: v.evidence,
            continuity: v.continuity,
            face_match: v.face_match,
        }
    }
}

/// Settings of one attempt; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SessionOptions {
    /// Actions to ask for, all of them, in an order drawn from `seed`. Empty: the standard
    /// challenge (blink and nod).
    #[uniffi(default = [])]
    pub actions: Vec<ActionKind>,
    /// Seed of the challenge draw; derive it from the server's nonce with `seed_from_nonce`.
    #[uniffi(default = 0)]
    pub seed: u64,
    /// Time allowed for each action, ms. None: the default (10 s).
    #[uniffi(default = None)]
    pub action_timeout_ms: Option<i64>,
    /// Set to run the digits challenge (读数认证) in this language instead of actions: four
    /// digits drawn from `seed`, read aloud while the host pushes microphone audio.
    #[uniffi(default = None)]
    pub digits_language: Option<Language>,
    /// Digits challenge: ask for these digits instead of drawing them (1 to 8 characters 0-9).
    #[uniffi(default = None)]
    pub expected_digits: Option<String>,
    /// The server's one-time nonce: set with `evidence_key` to get signed evidence in the
    /// verdict (the challenge is then drawn from the nonce and `seed` is unused).
    #[uniffi(default = None)]
    pub evidence_nonce: Option<Vec<u8>>,
    /// The key the server issued for this session (Ed25519: 32-byte seed; SM2: 32-byte secret
    /// scalar; HMAC-SHA-256: at least 32 bytes).
    #[uniffi(default = None)]
    pub evidence_key: Option<Vec<u8>>,
    /// How to sign. None: Ed25519.
    #[uniffi(default = None)]
    pub evidence_scheme: Option<Scheme>,
    /// The registered photo (JPEG, PNG or PNM bytes) to match the attempt's face against 1:1
    /// (needs the face embedder; the verdict then carries `face_match`, and fails with
    /// `not_the_person` when the faces differ).
    #[uniffi(default = None)]
    pub reference_photo: Option<Vec<u8>>,
}

impl SessionOptions {
    /// The core configuration these options describe.
    pub fn to_config(&self) -> livecheck::SessionConfig {
        let mut config = match self.digits_language {
            Some(language) => livecheck::SessionConfig::digits(language),
            None => livecheck::SessionConfig::action(),
        }
        .with_seed(self.seed);
        if let Some(digits) = &self.expected_digits {
            config = config.with_digits(digits);
        }
        if !self.actions.is_empty() && config.digits.is_none() {
            config = config.with_actions(&self.actions);
        }
        if let Some(ms) = self.action_timeout_ms {
            config.action_timeout_ms = ms;
        }
        if let (Some(nonce), Some(key)) = (&self.evidence_nonce, &self.evidence_key) {
            let scheme = self.evidence_scheme.unwrap_or(Scheme::Ed25519);
            config = config.with_evidence(nonce, scheme, key);
        }
        config
    }
}

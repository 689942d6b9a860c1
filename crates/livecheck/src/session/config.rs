//! Settings of one attempt.

use crate::challenge;
use crate::error::{Error, Result};
use crate::evidence::{EvidenceKey, Scheme};
use crate::reading::{DigitsConfig, Language};
use crate::signals::ActionKind;
use crate::vision::identity::Embedding;
use crate::AnalyzerConfig;

/// Identity checks of an attempt. They need the face-embedding model in the engine; without
/// it continuity rests on the track, jump and colour checks alone, and a reference is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityConfig {
    /// Cosine similarity to the face embedded at alignment below which the face counts as
    /// changed ([`crate::Reason::FaceChanged`]).
    pub continuity_threshold: f32,
    /// After alignment, embed the tracked face again once this much caller time has passed
    /// (and on the frame an action passes), ms.
    pub interval_ms: i64,
    /// Largest |yaw| and |pitch| (degrees) of a face worth embedding (turned faces are skipped,
    /// not judged).
    pub max_angle: f32,
    /// The registered face for the 1:1 match ([`SessionConfig::with_reference`]).
    pub reference: Option<Embedding>,
    /// Cosine similarity to the reference at or above which the attempt's face is the
    /// registered person ([`crate::Reason::NotThePerson`] below it).
    pub match_threshold: f32,
}

impl Default for IdentityConfig {
    /// Thresholds chosen on the real faces in `../shared/data` (`cargo xtask eval identity`,
    /// README "Identity").
    fn default() -> Self {
        IdentityConfig {
            continuity_threshold: 0.5,
            interval_ms: 700,
            max_angle: 20.0,
            reference: None,
            match_threshold: 0.45,
        }
    }
}

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
    /// Continuity by face embedding and the optional 1:1 match.
    pub identity: IdentityConfig,
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
            identity: IdentityConfig::default(),
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
    /// ([`challenge::seed_from_nonce`]) and [`super::Session::finish`] signs the evidence of the
    /// attempt with `secret` under `scheme` ([`crate::Verdict::evidence`]).
    pub fn with_evidence(mut self, nonce: &[u8], scheme: Scheme, secret: &[u8]) -> Self {
        self.seed = challenge::seed_from_nonce(nonce);
        self.evidence = Some(EvidenceKey {
            nonce: nonce.to_vec(),
            scheme,
            secret: secret.to_vec(),
        });
        self
    }

    /// The same settings with a registered face to match 1:1 (from the registered photo:
    /// [`crate::Engine::enrol_image`]). The verdict then carries [`crate::Verdict::face_match`]
    /// and fails with [`crate::Reason::NotThePerson`] when the faces differ.
    pub fn with_reference(mut self, reference: Embedding) -> Self {
        self.identity.reference = Some(reference);
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

    pub(super) fn validate(&self) -> Result<()> {
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
        let id = &self.identity;
        if !((-1.0..=1.0).contains(&id.continuity_threshold)
            && (-1.0..=1.0).contains(&id.match_threshold)
            && id.interval_ms > 0
            && id.max_angle > 0.0)
        {
            return Err(Error::InvalidConfig(format!(
                "identity thresholds must lie in [-1, 1] and interval_ms and max_angle be \
                 positive, got {}, {}, {} and {}",
                id.continuity_threshold, id.match_threshold, id.interval_ms, id.max_angle
            )));
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

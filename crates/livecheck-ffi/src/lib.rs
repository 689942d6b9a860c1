//! # livecheck-ffi
//!
//! uniffi bindings of [`livecheck`] for host apps in Kotlin (Android), Swift (iOS) and Python.
//! The crate holds no logic: it maps types, maps errors to one flat [`LivenessError`], and runs
//! every exported entry point inside a panic guard ([`error::guard`]), so no panic ever crosses
//! the boundary.
//!
//! ```text
//! engine  = LivenessEngine.fromDir("models")          // once; share between attempts/threads
//! session = engine.newSession(SessionOptions(seed = seedFromNonce(nonce)))
//! session.challenge()                                  // actions to ask for, in order
//! loop { fb = session.pushFrame(bytes, w, h, stride, PixelFormat.NV21, rot, mirrored, ts)
//!        show(fb.promptZh); if (fb.done) break }
//! verdict = session.finish()                           // once
//! ```
//!
//! The same API is usable from Rust (benchmarks and tests call it directly).

#![warn(missing_docs)]

uniffi::setup_scaffolding!();

pub mod error;
pub mod types;

use std::sync::{Arc, Mutex};

use livecheck::{ActionKind, Engine, FrameRef, ModelSet, PixelFormat, Rotation};

pub use error::{guard, LivenessError};
pub use types::{Feedback, Phase, SessionOptions, Verdict};

/// Result of every exported call.
pub type Result<T> = std::result::Result<T, LivenessError>;

/// The loaded models. Create once (loading optimises every model: see the README's numbers)
/// and share: any number of sessions, on any threads.
#[derive(Debug, uniffi::Object)]
pub struct LivenessEngine {
    engine: Engine,
}

#[uniffi::export]
impl LivenessEngine {
    /// Loads the models from `models_dir` (as laid out by `cargo xtask models`: the detector,
    /// mesh and iris ONNX files, and the VAD when present).
    #[uniffi::constructor]
    pub fn from_dir(models_dir: String) -> Result<Arc<Self>> {
        guard(|| {
            let models = ModelSet::from_dir(&models_dir)?;
            Ok(Arc::new(LivenessEngine {
                engine: Engine::load(&models)?,
            }))
        })
    }

    /// Loads the models from their ONNX bytes (hosts that ship models as app assets): the
    /// BlazeFace short-range detector, the face mesh, the iris model and optionally the
    /// Silero VAD and the digit recogniser's three models (both needed by the digits challenge)
    /// and the face embedder (continuity by identity and the 1:1 match with a reference photo).
    #[uniffi::constructor(default(embedder = None))]
    pub fn from_bytes(
        detector: &[u8],
        mesh: &[u8],
        iris: &[u8],
        vad: Option<Vec<u8>>,
        digits: Option<livecheck::audio::DigitModelBytes>,
        embedder: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let models = ModelSet {
                detector: detector.to_vec(),
                mesh: mesh.to_vec(),
                iris: iris.to_vec(),
                vad,
                digits,
                embedder,
            };
            Ok(Arc::new(LivenessEngine {
                engine: Engine::load(&models)?,
            }))
        })
    }

    /// Starts one attempt with `options`: draws the challenge from `options.seed`. With
    /// `options.reference_photo` the photo's face is embedded here (about one model run).
    pub fn new_session(&self, options: SessionOptions) -> Result<Arc<LivenessSession>> {
        guard(|| {
            let mut config = options.to_config();
            if let Some(photo) = &options.reference_photo {
                config = config.with_reference(self.engine.enrol_image(photo)?);
            }
            let session = self.engine.session(config)?;
            Ok(Arc::new(LivenessSession {
                challenge: session.challenge().to_vec(),
                digits: session.digits().map(str::to_string),
                state: Mutex::new(Some(session)),
            }))
        })
    }
}

/// One liveness attempt: push camera frames in time order, show each [`Feedback`]'s prompt,
/// then call [`finish`](LivenessSession::finish) once for the [`Verdict`]. Safe to call from
/// any thread (calls are serialised by a lock); timestamps must increase across all calls.
#[derive(Debug, uniffi::Object)]
pub struct LivenessSession {
    challenge: Vec<ActionKind>,
    digits: Option<String>,
    /// `None` once finished.
    state: Mutex<Option<livecheck::Session>>,
}

impl LivenessSession {
    /// Runs `f` on the live session under the lock.
    fn with_session<T>(&self, f: impl FnOnce(&mut livecheck::Session) -> Result<T>) -> Result<T> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        let session = state.as_mut().ok_or_else(finished)?;
        f(session)
    }
}

fn poisoned() -> LivenessError {
    LivenessError::Internal(
        "the session is unusable after an earlier internal error; start a new one".into(),
    )
}

fn finished() -> LivenessError {
    LivenessError::SessionFinished("the session is finished; start a new one".into())
}

#[uniffi::export]
impl LivenessSession {
    /// The actions to ask for, in order (show them one at a time as the phase advances);
    /// empty in the digits challenge.
    pub fn challenge(&self) -> Result<Vec<ActionKind>> {
        guard(|| Ok(self.challenge.clone()))
    }

    /// The digits to show and have read aloud (digits challenge only).
    pub fn digits(&self) -> Result<Option<String>> {
        guard(|| Ok(self.digits.clone()))
    }

    /// Takes microphone audio (digits challenge; the action challenge ignores it): mono
    /// samples in [-1, 1] at `sample_rate` Hz (any rate 4–384 kHz, resampled inside), the
    /// first one captured at `timestamp_ms` on the frames' clock. Chunks must follow each
    /// other in time; small gaps are filled with silence. Call from the audio thread.
    pub fn push_audio(&self, pcm: Vec<f32>, sample_rate: u32, timestamp_ms: i64) -> Result<()> {
        guard(|| self.with_session(|s| Ok(s.push_audio(&pcm, sample_rate, timestamp_ms)?)))
    }

    /// As `push_audio`, for 16-bit PCM (Android `AudioRecord` `ENCODING_PCM_16BIT`).
    pub fn push_audio_i16(&self, pcm: Vec<i16>, sample_rate: u32, timestamp_ms: i64) -> Result<()> {
        guard(|| self.with_session(|s| Ok(s.push_audio_i16(&pcm, sample_rate, timestamp_ms)?)))
    }

    /// The current phase (`Done` once the attempt is over or finished).
    pub fn phase(&self) -> Result<Phase> {
        guard(|| {
            let state = self.state.lock().map_err(|_| poisoned())?;
            Ok(state.as_ref().map_or(Phase::Done, |s| s.phase().into()))
        })
    }

    /// Whether [`finish`](LivenessSession::finish) was called.
    pub fn is_finished(&self) -> Result<bool> {
        guard(|| Ok(self.state.lock().map_err(|_| poisoned())?.is_none()))
    }

    /// Processes one camera frame, read in place (no copy is made of `bytes`).
    ///
    /// - `width`, `height`: raw buffer size in pixels (before rotation);
    /// - `row_stride`: bytes per row of the first plane, 0 for tightly packed; for NV21/NV12
    ///   the interleaved chroma plane follows the Y plane directly with the same stride, for
    ///   I420 the U and V planes follow with half the stride;
    /// - `rotation_degrees`: clockwise rotation that makes the image upright (Android
    ///   `imageInfo.rotationDegrees`): 0, 90, 180 or 270;
    /// - `mirrored`: whether the upright image is mirrored (front camera previews usually are
    ///   not: pass false for raw sensor frames);
    /// - `timestamp_ms`: the frame's capture time on the caller's clock; must increase.
    ///
    /// Push each camera frame once: byte-identical consecutive frames beyond a small allowance
    /// fail the attempt as a frozen or stretched feed (`repeated_frames`).
    #[allow(clippy::too_many_arguments)]
    pub fn push_frame(
        &self,
        bytes: &[u8],
        width: u32,
        height: u32,
        row_stride: u32,
        format: PixelFormat,
        rotation_degrees: u32,
        mirrored: bool,
        timestamp_ms: i64,
    ) -> Result<Feedback> {
        guard(|| {
            let rotation = Rotation::from_degrees(rotation_degrees)?;
            let frame = if row_stride == 0 {
                FrameRef::packed(bytes, width, height, format)?
            } else {
                FrameRef::new(bytes, width, height, row_stride as usize, format)?
            }
            .with_orientation(rotation, mirrored);
            self.with_session(|s| Ok(s.push_frame(&frame, timestamp_ms)?.into()))
        })
    }

    /// Ends the attempt and returns the verdict; challenges not yet done count as failed. A
    /// session finishes once: later calls (and frames) fail with `SessionFinished`.
    pub fn finish(&self) -> Result<Verdict> {
        guard(|| {
            let session = self
                .state
                .lock()
                .map_err(|_| poisoned())?
                .take()
                .ok_or_else(finished)?;
            Ok(session.finish()?.into())
        })
    }
}

/// The challenge seed for a server nonce (same nonce, same challenge: the server can check
/// what was asked).
#[uniffi::export]
pub fn seed_from_nonce(nonce: &[u8]) -> Result<u64> {
    guard(|| Ok(livecheck::challenge::seed_from_nonce(nonce)))
}

/// Checks signed evidence the way a server does: the signature with `key` (Ed25519: the
/// 32-byte public key, or the 32-byte secret seed with `key_is_secret`; SM2: the SEC1 public
/// point, or the 32-byte secret scalar with `key_is_secret`; HMAC-SHA-256: the shared secret),
/// then that it answers `expected_nonce`. Returns the canonical payload;
/// `LivenessError::Other` with the reason when it does not verify.
#[uniffi::export]
pub fn verify_evidence(
    evidence: livecheck::evidence::SignedEvidence,
    key: Vec<u8>,
    key_is_secret: bool,
    expected_nonce: Vec<u8>,
) -> Result<String> {
    guard(|| {
        use livecheck::evidence::{self, Scheme, VerifyKey};
        let key = match (evidence.scheme, key_is_secret) {
            (Scheme::HmacSha256, _) | (_, true) => VerifyKey::from_secret(evidence.scheme, &key)?,
            (scheme, false) => VerifyKey::from_public(scheme, &key)
                .map_err(|e| livecheck::Error::BadEvidence(e.to_string()))?,
        };
        Ok(evidence::verify(&evidence, &key, &expected_nonce)?.to_json())
    })
}

/// The version of the livecheck library behind these bindings.
#[uniffi::export]
pub fn livecheck_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Diagnostic for host test suites: panics inside the guard, so it always fails with
/// `LivenessError::Internal` carrying `message`. Proves that a panic never crosses the
/// boundary. Has no other effect.
#[doc(hidden)]
#[uniffi::export]
pub fn self_test_panic(message: String) -> Result<()> {
    guard(|| panic!("self-test panic: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn objects_are_send_and_sync() {
        assert_send_sync::<LivenessEngine>();
        assert_send_sync::<LivenessSession>();
    }

    #[test]
    fn the_self_test_panic_is_an_internal_error() {
        match self_test_panic("probe".into()) {
            Err(LivenessError::Internal(m)) => assert!(m.contains("probe"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_map_to_the_core_config() {
        let c = SessionOptions::default().to_config();
        assert_eq!(c, livecheck::SessionConfig::action());
        let o = SessionOptions {
            actions: vec![ActionKind::Shake],
            seed: 9,
            action_timeout_ms: Some(3000),
            ..Default::default()
        };
        let c = o.to_config();
        assert_eq!(
            (c.actions, c.count, c.seed, c.action_timeout_ms),
            (vec![ActionKind::Shake], 1, 9, 3000)
        );
        let d = SessionOptions {
            seed: 9,
            digits_language: Some(livecheck::Language::Mandarin),
            expected_digits: Some("4829".into()),
            ..Default::default()
        }
        .to_config();
        let digits = d.digits.expect("a digits config");
        assert_eq!(
            (digits.language, digits.expected.as_deref(), d.seed),
            (livecheck::Language::Mandarin, Some("4829"), 9)
        );
    }
}

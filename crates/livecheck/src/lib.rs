//! # livecheck
//!
//! On-device face liveness for pension eligibility certification: face detection and tracking in
//! an on-screen oval, dense landmarks, eye/head/mouth measurements and user guidance, all through
//! tract-onnx on the caller's thread, with time taken only from the caller's timestamps.
//!
//! ```no_run
//! use livecheck::{Engine, FrameRef, ModelSet, PixelFormat};
//! # fn main() -> livecheck::Result<()> {
//! let engine = Engine::load(&ModelSet::from_dir("models")?)?; // once
//! let mut analyzer = engine.analyzer(Default::default());     // per attempt
//! # let (rgb, w, h) = (vec![0u8; 640 * 480 * 3], 640, 480);
//! let frame = FrameRef::packed(&rgb, w, h, PixelFormat::Rgb8)?;
//! let report = analyzer.push_frame(&frame, 0)?;
//! println!("{}", report.quality.prompt.zh());
//! # Ok(()) }
//! ```
//!
//! See `ARCHITECTURE.md` at the repository root for how a frame flows through the modules.

// The core's records and enums derive uniffi traits behind the `uniffi` feature (for
// crates/livecheck-ffi); their bindings live in the `livecheck` namespace.
#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub mod audio;
pub mod challenge;
pub mod error;
pub mod evidence;
pub mod frame;
pub mod models;
pub mod quality;
pub mod reading;
pub mod reason;
pub mod report;
pub mod session;
pub mod signals;
pub mod sync;
pub mod verdict;
pub mod vision;

pub use audio::{AudioBuffer, Pcm, SpeechSegment};
pub use error::{Error, Result};
pub use frame::{FrameRef, OwnedFrame, PixelFormat, Roi, Rotation};
pub use models::ModelSet;
pub use quality::{Prompt, Quality, QualityConfig};
pub use reading::{DigitsConfig, Language, Reading};
pub use session::{Feedback, IdentityConfig, Phase, Session, SessionConfig};
pub use signals::{ActionKind, Event};
pub use sync::{SyncConfig, SyncResult};
pub use verdict::{ActionResult, BestFrame, Continuity, FaceMatch, Reason, Verdict};
pub use vision::geometry::{HeadPose, Oval, OvalFit};
pub use vision::identity::{Embedding, FaceEmbedder};
pub use vision::{Eyes, Face, FaceTracker, FrameAnalysis, TrackerConfig};

/// The loaded models, optimised and runnable. Load once; cheap to clone and share between
/// attempts and threads.
#[derive(Debug, Clone)]
pub struct Engine {
    vision: vision::VisionModels,
    vad: Option<audio::VadModel>,
    digits: Option<audio::DigitModel>,
    embedder: Option<FaceEmbedder>,
    model_sha256: std::sync::Arc<std::collections::BTreeMap<String, String>>,
}

impl Engine {
    /// Loads and checks every model in `models` (and takes each one's SHA-256 for the
    /// evidence: [`Engine::model_sha256`]). The memory the loading used and freed is handed
    /// back to the operating system ([`models::release_freed_memory`]).
    pub fn load(models: &ModelSet) -> Result<Self> {
        let engine = Self::load_models(models);
        models::release_freed_memory();
        engine
    }

    fn load_models(models: &ModelSet) -> Result<Self> {
        Ok(Engine {
            model_sha256: std::sync::Arc::new(models.sha256()),
            vision: vision::VisionModels::load(models)?,
            vad: models
                .vad
                .as_deref()
                .map(audio::VadModel::load)
                .transpose()?,
            digits: models
                .digits
                .as_ref()
                .map(audio::DigitModel::load)
                .transpose()?,
            embedder: models
                .embedder
                .as_deref()
                .map(FaceEmbedder::load)
                .transpose()?,
        })
    }

    /// The face-embedding model, when the [`ModelSet`] had one.
    pub fn embedder(&self) -> Option<&FaceEmbedder> {
        self.embedder.as_ref()
    }

    /// The embedding of the largest face in a still photo (the registered photo of a 1:1
    /// match, [`SessionConfig::with_reference`]): detector, mesh refined on its own crop,
    /// 5-point alignment, embedding.
    pub fn enrol(&self, photo: &FrameRef) -> Result<Embedding> {
        let embedder = self.embedder.as_ref().ok_or(Error::ModelNotLoaded {
            name: models::files::EMBEDDER,
        })?;
        let detections = self.vision.detector.detect(photo)?;
        let best = vision::largest(&detections).ok_or(Error::NoFaceInPhoto)?;
        let landmarker = &self.vision.landmarker;
        let first = landmarker.mesh(photo, &best.mesh_roi())?;
        let mesh = landmarker.mesh(photo, &first.next_roi())?;
        if mesh.presence < TrackerConfig::default().min_presence {
            return Err(Error::NoFaceInPhoto);
        }
        embedder.embed(photo, &mesh)
    }

    /// As [`Engine::enrol`], for an encoded photo (JPEG, PNG or PNM bytes; at most
    /// [`frame::MAX_SIDE`] pixels a side and 256 MiB decoded).
    pub fn enrol_image(&self, encoded: &[u8]) -> Result<Embedding> {
        let bad = |e: image::ImageError| Error::BadImage(e.to_string());
        let mut reader = image::ImageReader::new(std::io::Cursor::new(encoded))
            .with_guessed_format()
            .map_err(|e| Error::BadImage(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(frame::MAX_SIDE);
        limits.max_image_height = Some(frame::MAX_SIDE);
        limits.max_alloc = Some(256 << 20);
        reader.limits(limits);
        let rgb = reader.decode().map_err(bad)?.to_rgb8();
        let (w, h) = rgb.dimensions();
        self.enrol(&FrameRef::packed(rgb.as_raw(), w, h, PixelFormat::Rgb8)?)
    }

    /// The vision models (detector, mesh, iris).
    pub fn vision(&self) -> &vision::VisionModels {
        &self.vision
    }

    /// The voice activity model, when the [`ModelSet`] had one.
    pub fn vad(&self) -> Option<&audio::VadModel> {
        self.vad.as_ref()
    }

    /// The spoken-digit model, when the [`ModelSet`] had one.
    pub fn digits(&self) -> Option<&audio::DigitModel> {
        self.digits.as_ref()
    }

    /// Each model loaded: file name ([`models::files`]) → SHA-256 of its bytes, lowercase hex.
    /// Signed into every evidence record, so a server knows which models judged the attempt.
    pub fn model_sha256(&self) -> &std::collections::BTreeMap<String, String> {
        &self.model_sha256
    }

    /// A new per-attempt frame analyser.
    pub fn analyzer(&self, config: AnalyzerConfig) -> Analyzer {
        Analyzer {
            tracker: FaceTracker::new(self.vision.clone(), config.tracker),
            quality: config.quality,
            prev: None,
            last_t: None,
        }
    }
}

/// Settings of an [`Analyzer`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnalyzerConfig {
    /// Tracking settings.
    pub tracker: TrackerConfig,
    /// Quality thresholds and the oval.
    pub quality: QualityConfig,
}

/// Everything livecheck measured on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameReport {
    /// Faces, landmarks and measurements.
    pub analysis: FrameAnalysis,
    /// Guidance for the user.
    pub quality: Quality,
}

/// Per-attempt frame pipeline: tracking, measurements and quality guidance.
#[derive(Debug, Clone)]
pub struct Analyzer {
    tracker: FaceTracker,
    quality: QualityConfig,
    prev: Option<(Face, i64)>,
    last_t: Option<i64>,
}

impl Analyzer {
    /// Analyses one frame taken at `t_ms` (caller's clock; must increase).
    pub fn push_frame(&mut self, frame: &FrameRef, t_ms: i64) -> Result<FrameReport> {
        error::check_timestamp(t_ms)?;
        if let Some(previous) = self.last_t {
            if t_ms <= previous {
                return Err(Error::TimestampNotIncreasing {
                    previous,
                    got: t_ms,
                });
            }
        }
        self.quality.oval.validate()?;
        let analysis = self.tracker.process(frame, t_ms)?;
        self.last_t = Some(t_ms);
        let quality = quality::assess(
            frame,
            &analysis,
            self.prev.as_ref().map(|(f, t)| (f, *t)),
            &self.quality,
        );
        self.prev = analysis.face.clone().map(|f| (f, t_ms));
        Ok(FrameReport { analysis, quality })
    }

    /// Whether the following frames measure the eyes with the iris model (on by default; see
    /// [`FaceTracker::set_eyes`]).
    pub fn set_eyes(&mut self, on: bool) {
        self.tracker.set_eyes(on);
    }

    /// The eyes of `face` (tracked on `frame`): measured now unless the frame already measured
    /// them.
    pub fn measure_eyes<'f>(&self, frame: &FrameRef, face: &'f mut Face) -> Result<&'f Eyes> {
        match &mut face.eyes {
            Some(eyes) => Ok(eyes),
            slot @ None => {
                let eyes = self.tracker.models().landmarker.eyes(frame, &face.mesh)?;
                Ok(slot.insert(eyes))
            }
        }
    }
}

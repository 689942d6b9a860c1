//! The outcome of one attempt: passed or not, why not, what happened when, and the best frame
//! for the server's 1:1 match.

use crate::reading::Reading;
pub use crate::reason::Reason;
use crate::signals::{ActionKind, Event};

/// What happened to one requested action.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ActionResult {
    /// The action asked for.
    pub kind: ActionKind,
    /// Whether it was seen in time.
    pub passed: bool,
    /// When the request was shown (first frame of the action phase), ms.
    pub asked_ms: Option<i64>,
    /// The detected event, if any.
    pub event: Option<Event>,
}

/// The best frame of the attempt, for the server's comparison with the ID photo.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BestFrame {
    /// Caller timestamp of the frame, ms.
    pub t_ms: i64,
    /// Width of the encoded image.
    pub width: u32,
    /// Height of the encoded image.
    pub height: u32,
    /// Upright (display-orientation) frame as JPEG.
    pub jpeg: Vec<u8>,
    /// Selection score in 0..1 (sharp, frontal, eyes open, centred).
    pub score: f32,
}

/// The identity checks within the attempt: the tracked face compared with the face at
/// alignment ([`crate::vision::identity`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Continuity {
    /// Embeddings compared with the one taken at alignment.
    pub checks: u32,
    /// The lowest cosine similarity among them.
    pub min_similarity: f32,
}

/// The 1:1 comparison of the attempt's face with the registered photo.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FaceMatch {
    /// Cosine similarity of the attempt's face (the mean of its embeddings) to the reference.
    pub similarity: f32,
    /// Whether it reaches [`crate::session::IdentityConfig::match_threshold`].
    pub matched: bool,
}

/// The verdict of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// True only if every check passed.
    pub passed: bool,
    /// One reason per failed check (empty when passed).
    pub reasons: Vec<Reason>,
    /// Per requested action, in the order asked (empty in the digits challenge).
    pub actions: Vec<ActionResult>,
    /// The digits challenge's findings (`None` in the action challenge, or when the attempt
    /// never got to the digits).
    pub reading: Option<Reading>,
    /// Frames pushed.
    pub frames: usize,
    /// Time from the first to the last frame, ms.
    pub duration_ms: i64,
    /// The best frame, if a face was ever well placed.
    pub best_frame: Option<BestFrame>,
    /// The signed record of the attempt for the server, when the session was configured with
    /// [`crate::SessionConfig::with_evidence`].
    pub evidence: Option<crate::evidence::SignedEvidence>,
    /// The identity checks within the attempt (`None` without the face-embedding model, or
    /// when the attempt never got past alignment).
    pub continuity: Option<Continuity>,
    /// The 1:1 match with the registered face, when the session had one
    /// ([`crate::SessionConfig::with_reference`]).
    pub face_match: Option<FaceMatch>,
}

//! Why an attempt failed: the stable codes the verdict, the reading's judge and servers share
//! (a leaf module, so the judges and the verdict depend on it and not on each other).

/// Why an attempt failed. Codes are stable: hosts and servers key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Reason {
    /// The face never held still in the oval long enough to start.
    NotAligned,
    /// The tracked face was lost and a face came back, the track jumped, or the face's
    /// embedding no longer matches the face at alignment: it may not be the same person.
    FaceChanged,
    /// An action was not seen before its timeout.
    ActionTimeout,
    /// The attempt ended (finish was called) before every challenge was done.
    Incomplete,
    /// Digits challenge: no speech was heard after the digits were shown.
    NoSpeech,
    /// Digits challenge: the digits heard are not the digits shown.
    WrongDigits,
    /// Digits challenge: a voice spoke but the lips did not move.
    NoLipMotion,
    /// Digits challenge: the lips moved out of step with the voice (dubbed or replayed audio).
    OutOfSync,
    /// Digits challenge: the face was out of view for too much of the speech.
    FaceLost,
    /// Consecutive frames were byte-identical more often than a camera allows: a frozen,
    /// looped, stretched or slideshow video feed.
    RepeatedFrames,
    /// The face does not match the registered photo (1:1 match).
    NotThePerson,
    /// Digits challenge: the voice stood too little above the background noise for the digits
    /// to be checked reliably (ask the reader to move somewhere quieter and try again).
    TooNoisy,
}

impl Reason {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotAligned => "not_aligned",
            Reason::FaceChanged => "face_changed",
            Reason::ActionTimeout => "action_timeout",
            Reason::Incomplete => "incomplete",
            Reason::NoSpeech => "no_speech",
            Reason::WrongDigits => "wrong_digits",
            Reason::NoLipMotion => "no_lip_motion",
            Reason::OutOfSync => "out_of_sync",
            Reason::FaceLost => "face_lost",
            Reason::RepeatedFrames => "repeated_frames",
            Reason::NotThePerson => "not_the_person",
            Reason::TooNoisy => "too_noisy",
        }
    }
}

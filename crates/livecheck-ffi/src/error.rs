//! The one error of the boundary, converted from the core's [`livecheck::Error`] in one place,
//! and the panic guard every exported entry point runs in.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Everything a livecheck call can fail with, as seen from Kotlin (`LivenessException`), Swift
/// and Python (`LivenessError`). Each variant carries the core's message, which names the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum LivenessError {
    /// The frame buffer does not match its size, stride, format or rotation (empty, odd size
    /// for a 4:2:0 format, stride too small, buffer too short, rotation not 0/90/180/270).
    #[error("{0}")]
    InvalidFrame(String),
    /// The audio does not match its description (sample rate out of range or changed, too long).
    #[error("{0}")]
    InvalidAudio(String),
    /// A frame or audio timestamp did not increase.
    #[error("{0}")]
    TimestampNotIncreasing(String),
    /// A frame or audio timestamp is beyond ±2^53 ms.
    #[error("{0}")]
    TimestampOutOfRange(String),
    /// A session option is out of range.
    #[error("{0}")]
    InvalidConfig(String),
    /// The reference photo of a 1:1 match cannot be decoded or holds no face.
    #[error("{0}")]
    InvalidPhoto(String),
    /// A model file is missing or a model is unusable.
    #[error("{0}")]
    Model(String),
    /// Running a model or encoding the best frame failed.
    #[error("{0}")]
    Processing(String),
    /// The session was already finished: `finish` returns the verdict once.
    #[error("{0}")]
    SessionFinished(String),
    /// A bug inside livecheck (a caught panic, or a session left unusable by one). Never the
    /// caller's fault; report it.
    #[error("{0}")]
    Internal(String),
    /// A core error this version of the bindings does not classify.
    #[error("{0}")]
    Other(String),
}

impl From<livecheck::Error> for LivenessError {
    fn from(e: livecheck::Error) -> Self {
        use livecheck::error::ErrorClass as C;
        let message = e.to_string();
        match e.class() {
            C::InvalidFrame => LivenessError::InvalidFrame(message),
            C::InvalidAudio => LivenessError::InvalidAudio(message),
            C::TimestampNotIncreasing => LivenessError::TimestampNotIncreasing(message),
            C::TimestampOutOfRange => LivenessError::TimestampOutOfRange(message),
            C::InvalidConfig => LivenessError::InvalidConfig(message),
            C::InvalidPhoto => LivenessError::InvalidPhoto(message),
            C::Model => LivenessError::Model(message),
            C::Processing => LivenessError::Processing(message),
            C::Other => LivenessError::Other(message),
        }
    }
}

/// Runs `f`, turning a panic inside it into [`LivenessError::Internal`] so that no panic ever
/// unwinds into the host. Every exported function and method goes through here.
pub fn guard<T>(f: impl FnOnce() -> Result<T, LivenessError>) -> Result<T, LivenessError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        Err(LivenessError::Internal(format!(
            "internal error in livecheck (please report): {what}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let r: Result<(), _> = guard(|| panic!("boom {}", 42));
        match r {
            Err(LivenessError::Internal(m)) => assert!(m.contains("boom 42"), "{m}"),
            other => panic!("{other:?}"),
        }
        let r: Result<(), _> = guard(|| std::panic::panic_any(7u8));
        assert!(matches!(r, Err(LivenessError::Internal(m)) if m.contains("unknown")));
    }

    #[test]
    fn results_pass_through_the_guard() {
        assert_eq!(guard(|| Ok(3)), Ok(3));
        let e = LivenessError::InvalidConfig("x".into());
        assert_eq!(guard::<()>(|| Err(e.clone())), Err(e));
    }

    #[test]
    fn core_errors_map_to_their_class_with_the_message() {
        let e: LivenessError = livecheck::Error::BadRotation(45).into();
        assert_eq!(
            e,
            LivenessError::InvalidFrame(livecheck::Error::BadRotation(45).to_string())
        );
        let e: LivenessError = livecheck::Error::TimestampNotIncreasing {
            previous: 5,
            got: 5,
        }
        .into();
        assert!(matches!(e, LivenessError::TimestampNotIncreasing(m) if m.contains("5 ms")));
        let e: LivenessError = livecheck::Error::InvalidConfig("bad".into()).into();
        assert!(matches!(e, LivenessError::InvalidConfig(m) if m.contains("bad")));
        let e: LivenessError = livecheck::Error::BadSampleRate {
            rate: 1,
            min: 8000,
            max: 48000,
        }
        .into();
        assert!(matches!(e, LivenessError::InvalidAudio(_)));
    }
}

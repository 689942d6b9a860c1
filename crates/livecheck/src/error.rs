//! The one error type of the core: every bad input maps to a variant with a clear message.

use std::path::PathBuf;

/// Everything that can go wrong in livecheck. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Width or height is zero.
    #[error("frame has zero size: {width}x{height}")]
    EmptyFrame {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// 4:2:0 formats need even width and height.
    #[error("{format:?} needs even width and height, got {width}x{height}")]
    OddDimensions {
        /// The pixel format.
        format: crate::PixelFormat,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The row stride is shorter than one row of pixels.
    #[error("row stride {stride} is smaller than the {min} bytes one row of {format:?} needs")]
    StrideTooSmall {
        /// The pixel format.
        format: crate::PixelFormat,
        /// The stride given.
        stride: usize,
        /// The smallest valid stride.
        min: usize,
    },
    /// The buffer is shorter than width, height and stride require.
    #[error("frame buffer has {actual} bytes but {format:?} {width}x{height} with stride {stride} needs {expected}")]
    BufferTooSmall {
        /// The pixel format.
        format: crate::PixelFormat,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Row stride in bytes.
        stride: usize,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Rotation is not one of 0, 90, 180, 270.
    #[error("rotation must be 0, 90, 180 or 270 degrees, got {0}")]
    BadRotation(u32),
    /// Frame dimensions beyond what any camera delivers (guards against garbage sizes).
    #[error("frame size {width}x{height} exceeds the {max}x{max} limit")]
    FrameTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Largest side accepted.
        max: u32,
    },
    /// A model file could not be read.
    #[error("cannot read model {path}: {source} (run `cargo xtask models` to provision models)")]
    ModelMissing {
        /// The file that was looked for.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A model could not be parsed or does not have the expected inputs/outputs.
    #[error("model {name} is unusable: {reason}")]
    BadModel {
        /// Which model (detector, mesh, iris, vad).
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A model the requested check needs was not in the [`crate::ModelSet`].
    #[error("the {name} model is not loaded: put it in the models directory (the digits challenge needs the VAD and the digit model)")]
    ModelNotLoaded {
        /// File name of the missing model.
        name: &'static str,
    },
    /// Running a model failed.
    #[error("inference failed in {name}: {reason}")]
    Inference {
        /// Which model.
        name: &'static str,
        /// The runtime's message.
        reason: String,
    },
    /// A frame or audio timestamp did not increase.
    #[error("timestamps must increase: got {got} ms after {previous} ms")]
    TimestampNotIncreasing {
        /// The previous timestamp.
        previous: i64,
        /// The offending timestamp.
        got: i64,
    },
    /// A frame or audio timestamp lies outside ±[`MAX_TIMESTAMP_MS`].
    #[error("timestamp {got} ms is outside ±{max} ms")]
    TimestampOutOfRange {
        /// The offending timestamp.
        got: i64,
        /// The largest magnitude accepted.
        max: i64,
    },
    /// The caller's frame or audio source failed (decoder error, truncated file).
    #[error("reading the recording failed: {0}")]
    Source(String),
    /// Encoding the best frame as JPEG failed.
    #[error("encoding the best frame failed: {0}")]
    Encode(String),
    /// The reference photo of a 1:1 match holds no face the models can find.
    #[error("no face found in the photo (it needs one frontal face, eyes and mouth visible)")]
    NoFaceInPhoto,
    /// The reference photo's bytes are not an image livecheck can decode.
    #[error("not a readable image (JPEG, PNG or PNM): {0}")]
    BadImage(String),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Signed evidence that does not verify (wrong key, scheme or nonce, altered payload).
    #[error("evidence rejected: {0}")]
    BadEvidence(String),
    /// The bytes are not a readable WAV file (bad header, truncated data, unreadable file).
    #[error("not a readable WAV file: {0}")]
    InvalidWav(String),
    /// The WAV file is well formed but uses an encoding livecheck does not decode.
    #[error("unsupported WAV encoding: {0} (use 8/16/24/32-bit integer or 32-bit float PCM)")]
    UnsupportedWav(String),
    /// An audio sample rate of zero or beyond the supported range.
    #[error("audio sample rate {rate} Hz is outside the supported {min}..={max} Hz")]
    BadSampleRate {
        /// The rate given.
        rate: u32,
        /// Lowest rate accepted.
        min: u32,
        /// Highest rate accepted.
        max: u32,
    },
    /// Audio pushed to one stream changed its sample rate.
    #[error("audio sample rate changed mid-stream from {previous} Hz to {got} Hz")]
    SampleRateChanged {
        /// The stream's rate so far.
        previous: u32,
        /// The offending rate.
        got: u32,
    },
    /// Audio longer than livecheck accepts (guards against garbage lengths).
    #[error("audio of {seconds:.1} s exceeds the {max_seconds} s limit")]
    AudioTooLong {
        /// Length of the offending audio, seconds.
        seconds: f64,
        /// Longest audio accepted, seconds.
        max_seconds: u32,
    },
}

/// What kind of problem an [`Error`] is, as the bindings report it (a uniffi error variant, a
/// JavaScript error's `code`): one classification for every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The frame buffer does not match its size, stride, format or rotation.
    InvalidFrame,
    /// The audio does not match its description (rate, length, WAV encoding).
    InvalidAudio,
    /// A frame or audio timestamp did not increase.
    TimestampNotIncreasing,
    /// A frame or audio timestamp is beyond ±[`MAX_TIMESTAMP_MS`].
    TimestampOutOfRange,
    /// A session option is out of range.
    InvalidConfig,
    /// The reference photo cannot be decoded or holds no face.
    InvalidPhoto,
    /// A model is missing, unusable or not loaded.
    Model,
    /// Running a model or encoding the best frame failed.
    Processing,
    /// Anything else (rejected evidence, a failing frame source).
    Other,
}

impl ErrorClass {
    /// Stable snake_case code (`invalid_frame`, `timestamp_not_increasing`, …).
    pub fn code(self) -> &'static str {
        match self {
            ErrorClass::InvalidFrame => "invalid_frame",
            ErrorClass::InvalidAudio => "invalid_audio",
            ErrorClass::TimestampNotIncreasing => "timestamp_not_increasing",
            ErrorClass::TimestampOutOfRange => "timestamp_out_of_range",
            ErrorClass::InvalidConfig => "invalid_config",
            ErrorClass::InvalidPhoto => "invalid_photo",
            ErrorClass::Model => "model",
            ErrorClass::Processing => "processing",
            ErrorClass::Other => "other",
        }
    }
}

impl Error {
    /// The class of this error, for hosts that react per kind rather than per variant.
    pub fn class(&self) -> ErrorClass {
        use Error as E;
        match self {
            E::EmptyFrame { .. }
            | E::OddDimensions { .. }
            | E::StrideTooSmall { .. }
            | E::BufferTooSmall { .. }
            | E::BadRotation(_)
            | E::FrameTooLarge { .. } => ErrorClass::InvalidFrame,
            E::InvalidWav(_)
            | E::UnsupportedWav(_)
            | E::BadSampleRate { .. }
            | E::SampleRateChanged { .. }
            | E::AudioTooLong { .. } => ErrorClass::InvalidAudio,
            E::TimestampNotIncreasing { .. } => ErrorClass::TimestampNotIncreasing,
            E::TimestampOutOfRange { .. } => ErrorClass::TimestampOutOfRange,
            E::InvalidConfig(_) => ErrorClass::InvalidConfig,
            E::NoFaceInPhoto | E::BadImage(_) => ErrorClass::InvalidPhoto,
            E::ModelMissing { .. } | E::BadModel { .. } | E::ModelNotLoaded { .. } => {
                ErrorClass::Model
            }
            E::Inference { .. } | E::Encode(_) => ErrorClass::Processing,
            E::Source(_) | E::BadEvidence(_) => ErrorClass::Other,
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Largest timestamp magnitude accepted, ms (2⁵³: exact as a double in every host language,
/// ~285,000 years; any difference or sum the session forms stays far inside `i64`).
pub const MAX_TIMESTAMP_MS: i64 = 1 << 53;

/// Checks that a caller's timestamp lies within ±[`MAX_TIMESTAMP_MS`].
pub fn check_timestamp(t_ms: i64) -> Result<()> {
    if t_ms.unsigned_abs() > MAX_TIMESTAMP_MS as u64 {
        return Err(Error::TimestampOutOfRange {
            got: t_ms,
            max: MAX_TIMESTAMP_MS,
        });
    }
    Ok(())
}

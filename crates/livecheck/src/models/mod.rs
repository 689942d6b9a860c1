//! Model files: where they come from ([`ModelSet`]) and how they run: the face models through
//! livecheck's own runtime ([`Net`]), the speech models through tract ([`Model`], feature
//! `speech`).
//!
//! Each model is loaded once, its input shape fixed, checked against what livecheck expects
//! and planned. Hosts that ship models as app assets pass bytes instead of a directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod net;
#[cfg(feature = "speech")]
mod speech;

pub use net::Net;
#[cfg(feature = "speech")]
pub use speech::Model;

/// File names of the models inside a models directory (as produced by `cargo xtask models`).
pub mod files {
    /// BlazeFace short-range face detector.
    pub const DETECTOR: &str = "face_detection_short_range.onnx";
    /// 468-point face mesh.
    pub const MESH: &str = "face_landmark.onnx";
    /// Iris and eyelid contour model.
    pub const IRIS: &str = "iris_landmark.onnx";
    /// Silero voice activity detector (16 kHz, stateful).
    pub const VAD: &str = "silero_vad_16k.onnx";
    /// The project's spoken-digit CTC head (committed, trained by `models/whisper_digits/run.sh`).
    pub const DIGITS: &str = "digits.onnx";
    /// Whisper base's encoder on a 6 s window (built by `cargo xtask models`).
    pub const WHISPER_ENCODER: &str = "whisper_encoder_base_6s.onnx";
    /// Whisper base's decoder cut to the digit verifier's tokens (built by `cargo xtask models`).
    pub const WHISPER_DECODER: &str = "whisper_decoder_base_digits.onnx";
    /// MobileFaceNet face embedding, batch 1 (built by `cargo xtask models`).
    pub const EMBEDDER: &str = "mobilefacenet.onnx";
}

/// The raw bytes of every model livecheck runs.
#[derive(Clone)]
pub struct ModelSet {
    /// BlazeFace short-range ONNX bytes.
    pub detector: Vec<u8>,
    /// Face mesh ONNX bytes.
    pub mesh: Vec<u8>,
    /// Iris/eyelid ONNX bytes.
    pub iris: Vec<u8>,
    /// Silero VAD ONNX bytes (optional: only the audio checks need it).
    pub vad: Option<Vec<u8>>,
    /// The digit recogniser's three models (optional: only the digits challenge needs them).
    pub digits: Option<crate::audio::DigitModelBytes>,
    /// Face-embedding ONNX bytes (optional: continuity by identity and the 1:1 match need it).
    pub embedder: Option<Vec<u8>>,
}

impl std::fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSet")
            .field("detector_bytes", &self.detector.len())
            .field("mesh_bytes", &self.mesh.len())
            .field("iris_bytes", &self.iris.len())
            .field("vad_bytes", &self.vad.as_ref().map(Vec::len))
            .field("digits", &self.digits)
            .field("embedder_bytes", &self.embedder.as_ref().map(Vec::len))
            .finish()
    }
}

impl ModelSet {
    /// Each model present: file name ([`files`]) → SHA-256 of its bytes, lowercase hex.
    pub fn sha256(&self) -> std::collections::BTreeMap<String, String> {
        use sha2::{Digest as _, Sha256};
        let mut named: Vec<(&str, &[u8])> = vec![
            (files::DETECTOR, &self.detector),
            (files::MESH, &self.mesh),
            (files::IRIS, &self.iris),
        ];
        if let Some(vad) = &self.vad {
            named.push((files::VAD, vad));
        }
        if let Some(e) = &self.embedder {
            named.push((files::EMBEDDER, e));
        }
        if let Some(d) = &self.digits {
            named.push((files::WHISPER_ENCODER, &d.encoder));
            named.push((files::DIGITS, &d.head));
            named.push((files::WHISPER_DECODER, &d.decoder));
        }
        named
            .into_iter()
            .map(|(name, bytes)| {
                (
                    name.to_string(),
                    crate::evidence::hex(&Sha256::digest(bytes)),
                )
            })
            .collect()
    }

    /// Reads every model from `dir` (file names in [`files`]); the VAD and the face embedder
    /// only if their files exist, the digit recogniser's three files only if the head
    /// (`digits.onnx`) exists. A build without the `speech` feature (the action SDK) does not
    /// read the speech files (VAD, digits pack), which it could not run; given as bytes, they
    /// make [`crate::Engine::load`] fail with [`Error::BadModel`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let optional = |name: &str| {
            let path = dir.join(name);
            if path.exists() {
                read(path).map(Some)
            } else {
                Ok(None)
            }
        };
        // What this build cannot run is not read.
        let speech = |name: &str| {
            if cfg!(feature = "speech") {
                optional(name)
            } else {
                Ok(None)
            }
        };
        Ok(ModelSet {
            detector: read(dir.join(files::DETECTOR))?,
            mesh: read(dir.join(files::MESH))?,
            iris: read(dir.join(files::IRIS))?,
            vad: speech(files::VAD)?,
            digits: match speech(files::DIGITS)? {
                Some(head) => Some(crate::audio::DigitModelBytes {
                    encoder: read(dir.join(files::WHISPER_ENCODER))?,
                    head,
                    decoder: read(dir.join(files::WHISPER_DECODER))?,
                }),
                None => None,
            },
            embedder: optional(files::EMBEDDER)?,
        })
    }
}

/// Hands the heap pages freed since the last call back to the operating system. Parsing and
/// optimising the models allocates and frees several times their size; glibc keeps those pages
/// mapped (measured with the digits pack: 377 MB resident after loading, 220 MB after this;
/// benches/README.md, Memory), where Android's and Apple's allocators return large blocks
/// themselves. Does nothing on other platforms.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: glibc's malloc_trim takes no pointers, is thread safe, and only returns
        // free pages of the heap to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Without the `speech` feature: the speech models cannot be loaded ([`Model::load`] answers
/// [`Error::BadModel`] saying so), so a digits pack is refused while the action checks run.
#[cfg(not(feature = "speech"))]
#[derive(Debug, Clone)]
pub struct Model {
    name: &'static str,
}

#[cfg(not(feature = "speech"))]
impl Model {
    /// Refuses: this build has no speech runtime.
    pub fn load(
        name: &'static str,
        _bytes: &[u8],
        _input_shapes: &[&[usize]],
        _output_lens: &[usize],
    ) -> Result<Self> {
        Err(Error::BadModel {
            name,
            reason: "this build of livecheck has no speech runtime (cargo feature `speech`)".into(),
        })
    }

    /// Refuses: this build has no speech runtime.
    pub fn load_with_table(
        name: &'static str,
        bytes: &[u8],
        input_shapes: &[&[usize]],
        output_lens: &[usize],
        _table: &str,
    ) -> Result<(Self, Vec<i8>)> {
        Self::load(name, bytes, input_shapes, output_lens).map(|m| (m, Vec::new()))
    }

    /// Never reached: no `Model` can be loaded in this build.
    pub fn constant_output(&self, _i: usize) -> Option<&[f32]> {
        None
    }

    /// Never reached: no `Model` can be loaded in this build.
    pub fn run(&self, _inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        Err(Error::Inference {
            name: self.name,
            reason: "this build of livecheck has no speech runtime (cargo feature `speech`)".into(),
        })
    }
}

fn read(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|source| Error::ModelMissing { path, source })
}

#[cfg(all(test, feature = "speech"))]
pub(crate) mod tests {
    use super::*;

    /// Little-endian f32 values, four bytes each (a trailing partial value is ignored).
    fn le_f32s(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The provisioned models directory; `None` with a skip notice (a failure under `CI=true`).
    pub(crate) fn models_dir() -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
        if dir.join(files::IRIS).exists() {
            return Some(dir);
        }
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "models missing at {} (run `cargo xtask models`): required when CI=true",
            dir.display()
        );
        eprintln!(
            "SKIPPED: models missing at {} (run `cargo xtask models`)",
            dir.display()
        );
        None
    }

    /// livecheck's runtime gives every face model's outputs within float rounding of tract's
    /// on the reference inputs (the embedder on the mesh's input's first 112x112 crop).
    #[test]
    fn net_matches_tract() {
        let Some(dir) = models_dir() else {
            return;
        };
        type Case<'a> = (&'a str, &'a str, &'a [usize], &'a [usize]);
        let cases: [Case; 4] = [
            (
                files::DETECTOR,
                "face_detection_short_range.input.f32",
                &[1, 3, 128, 128],
                &[896 * 16, 896],
            ),
            (
                files::MESH,
                "face_landmark.input_1.f32",
                &[1, 3, 192, 192],
                &[1404, 1],
            ),
            (
                files::IRIS,
                "iris_landmark.input_1.f32",
                &[1, 3, 64, 64],
                &[213, 15],
            ),
            (
                files::EMBEDDER,
                "face_landmark.input_1.f32",
                &[1, 3, 112, 112],
                &[192],
            ),
        ];
        for (file, input, shape, outs) in cases {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let mut x = le_f32s(&std::fs::read(dir.join("reference").join(input)).unwrap());
            x.truncate(shape.iter().product());
            let want = crate::models::Model::load("test", &bytes, &[shape], outs)
                .unwrap()
                .run(&[&x])
                .unwrap();
            let net = Net::load("test", &bytes, &[shape], outs).unwrap();
            let t = std::time::Instant::now();
            let got = net.run(&[&x]).unwrap();
            let got2 = net.run(&[&x]).unwrap();
            eprintln!("{file}: {:?}", t.elapsed() / 2);
            assert_eq!(got, got2, "{file}: a second run differs");
            for (w, g) in want.iter().zip(&got) {
                let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let worst = w
                    .iter()
                    .zip(g)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                eprintln!("{file}: worst {worst} scale {scale}");
                assert!(worst <= 1e-4 * scale, "{file}: {worst} off (scale {scale})");
            }
        }
    }
}

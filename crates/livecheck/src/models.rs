//! Model files: where they come from ([`ModelSet`]) and how they become runnable tract plans.
//!
//! Each model is loaded once, its input shape fixed, checked against what livecheck expects,
//! optimised and made runnable. Hosts that ship models as app assets pass bytes instead of a
//! directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::{Error, Result};

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
    /// (`digits.onnx`) exists.
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
        Ok(ModelSet {
            detector: read(dir.join(files::DETECTOR))?,
            mesh: read(dir.join(files::MESH))?,
            iris: read(dir.join(files::IRIS))?,
            vad: optional(files::VAD)?,
            digits: match optional(files::DIGITS)? {
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

/// Parses ONNX bytes into the protobuf model (`name` appears in errors).
fn parse(name: &'static str, bytes: &[u8]) -> Result<tract_onnx::pb::ModelProto> {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| Error::BadModel {
            name,
            reason: format!("{e:#}"),
        })
}

fn read(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|source| Error::ModelMissing { path, source })
}

/// An optimised, runnable ONNX model with fixed input shapes: the low-level handle the vision
/// and audio stages are built on, public for tests and tools that compare runtimes.
#[derive(Debug, Clone)]
pub struct Model {
    name: &'static str,
    plan: Arc<TypedRunnableModel>,
    input_shapes: Vec<Vec<usize>>,
    /// Each output's values when the graph makes it a constant (independent of the inputs).
    constants: Vec<Option<Vec<f32>>>,
}

impl Model {
    /// Parses ONNX `bytes`, fixes each input to the given f32 shape, checks that the outputs
    /// have `output_lens` elements each, and optimises. `name` appears in errors.
    pub fn load(
        name: &'static str,
        bytes: &[u8],
        input_shapes: &[&[usize]],
        output_lens: &[usize],
    ) -> Result<Self> {
        let proto = parse(name, bytes)?;
        let bad = |e: TractError| Error::BadModel {
            name,
            reason: format!("{e:#}"),
        };
        let mut model = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .map_err(bad)?;
        if model.inputs.len() != input_shapes.len() {
            return Err(Error::BadModel {
                name,
                reason: format!(
                    "expected {} inputs, found {}",
                    input_shapes.len(),
                    model.inputs.len()
                ),
            });
        }
        for (i, shape) in input_shapes.iter().enumerate() {
            model = model
                .with_input_fact(i, f32::fact(*shape).into())
                .map_err(bad)?;
        }
        let model = model.into_optimized().map_err(bad)?;
        if model.outputs.len() != output_lens.len() {
            return Err(Error::BadModel {
                name,
                reason: format!(
                    "expected {} outputs, found {}",
                    output_lens.len(),
                    model.outputs.len()
                ),
            });
        }
        for (i, (&outlet, &want)) in model.outputs.iter().zip(output_lens).enumerate() {
            let fact = model.outlet_fact(outlet).map_err(bad)?;
            let len = fact
                .shape
                .as_concrete()
                .map(|s| s.iter().product::<usize>());
            if len != Some(want) {
                return Err(Error::BadModel {
                    name,
                    reason: format!(
                        "output {i} has shape {:?}, expected {want} values",
                        fact.shape
                    ),
                });
            }
        }
        let mut constants = Vec::with_capacity(model.outputs.len());
        for &outlet in &model.outputs {
            let fact = model.outlet_fact(outlet).map_err(bad)?;
            constants.push(fact.konst.as_ref().and_then(|t| {
                let t = t.cast_to::<f32>().ok()?;
                Some(
                    t.to_plain_array_view::<f32>()
                        .ok()?
                        .iter()
                        .copied()
                        .collect(),
                )
            }));
        }
        let plan = model.into_runnable().map_err(bad)?;
        Ok(Model {
            name,
            plan,
            input_shapes: input_shapes.iter().map(|s| s.to_vec()).collect(),
            constants,
        })
    }

    /// Output `i`'s values when the graph computes it from constants alone (read at load, no
    /// run needed); `None` for outputs that depend on the inputs.
    pub fn constant_output(&self, i: usize) -> Option<&[f32]> {
        self.constants.get(i)?.as_deref()
    }

    /// Runs the model on one row-major buffer per input and returns each output flattened, in
    /// the model's output order.
    pub fn run(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        let fail = |e: TractError| Error::Inference {
            name: self.name,
            reason: format!("{e:#}"),
        };
        if inputs.len() != self.input_shapes.len() {
            return Err(Error::Inference {
                name: self.name,
                reason: format!(
                    "{} inputs given, model takes {}",
                    inputs.len(),
                    self.input_shapes.len()
                ),
            });
        }
        let tensors = inputs
            .iter()
            .zip(&self.input_shapes)
            .map(|(data, shape)| Ok(Tensor::from_shape(shape, data).map_err(fail)?.into_tvalue()))
            .collect::<Result<TVec<_>>>()?;
        let outputs = self.plan.run(tensors).map_err(fail)?;
        outputs
            .iter()
            .map(|o| {
                Ok(o.to_plain_array_view::<f32>()
                    .map_err(fail)?
                    .iter()
                    .copied()
                    .collect())
            })
            .collect()
    }
}

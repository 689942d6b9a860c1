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
}

impl std::fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSet")
            .field("detector_bytes", &self.detector.len())
            .field("mesh_bytes", &self.mesh.len())
            .field("iris_bytes", &self.iris.len())
            .finish()
    }
}

impl ModelSet {
    /// Reads every model from `dir` (file names in [`files`]).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Ok(ModelSet {
            detector: read(dir.join(files::DETECTOR))?,
            mesh: read(dir.join(files::MESH))?,
            iris: read(dir.join(files::IRIS))?,
        })
    }
}

fn read(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|source| Error::ModelMissing { path, source })
}

/// An optimised, runnable model with one fixed input shape.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    name: &'static str,
    plan: Arc<TypedRunnableModel>,
    input_shape: Vec<usize>,
}

impl Model {
    /// Parses ONNX `bytes`, fixes input 0 to `input_shape` (f32), checks that the outputs have
    /// `output_lens` elements each, and optimises.
    pub(crate) fn load(
        name: &'static str,
        bytes: &[u8],
        input_shape: &[usize],
        output_lens: &[usize],
    ) -> Result<Self> {
        let bad = |e: TractError| Error::BadModel {
            name,
            reason: format!("{e:#}"),
        };
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(bad)?
            .with_input_fact(0, f32::fact(input_shape).into())
            .map_err(bad)?
            .into_optimized()
            .map_err(bad)?;
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
        let plan = model.into_runnable().map_err(bad)?;
        Ok(Model {
            name,
            plan,
            input_shape: input_shape.to_vec(),
        })
    }

    /// Runs the model on `input` (row-major, `input_shape`) and returns each output flattened.
    pub(crate) fn run(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        let fail = |e: TractError| Error::Inference {
            name: self.name,
            reason: format!("{e:#}"),
        };
        let tensor = Tensor::from_shape(&self.input_shape, input).map_err(fail)?;
        let outputs = self.plan.run(tvec!(tensor.into_tvalue())).map_err(fail)?;
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

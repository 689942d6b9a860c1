//! Model files: where they come from ([`ModelSet`]) and how they become runnable tract plans.
//!
//! Each model is loaded once, its input shape fixed, checked against what livecheck expects,
//! optimised and made runnable. Hosts that ship models as app assets pass bytes instead of a
//! directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{bail, ensure, Op};

use crate::error::{Error, Result};

mod depthwise;
mod max_pool;
mod prelu;

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

/// Parses ONNX bytes into the protobuf model (`name` appears in errors).
fn parse(name: &'static str, bytes: &[u8]) -> Result<tract_onnx::pb::ModelProto> {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| Error::BadModel {
            name,
            reason: format!("{e:#}"),
        })
}

/// tract's ONNX front end with livecheck's `PRelu` (`prelu.rs`).
fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    prelu::register(&mut onnx);
    onnx
}

/// Replaces every node whose op is a `T` that `own` maps to one of livecheck's ops, wired on the
/// node's first input (the others are stored weights the op holds); returns how many it replaced.
fn replace_ops<T: Op, N: TypedOp>(
    model: &mut TypedModel,
    own: impl Fn(&TypedModel, &TypedNode, &T) -> Option<N>,
) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(op) = node.op_as::<T>().and_then(|op| own(model, node, op)) else {
            continue;
        };
        let patch = TypedModelPatch::replace_single_op(model, node, &node.inputs[..1], op)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

/// `[N, C, H / 2, W / 2]` for an `[N, C, H, W]` input with even `H` and `W`: the output of the
/// ops here that halve the planes (`max_pool.rs`, `depthwise.rs`); `op` names it in errors.
fn halved(op: &str, shape: &[usize]) -> TractResult<[usize; 4]> {
    let &[n, c, h, w] = shape else {
        bail!("{op} expects a rank-4 input, got {shape:?}");
    };
    ensure!(
        h % 2 == 0 && w % 2 == 0,
        "{op} expects even H and W, got {shape:?}"
    );
    Ok([n, c, h / 2, w / 2])
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
        Self::from_proto(name, &proto, input_shapes, output_lens)
    }

    fn from_proto(
        name: &'static str,
        proto: &tract_onnx::pb::ModelProto,
        input_shapes: &[&[usize]],
        output_lens: &[usize],
    ) -> Result<Self> {
        let bad = |e: TractError| Error::BadModel {
            name,
            reason: format!("{e:#}"),
        };
        let mut model = onnx().model_for_proto_model(proto).map_err(bad)?;
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
        // livecheck's own ops where tract's are slow: strided depthwise convolutions before
        // tract lowers convolutions, max pools after it lowers pools.
        let mut model = model
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(bad)?;
        depthwise::replace_strided(&mut model).map_err(bad)?;
        let mut model = model.into_optimized().map_err(bad)?;
        max_pool::replace_pools(&mut model).map_err(bad)?;
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

    /// The optimised graph as it runs (livecheck's PReLU and max pools in place), for tools
    /// that profile it (`examples/profile_ops.rs`).
    pub fn graph(&self) -> &TypedModel {
        self.plan.model()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Little-endian f32 values, four bytes each (a trailing partial value is ignored).
    fn le_f32s(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The provisioned models directory; `None` with a skip notice (a failure under `CI=true`).
    fn models_dir() -> Option<PathBuf> {
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

    /// livecheck's `PRelu` gives the iris and mesh models' outputs as tract's own does, on their
    /// reference inputs, and replaces every one of tract's (the iris model has slopes on both
    /// sides of 1).
    #[test]
    fn prelu_is_exact() {
        let Some(dir) = models_dir() else {
            return;
        };
        let cases: [(&str, &str, &[usize]); 2] = [
            (files::IRIS, "iris_landmark.input_1.f32", &[1, 3, 64, 64]),
            (files::MESH, "face_landmark.input_1.f32", &[1, 3, 192, 192]),
        ];
        for (file, input, shape) in cases {
            let (proto, x) = reference_case(&dir, file, input);
            let typed = |onnx| with_input(onnx, &proto, shape).into_optimized().unwrap();
            let (tracts, ours) = (typed(tract_onnx::onnx()), typed(onnx()));
            let count =
                |m: &TypedModel, op: &str| m.nodes().iter().filter(|n| n.op().name() == op).count();
            assert!(count(&ours, "ChannelPrelu") > 0, "{file}");
            assert_eq!(count(&ours, "Iff"), 0, "{file}: tract's PRelu left");
            assert!(count(&tracts, "Iff") > 0, "{file}");
            // Equal as numbers (a zero may change sign).
            assert_eq!(run(tracts, shape, &x), run(ours, shape, &x), "{file}");
        }
    }

    /// A provisioned model's protobuf and its stored reference input (`models/reference/`).
    fn reference_case(
        dir: &Path,
        file: &str,
        input: &str,
    ) -> (tract_onnx::pb::ModelProto, Vec<f32>) {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let x = le_f32s(&std::fs::read(dir.join("reference").join(input)).unwrap());
        (parse("test", &bytes).unwrap(), x)
    }

    /// `proto` parsed by `onnx` with its input fixed to `shape`.
    fn with_input(
        onnx: tract_onnx::Onnx,
        proto: &tract_onnx::pb::ModelProto,
        shape: &[usize],
    ) -> InferenceModel {
        onnx.model_for_proto_model(proto)
            .unwrap()
            .with_input_fact(0, f32::fact(shape).into())
            .unwrap()
    }

    /// Runs a typed model on one input.
    fn run(model: TypedModel, shape: &[usize], x: &[f32]) -> Vec<Vec<f32>> {
        let input = tract_ndarray::ArrayD::from_shape_vec(shape.to_vec(), x.to_vec()).unwrap();
        model
            .into_runnable()
            .unwrap()
            .run(tvec!(Tensor::from(input).into()))
            .unwrap()
            .iter()
            .map(|t| {
                t.to_plain_array_view::<f32>()
                    .unwrap()
                    .iter()
                    .copied()
                    .collect()
            })
            .collect()
    }

    /// The mesh's and the detector's strided depthwise convolutions are all replaced by
    /// `depthwise.rs`'s, and the outputs stay within float rounding of tract's own, on the
    /// reference inputs.
    #[test]
    fn strided_depthwise_replacement_matches_tract() {
        let Some(dir) = models_dir() else {
            return;
        };
        let cases: [(&str, &str, &[usize], usize); 2] = [
            (
                files::MESH,
                "face_landmark.input_1.f32",
                &[1, 3, 192, 192],
                6,
            ),
            (
                files::DETECTOR,
                "face_detection_short_range.input.f32",
                &[1, 3, 128, 128],
                3,
            ),
        ];
        for (file, input, shape, convs) in cases {
            let (proto, x) = reference_case(&dir, file, input);
            let decluttered = with_input(onnx(), &proto, shape)
                .into_typed()
                .unwrap()
                .into_decluttered()
                .unwrap();
            let mut ours = decluttered.clone();
            assert_eq!(
                depthwise::replace_strided(&mut ours).unwrap(),
                convs,
                "{file}"
            );
            let want = run(decluttered.into_optimized().unwrap(), shape, &x);
            let got = run(ours.into_optimized().unwrap(), shape, &x);
            for (w, g) in want.iter().zip(&got) {
                let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let worst = w
                    .iter()
                    .zip(g)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(worst <= 1e-5 * scale, "{file}: {worst} off (scale {scale})");
            }
        }
    }

    /// Every max pool of the detector, mesh and iris models is replaced by the 2x2 pool of
    /// `max_pool.rs`, and the outputs are the same as with tract's pools, on the reference inputs.
    #[test]
    fn max_pool_replacement_is_exact() {
        let Some(dir) = models_dir() else {
            return;
        };
        let cases: [(&str, &str, &[usize]); 3] = [
            (files::IRIS, "iris_landmark.input_1.f32", &[1, 3, 64, 64]),
            (files::MESH, "face_landmark.input_1.f32", &[1, 3, 192, 192]),
            (
                files::DETECTOR,
                "face_detection_short_range.input.f32",
                &[1, 3, 128, 128],
            ),
        ];
        for (file, input, shape) in cases {
            let (proto, x) = reference_case(&dir, file, input);
            let tract_pools = with_input(onnx(), &proto, shape).into_optimized().unwrap();
            let mut ours = tract_pools.clone();
            assert!(max_pool::replace_pools(&mut ours).unwrap() > 0, "{file}");
            let left = ours
                .nodes()
                .iter()
                .filter(|n| n.op().name() == "OptMaxPool")
                .count();
            assert_eq!(left, 0, "{file}: tract pools left");
            assert_eq!(run(tract_pools, shape, &x), run(ours, shape, &x), "{file}");
        }
    }

    /// The provisioned face models and Whisper's encoder and decoder store their weights as
    /// float16 (`weights = "f16"` in models.toml) and tract folds the widening Casts into float32
    /// constants at load: no float16 tensor is left at run time.
    #[test]
    fn f16_weights_fold_away_at_load() {
        let Some(dir) = models_dir() else {
            return;
        };
        type Case<'a> = (&'a str, &'a [&'a [usize]], &'a [usize]);
        let cases: [Case; 6] = [
            (files::DETECTOR, &[&[1, 3, 128, 128]], &[896 * 16, 896]),
            (files::MESH, &[&[1, 3, 192, 192]], &[1404, 1]),
            (files::IRIS, &[&[1, 3, 64, 64]], &[213, 15]),
            (files::EMBEDDER, &[&[1, 3, 112, 112]], &[192]),
            (files::WHISPER_ENCODER, &[&[1, 80, 600]], &[300 * 512]),
            (
                files::WHISPER_DECODER,
                &[&[3, 24], &[1, 300, 512]],
                &[3 * 24 * 65, 65],
            ),
        ];
        for (file, shapes, outs) in cases {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let proto = parse("test", &bytes).unwrap();
            let graph = proto.graph.as_ref().unwrap();
            const FLOAT16: i32 = 10;
            let halves = graph
                .initializer
                .iter()
                .filter(|t| t.data_type == FLOAT16)
                .count();
            assert!(halves > 0, "{file}: no float16 weights");
            let model = Model::load("test", &bytes, shapes, outs).unwrap();
            let halves_at_run_time: Vec<String> = model
                .plan
                .model()
                .nodes()
                .iter()
                .filter(|n| {
                    n.outputs
                        .iter()
                        .any(|o| o.fact.datum_type == f16::datum_type())
                })
                .map(|n| n.name.clone())
                .collect();
            assert!(
                halves_at_run_time.is_empty(),
                "{file}: float16 tensors left at run time: {halves_at_run_time:?}"
            );
        }
    }
}

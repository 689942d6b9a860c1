//! The speech models (Silero VAD, Whisper's encoder and decoder, the digit head) run through
//! tract: recurrent and attention graphs that livecheck's own runtime ([`super::Net`]) does not
//! cover. Built with the `speech` feature (default); without it the digits pack cannot load.

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::{Error, Result};

/// Parses ONNX bytes into the protobuf model (`name` appears in errors).
fn parse(name: &'static str, bytes: &[u8]) -> Result<tract_onnx::pb::ModelProto> {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| Error::BadModel {
            name,
            reason: format!("{e:#}"),
        })
}

/// An optimised, runnable ONNX model in tract with fixed input shapes: the speech models (VAD,
/// Whisper, the digit head); public for tests and tools that compare runtimes.
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

    /// [`Self::load`], and the values of the int8 initializer `table`, which no node uses: data
    /// the caller reads itself (Whisper's whole-vocabulary embedding, kept as int8 instead of
    /// being widened to float32 with the graph's constants).
    pub fn load_with_table(
        name: &'static str,
        bytes: &[u8],
        input_shapes: &[&[usize]],
        output_lens: &[usize],
        table: &str,
    ) -> Result<(Self, Vec<i8>)> {
        let mut proto = parse(name, bytes)?;
        let bad = |reason: String| Error::BadModel { name, reason };
        let graph = proto
            .graph
            .as_mut()
            .ok_or_else(|| bad("the file has no graph".into()))?;
        let at = graph
            .initializer
            .iter()
            .position(|t| t.name == table)
            .ok_or_else(|| bad(format!("no initializer `{table}`")))?;
        let t = graph.initializer.swap_remove(at);
        if t.data_type != tract_onnx::pb::tensor_proto::DataType::Int8 as i32 {
            return Err(bad(format!("initializer `{table}` is not int8")));
        }
        let values: Vec<i8> = if t.raw_data.is_empty() {
            t.int32_data.iter().map(|&v| v as i8).collect()
        } else {
            t.raw_data.iter().map(|&b| b as i8).collect()
        };
        let len = t.dims.iter().try_fold(1usize, |n, &d| {
            usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
        });
        if len != Some(values.len()) {
            return Err(bad(format!(
                "initializer `{table}` holds {} values for dimensions {:?}",
                values.len(),
                t.dims
            )));
        }
        let model = Self::from_proto(name, &proto, input_shapes, output_lens)?;
        Ok((model, values))
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
        let mut model = tract_onnx::onnx()
            .model_for_proto_model(proto)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::files;
    use crate::models::tests::models_dir;

    /// Whisper's encoder and decoder store their weights as float16 (`weights = "f16"` in
    /// models.toml) and tract folds the widening Casts into float32 constants at load: no
    /// float16 tensor is left at run time.
    #[test]
    fn f16_weights_fold_away_at_load() {
        let Some(dir) = models_dir() else {
            return;
        };
        type Case<'a> = (&'a str, &'a [&'a [usize]], &'a [usize]);
        let cases: [Case; 2] = [
            (files::WHISPER_ENCODER, &[&[1, 80, 600]], &[300 * 512]),
            (
                files::WHISPER_DECODER,
                &[&[3, 24, 512], &[1, 300, 512]],
                &[3 * 24 * 512, 65, 65 * 512, 51865, 482],
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

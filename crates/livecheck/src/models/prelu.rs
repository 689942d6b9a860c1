//! ONNX `PRelu` with stored per-channel slopes as one pass over the tensor.
//!
//! tract 0.23 parses `PRelu(x, slope)` into a comparison, a product and a select: three passes,
//! and its comparison is not vectorised (28 % of the iris model's time). Rewritten as two
//! element-wise ops it still cost the mesh and iris models 0.2 and 0.5 ms more than a ReLU
//! (benches/README.md). [`register`] makes the parser wire [`ChannelPrelu`] instead whenever the
//! slope is a stored float32 tensor with one value per channel (axis 1) or a single value:
//! `x < 0 ? x * slope : x` in place, the same values tract's `PRelu` gives. Any other `PRelu`
//! is wired as tract wires it.

use std::sync::Arc;

use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::math::mul;
use tract_onnx::tract_hir::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_hir::tract_core::ops::logic::{comp_gt, Iff};

/// Makes `onnx` parse `PRelu` nodes with [`ChannelPrelu`] where it applies.
pub(super) fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register
        .insert("PRelu", |_, _| Ok((expand(Prelu), vec![])));
}

/// The ONNX `PRelu` node, as parsed.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Prelu;

impl Expansion for Prelu {
    fn name(&self) -> StaticName {
        "Prelu".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        if let Some(op) = ChannelPrelu::for_inputs(model, inputs)? {
            return model.wire_node(name, op, &inputs[..1]);
        }
        // tract-onnx 0.23.9's own wiring (`ops/nn/mod.rs`).
        let a = inputs[0];
        let mut b = inputs[1];
        let rank = model.outlet_fact(a)?.rank();
        while model.outlet_fact(b)?.rank() < rank {
            b = model.wire_node(
                format!("{}.add-axis-{}", name, model.outlet_fact(b)?.rank()),
                AxisOp::Add(0),
                &[b],
            )?[0];
        }
        let zero = tensor0(0.0)
            .cast_to_dt(model.outlet_fact(a)?.datum_type)?
            .into_owned()
            .broadcast_into_rank(rank)?;
        let ab = model.wire_node(format!("{name}.mul"), mul(), &[a, b])?[0];
        let zero = model.add_const(name.to_string() + ".zero", zero)?;
        let test = model.wire_node(
            name.to_string() + ".test",
            TypedBinOp(comp_gt(), None),
            &[zero, a],
        )?;
        model.wire_node(name.to_string() + ".iff", Iff, &[test[0], ab, a])
    }
}

/// `x < 0 ? x * slopes[c] : x` over float32 `[N, C, ...]`, `c` the index on axis 1 (one slope
/// for every channel when there is a single one).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ChannelPrelu {
    slopes: Arc<[f32]>,
}

// Ops compare by value; slopes loaded from a model are never NaN-sensitive here.
impl Eq for ChannelPrelu {}

impl ChannelPrelu {
    /// The op for `PRelu(inputs[0], inputs[1])` when `x` is float32 with a known channel count
    /// and the slope a stored float32 tensor that varies along axis 1 at most.
    fn for_inputs(model: &TypedModel, inputs: &[OutletId]) -> TractResult<Option<Self>> {
        let (x, slope) = (model.outlet_fact(inputs[0])?, model.outlet_fact(inputs[1])?);
        let Some(slope) = slope.konst.as_ref() else {
            return Ok(None);
        };
        let rank = x.rank();
        if x.datum_type != f32::datum_type()
            || slope.datum_type() != f32::datum_type()
            || rank < 2
            || slope.rank() > rank
        {
            return Ok(None);
        }
        let Ok(channels) = x.shape[1].to_usize() else {
            return Ok(None);
        };
        // The slope's shape, right-aligned to x's rank.
        let aligned: Vec<usize> = std::iter::repeat_n(1, rank - slope.rank())
            .chain(slope.shape().iter().copied())
            .collect();
        let per_channel = aligned[1] == channels || aligned[1] == 1;
        if aligned[0] != 1 || !per_channel || aligned[2..].iter().any(|&d| d != 1) {
            return Ok(None);
        }
        let values: Arc<[f32]> = slope
            .to_plain_array_view::<f32>()?
            .iter()
            .copied()
            .collect();
        Ok(Some(ChannelPrelu { slopes: values }))
    }
}

impl Op for ChannelPrelu {
    fn name(&self) -> StaticName {
        "ChannelPrelu".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelPrelu {
    fn eval(&self, _: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        let plane: usize = x.shape()[2..].iter().product();
        {
            let mut view = x.try_as_plain_ram_mut()?;
            let values = view.as_slice_mut::<f32>()?;
            if plane > 0 {
                apply(values, plane, &self.slopes);
            }
        }
        Ok(tvec!(x.into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for ChannelPrelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// Applies the slopes in place: `values` is a run of channel planes of `plane` values each,
/// channel `i % slopes.len()` for the `i`-th plane.
fn apply(values: &mut [f32], plane: usize, slopes: &[f32]) {
    for (i, channel) in values.chunks_exact_mut(plane).enumerate() {
        let s = slopes[i % slopes.len()];
        for v in channel {
            *v = if *v < 0.0 { *v * s } else { *v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_negative_values_of_each_channel() {
        // Two channels of three values, then a second image.
        let mut v = [-2., 0., 3., -4., -0., 1., -1., 2., -3., 5., -6., 0.];
        apply(&mut v, 3, &[0.5, 0.25]);
        assert_eq!(v, [-1., 0., 3., -1., -0., 1., -0.5, 2., -1.5, 5., -1.5, 0.]);
        let mut one = [-2., 4.];
        apply(&mut one, 1, &[0.1]);
        assert_eq!(one, [-0.2, 4.]);
    }
}

//! A 2x2, stride-2 max pool for NCHW float32 planes, swapped in at load for tract's `OptMaxPool`.
//!
//! The detector, mesh and iris models downsample with `MaxPool(kernel 2x2, stride 2)` over even
//! planes (no padding: "valid", or "same", which pads nothing there); tract
//! 0.23 runs that case through a scalar loop with bounds checks on every tap, which cost 22 % of
//! the mesh's time (0.94 of 4.25 ms, benches/README.md). Here each output row is the maximum of
//! two input rows (a vectorised pass) followed by the maximum of adjacent pairs. `f32::max` is
//! exact, so the outputs are the same values tract's pool gives.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, EvalOp, Op, StaticName, TractErrorContext};
use tract_onnx::tract_core::ops::cnn::{OptMaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};

use super::{halved, replace_ops};

/// `MaxPool(2x2, stride 2, no padding)` over `[N, C, H, W]` float32 with even `H` and `W`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MaxPool2x2;

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    fn eval(&self, _: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let out_shape = halved("MaxPool2x2", input.shape())?;
        let plain = input.try_as_plain_ram()?;
        let src = plain.as_slice::<f32>()?;
        let mut output = Tensor::zero::<f32>(&out_shape)?;
        {
            let mut out = output.try_as_plain_ram_mut()?;
            pool(src, out.as_slice_mut::<f32>()?, input.shape()[3]);
        }
        Ok(tvec!(output.into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0]
            .shape
            .as_concrete()
            .context("MaxPool2x2 needs a concrete input shape")?;
        Ok(tvec!(f32::fact(halved("MaxPool2x2", shape)?)))
    }

    as_op!();
}

/// Pools every pair of rows of width `w` in `src` into one row of `w / 2` in `out`: the
/// maximum of the two rows first (a vectorised pass), then of adjacent pairs, in blocks that
/// fit a stack buffer.
fn pool(src: &[f32], out: &mut [f32], w: usize) {
    const BLOCK: usize = 64;
    let mut rows_max = [0f32; BLOCK];
    for (pair, out_row) in src.chunks_exact(2 * w).zip(out.chunks_exact_mut(w / 2)) {
        let (top, bottom) = pair.split_at(w);
        let blocks = top
            .chunks(BLOCK)
            .zip(bottom.chunks(BLOCK))
            .zip(out_row.chunks_mut(BLOCK / 2));
        for ((top, bottom), out) in blocks {
            for ((m, &a), &b) in rows_max.iter_mut().zip(top).zip(bottom) {
                *m = a.max(b);
            }
            for (o, p) in out.iter_mut().zip(rows_max.chunks_exact(2)) {
                *o = p[0].max(p[1]);
            }
        }
    }
}

/// Whether `op` is a pool this module can replace for an input of `shape`.
fn replaceable(op: &OptMaxPool, shape: Option<&[usize]>) -> bool {
    let spec = &op.pool_spec;
    let no_padding = match &spec.padding {
        // "Same" pads a 2x2, stride-2 window over an even plane by nothing.
        PaddingSpec::Valid | PaddingSpec::SameUpper | PaddingSpec::SameLower => true,
        PaddingSpec::Explicit(before, after) | PaddingSpec::ExplicitOnnxPool(before, after, _) => {
            before.iter().chain(after).all(|&p| p == 0)
        }
    };
    op.with_index_outputs.is_none()
        && spec.data_format == DataFormat::NCHW
        && spec.kernel_shape[..] == [2, 2]
        && spec.strides()[..] == [2, 2]
        && spec.dilations()[..] == [1, 1]
        && no_padding
        && matches!(shape, Some(&[_, _, h, w]) if h % 2 == 0 && w % 2 == 0)
}

/// Replaces every float32 `OptMaxPool` that is a 2x2, stride-2, unpadded NCHW pool over even
/// planes by [`MaxPool2x2`]; returns how many it replaced.
pub(super) fn replace_pools(model: &mut TypedModel) -> TractResult<usize> {
    replace_ops(model, |model, node, op: &OptMaxPool| {
        let fact = model.outlet_fact(node.inputs[0]).ok()?;
        let fits =
            fact.datum_type == f32::datum_type() && replaceable(op, fact.shape.as_concrete());
        fits.then_some(MaxPool2x2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_pairs_of_rows_and_columns() {
        // Two 2x4 planes.
        let src = [
            1., 5., 2., 0., //
            3., 4., 9., -1., //
            -2., -3., 0., 0., //
            -4., -1., 0., 7., //
        ];
        let mut out = [0f32; 4];
        pool(&src, &mut out, 4);
        assert_eq!(out, [5., 9., -1., 7.]);
    }
}

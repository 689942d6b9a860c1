//! A 3x3, stride-2 depthwise convolution for NCHW float32 planes, swapped in at load for
//! tract's.
//!
//! The detector and the mesh halve their resolution with depthwise 3x3 convolutions of stride
//! 2, padded by one row and column after (TensorFlow's "same"). tract 0.23 runs these through
//! its generic zone walk: in the mesh the six of them took 0.69 of the 1.29 ms its 20 depthwise
//! convolutions cost, the 16x96x96 one 4x the time of a stride-1 one with 4x its outputs
//! (benches/README.md). Here each input row is split once into its even and odd columns, so
//! every output row is nine multiply-adds over contiguous slices, which the compiler
//! vectorises. The sum runs in another order than tract's (bias first, then the taps row by
//! row), so outputs differ from tract's by float rounding only.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{
    ensure, EvalContext, EvalOp, Op, StaticName, TractErrorContext,
};
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};

use super::{halved, replace_ops};

/// Depthwise 3x3 convolution, stride 2, zero padding of one row below and one column to the
/// right, over `[N, C, H, W]` float32 with even `H` and `W`; `kernel` holds `C` 3x3 kernels
/// row-major, `bias` `C` values.
#[derive(Debug, Clone, PartialEq)]
struct DepthwiseS2 {
    kernel: Arc<[f32]>,
    bias: Arc<[f32]>,
}

// Ops compare by value; weights loaded from a model are never NaN.
impl Eq for DepthwiseS2 {}

impl Op for DepthwiseS2 {
    fn name(&self) -> StaticName {
        "DepthwiseS2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseS2 {
    fn eval(&self, _: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let out_shape = halved("DepthwiseS2", input.shape())?;
        let [_, c, oh, ow] = out_shape;
        let (h, w) = (2 * oh, 2 * ow);
        ensure!(
            c == self.bias.len(),
            "DepthwiseS2 expects {} channels, got {c}",
            self.bias.len()
        );
        let plain = input.try_as_plain_ram()?;
        let src = plain.as_slice::<f32>()?;
        let mut output = Tensor::zero::<f32>(&out_shape)?;
        {
            let mut out = output.try_as_plain_ram_mut()?;
            let out = out.as_slice_mut::<f32>()?;
            let mut split = Split::new(h, w);
            let planes = src.chunks_exact(h * w).zip(out.chunks_exact_mut(h * w / 4));
            for (i, (plane, out_plane)) in planes.enumerate() {
                let ch = i % c;
                let k: &[f32; 9] = self.kernel[9 * ch..9 * ch + 9].try_into()?;
                split.fill(plane);
                split.convolve(k, self.bias[ch], out_plane);
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for DepthwiseS2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0]
            .shape
            .as_concrete()
            .context("DepthwiseS2 needs a concrete input shape")?;
        Ok(tvec!(f32::fact(halved("DepthwiseS2", shape)?)))
    }

    as_op!();
}

/// One channel plane split into its even and odd columns, each row padded with a zero column
/// (the right padding) and a zero row below (the bottom padding).
struct Split {
    h: usize,
    /// Columns per half row: `w / 2 + 1`.
    half: usize,
    even: Vec<f32>,
    odd: Vec<f32>,
}

impl Split {
    fn new(h: usize, w: usize) -> Self {
        let half = w / 2 + 1;
        Split {
            h,
            half,
            even: vec![0.0; (h + 1) * half],
            odd: vec![0.0; (h + 1) * half],
        }
    }

    /// Splits `plane` (`h` rows of `2 * (half - 1)` values); the padding stays zero.
    fn fill(&mut self, plane: &[f32]) {
        let w = 2 * (self.half - 1);
        let rows = plane
            .chunks_exact(w)
            .zip(self.even.chunks_exact_mut(self.half))
            .zip(self.odd.chunks_exact_mut(self.half));
        for ((row, even), odd) in rows {
            for ((pair, e), o) in row.chunks_exact(2).zip(even.iter_mut()).zip(odd.iter_mut()) {
                *e = pair[0];
                *o = pair[1];
            }
        }
    }

    /// Output row `y` reads input rows `2y`, `2y + 1`, `2y + 2`; output column `x` reads
    /// even column `x`, odd column `x` and even column `x + 1` of each.
    fn convolve(&self, k: &[f32; 9], bias: f32, out: &mut [f32]) {
        let ow = self.half - 1;
        for (y, out_row) in out.chunks_exact_mut(ow).enumerate().take(self.h / 2) {
            out_row.fill(bias);
            for ky in 0..3 {
                let at = (2 * y + ky) * self.half;
                let even = &self.even[at..at + self.half];
                let odd = &self.odd[at..at + ow];
                let (k0, k1, k2) = (k[3 * ky], k[3 * ky + 1], k[3 * ky + 2]);
                for (((o, &e0), &o1), &e2) in
                    out_row.iter_mut().zip(&even[..ow]).zip(odd).zip(&even[1..])
                {
                    *o += k0 * e0 + k1 * o1 + k2 * e2;
                }
            }
        }
    }
}

/// The op for `conv` when it is a float32 depthwise 3x3 convolution of stride 2 padded by one
/// row and column after, over NCHW planes of even size, with stored kernel and bias.
fn strided_depthwise(model: &TypedModel, node: &TypedNode, conv: &Conv) -> Option<DepthwiseS2> {
    let spec = &conv.pool_spec;
    let padded_after = match &spec.padding {
        PaddingSpec::Explicit(before, after) | PaddingSpec::ExplicitOnnxPool(before, after, _) => {
            before[..] == [0, 0] && after[..] == [1, 1]
        }
        _ => false,
    };
    let x = model.outlet_fact(node.inputs[0]).ok()?;
    let &[_, c, h, w] = x.shape.as_concrete()? else {
        return None;
    };
    let plain = conv.q_params.is_none()
        && x.datum_type == f32::datum_type()
        && spec.data_format == DataFormat::NCHW
        && conv.kernel_fmt == KernelFormat::OIHW
        && conv.group == c
        && spec.output_channels == c
        && spec.kernel_shape[..] == [3, 3]
        && spec.strides()[..] == [2, 2]
        && spec.dilations()[..] == [1, 1]
        && padded_after
        && h % 2 == 0
        && w % 2 == 0
        && node.inputs.len() == 3;
    if !plain {
        return None;
    }
    let values = |i: usize, len: usize| -> Option<Arc<[f32]>> {
        let t = model.outlet_fact(node.inputs[i]).ok()?.konst.clone()?;
        let t = t.cast_to::<f32>().ok()?;
        let v: Arc<[f32]> = t
            .to_plain_array_view::<f32>()
            .ok()?
            .iter()
            .copied()
            .collect();
        (v.len() == len).then_some(v)
    };
    Some(DepthwiseS2 {
        kernel: values(1, 9 * c)?,
        bias: values(2, c)?,
    })
}

/// Replaces every convolution of the decluttered `model` that [`DepthwiseS2`] computes;
/// returns how many it replaced.
pub(super) fn replace_strided(model: &mut TypedModel) -> TractResult<usize> {
    replace_ops(model, strided_depthwise)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split-column convolution against the definition, on a 4x6 plane.
    #[test]
    fn matches_a_direct_strided_convolution() {
        let (h, w) = (4, 6);
        let plane: Vec<f32> = (0..h * w).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let k = [0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 1.0, 0.0, -2.0];
        let bias = 0.125;
        let mut split = Split::new(h, w);
        split.fill(&plane);
        let mut out = vec![0.0; h * w / 4];
        split.convolve(&k, bias, &mut out);
        let at = |y: usize, x: usize| {
            if y < h && x < w {
                plane[y * w + x]
            } else {
                0.0
            }
        };
        for oy in 0..h / 2 {
            for ox in 0..w / 2 {
                let mut want = bias;
                for ky in 0..3 {
                    for kx in 0..3 {
                        want += k[3 * ky + kx] * at(2 * oy + ky, 2 * ox + kx);
                    }
                }
                let got = out[oy * (w / 2) + ox];
                assert!((got - want).abs() < 1e-5, "({oy}, {ox}): {got} vs {want}");
            }
        }
    }
}

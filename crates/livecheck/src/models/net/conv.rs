//! 2-D convolutions over NCHW float32: pointwise (one matrix product), depthwise (direct
//! loops, with fast paths for 3x3 at stride 1 and 2) and the general case (im2col, then one
//! matrix product). Matrix products go through ndarray's `general_mat_mul`, i.e. the
//! `matrixmultiply` kernels chosen at run time (AVX-512 / AVX+FMA on x86-64, NEON on arm64,
//! SIMD128 on wasm).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use super::ops::Activation;

/// A convolution with its weights (`[c_out, c_in / group, kh, kw]`), bias and the activation
/// fused after it.
#[derive(Debug, Clone)]
pub(super) struct Conv {
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub activation: Activation,
}

impl Conv {
    /// The output shape for input `[n, c, h, w]`, or why the input does not fit.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let &[n, c, h, w] = input else {
            return Err(format!("Conv on a {}-D input", input.len()));
        };
        if c != self.c_in {
            return Err(format!("Conv expects {} channels, got {c}", self.c_in));
        }
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [t, l, b, r] = self.pads;
        if h + t + b < kh || w + l + r < kw {
            return Err(format!("Conv {kh}x{kw} on a {h}x{w} plane"));
        }
        Ok(vec![
            n,
            self.c_out,
            (h + t + b - kh) / sh + 1,
            (w + l + r - kw) / sw + 1,
        ])
    }

    /// Scratch floats [`Conv::run`] needs for input `[n, c, h, w]`.
    pub fn scratch_len(&self, input: &[usize], output: &[usize]) -> usize {
        let (h, w) = (input[2], input[3]);
        match self.kind() {
            Kind::Pointwise => 0,
            Kind::Depthwise3x3 => (h + 2) * (w + 2),
            Kind::Depthwise3x3Stride2 => 2 * (h + 1) * (w / 2 + 1),
            Kind::Depthwise => 0,
            Kind::Im2col => self.c_in * self.kernel[0] * self.kernel[1] * output[2] * output[3],
        }
    }

    /// Whether a run is one matrix product (pointwise or im2col) rather than a direct loop.
    pub fn is_matrix_product(&self) -> bool {
        matches!(self.kind(), Kind::Pointwise | Kind::Im2col)
    }

    fn kind(&self) -> Kind {
        let depthwise = self.group > 1 && self.group == self.c_in && self.group == self.c_out;
        match (depthwise, self.kernel, self.stride, self.pads) {
            (false, [1, 1], [1, 1], [0, 0, 0, 0]) => Kind::Pointwise,
            (false, ..) => Kind::Im2col,
            (true, [3, 3], [1, 1], [1, 1, 1, 1]) => Kind::Depthwise3x3,
            (true, [3, 3], [2, 2], [0, 0, 1, 1]) => Kind::Depthwise3x3Stride2,
            (true, ..) => Kind::Depthwise,
        }
    }

    /// Convolves `x` of shape `input` into `out` of shape `output` (from
    /// [`Conv::output_shape`]); `scratch` holds at least [`Conv::scratch_len`] floats.
    pub fn run(
        &self,
        x: &[f32],
        input: &[usize],
        out: &mut [f32],
        output: &[usize],
        scratch: &mut [f32],
    ) {
        let (in_plane, out_plane) = (input[2] * input[3], output[2] * output[3]);
        let (in_len, out_len) = (self.c_in * in_plane, self.c_out * out_plane);
        let kind = self.kind();
        for (x, out) in x.chunks_exact(in_len).zip(out.chunks_exact_mut(out_len)) {
            for (plane, &b) in out.chunks_exact_mut(out_plane).zip(&self.bias) {
                plane.fill(b);
            }
            match kind {
                Kind::Pointwise => gemm(&self.weights, x, out, self.c_out, self.c_in, in_plane),
                Kind::Im2col => {
                    let [kh, kw] = self.kernel;
                    let k = self.c_in * kh * kw;
                    let cols = &mut scratch[..k * out_plane];
                    self.im2col(x, input, output, cols);
                    gemm(&self.weights, cols, out, self.c_out, k, out_plane);
                }
                Kind::Depthwise3x3 => {
                    depthwise_3x3(x, &self.weights, out, input[2], input[3], scratch)
                }
                Kind::Depthwise3x3Stride2 => {
                    depthwise_3x3_s2(x, &self.weights, out, input, output, scratch)
                }
                Kind::Depthwise => self.depthwise(x, input, out, output),
            }
            for (plane, c) in out.chunks_exact_mut(out_plane).zip(0..) {
                self.activation.apply(plane, c);
            }
        }
    }

    /// Unfolds the receptive fields: row `(ci, ky, kx)` of `cols` holds, for every output
    /// position, the input value under that tap (0 in the padding).
    fn im2col(&self, x: &[f32], input: &[usize], output: &[usize], cols: &mut [f32]) {
        let (h, w) = (input[2], input[3]);
        let (oh, ow) = (output[2], output[3]);
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let (top, left) = (self.pads[0], self.pads[1]);
        let mut rows = cols.chunks_exact_mut(oh * ow);
        for plane in x.chunks_exact(h * w) {
            for ky in 0..kh {
                for kx in 0..kw {
                    let Some(row) = rows.next() else { return };
                    for (oy, out_row) in row.chunks_exact_mut(ow).enumerate() {
                        let iy = (oy * sh + ky).checked_sub(top).filter(|&y| y < h);
                        let Some(iy) = iy else {
                            out_row.fill(0.0);
                            continue;
                        };
                        let in_row = &plane[iy * w..(iy + 1) * w];
                        for (ox, o) in out_row.iter_mut().enumerate() {
                            *o = (ox * sw + kx)
                                .checked_sub(left)
                                .and_then(|ix| in_row.get(ix))
                                .copied()
                                .unwrap_or(0.0);
                        }
                    }
                }
            }
        }
    }

    /// Any depthwise convolution, tap by tap with bounds (the models' 7x7 global one).
    fn depthwise(&self, x: &[f32], input: &[usize], out: &mut [f32], output: &[usize]) {
        let (h, w) = (input[2], input[3]);
        let (oh, ow) = (output[2], output[3]);
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let (top, left) = (self.pads[0], self.pads[1]);
        let planes = x
            .chunks_exact(h * w)
            .zip(out.chunks_exact_mut(oh * ow))
            .zip(self.weights.chunks_exact(kh * kw));
        for ((plane, out_plane), k) in planes {
            for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
                for ky in 0..kh {
                    let Some(iy) = (oy * sh + ky).checked_sub(top).filter(|&y| y < h) else {
                        continue;
                    };
                    let in_row = &plane[iy * w..(iy + 1) * w];
                    for kx in 0..kw {
                        let tap = k[ky * kw + kx];
                        for (ox, o) in out_row.iter_mut().enumerate() {
                            let ix = (ox * sw + kx).checked_sub(left);
                            if let Some(&v) = ix.and_then(|ix| in_row.get(ix)) {
                                *o += tap * v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Which loop runs a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pointwise,
    Im2col,
    Depthwise3x3,
    Depthwise3x3Stride2,
    Depthwise,
}

/// `c[m×n] += a[m×k] · b[k×n]`, row-major. A single column (`n == 1`: the mesh's last layers,
/// one output position) is a matrix-vector product: dot products over the weights' rows, read
/// once, where `matrixmultiply` would first copy (pack) all of them.
fn gemm(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    if n == 1 {
        for (c, row) in c[..m].iter_mut().zip(a.chunks_exact(k)) {
            *c += dot(row, &b[..k]);
        }
        return;
    }
    let (Ok(a), Ok(b), Ok(mut c)) = (
        ArrayView2::from_shape((m, k), &a[..m * k]),
        ArrayView2::from_shape((k, n), &b[..k * n]),
        ArrayViewMut2::from_shape((m, n), &mut c[..m * n]),
    ) else {
        unreachable!("slices cut to their shapes");
    };
    general_mat_mul(1.0, &a, &b, 1.0, &mut c);
}

/// `Σ a[i]·b[i]` in eight lanes (so that it vectorises), then the lanes and the tail.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// 3x3 depthwise, stride 1, one pixel of zero padding on every side: each plane is copied into
/// a zero-bordered one, then each output row adds three taps of three padded rows (vectorised).
fn depthwise_3x3(x: &[f32], k: &[f32], out: &mut [f32], h: usize, w: usize, padded: &mut [f32]) {
    let pw = w + 2;
    let padded = &mut padded[..(h + 2) * pw];
    padded.fill(0.0);
    for ((plane, out_plane), k) in x
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(h * w))
        .zip(k.chunks_exact(9))
    {
        for (row, padded_row) in plane.chunks_exact(w).zip(padded[pw..].chunks_exact_mut(pw)) {
            padded_row[1..=w].copy_from_slice(row);
        }
        for (y, out_row) in out_plane.chunks_exact_mut(w).enumerate() {
            for ky in 0..3 {
                let row = &padded[(y + ky) * pw..(y + ky + 1) * pw];
                let (k0, k1, k2) = (k[3 * ky], k[3 * ky + 1], k[3 * ky + 2]);
                for (((o, &a), &b), &c) in out_row.iter_mut().zip(row).zip(&row[1..]).zip(&row[2..])
                {
                    *o += k0 * a + k1 * b + k2 * c;
                }
            }
        }
    }
}

/// 3x3 depthwise, stride 2, padded by one row and column after (TensorFlow's "same" on an even
/// plane): each plane is split into its even and odd columns (zero-extended by one row and
/// column) so that every output row is three contiguous passes.
fn depthwise_3x3_s2(
    x: &[f32],
    k: &[f32],
    out: &mut [f32],
    input: &[usize],
    output: &[usize],
    scratch: &mut [f32],
) {
    let (h, w, oh, ow) = (input[2], input[3], output[2], output[3]);
    let half = w / 2 + 1;
    let (even, odd) = scratch[..2 * (h + 1) * half].split_at_mut((h + 1) * half);
    even.fill(0.0);
    odd.fill(0.0);
    for ((plane, out_plane), k) in x
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(oh * ow))
        .zip(k.chunks_exact(9))
    {
        for ((row, e), o) in plane
            .chunks_exact(w)
            .zip(even.chunks_exact_mut(half))
            .zip(odd.chunks_exact_mut(half))
        {
            for (i, &v) in row.iter().enumerate() {
                if i % 2 == 0 {
                    e[i / 2] = v;
                } else {
                    o[i / 2] = v;
                }
            }
        }
        for (y, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            for ky in 0..3 {
                let at = (2 * y + ky) * half;
                let (e, o) = (&even[at..at + half], &odd[at..at + half]);
                let (k0, k1, k2) = (k[3 * ky], k[3 * ky + 1], k[3 * ky + 2]);
                for (((out, &e0), &o1), &e2) in out_row.iter_mut().zip(e).zip(o).zip(&e[1..]) {
                    *out += k0 * e0 + k1 * o1 + k2 * e2;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(c: usize, group: usize, kernel: usize, stride: usize, pads: [usize; 4]) -> Conv {
        let per = c / group;
        let weights = (0..c * per * kernel * kernel)
            .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
            .collect();
        Conv {
            c_in: c,
            c_out: c,
            group,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            pads,
            weights,
            bias: (0..c).map(|i| i as f32 * 0.1).collect(),
            activation: Activation::None,
        }
    }

    /// The general depthwise loop, for comparing the fast paths against.
    fn reference(conv: &Conv, x: &[f32], input: &[usize]) -> Vec<f32> {
        let output = conv.output_shape(input).unwrap();
        let mut out = vec![0.0; output.iter().product()];
        for (plane, &b) in out.chunks_exact_mut(output[2] * output[3]).zip(&conv.bias) {
            plane.fill(b);
        }
        conv.depthwise(x, input, &mut out, &output);
        out
    }

    #[test]
    fn depthwise_fast_paths_match_the_general_loop() {
        for (stride, pads, h, w) in [
            (1, [1, 1, 1, 1], 6, 5),
            (2, [0, 0, 1, 1], 8, 6),
            (2, [0, 0, 1, 1], 7, 5),
        ] {
            let c = 3;
            let dw = conv(c, c, 3, stride, pads);
            let input = [1, c, h, w];
            let x: Vec<f32> = (0..c * h * w)
                .map(|i| ((i * 31) % 17) as f32 - 8.0)
                .collect();
            let output = dw.output_shape(&input).unwrap();
            let mut out = vec![f32::NAN; output.iter().product()];
            let mut scratch = vec![f32::NAN; dw.scratch_len(&input, &output)];
            dw.run(&x, &input, &mut out, &output, &mut scratch);
            let want = reference(&dw, &x, &input);
            for (a, b) in out.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "stride {stride} {h}x{w}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn im2col_conv_matches_a_direct_sum() {
        let (c_in, c_out, h, w) = (2, 3, 6, 6);
        let mut cv = conv(c_in, 1, 3, 2, [0, 0, 1, 1]);
        cv.c_out = c_out;
        cv.weights = (0..c_out * c_in * 9)
            .map(|i| (i % 5) as f32 - 2.0)
            .collect();
        cv.bias = vec![0.5, -1.0, 2.0];
        let input = [1, c_in, h, w];
        let x: Vec<f32> = (0..c_in * h * w).map(|i| (i % 7) as f32).collect();
        let output = cv.output_shape(&input).unwrap();
        assert_eq!(output, [1, 3, 3, 3]);
        let mut out = vec![0.0; 27];
        let mut scratch = vec![0.0; cv.scratch_len(&input, &output)];
        cv.run(&x, &input, &mut out, &output, &mut scratch);
        for co in 0..c_out {
            for oy in 0..3 {
                for ox in 0..3 {
                    let mut sum = cv.bias[co];
                    for ci in 0..c_in {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) = (oy * 2 + ky, ox * 2 + kx);
                                if iy < h && ix < w {
                                    sum += cv.weights[((co * c_in + ci) * 3 + ky) * 3 + kx]
                                        * x[(ci * h + iy) * w + ix];
                                }
                            }
                        }
                    }
                    assert!((out[(co * 3 + oy) * 3 + ox] - sum).abs() < 1e-4);
                }
            }
        }
    }
}

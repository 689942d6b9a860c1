//! The operators of the face models other than convolution, over row-major float32 tensors
//! with static shapes.

use super::conv::Conv;

/// An activation applied per channel of a plane.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Activation {
    None,
    Relu,
    /// `x` where `x ≥ 0`, `slope[c] · x` below.
    Prelu(Vec<f32>),
}

impl Activation {
    /// Applies the activation in place to `plane`, which belongs to channel `c`.
    pub fn apply(&self, plane: &mut [f32], c: usize) {
        match self {
            Activation::None => {}
            Activation::Relu => plane.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Prelu(slopes) => {
                let s = slopes[c];
                plane
                    .iter_mut()
                    .for_each(|v| *v = if *v < 0.0 { *v * s } else { *v });
            }
        }
    }

    /// Applies the activation to `x` of shape `[n, c, h, w]` in place.
    pub fn apply_all(&self, x: &mut [f32], shape: &[usize]) {
        if *self == Activation::None {
            return;
        }
        let channels = shape.get(1).copied().unwrap_or(1).max(1);
        let plane = shape.get(2..).map_or(1, |s| s.iter().product::<usize>());
        if plane == 0 {
            return;
        }
        for (p, i) in x.chunks_exact_mut(plane).zip(0..) {
            self.apply(p, i % channels);
        }
    }
}

/// An elementwise operation of two tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
}

impl Arith {
    fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
        }
    }
}

/// One operator of the plan.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Conv(Box<Conv>),
    /// An activation alone (Relu, or PRelu with per-channel slopes).
    Activation(Activation),
    /// Elementwise with NumPy broadcasting, then an activation.
    Binary(Arith, Activation),
    Abs,
    /// Zero-padding of a 4-D tensor: before and after each axis.
    Pad {
        before: [usize; 4],
        after: [usize; 4],
        value: f32,
    },
    MaxPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        /// Top, left, bottom, right.
        pads: [usize; 4],
    },
    Transpose(Vec<usize>),
    /// Same values, another shape (Reshape, Flatten, a Cast to float32).
    Copy,
    Concat(usize),
}

impl Op {
    /// The output shape for inputs of `shapes`, or why they do not fit.
    pub fn output_shape(&self, shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
        let first = shapes.first().ok_or("operator without inputs")?;
        match self {
            Op::Conv(conv) => conv.output_shape(first),
            Op::Activation(Activation::Prelu(slopes)) => {
                if first.get(1) != Some(&slopes.len()) {
                    return Err(format!(
                        "PRelu with {} slopes on shape {first:?}",
                        slopes.len()
                    ));
                }
                Ok(first.to_vec())
            }
            Op::Activation(_) | Op::Abs | Op::Copy => Ok(first.to_vec()),
            Op::Binary(..) => {
                let out = broadcast(
                    first,
                    shapes.get(1).ok_or("binary operator with one input")?,
                )?;
                if out.len() > 4 {
                    return Err(format!("broadcast to {out:?} (up to 4-D)"));
                }
                Ok(out)
            }
            Op::Pad { before, after, .. } => {
                if first.len() != 4 {
                    return Err(format!("Pad on a {}-D tensor", first.len()));
                }
                Ok((0..4).map(|i| before[i] + first[i] + after[i]).collect())
            }
            Op::MaxPool {
                kernel,
                stride,
                pads,
            } => {
                let &[n, c, h, w] = *first else {
                    return Err(format!("MaxPool on a {}-D tensor", first.len()));
                };
                let (ph, pw) = (h + pads[0] + pads[2], w + pads[1] + pads[3]);
                if ph < kernel[0] || pw < kernel[1] {
                    return Err(format!("MaxPool {kernel:?} on a {h}x{w} plane"));
                }
                Ok(vec![
                    n,
                    c,
                    (ph - kernel[0]) / stride[0] + 1,
                    (pw - kernel[1]) / stride[1] + 1,
                ])
            }
            Op::Transpose(perm) => {
                let mut seen = vec![false; first.len()];
                for &p in perm {
                    match seen.get_mut(p) {
                        Some(s) if !*s => *s = true,
                        _ => return Err(format!("Transpose {perm:?} of shape {first:?}")),
                    }
                }
                if perm.len() != first.len() {
                    return Err(format!("Transpose {perm:?} of shape {first:?}"));
                }
                Ok(perm.iter().map(|&p| first[p]).collect())
            }
            Op::Concat(axis) => {
                let mut out = first.to_vec();
                if *axis >= out.len() {
                    return Err(format!("Concat on axis {axis} of shape {first:?}"));
                }
                for s in &shapes[1..] {
                    let fits = s.len() == first.len()
                        && s.iter()
                            .zip(*first)
                            .enumerate()
                            .all(|(i, (a, b))| i == *axis || a == b);
                    if !fits {
                        return Err(format!(
                            "Concat of shapes {first:?} and {s:?} on axis {axis}"
                        ));
                    }
                    out[*axis] += s[*axis];
                }
                Ok(out)
            }
        }
    }

    /// Scratch floats [`Op::run`] needs.
    pub fn scratch_len(&self, shapes: &[&[usize]], output: &[usize]) -> usize {
        match self {
            Op::Conv(conv) => conv.scratch_len(shapes[0], output),
            _ => 0,
        }
    }

    /// Computes the output of shape `output` from `inputs` of `shapes`.
    pub fn run(
        &self,
        inputs: &[&[f32]],
        shapes: &[&[usize]],
        out: &mut [f32],
        output: &[usize],
        scratch: &mut [f32],
    ) {
        let x = inputs[0];
        match self {
            Op::Conv(conv) => conv.run(x, shapes[0], out, output, scratch),
            Op::Activation(act) => {
                out.copy_from_slice(x);
                act.apply_all(out, output);
            }
            Op::Binary(arith, act) if shapes[0] == shapes[1] && output.len() >= 2 => {
                // Plane by plane, the activation while the plane is in cache.
                let plane: usize = output[2..].iter().product();
                let channels = output[1];
                if plane == 0 || channels == 0 {
                    return;
                }
                let planes = out
                    .chunks_exact_mut(plane)
                    .zip(x.chunks_exact(plane))
                    .zip(inputs[1].chunks_exact(plane));
                for (i, ((o, a), b)) in planes.enumerate() {
                    for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                        *o = arith.apply(a, b);
                    }
                    act.apply(o, i % channels);
                }
            }
            Op::Binary(arith, act) => {
                binary(*arith, x, shapes[0], inputs[1], shapes[1], out, output);
                act.apply_all(out, output);
            }
            Op::Abs => out.iter_mut().zip(x).for_each(|(o, v)| *o = v.abs()),
            Op::Copy => out.copy_from_slice(x),
            Op::Pad { before, value, .. } => pad(x, shapes[0], before, *value, out, output),
            Op::MaxPool {
                kernel,
                stride,
                pads,
            } => max_pool(x, shapes[0], *kernel, *stride, *pads, out, output),
            Op::Transpose(perm) => transpose(x, shapes[0], perm, out),
            Op::Concat(axis) => {
                let inner: usize = output[axis + 1..].iter().product();
                let outer: usize = output[..*axis].iter().product();
                let mut at = 0;
                for o in 0..outer {
                    for (input, shape) in inputs.iter().zip(shapes) {
                        let len = shape[*axis] * inner;
                        out[at..at + len].copy_from_slice(&input[o * len..(o + 1) * len]);
                        at += len;
                    }
                }
            }
        }
    }
}

/// NumPy broadcasting of two shapes.
fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// Row-major strides of `shape` seen as `out`'s rank (up to 4), 0 on broadcast axes.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> [usize; 4] {
    let mut strides = [0; 4];
    let mut stride = 1;
    for (i, &d) in shape.iter().enumerate().rev() {
        let j = i + out.len() - shape.len();
        strides[j] = if d == 1 { 0 } else { stride };
        stride *= d;
    }
    strides
}

fn binary(
    arith: Arith,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out: &mut [f32],
    output: &[usize],
) {
    if a_shape == b_shape {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = arith.apply(x, y);
        }
        return;
    }
    let (sa, sb) = (
        broadcast_strides(a_shape, output),
        broadcast_strides(b_shape, output),
    );
    let Some(&last) = output.last() else {
        out[0] = arith.apply(a[0], b[0]);
        return;
    };
    if last == 0 {
        return;
    }
    let rank = output.len();
    let (la, lb) = (sa[rank - 1], sb[rank - 1]);
    let mut index = [0usize; 4];
    for row in out.chunks_exact_mut(last) {
        let offset = |s: &[usize; 4]| (0..rank - 1).map(|i| index[i] * s[i]).sum::<usize>();
        let (oa, ob) = (offset(&sa), offset(&sb));
        for (i, o) in row.iter_mut().enumerate() {
            *o = arith.apply(a[oa + i * la], b[ob + i * lb]);
        }
        for axis in (0..rank - 1).rev() {
            index[axis] += 1;
            if index[axis] < output[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}

fn pad(
    x: &[f32],
    shape: &[usize],
    before: &[usize; 4],
    value: f32,
    out: &mut [f32],
    output: &[usize],
) {
    out.fill(value);
    let (h, w) = (shape[2], shape[3]);
    let (oc, oh, ow) = (output[1], output[2], output[3]);
    for n in 0..shape[0] {
        for c in 0..shape[1] {
            for y in 0..h {
                let src = ((n * shape[1] + c) * h + y) * w;
                let dst =
                    (((n + before[0]) * oc + c + before[1]) * oh + y + before[2]) * ow + before[3];
                out[dst..dst + w].copy_from_slice(&x[src..src + w]);
            }
        }
    }
}

fn max_pool(
    x: &[f32],
    shape: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    out: &mut [f32],
    output: &[usize],
) {
    let (h, w, oh, ow) = (shape[2], shape[3], output[2], output[3]);
    let unpadded_2x2 = kernel == [2, 2] && stride == [2, 2] && h == 2 * oh && w == 2 * ow;
    for (plane, out_plane) in x.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        if unpadded_2x2 {
            pool_2x2(plane, out_plane, w);
            continue;
        }
        for (oy, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
            for (ox, o) in out_row.iter_mut().enumerate() {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..kernel[0] {
                    let Some(iy) = (oy * stride[0] + ky)
                        .checked_sub(pads[0])
                        .filter(|&y| y < h)
                    else {
                        continue;
                    };
                    for kx in 0..kernel[1] {
                        let ix = (ox * stride[1] + kx)
                            .checked_sub(pads[1])
                            .filter(|&x| x < w);
                        if let Some(ix) = ix {
                            m = m.max(plane[iy * w + ix]);
                        }
                    }
                }
                *o = m;
            }
        }
    }
}

/// Pools every pair of rows of width `w` in `src` into one row of `w / 2` in `out`: the
/// maximum of the two rows first (a vectorised pass), then of adjacent pairs, in blocks that
/// fit a stack buffer.
fn pool_2x2(src: &[f32], out: &mut [f32], w: usize) {
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

fn transpose(x: &[f32], shape: &[usize], perm: &[usize], out: &mut [f32]) {
    // Up to rank 4: pad with leading axes of 1.
    let rank = shape.len();
    let lead = 4usize.saturating_sub(rank);
    let mut dims = [1usize; 4];
    let mut strides = [0usize; 4];
    let mut in_strides = [1usize; 4];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * shape[i + 1];
    }
    for (j, &p) in perm.iter().enumerate() {
        dims[lead + j] = shape[p];
        strides[lead + j] = in_strides[p];
    }
    let mut at = 0;
    for a in 0..dims[0] {
        for b in 0..dims[1] {
            for c in 0..dims[2] {
                let base = a * strides[0] + b * strides[1] + c * strides[2];
                for d in 0..dims[3] {
                    out[at] = x[base + d * strides[3]];
                    at += 1;
                }
            }
        }
    }
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
        pool_2x2(&src, &mut out, 4);
        assert_eq!(out, [5., 9., -1., 7.]);
    }

    #[test]
    fn broadcasts_per_channel_and_transposes() {
        let op = Op::Binary(Arith::Mul, Activation::None);
        let (xs, ss) = ([1, 2, 1, 2], [1, 2, 1, 1]);
        let out_shape = op.output_shape(&[&xs, &ss]).unwrap();
        let mut out = [0.0; 4];
        op.run(
            &[&[1., 2., 3., 4.], &[10., -1.]],
            &[&xs, &ss],
            &mut out,
            &out_shape,
            &mut [],
        );
        assert_eq!(out, [10., 20., -3., -4.]);
        let t = Op::Transpose(vec![0, 2, 3, 1]);
        let shape = [1, 2, 1, 3];
        let out_shape = t.output_shape(&[&shape]).unwrap();
        assert_eq!(out_shape, [1, 1, 3, 2]);
        let mut out = [0.0; 6];
        t.run(
            &[&[1., 2., 3., 4., 5., 6.]],
            &[&shape],
            &mut out,
            &out_shape,
            &mut [],
        );
        assert_eq!(out, [1., 4., 2., 5., 3., 6.]);
        assert!(Op::Transpose(vec![0, 0, 1, 2])
            .output_shape(&[&shape])
            .is_err());
    }

    #[test]
    fn pads_channels_and_planes() {
        let op = Op::Pad {
            before: [0, 0, 1, 0],
            after: [0, 1, 0, 1],
            value: 0.0,
        };
        let shape = [1, 1, 1, 2];
        let out_shape = op.output_shape(&[&shape]).unwrap();
        assert_eq!(out_shape, [1, 2, 2, 3]);
        let mut out = [9.0; 12];
        op.run(&[&[1., 2.]], &[&shape], &mut out, &out_shape, &mut []);
        assert_eq!(out, [0., 0., 0., 1., 2., 0., 0., 0., 0., 0., 0., 0.]);
    }
}

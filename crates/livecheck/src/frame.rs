//! Camera frames as phones deliver them, and conversion of just the region a model needs.
//!
//! A [`FrameRef`] borrows the caller's bytes (no copy) together with their layout: size, row
//! stride, [`PixelFormat`], the clockwise [`Rotation`] that makes the image upright and whether
//! the upright image is mirrored. Everything downstream works in *display* coordinates: the
//! upright (rotated, then mirrored) image, with pixel `i` covering `[i, i + 1)`.
//!
//! [`FrameRef::crop_into`] samples a rotated rectangle of the display image straight into a
//! model's NCHW `f32` input tensor with bilinear interpolation. The rectangle is mapped through
//! rotation and mirroring to the raw buffer once (one affine transform), so no full-frame RGB
//! copy is ever made. YUV is converted with BT.601 full-range coefficients (Android camera and
//! iOS `420f` buffers).

use crate::error::{Error, Result};

/// Largest accepted frame side in pixels (16K); larger values are treated as garbage input.
pub const MAX_SIDE: u32 = 16384;

/// Memory layout of a frame's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PixelFormat {
    /// 4 bytes per pixel: R, G, B, A.
    Rgba8,
    /// 4 bytes per pixel: B, G, R, A (iOS `kCVPixelFormatType_32BGRA`).
    Bgra8,
    /// 3 bytes per pixel: R, G, B.
    Rgb8,
    /// Y plane, then one interleaved V/U plane at half resolution (Android camera default).
    Nv21,
    /// Y plane, then one interleaved U/V plane at half resolution (iOS `420f`).
    Nv12,
    /// Y plane, then U plane, then V plane; chroma planes at half resolution and half stride.
    I420,
    /// 1 byte per pixel: luma only.
    Gray8,
}

impl PixelFormat {
    /// Every format, in declaration order.
    pub const ALL: [PixelFormat; 7] = [
        PixelFormat::Rgba8,
        PixelFormat::Bgra8,
        PixelFormat::Rgb8,
        PixelFormat::Nv21,
        PixelFormat::Nv12,
        PixelFormat::I420,
        PixelFormat::Gray8,
    ];

    /// Bytes per pixel in the first (or only) plane.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
            PixelFormat::Rgb8 => 3,
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Gray8 => 1,
        }
    }

    /// Stable lowercase name: `rgba8`, `bgra8`, `rgb8`, `nv21`, `nv12`, `i420`, `gray8`.
    pub fn code(self) -> &'static str {
        match self {
            PixelFormat::Rgba8 => "rgba8",
            PixelFormat::Bgra8 => "bgra8",
            PixelFormat::Rgb8 => "rgb8",
            PixelFormat::Nv21 => "nv21",
            PixelFormat::Nv12 => "nv12",
            PixelFormat::I420 => "i420",
            PixelFormat::Gray8 => "gray8",
        }
    }

    /// Whether the format has 4:2:0 chroma subsampling (needs even width and height).
    pub fn is_yuv420(self) -> bool {
        matches!(
            self,
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420
        )
    }
}

/// Clockwise rotation that turns the raw buffer upright (Android `rotationDegrees`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Rotation {
    /// Already upright.
    #[default]
    R0,
    /// Rotate 90 degrees clockwise.
    R90,
    /// Rotate 180 degrees.
    R180,
    /// Rotate 270 degrees clockwise.
    R270,
}

impl Rotation {
    /// Parses degrees; anything but 0, 90, 180, 270 is [`Error::BadRotation`].
    pub fn from_degrees(degrees: u32) -> Result<Self> {
        match degrees {
            0 => Ok(Rotation::R0),
            90 => Ok(Rotation::R90),
            180 => Ok(Rotation::R180),
            270 => Ok(Rotation::R270),
            other => Err(Error::BadRotation(other)),
        }
    }

    /// The rotation in degrees.
    pub fn degrees(self) -> u32 {
        match self {
            Rotation::R0 => 0,
            Rotation::R90 => 90,
            Rotation::R180 => 180,
            Rotation::R270 => 270,
        }
    }

    /// All four rotations.
    pub const ALL: [Rotation; 4] = [Rotation::R0, Rotation::R90, Rotation::R180, Rotation::R270];
}

/// A rotated rectangle in display pixels: centre, size and angle (radians, clockwise in image
/// coordinates, i.e. with y pointing down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Width along the rectangle's own x axis.
    pub width: f32,
    /// Height along the rectangle's own y axis.
    pub height: f32,
    /// Rotation of the rectangle's x axis from the image x axis, radians.
    pub angle: f32,
}

impl Roi {
    /// Maps a point given in normalised ROI coordinates (`0..1` across the rectangle) to display
    /// pixels.
    pub fn to_display(&self, u: f32, v: f32) -> (f32, f32) {
        let (s, c) = self.angle.sin_cos();
        let lx = (u - 0.5) * self.width;
        let ly = (v - 0.5) * self.height;
        (self.cx + lx * c - ly * s, self.cy + lx * s + ly * c)
    }

    /// The inverse of [`Roi::to_display`]: display pixels to normalised ROI coordinates.
    pub fn to_normalised(&self, x: f32, y: f32) -> (f32, f32) {
        let (s, c) = self.angle.sin_cos();
        let (dx, dy) = (x - self.cx, y - self.cy);
        let lx = dx * c + dy * s;
        let ly = -dx * s + dy * c;
        (lx / self.width + 0.5, ly / self.height + 0.5)
    }
}

/// What to put where a crop reaches outside the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Border {
    /// Black (all channels zero before normalisation), like a letterbox.
    Zero,
    /// Repeat the nearest edge pixel.
    Replicate,
}

/// How crop pixels (0..255) become tensor values: `value = pixel / 255 * scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Multiplier applied to `pixel / 255`.
    pub scale: f32,
    /// Added afterwards.
    pub offset: f32,
}

impl Normalize {
    /// Maps pixels to `[0, 1]`.
    pub const UNIT: Normalize = Normalize {
        scale: 1.0,
        offset: 0.0,
    };
    /// Maps pixels to `[-1, 1]`.
    pub const SIGNED: Normalize = Normalize {
        scale: 2.0,
        offset: -1.0,
    };
}

/// A borrowed camera frame: the caller's bytes plus their layout and orientation.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
    rotation: Rotation,
    mirrored: bool,
}

impl<'a> FrameRef<'a> {
    /// Feeds the frame as given (layout and bytes) to the evidence digest.
    pub(crate) fn digest_into(&self, fed: &mut crate::evidence::FeedDigest, t_ms: i64) {
        let layout = format!(
            "{}/stride={}/rotation={:?}/mirrored={}",
            self.format.code(),
            self.stride,
            self.rotation,
            self.mirrored
        );
        fed.frame(t_ms, self.width, self.height, &layout, self.data);
    }

    /// A 64-bit fingerprint of the frame's bytes and layout (not cryptographic): two frames
    /// with the same fingerprint are, in practice, byte-identical. A camera never delivers two
    /// byte-identical frames (sensor noise differs in every frame); a frozen, looped or
    /// stretched video feed does. About 0.1 ms for 640x480 RGB.
    pub fn fingerprint(&self) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(29);
        // Four independent lanes so the multiplies overlap.
        let mut lanes = [1u64, 2, 3, 4];
        let mut blocks = self.data.chunks_exact(32);
        for block in &mut blocks {
            for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
                *lane = mix(*lane, u64::from_le_bytes(word.try_into().expect("8 bytes")));
            }
        }
        let mut h = lanes.iter().fold(self.data.len() as u64, |h, &l| mix(h, l));
        for &b in blocks.remainder() {
            h = mix(h, u64::from(b));
        }
        let layout = [
            u64::from(self.width),
            u64::from(self.height),
            self.stride as u64,
            self.format as u64,
            u64::from(self.rotation.degrees()),
            u64::from(self.mirrored),
        ];
        layout.iter().fold(h, |h, &w| mix(h, w))
    }

    /// Wraps `data` as a `width` x `height` frame with `stride` bytes per row of the first plane.
    ///
    /// Plane layout for 4:2:0 formats: the chroma plane(s) follow the Y plane directly; NV21/NV12
    /// chroma rows use `stride` bytes, I420 U and V rows use `stride / 2` bytes. The buffer must
    /// reach the last byte read; padding after the last row is not required.
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: usize,
        format: PixelFormat,
    ) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::EmptyFrame { width, height });
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::FrameTooLarge {
                width,
                height,
                max: MAX_SIDE,
            });
        }
        if format.is_yuv420() && (!width.is_multiple_of(2) || !height.is_multiple_of(2)) {
            return Err(Error::OddDimensions {
                format,
                width,
                height,
            });
        }
        let min = width as usize * format.bytes_per_pixel();
        if stride < min {
            return Err(Error::StrideTooSmall {
                format,
                stride,
                min,
            });
        }
        let expected = required_len(format, width as usize, height as usize, stride);
        if data.len() < expected {
            return Err(Error::BufferTooSmall {
                format,
                width,
                height,
                stride,
                expected,
                actual: data.len(),
            });
        }
        Ok(FrameRef {
            data,
            width,
            height,
            stride,
            format,
            rotation: Rotation::R0,
            mirrored: false,
        })
    }

    /// Wraps a tightly packed buffer (stride = width x bytes per pixel).
    pub fn packed(data: &'a [u8], width: u32, height: u32, format: PixelFormat) -> Result<Self> {
        Self::new(
            data,
            width,
            height,
            width as usize * format.bytes_per_pixel(),
            format,
        )
    }

    /// Sets the clockwise rotation that makes the buffer upright and whether the upright image
    /// is mirrored left-right.
    pub fn with_orientation(mut self, rotation: Rotation, mirrored: bool) -> Self {
        self.rotation = rotation;
        self.mirrored = mirrored;
        self
    }

    /// Raw buffer width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Raw buffer height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Rotation applied to reach the display orientation.
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// Whether the display image is mirrored.
    pub fn mirrored(&self) -> bool {
        self.mirrored
    }

    /// Size of the upright display image (width and height swap for 90 and 270 degrees).
    pub fn display_size(&self) -> (u32, u32) {
        match self.rotation {
            Rotation::R0 | Rotation::R180 => (self.width, self.height),
            Rotation::R90 | Rotation::R270 => (self.height, self.width),
        }
    }

    /// The affine map from display coordinates to raw coordinates: `raw = A * display + b`,
    /// returned as `[a00, a01, b0, a10, a11, b1]`.
    fn display_to_raw(&self) -> [f32; 6] {
        let (w, h) = (self.width as f32, self.height as f32);
        let (dw, _) = self.display_size();
        // Undo the mirror first: xm = m * xd + mb.
        let (m, mb) = if self.mirrored {
            (-1.0, dw as f32)
        } else {
            (1.0, 0.0)
        };
        match self.rotation {
            Rotation::R0 => [m, 0.0, mb, 0.0, 1.0, 0.0],
            // raw x = yd, raw y = h - xm
            Rotation::R90 => [0.0, 1.0, 0.0, -m, 0.0, h - mb],
            Rotation::R180 => [-m, 0.0, w - mb, 0.0, -1.0, h],
            // raw x = w - yd, raw y = xm
            Rotation::R270 => [0.0, -1.0, w, m, 0.0, mb],
        }
    }

    /// The reader of this frame's pixel layout: chosen once per crop, not per pixel.
    fn pixels(&self) -> Pixels<'a> {
        let (d, s, h) = (self.data, self.stride, self.height as usize);
        match self.format {
            PixelFormat::Rgb8 => Pixels::Packed(Packed::new(d, s, 3, 0, 2)),
            PixelFormat::Rgba8 => Pixels::Packed(Packed::new(d, s, 4, 0, 2)),
            PixelFormat::Bgra8 => Pixels::Packed(Packed::new(d, s, 4, 2, 0)),
            PixelFormat::Gray8 => Pixels::Gray(Gray { d, stride: s }),
            PixelFormat::Nv21 => Pixels::Yuv(Yuv420 {
                d,
                stride: s,
                u_off: s * h + 1,
                v_off: s * h,
                c_stride: s,
                c_step: 2,
            }),
            PixelFormat::Nv12 => Pixels::Yuv(Yuv420 {
                d,
                stride: s,
                u_off: s * h,
                v_off: s * h + 1,
                c_stride: s,
                c_step: 2,
            }),
            PixelFormat::I420 => Pixels::Yuv(Yuv420 {
                d,
                stride: s,
                u_off: s * h,
                v_off: s * h + (s / 2) * (h / 2),
                c_stride: s / 2,
                c_step: 1,
            }),
        }
    }

    /// Bilinear RGB at a continuous raw position; `None` outside the frame with [`Border::Zero`].
    #[inline(always)]
    fn sample_raw<P: Pixel>(&self, p: &P, x: f32, y: f32, border: Border) -> Option<[f32; 3]> {
        let (w, h) = (self.width as f32, self.height as f32);
        if border == Border::Zero && (x < 0.0 || y < 0.0 || x >= w || y >= h) {
            return None;
        }
        let xs = (x - 0.5).clamp(0.0, w - 1.0);
        let ys = (y - 0.5).clamp(0.0, h - 1.0);
        // Non-negative: truncation is the floor.
        let (x0, y0) = (xs as usize, ys as usize);
        let fx = xs - x0 as f32;
        let fy = ys - y0 as f32;
        let x1 = (x0 + 1).min(self.width as usize - 1);
        let y1 = (y0 + 1).min(self.height as usize - 1);
        let p00 = p.rgb(x0, y0);
        let p10 = p.rgb(x1, y0);
        let p01 = p.rgb(x0, y1);
        let p11 = p.rgb(x1, y1);
        let mut out = [0.0; 3];
        for c in 0..3 {
            let top = p00[c] + (p10[c] - p00[c]) * fx;
            let bottom = p01[c] + (p11[c] - p01[c]) * fx;
            out[c] = top + (bottom - top) * fy;
        }
        Some(out)
    }

    /// Bilinear RGB (0..255) at a continuous display position, replicating edges.
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let t = self.display_to_raw();
        let rx = t[0] * x + t[1] * y + t[2];
        let ry = t[3] * x + t[4] * y + t[5];
        with_pixels!(self.pixels(), |p| self.sample_raw(
            p,
            rx,
            ry,
            Border::Replicate
        ))
        .unwrap_or([0.0; 3])
    }

    /// Samples `roi` (display coordinates) into an `out_w` x `out_h` NCHW RGB tensor slice
    /// (`out.len() == 3 * out_w * out_h`), normalising each value with `norm`.
    pub fn crop_into(
        &self,
        roi: &Roi,
        out_w: usize,
        out_h: usize,
        border: Border,
        norm: Normalize,
        out: &mut [f32],
    ) {
        assert_eq!(
            out.len(),
            3 * out_w * out_h,
            "tensor slice must hold 3 x {out_w} x {out_h} values"
        );
        with_pixels!(self.pixels(), |p| {
            self.crop_with(p, roi, out_w, out_h, border, norm, out)
        })
    }

    /// [`FrameRef::crop_into`] with the pixel reader fixed, so the per-pixel loop is compiled
    /// once per layout.
    #[allow(clippy::too_many_arguments)]
    fn crop_with<P: Pixel>(
        &self,
        p: &P,
        roi: &Roi,
        out_w: usize,
        out_h: usize,
        border: Border,
        norm: Normalize,
        out: &mut [f32],
    ) {
        let plane = out_w * out_h;
        let t = self.display_to_raw();
        let (s, c) = roi.angle.sin_cos();
        // display = roi centre + R * ((u + .5) / out_w - .5) * width, ...)
        let du_x = c * roi.width / out_w as f32;
        let du_y = s * roi.width / out_w as f32;
        let dv_x = -s * roi.height / out_h as f32;
        let dv_y = c * roi.height / out_h as f32;
        let ox = roi.cx - 0.5 * roi.width * c + 0.5 * roi.height * s;
        let oy = roi.cy - 0.5 * roi.width * s - 0.5 * roi.height * c;
        let k = norm.scale / 255.0;
        let zero = [0.0f32; 3];
        // Raw positions below these have x0 + 1 and y0 + 1 inside the frame.
        let fast_w = self.width as f32 - 1.5;
        let fast_h = self.height as f32 - 1.5;
        let (reds, rest) = out.split_at_mut(plane);
        let (greens, blues) = rest.split_at_mut(plane);
        let rows = reds
            .chunks_exact_mut(out_w)
            .zip(greens.chunks_exact_mut(out_w))
            .zip(blues.chunks_exact_mut(out_w));
        for (v, ((reds, greens), blues)) in rows.enumerate() {
            let vf = v as f32 + 0.5;
            let row = reds.iter_mut().zip(greens.iter_mut()).zip(blues.iter_mut());
            for (u, ((red, green), blue)) in row.enumerate() {
                let uf = u as f32 + 0.5;
                let dx = ox + du_x * uf + dv_x * vf;
                let dy = oy + du_y * uf + dv_y * vf;
                let rx = t[0] * dx + t[1] * dy + t[2];
                let ry = t[3] * dx + t[4] * dy + t[5];
                let rgb = if rx >= 0.5 && rx < fast_w && ry >= 0.5 && ry < fast_h {
                    // Inside the frame with a full 2x2 neighbourhood: `sample_raw`'s clamps
                    // are no-ops, so this is its arithmetic without them.
                    let (xs, ys) = (rx - 0.5, ry - 0.5);
                    let (x0, y0) = (xs as usize, ys as usize);
                    let (fx, fy) = (xs - x0 as f32, ys - y0 as f32);
                    let [p00, p10, p01, p11] = p.quad(x0, y0);
                    let mut out = [0.0; 3];
                    for c in 0..3 {
                        let top = p00[c] + (p10[c] - p00[c]) * fx;
                        let bottom = p01[c] + (p11[c] - p01[c]) * fx;
                        out[c] = top + (bottom - top) * fy;
                    }
                    out
                } else {
                    self.sample_raw(p, rx, ry, border).unwrap_or(zero)
                };
                *red = rgb[0] * k + norm.offset;
                *green = rgb[1] * k + norm.offset;
                *blue = rgb[2] * k + norm.offset;
            }
        }
    }

    /// Mean luma (0..255) over a `grid` x `grid` lattice of points inside `roi`.
    pub fn mean_luma(&self, roi: &Roi, grid: usize) -> f32 {
        let grid = grid.max(1);
        let mut sum = 0.0;
        for j in 0..grid {
            for i in 0..grid {
                let (x, y) = roi.to_display(
                    (i as f32 + 0.5) / grid as f32,
                    (j as f32 + 0.5) / grid as f32,
                );
                let [r, g, b] = self.sample(x, y);
                sum += 0.299 * r + 0.587 * g + 0.114 * b;
            }
        }
        sum / (grid * grid) as f32
    }
}

/// A frame that owns its bytes: what a decoder or a recording hands to [`crate::Session::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedFrame {
    /// Pixel bytes.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row stride of the first plane in bytes.
    pub stride: usize,
    /// Pixel format.
    pub format: PixelFormat,
    /// Clockwise rotation to upright.
    pub rotation: Rotation,
    /// Whether the upright image is mirrored.
    pub mirrored: bool,
    /// Capture time, ms (caller's clock).
    pub t_ms: i64,
}

impl OwnedFrame {
    /// A packed, upright RGB frame.
    pub fn rgb(data: Vec<u8>, width: u32, height: u32, t_ms: i64) -> Self {
        OwnedFrame {
            data,
            width,
            height,
            stride: width as usize * 3,
            format: PixelFormat::Rgb8,
            rotation: Rotation::R0,
            mirrored: false,
            t_ms,
        }
    }

    /// A checked borrowed view.
    pub fn view(&self) -> Result<FrameRef<'_>> {
        Ok(FrameRef::new(
            &self.data,
            self.width,
            self.height,
            self.stride,
            self.format,
        )?
        .with_orientation(self.rotation, self.mirrored))
    }
}

/// Bytes a frame must hold so that the last byte read is inside the buffer (`usize::MAX` when
/// that does not fit in memory: a caller's absurd stride must not wrap around).
fn required_len(format: PixelFormat, w: usize, h: usize, stride: usize) -> usize {
    let (w, h, stride) = (w as u128, h as u128, stride as u128);
    let len = match format {
        PixelFormat::Nv21 | PixelFormat::Nv12 => stride * h + stride * (h / 2 - 1) + w,
        PixelFormat::I420 => {
            let cs = stride / 2;
            stride * h + cs * (h / 2) + cs * (h / 2 - 1) + w / 2
        }
        _ => stride * (h - 1) + w * format.bytes_per_pixel() as u128,
    };
    usize::try_from(len).unwrap_or(usize::MAX)
}

/// Reads the raw pixel at integer position `(x, y)` as RGB, 0..255 floats.
trait Pixel {
    /// RGB (0..255) of the pixel at column `x`, row `y`.
    fn rgb(&self, x: usize, y: usize) -> [f32; 3];

    /// The pixels at `(x, y)`, `(x + 1, y)`, `(x, y + 1)` and `(x + 1, y + 1)`, all inside.
    #[inline(always)]
    fn quad(&self, x: usize, y: usize) -> [[f32; 3]; 4] {
        [
            self.rgb(x, y),
            self.rgb(x + 1, y),
            self.rgb(x, y + 1),
            self.rgb(x + 1, y + 1),
        ]
    }
}

/// One reader per pixel layout.
enum Pixels<'a> {
    Packed(Packed<'a>),
    Gray(Gray<'a>),
    Yuv(Yuv420<'a>),
}

/// Runs `$body` with `$p` bound to the frame's concrete reader (one monomorphised copy each).
macro_rules! with_pixels {
    ($pixels:expr, |$p:ident| $body:expr) => {
        match $pixels {
            Pixels::Packed(ref $p) => $body,
            Pixels::Gray(ref $p) => $body,
            Pixels::Yuv(ref $p) => $body,
        }
    };
}
use with_pixels;

/// Interleaved 8-bit channels: `bpp` bytes per pixel, red at byte `r`, green at 1, blue at `b`.
struct Packed<'a> {
    d: &'a [u8],
    stride: usize,
    bpp: usize,
    r: usize,
    b: usize,
}

impl<'a> Packed<'a> {
    fn new(d: &'a [u8], stride: usize, bpp: usize, r: usize, b: usize) -> Self {
        Packed {
            d,
            stride,
            bpp,
            r,
            b,
        }
    }
}

impl Pixel for Packed<'_> {
    #[inline(always)]
    fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let i = y * self.stride + x * self.bpp;
        let px = &self.d[i..i + 3];
        [px[self.r] as f32, px[1] as f32, px[self.b] as f32]
    }
}

/// One 8-bit luma byte per pixel.
struct Gray<'a> {
    d: &'a [u8],
    stride: usize,
}

impl Pixel for Gray<'_> {
    #[inline(always)]
    fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let v = self.d[y * self.stride + x] as f32;
        [v, v, v]
    }
}

/// 4:2:0 YUV: full-size luma, then chroma at half resolution, U and V at `u_off` / `v_off` +
/// `cy * c_stride + cx * c_step` (interleaved NV21/NV12, or planar I420).
struct Yuv420<'a> {
    d: &'a [u8],
    stride: usize,
    u_off: usize,
    v_off: usize,
    c_stride: usize,
    c_step: usize,
}

impl Pixel for Yuv420<'_> {
    #[inline(always)]
    fn rgb(&self, x: usize, y: usize) -> [f32; 3] {
        let c = (y / 2) * self.c_stride + (x / 2) * self.c_step;
        yuv_to_rgb(
            self.d[y * self.stride + x] as f32,
            self.d[self.u_off + c] as f32,
            self.d[self.v_off + c] as f32,
        )
    }
}

/// BT.601 full-range YUV to RGB, clamped to 0..255.
#[inline]
pub fn yuv_to_rgb(y: f32, u: f32, v: f32) -> [f32; 3] {
    let (u, v) = (u - 128.0, v - 128.0);
    [
        (y + 1.402 * v).clamp(0.0, 255.0),
        (y - 0.344_136 * u - 0.714_136 * v).clamp(0.0, 255.0),
        (y + 1.772 * u).clamp(0.0, 255.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb_frame(w: u32, h: u32) -> Vec<u8> {
        (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn fingerprint_tells_repeated_frames_from_any_change() {
        let a = rgb_frame(33, 17);
        let copy = a.clone();
        fn fp(d: &[u8], w: u32, h: u32) -> FrameRef<'_> {
            FrameRef::packed(d, w, h, PixelFormat::Rgb8).unwrap()
        }
        assert_eq!(
            fp(&a, 33, 17).fingerprint(),
            fp(&copy, 33, 17).fingerprint()
        );
        // Any single byte (in the 32-byte blocks or the tail) changes it.
        for i in [0, 31, 32, a.len() - 1] {
            let mut b = a.clone();
            b[i] ^= 1;
            assert_ne!(fp(&a, 33, 17).fingerprint(), fp(&b, 33, 17).fingerprint());
        }
        // So does the layout of the same bytes.
        assert_ne!(fp(&a, 33, 17).fingerprint(), fp(&a, 17, 33).fingerprint());
        let f = fp(&a, 33, 17);
        assert_ne!(
            f.fingerprint(),
            f.with_orientation(Rotation::R90, false).fingerprint()
        );
    }

    #[test]
    fn rejects_bad_layouts() {
        let buf = vec![0u8; 100];
        // An absurd stride is a short buffer, not an overflow (found by fuzzing).
        for format in [PixelFormat::Rgb8, PixelFormat::Nv21, PixelFormat::I420] {
            assert!(matches!(
                FrameRef::new(&buf, 4, 4, usize::MAX / 2, format),
                Err(Error::BufferTooSmall { .. })
            ));
        }
        assert!(matches!(
            FrameRef::packed(&buf, 0, 4, PixelFormat::Gray8),
            Err(Error::EmptyFrame { .. })
        ));
        assert!(matches!(
            FrameRef::packed(&buf, 5, 4, PixelFormat::Nv21),
            Err(Error::OddDimensions { .. })
        ));
        assert!(matches!(
            FrameRef::new(&buf, 8, 4, 7, PixelFormat::Gray8),
            Err(Error::StrideTooSmall { min: 8, .. })
        ));
        assert!(matches!(
            FrameRef::packed(&buf, 10, 10, PixelFormat::Rgb8),
            Err(Error::BufferTooSmall {
                expected: 300,
                actual: 100,
                ..
            })
        ));
        assert!(matches!(
            FrameRef::packed(&buf, 20_000, 1, PixelFormat::Gray8),
            Err(Error::FrameTooLarge { .. })
        ));
        assert!(matches!(
            Rotation::from_degrees(45),
            Err(Error::BadRotation(45))
        ));
    }

    #[test]
    fn nv21_needs_chroma_plane() {
        // 4x4 NV21 needs 16 luma + 8 chroma bytes; 16 is not enough.
        let buf = vec![0u8; 16];
        assert!(matches!(
            FrameRef::packed(&buf, 4, 4, PixelFormat::Nv21),
            Err(Error::BufferTooSmall { expected: 24, .. })
        ));
        let buf = vec![0u8; 24];
        assert!(FrameRef::packed(&buf, 4, 4, PixelFormat::Nv21).is_ok());
    }

    #[test]
    fn display_size_swaps_for_quarter_turns() {
        let buf = rgb_frame(6, 4);
        let f = FrameRef::packed(&buf, 6, 4, PixelFormat::Rgb8).unwrap();
        assert_eq!(
            f.with_orientation(Rotation::R90, false).display_size(),
            (4, 6)
        );
        assert_eq!(
            f.with_orientation(Rotation::R180, true).display_size(),
            (6, 4)
        );
    }

    #[test]
    fn rotation_moves_top_left_to_top_right() {
        // A clockwise quarter turn moves the raw top-left pixel to the display top-right.
        let mut buf = vec![0u8; 6 * 4 * 3];
        buf[0] = 255;
        let f = FrameRef::packed(&buf, 6, 4, PixelFormat::Rgb8)
            .unwrap()
            .with_orientation(Rotation::R90, false);
        let (dw, _) = f.display_size();
        assert_eq!(f.sample(dw as f32 - 0.5, 0.5)[0], 255.0);
        assert_eq!(f.sample(0.5, 0.5)[0], 0.0);
        let m = f.with_orientation(Rotation::R90, true);
        assert_eq!(m.sample(0.5, 0.5)[0], 255.0);
    }

    #[test]
    fn identity_crop_reproduces_pixels() {
        let buf = rgb_frame(8, 6);
        let f = FrameRef::packed(&buf, 8, 6, PixelFormat::Rgb8).unwrap();
        let roi = Roi {
            cx: 4.0,
            cy: 3.0,
            width: 8.0,
            height: 6.0,
            angle: 0.0,
        };
        let mut out = vec![0.0; 3 * 48];
        f.crop_into(
            &roi,
            8,
            6,
            Border::Zero,
            Normalize {
                scale: 255.0,
                offset: 0.0,
            },
            &mut out,
        );
        for y in 0..6 {
            for x in 0..8 {
                for c in 0..3 {
                    let want = buf[(y * 8 + x) * 3 + c] as f32;
                    assert!((out[c * 48 + y * 8 + x] - want).abs() < 1e-3);
                }
            }
        }
    }
}

//! Every pixel format, rotation and mirror produces the same model crop as the upright RGB path.
//!
//! Each case draws a random raw buffer in one format (with random row padding), decodes it to
//! RGB with an independent reference decoder, turns that upright by the stated rotation and
//! mirror, and checks that cropping a random rotated ROI from the raw buffer (through
//! `FrameRef` orientation) equals cropping the same ROI from the upright RGB image.

use livecheck::frame::{yuv_to_rgb, Border, Normalize};
use livecheck::{FrameRef, PixelFormat, Roi, Rotation};
use proptest::prelude::*;

const FORMATS: [PixelFormat; 7] = PixelFormat::ALL;

/// Reference decoder: raw buffer -> packed RGB, written independently of `FrameRef`.
fn decode(format: PixelFormat, data: &[u8], w: usize, h: usize, stride: usize) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let px: [u8; 3] = match format {
                PixelFormat::Rgb8 => [
                    data[y * stride + 3 * x],
                    data[y * stride + 3 * x + 1],
                    data[y * stride + 3 * x + 2],
                ],
                PixelFormat::Rgba8 => [
                    data[y * stride + 4 * x],
                    data[y * stride + 4 * x + 1],
                    data[y * stride + 4 * x + 2],
                ],
                PixelFormat::Bgra8 => [
                    data[y * stride + 4 * x + 2],
                    data[y * stride + 4 * x + 1],
                    data[y * stride + 4 * x],
                ],
                PixelFormat::Gray8 => [data[y * stride + x]; 3],
                _ => {
                    let luma = data[y * stride + x] as f32;
                    let chroma = &data[stride * h..];
                    let (u, v) = match format {
                        PixelFormat::Nv12 => (
                            chroma[(y / 2) * stride + (x / 2) * 2],
                            chroma[(y / 2) * stride + (x / 2) * 2 + 1],
                        ),
                        PixelFormat::Nv21 => (
                            chroma[(y / 2) * stride + (x / 2) * 2 + 1],
                            chroma[(y / 2) * stride + (x / 2) * 2],
                        ),
                        _ => {
                            let cs = stride / 2;
                            let plane = cs * (h / 2);
                            (
                                chroma[(y / 2) * cs + x / 2],
                                chroma[plane + (y / 2) * cs + x / 2],
                            )
                        }
                    };
                    yuv_to_rgb(luma, u as f32, v as f32).map(|c| c.round() as u8)
                }
            };
            rgb.extend_from_slice(&px);
        }
    }
    rgb
}

/// Turns a raw RGB image upright: rotate clockwise, then mirror. Returns (image, width, height).
fn upright(rgb: &[u8], w: usize, h: usize, rot: Rotation, mirror: bool) -> (Vec<u8>, usize, usize) {
    let (dw, dh) = if matches!(rot, Rotation::R90 | Rotation::R270) {
        (h, w)
    } else {
        (w, h)
    };
    let mut out = vec![0u8; dw * dh * 3];
    for y in 0..h {
        for x in 0..w {
            let (mut dx, dy) = match rot {
                Rotation::R0 => (x, y),
                Rotation::R90 => (h - 1 - y, x),
                Rotation::R180 => (w - 1 - x, h - 1 - y),
                Rotation::R270 => (y, w - 1 - x),
            };
            if mirror {
                dx = dw - 1 - dx;
            }
            out[(dy * dw + dx) * 3..][..3].copy_from_slice(&rgb[(y * w + x) * 3..][..3]);
        }
    }
    (out, dw, dh)
}

fn buffer_len(format: PixelFormat, h: usize, stride: usize) -> usize {
    match format {
        PixelFormat::Nv12 | PixelFormat::Nv21 => stride * h + stride * h / 2,
        PixelFormat::I420 => stride * h + 2 * (stride / 2) * (h / 2),
        _ => stride * h,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn every_format_and_orientation_matches_rgb(
        fi in 0usize..7,
        ri in 0usize..4,
        mirror: bool,
        half_w in 1usize..12,
        half_h in 1usize..12,
        pad in 0usize..3,
        seed: u64,
        roi in (0.0f32..1.0, 0.0f32..1.0, 0.3f32..1.5, -3.2f32..3.2),
    ) {
        let format = FORMATS[fi];
        let rotation = Rotation::ALL[ri];
        let (w, h) = (half_w * 2, half_h * 2);
        let stride = w * format.bytes_per_pixel() + 2 * pad;
        let mut state = seed | 1;
        let data: Vec<u8> = (0..buffer_len(format, h, stride))
            .map(|_| { state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state >> 24) as u8 })
            .collect();
        let raw = FrameRef::new(&data, w as u32, h as u32, stride, format).unwrap().with_orientation(rotation, mirror);
        let (rgb, dw, dh) = upright(&decode(format, &data, w, h, stride), w, h, rotation, mirror);
        let reference = FrameRef::packed(&rgb, dw as u32, dh as u32, PixelFormat::Rgb8).unwrap();
        prop_assert_eq!(raw.display_size(), (dw as u32, dh as u32));

        let side = roi.2 * dw.max(dh) as f32;
        let r = Roi { cx: roi.0 * dw as f32, cy: roi.1 * dh as f32, width: side, height: side * 0.8, angle: roi.3 };
        let norm = Normalize { scale: 255.0, offset: 0.0 };
        for border in [Border::Zero, Border::Replicate] {
            let (mut a, mut b) = (vec![0.0; 3 * 100], vec![0.0; 3 * 100]);
            raw.crop_into(&r, 10, 10, border, norm, &mut a);
            reference.crop_into(&r, 10, 10, border, norm, &mut b);
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                // YUV is rounded to u8 in the reference image: allow half a level.
                prop_assert!((x - y).abs() <= 0.51, "{format:?} {rotation:?} mirror={mirror} value {i}: {x} vs {y}");
            }
        }
    }
}

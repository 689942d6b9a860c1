//! Runs the iris model only on frames where the eyes may have changed.
//!
//! The 468-point mesh barely follows the lids (its eye aspect ratio moves 1–5 % in a blink where
//! the iris model's moves 15–85 %), so it cannot say when the eyes are about to close. The
//! pixels can: each frame, both eye crops (the iris model's own crops, placed by the mesh, so
//! head motion is compensated) are sampled at 24x24 grey and averaged into 8x8 cells. While
//! every cell of the central 6x6 stays within [`EyeGateConfig::max_change`] of the patch's
//! contrast (the standard deviation of its central 16x16 pixels) compared with the frame the
//! iris model last ran on, the lids have not moved: that measurement is kept (its contours
//! moved with the eye crops) and the iris model is skipped. A closing lid darkens or brightens
//! the cells over the iris by far more than sensor noise does; lighting changes and large head
//! turns only make it run more often.

use super::landmarks::{idx, EyeContour, Landmarker, Mesh};
use super::Eyes;
use crate::error::Result;
use crate::frame::{Border, FrameRef, Normalize, Roi};

/// Side of the grey eye patch, pixels.
const PATCH: usize = 24;
/// Pixels per side of one cell.
const CELL: usize = 3;
/// Cells per side.
const CELLS: usize = PATCH / CELL;

/// When a measurement of the eyes may be kept instead of running the iris model again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EyeGateConfig {
    /// Largest change of any central cell, as a fraction of the patch's contrast, for which the
    /// eyes count as unchanged. 0 runs the iris model on every frame.
    pub max_change: f32,
    /// Longest time a measurement is kept, ms.
    pub max_hold_ms: i64,
}

impl Default for EyeGateConfig {
    fn default() -> Self {
        EyeGateConfig {
            max_change: 0.15,
            max_hold_ms: 200,
        }
    }
}

/// One eye crop, summarised.
#[derive(Debug, Clone, PartialEq)]
struct Patch {
    roi: Roi,
    cells: [f32; CELLS * CELLS],
    contrast: f32,
}

impl Patch {
    /// Samples `roi` of `frame` (the iris model's crop, unmirrored) into `buf`.
    fn sample(frame: &FrameRef, roi: &Roi, buf: &mut [f32]) -> Patch {
        frame.crop_into(roi, PATCH, PATCH, Border::Replicate, Normalize::UNIT, buf);
        let plane = PATCH * PATCH;
        let grey = |i: usize| (buf[i] + buf[plane + i] + buf[2 * plane + i]) / 3.0;
        let mut cells = [0.0f32; CELLS * CELLS];
        let (mut sum, mut sum_sq) = (0.0f32, 0.0f32);
        for y in 0..PATCH {
            for x in 0..PATCH {
                let g = grey(y * PATCH + x);
                cells[(y / CELL) * CELLS + x / CELL] += g;
                if (4..PATCH - 4).contains(&x) && (4..PATCH - 4).contains(&y) {
                    sum += g;
                    sum_sq += g * g;
                }
            }
        }
        for c in &mut cells {
            *c /= (CELL * CELL) as f32;
        }
        let n = ((PATCH - 8) * (PATCH - 8)) as f32;
        let mean = sum / n;
        let contrast = (sum_sq / n - mean * mean).max(0.0).sqrt();
        Patch {
            roi: *roi,
            cells,
            contrast,
        }
    }

    /// Largest change of a central cell from `earlier`, relative to `earlier`'s contrast.
    fn change_from(&self, earlier: &Patch) -> f32 {
        let mut max = 0.0f32;
        for y in 1..CELLS - 1 {
            for x in 1..CELLS - 1 {
                let i = y * CELLS + x;
                max = max.max((self.cells[i] - earlier.cells[i]).abs());
            }
        }
        max / (earlier.contrast + 1e-3)
    }
}

/// The last measurement and the patches it was taken on.
#[derive(Debug, Clone)]
struct Held {
    track_id: u32,
    t_ms: i64,
    eyes: Eyes,
    patches: [Patch; 2],
}

/// Per-track gate in front of the iris model.
#[derive(Debug, Clone)]
pub(crate) struct EyeGate {
    config: EyeGateConfig,
    held: Option<Held>,
    buf: Vec<f32>,
}

impl EyeGate {
    /// A gate with nothing held.
    pub(crate) fn new(config: EyeGateConfig) -> Self {
        EyeGate {
            config,
            held: None,
            buf: vec![0.0; 3 * PATCH * PATCH],
        }
    }

    /// Forgets the held measurement (the eyes were not followed on the frames in between).
    pub(crate) fn reset(&mut self) {
        self.held = None;
    }

    /// The eyes of `mesh` on `frame`: measured by the iris model, or the held measurement moved
    /// to the current crops when neither eye patch changed.
    pub(crate) fn eyes(
        &mut self,
        landmarker: &Landmarker,
        frame: &FrameRef,
        mesh: &Mesh,
        track_id: u32,
        t_ms: i64,
    ) -> Result<Eyes> {
        if self.config.max_change <= 0.0 {
            return landmarker.eyes(frame, mesh);
        }
        let rois = [
            mesh.eye_roi(idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER),
            mesh.eye_roi(idx::LEFT_EYE_INNER, idx::LEFT_EYE_OUTER),
        ];
        let patches = rois.map(|roi| Patch::sample(frame, &roi, &mut self.buf));
        if let Some(h) = &self.held {
            let fresh =
                h.track_id == track_id && t_ms > h.t_ms && t_ms - h.t_ms < self.config.max_hold_ms;
            let still = patches
                .iter()
                .zip(&h.patches)
                .all(|(now, then)| now.change_from(then) <= self.config.max_change);
            if fresh && still {
                return Ok(Eyes {
                    left_contour: moved(&h.eyes.left_contour, &patches[1].roi),
                    right_contour: moved(&h.eyes.right_contour, &patches[0].roi),
                    ..h.eyes.clone()
                });
            }
        }
        let eyes = landmarker.eyes(frame, mesh)?;
        self.held = Some(Held {
            track_id,
            t_ms,
            eyes: eyes.clone(),
            patches,
        });
        Ok(eyes)
    }
}

/// `contour` carried from its crop to `roi` (the same place on the eye).
fn moved(contour: &EyeContour, roi: &Roi) -> EyeContour {
    let from = contour.roi;
    let zscale = if from.width.abs() > f32::EPSILON {
        roi.width / from.width
    } else {
        1.0
    };
    let map = |p: &[f32; 3]| {
        let (u, v) = from.to_normalised(p[0], p[1]);
        let (x, y) = roi.to_display(u, v);
        [x, y, p[2] * zscale]
    };
    EyeContour {
        points: contour.points.iter().map(map).collect(),
        iris: contour.iris.iter().map(map).collect(),
        roi: *roi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_with(eye_dark: u8) -> Vec<u8> {
        // 64x64 grey frame with a dark disc (the iris) whose darkness varies.
        let mut px = vec![180u8; 64 * 64 * 3];
        for y in 0..64 {
            for x in 0..64 {
                if (x as i32 - 32).pow(2) + (y as i32 - 32).pow(2) < 64 {
                    px[(y * 64 + x) * 3..][..3].fill(eye_dark);
                }
            }
        }
        px
    }

    #[test]
    fn a_covered_iris_is_a_change_noise_is_not() {
        let roi = Roi {
            cx: 32.0,
            cy: 32.0,
            width: 32.0,
            height: 32.0,
            angle: 0.0,
        };
        let mut buf = vec![0.0; 3 * PATCH * PATCH];
        let mut sample = |px: &[u8]| {
            let f = FrameRef::packed(px, 64, 64, crate::PixelFormat::Rgb8).unwrap();
            Patch::sample(&f, &roi, &mut buf)
        };
        let open = sample(&frame_with(40));
        let mut noisy = frame_with(40);
        for (i, p) in noisy.iter_mut().enumerate() {
            *p = p.saturating_add((i % 3) as u8);
        }
        let max = EyeGateConfig::default().max_change;
        assert!(sample(&noisy).change_from(&open) <= max);
        // A lid over the iris: the disc as bright as the skin.
        assert!(sample(&frame_with(170)).change_from(&open) > 5.0 * max);
    }

    #[test]
    fn moved_contours_follow_the_crop() {
        let from = Roi {
            cx: 10.0,
            cy: 10.0,
            width: 20.0,
            height: 20.0,
            angle: 0.0,
        };
        let to = Roi {
            cx: 15.0,
            cy: 12.0,
            width: 40.0,
            height: 40.0,
            angle: 0.0,
        };
        let c = EyeContour {
            points: vec![[10.0, 10.0, 1.0], [20.0, 10.0, 0.0]],
            iris: vec![[5.0, 15.0, 0.0]],
            roi: from,
        };
        let m = moved(&c, &to);
        assert_eq!(m.points, vec![[15.0, 12.0, 2.0], [35.0, 12.0, 0.0]]);
        assert_eq!(m.iris, vec![[5.0, 22.0, 0.0]]);
        assert_eq!(m.roi, to);
    }
}

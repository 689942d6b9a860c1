//! Face detection with BlazeFace short range: letterboxed 128x128 input, SSD anchor decoding,
//! weighted non-maximum suppression; boxes and 6 keypoints in display pixels.
//!
//! Pre- and post-processing follow MediaPipe's `face_detection_short_range` graph: anchors from
//! strides `[8, 16, 16, 16]` (896 in all, unit size, offset 0.5), coordinates scaled by 128,
//! sigmoid scores with clipping at ±100, weighted NMS at IoU 0.3.

use crate::error::Result;
use crate::frame::{Border, FrameRef, Normalize, Roi};
use crate::models::Net;

/// Side of the detector's square input.
pub const INPUT: usize = 128;
const NUM_ANCHORS: usize = 896;
const NUM_COORDS: usize = 16;

/// An axis-aligned box in display pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BBox {
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

impl BBox {
    /// Width.
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    /// Height.
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
    /// Centre point.
    pub fn centre(&self) -> (f32, f32) {
        ((self.x0 + self.x1) * 0.5, (self.y0 + self.y1) * 0.5)
    }
    /// Area (zero for degenerate boxes).
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
    /// Intersection over union with `other`.
    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = BBox {
            x0: self.x0.max(other.x0),
            y0: self.y0.max(other.y0),
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
        }
        .area();
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
    /// The bounding box of a set of points.
    pub fn around(points: impl IntoIterator<Item = (f32, f32)>) -> BBox {
        let mut b = BBox {
            x0: f32::MAX,
            y0: f32::MAX,
            x1: f32::MIN,
            y1: f32::MIN,
        };
        for (x, y) in points {
            b.x0 = b.x0.min(x);
            b.y0 = b.y0.min(y);
            b.x1 = b.x1.max(x);
            b.y1 = b.y1.max(y);
        }
        b
    }
}

/// One detected face.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Face box in display pixels.
    pub bbox: BBox,
    /// Confidence in `0..1`.
    pub score: f32,
    /// Right eye, left eye, nose tip, mouth centre, right ear, left ear (the subject's sides),
    /// in display pixels.
    pub keypoints: [(f32, f32); 6],
}

impl Detection {
    /// The rotated square the face mesh should look at: box centre, 1.5 x the longer side,
    /// rotated so the eyes are level (MediaPipe's detection-to-ROI rule).
    pub fn mesh_roi(&self) -> Roi {
        let (cx, cy) = self.bbox.centre();
        let (r, l) = (self.keypoints[0], self.keypoints[1]);
        let side = self.bbox.width().max(self.bbox.height()) * 1.5;
        Roi {
            cx,
            cy,
            width: side,
            height: side,
            angle: (l.1 - r.1).atan2(l.0 - r.0),
        }
    }
}

/// Detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Minimum score to keep a detection.
    pub min_score: f32,
    /// IoU above which detections merge in weighted NMS.
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            min_score: 0.5,
            nms_iou: 0.3,
        }
    }
}

/// BlazeFace short range with its anchors.
#[derive(Debug, Clone)]
pub struct Detector {
    model: Net,
    anchors: Vec<(f32, f32)>,
    config: DetectorConfig,
}

impl Detector {
    /// Loads the detector from ONNX bytes.
    pub(crate) fn load(bytes: &[u8], config: DetectorConfig) -> Result<Self> {
        let model = Net::load(
            "detector",
            bytes,
            &[&[1, 3, INPUT, INPUT]],
            &[NUM_ANCHORS * NUM_COORDS, NUM_ANCHORS],
        )?;
        Ok(Detector {
            model,
            anchors: anchors(),
            config,
        })
    }

    /// The square letterbox region covering the whole display image.
    pub fn letterbox(frame: &FrameRef) -> Roi {
        let (w, h) = frame.display_size();
        let side = w.max(h) as f32;
        Roi {
            cx: w as f32 * 0.5,
            cy: h as f32 * 0.5,
            width: side,
            height: side,
            angle: 0.0,
        }
    }

    /// Fills `out` (3 x 128 x 128, planar RGB in -1..1, zero outside the frame) with the model's
    /// input for `roi`.
    pub fn input(frame: &FrameRef, roi: &Roi, out: &mut [f32]) {
        frame.crop_into(roi, INPUT, INPUT, Border::Zero, Normalize::SIGNED, out);
    }

    /// Finds faces in the whole frame, best first.
    pub fn detect(&self, frame: &FrameRef) -> Result<Vec<Detection>> {
        self.detect_in(frame, &Self::letterbox(frame))
    }

    /// Finds faces inside `roi` (an axis-aligned square region of the display image).
    pub fn detect_in(&self, frame: &FrameRef, roi: &Roi) -> Result<Vec<Detection>> {
        let mut input = vec![0.0f32; 3 * INPUT * INPUT];
        Self::input(frame, roi, &mut input);
        let out = self.model.run(&[&input])?;
        let (regressors, scores) = if out[0].len() == NUM_ANCHORS {
            (&out[1], &out[0])
        } else {
            (&out[0], &out[1])
        };
        Ok(self.decode(regressors, scores, roi))
    }

    /// Decodes raw outputs into detections in display pixels of the frame `roi` was cut from.
    fn decode(&self, regressors: &[f32], logits: &[f32], roi: &Roi) -> Vec<Detection> {
        let to_display = |nx: f32, ny: f32| roi.to_display(nx, ny);
        let scale = INPUT as f32;
        let mut candidates = Vec::new();
        for (i, (&logit, &(ax, ay))) in logits.iter().zip(&self.anchors).enumerate() {
            let score = 1.0 / (1.0 + (-logit.clamp(-100.0, 100.0)).exp());
            if score < self.config.min_score {
                continue;
            }
            let r = &regressors[i * NUM_COORDS..(i + 1) * NUM_COORDS];
            let (cx, cy) = (r[0] / scale + ax, r[1] / scale + ay);
            let (w, h) = (r[2] / scale, r[3] / scale);
            let (x0, y0) = to_display(cx - w * 0.5, cy - h * 0.5);
            let (x1, y1) = to_display(cx + w * 0.5, cy + h * 0.5);
            let mut keypoints = [(0.0, 0.0); 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = to_display(r[4 + 2 * k] / scale + ax, r[5 + 2 * k] / scale + ay);
            }
            candidates.push(Detection {
                bbox: BBox { x0, y0, x1, y1 },
                score,
                keypoints,
            });
        }
        weighted_nms(candidates, self.config.nms_iou)
    }
}

/// SSD anchor centres (normalised) for BlazeFace short range: strides 8, 16, 16, 16; two
/// anchors per layer and location; layers with equal strides share one grid.
fn anchors() -> Vec<(f32, f32)> {
    let strides = [8usize, 16, 16, 16];
    let mut out = Vec::with_capacity(NUM_ANCHORS);
    let mut layer = 0;
    while layer < strides.len() {
        let stride = strides[layer];
        let mut per_cell = 0;
        while layer < strides.len() && strides[layer] == stride {
            per_cell += 2;
            layer += 1;
        }
        let grid = INPUT.div_ceil(stride);
        for y in 0..grid {
            for x in 0..grid {
                let c = (
                    (x as f32 + 0.5) / grid as f32,
                    (y as f32 + 0.5) / grid as f32,
                );
                out.extend(std::iter::repeat_n(c, per_cell));
            }
        }
    }
    out
}

/// MediaPipe's weighted NMS: each cluster of overlapping candidates becomes one detection whose
/// box and keypoints are the score-weighted mean and whose score is the best member's.
pub fn weighted_nms(mut candidates: Vec<Detection>, iou: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while !candidates.is_empty() {
        let top = candidates[0].bbox;
        let (cluster, rest): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .partition(|d| d.bbox.iou(&top) > iou || d.bbox == top);
        candidates = rest;
        let total: f32 = cluster.iter().map(|d| d.score).sum();
        let mut merged = Detection {
            bbox: BBox::default(),
            score: cluster[0].score,
            keypoints: [(0.0, 0.0); 6],
        };
        for d in &cluster {
            let w = d.score / total;
            merged.bbox.x0 += d.bbox.x0 * w;
            merged.bbox.y0 += d.bbox.y0 * w;
            merged.bbox.x1 += d.bbox.x1 * w;
            merged.bbox.y1 += d.bbox.y1 * w;
            for (m, k) in merged.keypoints.iter_mut().zip(&d.keypoints) {
                m.0 += k.0 * w;
                m.1 += k.1 * w;
            }
        }
        out.push(merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_count_and_layout() {
        let a = anchors();
        assert_eq!(a.len(), NUM_ANCHORS);
        assert_eq!(a[0], (0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[512], (0.5 / 8.0, 0.5 / 8.0));
        assert_eq!(a[895], (7.5 / 8.0, 7.5 / 8.0));
    }

    fn det(x0: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x0,
                y0: 0.0,
                x1: x0 + 10.0,
                y1: 10.0,
            },
            score,
            keypoints: [(x0, 0.0); 6],
        }
    }

    #[test]
    fn nms_merges_overlaps_and_keeps_separate_faces() {
        let out = weighted_nms(vec![det(0.0, 0.9), det(1.0, 0.6), det(50.0, 0.7)], 0.3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        assert!(
            (out[0].bbox.x0 - 0.4).abs() < 1e-5,
            "weighted mean of 0 and 1 by 0.9/0.6"
        );
        assert_eq!(out[1].bbox.x0, 50.0);
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = BBox {
            x0: 0.0,
            y0: 0.0,
            x1: 2.0,
            y1: 2.0,
        };
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(
            a.iou(&BBox {
                x0: 5.0,
                y0: 5.0,
                x1: 6.0,
                y1: 6.0
            }),
            0.0
        );
    }
}

//! Dense landmarks: the 468-point face mesh on a rotation-aligned crop, and eyelid contours from
//! the iris model on each eye.
//!
//! ROI rules follow MediaPipe: the mesh looks at a square 1.5 x the landmarks' extent, rotated so
//! that the line from point 33 to point 263 is level; each eye crop is a square 2.3 x the
//! eye-corner distance, levelled on the corners; the right eye is mirrored so that the iris
//! model always sees a left eye.

use crate::error::Result;
use crate::frame::{Border, FrameRef, Normalize, Roi};
use crate::models::Net;
use crate::vision::detector::BBox;
use crate::vision::geometry::eye_aspect_ratio;
use crate::vision::Eyes;

/// Side of the mesh model's input.
pub const MESH_INPUT: usize = 192;
/// Side of the iris model's input.
pub const IRIS_INPUT: usize = 64;
/// Number of mesh points.
pub const MESH_POINTS: usize = 468;
/// Number of eye contour and brow points the iris model returns per eye.
pub const EYE_POINTS: usize = 71;

/// Mesh indices used by the geometry (MediaPipe canonical face mesh numbering).
pub mod idx {
    /// Outer corner of the subject's right eye (image left when not mirrored).
    pub const RIGHT_EYE_OUTER: usize = 33;
    /// Inner corner of the subject's right eye.
    pub const RIGHT_EYE_INNER: usize = 133;
    /// Inner corner of the subject's left eye.
    pub const LEFT_EYE_INNER: usize = 362;
    /// Outer corner of the subject's left eye.
    pub const LEFT_EYE_OUTER: usize = 263;
    /// Top of the forehead.
    pub const FOREHEAD: usize = 10;
    /// Chin.
    pub const CHIN: usize = 152;
    /// Nose tip.
    pub const NOSE_TIP: usize = 1;
    /// Upper inner lip, centre.
    pub const UPPER_LIP: usize = 13;
    /// Lower inner lip, centre.
    pub const LOWER_LIP: usize = 14;
    /// Right mouth corner.
    pub const MOUTH_RIGHT: usize = 61;
    /// Left mouth corner.
    pub const MOUTH_LEFT: usize = 291;
}

/// A 3-D landmark: x and y in display pixels, z relative depth in the same scale (smaller is
/// closer to the camera).
pub type Point3 = [f32; 3];

/// The mesh result on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    /// 468 points in display pixels.
    pub points: Vec<Point3>,
    /// Probability that the crop holds a face.
    pub presence: f32,
    /// The crop the mesh was computed on.
    pub roi: Roi,
}

impl Mesh {
    /// Axis-aligned box of all points.
    pub fn bbox(&self) -> BBox {
        BBox::around(self.points.iter().map(|p| (p[0], p[1])))
    }

    /// The central part of the face (cheeks, nose, eyes): the mesh crop shrunk to 45 %, used
    /// for exposure.
    pub fn roi_inner(&self) -> Roi {
        Roi {
            width: self.roi.width * 0.45,
            height: self.roi.height * 0.45,
            ..self.roi
        }
    }

    /// The crop to use on the next frame (MediaPipe's landmarks-to-ROI rule).
    pub fn next_roi(&self) -> Roi {
        let b = self.bbox();
        let (cx, cy) = b.centre();
        let (r, l) = (
            self.points[idx::RIGHT_EYE_OUTER],
            self.points[idx::LEFT_EYE_OUTER],
        );
        let side = b.width().max(b.height()) * 1.5;
        Roi {
            cx,
            cy,
            width: side,
            height: side,
            angle: (l[1] - r[1]).atan2(l[0] - r[0]),
        }
    }

    /// The crop for one eye: corners `a` then `b`, levelled on them, 2.3 x their distance.
    pub fn eye_roi(&self, a: usize, b: usize) -> Roi {
        let (p, q) = (self.points[a], self.points[b]);
        let dist = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt();
        let side = dist * 2.3;
        Roi {
            cx: (p[0] + q[0]) * 0.5,
            cy: (p[1] + q[1]) * 0.5,
            width: side,
            height: side,
            angle: (q[1] - p[1]).atan2(q[0] - p[0]),
        }
    }
}

/// Eye contour and brow points of one eye in display pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct EyeContour {
    /// 71 points (the first 16 trace the eyelids).
    pub points: Vec<Point3>,
    /// The five iris points (centre first).
    pub iris: Vec<Point3>,
    /// The crop the contour was computed on.
    pub roi: Roi,
}

/// The mesh and iris models.
#[derive(Debug, Clone)]
pub struct Landmarker {
    mesh: Net,
    iris: Net,
}

impl Landmarker {
    /// Loads both models from ONNX bytes.
    pub(crate) fn load(mesh: &[u8], iris: &[u8]) -> Result<Self> {
        Ok(Landmarker {
            mesh: Net::load(
                "mesh",
                mesh,
                &[&[1, 3, MESH_INPUT, MESH_INPUT]],
                &[MESH_POINTS * 3, 1],
            )?,
            iris: Net::load(
                "iris",
                iris,
                &[&[1, 3, IRIS_INPUT, IRIS_INPUT]],
                &[EYE_POINTS * 3, 15],
            )?,
        })
    }

    /// Fills `out` (3 x 192 x 192, planar RGB in 0..1) with the mesh model's input for `roi`.
    pub fn mesh_input(frame: &FrameRef, roi: &Roi, out: &mut [f32]) {
        frame.crop_into(
            roi,
            MESH_INPUT,
            MESH_INPUT,
            Border::Replicate,
            Normalize::UNIT,
            out,
        );
    }

    /// Fills `out` (3 x 64 x 64) with the iris model's input for the eye crop `roi`, flipped
    /// horizontally with `mirror`; returns the crop actually sampled (the flipped one).
    pub fn eye_input(frame: &FrameRef, roi: &Roi, mirror: bool, out: &mut [f32]) -> Roi {
        // A horizontally flipped crop is the same rectangle with its x axis reversed.
        let crop = if mirror {
            Roi {
                width: -roi.width,
                ..*roi
            }
        } else {
            *roi
        };
        frame.crop_into(
            &crop,
            IRIS_INPUT,
            IRIS_INPUT,
            Border::Replicate,
            Normalize::UNIT,
            out,
        );
        crop
    }

    /// Runs the mesh on `roi` of `frame`.
    pub fn mesh(&self, frame: &FrameRef, roi: &Roi) -> Result<Mesh> {
        let mut input = vec![0.0f32; 3 * MESH_INPUT * MESH_INPUT];
        Self::mesh_input(frame, roi, &mut input);
        let out = self.mesh.run(&[&input])?;
        let (coords, flag) = if out[0].len() == 1 {
            (&out[1], out[0][0])
        } else {
            (&out[0], out[1][0])
        };
        let s = MESH_INPUT as f32;
        let zscale = roi.width / s;
        let points = coords
            .chunks_exact(3)
            .map(|c| {
                let (x, y) = roi.to_display(c[0] / s, c[1] / s);
                [x, y, c[2] * zscale]
            })
            .collect();
        Ok(Mesh {
            points,
            presence: sigmoid(flag),
            roi: *roi,
        })
    }

    /// Runs the iris model on both eyes of `mesh` and measures how open they are.
    pub fn eyes(&self, frame: &FrameRef, mesh: &Mesh) -> Result<Eyes> {
        let right = self.eye(
            frame,
            &mesh.eye_roi(idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER),
            false,
        )?;
        let left = self.eye(
            frame,
            &mesh.eye_roi(idx::LEFT_EYE_INNER, idx::LEFT_EYE_OUTER),
            true,
        )?;
        Ok(Eyes {
            left: eye_aspect_ratio(&left.points[..16]),
            right: eye_aspect_ratio(&right.points[..16]),
            left_contour: left,
            right_contour: right,
        })
    }

    /// Runs the iris model on one eye. With `mirror` the crop is flipped horizontally (MediaPipe
    /// flips the eye at points 362/263 so the model always sees an image-left eye); returned
    /// points are in display pixels either way.
    pub fn eye(&self, frame: &FrameRef, roi: &Roi, mirror: bool) -> Result<EyeContour> {
        let mut input = vec![0.0f32; 3 * IRIS_INPUT * IRIS_INPUT];
        let crop = Self::eye_input(frame, roi, mirror, &mut input);
        let out = self.iris.run(&[&input])?;
        let (contour, iris) = if out[0].len() == 15 {
            (&out[1], &out[0])
        } else {
            (&out[0], &out[1])
        };
        let s = IRIS_INPUT as f32;
        let zscale = roi.width / s;
        let map = |c: &[f32]| {
            let (x, y) = crop.to_display(c[0] / s, c[1] / s);
            [x, y, c[2] * zscale]
        };
        Ok(EyeContour {
            points: contour.chunks_exact(3).map(map).collect(),
            iris: iris.chunks_exact(3).map(map).collect(),
            roi: *roi,
        })
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

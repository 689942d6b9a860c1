//! Who the face is: a 192-d face embedding (MobileFaceNet) on a crop aligned by the standard
//! 5-point similarity transform (eye centres, nose tip, mouth corners from the mesh) to
//! 112x112, and the cosine similarity of two embeddings.
//!
//! The session uses it for continuity (the face at alignment against the face later in the
//! attempt) and for the optional 1:1 match against a registered photo.

use crate::error::{Error, Result};
use crate::frame::{Border, FrameRef, Normalize, Roi};
use crate::models::Net;
use crate::vision::geometry::HeadPose;
use crate::vision::landmarks::{idx, Mesh};
use crate::vision::Eyes;

/// Side of the embedding model's input.
pub const EMBED_INPUT: usize = 112;
/// Length of an embedding.
pub const EMBED_DIM: usize = 192;

/// Where the 5 points sit in the 112x112 crop the model was trained on (InsightFace's ArcFace
/// reference: image-left eye, image-right eye, nose tip, image-left and image-right mouth
/// corner), in pixel-index coordinates.
const REFERENCE: [(f32, f32); 5] = [
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
];

/// Mesh points around each eye whose mean is the eye centre (corners and mid-lids).
const RIGHT_EYE: [usize; 4] = [idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER, 159, 145];
const LEFT_EYE: [usize; 4] = [idx::LEFT_EYE_INNER, idx::LEFT_EYE_OUTER, 386, 374];

/// Smallest eye aspect ratio (both eyes) of a face worth embedding: a blink is skipped.
pub const EYES_OPEN: f32 = 0.15;

/// Whether a face with `pose` looks at the camera: |yaw| and |pitch| at most `max_angle`
/// degrees.
pub fn facing(pose: HeadPose, max_angle: f32) -> bool {
    pose.yaw.abs() <= max_angle && pose.pitch.abs() <= max_angle
}

/// Whether a face with `pose` and `eyes` is worth embedding: |yaw| and |pitch| at most
/// `max_angle` degrees and both eyes open. Turned faces and blinks embed poorly; they are
/// skipped, not judged.
pub fn embeddable(pose: HeadPose, eyes: &Eyes, max_angle: f32) -> bool {
    facing(pose, max_angle) && eyes.min() >= EYES_OPEN
}

/// A unit-length face embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Wraps `values` (any non-zero length-[`EMBED_DIM`] vector; scaled to unit length).
    pub fn new(values: Vec<f32>) -> Result<Self> {
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if values.len() != EMBED_DIM || !norm.is_finite() || norm == 0.0 {
            return Err(Error::InvalidConfig(format!(
                "a face embedding has {EMBED_DIM} finite values, not all zero; got {} values",
                values.len()
            )));
        }
        Ok(Embedding(values.into_iter().map(|v| v / norm).collect()))
    }

    /// The unit-length values.
    pub fn values(&self) -> &[f32] {
        &self.0
    }

    /// Cosine similarity in `[-1, 1]`: about 1 for the same face, near 0 for strangers.
    pub fn similarity(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The normalised mean of `embeddings` (`None` when empty): one template for several
    /// views of the same face.
    pub fn mean<'a>(embeddings: impl IntoIterator<Item = &'a Embedding>) -> Option<Embedding> {
        let mut sum = vec![0.0f32; EMBED_DIM];
        let mut n = 0;
        for e in embeddings {
            for (s, v) in sum.iter_mut().zip(&e.0) {
                *s += v;
            }
            n += 1;
        }
        if n == 0 {
            return None;
        }
        Embedding::new(sum).ok()
    }
}

impl zeroize::Zeroize for Embedding {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

/// The five alignment points of a mesh in display pixels, ordered as `REFERENCE` (by their
/// position in the image, so a mirrored frame is handled like any other).
pub fn five_points(mesh: &Mesh) -> [(f32, f32); 5] {
    let mean = |ids: &[usize]| {
        let n = ids.len() as f32;
        let (x, y) = ids.iter().fold((0.0, 0.0), |(x, y), &i| {
            (x + mesh.points[i][0], y + mesh.points[i][1])
        });
        (x / n, y / n)
    };
    let (right_eye, left_eye) = (mean(&RIGHT_EYE), mean(&LEFT_EYE));
    let (mouth_r, mouth_l) = (mean(&[idx::MOUTH_RIGHT]), mean(&[idx::MOUTH_LEFT]));
    let nose = mean(&[idx::NOSE_TIP]);
    // The subject's right eye is on the image left unless the frame is mirrored: decide by
    // which side of the face's vertical axis it falls (cross product with the eye-to-mouth
    // direction), which holds at any roll.
    let eyes_mid = (
        (right_eye.0 + left_eye.0) / 2.0,
        (right_eye.1 + left_eye.1) / 2.0,
    );
    let mouth_mid = ((mouth_r.0 + mouth_l.0) / 2.0, (mouth_r.1 + mouth_l.1) / 2.0);
    let down = (mouth_mid.0 - eyes_mid.0, mouth_mid.1 - eyes_mid.1);
    let across = (left_eye.0 - right_eye.0, left_eye.1 - right_eye.1);
    // Unmirrored, "across" points to image right and "down" points down: the cross product
    // is negative.
    if down.0 * across.1 - down.1 * across.0 <= 0.0 {
        [right_eye, left_eye, nose, mouth_r, mouth_l]
    } else {
        [left_eye, right_eye, nose, mouth_l, mouth_r]
    }
}

/// The 112x112 crop (a rotated square [`Roi`]) that maps the mesh's five points onto the
/// model's reference points with the least-squares similarity transform (rotation, uniform
/// scale, translation; no reflection).
pub fn aligned_roi(mesh: &Mesh) -> Roi {
    let q = five_points(mesh);
    // Reference points in continuous crop coordinates (pixel centres at +0.5).
    let p = REFERENCE.map(|(x, y)| (x + 0.5, y + 0.5));
    let n = p.len() as f32;
    let pm = p
        .iter()
        .fold((0.0, 0.0), |a, b| (a.0 + b.0 / n, a.1 + b.1 / n));
    let qm = q
        .iter()
        .fold((0.0, 0.0), |a, b| (a.0 + b.0 / n, a.1 + b.1 / n));
    let (mut sa, mut sb, mut pp) = (0.0f32, 0.0f32, 0.0f32);
    for (pi, qi) in p.iter().zip(&q) {
        let (px, py) = (pi.0 - pm.0, pi.1 - pm.1);
        let (qx, qy) = (qi.0 - qm.0, qi.1 - qm.1);
        sa += px * qx + py * qy;
        sb += px * qy - py * qx;
        pp += px * px + py * py;
    }
    // q = [a -b; b a] p + t
    let (a, b) = (sa / pp, sb / pp);
    let scale = (a * a + b * b).sqrt();
    let half = EMBED_INPUT as f32 / 2.0;
    let (cx, cy) = (half - pm.0, half - pm.1);
    Roi {
        cx: qm.0 + a * cx - b * cy,
        cy: qm.1 + b * cx + a * cy,
        width: EMBED_INPUT as f32 * scale,
        height: EMBED_INPUT as f32 * scale,
        angle: b.atan2(a),
    }
}

/// The face-embedding model (MobileFaceNet, 112x112 RGB in, 192 values out).
#[derive(Debug, Clone)]
pub struct FaceEmbedder {
    model: Net,
}

impl FaceEmbedder {
    /// Loads and checks the embedding model.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        Ok(FaceEmbedder {
            model: Net::load(
                "embedder",
                bytes,
                &[&[1, 3, EMBED_INPUT, EMBED_INPUT]],
                &[EMBED_DIM],
            )?,
        })
    }

    /// Embeds the face whose landmarks are `mesh` in `frame`.
    pub fn embed(&self, frame: &FrameRef, mesh: &Mesh) -> Result<Embedding> {
        let mut input = vec![0.0f32; 3 * EMBED_INPUT * EMBED_INPUT];
        // The model was trained on (pixel - 127.5) / 128.
        frame.crop_into(
            &aligned_roi(mesh),
            EMBED_INPUT,
            EMBED_INPUT,
            Border::Replicate,
            Normalize {
                scale: 255.0 / 128.0,
                offset: -127.5 / 128.0,
            },
            &mut input,
        );
        let out = self.model.run(&[&input])?;
        Embedding::new(out.into_iter().next().unwrap_or_default()).map_err(|_| Error::Inference {
            name: "embedder",
            reason: "the embedding is zero or not finite".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh_from(points: &[(usize, (f32, f32))]) -> Mesh {
        let mut p = vec![[0.0f32; 3]; crate::vision::landmarks::MESH_POINTS];
        for &(i, (x, y)) in points {
            p[i] = [x, y, 0.0];
        }
        Mesh {
            points: p,
            presence: 1.0,
            roi: Roi {
                cx: 0.0,
                cy: 0.0,
                width: 1.0,
                height: 1.0,
                angle: 0.0,
            },
        }
    }

    /// A mesh whose five points are the reference moved by `scale`, `angle` and `shift`,
    /// optionally mirrored.
    fn placed(scale: f32, angle: f32, shift: (f32, f32), mirrored: bool) -> Mesh {
        let (s, c) = angle.sin_cos();
        let map = |(x, y): (f32, f32)| {
            let (x, y) = (x + 0.5 - 56.0, y + 0.5 - 56.0);
            let x = if mirrored { -x } else { x };
            (
                shift.0 + scale * (c * x - s * y),
                shift.1 + scale * (s * x + c * y),
            )
        };
        // Unmirrored, the subject's right eye is the image-left reference point.
        let (re, le, n, mr, ml) = (
            map(REFERENCE[0]),
            map(REFERENCE[1]),
            map(REFERENCE[2]),
            map(REFERENCE[3]),
            map(REFERENCE[4]),
        );
        let mut pts = vec![
            (idx::NOSE_TIP, n),
            (idx::MOUTH_RIGHT, mr),
            (idx::MOUTH_LEFT, ml),
        ];
        pts.extend(RIGHT_EYE.iter().map(|&i| (i, re)));
        pts.extend(LEFT_EYE.iter().map(|&i| (i, le)));
        mesh_from(&pts)
    }

    #[test]
    fn aligned_roi_inverts_a_similarity() {
        for &(scale, angle, shift) in &[
            (1.0, 0.0, (56.0, 56.0)),
            (2.5, 0.3, (320.0, 240.0)),
            (0.7, -0.6, (100.0, 400.0)),
        ] {
            let roi = aligned_roi(&placed(scale, angle, shift, false));
            assert!((roi.cx - shift.0).abs() < 1e-3, "{roi:?}");
            assert!((roi.cy - shift.1).abs() < 1e-3, "{roi:?}");
            assert!((roi.width - 112.0 * scale).abs() < 1e-3, "{roi:?}");
            assert!((roi.angle - angle).abs() < 1e-4, "{roi:?}");
        }
    }

    #[test]
    fn mirrored_faces_align_upright() {
        let roi = aligned_roi(&placed(2.0, 0.2, (300.0, 200.0), true));
        // The reference is nearly symmetric: a mirrored face fits it rotated as placed.
        assert!((roi.width - 224.0).abs() < 2.0, "{roi:?}");
        assert!((roi.angle - 0.2).abs() < 0.02, "{roi:?}");
        assert!(
            (roi.cx - 300.0).abs() < 2.0 && (roi.cy - 200.0).abs() < 2.0,
            "{roi:?}"
        );
    }

    #[test]
    fn similarity_and_mean() {
        let mut a = vec![0.0; EMBED_DIM];
        a[0] = 3.0;
        let mut b = vec![0.0; EMBED_DIM];
        b[1] = -2.0;
        let (a, b) = (Embedding::new(a).unwrap(), Embedding::new(b).unwrap());
        assert!((a.similarity(&a) - 1.0).abs() < 1e-6);
        assert!(a.similarity(&b).abs() < 1e-6);
        let m = Embedding::mean([&a, &b]).unwrap();
        assert!((m.similarity(&a) - 0.5f32.sqrt()).abs() < 1e-5);
        assert!(Embedding::new(vec![0.0; EMBED_DIM]).is_err());
        assert!(Embedding::new(vec![1.0; 3]).is_err());
        assert!(Embedding::new(vec![f32::NAN; EMBED_DIM]).is_err());
        assert!(Embedding::mean([]).is_none());
    }
}

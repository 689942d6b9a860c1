//! Measurements from landmarks: eye openness, head pose, mouth opening, and how the face sits in
//! the on-screen oval. Pure functions over points; no models.

use crate::vision::detector::BBox;
use crate::vision::landmarks::{idx, Point3};

/// The 16 eyelid points of the iris model's contour, as face-mesh indices: corner, 7 lower-lid
/// points, the other corner, 7 upper-lid points. Subject's right eye.
pub const MESH_RIGHT_EYE: [usize; 16] = [
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
];
/// The same 16 eyelid points for the subject's left eye.
pub const MESH_LEFT_EYE: [usize; 16] = [
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
];

fn dist(a: &Point3, b: &Point3) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Eye aspect ratio from a 16-point eyelid contour laid out as in [`MESH_RIGHT_EYE`]: mean of
/// three lid-to-lid distances across the middle of the eye over the corner-to-corner distance.
/// About 0.25–0.3 for an open adult eye, near 0 when closed.
pub fn eye_aspect_ratio(contour: &[Point3]) -> f32 {
    let width = dist(&contour[0], &contour[8]);
    if width <= f32::EPSILON {
        return 0.0;
    }
    let gaps = dist(&contour[11], &contour[3])
        + dist(&contour[12], &contour[4])
        + dist(&contour[13], &contour[5]);
    gaps / (3.0 * width)
}

/// Picks 16 mesh points by index.
pub fn mesh_contour(points: &[Point3], indices: &[usize; 16]) -> Vec<Point3> {
    indices.iter().map(|&i| points[i]).collect()
}

/// Head orientation in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeadPose {
    /// Positive when the chin goes up (head tilted back), negative when nodding down.
    pub pitch: f32,
    /// Positive when the face turns towards the display image's right.
    pub yaw: f32,
    /// Positive when the head leans clockwise in the display image.
    pub roll: f32,
}

fn sub(a: &Point3, b: &Point3) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn normalize(v: [f32; 3]) -> [f32; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        .sqrt()
        .max(f32::EPSILON);
    [v[0] / n, v[1] / n, v[2] / n]
}

/// Head pose from the mesh: the face's x axis runs between the outer eye corners, its y axis
/// from forehead to chin (made orthogonal to x); angles are how far those axes leave the image
/// plane and how far x turns within it.
pub fn head_pose(points: &[Point3]) -> HeadPose {
    let x = normalize(sub(
        &points[idx::LEFT_EYE_OUTER],
        &points[idx::RIGHT_EYE_OUTER],
    ));
    let y_raw = sub(&points[idx::CHIN], &points[idx::FOREHEAD]);
    let d = y_raw[0] * x[0] + y_raw[1] * x[1] + y_raw[2] * x[2];
    let y = normalize([
        y_raw[0] - d * x[0],
        y_raw[1] - d * x[1],
        y_raw[2] - d * x[2],
    ]);
    HeadPose {
        pitch: (-y[2]).clamp(-1.0, 1.0).asin().to_degrees(),
        yaw: x[2].clamp(-1.0, 1.0).asin().to_degrees(),
        roll: x[1].atan2(x[0]).to_degrees(),
    }
}

/// Inner-lip gap over mouth width: about 0 closed, 0.3 and more wide open.
pub fn mouth_opening(points: &[Point3]) -> f32 {
    let width = dist(&points[idx::MOUTH_RIGHT], &points[idx::MOUTH_LEFT]);
    if width <= f32::EPSILON {
        return 0.0;
    }
    dist(&points[idx::UPPER_LIP], &points[idx::LOWER_LIP]) / width
}

/// The on-screen oval the face should fill, relative to the display image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Oval {
    /// Centre x as a fraction of display width.
    pub cx: f32,
    /// Centre y as a fraction of display height.
    pub cy: f32,
    /// Oval height as a fraction of the display's shorter side.
    pub height: f32,
    /// Width over height.
    pub aspect: f32,
}

impl Default for Oval {
    fn default() -> Self {
        Oval {
            cx: 0.5,
            cy: 0.5,
            height: 0.8,
            aspect: 0.75,
        }
    }
}

/// How a face box sits in the oval.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OvalFit {
    /// Distance of the face centre from the oval centre in oval radii (0 centred, 1 on the rim).
    pub offset: f32,
    /// Horizontal offset of the face centre in oval radii (negative: left of centre).
    pub dx: f32,
    /// Vertical offset in oval radii (negative: above centre).
    pub dy: f32,
    /// Face height over oval height.
    pub size: f32,
    /// Whether the ellipse inscribed in the face box lies inside the oval.
    pub inside: bool,
}

impl Oval {
    /// Checks the configuration: positive sizes, centre inside the image.
    pub fn validate(&self) -> crate::Result<()> {
        let ok = self.height > 0.0
            && self.height <= 1.5
            && self.aspect > 0.0
            && self.aspect <= 3.0
            && (0.0..=1.0).contains(&self.cx)
            && (0.0..=1.0).contains(&self.cy);
        if ok {
            Ok(())
        } else {
            Err(crate::Error::InvalidConfig(format!(
                "oval out of range: {self:?}"
            )))
        }
    }

    /// Centre and radii in display pixels.
    pub fn in_pixels(&self, display: (u32, u32)) -> (f32, f32, f32, f32) {
        let (w, h) = (display.0 as f32, display.1 as f32);
        let ry = 0.5 * self.height * w.min(h);
        (self.cx * w, self.cy * h, ry * self.aspect, ry)
    }

    /// How `face` sits in this oval on a display of the given size.
    pub fn fit(&self, face: &BBox, display: (u32, u32)) -> OvalFit {
        let (ox, oy, rx, ry) = self.in_pixels(display);
        let (fx, fy) = face.centre();
        let (dx, dy) = ((fx - ox) / rx, (fy - oy) / ry);
        let (hw, hh) = (face.width() * 0.5, face.height() * 0.5);
        let inside = (0..16).all(|k| {
            let a = k as f32 * std::f32::consts::TAU / 16.0;
            let px = (fx + hw * a.cos() - ox) / rx;
            let py = (fy + hh * a.sin() - oy) / ry;
            px * px + py * py <= 1.0
        });
        OvalFit {
            offset: (dx * dx + dy * dy).sqrt(),
            dx,
            dy,
            size: face.height() / (2.0 * ry),
            inside,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ear_of_open_and_closed_lids() {
        // Corners at x=0 and x=30; lids 8 px apart when open, touching when closed.
        let eye = |gap: f32| {
            let mut c = vec![[0.0f32; 3]; 16];
            c[8] = [30.0, 0.0, 0.0];
            for (lo, up) in [(3, 11), (4, 12), (5, 13)] {
                c[lo] = [15.0, gap / 2.0, 0.0];
                c[up] = [15.0, -gap / 2.0, 0.0];
            }
            c
        };
        assert!((eye_aspect_ratio(&eye(8.0)) - 8.0 / 30.0).abs() < 1e-6);
        assert_eq!(eye_aspect_ratio(&eye(0.0)), 0.0);
        assert_eq!(
            eye_aspect_ratio(&[[0.0; 3]; 16]),
            0.0,
            "degenerate eye gives 0, not NaN"
        );
    }

    fn face(yaw_deg: f32, pitch_deg: f32) -> Vec<Point3> {
        // A frontal face rotated by yaw about y, then pitch about x.
        let mut p = vec![[0.0f32; 3]; 468];
        p[idx::RIGHT_EYE_OUTER] = [-45.0, 0.0, 0.0];
        p[idx::LEFT_EYE_OUTER] = [45.0, 0.0, 0.0];
        p[idx::FOREHEAD] = [0.0, -60.0, 0.0];
        p[idx::CHIN] = [0.0, 90.0, 0.0];
        let (sy, cy) = yaw_deg.to_radians().sin_cos();
        let (sp, cp) = pitch_deg.to_radians().sin_cos();
        for q in p.iter_mut() {
            let (x, y, z) = (q[0], q[1], q[2]);
            let (x, z) = (x * cy - z * sy, x * sy + z * cy);
            let (y, z) = (y * cp + z * sp, -y * sp + z * cp);
            *q = [x, y, z];
        }
        p
    }

    #[test]
    fn pose_recovers_yaw_and_pitch() {
        let p = head_pose(&face(20.0, 0.0));
        assert!((p.yaw - 20.0).abs() < 0.5, "{p:?}");
        assert!(p.pitch.abs() < 0.5, "{p:?}");
        let p = head_pose(&face(0.0, 15.0));
        assert!((p.pitch - 15.0).abs() < 0.5, "{p:?}");
        assert!(p.roll.abs() < 0.5);
    }

    #[test]
    fn oval_fit_centred_and_off_centre() {
        let oval = Oval::default();
        let display = (480, 640);
        let (ox, oy, rx, ry) = oval.in_pixels(display);
        let b = BBox {
            x0: ox - rx * 0.6,
            y0: oy - ry * 0.7,
            x1: ox + rx * 0.6,
            y1: oy + ry * 0.7,
        };
        let fit = oval.fit(&b, display);
        assert!(
            fit.inside && fit.offset < 1e-4 && (fit.size - 0.7).abs() < 1e-4,
            "{fit:?}"
        );
        let moved = BBox {
            x0: b.x0 + rx,
            x1: b.x1 + rx,
            ..b
        };
        let fit = oval.fit(&moved, display);
        assert!(!fit.inside && (fit.dx - 1.0).abs() < 1e-4, "{fit:?}");
        assert!(Oval {
            height: 0.0,
            ..oval
        }
        .validate()
        .is_err());
    }
}

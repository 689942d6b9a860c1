//! Face vision: detection, tracked dense landmarks, eyelids, and the measurements taken from them.
//!
//! [`FaceTracker`] runs the MediaPipe-style loop on each frame: the mesh runs on the crop
//! predicted from the previous frame's landmarks; the detector runs only when there is no track,
//! and every `redetect_ms` of caller time to count faces and confirm the track. The iris model
//! (two thirds of a frame's cost) measures the eyes only when asked: while
//! [`FaceTracker::set_eyes`] is on, on the frames whose eye crops changed ([`eye_gate`]), or for
//! one face with [`Landmarker::eyes`].

pub mod detector;
pub mod eye_gate;
pub mod geometry;
pub mod identity;
pub mod landmarks;

use crate::error::Result;
use crate::frame::{FrameRef, Roi};
use crate::models::ModelSet;
use detector::{BBox, Detection, Detector, DetectorConfig};
use eye_gate::{EyeGate, EyeGateConfig};
use geometry::HeadPose;
use landmarks::{idx, EyeContour, Landmarker, Mesh};

/// The loaded vision models. Cheap to clone (plans are shared); one engine serves many trackers.
#[derive(Debug, Clone)]
pub struct VisionModels {
    /// The face detector.
    pub detector: Detector,
    /// Mesh and iris models.
    pub landmarker: Landmarker,
}

impl VisionModels {
    /// Loads, checks and optimises the vision models.
    pub fn load(models: &ModelSet) -> Result<Self> {
        Ok(VisionModels {
            detector: Detector::load(&models.detector, DetectorConfig::default())?,
            landmarker: Landmarker::load(&models.mesh, &models.iris)?,
        })
    }
}

/// Tracker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Mesh face-presence probability below which the track is lost.
    pub min_presence: f32,
    /// While tracking, run the detector again after this many milliseconds of frame time.
    pub redetect_ms: i64,
    /// Drop the track after this many re-detections in a row that do not see the tracked face.
    pub max_detector_misses: u32,
    /// While the eyes are measured on every frame, when the iris model may be skipped because
    /// the eye crops did not change ([`eye_gate`]).
    pub eye_gate: EyeGateConfig,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_presence: 0.5,
            redetect_ms: 500,
            max_detector_misses: 2,
            eye_gate: EyeGateConfig::default(),
        }
    }
}

/// Eye openness of both eyes (the subject's sides) with the contours they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Eyes {
    /// Eye aspect ratio of the subject's left eye (image right when not mirrored).
    pub left: f32,
    /// Eye aspect ratio of the subject's right eye.
    pub right: f32,
    /// Iris-model contour of the left eye.
    pub left_contour: EyeContour,
    /// Iris-model contour of the right eye.
    pub right_contour: EyeContour,
}

impl Eyes {
    /// The less open eye's aspect ratio.
    pub fn min(&self) -> f32 {
        self.left.min(self.right)
    }
}

/// The tracked face on one frame with everything measured on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// Identifies one continuous track; a new id means the face was lost and found again.
    pub track_id: u32,
    /// Box around the landmarks, display pixels.
    pub bbox: BBox,
    /// Face presence probability from the mesh.
    pub score: f32,
    /// The 468 landmarks.
    pub mesh: Mesh,
    /// Eye openness, when the eyes were measured ([`FaceTracker::set_eyes`]): on this frame, or
    /// kept from an earlier one whose eye crops look the same ([`eye_gate`]).
    pub eyes: Option<Eyes>,
    /// Head pose.
    pub pose: HeadPose,
    /// Inner-lip gap over mouth width.
    pub mouth_open: f32,
}

impl Face {
    /// Nose tip in display pixels.
    pub fn nose(&self) -> (f32, f32) {
        let p = self.mesh.points[idx::NOSE_TIP];
        (p[0], p[1])
    }
}

/// What the tracker saw on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameAnalysis {
    /// Caller's timestamp of the frame, milliseconds.
    pub t_ms: i64,
    /// Faces seen by the latest detector run (at least 1 while a face is tracked).
    pub faces: usize,
    /// Whether the detector ran on this frame.
    pub detector_ran: bool,
    /// The tracked face, if any.
    pub face: Option<Face>,
}

/// Per-attempt tracking state over one [`VisionModels`].
#[derive(Debug, Clone)]
pub struct FaceTracker {
    models: VisionModels,
    config: TrackerConfig,
    roi: Option<Roi>,
    track_id: u32,
    last_detect_ms: Option<i64>,
    faces: usize,
    misses: u32,
    eyes: bool,
    gate: EyeGate,
}

impl FaceTracker {
    /// A tracker with no face yet.
    pub fn new(models: VisionModels, config: TrackerConfig) -> Self {
        FaceTracker {
            models,
            config,
            roi: None,
            track_id: 0,
            last_detect_ms: None,
            faces: 0,
            misses: 0,
            eyes: true,
            gate: EyeGate::new(config.eye_gate),
        }
    }

    /// Whether the following frames measure the eyes (on by default). Off, [`Face::eyes`] is
    /// `None` and a frame costs a third: a session needs the eyes only while it waits for a
    /// blink. On, the iris model runs on the frames whose eye crops changed
    /// ([`TrackerConfig::eye_gate`]); the others keep the last measurement.
    pub fn set_eyes(&mut self, on: bool) {
        self.eyes = on;
    }

    /// The models this tracker runs.
    pub fn models(&self) -> &VisionModels {
        &self.models
    }

    /// Processes one frame taken at `t_ms` (caller's clock).
    pub fn process(&mut self, frame: &FrameRef, t_ms: i64) -> Result<FrameAnalysis> {
        let due = self.roi.is_none()
            || self
                .last_detect_ms
                .is_none_or(|t| t_ms - t >= self.config.redetect_ms || t_ms < t);
        let mut detections = if due {
            Some(self.detect(frame, t_ms)?)
        } else {
            None
        };

        let mut mesh = None;
        if let Some(roi) = self.roi {
            let m = self.models.landmarker.mesh(frame, &roi)?;
            let confirmed = match &detections {
                Some(d) => {
                    let seen = d.iter().any(|d| overlaps(&d.bbox, &m.bbox()));
                    self.misses = if seen { 0 } else { self.misses + 1 };
                    self.misses <= self.config.max_detector_misses
                }
                None => true,
            };
            if m.presence >= self.config.min_presence && confirmed {
                mesh = Some(m);
            }
        }
        if mesh.is_none() {
            self.roi = None;
            let dets = match detections.take() {
                Some(d) => d,
                None => self.detect(frame, t_ms)?,
            };
            if let Some(best) = largest(&dets) {
                let m = self.models.landmarker.mesh(frame, &best.mesh_roi())?;
                if m.presence >= self.config.min_presence {
                    self.track_id += 1;
                    self.misses = 0;
                    mesh = Some(m);
                }
            }
            detections = Some(dets);
        }

        let face = match mesh {
            Some(m) => {
                self.roi = Some(m.next_roi());
                Some(self.measure(frame, m, t_ms)?)
            }
            None => None,
        };
        if face.is_some() {
            self.faces = self.faces.max(1);
        }
        Ok(FrameAnalysis {
            t_ms,
            faces: self.faces,
            detector_ran: detections.is_some(),
            face,
        })
    }

    fn detect(&mut self, frame: &FrameRef, t_ms: i64) -> Result<Vec<Detection>> {
        let d = self.models.detector.detect(frame)?;
        self.last_detect_ms = Some(t_ms);
        self.faces = d.len();
        Ok(d)
    }

    fn measure(&mut self, frame: &FrameRef, mesh: Mesh, t_ms: i64) -> Result<Face> {
        let eyes = if self.eyes {
            let landmarker = &self.models.landmarker;
            Some(
                self.gate
                    .eyes(landmarker, frame, &mesh, self.track_id, t_ms)?,
            )
        } else {
            self.gate.reset();
            None
        };
        Ok(Face {
            track_id: self.track_id,
            bbox: mesh.bbox(),
            score: mesh.presence,
            pose: geometry::head_pose(&mesh.points),
            mouth_open: geometry::mouth_opening(&mesh.points),
            eyes,
            mesh,
        })
    }
}

/// Whether a detector box and a landmark box describe the same face.
fn overlaps(det: &BBox, mesh: &BBox) -> bool {
    let (cx, cy) = det.centre();
    det.iou(mesh) > 0.2 || (cx > mesh.x0 && cx < mesh.x1 && cy > mesh.y0 && cy < mesh.y1)
}

/// The biggest detection: the person holding the phone (or held up to it) is the closest face.
pub(crate) fn largest(dets: &[Detection]) -> Option<&Detection> {
    dets.iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
}

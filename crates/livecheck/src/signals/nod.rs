//! Nod (点点头): the head goes down and comes back, or up and back.

use super::motion::{Axis, MotionConfig, MotionDetector};
use super::ActionKind;

impl MotionConfig {
    /// Default nod: 10° of pitch from rest and back within 2 s, pitch moving at least 1.5×
    /// as much as yaw.
    pub fn nod() -> Self {
        MotionConfig {
            axis: Axis::Pitch,
            kind: ActionKind::Nod,
            angle: 10.0,
            both_sides: false,
            second_side: 0.0,
            max_ms: 2000,
            dominance: 1.5,
            rest_ms: 1000,
            rest_min_samples: 3,
            max_gap_ms: 500,
        }
    }
}

/// The default nod detector.
pub fn nod_detector() -> MotionDetector {
    MotionDetector::new(MotionConfig::nod())
}

//! Head shake (摇摇头): the head turns to one side and to the other, then back.

use super::motion::{Axis, MotionConfig, MotionDetector};
use super::ActionKind;

impl MotionConfig {
    /// Default shake: 12° of yaw to one side, 6° to the other and back within 3 s, yaw moving
    /// at least 1.5× as much as pitch.
    pub fn shake() -> Self {
        MotionConfig {
            axis: Axis::Yaw,
            kind: ActionKind::Shake,
            angle: 12.0,
            both_sides: true,
            second_side: 0.5,
            max_ms: 3000,
            dominance: 1.5,
            rest_ms: 1000,
            rest_min_samples: 3,
            max_gap_ms: 500,
        }
    }
}

/// The default shake detector.
pub fn shake_detector() -> MotionDetector {
    MotionDetector::new(MotionConfig::shake())
}

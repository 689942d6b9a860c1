//! Pure time-series detectors of the challenge actions: blink, nod, head shake, open mouth.
//!
//! Each detector takes one [`Measurement`] per frame (the caller's timestamp and the face's eye,
//! pose and mouth values, or no face) and returns an [`Event`] when it has seen a whole action.
//! Everything is time based (milliseconds from the caller's clock, never frame counts), so the
//! same thresholds hold from 6 to 60 fps and across dropped frames; thresholds are relative to a
//! per-person baseline learnt from the recent past, not one global value. No models, no pixels:
//! the unit tests drive them with constructed series.

mod blink;
mod motion;
mod mouth;
mod nod;
mod shake;

pub use blink::{BlinkConfig, BlinkDetector};
pub use motion::{Axis, MotionConfig, MotionDetector};
pub use mouth::{MouthConfig, MouthDetector};
pub use nod::nod_detector;
pub use shake::shake_detector;

use crate::vision::Face;

/// A challenge action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ActionKind {
    /// Close and reopen both eyes (眨眨眼).
    Blink,
    /// Head down and back, or up and back (点点头).
    Nod,
    /// Head left and right (摇摇头).
    Shake,
    /// Open the mouth (张张嘴).
    Mouth,
}

impl ActionKind {
    /// Every action, in a fixed order.
    pub const ALL: [ActionKind; 4] = [
        ActionKind::Blink,
        ActionKind::Nod,
        ActionKind::Shake,
        ActionKind::Mouth,
    ];

    /// Stable machine-readable code: `blink`, `nod`, `shake`, `mouth`.
    pub fn code(self) -> &'static str {
        match self {
            ActionKind::Blink => "blink",
            ActionKind::Nod => "nod",
            ActionKind::Shake => "shake",
            ActionKind::Mouth => "mouth",
        }
    }

    /// The action with this code, if any.
    pub fn parse(code: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One detected action.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Event {
    /// Which action.
    pub kind: ActionKind,
    /// When it started (caller clock, ms; interpolated between frames).
    pub start_ms: i64,
    /// When it was complete (caller clock, ms).
    pub end_ms: i64,
    /// How clearly it was seen, 0..1.
    pub confidence: f32,
}

/// The per-frame values the detectors read from a tracked face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceSignals {
    /// Openness of the subject's (left, right) eye (aspect ratio of the eyelid contour), when
    /// the eyes were measured on this frame (a session measures them only while it waits for
    /// a blink).
    pub eyes: Option<(f32, f32)>,
    /// Head pitch, degrees.
    pub pitch: f32,
    /// Head yaw, degrees.
    pub yaw: f32,
    /// Head roll, degrees.
    pub roll: f32,
    /// Inner-lip gap over mouth width.
    pub mouth_open: f32,
}

impl From<&Face> for FaceSignals {
    fn from(face: &Face) -> Self {
        FaceSignals {
            eyes: face.eyes.as_ref().map(|e| (e.left, e.right)),
            pitch: face.pose.pitch,
            yaw: face.pose.yaw,
            roll: face.pose.roll,
            mouth_open: face.mouth_open,
        }
    }
}

/// One frame's input to the detectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Caller timestamp, ms (increasing).
    pub t_ms: i64,
    /// The face's values, or `None` when no usable face was seen on this frame.
    pub face: Option<FaceSignals>,
}

/// A streaming detector of one action.
pub trait ActionDetector: Send {
    /// The action it detects.
    fn kind(&self) -> ActionKind;
    /// Feeds one frame; returns an event when an action has just completed.
    fn push(&mut self, m: &Measurement) -> Option<Event>;
    /// How far the action in progress has got, 0..1 (1 right after an event).
    fn progress(&self) -> f32;
    /// Forgets everything (baseline included).
    fn reset(&mut self);
}

/// The default detector of an action.
pub fn detector(kind: ActionKind) -> Box<dyn ActionDetector> {
    match kind {
        ActionKind::Blink => Box::new(BlinkDetector::new(BlinkConfig::default())),
        ActionKind::Nod => Box::new(nod_detector()),
        ActionKind::Shake => Box::new(shake_detector()),
        ActionKind::Mouth => Box::new(MouthDetector::new(MouthConfig::default())),
    }
}

/// Every default detector at once, for scanning a whole clip (`livecheck events`).
pub struct AllDetectors {
    detectors: Vec<Box<dyn ActionDetector>>,
}

impl Default for AllDetectors {
    fn default() -> Self {
        Self::new()
    }
}

impl AllDetectors {
    /// One default detector per action.
    pub fn new() -> Self {
        AllDetectors {
            detectors: ActionKind::ALL.into_iter().map(detector).collect(),
        }
    }

    /// Feeds one frame to every detector; returns the events completed on it.
    pub fn push(&mut self, m: &Measurement) -> Vec<Event> {
        self.detectors
            .iter_mut()
            .filter_map(|d| d.push(m))
            .collect()
    }
}

/// The time at which a linear segment from `(t0, v0)` to `(t1, v1)` crosses `level`
/// (clamped to the segment).
pub(crate) fn crossing(t0: i64, v0: f32, t1: i64, v1: f32, level: f32) -> i64 {
    if (v1 - v0).abs() < f32::EPSILON {
        return t1;
    }
    let a = ((level - v0) / (v1 - v0)).clamp(0.0, 1.0);
    t0 + ((t1 - t0) as f32 * a).round() as i64
}

/// Median of a non-empty slice (sorts a copy).
pub(crate) fn median(values: impl Iterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Constructed series for the detector tests.
    use super::*;

    /// A neutral open-eyed frontal face.
    pub fn still() -> FaceSignals {
        FaceSignals {
            eyes: Some((0.38, 0.36)),
            pitch: -5.0,
            yaw: 2.0,
            roll: 0.0,
            mouth_open: 0.03,
        }
    }

    /// Frame times at `fps` over `[0, ms)`, skipping the frames for which `drop` is true.
    pub fn times(fps: f32, ms: i64, drop: impl Fn(usize) -> bool) -> Vec<i64> {
        let step = 1000.0 / fps;
        (0..)
            .map(|i| (i, (i as f32 * step).round() as i64))
            .take_while(|&(_, t)| t < ms)
            .filter(|&(i, _)| !drop(i))
            .map(|(_, t)| t)
            .collect()
    }

    /// Runs a detector over a constructed series; returns all events.
    pub fn run(
        d: &mut dyn ActionDetector,
        ts: &[i64],
        f: impl Fn(i64) -> Option<FaceSignals>,
    ) -> Vec<Event> {
        ts.iter()
            .filter_map(|&t| {
                d.push(&Measurement {
                    t_ms: t,
                    face: f(t),
                })
            })
            .collect()
    }

    /// Deterministic small noise in [-1, 1] from a time.
    pub fn noise(t: i64, salt: u64) -> f32 {
        let mut x = (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 32;
        (x % 2001) as f32 / 1000.0 - 1.0
    }

    /// A smooth bump 0→1→0 over `[start, start+dur]` (raised cosine).
    pub fn bump(t: i64, start: i64, dur: i64) -> f32 {
        if t <= start || t >= start + dur {
            return 0.0;
        }
        let p = (t - start) as f32 / dur as f32;
        0.5 - 0.5 * (2.0 * std::f32::consts::PI * p).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in ActionKind::ALL {
            assert_eq!(ActionKind::parse(k.code()), Some(k));
        }
        assert_eq!(ActionKind::parse("wink"), None);
    }

    #[test]
    fn crossing_interpolates_and_clamps() {
        assert_eq!(crossing(0, 1.0, 100, 0.0, 0.5), 50);
        assert_eq!(crossing(0, 1.0, 100, 0.0, 2.0), 0);
        assert_eq!(crossing(0, 1.0, 100, 1.0, 0.5), 100);
    }

    #[test]
    fn median_of_odd_even_and_nan() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), Some(2.5));
        assert_eq!(median([f32::NAN].into_iter()), None);
    }

    #[test]
    fn all_detectors_stay_quiet_on_a_still_face() {
        let mut all = AllDetectors::new();
        for t in testing::times(30.0, 10_000, |_| false) {
            let mut f = testing::still();
            f.eyes = f.eyes.map(|(l, r)| (l + 0.01 * testing::noise(t, 1), r));
            f.pitch += 1.0 * testing::noise(t, 2);
            f.yaw += 1.0 * testing::noise(t, 3);
            let events = all.push(&Measurement {
                t_ms: t,
                face: Some(f),
            });
            assert!(events.is_empty(), "{events:?} at {t}");
        }
    }
}

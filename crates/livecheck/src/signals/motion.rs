//! Head motion on one pose axis (pitch for a nod, yaw for a shake): an excursion away from the
//! rest position beyond an angle and back, quick enough to be a gesture rather than a drift,
//! and dominant over the other axis (a nod is not a turn).

use std::collections::VecDeque;

use super::{median, ActionDetector, ActionKind, Event, FaceSignals, Measurement};

/// Which pose angle a [`MotionDetector`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Up/down (nod).
    Pitch,
    /// Left/right (shake).
    Yaw,
}

impl Axis {
    fn of(self, f: &FaceSignals) -> (f32, f32) {
        match self {
            Axis::Pitch => (f.pitch, f.yaw),
            Axis::Yaw => (f.yaw, f.pitch),
        }
    }
}

/// Thresholds of a head gesture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionConfig {
    /// Pose angle followed.
    pub axis: Axis,
    /// The action reported.
    pub kind: ActionKind,
    /// Excursion from rest needed, degrees.
    pub angle: f32,
    /// Whether the head must go to both sides (left and right for a shake); the second side
    /// needs `second_side` × `angle`.
    pub both_sides: bool,
    /// Fraction of `angle` needed on the second side.
    pub second_side: f32,
    /// Longest gesture, from leaving rest to coming back, ms (slower is a posture change).
    pub max_ms: i64,
    /// The followed axis must move this many times more than the other axis.
    pub dominance: f32,
    /// Rest is the median angle over this past window, ms.
    pub rest_ms: i64,
    /// Samples needed in the rest window.
    pub rest_min_samples: usize,
    /// A gap between frames longer than this abandons a gesture in progress, ms.
    pub max_gap_ms: i64,
}

/// A gesture in progress.
#[derive(Debug, Clone, Copy)]
struct Excursion {
    start_ms: i64,
    /// Rest angles (followed, other) when it began.
    rest: (f32, f32),
    /// Side of the first swing (+1 or -1).
    sign: f32,
    /// Largest swing on the first side, degrees from rest.
    peak: f32,
    /// Largest swing on the opposite side.
    opposite: f32,
    /// Largest movement of the other axis.
    other: f32,
    /// Came back from the first side (a two-sided gesture now needs the other side).
    returning: bool,
}

/// Streaming detector of a head gesture on one axis.
#[derive(Debug, Clone)]
pub struct MotionDetector {
    config: MotionConfig,
    /// Recent samples at rest: (t, followed angle, other angle).
    rest: VecDeque<(i64, f32, f32)>,
    last_t: Option<i64>,
    excursion: Option<Excursion>,
    done: bool,
}

impl MotionDetector {
    /// A detector with no rest position yet.
    pub fn new(config: MotionConfig) -> Self {
        MotionDetector {
            config,
            rest: VecDeque::new(),
            last_t: None,
            excursion: None,
            done: false,
        }
    }

    fn rest_position(&self) -> Option<(f32, f32)> {
        if self.rest.len() < self.config.rest_min_samples {
            return None;
        }
        Some((
            median(self.rest.iter().map(|s| s.1))?,
            median(self.rest.iter().map(|s| s.2))?,
        ))
    }

    /// Abandons the gesture in progress and starts learning rest afresh.
    fn abandon(&mut self) {
        self.excursion = None;
        self.rest.clear();
    }
}

impl ActionDetector for MotionDetector {
    fn kind(&self) -> ActionKind {
        self.config.kind
    }

    fn push(&mut self, m: &Measurement) -> Option<Event> {
        let c = self.config;
        let gap = self.last_t.map_or(0, |t| m.t_ms - t);
        self.last_t = Some(m.t_ms);
        let Some(face) = m.face else {
            self.abandon();
            return None;
        };
        if gap > c.max_gap_ms {
            self.abandon();
        }
        let (v, w) = c.axis.of(&face);
        let Some(ex) = self.excursion.as_mut() else {
            while self.rest.front().is_some_and(|s| m.t_ms - s.0 > c.rest_ms) {
                self.rest.pop_front();
            }
            if let Some(rest) = self.rest_position() {
                let d = v - rest.0;
                if d.abs() >= 0.5 * c.angle {
                    self.excursion = Some(Excursion {
                        start_ms: self.rest.back().map_or(m.t_ms, |s| s.0),
                        rest,
                        sign: d.signum(),
                        peak: d.abs(),
                        opposite: 0.0,
                        other: (w - rest.1).abs(),
                        returning: false,
                    });
                    self.done = false;
                    return None;
                }
            }
            self.rest.push_back((m.t_ms, v, w));
            return None;
        };
        let d = (v - ex.rest.0) * ex.sign;
        ex.other = ex.other.max((w - ex.rest.1).abs());
        if m.t_ms - ex.start_ms > c.max_ms {
            // Too slow for a gesture: the head has settled somewhere else.
            self.abandon();
            return None;
        }
        let near = 0.25 * c.angle;
        let complete = if !ex.returning {
            ex.peak = ex.peak.max(d);
            if d > near {
                false
            } else if ex.peak < c.angle {
                // A small movement that came back: not a gesture.
                self.excursion = None;
                return None;
            } else if c.both_sides {
                // Back through rest from the first side: now the other side is needed.
                ex.returning = true;
                ex.opposite = ex.opposite.max(-d);
                false
            } else {
                true
            }
        } else {
            ex.opposite = ex.opposite.max(-d);
            ex.opposite >= c.second_side * c.angle && d >= -near
        };
        if !complete {
            return None;
        }
        let swing = ex.peak.max(ex.opposite);
        let dominant = swing >= c.dominance * ex.other;
        let ex = *ex;
        self.excursion = None;
        self.rest.clear();
        self.rest.push_back((m.t_ms, v, w));
        if !dominant {
            return None;
        }
        self.done = true;
        let size = ((swing - c.angle) / c.angle).clamp(0.0, 1.0);
        let purity = (swing / (ex.other.max(0.5) * 2.0 * c.dominance)).min(1.0);
        Some(Event {
            kind: c.kind,
            start_ms: ex.start_ms,
            end_ms: m.t_ms,
            confidence: (0.5 + 0.5 * size) * purity,
        })
    }

    fn progress(&self) -> f32 {
        if self.done && self.excursion.is_none() {
            return 1.0;
        }
        let Some(ex) = self.excursion else {
            return 0.0;
        };
        let c = self.config;
        let first = (ex.peak / c.angle).min(1.0);
        if c.both_sides {
            0.45 * first + 0.45 * (ex.opposite / (c.second_side * c.angle)).min(1.0)
        } else {
            0.9 * first
        }
    }

    fn reset(&mut self) {
        *self = MotionDetector::new(self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bump, noise, run, still, times};
    use super::super::{nod_detector, shake_detector};
    use super::*;

    /// A still face plus pitch and yaw offsets from `f`, with ±1° landmark noise.
    fn pose(f: impl Fn(i64) -> (f32, f32)) -> impl Fn(i64) -> Option<FaceSignals> {
        move |t| {
            let (p, y) = f(t);
            let s = still();
            Some(FaceSignals {
                pitch: s.pitch + p + noise(t, 21),
                yaw: s.yaw + y + noise(t, 22),
                ..s
            })
        }
    }

    fn count(d: &mut MotionDetector, fps: f32, f: impl Fn(i64) -> (f32, f32)) -> Vec<Event> {
        run(d, &times(fps, 8000, |_| false), pose(f))
    }

    #[test]
    fn nod_down_and_up_at_6_to_60_fps() {
        for fps in [6.0, 12.0, 30.0, 60.0] {
            let down = |t| (-20.0 * bump(t, 2000, 800), 0.0);
            assert_eq!(count(&mut nod_detector(), fps, down).len(), 1, "{fps}");
            let up = |t| (18.0 * bump(t, 2000, 1000), 0.0);
            let e = count(&mut nod_detector(), fps, up);
            assert_eq!(e.len(), 1, "{fps}");
            assert!(e[0].start_ms >= 1700 && e[0].end_ms <= 3300, "{e:?}");
        }
    }

    #[test]
    fn repeated_nods_each_count() {
        let nods = |t| {
            (
                -15.0 * (bump(t, 1500, 700) + bump(t, 3000, 700) + bump(t, 4500, 700)),
                0.0,
            )
        };
        assert_eq!(count(&mut nod_detector(), 30.0, nods).len(), 3);
    }

    #[test]
    fn small_slow_or_diagonal_moves_are_not_nods() {
        let small = |t| (-6.0 * bump(t, 2000, 800), 0.0);
        assert!(count(&mut nod_detector(), 30.0, small).is_empty());
        // A posture change over 4 s.
        let slow = |t| (-20.0 * bump(t, 1500, 4000), 0.0);
        assert!(count(&mut nod_detector(), 30.0, slow).is_empty());
        // Head turned while tilting: a turn, not a nod.
        let diagonal = |t| (-15.0 * bump(t, 2000, 800), 25.0 * bump(t, 2000, 800));
        assert!(count(&mut nod_detector(), 30.0, diagonal).is_empty());
    }

    #[test]
    fn shake_needs_both_sides() {
        for fps in [6.0, 30.0, 60.0] {
            let shake = |t| (0.0, 20.0 * bump(t, 2000, 700) - 20.0 * bump(t, 2700, 700));
            assert_eq!(count(&mut shake_detector(), fps, shake).len(), 1, "{fps}");
        }
        let one_side = |t| (0.0, 25.0 * bump(t, 2000, 800));
        assert!(count(&mut shake_detector(), 30.0, one_side).is_empty());
        let shake = |t| (0.0, 20.0 * bump(t, 2000, 700) - 20.0 * bump(t, 2700, 700));
        assert!(count(&mut nod_detector(), 30.0, shake).is_empty());
    }

    #[test]
    fn lost_face_and_long_gap_abandon_the_gesture() {
        let mut d = nod_detector();
        let f = pose(|t| (-20.0 * bump(t, 2000, 800), 0.0));
        let lost = |t: i64| {
            if (2300..2400).contains(&t) {
                None
            } else {
                f(t)
            }
        };
        assert!(run(&mut d, &times(30.0, 5000, |_| false), lost).is_empty());
        let mut d = nod_detector();
        let ts = times(30.0, 5000, |i| (68..90).contains(&i));
        assert!(run(&mut d, &ts, &f).is_empty());
        // Dropping every other frame is fine.
        let mut d = nod_detector();
        assert_eq!(run(&mut d, &times(30.0, 5000, |i| i % 2 == 0), f).len(), 1);
    }

    #[test]
    fn progress_rises_through_a_nod() {
        let mut d = nod_detector();
        let f = pose(|t| (-20.0 * bump(t, 1000, 800), 0.0));
        let mut max_mid = 0.0f32;
        for t in times(30.0, 2500, |_| false) {
            d.push(&Measurement {
                t_ms: t,
                face: f(t),
            });
            if d.progress() < 1.0 {
                max_mid = max_mid.max(d.progress());
            }
        }
        assert!(max_mid > 0.5, "{max_mid}");
        assert_eq!(d.progress(), 1.0);
    }
}

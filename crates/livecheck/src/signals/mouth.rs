//! Open mouth (张张嘴): the inner-lip gap opens well beyond the person's closed-mouth baseline
//! and stays open for a moment.

use std::collections::VecDeque;

use super::{crossing, median, ActionDetector, ActionKind, Event, Measurement};

/// Open-mouth thresholds (mouth opening is the inner-lip gap over the mouth width).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MouthConfig {
    /// Opening above baseline that counts as open.
    pub delta: f32,
    /// Open for at least this long, ms (a syllable of speech is shorter).
    pub min_open_ms: i64,
    /// Baseline window, ms (median of the recent closed-mouth past).
    pub baseline_ms: i64,
    /// Samples needed in the baseline window.
    pub baseline_min_samples: usize,
    /// A gap between frames longer than this abandons an opening in progress, ms.
    pub max_gap_ms: i64,
}

impl Default for MouthConfig {
    fn default() -> Self {
        MouthConfig {
            delta: 0.2,
            min_open_ms: 400,
            baseline_ms: 2000,
            baseline_min_samples: 3,
            max_gap_ms: 500,
        }
    }
}

/// An opening in progress.
#[derive(Debug, Clone, Copy)]
struct Opening {
    start_ms: i64,
    peak: f32,
    reported: bool,
}

/// Streaming open-mouth detector.
#[derive(Debug, Clone)]
pub struct MouthDetector {
    config: MouthConfig,
    closed: VecDeque<(i64, f32)>,
    prev: Option<(i64, f32)>,
    last_t: Option<i64>,
    opening: Option<Opening>,
    done: bool,
}

impl MouthDetector {
    /// A detector with no baseline yet.
    pub fn new(config: MouthConfig) -> Self {
        MouthDetector {
            config,
            closed: VecDeque::new(),
            prev: None,
            last_t: None,
            opening: None,
            done: false,
        }
    }
}

impl ActionDetector for MouthDetector {
    fn kind(&self) -> ActionKind {
        ActionKind::Mouth
    }

    fn push(&mut self, m: &Measurement) -> Option<Event> {
        let c = self.config;
        let gap = self.last_t.map_or(0, |t| m.t_ms - t);
        self.last_t = Some(m.t_ms);
        let Some(face) = m.face else {
            self.opening = None;
            self.prev = None;
            return None;
        };
        if gap > c.max_gap_ms {
            self.opening = None;
            self.prev = None;
        }
        while self
            .closed
            .front()
            .is_some_and(|s| m.t_ms - s.0 > c.baseline_ms)
        {
            self.closed.pop_front();
        }
        let v = face.mouth_open;
        let base = if self.closed.len() >= c.baseline_min_samples {
            median(self.closed.iter().map(|s| s.1))
        } else {
            None
        };
        let Some(base) = base else {
            self.closed.push_back((m.t_ms, v));
            return None;
        };
        let level = base + c.delta;
        let prev = self.prev.replace((m.t_ms, v));
        match self.opening.as_mut() {
            None if v > level => {
                let start_ms = prev.map_or(m.t_ms, |(t0, v0)| crossing(t0, v0, m.t_ms, v, level));
                self.opening = Some(Opening {
                    start_ms,
                    peak: v - base,
                    reported: false,
                });
                self.done = false;
                None
            }
            None => {
                if v < base + 0.5 * c.delta {
                    self.closed.push_back((m.t_ms, v));
                }
                None
            }
            Some(_) if v < base + 0.5 * c.delta => {
                self.opening = None;
                self.closed.push_back((m.t_ms, v));
                None
            }
            Some(o) => {
                o.peak = o.peak.max(v - base);
                if !o.reported && m.t_ms - o.start_ms >= c.min_open_ms {
                    o.reported = true;
                    self.done = true;
                    let confidence = (o.peak / (2.0 * c.delta)).clamp(0.0, 1.0);
                    return Some(Event {
                        kind: ActionKind::Mouth,
                        start_ms: o.start_ms,
                        end_ms: m.t_ms,
                        confidence,
                    });
                }
                None
            }
        }
    }

    fn progress(&self) -> f32 {
        match self.opening {
            Some(o) if !o.reported => {
                let held = self.last_t.unwrap_or(o.start_ms) - o.start_ms;
                0.3 + 0.6 * (held as f32 / self.config.min_open_ms as f32).min(1.0)
            }
            _ if self.done => 1.0,
            _ => 0.0,
        }
    }

    fn reset(&mut self) {
        *self = MouthDetector::new(self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bump, noise, run, still, times};
    use super::super::FaceSignals;
    use super::*;

    /// A closed mouth at `closed` with openings to `closed + amp` (plateaued bumps).
    fn mouth(
        closed: f32,
        amp: f32,
        opens: &[(i64, i64)],
    ) -> impl Fn(i64) -> Option<FaceSignals> + '_ {
        move |t| {
            let o: f32 = opens
                .iter()
                .map(|&(s, d)| (2.0 * bump(t, s, d)).min(1.0))
                .sum();
            Some(FaceSignals {
                mouth_open: closed + amp * o + 0.01 * noise(t, 31),
                ..still()
            })
        }
    }

    #[test]
    fn held_opening_counts_once_at_6_to_60_fps() {
        for fps in [6.0, 15.0, 30.0, 60.0] {
            let mut d = MouthDetector::new(MouthConfig::default());
            let e = run(
                &mut d,
                &times(fps, 8000, |_| false),
                mouth(0.04, 0.45, &[(2000, 1500), (5000, 2000)]),
            );
            assert_eq!(e.len(), 2, "{fps}: {e:?}");
            assert!(e[0].end_ms - e[0].start_ms >= 400);
        }
    }

    #[test]
    fn speech_sized_openings_and_dentures_baseline() {
        // Syllables: short small openings.
        let mut d = MouthDetector::new(MouthConfig::default());
        let syllables: Vec<(i64, i64)> = (0..12).map(|i| (1500 + i * 300, 200)).collect();
        assert!(run(
            &mut d,
            &times(30.0, 6000, |_| false),
            mouth(0.04, 0.15, &syllables)
        )
        .is_empty());
        // A mouth that rests slightly open (dentures) still needs a real opening.
        let mut d = MouthDetector::new(MouthConfig::default());
        let e = run(
            &mut d,
            &times(30.0, 6000, |_| false),
            mouth(0.15, 0.4, &[(2500, 1500)]),
        );
        assert_eq!(e.len(), 1);
    }
}

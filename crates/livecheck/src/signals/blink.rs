//! Blink: both eyes close and reopen, relative to the person's own open-eye baseline.

use std::collections::VecDeque;

use super::{crossing, median, ActionDetector, ActionKind, Event, Measurement};

/// Blink thresholds. Openness is taken relative to the per-eye baseline (median over the recent
/// open-eyed past), so small or narrow eyes and glasses work without a global threshold; the
/// drop needed also grows with the baseline's own noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlinkConfig {
    /// Smallest drop of the mean openness below baseline that starts a closure (fraction of
    /// baseline). Glasses and narrow eyes give shallow blinks (15–25 % drops are common).
    pub min_drop: f32,
    /// The drop must also exceed this many robust standard deviations of the open-eye
    /// baseline, so noisy landmarks need deeper closures.
    pub noise_factor: f32,
    /// Each eye must drop at least this fraction of the required drop (a wink is not a blink).
    pub each_eye: f32,
    /// Reopened once the openness has recovered this fraction of the closure's depth.
    pub recovery: f32,
    /// Shortest closure, ms (shorter dips are landmark noise).
    pub min_closed_ms: i64,
    /// Longest time from eyes well open to closed, ms (lids close fast in a blink); at low
    /// frame rates two frame intervals are allowed (one half-closed frame in between).
    pub max_closing_ms: i64,
    /// Longest closure, ms (longer is eyes closed, not a blink; elderly blinks are slow).
    pub max_closed_ms: i64,
    /// Baseline window, ms.
    pub baseline_ms: i64,
    /// The baseline follows the median of this most recent part of the window when it is
    /// higher (the eyes opened after being lowered or closed), ms.
    pub recent_ms: i64,
    /// Samples needed in the window before a baseline is trusted.
    pub baseline_min_samples: usize,
    /// A gap between frames longer than this abandons a closure in progress, ms.
    pub max_gap_ms: i64,
}

impl Default for BlinkConfig {
    fn default() -> Self {
        BlinkConfig {
            min_drop: 0.12,
            noise_factor: 4.0,
            each_eye: 0.5,
            recovery: 0.5,
            min_closed_ms: 30,
            max_closing_ms: 200,
            max_closed_ms: 1500,
            baseline_ms: 2000,
            recent_ms: 500,
            baseline_min_samples: 3,
            max_gap_ms: 500,
        }
    }
}

/// A closure in progress.
#[derive(Debug, Clone, Copy)]
struct Closure {
    start_ms: i64,
    min_ratio: f32,
    /// Closed for longer than a blink: no event when the eyes reopen.
    expired: bool,
}

/// Streaming blink detector.
#[derive(Debug, Clone)]
pub struct BlinkDetector {
    config: BlinkConfig,
    /// Open-eyed samples: (t, left, right).
    open: VecDeque<(i64, f32, f32)>,
    /// Previous frame: (t, mean ratio), when it had a face and a baseline.
    prev: Option<(i64, f32)>,
    last_t: Option<i64>,
    closure: Option<Closure>,
    /// When the eyes were last seen well open, if they were since the last closure, face loss
    /// or gap (armed).
    last_open_ms: Option<i64>,
    done: bool,
}

impl BlinkDetector {
    /// A detector with no baseline yet.
    pub fn new(config: BlinkConfig) -> Self {
        BlinkDetector {
            config,
            open: VecDeque::new(),
            prev: None,
            last_t: None,
            closure: None,
            last_open_ms: None,
            done: false,
        }
    }

    /// Per-eye baseline and the drop that counts as closing.
    fn baseline(&self) -> Option<(f32, f32, f32)> {
        if self.open.len() < self.config.baseline_min_samples {
            return None;
        }
        // The open level: the window's median, or the last `recent_ms`' when higher (eyes
        // that were lowered or closed when the window began and have opened since).
        let last = self.open.back()?.0;
        let recent = || {
            self.open
                .iter()
                .filter(move |s| last - s.0 <= self.config.recent_ms)
        };
        let l = median(self.open.iter().map(|s| s.1))?.max(median(recent().map(|s| s.1))?);
        let r = median(self.open.iter().map(|s| s.2))?.max(median(recent().map(|s| s.2))?);
        if l <= 1e-3 || r <= 1e-3 {
            return None;
        }
        let mean = |s: &(i64, f32, f32)| 0.5 * (s.1 / l + s.2 / r);
        // Robust spread of the open level over the window, or over its recent part when
        // smaller (the window still holds a regime the eyes have left).
        let spread = |m: Option<f32>| 1.4826 * m.unwrap_or(f32::INFINITY);
        let sigma = spread(median(self.open.iter().map(|s| (mean(s) - 1.0).abs())))
            .min(spread(median(recent().map(|s| (mean(s) - 1.0).abs()))));
        let drop = self.config.min_drop.max(self.config.noise_factor * sigma);
        Some((l, r, drop))
    }
}

impl ActionDetector for BlinkDetector {
    fn kind(&self) -> ActionKind {
        ActionKind::Blink
    }

    fn push(&mut self, m: &Measurement) -> Option<Event> {
        let c = self.config;
        let gap = self.last_t.map_or(0, |t| m.t_ms - t);
        self.last_t = Some(m.t_ms);
        // Frames without a face, or without the eyes measured, say nothing about a blink.
        let Some((eye_left, eye_right)) = m.face.and_then(|f| f.eyes) else {
            self.closure = None;
            self.prev = None;
            self.last_open_ms = None;
            return None;
        };
        if gap > c.max_gap_ms {
            self.closure = None;
            self.prev = None;
            self.last_open_ms = None;
        }
        while self
            .open
            .front()
            .is_some_and(|s| m.t_ms - s.0 > c.baseline_ms)
        {
            self.open.pop_front();
        }
        let Some((bl, br, drop)) = self.baseline() else {
            self.open.push_back((m.t_ms, eye_left, eye_right));
            return None;
        };
        let (rl, rr) = (eye_left / bl, eye_right / br);
        let ratio = 0.5 * (rl + rr);
        let closed_level = 1.0 - drop;
        let prev = self.prev.replace((m.t_ms, ratio));
        let mut event = None;
        match self.closure.as_mut() {
            None => {
                // Armed once the eyes are seen well open (again): after a blink, a lost face
                // or a gap, eyes settling back to baseline do not count as a new closing.
                if ratio >= 1.0 - 0.5 * drop {
                    self.last_open_ms = Some(m.t_ms);
                }
                let each = 1.0 - c.each_eye * drop;
                // Lids that close: armed and well open at most `max_closing_ms` (or two frame
                // intervals) ago, not a slow drift down (a squint, a glance, tired eyes).
                let fast = self
                    .last_open_ms
                    .is_some_and(|t| m.t_ms - t <= c.max_closing_ms.max(2 * gap));
                if fast && ratio < closed_level && rl.max(rr) < each {
                    let start_ms = match prev {
                        Some((t0, r0)) if r0 >= closed_level => {
                            crossing(t0, r0, m.t_ms, ratio, closed_level)
                        }
                        _ => m.t_ms,
                    };
                    self.closure = Some(Closure {
                        start_ms,
                        min_ratio: ratio,
                        expired: false,
                    });
                    self.last_open_ms = None;
                    self.done = false;
                } else if ratio >= closed_level {
                    self.open.push_back((m.t_ms, eye_left, eye_right));
                }
            }
            Some(closure) => {
                closure.min_ratio = closure.min_ratio.min(ratio);
                let reopened = closure.min_ratio + c.recovery * (1.0 - closure.min_ratio);
                if ratio >= reopened {
                    let end_ms =
                        prev.map_or(m.t_ms, |(t0, r0)| crossing(t0, r0, m.t_ms, ratio, reopened));
                    let dur = end_ms - closure.start_ms;
                    if !closure.expired && (c.min_closed_ms..=c.max_closed_ms).contains(&dur) {
                        // Full confidence from a drop of three times the threshold.
                        let depth = (1.0 - closure.min_ratio) / (3.0 * drop);
                        event = Some(Event {
                            kind: ActionKind::Blink,
                            start_ms: closure.start_ms,
                            end_ms,
                            confidence: depth.clamp(0.0, 1.0),
                        });
                        self.done = true;
                    }
                    self.closure = None;
                } else if m.t_ms - closure.start_ms > c.max_closed_ms {
                    // Eyes kept closed: not a blink. Wait for them to open again.
                    closure.expired = true;
                }
            }
        }
        event
    }

    fn progress(&self) -> f32 {
        match (self.done, self.closure) {
            (true, None) => 1.0,
            (_, Some(c)) if !c.expired => 0.5,
            _ => 0.0,
        }
    }

    fn reset(&mut self) {
        *self = BlinkDetector::new(self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{noise, run, still, times};
    use super::super::FaceSignals;
    use super::*;

    /// Open eyes at `open` with a blink closing to `closed` over `[start, start+dur]`
    /// (down in a third of the time, held a third, up a third) and ±2% noise.
    fn blink_series(
        open: f32,
        closed: f32,
        blinks: &[(i64, i64)],
    ) -> impl Fn(i64) -> Option<FaceSignals> + '_ {
        move |t| {
            let mut depth = 0.0f32;
            for &(start, dur) in blinks {
                if t > start && t < start + dur {
                    let p = (t - start) as f32 / dur as f32;
                    depth = depth.max((3.0 * p.min(1.0 - p)).min(1.0));
                }
            }
            let v = open - (open - closed) * depth;
            Some(FaceSignals {
                eyes: Some((
                    v * (1.0 + 0.02 * noise(t, 11)),
                    0.95 * v * (1.0 + 0.02 * noise(t, 12)),
                )),
                ..still()
            })
        }
    }

    fn detect(fps: f32, series: impl Fn(i64) -> Option<FaceSignals>) -> Vec<Event> {
        let mut d = BlinkDetector::new(BlinkConfig::default());
        run(&mut d, &times(fps, 8000, |_| false), series)
    }

    #[test]
    fn finds_each_blink_from_6_to_60_fps() {
        let blinks = [(1500, 300), (3500, 450), (6000, 250)];
        for fps in [6.0, 10.0, 15.0, 24.0, 30.0, 60.0] {
            let events = detect(fps, blink_series(0.38, 0.05, &blinks));
            if fps < 8.0 {
                // At 6 fps a 250 ms blink can fall between frames; the others are seen.
                assert!(events.len() >= 2, "{fps} fps: {events:?}");
            } else {
                assert_eq!(events.len(), 3, "{fps} fps: {events:?}");
            }
            for e in &events {
                let (s, d) = *blinks
                    .iter()
                    .find(|b| e.start_ms < b.0 + b.1 && e.end_ms > b.0)
                    .unwrap_or_else(|| panic!("{fps} fps: event {e:?} matches no blink"));
                assert!(e.start_ms >= s - 200 && e.end_ms <= s + d + 200, "{e:?}");
                assert!(e.confidence > 0.5, "{e:?}");
            }
        }
    }

    #[test]
    fn small_old_eyes_use_their_own_baseline() {
        // Narrow eyes: open 0.16, closed 0.05 (a global 0.2 threshold would see them as shut).
        let events = detect(30.0, blink_series(0.16, 0.05, &[(2000, 400), (5000, 600)]));
        assert_eq!(events.len(), 2, "{events:?}");
    }

    #[test]
    fn slow_elderly_blink_counts_but_closed_eyes_do_not() {
        let events = detect(30.0, blink_series(0.3, 0.04, &[(2000, 1200)]));
        assert_eq!(events.len(), 1, "{events:?}");
        let events = detect(30.0, blink_series(0.3, 0.04, &[(2000, 4000)]));
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_small_dip_and_a_wink_are_not_blinks() {
        assert!(detect(30.0, blink_series(0.38, 0.35, &[(2000, 400)])).is_empty());
        let wink = |t: i64| {
            let mut f = blink_series(0.38, 0.05, &[(2000, 400)])(t)?;
            f.eyes = f.eyes.map(|(l, _)| (l, 0.36));
            Some(f)
        };
        assert!(detect(30.0, wink).is_empty());
    }

    #[test]
    fn a_slow_drift_down_is_not_a_blink() {
        // Lids creep 25 % down over 800 ms (a squint, a glance down) and back over 800 ms.
        let drift = |t: i64| {
            let p = if (2000..2800).contains(&t) {
                (t - 2000) as f32 / 800.0
            } else if (2800..3600).contains(&t) {
                (3600 - t) as f32 / 800.0
            } else {
                0.0
            };
            let v = 0.36 * (1.0 - 0.25 * p);
            Some(FaceSignals {
                eyes: Some((
                    v * (1.0 + 0.01 * noise(t, 11)),
                    v * (1.0 + 0.01 * noise(t, 12)),
                )),
                ..still()
            })
        };
        for fps in [8.0, 15.0, 30.0] {
            assert!(detect(fps, drift).is_empty(), "{fps} fps");
        }
    }

    #[test]
    fn eyes_that_open_after_starting_lowered_get_a_new_baseline() {
        // The attempt starts with the eyes half shut for 3 s (crying, dazzled), then they open
        // to 0.36 and blink 1 s later: the baseline follows them up within `recent_ms`.
        let series = |t: i64| {
            let v = if t < 3000 { 0.12 } else { 0.36 };
            let f = blink_series(v, 0.05, &[(4000, 300)])(t)?;
            Some(FaceSignals {
                eyes: if t < 3000 { Some((v, v)) } else { f.eyes },
                ..f
            })
        };
        for fps in [8.0, 15.0, 30.0] {
            let events = detect(fps, series);
            assert_eq!(events.len(), 1, "{fps} fps: {events:?}");
            assert!((3900..4400).contains(&events[0].start_ms), "{events:?}");
        }
    }

    #[test]
    fn dropped_frames_keep_blinks_and_long_gaps_cancel_them() {
        let blinks = [(1500, 300), (4000, 400)];
        let mut d = BlinkDetector::new(BlinkConfig::default());
        // Every third frame dropped.
        let ts = times(30.0, 6000, |i| i % 3 == 1);
        assert_eq!(run(&mut d, &ts, blink_series(0.38, 0.05, &blinks)).len(), 2);
        // The face vanishes in the middle of the first blink: only the second counts.
        let mut d = BlinkDetector::new(BlinkConfig::default());
        let ts = times(30.0, 6000, |_| false);
        let lost = |t: i64| {
            if (1600..1700).contains(&t) {
                None
            } else {
                blink_series(0.38, 0.05, &blinks)(t)
            }
        };
        assert_eq!(run(&mut d, &ts, lost).len(), 1);
    }

    #[test]
    fn progress_and_reset() {
        let mut d = BlinkDetector::new(BlinkConfig::default());
        let s = blink_series(0.38, 0.05, &[(1000, 400)]);
        let mut seen_half = false;
        for t in times(30.0, 2000, |_| false) {
            d.push(&Measurement {
                t_ms: t,
                face: s(t),
            });
            seen_half |= d.progress() == 0.5;
        }
        assert!(seen_half);
        assert_eq!(d.progress(), 1.0);
        d.reset();
        assert_eq!(d.progress(), 0.0);
    }
}

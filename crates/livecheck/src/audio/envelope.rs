//! Audio energy envelope: log-compressed RMS in short windows at a fixed hop, the audio side of
//! lip/audio synchrony.

/// Lowest level reported, dBFS (digital silence would otherwise be minus infinity).
pub const FLOOR_DB: f32 = -80.0;

/// A regularly sampled series: `values[i]` describes time `start_ms + i * hop_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Time of `values[0]`, ms.
    pub start_ms: f64,
    /// Spacing of the values, ms.
    pub hop_ms: f64,
    /// The values (for [`log_rms`]: dBFS, at least [`FLOOR_DB`]).
    pub values: Vec<f32>,
}

impl Envelope {
    /// Time of value `i`, ms.
    pub fn time_ms(&self, i: usize) -> f64 {
        self.start_ms + i as f64 * self.hop_ms
    }

    /// Linear interpolation at `t_ms`; `None` outside the covered span.
    pub fn at(&self, t_ms: f64) -> Option<f32> {
        if self.values.is_empty() || self.hop_ms <= 0.0 {
            return None;
        }
        let x = (t_ms - self.start_ms) / self.hop_ms;
        let last = (self.values.len() - 1) as f64;
        if !(0.0..=last).contains(&x) {
            return None;
        }
        let i = x.floor() as usize;
        let f = (x - i as f64) as f32;
        let a = self.values[i];
        let b = self.values[(i + 1).min(self.values.len() - 1)];
        Some(a + (b - a) * f)
    }
}

/// RMS level in dBFS of Hann-weighted `window_ms` windows centred every `hop_ms` (value `i`
/// at `i * hop_ms` from the first sample; windows are zero-padded at the edges), floored at
/// [`FLOOR_DB`]. A 1 kHz full-scale sine reads about -3 dB. Empty input or a zero rate, hop or
/// window gives an empty envelope.
///
/// The Hann taper (rather than a flat window) keeps the envelope smooth, so its slope, which
/// lip/audio sync correlates with mouth motion, is not dominated by samples entering and
/// leaving the window.
pub fn log_rms(samples: &[f32], sample_rate: u32, hop_ms: f64, window_ms: f64) -> Envelope {
    let mut env = Envelope {
        start_ms: 0.0,
        hop_ms,
        values: Vec::new(),
    };
    if samples.is_empty() || sample_rate == 0 || hop_ms <= 0.0 || window_ms <= 0.0 {
        return env;
    }
    let rate = sample_rate as f64;
    let half = ((window_ms * rate / 2000.0).round() as usize).max(1);
    // Hann weights over -half..=half (zero at both ends), normalised to sum 1.
    let mut weights: Vec<f64> = (0..=2 * half)
        .map(|n| {
            let x = n as f64 / (2 * half) as f64;
            0.5 - 0.5 * (2.0 * std::f64::consts::PI * x).cos()
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= total);
    let duration_ms = samples.len() as f64 * 1000.0 / rate;
    let n = (duration_ms / hop_ms).floor() as usize + 1;
    let floor = 10f64.powf(FLOOR_DB as f64 / 10.0);
    env.values = (0..n)
        .map(|i| {
            let centre = (i as f64 * hop_ms * rate / 1000.0).round() as i64;
            let mean: f64 = weights
                .iter()
                .enumerate()
                .filter_map(|(k, w)| {
                    let j = centre + k as i64 - half as i64;
                    let s = *samples.get(usize::try_from(j).ok()?)? as f64;
                    Some(w * s * s)
                })
                .sum();
            (10.0 * mean.max(floor).log10()) as f32
        })
        .collect();
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_level_and_silence_floor() {
        let mut x: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        x.extend(std::iter::repeat_n(0.0, 16_000));
        let env = log_rms(&x, 16_000, 10.0, 20.0);
        assert_eq!(env.values.len(), 201);
        assert!((env.values[50] + 3.01).abs() < 0.05, "{}", env.values[50]);
        assert_eq!(env.values[150], FLOOR_DB);
        // The edge at 1 s is half-covered by the window centred there.
        assert!((env.values[100] + 6.02).abs() < 0.1, "{}", env.values[100]);
        assert_eq!(env.at(500.0), Some(env.values[50]));
        assert!(env.at(2001.0).is_none() && env.at(-1.0).is_none());
        let mid = env.at(995.0).unwrap();
        assert!(mid < env.values[99] && mid > env.values[100]);
        assert!(log_rms(&[], 16_000, 10.0, 20.0).values.is_empty());
    }
}

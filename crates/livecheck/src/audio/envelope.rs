//! Audio energy envelope: log-compressed RMS in short windows at a fixed hop, over the whole
//! band or one frequency band, the audio side of lip/audio synchrony.

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

/// How far the loud frames of `samples` stand above the quiet ones, dB: the 95th percentile of
/// their levels ([`log_rms`], 32 ms windows every 10 ms) minus the 10th. A reading has pauses
/// (before the first digit, between digits), so its quiet frames are the background: this is
/// the speech's level over the noise behind it, about 60 dB for speech over digital silence,
/// near 0 when noise drowns it. 0 for audio shorter than 100 ms.
pub fn level_spread_db(samples: &[f32], sample_rate: u32) -> f32 {
    if (samples.len() as f64) < f64::from(sample_rate) * 0.1 {
        return 0.0;
    }
    let mut levels = log_rms(samples, sample_rate, 10.0, 32.0).values;
    levels.sort_by(f32::total_cmp);
    let q = |p: f32| levels[((levels.len() - 1) as f32 * p).round() as usize];
    q(0.95) - q(0.10)
}

/// `samples` band-limited to `low_hz..high_hz` (`None`: no upper edge): second-order
/// Butterworth high-pass and low-pass sections, each run forward then backward, so the result
/// has no phase delay (time-aligned with the input) and 24 dB/octave skirts. An edge that is
/// not strictly between 0 Hz and Nyquist is left open (no section for it).
pub fn band_pass(samples: &[f32], sample_rate: u32, low_hz: f64, high_hz: Option<f64>) -> Vec<f32> {
    let mut x: Vec<f64> = samples.iter().map(|&v| v as f64).collect();
    let rate = sample_rate as f64;
    let mut sections = vec![Biquad::butterworth(low_hz, rate, true)];
    if let Some(high) = high_hz {
        sections.push(Biquad::butterworth(high, rate, false));
    }
    for section in sections.iter().flatten() {
        section.run(&mut x);
        x.reverse();
        section.run(&mut x);
        x.reverse();
    }
    x.into_iter().map(|v| v as f32).collect()
}

/// One second-order IIR section (normalised so `a0 == 1`).
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    /// Butterworth (Q = 1/√2) high- or low-pass at `cutoff_hz` by the bilinear transform
    /// (Audio EQ Cookbook); `None` when the cutoff is not strictly between 0 and Nyquist.
    fn butterworth(cutoff_hz: f64, rate: f64, high_pass: bool) -> Option<Biquad> {
        if !(cutoff_hz > 0.0 && cutoff_hz < rate / 2.0) {
            return None;
        }
        let w0 = 2.0 * std::f64::consts::PI * cutoff_hz / rate;
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / std::f64::consts::SQRT_2;
        let a0 = 1.0 + alpha;
        let b = if high_pass {
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0]
        } else {
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0]
        };
        Some(Biquad {
            b: b.map(|v| v / a0),
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
        })
    }

    /// Filters `x` in place (direct form II transposed, zero initial state).
    fn run(&self, x: &mut [f64]) {
        let (mut z1, mut z2) = (0.0, 0.0);
        for v in x.iter_mut() {
            let input = *v;
            let y = self.b[0] * input + z1;
            z1 = self.b[1] * input - self.a[0] * y + z2;
            z2 = self.b[2] * input - self.a[1] * y;
            *v = y;
        }
    }
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

    #[test]
    fn level_spread_is_the_tone_over_the_background() {
        // Half a second of a 1 kHz tone (-3 dBFS) then half a second of pause, four times,
        // over a steady hiss at -43 dBFS (uniform noise: RMS = amplitude / sqrt 3).
        let mut state = 1u32;
        let hiss: Vec<f32> = (0..64_000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect();
        let with_hiss = |amplitude: f32| -> Vec<f32> {
            (0..64_000)
                .map(|i| {
                    let on = (i / 8_000) % 2 == 0;
                    let tone = (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin();
                    let tone = if on { tone } else { 0.0 };
                    tone + amplitude * hiss[i]
                })
                .collect()
        };
        let a = 10f32.powf(-43.0 / 20.0) * 3f32.sqrt();
        let spread = level_spread_db(&with_hiss(a), 16_000);
        assert!((spread - 40.0).abs() < 1.0, "{spread}");
        // Ten times the hiss: 20 dB less.
        let loud = level_spread_db(&with_hiss(10.0 * a), 16_000);
        assert!((spread - loud - 20.0).abs() < 1.0, "{spread} {loud}");
        // Over digital silence the floor caps it; too short to tell: 0.
        assert!((level_spread_db(&with_hiss(0.0), 16_000) - 77.0).abs() < 0.5);
        assert_eq!(level_spread_db(&[0.5; 1_000], 16_000), 0.0);
    }

    #[test]
    fn band_pass_keeps_the_band_and_rejects_the_rest() {
        let tone = |hz: f32| -> Vec<f32> {
            (0..16_000)
                .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / 16_000.0).sin())
                .collect()
        };
        let level = |x: &[f32]| log_rms(&x[4_000..12_000], 16_000, 10.0, 40.0).values[25];
        let pass = |hz: f32| level(&band_pass(&tone(hz), 16_000, 1000.0, Some(2000.0)));
        // A sine reads -3 dB. At the band's (geometric) centre each of the four passes costs
        // about 1 dB; at an edge its own section costs 3 dB twice (forward and backward); two
        // octaves out the skirts are at least 40 dB down.
        assert!((pass(1414.0) + 6.9).abs() < 0.7, "{}", pass(1414.0));
        assert!((pass(1000.0) + 9.5).abs() < 0.7, "{}", pass(1000.0));
        assert!(pass(250.0) < -43.0, "{}", pass(250.0));
        assert!(pass(7000.0) < -40.0, "{}", pass(7000.0));
        // High-pass only: the top of the spectrum passes.
        let high = level(&band_pass(&tone(7000.0), 16_000, 4000.0, None));
        assert!(high > -4.5 && high < -3.0, "{high}");
        assert_eq!(band_pass(&[], 16_000, 100.0, None), Vec::<f32>::new());
    }
}

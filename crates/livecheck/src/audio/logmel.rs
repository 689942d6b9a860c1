//! Whisper's log-mel spectrogram of one fixed window (the digit recogniser's front end).
//!
//! The same numbers as openai-whisper's `log_mel_spectrogram` (and faster-whisper's
//! `FeatureExtractor`) on a window of [`WINDOW`] samples: 400-sample periodic-Hann frames every
//! 160 samples with the signal reflect-padded by 200 at both ends, power spectrum, 80 Slaney mel
//! bands over 0–8 kHz, `log10` floored at 1e-10 and at 8 below the window's maximum, then
//! `(x + 4) / 4`. Checked against the reference tensors of `models/whisper_digits/reference`.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Samples in one window (6 s at 16 kHz).
pub const WINDOW: usize = 96_000;
/// Mel bands.
pub const BANDS: usize = 80;
/// Mel frames of one window (10 ms apart; the STFT's last frame is dropped, as Whisper does).
pub const FRAMES: usize = WINDOW / HOP;
/// FFT size and window length, samples.
const N_FFT: usize = 400;
/// Hop between frames, samples.
const HOP: usize = 160;
/// Frequency bins of the power spectrum.
const BINS: usize = N_FFT / 2 + 1;

/// The log-mel front end: FFT plan, window and filterbank, built once.
#[derive(Clone)]
pub struct LogMel {
    fft: Arc<dyn Fft<f32>>,
    hann: Vec<f32>,
    /// `BANDS` rows of `(first bin, weights)`: the non-zero span of each triangle.
    filters: Vec<(usize, Vec<f32>)>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel").finish_non_exhaustive()
    }
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    /// Plans the FFT and computes the Hann window and the mel filterbank.
    pub fn new() -> Self {
        let hann = (0..N_FFT)
            .map(|n| {
                let x = 2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        LogMel {
            fft: FftPlanner::new().plan_fft_forward(N_FFT),
            hann,
            filters: slaney_filters(),
        }
    }

    /// The `[BANDS, FRAMES]` log-mel (band-major, as Whisper's encoder takes it) of `samples`
    /// (16 kHz, in `[-1, 1]`), zero-padded or cut to [`WINDOW`].
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let n = samples.len().min(WINDOW);
        let pad = N_FFT / 2;
        // x then reflect padding: xp[i] = x[pad - i], xp[pad + WINDOW + j] = x[WINDOW - 2 - j].
        let x = |i: usize| if i < n { samples[i] } else { 0.0 };
        let padded: Vec<f32> = (0..WINDOW + 2 * pad)
            .map(|i| {
                if i < pad {
                    x(pad - i)
                } else if i < pad + WINDOW {
                    x(i - pad)
                } else {
                    x(WINDOW - 2 - (i - pad - WINDOW))
                }
            })
            .collect();
        let mut buf = vec![Complex::new(0.0f32, 0.0); N_FFT];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); self.fft.get_inplace_scratch_len()];
        let mut power = [0.0f64; BINS];
        let mut mel = vec![0.0f32; BANDS * FRAMES];
        for t in 0..FRAMES {
            let frame = &padded[t * HOP..t * HOP + N_FFT];
            for ((b, &s), &w) in buf.iter_mut().zip(frame).zip(&self.hann) {
                *b = Complex::new(s * w, 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (p, c) in power.iter_mut().zip(&buf) {
                *p = c.norm_sqr() as f64;
            }
            for (band, (first, weights)) in self.filters.iter().enumerate() {
                let energy: f64 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(&w, &p)| w as f64 * p)
                    .sum();
                mel[band * FRAMES + t] = energy.max(1e-10).log10() as f32;
            }
        }
        let top = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in &mut mel {
            *v = (v.max(top - 8.0) + 4.0) / 4.0;
        }
        mel
    }
}

/// Hz → mel on the Slaney scale (linear below 1 kHz, logarithmic above), as librosa's default.
fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

/// Mel → Hz, the inverse of [`hz_to_mel`].
fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// librosa `filters.mel(sr=16000, n_fft=400, n_mels=80)` (Slaney scale and area
/// normalisation, 0–8 kHz), each band kept as its non-zero span.
fn slaney_filters() -> Vec<(usize, Vec<f32>)> {
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
    let edges: Vec<f64> = (0..BANDS + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (BANDS + 1) as f64))
        .collect();
    let bin_hz = |k: usize| k as f64 * 16_000.0 / N_FFT as f64;
    (0..BANDS)
        .map(|m| {
            let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
            let norm = 2.0 / (right - left);
            let weights: Vec<(usize, f32)> = (0..BINS)
                .map(|k| {
                    let f = bin_hz(k);
                    let rising = (f - left) / (centre - left);
                    let falling = (right - f) / (right - centre);
                    (k, (rising.min(falling).max(0.0) * norm) as f32)
                })
                .filter(|&(_, w)| w > 0.0)
                .collect();
            let first = weights.first().map_or(0, |&(k, _)| k);
            (first, weights.into_iter().map(|(_, w)| w).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_lights_the_band_around_its_frequency_only() {
        let tone: Vec<f32> = (0..WINDOW)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mel = LogMel::new().compute(&tone);
        assert_eq!(mel.len(), BANDS * FRAMES);
        let t = FRAMES / 2;
        let (best, _) = (0..BANDS)
            .map(|b| (b, mel[b * FRAMES + t]))
            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        // 1 kHz is mel 15 of 0..45.25 over 81 intervals: band ~26.
        assert!((25..=27).contains(&best), "{best}");
        // Floor: everything at least max − 8 (scaled: −2) below the top value.
        let top = mel.iter().copied().fold(f32::MIN, f32::max);
        assert!(mel.iter().all(|&v| v >= top - 2.0 - 1e-6));
    }

    #[test]
    fn filters_cover_the_band_with_slaney_area_normalisation() {
        let f = slaney_filters();
        assert_eq!(f.len(), BANDS);
        // librosa's values: band 0 is bin 1 alone (0.024863), band 79 bins 186..=199.
        assert_eq!((f[0].0, f[0].1.len()), (1, 1));
        assert!((f[0].1[0] - 0.024_862_6).abs() < 1e-6, "{:?}", f[0]);
        assert_eq!((f[79].0, f[79].1.len()), (186, 14));
        assert!((f[79].1[7] - 0.003_141_31).abs() < 1e-7, "{:?}", f[79]);
        assert!(f.iter().all(|(_, w)| !w.is_empty()));
    }
}

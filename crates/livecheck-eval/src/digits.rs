//! `digits`: the digits challenge's audio side on real recordings, through the Rust pipeline
//! (hound → resampler → Silero VAD → Whisper log-mel + encoder → digit head → CTC beam search
//! and verification; analyser → lip/audio sync).
//!
//! - `voices`: every real voice in the data (the same units as
//!   `models/whisper_digits/data.py::sources()`: 4 FSDD speakers, 22 Speech Commands speakers,
//!   4 single-take voices, the two Debian voices that `models/whisper_digits/debian_voices.py`
//!   provisions, 6 Mandarin voices: Yue Tan, Feng Jie, and Tux Paint's, yanyu's and gcin's two
//!   (Liu, Chu Lo) that `models/whisper_digits/held_out_voices.py` provisions), read as challenges spliced from
//!   the voice's isolated takes (150–400 ms gaps, 400 ms lead (`--lead-ms`) and trail, −60 dBFS noise
//!   floor). Each challenge is scored by [`Recognition::margin`] against itself (true
//!   accept), against the same challenge with one digit changed, and against an unrelated one
//!   (false accepts).
//!   **Leave-speakers-out** (the headline): each voice is heard by the head of the fold that
//!   was trained without it (`models/whisper_digits/folds.tsv`, heads
//!   `models/whisper_digits/work/fold_K.onnx` made by `run.sh`); skipped with the command when
//!   they are missing. **Shipped head**: the same trials with `models/digits.onnx`, each voice
//!   marked seen or unseen in its training.
//! - `grid`: digit spotting in the six real GRID sentences (one digit among five other words):
//!   the one-digit challenge verified, exactly that digit decoded, digits decoded that were not said.
//! - `sync`: every GRID face against every GRID audio track: true pairs vs swapped audio.

use std::path::{Path, PathBuf};

use livecheck::audio::digits::{self, DigitModel, DigitModelBytes, Recognition};
use livecheck::audio::vad::VadModel;
use livecheck::audio::{envelope, wav, SpeechSegment};
use livecheck::sync::{check_sync, SyncConfig, SyncResult};
use livecheck::{DigitsConfig, Engine, Language};
use serde_json::{json, Value};

use crate::media::{engine, measure};
use crate::Options;

/// GRID clips and the digit each sentence says.
const GRID: [(&str, &str); 6] = [
    ("bbaf2n", "2"),
    ("brbk7n", "7"),
    ("id2_vcd_swwp2s", "2"),
    ("lbax4n", "4"),
    ("lbbc2a", "2"),
    ("lrwp9a", "9"),
];
/// Voices the shipped head was trained without (GPL-licensed recordings, see
/// `models/whisper_digits/train.py::GPL_VOICES`): unseen by it.
const SHIPPED_HEAD_UNSEEN: [&str; 7] = [
    "gcompris_en_julia",
    "gcompris_en_susan",
    "freeswitch_en_gb_richard",
    "debian_dawson",
    "gcompris_zh_fengjie",
    "tuxpaint_zh_tw",
    "gcin_zh_tw_liu",
];
/// Speech Commands file names' words, by digit.
const SC_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// Deterministic splitmix64 for building the test sequences.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn noise(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// The recogniser with its VAD.
struct Recogniser {
    vad: VadModel,
    model: DigitModel,
    bytes: DigitModelBytes,
}

impl Recogniser {
    fn hear(&self, samples: &[f32]) -> Result<Recognition, String> {
        let speech = self.vad.speech(samples).map_err(|e| e.to_string())?;
        digits::recognise(&self.model, samples, Some(&speech)).map_err(|e| e.to_string())
    }

    /// The same recogniser with the head at `path`.
    fn with_head(&self, path: &Path) -> Result<Recogniser, String> {
        let head = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes = DigitModelBytes {
            head,
            ..self.bytes.clone()
        };
        Ok(Recogniser {
            vad: self.vad.clone(),
            model: DigitModel::load(&bytes).map_err(|e| e.to_string())?,
            bytes,
        })
    }
}

/// One read challenge: what was asked, what was heard, and the verification margins (the
/// check's, the head's alone and Whisper's decoder's alone) of the challenge, of the challenge
/// with one digit changed, and of an unrelated challenge.
struct Trial {
    want: String,
    heard: String,
    genuine: f32,
    one_off: f32,
    unrelated: f32,
    head: [f32; 3],
    decoder: [f32; 3],
    /// The reading's loud frames over its quiet ones, dB ([`envelope::level_spread_db`]).
    spread_db: f32,
}

impl Trial {
    /// Scores `r` (`audio` heard by `rec`, read in `language`) for `want`; the impostor
    /// challenges draw their digits from `have`.
    fn new(
        want: String,
        audio: &[f32],
        r: &Recognition,
        rec: &Recogniser,
        language: Language,
        rng: &mut Rng,
        have: &[usize],
    ) -> Result<Trial, String> {
        let digit = |d: usize| b'0' + d as u8;
        let mut one_off: Vec<u8> = want.bytes().collect();
        let i = rng.below(one_off.len());
        one_off[i] = digit(((one_off[i] - b'0') as usize + 1 + rng.below(9)) % 10);
        let one_off = String::from_utf8(one_off).map_err(|e| e.to_string())?;
        let unrelated = loop {
            let u: String = (0..want.len())
                .map(|_| {
                    char::from(digit(if have.len() >= 4 {
                        have[rng.below(have.len())]
                    } else {
                        rng.below(10)
                    }))
                })
                .collect();
            if u.bytes().zip(want.bytes()).filter(|(a, b)| a != b).count() >= want.len().min(3) {
                break u;
            }
        };
        let head = [&want, &one_off, &unrelated].map(|c| r.margin(c));
        let mut decoder = [f32::MIN; 3];
        for (d, c) in decoder.iter_mut().zip([&want, &one_off, &unrelated]) {
            *d = rec
                .model
                .decoder_margin(r, c, language)
                .map_err(|e| e.to_string())?;
        }
        // The check's fused score with the default weight (`DigitModel::margin` without its
        // shortcut, which only skips the decoder when the score is settled either way).
        let w = DigitsConfig::new(language).decoder_weight;
        let both: Vec<f32> = (0..3)
            .map(|k| digits::fuse(head[k], decoder[k], w))
            .collect();
        Ok(Trial {
            genuine: both[0],
            one_off: both[1],
            unrelated: both[2],
            head,
            decoder,
            spread_db: envelope::level_spread_db(audio, 16_000),
            heard: r.digits.clone(),
            want,
        })
    }
}

fn read_16k(path: &Path) -> Result<Vec<f32>, String> {
    Ok(wav::read_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .to_16k()
        .samples)
}

/// How the evaluation splices each reading.
#[derive(Debug, Clone, Copy)]
struct SpliceOpts {
    /// Silence before the first digit, ms.
    lead_ms: usize,
    /// Pink noise this many dB below the speech (RMS over the takes), over the whole reading.
    snr_db: Option<f32>,
}

impl SpliceOpts {
    fn of(opts: &Options) -> Self {
        SpliceOpts {
            lead_ms: opts.lead_ms,
            snr_db: opts.snr_db,
        }
    }
}

/// Splices one take per digit into a 16 kHz utterance, `how.lead_ms` of silence before it,
/// with pink noise over it when `how.snr_db` is set (drawn from its own stream, so the
/// challenges drawn from `rng` afterwards are those of the clean reading).
fn splice(takes: &[&Vec<f32>], how: SpliceOpts, rng: &mut Rng) -> Vec<f32> {
    let ms = |n: usize| n * 16;
    let mut out = vec![0.0; ms(how.lead_ms)];
    let (mut energy, mut n) = (0.0f64, 0usize);
    for (i, t) in takes.iter().enumerate() {
        if i > 0 {
            out.extend(std::iter::repeat_n(0.0, ms(rng.range(150, 400))));
        }
        out.extend_from_slice(t);
        energy += t.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>();
        n += t.len();
    }
    out.extend(std::iter::repeat_n(0.0, ms(400)));
    for s in &mut out {
        *s += 0.001 * rng.noise();
    }
    if let Some(db) = how.snr_db {
        let noise = pink_noise(out.len(), &mut Rng(rng.0 ^ 0x05ee_d0fa_015e));
        let noise_energy: f64 = noise.iter().map(|&s| f64::from(s).powi(2)).sum();
        let noise_rms = (noise_energy / noise.len().max(1) as f64).sqrt();
        let speech_rms = (energy / n.max(1) as f64).sqrt();
        let gain = (speech_rms / 10f64.powf(f64::from(db) / 20.0) / noise_rms.max(1e-12)) as f32;
        for (s, z) in out.iter_mut().zip(noise) {
            *s += gain * z;
        }
    }
    out
}

/// `n` samples of pink (1/f) noise: Paul Kellet's filter over uniform white noise.
fn pink_noise(n: usize, rng: &mut Rng) -> Vec<f32> {
    let mut b = [0.0f32; 7];
    (0..n)
        .map(|_| {
            let w = rng.noise();
            b[0] = 0.99886 * b[0] + w * 0.055_517_9;
            b[1] = 0.99332 * b[1] + w * 0.075_075_9;
            b[2] = 0.969 * b[2] + w * 0.153_852;
            b[3] = 0.8665 * b[3] + w * 0.310_485_6;
            b[4] = 0.55 * b[4] + w * 0.532_952_2;
            b[5] = -0.7616 * b[5] - w * 0.016_898;
            let p = b[..6].iter().sum::<f32>() + b[6] + w * 0.5362;
            b[6] = w * 0.115_926;
            p
        })
        .collect()
}

/// Sequence accuracy, digit error rate (edit distance over the challenge length), and the
/// challenge check's accept rates at the default threshold and a sweep around it: genuine
/// readings accepted, readings of a one-digit-different or unrelated challenge accepted
/// (false accepts); each verifier alone as its own decision (the challenge more likely than
/// every rival: margin > 0).
fn score(trials: &[&Trial]) -> Value {
    let n = trials.len().max(1) as f64;
    let exact = trials.iter().filter(|t| t.want == t.heard).count();
    let errors: usize = trials
        .iter()
        .map(|t| edit_distance(&t.want, &t.heard))
        .sum();
    let digits: usize = trials.iter().map(|t| t.want.len()).sum();
    let misses: Vec<_> = trials
        .iter()
        .filter(|t| t.genuine <= 0.0)
        .take(5)
        .map(|t| json!([t.want, t.heard]))
        .collect();
    let rate = |f: &dyn Fn(&Trial) -> f32, tau: f32| {
        trials.iter().filter(|t| f(t) > tau).count() as f64 / n
    };
    let tau = DigitsConfig::new(Language::Auto).min_margin;
    let sweep: Vec<_> = [tau - 4.0, tau, tau + 4.0, tau + 8.0]
        .iter()
        .map(|&tau| {
            json!({
                "min_margin": tau,
                "genuine_accepted": rate(&|t| t.genuine, tau),
                "one_digit_off_accepted": rate(&|t| t.one_off, tau),
                "unrelated_accepted": rate(&|t| t.unrelated, tau),
            })
        })
        .collect();
    json!({
        "n": trials.len(),
        "seq_acc": exact as f64 / n,
        "digit_error_rate": errors as f64 / digits.max(1) as f64,
        "accepted": rate(&|t| t.genuine, tau),
        "one_digit_off_accepted": rate(&|t| t.one_off, tau),
        "unrelated_accepted": rate(&|t| t.unrelated, tau),
        "head_alone": {
            "accepted": rate(&|t| t.head[0], 0.0),
            "one_digit_off_accepted": rate(&|t| t.head[1], 0.0),
            "unrelated_accepted": rate(&|t| t.head[2], 0.0),
        },
        "decoder_alone": {
            "accepted": rate(&|t| t.decoder[0], 0.0),
            "one_digit_off_accepted": rate(&|t| t.decoder[1], 0.0),
            "unrelated_accepted": rate(&|t| t.decoder[2], 0.0),
        },
        "min_margin": tau,
        "margin_sweep": sweep,
        "examples_rejected": misses,
        "level_spread_db": {
            "p10": quantile(trials.iter().map(|t| t.spread_db), 0.1),
            "median": quantile(trials.iter().map(|t| t.spread_db), 0.5),
        },
    })
}

/// The `p` quantile of `values` (nearest rank; 0 when empty).
fn quantile(values: impl Iterator<Item = f32>, p: f32) -> f32 {
    let mut v: Vec<f32> = values.collect();
    v.sort_by(f32::total_cmp);
    v.get(((v.len().max(1) - 1) as f32 * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

/// Every trial of the voices in `results` but the `i`-th (leave-one-voice-out calibration).
fn others(results: &[(usize, Vec<Trial>)], i: usize) -> Vec<&Trial> {
    results
        .iter()
        .filter(|(j, _)| *j != i)
        .flat_map(|(_, t)| t)
        .collect()
}

/// The one-digit-off false-accept rate the thresholds are calibrated for.
const CALIBRATION_FA: f64 = 0.01;

/// Fits the fused score's decoder weight and threshold on `trials`: logistic regression of
/// genuine (1) against one-digit-off (0) readings on the clipped margins (scaled to similar
/// ranges; L2 1e-3; 4000 steps of gradient descent from zero, so the fit is deterministic),
/// whose weights' ratio is the decoder weight; then the threshold that accepts at most `fa` of
/// the one-digit-off readings. `None` without both kinds of trials or when the fit gives the
/// head no positive weight.
fn calibrate(trials: &[&Trial], fa: f64) -> Option<(f32, f32)> {
    let (hs, ds) = (
        f64::from(digits::HEAD_CLIP),
        f64::from(digits::DECODER_CLIP),
    );
    let x = |t: &Trial, k: usize| {
        let c = |v: f32, c: f64| f64::from(v).clamp(-c, c);
        [c(t.head[k], hs) / 10.0, c(t.decoder[k], ds) / 3.0, 1.0]
    };
    let data: Vec<([f64; 3], f64)> = trials
        .iter()
        .flat_map(|t| [(x(t, 0), 1.0), (x(t, 1), 0.0)])
        .collect();
    if data.is_empty() {
        return None;
    }
    let mut beta = [0.0f64; 3];
    for _ in 0..4000 {
        let mut grad = [0.0f64; 3];
        for (xi, y) in &data {
            let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let err = 1.0 / (1.0 + (-z).exp()) - y;
            for (g, v) in grad.iter_mut().zip(xi) {
                *g += err * v / data.len() as f64;
            }
        }
        for k in 0..3 {
            let l2 = if k < 2 { 1e-3 * beta[k] } else { 0.0 };
            beta[k] -= 0.5 * (grad[k] + l2);
        }
    }
    if beta[0] <= 0.0 {
        return None;
    }
    let weight = ((beta[1] / 3.0) / (beta[0] / 10.0)) as f32;
    Some((weight, threshold(trials, weight, fa)?))
}

/// The threshold on the fused score (decoder weight `weight`) that accepts at most `fa` of the
/// one-digit-off readings of `trials`.
fn threshold(trials: &[&Trial], weight: f32, fa: f64) -> Option<f32> {
    let mut off: Vec<f32> = trials
        .iter()
        .map(|t| digits::fuse(t.head[1], t.decoder[1], weight))
        .collect();
    off.sort_by(|a, b| b.total_cmp(a));
    let k = ((fa * off.len() as f64).floor() as usize).min(off.len().checked_sub(1)?);
    Some(off[k])
}

/// Challenges of 1 to 3 digits (the default threshold is calibrated on 4): for each length, the
/// threshold the default weight needs for [`CALIBRATION_FA`] on every voice, each voice scored
/// with the threshold calibrated on the others, and what the default threshold would accept.
fn lengths_table(
    rec: &Recogniser,
    all: &[Voice],
    folds: &[Vec<String>],
    heads: &[PathBuf],
    how: SpliceOpts,
    table: &mut Vec<String>,
) -> Result<Value, String> {
    let defaults = DigitsConfig::new(Language::Auto);
    let w = defaults.decoder_weight;
    table.push(String::new());
    table.push(format!("**Challenge length** (leave-speakers-out; decoder weight {w}; thresholds for {:.1} % one-digit-off accepts):", CALIBRATION_FA * 100.0));
    table.push(String::new());
    table.push("| digits | n | threshold on every voice | en accepted / one off / unrelated (calibrated without the voice) | cmn accepted / one off / unrelated | at the shipped threshold (`DigitsConfig::threshold`): en accepted / one off / unrelated; cmn |".into());
    table.push("|---|---|---|---|---|---|".into());
    let mut out = serde_json::Map::new();
    for length in 1..=3 {
        let mut results = Vec::new();
        for (held, head) in folds.iter().zip(heads) {
            results.extend(run_voices(
                rec,
                head,
                all,
                &|v| held.contains(&v.id),
                length,
                how,
            )?);
        }
        let every: Vec<&Trial> = results.iter().flat_map(|(_, t)| t).collect();
        let tau_all = threshold(&every, w, CALIBRATION_FA);
        let mut pooled: std::collections::BTreeMap<&str, [usize; 7]> = Default::default();
        for (i, trials) in &results {
            let Some(tau) = threshold(&others(&results, *i), w, CALIBRATION_FA) else {
                continue;
            };
            let count = |k: usize, tau: f32| {
                trials
                    .iter()
                    .filter(|t| digits::fuse(t.head[k], t.decoder[k], w) > tau)
                    .count()
            };
            let p = pooled.entry(all[*i].lang).or_default();
            let d = defaults.threshold(length);
            for (acc, x) in p.iter_mut().zip([
                count(0, tau),
                count(1, tau),
                count(2, tau),
                trials.len(),
                count(1, d),
                count(2, d),
                count(0, d),
            ]) {
                *acc += x;
            }
        }
        let r = |p: &[usize; 7], k: usize| p[k] as f64 / p[3].max(1) as f64;
        let (en, cmn) = (
            pooled.get("en").copied().unwrap_or_default(),
            pooled.get("cmn").copied().unwrap_or_default(),
        );
        table.push(format!(
            "| {length} | {} | {} | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} / {:.3} | {:.2}: {:.3} / {:.3} / {:.3}; {:.3} / {:.3} / {:.3} |",
            en[3] + cmn[3],
            tau_all.map_or("-".into(), |t| format!("{t:.2}")),
            r(&en, 0), r(&en, 1), r(&en, 2), r(&cmn, 0), r(&cmn, 1), r(&cmn, 2),
            defaults.threshold(length),
            r(&en, 6), r(&en, 4), r(&en, 5), r(&cmn, 6), r(&cmn, 4), r(&cmn, 5)
        ));
        let lang = |p: &[usize; 7]| json!({"n": p[3], "accepted": r(p, 0), "one_digit_off_accepted": r(p, 1), "unrelated_accepted": r(p, 2), "at_default": {"accepted": r(p, 6), "one_digit_off_accepted": r(p, 4), "unrelated_accepted": r(p, 5)}});
        out.insert(
            length.to_string(),
            json!({"threshold_on_every_voice": tau_all, "en": lang(&en), "cmn": lang(&cmn)}),
        );
    }
    Ok(Value::Object(out))
}

/// Each voice scored with a weight and threshold calibrated on every other voice's trials
/// ([`calibrate`]), pooled per language; and the calibration on every voice (what
/// [`DigitsConfig::new`]'s defaults were set from).
fn calibrated_table(
    all: &[Voice],
    results: &[(usize, Vec<Trial>)],
    table: &mut Vec<String>,
) -> Value {
    let every: Vec<&Trial> = results.iter().flat_map(|(_, t)| t).collect();
    let fit = calibrate(&every, CALIBRATION_FA);
    let defaults = DigitsConfig::new(Language::Auto);
    table.push(String::new());
    table.push(format!(
        "**Calibrated without the voice** (fusion weight and threshold fitted for {:.1} % one-digit-off accepts on every other voice, then this voice scored; on every voice the fit gives weight {} and threshold {}; defaults {} and {}):",
        CALIBRATION_FA * 100.0,
        fit.map_or("-".into(), |f| format!("{:.2}", f.0)),
        fit.map_or("-".into(), |f| format!("{:.2}", f.1)),
        defaults.decoder_weight,
        defaults.min_margin
    ));
    table.push(String::new());
    table.push("| voice | n | challenge accepted | one digit off accepted | unrelated accepted | weight / threshold |".into());
    table.push("|---|---|---|---|---|---|".into());
    let mut per_voice = serde_json::Map::new();
    let mut pooled: std::collections::BTreeMap<&str, [usize; 4]> = Default::default();
    for (i, trials) in results {
        let Some((w, tau)) = calibrate(&others(results, *i), CALIBRATION_FA) else {
            continue;
        };
        let count = |k: usize| {
            trials
                .iter()
                .filter(|t| digits::fuse(t.head[k], t.decoder[k], w) > tau)
                .count()
        };
        let (g, o, u, n) = (count(0), count(1), count(2), trials.len());
        let v = &all[*i];
        let p = pooled.entry(v.lang).or_default();
        for (acc, x) in p.iter_mut().zip([g, o, u, n]) {
            *acc += x;
        }
        let r = |x: usize| x as f64 / n.max(1) as f64;
        table.push(format!(
            "| {} ({}) | {n} | {:.3} | {:.3} | {:.3} | {w:.2} / {tau:.2} |",
            v.id,
            v.lang,
            r(g),
            r(o),
            r(u)
        ));
        per_voice.insert(
            v.id.clone(),
            json!({"n": n, "accepted": r(g), "one_digit_off_accepted": r(o), "unrelated_accepted": r(u), "weight": w, "threshold": tau}),
        );
    }
    let mut by_lang = serde_json::Map::new();
    for (lang, [g, o, u, n]) in pooled {
        let r = |x: usize| x as f64 / n.max(1) as f64;
        table.push(format!(
            "| **pooled {lang}** | {n} | {:.3} | {:.3} | {:.3} | |",
            r(g),
            r(o),
            r(u)
        ));
        by_lang.insert(
            lang.into(),
            json!({"n": n, "accepted": r(g), "one_digit_off_accepted": r(o), "unrelated_accepted": r(u)}),
        );
    }
    json!({
        "false_accept_rate": CALIBRATION_FA,
        "fit_on_every_voice": fit.map(|(w, t)| json!({"weight": w, "threshold": t})),
        "voices": per_voice,
        "pooled": by_lang,
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let cur = row[j];
            row[j] = (row[j] + 1)
                .min(row[j - 1] + 1)
                .min(prev + usize::from(a[i - 1] != b[j - 1]));
            prev = cur;
        }
    }
    row[b.len()]
}

/// One real voice: its id (as in `folds.tsv`), language and takes per digit.
struct Voice {
    id: String,
    lang: &'static str,
    /// Challenges read per evaluation (as `data.py`: more for voices with many takes).
    trials: usize,
    /// Seed of its challenges: from its place in the whole catalogue, so a `--speakers` run
    /// reads the same challenges as the full one.
    seed: u64,
    takes: Vec<Vec<PathBuf>>,
}

/// Every real voice found under `data`, `debian` (the Debian voices' folder) and `held_out`
/// (the folder of the four Mandarin voices `held_out_voices.py` provisions; named for when they
/// were evaluation only, in the folds like every other voice since 2026-12-04), in a fixed order.
fn voices(data: &Path, debian: &Path, held_out: &Path) -> Vec<Voice> {
    let mut out: Vec<Voice> = Vec::new();
    let mut add = |id: String, lang: &'static str, trials: usize, digit: usize, path: PathBuf| {
        if !path.exists() {
            return;
        }
        if out.last().is_none_or(|v| v.id != id) {
            out.push(Voice {
                id: id.clone(),
                lang,
                trials,
                seed: 9_000 + out.len() as u64,
                takes: vec![Vec::new(); 10],
            });
        }
        out.last_mut().expect("pushed").takes[digit].push(path);
    };
    for speaker in ["george", "jackson", "nicolas", "yweweler"] {
        for d in 0..10 {
            for i in 0..50 {
                let p = data.join(format!("fsdd/recordings/{d}_{speaker}_{i}.wav"));
                add(format!("fsdd_{speaker}"), "en", 60, d, p);
            }
        }
    }
    let sc = data.join("speech_extra/wav16k/speech_commands");
    let mut files: Vec<(String, usize, PathBuf)> = std::fs::read_dir(&sc)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (stem, _) = name.split_once("_nohash_")?;
            let (word, speaker) = stem.split_once('_')?;
            let d = SC_WORDS.iter().position(|w| *w == word)?;
            Some((speaker.to_string(), d, e.path()))
        })
        .collect();
    files.sort();
    for (speaker, d, p) in files {
        add(format!("sc_{speaker}"), "en", 8, d, p);
    }
    for name in [
        "gcompris_en_julia",
        "gcompris_en_susan",
        "freeswitch_en_gb_richard",
        "securimage_en",
    ] {
        for d in 0..10 {
            let p = data.join(format!("speech_extra/wav16k/{name}/{d}.wav"));
            add(name.to_string(), "en", 40, d, p);
        }
    }
    for speaker in ["allison", "dawson"] {
        for d in 0..10 {
            let p = debian.join(format!("{speaker}/digits/{d}.wav"));
            add(format!("debian_{speaker}"), "en", 40, d, p);
        }
        let oh = debian.join(format!("{speaker}/digits/oh.wav"));
        add(format!("debian_{speaker}"), "en", 40, 0, oh);
    }
    let cmn = data.join("audio_cmn/wav16k");
    let mut takes: Vec<(usize, PathBuf)> = std::fs::read_dir(&cmn)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let d = name
                .strip_prefix("yuetan_")?
                .split('_')
                .next()?
                .parse()
                .ok()?;
            Some((d, e.path()))
        })
        .collect();
    takes.sort();
    for (d, p) in takes {
        add("cmn_yuetan".into(), "cmn", 100, d, p);
    }
    for d in 0..10 {
        for dir in ["gcompris_zh_fengjie", "gcompris_zh_fengjie_2010"] {
            let p = data.join(format!("speech_extra/wav16k/{dir}/{d}.wav"));
            add("gcompris_zh_fengjie".into(), "cmn", 100, d, p);
        }
    }
    // Tux Paint, yanyu and gcin's two (`held_out_voices.py`): readings of 1 as 幺 and 2 as 两 are
    // takes of 1 and 2 (Tux Paint has none). Appended last, so the voices before keep their seeds.
    for id in [
        "tuxpaint_zh_tw",
        "yanyu_zh",
        "gcin_zh_tw_liu",
        "gcin_zh_tw_chulo",
    ] {
        for (d, alt) in (0..10).map(|d| (d, "")).chain([(1, "_yao"), (2, "_liang")]) {
            add(
                id.into(),
                "cmn",
                100,
                d,
                held_out.join(format!("{id}/{d}{alt}.wav")),
            );
        }
    }
    out
}

/// The folds of `models/whisper_digits/folds.tsv`: per fold, the voices held out.
fn folds(path: &Path) -> Result<Vec<Vec<String>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(_, v)| v.trim().split(',').map(str::to_string).collect())
        .collect())
}

/// Reads `voice.trials` challenges of `length` digits drawn from the digits the voice recorded
/// (a random take each, seeded by the voice's place), heard by `rec`.
fn voice_trials(
    rec: &Recogniser,
    voice: &Voice,
    seed: u64,
    length: usize,
    how: SpliceOpts,
) -> Result<Vec<Trial>, String> {
    let mut rng = Rng(seed);
    let have: Vec<usize> = (0..10).filter(|&d| !voice.takes[d].is_empty()).collect();
    let mut cache: std::collections::HashMap<PathBuf, Vec<f32>> = Default::default();
    let mut trials = Vec::new();
    for _ in 0..voice.trials {
        let want: Vec<usize> = (0..length).map(|_| have[rng.below(have.len())]).collect();
        let mut chosen = Vec::new();
        for &d in &want {
            let path = voice.takes[d][rng.below(voice.takes[d].len())].clone();
            if !cache.contains_key(&path) {
                cache.insert(path.clone(), read_16k(&path)?);
            }
            chosen.push(path);
        }
        let takes: Vec<&Vec<f32>> = chosen.iter().map(|p| &cache[p]).collect();
        let audio = splice(&takes, how, &mut rng);
        let want: String = want.iter().map(|&d| char::from(b'0' + d as u8)).collect();
        let language = if voice.lang == "cmn" {
            Language::Mandarin
        } else {
            Language::English
        };
        trials.push(Trial::new(
            want,
            &audio,
            &rec.hear(&audio)?,
            rec,
            language,
            &mut rng,
            &have,
        )?);
    }
    Ok(trials)
}

/// Trials per voice, by the voice's index in the catalogue.
type VoiceTrials = Vec<(usize, Vec<Trial>)>;

/// Every voice's trials of `length` digits with the head at `head` (voices filtered by
/// `keep`), two threads.
fn run_voices(
    base: &Recogniser,
    head: &Path,
    all: &[Voice],
    keep: &dyn Fn(&Voice) -> bool,
    length: usize,
    how: SpliceOpts,
) -> Result<VoiceTrials, String> {
    let rec = base.with_head(head)?;
    let todo: Vec<usize> = (0..all.len()).filter(|&i| keep(&all[i])).collect();
    let halves: Vec<Vec<usize>> = vec![
        todo.iter().copied().step_by(2).collect(),
        todo.iter().copied().skip(1).step_by(2).collect(),
    ];
    let results: Vec<Result<VoiceTrials, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = halves
            .iter()
            .map(|half| {
                let rec = &rec;
                s.spawn(move || {
                    half.iter()
                        .map(|&i| Ok((i, voice_trials(rec, &all[i], all[i].seed, length, how)?)))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

fn grid(rec: &Recogniser, data: &Path) -> Result<Value, String> {
    let mut rows = Vec::new();
    let (mut verified, mut exact, mut extra, mut wrong) = (0, 0, 0usize, 0usize);
    let config = DigitsConfig::new(Language::English);
    let tau = config.threshold(1);
    for (name, digit) in GRID {
        let heard = rec.hear(&read_16k(
            &data.join(format!("grid_lipnet/wav16k/{name}.wav")),
        )?)?;
        // The sentence against every digit: both margins, and the full fused score (the check's
        // decision; it only skips the decoder when the head settles it either way).
        let mut scores = Vec::new();
        let mut wrong_accepted = Vec::new();
        let mut margin = f32::MIN;
        for d in (0..10).map(|d| d.to_string()) {
            let (head, decoder) = (
                heard.margin(&d),
                rec.model
                    .decoder_margin(&heard, &d, config.language)
                    .map_err(|e| e.to_string())?,
            );
            let fused = digits::fuse(head, decoder, config.decoder_weight);
            if d == digit {
                margin = fused;
            } else if fused > tau {
                wrong_accepted.push(d);
            }
            scores.push([head, decoder]);
        }
        wrong += wrong_accepted.len();
        let got = heard.digits;
        verified += usize::from(margin > tau);
        exact += usize::from(got == digit);
        extra += got.len() - usize::from(got.contains(digit));
        rows.push(json!({"clip": name, "said": digit, "heard": got, "margin": margin, "wrong_digits_accepted": wrong_accepted, "head_decoder_by_digit": scores}));
    }
    Ok(json!({
        "n": GRID.len(),
        "verified": verified,
        "exact": exact,
        "false_digits": extra,
        "wrong_challenges": GRID.len() * 9,
        "wrong_accepted": wrong,
        "clips": rows,
    }))
}

/// Probability that a random true pair outscores a random swap (ties count half).
fn auc(pos: &[f32], neg: &[f32]) -> f64 {
    let mut s = 0.0;
    for p in pos {
        for n in neg {
            s += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()).max(1) as f64
}

fn sync(engine: &Engine, vad: &VadModel, data: &Path) -> Result<Value, String> {
    struct Clip {
        mouth: Vec<(i64, f32)>,
        audio: Vec<f32>,
        speech: Vec<SpeechSegment>,
    }
    let mut clips = Vec::new();
    for (name, _) in GRID {
        let video: PathBuf = data.join(format!("grid_lipnet/h264/{name}.mp4"));
        let mouth = measure(engine, &video, None)?
            .iter()
            .filter_map(|m| Some((m.t_ms, m.face?.mouth_open)))
            .collect();
        let audio = read_16k(&data.join(format!("grid_lipnet/wav16k/{name}.wav")))?;
        let speech = vad.speech(&audio).map_err(|e| e.to_string())?;
        clips.push(Clip {
            mouth,
            audio,
            speech,
        });
    }
    let config = SyncConfig::default();
    let (mut pos, mut neg, mut worst) = (Vec::new(), Vec::new(), Vec::new());
    for (i, v) in clips.iter().enumerate() {
        for (j, a) in clips.iter().enumerate() {
            let r: SyncResult = check_sync(&v.mouth, &a.audio, 0, Some(&a.speech), &config)
                .map_err(|e| e.to_string())?;
            if i == j {
                pos.push(r.confidence);
            } else {
                neg.push(r.confidence);
                worst.push((r.confidence, GRID[i].0, GRID[j].0));
            }
        }
    }
    let threshold = pos.iter().copied().fold(f32::INFINITY, f32::min);
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(json!({
        "true_pairs": pos.len(),
        "swaps": neg.len(),
        "auc": auc(&pos, &neg),
        "true_pairs_in_sync": pos.iter().filter(|&&p| p >= config.min_correlation).count(),
        "swaps_detected_at_zero_false_rejects": neg.iter().filter(|&&n| n < threshold).count(),
        "swaps_detected_at_default_threshold": neg.iter().filter(|&&n| n < config.min_correlation).count(),
        "default_threshold": config.min_correlation,
        "hardest_swaps": worst.iter().take(4).map(|(c, v, a)| json!({"video": v, "audio": a, "confidence": c})).collect::<Vec<_>>(),
    }))
}

/// One table row of per-voice or pooled [`score`]s.
fn row(label: &str, s: &Value) -> String {
    let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
    format!(
        "| {label} | {} | {:.3} | {:.3} / {:.3} | {:.3} | {:.3} / {:.3} | {:.3} | {:.3} | {:.3} |",
        s["n"],
        f("accepted"),
        s["head_alone"]["accepted"].as_f64().unwrap_or(0.0),
        s["decoder_alone"]["accepted"].as_f64().unwrap_or(0.0),
        f("one_digit_off_accepted"),
        s["head_alone"]["one_digit_off_accepted"]
            .as_f64()
            .unwrap_or(0.0),
        s["decoder_alone"]["one_digit_off_accepted"]
            .as_f64()
            .unwrap_or(0.0),
        f("unrelated_accepted"),
        f("seq_acc"),
        f("digit_error_rate")
    )
}

/// Per-voice rows and pooled rows per language (and per `group` of voices) of `results`.
fn voice_table(
    title: &str,
    all: &[Voice],
    results: &[(usize, Vec<Trial>)],
    note: &dyn Fn(&Voice) -> &'static str,
    table: &mut Vec<String>,
) -> Value {
    table.push(String::new());
    table.push(title.to_string());
    table.push(String::new());
    table.push("| voice | n | challenge accepted | head / decoder alone | one digit off accepted | head / decoder alone | unrelated accepted | sequence acc (head) | digit error rate (head) |".into());
    table.push("|---|---|---|---|---|---|---|---|---|".into());
    let mut per_voice = serde_json::Map::new();
    for (i, trials) in results {
        let v = &all[*i];
        let mut s = score(&trials.iter().collect::<Vec<_>>());
        s["lang"] = json!(v.lang);
        s["note"] = json!(note(v));
        // Every trial's margins (head, decoder; challenge, one digit off, unrelated), for
        // calibrating decision rules offline without rerunning the recogniser.
        s["trials"] = trials
            .iter()
            .map(|t| json!([t.want, t.heard, t.head, t.decoder, t.spread_db]))
            .collect();
        table.push(row(&format!("{} ({}{})", v.id, v.lang, note(v)), &s));
        per_voice.insert(v.id.clone(), s);
    }
    let mut pooled = serde_json::Map::new();
    type Keep = fn(&Voice) -> bool;
    let groups: [(&str, Keep); 5] = [
        ("en", |v| v.lang == "en"),
        ("cmn", |v| v.lang == "cmn"),
        ("en fsdd", |v| v.id.starts_with("fsdd_")),
        ("en speech commands", |v| v.id.starts_with("sc_")),
        ("en single-take voices", |v| {
            v.lang == "en" && v.trials == 40
        }),
    ];
    for (name, keep) in groups {
        let trials: Vec<&Trial> = results
            .iter()
            .filter(|(i, _)| keep(&all[*i]))
            .flat_map(|(_, t)| t)
            .collect();
        if trials.is_empty() {
            continue;
        }
        let s = score(&trials);
        table.push(row(&format!("**pooled {name}**"), &s));
        pooled.insert(name.to_string(), s);
    }
    json!({ "voices": per_voice, "pooled": pooled })
}

/// Runs every digits evaluation and prints the table and the JSON.
pub fn run(opts: &Options) -> Result<(), String> {
    let engine = engine(&opts.models)?;
    let vad = engine.vad().ok_or("no VAD model in the models directory")?;
    let bytes = livecheck::ModelSet::from_dir(&opts.models)
        .map_err(|e| e.to_string())?
        .digits
        .ok_or("no digit model in the models directory")?;
    let shipped_path = opts.models.join(livecheck::models::files::DIGITS);
    let rec = Recogniser {
        vad: vad.clone(),
        model: DigitModel::load(&bytes).map_err(|e| e.to_string())?,
        bytes,
    };
    let work = opts.root.join("models/whisper_digits");
    let mut table = vec![format!(
        "Verification at the default threshold ({}, decoder weight {}): accepted when the fused score of the two verifiers exceeds it: the head's margin (the challenge's log-likelihood against every one-digit change, deletion, swap and the beam's best readings, clipped to ±{}) plus the weight times Whisper's decoder's (each digit against the nine others in its place, weakest place; clipped to ±{}; never trained on these voices). Head / decoder alone: that verifier's margin > 0.",
        DigitsConfig::new(Language::Auto).min_margin,
        DigitsConfig::new(Language::Auto).decoder_weight,
        digits::HEAD_CLIP,
        digits::DECODER_CLIP
    )];
    let mut report = serde_json::Map::new();
    let how = SpliceOpts::of(opts);
    table.push(format!(
        "Spliced readings: {} ms of silence before the first digit; {}.",
        how.lead_ms,
        how.snr_db.map_or("no added noise".into(), |db| format!(
            "pink noise {db} dB below the speech"
        ))
    ));
    report.insert(
        "splice".into(),
        json!({ "lead_ms": how.lead_ms, "snr_db": how.snr_db }),
    );

    let lengths = opts.only.as_deref() == Some("lengths");
    if opts.wants("voices") || lengths {
        let held_out_dir = work.join("work/heldout");
        let mut all = voices(&opts.data, &opts.voices, &held_out_dir);
        if let Some(keep) = &opts.speakers {
            all.retain(|v| keep.contains(&v.id));
            if all.is_empty() {
                return Err(format!("none of the voices {keep:?} found"));
            }
        }
        if !opts.voices.join("allison/digits/9.wav").exists() {
            let why = format!(
                "the Debian voices (allison, dawson) are missing from {}: `models/whisper_digits/run.sh` provisions them",
                opts.voices.display()
            );
            println!("NOTE: {why}");
            table.push(format!("NOTE: {why}"));
        }
        if !held_out_dir.join("manifest.json").exists() {
            let why = format!(
                "the Mandarin voices tuxpaint_zh_tw, yanyu_zh, gcin_zh_tw_liu and gcin_zh_tw_chulo are missing from {}: `models/whisper_digits/held_out_voices.py` provisions them",
                held_out_dir.display()
            );
            println!("NOTE: {why}");
            table.push(format!("NOTE: {why}"));
        }
        let folds = folds(&work.join("folds.tsv"))?;
        let heads: Vec<PathBuf> = (0..folds.len())
            .map(|k| work.join(format!("work/fold_{k}.onnx")))
            .collect();
        if lengths {
            if !heads.iter().all(|h| h.exists()) {
                return Err("no fold heads in models/whisper_digits/work (`cargo xtask train-digits` makes them)".into());
            }
            let v = lengths_table(&rec, &all, &folds, &heads, how, &mut table)?;
            report.insert("lengths".into(), v);
            return crate::print_report(opts, &table, report);
        }
        if heads.iter().all(|h| h.exists()) {
            let mut results = Vec::new();
            for (k, (held, head)) in folds.iter().zip(&heads).enumerate() {
                eprintln!("fold {k}: {} voices held out", held.len());
                results.extend(run_voices(
                    &rec,
                    head,
                    &all,
                    &|v| held.contains(&v.id),
                    4,
                    how,
                )?);
            }
            results.sort_by_key(|(i, _)| *i);
            let v = voice_table(
                "**Leave-speakers-out** (each voice heard by the fold head trained without it):",
                &all,
                &results,
                &|_| "",
                &mut table,
            );
            report.insert("leave_speakers_out".into(), v);
            report.insert(
                "calibrated_without_the_voice".into(),
                calibrated_table(&all, &results, &mut table),
            );
        } else {
            let why = "SKIPPED leave-speakers-out: no fold heads in models/whisper_digits/work (`cargo xtask train-digits` makes them)";
            println!("{why}");
            table.push(why.into());
            report.insert("leave_speakers_out".into(), json!({ "skipped": why }));
        }
        let results = run_voices(&rec, &shipped_path, &all, &|_| true, 4, how)?;
        let v = voice_table(
            "**Shipped head** (`models/digits.onnx`; trained on every voice except the GPL-licensed ones, marked unseen):",
            &all,
            &results,
            &|v| {
                if SHIPPED_HEAD_UNSEEN.contains(&v.id.as_str()) {
                    ", unseen"
                } else {
                    ", seen"
                }
            },
            &mut table,
        );
        report.insert("shipped".into(), v);
    }
    if opts.wants("grid") {
        table.push(String::new());
        table.push("| GRID sentences (never trained on) | head | one-digit challenge verified | another digit accepted | exactly the digit decoded | other digits decoded |".into());
        table.push("|---|---|---|---|---|---|".into());
        let mut v = serde_json::Map::new();
        let mut heads = vec![("shipped".to_string(), shipped_path.clone())];
        for k in 0..5 {
            let p = work.join(format!("work/fold_{k}.onnx"));
            if p.exists() {
                heads.push((format!("fold {k}"), p));
            }
        }
        for (name, head) in heads {
            let g = grid(&rec.with_head(&head)?, &opts.data)?;
            table.push(format!(
                "| | {name} | {} / {} | {} / {} | {} / {} | {} |",
                g["verified"],
                g["n"],
                g["wrong_accepted"],
                g["wrong_challenges"],
                g["exact"],
                g["n"],
                g["false_digits"]
            ));
            v.insert(name, g);
        }
        report.insert("grid".into(), Value::Object(v));
    }
    if opts.wants("sync") {
        let v = sync(&engine, vad, &opts.data)?;
        table.push(String::new());
        table.push(format!(
            "| grid sync | ROC AUC; swaps detected at 0 false rejects; at default {:.2} | {:.3}; {} of {}; {} of {} |",
            v["default_threshold"].as_f64().unwrap_or(0.0), v["auc"].as_f64().unwrap_or(0.0),
            v["swaps_detected_at_zero_false_rejects"], v["swaps"],
            v["swaps_detected_at_default_threshold"], v["swaps"]
        ));
        report.insert("sync".into(), v);
    }

    crate::print_report(opts, &table, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions() {
        assert_eq!(edit_distance("4829", "4829"), 0);
        assert_eq!(edit_distance("4829", "489"), 1);
        assert_eq!(edit_distance("4829", "48299"), 1);
        assert_eq!(edit_distance("4829", "1829"), 1);
        assert_eq!(edit_distance("4829", ""), 4);
    }

    #[test]
    fn folds_hold_every_voice_out_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let folds = folds(&root.join("models/whisper_digits/folds.tsv")).unwrap();
        assert_eq!(folds.len(), 5);
        let mut all: Vec<&String> = folds.iter().flatten().collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a voice is in two folds");
        let Some((_, data, _)) = crate::media::test_inputs() else {
            return;
        };
        let work = root.join("models/whisper_digits/work");
        let found = voices(&data, &work.join("debian"), &work.join("heldout"));
        // Every voice found is in a fold (the Debian ones and Tux Paint/yanyu/gcin only once provisioned).
        for v in &found {
            assert!(all.contains(&&v.id), "{} is in no fold", v.id);
            assert!(v.takes.iter().any(|t| !t.is_empty()));
        }
        assert!(found.len() >= 31, "{} voices", found.len());
        let cmn: Vec<(&str, usize)> = found
            .iter()
            .filter(|v| v.lang == "cmn")
            .map(|v| (v.id.as_str(), v.takes.iter().map(Vec::len).sum()))
            .collect();
        if work.join("heldout/manifest.json").exists() {
            assert_eq!(
                cmn,
                [
                    ("cmn_yuetan", 11),
                    ("gcompris_zh_fengjie", 19),
                    ("tuxpaint_zh_tw", 10),
                    ("yanyu_zh", 12),
                    ("gcin_zh_tw_liu", 12),
                    ("gcin_zh_tw_chulo", 12)
                ]
            );
        } else {
            assert_eq!(cmn, [("cmn_yuetan", 11), ("gcompris_zh_fengjie", 19)]);
        }
        // Each fold holds at most two Mandarin voices (six voices, five folds), so every fold head
        // is trained on at least four others.
        for held in &folds {
            let n = held
                .iter()
                .filter(|id| found.iter().any(|v| v.lang == "cmn" && &v.id == *id))
                .count();
            assert!(n <= 2, "{held:?}");
        }
    }

    #[test]
    fn splice_adds_noise_at_the_asked_level_and_keeps_the_challenges() {
        let take: Vec<f32> = (0..8000).map(|i| 0.3 * (i as f32 * 0.07).sin()).collect();
        let takes = [&take, &take];
        let clean = SpliceOpts {
            lead_ms: 400,
            snr_db: None,
        };
        let (mut a, mut b) = (Rng(7), Rng(7));
        let quiet = splice(&takes, clean, &mut a);
        let noisy = splice(
            &takes,
            SpliceOpts {
                snr_db: Some(10.0),
                ..clean
            },
            &mut b,
        );
        // The same draws before and after: the challenges drawn next are the clean reading's.
        assert_eq!(a.next(), b.next());
        assert_eq!(quiet.len(), noisy.len());
        let power =
            |x: &[f32]| x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64;
        let added: Vec<f32> = noisy.iter().zip(&quiet).map(|(n, q)| n - q).collect();
        let snr = 10.0 * (power(&take) / power(&added)).log10();
        assert!((snr - 10.0).abs() < 0.1, "{snr} dB");
        // Pink: most of the noise's power passes a 1 kHz one-pole low-pass (white noise: a fifth).
        let low = lowpass_share(&added);
        assert!(low > 0.5, "{low}");
    }

    /// Share of the power of `x` (16 kHz) below ~1 kHz: a one-pole low-pass's output power over
    /// the input's.
    fn lowpass_share(x: &[f32]) -> f64 {
        let a = (-2.0 * std::f64::consts::PI * 1000.0 / 16000.0).exp();
        let mut y = 0.0;
        let mut low = 0.0;
        for &s in x {
            y = a * y + (1.0 - a) * f64::from(s);
            low += y * y;
        }
        low / x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
    }

    #[test]
    fn auc_of_separated_and_tied_scores() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
    }
}

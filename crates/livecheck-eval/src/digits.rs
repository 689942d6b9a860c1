//! `digits`: the digits challenge's audio side on real recordings, through the Rust pipeline
//! (hound → resampler → Silero VAD → digit model → greedy CTC; analyser → lip/audio sync).
//!
//! - `fsdd`: 4-digit challenges ([`livecheck::challenge::plan_digits`]) spliced from one real
//!   FSDD speaker's isolated takes (150–400 ms gaps, 400 ms lead and trail, −60 dBFS noise
//!   floor), per speaker. The shipped model was trained on all four FSDD speakers, so these
//!   are *seen* speakers unless `--digits-model` names a fold model and `--heldout` its
//!   held-out speaker (models/digits/train.sh makes them).
//! - `cmn`: the same from the real Mandarin speaker's isolated digits (audio_cmn; 二 as er4 or
//!   liang3 at random), seen by the shipped model.
//! - `ivr`: the same 4-digit challenges (drawn as for `fsdd`) spliced from the two real speakers
//!   that `models/digits/debian_voices.py` provisions from Debian packages into
//!   `models/digits/work/debian/` (`allison`: Asterisk core sounds, female US English; `dawson`:
//!   saytime, male): one take per digit, 0 alternately as "zero" and "oh". Whether they are seen
//!   in training follows [`SHIPPED_MODEL_HEARD_IVR`] for the shipped model and `--heldout` for a
//!   `--digits-model`. Skipped (with the provisioning command) when the directory is missing.
//! - `grid`: digit spotting in the six real GRID sentences (one digit among five other words):
//!   exactly that digit heard, the digit heard at all, and digits heard that were not said.
//! - `sync`: every GRID face against every GRID audio track: true pairs vs swapped audio.

use std::path::{Path, PathBuf};

use livecheck::audio::digits::{self, DigitModel, Recognition};
use livecheck::audio::vad::VadModel;
use livecheck::audio::{wav, SpeechSegment};
use livecheck::sync::{check_sync, SyncConfig, SyncResult};
use livecheck::{challenge, DigitsConfig, Engine, Language};
use serde_json::{json, Value};

use crate::media::{engine, measure};
use crate::Options;

/// FSDD speakers.
const FSDD: [&str; 4] = ["george", "jackson", "nicolas", "yweweler"];
/// GRID clips and the digit each sentence says.
const GRID: [(&str, &str); 6] = [
    ("bbaf2n", "2"),
    ("brbk7n", "7"),
    ("id2_vcd_swwp2s", "2"),
    ("lbax4n", "4"),
    ("lbbc2a", "2"),
    ("lrwp9a", "9"),
];
/// Real speakers provisioned by `models/digits/debian_voices.py` (`ivr` set).
const IVR: [&str; 2] = ["allison", "dawson"];
/// Whether the shipped `models/digits.onnx` was trained on the [`IVR`] speakers (a fold model
/// given with `--digits-model` is taken to be, except for the `--heldout` speakers).
const SHIPPED_MODEL_HEARD_IVR: bool = false;
/// Sequences per speaker.
const SEQUENCES: u64 = 100;

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
}

impl Recogniser {
    fn hear(&self, samples: &[f32]) -> Result<Recognition, String> {
        let speech = self.vad.speech(samples).map_err(|e| e.to_string())?;
        digits::recognise(&self.model, samples, Some(&speech)).map_err(|e| e.to_string())
    }
}

/// One read challenge: what was asked, what was heard, and how well the audio supports the
/// challenge, the challenge with one digit changed, and an unrelated challenge.
struct Trial {
    want: String,
    heard: String,
    genuine: f32,
    one_off: f32,
    unrelated: f32,
}

impl Trial {
    fn new(want: String, r: &Recognition, rng: &mut Rng, seed: u64) -> Result<Trial, String> {
        let mut one_off: Vec<u8> = want.bytes().collect();
        let i = rng.below(one_off.len());
        one_off[i] = b'0' + ((one_off[i] - b'0') as usize + 1 + rng.below(9)) as u8 % 10;
        let one_off = String::from_utf8(one_off).map_err(|e| e.to_string())?;
        let unrelated =
            challenge::plan_digits(want.len().max(2), seed ^ 0x5eed).map_err(|e| e.to_string())?;
        Ok(Trial {
            genuine: r.support(&want),
            one_off: r.support(&one_off),
            unrelated: r.support(&unrelated),
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

/// Splices one take per digit into a 16 kHz utterance.
fn splice(takes: &[&Vec<f32>], rng: &mut Rng) -> Vec<f32> {
    let ms = |n: usize| n * 16;
    let mut out = vec![0.0; ms(400)];
    for (i, t) in takes.iter().enumerate() {
        if i > 0 {
            out.extend(std::iter::repeat_n(0.0, ms(rng.range(150, 400))));
        }
        out.extend_from_slice(t);
    }
    out.extend(std::iter::repeat_n(0.0, ms(400)));
    for s in &mut out {
        *s += 0.001 * rng.noise();
    }
    out
}

/// Sequence accuracy, digit error rate (edit distance over the challenge length), and the
/// challenge check's accept rates at the default support threshold and a sweep of others:
/// genuine readings accepted, readings of a one-digit-different or unrelated challenge
/// accepted (false accepts).
fn score(trials: &[Trial]) -> Value {
    let n = trials.len().max(1) as f64;
    let exact = trials.iter().filter(|t| t.want == t.heard).count();
    let errors: usize = trials
        .iter()
        .map(|t| edit_distance(&t.want, &t.heard))
        .sum();
    let digits: usize = trials.iter().map(|t| t.want.len()).sum();
    let misses: Vec<_> = trials
        .iter()
        .filter(|t| t.want != t.heard)
        .take(5)
        .map(|t| json!([t.want, t.heard]))
        .collect();
    let rate = |f: &dyn Fn(&Trial) -> f32, tau: f32| {
        trials.iter().filter(|t| f(t) >= tau).count() as f64 / n
    };
    let sweep: Vec<_> = [0.0f32, -1.0, -2.0, -3.0, -5.0]
        .iter()
        .map(|&tau| {
            json!({
                "min_support": tau,
                "genuine_accepted": rate(&|t| t.genuine, tau),
                "one_digit_off_accepted": rate(&|t| t.one_off, tau),
                "unrelated_accepted": rate(&|t| t.unrelated, tau),
            })
        })
        .collect();
    let tau = DigitsConfig::new(Language::Auto).min_support;
    json!({
        "n": trials.len(),
        "seq_acc": exact as f64 / n,
        "digit_error_rate": errors as f64 / digits.max(1) as f64,
        "accepted": rate(&|t| t.genuine, tau),
        "one_digit_off_accepted": rate(&|t| t.one_off, tau),
        "unrelated_accepted": rate(&|t| t.unrelated, tau),
        "min_support": tau,
        "support_sweep": sweep,
        "examples_wrong": misses,
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

/// Whether `speaker` is one of the comma-separated `--heldout` speakers.
fn held_out(heldout: Option<&str>, speaker: &str) -> bool {
    heldout.is_some_and(|h| h.split(',').any(|s| s.trim() == speaker))
}

/// [`SEQUENCES`] 4-digit challenges drawn as the session draws them (seeds `first_seed`,
/// `first_seed + 1`, …), each spliced from the take `pick` chooses for each digit (it may draw
/// from `rng`, which also places the gaps), heard by `rec` and scored against the challenge.
fn challenge_trials<'a>(
    rec: &Recogniser,
    first_seed: u64,
    mut rng: Rng,
    mut pick: impl FnMut(u8, &mut Rng) -> &'a Vec<f32>,
) -> Result<Vec<Trial>, String> {
    let mut trials = Vec::new();
    for s in 0..SEQUENCES {
        let want = challenge::plan_digits(4, first_seed + s).map_err(|e| e.to_string())?;
        let chosen: Vec<&Vec<f32>> = want.bytes().map(|b| pick(b - b'0', &mut rng)).collect();
        let r = rec.hear(&splice(&chosen, &mut rng))?;
        trials.push(Trial::new(want, &r, &mut rng, s)?);
    }
    Ok(trials)
}

fn fsdd(rec: &Recogniser, data: &Path, heldout: Option<&str>) -> Result<Value, String> {
    let dir = data.join("fsdd/recordings");
    let mut out = serde_json::Map::new();
    for (k, speaker) in FSDD.iter().enumerate() {
        let mut takes: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 10];
        for (d, list) in takes.iter_mut().enumerate() {
            for i in 0..50 {
                let p = dir.join(format!("{d}_{speaker}_{i}.wav"));
                if p.exists() {
                    list.push(read_16k(&p)?);
                }
            }
        }
        let trials = challenge_trials(rec, 7_000, Rng(1000 + k as u64), |d, rng| {
            let list = &takes[d as usize];
            &list[rng.below(list.len())]
        })?;
        let mut v = score(&trials);
        v["seen_in_training"] = json!(!held_out(heldout, speaker));
        out.insert(speaker.to_string(), v);
    }
    Ok(Value::Object(out))
}

/// The `ivr` set: per [`IVR`] speaker in `voices` (`<speaker>/digits/{0..9,oh}.wav`), the
/// `fsdd` set's challenges spliced from the speaker's single take per digit, 0 alternating
/// between "zero" and "oh". `None` when `voices` lacks a speaker (not provisioned).
fn ivr(
    rec: &Recogniser,
    voices: &Path,
    seen: &dyn Fn(&str) -> bool,
) -> Result<Option<Value>, String> {
    if !IVR
        .iter()
        .all(|s| voices.join(format!("{s}/digits/9.wav")).exists())
    {
        return Ok(None);
    }
    let mut out = serde_json::Map::new();
    for (k, speaker) in IVR.iter().enumerate() {
        let dir = voices.join(format!("{speaker}/digits"));
        let takes = (0..10)
            .map(|d| read_16k(&dir.join(format!("{d}.wav"))))
            .collect::<Result<Vec<_>, _>>()?;
        let oh = dir.join("oh.wav");
        let oh = if oh.exists() {
            Some(read_16k(&oh)?)
        } else {
            None
        };
        let (mut zeros, mut ohs) = (0usize, 0usize);
        let trials = challenge_trials(rec, 7_000, Rng(2000 + k as u64), |d, _| match (d, &oh) {
            (0, Some(oh)) => {
                zeros += 1;
                if zeros % 2 == 0 {
                    ohs += 1;
                    oh
                } else {
                    &takes[0]
                }
            }
            (d, _) => &takes[d as usize],
        })?;
        let mut v = score(&trials);
        v["seen_in_training"] = json!(seen(speaker));
        v["zeros_said_as_oh"] = json!(ohs);
        out.insert(speaker.to_string(), v);
    }
    Ok(Some(Value::Object(out)))
}

fn cmn(rec: &Recogniser, data: &Path) -> Result<Value, String> {
    let dir = data.join("audio_cmn/wav16k");
    let names = [
        "0_ling2", "1_yi1", "2_er4", "3_san1", "4_si4", "5_wu3", "6_liu4", "7_qi1", "8_ba1",
        "9_jiu3",
    ];
    let mut takes = Vec::new();
    for n in names {
        takes.push(read_16k(&dir.join(format!("yuetan_{n}.wav")))?);
    }
    let liang = read_16k(&dir.join("yuetan_2_liang3.wav"))?;
    let trials = challenge_trials(rec, 9_000, Rng(77), |d, rng| match d {
        2 if rng.below(2) == 1 => &liang,
        d => &takes[d as usize],
    })?;
    let mut v = score(&trials);
    v["seen_in_training"] = json!(true);
    Ok(v)
}

fn grid(rec: &Recogniser, data: &Path) -> Result<Value, String> {
    let mut rows = Vec::new();
    let (mut exact, mut found, mut extra) = (0, 0, 0usize);
    for (name, digit) in GRID {
        let got = rec
            .hear(&read_16k(
                &data.join(format!("grid_lipnet/wav16k/{name}.wav")),
            )?)?
            .digits;
        exact += usize::from(got == digit);
        found += usize::from(got.contains(digit));
        extra += got.len() - usize::from(got.contains(digit));
        rows.push(json!({"clip": name, "said": digit, "heard": got}));
    }
    Ok(json!({
        "n": GRID.len(),
        "exact": exact,
        "digit_found": found,
        "false_digits": extra,
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

/// One table row of a challenge set's [`score`] (`unseen`: how to call a speaker not seen in
/// training).
fn challenge_row(label: &str, s: &Value, unseen: &str) -> String {
    let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
    format!(
        "| {label} ({}) | sequence acc / digit error rate; challenge accepted / one digit off accepted / unrelated accepted (n={}) | {:.3} / {:.3}; {:.3} / {:.3} / {:.3} |",
        if s["seen_in_training"] == true { "seen in training" } else { unseen },
        s["n"],
        f("seq_acc"),
        f("digit_error_rate"),
        f("accepted"),
        f("one_digit_off_accepted"),
        f("unrelated_accepted")
    )
}

/// Runs every digits evaluation and prints the table and the JSON.
pub fn run(opts: &Options) -> Result<(), String> {
    let engine = engine(&opts.models)?;
    let vad = engine.vad().ok_or("no VAD model in the models directory")?;
    let model_path = opts
        .digits_model
        .clone()
        .unwrap_or_else(|| opts.models.join(livecheck::models::files::DIGITS));
    let mut bytes = livecheck::ModelSet::from_dir(&opts.models)
        .map_err(|e| e.to_string())?
        .digits
        .ok_or("no digit model in the models directory")?;
    bytes.head =
        std::fs::read(&model_path).map_err(|e| format!("{}: {e}", model_path.display()))?;
    let model = DigitModel::load(&bytes).map_err(|e| e.to_string())?;
    let rec = Recogniser {
        vad: vad.clone(),
        model,
    };
    let heldout = opts.heldout.as_deref();
    let mut table = vec![
        format!("model: {}", model_path.display()),
        "| set | metric | value |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut report = serde_json::Map::new();
    report.insert("model".into(), json!(model_path.display().to_string()));

    if opts.wants("fsdd") {
        let v = fsdd(&rec, &opts.data, heldout)?;
        for speaker in FSDD {
            table.push(challenge_row(
                &format!("fsdd {speaker}"),
                &v[speaker],
                "held out",
            ));
        }
        report.insert("fsdd".into(), v);
    }
    if opts.wants("ivr") {
        let seen = |speaker: &str| {
            !held_out(heldout, speaker) && (opts.digits_model.is_some() || SHIPPED_MODEL_HEARD_IVR)
        };
        match ivr(&rec, &opts.voices, &seen)? {
            Some(v) => {
                for speaker in IVR {
                    table.push(challenge_row(
                        &format!("ivr {speaker}"),
                        &v[speaker],
                        "unseen",
                    ));
                }
                report.insert("ivr".into(), v);
            }
            None => {
                let why = format!(
                    "SKIPPED: no real Debian voices in {} (provision them with `models/digits/train.sh --voices-only`)",
                    opts.voices.display()
                );
                println!("ivr {why}");
                table.push(format!("| ivr | {why} | – |"));
                report.insert("ivr".into(), json!({ "skipped": why }));
            }
        }
    }
    if opts.wants("cmn") {
        let v = cmn(&rec, &opts.data)?;
        table.push(challenge_row("audio_cmn yuetan", &v, "held out"));
        report.insert("cmn".into(), v);
    }
    if opts.wants("grid") {
        let v = grid(&rec, &opts.data)?;
        table.push(format!(
            "| grid sentences | exactly the digit / digit heard / other digits heard | {} / {} / {} of {} |",
            v["exact"], v["digit_found"], v["false_digits"], v["n"]
        ));
        report.insert("grid".into(), v);
    }
    if opts.wants("sync") {
        let v = sync(&engine, vad, &opts.data)?;
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
    fn heldout_lists_speakers_separated_by_commas() {
        assert!(held_out(Some("nicolas"), "nicolas"));
        assert!(held_out(Some("allison, dawson"), "dawson"));
        assert!(!held_out(Some("allison,dawson"), "nicolas"));
        assert!(!held_out(None, "allison"));
    }

    #[test]
    fn auc_of_separated_and_tied_scores() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
    }
}

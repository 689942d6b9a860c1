//! `digits`: the digits challenge's audio side on real recordings, through the Rust pipeline
//! (hound → resampler → Silero VAD → Whisper log-mel + encoder → digit head → CTC beam search
//! and verification; analyser → lip/audio sync).
//!
//! - `voices`: every real voice in the data (the same units as
//!   `models/whisper_digits/data.py::sources()`: 4 FSDD speakers, 22 Speech Commands speakers,
//!   4 single-take voices, the two Debian voices that `models/whisper_digits/debian_voices.py`
//!   provisions, 6 Mandarin voices: Yue Tan, Feng Jie, and Tux Paint's, yanyu's and gcin's two
//!   (Liu, Chu Lo) that `models/whisper_digits/held_out_voices.py` provisions), read as challenges spliced from
//!   the voice's isolated takes (150–400 ms gaps, 400 ms lead and trail, −60 dBFS noise
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
use livecheck::audio::{wav, SpeechSegment};
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
}

impl Trial {
    /// Scores `r` (heard by `rec`, read in `language`) for `want`; the impostor challenges draw
    /// their digits from `have`.
    fn new(
        want: String,
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
            if u.bytes().zip(want.bytes()).filter(|(a, b)| a != b).count() >= 3 {
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
        // Accepted at θ when either verifier exceeds θ: what `DigitModel::margin` decides at
        // every θ of the sweep.
        let both: Vec<f32> = (0..3).map(|k| head[k].max(decoder[k])).collect();
        Ok(Trial {
            genuine: both[0],
            one_off: both[1],
            unrelated: both[2],
            head,
            decoder,
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
/// challenge check's accept rates at the default margin and a sweep of stricter ones: genuine
/// readings accepted, readings of a one-digit-different or unrelated challenge accepted
/// (false accepts).
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
    let sweep: Vec<_> = [0.0f32, 1.0, 2.0, 4.0]
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
    let tau = DigitsConfig::new(Language::Auto).min_margin;
    json!({
        "n": trials.len(),
        "seq_acc": exact as f64 / n,
        "digit_error_rate": errors as f64 / digits.max(1) as f64,
        "accepted": rate(&|t| t.genuine, tau),
        "one_digit_off_accepted": rate(&|t| t.one_off, tau),
        "unrelated_accepted": rate(&|t| t.unrelated, tau),
        "head_alone": {
            "accepted": rate(&|t| t.head[0], tau),
            "one_digit_off_accepted": rate(&|t| t.head[1], tau),
            "unrelated_accepted": rate(&|t| t.head[2], tau),
        },
        "decoder_alone": {
            "accepted": rate(&|t| t.decoder[0], tau),
            "one_digit_off_accepted": rate(&|t| t.decoder[1], tau),
            "unrelated_accepted": rate(&|t| t.decoder[2], tau),
        },
        "min_margin": tau,
        "margin_sweep": sweep,
        "examples_rejected": misses,
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

/// Reads `voice.trials` challenges of 4 digits drawn from the digits the voice recorded (a
/// random take each, seeded by the voice's place), heard by `rec`.
fn voice_trials(rec: &Recogniser, voice: &Voice, seed: u64) -> Result<Vec<Trial>, String> {
    let mut rng = Rng(seed);
    let have: Vec<usize> = (0..10).filter(|&d| !voice.takes[d].is_empty()).collect();
    let mut cache: std::collections::HashMap<PathBuf, Vec<f32>> = Default::default();
    let mut trials = Vec::new();
    for _ in 0..voice.trials {
        let want: Vec<usize> = (0..4).map(|_| have[rng.below(have.len())]).collect();
        let mut chosen = Vec::new();
        for &d in &want {
            let path = voice.takes[d][rng.below(voice.takes[d].len())].clone();
            if !cache.contains_key(&path) {
                cache.insert(path.clone(), read_16k(&path)?);
            }
            chosen.push(path);
        }
        let takes: Vec<&Vec<f32>> = chosen.iter().map(|p| &cache[p]).collect();
        let audio = splice(&takes, &mut rng);
        let want: String = want.iter().map(|&d| char::from(b'0' + d as u8)).collect();
        let language = if voice.lang == "cmn" {
            Language::Mandarin
        } else {
            Language::English
        };
        trials.push(Trial::new(
            want,
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

/// Every voice's trials with the head at `head` (voices filtered by `keep`), two threads.
fn run_voices(
    base: &Recogniser,
    head: &Path,
    all: &[Voice],
    keep: &dyn Fn(&Voice) -> bool,
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
                        .map(|&i| Ok((i, voice_trials(rec, &all[i], all[i].seed)?)))
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
    let (mut verified, mut exact, mut extra) = (0, 0, 0usize);
    for (name, digit) in GRID {
        let heard = rec.hear(&read_16k(
            &data.join(format!("grid_lipnet/wav16k/{name}.wav")),
        )?)?;
        let tau = DigitsConfig::new(Language::Auto).min_margin;
        let margin = rec
            .model
            .margin(&heard, digit, Language::English, tau)
            .map_err(|e| e.to_string())?;
        let got = heard.digits;
        verified += usize::from(margin > tau);
        exact += usize::from(got == digit);
        extra += got.len() - usize::from(got.contains(digit));
        rows.push(json!({"clip": name, "said": digit, "heard": got, "margin": margin}));
    }
    Ok(json!({
        "n": GRID.len(),
        "verified": verified,
        "exact": exact,
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
        "Verification at the default margin ({}): accepted when either verifier puts the challenge above its rivals: the head (more likely than every one-digit change, deletion, swap and the beam's best readings) or Whisper's decoder (every digit beats the nine others in its place; never trained on these voices).",
        DigitsConfig::new(Language::Auto).min_margin
    )];
    let mut report = serde_json::Map::new();

    if opts.wants("voices") {
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
        if heads.iter().all(|h| h.exists()) {
            let mut results = Vec::new();
            for (k, (held, head)) in folds.iter().zip(&heads).enumerate() {
                eprintln!("fold {k}: {} voices held out", held.len());
                results.extend(run_voices(&rec, head, &all, &|v| held.contains(&v.id))?);
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
        } else {
            let why = "SKIPPED leave-speakers-out: no fold heads in models/whisper_digits/work (`cargo xtask train-digits` makes them)";
            println!("{why}");
            table.push(why.into());
            report.insert("leave_speakers_out".into(), json!({ "skipped": why }));
        }
        let results = run_voices(&rec, &shipped_path, &all, &|_| true)?;
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
        table.push("| GRID sentences (never trained on) | head | one-digit challenge verified | exactly the digit decoded | other digits decoded |".into());
        table.push("|---|---|---|---|---|".into());
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
                "| | {name} | {} / {} | {} / {} | {} |",
                g["verified"], g["n"], g["exact"], g["n"], g["false_digits"]
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
    fn auc_of_separated_and_tied_scores() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
    }
}

//! The audio side of the digits challenge on real 3 s GRID clips, single thread: what
//! `Session::finish` does in a digits session once the frames are in.
//!
//! `cargo bench -p livecheck-benches --bench digits` (needs `cargo xtask models` and
//! `../shared/data`). Groups (`digits/*`):
//! - `load`: parsing and optimising the three digit models (engine load with the digits pack);
//! - `model_sha256`: SHA-256 of every model's bytes (all seven; `Engine::load` takes them for
//!   the evidence);
//! - `vad`: Silero VAD over the 3 s (94 chunks of 32 ms);
//! - `recognise`: the digit models on the speech (one 6 s window: log-mel, Whisper encoder,
//!   head) + beam search and alignment;
//! - `margin`: the challenge verified by the head against its competing readings (CTC);
//! - `decoder`: the challenge verified by Whisper's decoder on that GRID sentence, which has
//!   words before its digit ("lay blue at x four now"): one run, the decoder's greedy reading
//!   of the words (a run per token) and one run after them;
//! - `decoder_digits_first`: the same on a reading of digits only (GCompris julia's takes of
//!   "5182" spliced with 250 ms gaps): one run, three ways of writing it;
//! - `sync`: lip/audio synchrony of the clip's mouth series with its audio;
//! - `snr`: the voice over the background (`envelope::level_spread_db`, the `too_noisy` bar);
//! - `check`: all of them, as the session runs them, on a reading the head alone does not
//!   verify, so Whisper's decoder runs too: the first GRID clip whose own digit the head defers
//!   on, or else `lbax4n` asked for "5" (a wrong digit: the head rejects it, the decoder runs);
//! - `check_head_accepts`: the same on the first GRID clip whose digit the head settles alone
//!   (the decoder is skipped; skipped with a note when the head settles none).
//!
//! Which clips those are depends on the shipped head; the bench prints them.

use criterion::{criterion_group, criterion_main, Criterion};
use livecheck::audio::digits::{head_settles, recognise, DigitModel};
use livecheck::audio::envelope::level_spread_db;
use livecheck::sync::{check_sync, SyncConfig};
use livecheck::{Engine, FrameRef, Language, ModelSet, PixelFormat};
use livecheck_benches::{root, shared_data};

fn bench(c: &mut Criterion) {
    let Some(data) = shared_data("grid_lipnet") else {
        return;
    };
    let engine = Engine::load(&ModelSet::from_dir(root().join("models")).expect("models"))
        .expect("models load");
    let (vad, model) = (
        engine.vad().expect("VAD"),
        engine.digits().expect("digit model"),
    );
    let clip = |name: &str| {
        let audio = livecheck::audio::wav::read_path(data.join(format!("wav16k/{name}.wav")))
            .expect("GRID WAV")
            .to_16k()
            .samples;
        let mut analyzer = engine.analyzer(Default::default());
        let mut mouth = Vec::new();
        for f in livecheck_media::read_all(&data.join(format!("h264/{name}.mp4"))).expect("clip") {
            let view = FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8).unwrap();
            if let Some(face) = analyzer.push_frame(&view, f.t_ms).unwrap().analysis.face {
                mouth.push((f.t_ms, face.mouth_open));
            }
        }
        (audio, mouth)
    };
    let (audio, mouth) = clip("lbax4n");
    let speech = vad.speech(&audio).unwrap();
    let sync = SyncConfig::default();

    let mut g = c.benchmark_group("digits");
    g.sample_size(10);
    let set = ModelSet::from_dir(root().join("models")).expect("models");
    let bytes = set.digits.clone().expect("digit models");
    g.bench_function("load", |b| b.iter(|| DigitModel::load(&bytes).unwrap()));
    g.bench_function("model_sha256", |b| b.iter(|| set.sha256()));
    g.sample_size(30);
    g.bench_function("vad", |b| b.iter(|| vad.speech(&audio).unwrap()));
    g.bench_function("recognise", |b| {
        b.iter(|| recognise(model, &audio, Some(&speech)).unwrap())
    });
    let heard = recognise(model, &audio, Some(&speech)).unwrap();
    g.bench_function("margin", |b| b.iter(|| heard.margin("4")));
    g.bench_function("decoder", |b| {
        b.iter(|| {
            model
                .decoder_margin(&heard, "4", Language::English)
                .unwrap()
        })
    });
    if let Some(julia) = shared_data("speech_extra/wav16k/gcompris_en_julia") {
        let mut reading = vec![0f32; 6_400];
        for d in "5182".chars() {
            let take = livecheck::audio::wav::read_path(julia.join(format!("{d}.wav")))
                .expect("julia's take")
                .to_16k();
            reading.extend(take.samples);
            reading.extend([0f32; 4_000]);
        }
        let heard = recognise(model, &reading, Some(&vad.speech(&reading).unwrap())).unwrap();
        g.bench_function("decoder_digits_first", |b| {
            b.iter(|| {
                model
                    .decoder_margin(&heard, "5182", Language::English)
                    .unwrap()
            })
        });
    }
    g.bench_function("sync", |b| {
        b.iter(|| check_sync(&mouth, &audio, 0, Some(&speech), &sync).unwrap())
    });
    g.bench_function("snr", |b| b.iter(|| level_spread_db(&audio, 16_000)));
    let config = livecheck::DigitsConfig::new(Language::English);
    // The decoder is skipped when the head's margin settles the fused score on its own.
    let settles = |head: f32, said: &str| head_settles(head, said.len(), &config);
    let check = |audio: &[f32], mouth: &[(i64, f32)], said: &str| {
        let speech = vad.speech(audio).unwrap();
        let heard = recognise(model, audio, Some(&speech)).unwrap();
        let margin = model.margin(&heard, said, &config).unwrap();
        let s = check_sync(mouth, audio, 0, Some(&speech), &sync).unwrap();
        (margin, s, level_spread_db(audio, 16_000))
    };
    // Each GRID clip with the digit it says (the sentence's fifth word, the name's fifth letter).
    let readings: Vec<(&str, String, f32)> = ["lbax4n", "bbaf2n", "brbk7n", "lbbc2a", "lrwp9a"]
        .into_iter()
        .map(|name| {
            let audio = livecheck::audio::wav::read_path(data.join(format!("wav16k/{name}.wav")))
                .expect("GRID WAV")
                .to_16k()
                .samples;
            let heard = recognise(model, &audio, Some(&vad.speech(&audio).unwrap())).unwrap();
            let said = name[4..5].to_string();
            let margin = heard.margin(&said);
            (name, said, margin)
        })
        .collect();
    let (name, said) = readings
        .iter()
        .find(|r| !settles(r.2, &r.1))
        .map_or(("lbax4n", "5".to_string()), |r| (r.0, r.1.clone()));
    println!("digits/check: {name} asked for {said:?} (the head defers; the decoder runs)");
    let (audio_d, mouth_d) = clip(name);
    g.bench_function("check", |b| b.iter(|| check(&audio_d, &mouth_d, &said)));
    match readings.iter().find(|r| settles(r.2, &r.1)) {
        Some((name, said, _)) => {
            println!("digits/check_head_accepts: {name} asked for {said:?} (the head settles it)");
            let (audio_a, mouth_a) = clip(name);
            g.bench_function("check_head_accepts", |b| {
                b.iter(|| check(&audio_a, &mouth_a, said))
            });
        }
        None => println!(
            "digits/check_head_accepts: skipped, the head settles no GRID clip's digit alone (margins {:?})",
            readings.iter().map(|r| r.2).collect::<Vec<_>>()
        ),
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

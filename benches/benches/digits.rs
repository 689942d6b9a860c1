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
//! - `decoder`: the challenge verified by Whisper's decoder (one run, three ways of writing it);
//! - `sync`: lip/audio synchrony of the clip's mouth series with its audio;
//! - `check`: all of them, as the session runs them, on `lbax4n` ("4", which the head alone does
//!   not verify, so Whisper's decoder runs too);
//! - `check_head_accepts`: the same on `brbk7n` ("7", verified by the head: the decoder is
//!   skipped).

use criterion::{criterion_group, criterion_main, Criterion};
use livecheck::audio::digits::{recognise, DigitModel};
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
    g.bench_function("sync", |b| {
        b.iter(|| check_sync(&mouth, &audio, 0, Some(&speech), &sync).unwrap())
    });
    let min_margin = livecheck::DigitsConfig::new(Language::English).min_margin;
    let check = |audio: &[f32], mouth: &[(i64, f32)], said: &str| {
        let speech = vad.speech(audio).unwrap();
        let heard = recognise(model, audio, Some(&speech)).unwrap();
        let margin = model
            .margin(&heard, said, Language::English, min_margin)
            .unwrap();
        let s = check_sync(mouth, audio, 0, Some(&speech), &sync).unwrap();
        (margin, s)
    };
    assert!(
        heard.margin("4") <= min_margin,
        "lbax4n: the head should defer"
    );
    g.bench_function("check", |b| b.iter(|| check(&audio, &mouth, "4")));
    let (audio7, mouth7) = clip("brbk7n");
    let heard7 = recognise(model, &audio7, Some(&vad.speech(&audio7).unwrap())).unwrap();
    assert!(
        heard7.margin("7") > min_margin,
        "brbk7n: the head should verify"
    );
    g.bench_function("check_head_accepts", |b| {
        b.iter(|| check(&audio7, &mouth7, "7"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

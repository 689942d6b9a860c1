//! The audio side of the digits challenge on a real 3 s GRID clip, single thread: what
//! `Session::finish` does in a digits session once the frames are in.
//!
//! `cargo bench -p livecheck-benches --bench digits` (needs `cargo xtask models` and
//! `../shared/data`). Groups (`digits/*`):
//! - `load`: parsing and optimising the three digit models (engine load with the digits pack);
//! - `vad`: Silero VAD over the 3 s (94 chunks of 32 ms);
//! - `recognise`: the digit models on the speech (one 6 s window: log-mel, Whisper encoder,
//!   head) + beam search and alignment;
//! - `margin`: the challenge verified by the head against its competing readings (CTC);
//! - `decoder`: the challenge verified by Whisper's decoder (one run, three ways of writing it);
//! - `sync`: lip/audio synchrony of the clip's mouth series with its audio;
//! - `check`: all of them, as the session runs them.

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
    let audio = livecheck::audio::wav::read_path(data.join("wav16k/lbax4n.wav"))
        .expect("GRID WAV")
        .to_16k()
        .samples;
    let mut analyzer = engine.analyzer(Default::default());
    let mut mouth = Vec::new();
    for f in livecheck_media::read_all(&data.join("h264/lbax4n.mp4")).expect("GRID clip") {
        let view = FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8).unwrap();
        if let Some(face) = analyzer.push_frame(&view, f.t_ms).unwrap().analysis.face {
            mouth.push((f.t_ms, face.mouth_open));
        }
    }
    let speech = vad.speech(&audio).unwrap();
    let sync = SyncConfig::default();

    let mut g = c.benchmark_group("digits");
    g.sample_size(10);
    let bytes = ModelSet::from_dir(root().join("models"))
        .expect("models")
        .digits
        .expect("digit models");
    g.bench_function("load", |b| b.iter(|| DigitModel::load(&bytes).unwrap()));
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
    g.bench_function("check", |b| {
        b.iter(|| {
            let speech = vad.speech(&audio).unwrap();
            let heard = recognise(model, &audio, Some(&speech)).unwrap();
            let margin = model.margin(&heard, "4", Language::English).unwrap();
            let s = check_sync(&mouth, &audio, 0, Some(&speech), &sync).unwrap();
            (margin, s)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

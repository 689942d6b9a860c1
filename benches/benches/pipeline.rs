//! Per-frame cost of the vision pipeline on a real 640x480 webcam frame, single thread.
//!
//! `cargo bench -p livecheck-benches --bench pipeline` (needs `cargo xtask models` and
//! `../shared/data`). Groups:
//! - `stage/*`: detector (letterbox + inference + decoding), mesh (crop + inference), both eyes,
//!   NV21 → model-tensor crop; the face embedding (aligned crop + MobileFaceNet, as a session
//!   takes one every 700 ms) and enrolling a photo (detector, mesh twice, embedding);
//! - `tracked/*`: `Analyzer::push_frame` on a tracked face (re-detection every 500 ms of frame
//!   time, as in a session), the iris model on every frame (the eye gate off: the one frame
//!   repeated would let it keep every measurement); `tracked/rgb_no_eyes` without the iris
//!   model, as a session runs every phase but the blink;
//! - `model_only/*`: tract inference alone on the stored reference inputs, the side-by-side
//!   partner of `benches/ort_compare.py` (`cargo xtask bench-compare` runs both);
//! - `clip/push_frame`: `Analyzer::push_frame` over 90 consecutive frames of the clip with the
//!   default settings (the iris model on the frames whose eye crops changed, as in a blink
//!   phase), the partner of `benches/ort_frames.py` (the reference pipeline in ONNX Runtime);
//!   `clip/push_frame_every_eye` with the iris model on every frame (the gate off);
//!   `clip/push_frame_no_eyes` without the iris model; `clip/session_blink`:
//!   `Session::push_frame` on the same frames as RGBA (a fresh blink session per pass), the
//!   partner of the browser's timing in `cargo xtask web --bench`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use livecheck::frame::{Border, Normalize};
use livecheck::models::{Model, Net};
use livecheck::vision::landmarks::idx;
use livecheck::{
    ActionKind, AnalyzerConfig, Engine, FrameRef, ModelSet, PixelFormat, SessionConfig,
};
use livecheck_benches::{real_clip, real_frame, root, to_nv21};

fn stages(c: &mut Criterion) {
    let models = root().join("models");
    let (Some(frame), Ok(set)) = (real_frame(), ModelSet::from_dir(&models)) else {
        eprintln!("SKIPPED: models or media missing (run `cargo xtask models`)");
        return;
    };
    let engine = Engine::load(&set).expect("models load");
    let view = FrameRef::packed(&frame.data, frame.width, frame.height, PixelFormat::Rgb8).unwrap();
    let v = engine.vision();
    let det = v.detector.detect(&view).unwrap();
    let roi = det
        .first()
        .expect("a face in the benchmark frame")
        .mesh_roi();
    let mesh = v.landmarker.mesh(&view, &roi).unwrap();
    let (r_eye, l_eye) = (
        mesh.eye_roi(idx::RIGHT_EYE_OUTER, idx::RIGHT_EYE_INNER),
        mesh.eye_roi(idx::LEFT_EYE_INNER, idx::LEFT_EYE_OUTER),
    );
    let nv21 = to_nv21(&frame);
    let nv21_view = FrameRef::packed(&nv21, frame.width, frame.height, PixelFormat::Nv21).unwrap();

    let mut g = c.benchmark_group("stage");
    g.bench_function("detect", |b| b.iter(|| v.detector.detect(&view).unwrap()));
    g.bench_function("mesh", |b| {
        b.iter(|| v.landmarker.mesh(&view, &roi).unwrap())
    });
    g.bench_function("eyes", |b| {
        b.iter(|| {
            (
                v.landmarker.eye(&view, &r_eye, false).unwrap(),
                v.landmarker.eye(&view, &l_eye, true).unwrap(),
            )
        })
    });
    let mut tensor = vec![0.0f32; 3 * 192 * 192];
    g.bench_function("crop_nv21_192", |b| {
        b.iter(|| {
            nv21_view.crop_into(
                &roi,
                192,
                192,
                Border::Replicate,
                Normalize::UNIT,
                &mut tensor,
            )
        })
    });
    g.bench_function("crop_rgb_192", |b| {
        b.iter(|| {
            view.crop_into(
                &roi,
                192,
                192,
                Border::Replicate,
                Normalize::UNIT,
                &mut tensor,
            )
        })
    });
    if let Some(embedder) = engine.embedder() {
        g.bench_function("embed", |b| {
            b.iter(|| embedder.embed(&view, &mesh).unwrap())
        });
        g.bench_function("enrol", |b| b.iter(|| engine.enrol(&view).unwrap()));
    }
    g.finish();

    let mut g = c.benchmark_group("tracked");
    for (name, f, eyes) in [
        ("rgb", &view, true),
        ("nv21", &nv21_view, true),
        ("rgb_no_eyes", &view, false),
    ] {
        let mut analyzer = engine.analyzer(every_eye());
        analyzer.set_eyes(eyes);
        let mut t = 0i64;
        analyzer.push_frame(f, t).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                t += 33;
                analyzer.push_frame(f, t).unwrap()
            })
        });
    }
    g.finish();
}

/// Analyser settings with the eye gate off: the iris model on every frame.
fn every_eye() -> AnalyzerConfig {
    let mut config = AnalyzerConfig::default();
    config.tracker.eye_gate.max_change = 0.0;
    config
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// One model bench: name, model file, reference input, input shape, output lengths.
type ModelCase<'a> = (&'a str, &'a str, &'a str, &'a [usize], &'a [usize]);

/// `model_only/{detector,mesh,iris}`: each face model alone in livecheck's runtime (`Net`, what
/// the pipeline runs), and `model_only/tract_*` the same file in tract, side by side.
fn model_only(c: &mut Criterion) {
    let models = root().join("models");
    let reference = models.join("reference");
    if !models.join(livecheck::models::files::IRIS).exists() {
        return;
    }
    let cases: [ModelCase; 3] = [
        (
            "detector",
            "face_detection_short_range.onnx",
            "face_detection_short_range.input.f32",
            &[1, 3, 128, 128],
            &[896 * 16, 896],
        ),
        (
            "mesh",
            "face_landmark.onnx",
            "face_landmark.input_1.f32",
            &[1, 3, 192, 192],
            &[1404, 1],
        ),
        (
            "iris",
            "iris_landmark.onnx",
            "iris_landmark.input_1.f32",
            &[1, 3, 64, 64],
            &[213, 15],
        ),
    ];
    let mut g = c.benchmark_group("model_only");
    for (name, file, input, shape, outs) in cases {
        let bytes = std::fs::read(models.join(file)).unwrap();
        let x = read_f32(&reference.join(input));
        let net = Net::load("bench", &bytes, &[shape], outs).unwrap();
        g.bench_function(name, |b| b.iter(|| net.run(&[&x]).unwrap()));
        let model = Model::load("bench", &bytes, &[shape], outs).unwrap();
        g.bench_function(format!("tract_{name}"), |b| {
            b.iter(|| model.run(&[&x]).unwrap())
        });
    }
    g.finish();
}

/// `clip/push_frame`: one pass of `Analyzer::push_frame` over the first
/// [`livecheck_benches::CLIP_FRAMES`] frames of the clip with a fresh analyser (face found,
/// tracked, re-detected every 500 ms); the per-frame cost is the pass over that count.
/// `benches/ort_frames.py` times the reference pipeline on the same frames' model inputs.
fn clip(c: &mut Criterion) {
    let (Some(frames), Ok(set)) = (real_clip(), ModelSet::from_dir(root().join("models"))) else {
        eprintln!("SKIPPED: models or media missing (run `cargo xtask models`)");
        return;
    };
    // The action models only, as the web build ships them (no identity embeddings).
    let set = ModelSet {
        vad: None,
        digits: None,
        embedder: None,
        ..set
    };
    let engine = Engine::load(&set).expect("models load");
    let views: Vec<_> = frames
        .iter()
        .map(|f| FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8).unwrap())
        .collect();
    let mut g = c.benchmark_group("clip");
    g.sample_size(10);
    for (name, eyes, config) in [
        ("push_frame", true, AnalyzerConfig::default()),
        ("push_frame_every_eye", true, every_eye()),
        ("push_frame_no_eyes", false, AnalyzerConfig::default()),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut analyzer = engine.analyzer(config);
                analyzer.set_eyes(eyes);
                for (view, f) in views.iter().zip(&frames) {
                    analyzer.push_frame(view, f.t_ms).unwrap();
                }
            })
        });
    }
    // The browser's partner (`cargo xtask web --bench`): the session step on RGBA frames.
    let rgba: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            f.data
                .chunks(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect()
        })
        .collect();
    let config = SessionConfig::action().with_actions(&[ActionKind::Blink]);
    g.bench_function("session_blink", |b| {
        b.iter(|| {
            let mut session = engine.session(config.clone()).unwrap();
            for (pixels, f) in rgba.iter().zip(&frames) {
                let view = FrameRef::packed(pixels, f.width, f.height, PixelFormat::Rgba8).unwrap();
                session.push_frame(&view, f.t_ms).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, stages, model_only, clip);
criterion_main!(benches);

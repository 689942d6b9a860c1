//! Per-frame cost of the vision pipeline on a real 640x480 webcam frame, single thread.
//!
//! `cargo bench -p livecheck-benches --bench pipeline` (needs `cargo xtask models` and
//! `../shared/data`). Groups:
//! - `stage/*`: detector (letterbox + inference + decoding), mesh (crop + inference), both eyes,
//!   NV21 → model-tensor crop;
//! - `tracked/*`: `Analyzer::push_frame` on a tracked face (re-detection every 500 ms of frame
//!   time, as in a session);
//! - `model_only/*`: tract inference alone on the stored reference inputs, the side-by-side
//!   partner of `benches/ort_compare.py` (`cargo xtask bench-compare` runs both).

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use livecheck::frame::{Border, Normalize};
use livecheck::models::Model;
use livecheck::vision::landmarks::idx;
use livecheck::{Engine, FrameRef, ModelSet, PixelFormat};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first frame of a real 640x480 webcam clip (FOCUS blink set).
fn real_frame() -> Option<livecheck_media::RgbFrame> {
    let clip = root().join("../shared/data/focus_blink/h264/mahie_test_1.mp4");
    if !clip.exists() {
        eprintln!(
            "SKIPPED: {} not found (the project's ../shared/data)",
            clip.display()
        );
        return None;
    }
    livecheck_media::VideoReader::open(&clip).ok()?.next()?.ok()
}

/// RGB24 → NV21 (BT.601 full range), as an Android camera delivers it.
fn to_nv21(f: &livecheck_media::RgbFrame) -> Vec<u8> {
    let (w, h) = (f.width as usize, f.height as usize);
    let mut out = vec![0u8; w * h * 3 / 2];
    for y in 0..h {
        for x in 0..w {
            let p = &f.data[(y * w + x) * 3..][..3];
            let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
            out[y * w + x] = (0.299 * r + 0.587 * g + 0.114 * b)
                .round()
                .clamp(0.0, 255.0) as u8;
            if x % 2 == 0 && y % 2 == 0 {
                let u = -0.168_736 * r - 0.331_264 * g + 0.5 * b + 128.0;
                let v = 0.5 * r - 0.418_688 * g - 0.081_312 * b + 128.0;
                let i = w * h + (y / 2) * w + x;
                out[i] = v.round().clamp(0.0, 255.0) as u8;
                out[i + 1] = u.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

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
    g.finish();

    let mut g = c.benchmark_group("tracked");
    for (name, f) in [("rgb", &view), ("nv21", &nv21_view)] {
        let mut analyzer = engine.analyzer(Default::default());
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

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// One model bench: name, model file, reference input, input shape, output lengths.
type ModelCase<'a> = (&'a str, &'a str, &'a str, &'a [usize], &'a [usize]);

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
        let model = Model::load("bench", &bytes, &[shape], outs).unwrap();
        let x = read_f32(&reference.join(input));
        g.bench_function(name, |b| b.iter(|| model.run(&[&x]).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, stages, model_only);
criterion_main!(benches);

//! Per-frame overhead of the FFI layer (`crates/livecheck-ffi`) over the direct Rust call, on a
//! real 640x480 NV21 frame, single thread.
//!
//! `cargo bench -p livecheck-benches --bench ffi` (needs `cargo xtask models` and
//! `../shared/data`). Groups:
//! - `session_push/direct`: `livecheck::Session::push_frame` (FrameRef from the NV21 bytes, the
//!   whole session step: tracking, measurements, quality, state machine);
//! - `session_push/ffi`: `LivenessSession::push_frame`, the exported method as the scaffolding
//!   calls it (rotation parse, FrameRef, panic guard, session mutex, Feedback conversion with
//!   its prompt strings) on an identical session;
//! - `wrapper/*`: the wrapper's own work alone (guard + lock + conversion), in nanoseconds.
//!
//! Not timed here: uniffi's C-ABI scaffolding (argument lifting, which for the frame bytes is a
//! pointer and a length, and serialising the `Feedback` record into a RustBuffer) and the
//! foreign side (JNA / ctypes / Swift).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use livecheck::{Engine, FrameRef, ModelSet, PixelFormat, SessionConfig};
use livecheck_ffi::{guard, Feedback, LivenessEngine, SessionOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first frame of a real 640x480 webcam clip (FOCUS blink set) as NV21 (BT.601 full
/// range), as an Android camera delivers it.
fn nv21_frame() -> Option<(u32, u32, Vec<u8>)> {
    let clip = root().join("../shared/data/focus_blink/h264/mahie_test_1.mp4");
    if !clip.exists() {
        eprintln!(
            "SKIPPED: {} not found (the project's ../shared/data)",
            clip.display()
        );
        return None;
    }
    let f = livecheck_media::VideoReader::open(&clip)
        .ok()?
        .next()?
        .ok()?;
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
    Some((f.width, f.height, out))
}

/// Long enough that the attempt never times out while criterion iterates.
const NEVER_MS: i64 = 1 << 50;

fn ffi_overhead(c: &mut Criterion) {
    let models = root().join("models");
    let (Some((w, h, nv21)), Ok(set)) = (nv21_frame(), ModelSet::from_dir(&models)) else {
        eprintln!("SKIPPED: models or media missing (run `cargo xtask models`)");
        return;
    };
    let engine = Engine::load(&set).expect("models load");
    let ffi_engine =
        LivenessEngine::from_dir(models.to_string_lossy().into_owned()).expect("models load");
    let mut config = SessionConfig::action();
    config.action_timeout_ms = NEVER_MS;
    let options = SessionOptions {
        action_timeout_ms: Some(NEVER_MS),
        ..SessionOptions::default()
    };

    let mut g = c.benchmark_group("session_push");
    let mut direct = engine.session(config).unwrap();
    let mut t = 0i64;
    g.bench_function("direct", |b| {
        b.iter(|| {
            t += 33;
            let frame = FrameRef::new(&nv21, w, h, w as usize, PixelFormat::Nv21).unwrap();
            direct.push_frame(&frame, t).unwrap()
        })
    });
    let ffi = ffi_engine.new_session(options).unwrap();
    let mut t = 0i64;
    g.bench_function("ffi", |b| {
        b.iter(|| {
            t += 33;
            ffi.push_frame(&nv21, w, h, w, PixelFormat::Nv21, 0, false, t)
                .unwrap()
        })
    });
    g.finish();

    // The wrapper's own work on one real core Feedback.
    let mut s = engine.session(SessionConfig::action()).unwrap();
    let frame = FrameRef::new(&nv21, w, h, w as usize, PixelFormat::Nv21).unwrap();
    let core_fb = s.push_frame(&frame, 0).unwrap();
    let lock = Mutex::new(());
    let mut g = c.benchmark_group("wrapper");
    g.bench_function("guard_lock_convert", |b| {
        b.iter(|| {
            guard(|| {
                let _held = lock.lock().unwrap();
                Ok(Feedback::from(black_box(core_fb)))
            })
            .unwrap()
        })
    });
    g.bench_function("frame_validate", |b| {
        b.iter(|| FrameRef::new(black_box(&nv21), w, h, w as usize, PixelFormat::Nv21).unwrap())
    });
    g.finish();
}

fn engine_load(c: &mut Criterion) {
    let models = root().join("models");
    if !models.join(livecheck::models::files::IRIS).exists() {
        return;
    }
    let dir = models.to_string_lossy().into_owned();
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.bench_function("from_dir", |b| {
        b.iter(|| LivenessEngine::from_dir(dir.clone()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, ffi_overhead, engine_load);
criterion_main!(benches);

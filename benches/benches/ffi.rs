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

use std::sync::Mutex;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use livecheck::{Engine, FrameRef, ModelSet, PixelFormat, SessionConfig};
use livecheck_benches::{real_frame, root, to_nv21};
use livecheck_ffi::{guard, Feedback, LivenessEngine, SessionOptions};

/// The first frame of a real 640x480 webcam clip (FOCUS blink set) as NV21.
fn nv21_frame() -> Option<(u32, u32, Vec<u8>)> {
    let f = real_frame()?;
    Some((f.width, f.height, to_nv21(&f)))
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

//! The bindings' Rust API on the real models: frames through the FFI surface give the same
//! feedback as the core, errors are typed, a session finishes once, one engine serves sessions
//! on several threads. Models or media missing: a failure under `CI=true`, a skip elsewhere.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use livecheck::{ActionKind, PixelFormat, Reason};
use livecheck_ffi::{LivenessEngine, LivenessError, Phase, SessionOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn require(path: PathBuf, how: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let msg = format!("{} not found ({how})", path.display());
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}: required when CI=true");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

fn models() -> Option<PathBuf> {
    let dir =
        std::env::var_os("LIVECHECK_MODELS").map_or_else(|| root().join("models"), PathBuf::from);
    require(
        dir.join(livecheck::models::files::IRIS),
        "run `cargo xtask models`",
    )
    .map(|_| dir)
}

fn engine() -> Option<Arc<LivenessEngine>> {
    static ENGINE: OnceLock<Arc<LivenessEngine>> = OnceLock::new();
    let dir = models()?;
    Some(
        ENGINE
            .get_or_init(|| {
                LivenessEngine::from_dir(dir.to_string_lossy().into_owned()).expect("models load")
            })
            .clone(),
    )
}

/// A photo held up to the camera, as packed RGB: the astronaut's face cropped and scaled to fill
/// the oval of a 360x480 portrait frame (the whole picture shows the face too small to align).
fn photo() -> Option<(u32, u32, Vec<u8>)> {
    let data = std::env::var_os("LIVECHECK_DATA")
        .map_or_else(|| root().join("../shared/data"), PathBuf::from);
    let path = require(
        data.join("skimage/astronaut.png"),
        "the project's ../shared/data",
    )?;
    let img = image::open(path).expect("decodes").to_rgb8();
    let face = image::imageops::crop_imm(&img, 135, 1, 180, 240).to_image();
    let img = image::imageops::resize(&face, 360, 480, image::imageops::FilterType::Triangle);
    Some((img.width(), img.height(), img.into_raw()))
}

/// Packed RGB to NV21 (BT.601 full range, the inverse of what the core reads).
fn to_nv21(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let px = |x: usize, y: usize| {
        let i = 3 * (y * w + x);
        (rgb[i] as f32, rgb[i + 1] as f32, rgb[i + 2] as f32)
    };
    let mut out = Vec::with_capacity(w * h * 3 / 2);
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            out.push(
                (0.299 * r + 0.587 * g + 0.114 * b)
                    .round()
                    .clamp(0.0, 255.0) as u8,
            );
        }
    }
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let (r, g, b) = px(x, y);
            let v = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b;
            let u = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b;
            out.push(v.round().clamp(0.0, 255.0) as u8);
            out.push(u.round().clamp(0.0, 255.0) as u8);
        }
    }
    out
}

#[test]
fn ffi_feedback_matches_the_core_on_rgb_and_nv21_frames() {
    let (Some(engine), Some((w, h, rgb))) = (engine(), photo()) else {
        return;
    };
    let models = livecheck::ModelSet::from_dir(models().unwrap()).unwrap();
    let core = livecheck::Engine::load(&models).unwrap();
    let mut direct = core.session(livecheck::SessionConfig::action()).unwrap();
    let ffi = engine.new_session(SessionOptions::default()).unwrap();
    assert_eq!(ffi.challenge().unwrap(), direct.challenge());
    for i in 0..30 {
        let t = i * 33;
        let frame = livecheck::FrameRef::packed(&rgb, w, h, PixelFormat::Rgb8).unwrap();
        let want = livecheck_ffi::Feedback::from(direct.push_frame(&frame, t).unwrap());
        let got = ffi
            .push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, t)
            .unwrap();
        assert_eq!(got, want);
    }
    assert!(matches!(
        ffi.phase().unwrap(),
        Phase::Action { index: 0, .. }
    ));

    // NV21 with a padded stride and the buffer rotated: the face is still found upright.
    let nv21 = to_nv21(w, h, &rgb);
    let stride = w as usize + 64;
    let mut padded = vec![0u8; stride * (h as usize * 3 / 2)];
    for (row, chunk) in nv21.chunks(w as usize).enumerate() {
        padded[row * stride..row * stride + w as usize].copy_from_slice(chunk);
    }
    let s = engine.new_session(SessionOptions::default()).unwrap();
    let fb = s
        .push_frame(&padded, w, h, stride as u32, PixelFormat::Nv21, 0, false, 0)
        .unwrap();
    let face = fb.face_box.expect("a face in the NV21 frame");
    let rgb_fb = engine
        .new_session(SessionOptions::default())
        .unwrap()
        .push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, 0)
        .unwrap();
    let want = rgb_fb.face_box.unwrap();
    assert!(
        (face.x0 - want.x0).abs() < 4.0 && (face.y0 - want.y0).abs() < 4.0,
        "{face:?} vs {want:?}"
    );
}

#[test]
fn a_still_photo_times_out_and_a_session_finishes_once() {
    let (Some(engine), Some((w, h, rgb))) = (engine(), photo()) else {
        return;
    };
    let opts = SessionOptions {
        actions: vec![ActionKind::Blink],
        seed: 1,
        action_timeout_ms: Some(2000),
        ..Default::default()
    };
    let s = engine.new_session(opts).unwrap();
    let mut done = false;
    for i in 0..200 {
        let fb = s
            .push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, i * 33)
            .unwrap();
        if fb.done {
            done = true;
            break;
        }
    }
    assert!(done);
    let v = s.finish().unwrap();
    assert!(!v.passed);
    // The same bytes pushed again and again are also a frozen feed.
    assert_eq!(
        v.reasons,
        vec![Reason::ActionTimeout, Reason::RepeatedFrames]
    );
    assert_eq!(v.reason_codes, vec!["action_timeout", "repeated_frames"]);
    assert!(v
        .best_frame
        .is_some_and(|b| b.jpeg.starts_with(&[0xFF, 0xD8])));
    assert!(s.is_finished().unwrap());
    assert_eq!(s.phase().unwrap(), Phase::Done);
    assert!(matches!(s.finish(), Err(LivenessError::SessionFinished(_))));
    assert!(matches!(
        s.push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, 100_000),
        Err(LivenessError::SessionFinished(_))
    ));
}

#[test]
fn a_reference_photo_is_matched_one_to_one() {
    let (Some(engine), Some((w, h, rgb))) = (engine(), photo()) else {
        return;
    };
    let data = std::env::var_os("LIVECHECK_DATA")
        .map_or_else(|| root().join("../shared/data"), PathBuf::from);
    let read = |rel: &str| std::fs::read(data.join(rel)).expect("photo readable");
    let session = |reference: Vec<u8>| {
        engine.new_session(SessionOptions {
            actions: vec![ActionKind::Blink],
            action_timeout_ms: Some(1000),
            reference_photo: Some(reference),
            ..Default::default()
        })
    };
    // The astronaut's photo held up to the camera, matched against that photo and another.
    for (reference, matched) in [
        (read("skimage/astronaut.png"), true),
        (read("face_recognition/obama.jpg"), false),
    ] {
        let s = session(reference).unwrap();
        for i in 0..60 {
            if s.push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, i * 33)
                .unwrap()
                .done
            {
                break;
            }
        }
        let v = s.finish().unwrap();
        let m = v.face_match.expect("a reference was given");
        assert_eq!(m.matched, matched, "{m:?}");
        assert_eq!(v.reason_codes.contains(&"not_the_person".into()), !matched);
        assert!(v.continuity.is_some_and(|c| c.checks >= 1), "{v:?}");
    }
    for bad in [b"not an image".to_vec(), vec![]] {
        let e = session(bad).unwrap_err();
        assert!(matches!(&e, LivenessError::InvalidPhoto(_)), "{e:?}");
    }
}

#[test]
fn bad_buffers_and_options_are_typed_errors() {
    let Some(engine) = engine() else { return };
    let s = engine.new_session(SessionOptions::default()).unwrap();
    let e = s
        .push_frame(&[0; 100], 640, 480, 0, PixelFormat::Nv21, 0, false, 0)
        .unwrap_err();
    assert!(
        matches!(&e, LivenessError::InvalidFrame(m) if m.contains("460800")),
        "{e:?}"
    );
    let e = s
        .push_frame(&[0; 2000], 31, 20, 0, PixelFormat::Nv21, 0, false, 0)
        .unwrap_err();
    assert!(
        matches!(&e, LivenessError::InvalidFrame(m) if m.contains("even")),
        "{e:?}"
    );
    let e = s
        .push_frame(&[0; 300], 10, 10, 0, PixelFormat::Rgb8, 91, false, 0)
        .unwrap_err();
    assert!(
        matches!(&e, LivenessError::InvalidFrame(m) if m.contains("91")),
        "{e:?}"
    );
    s.push_frame(&[0; 300], 10, 10, 0, PixelFormat::Rgb8, 0, false, 5)
        .unwrap();
    let e = s
        .push_frame(&[0; 300], 10, 10, 0, PixelFormat::Rgb8, 0, false, 5)
        .unwrap_err();
    assert!(
        matches!(e, LivenessError::TimestampNotIncreasing(_)),
        "{e:?}"
    );
    let bad = SessionOptions {
        action_timeout_ms: Some(-1),
        ..SessionOptions::default()
    };
    assert!(matches!(
        engine.new_session(bad),
        Err(LivenessError::InvalidConfig(_))
    ));
    let e = LivenessEngine::from_dir("/nonexistent/models".into()).unwrap_err();
    assert!(
        matches!(&e, LivenessError::Model(m) if m.contains("cargo xtask models")),
        "{e:?}"
    );
    assert!(matches!(
        LivenessEngine::from_bytes(b"nope", b"", b"", None, None, None),
        Err(LivenessError::Model(_))
    ));
}

#[test]
fn an_engine_from_bytes_and_threads_sharing_one_engine() {
    let (Some(dir), Some((w, h, rgb))) = (models(), photo()) else {
        return;
    };
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    use livecheck::models::files;
    let engine = LivenessEngine::from_bytes(
        &read(files::DETECTOR),
        &read(files::MESH),
        &read(files::IRIS),
        None,
        None,
        None,
    )
    .unwrap();
    let rgb = Arc::new(rgb);
    let handles: Vec<_> = (0..3u64)
        .map(|k| {
            let (engine, rgb) = (engine.clone(), rgb.clone());
            std::thread::spawn(move || {
                let s = engine
                    .new_session(SessionOptions {
                        seed: k,
                        ..SessionOptions::default()
                    })
                    .unwrap();
                for i in 0..10 {
                    let fb = s
                        .push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, i * 33)
                        .unwrap();
                    assert!(fb.face_box.is_some());
                }
                s.finish().unwrap().frames
            })
        })
        .collect();
    // And one session fed from two threads in turn (camera thread, then another).
    let shared = engine.new_session(SessionOptions::default()).unwrap();
    let other = {
        let (s, rgb) = (shared.clone(), rgb.clone());
        std::thread::spawn(move || s.push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, 0))
    };
    other.join().unwrap().unwrap();
    shared
        .push_frame(&rgb, w, h, 0, PixelFormat::Rgb8, 0, false, 33)
        .unwrap();
    assert_eq!(shared.finish().unwrap().frames, 2);
    for h in handles {
        assert_eq!(h.join().unwrap(), 10);
    }
}

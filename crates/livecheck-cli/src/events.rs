//! `livecheck events`: every action event the detectors see over a whole clip, with no
//! challenge plan (all detectors always on).

use std::io::Write;

use livecheck::signals::{AllDetectors, Event, FaceSignals, Measurement};
use serde_json::json;

use crate::Args;

/// One event as the JSON object other tooling reads (shape is stable).
pub fn event_json(e: &Event) -> serde_json::Value {
    json!({
        "kind": e.kind.code(),
        "start_ms": e.start_ms,
        "end_ms": e.end_ms,
        "confidence": (e.confidence as f64 * 1000.0).round() / 1000.0,
    })
}

/// Runs the analyser and all detectors over the clip and prints the events.
pub fn run(args: &Args) -> Result<(), String> {
    let input = args.one_input("events")?;
    let engine = args.engine()?;
    let mut analyzer = engine.analyzer(Default::default());
    let mut detectors = AllDetectors::new();
    let mut out = std::io::stdout().lock();
    let (mut frames, mut first, mut last) = (0usize, None, 0i64);
    for frame in livecheck_cli::frames(input)? {
        let frame = frame?;
        let report = analyzer
            .push_frame(&frame.view().map_err(|e| e.to_string())?, frame.t_ms)
            .map_err(|e| e.to_string())?;
        frames += 1;
        first.get_or_insert(frame.t_ms);
        last = frame.t_ms;
        let m = Measurement {
            t_ms: frame.t_ms,
            face: report.analysis.face.as_ref().map(FaceSignals::from),
        };
        for e in detectors.push(&m) {
            let line = if args.json {
                event_json(&e).to_string()
            } else {
                format!(
                    "{:>6} {:>7}..{:<7} ms  confidence {:.2}",
                    e.kind.code(),
                    e.start_ms,
                    e.end_ms,
                    e.confidence
                )
            };
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
        }
    }
    let summary =
        json!({"summary": {"frames": frames, "duration_ms": last - first.unwrap_or(last)}});
    writeln!(out, "{summary}").map_err(|e| e.to_string())?;
    Ok(())
}

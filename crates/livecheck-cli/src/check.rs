//! `livecheck check`: runs a whole session on a clip and prints the verdict.

use livecheck::signals::ActionKind;
use livecheck::{SessionConfig, Verdict};
use serde_json::json;

use crate::Args;

/// The verdict as the JSON object other tooling reads (shape is stable).
pub fn verdict_json(v: &Verdict, challenge: &[ActionKind]) -> serde_json::Value {
    let r3 = |x: f32| (x as f64 * 1000.0).round() / 1000.0;
    json!({
        "passed": v.passed,
        "reasons": v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
        "challenge": challenge.iter().map(|k| k.code()).collect::<Vec<_>>(),
        "actions": v.actions.iter().map(|a| json!({
            "kind": a.kind.code(),
            "passed": a.passed,
            "asked_ms": a.asked_ms,
            "start_ms": a.event.map(|e| e.start_ms),
            "end_ms": a.event.map(|e| e.end_ms),
            "confidence": a.event.map(|e| r3(e.confidence)),
        })).collect::<Vec<_>>(),
        "best_frame_ms": v.best_frame.as_ref().map(|b| b.t_ms),
        "best_frame_score": v.best_frame.as_ref().map(|b| r3(b.score)),
        "frames": v.frames,
        "duration_ms": v.duration_ms,
    })
}

/// Parses `--actions blink,nod`.
fn parse_actions(list: &str) -> Result<Vec<ActionKind>, String> {
    list.split(',')
        .map(|s| {
            ActionKind::parse(s.trim())
                .ok_or(format!("unknown action {s:?} (blink, nod, shake, mouth)"))
        })
        .collect()
}

/// Runs the session and prints the verdict; exits 0 whether or not it passed.
pub fn run(args: &Args) -> Result<(), String> {
    match args.get("mode").unwrap_or("action") {
        "action" => {}
        other => return Err(format!("unknown --mode {other} (action)")),
    }
    let input = args.one_input("check")?;
    let mut config = SessionConfig::action();
    if let Some(list) = args.get("actions") {
        config = config.with_actions(&parse_actions(list)?);
    }
    if let Some(seed) = args.get("seed") {
        config = config.with_seed(
            seed.parse()
                .map_err(|_| format!("--seed must be an integer, got {seed}"))?,
        );
    }
    let engine = args.engine()?;
    let session = engine.session(config).map_err(|e| e.to_string())?;
    let challenge = session.challenge().to_vec();
    let verdict = session
        .run(crate::frames(input)?)
        .map_err(|e| e.to_string())?;
    if let (Some(path), Some(best)) = (args.get("best-frame"), &verdict.best_frame) {
        std::fs::write(path, &best.jpeg).map_err(|e| format!("writing {path}: {e}"))?;
    }
    let v = verdict_json(&verdict, &challenge);
    if args.json {
        println!("{v}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

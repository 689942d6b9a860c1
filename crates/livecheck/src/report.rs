//! The JSON shapes every tool and binding prints: the verdict, one line of feedback per frame,
//! and the challenge. The `livecheck` command, the desktop runner and the WebAssembly bindings
//! all use these, so a verdict reads the same wherever it was made. Fields are only ever added.

use serde_json::json;

use crate::{Feedback, Phase, Session, Verdict};

/// Rounds to 3 decimals (JSON stays short; nothing reported is finer than that).
fn r3(x: f32) -> f64 {
    (x as f64 * 1000.0).round() / 1000.0
}

/// The verdict as the JSON object other tooling reads (shape is stable). `challenge` is the
/// action codes, or the digits as one string.
pub fn verdict_json(v: &Verdict, challenge: serde_json::Value) -> serde_json::Value {
    json!({
        "passed": v.passed,
        "reasons": v.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
        "challenge": challenge,
        "actions": v.actions.iter().map(|a| json!({
            "kind": a.kind.code(),
            "passed": a.passed,
            "asked_ms": a.asked_ms,
            "start_ms": a.event.map(|e| e.start_ms),
            "end_ms": a.event.map(|e| e.end_ms),
            "confidence": a.event.map(|e| r3(e.confidence)),
        })).collect::<Vec<_>>(),
        "recognised": v.reading.as_ref().map(|r| r.recognised.clone()),
        "margin": v.reading.as_ref().map(|r| r3(r.margin.clamp(-1000.0, 1000.0))),
        "digits": v.reading.as_ref().map(|r| r.digits.iter().map(|d| json!({
            "digit": d.digit,
            "start_ms": d.start_ms,
            "end_ms": d.end_ms,
            "confidence": r3(d.confidence),
        })).collect::<Vec<_>>()),
        "speech": v.reading.as_ref().map(|r| r.speech.iter().map(|s| [s.start_ms, s.end_ms]).collect::<Vec<_>>()),
        "mouth_motion": v.reading.as_ref().map(|r| r3(r.mouth_motion)),
        "face_coverage": v.reading.as_ref().map(|r| r3(r.face_coverage)),
        "snr_db": v.reading.as_ref().map(|r| r3(r.snr_db)),
        "sync": v.reading.as_ref().map(|r| json!({
            "offset_ms": r.sync.offset_ms,
            "confidence": r3(r.sync.confidence),
            "in_sync": r.sync.in_sync,
        })),
        "best_frame_ms": v.best_frame.as_ref().map(|b| b.t_ms),
        "best_frame_score": v.best_frame.as_ref().map(|b| r3(b.score)),
        "frames": v.frames,
        "duration_ms": v.duration_ms,
        "identity_checks": v.continuity.map(|c| c.checks),
        "identity_min_similarity": v.continuity.map(|c| r3(c.min_similarity)),
        "match": v.face_match.map(|m| json!({
            "similarity": r3(m.similarity),
            "matched": m.matched,
        })),
        "evidence": v.evidence.as_ref().map(|e| json!({
            "scheme": e.scheme.code(),
            "payload": e.payload,
            "signature": e.signature,
        })),
    })
}

/// The session's challenge as printed with the verdict: the action codes, or the digits
/// as one string.
pub fn challenge_json(session: &Session) -> serde_json::Value {
    match session.digits() {
        Some(d) => json!(d),
        None => json!(session
            .challenge()
            .iter()
            .map(|k| k.code())
            .collect::<Vec<_>>()),
    }
}

/// One frame's feedback as a JSON line: time, phase (and the action's index in the challenge),
/// whether the attempt is over, the prompt's code and its Chinese and English text, face box,
/// oval fit, progress.
pub fn feedback_json(f: &Feedback) -> serde_json::Value {
    let phase = match f.phase {
        Phase::Align => "align".to_string(),
        Phase::Action { kind, .. } => format!("action:{}", kind.code()),
        Phase::Digits => "digits".to_string(),
        Phase::Done => "done".to_string(),
    };
    json!({
        "t_ms": f.t_ms,
        "phase": phase,
        "action_index": match f.phase {
            Phase::Action { index, .. } => Some(index),
            _ => None,
        },
        "done": f.phase.is_done(),
        "prompt": f.prompt.code(),
        "prompt_zh": f.prompt.zh(),
        "prompt_en": f.prompt.en(),
        "face_box": f.face_box.map(|b| [r3(b.x0), r3(b.y0), r3(b.x1), r3(b.y1)]),
        "oval_offset": f.oval_fit.map(|o| r3(o.offset)),
        "in_oval": f.oval_fit.map(|o| o.inside),
        "progress": r3(f.progress),
    })
}

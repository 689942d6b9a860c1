//! What the `livecheck` command and the desktop runner (`examples/desktop`) share: how a clip
//! becomes frames, how `--reference PHOTO` becomes the registered face, and the JSON shapes
//! they print.

use std::path::Path;

use livecheck::OwnedFrame;

/// Decodes `path` into upright RGB frames whose timestamps strictly increase (some containers
/// repeat a timestamp; the core requires increasing time).
pub fn frames(path: &Path) -> Result<impl Iterator<Item = Result<OwnedFrame, String>>, String> {
    let mut last: Option<i64> = None;
    Ok(livecheck_media::open(path)
        .map_err(|e| e.to_string())?
        .map(move |f| {
            let f = f.map_err(|e| e.to_string())?;
            let t = match last {
                Some(prev) if f.t_ms <= prev => prev + 1,
                _ => f.t_ms,
            };
            last = Some(t);
            Ok(OwnedFrame::rgb(f.data, f.width, f.height, t))
        }))
}

/// The registered face of `--reference PATH`: the photo read and enrolled by `engine`; errors
/// name the option and the path.
pub fn reference(engine: &livecheck::Engine, path: &str) -> Result<livecheck::Embedding, String> {
    let photo = std::fs::read(path).map_err(|e| format!("--reference {path}: {e}"))?;
    engine
        .enrol_image(&photo)
        .map_err(|e| format!("--reference {path}: {e}"))
}

pub mod json {
    //! Stable JSON shapes: the verdict, one line of feedback per frame, and action lists.

    use livecheck::signals::ActionKind;
    use livecheck::{Feedback, Phase, Session, Verdict};
    use serde_json::json;

    /// The verdict as the JSON object other tooling reads (shape is stable). `challenge` is the
    /// action codes, or the digits as one string.
    pub fn verdict_json(v: &Verdict, challenge: serde_json::Value) -> serde_json::Value {
        let r3 = |x: f32| (x as f64 * 1000.0).round() / 1000.0;
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

    /// One frame's feedback as a JSON line: time, phase, prompt code, face box, oval fit,
    /// progress.
    pub fn feedback_json(f: &Feedback) -> serde_json::Value {
        let r3 = |x: f32| (x as f64 * 1000.0).round() / 1000.0;
        let phase = match f.phase {
            Phase::Align => "align".to_string(),
            Phase::Action { kind, .. } => format!("action:{}", kind.code()),
            Phase::Digits => "digits".to_string(),
            Phase::Done => "done".to_string(),
        };
        json!({
            "t_ms": f.t_ms,
            "phase": phase,
            "prompt": f.prompt.code(),
            "face_box": f.face_box.map(|b| [r3(b.x0), r3(b.y0), r3(b.x1), r3(b.y1)]),
            "oval_offset": f.oval_fit.map(|o| r3(o.offset)),
            "in_oval": f.oval_fit.map(|o| o.inside),
            "progress": r3(f.progress),
        })
    }

    /// Parses `--actions blink,nod`.
    pub fn parse_actions(list: &str) -> Result<Vec<ActionKind>, String> {
        list.split(',')
            .map(|s| {
                ActionKind::parse(s.trim())
                    .ok_or(format!("unknown action {s:?} (blink, nod, shake, mouth)"))
            })
            .collect()
    }
}

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
    //! Stable JSON shapes (the core's [`livecheck::report`]) and action lists.

    use livecheck::signals::ActionKind;

    pub use livecheck::report::{challenge_json, feedback_json, verdict_json};

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

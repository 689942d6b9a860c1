//! Decoding clips into per-frame measurements through the real pipeline.

use std::path::Path;

use livecheck::signals::{FaceSignals, Measurement};
use livecheck::{Engine, FrameRef, ModelSet, PixelFormat};

/// Loads the engine from the models directory.
pub fn engine(models: &Path) -> Result<Engine, String> {
    Engine::load(&ModelSet::from_dir(models).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// Runs the analyser over a clip. Frame times come from `times` when given (capture times
/// recorded beside the clip; frames beyond them are dropped), else from the container.
pub fn measure(
    engine: &Engine,
    clip: &Path,
    times: Option<&[i64]>,
) -> Result<Vec<Measurement>, String> {
    let mut analyzer = engine.analyzer(Default::default());
    let mut out = Vec::new();
    let mut last = i64::MIN;
    for (i, frame) in livecheck_media::open(clip)
        .map_err(|e| e.to_string())?
        .enumerate()
    {
        let f = frame.map_err(|e| e.to_string())?;
        let t = match times {
            Some(ts) => match ts.get(i) {
                Some(&t) => t,
                None => break,
            },
            None => f.t_ms.max(last + 1),
        };
        last = t;
        let view = FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8)
            .map_err(|e| e.to_string())?;
        let report = analyzer
            .push_frame(&view, t)
            .map_err(|e| format!("{}: {e}", clip.display()))?;
        out.push(Measurement {
            t_ms: t,
            face: report.analysis.face.as_ref().map(FaceSignals::from),
        });
    }
    Ok(out)
}

/// The repository root, the data and the models directories for tests, or `None` with a
/// printed skip (a failure under CI).
#[cfg(test)]
pub fn test_inputs() -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let data = root.join("../shared/data");
    let models = root.join("models");
    let have =
        data.join("MANIFEST.tsv").exists() && models.join(livecheck::models::files::IRIS).exists();
    if have {
        return Some((root, data, models));
    }
    let msg = format!(
        "needs {} and the models in {} (`cargo xtask models`)",
        data.display(),
        models.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}: required when CI=true");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Decodes a clip into RGB frames with strictly increasing times (a repeated container time
/// becomes the previous one + 1 ms).
pub fn clip_frames(path: &Path) -> Result<Vec<livecheck::OwnedFrame>, String> {
    clip_stream(path)?.collect()
}

/// [`clip_frames`] one frame at a time, for clips too long to hold decoded.
pub fn clip_stream(
    path: &Path,
) -> Result<impl Iterator<Item = Result<livecheck::OwnedFrame, String>>, String> {
    let mut last = i64::MIN;
    Ok(livecheck_media::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .map(move |f| {
            let f = f.map_err(|e| e.to_string())?;
            let t = f.t_ms.max(last + 1);
            last = t;
            Ok(livecheck::OwnedFrame::rgb(f.data, f.width, f.height, t))
        }))
}

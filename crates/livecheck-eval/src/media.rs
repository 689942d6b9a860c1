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

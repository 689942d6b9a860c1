//! `livecheck sync <video> [<wav>] [--json]`: lip/audio synchrony of a clip.
//!
//! The mouth opening comes from the frame analyser on every frame with a face; the audio from
//! the WAV file, or, when none is given, from the video's own audio track (through ffmpeg).
//! Speech segments come from the Silero VAD when the models directory has it, else the whole
//! audio is used. Audio and video both start at 0 ms.

use livecheck::audio::wav;
use livecheck::sync::{check_sync, SyncConfig};
use serde_json::json;

use crate::Args;

/// Runs the check and prints `{"offset_ms", "confidence", "in_sync", ...}`.
pub fn run(args: &Args) -> Result<(), String> {
    let (video, audio_path) = match args.inputs.as_slice() {
        [video] => (video.as_path(), None),
        [video, audio] => (video.as_path(), Some(audio.as_path())),
        _ => return Err(format!("sync takes <video> [<wav>]\n{}", crate::USAGE)),
    };
    let engine = args.engine()?;
    let pcm = match audio_path {
        Some(path) => wav::read_path(path),
        None => wav::read_bytes(&livecheck_media::extract_wav(video).map_err(|e| e.to_string())?),
    }
    .map_err(|e| e.to_string())?
    .to_16k();

    let mut analyzer = engine.analyzer(Default::default());
    let mut mouth = Vec::new();
    let mut frames = 0usize;
    for frame in livecheck_cli::frames(video)? {
        let frame = frame?;
        let view = frame.view().map_err(|e| e.to_string())?;
        let report = analyzer
            .push_frame(&view, frame.t_ms)
            .map_err(|e| e.to_string())?;
        frames += 1;
        if let Some(face) = report.analysis.face {
            mouth.push((frame.t_ms, face.mouth_open));
        }
    }

    let speech = match engine.vad() {
        Some(model) => Some(model.speech(&pcm.samples).map_err(|e| e.to_string())?),
        None => None,
    };
    let result = check_sync(
        &mouth,
        &pcm.samples,
        0,
        speech.as_deref(),
        &SyncConfig::default(),
    )
    .map_err(|e| e.to_string())?;

    let round = |v: f32| (v as f64 * 1000.0).round() / 1000.0;
    if args.json {
        println!(
            "{}",
            json!({
                "offset_ms": result.offset_ms,
                "confidence": round(result.confidence),
                "in_sync": result.in_sync,
                "prominence": round(result.prominence),
                "frames": frames,
                "frames_with_face": mouth.len(),
                "frames_in_speech": result.frames,
                "speech_ms": result.speech_ms,
                "vad": speech.is_some(),
            })
        );
    } else {
        println!(
            "{}: offset {:+} ms, confidence {:.3}, {} ({} of {} frames with a face in {} ms of speech{})",
            video.display(),
            result.offset_ms,
            result.confidence,
            if result.in_sync { "in sync" } else { "NOT in sync" },
            result.frames,
            frames,
            result.speech_ms,
            if speech.is_some() { "" } else { "; no VAD model, whole audio used" },
        );
    }
    Ok(())
}

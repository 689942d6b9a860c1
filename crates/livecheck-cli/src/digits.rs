//! `livecheck digits <wav> [--lang en|zh|auto] [--json]`: the digits spoken in a recording.
//!
//! Speech segments come from the Silero VAD, the digits from the project's CTC model, both
//! from the models directory. Prints `{digits, segments:[{digit, start_ms, end_ms,
//! confidence}], speech:[[start_ms, end_ms], …], lang}`.

use livecheck::audio::digits;
use livecheck::audio::wav;
use livecheck::error::Error;
use livecheck::models::files;
use livecheck::Language;
use serde_json::json;

use crate::Args;

/// `--lang`, default `auto`.
pub fn language(args: &Args) -> Result<Language, String> {
    let code = args.get("lang").unwrap_or("auto");
    Language::parse(code).ok_or(format!("unknown --lang {code} (en, zh, auto)"))
}

/// Recognises the digits and prints them.
pub fn run(args: &Args) -> Result<(), String> {
    let lang = language(args)?;
    let path = args.one_input("digits")?;
    let engine = args.engine()?;
    let missing = |name| Error::ModelNotLoaded { name }.to_string();
    let vad_model = engine.vad().ok_or_else(|| missing(files::VAD))?;
    let model = engine.digits().ok_or_else(|| missing(files::DIGITS))?;
    let pcm = wav::read_path(path).map_err(|e| e.to_string())?.to_16k();
    let speech = vad_model.speech(&pcm.samples).map_err(|e| e.to_string())?;
    let heard = digits::recognise(model, &pcm.samples, Some(&speech)).map_err(|e| e.to_string())?;
    let r3 = |x: f32| (x as f64 * 1000.0).round() / 1000.0;
    if args.json {
        println!(
            "{}",
            json!({
                "digits": heard.digits,
                "segments": heard.segments.iter().map(|s| json!({
                    "digit": s.digit,
                    "start_ms": s.start_ms,
                    "end_ms": s.end_ms,
                    "confidence": r3(s.confidence),
                })).collect::<Vec<_>>(),
                "speech": speech.iter().map(|s| [s.start_ms, s.end_ms]).collect::<Vec<_>>(),
                "lang": lang.code(),
            })
        );
    } else {
        println!(
            "{}: \"{}\" ({} digits in {} ms of speech)",
            path.display(),
            heard.digits,
            heard.segments.len(),
            speech.iter().map(|s| s.duration_ms()).sum::<i64>()
        );
        for s in &heard.segments {
            println!(
                "  {} at {}..{} ms, confidence {:.3}",
                s.digit, s.start_ms, s.end_ms, s.confidence
            );
        }
    }
    Ok(())
}

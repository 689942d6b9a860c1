//! `livecheck check`: runs a whole session on a clip and prints the verdict.
//!
//! `--mode action` (default) asks for actions; `--mode digits` checks a recording of someone
//! reading digits: the video's frames plus the WAV given after it (or the video's own audio
//! track), both starting at 0 ms. `--reference PHOTO` adds the 1:1 match with a registered
//! photo (`"match"` in the verdict, `not_the_person` when it fails).

use livecheck::SessionConfig;
use livecheck_cli::json::{challenge_json, parse_actions, verdict_json};

use crate::Args;

/// Runs the session and prints the verdict; exits 0 whether or not it passed.
pub fn run(args: &Args) -> Result<(), String> {
    let digits = match args.get("mode").unwrap_or("action") {
        "action" => false,
        "digits" => true,
        other => return Err(format!("unknown --mode {other} (action, digits)")),
    };
    let (input, wav) = match (digits, args.inputs.as_slice()) {
        (false, [video]) => (video.as_path(), None),
        (true, [video]) => (video.as_path(), None),
        (true, [video, wav]) => (video.as_path(), Some(wav.as_path())),
        _ => {
            return Err(format!(
                "check takes <video> (action) or <video> [<wav>] (digits)\n{}",
                crate::USAGE
            ))
        }
    };
    let mut config = if digits {
        SessionConfig::digits(crate::digits::language(args)?)
    } else {
        SessionConfig::action()
    };
    if let Some(list) = args.get("actions") {
        if digits {
            return Err("--actions is for --mode action".into());
        }
        config = config.with_actions(&parse_actions(list)?);
    }
    if let Some(expected) = args.get("digits") {
        if !digits {
            return Err("--digits is for --mode digits".into());
        }
        config = config.with_digits(expected);
    }
    match (args.get("nonce"), args.key()?) {
        (Some(nonce), Some((scheme, key))) => {
            if args.get("seed").is_some() {
                return Err("--nonce draws the challenge: give --nonce or --seed, not both".into());
            }
            config = config.with_evidence(nonce.as_bytes(), scheme, &key);
        }
        (None, None) => {}
        _ => return Err("signed evidence needs both --nonce and --key-file".into()),
    }
    if let Some(seed) = args.get("seed") {
        config = config.with_seed(
            seed.parse()
                .map_err(|_| format!("--seed must be an integer, got {seed}"))?,
        );
    }
    let engine = args.engine()?;
    if let Some(path) = args.get("reference") {
        config = config.with_reference(livecheck_cli::reference(&engine, path)?);
    }
    let mut session = engine.session(config).map_err(|e| e.to_string())?;
    let challenge = challenge_json(&session);
    if digits {
        let pcm = match wav {
            Some(path) => livecheck::audio::wav::read_path(path),
            None => livecheck::audio::wav::read_bytes(
                &livecheck_media::extract_wav(input).map_err(|e| e.to_string())?,
            ),
        }
        .map_err(|e| e.to_string())?;
        session
            .push_audio(&pcm.samples, pcm.sample_rate, 0)
            .map_err(|e| e.to_string())?;
    }
    let verdict = session
        .run(livecheck_cli::frames(input)?)
        .map_err(|e| e.to_string())?;
    if let (Some(path), Some(best)) = (args.get("best-frame"), &verdict.best_frame) {
        std::fs::write(path, &best.jpeg).map_err(|e| format!("writing {path}: {e}"))?;
    }
    let v = verdict_json(&verdict, challenge);
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

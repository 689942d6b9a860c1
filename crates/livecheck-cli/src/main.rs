//! The `livecheck` command: runs the liveness pipeline on recorded media and prints JSON.
//!
//! ```text
//! livecheck analyse <video|image> [--json] [--models DIR]
//! ```
//! Models are read from `--models`, else `$LIVECHECK_MODELS`, else `./models`, else the
//! repository's `models/` (provision them with `cargo xtask models`).

mod analyse;

use std::path::PathBuf;
use std::process::ExitCode;

/// Options shared by every subcommand.
pub struct Common {
    /// Print one JSON object per line instead of a human summary.
    pub json: bool,
    /// Directory holding the model files.
    pub models: PathBuf,
}

const USAGE: &str = "usage: livecheck analyse <video|image> [--json] [--models DIR]";

fn models_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag.or_else(|| std::env::var_os("LIVECHECK_MODELS").map(PathBuf::from)) {
        return dir;
    }
    let local = PathBuf::from("models");
    if local.join(livecheck::models::files::DETECTOR).exists() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut json = false;
    let mut models = None;
    let mut positional = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--models" => {
                models = Some(PathBuf::from(
                    it.next().ok_or("--models needs a directory")?,
                ))
            }
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"))
            }
            _ => positional.push(arg),
        }
    }
    let common = Common {
        json,
        models: models_dir(models),
    };
    match positional.split_first() {
        Some((cmd, rest)) if cmd == "analyse" || cmd == "analyze" => match rest {
            [input] => analyse::run(&common, &PathBuf::from(input)),
            _ => Err(format!("analyse takes one input file\n{USAGE}")),
        },
        Some((cmd, _)) => Err(format!("unknown command {cmd}\n{USAGE}")),
        None => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("livecheck: {message}");
            ExitCode::from(2)
        }
    }
}

//! The `livecheck` command: runs the liveness pipeline on recorded media and prints JSON.
//!
//! ```text
//! livecheck analyse <video|image> [--json]
//! livecheck events  <video> [--json]
//! livecheck check   --mode action [--actions blink,nod] [--seed N] [--best-frame OUT.jpg] [--reference PHOTO] <video> [--json]
//! livecheck check   --mode digits [--digits 4829] [--lang en|zh|auto] [--seed N] <video> [<wav>] [--json]
//! livecheck digits  <wav> [--lang en|zh|auto] [--json]
//! livecheck sync    <video> [<wav>] [--json]
//! livecheck verify  --key-file K [--scheme ed25519|hmac-sha256|sm2] [--nonce N] <verdict.json>
//! ```
//! `check --nonce N --key-file K [--scheme S]` signs the attempt's evidence (see
//! `livecheck::evidence`) and adds it to the verdict JSON; `verify` checks it.
//! Every subcommand takes `--models DIR`; models are read from there, else `$LIVECHECK_MODELS`,
//! else `./models`, else the repository's `models/` (provision them with `cargo xtask models`).

mod analyse;
mod check;
mod digits;
mod events;
mod sync;
mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use livecheck::{Engine, ModelSet};

const USAGE: &str = "usage:
  livecheck analyse <video|image> [--json]
  livecheck events  <video> [--json]
  livecheck check   --mode action [--actions blink,nod,shake,mouth] [--seed N] [--best-frame OUT.jpg] <video> [--json]
  livecheck check   --mode digits [--digits 4829] [--lang en|zh|auto] [--seed N] [--best-frame OUT.jpg] <video> [<wav>] [--json]
  livecheck digits  <wav> [--lang en|zh|auto] [--json]
  livecheck sync    <video> [<wav>] [--json]
  livecheck verify  --key-file K [--scheme ed25519|hmac-sha256|sm2] [--nonce N] <verdict.json>
options for all: --models DIR
check also takes --nonce N --key-file K [--scheme S]: signed evidence in the verdict,
and --reference PHOTO: a 1:1 match of the face with a registered photo";

/// Parsed command line: positional arguments, boolean flags and `--key value` options.
pub struct Args {
    /// Positional arguments after the subcommand.
    pub inputs: Vec<PathBuf>,
    /// `--json` was given.
    pub json: bool,
    options: HashMap<String, String>,
}

/// Options that take a value.
const VALUED: [&str; 11] = [
    "--models",
    "--mode",
    "--actions",
    "--seed",
    "--best-frame",
    "--digits",
    "--lang",
    "--nonce",
    "--key-file",
    "--scheme",
    "--reference",
];

impl Args {
    fn parse(args: Vec<String>) -> Result<(String, Args), String> {
        let mut it = args.into_iter();
        let command = it.next().ok_or(USAGE)?;
        let mut parsed = Args {
            inputs: Vec::new(),
            json: false,
            options: HashMap::new(),
        };
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--json" => parsed.json = true,
                "-h" | "--help" => return Err(USAGE.into()),
                key if VALUED.contains(&key) => {
                    let value = it.next().ok_or(format!("{key} needs a value"))?;
                    parsed
                        .options
                        .insert(key.trim_start_matches("--").to_string(), value);
                }
                flag if flag.starts_with("--") => {
                    return Err(format!("unknown option {flag}\n{USAGE}"))
                }
                _ => parsed.inputs.push(PathBuf::from(arg)),
            }
        }
        Ok((command, parsed))
    }

    /// The value of `--key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The single input file, or an error naming the subcommand.
    pub fn one_input(&self, command: &str) -> Result<&Path, String> {
        match self.inputs.as_slice() {
            [one] => Ok(one),
            _ => Err(format!("{command} takes one input file\n{USAGE}")),
        }
    }

    /// The signing or verifying key: the bytes of `--key-file` and the `--scheme` (default
    /// Ed25519). `None` without `--key-file`.
    pub fn key(&self) -> Result<Option<(livecheck::evidence::Scheme, Vec<u8>)>, String> {
        let Some(path) = self.get("key-file") else {
            return Ok(None);
        };
        let name = self.get("scheme").unwrap_or("ed25519");
        let scheme = livecheck::evidence::Scheme::parse(name).ok_or(format!(
            "unknown --scheme {name} (ed25519, hmac-sha256, sm2)"
        ))?;
        let key = std::fs::read(path).map_err(|e| format!("--key-file {path}: {e}"))?;
        Ok(Some((scheme, key)))
    }

    /// Loads the engine from `--models`, `$LIVECHECK_MODELS`, `./models` or the repository.
    pub fn engine(&self) -> Result<Engine, String> {
        let dir = self
            .get("models")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("LIVECHECK_MODELS").map(PathBuf::from))
            .unwrap_or_else(|| {
                let local = PathBuf::from("models");
                if local.join(livecheck::models::files::DETECTOR).exists() {
                    local
                } else {
                    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
                }
            });
        let models = ModelSet::from_dir(&dir).map_err(|e| e.to_string())?;
        Engine::load(&models).map_err(|e| e.to_string())
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (command, args) = Args::parse(args)?;
    match command.as_str() {
        "analyse" | "analyze" => analyse::run(&args),
        "events" => events::run(&args),
        "check" => check::run(&args),
        "digits" => digits::run(&args),
        "sync" => sync::run(&args),
        "verify" => verify::run(&args),
        other => Err(format!("unknown command {other}\n{USAGE}")),
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

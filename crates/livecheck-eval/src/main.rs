//! `livecheck-eval`: measures the detectors and whole sessions on the annotated real media in
//! `../shared/data` and prints a Markdown table plus one JSON document (run it through
//! `cargo xtask eval actions`, `cargo xtask eval digits`, `cargo xtask eval attacks` or
//! `cargo xtask eval identity`), and the memory soak (`cargo xtask soak`).

mod actions;
mod attacks;
mod blinks;
mod digits;
mod identity;
mod media;
mod npy;
mod sheet;
mod soak;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: livecheck-eval actions|digits|attacks|identity|soak [--only SET] [--data DIR] [--models DIR] [--json OUT.json]
       actions only: [--cache DIR] (per-frame measurements of the blink sets, reused)
                     [--variants original,half_fps,fps15,fps8,dark,jpeg,face100]
       livecheck-eval sheet CLIP OUT_DIR   (blink-labelling contact sheets)
       digits only: [--voices DIR] (the Debian voices; sets: voices, grid, sync; lengths only when asked)
                    [--speakers ID,ID] (only these voices, e.g. gcompris_zh_fengjie,fsdd_nicolas)
                    [--lead-ms N] (silence before each spliced reading, default 400)
                    [--snr-db N] (pink noise N dB below the speech of each spliced reading)
       soak only: [--minutes N] (default 10; memory of sessions on one engine)";

/// Command-line options shared by the evaluations.
pub struct Options {
    /// `../shared/data` or `--data`.
    pub data: PathBuf,
    /// The models directory.
    pub models: PathBuf,
    /// Where to write the JSON report, besides stdout.
    pub json_out: Option<PathBuf>,
    /// Run only this set (e.g. `focus_blink`, `nodding_pigeon`, `voices`, `sync`).
    pub only: Option<String>,
    /// The real Debian voices of the digits evaluation (`models/whisper_digits/work/debian` or
    /// `--voices`).
    pub voices: PathBuf,
    /// The repository root (`fixtures/` lives there).
    pub root: PathBuf,
    /// Directory caching the per-frame measurements of the blink sets (`--cache`); none: measure.
    pub cache: Option<PathBuf>,
    /// Which copies of the blink clips to evaluate (`--variants original,fps8`; default all).
    pub variants: Option<String>,
    /// Only these voices of the digits evaluation (`--speakers fsdd_nicolas,…`; default all).
    pub speakers: Option<Vec<String>>,
    /// Silence before the first digit of every spliced reading of the digits evaluation, ms
    /// (`--lead-ms`; default 400): how long after the digits showed the reader starts.
    pub lead_ms: usize,
    /// Pink noise added to every spliced reading of the digits evaluation, dB below the speech
    /// (`--snr-db`; default none): a room, a street, a television behind the reader.
    pub snr_db: Option<f32>,
    /// How long the soak runs (`--minutes`; default 10).
    pub minutes: Option<f64>,
}

impl Options {
    /// Whether the set `name` is selected.
    pub fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == name)
    }
}

/// Prints the Markdown `table` and the JSON `report`, and writes the JSON to `--json` if given.
pub fn print_report(
    opts: &Options,
    table: &[String],
    report: serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    println!("{}", table.join("\n"));
    let doc = serde_json::Value::Object(report);
    println!("{doc}");
    if let Some(out) = &opts.json_out {
        std::fs::write(
            out,
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n",
        )
        .map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<(String, Options), String> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut opts = Options {
        data: std::env::var_os("LIVECHECK_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("../shared/data")),
        models: std::env::var_os("LIVECHECK_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("models")),
        json_out: None,
        only: None,
        voices: root.join("models/whisper_digits/work/debian"),
        root: root.clone(),
        cache: None,
        variants: None,
        speakers: None,
        lead_ms: 400,
        snr_db: None,
        minutes: None,
    };
    let mut command = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or(format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--data" => opts.data = value()?.into(),
            "--models" => opts.models = value()?.into(),
            "--json" => opts.json_out = Some(value()?.into()),
            "--only" => opts.only = Some(value()?),
            "--voices" => opts.voices = value()?.into(),
            "--cache" => opts.cache = Some(value()?.into()),
            "--variants" => opts.variants = Some(value()?),
            "--speakers" => opts.speakers = Some(value()?.split(',').map(str::to_string).collect()),
            "--lead-ms" => {
                let v = value()?;
                opts.lead_ms = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&ms| ms <= 10_000)
                    .ok_or(format!(
                        "--lead-ms needs a number of ms up to 10000, got {v}"
                    ))?
            }
            "--snr-db" => {
                let v = value()?;
                opts.snr_db = Some(
                    v.parse::<f32>()
                        .ok()
                        .filter(|db| (-20.0..=60.0).contains(db))
                        .ok_or(format!(
                            "--snr-db needs a number of dB from -20 to 60, got {v}"
                        ))?,
                )
            }
            "--minutes" => {
                let v = value()?;
                opts.minutes = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|m| *m > 0.0 && m.is_finite())
                        .ok_or(format!("--minutes needs a positive number, got {v}"))?,
                )
            }
            c if command.is_none() && !c.starts_with("--") => command = Some(c.to_string()),
            other => return Err(format!("unexpected {other}\n{USAGE}")),
        }
    }
    if !opts.data.join("MANIFEST.tsv").exists() {
        return Err(format!(
            "no evaluation data at {} (set --data or LIVECHECK_DATA)",
            opts.data.display()
        ));
    }
    Ok((command.ok_or(USAGE)?, opts))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("sheet") {
        return match sheet_command(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("livecheck-eval: {e}");
                ExitCode::from(2)
            }
        };
    }
    let result = parse(&args).and_then(|(command, opts)| match command.as_str() {
        "actions" => actions::run(&opts),
        "digits" => digits::run(&opts),
        "attacks" => attacks::run(&opts),
        "identity" => identity::run(&opts),
        "soak" => soak::run(&opts),
        other => Err(format!("unknown evaluation {other}\n{USAGE}")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livecheck-eval: {e}");
            ExitCode::from(2)
        }
    }
}

/// `sheet CLIP OUT_DIR [--models DIR]`.
fn sheet_command(args: &[String]) -> Result<(), String> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut models = std::env::var_os("LIVECHECK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models"));
    let mut paths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--models" => models = it.next().ok_or(USAGE)?.into(),
            p => paths.push(PathBuf::from(p)),
        }
    }
    let [clip, out] = paths.as_slice() else {
        return Err(USAGE.into());
    };
    sheet::run(&media::engine(&models)?, clip, out)
}

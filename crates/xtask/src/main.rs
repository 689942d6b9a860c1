//! `cargo xtask`: developer tasks for livecheck.
//!
//! ```text
//! cargo xtask setup                            install system tools (ffmpeg) if missing
//! cargo xtask test      [cargo test args]      setup + models + every test of the workspace
//! cargo xtask demo      [<video>] [options]    setup + models + the desktop runner (embedded clip by default)
//! cargo xtask bench-compare [--json]           tract vs ONNX Runtime: models, then per frame
//! cargo xtask train-digits                    retrain models/digits.onnx (models/whisper_digits/run.sh)
//! cargo xtask bindings  [--test]               generate Kotlin/Swift/Python bindings [+ run their tests]
//! cargo xtask mobile                           check the Android and iOS staticlibs build
//! cargo xtask fuzz      [TARGET…] [--secs N]   coverage-guided fuzzing (cargo-fuzz, stable)
//! cargo xtask web       [--test] [--bench N]   the WebAssembly build as a static folder (target/web)
//! cargo xtask eval      actions [--json OUT]   metrics on the annotated media in ../shared/data
//! cargo xtask soak      [--minutes N]          memory: engine, one session's peak, growth over N min
//! cargo xtask size      [--profile P] [--target T] the stripped SDK library + the models it loads
//! cargo xtask models    [--dir DIR] [--check]   fetch, convert and verify the models in models.toml
//! cargo xtask reference [--dir DIR] [--data DIR] regenerate models/reference (ONNX Runtime outputs)
//! ```
//!
//! `DIR` defaults to `models/` at the workspace root, `--data` to `../shared/data` next to the
//! workspace. Every failure ends the run with one `error: …` line and a non-zero exit code.

mod bindings;
mod manifest;
mod models;
mod python;
mod reference;
mod size;
mod tasks;
mod util;
mod web;
mod web_test;

use std::path::PathBuf;
use std::process::ExitCode;

use util::{Error, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup      install the system tools livecheck needs (ffmpeg) when missing
  test       setup, provision models, then run every test of the workspace
             (extra arguments go to `cargo test`)
  demo       setup, provision models, then the desktop runner (examples/desktop) on
             <video> or the embedded clip; headless without a display; runner options
             pass through (--mode digits, --actions, --record DIR, ...)
             (an action liveness check: blink and nod)
  bench-compare [--json]
             tract (criterion) vs ONNX Runtime, single thread, one run: each model on
             the same inputs, then the per-frame pipeline on 90 real frames (last line
             with --json: per_frame_ours_ms, per_frame_ort_ms, ratio, frames)
  size       build liblivecheck_ffi.so (--profile, default sdk: fat LTO, one codegen
             unit; --target, default the host), strip a copy into target/size and
             print its size beside the models' (action set, digits pack)
  train-digits
             retrain the spoken-digit head: models/whisper_digits/run.sh (Whisper
             encoder features, 5 leave-speakers-out folds, shipped head models/digits.onnx,
             results.json; ~75 min on one core; needs espeak-ng)
  bindings   build crates/livecheck-ffi and generate Kotlin, Swift and Python into
             bindings/<lang>/generated (pinned uniffi-bindgen, library mode)
               --test  also check the committed Swift is current and run the Python
                       and Kotlin (JVM) tests against the real cdylib and models
  mobile     build the livecheck-ffi staticlib for aarch64-linux-android and
             aarch64-apple-ios with clang (the final link needs the NDK/Xcode)
  fuzz       coverage-guided fuzzing of the targets in fuzz/ with cargo-fuzz on
             stable (installed when missing): [TARGET...] (frame, wav, pcm, session,
             evidence; default all) [--secs N] per target (default 600), or
             --input FILE to replay one input; the corpus grows in fuzz/corpus
  web        build crates/livecheck-wasm for wasm32 (release, SIMD128) with the pinned
             wasm-bindgen CLI into target/web: the page of examples/web, pkg/, models/
             with manifest.json; prints the .wasm size raw, gzip and brotli
               --embedder  also ship the face embedder (identity checks)
               --digits    also ship the digits pack (VAD + recogniser, ~180 MB)
               --test      then the browser tests in headless Chromium: the bindings'
                           wasm-bindgen-test suite, and the page with real clips fed
                           as the camera (a live blink passes, a still photo fails,
                           both as the native CLI decides)
               --bench N   then Session.pushFrame per frame in the browser vs native
                           (criterion clip/session_blink), N passes, one run
  eval       setup, provision models, then evaluate on ../shared/data and print a
             table and JSON: `eval actions [--json OUT.json]`
  soak       setup, provision models, then the memory soak: resident set with the
             engine loaded, the peak of a 60 s action session and of a digits session,
             and the growth over [--minutes N] (default 10) of sessions on one engine
             (fails above 4 MB); [--json OUT.json]
  models     make every model in DIR/models.toml present and verified (idempotent;
             no network when all files are in place)
               --dir DIR   model folder (default: <workspace>/models)
               --check     only verify; fail if a model is missing or wrong
  reference  regenerate DIR/reference (inputs and ONNX Runtime outputs) with
             DIR/reference/make_reference.py in the venv DIR/.venv
               --dir DIR   model folder (default: <workspace>/models)
               --data DIR  shared media (default: <workspace>/../shared/data)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    let root = workspace_root();
    match command.as_str() {
        "setup" => return tasks::setup(),
        "bench-compare" => return tasks::bench_compare(&root, rest),
        "size" => return size::size(&root, rest),
        "train-digits" => return tasks::train_digits(&root, rest),
        "bindings" => return bindings::bindings(&root, rest),
        "mobile" => return bindings::mobile(&root, rest),
        "fuzz" => return tasks::fuzz(&root, rest),
        "web" => return web::web(&root, rest),
        "test" | "demo" | "eval" | "soak" => {
            tasks::setup()?;
            models::provision(&root.join("models"))?;
            return match command.as_str() {
                "test" => tasks::test(&root, rest),
                "demo" => tasks::demo(&root, rest),
                "soak" => tasks::eval(&root, &[&["soak".to_string()], rest].concat()),
                _ => tasks::eval(&root, rest),
            };
        }
        _ => {}
    }
    let mut dir = workspace_root().join("models");
    let mut data = workspace_root().join("../shared/data");
    let mut check = false;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(value(&mut it, "--dir")?),
            "--data" if command == "reference" => data = PathBuf::from(value(&mut it, "--data")?),
            "--check" if command == "models" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => {
                return Err(Error::new(format!(
                    "unknown option `{other}` for `{command}`"
                )))
            }
        }
    }
    match command.as_str() {
        "models" if check => models::check(&dir),
        "models" => models::provision(&dir),
        "reference" => reference::generate(&dir, &data),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Error::new(format!(
            "unknown command `{other}` (try `cargo xtask --help`)"
        ))),
    }
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a str> {
    it.next()
        .map(String::as_str)
        .ok_or_else(|| Error::new(format!("`{flag}` needs a value")))
}

/// The workspace root: two levels above this crate's manifest.
fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

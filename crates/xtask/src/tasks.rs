//! The top-level developer commands: `setup` (system tools), `test` (everything CI runs) and
//! `demo` (the main job: a liveness check of a clip), each provisioning what it needs first.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Error, Result};

/// Runs a command, failing with the command line when it cannot start or exits non-zero.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| Error::new(format!("cannot start {shown}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("{shown} failed with {status}")))
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Makes sure the system tools livecheck's tools and tests need are installed (see
/// [`missing_packages`]), with apt-get when running as root on Debian/Ubuntu.
pub fn setup() -> Result<()> {
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root || !Path::new("/usr/bin/apt-get").exists() {
        return Err(Error::new(format!(
            "missing {}; install with your package manager (Debian: `sudo apt-get install {}`)",
            missing.join(", "),
            missing.join(" ")
        )));
    }
    eprintln!("xtask: installing {} with apt-get", missing.join(", "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    let still = missing_packages();
    if still.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "still missing after apt-get install: {}",
            still.join(", ")
        )))
    }
}

/// Debian packages the tests need that are not there: ffmpeg (decoding), Xvfb (the desktop
/// runner's window test) and a CJK font (its Chinese prompts).
fn missing_packages() -> Vec<&'static str> {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    };
    let mut out = Vec::new();
    if !have("ffmpeg") {
        out.push("ffmpeg");
    }
    if !on_path("Xvfb") {
        out.push("xvfb");
    }
    if !Path::new("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists() {
        out.push("fonts-wqy-microhei");
    }
    out
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The cargo that runs xtask, in `root`.
pub(crate) fn cargo_in(root: &Path) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root);
    cmd
}

/// Runs every test of the workspace (after setup and model provisioning), then the action SDK's
/// (livecheck without the `speech` feature), then the doc tests.
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--all-targets"])
        .args(extra))?;
    run(cargo().current_dir(root).args([
        "test",
        "-p",
        "livecheck",
        "--no-default-features",
        "--test",
        "action_sdk",
    ]))?;
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--doc"]))
}

/// Runs the desktop runner (`examples/desktop`) on a clip, the embedded one by default.
pub fn demo(root: &Path, args: &[String]) -> Result<()> {
    // `cargo xtask demo clip.mp4` is `--video clip.mp4`; no argument: the embedded clip.
    let mut runner: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a.starts_with("--") {
            runner.push(a.clone());
            if !["--headless", "--fast"].contains(&a.as_str()) {
                runner.extend(it.next().cloned());
            }
        } else {
            runner.extend(["--video".to_string(), a.clone()]);
        }
    }
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !display && !runner.iter().any(|a| a == "--headless") {
        println!("xtask: no display: running headless (one JSON line per frame, the verdict last)");
        runner.push("--headless".into());
    }
    run(cargo()
        .current_dir(root)
        .args(["run", "--quiet", "-p", "livecheck-desktop", "--"])
        .args(runner))
}

/// Runs the evaluation harness (`crates/livecheck-eval`; dependencies optimised) with `args`.
pub fn eval(root: &Path, args: &[String]) -> Result<()> {
    if args.is_empty() {
        return Err(Error::new(
            "usage: cargo xtask eval actions|digits|attacks|identity [--only SET] [--json OUT.json]",
        ));
    }
    run(cargo()
        .current_dir(root)
        .args(["run", "--quiet", "-p", "livecheck-eval", "--"])
        .args(args))
}

/// Retrains the spoken-digit head with `models/whisper_digits/run.sh` (extra arguments go to it).
pub fn train_digits(root: &Path, args: &[String]) -> Result<()> {
    run(Command::new(root.join("models/whisper_digits/run.sh")).args(args))
}

/// tract against ONNX Runtime in one run, single thread: each model alone on the stored
/// reference inputs (criterion `model_only` vs `benches/ort_compare.py`), then the whole
/// per-frame pipeline on the same 90 real frames (criterion `clip/push_frame` and
/// `tracked/rgb` vs `benches/ort_frames.py` on the crops `frame_plan` wrote): livecheck as a
/// blink phase runs it (the iris model where the eye crops changed), with the iris model on
/// every frame (`*_every_eye`, like for like) and without the eyes (every other phase,
/// `*_no_eyes`; the reference's own cost without its iris runs is shown beside it). Prints
/// tables and, with `--json`, one JSON object as the last line.
pub fn bench_compare(root: &Path, args: &[String]) -> Result<()> {
    let json = match args {
        [] => false,
        [a] if a == "--json" => true,
        _ => return Err(Error::new("usage: cargo xtask bench-compare [--json]")),
    };
    let plan_dir = root.join("target/bench-compare");
    run(cargo()
        .current_dir(root)
        .args([
            "run",
            "--release",
            "-p",
            "livecheck-benches",
            "--bin",
            "frame_plan",
            "--",
        ])
        .arg(&plan_dir))?;
    run(cargo().current_dir(root).args([
        "bench",
        "-p",
        "livecheck-benches",
        "--bench",
        "pipeline",
        "--",
        "model_only|clip/|tracked/rgb",
    ]))?;
    let python = root.join("models/.venv/bin/python");
    let ort_models = python_json(
        &python,
        &[root.join("benches/ort_compare.py"), root.join("models")],
    )?;
    let ort_frames = python_json(
        &python,
        &[
            root.join("benches/ort_frames.py"),
            root.join("models"),
            plan_dir.clone(),
        ],
    )?;
    let criterion_ms = |id: &str| -> Result<f64> {
        let est = root.join(format!("target/criterion/{id}/new/estimates.json"));
        let text = std::fs::read_to_string(&est)
            .map_err(|e| Error::new(format!("{}: {e}", est.display())))?;
        Ok(criterion_median_ns(&text)
            .ok_or_else(|| Error::new(format!("no median in {}", est.display())))?
            / 1e6)
    };
    let number = |v: &serde_json::Value, what: &str| {
        v.as_f64()
            .ok_or_else(|| Error::new(format!("no {what} in the ONNX Runtime output")))
    };

    println!("\nEach model alone, stored reference inputs:\n");
    println!(
        "| model | livecheck's runtime ms | tract ms | ORT ms | livecheck/ORT | tract/ORT |\n|---|---|---|---|---|---|"
    );
    for name in ["detector", "mesh", "iris"] {
        let (l, t, o) = (
            criterion_ms(&format!("model_only/{name}"))?,
            criterion_ms(&format!("model_only/tract_{name}"))?,
            number(&ort_models[name], name)?,
        );
        println!(
            "| {name} | {l:.2} | {t:.2} | {o:.2} | {:.2} | {:.2} |",
            l / o,
            t / o
        );
    }
    let tracked = criterion_ms("tracked/rgb")?;
    let tracked_no_eyes = criterion_ms("tracked/rgb_no_eyes")?;
    let reference = number(&ort_frames["per_frame_ms"], "per_frame_ms")?;
    let reference_no_iris = number(&ort_frames["per_frame_no_iris_ms"], "per_frame_no_iris_ms")?;
    // One `clip/push_frame` iteration is the whole plan frame_plan wrote.
    let frames = number(&ort_frames["frames"], "frames")?;
    let ours = criterion_ms("clip/push_frame")? / frames;
    let ours_every_eye = criterion_ms("clip/push_frame_every_eye")? / frames;
    let ours_no_eyes = criterion_ms("clip/push_frame_no_eyes")? / frames;
    println!("\nPer frame over {frames} real 640x480 frames (same run):\n");
    println!("| pipeline | ms per frame | frames/s |\n|---|---|---|");
    let rows = [
        ("livecheck `Analyzer::push_frame` (crops, models, geometry, quality; detector every 500 ms; eyes measured where their crops changed: a blink phase)", ours),
        ("livecheck, the iris model on every frame (the eye gate off)", ours_every_eye),
        ("livecheck, eyes off (`set_eyes(false)`: every phase but the blink)", ours_no_eyes),
        ("reference in ONNX Runtime (inference only: detector when the track is lost, mesh, iris x2)", reference),
        ("reference without its iris runs", reference_no_iris),
        ("livecheck `tracked/rgb` (one frame, tracked, the iris model on every frame)", tracked),
        ("livecheck `tracked/rgb_no_eyes`", tracked_no_eyes),
    ];
    for (what, ms) in rows {
        println!("| {what} | {ms:.2} | {:.0} |", 1000.0 / ms);
    }
    println!(
        "\nreference stages (ms per run): {}",
        ort_frames["stage_ms"]
    );
    println!(
        "ratio livecheck / reference: {:.2} in a blink phase, {:.2} with the iris model on every frame, {:.2} with the eyes off ({:.2} against the reference without iris)",
        ours / reference,
        ours_every_eye / reference,
        ours_no_eyes / reference,
        ours_no_eyes / reference_no_iris
    );
    if json {
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let fps = |ms: f64| (1000.0 / ms * 10.0).round() / 10.0;
        println!(
            "{}",
            serde_json::json!({
                "per_frame_ours_ms": r3(ours),
                "per_frame_ort_ms": r3(reference),
                "ratio": r3(ours / reference),
                "frames": frames,
                "tracked_rgb_fps": fps(tracked),
                "per_frame_ours_every_eye_ms": r3(ours_every_eye),
                "ratio_every_eye": r3(ours_every_eye / reference),
                "per_frame_ours_no_eyes_ms": r3(ours_no_eyes),
                "ratio_no_eyes": r3(ours_no_eyes / reference),
                "tracked_rgb_no_eyes_fps": fps(tracked_no_eyes),
            })
        );
    }
    Ok(())
}

/// Runs a Python script of the models' virtual environment and parses the JSON object it prints
/// as its last line.
fn python_json(python: &Path, args: &[PathBuf]) -> Result<serde_json::Value> {
    let out = Command::new(python).args(args).output().map_err(|e| {
        Error::new(format!(
            "cannot run {}: {e} (run `cargo xtask reference` once to install onnxruntime)",
            python.display()
        ))
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::new(format!(
            "{} failed: {}",
            args[0].display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .map_err(|e| Error::new(format!("{}: no JSON ({e}): {stdout}", args[0].display())))
}

/// The median point estimate (ns) of a criterion `estimates.json`.
pub(crate) fn criterion_median_ns(estimates: &str) -> Option<f64> {
    serde_json::from_str::<serde_json::Value>(estimates).ok()?["median"]["point_estimate"].as_f64()
}

/// The cargo-fuzz version `cargo xtask fuzz` installs when it is missing.
const CARGO_FUZZ: &str = "0.13.2";

/// Coverage-guided fuzzing of the targets in `fuzz/` (bodies in crates/livecheck-fuzz) with
/// cargo-fuzz on the stable toolchain (`--sanitizer none`: livecheck has no `unsafe`; panics,
/// aborts, timeouts and memory blow-ups are the findings). Arguments: target names (default:
/// all), `--secs N` per target (default 600), `--input FILE` to replay one input.
pub fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    const TARGETS: [&str; 6] = ["frame", "wav", "pcm", "session", "evidence", "model"];
    let mut targets: Vec<&str> = Vec::new();
    let mut secs = "600".to_string();
    let mut input: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => {
                secs = it
                    .next()
                    .cloned()
                    .ok_or_else(|| Error::new("--secs needs a value"))?
            }
            "--input" => {
                input = Some(
                    it.next()
                        .cloned()
                        .ok_or_else(|| Error::new("--input needs a file"))?,
                )
            }
            t if TARGETS.contains(&t) => targets.extend(TARGETS.iter().find(|x| **x == t)),
            other => {
                return Err(Error::new(format!(
                    "unknown fuzz target or option `{other}` (targets: {})",
                    TARGETS.join(", ")
                )))
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ)
        });
    if !installed {
        run(cargo().args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ]))?;
    }
    for target in targets {
        let mut cmd = cargo_in(root);
        // -O: debug assertions and overflow checks come from fuzz/Cargo.toml's profile.
        cmd.args([
            "fuzz",
            "run",
            "-O",
            "--sanitizer",
            "none",
            "--fuzz-dir",
            "fuzz",
            target,
        ]);
        match &input {
            Some(file) => {
                cmd.arg(file);
            }
            None => {
                cmd.arg(format!("fuzz/corpus/{target}")).args([
                    "--".to_string(),
                    format!("-max_total_time={secs}"),
                    "-rss_limit_mb=4096".to_string(),
                    "-timeout=60".to_string(),
                    "-print_final_stats=1".to_string(),
                ]);
            }
        }
        println!("xtask: fuzzing {target}");
        run(&mut cmd)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::criterion_median_ns;

    #[test]
    fn reads_the_median_of_a_criterion_estimate() {
        let text = r#"{"mean":{"confidence_interval":{"lower_bound":1.0},"point_estimate":5.0},
            "median":{"confidence_interval":{"confidence_level":0.95},"point_estimate":4200000.5,"standard_error":3.0}}"#;
        assert_eq!(criterion_median_ns(text), Some(4_200_000.5));
        assert_eq!(criterion_median_ns("{}"), None);
        assert_eq!(criterion_median_ns("not json"), None);
    }
}

//! Python side: the system interpreter for `pip download`, and the private venv with pinned
//! packages for conversion and reference generation.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{Error, IoContext, Result};

/// pip's own network settings: fail in about a minute, not the 180 s x 5 retries the
/// environment may set, when a registry cannot be reached.
const PIP_NET: [&str; 4] = ["--retries", "1", "--timeout", "30"];

/// Stamp file inside the venv listing what has been installed there.
const STAMP: &str = "xtask-installed.txt";

/// The interpreter used to create the venv and run `pip download`: `$PYTHON`, or `python3`.
pub fn system_python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Run a command to completion, capturing its output; fail if it cannot start.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| {
        let prog = cmd.get_program().to_string_lossy().into_owned();
        let hint = if prog.contains("python") {
            " (install Python 3 with venv and pip, or set PYTHON)"
        } else {
            ""
        };
        Error::new(format!("cannot run `{prog}`: {e}{hint}"))
    })
}

/// The most telling line of a failed tool's output: a network failure reported by pip (pip
/// only warns about those and then says "no matching distribution"), pip's last `ERROR:` line,
/// a Python exception line, or the last non-empty line.
pub fn last_error_line(out: &Output) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(why) = network_failure(&text) {
        return why;
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ERROR:") || l.contains("Error:") || l.contains("Exception"))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| format!("exit status {}", out.status))
}

/// "registry unreachable (…)" if pip's output shows a connection failure.
fn network_failure(text: &str) -> Option<String> {
    const MARKERS: [&str; 6] = [
        "Failed to establish a new connection: ",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "SSLError",
        "ProxyError",
        "connection broken by",
    ];
    let line = text
        .lines()
        .find(|l| MARKERS.iter().any(|m| l.contains(m)))?;
    let reason = match line.find(MARKERS[0]) {
        Some(at) => {
            let rest = &line[at + MARKERS[0].len()..];
            rest.split(['\'', '"']).next().unwrap_or(rest).trim()
        }
        None => line.trim(),
    };
    Some(format!("registry unreachable ({reason})"))
}

/// `pip download --no-deps NAME==VERSION` into `dest` with the system interpreter.
/// Returns pip's one-line complaint on failure.
pub fn pip_download(name: &str, version: &str, dest: &Path) -> std::result::Result<(), String> {
    let mut cmd = Command::new(system_python());
    cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(PIP_NET)
        .arg("-d")
        .arg(dest)
        .arg(format!("{name}=={version}"));
    let out = output(&mut cmd).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(last_error_line(&out))
    }
}

/// Oldest Python the pins support (numpy 2.4 needs 3.11).
const MIN_PYTHON: (u32, u32) = (3, 11);

fn check_python_version() -> Result<()> {
    let python = system_python();
    let out = output(
        Command::new(&python).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
    )?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let version = text
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match version {
        Some(v) if v >= MIN_PYTHON => Ok(()),
        _ => Err(Error::new(format!(
            "`{python}` is Python {text}; the pinned packages need Python >= {}.{} (set PYTHON)",
            MIN_PYTHON.0, MIN_PYTHON.1
        ))),
    }
}

/// The private venv (`models/.venv`).
pub struct Venv {
    root: PathBuf,
}

impl Venv {
    /// Create the venv if needed and make sure every pin in `pins` is installed.
    /// Does nothing (and needs no network) when the stamp file already lists them all.
    pub fn ensure(root: &Path, pins: &[&str]) -> Result<Venv> {
        let venv = Venv {
            root: root.to_owned(),
        };
        let stamp = root.join(STAMP);
        let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
        let have: Vec<&str> = installed.lines().collect();
        let missing: Vec<&str> = pins.iter().copied().filter(|p| !have.contains(p)).collect();
        if venv.python().exists() && missing.is_empty() {
            return Ok(venv);
        }
        if !venv.python().exists() {
            check_python_version()?;
            println!("creating venv {}", root.display());
            let out = output(Command::new(system_python()).args(["-m", "venv"]).arg(root))?;
            if !out.status.success() {
                return Err(Error::new(format!(
                    "cannot create venv {}: {}",
                    root.display(),
                    last_error_line(&out)
                )));
            }
        }
        println!("installing into {}: {}", root.display(), pins.join(" "));
        let mut cmd = Command::new(venv.python());
        cmd.args(["-m", "pip", "install", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--quiet"])
            .args(PIP_NET)
            .args(pins);
        let out = output(&mut cmd)?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "cannot install the pinned packages into {} from PyPI: {}",
                root.display(),
                last_error_line(&out)
            )));
        }
        let mut all: Vec<&str> = have;
        all.extend(missing);
        all.sort_unstable();
        all.dedup();
        std::fs::write(&stamp, all.join("\n") + "\n").ctx("write", &stamp)?;
        Ok(venv)
    }

    fn bin_dir(&self) -> PathBuf {
        if cfg!(windows) {
            self.root.join("Scripts")
        } else {
            self.root.join("bin")
        }
    }

    /// The venv's interpreter.
    pub fn python(&self) -> PathBuf {
        self.bin_dir().join(if cfg!(windows) {
            "python.exe"
        } else {
            "python"
        })
    }

    /// A console script installed in the venv (e.g. `tflite2onnx`).
    pub fn script(&self, name: &str) -> PathBuf {
        let mut p = self.bin_dir().join(name);
        if cfg!(windows) {
            p.set_extension("exe");
        }
        p
    }
}

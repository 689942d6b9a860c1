//! `cargo xtask reference`: regenerate `models/reference/` (model inputs and ONNX Runtime
//! outputs that the Rust tests compare tract against).
//!
//! Makes sure the models are in place (as `cargo xtask models`), adds the pinned
//! `[python].reference` packages to the venv, then runs `reference/make_reference.py`.

use std::path::Path;
use std::process::Command;

use crate::manifest::Manifest;
use crate::models;
use crate::python::Venv;
use crate::util::{Error, Result};

pub fn generate(dir: &Path, data: &Path) -> Result<()> {
    if !data.is_dir() {
        return Err(Error::new(format!(
            "data folder {} not found (pass --data DIR)",
            data.display()
        )));
    }
    let script = dir.join("reference/make_reference.py");
    if !script.is_file() {
        return Err(Error::new(format!("{} not found", script.display())));
    }
    models::provision(dir)?;
    let manifest = Manifest::load(&dir.join("models.toml"))?;
    let pins: Vec<&str> = manifest
        .python
        .converter
        .iter()
        .chain(&manifest.python.reference)
        .map(String::as_str)
        .collect();
    let venv = Venv::ensure(&dir.join(&manifest.python.venv), &pins)?;
    let status = Command::new(venv.python())
        .arg(&script)
        .arg("--models")
        .arg(dir)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(dir.join("reference"))
        .status()
        .map_err(|e| Error::new(format!("cannot run {}: {e}", venv.python().display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{} failed ({status})",
            script.display()
        )))
    }
}

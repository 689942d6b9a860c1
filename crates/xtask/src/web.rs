//! `cargo xtask web`: the WebAssembly build of `crates/livecheck-wasm` as a static folder
//! (`target/web`: the page of `examples/web`, the wasm-bindgen glue and `.wasm`, the models
//! with their manifest), its sizes, and with `--test` the browser tests (`web_test`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tasks::{cargo_in as cargo, run};
use crate::util::{file_sha256, target_dir, Error, IoContext, Result};

/// The Rust target of the web build.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The models the page loads, by role (the keys `Engine.fromBytes` takes), in `models/`.
const ACTION_MODELS: [(&str, &str); 3] = [
    ("detector", "face_detection_short_range.onnx"),
    ("mesh", "face_landmark.onnx"),
    ("iris", "iris_landmark.onnx"),
];
/// With `--embedder`: continuity by identity and the 1:1 match.
const EMBEDDER: (&str, &str) = ("embedder", "mobilefacenet.onnx");
/// With `--digits`: the VAD and the digit recogniser's three models.
const VAD: (&str, &str) = ("vad", "silero_vad_16k.onnx");
const DIGITS: [(&str, &str); 3] = [
    ("encoder", "whisper_encoder_base_6s.onnx"),
    ("head", "digits.onnx"),
    ("decoder", "whisper_decoder_base_digits.onnx"),
];

/// What `cargo xtask web` builds.
pub struct Options {
    /// Include the face embedder.
    pub embedder: bool,
    /// Include the digits pack (VAD + recogniser, ~180 MB).
    pub digits: bool,
}

pub fn web(root: &Path, args: &[String]) -> Result<()> {
    let mut options = Options {
        embedder: false,
        digits: false,
    };
    let (mut test, mut bench) = (false, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--embedder" => options.embedder = true,
            "--digits" => options.digits = true,
            "--test" => test = true,
            "--bench" => {
                let n = it
                    .next()
                    .ok_or_else(|| Error::new("--bench needs a pass count"))?;
                bench = Some(
                    n.parse::<u32>()
                        .map_err(|_| Error::new(format!("--bench takes a count, got {n}")))?,
                );
            }
            other => return Err(Error::new(format!("unknown option `{other}` for `web`"))),
        }
    }
    let out = build(root, &options)?;
    if test {
        crate::web_test::wasm_bindgen_tests(root)?;
        crate::web_test::page_tests(root, &out)?;
    }
    if let Some(passes) = bench {
        crate::web_test::bench(root, &out, passes)?;
    }
    Ok(())
}

/// Builds the static folder `target/web` and prints its sizes; returns its path.
pub fn build(root: &Path, options: &Options) -> Result<PathBuf> {
    run(Command::new("rustup").args(["target", "add", TARGET]))?;
    run(cargo(root).args([
        "build",
        "--release",
        "--target",
        TARGET,
        "-p",
        "livecheck-wasm",
    ]))?;
    let bindgen = wasm_bindgen_tool(root, "wasm-bindgen")?;
    let out = target_dir(root).join("web");
    if out.exists() {
        fs::remove_dir_all(&out).ctx("remove", &out)?;
    }
    let wasm = target_dir(root)
        .join(TARGET)
        .join("release/livecheck_wasm.wasm");
    // Function names and the producers section only help a debugger: 18.9 -> 16.8 MB.
    run(Command::new(&bindgen)
        .args([
            "--target",
            "web",
            "--remove-name-section",
            "--remove-producers-section",
        ])
        .arg("--out-dir")
        .arg(out.join("pkg"))
        .arg(&wasm))?;
    let page = root.join("examples/web");
    for entry in fs::read_dir(&page).ctx("read", &page)? {
        let path = entry.ctx("read", &page)?.path();
        if path.is_file() {
            let to = out.join(path.file_name().expect("a file name"));
            fs::copy(&path, &to).ctx("copy to", &to)?;
        }
    }
    let manifest = copy_models(root, &out.join("models"), options)?;
    let sizes = sizes(&out, &manifest)?;
    let path = out.join("size.json");
    fs::write(&path, serde_json::to_string_pretty(&sizes).expect("json")).ctx("write", &path)?;
    eprintln!(
        "xtask: web build in {} (serve it over http, e.g. `python3 -m http.server -d {}`)",
        out.display(),
        out.display()
    );
    Ok(out)
}

/// The `wasm-bindgen` / `wasm-bindgen-test-runner` of exactly the version in Cargo.lock,
/// installed with `cargo install wasm-bindgen-cli` when missing or another version.
pub fn wasm_bindgen_tool(root: &Path, tool: &str) -> Result<PathBuf> {
    let version = locked_version(root, "wasm-bindgen")?;
    let installed = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .ends_with(&version)
            })
    };
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or_else(|| Error::new("neither CARGO_HOME nor HOME is set"))?;
    let program = home.join("bin").join(tool);
    if !installed(&program) {
        // Not `--locked`: its lock file pins crates some registry mirrors do not carry.
        run(cargo(root).args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &format!("={version}"),
        ]))?;
        if !installed(&program) {
            return Err(Error::new(format!(
                "{} is not wasm-bindgen {version} after installing it",
                program.display()
            )));
        }
    }
    Ok(program)
}

/// The version of `package` in Cargo.lock.
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let path = root.join("Cargo.lock");
    let lock = fs::read_to_string(&path).ctx("read", &path)?;
    let lock: toml::Value =
        toml::from_str(&lock).map_err(|e| Error::new(format!("Cargo.lock: {e}")))?;
    lock.get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(package))
        .and_then(|p| p.get("version")?.as_str().map(str::to_string))
        .ok_or_else(|| Error::new(format!("{package} is not in Cargo.lock")))
}

/// Copies the models the page loads into `dir` and writes `dir/manifest.json` (role → file,
/// sha256, bytes; the page checks each hash after fetching). Returns the manifest.
fn copy_models(root: &Path, dir: &Path, options: &Options) -> Result<serde_json::Value> {
    crate::models::provision(&root.join("models"))?;
    fs::create_dir_all(dir).ctx("create", dir)?;
    let copy = |file: &str| -> Result<serde_json::Value> {
        let from = root.join("models").join(file);
        let to = dir.join(file);
        let bytes = fs::copy(&from, &to).ctx("copy", &from)?;
        let sha256 = file_sha256(&to)?.expect("just copied");
        Ok(serde_json::json!({ "file": file, "sha256": sha256, "bytes": bytes }))
    };
    let mut models = serde_json::Map::new();
    for (role, file) in ACTION_MODELS {
        models.insert(role.into(), copy(file)?);
    }
    if options.embedder {
        models.insert(EMBEDDER.0.into(), copy(EMBEDDER.1)?);
    }
    if options.digits {
        models.insert(VAD.0.into(), copy(VAD.1)?);
        let mut digits = serde_json::Map::new();
        for (part, file) in DIGITS {
            digits.insert(part.into(), copy(file)?);
        }
        models.insert("digits".into(), digits.into());
    }
    let manifest = serde_json::json!({ "models": models });
    let path = dir.join("manifest.json");
    fs::write(
        &path,
        serde_json::to_string_pretty(&manifest).expect("json"),
    )
    .ctx("write", &path)?;
    Ok(manifest)
}

/// Bytes of `data` compressed by `program` (`gzip -9` or `brotli`), or `None` when the tool is
/// not installed.
fn compressed_size(program: &str, args: &[&str], file: &Path) -> Option<u64> {
    let out = Command::new(program).args(args).arg(file).output().ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

/// The sizes a page pays for: the .wasm raw, gzip and brotli, the JS glue, the models.
fn sizes(out: &Path, manifest: &serde_json::Value) -> Result<serde_json::Value> {
    let wasm = out.join("pkg/livecheck_wasm_bg.wasm");
    let glue = out.join("pkg/livecheck_wasm.js");
    let len = |p: &Path| fs::metadata(p).map(|m| m.len()).ctx("stat", p);
    let mut model_bytes = 0u64;
    let mut add = |v: &serde_json::Value| model_bytes += v["bytes"].as_u64().unwrap_or(0);
    for (role, entry) in manifest["models"].as_object().expect("an object") {
        if role == "digits" {
            entry
                .as_object()
                .expect("parts")
                .values()
                .for_each(&mut add);
        } else {
            add(entry);
        }
    }
    let sizes = serde_json::json!({
        "wasm_bytes": len(&wasm)?,
        "wasm_gzip_bytes": compressed_size("gzip", &["-9", "-c"], &wasm),
        "wasm_brotli_bytes": compressed_size("brotli", &["-q", "11", "-c"], &wasm),
        "js_glue_bytes": len(&glue)?,
        "models_bytes": model_bytes,
    });
    let mb = |v: &serde_json::Value| {
        v.as_u64().map_or("(tool missing)".to_string(), |b| {
            format!("{:.2} MB", b as f64 / 1e6)
        })
    };
    eprintln!("xtask: web sizes");
    eprintln!("  livecheck_wasm_bg.wasm   {}", mb(&sizes["wasm_bytes"]));
    eprintln!(
        "    gzip -9                {}",
        mb(&sizes["wasm_gzip_bytes"])
    );
    eprintln!(
        "    brotli -q 11           {}",
        mb(&sizes["wasm_brotli_bytes"])
    );
    eprintln!("  livecheck_wasm.js        {}", mb(&sizes["js_glue_bytes"]));
    eprintln!("  models                   {}", mb(&sizes["models_bytes"]));
    Ok(sizes)
}

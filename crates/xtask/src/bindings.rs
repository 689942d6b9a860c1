//! Foreign-language bindings of `crates/livecheck-ffi`: generation (uniffi-bindgen, library
//! mode, pinned by `crates/livecheck-bindgen`'s `uniffi-bindgen` binary), the binding tests against the real
//! cdylib and models (Python, Kotlin on the JVM), and the mobile staticlib builds.
//!
//! Layout: `bindings/{kotlin,swift,python}/generated` (Swift committed, the others regenerated
//! and git-ignored), test suites in `bindings/python` and `bindings/kotlin/test`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::python::Venv;
use crate::tasks::{cargo_in as cargo, run};
use crate::util::{target_dir, Error, IoContext, Result};

/// The Kotlin compiler the JVM test installs with npm when `kotlinc` is missing.
const KOTLIN_COMPILER: &str = "kotlin-compiler@2.4.20";
/// Debian's JNA (the runtime the generated Kotlin calls the cdylib through).
const JNA_JAR: &str = "/usr/share/java/jna.jar";
/// The languages generated, each into `bindings/<lang>/generated`.
const LANGUAGES: [&str; 3] = ["kotlin", "swift", "python"];
/// Mobile targets whose staticlib `cargo xtask mobile` builds: (rust target, clang target).
const MOBILE: [(&str, &str); 2] = [
    ("aarch64-linux-android", "aarch64-linux-android24"),
    ("aarch64-apple-ios", "arm64-apple-ios13.0"),
];

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Installs Debian packages with apt-get (root only), or fails saying what to install.
pub(crate) fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err(Error::new(format!(
            "{why}: install {} (Debian: `sudo apt-get install {}`)",
            packages.join(", "),
            packages.join(" ")
        )));
    }
    eprintln!(
        "xtask: installing {} with apt-get ({why})",
        packages.join(" ")
    );
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// File name of the host cdylib.
fn cdylib_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "liblivecheck_ffi.dylib"
    } else if cfg!(windows) {
        "livecheck_ffi.dll"
    } else {
        "liblivecheck_ffi.so"
    }
}

/// `cargo xtask bindings [--test]`.
pub fn bindings(root: &Path, args: &[String]) -> Result<()> {
    let mut test = false;
    for arg in args {
        match arg.as_str() {
            "--test" => test = true,
            other => {
                return Err(Error::new(format!(
                    "unknown option `{other}` for `bindings` (only `--test`)"
                )))
            }
        }
    }
    let lib = generate(root, test)?;
    if test {
        crate::tasks::setup()?;
        crate::models::provision(&root.join("models"))?;
        python_test(root)?;
        kotlin_test(root, &lib)?;
        eprintln!("xtask: binding tests passed (Python, Kotlin/JVM); Swift output is current");
    }
    Ok(())
}

/// Builds the bindgen and the host cdylib, generates every language into a staging folder and
/// installs them under `bindings/`. With `check_swift`, the committed Swift is compared with
/// the fresh output instead of being overwritten. Returns the cdylib's path.
fn generate(root: &Path, check_swift: bool) -> Result<PathBuf> {
    let target = target_dir(root);
    // The bindgen alone (its own crate: no livecheck, no tract), then the cdylib with the
    // whole workspace's features, exactly as `cargo xtask test` built it: nothing of tract is
    // compiled a second time.
    run(cargo(root).args(["build", "-p", "livecheck-bindgen"]))?;
    run(cargo(root).args(["build", "--workspace", "--all-targets"]))?;
    let lib = target.join("debug").join(cdylib_name());
    let bindgen = target
        .join("debug")
        .join(format!("uniffi-bindgen{}", std::env::consts::EXE_SUFFIX));
    let staging = target.join("uniffi");
    for lang in LANGUAGES {
        let out = staging.join(lang);
        reset_dir(&out)?;
        run(Command::new(&bindgen)
            .current_dir(root)
            .args(["generate", "--no-format", "--language", lang, "--config"])
            .arg(root.join("bindings/uniffi.toml"))
            .arg("--out-dir")
            .arg(&out)
            .arg("--library")
            .arg(&lib))?;
        let mut installed = root.join("bindings").join(lang).join("generated");
        if lang == "swift" && check_swift {
            if let Some(diff) = first_difference(&out, &installed)? {
                return Err(Error::new(format!(
                    "the committed Swift bindings are stale ({diff}): run `cargo xtask bindings` and commit bindings/swift/generated"
                )));
            }
            continue;
        }
        reset_dir(&installed)?;
        if lang == "python" {
            // The two generated modules import each other relatively: make them a package.
            installed = installed.join("livecheck");
            fs::create_dir_all(&installed).ctx("create", &installed)?;
            let init = installed.join("__init__.py");
            fs::write(&init, PY_INIT).ctx("write", &init)?;
        }
        copy_dir(&out, &installed)?;
    }
    // The generated Python loads the cdylib from its own folder.
    let py_lib = root
        .join("bindings/python/generated/livecheck")
        .join(cdylib_name());
    link_or_copy(&lib, &py_lib)?;
    eprintln!(
        "xtask: generated {} into bindings/{{kotlin,swift,python}}/generated from {}",
        LANGUAGES.join(", "),
        lib.display()
    );
    Ok(lib)
}

/// `__init__.py` of the generated Python package `livecheck`: both namespaces in one.
const PY_INIT: &str = "\
\"\"\"livecheck: on-device face liveness (generated uniffi bindings; `cargo xtask bindings`).\"\"\"
from .livecheck import *  # noqa: F401,F403  core records and enums
from .livecheck_ffi import *  # noqa: F401,F403  engine, session, errors
";

/// Symlinks `to` to `from` (the debug cdylib is large), copying where links are unavailable.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    let _ = fs::remove_file(to);
    #[cfg(unix)]
    if std::os::unix::fs::symlink(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to).ctx("copy the cdylib to", to).map(drop)
}

fn reset_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).ctx("remove", dir)?;
    }
    fs::create_dir_all(dir).ctx("create", dir)
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if !d.exists() {
            continue;
        }
        for entry in fs::read_dir(&d).ctx("list", &d)? {
            let path = entry.ctx("list", &d)?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap_or(&path).to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for rel in files_under(from)? {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).ctx("create", parent)?;
        }
        fs::copy(from.join(&rel), &dest).ctx("write", &dest)?;
    }
    Ok(())
}

/// The first file that differs between two trees, if any.
fn first_difference(a: &Path, b: &Path) -> Result<Option<String>> {
    let (fa, fb) = (files_under(a)?, files_under(b)?);
    if fa != fb {
        return Ok(Some(format!("files {fa:?} vs committed {fb:?}")));
    }
    for rel in fa {
        let (x, y) = (a.join(&rel), b.join(&rel));
        if fs::read(&x).ctx("read", &x)? != fs::read(&y).ctx("read", &y)? {
            return Ok(Some(format!("{} differs", rel.display())));
        }
    }
    Ok(None)
}

fn test_env(cmd: &mut Command, root: &Path) {
    cmd.env("LIVECHECK_MODELS", root.join("models"))
        .env("LIVECHECK_DATA", root.join("../shared/data"))
        // The panic-guard tests panic on purpose: keep their log to one line.
        .env("RUST_BACKTRACE", "0");
}

/// What the Python suites need beyond the standard library: the stand-alone evidence
/// verifier's `cryptography` (Ed25519) and `gmssl` (SM2/SM3), with their dependencies; wheels
/// only, pinned.
const PYTHON_TEST_PINS: [&str; 5] = [
    "cryptography==46.0.3",
    "cffi==2.0.0",
    "pycparser==2.23",
    "gmssl==3.2.2",
    "pycryptodomex==3.23.0",
];

/// The Python suites on the generated module, in a private venv (`target/python-test-venv`):
/// the binding's (`bindings/python/test_livecheck.py`) and the stand-alone server verifier's
/// (`examples/server/test_verify_evidence.py`), unittest.
fn python_test(root: &Path) -> Result<()> {
    let venv = Venv::ensure(&root.join("target/python-test-venv"), &PYTHON_TEST_PINS)?;
    let mut cmd = Command::new(venv.python());
    cmd.current_dir(root).args([
        "-m",
        "unittest",
        "-v",
        "bindings/python/test_livecheck.py",
        "examples/server/test_verify_evidence.py",
    ]);
    test_env(&mut cmd, root);
    run(&mut cmd)
}

/// `kotlinc` from the npm package (its `bin` only links `kotlinc-js`; the JVM compiler sits in
/// the package folder), or on PATH.
fn npm_kotlinc() -> Option<PathBuf> {
    let out = Command::new("npm").args(["root", "-g"]).output().ok()?;
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(root.join("kotlin-compiler/bin/kotlinc")).filter(|p| p.is_file())
}

/// Finds `kotlinc`, installing the npm package when it is missing.
fn kotlinc() -> Result<PathBuf> {
    if let Some(k) = on_path("kotlinc").or_else(npm_kotlinc) {
        return Ok(k);
    }
    if on_path("npm").is_none() {
        apt_install(&["npm"], "npm installs the Kotlin compiler")?;
    }
    eprintln!("xtask: installing {KOTLIN_COMPILER} with npm");
    run(Command::new("npm").args(["install", "-g", "--no-fund", "--no-audit", KOTLIN_COMPILER]))?;
    npm_kotlinc().ok_or_else(|| Error::new(format!("{KOTLIN_COMPILER} installed no `kotlinc`")))
}

/// Compiles the generated Kotlin with the JVM test and runs it against the cdylib via JNA.
fn kotlin_test(root: &Path, lib: &Path) -> Result<()> {
    if on_path("java").is_none() || on_path("javac").is_none() {
        apt_install(&["default-jdk-headless"], "the Kotlin test runs on a JDK")?;
    }
    if !Path::new(JNA_JAR).exists() {
        apt_install(
            &["libjna-java", "libjna-jni"],
            "the generated Kotlin calls through JNA",
        )?;
    }
    let kotlinc = kotlinc()?;
    let mut sources: Vec<PathBuf> = files_under(&root.join("bindings/kotlin/generated"))?
        .into_iter()
        .map(|p| root.join("bindings/kotlin/generated").join(p))
        .collect();
    sources.extend(
        files_under(&root.join("bindings/kotlin/test"))?
            .into_iter()
            .map(|p| root.join("bindings/kotlin/test").join(p)),
    );
    sources.retain(|p| p.extension().is_some_and(|e| e == "kt"));
    let jar = target_dir(root).join("uniffi/kotlin-test.jar");
    eprintln!(
        "xtask: compiling {} Kotlin files with {}",
        sources.len(),
        kotlinc.display()
    );
    run(Command::new(&kotlinc)
        .current_dir(root)
        .args(["-nowarn", "-include-runtime", "-cp", JNA_JAR, "-d"])
        .arg(&jar)
        .args(&sources))?;
    let mut classpath = OsString::from(&jar);
    classpath.push(":");
    classpath.push(JNA_JAR);
    let lib_dir = lib.parent().unwrap_or(root);
    let mut cmd = Command::new("java");
    cmd.current_dir(root)
        .arg(format!("-Djna.library.path={}", lib_dir.display()))
        .arg("-cp")
        .arg(classpath)
        .arg("cn.livecheck.test.LivecheckTestKt");
    test_env(&mut cmd, root);
    run(&mut cmd)
}

/// `cargo xtask mobile`: the staticlib for Android (arm64) and iOS (arm64) builds with
/// Debian's clang as the target C compiler. The final link (NDK, Xcode) is not done here.
pub fn mobile(root: &Path, args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        return Err(Error::new(format!("unknown option `{other}` for `mobile`")));
    }
    if on_path("clang").is_none() {
        apt_install(&["clang", "llvm"], "mobile builds compile C with clang")?;
    }
    let ar = ["llvm-ar", "llvm-ar-14", "llvm-ar-15", "llvm-ar-16"]
        .into_iter()
        .find(|a| on_path(a).is_some())
        .ok_or_else(|| Error::new("no llvm-ar found (Debian: `apt-get install llvm`)"))?;
    let targets: Vec<&str> = MOBILE.iter().map(|(t, _)| *t).collect();
    run(Command::new("rustup")
        .args(["target", "add"])
        .args(&targets))?;
    for (target, clang_target) in MOBILE {
        let var = target.replace('-', "_");
        let mut cmd = cargo(root);
        // `cargo rustc --crate-type staticlib`: the cdylib would need the platform linker.
        cmd.args([
            "rustc",
            "-p",
            "livecheck-ffi",
            "--lib",
            "--crate-type",
            "staticlib",
            "--target",
            target,
        ])
        // A compile check, not a shipped binary (build-aar.sh / build-xcframework.sh build
        // release): dependencies unoptimised and no debug info keep a cold CI run short.
        .args(["--config", "profile.dev.package.\"*\".opt-level=0"])
        .args(["--config", "profile.dev.debug=0"])
        .env(format!("CC_{var}"), "clang")
        .env(format!("CFLAGS_{var}"), format!("--target={clang_target}"))
        .env(format!("AR_{var}"), ar);
        if target.contains("apple") {
            // No iOS SDK here: cc-rs would ask `xcrun` unless SDKROOT names an existing
            // directory. tract compiles only assembly kernels, which need no SDK headers.
            let sdk = target_dir(root).join("empty-ios-sdk");
            fs::create_dir_all(&sdk).ctx("create", &sdk)?;
            cmd.env("SDKROOT", sdk);
        }
        run(&mut cmd)?;
        let out = target_dir(root)
            .join(target)
            .join("debug/liblivecheck_ffi.a");
        let size = fs::metadata(&out).ctx("stat", &out)?.len();
        eprintln!(
            "xtask: {target}: {} ({:.1} MiB, unlinked staticlib)",
            out.display(),
            size as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}

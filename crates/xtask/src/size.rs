//! `cargo xtask size`: what an app ships — the stripped livecheck-ffi shared library and the
//! models it loads.

use std::path::Path;
use std::process::Command;

use crate::manifest::Manifest;
use crate::tasks::{cargo_in, run};
use crate::util::{Error, Result};

/// The optional digits pack (a host that only asks for actions leaves it out; the VAD serves
/// only the digits challenge: `Engine::session` asks for it with a digits config alone).
const DIGITS_PACK: [&str; 4] = [
    "silero_vad_16k.onnx",
    "whisper_encoder_base_6s.onnx",
    "whisper_decoder_base_digits.onnx",
    "digits.onnx",
];

const USAGE: &str = "usage: cargo xtask size [--profile release|sdk] [--target TRIPLE] [--actions]";

/// The target that stands in for Android arm64 here (`apt-get install gcc-aarch64-linux-gnu`,
/// `rustup target add aarch64-unknown-linux-gnu`): there is no NDK to link the Android library.
const ARM64_LINUX: &str = "aarch64-unknown-linux-gnu";
/// Debian's aarch64 cross compiler, the linker for [`ARM64_LINUX`].
const ARM64_GCC: &str = "aarch64-linux-gnu-gcc";

/// Builds `liblivecheck_ffi.so` with the profile (default `sdk`) for the target (default the
/// host), strips a copy and prints its size beside the models' (each, the action set and the
/// digits pack). `--actions` builds the action SDK: without the `speech` feature (no tract),
/// which cannot load the digits pack.
pub fn size(root: &Path, args: &[String]) -> Result<()> {
    let (mut profile, mut target) = ("sdk".to_string(), None::<String>);
    let mut actions_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--actions" {
            actions_only = true;
            continue;
        }
        let value = it.next().cloned().ok_or_else(|| Error::new(USAGE));
        match a.as_str() {
            "--profile" => profile = value?,
            "--target" => target = Some(value?),
            _ => return Err(Error::new(USAGE)),
        }
    }
    let mut build = cargo_in(root);
    build.args([
        "build",
        "-p",
        "livecheck-ffi",
        "--lib",
        "--profile",
        &profile,
    ]);
    if actions_only {
        build.arg("--no-default-features");
    }
    if let Some(t) = &target {
        build.args(["--target", t]);
        if t == ARM64_LINUX {
            // Debian's cross compiler links the aarch64 ELF library and builds tract-linalg's
            // assembly kernels: the same code an Android arm64 library holds, without an NDK.
            build
                .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", ARM64_GCC)
                .env("CC_aarch64_unknown_linux_gnu", ARM64_GCC)
                .env("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar");
        }
    }
    run(&mut build)?;
    let mut dir = root.join("target");
    if let Some(t) = &target {
        dir = dir.join(t);
    }
    let lib = dir
        .join(if profile == "dev" { "debug" } else { &profile })
        .join("liblivecheck_ffi.so");
    let variant = if actions_only { "actions" } else { "full" };
    let stripped = root.join(format!(
        "target/size/liblivecheck_ffi.{profile}.{variant}.{}.so",
        target.as_deref().unwrap_or("host")
    ));
    std::fs::create_dir_all(root.join("target/size")).map_err(|e| Error::new(e.to_string()))?;
    // llvm-strip reads every architecture; binutils' strip only the host's.
    let strip = ["llvm-strip", "strip"]
        .into_iter()
        .find(|s| Command::new(s).arg("--version").output().is_ok())
        .ok_or_else(|| Error::new("neither llvm-strip nor strip is installed"))?;
    run(Command::new(strip).arg("-o").arg(&stripped).arg(&lib))?;
    let mb = |p: &Path| -> Result<f64> {
        Ok(std::fs::metadata(p)
            .map_err(|e| Error::new(format!("{}: {e}", p.display())))?
            .len() as f64
            / 1e6)
    };
    let (lib_mb, stripped_mb) = (mb(&lib)?, mb(&stripped)?);
    let manifest = Manifest::load(&root.join("models/models.toml"))?;
    let (mut actions, mut digits) = (0.0, 0.0);
    println!("| file | MB |\n|---|---|");
    println!(
        "| liblivecheck_ffi.so ({profile}, {}, {}), stripped ({lib_mb:.2} before) | {stripped_mb:.2} |",
        target.as_deref().unwrap_or("host"),
        if actions_only {
            "action SDK: no speech runtime"
        } else {
            "with the speech runtime"
        }
    );
    // The digits head is trained here and committed: models.toml's [digits], not a [[model]].
    let files = manifest.models.iter().map(|m| m.file.as_str());
    for file in files.chain(["digits.onnx"]) {
        let size = mb(&root.join("models").join(file))?;
        if DIGITS_PACK.contains(&file) {
            digits += size;
        } else {
            actions += size;
        }
        println!("| models/{file} | {size:.2} |");
    }
    println!(
        "| **library + action models** (vision, embedder) | **{:.2}** |",
        stripped_mb + actions
    );
    if actions_only {
        println!("| digits pack | not loadable by this library (built without `speech`) |");
    } else {
        println!("| digits pack (optional: VAD, Whisper, head) | {digits:.2} |");
    }
    Ok(())
}

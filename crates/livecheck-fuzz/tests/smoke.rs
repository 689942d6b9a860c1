//! The CI fuzz smoke run: every target on every input of its committed corpus
//! (`fuzz/corpus/<target>/`, grown by coverage-guided runs of `cargo xtask fuzz`), then on
//! random mutations of it for `LIVECHECK_FUZZ_SECS` seconds per target (default 12; seed
//! `LIVECHECK_FUZZ_SEED`, default fixed). No coverage guidance here (that needs an
//! instrumented build of every dependency: see README, "Fuzzing"), but the same target code,
//! so a corpus input that ever crashed stays a regression test. A failing input is written to
//! `target/fuzz-smoke/` for `cargo xtask fuzz TARGET --input FILE`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = livecheck_fuzz::root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect();
    assert!(!inputs.is_empty(), "{}: empty corpus", dir.display());
    inputs
}

/// A random edit of one corpus input (or of two spliced), or fresh random bytes.
fn mutate(rng: &mut ChaCha8Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = corpus[rng.random_range(0..corpus.len())].clone();
    match rng.random_range(0..6) {
        0 => {
            let mut fresh = vec![0u8; rng.random_range(0..2048)];
            rng.fill_bytes(&mut fresh);
            return fresh;
        }
        1 => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let cut = rng.random_range(0..=v.len());
            let from = rng.random_range(0..=other.len());
            v.truncate(cut);
            v.extend_from_slice(&other[from..]);
        }
        2 => v.truncate(rng.random_range(0..=v.len())),
        _ => {
            for _ in 0..rng.random_range(1..8) {
                if v.is_empty() {
                    v.push(0);
                }
                let i = rng.random_range(0..v.len());
                match rng.random_range(0..3) {
                    0 => v[i] ^= 1 << rng.random_range(0..8),
                    1 => v[i] = rng.random(),
                    _ => v.insert(i, rng.random()),
                }
            }
        }
    }
    v
}

fn smoke(target: &str) {
    let body = livecheck_fuzz::TARGETS
        .iter()
        .find(|t| t.0 == target)
        .expect("known target")
        .1;
    let secs: u64 = std::env::var("LIVECHECK_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("LIVECHECK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x11fe_c4ec);
    let inputs = corpus(target);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let run = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
            let dir = livecheck_fuzz::root().join("target/fuzz-smoke");
            std::fs::create_dir_all(&dir).expect("target/fuzz-smoke");
            let path = dir.join(format!("{target}-{what}.bin"));
            std::fs::write(&path, input).expect("write the failing input");
            panic!("{target}: {what} failed; input saved to {}", path.display());
        }
    };
    for (i, input) in inputs.iter().enumerate() {
        run(input, &format!("corpus-{i}"));
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let mut n = 0;
    while Instant::now() < end {
        let input = mutate(&mut rng, &inputs);
        run(&input, &format!("seed-{seed}-mutant-{n}"));
        n += 1;
    }
    eprintln!(
        "{target}: {} corpus inputs and {n} mutants in {secs} s, no failure",
        inputs.len()
    );
}

#[test]
fn frame() {
    smoke("frame");
}

#[test]
fn wav() {
    smoke("wav");
}

#[test]
fn pcm() {
    smoke("pcm");
}

#[test]
fn evidence() {
    smoke("evidence");
}

#[test]
fn model() {
    smoke("model");
}

#[test]
fn session() {
    if !livecheck_fuzz::session_ready() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the session target cannot run: provision the models \
             (cargo xtask models) and put ../shared/data beside the repository"
        );
        eprintln!(
            "SKIPPED session fuzz smoke: the models are not provisioned or ../shared/data \
             is missing (CI=true makes this a failure)"
        );
        return;
    }
    smoke("session");
}

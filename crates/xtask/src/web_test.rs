//! The web build's tests in a real browser (Debian's headless Chromium):
//! - the bindings' wasm-bindgen-test suite (`crates/livecheck-wasm/tests`), run by
//!   `wasm-bindgen-test-runner` through chromedriver;
//! - the page of `examples/web`, served from 127.0.0.1, with a real clip fed as the webcam
//!   (`--use-file-for-fake-video-capture`): it runs a whole session and POSTs its verdict
//!   back, which must equal the native `livecheck check` verdict on the same clip and plan;
//! - `--bench`: `Session.pushFrame` in the browser over the frames the native criterion bench
//!   `clip/session_blink` times, the two measured in one run.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::tasks::{cargo_in as cargo, run};
use crate::util::{target_dir, Error, IoContext, Result};
use crate::web::{wasm_bindgen_tool, TARGET};

/// The clip the bench times, and its frame count (as `livecheck_benches::{CLIP, CLIP_FRAMES}`).
const BENCH_CLIP: &str = "focus_blink/h264/mahie_test_1.mp4";
const BENCH_FRAMES: usize = 90;

/// One page test: a clip as the webcam, the plan, and the verdict expected.
struct Case {
    name: &'static str,
    /// ffmpeg input arguments producing the camera feed.
    input: Vec<String>,
    /// The plan (`--actions`).
    actions: &'static str,
    passes: bool,
}

fn shared_data(root: &Path) -> PathBuf {
    root.join("../shared/data")
}

/// Makes sure Chromium and chromedriver are installed (apt-get as root on Debian).
fn chromium() -> Result<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(n))
                .find(|p| p.is_file())
        })
    };
    if find(&["chromium"]).is_none() || find(&["chromedriver"]).is_none() {
        crate::bindings::apt_install(
            &["chromium", "chromium-driver"],
            "the browser tests run in headless Chromium",
        )?;
    }
    match (find(&["chromium"]), find(&["chromedriver"])) {
        (Some(c), Some(d)) => Ok((c, d)),
        _ => Err(Error::new(
            "chromium or chromedriver missing after installing them",
        )),
    }
}

/// The bindings' wasm-bindgen-test suite in headless Chromium (release, like the web build, so
/// tract compiles once for both).
pub fn wasm_bindgen_tests(root: &Path) -> Result<()> {
    let (_, driver) = chromium()?;
    let runner = wasm_bindgen_tool(root, "wasm-bindgen-test-runner")?;
    let var = format!(
        "CARGO_TARGET_{}_RUNNER",
        TARGET.to_uppercase().replace('-', "_")
    );
    run(cargo(root)
        .args([
            "test",
            "--release",
            "--target",
            TARGET,
            "-p",
            "livecheck-wasm",
        ])
        .env(var, runner)
        .env("CHROMEDRIVER", driver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300"))
}

/// A static file server for `dir` on 127.0.0.1 (a free port); `POST /result` bodies are sent
/// to the returned channel. Returns the base URL.
fn serve(dir: PathBuf) -> Result<(String, mpsc::Receiver<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::new(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener.local_addr().expect("bound").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (dir, tx) = (dir.clone(), tx.clone());
            std::thread::spawn(move || {
                let _ = answer(stream, &dir, &tx);
            });
        }
    });
    Ok((format!("http://127.0.0.1:{port}"), rx))
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// One HTTP/1.1 request: GET a file under `dir`, or POST /result.
fn answer(stream: TcpStream, dir: &Path, results: &mpsc::Sender<String>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut out = stream;
    let path = target.split('?').next().unwrap_or("/");
    let respond = |out: &mut TcpStream, status: &str, kind: &str, body: &[u8]| {
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        out.write_all(body)
    };
    if method == "POST" && path == "/result" {
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let _ = results.send(String::from_utf8_lossy(&body).into_owned());
        return respond(&mut out, "200 OK", "text/plain", b"ok");
    }
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    if relative.split('/').any(|c| c == ".." || c.is_empty()) {
        return respond(&mut out, "400 Bad Request", "text/plain", b"bad path");
    }
    let file = dir.join(relative);
    match fs::read(&file) {
        Ok(body) => respond(&mut out, "200 OK", mime(&file), &body),
        Err(_) => respond(&mut out, "404 Not Found", "text/plain", b"not found"),
    }
}

/// Headless Chromium on `url` with `feed` (an .mjpeg file) as the camera, in its own process
/// group (killed whole afterwards); its log goes to `log`.
fn launch(
    chromium: &Path,
    url: &str,
    feed: Option<&Path>,
    profile: &Path,
    log: &Path,
) -> Result<Child> {
    let log_file = fs::File::create(log).ctx("create", log)?;
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--mute-audio",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--enable-logging=stderr",
    ]);
    if let Some(feed) = feed {
        cmd.arg(format!(
            "--use-file-for-fake-video-capture={}",
            feed.display()
        ));
    }
    cmd.arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(log_file)
        .process_group(0);
    cmd.spawn()
        .map_err(|e| Error::new(format!("cannot start {}: {e}", chromium.display())))
}

/// Kills Chromium and every process it started (its process group). The `--` matters:
/// procps' `kill -KILL -PID` does not read `-PID` as a process group.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// Opens `url` in headless Chromium and waits up to `limit` for the page's POSTed outcome.
fn outcome(
    chromium: &Path,
    url: &str,
    feed: Option<&Path>,
    work: &Path,
    results: &mpsc::Receiver<String>,
    limit: Duration,
) -> Result<serde_json::Value> {
    let name = feed
        .and_then(|f| f.file_stem())
        .map_or("page".into(), |s| s.to_string_lossy().into_owned());
    let profile = work.join(format!("profile-{name}"));
    let _ = fs::remove_dir_all(&profile);
    let log = work.join(format!("chromium-{name}.log"));
    let mut child = launch(chromium, url, feed, &profile, &log)?;
    let started = Instant::now();
    let got = results.recv_timeout(limit);
    kill(&mut child);
    let body = got.map_err(|_| {
        Error::new(format!(
            "no result from the page within {} s ({url}; Chromium's log: {})",
            limit.as_secs(),
            log.display()
        ))
    })?;
    eprintln!(
        "xtask: page answered after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    serde_json::from_str(&body).map_err(|e| Error::new(format!("page result {body:?}: {e}")))
}

/// Runs `ffmpeg -y <input> <output args>`.
fn ffmpeg(input: &[String], output: &[&str], to: &Path) -> Result<()> {
    run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(input)
        .args(output)
        .arg(to))
}

/// The native verdict of `livecheck check <clip> --actions A --seed 1 --json` (the CLI built
/// in the dev profile, as the tests build it).
fn native_verdict(root: &Path, clip: &Path, actions: &str) -> Result<serde_json::Value> {
    let out = cargo(root)
        .args([
            "run",
            "--quiet",
            "-p",
            "livecheck-cli",
            "--bin",
            "livecheck",
            "--",
            "check",
        ])
        .arg(clip)
        .args(["--actions", actions, "--seed", "1", "--json"])
        .output()
        .map_err(|e| Error::new(format!("cannot run livecheck check: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    serde_json::from_str(line).map_err(|e| {
        Error::new(format!(
            "livecheck check {}: {e}: {}",
            clip.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// The page test: each case's clip as the webcam; the browser's verdict must be the expected
/// one and the native CLI's on the same clip and plan.
pub fn page_tests(root: &Path, site: &Path) -> Result<()> {
    let data = shared_data(root);
    if !data.join("MANIFEST.tsv").is_file() {
        if std::env::var("CI").as_deref() == Ok("true") {
            return Err(Error::new(format!(
                "{} is missing (CI=true)",
                data.display()
            )));
        }
        eprintln!("SKIPPED web page tests: {} is missing", data.display());
        return Ok(());
    }
    let (chromium, _) = chromium()?;
    let work = target_dir(root).join("web-test");
    fs::create_dir_all(&work).ctx("create", &work)?;
    let s = |x: &str| x.to_string();
    let cases = [
        Case {
            name: "live",
            input: vec![s("-i"), data.join(BENCH_CLIP).display().to_string()],
            actions: "blink",
            passes: true,
        },
        Case {
            // The photo held close to the camera (the crop the core's session test uses),
            // 12 s: longer than the alignment and the blink's 10 s timeout.
            name: "still",
            input: vec![
                s("-loop"),
                s("1"),
                s("-framerate"),
                s("30"),
                s("-i"),
                data.join("skimage/astronaut.png").display().to_string(),
                s("-vf"),
                s("crop=150:200:150:30"),
                s("-t"),
                s("12"),
            ],
            actions: "blink",
            passes: false,
        },
    ];
    let (base, results) = serve(site.to_path_buf())?;
    let mut failures = Vec::new();
    eprintln!("xtask: web page tests (headless Chromium, the clip fed as the camera)");
    for case in &cases {
        let feed = work.join(format!("{}.mjpeg", case.name));
        ffmpeg(
            &case.input,
            &[
                "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3", "-f", "mjpeg",
            ],
            &feed,
        )?;
        // 4:2:0: Chromium's fake camera cannot convert other MJPEG subsamplings. The native
        // side reads the same feed (an MJPEG stream ffmpeg decodes).
        let native = native_verdict(root, &feed, case.actions)?;
        let url = format!(
            "{base}/index.html?auto=1&report=1&actions={}&seed=1",
            case.actions
        );
        let got = outcome(
            &chromium,
            &url,
            Some(&feed),
            &work,
            &results,
            Duration::from_secs(180),
        )?;
        let verdict = &got["verdict"];
        let summary = format!(
            "{:<6} plan {:<6} browser passed={} reasons={} | native passed={} reasons={} | {} frames, median pushFrame {:.1} ms, first feedback {:.0} ms, engine load {:.0} ms",
            case.name,
            case.actions,
            verdict["passed"],
            verdict["reasons"],
            native["passed"],
            native["reasons"],
            got["frames"],
            got["medianCostMs"].as_f64().unwrap_or(f64::NAN),
            got["firstFeedbackMs"].as_f64().unwrap_or(f64::NAN),
            got["ready"]["loadMs"].as_f64().unwrap_or(f64::NAN),
        );
        eprintln!("  {summary}");
        let expected = serde_json::Value::Bool(case.passes);
        if got.get("fatal").is_some() || !got["errors"].as_array().is_some_and(Vec::is_empty) {
            failures.push(format!(
                "{}: page errors: {} {}",
                case.name, got["fatal"], got["errors"]
            ));
        } else if verdict["passed"] != expected || native["passed"] != expected {
            failures.push(format!(
                "{}: expected passed={}: {summary}",
                case.name, case.passes
            ));
        } else if verdict["challenge"] != native["challenge"] {
            failures.push(format!(
                "{}: browser plan {} differs from native {}",
                case.name, verdict["challenge"], native["challenge"]
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "web page tests failed:\n  {}",
            failures.join("\n  ")
        )))
    }
}

/// Per-frame cost in the browser against native, in one run: `Session.pushFrame` over the
/// first 90 frames of the clip (RGBA, a fresh blink session per pass) in the page's worker,
/// then the native criterion bench `clip/session_blink` on the same frames.
pub fn bench(root: &Path, site: &Path, passes: u32) -> Result<()> {
    let data = shared_data(root);
    let (chromium, _) = chromium()?;
    let work = target_dir(root).join("web-test");
    fs::create_dir_all(site.join("bench")).ctx("create", site)?;
    fs::create_dir_all(&work).ctx("create", &work)?;
    let frames = site.join("bench/frames.rgba");
    let input = vec![
        "-i".to_string(),
        data.join(BENCH_CLIP).display().to_string(),
    ];
    ffmpeg(
        &input,
        &[
            "-frames:v",
            &BENCH_FRAMES.to_string(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgba",
        ],
        &frames,
    )?;
    // The clip's presentation times, as the native bench reads them.
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time,width,height",
            "-of",
            "json",
        ])
        .args(["-read_intervals", &format!("%+#{BENCH_FRAMES}")])
        .arg(data.join(BENCH_CLIP))
        .output()
        .map_err(|e| Error::new(format!("cannot run ffprobe: {e}")))?;
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout)
        .map_err(|e| Error::new(format!("ffprobe output: {e}")))?;
    let list = probe["frames"].as_array().cloned().unwrap_or_default();
    let t_ms: Vec<i64> = list
        .iter()
        .take(BENCH_FRAMES)
        .map(|f| {
            let s: f64 = f["pts_time"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0);
            (s * 1000.0).round() as i64
        })
        .collect();
    let (w, h) = (list[0]["width"].clone(), list[0]["height"].clone());
    let meta = serde_json::json!({ "width": w, "height": h, "t_ms": t_ms });
    let path = site.join("bench/frames.json");
    fs::write(&path, meta.to_string()).ctx("write", &path)?;
    let (base, results) = serve(site.to_path_buf())?;
    let got = outcome(
        &chromium,
        &format!("{base}/index.html?bench={passes}&report=1"),
        None,
        &work,
        &results,
        Duration::from_secs(600),
    )?;
    let browser = got["bench"]["perFrameMs"]
        .as_f64()
        .ok_or_else(|| Error::new(format!("no bench result from the page: {got}")))?;
    run(cargo(root).args([
        "bench",
        "-p",
        "livecheck-benches",
        "--bench",
        "pipeline",
        "--",
        "clip/session_blink",
    ]))?;
    let estimates = target_dir(root).join("criterion/clip/session_blink/new/estimates.json");
    let text = fs::read_to_string(&estimates).ctx("read", &estimates)?;
    let native_pass_ns = crate::tasks::criterion_median_ns(&text)
        .ok_or_else(|| Error::new("no median in the criterion estimates"))?;
    let native = native_pass_ns / 1e6 / BENCH_FRAMES as f64;
    eprintln!(
        "xtask: Session.pushFrame per frame, {BENCH_FRAMES} frames of {BENCH_CLIP}, one thread"
    );
    eprintln!("  browser (wasm, SIMD128)  {browser:.2} ms");
    eprintln!("  native (criterion)       {native:.2} ms");
    eprintln!("  ratio                    {:.2}x", browser / native);
    println!(
        "{}",
        serde_json::json!({ "browser_ms": browser, "native_ms": native, "ratio": browser / native,
            "frames": BENCH_FRAMES, "browser_passes": got["bench"]["perPass"] })
    );
    Ok(())
}

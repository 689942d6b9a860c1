//! `livecheck-desktop`: a liveness check on a clip, in a window or headless, as a pensioner
//! sees it in the host app (the frame, the oval, one prompt at a time in large Chinese type, the
//! challenge, the verdict), with record and replay.
//!
//! ```text
//! livecheck-desktop [--video FILE | --webcam N | --replay DIR] [--mode action|digits] [--actions blink,nod]
//!                   [--digits 4829] [--audio WAV] [--seed N] [--lang zh|en] [--headless]
//!                   [--record DIR] [--screenshots DIR] [--fast] [--hold-ms N] [--models DIR]
//! ```
//! With no input it checks the embedded clip `fixtures/clips/grid_brbk7n.mp4` (a real GRID
//! talking face, CC BY 4.0) with the plan it passes: a blink (action mode), or the digit 7 its
//! speaker says (digits mode). `--headless` prints one JSON line of feedback per frame and the
//! verdict last (the `livecheck check` shape); the window prints the verdict line too.
//! `--webcam N` (features `webcam`, and `mic` for the digits mode) reads a camera, shown
//! mirrored as phones do, and the default microphone.

mod draw;
#[cfg(feature = "mic")]
mod mic;
mod record;
mod text;
#[cfg(feature = "webcam")]
mod webcam;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use livecheck::{Engine, ModelSet, Prompt, Session, SessionConfig, Verdict};
use livecheck_cli::json::{challenge_json, feedback_json, parse_actions, verdict_json};
use serde_json::json;

use crate::draw::{Canvas, Picture, Screen};
use crate::record::Event;
use crate::text::Text;

const USAGE: &str =
    "usage: livecheck-desktop [--video FILE | --webcam N | --replay DIR] [--mode action|digits]
       [--actions blink,nod,shake,mouth] [--digits 4829] [--audio WAV] [--seed N] [--lang zh|en]
       [--reference PHOTO] [--headless] [--record DIR] [--screenshots DIR] [--fast] [--hold-ms N]
       [--models DIR]";

/// The embedded default clip (relative to the repository root).
const DEFAULT_CLIP: &str = "fixtures/clips/grid_brbk7n.mp4";

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `--key value` options and bare flags.
struct Args {
    opts: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Args, String> {
        const FLAGS: [&str; 2] = ["headless", "fast"];
        let (mut opts, mut flags) = (HashMap::new(), Vec::new());
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let key = a
                .strip_prefix("--")
                .ok_or(format!("unexpected {a}\n{USAGE}"))?;
            if FLAGS.contains(&key) {
                flags.push(key.to_string());
            } else {
                let v = it.next().ok_or(format!("{a} needs a value\n{USAGE}"))?;
                opts.insert(key.to_string(), v.clone());
            }
        }
        Ok(Args { opts, flags })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.opts.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        self.flags.iter().any(|f| f == key)
    }
}

/// The run's settings: what `run.json` records and a replay reads back.
fn settings(args: &Args, replay: Option<&serde_json::Value>) -> Result<serde_json::Value, String> {
    if let Some(run) = replay {
        return Ok(run.clone());
    }
    let mode = args.get("mode").unwrap_or("action");
    if !["action", "digits"].contains(&mode) {
        return Err(format!("unknown --mode {mode} (action, digits)"));
    }
    let lang = args.get("lang").unwrap_or("zh");
    if !["zh", "en"].contains(&lang) {
        return Err(format!("unknown --lang {lang} (zh, en)"));
    }
    let default_clip = args.get("video").is_none() && args.get("webcam").is_none();
    // The embedded clip's plan: it blinks once, 0.8 s in, and says "seven".
    let actions = args
        .get("actions")
        .or((default_clip && mode == "action").then_some("blink"));
    let digits = args
        .get("digits")
        .or((default_clip && mode == "digits").then_some("7"));
    let seed: u64 = match args.get("seed") {
        Some(s) => s
            .parse()
            .map_err(|_| format!("--seed must be an integer, got {s}"))?,
        None => 0,
    };
    Ok(json!({
        "mode": mode,
        "actions": actions,
        "digits": digits,
        "seed": seed,
        "lang": lang,
        "reference": args.get("reference"),
    }))
}

fn config(run: &serde_json::Value) -> Result<SessionConfig, String> {
    let lang = match run["lang"].as_str() {
        Some("en") => livecheck::Language::English,
        _ => livecheck::Language::Mandarin,
    };
    let mut c = if run["mode"] == "digits" {
        SessionConfig::digits(lang)
    } else {
        SessionConfig::action()
    };
    if let Some(list) = run["actions"].as_str() {
        c = c.with_actions(&parse_actions(list)?);
    }
    if let Some(d) = run["digits"].as_str() {
        c = c.with_digits(d);
    }
    Ok(c.with_seed(run["seed"].as_u64().unwrap_or(0)))
}

fn engine(args: &Args) -> Result<Engine, String> {
    let dir = args
        .get("models")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LIVECHECK_MODELS").map(PathBuf::from))
        .unwrap_or_else(|| repo_root().join("models"));
    let models = ModelSet::from_dir(&dir)
        .map_err(|e| format!("{e} (provision the models with `cargo xtask models`)"))?;
    Engine::load(&models).map_err(|e| e.to_string())
}

/// Pushes from the camera (and, in the digits mode, the microphone), in capture order.
#[cfg(feature = "webcam")]
fn live(
    index: &str,
    digits: bool,
) -> Result<Box<dyn Iterator<Item = Result<Event, String>>>, String> {
    let index: u32 = index
        .parse()
        .map_err(|_| format!("--webcam takes a camera number, got {index}"))?;
    let clock = Instant::now();
    #[cfg(feature = "mic")]
    let mic = if digits {
        Some(mic::Mic::open(clock)?)
    } else {
        None
    };
    #[cfg(not(feature = "mic"))]
    if digits {
        return Err("the digits mode on a webcam needs the `mic` feature".into());
    }
    let mut camera = webcam::Webcam::open(index, clock)?;
    let mut pending: std::collections::VecDeque<Event> = Default::default();
    Ok(Box::new(std::iter::from_fn(move || {
        #[cfg(feature = "mic")]
        if let Some(m) = &mic {
            pending.extend(
                m.drain()
                    .into_iter()
                    .map(|(t, s)| Event::Audio(t, m.rate, s)),
            );
        }
        match pending.pop_front() {
            Some(e) => Some(Ok(e)),
            None => camera.next().map(|f| f.map(Event::Frame)),
        }
    })))
}

#[cfg(not(feature = "webcam"))]
fn live(_: &str, _: bool) -> Result<Box<dyn Iterator<Item = Result<Event, String>>>, String> {
    Err(
        "built without the `webcam` feature (cargo run -p livecheck-desktop --features webcam,mic)"
            .into(),
    )
}

/// The window, when there is one.
#[cfg(feature = "window")]
struct Window(minifb::Window);

#[cfg(feature = "window")]
impl Window {
    fn open() -> Result<Window, String> {
        let w = minifb::Window::new(
            "livecheck",
            draw::WIDTH,
            draw::HEIGHT,
            minifb::WindowOptions::default(),
        )
        .map_err(|e| format!("cannot open a window ({e}); use --headless without a display"))?;
        Ok(Window(w))
    }

    /// Shows `canvas`; false once the user closed the window or pressed Esc.
    fn show(&mut self, canvas: &Canvas) -> Result<bool, String> {
        self.0
            .update_with_buffer(&canvas.pixels, draw::WIDTH, draw::HEIGHT)
            .map_err(|e| e.to_string())?;
        Ok(self.0.is_open() && !self.0.is_key_down(minifb::Key::Escape))
    }
}

#[cfg(not(feature = "window"))]
struct Window;

#[cfg(not(feature = "window"))]
impl Window {
    fn open() -> Result<Window, String> {
        Err("built without the `window` feature: use --headless".into())
    }
    fn show(&mut self, _: &Canvas) -> Result<bool, String> {
        Ok(true)
    }
}

/// Saves screenshots of the first challenge frame and of the verdict into a folder.
struct Shots {
    dir: Option<PathBuf>,
    prompt_saved: bool,
}

impl Shots {
    fn challenge(&mut self, canvas: &Canvas, prompt: Prompt) -> Result<(), String> {
        let asking = draw::asks(prompt);
        if let (Some(dir), true, false) = (&self.dir, asking, self.prompt_saved) {
            canvas.save_png(&dir.join("prompt.png"))?;
            self.prompt_saved = true;
        }
        Ok(())
    }

    fn verdict(&self, canvas: &Canvas) -> Result<(), String> {
        match &self.dir {
            Some(dir) => canvas.save_png(&dir.join("verdict.png")),
            None => Ok(()),
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let replay = match args.get("replay") {
        Some(dir) => Some(record::Recording::open(Path::new(dir))?),
        None => None,
    };
    let run = settings(args, replay.as_ref().map(|r| &r.run))?;
    let engine = engine(args)?;
    let mut plan = config(&run)?;
    if let Some(path) = run["reference"].as_str() {
        plan = plan.with_reference(livecheck_cli::reference(&engine, path)?);
    }
    let mut session: Session = engine.session(plan).map_err(|e| e.to_string())?;
    let challenge = challenge_json(&session);
    let video = args
        .get("video")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(DEFAULT_CLIP));
    let mut recorder = match args.get("record") {
        Some(dir) => Some(record::Recorder::create(Path::new(dir), &run)?),
        None => None,
    };
    let webcam = args.get("webcam");
    let events: Box<dyn Iterator<Item = Result<Event, String>>> = match (replay, webcam) {
        (Some(r), _) => Box::new(r),
        (None, Some(index)) => live(index, run["mode"] == "digits")?,
        (None, None) => {
            // Audio first (digits mode): the whole recording at 0 ms, as `livecheck check` does.
            let audio = if run["mode"] == "digits" {
                let wav = match args.get("audio") {
                    Some(p) => std::fs::read(p).map_err(|e| format!("{p}: {e}"))?,
                    None => livecheck_media::extract_wav(&video).map_err(|e| e.to_string())?,
                };
                let pcm = livecheck::audio::wav::read_bytes(&wav).map_err(|e| e.to_string())?;
                Some(Ok(Event::Audio(0, pcm.sample_rate, pcm.samples)))
            } else {
                None
            };
            Box::new(
                audio
                    .into_iter()
                    .chain(livecheck_cli::frames(&video)?.map(|f| f.map(Event::Frame))),
            )
        }
    };
    let mirror = webcam.is_some();

    let headless = args.flag("headless");
    let mut window = if headless {
        None
    } else {
        Some(Window::open()?)
    };
    let font = Text::find();
    let chinese = run["lang"] != "en" && font.as_ref().is_some_and(|f| f.covers("请眨眨眼"));
    match (&font, headless) {
        (Some(f), false) => eprintln!("livecheck-desktop: font {}", f.path.display()),
        (None, false) => eprintln!("livecheck-desktop: no font found (install fonts-wqy-microhei or set LIVECHECK_FONT): prompts are not drawn"),
        _ => {}
    }
    let oval = config(&run)?.analyzer.quality.oval;
    let digits = session.digits().map(str::to_string);
    let mut canvas = Canvas::default();
    let mut shots = Shots {
        dir: args.get("screenshots").map(PathBuf::from),
        prompt_saved: false,
    };
    if let Some(dir) = &shots.dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let paced = !headless && !args.flag("fast");
    let start = Instant::now();
    let mut first_t: Option<i64> = None;
    let mut stdout = std::io::stdout().lock();
    for event in events {
        let event = event?;
        if let Some(r) = &mut recorder {
            r.push(&event)?;
        }
        let frame = match event {
            Event::Audio(t, rate, samples) => {
                session
                    .push_audio(&samples, rate, t)
                    .map_err(|e| e.to_string())?;
                continue;
            }
            Event::Frame(f) => f,
        };
        let fb = session
            .push_frame(&frame.view().map_err(|e| e.to_string())?, frame.t_ms)
            .map_err(|e| e.to_string())?;
        if headless {
            writeln!(stdout, "{}", feedback_json(&fb)).map_err(|e| e.to_string())?;
        }
        if let Some(w) = &mut window {
            let t0 = *first_t.get_or_insert(frame.t_ms);
            let due = Duration::from_millis((frame.t_ms - t0).max(0) as u64);
            if paced {
                std::thread::sleep(due.saturating_sub(start.elapsed()));
            }
            let screen = Screen {
                picture: Some(Picture {
                    rgb: &frame.data,
                    width: frame.width,
                    height: frame.height,
                    mirror,
                }),
                oval,
                feedback: Some(fb),
                chinese,
                digits: digits.as_deref(),
                verdict: None,
            };
            draw::render(&mut canvas, &screen, font.as_ref());
            shots.challenge(&canvas, fb.prompt)?;
            if !w.show(&canvas)? {
                break;
            }
        }
        if fb.phase.is_done() {
            break;
        }
    }
    let verdict: Verdict = session.finish().map_err(|e| e.to_string())?;
    let line = verdict_json(&verdict, challenge);
    writeln!(stdout, "{line}").map_err(|e| e.to_string())?;
    if let Some(r) = recorder {
        r.finish(&line)?;
    }
    if let Some(w) = &mut window {
        let best = verdict
            .best_frame
            .as_ref()
            .and_then(|b| image::load_from_memory(&b.jpeg).ok().map(|i| i.to_rgb8()));
        let screen = Screen {
            picture: best.as_ref().map(|b| Picture {
                rgb: b.as_raw(),
                width: b.width(),
                height: b.height(),
                mirror,
            }),
            oval,
            feedback: None,
            chinese,
            digits: None,
            verdict: Some(&verdict),
        };
        draw::render(&mut canvas, &screen, font.as_ref());
        shots.verdict(&canvas)?;
        let hold: u64 = match args.get("hold-ms") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("--hold-ms must be an integer, got {v}"))?,
            None => 4000,
        };
        let until = Instant::now() + Duration::from_millis(hold);
        while Instant::now() < until && w.show(&canvas)? {
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match Args::parse(&args).and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livecheck-desktop: {e}");
            ExitCode::from(2)
        }
    }
}

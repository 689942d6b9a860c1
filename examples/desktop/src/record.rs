//! `--record DIR` / `--replay DIR`: everything a session was fed, so that it can be run again.
//!
//! Layout of DIR:
//! - `run.json`: the session's settings (mode, actions, digits, seed, language);
//! - `session.bin`: `LCS1`, then every push in order: `F`, `t_ms` (i64 LE), width, height (u32
//!   LE) and `width * height * 3` RGB bytes for a frame; `A`, `t_ms` (i64 LE), sample rate and
//!   sample count (u32 LE) and the f32 LE samples for an audio chunk;
//! - `verdict.json`: the verdict line the run printed.
//!
//! The core is sans-I/O and keyed only by the caller's timestamps, so replaying these bytes
//! gives the identical verdict (`tests/desktop.rs` checks it).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use livecheck::OwnedFrame;

const MAGIC: &[u8; 4] = b"LCS1";

/// One push into the session.
pub enum Event {
    /// A frame.
    Frame(OwnedFrame),
    /// An audio chunk: its first sample's time, the rate and the mono samples.
    Audio(i64, u32, Vec<f32>),
}

/// Writes every push as it happens.
pub struct Recorder {
    dir: PathBuf,
    log: BufWriter<File>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

impl Recorder {
    /// Creates `dir` (and its parents) and writes `run.json`.
    pub fn create(dir: &Path, run: &serde_json::Value) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let p = dir.join("run.json");
        std::fs::write(&p, run.to_string() + "\n").map_err(io(&p))?;
        let p = dir.join("session.bin");
        let mut log = BufWriter::new(File::create(&p).map_err(io(&p))?);
        log.write_all(MAGIC).map_err(io(&p))?;
        Ok(Recorder {
            dir: dir.to_path_buf(),
            log,
        })
    }

    /// Appends one push (a frame in RGB, or an audio chunk).
    pub fn push(&mut self, e: &Event) -> Result<(), String> {
        let p = self.dir.join("session.bin");
        let w = &mut self.log;
        let mut put = |b: &[u8]| w.write_all(b).map_err(io(&p));
        match e {
            Event::Frame(f) => {
                put(b"F")?;
                put(&f.t_ms.to_le_bytes())?;
                put(&f.width.to_le_bytes())?;
                put(&f.height.to_le_bytes())?;
                put(&f.data)
            }
            Event::Audio(t, rate, samples) => {
                put(b"A")?;
                put(&t.to_le_bytes())?;
                put(&rate.to_le_bytes())?;
                put(&(samples.len() as u32).to_le_bytes())?;
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                put(&bytes)
            }
        }
    }

    /// Flushes the log and writes the verdict line.
    pub fn finish(mut self, verdict: &serde_json::Value) -> Result<(), String> {
        let p = self.dir.join("session.bin");
        self.log.flush().map_err(io(&p))?;
        let p = self.dir.join("verdict.json");
        std::fs::write(&p, verdict.to_string() + "\n").map_err(io(&p))
    }
}

/// A recording opened for replay: its settings, then its pushes in order.
pub struct Recording {
    /// The settings of the recorded run.
    pub run: serde_json::Value,
    log: BufReader<File>,
    path: PathBuf,
}

impl Recording {
    /// Opens `dir`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let p = dir.join("run.json");
        let run = serde_json::from_str(&std::fs::read_to_string(&p).map_err(io(&p))?)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        let path = dir.join("session.bin");
        let mut log = BufReader::new(File::open(&path).map_err(io(&path))?);
        let mut magic = [0u8; 4];
        log.read_exact(&mut magic).map_err(io(&path))?;
        if &magic != MAGIC {
            return Err(format!("{}: not a livecheck recording", path.display()));
        }
        Ok(Recording { run, log, path })
    }

    fn read(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut b = vec![0u8; n];
        self.log
            .read_exact(&mut b)
            .map_err(|e| format!("{}: truncated: {e}", self.path.display()))?;
        Ok(b)
    }

    fn event(&mut self, tag: u8) -> Result<Event, String> {
        let head = self.read(16)?;
        let t_ms = i64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let a = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let b = u32::from_le_bytes(head[12..].try_into().expect("4 bytes"));
        let bad = |what: String| format!("{}: {what}", self.path.display());
        match tag {
            b'F' => {
                let len = a as usize * b as usize * 3;
                if a == 0 || b == 0 || len > 64 << 20 {
                    return Err(bad(format!("bad frame size {a}x{b}")));
                }
                Ok(Event::Frame(OwnedFrame::rgb(self.read(len)?, a, b, t_ms)))
            }
            b'A' => {
                if b as usize > 10 << 20 {
                    return Err(bad(format!("bad audio chunk of {b} samples")));
                }
                let samples = self
                    .read(b as usize * 4)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect();
                Ok(Event::Audio(t_ms, a, samples))
            }
            other => Err(bad(format!("unknown record {other:#04x}"))),
        }
    }
}

impl Iterator for Recording {
    type Item = Result<Event, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut tag = [0u8; 1];
        match self.log.read_exact(&mut tag) {
            Ok(()) => Some(self.event(tag[0])),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(io(&self.path)(e))),
        }
    }
}

//! `--record DIR` / `--replay DIR`: everything a session was fed, so that it can be run again.
//!
//! Layout of DIR:
//! - `run.json`: the session's settings (mode, actions, digits, seed, language);
//! - `frames.bin`: `LCF1`, then per frame `t_ms` (i64 LE), width, height (u32 LE) and
//!   `width * height * 3` RGB bytes, exactly as pushed;
//! - `audio.wav`: the WAV bytes pushed in the digits mode (absent otherwise);
//! - `verdict.json`: the verdict line the run printed.
//!
//! The core is sans-I/O and keyed only by the caller's timestamps, so replaying these bytes
//! gives the identical verdict (`tests/desktop.rs` checks it).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use livecheck::OwnedFrame;

const MAGIC: &[u8; 4] = b"LCF1";

/// Writes frames as they are pushed.
pub struct Recorder {
    dir: PathBuf,
    frames: BufWriter<File>,
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
        let p = dir.join("frames.bin");
        let mut frames = BufWriter::new(File::create(&p).map_err(io(&p))?);
        frames.write_all(MAGIC).map_err(io(&p))?;
        Ok(Recorder {
            dir: dir.to_path_buf(),
            frames,
        })
    }

    /// Appends one RGB frame.
    pub fn frame(&mut self, f: &OwnedFrame) -> Result<(), String> {
        let p = self.dir.join("frames.bin");
        let w = &mut self.frames;
        w.write_all(&f.t_ms.to_le_bytes()).map_err(io(&p))?;
        w.write_all(&f.width.to_le_bytes()).map_err(io(&p))?;
        w.write_all(&f.height.to_le_bytes()).map_err(io(&p))?;
        w.write_all(&f.data).map_err(io(&p))
    }

    /// Writes the audio pushed.
    pub fn audio(&self, wav: &[u8]) -> Result<(), String> {
        let p = self.dir.join("audio.wav");
        std::fs::write(&p, wav).map_err(io(&p))
    }

    /// Flushes the frames and writes the verdict line.
    pub fn finish(mut self, verdict: &serde_json::Value) -> Result<(), String> {
        let p = self.dir.join("frames.bin");
        self.frames.flush().map_err(io(&p))?;
        let p = self.dir.join("verdict.json");
        std::fs::write(&p, verdict.to_string() + "\n").map_err(io(&p))
    }
}

/// A recording opened for replay.
pub struct Recording {
    /// The settings of the recorded run.
    pub run: serde_json::Value,
    /// The audio pushed, if any.
    pub audio: Option<Vec<u8>>,
    frames: BufReader<File>,
    path: PathBuf,
}

impl Recording {
    /// Opens `dir`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let p = dir.join("run.json");
        let run = serde_json::from_str(&std::fs::read_to_string(&p).map_err(io(&p))?)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        let a = dir.join("audio.wav");
        let audio = if a.exists() {
            Some(std::fs::read(&a).map_err(io(&a))?)
        } else {
            None
        };
        let path = dir.join("frames.bin");
        let mut frames = BufReader::new(File::open(&path).map_err(io(&path))?);
        let mut magic = [0u8; 4];
        frames.read_exact(&mut magic).map_err(io(&path))?;
        if &magic != MAGIC {
            return Err(format!("{}: not a livecheck recording", path.display()));
        }
        Ok(Recording {
            run,
            audio,
            frames,
            path,
        })
    }
}

impl Iterator for Recording {
    type Item = Result<OwnedFrame, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut head = [0u8; 16];
        match self.frames.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(Err(io(&self.path)(e))),
        }
        let t_ms = i64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let w = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let h = u32::from_le_bytes(head[12..].try_into().expect("4 bytes"));
        let len = w as usize * h as usize * 3;
        if w == 0 || h == 0 || len > 64 << 20 {
            return Some(Err(format!(
                "{}: bad frame size {w}x{h}",
                self.path.display()
            )));
        }
        let mut data = vec![0u8; len];
        if let Err(e) = self.frames.read_exact(&mut data) {
            return Some(Err(format!(
                "{}: truncated frame: {e}",
                self.path.display()
            )));
        }
        Some(Ok(OwnedFrame::rgb(data, w, h, t_ms)))
    }
}

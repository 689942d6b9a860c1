//! Decoding of recorded media into packed RGB frames with timestamps.
//!
//! Videos (H.264 MP4, MPEG-1, MPEG-4 AVI, MOV, anything ffmpeg reads) are decoded by the
//! `ffmpeg` program in a child process: frames stream through a pipe as raw RGB24, and each
//! frame's presentation time comes from ffmpeg's `showinfo` filter, so variable frame rates
//! (webcams, phones) keep their real timing. Container rotation is applied by ffmpeg. Images
//! (JPEG, PNG, PPM) are decoded in-process by the `image` crate.
//! [`extract_wav`] pulls a clip's audio track out as 16 kHz mono WAV bytes.
//!
//! `ffmpeg` must be on `PATH` (Debian: `apt-get install ffmpeg`; `cargo xtask setup` does it).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};

/// Errors while opening or decoding media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file does not exist or cannot be read.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ffmpeg program is not installed.
    #[error("the `ffmpeg` program is needed to decode video but could not be started ({0}); install it with `apt-get install ffmpeg` or run `cargo xtask setup`")]
    NoFfmpeg(std::io::Error),
    /// ffmpeg failed on the file.
    #[error("ffmpeg could not decode {path}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// ffmpeg's last error lines.
        message: String,
    },
    /// The image decoder failed.
    #[error("cannot decode image {path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
}

/// One decoded frame: packed RGB24.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major RGB.
    pub data: Vec<u8>,
    /// Presentation time in milliseconds from the start of the stream.
    pub t_ms: i64,
}

/// File extensions decoded as still images.
const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "ppm", "pgm", "pnm"];

/// Whether `path` names a still image (by extension).
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decodes a still image into one frame at t = 0.
pub fn read_image(path: &Path) -> Result<RgbFrame, MediaError> {
    let img = image::open(path)
        .map_err(|source| match source {
            image::ImageError::IoError(source) => MediaError::Open {
                path: path.into(),
                source,
            },
            source => MediaError::Image {
                path: path.into(),
                source,
            },
        })?
        .to_rgb8();
    Ok(RgbFrame {
        width: img.width(),
        height: img.height(),
        data: img.into_raw(),
        t_ms: 0,
    })
}

/// Opens media: an image yields one frame, a video yields its frames in order.
pub fn open(
    path: &Path,
) -> Result<Box<dyn Iterator<Item = Result<RgbFrame, MediaError>>>, MediaError> {
    if is_image(path) {
        Ok(Box::new(std::iter::once(read_image(path))))
    } else {
        Ok(Box::new(VideoReader::open(path)?))
    }
}

/// Decodes all frames of a file (image or video) into memory.
pub fn read_all(path: &Path) -> Result<Vec<RgbFrame>, MediaError> {
    open(path)?.collect()
}

/// Sample rate of [`extract_wav`]'s output, Hz.
pub const EXTRACT_RATE: u32 = 16_000;

/// Extracts the first audio stream of a media file as a 16 kHz mono 16-bit PCM WAV file in
/// memory (ffmpeg decodes, downmixes and resamples). A file without audio is a
/// [`MediaError::Decode`] error.
pub fn extract_wav(path: &Path) -> Result<Vec<u8>, MediaError> {
    std::fs::metadata(path).map_err(|source| MediaError::Open {
        path: path.into(),
        source,
    })?;
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-vn", "-ac", "1", "-ar"])
        .arg(EXTRACT_RATE.to_string())
        .args(["-f", "s16le", "-acodec", "pcm_s16le", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(MediaError::NoFfmpeg)?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr);
        let message = message
            .lines()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(MediaError::Decode {
            path: path.into(),
            message: if message.contains("matches no streams") {
                "no audio stream".into()
            } else {
                message
            },
        });
    }
    Ok(wav_header_i16_mono(EXTRACT_RATE, out.stdout))
}

/// Prefixes raw little-endian 16-bit mono PCM with a canonical 44-byte WAV header.
fn wav_header_i16_mono(rate: u32, pcm: Vec<u8>) -> Vec<u8> {
    let data_len = pcm.len() as u32 & !1;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.extend_from_slice(&pcm[..data_len as usize]);
    wav
}

/// Streams the frames of a video through ffmpeg.
pub struct VideoReader {
    path: PathBuf,
    child: Child,
    stdout: ChildStdout,
    info: Receiver<Result<(u32, u32, i64), String>>,
    done: bool,
}

impl VideoReader {
    /// Starts decoding `path`.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        std::fs::metadata(path).map_err(|source| MediaError::Open {
            path: path.into(),
            source,
        })?;
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "info", "-i"])
            .arg(path)
            .args([
                "-an",
                "-vf",
                "showinfo",
                "-fps_mode",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(MediaError::NoFfmpeg)?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, info) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tail: Vec<String> = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(parsed) = parse_showinfo(&line) {
                    if tx.send(Ok(parsed)).is_err() {
                        return;
                    }
                } else {
                    tail.push(line);
                    if tail.len() > 4 {
                        tail.remove(0);
                    }
                }
            }
            let _ = tx.send(Err(tail.join(" | ")));
        });
        Ok(VideoReader {
            path: path.into(),
            child,
            stdout,
            info,
            done: false,
        })
    }
}

impl Iterator for VideoReader {
    type Item = Result<RgbFrame, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.info.recv() {
            Ok(Ok((width, height, t_ms))) => {
                let mut data = vec![0u8; width as usize * height as usize * 3];
                if let Err(e) = self.stdout.read_exact(&mut data) {
                    self.done = true;
                    let message = format!("truncated frame: {e}");
                    return Some(Err(MediaError::Decode {
                        path: self.path.clone(),
                        message,
                    }));
                }
                Some(Ok(RgbFrame {
                    width,
                    height,
                    data,
                    t_ms,
                }))
            }
            Ok(Err(tail)) => self.finish(tail),
            Err(_) => self.finish(String::new()),
        }
    }
}

impl VideoReader {
    /// Ends the stream: `None` if ffmpeg succeeded, else its error.
    fn finish(&mut self, tail: String) -> Option<Result<RgbFrame, MediaError>> {
        self.done = true;
        match self.child.wait() {
            Ok(status) if status.success() => None,
            _ => Some(Err(MediaError::Decode {
                path: self.path.clone(),
                message: tail,
            })),
        }
    }
}

impl Drop for VideoReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `n:… pts_time:… s:WxH` from an ffmpeg `showinfo` line.
fn parse_showinfo(line: &str) -> Option<(u32, u32, i64)> {
    if !line.contains("Parsed_showinfo") || !line.contains(" n:") {
        return None;
    }
    let field = |key: &str| {
        let start = line.find(key)? + key.len();
        let rest = line[start..].trim_start();
        Some(rest.split_whitespace().next()?.to_string())
    };
    let pts: f64 = field("pts_time:")?.parse().ok()?;
    let size = field(" s:")?;
    let (w, h) = size.split_once('x')?;
    Some((
        w.parse().ok()?,
        h.parse().ok()?,
        (pts * 1000.0).round() as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_showinfo_lines() {
        let line = "[Parsed_showinfo_0 @ 0x55] n:   3 pts:   3003 pts_time:0.1001  duration:1001 fmt:yuv420p cl:left sar:1/1 s:640x480 i:P iskey:0 type:P";
        assert_eq!(parse_showinfo(line), Some((640, 480, 100)));
        assert_eq!(
            parse_showinfo("[Parsed_showinfo_0 @ 0x55] config in time_base: 1/30000"),
            None
        );
    }

    #[test]
    fn writes_a_canonical_wav_header() {
        let wav = wav_header_i16_mono(16_000, vec![1, 0, 2, 0, 3]);
        assert_eq!(wav.len(), 48);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 40);
        assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 16_000);
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 4);
        assert_eq!(&wav[44..], &[1, 0, 2, 0]);
    }

    #[test]
    fn recognises_images() {
        assert!(is_image(Path::new("a/b.JPG")));
        assert!(!is_image(Path::new("a/b.mp4")));
    }
}

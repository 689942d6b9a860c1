//! `--webcam` with feature `mic`: the default microphone through cpal (ALSA on Linux), as mono
//! chunks stamped with the runner's clock (the time of each chunk's first sample).

use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

/// A running capture.
pub struct Mic {
    _stream: cpal::Stream,
    chunks: Receiver<(i64, Vec<f32>)>,
    /// Samples per second.
    pub rate: u32,
}

impl Mic {
    /// Starts the default input device; timestamps are ms since `clock`.
    pub fn open(clock: Instant) -> Result<Mic, String> {
        let device = cpal::default_host()
            .default_input_device()
            .ok_or("no microphone")?;
        let config = device
            .default_input_config()
            .map_err(|e| format!("microphone: {e}"))?;
        let rate = config.sample_rate().0;
        let channels = config.channels().max(1) as usize;
        let (tx, chunks) = channel();
        let send = move |mono: Vec<f32>| {
            let ms = (mono.len() as f64 * 1000.0 / rate as f64) as i64;
            let t = clock.elapsed().as_millis() as i64 - ms;
            let _ = tx.send((t.max(0), mono));
        };
        let err = |e: cpal::StreamError| eprintln!("livecheck-desktop: microphone: {e}");
        let stream = match config.sample_format() {
            cpal::SampleFormat::F32 => device.build_input_stream(
                &config.into(),
                move |data: &[f32], _: &_| {
                    send(
                        data.chunks(channels)
                            .map(|f| f.iter().sum::<f32>() / channels as f32)
                            .collect(),
                    )
                },
                err,
                None,
            ),
            cpal::SampleFormat::I16 => device.build_input_stream(
                &config.into(),
                move |data: &[i16], _: &_| {
                    send(
                        data.chunks(channels)
                            .map(|f| {
                                f.iter().map(|&s| s as f32 / 32768.0).sum::<f32>() / channels as f32
                            })
                            .collect(),
                    )
                },
                err,
                None,
            ),
            other => return Err(format!("microphone: unsupported sample format {other:?}")),
        }
        .map_err(|e| format!("microphone: {e}"))?;
        stream.play().map_err(|e| format!("microphone: {e}"))?;
        Ok(Mic {
            _stream: stream,
            chunks,
            rate,
        })
    }

    /// The chunks captured since the last call.
    pub fn drain(&self) -> Vec<(i64, Vec<f32>)> {
        self.chunks.try_iter().collect()
    }
}

//! `--webcam N` (feature `webcam`): frames from a camera through nokhwa (V4L2 on Linux), decoded
//! to RGB and stamped with the runner's clock.

use std::time::Instant;

use livecheck::OwnedFrame;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType};
use nokhwa::Camera;

/// An open camera stream.
pub struct Webcam {
    camera: Camera,
    clock: Instant,
    last: i64,
}

impl Webcam {
    /// Opens camera `index` at its highest frame rate; timestamps are ms since `clock`.
    pub fn open(index: u32, clock: Instant) -> Result<Webcam, String> {
        let requested =
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
        let mut camera = Camera::new(CameraIndex::Index(index), requested)
            .map_err(|e| format!("camera {index}: {e}"))?;
        camera
            .open_stream()
            .map_err(|e| format!("camera {index}: {e}"))?;
        Ok(Webcam {
            camera,
            clock,
            last: -1,
        })
    }
}

impl Iterator for Webcam {
    type Item = Result<OwnedFrame, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let frame = match self.camera.frame() {
            Ok(f) => f,
            Err(e) => return Some(Err(format!("camera: {e}"))),
        };
        let t = (self.clock.elapsed().as_millis() as i64).max(self.last + 1);
        self.last = t;
        Some(
            frame
                .decode_image::<RgbFormat>()
                .map_err(|e| format!("camera frame: {e}"))
                .map(|img| {
                    let (w, h) = img.dimensions();
                    OwnedFrame::rgb(img.into_raw(), w, h, t)
                }),
        )
    }
}

//! The screen the runner shows, drawn into a plain pixel buffer (the window only copies it):
//! the camera frame with the oval and the face box, then a panel with the prompt in large
//! high-contrast type, the progress, the digits to read, and finally the verdict.

use livecheck::{Feedback, Oval, Phase, Prompt, Reason, Verdict};

use crate::text::Text;

/// Canvas size: a 640x480 frame area above a 640x240 panel.
pub const WIDTH: usize = 640;
/// Canvas height.
pub const HEIGHT: usize = 720;
/// Height of the frame area.
pub const FRAME_H: usize = 480;

/// Colours (0x00RRGGBB).
pub const BACKGROUND: u32 = 0x101418;
/// The oval while the face is not in it.
pub const OVAL: u32 = 0xffffff;
/// The oval once the quality checks pass.
pub const OVAL_OK: u32 = 0x2ee86c;
const BOX: u32 = 0xffc83c;
const TEXT: u32 = 0xffffff;
const BAR: u32 = 0x3c8cff;
/// Panel of a passed verdict.
pub const PASS: u32 = 0x1e7a3c;
/// Panel of a failed verdict.
pub const FAIL: u32 = 0xa02828;

/// An RGB pixel buffer, row-major, `0x00RRGGBB` per pixel.
pub struct Canvas {
    /// The pixels.
    pub pixels: Vec<u32>,
}

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            pixels: vec![BACKGROUND; WIDTH * HEIGHT],
        }
    }
}

impl Canvas {
    /// The pixel at (`x`, `y`).
    #[cfg(test)]
    pub fn at(&self, x: usize, y: usize) -> u32 {
        self.pixels[y * WIDTH + x]
    }

    fn put(&mut self, x: i32, y: i32, c: u32) {
        if (0..WIDTH as i32).contains(&x) && (0..HEIGHT as i32).contains(&y) {
            self.pixels[y as usize * WIDTH + x as usize] = c;
        }
    }

    fn blend(&mut self, x: i32, y: i32, c: u32, a: f32) {
        if !((0..WIDTH as i32).contains(&x) && (0..HEIGHT as i32).contains(&y)) {
            return;
        }
        let i = y as usize * WIDTH + x as usize;
        let old = self.pixels[i];
        let mix = |shift: u32| {
            let (o, n) = ((old >> shift) & 255, (c >> shift) & 255);
            ((o as f32 * (1.0 - a) + n as f32 * a).round() as u32) << shift
        };
        self.pixels[i] = mix(16) | mix(8) | mix(0);
    }

    fn fill(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: u32) {
        for y in y0..y1.min(HEIGHT) {
            for x in x0..x1.min(WIDTH) {
                self.pixels[y * WIDTH + x] = c;
            }
        }
    }

    /// Saves the canvas as PNG.
    pub fn save_png(&self, path: &std::path::Path) -> Result<(), String> {
        let rgb: Vec<u8> = self
            .pixels
            .iter()
            .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
            .collect();
        image::RgbImage::from_raw(WIDTH as u32, HEIGHT as u32, rgb)
            .ok_or("canvas size")?
            .save(path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn text(&mut self, font: Option<&Text>, s: &str, x: f32, y: f32, size: f32, c: u32) {
        if let Some(font) = font {
            font.draw(s, x, y, size, |px, py, cov| self.blend(px, py, c, cov));
        }
    }

    fn text_centred(&mut self, font: Option<&Text>, s: &str, y: f32, size: f32, c: u32) {
        if let Some(f) = font {
            let x = (WIDTH as f32 - f.width(s, size)) / 2.0;
            self.text(font, s, x.max(4.0), y, size, c);
        }
    }
}

/// Where a `w` x `h` frame lands in the frame area: (x, y, scale), letterboxed.
pub fn frame_rect(w: u32, h: u32) -> (f32, f32, f32) {
    let k = (WIDTH as f32 / w as f32).min(FRAME_H as f32 / h as f32);
    let (dw, dh) = (w as f32 * k, h as f32 * k);
    ((WIDTH as f32 - dw) / 2.0, (FRAME_H as f32 - dh) / 2.0, k)
}

/// The oval's centre and radii on the canvas for a `w` x `h` frame.
pub fn oval_on_canvas(oval: &Oval, w: u32, h: u32) -> (f32, f32, f32, f32) {
    let (ox, oy, k) = frame_rect(w, h);
    let (dw, dh) = (w as f32 * k, h as f32 * k);
    let ry = oval.height * dw.min(dh) / 2.0;
    (ox + oval.cx * dw, oy + oval.cy * dh, ry * oval.aspect, ry)
}

/// One upright RGB frame to show.
pub struct Picture<'a> {
    /// RGB bytes, `width * height * 3`.
    pub rgb: &'a [u8],
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Show mirrored (a front camera, as phones do).
    pub mirror: bool,
}

/// The whole screen's state for one render.
pub struct Screen<'a> {
    /// The frame, if any yet.
    pub picture: Option<Picture<'a>>,
    /// The session's oval.
    pub oval: Oval,
    /// Latest feedback.
    pub feedback: Option<Feedback>,
    /// Chinese (`true`) or English prompts.
    pub chinese: bool,
    /// The digits to read aloud (digits mode).
    pub digits: Option<&'a str>,
    /// The verdict, once finished.
    pub verdict: Option<&'a Verdict>,
}

/// Whether `p` asks for the challenge (an action or the reading).
pub fn asks(p: Prompt) -> bool {
    matches!(
        p,
        Prompt::Blink | Prompt::Nod | Prompt::Shake | Prompt::OpenMouth | Prompt::ReadDigits
    )
}

/// The verdict headline and a reason's words.
fn verdict_words(passed: bool, chinese: bool) -> &'static str {
    match (passed, chinese) {
        (true, true) => "认证通过",
        (false, true) => "认证未通过",
        (true, false) => "Passed",
        (false, false) => "Not passed",
    }
}

fn reason_words(r: Reason, chinese: bool) -> &'static str {
    if !chinese {
        return r.code();
    }
    match r {
        Reason::NotAligned => "未能对准框",
        Reason::FaceChanged => "人脸发生变化",
        Reason::ActionTimeout => "动作超时",
        Reason::Incomplete => "未完成",
        Reason::NoSpeech => "没有听到声音",
        Reason::WrongDigits => "数字不对",
        Reason::NoLipMotion => "嘴唇没有动",
        Reason::OutOfSync => "声音和口型不一致",
        Reason::FaceLost => "人脸离开画面",
        Reason::RepeatedFrames => "画面静止或重复",
        Reason::NotThePerson => "不是本人",
        Reason::TooNoisy => "环境太吵，请到安静的地方再试",
    }
}

/// Draws `screen` into `canvas`.
pub fn render(canvas: &mut Canvas, screen: &Screen, font: Option<&Text>) {
    canvas.pixels.fill(BACKGROUND);
    if let Some(p) = &screen.picture {
        let (ox, oy, k) = frame_rect(p.width, p.height);
        let (dw, dh) = (
            (p.width as f32 * k) as usize,
            (p.height as f32 * k) as usize,
        );
        for y in 0..dh {
            let sy = ((y as f32 / k) as u32).min(p.height - 1) as usize;
            for x in 0..dw {
                let mut sx = ((x as f32 / k) as u32).min(p.width - 1) as usize;
                if p.mirror {
                    sx = p.width as usize - 1 - sx;
                }
                let i = (sy * p.width as usize + sx) * 3;
                let c = (p.rgb[i] as u32) << 16 | (p.rgb[i + 1] as u32) << 8 | p.rgb[i + 2] as u32;
                canvas.put(ox as i32 + x as i32, oy as i32 + y as i32, c);
            }
        }
        let mirror_x = |x: f32| {
            if p.mirror {
                p.width as f32 - x
            } else {
                x
            }
        };
        if let Some(b) = screen.feedback.and_then(|f| f.face_box) {
            let (x0, x1) = (
                mirror_x(b.x0).min(mirror_x(b.x1)),
                mirror_x(b.x0).max(mirror_x(b.x1)),
            );
            let (cx0, cy0) = (ox + x0 * k, oy + b.y0 * k);
            let (cx1, cy1) = (ox + x1 * k, oy + b.y1 * k);
            for t in 0..2 {
                let t = t as f32;
                for x in cx0 as i32..=cx1 as i32 {
                    canvas.put(x, (cy0 + t) as i32, BOX);
                    canvas.put(x, (cy1 - t) as i32, BOX);
                }
                for y in cy0 as i32..=cy1 as i32 {
                    canvas.put((cx0 + t) as i32, y, BOX);
                    canvas.put((cx1 - t) as i32, y, BOX);
                }
            }
        }
        // Green once the quality checks pass (the face sits right in the oval).
        let inside = screen.feedback.is_some_and(|f| !f.prompt.is_problem());
        let (cx, cy, rx, ry) = oval_on_canvas(&screen.oval, p.width, p.height);
        let colour = if inside { OVAL_OK } else { OVAL };
        let steps = (8.0 * (rx + ry)) as usize;
        for i in 0..steps {
            let a = i as f32 / steps as f32 * std::f32::consts::TAU;
            for t in 0..4 {
                let (rx, ry) = (rx + t as f32 - 1.5, ry + t as f32 - 1.5);
                canvas.put(
                    (cx + rx * a.cos()) as i32,
                    (cy + ry * a.sin()) as i32,
                    colour,
                );
            }
        }
    }
    let panel_y = FRAME_H as f32;
    if let Some(v) = screen.verdict {
        let colour = if v.passed { PASS } else { FAIL };
        canvas.fill(0, FRAME_H, WIDTH, HEIGHT, colour);
        canvas.text_centred(
            font,
            verdict_words(v.passed, screen.chinese),
            panel_y + 40.0,
            64.0,
            TEXT,
        );
        let reasons: Vec<&str> = v
            .reasons
            .iter()
            .map(|&r| reason_words(r, screen.chinese))
            .collect();
        let sep = if screen.chinese { "，" } else { ", " };
        canvas.text_centred(font, &reasons.join(sep), panel_y + 140.0, 32.0, TEXT);
        return;
    }
    let Some(f) = screen.feedback else {
        return;
    };
    let prompt = if screen.chinese {
        f.prompt.zh()
    } else {
        f.prompt.en()
    };
    let size = if screen.chinese { 44.0 } else { 36.0 };
    canvas.text_centred(font, prompt, panel_y + 24.0, size, TEXT);
    if let (Some(d), Phase::Digits) = (screen.digits, f.phase) {
        let spaced: String = d.chars().flat_map(|c| [c, ' ']).collect();
        canvas.text_centred(font, spaced.trim_end(), panel_y + 90.0, 96.0, TEXT);
    }
    let (x0, x1) = (40usize, WIDTH - 40);
    let y = HEIGHT - 30;
    canvas.fill(x0, y, x1, y + 12, 0x303840);
    let done = x0 + ((x1 - x0) as f32 * f.progress.clamp(0.0, 1.0)) as usize;
    canvas.fill(x0, y, done, y + 12, BAR);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oval_follows_the_config_and_the_letterbox() {
        let oval = Oval::default();
        // 640x480 fills the frame area exactly.
        let (cx, cy, _, ry) = oval_on_canvas(&oval, 640, 480);
        assert_eq!((cx, cy), (320.0 * oval.cx / 0.5, 480.0 * oval.cy));
        assert!((ry - oval.height * 240.0).abs() < 1e-3);
        // A portrait 240x320 frame is centred with bars at the sides.
        let (x, y, k) = frame_rect(240, 320);
        assert_eq!((x, y, k), (140.0, 0.0, 1.5));
    }

    #[test]
    fn a_frame_is_drawn_with_the_oval_on_it() {
        let rgb = vec![40u8; 64 * 48 * 3];
        let mut c = Canvas::default();
        let screen = Screen {
            picture: Some(Picture {
                rgb: &rgb,
                width: 64,
                height: 48,
                mirror: false,
            }),
            oval: Oval::default(),
            feedback: None,
            chinese: true,
            digits: None,
            verdict: None,
        };
        render(&mut c, &screen, None);
        assert_eq!(c.at(5, 5), 0x282828);
        let (cx, cy, rx, _) = oval_on_canvas(&screen.oval, 64, 48);
        assert_eq!(c.at((cx + rx) as usize, cy as usize), OVAL);
    }
}

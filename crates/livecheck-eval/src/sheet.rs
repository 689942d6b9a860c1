//! `sheet`: contact sheets for labelling blinks by eye. Every frame of a clip becomes one tile
//! (both eyes cropped level from the mesh's eye corners, enlarged), numbered, with the iris
//! model's eye openness of each eye drawn as two bars under it; a strip across the top of each
//! sheet plots the whole clip's openness series with this sheet's frames shaded. A `frames.tsv`
//! beside the sheets lists frame, time and both openness values.

use std::fmt::Write as _;
use std::path::Path;

use image::{imageops, Rgb, RgbImage};
use livecheck::vision::landmarks::idx;
use livecheck::{Engine, FrameRef, PixelFormat};

/// Tile of the two eyes, pixels.
const TILE_W: u32 = 240;
const TILE_H: u32 = 80;
/// Label strip under a tile: frame number and two openness bars.
const STRIP_H: u32 = 30;
const COLS: u32 = 5;
const ROWS: u32 = 8;
const PLOT_H: u32 = 120;

/// One frame: time, openness (left, right) and the eye crop.
struct Row {
    t_ms: i64,
    eyes: Option<(f32, f32)>,
    tile: RgbImage,
}

/// Writes `sheet_NN.png` and `frames.tsv` for `clip` into `out`.
pub fn run(engine: &Engine, clip: &Path, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let rows = analyse(engine, clip)?;
    let mut tsv = String::from("frame\tt_ms\teye_left\teye_right\n");
    for (i, r) in rows.iter().enumerate() {
        let (l, rt) = r.eyes.map_or(("nan".into(), "nan".into()), |(l, r)| {
            (format!("{l:.4}"), format!("{r:.4}"))
        });
        let _ = writeln!(tsv, "{i}\t{}\t{l}\t{rt}", r.t_ms);
    }
    let tsv_path = out.join("frames.tsv");
    std::fs::write(&tsv_path, tsv).map_err(|e| format!("{}: {e}", tsv_path.display()))?;
    let per = (COLS * ROWS) as usize;
    let hi = rows
        .iter()
        .filter_map(|r| r.eyes)
        .map(|(l, r)| l.max(r))
        .fold(0.0f32, f32::max)
        .max(0.05);
    for (s, chunk) in rows.chunks(per).enumerate() {
        let first = s * per;
        let mut img = RgbImage::from_pixel(
            COLS * TILE_W,
            PLOT_H + ROWS * (TILE_H + STRIP_H),
            Rgb([20, 20, 20]),
        );
        plot(&mut img, &rows, first, first + chunk.len(), hi);
        for (k, r) in chunk.iter().enumerate() {
            let (cx, cy) = (
                (k as u32 % COLS) * TILE_W,
                PLOT_H + (k as u32 / COLS) * (TILE_H + STRIP_H),
            );
            imageops::replace(&mut img, &r.tile, cx as i64, cy as i64);
            let y = cy + TILE_H;
            text(
                &mut img,
                cx + 4,
                y + 4,
                &format!("{}", first + k),
                3,
                Rgb([255, 255, 0]),
            );
            text(
                &mut img,
                cx + 4 + 3 * 4 * 4 + 8,
                y + 8,
                &format!("{}", r.t_ms),
                2,
                Rgb([160, 160, 160]),
            );
            if let Some((l, rr)) = r.eyes {
                // Subject's left eye is on the image right (unmirrored): draw it on the right.
                bar(
                    &mut img,
                    cx + TILE_W - 100,
                    y + 4,
                    96,
                    10,
                    rr / hi,
                    Rgb([80, 200, 255]),
                );
                bar(
                    &mut img,
                    cx + TILE_W - 100,
                    y + 16,
                    96,
                    10,
                    l / hi,
                    Rgb([255, 140, 80]),
                );
            } else {
                text(
                    &mut img,
                    cx + TILE_W - 60,
                    y + 8,
                    "-",
                    3,
                    Rgb([255, 60, 60]),
                );
            }
        }
        let path = out.join(format!("sheet_{s:02}.png"));
        img.save(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "{} frames, {} sheets of {per} → {}",
        rows.len(),
        rows.len().div_ceil(per),
        out.display()
    );
    Ok(())
}

/// Runs the analyser over the clip, cropping both eyes of each frame.
fn analyse(engine: &Engine, clip: &Path) -> Result<Vec<Row>, String> {
    let mut analyzer = engine.analyzer(Default::default());
    let mut rows = Vec::new();
    let mut last_crop: Option<[f32; 4]> = None;
    let mut last_t = i64::MIN;
    for frame in livecheck_media::open(clip).map_err(|e| e.to_string())? {
        let f = frame.map_err(|e| e.to_string())?;
        let t = f.t_ms.max(last_t + 1);
        last_t = t;
        let view = FrameRef::packed(&f.data, f.width, f.height, PixelFormat::Rgb8)
            .map_err(|e| e.to_string())?;
        let report = analyzer.push_frame(&view, t).map_err(|e| e.to_string())?;
        let face = report.analysis.face.as_ref();
        if let Some(face) = face {
            let p = &face.mesh.points;
            let (a, b) = (p[idx::RIGHT_EYE_OUTER], p[idx::LEFT_EYE_OUTER]);
            let d = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2))
                .sqrt()
                .max(4.0);
            let (mx, my) = (0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1]));
            // 1.5 eye-corner distances wide, in the tile's 3:1 aspect.
            let w = 1.5 * d;
            last_crop = Some([mx - w / 2.0, my - w / 6.0, w, w / 3.0]);
        }
        let frame_img = RgbImage::from_raw(f.width, f.height, f.data)
            .ok_or("frame size does not match its data")?;
        let tile = match last_crop {
            Some([x, y, w, h]) => {
                let x0 = x.clamp(0.0, f.width as f32 - 2.0) as u32;
                let y0 = y.clamp(0.0, f.height as f32 - 2.0) as u32;
                let w = (w as u32).clamp(1, f.width - x0);
                let h = (h as u32).clamp(1, f.height - y0);
                let crop = imageops::crop_imm(&frame_img, x0, y0, w, h).to_image();
                imageops::resize(&crop, TILE_W, TILE_H, imageops::FilterType::CatmullRom)
            }
            None => RgbImage::from_pixel(TILE_W, TILE_H, Rgb([60, 0, 0])),
        };
        rows.push(Row {
            t_ms: t,
            eyes: face.and_then(|f| f.eyes.as_ref().map(|e| (e.left, e.right))),
            tile,
        });
    }
    Ok(rows)
}

/// The whole clip's openness (left orange, right blue) across the top; frames `[a, b)` shaded.
fn plot(img: &mut RgbImage, rows: &[Row], a: usize, b: usize, hi: f32) {
    let w = img.width();
    let n = rows.len().max(2);
    let x_of = |i: usize| (i as f32 / (n - 1) as f32 * (w - 1) as f32) as u32;
    for x in x_of(a)..=x_of(b.saturating_sub(1)).max(x_of(a)) {
        for y in 0..PLOT_H - 4 {
            img.put_pixel(x, y, Rgb([45, 45, 70]));
        }
    }
    let y_of = |v: f32| ((1.0 - (v / hi).clamp(0.0, 1.0)) * (PLOT_H - 8) as f32) as u32 + 2;
    for (i, r) in rows.iter().enumerate() {
        if let Some((l, rr)) = r.eyes {
            for (v, c) in [(l, Rgb([255, 140, 80])), (rr, Rgb([80, 200, 255]))] {
                let (x, y) = (x_of(i), y_of(v));
                for dx in 0..2 {
                    for dy in 0..2 {
                        if x + dx < w && y + dy < PLOT_H {
                            img.put_pixel(x + dx, y + dy, c);
                        }
                    }
                }
            }
        }
    }
}

/// A horizontal bar of length `v` (0..1) of `w` pixels.
fn bar(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, v: f32, c: Rgb<u8>) {
    let len = (v.clamp(0.0, 1.0) * w as f32) as u32;
    for dx in 0..w {
        for dy in 0..h {
            let px = if dx < len { c } else { Rgb([50, 50, 50]) };
            img.put_pixel(x + dx, y + dy, px);
        }
    }
}

/// Digits and '-' in a 3x5 bitmap font scaled by `s`.
fn text(img: &mut RgbImage, x: u32, y: u32, s_: &str, s: u32, c: Rgb<u8>) {
    const GLYPHS: [[u8; 5]; 11] = [
        [7, 5, 5, 5, 7],
        [2, 6, 2, 2, 7],
        [7, 1, 7, 4, 7],
        [7, 1, 7, 1, 7],
        [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7],
        [7, 4, 7, 5, 7],
        [7, 1, 1, 1, 1],
        [7, 5, 7, 5, 7],
        [7, 5, 7, 1, 7],
        [0, 0, 7, 0, 0],
    ];
    for (k, ch) in s_.chars().enumerate() {
        let g = match ch {
            '0'..='9' => GLYPHS[ch as usize - '0' as usize],
            '-' => GLYPHS[10],
            _ => continue,
        };
        for (row, bits) in g.iter().enumerate() {
            for col in 0..3u32 {
                if bits & (4 >> col) != 0 {
                    for dx in 0..s {
                        for dy in 0..s {
                            let (px, py) =
                                (x + k as u32 * 4 * s + col * s + dx, y + row as u32 * s + dy);
                            if px < img.width() && py < img.height() {
                                img.put_pixel(px, py, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

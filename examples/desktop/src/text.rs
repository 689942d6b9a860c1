//! Text for the screen: a system font found at run time (a CJK one for Chinese prompts),
//! rasterised with `ab_glyph`.

use std::path::PathBuf;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};

/// Fonts tried in order (Debian packages; the first that exists is used). All cover Latin too.
/// `LIVECHECK_FONT` overrides them.
const CANDIDATES: [&str; 5] = [
    // fonts-wqy-microhei (Apache-2.0 or GPL-3.0 with font exception)
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    // fonts-noto-cjk (SIL OFL 1.1)
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    // fonts-droid-fallback (Apache-2.0)
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    // fonts-dejavu-core (Bitstream Vera licence): no Chinese glyphs
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
];

/// A loaded font.
pub struct Text {
    font: FontVec,
    /// Where it came from.
    pub path: PathBuf,
}

impl Text {
    /// The first usable font (see [`CANDIDATES`]); `None` when there is none.
    pub fn find() -> Option<Text> {
        let env = std::env::var_os("LIVECHECK_FONT").map(PathBuf::from);
        env.into_iter()
            .chain(CANDIDATES.iter().map(PathBuf::from))
            .find_map(|path| {
                let bytes = std::fs::read(&path).ok()?;
                let font = FontVec::try_from_vec_and_index(bytes, 0).ok()?;
                Some(Text { font, path })
            })
    }

    /// Whether the font has a glyph for every character of `s` (spaces aside).
    pub fn covers(&self, s: &str) -> bool {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| self.font.glyph_id(c).0 != 0)
    }

    /// Width of `s` at `size` pixels.
    pub fn width(&self, s: &str, size: f32) -> f32 {
        let f = self.font.as_scaled(PxScale::from(size));
        s.chars().map(|c| f.h_advance(f.glyph_id(c))).sum()
    }

    /// Draws `s` with its top-left corner at (`x`, `y`) in `size`-pixel type, calling `plot(x,
    /// y, coverage)` for every covered pixel.
    pub fn draw(&self, s: &str, x: f32, y: f32, size: f32, mut plot: impl FnMut(i32, i32, f32)) {
        let f = self.font.as_scaled(PxScale::from(size));
        let mut pen = x;
        for c in s.chars() {
            let id = f.glyph_id(c);
            let glyph = id.with_scale_and_position(size, ab_glyph::point(pen, y + f.ascent()));
            pen += f.h_advance(id);
            if let Some(outline) = self.font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    plot(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov)
                });
            }
        }
    }
}

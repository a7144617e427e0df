//! What the PDFs tapak writes with pdf-writer share: their fonts. Posters and reports are set in DejaVu Sans (regular
//! and bold, `assets/fonts`, Bitstream Vera licence in `assets/fonts/LICENSE`), embedded in each PDF as a subset of
//! the glyphs it uses (`subsetter`), so any Latin, Greek or Cyrillic text prints as written on any reader (names with
//! accents, `ñ`, `ł`, `ğ`). A character the font lacks (Chinese, Tamil, most emoji) prints as `�` (U+FFFD) and reads
//! back as that, never as a wrong letter.
//!
//! ```ignore
//! let mut fonts = Fonts::new()?;
//! content.set_font(Name(b"F1"), 12.0);
//! content.show(Str(&fonts.encode(Weight::Regular, "Siti Nurhaliza · Café")));
//! // ... every text shown, then the font objects, whose subsets hold exactly the glyphs encoded:
//! next_id = fonts.write(&mut pdf, regular_ref, bold_ref, next_id)?;
//! ```

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core).
pub const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
pub const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// Shown for a character the font lacks.
pub const MISSING: char = '\u{FFFD}';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// The TrueType font of a weight, for rasterising the same letters into images.
pub fn ttf(w: Weight) -> &'static [u8] {
    match w {
        Weight::Regular => REGULAR_TTF,
        Weight::Bold => BOLD_TTF,
    }
}

/// One font and the glyphs used from it so far (in the order first used: a glyph's new id is its index).
struct Used {
    name: &'static str,
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    glyphs: GlyphRemapper,
    /// The character each new glyph id stands for (for the ToUnicode map).
    chars: Vec<char>,
}

impl Used {
    fn new(name: &'static str, data: &'static [u8]) -> Result<Used, String> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| format!("font {name}: {e}"))?;
        Ok(Used {
            name,
            data,
            face,
            glyphs: GlyphRemapper::new(),
            chars: vec![MISSING],
        })
    }

    /// The new glyph id of `c` (the font's U+FFFD, else its .notdef, when it lacks `c`).
    fn glyph(&mut self, c: char) -> u16 {
        let (gid, shown) = match self.face.glyph_index(c) {
            Some(g) => (g.0, c),
            None => (
                self.face.glyph_index(MISSING).map(|g| g.0).unwrap_or(0),
                MISSING,
            ),
        };
        let before = self.glyphs.num_gids();
        let new = self.glyphs.remap(gid);
        if self.glyphs.num_gids() > before {
            self.chars.push(shown);
        }
        new
    }

    /// A metric in PDF glyph space (1000 units per em).
    fn scale(&self, v: f32) -> f32 {
        v * 1000.0 / f32::from(self.face.units_per_em().max(1))
    }

    /// A subset tag (six capitals) that depends on the glyphs used, as PDF asks of subset font names.
    fn tag(&self) -> String {
        let mut h: u32 = 2166136261;
        for g in self.glyphs.remapped_gids() {
            for b in g.to_be_bytes() {
                h = (h ^ u32::from(b)).wrapping_mul(16777619);
            }
        }
        (0..6)
            .map(|i| char::from(b'A' + ((h >> (i * 5)) % 26) as u8))
            .collect()
    }
}

/// The two fonts of a PDF and the glyphs its text uses.
pub struct Fonts {
    regular: Used,
    bold: Used,
}

impl Fonts {
    pub fn new() -> Result<Fonts, String> {
        Ok(Fonts {
            regular: Used::new("DejaVuSans", REGULAR_TTF)?,
            bold: Used::new("DejaVuSans-Bold", BOLD_TTF)?,
        })
    }

    fn used(&mut self, w: Weight) -> &mut Used {
        match w {
            Weight::Regular => &mut self.regular,
            Weight::Bold => &mut self.bold,
        }
    }

    /// `text` as the bytes a `Tj` shows in this font (two-byte glyph ids, Identity-H).
    pub fn encode(&mut self, w: Weight, text: &str) -> Vec<u8> {
        let f = self.used(w);
        text.chars()
            .flat_map(|c| f.glyph(c).to_be_bytes())
            .collect()
    }

    /// Writes both fonts as Type0 fonts at `regular` and `bold` (with their subsets embedded), using ids from
    /// `next` on for their parts; answers the next free id.
    pub fn write(self, pdf: &mut Pdf, regular: Ref, bold: Ref, next: i32) -> Result<i32, String> {
        let mut next = next;
        for (font, id) in [(self.regular, regular), (self.bold, bold)] {
            let mut alloc = || {
                let r = Ref::new(next);
                next += 1;
                r
            };
            let (cid, descriptor, file, cmap) = (alloc(), alloc(), alloc(), alloc());
            write_font(pdf, &font, [id, cid, descriptor, file, cmap])?;
        }
        Ok(next)
    }
}

fn write_font(
    pdf: &mut Pdf,
    f: &Used,
    [id, cid, descriptor, file, cmap]: [Ref; 5],
) -> Result<(), String> {
    let base = format!("{}+{}", f.tag(), f.name);
    let base = Name(base.as_bytes());
    pdf.type0_font(id)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);

    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let widths: Vec<f32> = f
        .glyphs
        .remapped_gids()
        .map(|g| {
            f.scale(f32::from(
                f.face
                    .glyph_hor_advance(ttf_parser::GlyphId(g))
                    .unwrap_or(0),
            ))
        })
        .collect();
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(system)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    c.widths().consecutive(0, widths);
    c.finish();

    let b = f.face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(base)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            f.scale(f32::from(b.x_min)),
            f.scale(f32::from(b.y_min)),
            f.scale(f32::from(b.x_max)),
            f.scale(f32::from(b.y_max)),
        ))
        .italic_angle(0.0)
        .ascent(f.scale(f32::from(f.face.ascender())))
        .descent(f.scale(f32::from(f.face.descender())))
        .cap_height(f.scale(f32::from(
            f.face.capital_height().unwrap_or(f.face.ascender()),
        )))
        .stem_v(if f.name.ends_with("Bold") {
            140.0
        } else {
            80.0
        })
        .font_file2(file);

    let subset = subsetter::subset(f.data, 0, &f.glyphs)
        .map_err(|e| format!("font {}: cannot subset: {e}", f.name))?;
    let packed = deflate(&subset).map_err(|e| format!("font {}: {e}", f.name))?;
    pdf.stream(file, &packed)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), subset.len() as i32);

    let mut map = UnicodeCmap::new(Name(b"Custom"), system);
    for (g, ch) in f.chars.iter().enumerate() {
        if let Ok(g) = u16::try_from(g) {
            map.pair(g, *ch);
        }
    }
    pdf.stream(cmap, &map.finish());
    Ok(())
}

fn deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data)?;
    z.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_numbered_as_first_used_and_missing_characters_share_the_replacement_glyph() {
        let mut f = Fonts::new().unwrap();
        let a = f.encode(Weight::Regular, "éa");
        assert_eq!(a, vec![0, 1, 0, 2], "after .notdef: é then a");
        assert_eq!(f.encode(Weight::Regular, "aé"), vec![0, 2, 0, 1]);
        // Chinese is not in DejaVu Sans: both characters show the font's U+FFFD glyph.
        let cn = f.encode(Weight::Regular, "王明");
        assert_eq!(cn[0..2], cn[2..4]);
        assert_eq!(
            f.regular.chars[usize::from(u16::from_be_bytes([cn[0], cn[1]]))],
            MISSING
        );
        assert_eq!(f.bold.glyphs.num_gids(), 1, "nothing bold yet");
    }
}

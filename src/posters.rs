//! Printable QR posters for a schedule (issue 18): one per patrol checkpoint, or one per location of a cleaning
//! schedule. The QR code opens WhatsApp at the business number with the place's tag ready to send
//! (`https://wa.me/<number>?text=<tag>`, the tag from [`crate::schedule::tags::poster_text`]). Every poster carries
//! the site, the place and the instructions in English and Malay in DejaVu Sans ([`crate::pdf`]): embedded (a subset)
//! in the PDF, rasterised with `ab_glyph` into the PNG (one panel per poster, one under the other). A character the
//! font lacks shows as `�`.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{GrayImage, Luma};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use qrcode::{Color, QrCode};

use crate::pdf::{Fonts, Weight};

use crate::schedule::tags::poster_text;
use crate::store::schedules::Schedule;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Png,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pdf" => Some(Format::Pdf),
            "png" => Some(Format::Png),
            _ => None,
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Png => "image/png",
        }
    }
}

/// Paper size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    A4,
    A6,
}

impl Size {
    pub fn parse(s: &str) -> Option<Size> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a4" => Some(Size::A4),
            "a6" => Some(Size::A6),
            _ => None,
        }
    }
    /// Width and height in PDF points.
    fn points(self) -> (f32, f32) {
        match self {
            Size::A4 => (595.0, 842.0),
            Size::A6 => (298.0, 420.0),
        }
    }
}

/// One poster: a place and its tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Poster {
    pub code: String,
    pub place: String,
    pub tag: String,
    pub link: String,
}

/// Why posters cannot be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PosterError {
    #[error("posters.business_number is not set (the WhatsApp number the QR codes open)")]
    NoNumber,
    #[error("the schedule has no site: a poster's tag names its site")]
    NoSite,
    #[error("cannot render: {0}")]
    Render(String),
}

/// `https://wa.me/<digits>?text=<tag, percent-encoded>`.
pub fn wa_link(number: &str, text: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let q = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC);
    format!("https://wa.me/{digits}?text={q}")
}

/// A tag code for a cleaning location (see [`crate::schedule::tags::location_code`]).
fn location_code(s: &Schedule) -> String {
    let loc: crate::classify::types::Location =
        serde_json::from_value(s.location.clone()).unwrap_or_default();
    crate::schedule::tags::location_code(&loc, s.id)
}

fn place_text(s: &Schedule) -> String {
    let loc: crate::classify::types::Location =
        serde_json::from_value(s.location.clone()).unwrap_or_default();
    let p = crate::outbox::texts::place(crate::outbox::texts::Lang::En, &loc);
    if loc == crate::classify::types::Location::default() {
        s.name.clone()
    } else {
        p
    }
}

/// The posters of a schedule.
pub fn posters(s: &Schedule, business_number: &str) -> Result<Vec<Poster>, PosterError> {
    if business_number.chars().filter(char::is_ascii_digit).count() < 6 {
        return Err(PosterError::NoNumber);
    }
    let site = s.site.as_ref().ok_or(PosterError::NoSite)?;
    let places: Vec<(String, String)> = if s.checkpoints.is_empty() {
        vec![(location_code(s), place_text(s))]
    } else {
        s.checkpoints
            .iter()
            .map(|c| (c.code.to_ascii_uppercase(), c.name.clone()))
            .collect()
    };
    Ok(places
        .into_iter()
        .map(|(code, place)| {
            let tag = poster_text(&code, &site.name);
            Poster {
                link: wa_link(business_number, &tag),
                code,
                place,
                tag,
            }
        })
        .collect())
}

/// The QR code of `text` as a greyscale image, `px` pixels per module, with a 4-module quiet zone.
pub fn qr_image(text: &str, px: u32) -> Result<GrayImage, PosterError> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| PosterError::Render(e.to_string()))?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let side = (n + 8) * px;
    let mut img = GrayImage::from_pixel(side, side, Luma([255]));
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (mx, my) = (i as u32 % n, i as u32 / n);
            for dy in 0..px {
                for dx in 0..px {
                    img.put_pixel((mx + 4) * px + dx, (my + 4) * px + dy, Luma([0]));
                }
            }
        }
    }
    Ok(img)
}

/// A line of a poster: its weight, its size in PDF points and its text.
type Line = (Weight, f32, String);

/// The lines of a poster around its QR code: the site and place above it, and the instructions under it.
fn lines(site: &str, s: &Schedule, p: &Poster) -> (Vec<Line>, Vec<Line>) {
    let above = vec![
        (Weight::Bold, 26.0, site.to_string()),
        (Weight::Bold, 20.0, format!("{} - {}", p.code, p.place)),
        (Weight::Regular, 12.0, s.name.clone()),
    ];
    let below = vec![
        (
            Weight::Bold,
            12.0,
            "Scan with your phone camera, then send the message (add a photo).".to_string(),
        ),
        (
            Weight::Regular,
            12.0,
            "Imbas dengan kamera telefon, kemudian hantar mesej (sertakan gambar).".to_string(),
        ),
        (
            Weight::Regular,
            11.0,
            format!("Or send on WhatsApp / Atau hantar di WhatsApp: {}", p.tag),
        ),
    ];
    (above, below)
}

/// Renders the posters, one page (PDF) or one panel (PNG) each.
pub fn render(
    s: &Schedule,
    posters: &[Poster],
    format: Format,
    size: Size,
) -> Result<Vec<u8>, PosterError> {
    match format {
        Format::Png => png(s, posters, size),
        Format::Pdf => pdf(s, posters, size),
    }
}

fn png(s: &Schedule, posters: &[Poster], size: Size) -> Result<Vec<u8>, PosterError> {
    let (w, h) = size.points();
    // About 100 dpi.
    let dpi = 100.0 / 72.0;
    let (pw, ph) = ((w * dpi) as u32, (h * dpi) as u32);
    let scale = w / 595.0 * dpi;
    let site = s.site.as_ref().map(|x| x.name.as_str()).unwrap_or("");
    let mut sheet = GrayImage::from_pixel(pw, ph * posters.len().max(1) as u32, Luma([255]));
    let mut pen = Pen::new()?;
    for (i, p) in posters.iter().enumerate() {
        let px = match size {
            Size::A4 => 12,
            Size::A6 => 6,
        };
        let top = i as u32 * ph;
        let (above, below) = lines(site, s, p);
        let margin = 40.0 * scale;
        let width = pw as f32 - 2.0 * margin;
        let mut y = top as f32 + 30.0 * scale;
        for (weight, pt, text) in &above {
            y = pen.write(&mut sheet, *weight, pt * scale, margin, y, width, text);
        }
        let qr = qr_image(&p.link, px)?;
        let x = pw.saturating_sub(qr.width()) / 2;
        let qy = y as u32 + (10.0 * scale) as u32;
        image::imageops::overlay(&mut sheet, &qr, i64::from(x), i64::from(qy));
        let mut y = (qy + qr.height()) as f32 + 4.0 * scale;
        for (weight, pt, text) in &below {
            y = pen.write(&mut sheet, *weight, pt * scale, margin, y, width, text);
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    sheet
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| PosterError::Render(e.to_string()))?;
    Ok(out.into_inner())
}

/// Writes text into a greyscale image in DejaVu Sans, the PDF's font.
struct Pen {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl Pen {
    fn new() -> Result<Pen, PosterError> {
        let font = |w| {
            FontRef::try_from_slice(crate::pdf::ttf(w))
                .map_err(|e| PosterError::Render(e.to_string()))
        };
        Ok(Pen {
            regular: font(Weight::Regular)?,
            bold: font(Weight::Bold)?,
        })
    }

    /// Writes `text` at `size` pixels from `top`, centred between `x` and `x + width` and wrapped at spaces to fit;
    /// answers the y under it.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        img: &mut GrayImage,
        w: Weight,
        size: f32,
        x: f32,
        top: f32,
        width: f32,
        text: &str,
    ) -> f32 {
        let font = match w {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        };
        let f = font.as_scaled(PxScale::from(size));
        // A character the font lacks is drawn as its U+FFFD, as in the PDF.
        let glyph = |c: char| {
            let id = f.glyph_id(c);
            if id.0 == 0 {
                f.glyph_id(crate::pdf::MISSING)
            } else {
                id
            }
        };
        let advance = |word: &str| word.chars().map(|c| f.h_advance(glyph(c))).sum::<f32>();
        let space = f.h_advance(glyph(' '));
        let mut rows: Vec<String> = vec![];
        let mut row = String::new();
        for word in text.split(' ') {
            if !row.is_empty() && advance(&row) + space + advance(word) > width {
                rows.push(std::mem::take(&mut row));
            }
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(word);
        }
        rows.push(row);
        let line = f.height() + f.line_gap();
        let mut baseline = top + f.ascent();
        for r in &rows {
            let mut pen_x = x + ((width - advance(r)) / 2.0).max(0.0);
            for c in r.chars() {
                let id = glyph(c);
                let g = id.with_scale_and_position(size, ab_glyph::point(pen_x, baseline));
                pen_x += f.h_advance(id);
                let Some(outline) = font.outline_glyph(g) else {
                    continue;
                };
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cover| {
                    let (px, py) = (
                        b.min.x as i64 + i64::from(gx),
                        b.min.y as i64 + i64::from(gy),
                    );
                    if px < 0
                        || py < 0
                        || px >= i64::from(img.width())
                        || py >= i64::from(img.height())
                    {
                        return;
                    }
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    let ink = (cover.clamp(0.0, 1.0) * 255.0) as u8;
                    p.0[0] = p.0[0].min(255 - ink);
                });
            }
            baseline += line;
        }
        baseline - f.ascent() + (line - f.height()).max(0.0)
    }
}

fn pdf(s: &Schedule, posters: &[Poster], size: Size) -> Result<Vec<u8>, PosterError> {
    let (w, h) = size.points();
    let scale = w / 595.0;
    let site = s.site.as_ref().map(|x| x.name.as_str()).unwrap_or("");
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let bold = Ref::new(4);
    let mut next = 5;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let pages: Vec<(Ref, Ref, Ref)> = posters
        .iter()
        .map(|_| (alloc(), alloc(), alloc()))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|p| p.0))
        .count(pages.len() as i32);
    let mut fonts = Fonts::new().map_err(PosterError::Render)?;
    for (p, (page_id, content_id, image_id)) in posters.iter().zip(&pages) {
        let qr = qr_image(&p.link, 4)?;
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, w, h));
        page.parent(tree);
        page.contents(*content_id);
        let mut res = page.resources();
        res.fonts().pair(Name(b"F1"), font).pair(Name(b"F2"), bold);
        res.x_objects().pair(Name(b"Im1"), *image_id);
        res.finish();
        page.finish();
        let mut img = pdf.image_xobject(*image_id, qr.as_raw());
        img.width(qr.width() as i32);
        img.height(qr.height() as i32);
        img.color_space().device_gray();
        img.bits_per_component(8);
        img.finish();

        let mut c = Content::new();
        let mut y = h - 60.0 * scale;
        let mut line =
            |c: &mut Content, (weight, pt, text): &(Weight, f32, String), y: &mut f32| {
                c.begin_text();
                c.set_font(
                    Name(match weight {
                        Weight::Regular => b"F1",
                        Weight::Bold => b"F2",
                    }),
                    pt * scale,
                );
                c.next_line(40.0 * scale, *y);
                c.show(Str(&fonts.encode(*weight, text)));
                c.end_text();
                *y -= pt * 1.4 * scale;
            };
        let (above, below) = lines(site, s, p);
        for l in &above {
            line(&mut c, l, &mut y);
        }
        let side = 300.0 * scale;
        let qx = (w - side) / 2.0;
        let qy = y - side - 10.0 * scale;
        c.save_state();
        c.transform([side, 0.0, 0.0, side, qx, qy]);
        c.x_object(Name(b"Im1"));
        c.restore_state();
        let mut y = qy - 24.0 * scale;
        for l in &below {
            line(&mut c, l, &mut y);
        }
        pdf.stream(*content_id, &c.finish());
    }
    fonts
        .write(&mut pdf, font, bold, next)
        .map_err(PosterError::Render)?;
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_carries_the_tag_percent_encoded() {
        assert_eq!(
            wa_link("+60 3-8000 1234", "#CP3 Kenanga Heights"),
            "https://wa.me/60380001234?text=%23CP3%20Kenanga%20Heights"
        );
    }
}

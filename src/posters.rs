//! Printable QR posters for a schedule (issue 18): one per patrol checkpoint, or one per location of a cleaning
//! schedule. The QR code opens WhatsApp at the business number with the place's tag ready to send
//! (`https://wa.me/<number>?text=<tag>`, the tag from [`crate::schedule::tags::poster_text`]). PDF pages carry the
//! site, the place and the instructions in English and Malay (base-14 Helvetica, WinAnsi text); PNG is the QR
//! panels only, one under the other (no text: there is no font rasteriser in the binary).

use image::{GrayImage, Luma};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use qrcode::{Color, QrCode};

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

/// Keeps what WinAnsi text shows (printable ASCII); anything else becomes '?'.
fn ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            if (' '..='~').contains(&c) {
                c as u8
            } else {
                b'?'
            }
        })
        .collect()
}

/// Renders the posters, one page (PDF) or one panel (PNG) each.
pub fn render(
    s: &Schedule,
    posters: &[Poster],
    format: Format,
    size: Size,
) -> Result<Vec<u8>, PosterError> {
    match format {
        Format::Png => png(posters, size),
        Format::Pdf => pdf(s, posters, size),
    }
}

fn png(posters: &[Poster], size: Size) -> Result<Vec<u8>, PosterError> {
    let (w, h) = size.points();
    // About 100 dpi.
    let (pw, ph) = ((w * 100.0 / 72.0) as u32, (h * 100.0 / 72.0) as u32);
    let mut sheet = GrayImage::from_pixel(pw, ph * posters.len().max(1) as u32, Luma([255]));
    for (i, p) in posters.iter().enumerate() {
        let px = match size {
            Size::A4 => 12,
            Size::A6 => 6,
        };
        let qr = qr_image(&p.link, px)?;
        let x = pw.saturating_sub(qr.width()) / 2;
        let y = i as u32 * ph + ph.saturating_sub(qr.height()) / 2;
        image::imageops::overlay(&mut sheet, &qr, i64::from(x), i64::from(y));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    sheet
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| PosterError::Render(e.to_string()))?;
    Ok(out.into_inner())
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
    crate::pdf::helvetica(&mut pdf, font, bold);
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
        let line = |c: &mut Content, f: &[u8], pt: f32, text: &str, y: &mut f32| {
            c.begin_text();
            c.set_font(Name(f), pt * scale);
            c.next_line(40.0 * scale, *y);
            c.show(Str(&ansi(text)));
            c.end_text();
            *y -= pt * 1.4 * scale;
        };
        line(&mut c, b"F2", 26.0, site, &mut y);
        line(
            &mut c,
            b"F2",
            20.0,
            &format!("{} - {}", p.code, p.place),
            &mut y,
        );
        line(&mut c, b"F1", 12.0, &s.name, &mut y);
        let side = 300.0 * scale;
        let qx = (w - side) / 2.0;
        let qy = y - side - 10.0 * scale;
        c.save_state();
        c.transform([side, 0.0, 0.0, side, qx, qy]);
        c.x_object(Name(b"Im1"));
        c.restore_state();
        let mut y = qy - 24.0 * scale;
        line(
            &mut c,
            b"F2",
            12.0,
            "Scan with your phone camera, then send the message (add a photo).",
            &mut y,
        );
        line(
            &mut c,
            b"F1",
            12.0,
            "Imbas dengan kamera telefon, kemudian hantar mesej (sertakan gambar).",
            &mut y,
        );
        line(
            &mut c,
            b"F1",
            11.0,
            &format!("Or send on WhatsApp / Atau hantar di WhatsApp: {}", p.tag),
            &mut y,
        );
        pdf.stream(*content_id, &c.finish());
    }
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

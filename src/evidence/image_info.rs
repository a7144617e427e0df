//! What tapak learns from a stored file: image size, EXIF (orientation respected), a JPEG thumbnail, a perceptual hash.
//! A corrupt or undecodable file yields no thumbnail and a note, never a panic.

use image::{DynamicImage, ImageFormat};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    pub mime: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumbnail_jpeg: Option<Vec<u8>>,
    pub hash: Option<crate::message::PhotoHash>,
    pub exif: Option<serde_json::Value>,
    pub warning: Option<String>,
}

fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// Mime type from the bytes' magic numbers for the formats tapak recognises.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    if let Some(f) = sniff(bytes) {
        return Some(f.to_mime_type());
    }
    if bytes.starts_with(b"OggS") {
        return Some("audio/ogg");
    }
    if bytes.starts_with(b"%PDF") {
        return Some("application/pdf");
    }
    if bytes.len() > 12 && &bytes[4..8] == b"ftyp" {
        return Some("video/mp4");
    }
    None
}

fn exif_of<R: std::io::BufRead + std::io::Seek>(r: &mut R) -> (Option<serde_json::Value>, u32) {
    let Ok(ex) = exif::Reader::new().read_from_container(r) else {
        return (None, 1);
    };
    let orientation = ex
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .unwrap_or(1);
    let mut map = serde_json::Map::new();
    for tag in [
        exif::Tag::DateTimeOriginal,
        exif::Tag::Make,
        exif::Tag::Model,
        exif::Tag::Orientation,
        exif::Tag::GPSLatitude,
        exif::Tag::GPSLongitude,
    ] {
        if let Some(f) = ex.get_field(tag, exif::In::PRIMARY) {
            map.insert(
                tag.to_string(),
                serde_json::Value::String(f.display_value().to_string()),
            );
        }
    }
    (
        (!map.is_empty()).then_some(serde_json::Value::Object(map)),
        orientation,
    )
}

fn orient(img: DynamicImage, orientation: u32) -> DynamicImage {
    match orientation {
        2 => img.fliph(),
        3 => img.rotate180(),
        4 => img.flipv(),
        5 => img.rotate90().fliph(),
        6 => img.rotate90(),
        7 => img.rotate270().fliph(),
        8 => img.rotate270(),
        _ => img,
    }
}

/// Analyses a file's bytes; only JPEG, PNG and WebP are decoded.
pub fn analyze(bytes: &[u8], thumb_px: u32) -> Analysis {
    analyze_from(std::io::Cursor::new(bytes), thumb_px).unwrap_or_else(|e| Analysis {
        warning: Some(format!("cannot be read: {e}")),
        ..Analysis::default()
    })
}

/// Analyses a stored file, reading it from disk: a video or voice note is never held in memory, and an image only
/// as far as decoding it needs.
pub fn analyze_file(path: &std::path::Path, thumb_px: u32) -> std::io::Result<Analysis> {
    analyze_from(
        std::io::BufReader::new(std::fs::File::open(path)?),
        thumb_px,
    )
}

fn analyze_from<R: std::io::BufRead + std::io::Seek>(
    mut r: R,
    thumb_px: u32,
) -> std::io::Result<Analysis> {
    use std::io::Read;
    // Every format tapak recognises is told by its first bytes.
    let mut head = Vec::with_capacity(64);
    (&mut r).take(64).read_to_end(&mut head)?;
    let mut a = Analysis {
        mime: sniff_mime(&head).map(str::to_string),
        ..Analysis::default()
    };
    let Some(format) = sniff(&head) else {
        return Ok(a);
    };
    r.rewind()?;
    let (exif, orientation) = exif_of(&mut r);
    a.exif = exif;
    r.rewind()?;
    let mut reader = image::ImageReader::with_format(r, format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = match reader.decode() {
        Ok(img) => orient(img, orientation),
        Err(e) => {
            a.warning = Some(format!("image could not be decoded: {e}"));
            return Ok(a);
        }
    };
    a.width = Some(img.width());
    a.height = Some(img.height());
    a.hash = Some(crate::evidence::photo_hash::of(&img));
    let thumb = img.thumbnail(thumb_px, thumb_px).to_rgb8();
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
    match enc.encode_image(&thumb) {
        Ok(()) => a.thumbnail_jpeg = Some(out),
        Err(e) => a.warning = Some(format!("thumbnail failed: {e}")),
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn thumbnails_real_jpeg() {
        let a = analyze(&jpeg(1200, 800), 320);
        assert_eq!((a.width, a.height), (Some(1200), Some(800)));
        let t = image::load_from_memory(a.thumbnail_jpeg.as_ref().unwrap()).unwrap();
        assert_eq!((t.width(), t.height()), (320, 213));
        assert_eq!(a.mime.as_deref(), Some("image/jpeg"));
        assert!(a.hash.is_some());
    }

    #[test]
    fn corrupt_image_gives_no_thumbnail_and_no_panic() {
        let mut bytes = jpeg(300, 300);
        bytes.truncate(200);
        let a = analyze(&bytes, 320);
        assert!(a.thumbnail_jpeg.is_none());
        assert!(a.warning.is_some());
        let a = analyze(b"OggS\0\0not really audio", 320);
        assert_eq!(a.mime.as_deref(), Some("audio/ogg"));
        assert!(a.thumbnail_jpeg.is_none() && a.warning.is_none());
    }

    #[test]
    fn a_file_is_analysed_from_disk_as_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = jpeg(640, 480);
        let path = dir.path().join("p");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(analyze_file(&path, 320).unwrap(), analyze(&bytes, 320));
        std::fs::write(&path, b"OggS\0\0voice").unwrap();
        assert_eq!(
            analyze_file(&path, 320).unwrap().mime.as_deref(),
            Some("audio/ogg")
        );
    }

    #[test]
    fn exif_orientation_is_respected() {
        // Orientation 6 (rotate 90° clockwise): a 40x20 image becomes 20x40.
        let img = orient(DynamicImage::ImageRgb8(image::RgbImage::new(40, 20)), 6);
        assert_eq!((img.width(), img.height()), (20, 40));
    }
}

//! What a record is, from the markers the exports write in its text: edited and deleted notes, attachments (present
//! or omitted, Android and iOS forms), contacts, locations and system lines (`whatsapp.md` §6.4).

use super::{trim_end_marks, trim_marks, Builder, ExportRecord, RecordKind};
use crate::ingest::model::EvidenceKind;

const EDITED_MARKERS: [&str; 6] = [
    "<This message was edited>",
    "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>",
    "<Mensaje editado>",
    "<Mesej ini telah disunting>",
    "<Pesan ini telah diedit>",
];

const DELETED_MARKERS: [&str; 12] = [
    "This message was deleted",
    "You deleted this message",
    "This message was deleted by admin",
    "Diese Nachricht wurde gelöscht",
    "Du hast diese Nachricht gelöscht",
    "Se eliminó este mensaje",
    "Eliminaste este mensaje",
    "Este mensaje fue eliminado",
    "Mesej ini telah dipadam",
    "Anda memadam mesej ini",
    "Pesan ini telah dihapus",
    "Anda menghapus pesan ini",
];

/// Android `<file> (file attached)` markers (en, de, es, cs documented; others tolerated).
const ANDROID_ATTACHED: [&str; 9] = [
    "(file attached)",
    "(Datei angehängt)",
    "(archivo adjunto)",
    "(soubor byl přiložen)",
    "(fichier joint)",
    "(arquivo anexado)",
    "(file allegato)",
    "(bestand bijgevoegd)",
    "(fail dilampirkan)",
];

/// iOS `<label: file>` markers (en, de documented; others tolerated).
const IOS_ATTACHED: [&str; 7] = [
    "attached", "Anhang", "adjunto", "anexo", "allegato", "bijlage", "lampiran",
];

const ANDROID_OMITTED: [&str; 8] = [
    "<Media omitted>",
    "<Medien ausgeschlossen>",
    "<Medien weggelassen>",
    "<Multimedia omitido>",
    "<Archivo omitido>",
    "<Media tidak disertakan>",
    "<Média omis>",
    "<Mídia oculta>",
];

const IOS_OMITTED: [(&str, EvidenceKind); 14] = [
    ("image omitted", EvidenceKind::Photo),
    ("video omitted", EvidenceKind::Video),
    ("audio omitted", EvidenceKind::Voice),
    ("GIF omitted", EvidenceKind::Video),
    ("sticker omitted", EvidenceKind::Sticker),
    ("document omitted", EvidenceKind::Document),
    ("Bild weggelassen", EvidenceKind::Photo),
    ("Video weggelassen", EvidenceKind::Video),
    ("Audio weggelassen", EvidenceKind::Voice),
    ("Sticker weggelassen", EvidenceKind::Sticker),
    ("Dokument weggelassen", EvidenceKind::Document),
    ("imagen omitida", EvidenceKind::Photo),
    ("audio omitido", EvidenceKind::Voice),
    ("documento omitido", EvidenceKind::Document),
];

const CONTACT_OMITTED: [&str; 3] = [
    "Contact card omitted",
    "Kontaktkarte weggelassen",
    "tarjeta de contacto omitida",
];

const LIVE_LOCATION: [&str; 3] = [
    "live location shared",
    "Live-Standort geteilt",
    "ubicación en tiempo real compartida",
];

/// Phrases of system notices (used when iOS 2024+ labels them with an author).
const SYSTEM_PHRASES: [&str; 30] = [
    "end-to-end encrypted",
    "secured with end-to-end encryption",
    "created group",
    "created this group",
    " added ",
    "added you",
    "were added",
    "joined using this group",
    "joined using this community",
    " removed ",
    "changed the subject",
    "changed the group name",
    "changed this group's icon",
    "changed this group\u{2019}s icon",
    "deleted this group's icon",
    "changed the group description",
    "deleted the group description",
    "now an admin",
    "no longer an admin",
    "security code with",
    "changed their phone number",
    "changed the settings",
    "changed this group's settings",
    "disappearing messages",
    "pinned a message",
    "Ende-zu-Ende-verschlüsselt",
    "cifrados de extremo a extremo",
    "disulitkan hujung ke hujung",
    "terenkripsi secara end-to-end",
    "Nachrichten und Anrufe",
];

fn is_system_phrase(body: &str) -> bool {
    SYSTEM_PHRASES.iter().any(|p| body.contains(p)) || body.ends_with(" left") || body == "You left"
}

/// Strong phrases that mark a system notice even without an iOS mark.
fn is_encryption_notice(body: &str) -> bool {
    body.starts_with("Messages and calls are end-to-end encrypted")
        || body.starts_with("Messages to this group are now secured")
        || body.starts_with("Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt")
        || body.starts_with("Los mensajes y las llamadas están cifrados")
        || body.starts_with("Mesej dan panggilan disulitkan")
        || body.starts_with("Pesan dan panggilan terenkripsi")
}

/// Evidence kind from an export file name (`IMG-`/`PHOTO`/.jpg → photo, `PTT-`/.opus → voice, `AUD-` → audio,
/// `VID-`/.mp4 → video, `STK-`/.webp → sticker, else document).
pub fn media_kind_from_filename(name: &str) -> EvidenceKind {
    let upper_prefix = |p: &str| {
        name.len() >= p.len() && name.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    };
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if upper_prefix("PTT-") {
        return EvidenceKind::Voice;
    }
    if upper_prefix("AUD-") {
        return EvidenceKind::Audio;
    }
    if upper_prefix("STK-") || name.contains("-STICKER-") {
        return EvidenceKind::Sticker;
    }
    if upper_prefix("IMG-") || name.contains("-PHOTO-") {
        return EvidenceKind::Photo;
    }
    if upper_prefix("VID-")
        || upper_prefix("GIF-")
        || name.contains("-VIDEO-")
        || name.contains("-GIF-")
    {
        return EvidenceKind::Video;
    }
    match ext.as_str() {
        "opus" | "ogg" | "oga" => EvidenceKind::Voice,
        "webp" => EvidenceKind::Sticker,
        "jpg" | "jpeg" | "png" | "heic" | "heif" | "gif" | "bmp" => EvidenceKind::Photo,
        "mp4" | "mov" | "3gp" | "mkv" | "webm" | "avi" => EvidenceKind::Video,
        "mp3" | "m4a" | "aac" | "amr" | "wav" | "flac" => EvidenceKind::Audio,
        _ if name.contains("-AUDIO-") => EvidenceKind::Audio,
        _ => EvidenceKind::Document,
    }
}

fn attachment(filename: &str, omitted: bool) -> RecordKind {
    let is_vcf = filename.len() > 4 && filename[filename.len() - 4..].eq_ignore_ascii_case(".vcf");
    if is_vcf {
        RecordKind::Contact {
            filename: Some(filename.to_string()),
            omitted,
        }
    } else {
        RecordKind::Media {
            filename: Some(filename.to_string()),
            media_kind: media_kind_from_filename(filename),
            omitted,
        }
    }
}

/// Android: `<file> (file attached)` → file name.
fn android_attached(first: &str) -> Option<&str> {
    let t = trim_end_marks(first);
    if !t.ends_with(')') {
        return None;
    }
    ANDROID_ATTACHED.iter().find_map(|m| {
        let name = trim_marks(t.strip_suffix(m)?);
        (!name.is_empty()).then_some(name)
    })
}

/// Old iOS: `file <attached>` (the `<` sometimes written `‹`, marks around it) → file name.
fn ios_attached_suffix(first: &str) -> Option<&str> {
    let t = trim_end_marks(first);
    let rest = t.strip_suffix("attached>")?;
    let rest = trim_end_marks(rest);
    let rest = rest
        .strip_suffix('<')
        .or_else(|| rest.strip_suffix('\u{2039}'))?;
    let name = trim_marks(rest);
    // A file name has an extension; `see <attached>` in prose is not an attachment.
    let ext = name.rsplit_once('.').map(|(_, e)| e)?;
    (!ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(name)
}

/// iOS: `… <attached: file>` anywhere in the line → (text before, file name, text after). Also the
/// spaced `< attached: file >`.
fn ios_attached(first: &str) -> Option<(&str, &str, &str)> {
    let mut from = 0;
    while let Some(p) = first[from..].find('<') {
        let start = from + p;
        let inner = &first[start + 1..];
        if let Some(colon) = inner.find(':') {
            let label = &inner[..colon];
            if IOS_ATTACHED.iter().any(|l| trim_marks(label) == *l) {
                if let Some(close) = inner.find('>') {
                    if close > colon {
                        let name = trim_marks(&inner[colon + 1..close]);
                        if !name.is_empty() {
                            return Some((&first[..start], name, &inner[close + 1..]));
                        }
                    }
                }
            }
        }
        from = start + 1;
    }
    None
}

fn parse_lat_lng(url: &str) -> Option<(f64, f64)> {
    let q = url.split_once("q=")?.1;
    let q = q.split(['&', ' ']).next()?;
    let (a, b) = q.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lng: f64 = b.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)).then_some((lat, lng))
}

/// Cheap pre-check for `https://maps.` (memchr on `/`).
fn has_maps_url(text: &str) -> bool {
    let mut from = 0;
    while let Some(p) = text[from..].find('/') {
        let i = from + p;
        if text[i..].starts_with("//maps.") && text[..i].ends_with("https:") {
            return true;
        }
        from = i + 1;
    }
    false
}

/// Location shares: Android `name\naddress\nlocation: https://maps.google.com/?q=lat,lng`, iOS
/// `Place (area): https://maps.google.com/?q=…` / `Location: https://…`.
fn location(text: &str) -> Option<(RecordKind, String)> {
    if !has_maps_url(text) {
        return None;
    }
    let (before, last) = match text.rsplit_once('\n') {
        Some((b, l)) => (Some(b), l),
        None => (None, text),
    };
    let last = trim_marks(last);
    let url_pos = last.find("https://maps.")?;
    let url = &last[url_pos..];
    if url.contains(char::is_whitespace) {
        return None;
    }
    let label = trim_marks(&last[..url_pos]);
    let label = label.strip_suffix(':')?.trim();
    let (latitude, longitude) = match parse_lat_lng(url) {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    let (name, address, text_out) = if label.eq_ignore_ascii_case("location") || label.is_empty() {
        let mut it = before
            .into_iter()
            .flat_map(|b| b.split('\n'))
            .map(trim_marks)
            .filter(|l| !l.is_empty());
        let name = it.next().map(str::to_string);
        let address = it.next().map(str::to_string);
        (name, address, before.unwrap_or("").to_string())
    } else if before.is_none() {
        (Some(label.to_string()), None, label.to_string())
    } else {
        return None;
    };
    Some((
        RecordKind::Location {
            latitude,
            longitude,
            name,
            address,
            live: false,
        },
        text_out,
    ))
}

pub(super) fn classify(b: Builder, ordinal: usize) -> ExportRecord {
    let Builder {
        line,
        local,
        mut author,
        mut text,
        raw,
        body_mark,
    } = b;
    let mut edited = false;
    if trim_end_marks(&text).ends_with('>') {
        let t = trim_end_marks(&text);
        if let Some(m) = EDITED_MARKERS.iter().find(|m| t.ends_with(*m)) {
            let cut = trim_end_marks(&t[..t.len() - m.len()]).len();
            text.truncate(cut);
            edited = true;
        }
    }
    let mut kind = RecordKind::Text;
    if author.is_none() {
        kind = RecordKind::System;
    } else {
        let first_end = text.find('\n').unwrap_or(text.len());
        let first = &text[..first_end];
        let single = first_end == text.len();
        let t = trim_marks(first);
        let t_nodot = t.strip_suffix('.').unwrap_or(t);
        let mut new_text: Option<String> = None;
        if single && DELETED_MARKERS.contains(&t_nodot) {
            kind = RecordKind::Deleted;
            new_text = Some(String::new());
        } else if let Some(name) = android_attached(first).or_else(|| ios_attached_suffix(first)) {
            let mut caption = if single { "" } else { &text[first_end + 1..] };
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            if trim_marks(caption) == stem || trim_marks(caption) == name {
                caption = "";
            }
            kind = attachment(name, false);
            new_text = Some(caption.trim_end_matches('\n').to_string());
        } else if let Some((before, name, after)) = ios_attached(first) {
            kind = attachment(name, false);
            // `Title • N pages <attached: …>` is document metadata, not a caption.
            let before = trim_marks(before);
            let mut caption = String::new();
            if !before.contains('\u{2022}') && !before.is_empty() {
                caption.push_str(before);
            }
            let after = trim_marks(after);
            if !after.is_empty() {
                if !caption.is_empty() {
                    caption.push(' ');
                }
                caption.push_str(after);
            }
            if !single {
                if !caption.is_empty() {
                    caption.push('\n');
                }
                caption.push_str(&text[first_end + 1..]);
            }
            new_text = Some(caption);
        } else if single
            && t.starts_with('<')
            && (ANDROID_OMITTED.contains(&t) || t.contains("omitted>"))
        {
            kind = RecordKind::Media {
                filename: None,
                media_kind: EvidenceKind::Other,
                omitted: true,
            };
            new_text = Some(String::new());
        } else if let Some((_, k)) = IOS_OMITTED.iter().find(|(m, k)| {
            single
                && (t == *m
                    || (*k == EvidenceKind::Document && t.ends_with(m) && t.contains('\u{2022}')))
        }) {
            kind = RecordKind::Media {
                filename: None,
                media_kind: *k,
                omitted: true,
            };
            new_text = Some(String::new());
        } else if single && CONTACT_OMITTED.contains(&t) {
            kind = RecordKind::Contact {
                filename: None,
                omitted: true,
            };
            new_text = Some(String::new());
        } else if single && t == "null" {
            kind = RecordKind::ViewOnce;
            new_text = Some(String::new());
        } else if single && LIVE_LOCATION.iter().any(|m| t.eq_ignore_ascii_case(m)) {
            kind = RecordKind::Location {
                latitude: None,
                longitude: None,
                name: None,
                address: None,
                live: true,
            };
            new_text = Some(String::new());
        } else if let Some((k, tx)) = location(&text) {
            kind = k;
            new_text = Some(tx);
        } else if is_encryption_notice(t)
            || (body_mark && !t.is_empty())
            || author.as_deref().is_some_and(|a| {
                t.len() > a.len() && t.starts_with(a) && is_system_phrase(&t[a.len()..])
            })
        {
            kind = RecordKind::System;
        }
        if let Some(nt) = new_text {
            text = nt;
        }
        if kind == RecordKind::System {
            author = None;
        }
    }
    // Drop trailing blank continuation lines (a final newline in the file, blank lines before the next header).
    let keep = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(keep);
    ExportRecord {
        line,
        ordinal,
        local,
        author,
        text,
        kind,
        edited,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_kinds_from_names() {
        use EvidenceKind::*;
        for (n, k) in [
            ("IMG-20260302-WA0003.jpg", Photo),
            ("00000005-PHOTO-2026-03-02-09-20-11.jpg", Photo),
            ("PTT-20260302-WA0004.opus", Voice),
            ("00000007-AUDIO-2026-03-02-09-22-00.opus", Voice),
            ("AUD-20260302-WA0001.", Audio),
            ("AUD-20260302-WA0001.m4a", Audio),
            ("VID-20260302-WA0002.mp4", Video),
            ("GIF-20260302-WA0002.mp4", Video),
            ("STK-20260302-WA0005.webp", Sticker),
            ("00000011-STICKER-2026-03-02-10-05-00.webp", Sticker),
            ("Quotation.pdf", Document),
            ("photo.JPG", Photo),
        ] {
            assert_eq!(media_kind_from_filename(n), k, "{n}");
        }
        assert!(matches!(
            attachment("Ali.vcf", false),
            RecordKind::Contact { .. }
        ));
    }
}

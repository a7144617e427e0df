//! WhatsApp "Export chat" import (`whatsapp.md` §6): open (`archive`), parse (`parser`), normalise (`to_inbound`).
//!
//! Typical use:
//! ```ignore
//! let mut ar = ExportArchive::open(path)?;
//! let chat = export_chat_ref(&ar.chat_name(), true);
//! let parser = ar.records(None, ParseOptions::default())?;      // pass 1 (date order) + pass 2
//! let mut dups = DupCounter::new();
//! for rec in parser {
//!     let rec = rec.map_err(|e| format!("{}: {e}", ar.display_chat()))?;
//!     let msg = to_inbound(&rec, &chat, tz, dups.next(&rec));
//!     // media: ar.has_media(name) / ar.copy_media(name, &mut out, cap)  (else status missing_from_export)
//! }
//! ```

pub mod archive;
pub mod parser;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use sha2::{Digest, Sha256};

use crate::ingest::model::{
    normalize_phone, ChatRef, EvidenceKind, GeoLocation, InboundMessage, MediaFetch, MediaRef,
    SenderRef, Source,
};

pub use archive::{ArchiveError, ArchiveOptions, ChatTextReader, ExportArchive, MediaEntry};
pub use parser::{
    detect_date_order, media_kind_from_filename, parse_seekable, DateOrder, DateOrderDecision,
    ExportParser, ExportRecord, OrderEvidence, ParseError, ParseOptions, RecordKind,
};

/// Chat name from an export file name: `WhatsApp Chat with X.txt`, `WhatsApp Chat - X.zip` (and the German/Spanish
/// forms) → `X`; anything else → the file stem.
pub fn chat_name_from_path(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = match file.rsplit_once('.') {
        Some((s, ext)) if ext.eq_ignore_ascii_case("txt") || ext.eq_ignore_ascii_case("zip") => {
            s.to_string()
        }
        _ => file.clone(),
    };
    const PREFIXES: [&str; 6] = [
        "WhatsApp Chat with ",
        "WhatsApp Chat - ",
        "WhatsApp-Chat mit ",
        "WhatsApp Chat mit ",
        "Chat de WhatsApp con ",
        "WhatsApp Chat dengan ",
    ];
    for p in PREFIXES {
        if let Some(rest) = stem.strip_prefix(p) {
            let rest = rest.trim();
            if !rest.is_empty() {
                return rest.to_string();
            }
        }
    }
    stem.trim().to_string()
}

/// The [`ChatRef`] of an export: `export:<chat name>`.
pub fn export_chat_ref(chat_name: &str, is_group: bool) -> ChatRef {
    ChatRef {
        external_id: format!("export:{chat_name}"),
        name: Some(chat_name.to_string()),
        is_group,
    }
}

fn is_mark(c: char) -> bool {
    matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}')
}

/// Author as a person's name: bidi marks removed, iOS push-name `~` prefix stripped, whitespace collapsed.
pub fn clean_author(author: &str) -> String {
    clean_author_cow(author).into_owned()
}

fn clean_author_cow(author: &str) -> Cow<'_, str> {
    let a = author.trim_matches(|c: char| c.is_whitespace() || is_mark(c));
    let a = a.strip_prefix('~').unwrap_or(a);
    collapse_ws(a)
}

/// True when `s` may contain something [`collapse_ws`] changes (conservative byte test, no allocation).
fn needs_collapse(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first().is_some_and(|&c| c == b' ') || b.last().is_some_and(|&c| c == b' ') {
        return true;
    }
    b.iter().enumerate().any(|(i, &c)| match c {
        b'\n' | b'\r' | b'\t' | 0x0B | 0x0C => true,
        b' ' => b.get(i + 1) == Some(&b' '),
        // NBSP / NEL, U+2000..U+206F (spaces, bidi marks), U+3000, BOM
        0xC2 => matches!(b.get(i + 1), Some(0x85) | Some(0xA0)),
        0xE1 => matches!(b.get(i + 1), Some(0x9A) | Some(0xA0)),
        0xE2 => matches!(b.get(i + 1), Some(0x80) | Some(0x81)),
        0xE3 => b.get(i + 1) == Some(&0x80),
        0xEF => b.get(i + 1) == Some(&0xBB),
        _ => false,
    })
}

/// Whitespace runs (any Unicode whitespace) and bidi marks → one space, trimmed.
fn collapse_ws(s: &str) -> Cow<'_, str> {
    if !needs_collapse(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for w in s
        .split(|c: char| c.is_whitespace() || is_mark(c))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    Cow::Owned(out)
}

/// Sender of an export author: phone-looking authors (`+60 11-2345 6789`) get `phone`; names are their own id.
pub fn sender_from_author(author: &str) -> SenderRef {
    let name = clean_author(author);
    match normalize_phone(&name) {
        Some(digits) => SenderRef {
            external_id: digits.clone(),
            phone: Some(digits),
            display_name: Some(name),
        },
        None => SenderRef {
            external_id: name.clone(),
            phone: None,
            display_name: Some(name),
        },
    }
}

/// The normalised body used in the synthetic id. Media bodies leave out the file name, so an export "with media"
/// and one "without media" (`<Media omitted>`) of the same chat give the same ids.
pub fn body_key(rec: &ExportRecord) -> String {
    let tag = match &rec.kind {
        RecordKind::Text => "text",
        RecordKind::Media { .. } => "media",
        RecordKind::Contact { .. } => "contact",
        RecordKind::System => "system",
        RecordKind::Deleted => "deleted",
        RecordKind::Location { .. } => "location",
        RecordKind::ViewOnce => "view_once",
    };
    let body = collapse_ws(&rec.text);
    let mut k = String::with_capacity(tag.len() + 1 + body.len());
    k.push_str(tag);
    k.push('\n');
    k.push_str(&body);
    k
}

fn author_key(rec: &ExportRecord) -> Cow<'_, str> {
    rec.author
        .as_deref()
        .map(clean_author_cow)
        .unwrap_or_default()
}

fn push_num(out: &mut Vec<u8>, v: u32, width: usize) {
    let mut digits = [0u8; 10];
    let mut n = v;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push(b'0');
    }
    out.extend(digits[..len].iter().rev());
}

/// `YYYY-MM-DDTHH:MM:SS` without going through chrono's strftime machinery.
fn timestamp_bytes(local: NaiveDateTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(19);
    let year = local.year();
    if year < 0 {
        out.push(b'-');
    }
    push_num(&mut out, year.unsigned_abs(), 4);
    out.push(b'-');
    push_num(&mut out, local.month(), 2);
    out.push(b'-');
    push_num(&mut out, local.day(), 2);
    out.push(b'T');
    push_num(&mut out, local.hour(), 2);
    out.push(b':');
    push_num(&mut out, local.minute(), 2);
    out.push(b':');
    push_num(&mut out, local.second(), 2);
    out
}

/// Hex SHA-256 of (chat external id, local timestamp, author, normalised body, ordinal among identical tuples).
pub fn synthetic_id(
    chat_external_id: &str,
    local: NaiveDateTime,
    author: &str,
    body_key: &str,
    dup_ordinal: u32,
) -> String {
    let mut h = Sha256::new();
    h.update(b"tapak-export-v1\0");
    h.update(chat_external_id.as_bytes());
    h.update(b"\0");
    h.update(timestamp_bytes(local));
    h.update(b"\0");
    h.update(author.as_bytes());
    h.update(b"\0");
    h.update(body_key.as_bytes());
    h.update(b"\0");
    let mut ord = Vec::with_capacity(10);
    push_num(&mut ord, dup_ordinal, 1);
    h.update(&ord);
    hex::encode(h.finalize())
}

/// Counts identical (local time, author, body) tuples while streaming, giving each record its ordinal among them.
/// Memory stays bounded: once more than `cap` tuples are held, those older than two days before the newest
/// timestamp seen are forgotten (identical tuples share a timestamp; exports are nearly chronological).
#[derive(Debug)]
pub struct DupCounter {
    seen: HashMap<u64, (u32, NaiveDateTime), BuildHasherDefault<Fnv64>>,
    newest: Option<NaiveDateTime>,
    cap: usize,
    /// Size at which the next eviction runs (grows when eviction frees little, so it stays amortised O(1)).
    gc_at: usize,
}

/// FNV-1a: cheap, deterministic; collisions only merge ordinal counters, never ids of different tuples.
#[derive(Debug, Default, Clone, Copy)]
struct Fnv64(u64);

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        self.0 = h;
    }
}

impl Default for DupCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl DupCounter {
    pub fn new() -> Self {
        Self::with_cap(100_000)
    }

    pub fn with_cap(cap: usize) -> Self {
        DupCounter {
            seen: HashMap::default(),
            newest: None,
            cap: cap.max(1),
            gc_at: cap.max(1),
        }
    }

    /// Ordinal of `rec` among the identical tuples seen so far (0 for the first).
    pub fn next(&mut self, rec: &ExportRecord) -> u32 {
        let mut h = Fnv64::default();
        h.write(&timestamp_bytes(rec.local));
        h.write(author_key(rec).as_bytes());
        h.write(b"\0");
        h.write(body_key(rec).as_bytes());
        let key = h.finish();
        self.newest = Some(self.newest.map_or(rec.local, |n| n.max(rec.local)));
        if self.seen.len() >= self.gc_at {
            if let Some(newest) = self.newest {
                let horizon = newest
                    .checked_sub_signed(Duration::days(2))
                    .unwrap_or(NaiveDateTime::MIN);
                self.seen.retain(|_, (_, t)| *t >= horizon);
            }
            self.gc_at = self.cap.max(self.seen.len() * 2);
        }
        let e = self.seen.entry(key).or_insert((0, rec.local));
        let n = e.0;
        e.0 += 1;
        n
    }
}

/// Local wall time in `tz` → UTC (earliest instant when ambiguous; a time skipped by a DST gap is shifted by an hour).
pub fn local_to_utc(local: NaiveDateTime, tz: chrono_tz::Tz) -> DateTime<Utc> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    local
        .checked_add_signed(Duration::hours(1))
        .and_then(|l| tz.from_local_datetime(&l).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// MIME type guessed from an export file name (the lead may sniff the bytes instead).
pub fn mime_from_filename(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "opus" | "ogg" | "oga" => "audio/ogg",
        "m4a" | "aac" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "amr" => "audio/amr",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "mov" => "video/quicktime",
        "pdf" => "application/pdf",
        "vcf" => "text/vcard",
        "txt" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => return None,
    })
}

fn media_ref(kind: EvidenceKind, filename: &Option<String>, omitted: bool) -> MediaRef {
    MediaRef {
        kind,
        mime: filename
            .as_deref()
            .and_then(mime_from_filename)
            .map(str::to_string),
        sha256: None,
        filename: filename.clone(),
        fetch: match (filename, omitted) {
            (Some(f), false) => MediaFetch::ExportFile {
                filename: f.clone(),
            },
            _ => MediaFetch::Unavailable,
        },
    }
}

/// Normalise one record. `dup_ordinal` comes from [`DupCounter::next`] (0 when the tuple is unique).
pub fn to_inbound(
    rec: &ExportRecord,
    chat: &ChatRef,
    tz: chrono_tz::Tz,
    dup_ordinal: u32,
) -> InboundMessage {
    let sender = rec.author.as_deref().map(sender_from_author);
    let author = author_key(rec);
    let id = synthetic_id(
        &chat.external_id,
        rec.local,
        &author,
        &body_key(rec),
        dup_ordinal,
    );
    let mut media = Vec::new();
    let mut location = None;
    match &rec.kind {
        RecordKind::Media {
            filename,
            media_kind,
            omitted,
        } => media.push(media_ref(*media_kind, filename, *omitted)),
        RecordKind::Contact { filename, omitted } => {
            media.push(media_ref(EvidenceKind::Document, filename, *omitted))
        }
        RecordKind::Location {
            latitude: Some(lat),
            longitude: Some(lng),
            name,
            address,
            ..
        } => {
            location = Some(GeoLocation {
                latitude: *lat,
                longitude: *lng,
                name: name.clone(),
                address: address.clone(),
            });
        }
        _ => {}
    }
    InboundMessage {
        source: Source::Import,
        source_message_id: id,
        chat: chat.clone(),
        sender,
        from_me: false,
        sent_at: local_to_utc(rec.local, tz),
        msg_type: rec.kind.msg_type(),
        source_type: rec.kind.source_type().to_string(),
        text: (!rec.text.is_empty()).then(|| rec.text.clone()),
        reply_to: None,
        forwarded: false,
        edited: rec.edited,
        deleted: rec.kind == RecordKind::Deleted,
        media,
        reaction: None,
        location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::model::MessageType;
    use std::io::Cursor;

    const FX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chat-export/");

    fn parse_bytes(b: &[u8]) -> Vec<ExportRecord> {
        parse_seekable(Cursor::new(b.to_vec()), None, ParseOptions::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn ids(recs: &[ExportRecord], chat: &ChatRef) -> Vec<String> {
        let mut d = DupCounter::new();
        recs.iter()
            .map(|r| {
                to_inbound(r, chat, chrono_tz::Asia::Kuala_Lumpur, d.next(r)).source_message_id
            })
            .collect()
    }

    #[test]
    fn chat_names() {
        assert_eq!(
            chat_name_from_path(Path::new("/x/WhatsApp Chat with Ops Menara Contoh.txt")),
            "Ops Menara Contoh"
        );
        assert_eq!(
            chat_name_from_path(Path::new("WhatsApp Chat - Ops Menara Contoh.zip")),
            "Ops Menara Contoh"
        );
        assert_eq!(
            chat_name_from_path(Path::new("WhatsApp Chat with Ops.zip")),
            "Ops"
        );
        assert_eq!(
            chat_name_from_path(Path::new("/tmp/history.TXT")),
            "history"
        );
        assert_eq!(chat_name_from_path(Path::new("export")), "export");
        assert_eq!(export_chat_ref("Ops", true).external_id, "export:Ops");
    }

    #[test]
    fn senders() {
        let s = sender_from_author("+60 11-2345 6789");
        assert_eq!(s.phone.as_deref(), Some("601123456789"));
        assert_eq!(s.external_id, "601123456789");
        assert_eq!(s.display_name.as_deref(), Some("+60 11-2345 6789"));
        let s = sender_from_author("~\u{202f}Farid Hakim");
        assert_eq!(s.display_name.as_deref(), Some("Farid Hakim"));
        assert_eq!(s.external_id, "Farid Hakim");
        assert_eq!(s.phone, None);
        assert_eq!(
            sender_from_author("\u{200e}Kak Ros 🌸").external_id,
            "Kak Ros 🌸"
        );
    }

    #[test]
    fn inbound_mapping() {
        let recs = parse_bytes(
            &std::fs::read(format!("{FX}android_en_multiline_system_media.txt")).unwrap(),
        );
        let chat = export_chat_ref("Ops Menara Contoh", true);
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let m: Vec<InboundMessage> = recs.iter().map(|r| to_inbound(r, &chat, tz, 0)).collect();
        assert!(m
            .iter()
            .all(|x| x.source == Source::Import && x.source_message_id.len() == 64));
        assert_eq!(m[0].msg_type, MessageType::System);
        assert_eq!(m[0].sender, None);
        // 02/03/2026 09:15 in Kuala Lumpur (UTC+8)
        assert_eq!(m[5].sent_at.to_rfc3339(), "2026-03-02T01:15:00+00:00");
        assert_eq!(m[6].msg_type, MessageType::Media);
        assert_eq!(
            m[6].text.as_deref(),
            Some("Pintu pagar utama Blok B rosak, tak boleh kunci")
        );
        assert_eq!(
            m[6].media,
            vec![MediaRef {
                kind: EvidenceKind::Photo,
                mime: Some("image/jpeg".into()),
                sha256: None,
                filename: Some("IMG-20260302-WA0003.jpg".into()),
                fetch: MediaFetch::ExportFile {
                    filename: "IMG-20260302-WA0003.jpg".into()
                },
            }]
        );
        assert_eq!(m[7].media[0].kind, EvidenceKind::Voice);
        assert_eq!(m[10].text.as_deref(), Some("Vendor datang pukul 3 petang"));
        assert!(m[10].edited);
        assert_eq!(m[11].msg_type, MessageType::Deleted);
        assert!(m[11].deleted);
        assert_eq!(m[11].text, None);
        assert_eq!(m[14].media[0].fetch, MediaFetch::Unavailable);
        assert_eq!(m[14].text, None);
        assert_eq!(m[15].msg_type, MessageType::Location);
        let loc = m[15].location.as_ref().unwrap();
        assert_eq!((loc.latitude, loc.longitude), (3.139003, 101.686855));
        assert_eq!(m[16].msg_type, MessageType::Location);
        assert!(m[16].location.is_none());
        assert_eq!(m[13].msg_type, MessageType::Other);
        assert_eq!(m[3].msg_type, MessageType::System);
        assert_eq!(m[23].text, None);
        assert_eq!(m[23].msg_type, MessageType::Text);
        assert_eq!(m[18].msg_type, MessageType::System);
    }

    #[test]
    fn ids_are_idempotent_and_overlap_stable() {
        let txt = std::fs::read_to_string(format!("{FX}dev-condo-cleaning.txt")).unwrap();
        let chat = export_chat_ref("Seri Mutiara Cleaning Team", true);
        let a = ids(&parse_bytes(txt.as_bytes()), &chat);
        let b = ids(&parse_bytes(txt.as_bytes()), &chat);
        assert_eq!(a, b);
        let unique: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(unique.len(), a.len(), "ids unique within the export");
        // An overlapping export: the second half of the first export plus new messages.
        let lines: Vec<&str> = txt.lines().collect();
        let mut later: String = lines[40..].iter().map(|l| format!("{l}\n")).collect();
        later.push_str("28/11/2026, 08:00 - Siti Rahmah: Pagi semua\n");
        let c = ids(&parse_bytes(later.as_bytes()), &chat);
        let first_overlap = a.iter().position(|x| *x == c[0]).unwrap();
        assert_eq!(&a[first_overlap..], &c[..a.len() - first_overlap]);
        assert!(!a.contains(c.last().unwrap()));
        // Another chat gives other ids.
        let other = ids(
            &parse_bytes(txt.as_bytes()),
            &export_chat_ref("Other", true),
        );
        assert!(other.iter().all(|x| !a.contains(x)));
    }

    #[test]
    fn identical_messages_get_distinct_stable_ids() {
        let s = b"02/03/2026, 09:15 - A: ok\n02/03/2026, 09:15 - A: ok\n02/03/2026, 09:15 - A: <Media omitted>\n13/03/2026, 09:16 - A: ok\n";
        let chat = export_chat_ref("T", true);
        let r = parse_bytes(s);
        let x = ids(&r, &chat);
        assert_ne!(x[0], x[1]);
        assert_eq!(x, ids(&r, &chat));
        // The same chat exported with media: the media line gets the same id as the omitted one.
        let s2 = b"02/03/2026, 09:15 - A: ok\n02/03/2026, 09:15 - A: ok\n02/03/2026, 09:15 - A: IMG-1.jpg (file attached)\n13/03/2026, 09:16 - A: ok\n";
        assert_eq!(ids(&parse_bytes(s2), &chat), x);
    }

    #[test]
    fn dup_counter_bounded() {
        let mut d = DupCounter::with_cap(10);
        let recs = parse_bytes(b"02/03/2026, 09:15 - A: ok\n");
        let mut r = recs[0].clone();
        assert_eq!(d.next(&r), 0);
        assert_eq!(d.next(&r), 1);
        for day in 0..50 {
            r.local += Duration::days(1);
            r.text = format!("m{day}");
            d.next(&r);
        }
        assert!(d.seen.len() <= 11);
    }

    #[test]
    fn normalisation_helpers() {
        assert_eq!(collapse_ws("a  b\u{a0}c\n d\u{200e}"), "a b c d");
        assert!(matches!(
            collapse_ws("plain text ✅ 垃圾"),
            Cow::Borrowed(_)
        ));
        assert_eq!(collapse_ws(" x "), "x");
        let l = NaiveDateTime::parse_from_str("2026-03-02 00:05:09", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(timestamp_bytes(l), b"2026-03-02T00:05:09");
        let mut v = Vec::new();
        push_num(&mut v, 0, 1);
        push_num(&mut v, 4_294_967_295, 1);
        assert_eq!(v, b"04294967295");
    }

    #[test]
    fn dup_counter_many_same_day_stays_linear() {
        let recs = parse_bytes(b"02/03/2026, 09:15 - A: ok\n");
        let mut d = DupCounter::with_cap(100);
        let mut r = recs[0].clone();
        let t0 = std::time::Instant::now();
        for i in 0..20_000 {
            r.text = format!("m{i}");
            assert_eq!(d.next(&r), 0);
        }
        // same-day tuples are never evicted, and eviction does not run on every call
        assert_eq!(d.seen.len(), 20_000);
        assert!(t0.elapsed().as_secs() < 5);
    }

    #[test]
    fn utc_conversion() {
        let l = NaiveDateTime::parse_from_str("2026-03-02 00:45:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            local_to_utc(l, chrono_tz::Asia::Kuala_Lumpur).to_rfc3339(),
            "2026-03-01T16:45:00+00:00"
        );
        // DST gap in Berlin: 02:30 does not exist on 2026-03-29
        let g = NaiveDateTime::parse_from_str("2026-03-29 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            local_to_utc(g, chrono_tz::Europe::Berlin).to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
    }
}

//! Streaming parser for WhatsApp "Export chat" text files (`whatsapp.md` §6).
//!
//! The parts: [`header`] (the header grammar), [`date_order`] (pass 1) and [`markers`] (what a record is); this file
//! holds the types, the line reader and pass 2.
//!
//! Memory is bounded whatever the file size: lines are read one at a time (capped at
//! [`ParseOptions::max_line_bytes`]) and only the record being assembled is held (capped at
//! [`ParseOptions::max_record_bytes`]).
//!
//! Day/month order is not encoded in an export, so parsing is two passes (§6.6):
//! [`detect_date_order`] scans the headers collecting only a few counters (and stops at the first
//! decisive date), then [`ExportParser`] parses with the decided [`DateOrder`].
//! [`parse_seekable`] does both over one `Read + Seek` source.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use chrono::NaiveDateTime;

use crate::ingest::model::{EvidenceKind, MessageType};

/// Day/month/year order of the dates in one export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// `dd/mm/yy[yy]`
    DayFirst,
    /// `mm/dd/yy[yy]`
    MonthFirst,
    /// `yyyy/mm/dd` (4-digit years are detected; 2-digit year-first only by override)
    YearFirst,
}

impl DateOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            DateOrder::DayFirst => "day_first",
            DateOrder::MonthFirst => "month_first",
            DateOrder::YearFirst => "year_first",
        }
    }
    pub fn parse(s: &str) -> Option<DateOrder> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "day_first" | "dmy" | "day" => DateOrder::DayFirst,
            "month_first" | "mdy" | "month" => DateOrder::MonthFirst,
            "year_first" | "ymd" | "year" => DateOrder::YearFirst,
            _ => return None,
        })
    }
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a [`DateOrder`] was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderEvidence {
    /// Given by the caller.
    Override,
    /// A 4-digit first component.
    YearFirst,
    /// A first (→ day-first) or second (→ month-first) component above 12.
    ComponentOver12,
    /// Within one year the first (→ day-first) or second (→ month-first) component decreased between headers.
    Decreased,
    /// The component that changes more often is the day.
    ChangesMoreOften,
    /// Nothing decided it: day-first by default.
    Default,
}

/// The date order used for a file and how it was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DateOrderDecision {
    pub order: DateOrder,
    pub evidence: OrderEvidence,
    /// True when only heuristics (or the default) decided: the uploader should confirm.
    pub ambiguous: bool,
    /// Header lines looked at before deciding.
    pub headers_seen: usize,
}

impl DateOrderDecision {
    pub fn overridden(order: DateOrder) -> Self {
        DateOrderDecision {
            order,
            evidence: OrderEvidence::Override,
            ambiguous: false,
            headers_seen: 0,
        }
    }
}

/// Limits that keep memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Longest physical line accepted (bytes).
    pub max_line_bytes: usize,
    /// Largest message (all its lines, bytes). WhatsApp caps messages at 65,536 characters.
    pub max_record_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_line_bytes: 1 << 20,
            max_record_bytes: 1 << 20,
        }
    }
}

/// What a record is.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordKind {
    /// An ordinary message (possibly empty).
    Text,
    /// An attachment. `filename` is the file name as referenced (Android `… (file attached)`, iOS `<attached: …>`);
    /// `None` with `omitted` for `<Media omitted>` / `image omitted` markers.
    Media {
        filename: Option<String>,
        media_kind: EvidenceKind,
        omitted: bool,
    },
    /// A contact card (`Name.vcf (file attached)` / `Contact card omitted`).
    Contact {
        filename: Option<String>,
        omitted: bool,
    },
    /// A system notice (no author on Android; iOS 2024+ labels them with the group or actor name).
    System,
    /// `This message was deleted` / `You deleted this message`.
    Deleted,
    /// A shared location (`live` for live-location notices, which carry no coordinates).
    Location {
        latitude: Option<f64>,
        longitude: Option<f64>,
        name: Option<String>,
        address: Option<String>,
        live: bool,
    },
    /// Android `null` body: view-once media (UNVERIFIED meaning).
    ViewOnce,
}

impl RecordKind {
    pub fn msg_type(&self) -> MessageType {
        match self {
            RecordKind::Text => MessageType::Text,
            RecordKind::Media { .. } => MessageType::Media,
            RecordKind::Contact { .. } => MessageType::Contact,
            RecordKind::System => MessageType::System,
            RecordKind::Deleted => MessageType::Deleted,
            RecordKind::Location { .. } => MessageType::Location,
            RecordKind::ViewOnce => MessageType::Other,
        }
    }
    /// Short stable name for audit (`InboundMessage::source_type`).
    pub fn source_type(&self) -> &'static str {
        match self {
            RecordKind::Text => "text",
            RecordKind::Media { omitted: true, .. } => "media_omitted",
            RecordKind::Media { .. } => "media_attached",
            RecordKind::Contact { omitted: true, .. } => "contact_omitted",
            RecordKind::Contact { .. } => "contact_attached",
            RecordKind::System => "system",
            RecordKind::Deleted => "deleted",
            RecordKind::Location { live: true, .. } => "live_location",
            RecordKind::Location { .. } => "location",
            RecordKind::ViewOnce => "view_once",
        }
    }
}

/// One message of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    /// 1-based number of the record's first (header) line.
    pub line: usize,
    /// 0-based position of the record in the file.
    pub ordinal: usize,
    /// Wall-clock time as written (no zone).
    pub local: NaiveDateTime,
    /// Author as shown (bidi marks removed), `None` for system lines.
    pub author: Option<String>,
    /// Body with continuation lines joined by `\n` and markers stripped (caption for media).
    pub text: String,
    pub kind: RecordKind,
    /// Ended with `<This message was edited>` (stripped from `text`).
    pub edited: bool,
    /// Original lines (lossily decoded, BOM removed) joined with `\n`.
    pub raw: String,
}

/// Why an export cannot be read. Every variant names the line at fault.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: not a WhatsApp chat export (no date/time message header found)")]
    NotAnExport { line: usize },
    #[error("line {line}: line longer than {max} bytes")]
    LineTooLong { line: usize, max: usize },
    #[error("line {line}: message starting on this line is longer than {max} bytes")]
    RecordTooLarge { line: usize, max: usize },
    #[error("line {line}: invalid date/time {header:?} for {order} date order")]
    InvalidDate {
        line: usize,
        header: String,
        order: DateOrder,
    },
    #[error("line {line}: read error: {source}")]
    Io {
        line: usize,
        #[source]
        source: io::Error,
    },
}

impl ParseError {
    /// The 1-based line the error refers to.
    pub fn line(&self) -> usize {
        match self {
            ParseError::NotAnExport { line }
            | ParseError::LineTooLong { line, .. }
            | ParseError::RecordTooLarge { line, .. }
            | ParseError::InvalidDate { line, .. }
            | ParseError::Io { line, .. } => *line,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Line reading

/// Reads logical lines (split on `\r\n`, `\n` or a lone `\r`) with a length cap.
struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Logical lines left over from a physical line containing lone `\r`s (rare).
    pending: VecDeque<Vec<u8>>,
    /// Number of the last logical line returned (1-based).
    line_no: usize,
    max: usize,
    eof: bool,
}

impl<R: BufRead> LineReader<R> {
    fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(256),
            pending: VecDeque::new(),
            line_no: 0,
            max,
            eof: false,
        }
    }

    /// Next logical line into `self.buf`; `Ok(false)` at end of input.
    fn next_line(&mut self) -> Result<bool, ParseError> {
        if let Some(l) = self.pending.pop_front() {
            self.buf = l;
            self.line_no += 1;
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.buf.clear();
        let limit = self.max as u64 + 2;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| ParseError::Io {
                line: self.line_no + 1,
                source,
            })?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n as u64 >= limit {
            return Err(ParseError::LineTooLong {
                line: self.line_no + 1,
                max: self.max,
            });
        } else {
            self.eof = true;
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.buf.len() > self.max {
            return Err(ParseError::LineTooLong {
                line: self.line_no + 1,
                max: self.max,
            });
        }
        if self.buf.contains(&b'\r') {
            // Old-Mac style lone CRs: split into several logical lines.
            let whole = std::mem::take(&mut self.buf);
            let mut parts = whole.split(|&c| c == b'\r').map(|p| p.to_vec());
            self.buf = parts.next().unwrap_or_default();
            self.pending.extend(parts);
        }
        self.line_no += 1;
        Ok(true)
    }
}

mod date_order;
mod header;
mod markers;

pub use date_order::{detect_date_order, DateOrderDetector};
use header::{parse_header, RawHeader};
use markers::classify;
pub use markers::media_kind_from_filename;

/// Both passes over a seekable source (the reader is rewound between them). `order` overrides detection.
pub fn parse_seekable<R: Read + Seek>(
    mut reader: R,
    order: Option<DateOrder>,
    opts: ParseOptions,
) -> Result<ExportParser<BufReader<R>>, ParseError> {
    let decision = match order {
        Some(o) => DateOrderDecision::overridden(o),
        None => {
            let d = detect_date_order(BufReader::with_capacity(1 << 16, &mut reader), &opts)?;
            reader
                .seek(SeekFrom::Start(0))
                .map_err(|source| ParseError::Io { line: 1, source })?;
            d
        }
    };
    Ok(ExportParser::with_decision(
        BufReader::with_capacity(1 << 16, reader),
        decision,
        opts,
    ))
}

// ---------------------------------------------------------------------------------------------
// Pass 2: records

struct Builder {
    line: usize,
    local: NaiveDateTime,
    author: Option<String>,
    text: String,
    raw: String,
    /// Body (after the author) began with an invisible mark (iOS marks generated text with U+200E).
    body_mark: bool,
}

/// Streaming parser: an iterator of records. Stops after the first error.
pub struct ExportParser<R> {
    lines: LineReader<R>,
    decision: DateOrderDecision,
    opts: ParseOptions,
    pending: Option<Builder>,
    ordinal: usize,
    started: bool,
    done: bool,
    /// An error met while a record was pending: the record is returned first, then this.
    deferred: Option<ParseError>,
}

impl<R: BufRead> ExportParser<R> {
    /// Parse with a known order (e.g. from [`detect_date_order`] over the same data, or the uploader's choice).
    pub fn new(reader: R, order: DateOrder, opts: ParseOptions) -> Self {
        Self::with_decision(reader, DateOrderDecision::overridden(order), opts)
    }

    pub fn with_decision(reader: R, decision: DateOrderDecision, opts: ParseOptions) -> Self {
        ExportParser {
            lines: LineReader::new(reader, opts.max_line_bytes),
            decision,
            opts,
            pending: None,
            ordinal: 0,
            started: false,
            done: false,
            deferred: None,
        }
    }

    pub fn date_order(&self) -> DateOrder {
        self.decision.order
    }

    pub fn decision(&self) -> DateOrderDecision {
        self.decision
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> usize {
        self.lines.line_no
    }

    fn step(&mut self) -> Result<Option<ExportRecord>, ParseError> {
        loop {
            if !self.lines.next_line()? {
                return Ok(self.pending.take().map(|b| self.finish(b)));
            }
            let line_no = self.lines.line_no;
            let buf = std::mem::take(&mut self.lines.buf);
            let res = self.feed(&buf, line_no);
            self.lines.buf = buf;
            match res {
                Ok(Some(rec)) => return Ok(Some(rec)),
                Ok(None) => {}
                Err(e @ ParseError::RecordTooLarge { .. }) => return Err(e),
                Err(e) => match self.pending.take() {
                    Some(p) => {
                        self.deferred = Some(e);
                        return Ok(Some(self.finish(p)));
                    }
                    None => return Err(e),
                },
            }
        }
    }

    fn feed(&mut self, bytes: &[u8], line_no: usize) -> Result<Option<ExportRecord>, ParseError> {
        let line: Cow<'_, str> = match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(bytes),
        };
        let line: &str = if line_no == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        } else {
            &line
        };
        if let Some(h) = parse_header(line.as_bytes()) {
            let order = self.decision.order;
            let local = h
                .to_datetime(order)
                .ok_or_else(|| ParseError::InvalidDate {
                    line: line_no,
                    header: line[..h.rest].trim_end().to_string(),
                    order,
                })?;
            self.started = true;
            let b = start_record(line, &h, line_no, local);
            let prev = self.pending.replace(b);
            return Ok(prev.map(|p| self.finish(p)));
        }
        match self.pending.as_mut() {
            Some(p) => {
                if p.raw.len() + line.len() + 1 > self.opts.max_record_bytes {
                    return Err(ParseError::RecordTooLarge {
                        line: p.line,
                        max: self.opts.max_record_bytes,
                    });
                }
                p.text.push('\n');
                p.text.push_str(line);
                p.raw.push('\n');
                p.raw.push_str(line);
                Ok(None)
            }
            None => {
                if line.trim().is_empty() || self.started {
                    Ok(None)
                } else {
                    Err(ParseError::NotAnExport { line: line_no })
                }
            }
        }
    }

    fn finish(&mut self, b: Builder) -> ExportRecord {
        let ordinal = self.ordinal;
        self.ordinal += 1;
        classify(b, ordinal)
    }
}

impl<R: BufRead> Iterator for ExportParser<R> {
    type Item = Result<ExportRecord, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.deferred.take() {
            self.done = true;
            return Some(Err(e));
        }
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                if self.started {
                    None
                } else {
                    Some(Err(ParseError::NotAnExport { line: 1 }))
                }
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}')
}

fn trim_marks(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

fn trim_end_marks(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

fn start_record(line: &str, h: &RawHeader, line_no: usize, local: NaiveDateTime) -> Builder {
    let rest = &line[h.rest..];
    let (author, body) = split_author(rest);
    let body_mark = body.chars().next().is_some_and(is_invisible);
    let body = body.trim_start_matches(is_invisible);
    let author = author.map(|a| {
        let a = trim_marks(a);
        if a.contains(is_invisible) {
            a.chars().filter(|&c| !is_invisible(c)).collect()
        } else {
            a.to_string()
        }
    });
    Builder {
        line: line_no,
        local,
        author,
        text: body.to_string(),
        raw: line.to_string(),
        body_mark,
    }
}

/// Split `Author: text`; `None` author for system lines (no `": "`, or a system phrase before the colon).
fn split_author(rest: &str) -> (Option<&str>, &str) {
    match find_colon_space(rest) {
        Some(p) => {
            let cand = &rest[..p];
            if cand.is_empty() || author_looks_like_system(cand) {
                (None, rest)
            } else {
                (Some(cand), &rest[p + 2..])
            }
        }
        None => match rest.strip_suffix(':') {
            // `Author:` with an empty message whose trailing space was trimmed.
            Some(a) if !a.is_empty() && a.len() <= 64 && !author_looks_like_system(a) => {
                (Some(a), "")
            }
            _ => (None, rest),
        },
    }
}

/// Position of the first `": "` (memchr on `:` — faster than a substring search on short lines).
fn find_colon_space(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(p) = s[from..].find(':') {
        let i = from + p;
        if b.get(i + 1) == Some(&b' ') {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// Android system lines have no author, but some contain `": "` inside quotes (subject changes…).
fn author_looks_like_system(cand: &str) -> bool {
    const AFTER_SPACE: [&str; 7] = [
        "changed the subject",
        "changed the group",
        "changed this group",
        "created group",
        "created this group",
        "security code",
        "end-to-end",
    ];
    let b = cand.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b' ' && {
            let r = &cand[i + 1..];
            AFTER_SPACE.iter().any(|p| r.starts_with(p))
        }
    }) || cand.starts_with("Messages and calls")
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Cursor;

    pub(crate) const FX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chat-export/");

    pub(crate) fn parse_file(name: &str) -> (DateOrderDecision, Vec<ExportRecord>) {
        let f = File::open(format!("{FX}{name}")).unwrap();
        let p = parse_seekable(f, None, ParseOptions::default()).unwrap();
        let d = p.decision();
        let recs: Vec<ExportRecord> = p.collect::<Result<_, _>>().unwrap();
        (d, recs)
    }

    fn parse_str(s: &str) -> Result<Vec<ExportRecord>, ParseError> {
        parse_seekable(
            Cursor::new(s.as_bytes().to_vec()),
            None,
            ParseOptions::default(),
        )?
        .collect()
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn authors(r: &[ExportRecord]) -> Vec<Option<&str>> {
        r.iter().map(|r| r.author.as_deref()).collect()
    }

    #[test]
    fn header_variants_from_spec_table() {
        let cases: &[(&str, DateOrder, &str)] = &[
            (
                "02/03/2026, 09:15 - A: x",
                DateOrder::DayFirst,
                "2026-03-02 09:15:00",
            ),
            (
                "3/2/26, 9:15\u{202f}AM - A: x",
                DateOrder::MonthFirst,
                "2026-03-02 09:15:00",
            ),
            (
                "01/30/2019, 08:49 p. m. - A: x",
                DateOrder::MonthFirst,
                "2019-01-30 20:49:00",
            ),
            (
                "28/3/2025, 9:36 p.\u{a0}m. - A: x",
                DateOrder::DayFirst,
                "2025-03-28 21:36:00",
            ),
            (
                "03.08.21, 12:30 - A: x",
                DateOrder::DayFirst,
                "2021-08-03 12:30:00",
            ),
            (
                "7.9.2020, 11:23 - A: x",
                DateOrder::DayFirst,
                "2020-09-07 11:23:00",
            ),
            (
                "26-04-2022 12:11 - A: x",
                DateOrder::DayFirst,
                "2022-04-26 12:11:00",
            ),
            (
                "30/08/25 18.00 - A: x",
                DateOrder::DayFirst,
                "2025-08-30 18:00:00",
            ),
            (
                "2019-01-01 12:00 - A: x",
                DateOrder::DayFirst,
                "2019-01-01 12:00:00",
            ),
            (
                "2019/01/01, 11:25 - A: x",
                DateOrder::MonthFirst,
                "2019-01-01 11:25:00",
            ),
            (
                "[14/10/2021, 3:34:09 PM] A: x",
                DateOrder::DayFirst,
                "2021-10-14 15:34:09",
            ),
            (
                "[31/12/2022 11:40:26] A: x",
                DateOrder::DayFirst,
                "2022-12-31 11:40:26",
            ),
            (
                "[3/2/26, 9:15:32\u{202f}AM] A: x",
                DateOrder::MonthFirst,
                "2026-03-02 09:15:32",
            ),
            (
                "[07.03.26, 21:22:39] A: x",
                DateOrder::DayFirst,
                "2026-03-07 21:22:39",
            ),
            (
                "[1.1.2019, 12.00.00] A: x",
                DateOrder::DayFirst,
                "2019-01-01 12:00:00",
            ),
            (
                "[2026/7/9 02:28:09] A: x",
                DateOrder::DayFirst,
                "2026-07-09 02:28:09",
            ),
            (
                "[25/09/20 10:27:18 a.m.] A: x",
                DateOrder::DayFirst,
                "2020-09-25 10:27:18",
            ),
            (
                "2/03/26, 12:40\u{202f}PG - A: x",
                DateOrder::DayFirst,
                "2026-03-02 00:40:00",
            ),
            (
                "2/03/26, 12:05\u{202f}PTG - A: x",
                DateOrder::DayFirst,
                "2026-03-02 12:05:00",
            ),
            (
                "13. 6. 2018., 10:00 - A: x",
                DateOrder::DayFirst,
                "2018-06-13 10:00:00",
            ),
            (
                "[2026/7/9 下午2:28:09] A: x",
                DateOrder::DayFirst,
                "2026-07-09 14:28:09",
            ),
            (
                "[2026/7/9 2:28:09 上午] A: x",
                DateOrder::DayFirst,
                "2026-07-09 02:28:09",
            ),
            (
                "\u{200e}[3/2/26, 12:00:00 AM] A: x",
                DateOrder::MonthFirst,
                "2026-03-02 00:00:00",
            ),
            (
                "٠٢/٠٣/٢٠٢٦, ٠٩:١٥ - A: x",
                DateOrder::DayFirst,
                "2026-03-02 09:15:00",
            ),
        ];
        for (line, order, want) in cases {
            let h = parse_header(line.as_bytes()).unwrap_or_else(|| panic!("no header: {line}"));
            assert_eq!(h.to_datetime(*order), Some(dt(want)), "{line}");
            assert_eq!(&line[h.rest..], "A: x", "{line}");
        }
    }

    /// Single-line forms another export parser's published tests read (whatsapp-chat-parser's
    /// format list); tapak refused the last four before. Written here with our own text.
    #[test]
    fn forms_other_parsers_read() {
        let cases: &[(&str, &str)] = &[
            ("3/6/18, 1:55 p.m. - Siti: lampu ok", "2018-06-03 13:55:00"),
            (
                "03-06-2018, 01.55 PM - Siti: lampu ok",
                "2018-06-03 13:55:00",
            ),
            ("[06.13.18 21:25:15] Siti: lampu ok", "2018-06-13 21:25:15"),
            (
                "[3/6/18 1:55:00 p. m.] Siti: lampu ok",
                "2018-06-03 13:55:00",
            ),
            (
                "\u{200e}[3/6/18 1:55:00 p. m.] Siti: lampu ok",
                "2018-06-03 13:55:00",
            ),
            (
                "[2018/06/13, 21:25:15] Siti: lampu ok",
                "2018-06-13 21:25:15",
            ),
            // Dotted date, dotted time ending in a colon.
            ("13.06.18 21.25.15: Siti: lampu ok", "2018-06-13 21:25:15"),
            // Finnish `klo`.
            (
                "13.6.2018 klo 21.25.15 - Siti: lampu ok",
                "2018-06-13 21:25:15",
            ),
            // A dot after the year, no dash before the author.
            (
                "13. 6. 2018. 21:25:15 Siti: lampu ok",
                "2018-06-13 21:25:15",
            ),
            // The year between month and day.
            (
                "[06/2018/13, 21:25:15] Siti: lampu ok",
                "2018-06-13 21:25:15",
            ),
        ];
        for (line, want) in cases {
            let r = parse_str(&format!("{line}\n")).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(r.len(), 1, "{line}");
            assert_eq!(r[0].local, dt(want), "{line}");
            assert_eq!(r[0].author.as_deref(), Some("Siti"), "{line}");
            assert_eq!(r[0].text, "lampu ok", "{line}");
        }
        // What stays a continuation line: no separator where the form needs one.
        for l in [
            "02/03/2026, 09:15: note",
            "13.06.2018 21:25 Siti: x",
            "06/2018/2018, 21:25 - A: x",
            "2018/2018/13, 21:25 - A: x",
        ] {
            assert!(parse_header(l.as_bytes()).is_none(), "{l}");
        }
    }

    #[test]
    fn old_ios_attachment_forms() {
        let chat = "[13/06/2018, 21:25:15] Siti: IMG_0042.JPG <\u{200e}attached>\n\
                    [13/06/2018, 21:26:15] Siti: \u{200e}< attached: 00000042-PHOTO-2018-06-13-21-26-15.jpg >\n\
                    [13/06/2018, 21:27:15] Siti: laporan.pdf \u{2039}attached>\n\
                    [13/06/2018, 21:28:15] Siti: see <attached>\n";
        let r = parse_str(chat).unwrap();
        assert_eq!(r.len(), 4);
        let file = |i: usize| match &r[i].kind {
            RecordKind::Media { filename, .. } => filename.clone(),
            other => panic!("record {i} is {other:?}"),
        };
        assert_eq!(file(0).as_deref(), Some("IMG_0042.JPG"));
        assert_eq!(
            file(1).as_deref(),
            Some("00000042-PHOTO-2018-06-13-21-26-15.jpg")
        );
        assert_eq!(file(2).as_deref(), Some("laporan.pdf"));
        assert_eq!(r[3].kind, RecordKind::Text);
        assert_eq!(r[3].text, "see <attached>");
    }

    #[test]
    fn non_headers_are_continuations() {
        for l in [
            "2/3 siap, baki petang ni",
            "12/12 done",
            "1) Tandas L1-L3",
            "02/03/2026 nothing",
            "02/03/2026, 09:15 no dash",
            "2026-03-02",
            "[02/03/2026, 09:15:32 Aminah",
            "99/99/99999, 10:00 - A: x",
            "02/03/2026, 25:00 - A: x",
            "02/03/2026, 9:5 - A: x",
            "",
        ] {
            assert!(parse_header(l.as_bytes()).is_none(), "{l}");
        }
    }

    #[test]
    fn meridiem_edges() {
        let p = |s: &str| {
            parse_header(s.as_bytes())
                .unwrap()
                .to_datetime(DateOrder::MonthFirst)
                .unwrap()
        };
        assert_eq!(p("3/2/26, 12:45 AM - A: x"), dt("2026-03-02 00:45:00"));
        assert_eq!(p("3/2/26, 12:05 PM - A: x"), dt("2026-03-02 12:05:00"));
        assert_eq!(p("3/2/26, 11:59 pm - A: x"), dt("2026-03-02 23:59:00"));
        assert_eq!(p("3/2/26, 1:00 a. m. - A: x"), dt("2026-03-02 01:00:00"));
        assert_eq!(p("3/2/26, 12:00 p.m. - A: x"), dt("2026-03-02 12:00:00"));
        assert_eq!(p("3/2/26, 12:30 ptg - A: x"), dt("2026-03-02 12:30:00"));
        assert_eq!(p("3/2/26, 12:30 pg - A: x"), dt("2026-03-02 00:30:00"));
        // 13 PM is not a valid 12-hour time: not a header.
        assert!(parse_header("3/2/26, 13:00 PM - A: x".as_bytes()).is_none());
        // An author that starts like a meridiem is not one.
        let h = parse_header("3/2/26, 10:00 - Amy: hi".as_bytes()).unwrap();
        assert_eq!(h.pm, None);
    }

    #[test]
    fn android_en_24h_dmy() {
        let (d, r) = parse_file("android_en_24h_dmy.txt");
        assert_eq!(d.order, DateOrder::DayFirst);
        assert_eq!(d.evidence, OrderEvidence::ComponentOver12);
        assert_eq!(r.len(), 10);
        assert_eq!(r[0].kind, RecordKind::System);
        assert_eq!(r[1].kind, RecordKind::System);
        assert_eq!(
            r[1].text,
            "Tan Wei Ling created group \"Ops Menara Contoh\""
        );
        assert!(r[..4].iter().all(|x| x.author.is_none()));
        assert_eq!(r[4].author.as_deref(), Some("Aminah Yusof"));
        assert_eq!(r[4].local, dt("2026-03-02 09:15:00"));
        assert_eq!(r[4].text, "Tandas lelaki tingkat 3 dah siap cuci ✅");
        assert_eq!(
            r[7].kind,
            RecordKind::Media {
                filename: None,
                media_kind: EvidenceKind::Other,
                omitted: true
            }
        );
        assert_eq!(r[8].local, dt("2026-03-13 14:30:00"));
        assert_eq!(r[9].line, 10);
        assert_eq!(r[9].ordinal, 9);
    }

    #[test]
    fn android_en_us_12h_mdy_nnbsp() {
        let (d, r) = parse_file("android_en_US_12h_mdy_nnbsp.txt");
        assert_eq!(d.order, DateOrder::MonthFirst);
        assert_eq!(r.len(), 6);
        assert_eq!(r[0].kind, RecordKind::System);
        assert_eq!(r[0].local, dt("2026-03-02 08:58:00"));
        assert_eq!(r[3].local, dt("2026-03-02 12:05:00"));
        assert_eq!(r[3].text, "Lunch shift: Farid cover lobi pukul 12-1");
        assert_eq!(r[4].local, dt("2026-03-02 00:45:00"));
        assert_eq!(r[5].local, dt("2026-03-13 14:30:00"));
        assert!(matches!(r[2].kind, RecordKind::Media { omitted: true, .. }));
    }

    #[test]
    fn ios_en_gb_bracketed_crlf() {
        let (d, r) = parse_file("ios_en_GB_24h_bracketed_seconds.txt");
        assert_eq!(d.order, DateOrder::DayFirst);
        assert_eq!(r.len(), 14);
        // group-name and actor-labelled system lines
        for i in [0, 1, 2, 12] {
            assert_eq!(r[i].kind, RecordKind::System, "{i}");
            assert_eq!(r[i].author, None, "{i}");
        }
        assert_eq!(
            r[1].text,
            "Tan Wei Ling created group \u{201c}Ops Menara Contoh\u{201d}"
        );
        assert_eq!(r[3].author.as_deref(), Some("Aminah Yusof"));
        assert_eq!(r[3].text, "Tandas lelaki tingkat 3 dah siap cuci ✅\nSabun tangan habis, perlu top-up\n\nTerima kasih 🙏");
        assert!(!r[3].text.contains('\r'));
        assert_eq!(r[3].local, dt("2026-03-02 09:15:32"));
        assert_eq!(
            r[4].kind,
            RecordKind::Media {
                filename: Some("00000005-PHOTO-2026-03-02-09-20-11.jpg".into()),
                media_kind: EvidenceKind::Photo,
                omitted: false
            }
        );
        assert_eq!(r[4].text, "");
        assert!(matches!(
            r[6].kind,
            RecordKind::Media {
                media_kind: EvidenceKind::Voice,
                ..
            }
        ));
        assert!(r[7].edited);
        assert_eq!(r[7].text, "Vendor datang pukul 3 petang");
        assert_eq!(r[8].kind, RecordKind::Deleted);
        assert_eq!(r[8].author.as_deref(), Some("Farid Hakim"));
        // iOS document line: detected although the marker is not at the start (peer-parser failure).
        assert_eq!(
            r[9].kind,
            RecordKind::Media {
                filename: Some("00000009-Quotation_Aircond_Mac2026.pdf".into()),
                media_kind: EvidenceKind::Document,
                omitted: false
            }
        );
        assert_eq!(r[9].text, "");
        assert!(matches!(
            r[10].kind,
            RecordKind::Media {
                media_kind: EvidenceKind::Sticker,
                ..
            }
        ));
        // out-of-order timestamp kept in file order
        assert!(r[11].local < r[10].local);
        assert_eq!(r[11].ordinal, 11);
        assert_eq!(r[13].local, dt("2026-03-13 14:30:00"));
        assert!(r[0]
            .raw
            .starts_with("[02/03/2026, 08:58:10] Ops Menara Contoh: \u{200e}"));
    }

    #[test]
    fn ios_en_us_12h_nnbsp_lrm() {
        let (d, r) = parse_file("ios_en_US_12h_nnbsp_lrm.txt");
        assert_eq!(d.order, DateOrder::MonthFirst);
        assert_eq!(r.len(), 13);
        assert_eq!(r[0].kind, RecordKind::System);
        assert_eq!(r[1].local, dt("2026-03-02 09:15:32"));
        assert_eq!(r[1].author.as_deref(), Some("Aminah Yusof"));
        assert_eq!(
            r[2].kind,
            RecordKind::Media {
                filename: None,
                media_kind: EvidenceKind::Photo,
                omitted: true
            }
        );
        assert_eq!(
            r[3].kind,
            RecordKind::Media {
                filename: None,
                media_kind: EvidenceKind::Voice,
                omitted: true
            }
        );
        assert_eq!(r[4].author.as_deref(), Some("~\u{202f}Farid Hakim"));
        assert_eq!(r[5].author.as_deref(), Some("+60 11-2345 6789"));
        assert!(r[6].edited);
        assert_eq!(
            r[7].kind,
            RecordKind::Media {
                filename: None,
                media_kind: EvidenceKind::Document,
                omitted: true
            }
        );
        assert_eq!(
            r[8].kind,
            RecordKind::Media {
                filename: None,
                media_kind: EvidenceKind::Sticker,
                omitted: true
            }
        );
        assert_eq!(r[9].kind, RecordKind::Deleted);
        assert_eq!(r[10].local, dt("2026-03-02 12:00:00"));
        assert_eq!(r[11].local, dt("2026-03-02 00:30:00"));
        assert_eq!(
            r[12].kind,
            RecordKind::Contact {
                filename: None,
                omitted: true
            }
        );
        assert_eq!(r[12].local, dt("2026-03-13 14:30:00"));
    }

    #[test]
    fn android_ymd() {
        let (d, r) = parse_file("android_ymd_24h.txt");
        assert_eq!(d.order, DateOrder::YearFirst);
        assert_eq!(d.evidence, OrderEvidence::YearFirst);
        assert_eq!(r.len(), 5);
        assert_eq!(r[4].local, dt("2026-03-13 14:30:00"));
        assert_eq!(r[3].text, "Noted");
    }

    #[test]
    fn android_multiline_system_media() {
        let (_, r) = parse_file("android_en_multiline_system_media.txt");
        assert_eq!(r.len(), 25);
        let sys: Vec<usize> = r
            .iter()
            .filter(|x| x.kind == RecordKind::System)
            .map(|x| x.line)
            .collect();
        assert_eq!(sys, vec![1, 2, 3, 4, 5, 28, 29, 30, 31, 32]);
        assert_eq!(
            r[2].text,
            "Tan Wei Ling added Aminah Yusof and Rajesh Kumar"
        );
        assert_eq!(
            r[3].text,
            "+60 11-2345 6789 joined using this group's invite link"
        );
        assert_eq!(r[5].line, 6);
        assert_eq!(r[5].text, "Checklist pagi:\n1) Tandas L1-L3 ✅\n2) Lobi ✅\n\n3) Pantri L5 - belum\n2/3 siap, baki petang ni");
        assert_eq!(r[6].line, 12);
        assert_eq!(r[6].text, "Pintu pagar utama Blok B rosak, tak boleh kunci");
        assert_eq!(
            r[6].kind,
            RecordKind::Media {
                filename: Some("IMG-20260302-WA0003.jpg".into()),
                media_kind: EvidenceKind::Photo,
                omitted: false
            }
        );
        assert!(matches!(
            r[7].kind,
            RecordKind::Media {
                media_kind: EvidenceKind::Voice,
                ..
            }
        ));
        assert_eq!(r[8].author.as_deref(), Some("Kak Ros 🌸"));
        assert!(matches!(
            r[8].kind,
            RecordKind::Media {
                media_kind: EvidenceKind::Sticker,
                ..
            }
        ));
        assert_eq!(r[9].author.as_deref(), Some("Muthu - Vendor Aircond"));
        assert!(matches!(
            r[9].kind,
            RecordKind::Media {
                media_kind: EvidenceKind::Document,
                ..
            }
        ));
        assert_eq!(r[9].text, "", "repeated document name is not a caption");
        assert!(r[10].edited);
        assert_eq!(r[10].text, "Vendor datang pukul 3 petang");
        assert_eq!(r[11].kind, RecordKind::Deleted);
        assert_eq!(r[12].kind, RecordKind::Deleted);
        assert_eq!(r[13].kind, RecordKind::ViewOnce);
        assert!(matches!(
            r[14].kind,
            RecordKind::Media { omitted: true, .. }
        ));
        match &r[15].kind {
            RecordKind::Location {
                latitude,
                longitude,
                name,
                address,
                live,
            } => {
                assert_eq!(*latitude, Some(3.139003));
                assert_eq!(*longitude, Some(101.686855));
                assert_eq!(name.as_deref(), Some("Menara Contoh - Pintu B"));
                assert_eq!(
                    address.as_deref(),
                    Some("Jalan Contoh 12, 50450 Kuala Lumpur")
                );
                assert!(!live);
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(
            r[16].kind,
            RecordKind::Location { live: true, .. }
        ));
        assert_eq!(r[17].text, "Nota: esok cuti umum, shift ikut jadual Ahad");
        assert_eq!(
            r[18].text,
            "Your security code with Muthu - Vendor Aircond changed. Tap to learn more."
        );
        assert_eq!(r[19].text, "Tan Wei Ling changed the subject from \"Ops Menara Contoh\" to \"Ops Menara Contoh & Annex\"");
        assert_eq!(r[23].kind, RecordKind::Text);
        assert_eq!(r[23].text, "");
        assert_eq!(r[23].author.as_deref(), Some("Aminah Yusof"));
        assert_eq!(r[24].local, dt("2026-03-13 14:30:00"));
        assert_eq!(r[24].line, 34);
    }

    #[test]
    fn android_12h_dotted_ampm() {
        let (_, r) = parse_file("android_en_12h_dotted_ampm.txt");
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].local, dt("2026-03-02 09:15:00"));
        assert_eq!(r[2].local, dt("2026-03-02 12:05:00"));
        assert_eq!(r[2].text, "Lunch shift: Farid cover lobi");
        assert_eq!(r[3].local, dt("2026-03-02 00:45:00"));
        assert_eq!(r[4].local, dt("2026-03-13 14:30:00"));
    }

    #[test]
    fn android_es_nbsp_ampm_localized_attachment() {
        let (_, r) = parse_file("android_es_12h_nbsp_ampm_localized_attachment.txt");
        assert_eq!(r.len(), 4);
        assert_eq!(r[1].local, dt("2026-03-02 09:22:00"));
        assert!(matches!(
            r[1].kind,
            RecordKind::Media {
                media_kind: EvidenceKind::Voice,
                omitted: false,
                ..
            }
        ));
        assert_eq!(r[2].local, dt("2026-03-02 21:20:00"));
        assert_eq!(r[2].text, "Pintu pagar rosak");
        assert!(
            matches!(&r[2].kind, RecordKind::Media { filename: Some(f), .. } if f == "IMG-20260302-WA0003.jpg")
        );
        assert_eq!(r[3].local, dt("2026-03-13 14:30:00"));
    }

    #[test]
    fn android_id_dot_time_no_comma() {
        let (_, r) = parse_file("android_id_24h_dot_time_no_comma.txt");
        assert_eq!(r.len(), 4);
        assert_eq!(r[2].local, dt("2026-03-02 14:05:00"));
        assert_eq!(r[2].author.as_deref(), Some("Tan Wei Ling"));
        assert_eq!(r[3].local, dt("2026-03-13 14:30:00"));
    }

    #[test]
    fn german_android_and_ios() {
        let (_, r) = parse_file("android_de_dotted_date.txt");
        assert_eq!(r.len(), 3);
        assert!(
            matches!(&r[1].kind, RecordKind::Media { filename: Some(f), media_kind: EvidenceKind::Photo, .. } if f == "IMG-20260302-WA0003.jpg")
        );
        assert_eq!(r[1].text, "Pintu pagar utama Blok B rosak");
        assert_eq!(r[2].local, dt("2026-03-13 14:30:00"));
        let (_, r) = parse_file("ios_de_dotted_date.txt");
        assert_eq!(r.len(), 3);
        assert!(
            matches!(&r[1].kind, RecordKind::Media { filename: Some(f), .. } if f == "00000005-PHOTO-2026-03-02-09-20-11.jpg")
        );
        assert_eq!(r[1].local, dt("2026-03-02 09:20:11"));
    }

    #[test]
    fn malay_pg_ptg() {
        let (d, r) = parse_file("UNVERIFIED_android_ms_12h_pg_ptg.txt");
        assert_eq!(d.order, DateOrder::DayFirst);
        assert_eq!(r.len(), 5);
        // peer parser made the author "PG - Aminah Yusof": here the author is clean
        assert_eq!(authors(&r)[0], Some("Aminah Yusof"));
        assert_eq!(r[0].local, dt("2026-03-02 09:15:00"));
        assert_eq!(r[2].local, dt("2026-03-02 12:05:00"));
        assert_eq!(r[3].local, dt("2026-03-02 00:40:00"));
        assert_eq!(r[4].local, dt("2026-03-13 14:30:00"));
    }

    #[test]
    fn date_order_inference_rules() {
        let det = |s: &str| {
            detect_date_order(Cursor::new(s.as_bytes()), &ParseOptions::default()).unwrap()
        };
        // (2) decreases: 31/01 -> 01/02 (day-first)
        let d = det("30/01/26, 10:00 - A: x\n31/01/26, 10:00 - A: x\n01/02/26, 10:00 - A: x\n");
        assert_eq!(
            (d.order, d.evidence),
            (DateOrder::DayFirst, OrderEvidence::ComponentOver12)
        );
        let d = det("11/12/26, 10:00 - A: x\n01/01/27, 10:00 - A: x\n12/01/27, 10:00 - A: x\n01/02/27, 10:00 - A: x\n");
        assert_eq!(
            (d.order, d.evidence, d.ambiguous),
            (DateOrder::DayFirst, OrderEvidence::Decreased, true)
        );
        let d = det("01/11/26, 10:00 - A: x\n01/12/26, 10:00 - A: x\n02/01/26, 10:00 - A: x\n");
        assert_eq!(
            (d.order, d.evidence),
            (DateOrder::MonthFirst, OrderEvidence::Decreased)
        );
        // (3) changes more often
        let d = det("1/2/26, 10:00 - A: x\n1/3/26, 10:00 - A: x\n1/4/26, 10:00 - A: x\n");
        assert_eq!(
            (d.order, d.evidence),
            (DateOrder::MonthFirst, OrderEvidence::ChangesMoreOften)
        );
        // (4) default
        let d = det("1/2/26, 10:00 - A: x\n1/2/26, 11:00 - A: x\n");
        assert_eq!(
            (d.order, d.evidence, d.ambiguous),
            (DateOrder::DayFirst, OrderEvidence::Default, true)
        );
        // Fixture with its 13th-March line removed is ambiguous
        let txt = std::fs::read_to_string(format!("{FX}android_en_24h_dmy.txt")).unwrap();
        let cut: String = txt
            .lines()
            .filter(|l| !l.starts_with("13/"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(det(&cut).ambiguous);
    }

    #[test]
    fn override_and_invalid_date_names_line() {
        let s = "02/03/2026, 09:15 - A: x\n13/03/2026, 09:15 - A: y\n";
        let mut p = ExportParser::new(
            Cursor::new(s.as_bytes()),
            DateOrder::MonthFirst,
            ParseOptions::default(),
        );
        assert_eq!(p.next().unwrap().unwrap().local, dt("2026-02-03 09:15:00"));
        let e = p.next().unwrap().unwrap_err();
        assert_eq!(e.line(), 2);
        assert!(
            e.to_string().starts_with("line 2: invalid date/time"),
            "{e}"
        );
        assert!(p.next().is_none());
    }

    #[test]
    fn headerless_file_errors_on_line_1() {
        let e = parse_str("hello world\nthis is not an export\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("line 1: not a WhatsApp chat export"),
            "{e}"
        );
        let e = parse_str("").unwrap_err();
        assert_eq!(e.line(), 1);
        let e = ExportParser::new(
            Cursor::new(b"junk\n02/03/2026, 09:15 - A: x\n".to_vec()),
            DateOrder::DayFirst,
            ParseOptions::default(),
        )
        .next()
        .unwrap()
        .unwrap_err();
        assert!(matches!(e, ParseError::NotAnExport { line: 1 }));
    }

    #[test]
    fn bom_cr_and_blank_lines() {
        let r = parse_str(
            "\u{feff}02/03/2026, 09:15 - A: one\r\n\r\n02/03/2026, 09:16 - B: two\rmore\r\n\n\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].text, "one");
        assert!(!r[0].raw.starts_with('\u{feff}'));
        assert_eq!(r[1].text, "two\nmore");
        assert_eq!(r[1].line, 3);
    }

    #[test]
    fn non_utf8_does_not_panic() {
        let mut bytes = b"02/03/2026, 09:15 - A\xff\xfe: caf\xe9 ok\n\xc3\x28\xa0\xa1\n13/03/2026, 10:00 - B: fine\n".to_vec();
        bytes.extend_from_slice(&[0xE2, 0x80]); // truncated sequence at EOF
        let r: Vec<_> = parse_seekable(Cursor::new(bytes), None, ParseOptions::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].author.as_deref(), Some("A\u{fffd}\u{fffd}"));
        assert!(r[0].text.starts_with("caf\u{fffd} ok\n"));
        assert!(r[1].text.starts_with("fine"));
        // random garbage never panics
        let mut seed = 0x1234_5678u32;
        for _ in 0..200 {
            let mut v = b"02/03/2026, 09:15 - A: x\n".to_vec();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                v.push((seed & 0xff) as u8);
            }
            let _ =
                parse_seekable(Cursor::new(v), None, ParseOptions::default()).map(|p| p.count());
        }
    }

    #[test]
    fn limits_bound_memory() {
        let opts = ParseOptions {
            max_line_bytes: 64,
            max_record_bytes: 128,
        };
        let long = format!("02/03/2026, 09:15 - A: {}\n", "x".repeat(100));
        let e = ExportParser::new(Cursor::new(long.into_bytes()), DateOrder::DayFirst, opts)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(e, ParseError::LineTooLong { line: 1, max: 64 }),
            "{e}"
        );
        let mut many = String::from("02/03/2026, 09:15 - A: x\n02/03/2026, 09:16 - B: start\n");
        for _ in 0..10 {
            many.push_str("continuation line ........\n");
        }
        let mut p = ExportParser::new(Cursor::new(many.into_bytes()), DateOrder::DayFirst, opts);
        assert!(p.next().unwrap().is_ok());
        let e = p.next().unwrap().unwrap_err();
        assert!(
            matches!(e, ParseError::RecordTooLarge { line: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn android_system_line_with_colon_in_subject() {
        let r = parse_str("02/03/2026, 09:40 - Tan changed the subject from \"Ops: A\" to \"Ops: B\"\n13/03/2026, 09:41 - Tan: ok\n").unwrap();
        assert_eq!(r[0].kind, RecordKind::System);
        assert_eq!(r[0].author, None);
        assert_eq!(r[1].author.as_deref(), Some("Tan"));
    }

    /// Corpus chats: every message's line/time/sender/type and the totals of the .expected.json.
    #[test]
    fn corpus_chats_match_expected() {
        for name in ["dev-condo-cleaning", "dev-security-maintenance"] {
            let (_, recs) = parse_file(&format!("{name}.txt"));
            let exp: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(format!("{FX}{name}.expected.json")).unwrap(),
            )
            .unwrap();
            let msgs = exp["messages"].as_array().unwrap();
            let t = &exp["totals"];
            assert_eq!(recs.len() as u64, t["messages"].as_u64().unwrap(), "{name}");
            assert_eq!(msgs.len(), recs.len());
            let fmt = exp["time_format"].as_str().unwrap();
            let tf = if fmt.contains("Android") {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            for (m, r) in msgs.iter().zip(&recs) {
                assert_eq!(m["line"].as_u64().unwrap() as usize, r.line, "{name} {m}");
                assert_eq!(
                    m["time"].as_str().unwrap(),
                    r.local.format(tf).to_string(),
                    "{name} {m}"
                );
                assert_eq!(m["sender"].as_str(), r.author.as_deref(), "{name} {m}");
                let ty = match &r.kind {
                    RecordKind::Media { .. } if !r.text.is_empty() => "media+caption",
                    k => k.msg_type().as_str(),
                };
                assert_eq!(m["type"].as_str().unwrap(), ty, "{name} {m}");
                if let Some(f) = m.get("media").and_then(|v| v.as_str()) {
                    assert!(
                        matches!(&r.kind, RecordKind::Media { filename: Some(x), .. } if x == f),
                        "{name} {m}"
                    );
                }
                if let Some(tx) = m.get("text").and_then(|v| v.as_str()) {
                    assert_eq!(tx, r.text, "{name} {m}");
                }
                assert_eq!(
                    m.get("edited").and_then(|v| v.as_bool()).unwrap_or(false),
                    r.edited,
                    "{name} {m}"
                );
            }
            let count =
                |f: &dyn Fn(&ExportRecord) -> bool| recs.iter().filter(|r| f(r)).count() as u64;
            let media_kind = |r: &ExportRecord, k: EvidenceKind| matches!(r.kind, RecordKind::Media { media_kind, .. } if media_kind == k);
            assert_eq!(
                count(&|r| r.kind == RecordKind::System),
                t["system_messages"].as_u64().unwrap()
            );
            assert_eq!(
                count(&|r| r.kind == RecordKind::Deleted),
                t["deleted_messages"].as_u64().unwrap()
            );
            assert_eq!(count(&|r| r.edited), t["edited_messages"].as_u64().unwrap());
            assert_eq!(
                count(&|r| matches!(r.kind, RecordKind::Media { .. })),
                t["media_files"].as_u64().unwrap()
            );
            assert_eq!(
                count(&|r| matches!(r.kind, RecordKind::Media { .. }) && !r.text.is_empty()),
                t["captioned_media"].as_u64().unwrap()
            );
            assert_eq!(
                count(&|r| matches!(r.kind, RecordKind::Media { .. }) && r.text.is_empty()),
                t["media_without_text"].as_u64().unwrap()
            );
            assert_eq!(
                count(&|r| media_kind(r, EvidenceKind::Photo)),
                t["photos"].as_u64().unwrap()
            );
            assert_eq!(
                count(&|r| media_kind(r, EvidenceKind::Voice)),
                t["voice_notes"].as_u64().unwrap()
            );
            assert_eq!(
                count(&|r| media_kind(r, EvidenceKind::Video)),
                t["videos"].as_u64().unwrap()
            );
            let lines: usize = recs.iter().map(|r| r.raw.split('\n').count()).sum();
            assert_eq!(lines as u64, t["export_lines"].as_u64().unwrap());
        }
    }
}

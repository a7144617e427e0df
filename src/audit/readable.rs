//! The parts of an audit ZIP a person reads without tapak: CSV copies of the records that open in Excel, and an
//! offline `index.html` with a page per ticket and pages of task-log entries, showing their photos (relative links
//! into `evidence/`), messages and timeline. No script, no network: every page carries a Content-Security-Policy that
//! forbids any fetch outside the ZIP, and every piece of text that came from a chat is HTML-escaped.
//!
//! They are written in a second pass over the same database snapshot as the JSON lines (so they describe the same
//! records), a page at a time: memory stays bounded however long the period. Like every file of the ZIP they are
//! listed in the signed manifest, so `tapak verify` catches a changed cell or page.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write;

use chrono::{DateTime, Utc};
use zip::ZipWriter;

use super::export::{each_event, each_page, entry, evidence_path, Entry, PAGE};
use super::{AuditError, FileEntry};
use crate::store::evidence::Evidence;
use crate::store::messages::{Cursor, MessageFilter};
use crate::store::people::PersonRef;
use crate::store::records::{IssueDetail, RecordFilter, Task};
use crate::store::{self, events::Event, Connection};

pub const MESSAGES_CSV: &str = "messages.csv";
pub const TICKETS_CSV: &str = "tickets.csv";
pub const TASKS_CSV: &str = "tasks.csv";
pub const OCCURRENCES_CSV: &str = "occurrences.csv";
pub const EVENTS_CSV: &str = "events.csv";
pub const EVIDENCE_CSV: &str = "evidence.csv";
pub const INDEX: &str = "index.html";
/// Task-log entries per page of `tasks/`.
pub const TASKS_PER_PAGE: u64 = 100;

/// What the readable files are made from: the same filters as the JSON lines, and which evidence files the ZIP holds.
pub(super) struct Source<'a> {
    pub conn: &'a Connection,
    pub tz: chrono_tz::Tz,
    pub now: DateTime<Utc>,
    pub messages: &'a MessageFilter,
    pub records: &'a RecordFilter,
    pub occurrences: store::occurrences::Filter,
    /// Evidence whose record is in the ZIP (`evidence.jsonl`).
    pub evidence: &'a BTreeSet<i64>,
    /// Of those, the ones whose file is not in the ZIP, and why.
    pub missing: &'a HashMap<i64, String>,
    /// Title of the pages: the period and site.
    pub title: String,
}

impl Source<'_> {
    /// The file's path in the ZIP, when the ZIP holds it.
    fn file_of(&self, e: &Evidence) -> Option<String> {
        if e.status != "ready" || !self.evidence.contains(&e.id) || self.missing.contains_key(&e.id)
        {
            return None;
        }
        e.sha256
            .as_deref()
            .map(|sha| evidence_path(sha, e.mime.as_deref()))
    }

    /// Why an evidence file is not in the ZIP.
    fn why_missing(&self, e: &Evidence) -> String {
        match self.missing.get(&e.id) {
            Some(why) => why.clone(),
            None if !self.evidence.contains(&e.id) => "outside this export's period".into(),
            None => format!("status {}", e.status),
        }
    }

    /// A stored RFC 3339 time as local time (`YYYY-MM-DD HH:MM:SS`, which Excel reads as a date); anything else as is.
    fn local(&self, at: &str) -> String {
        DateTime::parse_from_rfc3339(at)
            .map(|t| {
                t.with_timezone(&self.tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|_| at.to_string())
    }

    fn local_opt(&self, at: Option<&str>) -> String {
        at.map(|a| self.local(a)).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

/// A cell of untrusted text, safe to open in a spreadsheet: text starting with `=`, `+`, `-`, `@` (or a tab or
/// carriage return, which some spreadsheets skip before one of those) would be run as a formula, so it gets a leading
/// apostrophe, which Excel and LibreOffice show as text.
pub fn cell(s: &str) -> String {
    crate::records::export::defuse(s)
}

fn cell_opt(s: Option<&str>) -> String {
    s.map(cell).unwrap_or_default()
}

fn person(p: Option<&PersonRef>) -> (String, String) {
    match p {
        Some(p) => (cell_opt(p.name.as_deref()), cell_opt(p.phone.as_deref())),
        None => (String::new(), String::new()),
    }
}

fn num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// "Block C, level 3, toilet" from a stored location object.
fn place(v: &serde_json::Value) -> String {
    serde_json::from_value::<crate::classify::types::Location>(v.clone())
        .ok()
        .filter(|l| *l != crate::classify::types::Location::default())
        .map(|l| crate::outbox::texts::place(crate::outbox::texts::Lang::En, &l))
        .unwrap_or_default()
}

/// The original names of evidence files, else their kinds: `IMG-0003.jpg; voice`.
fn evidence_names(ev: &[Evidence]) -> String {
    ev.iter()
        .map(|e| {
            e.filename
                .clone()
                .unwrap_or_else(|| format!("{} {}", e.kind, e.id))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A CSV entry: UTF-8 with a byte-order mark (so Excel reads it as UTF-8), a header row, RFC 4180 quoting and CRLF
/// line ends.
struct Csv<'z, W: Write + std::io::Seek> {
    w: csv::Writer<Entry<'z, W>>,
    name: &'static str,
}

impl<'z, W: Write + std::io::Seek> Csv<'z, W> {
    fn start(
        zip: &'z mut ZipWriter<W>,
        name: &'static str,
        header: &[&str],
    ) -> Result<Self, AuditError> {
        let mut e = entry(zip, name, true)?;
        e.write_all("\u{feff}".as_bytes())
            .map_err(|err| AuditError::io(&format!("cannot write {name}"), err))?;
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(e);
        w.write_record(header)
            .map_err(|err| AuditError::io(&format!("cannot write {name}"), err))?;
        Ok(Csv { w, name })
    }

    fn row(&mut self, cells: &[String]) -> Result<(), AuditError> {
        self.w
            .write_record(cells)
            .map_err(|e| AuditError::io(&format!("cannot write {}", self.name), e))
    }

    fn finish(self) -> Result<FileEntry, AuditError> {
        let name = self.name;
        let e = self
            .w
            .into_inner()
            .map_err(|e| AuditError::io(&format!("cannot write {name}"), e.error()))?;
        Ok(e.finish())
    }
}

/// A CSV with a row per item of a newest-first list, read a page at a time; `rows` makes a page's rows.
fn csv_of_pages<W: Write + std::io::Seek, T>(
    zip: &mut ZipWriter<W>,
    name: &'static str,
    header: &[&str],
    fetch: impl FnMut(Option<Cursor>) -> Result<(Vec<T>, Option<Cursor>), store::StoreError>,
    mut rows: impl FnMut(&[T]) -> Result<Vec<Vec<String>>, AuditError>,
) -> Result<FileEntry, AuditError> {
    let mut csv = Csv::start(zip, name, header)?;
    each_page(fetch, |page| {
        for r in rows(&page)? {
            csv.row(&r)?;
        }
        Ok(())
    })?;
    csv.finish()
}

/// `occurrences.csv`: scheduled work that started in the period; answers the occurrences' ids (their events are shown
/// in a site's export).
pub(super) fn occurrences<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    src: &Source<'_>,
    entries: &mut Vec<FileEntry>,
) -> Result<Vec<i64>, AuditError> {
    let mut csv = Csv::start(
        zip,
        OCCURRENCES_CSV,
        &[
            "id",
            "schedule",
            "site",
            "starts_at",
            "due_at",
            "round",
            "status",
            "task",
            "report",
            "reported_at",
            "reason",
            "missing_checkpoints",
            "excused_reason",
            "excused_by",
            "evidence",
            "reminders",
        ],
    )?;
    let mut ids = vec![];
    let mut before = None;
    loop {
        let page = store::occurrences::list(src.conn, &src.occurrences, before, PAGE)?;
        let Some(last) = page.last() else { break };
        before = store::occurrences::sort_key(src.conn, last.id)?.map(|ms| (ms, last.id));
        for o in &page {
            ids.push(o.id);
            csv.row(&[
                o.id.to_string(),
                cell(&o.schedule.name),
                cell_opt(o.site.as_ref().map(|s| s.name.as_str())),
                src.local(&o.starts_at),
                src.local(&o.due_at),
                num(o.round),
                o.status.clone(),
                num(o.task),
                cell_opt(o.report.as_deref()),
                src.local_opt(o.reported_at.as_deref()),
                cell_opt(o.reason.as_deref()),
                cell(&o.missing_checkpoints.join("; ")),
                cell_opt(o.excused_reason.as_deref()),
                cell_opt(o.excused_by.as_deref()),
                o.evidence
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                o.reminders.len().to_string(),
            ])?;
        }
        if page.len() < PAGE || before.is_none() {
            break;
        }
    }
    entries.push(csv.finish()?);
    Ok(ids)
}

/// `messages.csv`, `tickets.csv`, `tasks.csv`, `evidence.csv` and `events.csv`.
pub(super) fn csvs<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    src: &Source<'_>,
    events: Option<(i64, i64)>,
    shows: &dyn Fn(&Event) -> bool,
    entries: &mut Vec<FileEntry>,
) -> Result<(), AuditError> {
    let conn = src.conn;
    entries.push(csv_of_pages(
        zip,
        MESSAGES_CSV,
        &[
            "id",
            "sent_at",
            "chat",
            "sender",
            "sender_phone",
            "type",
            "kind",
            "text",
            "record_type",
            "record_id",
            "link_reason",
            "attachments",
            "edited",
            "deleted",
            "source",
            "delivery_sha256",
        ],
        |cursor| store::messages::list(conn, src.messages, cursor, PAGE),
        |page| {
            let mut rows = Vec::with_capacity(page.len());
            let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
            let mut refs = store::audit::delivery_refs(conn, &ids)?;
            for m in page {
                let (sender, phone) = person(m.sender.as_ref());
                let media = store::evidence::for_message(conn, m.id)?;
                rows.push(vec![
                    m.id.to_string(),
                    src.local(&m.sent_at),
                    cell_opt(m.chat.name.as_deref()),
                    sender,
                    phone,
                    m.msg_type.clone(),
                    cell_opt(m.kind.as_deref()),
                    cell_opt(m.text.as_deref()),
                    m.record
                        .as_ref()
                        .map(|r| r.record_type.clone())
                        .unwrap_or_default(),
                    num(m.record.as_ref().map(|r| r.id)),
                    cell_opt(m.link_reason.as_deref()),
                    cell(&evidence_names(&media)),
                    yes(m.edited),
                    yes(m.deleted),
                    m.source.clone(),
                    refs.remove(&m.id).map(|d| d.sha256).unwrap_or_default(),
                ]);
            }
            Ok(rows)
        },
    )?);

    entries.push(csv_of_pages(
        zip,
        TICKETS_CSV,
        &[
            "id",
            "title",
            "status",
            "category",
            "priority",
            "location",
            "site",
            "chat",
            "opened_at",
            "reported_by",
            "reported_by_phone",
            "owner",
            "owner_phone",
            "resolved_at",
            "closed_at",
            "respond_by",
            "resolve_by",
            "late_to_respond",
            "late_to_resolve",
            "repeat_of",
            "merged_into",
            "messages",
            "photos",
        ],
        |cursor| store::records::list_issues(conn, src.records, cursor, PAGE),
        |page| {
            let mut rows = Vec::with_capacity(page.len());
            for i in page {
                let (rep, rep_phone) = person(i.reported_by.as_ref());
                let (own, own_phone) = person(i.owner.as_ref());
                rows.push(vec![
                    i.id.to_string(),
                    cell(&i.title),
                    i.status.clone(),
                    cell_opt(i.category.as_deref()),
                    cell_opt(i.priority.as_deref()),
                    cell(&place(&i.location)),
                    cell_opt(i.site.as_ref().map(|s| s.name.as_str())),
                    cell_opt(i.chat.name.as_deref()),
                    src.local(&i.opened_at),
                    rep,
                    rep_phone,
                    own,
                    own_phone,
                    src.local_opt(i.resolved_at.as_deref()),
                    src.local_opt(i.closed_at.as_deref()),
                    src.local_opt(i.sla.respond_by.as_deref()),
                    src.local_opt(i.sla.resolve_by.as_deref()),
                    yes(i.sla.respond_breached),
                    yes(i.sla.resolve_breached),
                    num(i.repeat_of),
                    num(i.merged_into),
                    i.messages.to_string(),
                    i.photos.to_string(),
                ]);
            }
            Ok(rows)
        },
    )?);

    entries.push(csv_of_pages(
        zip,
        TASKS_CSV,
        &[
            "id",
            "reported_at",
            "status",
            "category",
            "location",
            "site",
            "chat",
            "reported_by",
            "reported_by_phone",
            "completed_at",
            "occurrence",
            "text",
            "attachments",
        ],
        |cursor| store::records::list_tasks(conn, src.records, cursor, PAGE),
        |page| {
            let mut rows = Vec::with_capacity(page.len());
            for t in page {
                let (rep, rep_phone) = person(t.reported_by.as_ref());
                rows.push(vec![
                    t.id.to_string(),
                    src.local(&t.reported_at),
                    t.status.clone(),
                    cell_opt(t.category.as_deref()),
                    cell(&place(&t.location)),
                    cell_opt(t.site.as_ref().map(|s| s.name.as_str())),
                    cell_opt(t.chat.name.as_deref()),
                    rep,
                    rep_phone,
                    src.local_opt(t.completed_at.as_deref()),
                    num(t.schedule),
                    cell_opt(t.text.as_deref()),
                    cell(&evidence_names(&t.evidence)),
                ]);
            }
            Ok(rows)
        },
    )?);

    let mut csv = Csv::start(
        zip,
        EVIDENCE_CSV,
        &[
            "id",
            "original_name",
            "file_in_zip",
            "kind",
            "mime",
            "bytes",
            "sha256",
            "received_at",
            "message",
            "record_type",
            "record_id",
            "missing",
        ],
    )?;
    for id in src.evidence {
        let e = store::evidence::get(conn, *id)?;
        let file = src.file_of(&e);
        csv.row(&[
            e.id.to_string(),
            cell_opt(e.filename.as_deref()),
            file.clone().unwrap_or_default(),
            e.kind.clone(),
            cell_opt(e.mime.as_deref()),
            num(e.bytes),
            e.sha256.clone().unwrap_or_default(),
            src.local(&e.received_at),
            e.message.to_string(),
            e.record
                .as_ref()
                .map(|r| r.record_type.clone())
                .unwrap_or_default(),
            num(e.record.as_ref().map(|r| r.id)),
            if file.is_some() {
                String::new()
            } else {
                cell(&src.why_missing(&e))
            },
        ])?;
    }
    entries.push(csv.finish()?);

    let mut csv = Csv::start(
        zip,
        EVENTS_CSV,
        &[
            "id",
            "at",
            "actor",
            "action",
            "entity",
            "entity_id",
            "data",
            "prev_hash",
            "hash",
        ],
    )?;
    if let Some((first, last)) = events {
        each_event(conn, first, last, |page| {
            for e in page {
                let row = if shows(e) {
                    [
                        e.id.to_string(),
                        src.local(&e.at),
                        cell(&e.actor),
                        cell(&e.action),
                        cell(&e.entity),
                        cell_opt(e.entity_id.as_deref()),
                        cell(&e.data),
                        e.prev_hash.clone(),
                        e.hash.clone(),
                    ]
                } else {
                    let r = "(another site: redacted)".to_string();
                    [
                        e.id.to_string(),
                        String::new(),
                        String::new(),
                        r,
                        String::new(),
                        String::new(),
                        String::new(),
                        e.prev_hash.clone(),
                        e.hash.clone(),
                    ]
                };
                csv.row(&row)?;
            }
            Ok(())
        })?;
    }
    entries.push(csv.finish()?);
    Ok(())
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// HTML

/// Text from a chat (or anywhere) as HTML text or an attribute value: `<img src=x onerror=alert(1)>` shows as those
/// characters and runs nothing.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn esc_opt(s: Option<&str>) -> String {
    s.map(esc).unwrap_or_default()
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1100px;\
padding:16px;color:#1b1f24}h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccd}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #dde;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#f2f4f8}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px}dt{color:#555}dd{margin:0}\
.photos{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;border:1px solid #dde;padding:6px;max-width:260px}\
figure img{max-width:248px;max-height:248px;display:block}figcaption{font-size:12px;color:#444;word-break:break-all}\
.t{white-space:pre-wrap;word-break:break-word}.missing{color:#a40}.muted{color:#666;font-size:12px}nav a{margin-right:12px}\
.task{border-top:1px solid #ccd;padding:8px 0}@media print{nav{display:none}}";

/// A page's head: no script, and a policy that keeps the browser from fetching anything but files of the ZIP.
fn head(title: &str, root: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; \
form-action 'none'; base-uri 'none'\">\
<meta name=\"referrer\" content=\"no-referrer\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{}</title><style>{STYLE}</style></head><body>\n<nav><a href=\"{root}index.html\">Index</a></nav>\n",
        esc(title)
    )
}

const FOOT: &str = "</body></html>\n";

fn task_page_name(n: u64) -> String {
    format!("tasks/page-{n:04}.html")
}

/// The figure for one evidence item: the photo itself (relative link) or a link to the file under its original name;
/// or why the file is not in the ZIP.
fn figure(src: &Source<'_>, e: &Evidence, root: &str) -> String {
    let name = e
        .filename
        .clone()
        .unwrap_or_else(|| format!("{} {}", e.kind, e.id));
    let caption = format!(
        "<figcaption>{}<br><span class=\"muted\">evidence {} · {}{}</span></figcaption>",
        esc(&name),
        e.id,
        esc(&e.kind),
        e.sha256
            .as_deref()
            .map(|s| format!(" · SHA-256 {}…", &s[..s.len().min(12)]))
            .unwrap_or_default()
    );
    match src.file_of(e) {
        Some(path) => {
            let href = format!("{root}{path}");
            let is_image = e.kind == "photo"
                || e.kind == "sticker"
                || e.mime.as_deref().is_some_and(|m| m.starts_with("image/"));
            if is_image {
                format!(
                    "<figure data-evidence=\"{}\"><a href=\"{href}\"><img src=\"{href}\" alt=\"{}\" loading=\"lazy\"></a>{caption}</figure>",
                    e.id,
                    esc(&name)
                )
            } else {
                format!(
                    "<figure data-evidence=\"{}\"><a href=\"{href}\">Open {}</a>{caption}</figure>",
                    e.id,
                    esc(&name)
                )
            }
        }
        None => format!(
            "<figure data-evidence=\"{}\"><span class=\"missing\">File not in this ZIP: {}</span>{caption}</figure>",
            e.id,
            esc(&src.why_missing(e))
        ),
    }
}

fn who(p: Option<&PersonRef>) -> String {
    match p {
        Some(p) => {
            let name = p.name.as_deref().or(p.phone.as_deref()).unwrap_or("?");
            match (&p.name, &p.phone) {
                (Some(_), Some(phone)) => format!("{} ({})", esc(name), esc(phone)),
                _ => esc(name),
            }
        }
        None => String::new(),
    }
}

fn ticket_page(src: &Source<'_>, d: &IssueDetail) -> Result<String, AuditError> {
    let i = &d.issue;
    let mut h = head(&format!("Ticket #{}: {}", i.id, i.title), "../");
    let _ = write!(
        h,
        "<h1>Ticket #{}: <span class=\"t\">{}</span></h1>\n<dl>",
        i.id,
        esc(&i.title)
    );
    let link = |id: Option<i64>| {
        id.map(|id| format!("<a href=\"{id}.html\">#{id}</a>"))
            .unwrap_or_default()
    };
    let sla = match (i.sla.respond_breached, i.sla.resolve_breached) {
        (false, false) => "within SLA".to_string(),
        (a, b) => [(a, "late to respond"), (b, "late to resolve")]
            .iter()
            .filter(|(x, _)| *x)
            .map(|(_, s)| *s)
            .collect::<Vec<_>>()
            .join(", "),
    };
    for (k, v) in [
        ("Status", esc(&i.status)),
        ("Category", esc_opt(i.category.as_deref())),
        ("Priority", esc_opt(i.priority.as_deref())),
        ("Location", esc(&place(&i.location))),
        ("Site", esc_opt(i.site.as_ref().map(|s| s.name.as_str()))),
        ("Chat", esc_opt(i.chat.name.as_deref())),
        ("Opened", esc(&src.local(&i.opened_at))),
        ("Reported by", who(i.reported_by.as_ref())),
        ("Owner", who(i.owner.as_ref())),
        (
            "Respond by",
            esc(&src.local_opt(i.sla.respond_by.as_deref())),
        ),
        (
            "Resolve by",
            esc(&src.local_opt(i.sla.resolve_by.as_deref())),
        ),
        ("Resolved", esc(&src.local_opt(i.resolved_at.as_deref()))),
        ("Closed", esc(&src.local_opt(i.closed_at.as_deref()))),
        ("SLA", sla),
        ("Repeat of", link(i.repeat_of)),
        ("Merged into", link(i.merged_into)),
    ] {
        if !v.is_empty() {
            let _ = write!(h, "<dt>{k}</dt><dd>{v}</dd>");
        }
    }
    h.push_str("</dl>\n<h2>Photos and files</h2>\n<div class=\"photos\">");
    if d.evidence.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
    }
    for e in &d.evidence {
        h.push_str(&figure(src, e, "../"));
    }
    h.push_str("</div>\n<h2>Timeline</h2>\n<table><tr><th>Time</th><th>From</th><th>Message</th><th>Files</th></tr>");
    let by_id: HashMap<i64, &Evidence> = d.evidence.iter().map(|e| (e.id, e)).collect();
    for m in &d.timeline {
        let _ = write!(
            h,
            "<tr id=\"m{}\"><td>{}</td><td>{}</td><td><div class=\"t\">{}</div><span class=\"muted\">{}{}{}</span></td><td>",
            m.id,
            esc(&src.local(&m.sent_at)),
            who(m.sender.as_ref()),
            esc_opt(m.text.as_deref()),
            esc(&m.msg_type),
            m.kind.as_deref().map(|k| format!(" · {}", esc(k))).unwrap_or_default(),
            m.link_reason
                .as_deref()
                .map(|r| format!(" · linked: {}", esc(r)))
                .unwrap_or_default(),
        );
        for id in &m.media {
            let e = match by_id.get(id) {
                Some(e) => (*e).clone(),
                None => store::evidence::get(src.conn, *id)?,
            };
            h.push_str(&figure(src, &e, "../"));
        }
        h.push_str("</td></tr>");
    }
    h.push_str("</table>\n");
    if !d.corrections.is_empty() {
        h.push_str("<h2>Corrections</h2>\n<table><tr><th>Time</th><th>By</th><th>What</th><th>Reason</th></tr>");
        for c in &d.corrections {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>",
                esc(&src.local(&c.at)),
                esc(&c.actor),
                esc(&c.data.to_string()),
                esc_opt(c.reason.as_deref())
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(FOOT);
    Ok(h)
}

fn task_block(src: &Source<'_>, t: &Task) -> String {
    let mut h = format!(
        "<div class=\"task\" id=\"task-{}\"><h2>Task {} · {} · {}</h2><dl>",
        t.id,
        t.id,
        esc(&src.local(&t.reported_at)),
        esc(&t.status)
    );
    for (k, v) in [
        ("Category", esc_opt(t.category.as_deref())),
        ("Location", esc(&place(&t.location))),
        ("Site", esc_opt(t.site.as_ref().map(|s| s.name.as_str()))),
        ("Chat", esc_opt(t.chat.name.as_deref())),
        ("Reported by", who(t.reported_by.as_ref())),
        ("Completed", esc(&src.local_opt(t.completed_at.as_deref()))),
        (
            "Occurrence",
            t.schedule.map(|s| s.to_string()).unwrap_or_default(),
        ),
    ] {
        if !v.is_empty() {
            let _ = write!(h, "<dt>{k}</dt><dd>{v}</dd>");
        }
    }
    let _ = write!(
        h,
        "</dl><div class=\"t\">{}</div><div class=\"photos\">",
        esc_opt(t.text.as_deref())
    );
    for e in &t.evidence {
        h.push_str(&figure(src, e, "../"));
    }
    h.push_str("</div></div>\n");
    h
}

/// `index.html`, `tickets/<id>.html` and `tasks/page-NNNN.html`.
pub(super) fn html<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    src: &Source<'_>,
    summary: &str,
    entries: &mut Vec<FileEntry>,
    progress: &mut dyn FnMut(&'static str, u64) -> bool,
) -> Result<(), AuditError> {
    let conn = src.conn;
    let io = |e: std::io::Error| AuditError::io(&format!("cannot write {INDEX}"), e);
    let mut w = entry(zip, INDEX, true)?;
    let mut h = head(&src.title, "");
    let _ = write!(
        h,
        "<h1>{}</h1>\n{summary}\n<p class=\"muted\">This page and everything it links to are files of the audit ZIP; \
         nothing is fetched from the network. To check that none of them was changed, run <code>tapak verify</code> on \
         the ZIP (see README.txt). Times are in {}.</p>\n\
         <nav><a href=\"#tickets\">Tickets</a><a href=\"#tasks\">Task log</a><a href=\"messages.csv\">messages.csv</a>\
         <a href=\"tickets.csv\">tickets.csv</a><a href=\"tasks.csv\">tasks.csv</a><a href=\"occurrences.csv\">occurrences.csv</a>\
         <a href=\"evidence.csv\">evidence.csv</a><a href=\"events.csv\">events.csv</a></nav>\n\
         <h2 id=\"tickets\">Tickets</h2>\n<table><tr><th>#</th><th>Opened</th><th>Title</th><th>Status</th><th>Category</th>\
         <th>Location</th><th>Site</th><th>Owner</th><th>Photos</th></tr>\n",
        esc(&src.title),
        esc(src.tz.name())
    );
    w.write_all(h.as_bytes()).map_err(io)?;
    let mut tickets = 0u64;
    each_page(
        |cursor| store::records::list_issues(conn, src.records, cursor, PAGE),
        |page| {
            let mut h = String::new();
            for i in &page {
                let _ = writeln!(
                    h,
                    "<tr><td><a href=\"tickets/{id}.html\">#{id}</a></td><td>{}</td><td class=\"t\"><a href=\"tickets/{id}.html\">{}</a></td>\
                     <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&src.local(&i.opened_at)),
                    esc(&i.title),
                    esc(&i.status),
                    esc_opt(i.category.as_deref()),
                    esc(&place(&i.location)),
                    esc_opt(i.site.as_ref().map(|s| s.name.as_str())),
                    who(i.owner.as_ref()),
                    i.photos,
                    id = i.id,
                );
                tickets += 1;
            }
            w.write_all(h.as_bytes()).map_err(io)
        },
    )?;
    if tickets == 0 {
        w.write_all(
            b"<tr><td colspan=\"9\" class=\"muted\">No tickets opened in this period.</td></tr>\n",
        )
        .map_err(io)?;
    }
    w.write_all(
        b"</table>\n<h2 id=\"tasks\">Task log</h2>\n<table><tr><th>#</th><th>Reported</th><th>Status</th><th>Category</th>\
          <th>Location</th><th>Site</th><th>By</th><th>Text</th><th>Files</th></tr>\n",
    )
    .map_err(io)?;
    let mut tasks = 0u64;
    each_page(
        |cursor| store::records::list_tasks(conn, src.records, cursor, PAGE),
        |page| {
            let mut h = String::new();
            for t in &page {
                let href = format!(
                    "{}#task-{}",
                    task_page_name(tasks / TASKS_PER_PAGE + 1),
                    t.id
                );
                let _ = writeln!(
                    h,
                    "<tr><td><a href=\"{href}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td class=\"t\">{}</td><td>{}</td></tr>",
                    t.id,
                    esc(&src.local(&t.reported_at)),
                    esc(&t.status),
                    esc_opt(t.category.as_deref()),
                    esc(&place(&t.location)),
                    esc_opt(t.site.as_ref().map(|s| s.name.as_str())),
                    who(t.reported_by.as_ref()),
                    esc_opt(t.text.as_deref()),
                    t.evidence.len(),
                );
                tasks += 1;
            }
            w.write_all(h.as_bytes()).map_err(io)
        },
    )?;
    if tasks == 0 {
        w.write_all(b"<tr><td colspan=\"9\" class=\"muted\">No task-log entries in this period.</td></tr>\n")
            .map_err(io)?;
    }
    w.write_all(b"</table>\n").map_err(io)?;
    w.write_all(FOOT.as_bytes()).map_err(io)?;
    entries.push(w.finish());

    // A page per ticket.
    let mut n = 0u64;
    each_page(
        |cursor| store::records::list_issues(conn, src.records, cursor, PAGE),
        |page| {
            for i in &page {
                let d = store::records::issue_detail(conn, i.id, src.now)?;
                let page = ticket_page(src, &d)?;
                entries.push(super::export::put_bytes(
                    zip,
                    &format!("tickets/{}.html", i.id),
                    page.as_bytes(),
                )?);
                n += 1;
            }
            if progress("ticket pages", n) {
                Ok(())
            } else {
                Err(AuditError::Cancelled)
            }
        },
    )?;

    // Task-log entries, [`TASKS_PER_PAGE`] to a page, in the index's order.
    let mut done = 0u64;
    let mut page_html = String::new();
    let flush =
        |zip: &mut ZipWriter<W>, entries: &mut Vec<FileEntry>, page_no: u64, body: &mut String| {
            let mut h = head(&format!("{} — task log, page {page_no}", src.title), "../");
            let _ = writeln!(h, "<h1>Task log, page {page_no}</h1>");
            h.push_str(body);
            h.push_str(FOOT);
            body.clear();
            entries.push(super::export::put_bytes(
                zip,
                &task_page_name(page_no),
                h.as_bytes(),
            )?);
            Ok::<(), AuditError>(())
        };
    each_page(
        |cursor| store::records::list_tasks(conn, src.records, cursor, PAGE),
        |page| {
            for t in &page {
                page_html.push_str(&task_block(src, t));
                done += 1;
                if done.is_multiple_of(TASKS_PER_PAGE) {
                    flush(zip, entries, done / TASKS_PER_PAGE, &mut page_html)?;
                }
            }
            Ok(())
        },
    )?;
    if !page_html.is_empty() {
        flush(zip, entries, done / TASKS_PER_PAGE + 1, &mut page_html)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused_and_plain_text_is_left_alone() {
        for s in ["=1+1", "+60123", "-2", "@SUM(A1)", "\t=x", "\r=x"] {
            assert_eq!(cell(s), format!("'{s}"), "{s:?}");
        }
        for s in ["Lift B", "2026-12-01", "", "'quoted", "a=b"] {
            assert_eq!(cell(s), s, "{s:?}");
        }
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(
            esc("<img src=x onerror=alert(1)> & \"q\" 'a'"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;a&#39;"
        );
    }
}

//! Writing an audit ZIP. Everything is streamed: messages, tickets and events are read a page at a time and written
//! straight into the archive, hashed on the way, so a year of a busy firm exports in bounded memory. The ZIP is
//! written beside its destination and renamed into place only when complete: a crash or a full disk never leaves a
//! half-written file under the name an inspector will be given.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use crate::store::Connection;
use ed25519_dalek::SigningKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::{
    readable, signing, AuditError, Chain, Counts, FileEntry, Manifest, Period, DELIVERIES, EVENTS,
    EVIDENCE, FORMAT, ISSUES, MANIFEST, MESSAGES, README, SIGNATURE, TASKS,
};
use crate::evidence::EvidenceStore;
use crate::store::{
    self, audit::RawPayload, events::Event, messages::Cursor, messages::MessageFilter,
};

/// What to export.
#[derive(Debug, Clone)]
pub struct Request {
    pub period: Period,
    /// A site's id or name; `None` for every site.
    pub site: Option<String>,
    /// When the export is made (from the injected clock): the manifest's time and "overdue now" in ticket details.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Where an export stands, for progress bars: the part being written and how many items it has written. Answering
/// `false` stops the export (the caller went away): nothing is left behind.
pub type Progress<'a> = &'a mut dyn FnMut(&'static str, u64) -> bool;

fn step(
    progress: &mut dyn FnMut(&'static str, u64) -> bool,
    what: &'static str,
    n: u64,
) -> Result<(), AuditError> {
    if progress(what, n) {
        Ok(())
    } else {
        Err(AuditError::Cancelled)
    }
}

pub(super) const PAGE: usize = 500;

/// Writes the audit ZIP for `req` to `out`; answers its manifest.
pub fn export(
    conn: &Connection,
    files: &EvidenceStore,
    key: &SigningKey,
    tz: chrono_tz::Tz,
    req: &Request,
    out: &Path,
    progress: Progress<'_>,
) -> Result<Manifest, AuditError> {
    // One consistent view of the database for the whole export (a read transaction on this connection): a ticket's
    // timeline, its messages and the event chain all describe the same moment, whatever arrives meanwhile.
    let snapshot = conn
        .unchecked_transaction()
        .map_err(crate::store::StoreError::from)?;
    let conn: &Connection = &snapshot;
    let site = match &req.site {
        Some(s) => Some(find_site(conn, s)?),
        None => None,
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(AuditError::Invalid(format!(
            "{}: the folder {} does not exist",
            out.display(),
            dir.display()
        )));
    }
    if out.is_dir() {
        return Err(AuditError::Invalid(format!(
            "{} is a folder; give the ZIP file's name",
            out.display()
        )));
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        out.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("audit.zip"),
        ulid::Ulid::new()
    ));
    let res = write_zip(conn, files, key, tz, req, site, &tmp, progress).and_then(|m| {
        std::fs::rename(&tmp, out)
            .map_err(|e| AuditError::io(&format!("cannot write {}", out.display()), e))?;
        Ok(m)
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn find_site(conn: &Connection, key: &str) -> Result<store::chats::NamedRef, AuditError> {
    store::chats::find_site(conn, key.trim())?
        .map(|s| store::chats::NamedRef {
            id: s.id,
            name: s.name,
        })
        .ok_or_else(|| AuditError::NotFound(format!("site {key:?} not found")))
}

/// Walks a newest-first list to its end a page at a time: `fetch` answers a page and the next cursor, `each` takes the
/// page.
pub(super) fn each_page<T>(
    mut fetch: impl FnMut(Option<Cursor>) -> Result<(Vec<T>, Option<Cursor>), store::StoreError>,
    mut each: impl FnMut(Vec<T>) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let mut cursor = None;
    loop {
        let (page, next) = fetch(cursor)?;
        each(page)?;
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// Walks events `first..=last` in id order a page at a time.
pub(super) fn each_event(
    conn: &Connection,
    first: i64,
    last: i64,
    mut each: impl FnMut(&[Event]) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let mut after = first - 1;
    loop {
        let page = store::audit::events_up_to(conn, after, last, 5_000)?;
        let Some(tail) = page.last() else {
            return Ok(());
        };
        after = tail.id;
        each(&page)?;
    }
}

/// What the records in the ZIP point at: the ids that decide which events are shown in full, and the evidence to add.
#[derive(Default)]
struct Included {
    messages: HashSet<i64>,
    issues: HashSet<i64>,
    tasks: HashSet<i64>,
    raw_payloads: HashSet<i64>,
    evidence: BTreeSet<i64>,
    chats: HashSet<i64>,
    occurrences: HashSet<i64>,
}

#[allow(clippy::too_many_arguments)]
fn write_zip(
    conn: &Connection,
    files: &EvidenceStore,
    key: &SigningKey,
    tz: chrono_tz::Tz,
    req: &Request,
    site: Option<store::chats::NamedRef>,
    tmp: &Path,
    progress: Progress<'_>,
) -> Result<Manifest, AuditError> {
    let (from_ms, to_ms) = req.period.bounds_ms(tz)?;
    let file = File::create(tmp)
        .map_err(|e| AuditError::io(&format!("cannot create {}", tmp.display()), e))?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let mut entries: Vec<FileEntry> = vec![];
    let mut counts = Counts::default();
    let mut inc = Included::default();
    let site_id = site.as_ref().map(|s| s.id);
    // With a site filter, only what belongs to the site is shown: remember it to redact the rest of the event log.
    let remember = site_id.is_some();

    entries.push(put_bytes(
        &mut zip,
        README,
        readme(req, site.as_ref(), tz).as_bytes(),
    )?);

    // Messages, each naming the delivery (webhook body) it came from by its SHA-256; the deliveries follow, once each.
    let mut deliveries: Vec<i64> = vec![];
    let filter = MessageFilter {
        site: site_id,
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        ..MessageFilter::default()
    };
    let mut w = entry(&mut zip, MESSAGES, true)?;
    each_page(
        |cursor| store::messages::list(conn, &filter, cursor, PAGE),
        |page| {
            let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
            let mut refs = store::audit::delivery_refs(conn, &ids)?;
            for m in &page {
                let delivery = refs.remove(&m.id).map(|d| {
                    // A delivery's messages are listed together: most repeats are caught here, the rest below.
                    if deliveries.last() != Some(&d.id) {
                        deliveries.push(d.id);
                    }
                    d.sha256
                });
                if remember {
                    inc.messages.insert(m.id);
                    inc.chats.insert(m.chat.id);
                }
                inc.evidence.extend(m.media.iter().copied());
                w.line(&MessageLine {
                    message: m,
                    delivery,
                })?;
                counts.messages += 1;
            }
            step(progress, "messages", counts.messages)
        },
    )?;
    entries.push(w.finish());

    // Each delivery once, in the order they arrived; the same body stored twice is written once.
    deliveries.sort_unstable();
    deliveries.dedup();
    let mut written: HashSet<[u8; 32]> = HashSet::new();
    let mut w = entry(&mut zip, DELIVERIES, true)?;
    for id in deliveries {
        if remember {
            inc.raw_payloads.insert(id);
        }
        let raw = store::audit::raw_payload(conn, id)?;
        if sha_key(&raw.sha256).is_some_and(|k| !written.insert(k)) {
            continue;
        }
        w.line(&DeliveryLine::of(raw))?;
        counts.deliveries += 1;
        if counts.deliveries.is_multiple_of(PAGE as u64) {
            step(progress, "deliveries", counts.deliveries)?;
        }
    }
    drop(written);
    entries.push(w.finish());

    // Tickets opened and task-log entries reported in the period.
    let now = req.now;
    let rf = store::records::RecordFilter {
        site: site_id,
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        now_ms: now.timestamp_millis(),
        ..Default::default()
    };
    let mut w = entry(&mut zip, ISSUES, true)?;
    each_page(
        |cursor| store::records::list_issues(conn, &rf, cursor, PAGE),
        |page| {
            for i in &page {
                let d = store::records::issue_detail(conn, i.id, now)?;
                inc.evidence.extend(d.evidence.iter().map(|e| e.id));
                if remember {
                    inc.issues.insert(i.id);
                }
                w.line(&d)?;
                counts.issues += 1;
            }
            step(progress, "issues", counts.issues)
        },
    )?;
    entries.push(w.finish());

    let mut w = entry(&mut zip, TASKS, true)?;
    each_page(
        |cursor| store::records::list_tasks(conn, &rf, cursor, PAGE),
        |page| {
            for t in &page {
                inc.evidence.extend(t.evidence.iter().map(|e| e.id));
                if remember {
                    inc.tasks.insert(t.id);
                }
                w.line(t)?;
                counts.tasks += 1;
            }
            step(progress, "tasks", counts.tasks)
        },
    )?;
    entries.push(w.finish());

    // Evidence: the records first, each naming its file when the stored file is there and still hashes to its name
    // (else saying why not), then the files (stored as they are: photos and voice notes are compressed already).
    let mut ok_shas: HashSet<[u8; 32]> = HashSet::new();
    let mut to_copy: Vec<(String, String)> = vec![];
    let mut missing_files: HashMap<i64, String> = HashMap::new();
    let mut w = entry(&mut zip, EVIDENCE, true)?;
    for id in &inc.evidence {
        let ev = store::evidence::get(conn, *id)?;
        let (file, missing) = match (&ev.sha256, ev.status.as_str()) {
            (Some(sha), "ready") => {
                let key = sha_key(sha);
                let name = evidence_path(sha, ev.mime.as_deref());
                if key.is_some_and(|k| ok_shas.contains(&k)) {
                    (Some(name), None) // the same picture sent twice: one file
                } else {
                    match check_stored(files, sha)? {
                        Ok(()) => {
                            if let Some(k) = key {
                                ok_shas.insert(k);
                            }
                            to_copy.push((sha.clone(), name.clone()));
                            (Some(name), None)
                        }
                        Err(reason) => (None, Some(reason)),
                    }
                }
            }
            (_, "pending") => (None, Some("still downloading from WhatsApp".to_string())),
            (_, "missing_from_export") => {
                (None, Some("not included in the chat export".to_string()))
            }
            (_, other) => (
                None,
                Some(format!(
                    "{other}{}",
                    ev.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )),
            ),
        };
        if let Some(why) = &missing {
            counts.evidence_missing += 1;
            missing_files.insert(*id, why.clone());
        }
        w.line(&EvidenceLine {
            evidence: &ev,
            file,
            missing,
        })?;
        counts.evidence += 1;
    }
    entries.push(w.finish());
    step(progress, "evidence", counts.evidence)?;
    drop(ok_shas);
    // `tapak verify` refuses a ZIP with more entries than this (entries so far, the files, the events, the manifest
    // and its signature).
    // The readable copies add six CSVs, the index, a page per ticket and a page per hundred task-log entries.
    let readable = 7 + counts.issues + counts.tasks.div_ceil(readable::TASKS_PER_PAGE);
    let total = (entries.len() + to_copy.len() + 3) as u64 + readable;
    if total > super::verify::MAX_ENTRIES {
        return Err(AuditError::Invalid(format!(
            "the period has {} evidence files; one audit ZIP holds at most {} files: export a shorter period or one \
             site",
            to_copy.len(),
            super::verify::MAX_ENTRIES
        )));
    }
    for (sha, name) in to_copy {
        entries.push(copy_evidence(&mut zip, files, &sha, &name)?);
        counts.evidence_files += 1;
        if counts.evidence_files.is_multiple_of(100) {
            step(progress, "evidence files", counts.evidence_files)?;
        }
    }

    // Scheduled work that started in the period (a CSV copy only): its events are the site's.
    let title = format!(
        "tapak audit export: {} to {}, {}",
        req.period.from,
        req.period.to,
        site.as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or("all sites")
    );
    let src = readable::Source {
        conn,
        tz,
        now,
        messages: &filter,
        records: &rf,
        occurrences: store::occurrences::Filter {
            from_ms: Some(from_ms),
            to_ms: Some(to_ms),
            site: site_id,
            ..Default::default()
        },
        evidence: &inc.evidence,
        missing: &missing_files,
        title,
    };
    let occurrences = readable::occurrences(&mut zip, &src, &mut entries)?;
    if remember {
        inc.occurrences.extend(occurrences);
    }
    step(progress, "occurrences", 0)?;

    // The event log's stretch for the period.
    let (from_at, to_at) = req.period.bounds_at(tz)?;
    let mut chain = Chain::default();
    let mut w = entry(&mut zip, EVENTS, true)?;
    if let Some((first, last)) = store::audit::event_span(conn, &from_at, &to_at)? {
        chain.first_event = Some(first);
        chain.last_event = Some(last);
        chain.anchor = store::audit::hash_before(conn, first)?;
        chain.head = chain.anchor.clone();
        each_event(conn, first, last, |page| {
            for e in page {
                if remember && !inc.shows(e) {
                    w.line(&Redacted::of(e))?;
                    chain.redacted += 1;
                } else {
                    w.line(e)?;
                }
                chain.head = e.hash.clone();
                chain.events += 1;
            }
            step(progress, "events", chain.events)
        })?;
    } else {
        chain.anchor = store::events::GENESIS.to_string();
        chain.head = chain.anchor.clone();
    }
    counts.events = chain.events;
    entries.push(w.finish());

    // The copies for people: CSVs for Excel and pages for a browser, from the same snapshot.
    let span = chain.first_event.zip(chain.last_event);
    let shows = |e: &Event| !remember || inc.shows(e);
    readable::csvs(&mut zip, &src, span, &shows, &mut entries)?;
    step(progress, "csv", 0)?;
    let summary = summary_html(&counts, &chain, &signing::fingerprint(&key.verifying_key()));
    readable::html(&mut zip, &src, &summary, &mut entries, progress)?;

    let vk = key.verifying_key();
    let manifest = Manifest {
        format: FORMAT.to_string(),
        generated_at: store::fmt_time(now),
        generated_by: format!("tapak {}", env!("CARGO_PKG_VERSION")),
        timezone: tz.name().to_string(),
        from: req.period.from.to_string(),
        to: req.period.to.to_string(),
        site,
        counts,
        chain,
        files: entries,
        public_key: hex::encode(vk.as_bytes()),
        key_fingerprint: signing::fingerprint(&vk),
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    put_bytes(&mut zip, MANIFEST, &json)?;
    put_bytes(&mut zip, SIGNATURE, signing::sign(key, &json).as_bytes())?;
    let inner = zip.finish()?;
    let file = inner
        .into_inner()
        .map_err(|e| AuditError::io("cannot write the ZIP", e.error()))?;
    file.sync_all()
        .map_err(|e| AuditError::io("cannot write the ZIP", e))?;
    Ok(manifest)
}

impl Included {
    /// Whether an event is about something in the export (shown in full) or about another site (redacted).
    fn shows(&self, e: &Event) -> bool {
        let Some(id) = e.entity_id.as_deref().and_then(|s| s.parse::<i64>().ok()) else {
            return false;
        };
        match e.entity.as_str() {
            "raw_payload" => self.raw_payloads.contains(&id),
            "message" => self.messages.contains(&id),
            "issue" => self.issues.contains(&id),
            "task" => self.tasks.contains(&id),
            "evidence" => self.evidence.contains(&id),
            "chat" => self.chats.contains(&id),
            "occurrence" => self.occurrences.contains(&id),
            _ => false,
        }
    }
}

/// An event about something outside the export: its place in the chain without its content.
#[derive(Serialize)]
struct Redacted<'a> {
    id: i64,
    redacted: bool,
    prev_hash: &'a str,
    hash: &'a str,
}

impl<'a> Redacted<'a> {
    fn of(e: &'a Event) -> Redacted<'a> {
        Redacted {
            id: e.id,
            redacted: true,
            prev_hash: &e.prev_hash,
            hash: &e.hash,
        }
    }
}

#[derive(Serialize)]
struct MessageLine<'a> {
    #[serde(flatten)]
    message: &'a store::messages::Message,
    /// The SHA-256 of the delivery in `deliveries.jsonl` the message was parsed from; null for chat exports.
    delivery: Option<String>,
}

/// A webhook body as it arrived: as text when it is UTF-8 (it nearly always is JSON), else base64.
#[derive(Serialize)]
struct DeliveryLine {
    id: i64,
    source: String,
    received_at: String,
    sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl DeliveryLine {
    fn of(r: RawPayload) -> DeliveryLine {
        let (body, body_base64) = match String::from_utf8(r.body) {
            Ok(s) => (Some(s), None),
            Err(e) => {
                use base64::Engine;
                (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
                )
            }
        };
        DeliveryLine {
            id: r.id,
            source: r.source,
            received_at: r.received_at,
            sha256: r.sha256,
            body,
            body_base64,
        }
    }
}

#[derive(Serialize)]
struct EvidenceLine<'a> {
    #[serde(flatten)]
    evidence: &'a store::evidence::Evidence,
    /// The file's path in the ZIP, or null when it could not be included.
    file: Option<String>,
    /// Why the file is not in the ZIP (still downloading, failed, not in the chat export, unreadable).
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<String>,
}

/// `evidence/<sha256>.<ext>`: named by content, so the name itself proves what the file must hash to.
pub(super) fn evidence_path(sha: &str, mime: Option<&str>) -> String {
    let m = mime.map(|m| {
        m.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    // The usual names first (mime_guess would call a JPEG `.jfif`), then whatever it knows.
    let ext = match m.as_deref() {
        None | Some("") => None,
        Some("image/jpeg") => Some("jpg"),
        Some("audio/ogg") => Some("ogg"),
        Some("audio/mpeg") => Some("mp3"),
        Some("video/mp4") => Some("mp4"),
        Some(other) => mime_guess::get_mime_extensions_str(other).and_then(|e| e.first().copied()),
    }
    .map(|e| format!(".{e}"))
    .unwrap_or_default();
    format!("evidence/{sha}{ext}")
}

fn sha_key(hex_sha: &str) -> Option<[u8; 32]> {
    hex::decode(hex_sha).ok().and_then(|b| b.try_into().ok())
}

/// Whether a stored evidence file is there and still hashes to its name; the inner `Err` says why it is not (the
/// record then says the file is missing, and the ZIP is still fine).
fn check_stored(files: &EvidenceStore, sha: &str) -> Result<Result<(), String>, AuditError> {
    let path = files.path_of(sha);
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("the stored file is unreadable: {e}"))),
    };
    let (got, _) = hash_reader(f, std::io::sink())
        .map_err(|e| AuditError::io(&format!("cannot read {}", path.display()), e))?;
    Ok(if got == sha {
        Ok(())
    } else {
        Err("the stored file no longer matches its SHA-256 (damaged on disk)".to_string())
    })
}

/// Copies a stored evidence file (checked by [`check_stored`]) into the ZIP; if it changed since, the export fails
/// rather than ship a file its record does not describe.
fn copy_evidence<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    files: &EvidenceStore,
    sha: &str,
    name: &str,
) -> Result<FileEntry, AuditError> {
    let path = files.path_of(sha);
    let f = File::open(&path).map_err(|e| {
        AuditError::io(
            &format!("evidence file {sha} vanished during the export"),
            e,
        )
    })?;
    let mut w = entry(zip, name, false)?;
    let (got, _) = hash_reader(f, &mut w)
        .map_err(|e| AuditError::io(&format!("cannot copy {}", path.display()), e))?;
    if got != sha {
        return Err(AuditError::Io(format!(
            "evidence file {sha} changed during the export; export again"
        )));
    }
    Ok(w.finish())
}

/// Streams `r` into `w`, answering the SHA-256 (hex) and the byte count.
fn hash_reader(mut r: impl Read, mut w: impl Write) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            return Ok((hex::encode(h.finalize()), n));
        }
        h.update(&buf[..got]);
        w.write_all(&buf[..got])?;
        n += got as u64;
    }
}

fn options(compress: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(if compress {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        })
        .large_file(true)
}

pub(super) fn put_bytes<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    name: &str,
    bytes: &[u8],
) -> Result<FileEntry, AuditError> {
    let mut w = entry(zip, name, true)?;
    w.write_all(bytes)
        .map_err(|e| AuditError::io(&format!("cannot write {name}"), e))?;
    Ok(w.finish())
}

/// A ZIP entry being written, hashed and counted on the way.
pub(super) struct Entry<'z, W: Write + std::io::Seek> {
    zip: &'z mut ZipWriter<W>,
    name: String,
    sha: Sha256,
    bytes: u64,
}

pub(super) fn entry<'z, W: Write + std::io::Seek>(
    zip: &'z mut ZipWriter<W>,
    name: &str,
    compress: bool,
) -> Result<Entry<'z, W>, AuditError> {
    zip.start_file(name, options(compress))?;
    Ok(Entry {
        zip,
        name: name.to_string(),
        sha: Sha256::new(),
        bytes: 0,
    })
}

impl<W: Write + std::io::Seek> Entry<'_, W> {
    fn line<T: Serialize>(&mut self, v: &T) -> Result<(), AuditError> {
        let mut s = serde_json::to_vec(v)?;
        s.push(b'\n');
        self.write_all(&s)
            .map_err(|e| AuditError::io(&format!("cannot write {}", self.name), e))
    }

    pub(super) fn finish(self) -> FileEntry {
        FileEntry {
            path: self.name,
            sha256: hex::encode(self.sha.finalize()),
            bytes: self.bytes,
        }
    }
}

impl<W: Write + std::io::Seek> Write for Entry<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.zip.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.zip.flush()
    }
}

/// The index's summary: what the ZIP holds, the chain's head and the signing key, for a person to compare.
fn summary_html(c: &Counts, chain: &Chain, fingerprint: &str) -> String {
    format!(
        "<table><tr><th>Messages</th><th>Tickets</th><th>Task-log entries</th><th>Evidence files</th>\
         <th>Evidence missing</th><th>Events</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\
         </table>\n<p class=\"muted\">Event chain head: <code>{}</code> · signing key fingerprint: <code>{}</code></p>",
        c.messages,
        c.issues,
        c.tasks,
        c.evidence_files,
        c.evidence_missing,
        c.events,
        readable::esc(&chain.head),
        readable::esc(fingerprint),
    )
}

fn readme(req: &Request, site: Option<&store::chats::NamedRef>, tz: chrono_tz::Tz) -> String {
    // One line of the text per source line (a `\` line continuation would eat the indentation).
    format!(
        r#"tapak audit export
==================

Period: {from} to {to} (both days included, time zone {tz})
Site:   {site}

Start here
- index.html        open it in any web browser, straight from the unpacked ZIP: every ticket with its
                    photos, messages and timeline, and the task log with its photos. It works offline
                    and fetches nothing from the network; photos are the files in evidence/.
- *.csv             the same records for Excel or LibreOffice (UTF-8, header row, one row per record,
                    times in {tz}): messages.csv, tickets.csv, tasks.csv, occurrences.csv
                    (scheduled work: expected, done, late, missed), evidence.csv (each photo or file
                    with its original name and its file in evidence/), events.csv (the event log).
                    A cell that starts with = + - or @ is shown with a leading ' so that a spreadsheet
                    never runs text from a chat as a formula.

What is in this ZIP
- messages.jsonl    every message of the period, one JSON object per line; "delivery" is the SHA-256
                    of the WhatsApp webhook delivery it was parsed from (null for imported chats)
- deliveries.jsonl  each of those deliveries once, however many messages it carried: the body exactly
                    as received ("body", or "body_base64" when it is not text), its SHA-256 ("sha256"),
                    source and time received
- issues.jsonl      tickets opened in the period, with their timeline, evidence and corrections
- tasks.jsonl       task-log entries reported in the period
- evidence.jsonl    the photos, voice notes and documents those records point to ("filename" is the
                    name the file had when it was sent, where WhatsApp or the chat export gave one)
- evidence/         the files themselves, each named by its SHA-256 (never by the sender's name)
- events.jsonl      the appliance's hash-chained event log for the period (who changed what, when);
                    events about other sites show only their hashes, so the chain stays checkable
- tickets/, tasks/  the pages index.html links to
- manifest.json     the SHA-256 and size of every file above, the chain's first and last hash, and
                    the signing key
- manifest.sig      the Ed25519 signature of manifest.json by that key

How to check it
With tapak:  tapak verify THIS.zip   (exit 0: intact; 1: tampered or incomplete, naming the first
broken item; 2: not readable). It prints the key fingerprint: compare it with the one the appliance
shows under Settings, or the one the firm gave you. If the firm posts each night's chain head to a
WhatsApp chat ([audit] anchor_chat), give verify that chat's messages as a text file (its export):
  tapak verify THIS.zip --anchors CHAT.txt
and it lists the days whose posted head matches this ZIP's chain (exit 1 if one differs).
By hand: sha256sum each file and compare with manifest.json; check manifest.sig (hex) against
manifest.json with the public key in it (Ed25519); each delivery's body hashes to its sha256, and
each message's delivery is the sha256 of one of them; each event's hash is SHA-256 over its fields
(prev_hash, id, at, actor, action, entity, entity_id, data), each preceded by its length as an
8-byte big-endian number; each event's prev_hash is the previous event's hash.

What that proves
- The signature: manifest.json was written by the holder of the appliance's signing key, and since
  it lists the SHA-256 of every file, no file (CSV, page, photo, record) was changed, added or
  removed after the export. It does not prove the key holder told the truth when exporting.
- The hash chain: every event links to the one before, so no event inside the period was changed,
  removed, inserted or reordered without breaking every link after it, even by someone holding the
  key, unless they rewrite all later hashes. A head kept elsewhere (the nightly anchor posted to
  WhatsApp, a copy an inspector kept) pins the chain: if that head appears in this ZIP's chain,
  nothing up to it was rewritten since it was posted.
- The deliveries: each message was parsed from a webhook body whose exact bytes are included.
The CSVs and pages are copies made from the JSON lines' records for reading; where they differ,
the JSON lines are the record.
"#,
        from = req.period.from,
        to = req.period.to,
        site = site.map(|s| s.name.as_str()).unwrap_or("all sites"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Connection, EvidenceStore, SigningKey) {
        let dir = tempfile::tempdir().unwrap();
        let conn = store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let files = EvidenceStore::open(dir.path()).unwrap();
        let key = SigningKey::from_bytes(&[3; 32]);
        (dir, conn, files, key)
    }

    fn req() -> Request {
        Request {
            period: Period::parse("2026-12-01", "2026-12-07").unwrap(),
            site: None,
            now: store::now(),
        }
    }

    #[test]
    fn an_empty_period_exports_a_zip_that_verifies() {
        let (dir, conn, files, key) = setup();
        let out = dir.path().join("empty.zip");
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let m = export(&conn, &files, &key, tz, &req(), &out, &mut |_, _| true).unwrap();
        assert_eq!(m.counts, Counts::default());
        assert_eq!(m.chain.anchor, store::events::GENESIS);
        let v = crate::audit::verify::verify(&out).unwrap();
        assert_eq!(v.manifest, m);
        assert_eq!(v.fingerprint, signing::fingerprint(&key.verifying_key()));
    }

    #[test]
    fn a_cancelled_export_leaves_nothing_behind() {
        let (dir, conn, files, key) = setup();
        let out = dir.path().join("gone.zip");
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let e = export(&conn, &files, &key, tz, &req(), &out, &mut |_, _| false).unwrap_err();
        assert!(matches!(e, AuditError::Cancelled), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".zip") || n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_bad_output_path_is_refused_before_anything_is_read() {
        let (dir, conn, files, key) = setup();
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let nowhere = dir.path().join("no-such-folder").join("a.zip");
        let e = export(&conn, &files, &key, tz, &req(), &nowhere, &mut |_, _| true).unwrap_err();
        assert!(
            matches!(&e, AuditError::Invalid(m) if m.contains("does not exist")),
            "{e}"
        );
        let e = export(&conn, &files, &key, tz, &req(), dir.path(), &mut |_, _| {
            true
        })
        .unwrap_err();
        assert!(
            matches!(&e, AuditError::Invalid(m) if m.contains("is a folder")),
            "{e}"
        );
    }

    #[test]
    fn the_export_is_one_snapshot_of_the_database() {
        let (dir, conn, files, key) = setup();
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let now = store::now();
        let today = now.with_timezone(&tz).date_naive();
        let req = Request {
            period: Period {
                from: today,
                to: today,
            },
            site: None,
            now,
        };
        let mut other = store::db::open_and_migrate(&dir.path().join("t.db")).unwrap();
        let append = |c: &mut Connection, what: &str| {
            let tx = c.transaction().unwrap();
            store::events::append(&tx, "test", what, "thing", None, &serde_json::json!({}))
                .unwrap();
            tx.commit().unwrap();
        };
        append(&mut other, "before");
        let out = dir.path().join("snap.zip");
        // An event recorded while the export runs (after it has started reading) is not in it, and the ZIP verifies.
        let m = export(&conn, &files, &key, tz, &req, &out, &mut |what, _| {
            if what == "messages" {
                append(&mut other, "during");
            }
            true
        })
        .unwrap();
        assert_eq!(m.chain.events, 1);
        assert!(crate::audit::verify::verify(&out).is_ok());
        let n: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2, "the event was recorded, just not exported");
    }

    #[test]
    fn evidence_files_get_their_usual_extensions() {
        assert_eq!(evidence_path("ab", Some("image/jpeg")), "evidence/ab.jpg");
        assert_eq!(
            evidence_path("ab", Some("audio/ogg; codecs=opus")),
            "evidence/ab.ogg"
        );
        assert_eq!(
            evidence_path("ab", Some("application/pdf")),
            "evidence/ab.pdf"
        );
        assert_eq!(evidence_path("ab", None), "evidence/ab");
    }
}

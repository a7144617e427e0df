//! Importing WhatsApp chat exports (`tapak import`, `POST /api/v1/imports`): path → parsed records →
//! [`InboundMessage`]s → one write transaction per path.
//!
//! Each path is all or nothing:
//! 1. the archive is opened (hostile zips are refused, `ingest::export::archive`) and the whole chat text is parsed
//!    first, streaming: normalised messages are spooled to an anonymous file in the data dir's `tmp/`, so memory
//!    stays bounded whatever the export size; a parse error names the file and line and nothing is written;
//! 2. the archive's media files referenced by new messages are stored in the content-addressed evidence store
//!    (a crash here leaves at most orphan files, never rows pointing at nothing);
//! 3. one transaction stores the chat (found by name, else `export:<name>`), the site, every message (deduplicated on
//!    the export's stable synthetic id, and matched against messages that arrived live through a gateway: same chat,
//!    same minute, same person, same normalised text), their evidence rows (`ready`, or `missing_from_export`), an
//!    `imports` row and one event in the hash-chained log (file SHA-256 and counts). A dry run does all of it inside
//!    a savepoint that is rolled back, so its counts are exact and nothing stays written;
//! 4. the pipeline classifies and links the new messages.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ingest::export::{
    chat_name_from_path, to_inbound, ArchiveError, ArchiveOptions, DateOrder, DupCounter,
    ExportArchive, ParseOptions,
};
use crate::ingest::model::{ChatRef, InboundMessage, MediaFetch, MessageType};
use crate::pipeline::Pipeline;
use crate::store::imports::{self, ExportFile, ImportRow, LiveKey, Target};
use crate::store::{self, chats, events, StoreError};

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Chat name (found case-insensitively, created when new); default: from the file name.
    pub chat: Option<String>,
    /// Site name (created when new); the chat is assigned to it.
    pub site: Option<String>,
    /// Parse and count, write nothing.
    pub dry_run: bool,
    /// Who imports, for the event log (`cli`, `user:NAME`, `token:NAME`).
    pub actor: String,
    /// Name shown in summaries and errors, and used for the chat name, instead of the path (uploads).
    pub display_name: Option<String>,
    /// Day/month order when the file's dates are ambiguous; default: inferred.
    pub date_order: Option<DateOrder>,
}

/// What one path's import did (`interfaces.md`: `path, messages, new, duplicates, media, records_created, errors`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImportSummary {
    pub path: String,
    /// Messages (lines) in the export.
    pub messages: u64,
    /// Newly stored.
    pub new: u64,
    /// Already stored: by an earlier import of the same chat, or as a live gateway message (`live_matches`).
    pub duplicates: u64,
    /// Media markers in the export.
    pub media: u64,
    pub records_created: u64,
    /// Why the import failed (empty on success).
    pub errors: Vec<String>,
    /// The `imports` row (absent for dry runs and failures).
    pub id: Option<i64>,
    pub chat: Option<chats::NamedRef>,
    pub site: Option<chats::NamedRef>,
    pub live_matches: u64,
    /// Files of new messages stored as evidence from the archive.
    pub media_stored: u64,
    /// Markers of new messages whose file is not in the export (evidence status `missing_from_export`).
    pub media_missing: u64,
    pub edited: u64,
    pub deleted: u64,
    pub system: u64,
    pub date_order: Option<String>,
    /// True when only heuristics decided the day/month order (check the dates, or pass it explicitly).
    pub date_order_ambiguous: bool,
    pub sha256: Option<String>,
    pub bytes: u64,
    pub dry_run: bool,
    /// Problems that did not stop the import (a media file too large or unreadable…).
    pub warnings: Vec<String>,
    pub first_message_at: Option<String>,
    pub last_message_at: Option<String>,
}

/// Why a path could not be imported. Messages name the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Unreadable, not an export, hostile archive, bad option: exit code 2 / HTTP 400.
    #[error("{0}")]
    BadInput(String),
    /// Storage failed: exit code 1 / HTTP 500.
    #[error("{0}")]
    Runtime(String),
}

impl ImportError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::BadInput(_) => 2,
            ImportError::Runtime(_) => 1,
        }
    }
}

/// Progress notifications (the CLI draws a bar from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Messages parsed so far.
    Parsed(u64),
    /// Media files stored so far, of the total.
    Media { done: u64, total: u64 },
    /// Writing `n` messages in one transaction.
    Writing(u64),
    /// Classifying and linking.
    Processing,
}

/// Archive caps from the configuration.
fn archive_options(svc: &Pipeline) -> ArchiveOptions {
    let d = ArchiveOptions::default();
    let total = svc.cfg.import.max_uncompressed_bytes.max(1);
    ArchiveOptions {
        max_total_uncompressed: total,
        max_entry_uncompressed: d.max_entry_uncompressed.min(total),
        max_ratio: svc.cfg.import.max_compression_ratio.max(1),
        spool_dir: Some(svc.evidence.tmp_dir().to_path_buf()),
        ..d
    }
}

fn is_hostile(e: &ArchiveError) -> bool {
    matches!(
        e,
        ArchiveError::UnsafePath { .. }
            | ArchiveError::Symlink { .. }
            | ArchiveError::Ratio { .. }
            | ArchiveError::TotalTooLarge { .. }
            | ArchiveError::EntryTooLarge { .. }
            | ArchiveError::TooManyEntries { .. }
            | ArchiveError::Encrypted { .. }
    )
}

fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

fn clean_name(what: &str, s: &str) -> Result<String, ImportError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(ImportError::BadInput(format!(
            "{what}: must be 1 to 200 characters"
        )));
    }
    Ok(t.to_string())
}

/// Everything the write transaction needs, moved onto the writer thread.
struct WriteJob {
    spool: std::fs::File,
    chat_name: String,
    export_external_id: String,
    site: Option<String>,
    files: HashMap<String, ExportFile>,
    present: HashSet<String>,
    dry_run: bool,
    row: ImportRow,
    actor: String,
}

#[derive(Debug, Default)]
struct WriteOutcome {
    target: Option<Target>,
    site_name: Option<String>,
    new: u64,
    duplicates: u64,
    live_matches: u64,
    attached: imports::Attached,
    import_id: Option<i64>,
}

fn io_store(e: std::io::Error) -> StoreError {
    StoreError::Io(format!("import spool: {e}"))
}

fn write_all(
    tx: &crate::store::Transaction<'_>,
    job: WriteJob,
) -> Result<WriteOutcome, StoreError> {
    let target = imports::resolve_target(
        tx,
        &job.chat_name,
        &job.export_external_id,
        job.site.as_deref(),
    )?;
    let live = imports::has_live_messages(tx, &target)?;
    let mut out = WriteOutcome::default();
    let mut taken: HashSet<i64> = HashSet::new();
    let mut first_new: Option<i64> = None;
    let mut last_new: Option<i64> = None;
    let mut w = imports::ExportWriter::new(target);
    let mut ev_ids: Vec<i64> = Vec::new();
    let files = |name: &str| -> Option<ExportFile> {
        match job.files.get(name) {
            Some(f) => Some(f.clone()),
            None => job.present.contains(name).then_some(ExportFile::Present),
        }
    };
    let mut reader = BufReader::with_capacity(1 << 16, &job.spool);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io_store)? == 0 {
            break;
        }
        let mut m: InboundMessage = serde_json::from_str(&line)?;
        if m.chat.external_id != w.target().chat_external_id {
            m.chat.external_id = w.target().chat_external_id.clone();
        }
        if live && m.msg_type != MessageType::System {
            if let Some(s) = &m.sender {
                if !imports::import_exists(tx, &m.source_message_id)? {
                    let sender_id = w.sender(tx, s)?;
                    let ms = m.sent_at.timestamp_millis();
                    let text = imports::normalize_text(m.text.as_deref());
                    let key = LiveKey {
                        target: w.target(),
                        minute_ms: ms - ms.rem_euclid(60_000),
                        sender_id,
                        text: &text,
                        deleted: m.deleted,
                        msg_type: m.msg_type.as_str(),
                    };
                    if let Some(id) = imports::find_live_match(tx, &key, &taken)? {
                        taken.insert(id);
                        out.live_matches += 1;
                        out.duplicates += 1;
                        continue;
                    }
                }
            }
        }
        match w.store(tx, &m, &mut ev_ids)? {
            Some(id) => {
                out.new += 1;
                first_new.get_or_insert(id);
                last_new = Some(id);
                if !m.media.is_empty() {
                    let ev: Vec<(i64, &crate::ingest::model::MediaRef)> =
                        ev_ids.iter().copied().zip(m.media.iter()).collect();
                    imports::attach_files(
                        tx,
                        &ev,
                        &files,
                        &crate::evidence::photo_hash::find_duplicate,
                        &mut out.attached,
                    )?;
                }
            }
            None => out.duplicates += 1,
        }
    }
    let target = w.finish(tx)?;
    let mut row = job.row;
    row.actor = job.actor.clone();
    row.chat = Some(chats::NamedRefOpt {
        id: target.chat_id,
        name: Some(target.chat_name.clone()),
    });
    let site_name: Option<String> = match target.site_id {
        Some(id) => Some(chats::site_name(tx, id)?),
        None => None,
    };
    row.site = target
        .site_id
        .zip(site_name.clone())
        .map(|(id, name)| chats::NamedRef { id, name });
    row.new = out.new as i64;
    row.duplicates = out.duplicates as i64;
    row.live_matches = out.live_matches as i64;
    row.media_stored = out.attached.stored as i64;
    row.media_missing = out.attached.missing as i64;
    let id = imports::insert(tx, &row)?;
    let ev = events::append(
        tx,
        &job.actor,
        "import.completed",
        "import",
        Some(&id.to_string()),
        &serde_json::json!({
            "path": row.path,
            "sha256": row.sha256,
            "bytes": row.bytes,
            "chat": target.chat_id,
            "site": target.site_id,
            "messages": row.messages,
            "new": row.new,
            "duplicates": row.duplicates,
            "live_matches": row.live_matches,
            "media": row.media,
            "media_stored": row.media_stored,
            "media_missing": row.media_missing,
            "message_ids": first_new.zip(last_new),
        }),
    )?;
    imports::set_event(tx, id, ev)?;
    out.import_id = (!job.dry_run).then_some(id);
    out.site_name = site_name;
    out.target = Some(target);
    Ok(out)
}

/// Imports one export file. `progress` is called from this thread.
pub fn import_path(
    svc: &Pipeline,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Fn(Progress),
) -> Result<ImportSummary, ImportError> {
    let shown = opts
        .display_name
        .clone()
        .unwrap_or_else(|| path.display().to_string());
    let real = path.display().to_string();
    // Errors from the archive and parser name the real path; uploads show their own name instead.
    let fix = |s: String| -> String {
        if shown == real {
            s
        } else {
            s.replace(&real, &shown)
        }
    };
    let bad = |s: String| ImportError::BadInput(fix(s));
    let site = opts
        .site
        .as_deref()
        .map(|s| clean_name("--site", s))
        .transpose()?;
    let (sha, bytes) = sha256_file(path).map_err(|e| bad(format!("{real}: {e}")))?;
    let mut ar =
        ExportArchive::open_with(path, archive_options(svc)).map_err(|e| bad(e.to_string()))?;
    let chat_name = match &opts.chat {
        Some(c) => clean_name("--chat", c)?,
        None => {
            let from_entry = ar
                .chat_entry_name()
                .map(|e| e.rsplit('/').next().unwrap_or(e).starts_with("WhatsApp"))
                .unwrap_or(false);
            let name = if from_entry {
                ar.chat_name()
            } else {
                chat_name_from_path(Path::new(&shown))
            };
            clean_name(&format!("{shown}: chat name"), &name)?
        }
    };
    let existing = {
        let n = chat_name.clone();
        svc.db
            .read_blocking(move |c| imports::find_chat(c, &n))
            .map_err(|e| ImportError::Runtime(e.to_string()))?
    };
    let export_external_id = format!("export:{chat_name}");
    let chat_ref = ChatRef {
        external_id: existing
            .as_ref()
            .map(|(_, ext)| ext.clone())
            .unwrap_or_else(|| export_external_id.clone()),
        name: Some(chat_name.clone()),
        is_group: true,
    };

    // Pass 1 + 2: parse everything before writing anything.
    let t0 = std::time::Instant::now();
    let parser = ar
        .records(opts.date_order, ParseOptions::default())
        .map_err(|e| bad(e.to_string()))?;
    let decision = parser.decision();
    let spool_file = tempfile::tempfile_in(svc.evidence.tmp_dir())
        .map_err(|e| ImportError::Runtime(format!("{}: {e}", svc.evidence.tmp_dir().display())))?;
    let mut spool = BufWriter::with_capacity(1 << 16, spool_file);
    let mut dups = DupCounter::new();
    let mut s = ImportSummary {
        path: shown.clone(),
        sha256: Some(sha.clone()),
        bytes,
        dry_run: opts.dry_run,
        date_order: Some(decision.order.as_str().to_string()),
        date_order_ambiguous: decision.ambiguous,
        ..Default::default()
    };
    let mut first: Option<chrono::DateTime<chrono::Utc>> = None;
    let mut last: Option<chrono::DateTime<chrono::Utc>> = None;
    // Messages whose files are in the archive: (synthetic id, file name).
    let mut with_files: Vec<(String, String)> = Vec::new();
    let mut present: HashSet<String> = HashSet::new();
    let spool_err = |e: std::io::Error| ImportError::Runtime(format!("import spool: {e}"));
    // One "now" for the whole export: times ahead of it are clamped to one bound, not to a clock that moves on while
    // the file is parsed (that spaced clamped messages by the parse speed, and photos joined whichever text the
    // timing put nearer).
    let now = svc.clock.now();
    for rec in parser {
        let rec = rec.map_err(|e| bad(format!("{}: {e}", ar.display_chat())))?;
        let mut m = to_inbound(&rec, &chat_ref, svc.tz, dups.next(&rec));
        if let Some(note) = crate::ingest::times::clamp_message(&mut m, now) {
            if s.warnings.len() < 50 {
                s.warnings.push(note);
            }
        }
        s.messages += 1;
        s.edited += m.edited as u64;
        s.deleted += m.deleted as u64;
        s.system += (m.msg_type == MessageType::System) as u64;
        s.media += m.media.len() as u64;
        first = Some(first.map_or(m.sent_at, |f| f.min(m.sent_at)));
        last = Some(last.map_or(m.sent_at, |l| l.max(m.sent_at)));
        for media in &m.media {
            if let MediaFetch::ExportFile { filename } = &media.fetch {
                if ar.has_media(filename) {
                    present.insert(filename.clone());
                    with_files.push((m.source_message_id.clone(), filename.clone()));
                }
            }
        }
        serde_json::to_writer(&mut spool, &m).map_err(|e| spool_err(e.into()))?;
        spool.write_all(b"\n").map_err(spool_err)?;
        if s.messages.is_multiple_of(4096) {
            progress(Progress::Parsed(s.messages));
        }
    }
    progress(Progress::Parsed(s.messages));
    let mut spool_file = spool.into_inner().map_err(|e| spool_err(e.into_error()))?;
    spool_file.seek(SeekFrom::Start(0)).map_err(spool_err)?;

    let parse_ms = t0.elapsed().as_millis();
    // Media of messages not stored yet go into the evidence store before the transaction.
    let mut files: HashMap<String, ExportFile> = HashMap::new();
    if !opts.dry_run && !with_files.is_empty() {
        let ids: Vec<String> = with_files.iter().map(|(id, _)| id.clone()).collect();
        let known = svc
            .db
            .read_blocking(move |c| imports::existing_imports(c, &ids))
            .map_err(|e| ImportError::Runtime(e.to_string()))?;
        let mut wanted: Vec<String> = with_files
            .into_iter()
            .filter(|(id, _)| !known.contains(id))
            .map(|(_, f)| f)
            .collect();
        wanted.sort();
        wanted.dedup();
        let total = wanted.len() as u64;
        let max = svc.cfg.evidence.max_media_bytes;
        let px = svc.cfg.evidence.thumbnail_px;
        for (i, name) in wanted.into_iter().enumerate() {
            progress(Progress::Media {
                done: i as u64,
                total,
            });
            let f = match ar.read_media(&name, max) {
                Ok(b) => match crate::evidence::fetch::analyze_and_store_blocking(
                    &svc.evidence,
                    &b,
                    Some(name.clone()),
                    px,
                ) {
                    Ok(f) => ExportFile::Stored(f),
                    Err(e) => {
                        return Err(ImportError::Runtime(format!(
                            "{shown}: cannot store {name}: {e}"
                        )))
                    }
                },
                Err(e) if is_hostile(&e) => return Err(bad(e.to_string())),
                Err(e) => {
                    let msg = fix(e.to_string());
                    s.warnings.push(msg.clone());
                    ExportFile::Failed(msg)
                }
            };
            files.insert(name, f);
        }
        progress(Progress::Media { done: total, total });
    }

    let media_ms = t0.elapsed().as_millis() - parse_ms;
    progress(Progress::Writing(s.messages));
    let job = WriteJob {
        spool: spool_file,
        chat_name: chat_name.clone(),
        export_external_id,
        site,
        files,
        present,
        dry_run: opts.dry_run,
        row: ImportRow {
            path: shown.clone(),
            sha256: sha,
            bytes: bytes as i64,
            messages: s.messages as i64,
            media: s.media as i64,
            date_order: s.date_order.clone(),
            first_message_at: first.map(store::fmt_time),
            last_message_at: last.map(store::fmt_time),
            ..Default::default()
        },
        actor: if opts.actor.is_empty() {
            "cli".to_string()
        } else {
            opts.actor.clone()
        },
    };
    let dry = opts.dry_run;
    let out = svc
        .db
        .write_blocking(move |tx| imports::in_savepoint(tx, dry, |tx| write_all(tx, job)))
        .map_err(|e| ImportError::Runtime(format!("{shown}: {e}")))?;
    let write_ms = t0.elapsed().as_millis() - parse_ms - media_ms;
    tracing::info!(
        path = %shown,
        messages = s.messages,
        new = out.new,
        parse_ms,
        media_ms,
        write_ms,
        "export imported"
    );
    s.new = out.new;
    s.duplicates = out.duplicates;
    s.live_matches = out.live_matches;
    s.media_stored = out.attached.stored;
    s.media_missing = out.attached.missing;
    s.id = out.import_id;
    s.first_message_at = first.map(|t| t.with_timezone(&svc.tz).to_rfc3339());
    s.last_message_at = last.map(|t| t.with_timezone(&svc.tz).to_rfc3339());
    if let Some(t) = out.target {
        s.chat = Some(chats::NamedRef {
            id: t.chat_id,
            name: t.chat_name,
        });
        s.site = t
            .site_id
            .zip(out.site_name)
            .map(|(id, name)| chats::NamedRef { id, name });
    }
    if dry {
        // Nothing was kept: ids of rolled-back rows mean nothing.
        s.chat = s.chat.filter(|_| existing.is_some());
        s.site = None;
    }
    Ok(s)
}

/// Classifies and links pending messages (the import's new ones included); returns the records created.
pub async fn process_new(svc: &Pipeline) -> Result<u64, StoreError> {
    Ok(crate::pipeline::drain(svc).await?.records_created as u64)
}

/// Records how many records an import created.
pub fn set_records_created(svc: &Pipeline, import_id: i64, n: u64) -> Result<(), StoreError> {
    svc.db
        .write_blocking(move |tx| imports::set_records_created(tx, import_id, n as i64))
}

/// A failed path's summary line.
pub fn failed_summary(path: &str, e: &ImportError, dry_run: bool) -> ImportSummary {
    ImportSummary {
        path: path.to_string(),
        errors: vec![e.to_string()],
        dry_run,
        ..Default::default()
    }
}

/// Human summary of one path (stdout without `--json`).
pub fn describe(s: &ImportSummary) -> String {
    if let Some(e) = s.errors.first() {
        return format!("{}: failed: {e}", s.path);
    }
    let mut out = format!(
        "{}{}: {} messages, {} new, {} duplicates",
        if s.dry_run { "(dry run) " } else { "" },
        s.path,
        s.messages,
        s.new,
        s.duplicates
    );
    if s.live_matches > 0 {
        out.push_str(&format!(" ({} already received live)", s.live_matches));
    }
    out.push_str(&format!(
        ", {} media ({} stored, {} missing from the export), {} records created",
        s.media, s.media_stored, s.media_missing, s.records_created
    ));
    if let Some(c) = &s.chat {
        out.push_str(&format!(" → chat {:?}", c.name));
    }
    if let Some(site) = &s.site {
        out.push_str(&format!(" (site {:?})", site.name));
    }
    if s.date_order_ambiguous {
        out.push_str(&format!(
            "; dates read as {} (ambiguous: pass --date-order to change)",
            s.date_order.as_deref().unwrap_or("day_first")
        ));
    }
    for w in &s.warnings {
        out.push_str(&format!("\n  warning: {w}"));
    }
    out
}

/// `tapak import`: imports each path in turn, prints a summary (or one JSON object per path); returns the exit
/// code: 0 when every path imported, 2 when some path was bad input, 1 when storing failed.
pub fn run_cli(
    svc: &Pipeline,
    rt: &tokio::runtime::Runtime,
    paths: &[std::path::PathBuf],
    opts: &ImportOptions,
    json: bool,
) -> u8 {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let mut code = 0u8;
    for path in paths {
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.set_prefix(path.display().to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        let progress = |p: Progress| {
            if let Some(b) = &bar {
                b.set_message(match p {
                    Progress::Parsed(n) => format!("parsed {n} messages"),
                    Progress::Media { done, total } => format!("storing media {done}/{total}"),
                    Progress::Writing(n) => format!("writing {n} messages"),
                    Progress::Processing => "classifying and linking".to_string(),
                });
            }
        };
        let result = import_path(svc, path, opts, &progress);
        let summary = match result {
            Ok(mut s) => {
                if !opts.dry_run && s.new > 0 {
                    progress(Progress::Processing);
                    match rt.block_on(process_new(svc)) {
                        Ok(n) => {
                            s.records_created = n;
                            if let Some(id) = s.id.filter(|_| n > 0) {
                                if let Err(e) = set_records_created(svc, id, n) {
                                    s.warnings
                                        .push(format!("cannot record records_created: {e}"));
                                }
                            }
                        }
                        Err(e) => {
                            // Stored durably; the server's pipeline picks them up later.
                            s.warnings.push(format!(
                                "messages stored, but classifying them failed (the server retries): {e}"
                            ));
                        }
                    }
                }
                s
            }
            Err(e) => {
                code = match (code, e.exit_code()) {
                    (1, _) | (_, 1) => 1,
                    _ => 2,
                };
                failed_summary(&path.display().to_string(), &e, opts.dry_run)
            }
        };
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(e) = summary.errors.first() {
            eprintln!("tapak: {e}");
        }
        if json {
            println!(
                "{}",
                serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into())
            );
        } else if summary.errors.is_empty() {
            println!("{}", describe(&summary));
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::clock::Clock;

    /// A clock that moves on by `step` each time it is read: an import that takes time, read as often as the code
    /// asks (a slow machine is a large step).
    struct Ticking {
        at: Mutex<DateTime<Utc>>,
        step: TimeDelta,
    }

    impl Clock for Ticking {
        fn now(&self) -> DateTime<Utc> {
            let mut at = self.at.lock().unwrap_or_else(|p| p.into_inner());
            let now = *at;
            *at = now.checked_add_signed(self.step).unwrap_or(now);
            now
        }
    }

    /// The start of `dev-condo-cleaning-2`: a cleaner reports a lobby done, sends two photos of it and a quarter of an
    /// hour later reports a leak.
    const EXPORT: &str = "\
[14/12/2026, 7:45:03 AM] Kak Salmah Supervisor: Assalamualaikum & selamat pagi semua. Rabu ni audit kebersihan JMB, tolong extra sikit ya
[14/12/2026, 8:20:15 AM] Aminah Cleaner: Lobi Jasmin siap mop, lantai dah kering \u{2705}
\u{200e}[14/12/2026, 8:20:50 AM] Aminah Cleaner: \u{200e}<attached: 00000037-PHOTO-2026-12-14-08-20-50.jpg>
\u{200e}[14/12/2026, 8:21:05 AM] Aminah Cleaner: \u{200e}<attached: 00000038-PHOTO-2026-12-14-08-21-05.jpg>
[14/12/2026, 8:35:33 AM] Aminah Cleaner: Kak, siling carpark B1 Jasmin menitik air, lantai basah licin
[14/12/2026, 8:40:00 AM] Kak Salmah Supervisor: Mr Ong, tolong arrange plumber tengok B1 Jasmin
";

    /// Imports [`EXPORT`] into a fresh data dir at `now` with a clock moving `step` per read, classifies and links it;
    /// answers the chat's records.
    fn import_at(now: DateTime<Utc>, step: TimeDelta) -> crate::store::record_links::ChatRecords {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::Config {
            data_dir: dir.path().join("data"),
            ..crate::config::Config::default()
        };
        let clock = Arc::new(Ticking {
            at: Mutex::new(now),
            step,
        });
        let core = crate::core::Core::open(cfg, clock).unwrap();
        let svc = Pipeline::new(Arc::new(core));
        let path = dir.path().join("Vista Damai Cleaning Crew.txt");
        std::fs::write(&path, EXPORT).unwrap();
        let s = import_path(&svc, &path, &ImportOptions::default(), &|_| {}).unwrap();
        assert_eq!(s.new, 6, "{s:?}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(process_new(&svc)).unwrap();
        let chat = s.chat.expect("the chat").id;
        svc.db
            .read_blocking(move |c| crate::store::record_links::chat_records(c, chat))
            .unwrap()
    }

    #[test]
    fn an_export_dated_ahead_of_the_clock_links_the_same_however_long_the_import_takes() {
        // The export's dates lie more than a day ahead of the clock, so every time is clamped to now + 1 day.
        let now = DateTime::parse_from_rfc3339("2026-12-08T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let instant = import_at(now, TimeDelta::zero());
        let photos: Vec<_> = instant.evidence.values().collect();
        assert_eq!(photos.len(), 2, "{instant:?}");
        let first = photos[0].0.clone().expect("the photos are linked");
        assert!(
            photos.iter().all(|(l, _)| l.as_ref() == Some(&first)),
            "both photos go with the text before them: {instant:?}"
        );
        // The cleaner's "lobby done" text and its photos share a record; the leak report is another one.
        assert!(instant
            .messages
            .values()
            .any(|l| l.as_ref() == Some(&first)));
        assert_eq!(instant.issues.len(), 1, "{instant:?}");
        for step in [TimeDelta::milliseconds(3), TimeDelta::minutes(4)] {
            assert_eq!(import_at(now, step), instant, "clock step {step}");
        }
    }
}

//! Transcripts of voice notes (`[transcribe] command`): which voice notes wait, what the command printed or why it
//! failed, and the transcript shown beside a message. The work itself is the persistent `transcribe` job queue.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{jobs, StoreError};

/// The job kind in the `jobs` table.
pub const JOB: &str = "transcribe";

/// SQL for a message's text as classified and linked: its own text, else its voice note's transcript. For queries on
/// the `messages` table without an alias.
pub const TEXT_OR_TRANSCRIPT: &str = "COALESCE(NULLIF(messages.text, ''), (SELECT t.text FROM transcripts t \
    WHERE t.message_id = messages.id AND t.status = 'done' AND t.text <> '' ORDER BY t.evidence_id LIMIT 1))";

/// A message's voice-note transcript as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MessageTranscript {
    /// The voice note (evidence id) it was made from.
    pub evidence: i64,
    /// `pending` (queued or being retried), `done` or `failed`.
    pub status: String,
    pub text: Option<String>,
    /// The last failure (a failed run's exit status and standard error, or the timeout).
    pub error: Option<String>,
    pub attempts: i64,
}

/// Voice notes stored (`ready`) that have no transcript row yet: (evidence id, message id), oldest first.
pub fn untranscribed(conn: &Connection, limit: usize) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT e.id, e.message_id FROM evidence e WHERE e.kind = 'voice' AND e.status = 'ready' \
         AND NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.evidence_id = e.id) ORDER BY e.id LIMIT ?1",
    )?;
    let rows = st
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Queues a voice note for transcription (a pending row and a job due at `now_ms`); nothing when it has a row already.
/// Returns whether it was queued.
pub fn queue(
    tx: &Transaction<'_>,
    evidence_id: i64,
    message_id: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let now = super::now_str();
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO transcripts(evidence_id, message_id, status, created_at, updated_at) \
             VALUES (?1, ?2, 'pending', ?3, ?3)",
        )?
        .execute(params![evidence_id, message_id, now])?;
    if n == 0 {
        return Ok(false);
    }
    jobs::enqueue(
        tx,
        JOB,
        &serde_json::json!({ "evidence": evidence_id }).to_string(),
        now_ms,
    )?;
    Ok(true)
}

/// What the worker needs to transcribe one voice note.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub evidence_id: i64,
    pub message_id: i64,
    pub chat_id: i64,
    /// The stored file (`None` if the evidence is no longer ready).
    pub sha256: Option<String>,
    pub status: String,
    pub attempts: i64,
    /// The message has been classified and linked (else the pipeline will read the transcript when it gets there).
    pub processed: bool,
}

pub fn target(conn: &Connection, evidence_id: i64) -> Result<Option<Target>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT t.evidence_id, t.message_id, m.chat_id, CASE WHEN e.status = 'ready' THEN e.sha256 END, \
             t.status, t.attempts, m.processed FROM transcripts t JOIN evidence e ON e.id = t.evidence_id \
             JOIN messages m ON m.id = t.message_id WHERE t.evidence_id = ?1",
        )?
        .query_row([evidence_id], |r| {
            Ok(Target {
                evidence_id: r.get(0)?,
                message_id: r.get(1)?,
                chat_id: r.get(2)?,
                sha256: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                processed: r.get(6)?,
            })
        })
        .optional()?)
}

/// A failed run: counted and its error kept. With `give_up` the transcript is marked `failed` for good.
pub fn record_failure(
    tx: &Transaction<'_>,
    evidence_id: i64,
    error: &str,
    give_up: bool,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE transcripts SET attempts = attempts + 1, error = ?2, updated_at = ?3, \
         status = CASE WHEN ?4 THEN 'failed' ELSE status END WHERE evidence_id = ?1",
    )?
    .execute(params![evidence_id, error, super::now_str(), give_up])?;
    Ok(())
}

/// Stores a transcript (`done`) and makes it searchable under its message's id when the message has no text of its
/// own (a voice note never has; the full-text index holds one text per message).
pub fn set_done(tx: &Transaction<'_>, evidence_id: i64, text: &str) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "UPDATE transcripts SET status = 'done', text = ?2, error = NULL, attempts = attempts + 1, \
             updated_at = ?3 WHERE evidence_id = ?1 AND status <> 'done'",
        )?
        .execute(params![evidence_id, text, super::now_str()])?;
    if n == 0 || text.is_empty() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO messages_fts(rowid, text) SELECT m.id, ?2 FROM transcripts t JOIN messages m ON m.id = t.message_id \
         WHERE t.evidence_id = ?1 AND COALESCE(m.text, '') = '' \
         AND NOT EXISTS (SELECT 1 FROM transcripts o WHERE o.message_id = t.message_id AND o.evidence_id <> t.evidence_id \
                         AND o.status = 'done' AND o.text <> '')",
    )?
    .execute(params![evidence_id, text])?;
    Ok(())
}

/// The transcripts of these messages, by message id (the first voice note's where a message had several).
pub fn for_messages(
    conn: &Connection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, MessageTranscript>, StoreError> {
    let mut out = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let list = serde_json::to_string(ids)?;
    let mut st = conn.prepare_cached(
        "SELECT message_id, evidence_id, status, text, error, attempts FROM transcripts \
         WHERE message_id IN (SELECT value FROM json_each(?1)) ORDER BY evidence_id DESC",
    )?;
    let rows = st.query_map([list], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            MessageTranscript {
                evidence: r.get(1)?,
                status: r.get(2)?,
                text: r.get(3)?,
                error: r.get(4)?,
                attempts: r.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (msg, t) = row?;
        out.insert(msg, t);
    }
    Ok(out)
}

/// Whether a message with this text and transcript reads its text from the voice note.
pub fn reads_voice_note(text: Option<&str>, t: Option<&MessageTranscript>) -> bool {
    text.is_none_or(str::is_empty)
        && t.is_some_and(|t| t.status == "done" && t.text.as_deref().is_some_and(|x| !x.is_empty()))
}

/// A search snippet of a transcript (the index's own snippets read the message's text, which a voice note has not):
/// up to 12 words around the first word that starts with a term of `q`, the matches between « and ».
pub fn snippet(text: &str, q: &str) -> String {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect();
    let words: Vec<&str> = text.split_whitespace().collect();
    let hit = |w: &str| {
        let w: String = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        !w.is_empty() && terms.iter().any(|t| w.starts_with(t.as_str()))
    };
    let first = words.iter().position(|w| hit(w)).unwrap_or(0);
    let start = first.saturating_sub(4);
    let end = (start + 12).min(words.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    for (i, w) in words[start..end].iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if hit(w) {
            out.push('«');
            out.push_str(w);
            out.push('»');
        } else {
            out.push_str(w);
        }
    }
    if end < words.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_snippet_marks_the_words_that_match() {
        let t = "ok boss saya dah check pam nombor dua di bilik pam blok A sekarang pam sudah jalan semula air ada";
        assert_eq!(
            snippet(t, "pam"),
            "…boss saya dah check «pam» nombor dua di bilik «pam» blok A…"
        );
        assert_eq!(
            snippet(t, "jalan"),
            "…A sekarang pam sudah «jalan» semula air ada"
        );
        assert_eq!(snippet("", "pam"), "");
    }
}

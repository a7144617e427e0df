//! Queueing a file to be sent as a WhatsApp document (a weekly or monthly report's PDF, with a caption), for producers
//! outside the scheduler's transaction:
//!
//! ```ignore
//! let doc = Document::new("/var/lib/tapak/reports/2026-W49.pdf", "Weekly report 2026-W49.pdf");
//! let send = NewSend::document("60167654302", Route::CloudApi, doc, "Weekly report, 1-7 Dec", Purpose::Summary,
//!     About::report(202649));
//! outbox::documents::enqueue_document(&db, send, now).await?;
//! ```
//!
//! The file is checked here (there, a regular file, at most [`MAX_DOCUMENT_BYTES`]) and read again when the sender
//! attempts the send, so the producer must keep it until the send has left (`GET /api/v1/outbox` shows where it is).

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{Kind, NewSend, MAX_DOCUMENT_BYTES};
use crate::store::{Db, StoreError};

/// Queues a [`Kind::Document`] send (build it with [`NewSend::document`]) after checking its file. Answers the send's
/// id, or `None` when the same send (about, rung `document`, recipient) is already queued or sent. A bad recipient,
/// name, caption or file is [`StoreError::Invalid`] with the field at fault.
pub async fn enqueue_document(
    db: &Db,
    send: NewSend,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    if send.kind != Kind::Document {
        return Err(StoreError::Invalid(
            "kind: enqueue_document takes a document send (NewSend::document)".into(),
        ));
    }
    send.validate().map_err(StoreError::Invalid)?;
    if let Some(d) = &send.document {
        check_file(Path::new(&d.path)).map_err(StoreError::Invalid)?;
    }
    db.write(move |tx| crate::store::outbox::enqueue(tx, &send, now))
        .await
}

/// Whether `path` is a file WhatsApp takes as a document.
pub fn check_file(path: &Path) -> Result<u64, String> {
    let m = std::fs::metadata(path)
        .map_err(|e| format!("document.path: cannot read {}: {e}", path.display()))?;
    if !m.is_file() {
        return Err(format!("document.path: {} is not a file", path.display()));
    }
    if m.len() == 0 {
        return Err(format!("document.path: {} is empty", path.display()));
    }
    if m.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "document.path: {} has {} bytes; WhatsApp takes documents of at most {MAX_DOCUMENT_BYTES}",
            path.display(),
            m.len()
        ));
    }
    Ok(m.len())
}

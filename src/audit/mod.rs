//! Audit ZIPs for inspectors: a period's messages, the webhook deliveries they came from (each body once, named by
//! its SHA-256, which the messages refer to), tickets, task-log entries, evidence files and the stretch of the
//! hash-chained event log, described by a manifest that lists every file's SHA-256 and is signed with the appliance's
//! Ed25519 key. `tapak verify` checks one offline: every file against the manifest, the signature, every delivery's
//! body against its hash, every message's delivery, and the event chain link by link.
//!
//! No HTTP here: the CLI and the web layer both call [`export::export`] and [`verify::verify`].

pub mod anchor;
pub mod export;
pub mod readable;
pub mod signing;
pub mod verify;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The layout version written into every manifest; `verify` refuses others.
pub const FORMAT: &str = "tapak-audit/2";
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const README: &str = "README.txt";
pub const MESSAGES: &str = "messages.jsonl";
pub const DELIVERIES: &str = "deliveries.jsonl";
pub const ISSUES: &str = "issues.jsonl";
pub const TASKS: &str = "tasks.jsonl";
pub const EVIDENCE: &str = "evidence.jsonl";
pub const EVENTS: &str = "events.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Bad input from the caller (dates, site): exit code 2, HTTP 400/404.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Io(String),
    #[error("the export was cancelled")]
    Cancelled,
}

impl AuditError {
    pub fn io(what: &str, e: impl std::fmt::Display) -> AuditError {
        AuditError::Io(format!("{what}: {e}"))
    }
}

impl From<serde_json::Error> for AuditError {
    fn from(e: serde_json::Error) -> Self {
        AuditError::Io(format!("cannot write JSON: {e}"))
    }
}

impl From<zip::result::ZipError> for AuditError {
    fn from(e: zip::result::ZipError) -> Self {
        AuditError::Io(format!("cannot write the ZIP: {e}"))
    }
}

/// The days an export covers, both included, in the appliance's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// Parses `YYYY-MM-DD` bounds; `from` must not be after `to`.
    pub fn parse(from: &str, to: &str) -> Result<Period, AuditError> {
        let day = |field: &str, v: &str| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
                AuditError::Invalid(format!("{field}: expected a date as YYYY-MM-DD, got {v:?}"))
            })
        };
        let p = Period {
            from: day("from", from)?,
            to: day("to", to)?,
        };
        if p.from > p.to {
            return Err(AuditError::Invalid(format!(
                "from ({}) is after to ({})",
                p.from, p.to
            )));
        }
        Ok(p)
    }

    /// First and last millisecond of the period in `tz`, as unix milliseconds.
    pub fn bounds_ms(&self, tz: chrono_tz::Tz) -> Result<(i64, i64), AuditError> {
        let start = |d: NaiveDate| {
            crate::store::day_start_ms(d, tz)
                .ok_or_else(|| AuditError::Invalid(format!("{d} does not exist in {tz}")))
        };
        let end = match self.to.succ_opt() {
            Some(next) => start(next)? - 1,
            None => i64::MAX,
        };
        Ok((start(self.from)?, end))
    }

    /// The same bounds as RFC 3339 UTC strings, comparable with the `*_at` columns.
    pub fn bounds_at(&self, tz: chrono_tz::Tz) -> Result<(String, String), AuditError> {
        let (a, b) = self.bounds_ms(tz)?;
        let at = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(crate::store::fmt_time)
                .unwrap_or_else(|| "9999-12-31T23:59:59.999Z".to_string())
        };
        Ok((at(a), at(b)))
    }
}

/// `manifest.json`: what the ZIP holds and the hash of every file in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Manifest {
    pub format: String,
    pub generated_at: String,
    pub generated_by: String,
    pub timezone: String,
    /// First day covered (YYYY-MM-DD, in `timezone`).
    pub from: String,
    /// Last day covered, included.
    pub to: String,
    /// The site the export is limited to, or null for all sites.
    pub site: Option<crate::store::chats::NamedRef>,
    pub counts: Counts,
    pub chain: Chain,
    /// Every file in the ZIP except `manifest.json` and `manifest.sig`.
    pub files: Vec<FileEntry>,
    /// The Ed25519 key that signed this manifest (hex), and its short fingerprint as the appliance shows it.
    pub public_key: String,
    pub key_fingerprint: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Counts {
    pub messages: u64,
    /// Webhook deliveries in `deliveries.jsonl`: each body once, however many messages it carried.
    pub deliveries: u64,
    pub issues: u64,
    pub tasks: u64,
    pub evidence: u64,
    pub evidence_files: u64,
    /// Evidence records whose file could not be included; each says why in `evidence.jsonl` (`missing`).
    pub evidence_missing: u64,
    pub events: u64,
}

/// The stretch of the event log in the ZIP: events `first_event..=last_event`, each linked to the one before; the
/// first links to `anchor` (the hash of the event before the period). Events about other sites are redacted to their
/// id and hashes, so the chain stays whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Chain {
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    pub anchor: String,
    pub head: String,
    pub events: u64,
    pub redacted: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Records in the event log that an audit ZIP was made, by whom and of what (the manifest's SHA-256 identifies it).
pub fn record_export(
    tx: &crate::store::Transaction<'_>,
    actor: &str,
    m: &Manifest,
) -> Result<(), crate::store::StoreError> {
    let digest = serde_json::to_vec_pretty(m)
        .map(|b| hex::encode(sha2::Sha256::digest(&b)))
        .unwrap_or_default();
    crate::store::events::append(
        tx,
        actor,
        "audit.exported",
        "audit_export",
        None,
        &serde_json::json!({
            "from": m.from,
            "to": m.to,
            "site": m.site,
            "counts": m.counts,
            "chain_head": m.chain.head,
            "manifest_sha256": digest,
        }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_local_days() {
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        let p = Period::parse("2026-12-01", "2026-12-07").unwrap();
        let (a, b) = p.bounds_ms(tz).unwrap();
        // Midnight in Kuala Lumpur is 16:00 UTC the day before.
        assert_eq!(
            chrono::DateTime::from_timestamp_millis(a)
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T16:00:00+00:00"
        );
        assert_eq!(b - a, 7 * 86_400_000 - 1);
        let (fa, fb) = p.bounds_at(tz).unwrap();
        assert_eq!(fa, "2026-11-30T16:00:00.000Z");
        assert_eq!(fb, "2026-12-07T15:59:59.999Z");
    }

    #[test]
    fn bad_periods_are_refused_with_the_field_at_fault() {
        let e = Period::parse("2026-12-08", "2026-12-07")
            .unwrap_err()
            .to_string();
        assert!(e.contains("after"), "{e}");
        let e = Period::parse("7/12/2026", "2026-12-07")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("from:"), "{e}");
        let e = Period::parse("2026-12-01", "2026-13-01")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("to:"), "{e}");
    }
}

//! Prepares a data directory for the audit export benchmark (`benches/audit.sh`) from the records benchmark's database
//! (`examples/bench_records.rs`: a year of a 50-site firm, 3M messages, tickets, task log, evidence rows):
//!
//! ```text
//! cargo run --release --example bench_audit_prep -- --data DIR [--files-site 1] [--files-month 2026-10]
//! ```
//! DIR must hold that database as `tapak.db`. Adds what a live appliance would have and the records benchmark does not
//! generate: each message's raw webhook body (a Cloud API delivery carrying its text, ~600 bytes, in `raw_payloads`)
//! and its hash-chained `payload.received` event, written in time order as the appliance would have; and real files
//! (random bytes of each row's recorded size, ~235 KB) for the evidence of one site in one month, with the rows'
//! SHA-256 set to match. Evidence of other sites and months stays without a file (the export lists it as missing).
//! Runs once per database (a settings key records it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rand::{RngCore, SeedableRng};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};
use tapak::store::events::{event_hash, GENESIS};

const DONE_KEY: &str = "bench_audit_prepared";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut data, mut site, mut month) = (None, 1i64, "2026-10".to_string());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().map(PathBuf::from),
            "--files-site" => site = args.next().and_then(|s| s.parse().ok()).unwrap_or(1),
            "--files-month" => month = args.next().unwrap_or(month),
            other => {
                eprintln!("bench_audit_prep: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(data) = data else {
        eprintln!("usage: bench_audit_prep --data DIR [--files-site ID] [--files-month YYYY-MM]");
        return ExitCode::from(2);
    };
    match run(&data, site, &month) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_audit_prep: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(data: &std::path::Path, site: i64, month: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = tapak::store::db::open_and_migrate(&data.join("tapak.db"))?;
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -200000;")?;
    let done: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [DONE_KEY],
            |r| r.get(0),
        )
        .optional()?;
    if done.is_some() {
        eprintln!("already prepared");
        return Ok(());
    }
    let t0 = Instant::now();
    let tx = conn.transaction()?;
    let (mut last_id, mut prev): (i64, String) = tx
        .query_row(
            "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    {
        let mut read = tx.prepare(
            "SELECT m.id, m.source_message_id, m.sent_at, m.sent_ms, m.text, p.phone, p.name, c.external_id
             FROM messages m JOIN chats c ON c.id = m.chat_id LEFT JOIN people p ON p.id = m.sender_id
             WHERE m.raw_payload_id IS NULL ORDER BY m.sent_ms, m.id",
        )?;
        let mut raw = tx.prepare(
            "INSERT INTO raw_payloads(source, received_at, sha256, body, outcome) VALUES ('cloud_api', ?1, ?2, ?3, 'stored')",
        )?;
        let mut link = tx.prepare("UPDATE messages SET raw_payload_id = ?2 WHERE id = ?1")?;
        let mut ev = tx.prepare(
            "INSERT INTO events(id, at, actor, action, entity, entity_id, data, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        )?;
        let mut rows = read.query([])?;
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let (id, wamid, sent_at, sent_ms): (i64, String, String, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let text: Option<String> = r.get(4)?;
            let phone: Option<String> = r.get(5)?;
            let name: Option<String> = r.get(6)?;
            let group: String = r.get(7)?;
            let from = phone.unwrap_or_else(|| "60123456700".into());
            let body = serde_json::to_vec(&serde_json::json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "201234567890123", "changes": [{"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "60380001234", "phone_number_id": "109876543210987"},
                    "contacts": [{"profile": {"name": name.unwrap_or_default()}, "wa_id": from}],
                    "messages": [{"from": from, "group_id": group, "id": wamid, "timestamp": (sent_ms / 1000).to_string(),
                        "type": "text", "text": {"body": text.unwrap_or_default()}}]
                }}]}]
            }))?;
            let sha = hex::encode(Sha256::digest(&body));
            raw.execute(params![sent_at, sha, body])?;
            let raw_id = tx.last_insert_rowid();
            link.execute(params![id, raw_id])?;
            last_id += 1;
            let data = serde_json::json!({"sha256": sha, "messages": [id], "duplicates": 0, "changes": 0, "statuses": 0})
                .to_string();
            let entity_id = raw_id.to_string();
            let hash = event_hash(
                &prev,
                last_id,
                &sent_at,
                "webhook:cloud_api",
                "payload.received",
                "raw_payload",
                Some(&entity_id),
                &data,
            );
            ev.execute(params![
                last_id,
                sent_at,
                "webhook:cloud_api",
                "payload.received",
                "raw_payload",
                entity_id,
                data,
                prev,
                hash
            ])?;
            prev = hash;
            n += 1;
            if n.is_multiple_of(250_000) {
                eprintln!(
                    "  {n} raw bodies and events — {:.0} s",
                    t0.elapsed().as_secs_f64()
                );
            }
        }
        eprintln!(
            "{n} raw bodies and events in {:.0} s",
            t0.elapsed().as_secs_f64()
        );
    }
    // Real files for one site's evidence in one month.
    let evidence = tapak::evidence::EvidenceStore::open(data)?;
    let rows: Vec<(i64, i64)> = tx
        .prepare(
            "SELECT e.id, COALESCE(e.bytes, 200000) FROM evidence e JOIN messages m ON m.id = e.message_id
             JOIN chats c ON c.id = m.chat_id
             WHERE c.site_id = ?1 AND e.status = 'ready' AND substr(m.sent_at, 1, 7) = ?2",
        )?
        .query_map(params![site, month], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut total = 0u64;
    for (id, bytes) in &rows {
        let mut b = vec![0u8; (*bytes).clamp(1, 8 << 20) as usize];
        rng.fill_bytes(&mut b);
        let sha = evidence.put(&b)?;
        tx.execute(
            "UPDATE evidence SET sha256 = ?2, bytes = ?3 WHERE id = ?1",
            params![id, sha, b.len() as i64],
        )?;
        total += b.len() as u64;
    }
    eprintln!(
        "{} evidence files for site {site} in {month} ({} MB)",
        rows.len(),
        total >> 20
    );
    tx.execute(
        "INSERT INTO settings(key, value, updated_at) VALUES (?1, 'yes', ?2)",
        params![DONE_KEY, tapak::store::now_str()],
    )?;
    tx.commit()?;
    eprintln!("prepared in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

//! `/healthz`, `/metrics` (Prometheus text) and the request counter.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::AppState;
use crate::store;

pub async fn count_requests(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    st.metrics.http_requests.fetch_add(1, Ordering::Relaxed);
    if resp.status().is_server_error() {
        st.metrics.http_errors.fetch_add(1, Ordering::Relaxed);
    }
    resp
}

/// Liveness and readiness: the database answers and the writer accepts work.
pub async fn healthz(State(st): State<AppState>) -> Response {
    let db_ok = st.db.read(store::db::ping).await.is_ok();
    let writer_ok = st.db.write(|_| Ok(())).await.is_ok();
    let body = serde_json::json!({
        "status": if db_ok && writer_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": db_ok,
        "writer": writer_ok,
    });
    let code = if db_ok && writer_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub async fn prometheus(State(st): State<AppState>) -> Response {
    let counted = st
        .metrics
        .messages_counted
        .lock()
        .map(|g| *g)
        .unwrap_or((0, 0));
    let gauges = st
        .db
        .read(move |c| {
            let (through, n) = store::messages::count_after(c, counted.0)?;
            Ok((
                (through, counted.1 + n),
                store::messages::count_pending(c)?,
                store::evidence::count_by_status(c, "pending")?,
                store::evidence::count_by_status(c, "failed")?,
                store::jobs::count(c, store::ingest::FETCH_JOB)?,
                store::messages::count_unindexed(c)?,
                store::inbox::count(c)?,
            ))
        })
        .await
        .unwrap_or(((0, -1), -1, -1, -1, -1, -1, -1));
    if gauges.0 .1 >= 0 {
        if let Ok(mut g) = st.metrics.messages_counted.lock() {
            // Two scrapes may race: keep the one that counted further.
            if gauges.0 .0 >= g.0 {
                *g = gauges.0;
            }
        }
    }
    let m = &st.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    };
    counter(
        "tapak_http_requests_total",
        "HTTP requests served",
        m.http_requests.load(Ordering::Relaxed),
    );
    counter(
        "tapak_http_errors_total",
        "HTTP responses with a 5xx status",
        m.http_errors.load(Ordering::Relaxed),
    );
    counter(
        "tapak_webhook_accepted_total",
        "webhook deliveries stored",
        m.webhook_accepted.load(Ordering::Relaxed),
    );
    counter(
        "tapak_webhook_queued_total",
        "webhook deliveries acknowledged from the inbox (filed in batches after the 200)",
        m.webhook_queued.load(Ordering::Relaxed),
    );
    counter(
        "tapak_webhook_rejected_total",
        "webhook deliveries refused (credentials)",
        m.webhook_rejected.load(Ordering::Relaxed),
    );
    counter(
        "tapak_webhook_malformed_total",
        "webhook deliveries that were not valid payloads",
        m.webhook_malformed.load(Ordering::Relaxed),
    );
    counter(
        "tapak_messages_ingested_total",
        "new messages stored",
        m.messages_ingested.load(Ordering::Relaxed),
    );
    counter(
        "tapak_messages_duplicate_total",
        "redelivered messages ignored",
        m.messages_duplicate.load(Ordering::Relaxed),
    );
    counter(
        "tapak_messages_processed_total",
        "messages classified and linked into records",
        m.messages_processed.load(Ordering::Relaxed),
    );
    counter(
        "tapak_media_fetched_total",
        "media files stored",
        m.media_fetched.load(Ordering::Relaxed),
    );
    counter(
        "tapak_media_failed_total",
        "media download attempts that failed",
        m.media_failed.load(Ordering::Relaxed),
    );
    counter(
        "tapak_writer_batches_total",
        "write transactions committed",
        st.db.stats().batches.load(Ordering::Relaxed),
    );
    counter(
        "tapak_writer_jobs_total",
        "write jobs committed",
        st.db.stats().jobs.load(Ordering::Relaxed),
    );
    let mut gauge = |name: &str, help: &str, v: i64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    };
    gauge("tapak_messages", "messages stored", gauges.0 .1);
    gauge(
        "tapak_messages_unprocessed",
        "messages waiting for classification and records",
        gauges.1,
    );
    gauge(
        "tapak_inbox_deliveries",
        "acknowledged webhook deliveries waiting to be filed into messages",
        gauges.6,
    );
    gauge(
        "tapak_inbox_filing_rate",
        "deliveries filed from the inbox per second over the last 3 s (0 when none were lately)",
        st.pipeline.filing_rate().map_or(0, |r| r.round() as i64),
    );
    gauge(
        "tapak_messages_unindexed",
        "messages not yet in the search index",
        gauges.5,
    );
    gauge(
        "tapak_evidence_pending",
        "media waiting for download",
        gauges.2,
    );
    gauge(
        "tapak_evidence_failed",
        "media that could not be downloaded",
        gauges.3,
    );
    gauge("tapak_jobs_fetch_media", "queued media downloads", gauges.4);
    gauge(
        "tapak_records_states_cached",
        "chats whose records-engine state is held in memory",
        st.pipeline.states().len() as i64,
    );
    gauge(
        "tapak_classifier_sites_cached",
        "per-site classifiers (site vocabulary) held in memory",
        st.pipeline.site_classifiers() as i64,
    );
    gauge(
        "tapak_resident_memory_bytes",
        "resident set size",
        rss_bytes().map(|v| v as i64).unwrap_or(-1),
    );
    gauge(
        "tapak_uptime_seconds",
        "seconds since start",
        st.started.elapsed().as_secs() as i64,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

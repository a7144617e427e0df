//! The core every feature stands on: configuration, the database, the time zone, the clock, the evidence store, the
//! outbound HTTP client, the metrics counters and the workers' wake-ups. It knows no feature: the records pipeline,
//! the workers and the web layer each take it (or the part of it they use) from above.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::sync::Notify;

pub use crate::clock::{Clock, FakeClock, SystemClock};
use crate::config::Config;
use crate::evidence::EvidenceStore;
use crate::store::Db;

/// Wakes background workers when there is new durable work.
#[derive(Default)]
pub struct Wake {
    pub process: Notify,
    pub fetch: Notify,
    /// Gateway lookups (WAHA `@lid` → phone).
    pub lookup: Notify,
    /// Deliveries queued in the inbox, to be filed.
    pub inbox: Notify,
    /// Sends queued in the outbox (producers notify after enqueueing).
    pub outbox: Arc<Notify>,
    /// Voice notes stored, to be transcribed (when `[transcribe] command` is set).
    pub transcribe: Notify,
}

/// Counters the features bump and `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub http_errors: AtomicU64,
    pub webhook_accepted: AtomicU64,
    /// Deliveries acknowledged from the inbox (filed after the 200).
    pub webhook_queued: AtomicU64,
    pub webhook_rejected: AtomicU64,
    pub webhook_malformed: AtomicU64,
    pub messages_ingested: AtomicU64,
    pub messages_duplicate: AtomicU64,
    pub messages_processed: AtomicU64,
    pub media_fetched: AtomicU64,
    pub media_failed: AtomicU64,
    /// `tapak_messages` as last counted: (highest message id, messages up to it). Messages are never deleted, so each
    /// scrape counts only the ones added since instead of the whole table.
    pub messages_counted: std::sync::Mutex<(i64, i64)>,
}

pub struct Core {
    pub cfg: Arc<Config>,
    pub db: Db,
    pub tz: chrono_tz::Tz,
    pub evidence: EvidenceStore,
    pub http: reqwest::Client,
    /// The outbound WhatsApp client (sends, media downloads, lid lookups) over `http`.
    pub whatsapp: crate::whatsapp::client::Client,
    pub metrics: Metrics,
    pub wake: Wake,
    /// Bounds concurrent image work (thumbnails, hashes).
    pub image_slots: tokio::sync::Semaphore,
    pub clock: Arc<dyn Clock>,
    pub started: Instant,
}

impl Core {
    /// Opens the data dir and database (migrating it) with `clock` as the time of every job; starts the database
    /// writer; spawns nothing else.
    pub fn open(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Core> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
        let db = Db::open_with_clock(&cfg.db_path(), clock.clone())
            .with_context(|| format!("cannot open {}", cfg.db_path().display()))?;
        let evidence = EvidenceStore::open(&cfg.data_dir)?;
        let tz = cfg.timezone()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tapak/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .context("cannot build the HTTP client")?;
        let whatsapp = crate::whatsapp::client::Client::new(
            http.clone(),
            cfg.whatsapp.clone(),
            std::time::Duration::from_secs(cfg.outbox.timeout_seconds),
        );
        Ok(Core {
            image_slots: tokio::sync::Semaphore::new(cfg.evidence.concurrency.max(1)),
            cfg: Arc::new(cfg),
            db,
            tz,
            evidence,
            http,
            whatsapp,
            metrics: Metrics::default(),
            wake: Wake::default(),
            clock,
            started: Instant::now(),
        })
    }
}

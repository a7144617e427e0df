//! Accepting a webhook delivery and filing it. While the writer has little to do, a delivery is filed (messages,
//! evidence, classification, records) in the transaction that stores it, so its ticket exists when the 200 goes out.
//! When many deliveries are in flight, each is acknowledged as soon as its raw body and normalised form are in the
//! inbox (a cheap append), and the filer here files the inbox in large batches, where a page of an index written
//! once serves hundreds of messages instead of one. Either way acknowledged means durable, and chat order holds:
//! nothing is filed at once while older deliveries wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Pipeline;
use super::{link_new_in_tx, preclassify, InlineStats, PreClass};
use crate::ingest::model::{Normalized, Source};
use crate::store::{self, inbox::Queued, ingest::DeliveryOutcome, StoreError};

/// What accepting one delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    /// New messages filed (0 when queued).
    pub stored: usize,
    pub duplicates: usize,
    pub changes: usize,
    pub statuses: usize,
    /// Acknowledged from the inbox: filed after the 200.
    pub queued: bool,
}

/// Counts a delivery in flight for as long as it lives (also when the client goes away mid-request).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Stores a parsed delivery durably and answers once it has committed: filed at once when fewer than
/// `server.inline_filing_below` deliveries are in flight and nothing waits in the inbox, else queued in the inbox.
pub async fn accept(
    svc: &Pipeline,
    source: Source,
    body: bytes::Bytes,
    n: Normalized,
) -> Result<Accepted, StoreError> {
    let counter = &svc.webhooks_in_flight;
    let before = counter.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight(counter);
    if before >= svc.cfg.server.inline_filing_below {
        return queue(svc, source, body, &n).await;
    }
    // Classified here, outside the writer, so the write can link the messages at once.
    let pre = preclassify(svc, &n.messages).await;
    let (cache, tz) = (svc.states(), svc.tz);
    // Storing and linking only write to the database (and to engine states that are reloaded after a rollback), so
    // the job can run with others without a savepoint.
    let filed = svc
        .db
        .write_retryable(move |tx| {
            if !store::inbox::is_empty(tx)? {
                // Older deliveries wait: this one queues behind them.
                store::inbox::push(tx, source, &body, &serde_json::to_string(&n)?)?;
                return Ok(None);
            }
            let out = store::ingest::store_delivery(tx, source, &body, &n)?;
            let linked = link_new_in_tx(tx, &cache, &out.stored, &pre, tz)?;
            Ok(Some((out, linked)))
        })
        .await?;
    Ok(match filed {
        Some((out, linked)) => {
            count_filed(svc, &out, &linked);
            Accepted {
                stored: out.new_messages.len(),
                duplicates: out.duplicates,
                changes: out.changes,
                statuses: out.statuses,
                queued: false,
            }
        }
        None => queued(svc),
    })
}

async fn queue(
    svc: &Pipeline,
    source: Source,
    body: bytes::Bytes,
    n: &Normalized,
) -> Result<Accepted, StoreError> {
    let json = serde_json::to_string(n)?;
    svc.db
        .write_retryable(move |tx| store::inbox::push(tx, source, &body, &json))
        .await?;
    Ok(queued(svc))
}

fn queued(svc: &Pipeline) -> Accepted {
    svc.metrics.webhook_queued.fetch_add(1, Ordering::Relaxed);
    svc.wake.inbox.notify_one();
    Accepted {
        queued: true,
        ..Accepted::default()
    }
}

/// Counts what filing a delivery did and wakes the workers it gave work to.
fn count_filed(svc: &Pipeline, out: &DeliveryOutcome, linked: &InlineStats) {
    let m = &svc.metrics;
    m.messages_processed
        .fetch_add(linked.processed as u64, Ordering::Relaxed);
    m.messages_ingested
        .fetch_add(out.new_messages.len() as u64, Ordering::Relaxed);
    m.messages_duplicate
        .fetch_add(out.duplicates as u64, Ordering::Relaxed);
    if !out.new_messages.is_empty() || out.changes > 0 {
        svc.wake.process.notify_one();
    }
    if out.fetch_jobs > 0 {
        svc.wake.fetch.notify_one();
    }
    if out.lookup_jobs > 0 {
        svc.wake.lookup.notify_one();
    }
}

/// Deliveries read from the inbox (and classified) at a time.
const FILE_READ: usize = 256;

/// Writer time one filing job may take before it hands the writer back while deliveries are in flight:
/// acknowledgements wait behind it (12 ms slices: p99 58 ms; 3 ms: 33 ms).
const FILE_BUDGET: Duration = Duration::from_millis(3);

/// Writer time one filing job may take while no delivery is in flight (it shrinks to [`FILE_BUDGET`] as soon as one
/// arrives). After a burst, 50 ms jobs drain the inbox faster than 3 ms ones (fewer commits, each index page written
/// once for more messages): measured in BENCHMARKS.md.
const FILE_BUDGET_QUIET: Duration = Duration::from_millis(50);

/// Writer time one acknowledgement costs (appending to the inbox, its share of the commit and its fsync): the writer
/// acknowledges at most about 25k deliveries/s when it does nothing else (BENCHMARKS.md, fifth session).
const ACK_COST: Duration = Duration::from_micros(40);

/// How long the filer pauses after a job that took `took` while deliveries arrive at `ack_rate` per second: long enough
/// that the writer keeps the share of its time acknowledgements need (`ack_rate` × [`ACK_COST`], at most 90 %). A
/// steady trickle barely slows filing; a 15k/s burst gets about 60 % of the writer; never more than a second.
fn yield_after(took: Duration, ack_rate: f64) -> Duration {
    let need = (ack_rate.max(0.0) * ACK_COST.as_secs_f64()).min(0.9);
    took.mul_f64(need / (1.0 - need))
        .min(Duration::from_secs(1))
}

/// Deliveries accepted per second, measured between two filing steps (smoothed).
struct AckRate {
    at: Instant,
    accepted: u64,
    per_sec: f64,
}

impl AckRate {
    fn new(accepted: u64) -> AckRate {
        AckRate {
            at: Instant::now(),
            accepted,
            per_sec: 0.0,
        }
    }
    fn update(&mut self, accepted: u64) -> f64 {
        let now = Instant::now();
        let dt = now.duration_since(self.at).as_secs_f64();
        if dt > 0.0 {
            let inst = accepted.saturating_sub(self.accepted) as f64 / dt;
            // Steps are a few ms apart: smooth over about ten of them.
            self.per_sec = 0.9 * self.per_sec + 0.1 * inst;
            self.at = now;
            self.accepted = accepted;
        }
        self.per_sec
    }
}

/// How far filing is behind, for the dashboard: deliveries acknowledged and waiting in the inbox, how fast they are
/// being filed and so about when the records (tickets, tasks, search) will be complete again.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Backlog {
    /// Deliveries acknowledged (durably stored) and not yet filed into messages and records.
    pub deliveries_waiting: i64,
    /// Deliveries filed per second over the last few seconds; `null` when nothing was filed lately.
    pub filing_per_second: Option<f64>,
    /// About how long until the inbox is empty at that rate, if nothing more arrives; `null` when unknown or empty.
    pub seconds_left: Option<u64>,
}

/// Where filing stands now (see [`Backlog`]).
pub async fn backlog(svc: &Pipeline) -> Result<Backlog, StoreError> {
    let waiting = svc.db.read(store::inbox::count).await?;
    Ok(Backlog::of(waiting, svc.filing_rate()))
}

impl Backlog {
    fn of(waiting: i64, rate: Option<f64>) -> Backlog {
        let rate = rate.filter(|_| waiting > 0);
        Backlog {
            deliveries_waiting: waiting,
            filing_per_second: rate.map(|r| (r * 10.0).round() / 10.0),
            seconds_left: rate
                .filter(|r| *r > 0.0)
                .map(|r| (waiting as f64 / r).ceil() as u64),
        }
    }
}

/// The filing rate over a sliding window: the filer records what each step filed; samples are kept at least
/// [`RATE_SAMPLE`] apart over the last [`RATE_WINDOW`].
#[derive(Default)]
pub struct FilingRate {
    samples: std::sync::Mutex<std::collections::VecDeque<(Instant, u64)>>,
}

/// Short, so that the estimate follows the filer speeding up when a burst ends (it files two to three times faster
/// once nothing arrives): with 10 s it first said 59 s for a backlog filed in 20 s.
const RATE_WINDOW: Duration = Duration::from_secs(3);
const RATE_SAMPLE: Duration = Duration::from_millis(250);
/// No filing for this long: the rate is unknown (the filer is idle, stuck or paused), not the old figure.
const RATE_STALE: Duration = Duration::from_secs(5);

impl FilingRate {
    fn record(&self, filed: usize) {
        self.record_at(Instant::now(), filed);
    }

    fn record_at(&self, now: Instant, filed: usize) {
        let Ok(mut s) = self.samples.lock() else {
            return;
        };
        let total = s.back().map_or(0, |b| b.1) + filed as u64;
        // The newest sample moves with each step until it is RATE_SAMPLE past the one before it.
        let n = s.len();
        if n >= 2 && now.duration_since(s[n - 2].0) < RATE_SAMPLE {
            s[n - 1] = (now, total);
        } else {
            s.push_back((now, total));
        }
        // Samples from an earlier burst go, however few remain: a rate spans this burst only.
        while s.len() > 1
            && s.front()
                .is_some_and(|f| now.duration_since(f.0) > RATE_WINDOW)
        {
            s.pop_front();
        }
    }

    /// Deliveries filed per second lately, or `None` when too little was seen or nothing was filed for a while.
    pub fn per_second(&self) -> Option<f64> {
        self.per_second_at(Instant::now())
    }

    fn per_second_at(&self, now: Instant) -> Option<f64> {
        let s = self.samples.lock().ok()?;
        let (first, last) = (s.front()?, s.back()?);
        if now.saturating_duration_since(last.0) > RATE_STALE {
            return None;
        }
        let dt = last.0.duration_since(first.0).as_secs_f64();
        (dt >= 0.5).then(|| (last.1 - first.1) as f64 / dt)
    }
}

/// A queued delivery with its messages classified (outside the writer).
struct Prepared {
    q: Queued,
    pre: Vec<Option<PreClass>>,
}

/// What filing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filed {
    pub deliveries: usize,
    pub messages: usize,
    pub duplicates: usize,
    /// Deliveries that could not be filed and were set aside (raw body kept, outcome `failed`).
    pub set_aside: usize,
}

impl Filed {
    fn add(&mut self, other: Filed) {
        self.deliveries += other.deliveries;
        self.messages += other.messages;
        self.duplicates += other.duplicates;
        self.set_aside += other.set_aside;
    }
}

/// Files everything waiting in the inbox now; answers what it filed. Reading and classifying the next deliveries
/// overlaps with filing the current ones (the writer does not wait for the reader and the classifier).
pub async fn file_waiting(svc: &Pipeline) -> Result<Filed, StoreError> {
    let (ready, mut batches) = tokio::sync::mpsc::channel(1);
    let read_ahead = async move {
        let mut after = 0;
        loop {
            let rows = match svc
                .db
                .read(move |c| store::inbox::next(c, after, FILE_READ))
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    return;
                }
            };
            let Some(last) = rows.last() else {
                return;
            };
            after = last.id;
            // Stops when the filer has stopped (an error): nobody takes the batch.
            if ready.send(Ok(prepare(svc, rows).await)).await.is_err() {
                return;
            }
        }
    };
    let file = async move {
        let mut total = Filed::default();
        let mut acks = AckRate::new(svc.metrics.webhook_accepted.load(Ordering::Relaxed));
        let _bulk = BulkWhileQuiet(&svc.db);
        while let Some(prepared) = batches.recv().await {
            total.add(file_batch(svc, prepared?, &mut acks).await?);
        }
        Ok(total)
    };
    let ((), filed) = tokio::join!(read_ahead, file);
    filed
}

/// Classifies queued deliveries' messages (outside the writer) for filing.
async fn prepare(svc: &Pipeline, rows: Vec<Queued>) -> Arc<Vec<Prepared>> {
    let mut prepared = Vec::with_capacity(rows.len());
    for q in rows {
        let pre = match &q.normalized {
            Ok(n) => preclassify(svc, &n.messages).await,
            Err(_) => vec![],
        };
        prepared.push(Prepared { q, pre });
    }
    Arc::new(prepared)
}

/// Files one read-ahead batch, a writer slice at a time, pausing after each slice so acknowledgements keep the writer
/// time they need.
async fn file_batch(
    svc: &Pipeline,
    prepared: Arc<Vec<Prepared>>,
    acks: &mut AckRate,
) -> Result<Filed, StoreError> {
    let mut filed = Filed::default();
    let mut from = 0;
    while from < prepared.len() {
        // Nobody waits on the writer's commits while no delivery is in flight: bulk settings.
        svc.db
            .set_bulk(svc.webhooks_in_flight.load(Ordering::Relaxed) == 0);
        let started = Instant::now();
        let step = match file_step(svc, prepared.clone(), from).await {
            Ok(step) => step,
            // One delivery failed the job: file them one by one, setting aside the one that fails alone.
            Err(e) => {
                tracing::warn!(error = %e, "filing a batch from the inbox failed; filing one by one");
                file_alone(svc, &prepared[from]).await?
            }
        };
        from += step.deliveries.max(1);
        svc.filing.record(step.deliveries);
        filed.add(step);
        let pause = yield_after(
            started.elapsed(),
            acks.update(svc.metrics.webhook_accepted.load(Ordering::Relaxed)),
        );
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    Ok(filed)
}

/// Leaves the writer's bulk settings when filing ends, however it ends.
struct BulkWhileQuiet<'a>(&'a store::db::Db);

impl Drop for BulkWhileQuiet<'_> {
    fn drop(&mut self) {
        self.0.set_bulk(false);
    }
}

/// Files deliveries from `prepared[from..]` in one write job until its budget is spent (at least one delivery):
/// [`FILE_BUDGET`] while deliveries are in flight, else [`FILE_BUDGET_QUIET`].
async fn file_step(
    svc: &Pipeline,
    prepared: Arc<Vec<Prepared>>,
    from: usize,
) -> Result<Filed, StoreError> {
    let (cache, tz) = (svc.states(), svc.tz);
    let in_flight = svc.webhooks_in_flight.clone();
    let (outs, linked) = svc
        .db
        .write_retryable(move |tx| {
            let started = Instant::now();
            let mut outs = vec![];
            let mut linked = InlineStats::default();
            for p in &prepared[from..] {
                let (out, l) = file_one(tx, &cache, tz, p)?;
                linked.processed += l.processed;
                linked.deferred += l.deferred;
                outs.push(out);
                let spent = started.elapsed();
                if spent >= FILE_BUDGET_QUIET
                    || (spent >= FILE_BUDGET && in_flight.load(Ordering::Relaxed) > 0)
                {
                    break;
                }
            }
            Ok((outs, linked))
        })
        .await?;
    Ok(tally(svc, &outs, &linked))
}

/// Files one queued delivery and links its messages, or sets it aside when its stored JSON cannot be read (`None`).
fn file_one(
    tx: &store::Transaction<'_>,
    cache: &super::StateCache,
    tz: chrono_tz::Tz,
    p: &Prepared,
) -> Result<(Option<DeliveryOutcome>, InlineStats), StoreError> {
    match &p.q.normalized {
        Ok(n) => {
            let out = store::inbox::file(tx, &p.q, n)?;
            let linked = link_new_in_tx(tx, cache, &out.stored, &p.pre, tz)?;
            Ok((Some(out), linked))
        }
        Err(e) => {
            store::inbox::set_aside(tx, &p.q, &format!("unreadable: {e}"))?;
            Ok((None, InlineStats::default()))
        }
    }
}

/// Files one delivery in its own job; if even that fails, sets it aside so the deliveries behind it are filed.
async fn file_alone(svc: &Pipeline, p: &Prepared) -> Result<Filed, StoreError> {
    let (cache, tz) = (svc.states(), svc.tz);
    let one = Prepared {
        q: p.q.clone(),
        pre: p.pre.clone(),
    };
    let res = svc.db.write(move |tx| file_one(tx, &cache, tz, &one)).await;
    match res {
        Ok((out, linked)) => Ok(tally(svc, &[out], &linked)),
        Err(e) => {
            let (q, why) = (p.q.clone(), e.to_string());
            tracing::error!(raw_payload = q.raw_payload_id, error = %why, "a queued delivery could not be filed; set aside");
            svc.db
                .write(move |tx| store::inbox::set_aside(tx, &q, &why))
                .await?;
            Ok(Filed {
                deliveries: 1,
                set_aside: 1,
                ..Filed::default()
            })
        }
    }
}

fn tally(svc: &Pipeline, outs: &[Option<DeliveryOutcome>], linked: &InlineStats) -> Filed {
    let mut f = Filed {
        deliveries: outs.len(),
        ..Filed::default()
    };
    let mut sum = DeliveryOutcome::default();
    for o in outs {
        match o {
            Some(o) => {
                f.messages += o.new_messages.len();
                f.duplicates += o.duplicates;
                sum.new_messages.extend_from_slice(&o.new_messages);
                sum.duplicates += o.duplicates;
                sum.changes += o.changes;
                sum.fetch_jobs += o.fetch_jobs;
                sum.lookup_jobs += o.lookup_jobs;
            }
            None => f.set_aside += 1,
        }
    }
    count_filed(svc, &sum, linked);
    f
}

/// Files the inbox whenever deliveries are queued (and once at start, for whatever a crash left), until `stop`.
pub async fn run(svc: Arc<Pipeline>, stop: CancellationToken) {
    loop {
        match file_waiting(&svc).await {
            Ok(f) if f.deliveries > 0 => {
                tracing::debug!(
                    deliveries = f.deliveries,
                    messages = f.messages,
                    "filed from the inbox"
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "filing the inbox failed; will retry");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = svc.wake.inbox.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_414_132;

    #[test]
    fn the_filer_leaves_acknowledgements_the_writer_time_they_need() {
        let took = Duration::from_millis(4);
        assert_eq!(yield_after(took, 0.0), Duration::ZERO, "nothing arriving");
        // 2,500/s need 10 % of the writer: the filer pauses a ninth of its job.
        let p = yield_after(took, 2_500.0);
        assert!(
            p > Duration::from_micros(440) && p < Duration::from_micros(450),
            "{p:?}"
        );
        // 12,500/s need half: the filer pauses as long as its job took.
        let p = yield_after(took, 12_500.0);
        assert!(
            p > Duration::from_micros(3_990) && p < Duration::from_micros(4_010),
            "{p:?}"
        );
        // Beyond what the writer can acknowledge the filer still gets a tenth; a pause never exceeds a second.
        assert_eq!(yield_after(took, 1e9).as_millis(), 36);
        assert_eq!(
            yield_after(Duration::from_secs(1), 20_000.0),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn the_acknowledgement_rate_follows_the_counter() {
        let mut r = AckRate::new(0);
        std::thread::sleep(Duration::from_millis(10));
        let first = r.update(100);
        assert!(first > 0.0);
        std::thread::sleep(Duration::from_millis(10));
        assert!(r.update(100) < first, "no new deliveries: the rate falls");
    }

    fn services(dir: &std::path::Path, inline_below: usize) -> Pipeline {
        let mut cfg = crate::config::Config {
            data_dir: dir.to_path_buf(),
            ..crate::config::Config::default()
        };
        cfg.server.inline_filing_below = inline_below;
        let core = crate::core::Core::open(cfg, Arc::new(crate::core::SystemClock)).unwrap();
        Pipeline::new(Arc::new(core))
    }

    /// A Cloud API group delivery with one text message, as Meta sends it, and what the parser makes of it.
    fn delivery(id: &str, from: &str, name: &str, ts: i64, text: &str) -> (Vec<u8>, Normalized) {
        let body = serde_json::to_vec(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "201234567890123", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "60380001234", "phone_number_id": "109876543210987"},
                "contacts": [{"profile": {"name": name}, "wa_id": from}],
                "messages": [{"from": from, "group_id": "Z3JvdXA", "id": id, "timestamp": ts.to_string(),
                              "type": "text", "text": {"body": text}}]
            }}]}]
        }))
        .unwrap();
        let n = crate::ingest::cloud::normalize(&body).unwrap();
        (body, n)
    }

    fn stuck() -> (Vec<u8>, Normalized) {
        delivery(
            "wamid.a1",
            "60167654302",
            "Rajesh",
            T0,
            "Lift C stuck at level 3, no one inside",
        )
    }

    fn fixed() -> (Vec<u8>, Normalized) {
        delivery(
            "wamid.a2",
            "60124445566",
            "Ahmad",
            T0 + 900,
            "Lift C ok already, running normal",
        )
    }

    async fn issue_statuses(svc: &Pipeline) -> Vec<String> {
        svc.db
            .read(|c| {
                let mut st = c.prepare("SELECT status FROM issues ORDER BY id")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .await
            .unwrap()
    }

    async fn close(svc: Pipeline) {
        let db = svc.db.clone();
        tokio::task::spawn_blocking(move || db.close())
            .await
            .unwrap();
    }

    #[test]
    fn the_filing_rate_covers_the_last_seconds_and_goes_stale() {
        let r = FilingRate::default();
        let t0 = Instant::now();
        assert_eq!(r.per_second_at(t0), None, "nothing filed yet");
        // 100 deliveries every 100 ms for 3 s: 1,000/s.
        for i in 1..=30 {
            r.record_at(t0 + Duration::from_millis(100 * i), 100);
        }
        let fast = t0 + Duration::from_secs(3);
        let rate = r.per_second_at(fast).unwrap();
        assert!((rate - 1000.0).abs() < 1.0, "{rate}");
        let kept = r.samples.lock().unwrap().len();
        assert!(kept <= 20, "samples are coalesced: {kept}");
        // Then 10 every 100 ms for 15 s: the window has forgotten the fast part.
        for i in 1..=150 {
            r.record_at(fast + Duration::from_millis(100 * i), 10);
        }
        let slow = fast + Duration::from_secs(15);
        let rate = r.per_second_at(slow).unwrap();
        assert!((rate - 100.0).abs() < 1.0, "{rate}");
        let kept = r.samples.lock().unwrap().len();
        assert!(kept <= 60, "the window is bounded: {kept}");
        assert_eq!(
            r.per_second_at(slow + Duration::from_secs(6)),
            None,
            "stale: nothing filed for 6 s"
        );
        // The next burst, an hour later: no rate from its first step (nothing to measure it against yet), then its own.
        let later = slow + Duration::from_secs(3600);
        r.record_at(later, 500);
        assert_eq!(r.per_second_at(later), None);
        for i in 1..=10 {
            r.record_at(later + Duration::from_millis(100 * i), 500);
        }
        let rate = r.per_second_at(later + Duration::from_secs(1)).unwrap();
        assert!((rate - 5000.0).abs() < 1.0, "{rate}");
    }

    #[test]
    fn the_backlog_estimates_the_time_left_only_when_it_can() {
        let b = Backlog::of(12_000, Some(6_012.34));
        assert_eq!(b.deliveries_waiting, 12_000);
        assert_eq!(b.filing_per_second, Some(6_012.3));
        assert_eq!(b.seconds_left, Some(2));
        assert_eq!(Backlog::of(5, Some(0.4)).seconds_left, Some(13));
        let idle = Backlog::of(250, None);
        assert_eq!(
            (idle.filing_per_second, idle.seconds_left),
            (None, None),
            "a rate is not guessed"
        );
        let done = Backlog::of(0, Some(5_000.0));
        assert_eq!(done, Backlog::default(), "an empty inbox has nothing left");
    }

    #[tokio::test]
    async fn the_backlog_counts_queued_deliveries_until_they_are_filed() {
        let dir = tempfile::tempdir().unwrap();
        let svc = services(dir.path(), 16);
        for (body, n) in [stuck(), fixed()] {
            assert!(
                queue(&svc, Source::CloudApi, body.into(), &n)
                    .await
                    .unwrap()
                    .queued
            );
        }
        let before = backlog(&svc).await.unwrap();
        assert_eq!(before.deliveries_waiting, 2);
        assert_eq!(before.seconds_left, None, "nothing filed yet: no estimate");
        assert_eq!(file_waiting(&svc).await.unwrap().deliveries, 2);
        assert_eq!(backlog(&svc).await.unwrap(), Backlog::default());
        let recorded = svc.filing.samples.lock().unwrap().back().map(|s| s.1);
        assert_eq!(recorded, Some(2), "the filer records what it filed");
        close(svc).await;
    }

    #[tokio::test]
    async fn a_delivery_waits_behind_queued_ones_and_a_restart_files_them() {
        let dir = tempfile::tempdir().unwrap();
        let svc = services(dir.path(), 16);
        // The report is queued (as under load); the resolution, accepted while nothing else is in flight, must not
        // overtake it: it queues behind.
        let (body, n) = stuck();
        let a = queue(&svc, Source::CloudApi, body.into(), &n)
            .await
            .unwrap();
        assert!(a.queued);
        let (body, n) = fixed();
        let b = accept(&svc, Source::CloudApi, body.into(), n)
            .await
            .unwrap();
        assert!(b.queued, "filed at once although an older delivery waits");
        assert_eq!(svc.db.read(store::inbox::count).await.unwrap(), 2);
        assert_eq!(svc.db.read(store::messages::count).await.unwrap(), 0);
        // Stopped with both queued (as a kill would leave them); the next start files them, in order.
        close(svc).await;
        let svc = services(dir.path(), 16);
        let f = file_waiting(&svc).await.unwrap();
        assert_eq!(
            (f.deliveries, f.messages, f.duplicates, f.set_aside),
            (2, 2, 0, 0)
        );
        assert!(!svc.db.is_bulk(), "bulk settings end with the filing");
        assert_eq!(issue_statuses(&svc).await, vec!["resolved".to_string()]);
        assert!(svc.db.read(store::inbox::is_empty).await.unwrap());
        // Each raw body is kept once, and the event log says what came of it.
        let (raw, events) = svc
            .db
            .read(|c| {
                let raw: i64 = c.query_row(
                    "SELECT count(*) FROM raw_payloads WHERE outcome = 'stored'",
                    [],
                    |r| r.get(0),
                )?;
                let ev: i64 = c.query_row(
                    "SELECT count(*) FROM events WHERE action = 'payload.received'",
                    [],
                    |r| r.get(0),
                )?;
                Ok((raw, ev))
            })
            .await
            .unwrap();
        assert_eq!((raw, events), (2, 2));
        // With the inbox empty again, a quiet delivery is filed (and linked) before its answer.
        let (body, n) = delivery(
            "wamid.a3",
            "60167654302",
            "Rajesh",
            T0 + 3600,
            "Lift C stuck again",
        );
        let c = accept(&svc, Source::CloudApi, body.into(), n)
            .await
            .unwrap();
        assert_eq!((c.queued, c.stored), (false, 1));
        assert_eq!(issue_statuses(&svc).await.len(), 2);
        close(svc).await;
    }

    /// Files the inbox while another thread watches for the writer's bulk settings; answers whether it saw them.
    async fn filed_seeing_bulk(svc: &Arc<Pipeline>) -> bool {
        use std::sync::atomic::AtomicBool;
        let (done, seen) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let watcher = {
            let (svc, done, seen) = (svc.clone(), done.clone(), seen.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    if svc.db.is_bulk() {
                        seen.store(true, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
            })
        };
        let f = file_waiting(svc).await.unwrap();
        assert_eq!((f.deliveries, f.messages), (300, 300));
        done.store(true, Ordering::SeqCst);
        watcher.join().unwrap();
        seen.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlog_is_filed_in_bulk_only_while_no_delivery_is_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let svc = Arc::new(services(dir.path(), 0));
        let fill = |round: i64| {
            let svc = svc.clone();
            async move {
                for i in 0..300 {
                    let (body, n) = delivery(
                        &format!("wamid.r{round}m{i}"),
                        "60167654302",
                        "Rajesh",
                        T0 + round * 1000 + i,
                        "Block A lobby mopped",
                    );
                    queue(&svc, Source::CloudApi, body.into(), &n)
                        .await
                        .unwrap();
                }
            }
        };
        fill(0).await;
        assert!(
            filed_seeing_bulk(&svc).await,
            "nothing in flight: bulk settings"
        );
        assert!(!svc.db.is_bulk(), "and back to normal at the end");
        // A webhook in flight waits on the writer's commits: no bulk settings while it does.
        fill(1).await;
        svc.webhooks_in_flight.fetch_add(1, Ordering::SeqCst);
        assert!(
            !filed_seeing_bulk(&svc).await,
            "a delivery in flight: normal settings"
        );
        svc.webhooks_in_flight.fetch_sub(1, Ordering::SeqCst);
        close(Arc::try_unwrap(svc).ok().unwrap()).await;
    }

    #[tokio::test]
    async fn a_redelivery_waiting_in_the_inbox_is_filed_once() {
        let dir = tempfile::tempdir().unwrap();
        let svc = services(dir.path(), 0);
        for _ in 0..2 {
            let (body, n) = stuck();
            let a = accept(&svc, Source::CloudApi, body.into(), n)
                .await
                .unwrap();
            assert!(a.queued, "inline_filing_below = 0 queues everything");
        }
        let f = file_waiting(&svc).await.unwrap();
        assert_eq!((f.deliveries, f.messages, f.duplicates), (2, 1, 1));
        let outcomes = svc
            .db
            .read(|c| {
                let mut st = c.prepare("SELECT outcome FROM raw_payloads ORDER BY id")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(outcomes, vec!["stored", "duplicate"]);
        assert_eq!(svc.metrics.messages_duplicate.load(Ordering::Relaxed), 1);
        assert_eq!(svc.metrics.webhook_queued.load(Ordering::Relaxed), 2);
        close(svc).await;
    }

    #[tokio::test]
    async fn an_unreadable_entry_is_set_aside_and_the_rest_filed() {
        let dir = tempfile::tempdir().unwrap();
        let svc = services(dir.path(), 0);
        let (body, _) = stuck();
        let raw_bad = svc
            .db
            .write(move |tx| store::inbox::push(tx, Source::CloudApi, &body, "{not json"))
            .await
            .unwrap();
        let (body, n) = fixed();
        accept(&svc, Source::CloudApi, body.into(), n)
            .await
            .unwrap();
        let f = file_waiting(&svc).await.unwrap();
        assert_eq!((f.deliveries, f.messages, f.set_aside), (2, 1, 1));
        let (outcome, errors, kept) = svc
            .db
            .read(move |c| {
                let o: (String, Option<String>, Vec<u8>) = c.query_row(
                    "SELECT outcome, error, body FROM raw_payloads WHERE id = ?1",
                    [raw_bad],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                let e: i64 = c.query_row("SELECT count(*) FROM source_errors", [], |r| r.get(0))?;
                Ok((o.0, e, o.2))
            })
            .await
            .unwrap();
        assert_eq!(outcome, "failed");
        assert_eq!(errors, 1);
        assert_eq!(kept, stuck().0, "the raw body is kept verbatim");
        assert!(svc.db.read(store::inbox::is_empty).await.unwrap());
        close(svc).await;
    }
}

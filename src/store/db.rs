//! Opening the database, pragmas, embedded migrations, the single group-commit writer and the reader pool.

use rusqlite::{Connection, OpenFlags, Transaction};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

use super::StoreError;
use crate::clock::Clock;

/// Numbered migrations, embedded at compile time. Never edit a shipped one; add a new file.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    ("0002_imports", include_str!("migrations/0002_imports.sql")),
    ("0003_records", include_str!("migrations/0003_records.sql")),
    (
        "0004_query_indexes",
        include_str!("migrations/0004_query_indexes.sql"),
    ),
    (
        "0005_index_state",
        include_str!("migrations/0005_index_state.sql"),
    ),
    (
        "0006_lid_lookups",
        include_str!("migrations/0006_lid_lookups.sql"),
    ),
    (
        "0007_inline_processing",
        include_str!("migrations/0007_inline_processing.sql"),
    ),
    ("0008_inbox", include_str!("migrations/0008_inbox.sql")),
    ("0009_outbox", include_str!("migrations/0009_outbox.sql")),
    (
        "0010_schedules",
        include_str!("migrations/0010_schedules.sql"),
    ),
    (
        "0011_report_indexes",
        include_str!("migrations/0011_report_indexes.sql"),
    ),
    (
        "0012_outbox_documents",
        include_str!("migrations/0012_outbox_documents.sql"),
    ),
    (
        "0013_settings_screens",
        include_str!("migrations/0013_settings_screens.sql"),
    ),
    (
        "0014_transcripts",
        include_str!("migrations/0014_transcripts.sql"),
    ),
    (
        "0015_report_runs",
        include_str!("migrations/0015_report_runs.sql"),
    ),
];

/// Rollbacks of write work in this process (whole transactions and job savepoints). In-memory state derived from
/// writes (the records engine's per-chat states) remembers the count it was built under and is rebuilt from the
/// database when the count has moved, since the writes it reflects may have been undone.
static ROLLBACKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn rollbacks() -> u64 {
    ROLLBACKS.load(std::sync::atomic::Ordering::SeqCst)
}

thread_local! {
    /// The writer thread's current transaction (0 on every other thread).
    static TX_SERIAL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Which writer transaction the calling code runs in: the same number means the same transaction (nobody else can
/// have written in between), so a check made earlier in it still holds. 0 outside the writer thread (never equal to
/// a remembered transaction: callers must not memoise on 0).
pub fn tx_serial() -> u64 {
    TX_SERIAL.with(|s| s.get())
}

fn next_tx_serial() {
    TX_SERIAL.with(|s| s.set(s.get() + 1));
}

pub(crate) fn note_rollback() {
    ROLLBACKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Runs `f` inside a savepoint that is always rolled back (a dry run): `f` sees what it writes, nothing of it stays.
/// Counts as a rollback, so in-memory state built from those writes is not reused.
pub fn rolled_back<R>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    tx.execute_batch("SAVEPOINT dry_run")?;
    let out = f(tx);
    note_rollback();
    tx.execute_batch("ROLLBACK TO dry_run; RELEASE dry_run")?;
    out
}

/// Schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Most write jobs folded into one transaction.
const MAX_BATCH: usize = 512;
const READERS: usize = 4;

/// Where a write job was asked for: the log names a job that panicked by its caller's file and line.
type Origin = &'static Location<'static>;

/// The text a panic carried (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-text panic payload".to_string()
    }
}

/// Runs one job's body, turning a panic into that job's own error: the writer thread survives it, the job's work is
/// rolled back by its caller here (savepoint or transaction) and every other job goes on.
fn run_guarded<R>(
    origin: Origin,
    f: impl FnOnce() -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = panic_message(&*payload);
            tracing::error!(job = %origin, panic = %message,
                "write job panicked; its work is rolled back and the writer goes on");
            Err(StoreError::JobPanicked {
                job: origin.to_string(),
                message,
            })
        }
    }
}

/// A write job runs inside the batch transaction and returns what to do once the batch commits (or fails), and
/// whether it succeeded. With `alone` it is the transaction's only job and runs without a savepoint (a failure then
/// rolls back the whole transaction, which holds nothing else).
type WriteJob = Box<dyn FnOnce(&Transaction<'_>, bool) -> (Completion, bool) + Send>;

/// A write job that may run more than once (see [`Db::write_retryable`]).
trait RetryJob: Send {
    /// Runs the job; keeps its result; says whether it succeeded.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Reports the kept result (or the commit's failure) to the caller.
    fn finish(self: Box<Self>, commit: &Result<(), String>);
}

struct Retry<R, F> {
    f: F,
    origin: Origin,
    result: Option<Result<R, StoreError>>,
    done: oneshot::Sender<Result<R, StoreError>>,
}

impl<R, F> RetryJob for Retry<R, F>
where
    R: Send + 'static,
    F: Fn(&Transaction<'_>) -> Result<R, StoreError> + Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let f = &self.f;
        let r = run_guarded(self.origin, || f(tx));
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }
    fn finish(self: Box<Self>, commit: &Result<(), String>) {
        let out = match (commit, self.result) {
            (Err(e), _) => Err(StoreError::Commit(e.clone())),
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(StoreError::Commit("write job did not run".into())),
        };
        let _ = self.done.send(out);
    }
}

enum Job {
    Once(WriteJob),
    Retry(Box<dyn RetryJob>),
}

/// Shared handle to the database: one writer thread (group commit) and a small pool of readers.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    path: PathBuf,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
    stats: Arc<WriterStats>,
    /// Bulk work under way and nobody waiting on commits (see [`Db::set_bulk`]).
    bulk: Arc<std::sync::atomic::AtomicBool>,
    /// The current clock of every job this handle runs (see [`crate::clock`]).
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
pub struct WriterStats {
    pub batches: std::sync::atomic::AtomicU64,
    pub jobs: std::sync::atomic::AtomicU64,
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -4000;",
    )?;
    Ok(())
}

/// WAL size (pages) at which the writer checkpoints itself, when the checkpointer thread has not kept up. The
/// writer's checkpoint copies what is left and fsyncs the database file while webhooks wait, so it sets the tail
/// latency: measured under sustained webhook load (20 s runs, 64 connections), 4,000 pages gave p99 34 ms at 6.0k
/// msg/s, 8,000 pages p99 43 ms at 6.5k, 12,000 p99 49 ms at 6.7k, 20,000 p99 57 ms at 7.0k, 80,000 p99 57 ms at
/// 7.6k; 30 s runs at 8,000 gave p99 47–48 ms. In 30 s runs (the database grows to 190k messages) 6,000 gave p99
/// 47.6–49.2 ms at 6.1–6.5k/s and 4,000 (16 MB) 40.1–40.8 ms at 5.5–6.1k/s: 4,000 keeps acknowledgements under 50 ms
/// with a margin.
const WRITER_CHECKPOINT_PAGES: u32 = 4_000;

/// The same threshold while nobody waits on a commit (see [`Db::set_bulk`]): fewer, larger checkpoints in the writer,
/// each page copied to the database once for many commits. Filing a 230k-delivery inbox with nothing else arriving
/// (BENCHMARKS.md, eighth session), alternated on one machine: 6.7–6.8k/s before, 7.1–7.9k/s with this and the
/// checkpointer every 100 ms.
const WRITER_CHECKPOINT_PAGES_BULK: u32 = 32_000;

/// The WAL file is cut back to this size when it restarts after growing past it (after bulk work), so a burst does
/// not leave a 128 MB WAL on the disk. Above what steady work reaches (about 26 MB at 4,000 pages).
const WAL_SIZE_LIMIT: i64 = 32 * 1024 * 1024;

/// How often the checkpointer copies the WAL into the database: every 500 ms normally; every 100 ms during bulk work,
/// following the writer closely so the writer's own checkpoints find little left to copy (every 20 ms copied hot pages
/// over and over: 6.4–6.7k/s and a fifth more CPU).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
const CHECKPOINT_EVERY_BULK: Duration = Duration::from_millis(100);

/// The writer's page cache. 64 MB measured no faster than 16 MB, and 4 MB no slower over 30 s of webhook load, while
/// 16 MB put about 10 MB on the peak RSS (BENCHMARKS.md, memory): 8 MB keeps the hot index pages of a large database.
const WRITER_CACHE_KIB: u32 = 8_000;

/// The writer's own settings: a bigger page cache, and WAL checkpoints mostly left to the checkpointer thread so
/// commits stay short (the writer still checkpoints if the WAL grows past [`WRITER_CHECKPOINT_PAGES`]).
///
/// Foreign keys are not enforced on the writer: with them on, SQLite opens a statement journal for nearly every
/// write and copies each page it touches into it (about a third of the writer's time under load). The references are
/// kept by the code that writes them (one place per aggregate), and the test suites run `PRAGMA foreign_key_check`
/// over the databases they build.
fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}; \
         PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))?;
    Ok(())
}

/// Checkpoints the WAL in the background (PASSIVE: never blocks the writer or readers). Every 500 ms while
/// acknowledgements wait on commits: following the writer more closely (every 40 ms) was measured slower, because each
/// checkpoint ends with an fsync of the database file that competes with the writer's commits for the disk. During
/// bulk work, when nobody waits, every 100 ms.
fn checkpointer(path: PathBuf, alive: std::sync::Weak<DbInner>) {
    let conn = match Connection::open(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpointer could not open the database");
            return;
        }
    };
    let _ = conn.busy_timeout(Duration::from_millis(100));
    let mut every = CHECKPOINT_EVERY;
    loop {
        std::thread::sleep(every);
        match alive.upgrade() {
            Some(db) => {
                every = if db.bulk.load(std::sync::atomic::Ordering::Relaxed) {
                    CHECKPOINT_EVERY_BULK
                } else {
                    CHECKPOINT_EVERY
                }
            }
            None => return,
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "passive WAL checkpoint skipped");
        }
    }
}

/// Whether the database answers a query at all (the health check's read).
pub fn ping(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}

/// Opens (creating if needed) and migrates the database at `path`; refuses a database newer than this binary.
pub fn open_and_migrate(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
    }
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(format!(
            "{}: cannot enable WAL (got {mode})",
            path.display()
        )));
    }
    migrate(&mut conn)?;
    Ok(conn)
}

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Migration(format!("{name}: {e}")))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

impl Db {
    /// Opens the database, migrates it and starts the writer thread; rows are stamped with the system clock.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        Db::open_with_clock(path, Arc::new(crate::clock::SystemClock))
    }

    /// As [`Db::open`], with `clock` as the "now" of every read and write job.
    pub fn open_with_clock(path: &Path, clock: Arc<dyn Clock>) -> Result<Db, StoreError> {
        let writer_conn = open_and_migrate(path)?;
        configure_writer(&writer_conn)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&c)?;
            readers.push(c);
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(WriterStats::default());
        let st = stats.clone();
        let bulk = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b2, c2) = (bulk.clone(), clock.clone());
        let handle = std::thread::Builder::new()
            .name("tapak-writer".into())
            .spawn(move || crate::clock::with_clock(&c2, || writer_loop(writer_conn, rx, st, b2)))
            .map_err(|e| StoreError::Io(format!("cannot start writer thread: {e}")))?;
        let inner = Arc::new(DbInner {
            path: path.to_path_buf(),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(readers),
            reader_slots: Semaphore::new(READERS),
            stats,
            bulk,
            clock,
        });
        let (p2, weak) = (path.to_path_buf(), Arc::downgrade(&inner));
        let _ = std::thread::Builder::new()
            .name("tapak-checkpoint".into())
            .spawn(move || checkpointer(p2, weak));
        Ok(Db { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The clock this handle stamps rows with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Now, by this handle's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub fn stats(&self) -> &WriterStats {
        &self.inner.stats
    }

    /// Says whether bulk work is under way with nobody waiting on its commits (filing a backlog while no webhook is
    /// in flight). The WAL is then left to grow larger between the writer's checkpoints and the checkpointer follows
    /// the writer closely: a backlog is filed 12–15 % faster. Set it back as soon as anyone waits again: the
    /// normal settings keep acknowledgements under 50 ms.
    pub fn set_bulk(&self, on: bool) {
        self.inner
            .bulk
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether bulk settings are asked for (see [`Db::set_bulk`]).
    pub fn is_bulk(&self) -> bool {
        self.inner.bulk.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` inside the writer's current transaction (grouped with other concurrent writes) and resolves once that
    /// transaction has committed. An error from `f` rolls back only `f`'s own work (a savepoint); so does a panic in
    /// `f`, which answers [`StoreError::JobPanicked`] naming the caller's file and line.
    #[track_caller]
    pub fn write<R, F>(&self, f: F) -> impl Future<Output = Result<R, StoreError>> + '_
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let origin = Location::caller();
        async move {
            let (done_tx, done_rx) = oneshot::channel::<Result<R, StoreError>>();
            let job = make_job(f, origin, done_tx);
            self.send(Job::Once(job))?;
            done_rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// As [`Db::write`] for a job that can safely run twice (it only writes to the database, or to memory that it
    /// checks against the database). Such jobs run together without any savepoint, which is most of the cost of a
    /// small write; should one of them fail, the transaction is rolled back and each runs again in its own
    /// savepoint, so a failure (or a panic) still rolls back only the failing job's own work.
    #[track_caller]
    pub fn write_retryable<R, F>(&self, f: F) -> impl Future<Output = Result<R, StoreError>> + '_
    where
        R: Send + 'static,
        F: Fn(&Transaction<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let origin = Location::caller();
        async move {
            let (done_tx, done_rx) = oneshot::channel::<Result<R, StoreError>>();
            self.send(Job::Retry(Box::new(Retry {
                f,
                origin,
                result: None,
                done: done_tx,
            })))?;
            done_rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// Blocking variant of [`Db::write`] for CLI commands and worker threads.
    #[track_caller]
    pub fn write_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<R, StoreError>>();
        self.send(Job::Once(make_job(f, Location::caller(), done_tx)))?;
        done_rx
            .blocking_recv()
            .map_err(|_| StoreError::WriterGone)?
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let guard = self.inner.tx.lock().map_err(|_| StoreError::WriterGone)?;
        match guard.as_ref() {
            Some(tx) => tx.send(job).map_err(|_| StoreError::WriterGone),
            None => Err(StoreError::WriterGone),
        }
    }

    /// Runs a read on a pooled read-only connection, off the async runtime.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let _permit = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking(f))
            .await
            .map_err(|e| StoreError::Io(format!("reader task failed: {e}")))?
    }

    /// Blocking read (for CLI commands and worker threads).
    pub fn read_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError>,
    {
        let conn = {
            let mut pool = self
                .inner
                .readers
                .lock()
                .map_err(|_| StoreError::WriterGone)?;
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c)?;
                c
            }
        };
        let out = crate::clock::with_clock(&self.inner.clock, || f(&conn));
        if let Ok(mut pool) = self.inner.readers.lock() {
            if pool.len() < READERS {
                pool.push(conn);
            }
        }
        out
    }

    /// Gives memory back when the appliance goes idle: SQLite's page caches (writer and pooled readers) and, on glibc,
    /// the allocator's free pages. Caches refill on demand.
    pub async fn release_memory(&self) -> Result<(), StoreError> {
        self.write(|tx| {
            // Prepared statements are finalized too (prepared again on next use, microseconds each).
            tx.flush_prepared_statement_cache();
            tx.execute_batch("PRAGMA shrink_memory")?;
            Ok(())
        })
        .await?;
        // Pooled readers are closed rather than shrunk: each holds its schema, lookaside buffer and prepared
        // statements (about 200 KB); the next read opens one again in about a millisecond.
        if let Ok(mut pool) = self.inner.readers.lock() {
            pool.clear();
            pool.shrink_to_fit();
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free heap pages to the kernel; it is safe to call at any time.
        unsafe {
            libc::malloc_trim(0);
        }
        Ok(())
    }

    /// Stops accepting writes, lets the writer commit what is queued, and checkpoints the WAL.
    pub fn close(&self) {
        if let Ok(mut tx) = self.inner.tx.lock() {
            tx.take();
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// A consistent online copy of the database (SQLite backup API), safe while the server writes.
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        backup_file(&self.inner.path, dest)
    }
}

/// Copies the database at `src` to `dest` with SQLite's online backup API (readers and the writer keep going).
pub fn backup_file(src: &Path, dest: &Path) -> Result<(), StoreError> {
    if !src.exists() {
        return Err(StoreError::Io(format!("no database at {}", src.display())));
    }
    let conn = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut out = Connection::open(&tmp)?;
        let backup = rusqlite::backup::Backup::new(&conn, &mut out)?;
        backup.run_to_completion(256, Duration::from_millis(5), None)?;
    }
    std::fs::rename(&tmp, dest).map_err(|e| StoreError::Io(format!("{}: {e}", dest.display())))?;
    Ok(())
}

fn make_job<R, F>(f: F, origin: Origin, done: oneshot::Sender<Result<R, StoreError>>) -> WriteJob
where
    R: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<R, StoreError> + Send + 'static,
{
    Box::new(move |tx: &Transaction<'_>, alone: bool| {
        let result = (|| {
            if alone {
                return run_guarded(origin, || f(tx));
            }
            tx.execute_batch("SAVEPOINT job")?;
            match run_guarded(origin, || f(tx)) {
                Ok(r) => {
                    tx.execute_batch("RELEASE job")?;
                    Ok(r)
                }
                Err(e) => {
                    note_rollback();
                    tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
                    Err(e)
                }
            }
        })();
        let ok = result.is_ok();
        let completion: Completion = Box::new(move |commit: &Result<(), String>| {
            let out = match (commit, result) {
                (Ok(()), r) => r,
                (Err(e), _) => Err(StoreError::Commit(e.clone())),
            };
            let _ = done.send(out);
        });
        (completion, ok)
    })
}

type Completion = Box<dyn FnOnce(&Result<(), String>) + Send>;

/// Runs each retryable job in its own savepoint (the slow path, after one of them failed in the fast path).
fn run_each_in_savepoint(
    tx: &Transaction<'_>,
    jobs: &mut [Box<dyn RetryJob>],
) -> Result<(), rusqlite::Error> {
    for j in jobs.iter_mut() {
        tx.execute_batch("SAVEPOINT job")?;
        if j.run(tx) {
            tx.execute_batch("RELEASE job")?;
        } else {
            note_rollback();
            tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
        }
    }
    Ok(())
}

/// Runs one batch in one transaction and commits it: the retryable jobs first (together, or each in a savepoint after
/// one of them failed), then the others in order, taken from the front of `once` (what is left there never ran).
fn run_batch(
    conn: &mut Connection,
    retry: &mut [Box<dyn RetryJob>],
    once: &mut VecDeque<WriteJob>,
    completions: &mut Vec<Completion>,
) -> Result<(), rusqlite::Error> {
    let immediate = rusqlite::TransactionBehavior::Immediate;
    next_tx_serial();
    let mut tx = conn.transaction_with_behavior(immediate)?;
    // Fast path: the retryable jobs run with no savepoint at all. (An open savepoint makes SQLite keep every
    // page the batch changes in its sub-journal, and each later statement pays for walking it.) Should one
    // fail, the whole transaction is rolled back and they run again, each in its own savepoint.
    if !retry.iter_mut().all(|j| j.run(&tx)) {
        note_rollback();
        tx.rollback()?;
        next_tx_serial();
        tx = conn.transaction_with_behavior(immediate)?;
        run_each_in_savepoint(&tx, retry)?;
    }
    // A job alone in its transaction needs no savepoint (big imports are such jobs).
    let alone = retry.is_empty() && once.len() == 1;
    let mut all_ok = true;
    while let Some(job) = once.pop_front() {
        let (c, ok) = job(&tx, alone);
        all_ok &= ok;
        completions.push(c);
    }
    if alone && !all_ok {
        note_rollback();
        return tx.rollback();
    }
    tx.commit()
}

fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Job>,
    stats: Arc<WriterStats>,
    bulk: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let mut checkpoint_pages = WRITER_CHECKPOINT_PAGES;
    // Jobs that a batch did not get to run before a panic escaped it: they run first in the next one.
    let mut carried: VecDeque<Job> = VecDeque::new();
    loop {
        let first = match carried.pop_front() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => break,
            },
        };
        let want = if bulk.load(Ordering::Relaxed) {
            WRITER_CHECKPOINT_PAGES_BULK
        } else {
            WRITER_CHECKPOINT_PAGES
        };
        if want != checkpoint_pages {
            match conn.pragma_update(None, "wal_autocheckpoint", want) {
                Ok(()) => checkpoint_pages = want,
                Err(e) => {
                    tracing::warn!(error = %e, "could not change the WAL checkpoint threshold")
                }
            }
        }
        let mut batch = vec![first];
        batch.extend(carried.drain(..));
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut retry: Vec<Box<dyn RetryJob>> = vec![];
        let mut once: VecDeque<WriteJob> = VecDeque::new();
        for j in batch {
            match j {
                Job::Once(j) => once.push_back(j),
                Job::Retry(j) => retry.push(j),
            }
        }
        let n = (retry.len() + once.len()) as u64;
        let once_before = once.len();
        let mut completions: Vec<Completion> = Vec::with_capacity(once.len());
        // Each job's body is guarded on its own (see `run_guarded`); this guards the batch's own steps, so that even a
        // panic there fails only the jobs that ran in it and never stops the writer.
        let ran = catch_unwind(AssertUnwindSafe(|| {
            run_batch(&mut conn, &mut retry, &mut once, &mut completions)
        }));
        let commit = match ran {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(payload) => {
                let message = panic_message(&*payload);
                tracing::error!(panic = %message, jobs = completions.len() + retry.len(),
                    "write batch panicked; its transaction is rolled back and its jobs fail");
                if !conn.is_autocommit() {
                    if let Err(e) = conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %e, "rollback after a panicked batch failed");
                    }
                }
                // Jobs the batch never reached run in the next one, unless the batch reached none at all (a panic
                // before any job ran would repeat): those are dropped, and their callers get an error.
                if once.len() < once_before || !retry.is_empty() {
                    carried.extend(once.drain(..).map(Job::Once));
                }
                Err(format!("write batch panicked: {message}"))
            }
        };
        if commit.is_err() {
            note_rollback();
        }
        if let Err(e) = &commit {
            tracing::error!(error = %e, "write batch failed to commit");
        }
        for j in retry {
            j.finish(&commit);
        }
        for c in completions {
            c(&commit);
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(n, Ordering::Relaxed);
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
    }
    tracing::info!("writer stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_batches_and_isolates_failures() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let mut handles = vec![];
        for i in 0..200 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                db.write(move |tx| {
                    if i == 7 {
                        tx.execute("INSERT INTO sites(name, created_at) VALUES ('s7', 'x')", [])?;
                        return Err(StoreError::Invalid("boom".into()));
                    }
                    tx.execute(
                        "INSERT INTO sites(name, created_at) VALUES (?1, 'x')",
                        [format!("s{i}")],
                    )?;
                    Ok(i)
                })
                .await
            }));
        }
        let mut ok = 0;
        for h in handles {
            if h.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 199);
        let n: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM sites", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(
            n, 199,
            "the failed job's own insert is rolled back, the others commit"
        );
        let s = db.stats();
        assert!(
            s.batches.load(std::sync::atomic::Ordering::Relaxed) < 200,
            "writes were grouped"
        );
        db.close();
    }

    async fn count_sites(db: &Db) -> i64 {
        db.read(|c| Ok(c.query_row("SELECT count(*) FROM sites", [], |r| r.get(0))?))
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_job_fails_alone_and_the_writer_keeps_serving() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        // Alone in its transaction, grouped with others, retryable, and from a blocking caller: each panic is that
        // job's own error, its insert is rolled back, and the writer goes on.
        let e = db
            .write(|tx| -> Result<(), StoreError> {
                tx.execute("INSERT INTO sites(name, created_at) VALUES ('p1', 'x')", [])?;
                panic!("boom alone")
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::JobPanicked { job, message } if job.contains("db.rs") && message == "boom alone"),
            "{e:?}"
        );
        let mut handles = vec![];
        for i in 0..100 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                let insert = move |tx: &Transaction<'_>| -> Result<i32, StoreError> {
                    tx.execute(
                        "INSERT INTO sites(name, created_at) VALUES (?1, 'x')",
                        [format!("s{i}")],
                    )?;
                    if i % 25 == 3 {
                        panic!("boom {i}");
                    }
                    Ok(i)
                };
                if i % 2 == 0 {
                    db.write(insert).await
                } else {
                    db.write_retryable(insert).await
                }
            }));
        }
        let mut panicked = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => {}
                Err(StoreError::JobPanicked { .. }) => panicked += 1,
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(panicked, 4);
        assert_eq!(
            count_sites(&db).await,
            96,
            "only the panicking jobs' inserts are gone"
        );
        let db2 = db.clone();
        let blocking = tokio::task::spawn_blocking(move || {
            db2.write_blocking(|_| -> Result<(), StoreError> { panic!("boom blocking") })
        })
        .await
        .unwrap();
        assert!(matches!(blocking, Err(StoreError::JobPanicked { .. })));
        // Ordinary writes still succeed afterwards.
        db.write(|tx| {
            tx.execute(
                "INSERT INTO sites(name, created_at) VALUES ('after', 'x')",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(count_sites(&db).await, 97);
        db.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bulk_work_lets_the_wal_grow_and_normal_work_takes_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let threshold = |db: &Db| {
            let db = db.clone();
            async move {
                db.write(|tx| {
                    Ok(tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0))?)
                })
                .await
                .unwrap()
            }
        };
        let limit: i64 = db
            .write(|tx| Ok(tx.query_row("PRAGMA journal_size_limit", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(
            limit, WAL_SIZE_LIMIT,
            "a grown WAL is cut back when it restarts"
        );
        assert!(!db.is_bulk());
        assert_eq!(threshold(&db).await, i64::from(WRITER_CHECKPOINT_PAGES));
        db.set_bulk(true);
        assert_eq!(
            threshold(&db).await,
            i64::from(WRITER_CHECKPOINT_PAGES_BULK),
            "the next batch runs with the bulk threshold"
        );
        db.set_bulk(false);
        assert_eq!(threshold(&db).await, i64::from(WRITER_CHECKPOINT_PAGES));
        db.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn releasing_memory_closes_idle_readers_and_everything_keeps_working() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let insert = |db: &Db, name: &'static str| {
            let db = db.clone();
            async move {
                db.write(move |tx| {
                    tx.prepare_cached("INSERT INTO sites(name, created_at) VALUES (?1, 'x')")?
                        .execute([name])?;
                    Ok(())
                })
                .await
            }
        };
        let count = |db: &Db| {
            let db = db.clone();
            async move {
                db.read(|c| {
                    Ok(c.prepare_cached("SELECT count(*) FROM sites")?
                        .query_row([], |r| r.get::<_, i64>(0))?)
                })
                .await
                .unwrap()
            }
        };
        insert(&db, "a").await.unwrap();
        assert_eq!(count(&db).await, 1);
        assert!(!db.inner.readers.lock().unwrap().is_empty());
        db.release_memory().await.unwrap();
        assert_eq!(
            db.inner.readers.lock().unwrap().len(),
            0,
            "idle readers closed"
        );
        // The writer prepares its statements again and a reader is opened on demand, then pooled.
        insert(&db, "b").await.unwrap();
        assert_eq!(count(&db).await, 2);
        assert_eq!(db.inner.readers.lock().unwrap().len(), 1);
        db.release_memory().await.unwrap();
        insert(&db, "c").await.unwrap();
        assert_eq!(count(&db).await, 3);
        db.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retryable_jobs_share_a_savepoint_and_a_failure_reruns_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut handles = vec![];
        for i in 0..300 {
            let (db, runs) = (db.clone(), runs.clone());
            handles.push(tokio::spawn(async move {
                db.write_retryable(move |tx| {
                    runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tx.execute(
                        "INSERT INTO sites(name, created_at) VALUES (?1, 'x')",
                        [format!("s{i}")],
                    )?;
                    if i % 100 == 42 {
                        return Err(StoreError::Invalid("boom".into()));
                    }
                    Ok(i)
                })
                .await
            }));
        }
        let mut ok = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert!(e.to_string().contains("boom"), "{e}"),
            }
        }
        assert_eq!(ok, 297);
        let names: Vec<String> = db
            .read(|c| {
                let mut st = c.prepare("SELECT name FROM sites")?;
                let v = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(v)
            })
            .await
            .unwrap();
        assert_eq!(
            names.len(),
            297,
            "the failed jobs' own inserts are rolled back"
        );
        for bad in ["s42", "s142", "s242"] {
            assert!(!names.iter().any(|n| n == bad));
        }
        assert!(
            runs.load(std::sync::atomic::Ordering::Relaxed) > 300,
            "a failure re-ran its group"
        );
        db.close();
    }

    #[test]
    fn migration_5_indexes_what_was_waiting_and_keeps_the_records_counter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let mut c = Connection::open(&p).unwrap();
        // A database as the previous release left it: processed messages indexed, pending ones not.
        for (i, (_, sql)) in MIGRATIONS.iter().take(4).enumerate() {
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", (i + 1) as i64)
                .unwrap();
        }
        c.execute_batch(
            "INSERT INTO chats(id, source, external_id, created_at) VALUES (1, 'import', 'c', 't');
             INSERT INTO messages(id, source, source_message_id, chat_id, sent_at, sent_ms, received_at, type, source_type,
                 text, normalized, processed)
             VALUES (1, 'import', 'a', 1, 't', 1, 't', 'text', 'text', 'pump leak', '', 1),
                    (2, 'import', 'b', 1, 't', 2, 't', 'text', 'text', 'lobby leak', '', 0);
             INSERT INTO messages_fts(rowid, text) VALUES (1, 'pump leak');
             INSERT INTO chat_states(chat_id, state, state_through, seq, updated_at) VALUES (1, NULL, 0, 7, 't');",
        )
        .unwrap();
        migrate(&mut c).unwrap();
        let ids: Vec<i64> = c
            .prepare(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'leak' ORDER BY rowid",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, vec![1, 2], "each message indexed exactly once");
        let through: i64 = c
            .query_row(
                "SELECT through FROM index_state WHERE name = 'fts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(through, 2);
        let seq: i64 = c
            .query_row("SELECT seq FROM chat_seqs WHERE chat_id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(seq, 7);
    }

    #[test]
    fn refuses_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        {
            let c = open_and_migrate(&p).unwrap();
            c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let e = open_and_migrate(&p).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }

    #[test]
    fn event_log_is_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_and_migrate(&dir.path().join("t.db")).unwrap();
        c.execute(
            "INSERT INTO events(at, actor, action, entity, data, prev_hash, hash) VALUES ('a','b','c','d','{}','0','1')",
            [],
        )
        .unwrap();
        assert!(c.execute("UPDATE events SET actor = 'x'", []).is_err());
        assert!(c.execute("DELETE FROM events", []).is_err());
    }
}

//! Reports over a year of a 50-site firm (issue 19): a monthly report for the firm under 500 ms, a site's daily report
//! under 50 ms, the XLSX of the firm's month under 2 s (with its peak RSS), and the report screens' API calls under
//! 100 ms p95.
//!
//! ```text
//! cargo run --release --example bench_records -- --db DIR/tapak.db --runs 1   # builds the year (once)
//! cargo run --release --example bench_reports -- --data DIR [--runs 20] [--schedules 10]
//! ```
//! 1. Reuses the records benchmark's database (`examples/bench_records.rs`: 50 sites, 3M messages, tickets with SLA
//!    deadlines, owners and repeats, task-log entries, evidence) as `DIR/tapak.db`, and adds once what the reports
//!    also read and that generator does not make: `--schedules` daily cleaning schedules per site with a year of
//!    occurrences (statuses: 70% on time, 10% late, 10% missed, 5% missing a photo, 5% excused) and a reminder
//!    ladder step for each missed one.
//! 2. Times `store::reports::report` (what the API, the CLI and the scheduled files call) for the firm's month
//!    (October 2026, compared with September) and sites' days, `--runs` times each, and prints p50 / p95 / max.
//! 3. Renders the firm's October as XLSX (report + file) `--runs / 4` times, and prints the peak RSS of that step
//!    (`VmHWM`, reset through `/proc/self/clear_refs` before it; Linux).
//! 4. Starts the real appliance on DIR (`App::build`, 127.0.0.1:0; the scheduler's loop and scheduled files off) and
//!    times the report screen's calls over HTTP: `GET /api/v1/reports/{daily,weekly,monthly}` for the firm and a
//!    site, and `GET /api/v1/reports/files`.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::params;
use tapak::reports::{Options, PeriodKind};

const DONE_KEY: &str = "bench_reports_schedules";
const KL: chrono_tz::Tz = chrono_tz::Asia::Kuala_Lumpur;

struct Args {
    data: PathBuf,
    runs: usize,
    schedules: usize,
}

fn args() -> Option<Args> {
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut a = Args {
        data: PathBuf::new(),
        runs: 20,
        schedules: 10,
    };
    let mut i = 0;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--data" => a.data = PathBuf::from(&v[i + 1]),
            "--runs" => a.runs = v[i + 1].parse().unwrap_or(20).max(4),
            "--schedules" => a.schedules = v[i + 1].parse().unwrap_or(10),
            other => eprintln!("ignored argument {other}"),
        }
        i += 2;
    }
    (!a.data.as_os_str().is_empty()).then_some(a)
}

fn ms_of(d: NaiveDate, h: u32) -> i64 {
    KL.from_local_datetime(&d.and_hms_opt(h, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// Adds the schedules, a year of occurrences and the ladder steps of the missed ones (once per database).
fn add_schedules(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = tapak::store::db::open_and_migrate(&a.data.join("tapak.db"))?;
    conn.execute_batch("PRAGMA synchronous = OFF;")?;
    let done: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [DONE_KEY],
            |r| r.get(0),
        )
        .ok();
    if done.is_some() {
        return Ok(());
    }
    let t = Instant::now();
    let sites: Vec<i64> = {
        let mut st = conn.prepare("SELECT id FROM sites ORDER BY id")?;
        let v = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        v
    };
    let tx = conn.transaction()?;
    let first = NaiveDate::from_ymd_opt(2025, 11, 1).unwrap_or_default();
    let mut n_occ = 0u64;
    let mut seed: u64 = 42;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % 100
    };
    for &site in &sites {
        for k in 0..a.schedules {
            let block = ["A", "B", "C", "D"][k % 4];
            tx.execute(
                "INSERT INTO schedules(name, site_id, category, location, assignees, rrule, window_minutes, \
                 photo_required, materialized_ms, created_at, updated_at) \
                 VALUES (?1, ?2, 'cleaning', ?3, ?4, 'RRULE:FREQ=DAILY', 120, 1, ?5, '2025-11-01T00:00:00Z', '2025-11-01T00:00:00Z')",
                params![
                    format!("Lobby {block} cleaning {k}"),
                    site,
                    format!("{{\"block\":\"{block}\"}}"),
                    format!("[{{\"name\":\"Cleaner {site}-{k}\",\"phone\":\"6012{site:03}{k:04}\"}}]"),
                    ms_of(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default(), 0),
                ],
            )?;
            let sched = tx.last_insert_rowid();
            let mut occ = tx.prepare_cached(
                "INSERT INTO occurrences(schedule_id, starts_at_ms, due_at_ms, status, reported_ms, settled) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 1)",
            )?;
            let mut step = tx.prepare_cached(
                "INSERT INTO ladder_steps(about_type, about_id, rung, recipient, purpose, text, at_ms, at) \
                 VALUES ('occurrence', ?1, 'remind', ?2, 'reminder', 'Lobby not reported', ?3, '')",
            )?;
            for day in 0..365 {
                let d = first + Duration::days(day);
                let starts = ms_of(d, 7 + (k % 8) as u32);
                let due = starts + 2 * 3_600_000;
                let r = rnd();
                let (status, reported) = match r {
                    0..=69 => ("fulfilled", Some(starts + 3_600_000)),
                    70..=79 => ("late", Some(due + 3_600_000)),
                    80..=89 => ("missed", None),
                    90..=94 => ("missing_photo", Some(starts + 1_800_000)),
                    _ => ("excused", None),
                };
                occ.execute(params![sched, starts, due, status, reported])?;
                n_occ += 1;
                if status == "missed" {
                    let id = tx.last_insert_rowid();
                    step.execute(params![id, format!("6012{site:03}{k:04}"), due + 900_000])?;
                }
            }
        }
    }
    tx.execute(
        "INSERT INTO settings(key, value) VALUES (?1, 'done')",
        params![DONE_KEY],
    )?;
    tx.commit()?;
    eprintln!(
        "added {} schedules and {n_occ} occurrences in {:.1} s",
        sites.len() * a.schedules,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn stats(name: &str, mut v: Vec<f64>, target: f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {target} |",
        v.len(),
        at(0.5),
        at(0.95),
        v[v.len() - 1]
    );
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(a) = args() else {
        eprintln!("usage: bench_reports --data DIR [--runs 20] [--schedules 10]  (DIR/tapak.db from bench_records)");
        std::process::exit(2);
    };
    add_schedules(&a)?;
    let db = tapak::store::Db::open(&a.data.join("tapak.db"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let now: DateTime<Utc> = "2026-11-01T00:00:00Z".parse()?;
    let opts = Options::default();
    let sites: Vec<i64> = rt.block_on(db.read(tapak::store::reports::site_ids))?;
    let counts: (i64, i64, i64) = rt.block_on(db.read(|c| {
        Ok(c.query_row(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM issues), (SELECT count(*) FROM occurrences)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }))?;
    println!(
        "database: {} sites, {} messages, {} tickets, {} occurrences",
        sites.len(),
        counts.0,
        counts.1,
        counts.2
    );
    let report = |kind: PeriodKind, day: NaiveDate, site: Option<String>| {
        let o = opts.clone();
        rt.block_on(db.read(move |c| {
            Ok(tapak::store::reports::report(
                c,
                kind,
                day,
                site.as_deref(),
                KL,
                now,
                &o,
            ))
        }))
    };
    println!("| case | runs | p50 ms | p95 ms | max ms | target ms |\n|---|---|---|---|---|---|");
    let oct = NaiveDate::from_ymd_opt(2026, 10, 15).unwrap_or_default();
    let mut v = vec![];
    for _ in 0..a.runs {
        let t = Instant::now();
        let r = report(PeriodKind::Monthly, oct, None)??;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(r);
    }
    stats("monthly report, firm (Oct 2026)", v, 500.0);
    let mut v = vec![];
    for i in 0..a.runs.max(50) {
        let site = sites[i % sites.len()];
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default()
            + Duration::days((i % 31) as i64);
        let t = Instant::now();
        let r = report(PeriodKind::Daily, day, Some(site.to_string()))??;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(r);
    }
    stats("daily report, one site", v, 50.0);
    let mut v = vec![];
    for i in 0..a.runs {
        let site = sites[i % sites.len()];
        let t = Instant::now();
        let r = report(PeriodKind::Monthly, oct, Some(site.to_string()))??;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(r);
    }
    stats("monthly report, one site", v, 500.0);
    let mut v = vec![];
    let rss_before = rss_kb();
    // Resets VmHWM to the current RSS (Linux), so the peak below is this step's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let mut bytes = 0;
    for _ in 0..(a.runs / 4).max(3) {
        let t = Instant::now();
        let r = report(PeriodKind::Monthly, oct, None)??;
        let x = tapak::reports::render::render(&r, tapak::reports::render::Format::Xlsx)?;
        bytes = x.len();
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    stats("XLSX, firm's month (report + file)", v, 2000.0);
    println!(
        "XLSX: {bytes} bytes; RSS before {} MB, peak during the XLSX runs {} MB{}",
        rss_before.unwrap_or(0) / 1024,
        peak_rss_kb().unwrap_or(0) / 1024,
        if reset {
            ""
        } else {
            " (peak not reset: the process's peak)"
        }
    );

    // The report screen over HTTP on the real appliance.
    let mut cfg = tapak::config::Config {
        data_dir: a.data.clone(),
        ..Default::default()
    };
    cfg.server.listen = "127.0.0.1:0".into();
    cfg.general.timezone = "Asia/Kuala_Lumpur".into();
    cfg.scheduler.tick_seconds = 86_400 * 365;
    cfg.reports.daily_time = String::new();
    cfg.reports.weekly_time = String::new();
    cfg.reports.monthly_time = String::new();
    db.close();
    rt.block_on(async {
        let clock = tapak::core::FakeClock::new(now);
        let app = tapak::app::App::build_with_clock(cfg, clock).await?;
        let url = app.base_url();
        let svc = app.pipeline();
        let token = tapak::auth::new_token();
        let h = tapak::auth::secret_hash(&token);
        svc.db
            .write(move |tx| tapak::store::users::create_token(tx, "bench-reports", "manager", &h))
            .await?;
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        let site = sites.first().copied().unwrap_or(1);
        let calls: Vec<(String, String)> = vec![
            (
                "GET /reports/daily (firm)".into(),
                "/api/v1/reports/daily?date=2026-10-14".into(),
            ),
            (
                "GET /reports/weekly (firm)".into(),
                "/api/v1/reports/weekly?date=2026-10-14".into(),
            ),
            (
                "GET /reports/monthly (firm)".into(),
                "/api/v1/reports/monthly?date=2026-10-14".into(),
            ),
            (
                "GET /reports/daily (site)".into(),
                format!("/api/v1/reports/daily?date=2026-10-14&site={site}"),
            ),
            (
                "GET /reports/weekly (site)".into(),
                format!("/api/v1/reports/weekly?date=2026-10-14&site={site}"),
            ),
            (
                "GET /reports/monthly (site)".into(),
                format!("/api/v1/reports/monthly?date=2026-10-14&site={site}"),
            ),
            ("GET /reports/files".into(), "/api/v1/reports/files".into()),
        ];
        for (name, path) in calls {
            let mut v = vec![];
            for _ in 0..a.runs {
                let t = Instant::now();
                let r = http
                    .get(format!("{url}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                let status = r.status();
                let body = r.bytes().await?;
                v.push(t.elapsed().as_secs_f64() * 1000.0);
                if !status.is_success() {
                    return Err(
                        format!("{path}: {status} {}", String::from_utf8_lossy(&body)).into(),
                    );
                }
            }
            stats(&name, v, 100.0);
        }
        let _ = stop.send(());
        done.await??;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

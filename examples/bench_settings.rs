//! The Settings and Dashboard pages' API calls over a year of a 50-site firm (issue 20: "each page's API calls answer
//! in under 100 ms p95").
//!
//! ```text
//! cargo run --release --example bench_records -- --db PATH      # builds the database once (see that example)
//! cargo run --release --example bench_settings -- --db PATH [--runs 50]
//! ```
//! Times, through `tapak::store::Db`'s pooled read-only connections, the store calls behind each request the two pages
//! make: `GET /dashboard` (today's message count, pending work, the chat list, the record counts, the open tickets),
//! and the settings sections' `GET /settings/connections` (the last delivery of each source), `/outbox` (the last 30
//! sends, the test sends), `/users`, `/tokens`, `/vendors` (with their people and open tickets), `/people`, `/sites`,
//! `/chats`, `/settings/sla`, `/settings/reminder-texts`. Each case `--runs` times after one warm-up; p50 / p95 / max.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rusqlite::Connection;
use tapak::message::Source;
use tapak::outbox::Purpose;
use tapak::store::{chats, evidence, ingest, messages, outbox, people, records, settings, users};
use tapak::store::{Db, StoreError};

const TARGET_MS: f64 = 100.0;
/// "Now": where bench_records' data ends (2026-11-01T00:00:00Z).
const NOW_MS: i64 = 1_793_491_200_000;
/// Local midnight (UTC+8) of the last day.
const TODAY_MS: i64 = NOW_MS - 8 * 3_600_000;

type Call = Box<dyn Fn(&Connection) -> Result<usize, StoreError>>;

fn time(db: &Db, name: &str, call: &Call, runs: usize) -> Result<f64, StoreError> {
    db.read_blocking(|c| call(c))?;
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        db.read_blocking(|c| call(c))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let (p50, p95, max) = (q(0.5), q(0.95), ms[ms.len() - 1]);
    let flag = if p95 > TARGET_MS { "  OVER" } else { "" };
    println!("  {name:<48} p50 {p50:>8.2}  p95 {p95:>8.2}  max {max:>8.2} ms{flag}");
    Ok(p95)
}

fn cases() -> Vec<(&'static str, Call)> {
    let open = || records::RecordFilter {
        open: Some(true),
        now_ms: NOW_MS,
        ..Default::default()
    };
    let sends = |purpose: Option<Purpose>, limit: usize| -> Call {
        Box::new(move |c| {
            let f = outbox::Filter {
                state: None,
                purpose,
                about_type: None,
                about_id: None,
                from_ms: None,
                to_ms: None,
                before_id: None,
            };
            Ok(outbox::list(c, &f, limit + 1)?.len())
        })
    };
    vec![
        (
            "GET /dashboard",
            Box::new(move |c| {
                let f = messages::MessageFilter {
                    from_ms: Some(TODAY_MS),
                    ..Default::default()
                };
                let n = messages::count_filtered(c, &f)?
                    + messages::count_pending(c)?
                    + evidence::count_by_status(c, "pending")?
                    + evidence::count_by_status(c, "failed")?;
                let chats = chats::list(c)?.len();
                let counts = records::counts(c, TODAY_MS, NOW_MS)?;
                let recent = records::list_issues(c, &open(), None, 10)?.0.len();
                Ok(usize::try_from(n).unwrap_or(0)
                    + chats
                    + recent
                    + usize::from(counts.open_issues >= 0))
            }),
        ),
        (
            "GET /settings/connections (last deliveries)",
            Box::new(|c| {
                let mut n = 0;
                for s in [Source::CloudApi, Source::Waha, Source::Evolution] {
                    n += usize::from(ingest::last_delivery(c, s)?.is_some());
                }
                Ok(n)
            }),
        ),
        (
            "GET /outbox?purpose=test&limit=5",
            sends(Some(Purpose::Test), 5),
        ),
        ("GET /outbox?limit=30", sends(None, 30)),
        ("GET /users", Box::new(|c| Ok(users::list(c)?.len()))),
        (
            "GET /tokens",
            Box::new(|c| Ok(users::list_tokens(c)?.len())),
        ),
        (
            "GET /vendors (people, open tickets)",
            Box::new(|c| Ok(chats::list_vendors(c)?.len())),
        ),
        ("GET /people", Box::new(|c| Ok(people::list(c)?.len()))),
        ("GET /sites", Box::new(|c| Ok(chats::list_sites(c)?.len()))),
        ("GET /chats", Box::new(|c| Ok(chats::list(c)?.len()))),
        (
            "GET /settings/sla",
            Box::new(|c| Ok(settings::sla_policy(c)?.rules.len())),
        ),
        (
            "GET /settings/reminder-texts",
            Box::new(|c| Ok(settings::get(c, settings::REMINDER_TEXTS)?.map_or(0, |t| t.len()))),
        ),
    ]
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut db, mut runs) = (None, 50usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => db = args.next().map(PathBuf::from),
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(50)
                    .max(1)
            }
            _ => {
                eprintln!("usage: bench_settings --db PATH [--runs N]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = db else {
        eprintln!("usage: bench_settings --db PATH [--runs N]");
        return ExitCode::from(2);
    };
    let run = || -> Result<usize, StoreError> {
        let db = Db::open(&path)?;
        println!("Settings and Dashboard pages, {runs} runs each (target p95 < {TARGET_MS} ms):");
        let mut over = 0;
        for (name, call) in cases() {
            if time(&db, name, &call, runs)? > TARGET_MS {
                over += 1;
            }
        }
        Ok(over)
    };
    match run() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("{n} calls over {TARGET_MS} ms p95");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("bench_settings: {e}");
            ExitCode::from(1)
        }
    }
}

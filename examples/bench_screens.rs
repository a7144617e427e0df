//! The Issues and Tasks screens' API calls over a year of a 50-site firm (issue 20: "each page's API calls answer in
//! under 100 ms p95").
//!
//! ```text
//! cargo run --release --example bench_records -- --db PATH      # builds the database once (see that example)
//! cargo run --release --example bench_screens -- --db PATH [--runs 50]
//! ```
//! Opens the database `bench_records` built (3,000,000 messages, ~112k tickets, ~557k task entries by default) and
//! times, through `tapak::store::Db`'s pooled read-only connections, the store functions each screen's requests run:
//! the issue list's first page with its totals under every filter and order the screen offers, the people, vendor and
//! site lists, one ticket with its history, a day of tasks (every page of 500, as the Tasks page loads them) with its
//! occurrences and schedules, and the filtered list as a download (rows read + XLSX written). Each case `--runs` times
//! with varied parameters after one warm-up run; p50 / p95 / max in ms.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::DateTime;
use rusqlite::Connection;
use tapak::records::export::{self, Cell, Sheet};
use tapak::store::records::{self, IssueSort, RecordFilter};
use tapak::store::{chats, occurrences, people, schedules, Db, StoreError};

const TARGET_MS: f64 = 100.0;
/// "Now" of every query: where bench_records' data ends.
const END: &str = "2026-11-01T00:00:00Z";
const DAY_MS: i64 = 86_400_000;
/// Local midnight (UTC+8) before END.
const TZ_OFFSET_MS: i64 = 8 * 3_600_000;

type Call = Box<dyn Fn(&Connection, usize) -> Result<usize, StoreError>>;

fn end_ms() -> i64 {
    DateTime::parse_from_rfc3339(END)
        .map(|d| d.timestamp_millis())
        .unwrap_or_default()
}

/// The local day `i` days before the end: (first ms, last ms).
fn day(i: usize) -> (i64, i64) {
    let start = end_ms() - TZ_OFFSET_MS - (1 + (i % 60) as i64) * DAY_MS;
    (start, start + DAY_MS - 1)
}

fn stats(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.95), ms[ms.len() - 1])
}

/// Times `call` `runs` times (after a warm-up) and prints its line; returns p95.
fn time(db: &Db, name: &str, call: &Call, runs: usize) -> Result<f64, StoreError> {
    db.read_blocking(|c| call(c, runs))?;
    let mut ms = Vec::with_capacity(runs);
    let mut rows = 0;
    for i in 0..runs {
        let t = Instant::now();
        rows += db.read_blocking(|c| call(c, i))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p95, max) = stats(ms);
    let flag = if p95 > TARGET_MS { "  OVER" } else { "" };
    println!(
        "  {name:<58} p50 {p50:>8.2}  p95 {p95:>8.2}  max {max:>8.2} ms  ({:.0} rows){flag}",
        rows as f64 / runs as f64
    );
    Ok(p95)
}

fn run(db_path: PathBuf, runs: usize) -> Result<(), StoreError> {
    let db = Db::open(&db_path)?;
    let (sites, persons, vendors, max_issue) = db.read_blocking(|c| {
        let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok((
            n("SELECT count(*) FROM sites")?,
            n("SELECT count(*) FROM people")?,
            n("SELECT count(*) FROM vendors")?,
            n("SELECT max(id) FROM issues")?,
        ))
    })?;
    if sites == 0 || max_issue == 0 {
        return Err(StoreError::Invalid(
            "no data: build the database with the bench_records example first".into(),
        ));
    }
    // Ticket ids to open: the newest ticket of a spread of chats.
    let tickets: Vec<i64> = db.read_blocking(|c| {
        let mut st = c.prepare("SELECT max(id) FROM issues GROUP BY chat_id ORDER BY chat_id")?;
        let v = st
            .query_map([], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    })?;
    let now = end_ms();
    let rf = move || RecordFilter {
        now_ms: now,
        ..RecordFilter::default()
    };
    let site = move |i: usize| Some((i as i64 * 7) % sites + 1);
    // The issue list's first page as the screen asks for it: 50 rows and the totals.
    let page = |f: RecordFilter, sort: IssueSort| -> Call {
        Box::new(move |c, _| {
            let (items, _) = records::list_issues_sorted(c, &f, sort, None, 50)?;
            let t = records::issue_totals(c, &f)?;
            Ok(items.len() + usize::from(t.all >= 0))
        })
    };
    let page_i = |make: Box<dyn Fn(usize) -> RecordFilter>, sort: IssueSort| -> Call {
        Box::new(move |c, i| {
            let f = make(i);
            let (items, _) = records::list_issues_sorted(c, &f, sort, None, 50)?;
            let t = records::issue_totals(c, &f)?;
            Ok(items.len() + usize::from(t.all >= 0))
        })
    };
    let words = ["toilet", "lampu", "lift", "sprinkler", "bocor"];
    let blocks = ["A", "B", "C", "D"];
    let issues_page: Vec<(&str, Call)> = vec![
        (
            "issues: first page + totals, no filter",
            page(rf(), IssueSort::Newest),
        ),
        (
            "issues: site",
            page_i(
                Box::new(move |i| RecordFilter {
                    site: site(i),
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: location (block word)",
            page_i(
                Box::new(move |i| RecordFilter {
                    location: vec![blocks[i % 4].into()],
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: site + location",
            page_i(
                Box::new(move |i| RecordFilter {
                    site: site(i),
                    location: vec![blocks[i % 4].into()],
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: text (common and rare words)",
            page_i(
                Box::new(move |i| RecordFilter {
                    text: Some(words[i % words.len()].into()),
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: site + text",
            page_i(
                Box::new(move |i| RecordFilter {
                    site: site(i),
                    text: Some(words[i % words.len()].into()),
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: owner",
            page_i(
                Box::new(move |i| RecordFilter {
                    owner: Some((i as i64 * 37) % persons + 1),
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: vendor",
            page_i(
                Box::new(move |i| RecordFilter {
                    vendor: Some((i as i64) % vendors.max(1) + 1),
                    ..rf()
                }),
                IssueSort::Newest,
            ),
        ),
        (
            "issues: overdue now",
            page(
                RecordFilter {
                    overdue: Some(true),
                    ..rf()
                },
                IssueSort::Newest,
            ),
        ),
        (
            "issues: was late once",
            page(
                RecordFilter {
                    breached: Some(true),
                    overdue: Some(false),
                    ..rf()
                },
                IssueSort::Newest,
            ),
        ),
        (
            "issues: one month",
            page_i(
                Box::new(move |i| {
                    let (from, _) = day(i);
                    RecordFilter {
                        from_ms: Some(from - 30 * DAY_MS),
                        to_ms: Some(from),
                        ..rf()
                    }
                }),
                IssueSort::Newest,
            ),
        ),
        ("issues: most urgent first", page(rf(), IssueSort::Priority)),
        ("issues: deadline soonest", page(rf(), IssueSort::Deadline)),
        (
            "issues: site, oldest first",
            page_i(
                Box::new(move |i| RecordFilter {
                    site: site(i),
                    ..rf()
                }),
                IssueSort::Oldest,
            ),
        ),
        (
            "people list (owner picker, assign dialog)",
            Box::new(|c, _| Ok(people::list(c)?.len())),
        ),
        (
            "vendor list",
            Box::new(|c, _| Ok(chats::list_vendors(c)?.len())),
        ),
        (
            "site list",
            Box::new(|c, _| Ok(chats::list_sites(c)?.len())),
        ),
    ];
    let tk = tickets.clone();
    let tk2 = tickets.clone();
    let detail: Vec<(&str, Call)> = vec![
        (
            "issue: one ticket (GET /issues/{id})",
            Box::new(move |c, i| {
                let id = tk[(i * 31) % tk.len()];
                let at = DateTime::from_timestamp_millis(now).unwrap_or_default();
                Ok(records::issue_detail(c, id, at)?.timeline.len())
            }),
        ),
        (
            "issue: its history (GET /issues/{id}/timeline)",
            Box::new(move |c, i| Ok(records::issue_history(c, tk2[(i * 31) % tk2.len()])?.len())),
        ),
    ];
    // The Tasks page loads every task of the day (pages of 500), the day's occurrences, the schedules and people.
    let all_tasks = move |f: RecordFilter, c: &Connection| -> Result<usize, StoreError> {
        let mut n = 0;
        let mut cur = None;
        for _ in 0..40 {
            let (items, next) = records::list_tasks(c, &f, cur, 500)?;
            n += items.len();
            match next {
                Some(x) => cur = Some(x),
                None => break,
            }
        }
        Ok(n)
    };
    // Every task of `days` days ending with day `i`, with the filter `tweak` makes.
    let tasks_of =
        move |days: i64, tweak: Box<dyn Fn(usize, RecordFilter) -> RecordFilter>| -> Call {
            Box::new(move |c, i| {
                let (from, to) = day(i);
                let f = RecordFilter {
                    from_ms: Some(from - (days - 1) * DAY_MS),
                    to_ms: Some(to),
                    ..rf()
                };
                all_tasks(tweak(i, f), c)
            })
        };
    let tasks_page: Vec<(&str, Call)> = vec![
        (
            "tasks: a day, every site (all pages)",
            tasks_of(1, Box::new(|_, f| f)),
        ),
        (
            "tasks: a day, one site",
            tasks_of(1, Box::new(move |i, f| RecordFilter { site: site(i), ..f })),
        ),
        (
            "tasks: a day, one site, no photo",
            tasks_of(
                1,
                Box::new(move |i, f| RecordFilter {
                    site: site(i),
                    photo: Some(false),
                    ..f
                }),
            ),
        ),
        (
            "tasks: a week, one block, every site",
            tasks_of(
                7,
                Box::new(move |i, f| RecordFilter {
                    block: Some(blocks[i % 4].into()),
                    ..f
                }),
            ),
        ),
        (
            "occurrences of the day",
            Box::new(move |c, i| {
                let (from, to) = day(i);
                let f = occurrences::Filter {
                    from_ms: Some(from),
                    to_ms: Some(to),
                    ..occurrences::Filter::default()
                };
                Ok(occurrences::list(c, &f, None, 500)?.len())
            }),
        ),
        (
            "schedules",
            Box::new(|c, _| Ok(schedules::list(c, None)?.len())),
        ),
    ];
    println!(
        "database {} ({sites} sites, {persons} people, {vendors} vendors, {} chats with tickets); {runs} runs per case",
        db_path.display(),
        tickets.len()
    );
    let mut over = vec![];
    for (title, group) in [
        ("Issues page", &issues_page),
        ("Issue page", &detail),
        ("Tasks page", &tasks_page),
    ] {
        println!("{title}:");
        for (name, call) in group {
            if time(&db, name, call, runs)? > TARGET_MS {
                over.push(*name);
            }
        }
    }
    // The download: every ticket of a month (all sites), read and written as XLSX and CSV.
    println!("Download (not a page call; for scale):");
    let export_call = |xlsx: bool| -> Call {
        Box::new(move |c, i| {
            let (from, _) = day(i);
            let f = RecordFilter {
                from_ms: Some(from - 30 * DAY_MS),
                to_ms: Some(from),
                ..rf()
            };
            let mut rows = vec![];
            let mut cur = None;
            loop {
                let (items, next) =
                    records::list_issues_sorted(c, &f, IssueSort::Newest, cur, 500)?;
                rows.extend(items);
                match next {
                    Some(x) => cur = Some(x),
                    None => break,
                }
            }
            let sheet = Sheet {
                name: "Issues",
                columns: vec![
                    "ID", "Title", "Status", "Priority", "Category", "Site", "Owner", "Messages",
                    "Photos",
                ],
                rows: rows
                    .iter()
                    .map(|r| {
                        vec![
                            Cell::Int(r.id),
                            Cell::Text(r.title.clone()),
                            Cell::Text(r.status.clone()),
                            Cell::Text(r.priority.clone().unwrap_or_default()),
                            Cell::Text(r.category.clone().unwrap_or_default()),
                            Cell::Text(r.site.as_ref().map(|s| s.name.clone()).unwrap_or_default()),
                            Cell::Text(
                                r.owner
                                    .as_ref()
                                    .and_then(|p| p.name.clone())
                                    .unwrap_or_default(),
                            ),
                            Cell::Int(r.messages),
                            Cell::Int(r.photos),
                        ]
                    })
                    .collect(),
            };
            let bytes = if xlsx {
                export::xlsx(&sheet)
            } else {
                export::csv(&sheet)
            }
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok(rows.len() + usize::from(bytes.is_empty()))
        })
    };
    time(
        &db,
        "issues of a month as XLSX",
        &export_call(true),
        runs.min(10),
    )?;
    time(
        &db,
        "issues of a month as CSV",
        &export_call(false),
        runs.min(10),
    )?;
    db.close();
    if over.is_empty() {
        println!("\nverdict: every page call's p95 is under {TARGET_MS} ms");
    } else {
        println!("\nverdict: over {TARGET_MS} ms at p95: {}", over.join("; "));
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut db = None;
    let mut runs = 50usize;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--db", Some(v)) => db = Some(PathBuf::from(v)),
            ("--runs", Some(v)) => match v.parse() {
                Ok(n) if n > 0 => runs = n,
                _ => {
                    eprintln!("bench_screens: --runs must be a positive number");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("usage: bench_screens --db PATH [--runs 50]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(db) = db.filter(|p| p.exists()) else {
        eprintln!(
            "bench_screens: --db PATH of a database built by the bench_records example is required"
        );
        return ExitCode::from(2);
    };
    match run(db, runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_screens: {e}");
            ExitCode::FAILURE
        }
    }
}

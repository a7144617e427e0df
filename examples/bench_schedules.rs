//! The scheduler on a 50-site firm with 2,000 schedules (issue 18: a tick under 50 ms; a day's occurrences for every
//! site under 200 ms).
//!
//! ```text
//! cargo run --release --example bench_schedules -- [--db PATH] [--sites 50] [--schedules 2000] [--ticks 120]
//! ```
//! 1. Builds a fresh database (PATH, default a temporary directory): sites, 3 chats each, schedules (one in five a
//!    patrol every two hours with four checkpoints, the rest daily cleaning at staggered hours with a 2 h window,
//!    reminders and escalations), and task-log entries for the day (two in three cleaning occurrences reported, some
//!    late or without a photo).
//! 2. Runs the first tick of the day (materialises 36 h of occurrences), then `--ticks` ticks 30 s apart through the
//!    working morning, through `tapak::scheduler::tick` (the app's code path), and prints p50 / p95 / max in ms.
//! 3. Lists the day's occurrences of every site (`store::occurrences::list`, up to 500 per site) and prints the total.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::params;
use tapak::schedule::{Assignee, Checkpoint, Person, ScheduleSpec};
use tapak::store::occurrences::{self, Filter};
use tapak::store::schedules::{self, ScheduleRow};
use tapak::store::{Db, StoreError};

struct Args {
    db: Option<PathBuf>,
    sites: usize,
    schedules: usize,
    ticks: usize,
}

fn args() -> Args {
    let mut a = Args {
        db: None,
        sites: 50,
        schedules: 2000,
        ticks: 120,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < v.len() {
        let n = v[i + 1].parse().unwrap_or(0);
        match v[i].as_str() {
            "--db" => a.db = Some(PathBuf::from(&v[i + 1])),
            "--sites" => a.sites = n.max(1),
            "--schedules" => a.schedules = n.max(1),
            "--ticks" => a.ticks = n.max(1),
            other => eprintln!("ignored argument {other}"),
        }
        i += 2;
    }
    a
}

fn kl(h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Kuala_Lumpur
        .with_ymd_and_hms(2026, 12, 7, h, m, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn spec(i: usize, site: i64, chat: i64) -> ScheduleRow {
    let patrol = i.is_multiple_of(5);
    let block = ["A", "B", "C", "D", "E", "F"][i % 6];
    let hour = 6 + (i % 10);
    let rrule = if patrol {
        "DTSTART;TZID=Asia/Kuala_Lumpur:20261101T000000\nRRULE:FREQ=HOURLY;INTERVAL=2".to_string()
    } else {
        format!("DTSTART;TZID=Asia/Kuala_Lumpur:20261101T{hour:02}0000\nRRULE:FREQ=DAILY")
    };
    ScheduleRow {
        spec: ScheduleSpec {
            name: format!("Schedule {i}"),
            site: None,
            category: if patrol { "security" } else { "cleaning" }.into(),
            location: serde_json::from_value(serde_json::json!({ "block": block }))
                .unwrap_or_default(),
            assignees: vec![Assignee::Person(Person {
                name: None,
                phone: format!("6012{:07}", i),
                language: None,
            })],
            chat: None,
            rrule,
            window_minutes: if patrol { 60 } else { 120 },
            photo_required: !patrol,
            remind_after_minutes: Some(15),
            escalate_after_minutes: Some(60),
            escalate_to: vec![Person {
                name: None,
                phone: format!("6019{:07}", site),
                language: None,
            }],
            checkpoints: if patrol {
                (1..=4)
                    .map(|k| Checkpoint {
                        code: format!("CP{k}"),
                        name: format!("Point {k}"),
                    })
                    .collect()
            } else {
                vec![]
            },
        },
        site_id: Some(site),
        chat_id: Some(chat),
        route: None,
        audience: None,
    }
}

fn build(db: &Db, a: &Args) -> Result<(), StoreError> {
    let (sites, n) = (a.sites, a.schedules);
    let start = kl(0, 0).timestamp_millis();
    db.write_blocking(move |tx| {
        let now = tapak::store::now_str();
        let mut chats = vec![];
        for s in 0..sites {
            tx.execute(
                "INSERT INTO sites(name, created_at) VALUES (?1, ?2)",
                params![format!("Site {s}"), now],
            )?;
            let site = tx.last_insert_rowid();
            for c in 0..3 {
                tx.execute(
                    "INSERT INTO chats(source, external_id, name, is_group, site_id, created_at) \
                     VALUES ('waha', ?1, ?2, 1, ?3, ?4)",
                    params![format!("1203{s:04}{c}@g.us"), format!("Site {s} chat {c}"), site, now],
                )?;
                chats.push((site, tx.last_insert_rowid()));
            }
        }
        for i in 0..n {
            let (site, chat) = chats[i % chats.len()];
            let row = spec(i, site, chat);
            schedules::insert(tx, &row, start)?;
            // Two in three cleaning occurrences reported today, in the chat, an hour after the start.
            if !i.is_multiple_of(5) && !i.is_multiple_of(3) {
                let hour = 6 + (i % 10) as u32;
                let at = kl(hour, 0) + Duration::minutes(if i.is_multiple_of(7) { 150 } else { 60 });
                let block = ["A", "B", "C", "D", "E", "F"][i % 6];
                tx.execute(
                    "INSERT INTO tasks(id, chat_id, status, category, location, block, reported_at, reported_ms, \
                     updated_at) VALUES (?1, ?2, 'done', 'cleaning', ?3, ?4, ?5, ?6, ?5)",
                    params![
                        1_000_000 + i as i64,
                        chat,
                        format!("{{\"block\":\"{block}\"}}"),
                        block,
                        tapak::store::fmt_time(at),
                        at.timestamp_millis()
                    ],
                )?;
            }
        }
        Ok(())
    })
}

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (n={})",
        at(0.5),
        at(0.95),
        at(1.0),
        v.len()
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let tmp = tempfile::tempdir()?;
    let path = a.db.clone().unwrap_or_else(|| tmp.path().join("bench.db"));
    let db = Db::open(&path)?;
    let t = Instant::now();
    build(&db, &a)?;
    eprintln!(
        "built {} sites, {} schedules in {:.1} s",
        a.sites,
        a.schedules,
        t.elapsed().as_secs_f64()
    );
    let set = tapak::scheduler::Settings {
        tz: chrono_tz::Asia::Kuala_Lumpur,
        public_url: String::new(),
        summary_time: None,
        summary_to: vec![],
        language: tapak::outbox::texts::Lang::En,
        reports: tapak::scheduler::report_files::Settings::off(chrono_tz::Asia::Kuala_Lumpur),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let first = rt.block_on(tapak::scheduler::tick(&db, &set, kl(6, 0)))?;
    println!(
        "first tick (materialise 36 h): {:.1} ms, {first:?}",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut times = vec![];
    let mut steps = 0;
    for k in 0..a.ticks {
        let now = kl(8, 0) + Duration::seconds(30 * k as i64);
        let t = Instant::now();
        let s = rt.block_on(tapak::scheduler::tick(&db, &set, now))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        steps += s.steps;
    }
    println!(
        "tick every 30 s from 08:00: {} ({steps} ladder steps)",
        stats(times)
    );
    // A busy hour later: every morning occurrence is due or past due.
    let mut times = vec![];
    for k in 0..a.ticks {
        let now = kl(13, 0) + Duration::seconds(30 * k as i64);
        let t = Instant::now();
        rt.block_on(tapak::scheduler::tick(&db, &set, now))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("tick every 30 s from 13:00: {}", stats(times));
    let (from, to) = (kl(0, 0).timestamp_millis(), kl(23, 59).timestamp_millis());
    let mut times = vec![];
    for _ in 0..5 {
        let sites = a.sites as i64;
        let t = Instant::now();
        let n = rt.block_on(db.read(move |c| {
            let mut n = 0;
            for site in 1..=sites {
                let f = Filter {
                    from_ms: Some(from),
                    to_ms: Some(to),
                    site: Some(site),
                    ..Default::default()
                };
                n += occurrences::list(c, &f, None, 500)?.len();
            }
            Ok(n)
        }))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        eprintln!("{n} occurrences listed");
    }
    println!("a day's occurrences for every site: {}", stats(times));
    db.close();
    Ok(())
}

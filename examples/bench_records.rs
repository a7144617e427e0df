//! Listing and filtering records over a year of a 50-site firm (issue 5: "answers in under 50 ms").
//!
//! ```text
//! cargo run --release --example bench_records -- --db PATH [--sites 50] [--messages 3000000] [--seed 1]
//!     [--runs 50] [--fix] [--keep-fixes] [--explain-all]
//! ```
//! 1. Builds a realistic database at PATH through `tapak::store::db::open_and_migrate` (direct INSERTs in big
//!    transactions; this is data generation, not what is measured), or reuses it when it was built with the same
//!    parameters: sites, ~3 chats per site, ~8 people per site, one year of messages with a daily and weekly rhythm,
//!    a realistic mix of kinds and types, texts of 20–200 characters, evidence rows for media, issue tickets (~4% of
//!    messages) with statuses, SLA deadlines, owners and repeats, task-log entries (~20%), record links on messages and
//!    evidence, and the full-text index.
//! 2. Times the real store functions (`records::list_issues`, `list_tasks`, `counts`, `messages::list`, `search`, and
//!    the reads of the dashboard) through `tapak::store::Db` (its pooled read-only connections), each `--runs` times
//!    with varied parameters, and prints p50 / p95 / max in ms.
//! 3. For each query whose p95 is over the 50 ms target (or all with `--explain-all`) prints the exact SQL the store
//!    ran (captured with `sqlite3_trace_v2`) and its `EXPLAIN QUERY PLAN`.
//! 4. With `--fix`, creates the candidate indexes of [`FIXES`] on the benchmark database, measures again and prints
//!    both numbers side by side (the indexes are dropped afterwards unless `--keep-fixes`).
//! 5. Also times [`search_proposed`], a prototype of a faster `messages::search` (a query change, no schema change),
//!    after checking that it returns the same ids, order and snippets as the store.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_uint, c_void, CStr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rusqlite::{ffi, params, Connection};
use tapak::store::messages::{self, Cursor, MessageFilter};
use tapak::store::records::{self, RecordFilter};
use tapak::store::{chats, evidence, Db, StoreError};

const TARGET_MS: f64 = 50.0;
const PARAMS_KEY: &str = "bench_records_params";
/// The data ends here; "now" of every query (SLA breaches, today's counts).
const END: &str = "2026-11-01T00:00:00Z";
const DAY_MS: i64 = 86_400_000;
/// Local time of the sites (UTC+8) for the daily rhythm.
const TZ_OFFSET_MS: i64 = 8 * 3_600_000;

/// A word in ~5% of messages and one in ~0.03%, for the full-text cases.
const COMMON_WORD: &str = "toilet";
const RARE_WORD: &str = "sprinkler";

/// Candidate fixes prototyped with `--fix`: (index name, CREATE statement).
const FIXES: &[(&str, &str)] = &[
    // Open issues (open=true filters, open/overdue counts): a partial index over the few open tickets, in list order.
    (
        "bench_fix_issues_open_time",
        "CREATE INDEX bench_fix_issues_open_time ON issues(opened_ms DESC, id DESC) WHERE status NOT IN ('resolved','closed')",
    ),
    // Dashboard media counts (`evidence::count_by_status`).
    ("bench_fix_evidence_status", "CREATE INDEX bench_fix_evidence_status ON evidence(status)"),
    // Person filters on issues (reported_by OR owner_id) and tasks.
    (
        "bench_fix_issues_reported_time",
        "CREATE INDEX bench_fix_issues_reported_time ON issues(reported_by, opened_ms DESC, id DESC)",
    ),
    (
        "bench_fix_issues_owner_time",
        "CREATE INDEX bench_fix_issues_owner_time ON issues(owner_id, opened_ms DESC, id DESC)",
    ),
    (
        "bench_fix_tasks_reported_time",
        "CREATE INDEX bench_fix_tasks_reported_time ON tasks(reported_by, reported_ms DESC, id DESC)",
    ),
    // Time-ordered walks that filter by site (search with a site filter, lists by site): the chat id in the time
    // index spares a table read per row (would replace messages_time, same order).
    (
        "bench_fix_messages_time_chat",
        "CREATE INDEX bench_fix_messages_time_chat ON messages(sent_ms DESC, id DESC, chat_id)",
    ),
    // Message lists filtered by kind (e.g. the issue reports of a site).
    (
        "bench_fix_messages_kind_time",
        "CREATE INDEX bench_fix_messages_kind_time ON messages(kind, sent_ms DESC, id DESC)",
    ),
];

/// `messages::SELECT` (private in the store), for the search prototype.
const MSG_SELECT: &str = "SELECT m.id, m.chat_id, c.name, m.sender_id, p.name, p.phone, m.sent_at, m.type, m.text, m.edited, \
    m.deleted, m.from_me, m.kind, m.classification, m.record_type, m.record_id, m.link_reason, m.source, m.reply_to, m.sent_ms \
    FROM messages m JOIN chats c ON c.id = m.chat_id LEFT JOIN people p ON p.id = m.sender_id";

/// Matches counted before choosing the search plan (see [`search_proposed`]).
const SEARCH_PROBE: i64 = 5000;

/// Prototype of a faster `messages::search` (same results, same order, same snippets):
/// 1. probe how many messages match (counting at most SEARCH_PROBE, ~1 ms);
/// 2. selective query: FTS first (`m.id IN (matches)`, a primary-key lookup per match, then sort) as today;
///    common query: time first (`+m.id IN (matches)`: the unary `+` stops SQLite from driving the loop from the match
///    list, so it walks `messages_time` newest first and stops after the page; the match list is built once);
/// 3. snippets: join the page back to `messages_fts` restricted to the page's rowid range, instead of the current
///    join that walks every match of the query again.
fn search_proposed(
    c: &Connection,
    q: &str,
    site: Option<i64>,
    limit: usize,
) -> Result<Vec<(i64, String)>, StoreError> {
    let Some(fq) = messages::fts_query(q) else {
        return Ok(vec![]);
    };
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ?1 LIMIT ?2)")?
        .query_row(params![fq, SEARCH_PROBE], |r| r.get(0))?;
    let membership = if n < SEARCH_PROBE { "m.id" } else { "+m.id" };
    let site_w = if site.is_some() {
        "AND c.site_id = ?2"
    } else {
        ""
    };
    let sql = format!(
        "WITH sub AS MATERIALIZED ({MSG_SELECT} WHERE {membership} IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1) \
         {site_w} ORDER BY m.sent_ms DESC, m.id DESC LIMIT {}) \
         SELECT sub.id, snippet(messages_fts, 0, '«', '»', '…', 12) FROM messages_fts JOIN sub ON sub.id = messages_fts.rowid \
         WHERE messages_fts MATCH ?1 AND messages_fts.rowid >= (SELECT min(id) FROM sub) \
         AND messages_fts.rowid <= (SELECT max(id) FROM sub) ORDER BY sub.sent_ms DESC, sub.id DESC",
        limit + 1
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows: Vec<(i64, String)> = match site {
        Some(s) => st
            .query_map(params![fq, s], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?,
        None => st
            .query_map(params![fq], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?,
    };
    // Media ids per message, as `messages::search` attaches them.
    let mut ev =
        c.prepare_cached("SELECT id FROM evidence WHERE message_id = ?1 ORDER BY ordinal")?;
    for (id, _) in rows.iter().take(limit) {
        let _media: Vec<i64> = ev
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(rows.into_iter().take(limit).collect())
}

/// Checks the prototype returns what the store returns (ids, order and snippets).
fn check_search_proposed(c: &Connection, q: &str, site: Option<i64>) -> Result<bool, StoreError> {
    let f = MessageFilter {
        site,
        ..MessageFilter::default()
    };
    let store: Vec<(i64, String)> = messages::search(c, q, &f, None, 50)?
        .0
        .into_iter()
        .map(|m| (m.id, m.snippet.unwrap_or_default()))
        .collect();
    Ok(store == search_proposed(c, q, site, 50)?)
}

// ---------------------------------------------------------------------------------------------------------------
// Arguments

struct Args {
    db: PathBuf,
    sites: usize,
    messages: usize,
    seed: u64,
    runs: usize,
    fix: bool,
    keep_fixes: bool,
    explain_all: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        db: PathBuf::new(),
        sites: 50,
        messages: 3_000_000,
        seed: 1,
        runs: 50,
        fix: false,
        keep_fixes: false,
        explain_all: false,
    };
    let mut db = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name}: missing value"));
        match arg.as_str() {
            "--db" => db = Some(PathBuf::from(val("--db")?)),
            "--sites" => a.sites = num(&val("--sites")?, "--sites")?,
            "--messages" => a.messages = num(&val("--messages")?, "--messages")?,
            "--seed" => a.seed = num(&val("--seed")?, "--seed")? as u64,
            "--runs" => a.runs = num(&val("--runs")?, "--runs")?,
            "--fix" => a.fix = true,
            "--keep-fixes" => a.keep_fixes = true,
            "--explain-all" => a.explain_all = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    a.db = db.ok_or("--db PATH is required")?;
    if a.sites == 0 || a.messages < 1000 || a.runs == 0 {
        return Err("--sites and --runs must be positive, --messages at least 1000".into());
    }
    Ok(a)
}

fn num(s: &str, name: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| format!("{name}: not a number: {s:?}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic generator

/// xorshift64* — small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// Index into `weights` with probability proportional to the weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return i;
            }
            x -= w as u64;
        }
        weights.len() - 1
    }
}

const CATEGORIES: [&str; 11] = [
    "cleaning",
    "security",
    "plumbing",
    "electrical",
    "lift",
    "hvac",
    "pest",
    "landscaping",
    "waste",
    "civil",
    "other",
];
const CATEGORY_WEIGHTS: [u32; 11] = [24, 8, 16, 12, 6, 9, 5, 7, 6, 5, 2];
const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];
const PRIORITY_WEIGHTS: [u32; 4] = [5, 20, 60, 15];
/// Minutes to respond, hours to resolve, by priority.
const SLA_RESPOND_MIN: [i64; 4] = [30, 120, 240, 1440];
const SLA_RESOLVE_H: [i64; 4] = [4, 24, 72, 168];

/// Words by category (for issue/task texts) — Malaysian facility-operations register.
const CAT_WORDS: [&[&str]; 11] = [
    &[
        "mop", "lantai", "sapu", "lobby", "koridor", "cuci", "kotor", "tumpah", "habuk", "cermin",
    ],
    &[
        "guard",
        "pintu pagar",
        "cctv",
        "patrol",
        "kad akses",
        "pelawat",
        "alarm",
        "kunci",
    ],
    &[
        "paip",
        "bocor",
        "choke",
        "sinki",
        "air naik",
        "pam",
        "tandas",
        "longkang",
        "meter air",
    ],
    &[
        "lampu",
        "suis",
        "wiring",
        "trip",
        "DB",
        "lampu koridor",
        "soket",
        "blackout",
    ],
    &[
        "lift",
        "lif",
        "stuck",
        "pintu lift",
        "butang lift",
        "lift rosak",
        "lift car",
    ],
    &[
        "aircond",
        "aircon",
        "chiller",
        "AHU",
        "kipas",
        "panas",
        "compressor",
        "filter",
    ],
    &[
        "lipas",
        "tikus",
        "semut",
        "fogging",
        "anai-anai",
        "nyamuk",
        "umpan",
    ],
    &[
        "rumput",
        "pokok",
        "potong rumput",
        "baja",
        "daun",
        "tanaman",
        "siram",
    ],
    &[
        "sampah",
        "tong sampah",
        "bin centre",
        "lori sampah",
        "recycle",
        "bau busuk",
    ],
    &[
        "siling", "retak", "jubin", "cat", "dinding", "bumbung", "tangga", "pagar",
    ],
    &["parking", "notis", "penghuni", "bil", "meeting"],
];

const AREAS: [&str; 12] = [
    "lobby",
    "carpark",
    "pool",
    "gym",
    "playground",
    "guardhouse",
    "bin centre",
    "rooftop",
    "surau",
    "corridor",
    "staircase",
    "multipurpose hall",
];

const FILLER: [&str; 40] = [
    "ok",
    "noted",
    "baik",
    "terima kasih",
    "tq",
    "nanti sy check",
    "sudah",
    "pagi tadi",
    "petang ni",
    "boss",
    "tolong",
    "segera",
    "please",
    "sekarang",
    "dah siap",
    "follow up",
    "vendor datang",
    "esok pagi",
    "blok",
    "tingkat",
    "unit",
    "area",
    "gambar",
    "report",
    "update",
    "masih",
    "lagi",
    "belum",
    "kena",
    "tengok",
    "check balik",
    "supervisor",
    "team",
    "shift malam",
    "shift pagi",
    "untuk",
    "dengan",
    "di",
    "ke",
    "dari",
];

const CHATTER: [&str; 16] = [
    "Selamat pagi semua",
    "Ok noted boss",
    "Terima kasih team 👍",
    "Baik puan",
    "Meeting pukul 3 petang di pejabat",
    "Sila hantar attendance sebelum 9 pagi",
    "Good morning all",
    "Noted with thanks",
    "Jangan lupa pakai uniform",
    "Hari ni cuti umum, shift ikut jadual",
    "Siapa on duty malam ni?",
    "Tq semua, kerja bagus",
    "Esok ada inspection dari management",
    "Ok sy on the way",
    "Baik, nanti sy inform",
    "Ada sesiapa nampak kunci stor?",
];

const TASK_VERBS: [&str; 10] = [
    "Siap",
    "Dah siap",
    "Selesai",
    "Done",
    "Completed",
    "Sudah buat",
    "Tengah buat",
    "Sedang",
    "Started",
    "Belum boleh buat",
];
const ISSUE_OPENERS: [&str; 10] = [
    "Ada masalah",
    "Report:",
    "Tolong check",
    "Urgent!",
    "Rosak",
    "Complaint penghuni",
    "Boss, ada",
    "Pls check",
    "Penghuni complain",
    "Issue:",
];
const UPDATES: [&str; 8] = [
    "Vendor dah sampai, tengah check",
    "Masih belum siap, tunggu part",
    "Sy dah inform vendor",
    "Technician on the way",
    "Update: dalam proses",
    "Esok vendor datang sambung",
    "Dah tengok, kena tukar part",
    "Ok noted, will follow up",
];
const RESOLVED: [&str; 6] = [
    "Dah settle ✅",
    "Sudah dibaiki",
    "Fixed, boleh guna semula",
    "Resolved, gambar after",
    "Selesai, vendor dah tukar",
    "Siap repair",
];
const FIRST: [&str; 24] = [
    "Ali", "Siti", "Ahmad", "Nurul", "Raju", "Muthu", "Mei Ling", "Tan", "Rosnah", "Yanti",
    "Hafiz", "Aishah", "Kumar", "Lim", "Farid", "Zul", "Devi", "Wong", "Azman", "Ros", "Ismail",
    "Priya", "Chong", "Faizal",
];
const ROLE: [&str; 10] = [
    "Supervisor",
    "Cleaner",
    "Guard",
    "Technician",
    "BM",
    "Landscape",
    "Vendor Aircond",
    "Admin",
    "Plumber",
    "Electrician",
];

/// Kinds of a text (or captioned media) message; weights in per mille.
#[derive(Clone, Copy, PartialEq)]
enum K {
    Chatter,
    CheckIn,
    Task,
    Issue,
    Update,
    Resolved,
    Instruction,
}
const KINDS: [(K, &str, u32); 7] = [
    (K::Chatter, "chatter", 388),
    (K::CheckIn, "check_in", 100),
    (K::Task, "task_report", 220),
    (K::Issue, "issue_report", 44),
    (K::Update, "issue_update", 90),
    (K::Resolved, "issue_resolved", 35),
    (K::Instruction, "instruction", 123),
];

/// Hourly weights of local time (the daily rhythm of an operations team).
const HOURS: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 4, 9, 13, 13, 12, 10, 7, 8, 10, 10, 9, 7, 4, 3, 2, 2, 1, 1,
];

struct IssueState {
    id: i64,
    category: usize,
    block: Option<String>,
    /// When it is resolved (i64::MAX: never).
    resolved_ms: i64,
}

struct ChatGen {
    members: Vec<i64>,
    recent: Vec<IssueState>,
    last_record: Option<(&'static str, i64, i64, i64)>, // (type, id, sender, sent_ms)
    count: i64,
    last_ms: i64,
}

fn fmt_ms(ms: i64) -> String {
    tapak::store::fmt_time(DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

fn hex(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        s.push_str(&format!("{:016x}", rng.next()));
    }
    s.truncate(n);
    s
}

/// A text of 20–200 characters for a kind and category.
fn make_text(rng: &mut Rng, k: K, cat: usize, loc: &Loc) -> String {
    let words = CAT_WORDS[cat];
    let mut s = match k {
        K::Chatter | K::Instruction => {
            if k == K::Instruction {
                format!(
                    "@{} tolong {} {}",
                    rng.pick(&FIRST),
                    rng.pick(words),
                    loc.describe()
                )
            } else {
                rng.pick(&CHATTER).to_string()
            }
        }
        K::CheckIn => format!(
            "Check in {} {}",
            rng.pick(&["shift pagi", "shift malam", "hadir", "on duty"]),
            loc.describe()
        ),
        K::Task => format!(
            "{} {} {}",
            rng.pick(&TASK_VERBS),
            rng.pick(words),
            loc.describe()
        ),
        K::Issue => format!(
            "{} {} {} {}",
            rng.pick(&ISSUE_OPENERS),
            rng.pick(words),
            rng.pick(words),
            loc.describe()
        ),
        K::Update => rng.pick(&UPDATES).to_string(),
        K::Resolved => rng.pick(&RESOLVED).to_string(),
    };
    // Search vocabulary: the common word in ~5% of messages (toilets are the eternal topic), the rare one in ~0.03%.
    if rng.chance(if cat == 2 { 0.15 } else { 0.035 }) {
        s.push_str(if rng.chance(0.5) {
            " toilet"
        } else {
            " Toilet"
        });
    }
    if rng.chance(0.0003) {
        s.push_str(" sprinkler");
    }
    // Length skewed to short messages, 20–200 chars.
    let target = 20 + ((rng.unit() * rng.unit()) * 180.0) as usize;
    while s.chars().count() < target {
        s.push(' ');
        let w: &str = if rng.chance(0.3) {
            rng.pick::<&str>(words)
        } else {
            rng.pick::<&str>(&FILLER)
        };
        s.push_str(w);
    }
    if s.chars().count() > 200 {
        s = s.chars().take(200).collect();
    }
    s
}

#[derive(Default)]
struct Loc {
    block: Option<String>,
    level: Option<String>,
    unit: Option<String>,
    area: Option<String>,
}

impl Loc {
    fn random(rng: &mut Rng) -> Loc {
        let block = rng
            .chance(0.6)
            .then(|| ["A", "B", "C", "D", "E", "F"][rng.below(6) as usize].to_string());
        Loc {
            level: (block.is_some() && rng.chance(0.5)).then(|| (1 + rng.below(20)).to_string()),
            unit: rng
                .chance(0.15)
                .then(|| format!("{}-{:02}", 1 + rng.below(20), 1 + rng.below(12))),
            area: rng.chance(0.5).then(|| rng.pick(&AREAS).to_string()),
            block,
        }
    }
    fn describe(&self) -> String {
        let mut v = vec![];
        if let Some(b) = &self.block {
            v.push(format!("blok {b}"));
        }
        if let Some(l) = &self.level {
            v.push(format!("lvl {l}"));
        }
        if let Some(u) = &self.unit {
            v.push(format!("unit {u}"));
        }
        if let Some(a) = &self.area {
            v.push(a.clone());
        }
        v.join(" ")
    }
    fn json(&self) -> String {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("block", &self.block),
            ("level", &self.level),
            ("unit", &self.unit),
            ("area", &self.area),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), serde_json::Value::String(v.clone()));
            }
        }
        serde_json::Value::Object(m).to_string()
    }
}

fn end_ms() -> i64 {
    DateTime::parse_from_rfc3339(END)
        .map(|d| d.timestamp_millis())
        .unwrap_or(0)
}

fn generate(conn: &mut Connection, a: &Args) -> Result<(), StoreError> {
    let t0 = Instant::now();
    let mut rng = Rng::new(a.seed);
    let end = end_ms();
    let start = end - 365 * DAY_MS;
    let now = fmt_ms(end);
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;")?;

    // Sites, people, chats.
    let n_sites = a.sites;
    let n_people = n_sites * 8;
    let n_chats = n_sites * 3;
    let tx = conn.transaction()?;
    for s in 1..=n_sites {
        tx.execute(
            "INSERT INTO sites(id, name, settings, created_at) VALUES (?1, ?2, '{}', ?3)",
            params![
                s as i64,
                format!(
                    "Site {s:02} {}",
                    rng.pick(&["Residensi", "Menara", "Plaza", "Kondo", "Taman"])
                ),
                now
            ],
        )?;
    }
    for v in 1..=20i64 {
        tx.execute(
            "INSERT INTO vendors(id, name, trade, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                v,
                format!("Vendor {v:02} Sdn Bhd"),
                CATEGORIES[v as usize % 11],
                now
            ],
        )?;
    }
    for p in 1..=n_people as i64 {
        let phone = format!("601{}{:07}", 1 + p % 9, 1_000_000 + p * 7919 % 8_999_999);
        tx.execute(
            "INSERT INTO people(id, name, phone, vendor_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                p,
                format!("{} {}", rng.pick(&FIRST), rng.pick(&ROLE)),
                phone,
                rng.chance(0.1).then(|| 1 + rng.below(20) as i64),
                now
            ],
        )?;
        tx.execute(
            "INSERT INTO person_ids(external_id, person_id) VALUES (?1, ?2)",
            params![phone, p],
        )?;
    }
    // Busy sites talk more (Zipf-like); within a site the main group gets most messages.
    let mut chat_weights = vec![];
    let mut gens = vec![];
    for c in 0..n_chats {
        let site = c / 3;
        let source = ["cloud_api", "cloud_api", "waha", "import"][(site + c) % 4];
        tx.execute(
            "INSERT INTO chats(id, source, external_id, name, is_group, site_id, created_at) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)",
            params![
                c as i64 + 1,
                source,
                format!("1203630{:011}@g.us", 4_000_000_000u64 + c as u64 * 7_777),
                format!("Site {:02} {}", site + 1, ["Operations", "Cleaning", "Technical"][c % 3]),
                site as i64 + 1,
                now
            ],
        )?;
        let site_w = 10_000.0 / ((site + 1) as f64).powf(0.6);
        chat_weights.push((site_w * [0.6, 0.25, 0.15][c % 3]) as u32 + 1);
        // Members: the site's own people plus a few managers / vendors who are in many chats.
        let mut members: Vec<i64> = (0..8).map(|i| (site * 8 + i + 1) as i64).collect();
        for _ in 0..4 {
            members.push(1 + rng.below(n_people as u64) as i64);
        }
        gens.push(ChatGen {
            members,
            recent: vec![],
            last_record: None,
            count: 0,
            last_ms: 0,
        });
    }
    tx.commit()?;

    // Message times: a year, daily rhythm in local time, quieter weekends.
    println!("generating {} message times…", a.messages);
    let mut times: Vec<(i64, u16)> = Vec::with_capacity(a.messages);
    while times.len() < a.messages {
        let day = rng.below(365) as i64;
        let hour = rng.weighted(&HOURS) as i64;
        let local = start + day * DAY_MS + hour * 3_600_000 + rng.below(3_600_000) as i64;
        let weekday = DateTime::from_timestamp_millis(local)
            .map(|d| d.weekday().num_days_from_monday())
            .unwrap_or(0);
        if weekday >= 5 && rng.chance(0.45) {
            continue;
        }
        let ms = local - TZ_OFFSET_MS;
        if ms < start || ms >= end {
            continue;
        }
        times.push((ms, rng.weighted(&chat_weights) as u16));
    }
    times.sort_unstable();

    let batch = 100_000;
    let mut id: i64 = 0;
    let mut ev_id: i64 = 0;
    let mut n_issues = 0u64;
    let mut n_tasks = 0u64;
    let mut n_ev = 0u64;
    for chunk in times.chunks(batch) {
        let tx = conn.transaction()?;
        {
            let mut ins_msg = tx.prepare_cached(
                "INSERT INTO messages(id, source, source_message_id, chat_id, sender_id, from_me, sent_at, sent_ms, received_at, \
                 type, source_type, text, reply_to, forwarded, edited, deleted, normalized, kind, classification, \
                 classifier_version, processed, record_type, record_id, link_reason) \
                 VALUES (?1,?2,?3,?4,?5,0,?6,?7,?8,?9,?10,?11,?12,0,?13,?14,?15,?16,?17,'rules-1',1,?18,?19,?20)",
            )?;
            let mut ins_fts =
                tx.prepare_cached("INSERT INTO messages_fts(rowid, text) VALUES (?1, ?2)")?;
            let mut ins_issue = tx.prepare_cached(
                "INSERT INTO issues(id, chat_id, title, status, category, priority, location, block, level, unit, area, \
                 opened_at, opened_ms, reported_by, owner_id, repeat_of, responded_at, resolved_at, closed_at, merged_into, \
                 respond_by, resolve_by, respond_by_ms, resolve_by_ms, updated_at) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)",
            )?;
            let mut ins_task = tx.prepare_cached(
                "INSERT INTO tasks(id, chat_id, status, category, location, block, level, unit, area, reported_at, reported_ms, \
                 reported_by, completed_at, completed_by, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
            )?;
            let mut ins_ev = tx.prepare_cached(
                "INSERT INTO evidence(id, message_id, ordinal, kind, mime, expected_sha256, sha256, bytes, status, filename, \
                 received_at, fetch, thumbnail, width, height, phash, dhash, record_type, record_id, role, link_reason) \
                 VALUES (?1,?2,?3,?4,?5,?6,?6,?7,?8,?9,?10,?11,1,?12,?13,?14,?15,?16,?17,?18,?19)",
            )?;
            for &(ms, chat) in chunk {
                id += 1;
                let g = &mut gens[chat as usize];
                let chat_id = chat as i64 + 1;
                let sent_at = fmt_ms(ms);
                let received_at = fmt_ms(ms + 300 + rng.below(4000) as i64);
                // Type: text 79%, media 15%, reaction 3%, deleted 1%, system 1%, location 1%.
                let ty = ["text", "media", "reaction", "deleted", "system", "location"]
                    [rng.weighted(&[79, 15, 3, 1, 1, 1])];
                let media_kind = (ty == "media").then(|| {
                    ["photo", "video", "voice", "document"][rng.weighted(&[80, 7, 10, 3])]
                });
                // Photos mostly follow their sender's own report within minutes.
                let follows = g
                    .last_record
                    .filter(|r| ms - r.3 < 600_000 && media_kind.is_some() && rng.chance(0.7));
                let sender = match follows {
                    Some(r) => r.2,
                    None => {
                        let n = g.members.len() as u64;
                        g.members[rng.below(n).min(rng.below(n)) as usize]
                    }
                };
                let has_text = ty == "text" || (media_kind == Some("photo") && rng.chance(0.45));
                let k = has_text.then(|| KINDS[rng.weighted(&KINDS.map(|k| k.2))]);
                let cat = rng.weighted(&CATEGORY_WEIGHTS);
                let loc = Loc::random(&mut rng);
                let text = match k {
                    Some((kk, _, _)) => Some(make_text(&mut rng, kk, cat, &loc)),
                    None if ty == "reaction" => Some("👍".to_string()),
                    None => None,
                };
                let mut record: Option<(&'static str, i64, &'static str)> = None;
                let mut class = None;
                let mut kind_s = None;
                if let Some((kk, kname, _)) = k {
                    kind_s = Some(kname);
                    let mut pri = None;
                    let mut status = None;
                    let mut repeat = false;
                    match kk {
                        K::Issue => {
                            n_issues += 1;
                            let p = rng.weighted(&PRIORITY_WEIGHTS);
                            pri = Some(PRIORITIES[p]);
                            // Fate of the ticket: acknowledgement and resolution delays; ~35% never acknowledged, ~6% never resolved.
                            let ack = if rng.chance(0.35) {
                                i64::MAX // nobody acknowledges in the chat: stays `open` until resolved
                            } else {
                                ms + (SLA_RESPOND_MIN[p] as f64
                                    * 60_000.0
                                    * (0.1 + 2.0 * rng.unit().powi(2)))
                                    as i64
                            };
                            let res = if rng.chance(0.06) {
                                i64::MAX
                            } else {
                                ms + (SLA_RESOLVE_H[p] as f64
                                    * 3_600_000.0
                                    * (0.05 + 1.8 * rng.unit().powi(2)))
                                    as i64
                            };
                            let close = (res != i64::MAX && rng.chance(0.7))
                                .then(|| res + 3_600_000 + rng.below(48 * 3_600_000) as i64);
                            let st = if close.is_some_and(|c| c <= end) {
                                "closed"
                            } else if res <= end {
                                "resolved"
                            } else if ack <= end {
                                if rng.chance(0.5) {
                                    "acknowledged"
                                } else {
                                    "in_progress"
                                }
                            } else {
                                "open"
                            };
                            let repeat_of = if rng.chance(0.06) {
                                g.recent
                                    .iter()
                                    .rev()
                                    .find(|i| i.category == cat)
                                    .map(|i| i.id)
                            } else {
                                None
                            };
                            repeat = repeat_of.is_some();
                            let merged = (rng.chance(0.005) && st == "closed")
                                .then(|| g.recent.last().map(|i| i.id))
                                .flatten();
                            let owner = rng.chance(0.6).then(|| *rng.pick(&g.members));
                            let title: String =
                                text.as_deref().unwrap_or("").chars().take(80).collect();
                            let respond_by = ms + SLA_RESPOND_MIN[p] * 60_000;
                            let resolve_by = ms + SLA_RESOLVE_H[p] * 3_600_000;
                            ins_issue.execute(params![
                                id,
                                chat_id,
                                title,
                                st,
                                CATEGORIES[cat],
                                PRIORITIES[p],
                                loc.json(),
                                loc.block,
                                loc.level,
                                loc.unit,
                                loc.area,
                                sent_at,
                                ms,
                                sender,
                                owner,
                                repeat_of,
                                (ack <= end).then(|| fmt_ms(ack)),
                                (res <= end && st == "resolved" || st == "closed")
                                    .then(|| fmt_ms(res.min(end))),
                                close.filter(|&c| c <= end).map(fmt_ms),
                                merged,
                                fmt_ms(respond_by),
                                fmt_ms(resolve_by),
                                respond_by,
                                resolve_by,
                                now
                            ])?;
                            g.recent.push(IssueState {
                                id,
                                category: cat,
                                block: loc.block.clone(),
                                resolved_ms: res,
                            });
                            if g.recent.len() > 12 {
                                g.recent.remove(0);
                            }
                            record = Some(("issue", id, "opened the record"));
                        }
                        K::Task => {
                            n_tasks += 1;
                            let st = ["done", "in_progress", "blocked"][rng.weighted(&[78, 17, 5])];
                            status = Some(st);
                            let completed = (st == "done").then(|| sent_at.clone());
                            ins_task.execute(params![
                                id,
                                chat_id,
                                st,
                                CATEGORIES[cat],
                                loc.json(),
                                loc.block,
                                loc.level,
                                loc.unit,
                                loc.area,
                                sent_at,
                                ms,
                                sender,
                                completed,
                                (st == "done").then_some(id),
                                now
                            ])?;
                            record = Some(("task", id, "opened the record"));
                        }
                        K::Update | K::Resolved => {
                            // The most recent ticket of the chat still open at that time (same category first).
                            let open = |i: &&IssueState| i.resolved_ms > ms - 3_600_000;
                            let hit = g
                                .recent
                                .iter()
                                .rev()
                                .filter(open)
                                .find(|i| i.category == cat && i.block == loc.block)
                                .map(|i| {
                                    (
                                        i.id,
                                        "matches category/location of the most recent open ticket",
                                    )
                                })
                                .or_else(|| {
                                    g.recent
                                        .iter()
                                        .rev()
                                        .find(open)
                                        .map(|i| (i.id, "replies to a message of this ticket"))
                                });
                            if let Some((iid, why)) = hit {
                                record = Some(("issue", iid, why));
                            }
                        }
                        _ => {}
                    }
                    class = Some(
                        serde_json::json!({
                            "kind": kname, "status": status, "category": (kk != K::Chatter).then_some(CATEGORIES[cat]),
                            "location": serde_json::from_str::<serde_json::Value>(&loc.json()).unwrap_or_default(),
                            "priority": pri, "repeat": repeat, "confidence": (60 + rng.below(40)) as f64 / 100.0,
                            "cues": [format!("kind: '{}' → {kname}", CAT_WORDS[cat][0])]
                        })
                        .to_string(),
                    );
                }
                // Media without a caption joins the same sender's record of the last 10 minutes.
                if record.is_none() && media_kind.is_some() {
                    if let Some((t, rid, s, at)) = g.last_record {
                        if s == sender && ms - at < 600_000 {
                            record =
                                Some((t, rid, "nearest text from the same sender within 10 min"));
                        }
                    }
                }
                if let Some((t, rid, _)) = record {
                    g.last_record = Some((t, rid, sender, ms));
                }
                let source = if chat % 4 == 3 { "import" } else { "cloud_api" };
                let smid = format!("wamid.HBgM{}{:010}", chat_id, id);
                let normalized = serde_json::json!({
                    "source": source, "source_message_id": smid, "chat": {"external_id": format!("chat-{chat_id}"), "is_group": true},
                    "sender": {"external_id": format!("sender-{sender}")}, "from_me": false, "sent_at": sent_at,
                    "msg_type": ty, "source_type": media_kind.map(|m| if m == "photo" { "image" } else { m }).unwrap_or(ty),
                    "text": text, "media": media_kind.map(|m| vec![serde_json::json!({"kind": m, "fetch": {"cloud_api": {"media_id": id}}})]).unwrap_or_default(),
                    "reply_to": null, "forwarded": false, "edited": false, "deleted": ty == "deleted"
                })
                .to_string();
                ins_msg.execute(params![
                    id,
                    source,
                    smid,
                    chat_id,
                    sender,
                    sent_at,
                    ms,
                    received_at,
                    ty,
                    media_kind
                        .map(|m| if m == "photo" { "image" } else { m })
                        .unwrap_or(ty),
                    text,
                    Option::<String>::None,
                    false,
                    ty == "deleted",
                    normalized,
                    kind_s,
                    class,
                    record.map(|r| r.0),
                    record.map(|r| r.1),
                    record.map(|r| r.2),
                ])?;
                if let Some(t) = text.as_deref().filter(|t| !t.is_empty()) {
                    ins_fts.execute(params![id, t])?;
                }
                if let Some(mk) = media_kind {
                    let n = if mk == "photo" && rng.chance(0.1) {
                        2 + rng.below(3)
                    } else {
                        1
                    };
                    for ord in 0..n {
                        ev_id += 1;
                        n_ev += 1;
                        let status = ["ready", "pending", "failed"][rng.weighted(&[970, 8, 22])];
                        let role = record.map(|r| {
                            if r.2.starts_with("replies") && rng.chance(0.3) {
                                "resolution_proof"
                            } else {
                                "evidence"
                            }
                        });
                        ins_ev.execute(params![
                            ev_id,
                            id,
                            ord as i64,
                            mk,
                            ["image/jpeg", "video/mp4", "audio/ogg", "application/pdf"][[
                                "photo", "video", "voice", "document"
                            ]
                            .iter()
                            .position(|x| *x == mk)
                            .unwrap_or(0)],
                            hex(&mut rng, 64),
                            (20_000 + rng.below(400_000)) as i64,
                            status,
                            format!("{mk}-{id}-{ord}"),
                            received_at,
                            format!(
                                "{{\"cloud_api\":{{\"media_id\":\"{}\"}}}}",
                                hex(&mut rng, 15)
                            ),
                            1600i64,
                            1200i64,
                            rng.next() as i64,
                            rng.next() as i64,
                            record.map(|r| r.0),
                            record.map(|r| r.1),
                            role,
                            record.map(|r| r.2),
                        ])?;
                    }
                }
                g.count += 1;
                g.last_ms = ms;
            }
        }
        tx.commit()?;
        println!(
            "  {id:>9} messages, {n_issues} issues, {n_tasks} tasks, {n_ev} evidence — {:.0} s",
            t0.elapsed().as_secs_f64()
        );
    }
    let tx = conn.transaction()?;
    for (c, g) in gens.iter().enumerate() {
        tx.execute(
            "UPDATE chats SET message_count = ?2, last_message_at = ?3 WHERE id = ?1",
            params![
                c as i64 + 1,
                g.count,
                (g.last_ms > 0).then(|| fmt_ms(g.last_ms))
            ],
        )?;
    }
    tx.execute(
        "INSERT INTO settings(key, value, updated_at) VALUES (?1, ?2, ?3)",
        params![PARAMS_KEY, params_string(a), now],
    )?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    println!("generated in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn params_string(a: &Args) -> String {
    format!(
        "v1 sites={} messages={} seed={}",
        a.sites, a.messages, a.seed
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Capturing the SQL the store runs (for EXPLAIN QUERY PLAN)

static CAPTURED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn trace_cb(
    kind: c_uint,
    _ctx: *mut c_void,
    p: *mut c_void,
    _x: *mut c_void,
) -> c_int {
    if kind != ffi::SQLITE_TRACE_STMT as c_uint || p.is_null() {
        return 0;
    }
    // SAFETY: for SQLITE_TRACE_STMT, `p` is the statement being run; both strings are copied before returning.
    unsafe {
        let stmt = p as *mut ffi::sqlite3_stmt;
        let raw = ffi::sqlite3_sql(stmt);
        let exp = ffi::sqlite3_expanded_sql(stmt);
        if !raw.is_null() && !exp.is_null() {
            let raw_s = CStr::from_ptr(raw).to_string_lossy().into_owned();
            let exp_s = CStr::from_ptr(exp).to_string_lossy().into_owned();
            if let Ok(mut v) = CAPTURED.lock() {
                v.push((raw_s, exp_s));
            }
        }
        if !exp.is_null() {
            ffi::sqlite3_free(exp as *mut c_void);
        }
    }
    0
}

fn set_trace(conn: &Connection, on: bool) {
    // SAFETY: registers / removes a trace callback on a live connection; the callback only reads statement text.
    unsafe {
        ffi::sqlite3_trace_v2(
            conn.handle(),
            if on {
                ffi::SQLITE_TRACE_STMT as c_uint
            } else {
                0
            },
            if on { Some(trace_cb) } else { None },
            std::ptr::null_mut(),
        );
    }
}

/// Runs `f` once capturing its statements, and prints each distinct statement with its query plan.
fn explain(
    conn: &Connection,
    name: &str,
    f: &dyn Fn(&Connection, usize) -> Result<usize, StoreError>,
) {
    if let Ok(mut v) = CAPTURED.lock() {
        v.clear();
    }
    set_trace(conn, true);
    let r = f(conn, 0);
    set_trace(conn, false);
    let captured = CAPTURED
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    println!(
        "\n--- EXPLAIN QUERY PLAN: {name} ({} statements{})",
        captured.len(),
        if r.is_err() { ", failed" } else { "" }
    );
    let mut seen = std::collections::HashSet::new();
    for (raw, exp) in captured {
        // Statements SQLite runs on its own behalf (FTS5 shadow tables) start with "--".
        if raw.starts_with("--") || !seen.insert(raw.clone()) {
            continue;
        }
        let times = Instant::now();
        let _ = conn.query_row(&format!("SELECT count(*) FROM ({exp})"), [], |r| {
            r.get::<_, i64>(0)
        });
        println!(
            "SQL ({:.1} ms alone): {exp}",
            times.elapsed().as_secs_f64() * 1000.0
        );
        match plan(conn, &exp) {
            Ok(p) => println!("{p}"),
            Err(e) => println!("  (no plan: {e})"),
        }
    }
}

fn plan(conn: &Connection, sql: &str) -> Result<String, rusqlite::Error> {
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let rows: Vec<(i64, i64, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut depth: BTreeMap<i64, usize> = BTreeMap::new();
    let mut out = String::new();
    for (id, parent, detail) in rows {
        let d = depth.get(&parent).map(|d| d + 1).unwrap_or(1);
        depth.insert(id, d);
        out.push_str(&format!("{}{}\n", "  ".repeat(d), detail));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

type QueryFn = Box<dyn Fn(&Connection, usize) -> Result<usize, StoreError>>;

struct Case {
    name: String,
    f: QueryFn,
}

struct Stat {
    p50: f64,
    p95: f64,
    max: f64,
    rows: f64,
}

fn measure(db: &Db, case: &Case, runs: usize) -> Result<Stat, StoreError> {
    let mut ms = Vec::with_capacity(runs);
    let mut rows = 0usize;
    db.read_blocking(|c| (case.f)(c, runs))?; // warm-up (statement cache, pages)
    for i in 0..runs {
        let t = Instant::now();
        rows += db.read_blocking(|c| (case.f)(c, i))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    Ok(Stat {
        p50: q(0.5),
        p95: q(0.95),
        max: ms[ms.len() - 1],
        rows: rows as f64 / runs as f64,
    })
}

fn month_range(i: usize) -> (i64, i64) {
    let end = DateTime::parse_from_rfc3339(END)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default();
    let m0 = end.year() * 12 + end.month0() as i32 - 1 - (i % 12) as i32;
    let from = Utc
        .with_ymd_and_hms(m0 / 12, (m0 % 12) as u32 + 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let m1 = m0 + 1;
    let to = Utc
        .with_ymd_and_hms(m1 / 12, (m1 % 12) as u32 + 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    (
        from.timestamp_millis() - TZ_OFFSET_MS,
        to.timestamp_millis() - TZ_OFFSET_MS - 1,
    )
}

fn cases(
    sites: usize,
    people: usize,
    chats: usize,
    deep: Vec<Option<Cursor>>,
    deep_site: Vec<Option<Cursor>>,
) -> Vec<Case> {
    let now = end_ms();
    let site = move |i: usize| Some((i * 7 % sites) as i64 + 1);
    let person = move |i: usize| Some((i * 37 % people) as i64 + 1);
    let chat = move |i: usize| (i * 13 % chats) as i64 + 1;
    let rf = move || RecordFilter {
        now_ms: now,
        ..RecordFilter::default()
    };
    let issues =
        |f: RecordFilter, cur: Option<Cursor>, c: &Connection| -> Result<usize, StoreError> {
            Ok(records::list_issues(c, &f, cur, 50)?.0.len())
        };
    let tasks =
        |f: RecordFilter, cur: Option<Cursor>, c: &Connection| -> Result<usize, StoreError> {
            Ok(records::list_tasks(c, &f, cur, 50)?.0.len())
        };
    let case = |name: &str, f: QueryFn| Case {
        name: name.into(),
        f,
    };
    vec![
        case(
            "issues: first page, no filter",
            Box::new(move |c, _| issues(rf(), None, c)),
        ),
        case(
            "issues: status=open",
            Box::new(move |c, _| {
                issues(
                    RecordFilter {
                        status: Some("open".into()),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: status=in_progress|acknowledged (alternating)",
            Box::new(move |c, i| {
                let s = if i % 2 == 0 {
                    "in_progress"
                } else {
                    "acknowledged"
                };
                issues(
                    RecordFilter {
                        status: Some(s.into()),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: site=X",
            Box::new(move |c, i| {
                issues(
                    RecordFilter {
                        site: site(i),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: chat=X",
            Box::new(move |c, i| {
                issues(
                    RecordFilter {
                        chat: Some(chat(i)),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: category+priority",
            Box::new(move |c, i| {
                let f = RecordFilter {
                    category: Some(CATEGORIES[i % 11].into()),
                    priority: Some(PRIORITIES[i % 4].into()),
                    ..rf()
                };
                issues(f, None, c)
            }),
        ),
        case(
            "issues: one month (from/to)",
            Box::new(move |c, i| {
                let (from, to) = month_range(i);
                issues(
                    RecordFilter {
                        from_ms: Some(from),
                        to_ms: Some(to),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: site=X + one month",
            Box::new(move |c, i| {
                let (from, to) = month_range(i);
                issues(
                    RecordFilter {
                        site: site(i),
                        from_ms: Some(from),
                        to_ms: Some(to),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: person=X",
            Box::new(move |c, i| {
                issues(
                    RecordFilter {
                        person: person(i),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: breached=true",
            Box::new(move |c, _| {
                issues(
                    RecordFilter {
                        breached: Some(true),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: breached=true + site=X",
            Box::new(move |c, i| {
                issues(
                    RecordFilter {
                        breached: Some(true),
                        site: site(i),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: open=true",
            Box::new(move |c, _| {
                issues(
                    RecordFilter {
                        open: Some(true),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: open=true + site=X",
            Box::new(move |c, i| {
                issues(
                    RecordFilter {
                        open: Some(true),
                        site: site(i),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "issues: open=true + category + site=X",
            Box::new(move |c, i| {
                let f = RecordFilter {
                    open: Some(true),
                    site: site(i),
                    category: Some(CATEGORIES[i % 11].into()),
                    ..rf()
                };
                issues(f, None, c)
            }),
        ),
        case(
            "issues: page 20 via cursor",
            Box::new(move |c, i| issues(rf(), deep[i % deep.len()], c)),
        ),
        case(
            "issues: page 20 via cursor, site=X",
            Box::new(move |c, i| {
                let n = deep_site.len();
                issues(
                    RecordFilter {
                        site: site(i % n),
                        ..rf()
                    },
                    deep_site[i % n],
                    c,
                )
            }),
        ),
        case(
            "tasks: first page, no filter",
            Box::new(move |c, _| tasks(rf(), None, c)),
        ),
        case(
            "tasks: site=X + one month",
            Box::new(move |c, i| {
                let (from, to) = month_range(i);
                tasks(
                    RecordFilter {
                        site: site(i),
                        from_ms: Some(from),
                        to_ms: Some(to),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "tasks: status=blocked + site=X",
            Box::new(move |c, i| {
                tasks(
                    RecordFilter {
                        status: Some("blocked".into()),
                        site: site(i),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "tasks: person=X",
            Box::new(move |c, i| {
                tasks(
                    RecordFilter {
                        person: person(i),
                        ..rf()
                    },
                    None,
                    c,
                )
            }),
        ),
        case(
            "messages: chat=X",
            Box::new(move |c, i| {
                let f = MessageFilter {
                    chat: Some(chat(i)),
                    ..MessageFilter::default()
                };
                Ok(messages::list(c, &f, None, 50)?.0.len())
            }),
        ),
        case(
            "messages: site=X + kind=issue_report",
            Box::new(move |c, i| {
                let f = MessageFilter {
                    site: site(i),
                    kind: Some("issue_report".into()),
                    ..MessageFilter::default()
                };
                Ok(messages::list(c, &f, None, 50)?.0.len())
            }),
        ),
        case(
            "messages: person=X",
            Box::new(move |c, i| {
                let f = MessageFilter {
                    person: person(i),
                    ..MessageFilter::default()
                };
                Ok(messages::list(c, &f, None, 50)?.0.len())
            }),
        ),
        case(
            "messages: category=X (json_extract)",
            Box::new(move |c, i| {
                let f = MessageFilter {
                    category: Some(CATEGORIES[i % 10].into()),
                    ..MessageFilter::default()
                };
                Ok(messages::list(c, &f, None, 50)?.0.len())
            }),
        ),
        case(
            "search: common word",
            Box::new(move |c, _| {
                Ok(
                    messages::search(c, COMMON_WORD, &MessageFilter::default(), None, 50)?
                        .0
                        .len(),
                )
            }),
        ),
        case(
            "search: common word + site=X",
            Box::new(move |c, i| {
                let f = MessageFilter {
                    site: site(i),
                    ..MessageFilter::default()
                };
                Ok(messages::search(c, COMMON_WORD, &f, None, 50)?.0.len())
            }),
        ),
        case(
            "search: rare word",
            Box::new(move |c, _| {
                Ok(
                    messages::search(c, RARE_WORD, &MessageFilter::default(), None, 50)?
                        .0
                        .len(),
                )
            }),
        ),
        case(
            "search: rare word + site=X",
            Box::new(move |c, i| {
                let f = MessageFilter {
                    site: site(i),
                    ..MessageFilter::default()
                };
                Ok(messages::search(c, RARE_WORD, &f, None, 50)?.0.len())
            }),
        ),
        case(
            "search: two words (toilet bocor)",
            Box::new(move |c, _| {
                Ok(
                    messages::search(c, "toilet bocor", &MessageFilter::default(), None, 50)?
                        .0
                        .len(),
                )
            }),
        ),
        case(
            "search (proposed): common word",
            Box::new(move |c, _| Ok(search_proposed(c, COMMON_WORD, None, 50)?.len())),
        ),
        case(
            "search (proposed): common word + site=X",
            Box::new(move |c, i| Ok(search_proposed(c, COMMON_WORD, site(i), 50)?.len())),
        ),
        case(
            "search (proposed): rare word",
            Box::new(move |c, _| Ok(search_proposed(c, RARE_WORD, None, 50)?.len())),
        ),
        case(
            "search (proposed): rare word + site=X",
            Box::new(move |c, i| Ok(search_proposed(c, RARE_WORD, site(i), 50)?.len())),
        ),
        case(
            "search (proposed): two words (toilet bocor)",
            Box::new(move |c, _| Ok(search_proposed(c, "toilet bocor", None, 50)?.len())),
        ),
        case(
            "records::counts (dashboard numbers)",
            Box::new(move |c, i| {
                let today = now - DAY_MS * (i as i64 % 30) - TZ_OFFSET_MS;
                let r = records::counts(c, today, now)?;
                Ok((r.open_issues > 0) as usize)
            }),
        ),
        case(
            "dashboard: all reads of GET /dashboard",
            Box::new(move |c, _| {
                let today = now - DAY_MS;
                let f = MessageFilter {
                    from_ms: Some(today),
                    ..MessageFilter::default()
                };
                let mut n = messages::count_filtered(c, &f)? as usize;
                n += messages::count_pending(c)? as usize;
                n += evidence::count_by_status(c, "pending")? as usize;
                n += evidence::count_by_status(c, "failed")? as usize;
                n += chats::list(c)?.len();
                records::counts(c, today, now)?;
                let open = RecordFilter {
                    open: Some(true),
                    ..rf()
                };
                n += records::list_issues(c, &open, None, 10)?.0.len();
                Ok(n.min(1))
            }),
        ),
    ]
}

/// Cursor of page 20 (walking 19 pages of 50, not timed).
fn deep_cursor(c: &Connection, f: &RecordFilter) -> Result<Option<Cursor>, StoreError> {
    let mut cur = None;
    for _ in 0..19 {
        let (_, next) = records::list_issues(c, f, cur, 50)?;
        match next {
            Some(n) => cur = Some(n),
            None => return Ok(cur),
        }
    }
    Ok(cur)
}

fn print_table(title: &str, results: &[(String, Stat, Option<Stat>)]) {
    println!("\n{title}");
    let with_fix = results.iter().any(|r| r.2.is_some());
    if with_fix {
        println!(
            "| query | rows | p50 ms | p95 ms | max ms | with fixes p50 | p95 | max |\n|---|--:|--:|--:|--:|--:|--:|--:|"
        );
    } else {
        println!("| query | rows | p50 ms | p95 ms | max ms |\n|---|--:|--:|--:|--:|");
    }
    for (name, s, f) in results {
        let flag = if s.p95 > TARGET_MS { " ⚠" } else { "" };
        print!(
            "| {name}{flag} | {:.0} | {:.2} | {:.2} | {:.2} |",
            s.rows, s.p50, s.p95, s.max
        );
        if let Some(f) = f {
            print!(" {:.2} | {:.2} | {:.2} |", f.p50, f.p95, f.max);
        }
        println!();
    }
}

fn file_size(p: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", p.display()));
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn run(a: Args) -> Result<(), StoreError> {
    // Build or reuse.
    let reuse = a.db.exists() && {
        let c = tapak::store::db::open_and_migrate(&a.db)?;
        tapak::store::settings::get(&c, PARAMS_KEY)?.as_deref() == Some(params_string(&a).as_str())
    };
    if reuse {
        println!("reusing {} ({})", a.db.display(), params_string(&a));
    } else {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", a.db.display()));
        }
        let mut c = tapak::store::db::open_and_migrate(&a.db)?;
        generate(&mut c, &a)?;
    }
    {
        let c = tapak::store::db::open_and_migrate(&a.db)?;
        for (name, _) in FIXES {
            c.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    println!(
        "database: {} — {:.2} GB",
        a.db.display(),
        file_size(&a.db) as f64 / 1e9
    );
    let db = Db::open(&a.db)?;
    let counts = db.read_blocking(|c| {
        let mut out = vec![];
        for t in [
            "sites", "chats", "people", "messages", "evidence", "issues", "tasks",
        ] {
            out.push((
                t,
                c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                    r.get::<_, i64>(0)
                })?,
            ));
        }
        let extra = [
            (
                "issues open (not resolved/closed)",
                "SELECT count(*) FROM issues WHERE status NOT IN ('resolved','closed')",
            ),
            (
                "messages linked to a record",
                "SELECT count(*) FROM messages WHERE record_id IS NOT NULL",
            ),
            (
                "evidence linked to a record",
                "SELECT count(*) FROM evidence WHERE record_id IS NOT NULL",
            ),
            (
                "messages with the common word",
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'toilet'",
            ),
            (
                "messages with the rare word",
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'sprinkler'",
            ),
        ];
        for (name, sql) in extra {
            out.push((name, c.query_row(sql, [], |r| r.get::<_, i64>(0))?));
        }
        Ok(out)
    })?;
    for (t, n) in &counts {
        println!("  {t}: {n}");
    }
    let n_people = a.sites * 8;
    let now = end_ms();
    let base = RecordFilter {
        now_ms: now,
        ..RecordFilter::default()
    };
    let deep = db.read_blocking(|c| {
        let d = deep_cursor(c, &base)?;
        let mut ds = vec![];
        for i in 0..a.sites.min(10) {
            ds.push(deep_cursor(
                c,
                &RecordFilter {
                    site: Some((i * 7 % a.sites) as i64 + 1),
                    ..base.clone()
                },
            )?);
        }
        Ok((vec![d], ds))
    })?;
    let all = cases(a.sites, n_people, a.sites * 3, deep.0, deep.1);

    let same = db.read_blocking(|c| {
        let mut all_same = true;
        for q in [COMMON_WORD, RARE_WORD, "toilet bocor", "lampu"] {
            for site in [None, Some(1), Some(a.sites as i64)] {
                all_same &= check_search_proposed(c, q, site)?;
            }
        }
        Ok(all_same)
    })?;
    println!(
        "search prototype returns the same ids, order and snippets as messages::search: {same}"
    );
    println!(
        "\nmeasuring {} queries × {} runs (limit 50, after one warm-up run each)…",
        all.len(),
        a.runs
    );
    let mut results: Vec<(String, Stat, Option<Stat>)> = vec![];
    for case in &all {
        let s = measure(&db, case, a.runs)?;
        println!(
            "  {:<55} p50 {:>8.2}  p95 {:>8.2}  max {:>8.2} ms",
            case.name, s.p50, s.p95, s.max
        );
        results.push((case.name.clone(), s, None));
    }
    print_table("baseline (schema as migrated):", &results);
    for (case, (_, s, _)) in all.iter().zip(&results) {
        if a.explain_all || s.p95 > TARGET_MS {
            db.read_blocking(|c| {
                explain(c, &case.name, &*case.f);
                Ok(())
            })?;
        }
    }

    if a.fix {
        db.close();
        {
            let c = tapak::store::db::open_and_migrate(&a.db)?;
            for (name, sql) in FIXES {
                let t = Instant::now();
                c.execute_batch(sql)?;
                println!("created {name} in {:.1} s", t.elapsed().as_secs_f64());
            }
        }
        let db = Db::open(&a.db)?;
        for (case, r) in all.iter().zip(results.iter_mut()) {
            let s = measure(&db, case, a.runs)?;
            println!(
                "  {:<55} p50 {:>8.2}  p95 {:>8.2}  max {:>8.2} ms",
                case.name, s.p50, s.p95, s.max
            );
            r.2 = Some(s);
        }
        print_table("with the candidate indexes (--fix):", &results);
        for (case, (_, _, s)) in all.iter().zip(&results) {
            if a.explain_all || s.as_ref().is_some_and(|s| s.p95 > TARGET_MS) {
                db.read_blocking(|c| {
                    explain(c, &format!("{} (with fixes)", case.name), &*case.f);
                    Ok(())
                })?;
            }
        }
        db.close();
        if !a.keep_fixes {
            let c = tapak::store::db::open_and_migrate(&a.db)?;
            for (name, _) in FIXES {
                c.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
            }
        }
    } else {
        db.close();
    }
    let slow: Vec<&str> = results
        .iter()
        .filter(|r| r.2.as_ref().unwrap_or(&r.1).p95 > TARGET_MS)
        .map(|r| r.0.as_str())
        .collect();
    if slow.is_empty() {
        println!("\nverdict: every query's p95 is under {TARGET_MS} ms");
    } else {
        println!("\nverdict: over {TARGET_MS} ms at p95: {}", slow.join("; "));
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_records: {e}\nusage: bench_records --db PATH [--sites 50] [--messages 3000000] [--seed 1] [--runs 50] [--fix] [--keep-fixes] [--explain-all]");
            return ExitCode::from(2);
        }
    };
    match run(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_records: {e}");
            ExitCode::FAILURE
        }
    }
}

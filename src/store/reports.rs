//! What a report is computed from (`crate::reports::Inputs`), loaded for a period, its previous period and a site.
//! Every query is a range over an indexed time column (or the open-tickets partial index), grouped in SQL where only
//! counts are needed; nothing is queried per row.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

use super::StoreError;
use crate::reports::{
    ChatCount, Inputs, OccurrenceRow, PersonRef, PhotoRow, Ref, ReminderRow, TaskEntry, Ticket,
};
use crate::schedule::Assignee;

/// The instants a report covers: the previous period's start up to this period's end (exclusive).
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub previous_from: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A site by id or name, as a report names it.
pub fn find_site(conn: &Connection, key: &str) -> Result<Ref, StoreError> {
    super::chats::find_site(conn, key)?
        .map(|s| Ref {
            id: s.id,
            name: s.name,
        })
        .ok_or_else(|| StoreError::NotFound(format!("site {key:?}")))
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(super::parse_time)
}

fn ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

fn named(id: Option<i64>, name: Option<String>) -> Option<Ref> {
    id.map(|id| Ref {
        id,
        name: name.unwrap_or_else(|| format!("#{id}")),
    })
}

fn person(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<PersonRef>> {
    let Some(id) = r.get::<_, Option<i64>>(i)? else {
        return Ok(None);
    };
    Ok(Some(PersonRef {
        id,
        name: r.get(i + 1)?,
        phone: r.get(i + 2)?,
    }))
}

/// "Block C / Level 2 / Unit 2-05 / lobby" from the location columns at `i..i+4`.
fn location(r: &Row<'_>, i: usize) -> rusqlite::Result<String> {
    let mut parts = Vec::new();
    for (k, label) in ["Block", "Level", "Unit", ""].iter().enumerate() {
        if let Some(v) = r
            .get::<_, Option<String>>(i + k)?
            .filter(|v| !v.trim().is_empty())
        {
            parts.push(if label.is_empty() {
                v
            } else {
                format!("{label} {v}")
            });
        }
    }
    Ok(parts.join(" / "))
}

/// Runs `sql` with `?1` = the range's start (the previous period's), `?2` = its end and `?3` = the site (or NULL),
/// keeping the rows `f` maps to `Some`.
fn in_range<T>(
    conn: &Connection,
    sql: &str,
    range: Range,
    site: Option<i64>,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<Option<T>>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(
        params![
            range.previous_from.timestamp_millis(),
            range.to.timestamp_millis(),
            site
        ],
        f,
    )?;
    Ok(rows
        .filter_map(|r| r.transpose())
        .collect::<Result<_, _>>()?)
}

const TICKET_SELECT: &str =
    "SELECT i.id, i.title, c.site_id, s.name, i.category, i.block, i.level, i.unit, i.area, \
    i.opened_at, i.responded_at, i.resolved_at, i.closed_at, i.respond_by, i.resolve_by, \
    i.owner_id, op.name, op.phone, v.id, v.name, i.repeat_of \
    FROM issues i JOIN chats c ON c.id = i.chat_id LEFT JOIN sites s ON s.id = c.site_id \
    LEFT JOIN people op ON op.id = i.owner_id LEFT JOIN vendors v ON v.id = op.vendor_id";

fn ticket(r: &Row<'_>) -> rusqlite::Result<Option<Ticket>> {
    let Some(opened) = time(r.get(9)?) else {
        return Ok(None);
    };
    Ok(Some(Ticket {
        id: r.get(0)?,
        title: r.get(1)?,
        site: named(r.get(2)?, r.get(3)?),
        category: r.get(4)?,
        location: location(r, 5)?,
        opened,
        acknowledged: time(r.get(10)?),
        resolved: time(r.get(11)?),
        closed: time(r.get(12)?),
        respond_by: time(r.get(13)?),
        resolve_by: time(r.get(14)?),
        owner: person(r, 15)?,
        vendor: named(r.get(18)?, r.get(19)?),
        repeat_of: r.get(20)?,
    }))
}

/// Tickets that matter to the range: opened in it, done in it or after it, or still open; and the earlier tickets
/// of repeat chains. Merged duplicates are left out.
fn tickets(conn: &Connection, range: Range, site: Option<i64>) -> Result<Vec<Ticket>, StoreError> {
    let (from_ms, to_ms) = (
        range.previous_from.timestamp_millis(),
        range.to.timestamp_millis(),
    );
    let from_s = super::fmt_time(range.previous_from);
    let scope = "i.merged_into IS NULL AND (?3 IS NULL OR c.site_id = ?3)";
    // Each arm uses its own index: opened in the range (issues_time), still open (issues_open_time), done since
    // the range began (issues_resolved_at / issues_closed_at).
    let sql = format!(
        "{TICKET_SELECT} WHERE i.id IN ( \
           SELECT id FROM issues WHERE opened_ms >= ?1 AND opened_ms < ?2 \
           UNION SELECT id FROM issues WHERE status NOT IN ('resolved','closed') AND opened_ms < ?2 \
           UNION SELECT id FROM issues WHERE resolved_at >= ?4 AND opened_ms < ?2 \
           UNION SELECT id FROM issues WHERE closed_at >= ?4 AND opened_ms < ?2) AND {scope}"
    );
    let mut st = conn.prepare_cached(&sql)?;
    let mut out: Vec<Ticket> = st
        .query_map(params![from_ms, to_ms, site, from_s], ticket)?
        .filter_map(|r| r.transpose())
        .collect::<Result<_, _>>()?;
    // The earlier links of repeat chains (a bounded number of rounds; ids are fetched in batches).
    let mut have: std::collections::HashSet<i64> = out.iter().map(|t| t.id).collect();
    for _ in 0..50 {
        let mut want: Vec<i64> = out
            .iter()
            .filter_map(|t| t.repeat_of)
            .filter(|id| !have.contains(id))
            .collect();
        want.sort_unstable();
        want.dedup();
        if want.is_empty() {
            break;
        }
        for chunk in want.chunks(400) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("{TICKET_SELECT} WHERE i.id IN ({marks})");
            let mut st = conn.prepare(&sql)?;
            let found: Vec<Ticket> = st
                .query_map(rusqlite::params_from_iter(chunk.iter()), ticket)?
                .filter_map(|r| r.transpose())
                .collect::<Result<_, _>>()?;
            out.extend(found);
        }
        have.extend(want);
    }
    Ok(out)
}

fn tasks(conn: &Connection, range: Range, site: Option<i64>) -> Result<Vec<TaskEntry>, StoreError> {
    in_range(
        conn,
        "SELECT t.id, c.site_id, s.name, t.status, t.category, t.block, t.level, t.unit, t.area, t.reported_ms, \
         t.reported_by, p.name, p.phone \
         FROM tasks t JOIN chats c ON c.id = t.chat_id LEFT JOIN sites s ON s.id = c.site_id \
         LEFT JOIN people p ON p.id = t.reported_by \
         WHERE t.reported_ms >= ?1 AND t.reported_ms < ?2 AND (?3 IS NULL OR c.site_id = ?3)",
        range,
        site,
        |r| {
            let Some(reported) = ms(r.get(9)?) else {
                return Ok(None);
            };
            Ok(Some(TaskEntry {
                id: r.get(0)?,
                site: named(r.get(1)?, r.get(2)?),
                status: r.get(3)?,
                category: r.get(4)?,
                location: location(r, 5)?,
                reported,
                reporter: person(r, 10)?,
            }))
        },
    )
}

fn assignee_labels(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<Assignee>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|a| match a {
            Assignee::Vendor { vendor } => vendor,
            Assignee::Person(p) => p.name.unwrap_or(p.phone),
        })
        .collect()
}

fn occurrences(
    conn: &Connection,
    range: Range,
    site: Option<i64>,
) -> Result<Vec<OccurrenceRow>, StoreError> {
    in_range(
        conn,
        "SELECT o.id, sc.id, sc.name, sc.site_id, s.name, sc.category, sc.location, o.starts_at_ms, o.status, \
         sc.assignees, t.reported_by, p.name, p.phone \
         FROM occurrences o JOIN schedules sc ON sc.id = o.schedule_id LEFT JOIN sites s ON s.id = sc.site_id \
         LEFT JOIN tasks t ON t.id = o.task_id LEFT JOIN people p ON p.id = t.reported_by \
         WHERE o.starts_at_ms >= ?1 AND o.starts_at_ms < ?2 AND (?3 IS NULL OR sc.site_id = ?3)",
        range,
        site,
        |r| {
            let loc: String = r.get(6)?;
            let block = serde_json::from_str::<serde_json::Value>(&loc)
                .ok()
                .and_then(|v| v.get("block").and_then(|b| b.as_str()).map(str::to_string));
            let assignees: String = r.get(9)?;
            let Some(starts) = ms(r.get(7)?) else {
                return Ok(None);
            };
            Ok(Some(OccurrenceRow {
                id: r.get(0)?,
                schedule: Ref {
                    id: r.get(1)?,
                    name: r.get(2)?,
                },
                site: named(r.get(3)?, r.get(4)?),
                category: r.get(5)?,
                block,
                starts,
                status: r.get(8)?,
                assignees: assignee_labels(&assignees),
                reporter: person(r, 10)?,
            }))
        },
    )
}

fn schedules(conn: &Connection, site: Option<i64>) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM schedules WHERE deleted = 0 AND (?1 IS NULL OR site_id = ?1)",
        )?
        .query_row(params![site], |r| r.get(0))?)
}

/// Ladder steps (reminders, photo requests, escalations; not the daily summaries) with what answered them.
fn reminders(
    conn: &Connection,
    range: Range,
    site: Option<i64>,
) -> Result<Vec<ReminderRow>, StoreError> {
    in_range(
        conn,
        "SELECT l.id, l.at_ms, l.purpose, l.about_type, l.about_id, l.rung, o.reported_ms, \
                i.responded_at, i.resolved_at, i.closed_at \
         FROM ladder_steps l \
         LEFT JOIN occurrences o ON l.about_type = 'occurrence' AND o.id = l.about_id \
         LEFT JOIN schedules sc ON sc.id = o.schedule_id \
         LEFT JOIN issues i ON l.about_type = 'issue' AND i.id = l.about_id \
         LEFT JOIN chats c ON c.id = i.chat_id \
         WHERE l.at_ms >= ?1 AND l.at_ms < ?2 AND l.about_type IN ('occurrence', 'issue') \
           AND (?3 IS NULL OR sc.site_id = ?3 OR c.site_id = ?3)",
        range,
        site,
        |r| {
            let about_type: String = r.get(3)?;
            let rung: String = r.get(5)?;
            let answered = if about_type == "occurrence" {
                r.get::<_, Option<i64>>(6)?.and_then(ms)
            } else if rung.starts_with("respond") {
                time(r.get(7)?).or(time(r.get(8)?)).or(time(r.get(9)?))
            } else {
                time(r.get(8)?).or(time(r.get(9)?))
            };
            let Some(at) = ms(r.get(1)?) else {
                return Ok(None);
            };
            Ok(Some(ReminderRow {
                id: r.get(0)?,
                at,
                purpose: r.get(2)?,
                about_type,
                about_id: r.get(4)?,
                answered,
            }))
        },
    )
}

fn photos(conn: &Connection, range: Range, site: Option<i64>) -> Result<Vec<PhotoRow>, StoreError> {
    in_range(
        conn,
        "SELECT m.sender_id, p.name, p.phone, m.sent_ms \
         FROM messages m JOIN evidence e ON e.message_id = m.id JOIN people p ON p.id = m.sender_id \
         JOIN chats c ON c.id = m.chat_id \
         WHERE m.sent_ms >= ?1 AND m.sent_ms < ?2 AND m.type = 'media' AND e.kind = 'photo' \
           AND (?3 IS NULL OR c.site_id = ?3)",
        range,
        site,
        |r| {
            Ok(match (person(r, 0)?, ms(r.get(3)?)) {
                (Some(sender), Some(at)) => Some(PhotoRow { sender, at }),
                _ => None,
            })
        },
    )
}

/// Messages per chat, this period and the previous one, counted in SQL; every chat in scope is listed (a chat with
/// no message in either period shows zeros).
fn chats(conn: &Connection, range: Range, site: Option<i64>) -> Result<Vec<ChatCount>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT c.id, c.name, c.external_id, c.site_id, s.name, \
                coalesce(n.cur, 0), coalesce(n.prev, 0) \
         FROM chats c LEFT JOIN sites s ON s.id = c.site_id \
         LEFT JOIN (SELECT chat_id, sum(sent_ms >= ?2) AS cur, sum(sent_ms < ?2) AS prev FROM messages \
                    WHERE sent_ms >= ?1 AND sent_ms < ?3 \
                      AND (?4 IS NULL OR chat_id IN (SELECT id FROM chats WHERE site_id = ?4)) \
                    GROUP BY chat_id) n ON n.chat_id = c.id \
         WHERE (c.is_group = 1 OR n.chat_id IS NOT NULL) AND (?4 IS NULL OR c.site_id = ?4)",
    )?;
    let rows = st.query_map(
        params![
            range.previous_from.timestamp_millis(),
            range.from.timestamp_millis(),
            range.to.timestamp_millis(),
            site
        ],
        |r| {
            let id: i64 = r.get(0)?;
            let name: Option<String> = r.get(1)?;
            let ext: String = r.get(2)?;
            Ok(ChatCount {
                chat: Ref {
                    id,
                    name: name.unwrap_or(ext),
                },
                site: named(r.get(3)?, r.get(4)?),
                current: r.get(5)?,
                previous: r.get(6)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn person_vendors(conn: &Connection) -> Result<Vec<(i64, Ref)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT p.id, v.id, v.name FROM people p JOIN vendors v ON v.id = p.vendor_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get(0)?,
            Ref {
                id: r.get(1)?,
                name: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Everything a report over `range` needs, for one site or (None) the whole firm.
pub fn inputs(conn: &Connection, range: Range, site: Option<i64>) -> Result<Inputs, StoreError> {
    Ok(Inputs {
        tickets: tickets(conn, range, site)?,
        tasks: tasks(conn, range, site)?,
        occurrences: occurrences(conn, range, site)?,
        schedules: schedules(conn, site)?,
        reminders: reminders(conn, range, site)?,
        photos: photos(conn, range, site)?,
        chats: chats(conn, range, site)?,
        person_vendors: person_vendors(conn)?,
    })
}

/// Why a report could not be made: a bad date or site (the caller's input), or the database.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Period(#[from] crate::reports::PeriodError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The report of `kind` for the period containing the local date `date`, for the site `site` (id or name; None =
/// the firm), as of `now`.
pub fn report(
    conn: &Connection,
    kind: crate::reports::PeriodKind,
    date: chrono::NaiveDate,
    site: Option<&str>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    opts: &crate::reports::Options,
) -> Result<crate::reports::Report, ReportError> {
    let period = crate::reports::Period::containing(kind, date, tz)?;
    let previous = period.previous(tz)?;
    let site = site.map(|s| find_site(conn, s)).transpose()?;
    let range = Range {
        previous_from: previous.from,
        from: period.from,
        to: period.to,
    };
    let inp = inputs(conn, range, site.as_ref().map(|s| s.id))?;
    Ok(crate::reports::build(
        &inp, period, previous, site, now, opts,
    ))
}

/// The first day of the latest period of `kind` whose run was made, if any.
pub fn last_run(
    conn: &Connection,
    kind: crate::reports::PeriodKind,
) -> Result<Option<chrono::NaiveDate>, StoreError> {
    let day: Option<String> = conn
        .prepare_cached("SELECT max(first_day) FROM report_runs WHERE kind = ?1")?
        .query_row(params![kind.as_str()], |r| r.get(0))?;
    Ok(day.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
}

/// Records a run as made, with the files it wrote (a second record of the same run is ignored).
pub fn record_run(
    tx: &super::Transaction<'_>,
    kind: crate::reports::PeriodKind,
    first_day: chrono::NaiveDate,
    label: &str,
    due: DateTime<Utc>,
    done: DateTime<Utc>,
    files: &[String],
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO report_runs(kind, first_day, label, due_ms, done_ms, files) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        kind.as_str(),
        first_day.format("%Y-%m-%d").to_string(),
        label,
        due.timestamp_millis(),
        done.timestamp_millis(),
        serde_json::to_string(files).unwrap_or_else(|_| "[]".into())
    ])?;
    Ok(())
}

/// Every site's id, in order.
pub fn site_ids(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut st = conn.prepare_cached("SELECT id FROM sites ORDER BY id")?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

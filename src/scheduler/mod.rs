//! The scheduler (issue 18): a deterministic [`tick`] at a given `now` that
//! 1. materialises occurrences of every schedule a day and a half ahead (idempotent: UNIQUE (schedule, start));
//! 2. evaluates the open ones (started, not settled) against task-log entries and patrol check-ins
//!    ([`crate::schedule::status`]), links the deciding task entry to its occurrence, and settles an occurrence once
//!    nothing can change it;
//! 3. takes the due rungs of the reminder ladder ([`crate::schedule::ladder`]) for occurrences and overdue tickets,
//!    each rung and recipient once (a row of `ladder_steps`, in the same transaction as everything else);
//! 4. writes the managers' daily summary once a day at the configured time (linking to the day's report file);
//! 5. after its transaction, writes the scheduled report files that are due ([`report_files`]).
//!
//! Everything it decides is in the database, so a restart or a power cut loses nothing and repeats nothing. The whole
//! tick is one write transaction. Work per tick is bounded by what is open, not by history.

pub mod report_files;
pub mod texts;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::store::Transaction;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::classify::types::{Category, Location, TaskStatus};
use crate::outbox::texts::{Facts, Lang, TextKind, Texts};
use crate::outbox::{About, NewSend, Purpose, Route, SiteReminders};
use crate::schedule::ladder::{self, Rung, TicketClock, PHOTO_GRACE_MINUTES};
use crate::schedule::status::{self, CheckIn, Expect, Report, Window};
use crate::schedule::{tags, Assignee, OccurrenceStatus, Recurrence};
use crate::store::occurrences::{self as occ, NewStep};
use crate::store::outbox;
use crate::store::schedules::{self, Schedule};
use crate::store::{Db, StoreError};

/// Occurrences are materialised this far ahead of now…
const AHEAD_HOURS: i64 = 36;
/// …whenever a schedule's mark is less than this far ahead.
const REFILL_HOURS: i64 = 12;
/// At most this many schedules are materialised per tick (refills spread over several ticks instead of one long one;
/// a schedule's mark is 12 h ahead when it is due, so there is time).
const MATERIALIZE_PER_TICK: usize = 200;
/// An occurrence is settled this long after its last rung could have come, whatever its status.
const SETTLE_AFTER_HOURS: i64 = 6;
/// Default delay before a ticket's escalation contacts are chased after its owner.
const TICKET_ESCALATE_AFTER_MINUTES: i64 = 60;

/// What the scheduler needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tz: chrono_tz::Tz,
    /// `[server] public_url`, for the summary's link.
    pub public_url: String,
    /// Local time of the daily summary; None = off.
    pub summary_time: Option<NaiveTime>,
    /// Phones the daily summary goes to.
    pub summary_to: Vec<String>,
    /// `[reminders] language`, overridden per site by its `language` setting and per person by theirs.
    pub language: Lang,
    /// `[reports]`: the scheduled report files.
    pub reports: report_files::Settings,
}

impl Settings {
    pub fn from_config(cfg: &crate::config::Config, tz: chrono_tz::Tz) -> Settings {
        Settings {
            tz,
            public_url: cfg.server.public_url.clone(),
            summary_time: NaiveTime::parse_from_str(cfg.scheduler.summary_time.trim(), "%H:%M")
                .ok(),
            summary_to: cfg
                .scheduler
                .summary_to
                .iter()
                .filter_map(|p| crate::ingest::model::normalize_phone(p))
                .collect(),
            language: Lang::parse(&cfg.reminders.language).unwrap_or_default(),
            reports: report_files::Settings::from_config(cfg, tz),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickStats {
    pub materialized: usize,
    pub evaluated: usize,
    pub changed: usize,
    pub steps: usize,
    /// Scheduled report files written.
    pub report_files: usize,
}

/// Runs one tick at `now`: the scheduler's work in one write transaction, then the report files due (rendered
/// outside the writer; a failure there is logged and retried next tick).
pub async fn tick(db: &Db, s: &Settings, now: DateTime<Utc>) -> Result<TickStats, StoreError> {
    let set = s.clone();
    let mut stats = db.write(move |tx| tick_tx(tx, &set, now)).await?;
    match report_files::tick(db, &s.reports, now).await {
        Ok(d) => stats.report_files = d.files,
        Err(report_files::DeliveryError::Store(StoreError::WriterGone)) => {
            return Err(StoreError::WriterGone)
        }
        Err(e) => tracing::warn!(error = %e, "scheduled report files failed; retrying next tick"),
    }
    Ok(stats)
}

/// Runs [`tick`] every `every` until `stop`, reading the time from `clock`.
pub async fn run(
    db: Db,
    s: Settings,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    every: std::time::Duration,
    stop: CancellationToken,
) {
    let every = every.max(std::time::Duration::from_secs(1));
    loop {
        let started = std::time::Instant::now();
        match tick(&db, &s, clock()).await {
            Ok(st) if st.steps > 0 || st.changed > 0 => {
                tracing::info!(
                    materialized = st.materialized,
                    changed = st.changed,
                    steps = st.steps,
                    ms = started.elapsed().as_millis() as u64,
                    "scheduler tick"
                )
            }
            Ok(_) => {}
            Err(StoreError::WriterGone) => return,
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; retrying next tick"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// A schedule with what evaluating it needs, parsed once per tick.
struct Ctx {
    s: Schedule,
    expect: Option<Expect>,
    location: Location,
    phones: HashSet<String>,
    vendors: HashSet<i64>,
    site_name: Option<String>,
    lang: Lang,
    /// Each person's own reminder language, by phone digits.
    person_lang: HashMap<String, Lang>,
    chat_external: Option<String>,
    audience: String,
    route: Route,
}

fn site_reminders(settings: Option<&serde_json::Value>) -> SiteReminders {
    settings
        .map(SiteReminders::from_settings)
        .unwrap_or_default()
}

fn site_lang(rem: &SiteReminders, set: &Settings) -> Lang {
    rem.language.unwrap_or(set.language)
}

/// The managers' editable reminder texts (`reminder_texts` setting); the defaults when unset or unreadable.
fn reminder_texts(tx: &Transaction<'_>) -> Result<Texts, StoreError> {
    Ok(
        crate::store::settings::get(tx, crate::store::settings::REMINDER_TEXTS)?
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| Texts::from_json(&v))
            .unwrap_or_default(),
    )
}

fn minutes(m: i64) -> Duration {
    Duration::try_minutes(m).unwrap_or(Duration::zero())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

pub fn tick_tx(
    tx: &Transaction<'_>,
    set: &Settings,
    now: DateTime<Utc>,
) -> Result<TickStats, StoreError> {
    let mut stats = TickStats {
        materialized: materialize(tx, set, now)?,
        ..Default::default()
    };
    evaluate(tx, set, now, &mut stats)?;
    chase_tickets(tx, set, now, &mut stats)?;
    daily_summary(tx, set, now, &mut stats)?;
    Ok(stats)
}

fn materialize(
    tx: &Transaction<'_>,
    set: &Settings,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let (Some(refill), Some(until)) = (
        now.checked_add_signed(Duration::hours(REFILL_HOURS)),
        now.checked_add_signed(Duration::hours(AHEAD_HOURS)),
    ) else {
        return Ok(0);
    };
    let mut n = 0;
    for (s, mark) in schedules::behind(tx, ms(refill), MATERIALIZE_PER_TICK)? {
        let Ok(rec) = Recurrence::parse(&s.rrule, set.tz) else {
            tracing::warn!(
                schedule = s.id,
                "stored recurrence no longer parses; skipped"
            );
            schedules::set_materialized(tx, s.id, ms(until))?;
            continue;
        };
        let Some(from) = at(mark) else { continue };
        let patrol = !s.checkpoints.is_empty();
        for start in rec.starts_between(from, until) {
            let Some(w) = Window::new(start, s.window_minutes) else {
                continue;
            };
            let round = if patrol {
                let local = start.with_timezone(&rec.tz()).date_naive();
                crate::store::day_start_ms(local, rec.tz())
                    .and_then(at)
                    .map(|day| rec.starts_between(day, start).len() as i64 + 1)
            } else {
                None
            };
            if occ::materialize(tx, s.id, ms(w.starts_at), ms(w.due_at), round)? {
                n += 1;
            }
        }
        schedules::set_materialized(tx, s.id, ms(until))?;
    }
    Ok(n)
}

fn context(tx: &Transaction<'_>, set: &Settings, s: Schedule) -> Result<Ctx, StoreError> {
    let location: Location = serde_json::from_value(s.location.clone()).unwrap_or_default();
    let expect = Category::parse(&s.category).map(|category| Expect {
        category,
        location: location.clone(),
        photo_required: s.photo_required,
    });
    let mut phones = HashSet::new();
    let mut vendors = HashSet::new();
    let mut person_lang = HashMap::new();
    let people = s.assignees.iter().filter_map(|a| match a {
        Assignee::Person(p) => Some(p),
        Assignee::Vendor { .. } => None,
    });
    for p in people.chain(s.escalate_to.iter()) {
        let lang = p.language.as_deref().and_then(Lang::parse);
        if let (Some(d), Some(l)) = (crate::ingest::model::normalize_phone(&p.phone), lang) {
            person_lang.insert(d, l);
        }
    }
    for a in &s.assignees {
        match a {
            Assignee::Person(p) => {
                if let Some(d) = crate::ingest::model::normalize_phone(&p.phone) {
                    phones.insert(d);
                }
            }
            Assignee::Vendor { vendor } => {
                if let Some(v) = occ::vendor_id(tx, vendor)? {
                    vendors.insert(v);
                }
            }
        }
    }
    let site = match &s.site {
        Some(site) => occ::site_settings(tx, site.id)?,
        None => None,
    };
    let rem = site_reminders(site.as_ref().map(|(_, v)| v));
    let lang = site_lang(&rem, set);
    let chat_external = match &s.chat {
        Some(c) => occ::chat_external(tx, c.id)?,
        None => None,
    };
    let audience = s
        .audience
        .clone()
        .or_else(|| rem.delivery.audience.map(|a| a.as_str().to_string()))
        .unwrap_or_else(|| "both".into());
    let route = s
        .route
        .as_deref()
        .and_then(Route::parse)
        .or(rem.delivery.route)
        .unwrap_or(Route::CloudApi);
    Ok(Ctx {
        route,
        expect,
        location,
        phones,
        vendors,
        site_name: site.map(|(n, _)| n),
        lang,
        person_lang,
        chat_external,
        audience,
        s,
    })
}

impl Ctx {
    fn by_assignee(&self, phone: Option<&str>, vendor: Option<i64>) -> bool {
        phone.is_some_and(|p| self.phones.contains(p))
            || vendor.is_some_and(|v| self.vendors.contains(&v))
    }
    fn in_chat(&self, chat: i64) -> bool {
        self.s.chat.as_ref().is_some_and(|c| c.id == chat)
    }
    /// A person's reminder language: theirs, else the site's (a group gets the site's).
    fn lang_of(&self, recipient: &str) -> Lang {
        self.person_lang
            .get(recipient)
            .copied()
            .unwrap_or(self.lang)
    }
    /// The assignees' phones, sorted.
    fn assignee_phones(&self) -> Vec<String> {
        let mut p: Vec<String> = self.phones.iter().cloned().collect();
        p.sort();
        p
    }
    /// Whom a reminder or photo request goes to: the group, the assignees, or both.
    fn assignee_recipients(&self) -> Vec<String> {
        let mut out = vec![];
        let group = matches!(self.audience.as_str(), "group" | "both");
        let person = matches!(self.audience.as_str(), "person" | "both");
        if group {
            out.extend(self.chat_external.clone());
        }
        if person || out.is_empty() {
            out.extend(self.assignee_phones());
        }
        out
    }
    fn escalation_recipients(&self) -> Vec<String> {
        self.s
            .escalate_to
            .iter()
            .filter_map(|p| crate::ingest::model::normalize_phone(&p.phone))
            .collect()
    }
    /// The assignees as an escalation names them: names where known, else phones.
    fn assignee_names(&self) -> String {
        let names: Vec<String> = self
            .s
            .assignees
            .iter()
            .map(|a| match a {
                Assignee::Person(p) => p.name.clone().unwrap_or_else(|| p.phone.clone()),
                Assignee::Vendor { vendor } => vendor.clone(),
            })
            .collect();
        names.join(", ")
    }
    fn checkpoint_codes(&self) -> Vec<String> {
        self.s
            .checkpoints
            .iter()
            .map(|c| c.code.to_ascii_uppercase())
            .collect()
    }
}

fn evaluate(
    tx: &Transaction<'_>,
    set: &Settings,
    now: DateTime<Utc>,
    stats: &mut TickStats,
) -> Result<(), StoreError> {
    let open = occ::open(tx, ms(now))?;
    if open.is_empty() {
        return Ok(());
    }
    let texts = reminder_texts(tx)?;
    let mut ctxs: HashMap<i64, Ctx> = HashMap::new();
    for o in &open {
        if let std::collections::hash_map::Entry::Vacant(slot) = ctxs.entry(o.schedule) {
            let s = match schedules::get(tx, o.schedule) {
                Ok(s) => s,
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            slot.insert(context(tx, set, s)?);
        }
    }
    let earliest = open.iter().map(|o| o.starts_ms).min().unwrap_or(ms(now));
    // Task reports, indexed by chat, reporter phone and vendor (one query for all open occurrences).
    let reports = occ::task_reports(tx, earliest, ms(now))?;
    let mut by_chat: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut by_phone: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_vendor: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, r) in reports.iter().enumerate() {
        by_chat.entry(r.chat).or_default().push(i);
        if let Some(p) = &r.phone {
            by_phone.entry(p.as_str()).or_default().push(i);
        }
        if let Some(v) = r.vendor {
            by_vendor.entry(v).or_default().push(i);
        }
    }
    // Patrol check-ins: messages in the patrols' chats, and poster tags from anywhere.
    let patrol_chats: Vec<i64> = {
        let mut v: Vec<i64> = ctxs
            .values()
            .filter(|c| !c.s.checkpoints.is_empty())
            .filter_map(|c| c.s.chat.as_ref().map(|c| c.id))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let patrol_senders: Vec<String> = {
        let mut v: Vec<String> = ctxs
            .values()
            .filter(|c| !c.s.checkpoints.is_empty())
            .flat_map(|c| c.phones.iter().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    // Poster tags of cleaning places (`#C-L3 Kenanga Heights` + photo), from anyone: the tag verifies the place.
    let tagged = if ctxs
        .values()
        .any(|c| c.s.checkpoints.is_empty() && c.site_name.is_some())
    {
        occ::tagged_messages(tx, earliest, ms(now))?
    } else {
        vec![]
    };
    let any_patrol = ctxs.values().any(|c| !c.s.checkpoints.is_empty());
    let checkins = if any_patrol {
        let from = open
            .iter()
            .filter(|o| {
                ctxs.get(&o.schedule)
                    .is_some_and(|c| !c.s.checkpoints.is_empty())
            })
            .map(|o| o.starts_ms)
            .min()
            .unwrap_or(ms(now));
        occ::checkin_messages(tx, &patrol_chats, &patrol_senders, from, ms(now))?
    } else {
        vec![]
    };

    let window_of = |o: &occ::Open| -> Option<Window> {
        Some(Window {
            starts_at: at(o.starts_ms)?,
            due_at: at(o.due_ms)?,
            next_start: o.next_starts_ms.and_then(at),
        })
    };
    // Each open work occurrence's candidate reports: those by an assignee, in its chat, or with its poster tag.
    let candidates: Vec<Vec<Report>> = open
        .iter()
        .map(|o| {
            let Some(c) = ctxs.get(&o.schedule) else {
                return vec![];
            };
            let Some(expect) = c.expect.as_ref().filter(|_| c.s.checkpoints.is_empty()) else {
                return vec![];
            };
            let mut idx: Vec<usize> = vec![];
            if let Some(chat) = &c.s.chat {
                idx.extend(by_chat.get(&chat.id).into_iter().flatten());
            }
            for p in &c.phones {
                idx.extend(by_phone.get(p.as_str()).into_iter().flatten());
            }
            for v in &c.vendors {
                idx.extend(by_vendor.get(v).into_iter().flatten());
            }
            idx.sort_unstable();
            idx.dedup();
            let mut rs: Vec<Report> = idx
                .iter()
                .filter_map(|&i| {
                    let r = &reports[i];
                    Some(Report {
                        task: Some(r.task),
                        at: at(r.at_ms)?,
                        status: TaskStatus::parse(&r.status)?,
                        category: r.category.as_deref().and_then(Category::parse),
                        location: serde_json::from_str(&r.location).unwrap_or_default(),
                        has_photo: r.has_photo,
                        by_assignee: c.by_assignee(r.phone.as_deref(), r.vendor),
                        in_chat: c.in_chat(r.chat),
                        text: r.text.clone(),
                    })
                })
                .collect();
            rs.extend(tag_reports(c, expect, &tagged, &reports));
            rs
        })
        .collect();
    // A task report decides at most one occurrence: the one it already decided, else the first open one whose
    // window (start to due time) it falls in; only a report owned by neither may be a late one.
    let mut owner: HashMap<i64, i64> = reports
        .iter()
        .filter_map(|r| Some((r.task, r.occurrence?)))
        .collect();
    for (o, rs) in open.iter().zip(&candidates) {
        let (Some(c), Some(w)) = (ctxs.get(&o.schedule), window_of(o)) else {
            continue;
        };
        let Some(expect) = &c.expect else { continue };
        for r in rs {
            if let Some(t) = r.task {
                let decides = r.status != TaskStatus::InProgress;
                if decides && r.at <= w.due_at && w.covers(r.at, now) && status::counts(expect, r) {
                    owner.entry(t).or_insert(o.id);
                }
            }
        }
    }

    for (o, mut rs) in open.iter().zip(candidates) {
        let Some(c) = ctxs.get(&o.schedule) else {
            continue;
        };
        let Some(window) = window_of(o) else {
            continue;
        };
        let due = window.due_at;
        stats.evaluated += 1;
        let excused = o.excused_reason.as_deref();
        let (st, task, reported, reason, missing) = if c.s.checkpoints.is_empty() {
            let Some(expect) = &c.expect else { continue };
            rs.retain(|r| {
                r.task
                    .is_none_or(|t| owner.get(&t).is_none_or(|&other| other == o.id))
            });
            let out = status::evaluate(window, expect, &rs, now, excused);
            (
                out.status,
                out.task,
                out.reported_at.map(ms),
                out.reason,
                vec![],
            )
        } else {
            let codes = c.checkpoint_codes();
            let cis: Vec<CheckIn> = checkins
                .iter()
                .filter_map(|m| checkin(c, &codes, o, m))
                .collect();
            let out = status::evaluate_round(window, &codes, &cis, now, excused);
            let reason = match out.status {
                OccurrenceStatus::Missed if !out.missing.is_empty() => Some(format!(
                    "checkpoints not checked in: {}",
                    out.missing.join(", ")
                )),
                OccurrenceStatus::Excused => excused.map(str::to_string),
                _ => None,
            };
            let missing = if out.status == OccurrenceStatus::Fulfilled {
                vec![]
            } else {
                out.missing
            };
            (out.status, None, None, reason, missing)
        };

        // The ladder: due rungs not taken yet.
        if matches!(
            st,
            OccurrenceStatus::Missed | OccurrenceStatus::MissingPhoto
        ) {
            let taken: Vec<Rung> = occ::rungs_taken(tx, "occurrence", o.id)?
                .iter()
                .filter_map(|r| Rung::parse(r))
                .collect();
            let due_rungs = ladder::occurrence_rungs(
                st,
                due,
                reported.and_then(at),
                c.s.remind_after_minutes,
                c.s.escalate_after_minutes,
                &taken,
                now,
            );
            for d in due_rungs {
                let to = match d.rung {
                    Rung::Escalate => c.escalation_recipients(),
                    _ => c.assignee_recipients(),
                };
                let kind = match (d.rung, missing.is_empty()) {
                    (Rung::PhotoRequest, _) => TextKind::PhotoRequest,
                    (Rung::Escalate, true) => TextKind::Escalate,
                    (Rung::Escalate, false) => TextKind::EscalateCheckpoints,
                    (_, true) => TextKind::Remind,
                    (_, false) => TextKind::Checkpoints,
                };
                let names = c.assignee_names();
                let checkpoints = missing.join(", ");
                let facts = Facts {
                    schedule: &c.s.name,
                    category: &c.s.category,
                    location: c.location.clone(),
                    assignees: &names,
                    checkpoints: &checkpoints,
                };
                // A group reminder mentions the assignees, so their phones ring.
                let mentions = c.assignee_phones();
                let outs: Vec<Out> = to
                    .into_iter()
                    .map(|r| {
                        let (text, params) = texts.render(c.lang_of(&r), kind, &facts);
                        let group = r.contains('@');
                        Out {
                            mentions: if group { mentions.clone() } else { vec![] },
                            to: r,
                            text,
                            params,
                        }
                    })
                    .collect();
                let step = Step {
                    about: About::occurrence(o.id),
                    route: c.route,
                    site: c.s.site.as_ref().map(|x| x.id),
                    rung: d.rung.as_str(),
                    purpose: Purpose::of_rung(d.rung),
                };
                stats.steps += send(tx, &step, &outs, now)?;
            }
        }

        let last_rung = [
            c.s.remind_after_minutes,
            c.s.escalate_after_minutes,
            Some(PHOTO_GRACE_MINUTES),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let settle_at = due
            .checked_add_signed(minutes(last_rung))
            .and_then(|t| t.checked_add_signed(Duration::hours(SETTLE_AFTER_HOURS)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let settled = st.is_settled() || now >= settle_at;
        if st.as_str() != o.status || task != o.task || settled || missing != o.missing {
            occ::decide(
                tx,
                o.id,
                &occ::Decided {
                    status: st.as_str(),
                    task,
                    reported_ms: reported,
                    reason: reason.as_deref(),
                    missing: &missing,
                    settled,
                },
            )?;
            if st.as_str() != o.status || settled {
                stats.changed += 1;
            }
        }
    }
    Ok(())
}

/// Poster-tag messages naming this cleaning schedule's place code and its site, as reports of the work done there:
/// the tag verifies the place, so the sender need not be an assignee, and the report has the schedule's category and
/// location. It carries a photo when the message or the task entry it became does.
fn tag_reports(
    c: &Ctx,
    expect: &Expect,
    tagged: &[occ::TaggedMessage],
    reports: &[occ::TaskReport],
) -> Vec<Report> {
    let Some(site) = c.site_name.as_deref() else {
        return vec![];
    };
    let code = tags::location_code(&c.location, c.s.id);
    tagged
        .iter()
        .filter_map(|m| {
            let tag = tags::parse_poster_tag(&m.text)?;
            if tag.code != code || !tags::tag_names_site(&tag, site) {
                return None;
            }
            let task_photo = m
                .task
                .is_some_and(|t| reports.iter().any(|r| r.task == t && r.has_photo));
            Some(Report {
                task: m.task,
                at: at(m.at_ms)?,
                status: TaskStatus::Done,
                category: Some(expect.category),
                location: expect.location.clone(),
                has_photo: m.has_photo || task_photo,
                by_assignee: true,
                in_chat: true,
                text: Some(m.text.clone()),
            })
        })
        .collect()
}

/// A message as a check-in for patrol occurrence `o`: a poster tag naming the site and one of its checkpoints (from
/// anyone: the tag verifies the place), "Checkpoint 3 clear" / "Round 2 ok" from an assignee or in the chat.
fn checkin(c: &Ctx, codes: &[String], o: &occ::Open, m: &occ::CheckInMessage) -> Option<CheckIn> {
    let at = at(m.at_ms)?;
    if let Some(tag) = tags::parse_poster_tag(&m.text) {
        let site_ok = c
            .site_name
            .as_deref()
            .is_some_and(|s| tags::tag_names_site(&tag, s));
        if site_ok && codes.iter().any(|k| k.eq_ignore_ascii_case(&tag.code)) {
            return Some(CheckIn {
                at,
                codes: vec![tag.code],
                whole_round: false,
                by_assignee: true,
                in_chat: true,
            });
        }
        return None;
    }
    let by_assignee = c.by_assignee(m.phone.as_deref(), m.vendor);
    let in_chat = c.in_chat(m.chat);
    if !(by_assignee || in_chat) {
        return None;
    }
    let mentioned: Vec<String> = tags::checkpoint_mentions(&m.text)
        .iter()
        .flat_map(|men| {
            codes
                .iter()
                .filter(|k| tags::mention_matches(men, k))
                .cloned()
        })
        .collect();
    let whole_round = mentioned.is_empty()
        && tags::round_mention(&m.text).is_some_and(|n| o.round.is_none_or(|r| r == i64::from(n)));
    if mentioned.is_empty() && !whole_round {
        return None;
    }
    Some(CheckIn {
        at,
        codes: mentioned,
        whole_round,
        by_assignee,
        in_chat,
    })
}

/// One rung of a ladder about one subject (an occurrence, a ticket, or the day's report).
struct Step<'a> {
    about: About,
    route: Route,
    site: Option<i64>,
    rung: &'a str,
    purpose: Purpose,
}

/// One recipient of a step, with the text in their language and the Cloud API template's parameters.
struct Out {
    to: String,
    text: String,
    params: Vec<String>,
    mentions: Vec<String>,
}

impl Out {
    fn plain(to: String, text: &str) -> Out {
        Out {
            to,
            text: text.to_string(),
            params: vec![],
            mentions: vec![],
        }
    }
}

/// Takes a step for each recipient, once per subject, rung and recipient, and queues its send in the outbox in the
/// same transaction: the one place where the ladder's sends are queued. Returns how many steps were new. A recipient
/// the outbox cannot address (a chat id of another source) is logged and the step kept, so it is not retried.
fn send(
    tx: &Transaction<'_>,
    step: &Step<'_>,
    outs: &[Out],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for o in outs {
        let r = &o.to;
        let new = occ::take_step(
            tx,
            &NewStep {
                about_type: step.about.kind.as_str(),
                about_id: step.about.id,
                rung: step.rung,
                recipient: r,
                purpose: step.purpose.as_str(),
                text: &o.text,
                at_ms: ms(now),
            },
        )?;
        if !new {
            continue;
        }
        n += 1;
        let mut s = NewSend::text(
            r.clone(),
            step.route,
            o.text.clone(),
            step.purpose,
            step.about,
        );
        s.rung = step.rung.to_string();
        s.site_id = step.site;
        s.template_params = o.params.clone();
        s.mentions = o.mentions.clone();
        match outbox::enqueue(tx, &s, now) {
            Ok(_) => {}
            Err(StoreError::Invalid(why)) => {
                tracing::warn!(to = %r, %why, "reminder not queued: the outbox cannot address this recipient")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn chase_tickets(
    tx: &Transaction<'_>,
    set: &Settings,
    now: DateTime<Utc>,
    stats: &mut TickStats,
) -> Result<(), StoreError> {
    for t in occ::overdue_tickets(tx, ms(now))? {
        let site = match t.site {
            Some(id) => occ::site_settings(tx, id)?,
            None => None,
        };
        let settings = site.map(|(_, v)| v).unwrap_or_default();
        let rem = site_reminders(Some(&settings));
        let lang = site_lang(&rem, set);
        let route = rem.delivery.route.unwrap_or(Route::CloudApi);
        // The ticket chase's contacts: the site's `reminders.escalate_to` and `reminders.escalate_after_minutes`.
        let settings = settings.get("reminders").cloned().unwrap_or_default();
        let escalate_after = settings
            .get("escalate_after_minutes")
            .and_then(|v| v.as_i64())
            .filter(|m| (0..=crate::schedule::MAX_WINDOW_MINUTES).contains(m))
            .unwrap_or(TICKET_ESCALATE_AFTER_MINUTES);
        let escalate_to: Vec<String> = settings
            .get("escalate_to")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("phone").and_then(|x| x.as_str()).or(p.as_str()))
            .filter_map(crate::ingest::model::normalize_phone)
            .collect();
        let taken: Vec<Rung> = occ::rungs_taken(tx, "issue", t.id)?
            .iter()
            .filter_map(|r| Rung::parse(r))
            .collect();
        let clock = TicketClock {
            respond_by: t.respond_by_ms.and_then(at),
            resolve_by: t.resolve_by_ms.and_then(at),
            acknowledged: t.status != "open",
            resolved: false,
        };
        for d in ladder::ticket_rungs(clock, Some(escalate_after), &taken, now) {
            let to = match d.rung {
                Rung::RespondOwner | Rung::ResolveOwner => {
                    vec![t
                        .owner_phone
                        .clone()
                        .unwrap_or_else(|| t.chat_external.clone())]
                }
                _ => escalate_to.clone(),
            };
            let text = texts::ticket(lang, d.rung, t.id, &t.title);
            let step = Step {
                about: About::issue(t.id),
                route,
                site: t.site,
                rung: d.rung.as_str(),
                purpose: Purpose::of_rung(d.rung),
            };
            let outs: Vec<Out> = to.into_iter().map(|r| Out::plain(r, &text)).collect();
            stats.steps += send(tx, &step, &outs, now)?;
        }
    }
    Ok(())
}

fn daily_summary(
    tx: &Transaction<'_>,
    set: &Settings,
    now: DateTime<Utc>,
    stats: &mut TickStats,
) -> Result<(), StoreError> {
    let Some(when) = set.summary_time else {
        return Ok(());
    };
    if set.summary_to.is_empty() {
        return Ok(());
    }
    let local = now.with_timezone(&set.tz);
    if local.time() < when {
        return Ok(());
    }
    let today = local.date_naive();
    let Some(yesterday) = today.pred_opt() else {
        return Ok(());
    };
    let day_id: i64 = today.format("%Y%m%d").to_string().parse().unwrap_or(0);
    if !occ::rungs_taken(tx, "report", day_id)?.is_empty() {
        return Ok(());
    }
    let (Some(from), Some(to)) = (
        crate::store::day_start_ms(yesterday, set.tz),
        crate::store::day_start_ms(today, set.tz),
    ) else {
        return Ok(());
    };
    let mut s = texts::Summary {
        day: yesterday.format("%Y-%m-%d").to_string(),
        ..Default::default()
    };
    for (status, n) in occ::counts(tx, from, to)? {
        match status.as_str() {
            "fulfilled" => s.done += n,
            "late" => s.late += n,
            "missed" => s.missed += n,
            "missing_photo" => s.no_photo += n,
            _ => {}
        }
    }
    (s.open_tickets, s.overdue_tickets) = occ::ticket_counts(tx, ms(now))?;
    if !set.public_url.trim().is_empty() {
        let base = set.public_url.trim().trim_end_matches('/');
        // The day's report file when daily files are written (by this tick, right after, when they are due at the
        // same time); else the day's scheduled work in the UI.
        s.link = match set.reports.daily_file(yesterday) {
            Some(name) => format!("{base}/api/v1/reports/files/{name}"),
            None => format!("{base}/occurrences?date={}", s.day),
        };
    }
    let text = texts::summary(set.language, &s);
    let step = Step {
        about: About::report(day_id),
        route: Route::CloudApi,
        site: None,
        rung: "summary",
        purpose: Purpose::Summary,
    };
    let outs: Vec<Out> = set
        .summary_to
        .iter()
        .map(|r| Out::plain(r.clone(), &text))
        .collect();
    stats.steps += send(tx, &step, &outs, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Person, ScheduleSpec};
    use crate::store::schedules::ScheduleRow;

    #[tokio::test]
    async fn a_tick_materialises_a_bounded_number_of_schedules_and_the_next_ones_catch_up() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = MATERIALIZE_PER_TICK + 50;
        db.write(move |tx| {
            for i in 0..n {
                let row = ScheduleRow {
                    spec: ScheduleSpec {
                        name: format!("s{i}"),
                        site: None,
                        category: "cleaning".into(),
                        location: Default::default(),
                        assignees: vec![],
                        chat: None,
                        rrule: "DTSTART:20261201T080000Z\nRRULE:FREQ=DAILY".into(),
                        window_minutes: 60,
                        photo_required: false,
                        remind_after_minutes: None,
                        escalate_after_minutes: None,
                        escalate_to: Vec::<Person>::new(),
                        checkpoints: vec![],
                    },
                    site_id: None,
                    chat_id: None,
                    route: None,
                    audience: None,
                };
                schedules::insert(tx, &row, ms(now))?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let set = Settings {
            tz: chrono_tz::UTC,
            public_url: String::new(),
            summary_time: None,
            summary_to: vec![],
            language: Lang::En,
            reports: report_files::Settings::off(chrono_tz::UTC),
        };
        let covered = || {
            db.read(|c| {
                Ok(c.query_row(
                    "SELECT count(DISTINCT schedule_id) FROM occurrences",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
        };
        tick(&db, &set, now).await.unwrap();
        assert_eq!(covered().await.unwrap(), MATERIALIZE_PER_TICK as i64);
        tick(&db, &set, now).await.unwrap();
        assert_eq!(covered().await.unwrap(), n as i64);
        // 36 h ahead from midnight: two daily starts each, made once.
        let third = tick(&db, &set, now).await.unwrap();
        assert_eq!(third.materialized, 0);
        db.close();
    }
}

//! The computations: plain inputs in, a [`Report`] out. No I/O; "now" is a parameter. docs/reports.md defines each
//! number in the same words.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::model::*;
use super::period::Period;

/// How many entries each "top recurring" list keeps.
pub const TOP: usize = 5;
const NO_SITE: &str = "(no site)";
const NONE: &str = "(none)";

/// Options that are not data.
#[derive(Debug, Clone)]
pub struct Options {
    /// A reminder counts as answered when its answer came within this many minutes.
    pub answer_window_minutes: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options::from_config(&crate::config::ReportsConfig::default())
    }
}

impl Options {
    /// `[reports] answer_window_minutes`.
    pub fn from_config(cfg: &crate::config::ReportsConfig) -> Options {
        Options {
            answer_window_minutes: i64::from(cfg.answer_window_minutes),
        }
    }
}

/// Seconds from `a` to `b`, never negative (a clock skew between sources must not make a negative duration).
fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    b.signed_duration_since(a).num_seconds().max(0)
}

/// Mean (rounded to the nearest second) and nearest-rank 90th percentile.
pub fn durations(mut v: Vec<i64>) -> Durations {
    if v.is_empty() {
        return Durations::default();
    }
    v.sort_unstable();
    let n = v.len();
    let sum: i128 = v.iter().map(|&x| i128::from(x)).sum();
    let n128 = n as i128;
    let mean = (sum + n128 / 2) / n128;
    // nearest rank: the ceil(0.9 n)-th smallest value
    let rank = (n * 9).div_ceil(10).clamp(1, n);
    Durations {
        count: n as i64,
        mean_seconds: i64::try_from(mean).ok(),
        p90_seconds: Some(v[rank - 1]),
    }
}

/// SLA breach as the records engine defines it: done after the deadline, or not done and the deadline passed.
fn breached(deadline: DateTime<Utc>, done: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    crate::records::breached(deadline, done, now)
}

fn rate(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn site_key(s: &Option<Ref>) -> String {
    s.as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_else(|| NO_SITE.to_string())
}

fn or_none(s: &Option<String>) -> String {
    match s.as_deref() {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => NONE.to_string(),
    }
}

fn or_none_str(s: &str) -> String {
    if s.is_empty() {
        NONE.to_string()
    } else {
        s.to_string()
    }
}

fn sorted_ids(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// The ticket numbers of one period.
pub fn tickets(all: &[&Ticket], p: &Period, now: DateTime<Utc>) -> Tickets {
    let ids = |f: &dyn Fn(&Ticket) -> bool| -> Vec<i64> {
        sorted_ids(all.iter().filter(|t| f(t)).map(|t| t.id).collect())
    };
    let opened = ids(&|t| p.contains(t.opened));
    let resolved = ids(&|t| t.resolved.is_some_and(|r| p.contains(r)));
    let closed = ids(&|t| t.closed.is_some_and(|c| p.contains(c)));
    let open_at_end = ids(&|t| t.opened < p.to && !t.done_before(p.to));
    let late_to_respond = ids(&|t| {
        t.respond_by
            .is_some_and(|d| p.contains(d) && breached(d, t.acknowledged.or(t.done()), now))
    });
    let late_to_resolve = ids(&|t| {
        t.resolve_by
            .is_some_and(|d| p.contains(d) && breached(d, t.done(), now))
    });
    let overdue_now = ids(&|t| {
        t.opened < p.to
            && t.done().is_none()
            && (t.resolve_by.is_some_and(|d| d < now)
                || (t.acknowledged.is_none() && t.respond_by.is_some_and(|d| d < now)))
    });
    let ack = all
        .iter()
        .filter(|t| p.contains(t.opened))
        .filter_map(|t| t.acknowledged.map(|a| secs(t.opened, a)))
        .collect();
    let res = all
        .iter()
        .filter_map(|t| {
            t.done()
                .filter(|d| p.contains(*d))
                .map(|d| secs(t.opened, d))
        })
        .collect();
    Tickets {
        opened: opened.len() as i64,
        resolved: resolved.len() as i64,
        closed: closed.len() as i64,
        open_at_end: open_at_end.len() as i64,
        time_to_acknowledge: durations(ack),
        time_to_resolve: durations(res),
        late_to_respond: late_to_respond.len() as i64,
        late_to_resolve: late_to_resolve.len() as i64,
        overdue_now: overdue_now.len() as i64,
        ids: TicketIds {
            opened,
            resolved,
            closed,
            open_at_end,
            late_to_respond,
            late_to_resolve,
            overdue_now,
        },
    }
}

fn add_status(c: &mut WorkCounts, status: &str) {
    c.expected += 1;
    match status {
        "fulfilled" => c.done_on_time += 1,
        "late" => c.late += 1,
        "missed" => c.missed += 1,
        "missing_photo" => c.missing_photo += 1,
        "blocked" => c.blocked += 1,
        "excused" => c.excused += 1,
        _ => c.pending += 1,
    }
}

fn finish(mut c: WorkCounts) -> WorkCounts {
    c.completion_rate = rate(c.done_on_time + c.late, c.expected - c.excused);
    c
}

fn work_lines(map: BTreeMap<String, WorkCounts>) -> Vec<WorkLine> {
    map.into_iter()
        .map(|(key, c)| WorkLine {
            key,
            counts: finish(c),
        })
        .collect()
}

/// Scheduled work of one period.
pub fn scheduled(all: &[&OccurrenceRow], schedules: i64, p: &Period) -> Scheduled {
    let mut totals = WorkCounts::default();
    let mut by: [BTreeMap<String, WorkCounts>; 5] = Default::default();
    for o in all.iter().filter(|o| p.contains(o.starts)) {
        add_status(&mut totals, &o.status);
        add_status(by[0].entry(site_key(&o.site)).or_default(), &o.status);
        add_status(by[1].entry(or_none(&o.block)).or_default(), &o.status);
        add_status(
            by[2].entry(or_none_str(&o.category)).or_default(),
            &o.status,
        );
        add_status(
            by[3]
                .entry(format!("{} (#{})", o.schedule.name, o.schedule.id))
                .or_default(),
            &o.status,
        );
        let people: Vec<String> = if o.assignees.is_empty() {
            vec!["(unassigned)".to_string()]
        } else {
            o.assignees.clone()
        };
        for who in people
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
        {
            add_status(by[4].entry(who).or_default(), &o.status);
        }
    }
    let [site, block, category, schedule, person] = by;
    Scheduled {
        schedules,
        totals: finish(totals),
        by_site: work_lines(site),
        by_block: work_lines(block),
        by_category: work_lines(category),
        by_schedule: work_lines(schedule),
        by_person: work_lines(person),
    }
}

fn counts(map: BTreeMap<String, i64>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

/// Task-log entries of one period.
pub fn tasks(all: &[&TaskEntry], p: &Period) -> Tasks {
    let mut by: [BTreeMap<String, i64>; 3] = Default::default();
    let mut total = 0;
    for t in all.iter().filter(|t| p.contains(t.reported)) {
        total += 1;
        *by[0].entry(t.status.clone()).or_default() += 1;
        *by[1].entry(or_none(&t.category)).or_default() += 1;
        *by[2].entry(or_none_str(&t.location)).or_default() += 1;
    }
    let [status, category, location] = by;
    Tasks {
        total,
        by_status: counts(status),
        by_category: counts(category),
        by_location: counts(location),
    }
}

/// The chain that ends at `t`: ticket ids from the first report to `t`, oldest first (bounded; a cycle stops it).
fn chain(t: &Ticket, by_id: &HashMap<i64, &Ticket>) -> Vec<i64> {
    let mut out = vec![t.id];
    let mut seen: HashSet<i64> = HashSet::from([t.id]);
    let mut next = t.repeat_of;
    while let Some(id) = next {
        if !seen.insert(id) || out.len() >= 1000 {
            break;
        }
        out.push(id);
        next = by_id.get(&id).and_then(|p| p.repeat_of);
    }
    out.reverse();
    out
}

fn recurring(map: BTreeMap<String, Vec<Vec<i64>>>) -> Vec<Recurring> {
    let mut v: Vec<Recurring> = map
        .into_iter()
        .map(|(key, chains)| {
            let repeats = chains.len() as i64;
            // A chain that another chain of the same key continues is shown once, as the longer one.
            let mut kept: Vec<Vec<i64>> = Vec::new();
            for c in &chains {
                let continued = chains.iter().any(|o| o.len() > c.len() && o.starts_with(c));
                if !continued && !kept.contains(c) {
                    kept.push(c.clone());
                }
            }
            kept.sort();
            Recurring {
                key,
                repeats,
                chains: kept,
            }
        })
        .collect();
    v.sort_by(|a, b| b.repeats.cmp(&a.repeats).then_with(|| a.key.cmp(&b.key)));
    v.truncate(TOP);
    v
}

/// Repeated problems of one period.
pub fn repeats(all: &[&Ticket], by_id: &HashMap<i64, &Ticket>, p: &Period) -> Repeats {
    let mut by: [BTreeMap<String, Vec<Vec<i64>>>; 3] = Default::default();
    let mut total = 0;
    for t in all
        .iter()
        .filter(|t| p.contains(t.opened) && t.repeat_of.is_some())
    {
        total += 1;
        let c = chain(t, by_id);
        by[0].entry(site_key(&t.site)).or_default().push(c.clone());
        let loc = if t.location.is_empty() {
            NONE.to_string()
        } else {
            format!("{} · {}", site_key(&t.site), t.location)
        };
        by[1].entry(loc).or_default().push(c.clone());
        by[2].entry(or_none(&t.category)).or_default().push(c);
    }
    let [sites, locations, categories] = by;
    Repeats {
        total,
        top_sites: recurring(sites),
        top_locations: recurring(locations),
        top_categories: recurring(categories),
    }
}

#[derive(Default)]
struct ScoreAcc {
    owned: i64,
    resolved: i64,
    within: i64,
    resolve_secs: Vec<i64>,
    reports: i64,
    on_time: i64,
    photos: i64,
}

impl ScoreAcc {
    fn score(self) -> Score {
        Score {
            tickets_owned: self.owned,
            tickets_resolved: self.resolved,
            resolved_within_sla: self.within,
            within_sla_rate: rate(self.within, self.resolved),
            mean_resolve_seconds: durations(self.resolve_secs).mean_seconds,
            reports_sent: self.reports,
            reports_on_time: self.on_time,
            photos_sent: self.photos,
        }
    }
}

/// Whose scorecards a record counts on: the person and, through them, their vendor.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Who {
    Person(i64),
    Vendor(i64),
}

fn scores(inp: &Scope<'_>, p: &Period, vendors: &HashMap<i64, Ref>) -> HashMap<Who, ScoreAcc> {
    let mut acc: HashMap<Who, ScoreAcc> = HashMap::new();
    let mut both = |person: &PersonRef, f: &dyn Fn(&mut ScoreAcc)| {
        f(acc.entry(Who::Person(person.id)).or_default());
        if let Some(v) = vendors.get(&person.id) {
            f(acc.entry(Who::Vendor(v.id)).or_default());
        }
    };
    for t in &inp.tickets {
        let Some(owner) = &t.owner else { continue };
        if p.contains(t.opened) {
            both(owner, &|a| a.owned += 1);
        }
        if let Some(d) = t.done().filter(|d| p.contains(*d)) {
            let within = t.resolve_by.is_none_or(|by| d <= by);
            let s = secs(t.opened, d);
            both(owner, &|a| {
                a.resolved += 1;
                a.within += i64::from(within);
                a.resolve_secs.push(s);
            });
        }
    }
    for t in inp.tasks.iter().filter(|t| p.contains(t.reported)) {
        if let Some(r) = &t.reporter {
            both(r, &|a| a.reports += 1);
        }
    }
    for o in inp.occurrences.iter().filter(|o| p.contains(o.starts)) {
        if let (Some(r), "fulfilled") = (&o.reporter, o.status.as_str()) {
            both(r, &|a| a.on_time += 1);
        }
    }
    for ph in inp.photos.iter().filter(|ph| p.contains(ph.at)) {
        both(&ph.sender, &|a| a.photos += 1);
    }
    acc
}

fn trend(cur: &Score, prev: &Score) -> Option<String> {
    let (c, p) = (cur.within_sla_rate?, prev.within_sla_rate?);
    let word = if (c - p).abs() > 1e-9 {
        if c > p {
            "better"
        } else {
            "worse"
        }
    } else {
        match (cur.mean_resolve_seconds, prev.mean_resolve_seconds) {
            (Some(a), Some(b)) if a < b => "better",
            (Some(a), Some(b)) if a > b => "worse",
            _ => "same",
        }
    };
    Some(word.to_string())
}

/// Scorecards for every person and vendor with something to show in either period.
fn scorecards(
    inp: &Scope<'_>,
    p: &Period,
    prev: &Period,
    person_vendors: &[(i64, Ref)],
) -> Scorecards {
    let vendors: HashMap<i64, Ref> = person_vendors.iter().cloned().collect();
    let mut people: HashMap<i64, PersonRef> = HashMap::new();
    let mut seen = |r: &Option<PersonRef>| {
        if let Some(r) = r {
            people.entry(r.id).or_insert_with(|| r.clone());
        }
    };
    inp.tickets.iter().for_each(|t| seen(&t.owner));
    inp.tasks.iter().for_each(|t| seen(&t.reporter));
    inp.occurrences.iter().for_each(|o| seen(&o.reporter));
    inp.photos
        .iter()
        .for_each(|ph| seen(&Some(ph.sender.clone())));
    let vendor_refs: HashMap<i64, Ref> = vendors.values().map(|v| (v.id, v.clone())).collect();
    let mut cur = scores(inp, p, &vendors);
    let mut old = scores(inp, prev, &vendors);
    let mut keys: Vec<Who> = cur.keys().chain(old.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let mut out = Scorecards::default();
    for k in keys {
        let current = cur.remove(&k).unwrap_or_default().score();
        let previous = old.remove(&k).unwrap_or_default().score();
        let trend = trend(&current, &previous);
        match k {
            Who::Person(id) => {
                let Some(person) = people.get(&id) else {
                    continue;
                };
                out.people.push(Scorecard {
                    name: person.label(),
                    person: Some(person.clone()),
                    vendor: vendors.get(&id).cloned(),
                    current,
                    previous,
                    trend,
                });
            }
            Who::Vendor(id) => {
                let Some(v) = vendor_refs.get(&id) else {
                    continue;
                };
                out.vendors.push(Scorecard {
                    name: v.name.clone(),
                    person: None,
                    vendor: Some(v.clone()),
                    current,
                    previous,
                    trend,
                });
            }
        }
    }
    let order = |a: &Scorecard, b: &Scorecard| a.name.cmp(&b.name);
    out.people.sort_by(order);
    out.vendors.sort_by(order);
    out
}

/// Reminders of one period.
pub fn reminders(all: &[&ReminderRow], p: &Period, o: &Options) -> Reminders {
    let window = Duration::minutes(o.answer_window_minutes);
    let mut by: BTreeMap<String, i64> = BTreeMap::new();
    let (mut sent, mut answered) = (0, 0);
    for r in all.iter().filter(|r| p.contains(r.at)) {
        sent += 1;
        *by.entry(r.purpose.clone()).or_default() += 1;
        let in_window = r.answered.is_some_and(|a| {
            a >= r.at && r.at.checked_add_signed(window).is_some_and(|end| a <= end)
        });
        answered += i64::from(in_window);
    }
    Reminders {
        sent,
        answered_within_window: answered,
        window_minutes: o.answer_window_minutes,
        by_purpose: counts(by),
    }
}

/// The inputs of one site (or all of them), as references.
struct Scope<'a> {
    tickets: Vec<&'a Ticket>,
    tasks: Vec<&'a TaskEntry>,
    occurrences: Vec<&'a OccurrenceRow>,
    reminders: Vec<&'a ReminderRow>,
    photos: Vec<&'a PhotoRow>,
    chats: Vec<&'a ChatCount>,
}

impl<'a> Scope<'a> {
    fn of(inp: &'a Inputs, site: Option<Option<i64>>) -> Scope<'a> {
        let keep = |s: &Option<Ref>| match site {
            None => true,
            Some(want) => s.as_ref().map(|r| r.id) == want,
        };
        Scope {
            tickets: inp.tickets.iter().filter(|t| keep(&t.site)).collect(),
            tasks: inp.tasks.iter().filter(|t| keep(&t.site)).collect(),
            occurrences: inp.occurrences.iter().filter(|o| keep(&o.site)).collect(),
            // Reminders and photos carry no site; a site's own report is loaded for that site only.
            reminders: inp.reminders.iter().collect(),
            photos: inp.photos.iter().collect(),
            chats: inp.chats.iter().filter(|c| keep(&c.site)).collect(),
        }
    }
}

fn summary(
    s: &Scope<'_>,
    t: &Tickets,
    w: &Scheduled,
    tk: &Tasks,
    rep: &Repeats,
    messages: i64,
) -> Summary {
    Summary {
        tickets_opened: t.opened,
        tickets_resolved: t.resolved,
        tickets_closed: t.closed,
        tickets_open_at_end: t.open_at_end,
        late_to_respond: t.late_to_respond,
        late_to_resolve: t.late_to_resolve,
        mean_acknowledge_seconds: t.time_to_acknowledge.mean_seconds,
        mean_resolve_seconds: t.time_to_resolve.mean_seconds,
        tasks: tk.total,
        scheduled_expected: w.totals.expected,
        scheduled_done: w.totals.done_on_time + w.totals.late,
        completion_rate: w.totals.completion_rate,
        repeats: rep.total,
        messages: if s.chats.is_empty() { 0 } else { messages },
    }
}

/// Builds the report for `period` (compared with `previous`) from inputs loaded for `site` (None = the firm).
pub fn build(
    inp: &Inputs,
    period: Period,
    previous: Period,
    site: Option<Ref>,
    now: DateTime<Utc>,
    opts: &Options,
) -> Report {
    let all = Scope::of(inp, None);
    let by_id: HashMap<i64, &Ticket> = inp.tickets.iter().map(|t| (t.id, t)).collect();
    let cur_t = tickets(&all.tickets, &period, now);
    let prev_t = tickets(&all.tickets, &previous, now);
    let cur_w = scheduled(&all.occurrences, inp.schedules, &period);
    let prev_w = scheduled(&all.occurrences, inp.schedules, &previous);
    let cur_k = tasks(&all.tasks, &period);
    let prev_k = tasks(&all.tasks, &previous);
    let cur_r = repeats(&all.tickets, &by_id, &period);
    let prev_r = repeats(&all.tickets, &by_id, &previous);
    let msgs: i64 = all.chats.iter().map(|c| c.current).sum();
    let prev_msgs: i64 = all.chats.iter().map(|c| c.previous).sum();

    let mut chats: Vec<ChatLine> = all
        .chats
        .iter()
        .map(|c| ChatLine {
            chat: c.chat.clone(),
            site: c.site.clone(),
            messages: c.current,
            previous: c.previous,
            silent: c.current == 0 && c.previous > 0,
        })
        .collect();
    chats.sort_by(|a, b| {
        site_key(&a.site)
            .cmp(&site_key(&b.site))
            .then_with(|| a.chat.name.cmp(&b.chat.name))
            .then_with(|| a.chat.id.cmp(&b.chat.id))
    });
    let mut warnings: Vec<String> = chats
        .iter()
        .filter(|c| c.silent)
        .map(|c| {
            format!(
                "chat {} went silent: no messages this period ({} in the previous one)",
                c.chat.name, c.previous
            )
        })
        .collect();
    if cur_t.overdue_now > 0 {
        warnings.push(format!("{} ticket(s) are overdue now", cur_t.overdue_now));
    }

    let sites = if site.is_some() {
        Vec::new()
    } else {
        let mut keys: Vec<Option<Ref>> = inp
            .tickets
            .iter()
            .map(|t| t.site.clone())
            .chain(inp.tasks.iter().map(|t| t.site.clone()))
            .chain(inp.occurrences.iter().map(|o| o.site.clone()))
            .chain(inp.chats.iter().map(|c| c.site.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|s| {
                let sc = Scope::of(inp, Some(s.as_ref().map(|r| r.id)));
                let t = tickets(&sc.tickets, &period, now);
                let w = scheduled(&sc.occurrences, 0, &period);
                SiteLine {
                    site: s,
                    tickets_opened: t.opened,
                    tickets_resolved: t.resolved,
                    tickets_open_at_end: t.open_at_end,
                    late_to_respond: t.late_to_respond,
                    late_to_resolve: t.late_to_resolve,
                    overdue_now: t.overdue_now,
                    tasks: tasks(&sc.tasks, &period).total,
                    scheduled_expected: w.totals.expected,
                    scheduled_done: w.totals.done_on_time + w.totals.late,
                    completion_rate: w.totals.completion_rate,
                    messages: sc.chats.iter().map(|c| c.current).sum(),
                }
            })
            .collect()
    };

    Report {
        summary: summary(&all, &cur_t, &cur_w, &cur_k, &cur_r, msgs),
        previous: summary(&all, &prev_t, &prev_w, &prev_k, &prev_r, prev_msgs),
        scorecards: scorecards(&all, &period, &previous, &inp.person_vendors),
        reminders: reminders(&all.reminders, &period, opts),
        tickets: cur_t,
        scheduled: cur_w,
        tasks: cur_k,
        repeats: cur_r,
        chats,
        sites,
        warnings,
        period,
        previous_period: previous,
        site,
        generated_at: now,
    }
}

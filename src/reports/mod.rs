//! Reports (issue 19): daily, weekly and monthly numbers per site and for the firm, compared with the previous period.
//!
//! `period` resolves periods in the appliance's time zone; `model` holds the inputs (plain values the store loads,
//! `store::reports`) and the report's shape; `compute` turns one into the other. No SQL, no HTTP: "now" is a
//! parameter. The file formats (CSV, XLSX, HTML, PDF) are rendered from a [`Report`] by `render`;
//! `crate::scheduler::report_files` writes them on schedule under the data dir and sends the PDFs (`[reports]`).

pub mod compute;
pub mod model;
pub mod period;
pub mod render;

pub use compute::{build, Options};
pub use model::*;
pub use period::{Period, PeriodError, PeriodKind};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};

    const KL: chrono_tz::Tz = chrono_tz::Asia::Kuala_Lumpur;

    /// 2026-12-`d` at `h`:`m` Kuala Lumpur time.
    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        KL.with_ymd_and_hms(2026, 12, d, h, m, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }
    fn site(id: i64) -> Option<Ref> {
        Some(Ref {
            id,
            name: format!("Site {id}"),
        })
    }
    fn person(id: i64, name: &str) -> PersonRef {
        PersonRef {
            id,
            name: Some(name.into()),
            phone: None,
        }
    }
    fn ticket(id: i64, opened: DateTime<Utc>) -> Ticket {
        Ticket {
            id,
            title: format!("t{id}"),
            site: site(1),
            category: Some("plumbing".into()),
            location: "Block C".into(),
            opened,
            acknowledged: None,
            resolved: None,
            closed: None,
            respond_by: opened.checked_add_signed(chrono::Duration::hours(1)),
            resolve_by: opened.checked_add_signed(chrono::Duration::hours(24)),
            owner: None,
            vendor: None,
            repeat_of: None,
        }
    }

    fn day(d: u32) -> (Period, Period) {
        let p = Period::containing(
            PeriodKind::Daily,
            NaiveDate::from_ymd_opt(2026, 12, d).unwrap(),
            KL,
        )
        .unwrap();
        let prev = p.previous(KL).unwrap();
        (p, prev)
    }

    #[test]
    fn durations_are_mean_and_nearest_rank_p90() {
        let d = compute::durations((1..=10).map(|x| x * 60).collect());
        assert_eq!(d.count, 10);
        assert_eq!(d.mean_seconds, Some(330));
        assert_eq!(d.p90_seconds, Some(540));
        let one = compute::durations(vec![7]);
        assert_eq!((one.mean_seconds, one.p90_seconds), (Some(7), Some(7)));
        assert_eq!(compute::durations(vec![]).mean_seconds, None);
        // Two values: the 90th percentile is the larger one; the mean rounds half up.
        let two = compute::durations(vec![1, 2]);
        assert_eq!((two.mean_seconds, two.p90_seconds), (Some(2), Some(2)));
    }

    #[test]
    fn ticket_numbers_keep_late_to_respond_late_to_resolve_and_overdue_now_apart() {
        let mut a = ticket(1, at(7, 9, 0)); // answered in 30 min, resolved in 2 h: on time
        a.acknowledged = Some(at(7, 9, 30));
        a.resolved = Some(at(7, 11, 0));
        let mut b = ticket(2, at(7, 10, 0)); // answered after 90 min (late), still open
        b.acknowledged = Some(at(7, 11, 30));
        let mut c = ticket(3, at(6, 8, 0)); // yesterday's, resolved today after 26 h: late to resolve
        c.acknowledged = Some(at(6, 8, 10));
        c.resolved = Some(at(7, 10, 0));
        let mut d = ticket(4, at(5, 8, 0)); // older, never answered: overdue now, closed never
        d.respond_by = Some(at(5, 9, 0));
        d.resolve_by = Some(at(6, 8, 0));
        let mut e = ticket(5, at(7, 12, 0)); // closed without a resolution
        e.acknowledged = Some(at(7, 12, 5));
        e.closed = Some(at(7, 12, 30));
        let inp = Inputs {
            tickets: vec![a, b, c, d, e],
            ..Default::default()
        };
        let (p, prev) = day(7);
        let r = build(&inp, p, prev, None, at(7, 23, 0), &Options::default());
        let t = &r.tickets;
        assert_eq!(t.ids.opened, vec![1, 2, 5]);
        assert_eq!(t.ids.resolved, vec![1, 3]);
        assert_eq!(t.ids.closed, vec![5]);
        assert_eq!(t.ids.open_at_end, vec![2, 4]);
        // respond_by on the 7th: #1 09:30 ok, #2 late, #5 ok (the 6th's #3 is not today's deadline)
        assert_eq!(t.ids.late_to_respond, vec![2]);
        // resolve_by on the 7th: #3 (08:00, resolved 10:00) late; #1, #2, #5 are due on the 8th
        assert_eq!(t.ids.late_to_resolve, vec![3]);
        // #4: resolve_by passed, not done. #2: acknowledged, resolve_by tomorrow: not overdue.
        assert_eq!(t.ids.overdue_now, vec![4]);
        // acknowledge: #1 30 min, #2 90 min, #5 5 min → mean 41:40, p90 = 90 min
        assert_eq!(t.time_to_acknowledge.count, 3);
        assert_eq!(
            t.time_to_acknowledge.mean_seconds,
            Some((1800 + 5400 + 300) / 3)
        );
        assert_eq!(t.time_to_acknowledge.p90_seconds, Some(5400));
        // resolve (done today): #1 2 h, #3 26 h, #5 30 min
        assert_eq!(t.time_to_resolve.count, 3);
        assert_eq!(
            t.time_to_resolve.mean_seconds,
            Some((7200 + 93600 + 1800) / 3)
        );
        assert_eq!(t.time_to_resolve.p90_seconds, Some(93600));
        // Yesterday: #3 opened; #4's resolve-by passed unresolved; open at its end: #3 and #4.
        assert_eq!(r.previous.tickets_opened, 1);
        assert_eq!(r.previous.late_to_resolve, 1);
        assert_eq!(r.previous.tickets_open_at_end, 2);
        assert_eq!(r.sites.len(), 1);
        assert_eq!(r.sites[0].overdue_now, 1);
    }

    #[test]
    fn scheduled_work_counts_statuses_and_the_rate_leaves_out_excused() {
        let sched = Ref {
            id: 9,
            name: "Block C toilets".into(),
        };
        let occ = |id, d, status: &str| OccurrenceRow {
            id,
            schedule: sched.clone(),
            site: site(1),
            category: "cleaning".into(),
            block: Some("C".into()),
            starts: at(d, 8, 0),
            status: status.into(),
            assignees: vec!["Aminah".into()],
            reporter: (status == "fulfilled").then(|| person(7, "Aminah")),
        };
        let inp = Inputs {
            occurrences: vec![
                occ(1, 7, "fulfilled"),
                occ(2, 7, "late"),
                occ(3, 7, "missed"),
                occ(4, 7, "excused"),
                occ(5, 7, "missing_photo"),
                occ(6, 6, "fulfilled"),
            ],
            schedules: 1,
            ..Default::default()
        };
        let (p, prev) = day(7);
        let r = build(&inp, p, prev, site(1), at(7, 23, 0), &Options::default());
        let w = &r.scheduled.totals;
        assert_eq!(
            (
                w.expected,
                w.done_on_time,
                w.late,
                w.missed,
                w.excused,
                w.missing_photo
            ),
            (5, 1, 1, 1, 1, 1)
        );
        assert_eq!(w.completion_rate, Some(0.5));
        assert_eq!(r.scheduled.by_person[0].key, "Aminah");
        assert_eq!(r.scheduled.by_schedule[0].key, "Block C toilets (#9)");
        assert_eq!(r.previous.completion_rate, Some(1.0));
        assert!(r.sites.is_empty());
        let card = &r.scorecards.people[0];
        assert_eq!(
            (card.current.reports_on_time, card.previous.reports_on_time),
            (1, 1)
        );
    }

    #[test]
    fn repeats_show_their_chains_and_scorecards_their_trend() {
        let vendor = Ref {
            id: 3,
            name: "LiftCo".into(),
        };
        let tech = person(5, "Ravi");
        let mut a = ticket(1, at(1, 9, 0));
        a.resolved = Some(at(1, 10, 0));
        let mut b = ticket(2, at(6, 9, 0));
        b.repeat_of = Some(1);
        b.resolved = Some(at(6, 9, 30)); // within SLA, yesterday
        let mut c = ticket(3, at(7, 9, 0));
        c.repeat_of = Some(2);
        c.resolved = Some(at(8, 10, 0)); // resolved late, tomorrow: not in today's numbers
        let mut d = ticket(4, at(7, 8, 0));
        d.repeat_of = Some(99); // its first ticket is outside the loaded range
        d.category = Some("electrical".into());
        d.location = String::new();
        for t in [&mut a, &mut b, &mut c, &mut d] {
            t.owner = Some(tech.clone());
            t.vendor = Some(vendor.clone());
        }
        let mut late = ticket(6, at(5, 9, 0));
        late.owner = Some(tech.clone());
        late.resolved = Some(at(7, 9, 0)); // 48 h: outside its 24 h SLA, resolved today
        let inp = Inputs {
            tickets: vec![a, b, c, d, late],
            person_vendors: vec![(5, vendor.clone())],
            photos: vec![PhotoRow {
                sender: tech.clone(),
                at: at(7, 9, 5),
            }],
            ..Default::default()
        };
        let (p, prev) = day(7);
        let r = build(&inp, p, prev, None, at(7, 23, 0), &Options::default());
        assert_eq!(r.repeats.total, 2);
        let cats = &r.repeats.top_categories;
        assert_eq!((cats[0].key.as_str(), cats[0].repeats), ("electrical", 1));
        assert_eq!(cats[0].chains, vec![vec![99, 4]]);
        assert_eq!(cats[1].chains, vec![vec![1, 2, 3]]);
        assert_eq!(r.repeats.top_locations[0].key, "(none)");
        assert_eq!(r.repeats.top_locations[1].key, "Site 1 · Block C");
        let card = &r.scorecards.people[0];
        assert_eq!(card.name, "Ravi");
        // today: owned #3, #4; resolved #6 (late) → rate 0; yesterday: owned #2, resolved #2 within SLA → rate 1
        assert_eq!(card.current.tickets_owned, 2);
        assert_eq!(
            (
                card.current.tickets_resolved,
                card.current.resolved_within_sla
            ),
            (1, 0)
        );
        assert_eq!(card.current.mean_resolve_seconds, Some(48 * 3600));
        assert_eq!(card.current.photos_sent, 1);
        assert_eq!(card.previous.within_sla_rate, Some(1.0));
        assert_eq!(card.trend.as_deref(), Some("worse"));
        assert_eq!(r.scorecards.vendors[0].name, "LiftCo");
        assert_eq!(r.scorecards.vendors[0].current.tickets_owned, 2);
    }

    #[test]
    fn a_chat_that_went_silent_is_a_warning_and_reminders_count_answers_within_the_window() {
        let chat = |id, cur, prev| ChatCount {
            chat: Ref {
                id,
                name: format!("chat {id}"),
            },
            site: site(1),
            current: cur,
            previous: prev,
        };
        let rem = |id, h, answered: Option<DateTime<Utc>>| ReminderRow {
            id,
            at: at(7, h, 0),
            purpose: "reminder".into(),
            about_type: "occurrence".into(),
            about_id: id,
            answered,
        };
        let inp = Inputs {
            chats: vec![chat(1, 10, 4), chat(2, 0, 3), chat(3, 0, 0)],
            reminders: vec![
                rem(1, 9, Some(at(7, 10, 0))),
                rem(2, 9, Some(at(7, 12, 0))),
                rem(3, 9, None),
                rem(4, 9, Some(at(7, 8, 0))),
            ],
            ..Default::default()
        };
        let (p, prev) = day(7);
        let r = build(&inp, p, prev, None, at(7, 23, 0), &Options::default());
        assert_eq!(r.summary.messages, 10);
        assert_eq!(r.previous.messages, 7);
        let silent: Vec<i64> = r
            .chats
            .iter()
            .filter(|c| c.silent)
            .map(|c| c.chat.id)
            .collect();
        assert_eq!(silent, vec![2]);
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].contains("chat 2 went silent"),
            "{:?}",
            r.warnings
        );
        assert_eq!(
            (r.reminders.sent, r.reminders.answered_within_window),
            (4, 1)
        );
    }
}

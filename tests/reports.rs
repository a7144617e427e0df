//! Reports (issue 19) on the whole appliance in this process: real HTTP on 127.0.0.1:0, a real SQLite file, the real
//! pipeline filing WhatsApp messages into tickets and tasks, and a fake clock the test moves. A small firm over a
//! fortnight (2026-11-30 to 2026-12-13): two sites, three chats (one goes silent), five tickets acknowledged and
//! resolved on time and late, a repeat, two vendors, a cleaning schedule, a task report with a photo. Every number of
//! a daily, weekly and monthly report is checked against values worked out by hand in the comments.
mod common;
use common::appliance::Appliance;
use common::*;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// A local (Kuala Lumpur, +08:00) time in Nov/Dec 2026: `d` is the day of December, 0 = 30 November.
fn kl(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    let (month, day) = if d == 0 { (11, 30) } else { (12, d) };
    chrono_tz::Asia::Kuala_Lumpur
        .with_ymd_and_hms(2026, month, day, h, m, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

struct Firm {
    a: Appliance,
    dir: tempfile::TempDir,
    _graph: FakeGraph,
    t: [i64; 5],
    kenanga: i64,
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// The fixture firm. SLA for every ticket: respond within 60 min, resolve within 24 h, around the clock.
///
/// | ticket | chat | opened | respond_by | acknowledged | resolve_by | done | owner |
/// |---|---|---|---|---|---|---|---|
/// | T1 pump Block A | A (Kenanga) | 1 Dec 09:00 | 10:00 | 09:20 | 2 Dec 09:00 | resolved 1 Dec 12:00 | Ravi (PumpCo), assigned 09:00 |
/// | T2 pump again (repeat of T1) | A | 7 Dec 09:00 | 10:00 | 09:30 | 8 Dec 09:00 | resolved 8 Dec 11:00 (late) | Ravi |
/// | T3 lift | A | 8 Dec 10:00 | 11:00 | 12:00 (late) | 9 Dec 10:00 | resolved 8 Dec 15:00 | Lim (HOSTILE vendor) |
/// | T4 corridor lamp | B (Melati) | 8 Dec 14:00 | 15:00 | never (late) | 9 Dec 14:00 | never (late, overdue now) | — |
/// | T5 pipe leak | B | 10 Dec 08:00 | 09:00 | 08:10 | 11 Dec 08:00 | closed 10 Dec 09:00 | — |
///
/// Chat C (Melati) has messages on 30 Nov and 2 Dec only. Aminah reports the lobby cleaning with a photo on
/// 8 Dec 08:30 in chat A. The cleaning schedule (Kenanga, daily 08:00, 120 min window, photo required) is created on
/// 7 Dec 07:00: 7 Dec is missed, 8 Dec fulfilled. "Now" is 14 Dec 09:00.
async fn firm() -> Firm {
    let graph = FakeGraph::start(vec![("m-lobby", jpeg(64, 48, 3))], 0).await;
    let dir = tempfile::tempdir().unwrap();
    let a = Appliance::start(dir.path(), &graph.url, kl(0, 8, 0)).await;
    a.send(
        reqwest::Method::PUT,
        "/api/v1/settings/sla",
        json!({"rules": [], "default": {"respond_within_mins": 60, "resolve_within_mins": 1440, "around_the_clock": true},
               "business_hours": null}),
    )
    .await;
    let kenanga = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/sites",
            json!({"name": "Kenanga Heights"}),
        )
        .await);
    let melati = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/sites",
            json!({"name": "Melati Court"}),
        )
        .await);
    let pumpco = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/vendors",
            json!({"name": "PumpCo"}),
        )
        .await);
    let hostile = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/vendors",
            json!({"name": HOSTILE}),
        )
        .await);
    let ravi = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/people",
            json!({"name": "Ravi", "phone": "60121110001", "vendor": pumpco}),
        )
        .await);
    let lim = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/people",
            json!({"name": "Lim", "phone": "60121110002", "vendor": hostile}),
        )
        .await);
    let rajesh = ("60167654302", "Rajesh");
    let siti = ("60167654303", "Siti");

    // Chat C: talks in the first week only.
    a.say(
        "GROUP_C",
        "wamid.c1",
        siti,
        kl(0, 10, 0),
        "Selamat pagi semua",
        None,
    )
    .await;
    a.say(
        "GROUP_C",
        "wamid.c2",
        siti,
        kl(2, 10, 0),
        "Morning all",
        None,
    )
    .await;
    let assign_site = |chat: i64, site: i64| {
        let a = &a;
        async move {
            a.send(
                reqwest::Method::PATCH,
                &format!("/api/v1/chats/{chat}"),
                json!({"site": site}),
            )
            .await;
        }
    };

    a.say(
        "GROUP_A",
        "wamid.t1",
        rajesh,
        kl(1, 9, 0),
        "Water pump failure at pump room Block A",
        None,
    )
    .await;
    let t1 = a.ticket(1).await;
    let t1_id = id(&t1);
    let chat_a = t1["chat"]["id"].as_i64().unwrap();
    assign_site(chat_a, kenanga).await;
    // Assigned the instant it opened (before the fix, replaying the chat applied the assignment before the opening
    // message and lost the owner: Ravi's card had no T1, last week's numbers below were 0).
    a.clock.set(kl(1, 9, 0));
    a.send(
        reqwest::Method::POST,
        &format!("/api/v1/issues/{t1_id}/assign"),
        json!({"person": ravi}),
    )
    .await;
    a.status(t1_id, kl(1, 9, 20), "acknowledged").await;
    a.status(t1_id, kl(1, 12, 0), "resolved").await;

    // The cleaning schedule, and the scheduler on 7 Dec: the 08:00 occurrence gets no report.
    a.clock.set(kl(7, 7, 0));
    a.send(
        reqwest::Method::POST,
        "/api/v1/schedules",
        json!({
            "name": "Lobby A cleaning", "site": kenanga.to_string(), "category": "cleaning", "location": {"block": "A"},
            "assignees": [{"name": "Aminah", "phone": "+60 12-345 6701"}],
            "rrule": "DTSTART;TZID=Asia/Kuala_Lumpur:20261207T080000\nRRULE:FREQ=DAILY",
            "window_minutes": 120, "photo_required": true
        }),
    )
    .await;
    a.tick_at(kl(7, 7, 30)).await;

    a.say(
        "GROUP_A",
        "wamid.t2",
        rajesh,
        kl(7, 9, 0),
        "Water pump failure again!! Block A",
        None,
    )
    .await;
    let t2 = id(&a.ticket(2).await);
    a.clock.set(kl(7, 9, 5));
    a.send(
        reqwest::Method::POST,
        &format!("/api/v1/issues/{t2}/assign"),
        json!({"person": ravi}),
    )
    .await;
    a.status(t2, kl(7, 9, 30), "acknowledged").await;
    a.tick_at(kl(7, 10, 30)).await;

    a.say(
        "GROUP_A",
        "wamid.k1",
        ("60123456701", "Aminah"),
        kl(8, 8, 30),
        "Siap mop lobi blok A ✅",
        Some("m-lobby"),
    )
    .await;
    a.tick_at(kl(8, 9, 0)).await;
    a.status(t2, kl(8, 11, 0), "resolved").await;

    a.say(
        "GROUP_A",
        "wamid.t3",
        rajesh,
        kl(8, 10, 0),
        "Lift B stuck at level 5, no one inside",
        None,
    )
    .await;
    let t3 = id(&a.ticket(3).await);
    a.clock.set(kl(8, 10, 5));
    a.send(
        reqwest::Method::POST,
        &format!("/api/v1/issues/{t3}/assign"),
        json!({"person": lim}),
    )
    .await;
    a.status(t3, kl(8, 12, 0), "acknowledged").await;
    a.status(t3, kl(8, 15, 0), "resolved").await;

    a.say(
        "GROUP_B",
        "wamid.t4",
        rajesh,
        kl(8, 14, 0),
        "Lampu koridor aras 3 blok C rosak",
        None,
    )
    .await;
    let t4v = a.ticket(4).await;
    let t4 = id(&t4v);
    assign_site(t4v["chat"]["id"].as_i64().unwrap(), melati).await;
    a.say(
        "GROUP_B",
        "wamid.t5",
        rajesh,
        kl(10, 8, 0),
        "Paip bocor tingkat 5 blok A",
        None,
    )
    .await;
    let t5 = id(&a.ticket(5).await);
    a.status(t5, kl(10, 8, 10), "acknowledged").await;
    a.status(t5, kl(10, 9, 0), "closed").await;

    // Chat C into Melati too.
    let chats = a.get("/api/v1/chats").await;
    for c in chats["items"].as_array().unwrap() {
        if c["site"].is_null() {
            assign_site(id(c), melati).await;
        }
    }
    a.tick_at(kl(14, 9, 0)).await;
    Firm {
        a,
        dir,
        _graph: graph,
        t: [t1_id, t2, t3, t4, t5],
        kenanga,
    }
}

fn ids(v: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test]
async fn daily_weekly_and_monthly_reports_count_what_happened() {
    let f = firm().await;
    let a = &f.a;
    let [t1, t2, t3, t4, t5] = f.t;
    // The fixture is what the table says.
    let issues = a.get("/api/v1/issues?limit=500").await;
    let by_id = |i: i64| {
        issues["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| id(x) == i)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id(t2)["repeat_of"], json!(t1), "{issues}");
    assert_eq!(
        by_id(t4)["sla"]["respond_by"],
        json!("2026-12-08T07:00:00.000Z")
    );
    // The scheduler's verdicts: 7 Dec missed (Aminah's report of the 8th is the 8th's: a report decides one
    // occurrence, never a late one for the day before), 8 Dec fulfilled, 9-13 Dec missed (the tick on the 14th).
    let occ = a
        .get("/api/v1/occurrences?from=2026-12-07&to=2026-12-13&limit=500")
        .await;
    let mut statuses: Vec<(String, String)> = occ["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["starts_at"].as_str().unwrap()[..10].to_string(),
                o["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    statuses.sort();
    let want: Vec<(String, String)> = [
        ("07", "missed"),
        ("08", "fulfilled"),
        ("09", "missed"),
        ("10", "missed"),
        ("11", "missed"),
        ("12", "missed"),
        ("13", "missed"),
    ]
    .iter()
    .map(|(d, s)| (format!("2026-12-{d}"), s.to_string()))
    .collect();
    assert_eq!(statuses, want, "{occ}");

    // --- daily, 8 Dec (previous: 7 Dec) ---
    let d = a.get("/api/v1/reports/daily?date=2026-12-08").await;
    eprintln!("{}", serde_json::to_string_pretty(&d).unwrap());
    assert_eq!(d["period"]["first_day"], "2026-12-08");
    assert_eq!(d["previous_period"]["first_day"], "2026-12-07");
    let t = &d["tickets"];
    assert_eq!(ids(&t["ids"]["opened"]), vec![t3, t4]);
    assert_eq!(ids(&t["ids"]["resolved"]), vec![t2, t3]);
    assert_eq!(t["closed"], 0);
    assert_eq!(ids(&t["ids"]["open_at_end"]), vec![t4]);
    // acknowledged: T3 after 2 h
    assert_eq!(
        t["time_to_acknowledge"],
        json!({"count": 1, "mean_seconds": 7200, "p90_seconds": 7200})
    );
    // resolved: T2 after 26 h, T3 after 5 h → mean 15.5 h; p90 (nearest rank of 2) = 26 h
    assert_eq!(
        t["time_to_resolve"],
        json!({"count": 2, "mean_seconds": 55800, "p90_seconds": 93600})
    );
    // respond-by on 8 Dec: T3 (answered 1 h late), T4 (never). Resolve-by on 8 Dec: T2 (2 h late).
    assert_eq!(ids(&t["ids"]["late_to_respond"]), vec![t3, t4]);
    assert_eq!(ids(&t["ids"]["late_to_resolve"]), vec![t2]);
    assert_eq!(ids(&t["ids"]["overdue_now"]), vec![t4]);
    // The ticket chase reminded Ravi of T2's resolve-by at 09:00 (the tick on 8 Dec); T2 was resolved at 11:00,
    // 120 minutes later: answered within the default window (at most 120 minutes).
    assert_eq!(
        (
            &d["reminders"]["sent"],
            &d["reminders"]["answered_within_window"],
            &d["reminders"]["window_minutes"]
        ),
        (&json!(1), &json!(1), &json!(120))
    );
    assert_eq!(d["tasks"]["total"], 1);
    assert_eq!(
        d["tasks"]["by_category"],
        json!([{"key": "cleaning", "count": 1}])
    );
    assert_eq!(
        d["tasks"]["by_status"],
        json!([{"key": "done", "count": 1}])
    );
    let sw = &d["scheduled"];
    assert_eq!(sw["schedules"], 1);
    assert_eq!(
        (
            sw["totals"]["expected"].as_i64(),
            sw["totals"]["done_on_time"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(sw["totals"]["completion_rate"], 1.0);
    assert_eq!(sw["by_person"][0]["key"], "Aminah");
    assert_eq!(d["previous"]["scheduled_expected"], 1);
    assert_eq!(d["previous"]["scheduled_done"], 0);
    assert_eq!(d["previous"]["tickets_opened"], 1);
    assert_eq!(d["previous"]["tickets_open_at_end"], 1);
    assert_eq!(d["previous"]["late_to_respond"], 0);

    // --- weekly, 7-13 Dec (previous: 30 Nov - 6 Dec) ---
    let w = a.get("/api/v1/reports/weekly?date=2026-12-10").await;
    assert_eq!(w["period"]["first_day"], "2026-12-07");
    assert_eq!(w["period"]["last_day"], "2026-12-13");
    let t = &w["tickets"];
    assert_eq!(ids(&t["ids"]["opened"]), vec![t2, t3, t4, t5]);
    assert_eq!(ids(&t["ids"]["resolved"]), vec![t2, t3]);
    assert_eq!(ids(&t["ids"]["closed"]), vec![t5]);
    assert_eq!(ids(&t["ids"]["open_at_end"]), vec![t4]);
    // acknowledged after 30 min, 2 h, 10 min → mean 53:20, p90 = 2 h
    assert_eq!(
        t["time_to_acknowledge"],
        json!({"count": 3, "mean_seconds": 3200, "p90_seconds": 7200})
    );
    // done after 26 h, 5 h, 1 h → mean 10:40:00, p90 = 26 h
    assert_eq!(
        t["time_to_resolve"],
        json!({"count": 3, "mean_seconds": 38400, "p90_seconds": 93600})
    );
    assert_eq!(ids(&t["ids"]["late_to_respond"]), vec![t3, t4]);
    assert_eq!(ids(&t["ids"]["late_to_resolve"]), vec![t2, t4]);
    assert_eq!(w["repeats"]["total"], 1);
    // scheduled: 7 occurrences, 1 on time, 0 late, 6 missed → 1 of 7 done
    let tw = &w["scheduled"]["totals"];
    assert_eq!(
        [
            &tw["expected"],
            &tw["done_on_time"],
            &tw["late"],
            &tw["missed"],
            &tw["excused"]
        ],
        [&json!(7), &json!(1), &json!(0), &json!(6), &json!(0)]
    );
    assert!((tw["completion_rate"].as_f64().unwrap() - 1.0 / 7.0).abs() < 1e-9);
    assert_eq!(w["scheduled"]["by_block"][0]["key"], "A");
    assert_eq!(w["repeats"]["top_sites"][0]["key"], "Kenanga Heights");
    assert_eq!(w["repeats"]["top_sites"][0]["chains"], json!([[t1, t2]]));
    assert_eq!(w["previous"]["tickets_opened"], 1);
    assert_eq!(w["previous"]["tickets_resolved"], 1);
    assert_eq!(w["previous"]["tickets_open_at_end"], 0);
    // messages: A has T2, Aminah's report and T3; B has T4 and T5; C nothing (2 the week before: silent)
    assert_eq!(w["summary"]["messages"], 5);
    assert_eq!(w["previous"]["messages"], 3);
    let silent: Vec<&Value> = w["chats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["silent"] == true)
        .collect();
    assert_eq!(silent.len(), 1, "{}", w["chats"]);
    assert_eq!(silent[0]["previous"], 2);
    assert!(w["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x.as_str().unwrap().contains("went silent")));
    // Ravi: this week owned T2, resolved it late (0 of 1 within SLA); last week T1 resolved in time → worse
    let cards = w["scorecards"]["people"].as_array().unwrap();
    let ravi = cards.iter().find(|c| c["name"] == "Ravi").unwrap();
    assert_eq!(ravi["current"]["tickets_owned"], 1);
    assert_eq!(ravi["current"]["resolved_within_sla"], 0);
    assert_eq!(ravi["current"]["mean_resolve_seconds"], 93600);
    assert_eq!(ravi["previous"]["resolved_within_sla"], 1);
    assert_eq!(ravi["trend"], "worse");
    let vendors: Vec<&str> = w["scorecards"]["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vendors, vec![HOSTILE, "PumpCo"]);
    let aminah = cards.iter().find(|c| c["name"] == "Aminah").unwrap();
    assert_eq!(aminah["current"]["reports_sent"], 1);
    assert_eq!(aminah["current"]["photos_sent"], 1);

    // --- monthly, December (previous: November) ---
    let m = a.get("/api/v1/reports/monthly?date=2026-12-31").await;
    let t = &m["tickets"];
    assert_eq!(t["opened"], 5);
    assert_eq!(ids(&t["ids"]["resolved"]), vec![t1, t2, t3]);
    assert_eq!(t["closed"], 1);
    assert_eq!(t["open_at_end"], 1);
    // acknowledged after 20 min, 30 min, 2 h, 10 min → mean 45 min; p90 = rank 4 of 4 = 2 h
    assert_eq!(
        t["time_to_acknowledge"],
        json!({"count": 4, "mean_seconds": 2700, "p90_seconds": 7200})
    );
    // done after 3 h, 26 h, 5 h, 1 h → mean 8:45:00; p90 = 26 h
    assert_eq!(
        t["time_to_resolve"],
        json!({"count": 4, "mean_seconds": 31500, "p90_seconds": 93600})
    );
    assert_eq!(t["late_to_respond"], 2);
    assert_eq!(t["late_to_resolve"], 2);
    assert_eq!(m["summary"]["messages"], 7);
    assert_eq!(m["previous"]["messages"], 1);
    assert_eq!(m["sites"].as_array().unwrap().len(), 2);

    // A site's report counts that site only.
    let k = a
        .get(&format!(
            "/api/v1/reports/weekly?date=2026-12-10&site={}",
            f.kenanga
        ))
        .await;
    assert_eq!(ids(&k["tickets"]["ids"]["opened"]), vec![t2, t3]);
    assert_eq!(k["site"]["name"], "Kenanga Heights");
    assert!(k["sites"].as_array().unwrap().is_empty());
    // Melati has no schedule: its report says so (schedules 0) and counts no work.
    let mel = a
        .get("/api/v1/reports/weekly?date=2026-12-10&site=Melati%20Court")
        .await;
    assert_eq!(mel["scheduled"]["schedules"], 0);
    assert_eq!(mel["scheduled"]["totals"]["expected"], 0);
    assert_eq!(ids(&mel["tickets"]["ids"]["opened"]), vec![t4, t5]);
    f.a.stop().await;
}

#[tokio::test]
async fn reports_are_for_readers_of_records_and_refuse_bad_input_clearly() {
    let graph = FakeGraph::start(vec![], 0).await;
    let dir = tempfile::tempdir().unwrap();
    let a = Appliance::start(dir.path(), &graph.url, kl(8, 9, 0)).await;
    let c = client();
    for role in ["admin", "manager", "viewer", "inspector"] {
        let t = a.token(role).await;
        let (st, v) = get_json(&c, &a.u("/api/v1/reports/daily"), &t).await;
        assert_eq!(st, 200, "{role}: {v}");
        // Without a date: today in the configured time zone.
        assert_eq!(v["period"]["first_day"], "2026-12-08");
        assert_eq!(v["scheduled"]["schedules"], 0);
    }
    let (st, _) = get_json(&c, &a.u("/api/v1/reports/daily"), "not-a-token").await;
    assert_eq!(st, 401);
    let (st, v) = get_json(
        &c,
        &a.u("/api/v1/reports/daily?date=2026-13-01"),
        &a.manager,
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("date:"),
        "{v}"
    );
    let (st, v) = get_json(&c, &a.u("/api/v1/reports/yearly"), &a.manager).await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = get_json(&c, &a.u("/api/v1/reports/daily?site=Nowhere"), &a.manager).await;
    assert_eq!(st, 404, "{v}");
    a.stop().await;
}

async fn download(a: &Appliance, q: &str) -> (String, Vec<u8>) {
    let r = client()
        .get(a.u(&format!("/api/v1/reports/{q}")))
        .bearer_auth(&a.manager)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{q}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=\"tapak-weekly-2026-W50"),
        "{cd}"
    );
    (ct, r.bytes().await.unwrap().to_vec())
}

fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut s = String::new();
        if f.read_to_string(&mut s).is_ok() {
            out.insert(f.name().to_string(), s);
        }
    }
    out
}

/// Splits one CSV record (RFC 4180 quoting).
fn csv_record(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) =
        (vec![], String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[tokio::test]
async fn every_format_opens_and_shows_the_same_numbers() {
    use calamine::{Data, Reader};
    let f = firm().await;
    let a = &f.a;
    let [_, t2, t3, t4, t5] = f.t;
    let q = "weekly/download?date=2026-12-10&format=";

    // XLSX: the summary sheet first, real typed cells, frozen filtered headers.
    let (ct, x) = download(a, &format!("{q}xlsx")).await;
    assert!(ct.starts_with("application/vnd.openxmlformats"), "{ct}");
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(x.clone())).unwrap();
    let names = wb.sheet_names();
    assert_eq!(names[0], "Summary");
    for s in [
        "Tickets",
        "Scheduled work",
        "Tasks",
        "Repeated problems",
        "Scorecards",
        "Reminders",
        "Chats",
        "Sites",
    ] {
        assert!(names.iter().any(|n| n == s), "{s} in {names:?}");
    }
    let sum = wb.worksheet_range("Summary").unwrap();
    let row = |r: &calamine::Range<Data>, name: &str| -> Vec<Data> {
        r.rows()
            .find(|row| row[0] == Data::String(name.into()))
            .unwrap_or_else(|| panic!("{name}"))
            .to_vec()
    };
    assert_eq!(
        row(&sum, "Tickets opened")[1..],
        [Data::Float(4.0), Data::Float(1.0)]
    );
    let first = &row(&sum, "First day")[1];
    match first {
        // 2026-12-07 is Excel day 46363
        Data::DateTime(d) => assert!(
            d.is_datetime() && (d.as_f64() - 46363.0).abs() < 1e-9,
            "{d:?}"
        ),
        other => panic!("First day is {other:?}"),
    }
    match &row(&sum, "Mean time to resolve")[1] {
        // 38400 s = 0.4444 days
        Data::DateTime(d) => assert!((d.as_f64() - 38400.0 / 86400.0).abs() < 1e-9, "{d:?}"),
        other => panic!("mean time to resolve is {other:?}"),
    }
    match &row(&sum, "Completion rate")[1] {
        Data::Float(r) => assert!((r - 1.0 / 7.0).abs() < 1e-9),
        other => panic!("completion rate is {other:?}"),
    }
    let tickets = wb.worksheet_range("Tickets").unwrap();
    assert_eq!(row(&tickets, "Late to resolve")[1], Data::Float(2.0));
    assert_eq!(
        row(&tickets, "Late to resolve")[2],
        Data::String(format!("#{t2} #{t4}"))
    );
    let cards = wb.worksheet_range("Scorecards").unwrap();
    assert!(cards.rows().any(|r| r[1] == Data::String(HOSTILE.into())));
    let files = {
        use std::io::Read;
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(x)).unwrap();
        let mut styles = String::new();
        z.by_name("xl/styles.xml")
            .unwrap()
            .read_to_string(&mut styles)
            .unwrap();
        let mut sheet = String::new();
        z.by_name("xl/worksheets/sheet2.xml")
            .unwrap()
            .read_to_string(&mut sheet)
            .unwrap();
        (styles, sheet)
    };
    for fmt in ["0.0%", "[h]:mm:ss", "yyyy-mm-dd"] {
        assert!(
            files.0.contains(&format!("formatCode=\"{fmt}\"")),
            "{fmt} in styles"
        );
    }
    assert!(
        files.1.contains("ySplit=\"1\"") && files.1.contains("<autoFilter"),
        "frozen, filtered header"
    );

    // CSV: a ZIP of one UTF-8 file per table with a header row.
    let (ct, z) = download(a, &format!("{q}csv")).await;
    assert_eq!(ct, "application/zip");
    let files = unzip(&z);
    assert!(
        files.contains_key("summary.csv") && files.contains_key("scheduled_work.csv"),
        "{:?}",
        files.keys()
    );
    let tickets: Vec<Vec<String>> = files["tickets.csv"].lines().map(csv_record).collect();
    assert_eq!(tickets[0], ["Metric", "Value", "Tickets"]);
    assert!(tickets.contains(&vec![
        "Opened".into(),
        "4".into(),
        format!("#{t2} #{t3} #{t4} #{t5}")
    ]));
    assert!(tickets.contains(&vec![
        "Mean time to resolve".into(),
        "10:40:00".into(),
        String::new()
    ]));
    let cards: Vec<Vec<String>> = files["scorecards.csv"].lines().map(csv_record).collect();
    assert!(
        cards.iter().any(|r| r[1] == HOSTILE && r[2] == "1"),
        "{cards:?}"
    );
    assert!(files["chats.csv"].contains("went silent"));

    // HTML: self-contained, the hostile vendor name is text, not an element.
    let (ct, h) = download(a, &format!("{q}html")).await;
    assert!(ct.starts_with("text/html"));
    let h = String::from_utf8(h).unwrap();
    let dom = tl::parse(&h, tl::ParserOptions::default()).unwrap();
    let p = dom.parser();
    assert_eq!(
        dom.query_selector("img").unwrap().count(),
        0,
        "no element from a name"
    );
    assert_eq!(dom.query_selector("script").unwrap().count(), 0);
    assert!(
        dom.query_selector("svg").unwrap().count() >= 2,
        "inline charts"
    );
    assert!(dom.query_selector("style").unwrap().count() == 1);
    assert!(
        !h.contains("src=\"http") && !h.contains("href=\"http"),
        "nothing from the network"
    );
    let cells: Vec<String> = dom
        .query_selector("td")
        .unwrap()
        .filter_map(|n| n.get(p))
        .map(|n| n.inner_text(p).to_string())
        .collect();
    assert!(
        cells
            .iter()
            .any(|c| c == "&lt;img src=x onerror=alert(1)&gt;"),
        "the name, escaped"
    );
    assert!(cells
        .iter()
        .any(|c| c == "no task-log entries" || c == "done"));
    assert!(h.contains("size:A4"));

    // PDF: a real PDF whose text says the same.
    let (ct, pdf) = download(a, &format!("{q}pdf")).await;
    assert_eq!(ct, "application/pdf");
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).unwrap();
    for want in [
        "tapak weekly report 2026-W50, all sites",
        "Late to resolve",
        "Repeated problems",
        "PumpCo",
        HOSTILE,
    ] {
        assert!(text.contains(want), "{want} in the PDF text:\n{text}");
    }
    assert!(
        text.contains("10:40:00") && text.contains("14.3%"),
        "{text}"
    );

    // The CLI writes the same report (JSON to standard output; a file with --output).
    let data = a.data.clone();
    let cfg = a.config.clone();
    let cli_with = |config: &std::path::Path, args: &[&str]| {
        std::process::Command::new(bin())
            .arg("--data")
            .arg(&data)
            .arg("--config")
            .arg(config)
            .args(args)
            .output()
            .unwrap()
    };
    let cli = |args: &[&str]| cli_with(&cfg, args);
    let out = cli(&["report", "weekly", "--date", "2026-12-10"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&v["tickets"]["ids"]["opened"]), vec![t2, t3, t4, t5]);
    // `[reports] answer_window_minutes` sets the window: at 60 minutes T2's reminder (answered after 120) is not.
    let narrow = f.dir.path().join("narrow.toml");
    std::fs::write(
        &narrow,
        format!(
            "{}\n[reports]\nanswer_window_minutes = 60\n",
            std::fs::read_to_string(&cfg).unwrap()
        ),
    )
    .unwrap();
    let out = cli_with(&narrow, &["report", "daily", "--date", "2026-12-08"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            &v["reminders"]["sent"],
            &v["reminders"]["answered_within_window"],
            &v["reminders"]["window_minutes"]
        ),
        (&json!(1), &json!(0), &json!(60))
    );
    let file = f.dir.path().join("w.xlsx");
    let out = cli(&[
        "report",
        "weekly",
        "--date",
        "2026-12-10",
        "--site",
        "Kenanga Heights",
        "--format",
        "xlsx",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(std::fs::read(&file).unwrap())).unwrap();
    let sum = wb.worksheet_range("Summary").unwrap();
    assert_eq!(row(&sum, "Site")[1], Data::String("Kenanga Heights".into()));
    assert_eq!(row(&sum, "Tickets opened")[1], Data::Float(2.0));
    let out = cli(&["report", "weekly", "--date", "2026-02-30"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--date"));
    let out = cli(&["report", "weekly", "--site", "Nowhere"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.a.stop().await;
}

/// A fake Graph API that takes sends: it records every POST (path and body) and answers a media id for an upload
/// and a message id for a message.
struct FakeSends {
    url: String,
    seen: Seen,
}

/// What the fake received: (path, body) of each POST.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

impl FakeSends {
    async fn start() -> FakeSends {
        let seen: Seen = Default::default();
        async fn any(
            axum::extract::State(seen): axum::extract::State<Seen>,
            uri: axum::http::Uri,
            body: axum::body::Bytes,
        ) -> axum::Json<Value> {
            let path = uri.path().to_string();
            let n = {
                let mut s = seen.lock().unwrap();
                s.push((path.clone(), body.to_vec()));
                s.len()
            };
            axum::Json(if path.ends_with("/media") {
                json!({"id": format!("media-{n}")})
            } else {
                json!({"messaging_product": "whatsapp", "messages": [{"id": format!("wamid.out{n}")}]})
            })
        }
        let app = axum::Router::new()
            .fallback(axum::routing::post(any))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSends { url, seen }
    }

    /// The document messages sent so far: (recipient, file name).
    fn documents(&self) -> Vec<(String, String)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with("/messages"))
            .filter_map(|(_, b)| serde_json::from_slice::<Value>(b).ok())
            .filter(|v| v["type"] == "document")
            .map(|v| {
                (
                    v["to"].as_str().unwrap_or("").to_string(),
                    v["document"]["filename"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

const DELIVERY: &str = r#"summary_time = "07:30"
summary_to = ["60121110009"]
[reminders]
quiet_hours = ""
[reports]
daily_time = "06:00"
weekly_day = "monday"
weekly_time = "06:30"
monthly_day = 1
monthly_time = "07:00"
formats = ["pdf", "xlsx", "json"]
sites = ["*"]
retention_days = 7
send_to = ["+60 12-111 0001"]
send_periods = ["weekly"]
"#;

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn json_file(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Scheduled delivery (`[reports]`) with the fake clock and a fake Graph API: the first tick marks the runs then due
/// without writing (nothing of the time before the install); the daily files appear at 06:00 and not a minute before,
/// with the day's numbers, for the firm and each site, listed and downloadable by name (and nothing else); the
/// managers' summary links to the day's file; a restart rewrites nothing; runs missed while the appliance was off are
/// each made once when it is back; the weekly PDF goes out once as a WhatsApp document; files past the retention are
/// deleted.
#[tokio::test]
async fn scheduled_report_files_are_written_once_listed_linked_sent_and_expire() {
    let fake = FakeSends::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Monday 7 Dec 06:45: the daily (6 Dec), weekly (W49) and monthly (November) runs are due: the baseline.
    let a = Appliance::start_with(dir.path(), &fake.url, kl(7, 6, 45), DELIVERY).await;
    a.tick_at(kl(7, 6, 45)).await;
    let reports = a.data.join("reports");
    assert!(files_in(&reports.join("daily")).is_empty());
    assert!(files_in(&reports.join("weekly")).is_empty());
    let site = id(&a
        .send(
            reqwest::Method::POST,
            "/api/v1/sites",
            json!({"name": "Kenanga Heights"}),
        )
        .await);
    a.say(
        "GROUP_A",
        "wamid.d1",
        ("60121110001", "Ravi"),
        kl(7, 9, 0),
        "Water pump failure at pump room Block A",
        None,
    )
    .await;
    let t = a.ticket(1).await;
    a.send(
        reqwest::Method::PATCH,
        &format!("/api/v1/chats/{}", t["chat"]["id"]),
        json!({"site": site}),
    )
    .await;

    // 8 Dec 05:59: the 7th's run is not due yet.
    a.tick_at(kl(8, 5, 59)).await;
    assert!(files_in(&reports.join("daily")).is_empty());
    // 06:00: the 7th's files, for the firm and the site, in each format.
    a.tick_at(kl(8, 6, 0)).await;
    let s = format!("site-{site}");
    let want: Vec<String> = ["json", "pdf", "xlsx"]
        .iter()
        .flat_map(|e| {
            [
                format!("tapak-daily-2026-12-07-{s}.{e}"),
                format!("tapak-daily-2026-12-07.{e}"),
            ]
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(files_in(&reports.join("daily")), want);
    let firm = json_file(&reports.join("daily/tapak-daily-2026-12-07.json"));
    assert_eq!(firm["period"]["first_day"], "2026-12-07");
    assert_eq!(ids(&firm["tickets"]["ids"]["opened"]), vec![id(&t)]);
    assert_eq!(firm["summary"]["messages"], 1);
    assert_eq!(firm["generated_at"], "2026-12-07T22:00:00Z");
    let one = json_file(&reports.join(format!("daily/tapak-daily-2026-12-07-{s}.json")));
    assert_eq!(one["site"]["name"], "Kenanga Heights");
    assert_eq!(one["tickets"]["opened"], 1);
    {
        use calamine::{Data, Reader};
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook(reports.join("daily/tapak-daily-2026-12-07.xlsx")).unwrap();
        let sum = wb.worksheet_range("Summary").unwrap();
        let opened = sum
            .rows()
            .find(|r| r[0] == Data::String("Tickets opened".into()))
            .unwrap()[1]
            .clone();
        assert_eq!(opened, Data::Float(1.0));
    }
    assert!(
        std::fs::read(reports.join("daily/tapak-daily-2026-12-07.pdf"))
            .unwrap()
            .starts_with(b"%PDF-"),
        "a PDF"
    );

    // The managers' summary at 07:30 links to the day's file on the LAN address.
    a.tick_at(kl(8, 7, 30)).await;
    let sends = a.get("/api/v1/outbox?limit=100").await;
    let summary = sends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["purpose"] == "summary" && x["kind"] != "document")
        .cloned()
        .unwrap_or_else(|| panic!("no summary in {sends}"));
    assert!(
        summary["text"]
            .as_str()
            .unwrap()
            .ends_with("\nhttp://tapak.lan:8080/api/v1/reports/files/tapak-daily-2026-12-07.pdf"),
        "{summary}"
    );

    // Listed, and downloadable by name (a reader's role is enough); nothing but a listed name is served.
    let viewer = a.token("viewer").await;
    let (st, list) = get_json(
        &client(),
        &a.u("/api/v1/reports/files?period=daily"),
        &viewer,
    )
    .await;
    assert_eq!(st, 200, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{list}");
    assert!(names.contains(&"tapak-daily-2026-12-07.pdf"));
    let item = &list["items"][0];
    assert_eq!(item["period"], "daily");
    assert_eq!(item["label"], "2026-12-07");
    let r = client()
        .get(a.u("/api/v1/reports/files/tapak-daily-2026-12-07.xlsx"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("tapak-daily-2026-12-07.xlsx"));
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        std::fs::read(reports.join("daily/tapak-daily-2026-12-07.xlsx")).unwrap()
    );
    for bad in [
        "..%2Ftapak.db",
        "..%2F..%2Fconfig.toml",
        "%2E%2E%2Fdaily%2Ftapak-daily-2026-12-07.pdf",
        "tapak-daily-2026-12-06.pdf",
        "tapak.db",
    ] {
        let (st, v) = get_json(
            &client(),
            &a.u(&format!("/api/v1/reports/files/{bad}")),
            &viewer,
        )
        .await;
        assert_eq!(st, 404, "{bad}: {v}");
    }
    let (st, _) = get_json(&client(), &a.u("/api/v1/reports/files"), "nope").await;
    assert_eq!(st, 401);

    // A restart on the same data rewrites nothing.
    let file = reports.join("daily/tapak-daily-2026-12-07.json");
    let before = (
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        std::fs::read(&file).unwrap(),
    );
    a.stop().await;
    let a = Appliance::start_with(dir.path(), &fake.url, kl(8, 8, 0), DELIVERY).await;
    a.tick_at(kl(8, 8, 0)).await;
    assert_eq!(
        (
            std::fs::metadata(&file).unwrap().modified().unwrap(),
            std::fs::read(&file).unwrap()
        ),
        before
    );
    assert_eq!(files_in(&reports.join("daily")).len(), 6);

    // Monday 14 Dec: Ravi writes at 06:00; at 06:30 the week's files are written and its PDF goes to him once.
    a.say(
        "GROUP_A",
        "wamid.d2",
        ("60121110001", "Ravi"),
        kl(14, 6, 0),
        "Pump OK now",
        None,
    )
    .await;
    a.tick_at(kl(14, 6, 30)).await;
    let weekly = files_in(&reports.join("weekly"));
    assert!(
        weekly.contains(&"tapak-weekly-2026-W50.pdf".to_string()),
        "{weekly:?}"
    );
    let w = json_file(&reports.join("weekly/tapak-weekly-2026-W50.json"));
    assert_eq!(w["tickets"]["opened"], 1);
    eventually(30, "the weekly PDFs sent", || {
        let docs = fake.documents();
        async move { (docs.len() == 2).then_some(()) }
    })
    .await;
    a.tick_at(kl(14, 6, 31)).await;
    a.stop().await;

    // Off from 14 Dec 06:31 to Wednesday 16 Dec 12:00: the runs of 15 Dec (for the 14th) and 16 Dec (for the 15th)
    // are each made once when it is back, and the files whose period ended before 9 Dec (7 days) are deleted.
    let a = Appliance::start_with(dir.path(), &fake.url, kl(16, 12, 0), DELIVERY).await;
    a.tick_at(kl(16, 12, 0)).await;
    a.tick_at(kl(16, 12, 5)).await;
    let daily = files_in(&reports.join("daily"));
    for d in ["09", "10", "11", "12", "13", "14", "15"] {
        assert!(
            daily.contains(&format!("tapak-daily-2026-12-{d}.json")),
            "{d} in {daily:?}"
        );
    }
    assert!(
        !daily
            .iter()
            .any(|f| f.contains("2026-12-07") || f.contains("2026-12-08")),
        "past the retention: {daily:?}"
    );
    let runs: i64 = a
        .svc
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM report_runs WHERE kind = 'daily' AND first_day IN ('2026-12-14', '2026-12-15')",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(runs, 2);
    let sends = a.get("/api/v1/outbox?limit=100").await;
    let docs: Vec<&Value> = sends["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "document")
        .collect();
    // One send per PDF written (the firm's and the site's) and recipient, each sent once.
    let mut sent: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| {
            (
                d["document"]["filename"].as_str().unwrap(),
                d["state"].as_str().unwrap(),
            )
        })
        .collect();
    sent.sort();
    let site_pdf = format!("tapak-weekly-2026-W50-{s}.pdf");
    assert_eq!(
        sent,
        vec![
            (site_pdf.as_str(), "sent"),
            ("tapak-weekly-2026-W50.pdf", "sent")
        ],
        "{sends}"
    );
    let mut got = fake.documents();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("60121110001".to_string(), site_pdf.clone()),
            (
                "60121110001".to_string(),
                "tapak-weekly-2026-W50.pdf".to_string()
            )
        ]
    );
    a.stop().await;
}

//! Schedules, occurrences and the scheduler (issue 18) on the whole appliance in this process: real HTTP on
//! 127.0.0.1:0, a real SQLite file, the real pipeline, and a fake clock that the tests move; the scheduler's
//! `tick(now)` is called directly at the times under test.
mod common;
use common::appliance::Appliance;
use common::*;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

/// 2026-12-07 at a local (Kuala Lumpur, +08:00) time.
fn kl(h: u32, m: u32) -> DateTime<Utc> {
    kl_on(7, h, m)
}

/// December `day`, 2026 at a local (Kuala Lumpur) time.
fn kl_on(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Kuala_Lumpur
        .with_ymd_and_hms(2026, 12, day, h, m, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn cleaning(block: &str) -> Value {
    json!({
        "name": format!("Block {block} toilets"),
        "category": "cleaning",
        "location": {"block": block},
        "assignees": [{"name": "Aminah", "phone": "+60 12-345 6701"}],
        "rrule": "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T080000\nRRULE:FREQ=DAILY",
        "window_minutes": 120,
        "photo_required": true,
        "remind_after_minutes": 15,
        "escalate_after_minutes": 60,
        "escalate_to": [{"name": "Mr Tan", "phone": "60198765432"}]
    })
}

async fn occurrences(a: &Appliance, c: &reqwest::Client, t: &str, q: &str) -> Vec<Value> {
    let (st, v) = get_json(c, &a.u(&format!("/api/v1/occurrences?{q}")), t).await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the API lists `n` messages.
async fn messages_stored(a: &Appliance, c: &reqwest::Client, t: &str, n: usize) {
    eventually(30, "messages stored", || {
        let (c, u, t) = (c.clone(), a.u("/api/v1/messages"), t.to_string());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            (v["items"].as_array().map(|i| i.len()) == Some(n)).then_some(())
        }
    })
    .await;
}

fn rungs(o: &Value) -> Vec<(String, String)> {
    o["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rung"].as_str().unwrap().to_string(),
                r["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Aminah's reports `(message id, time, text, photo media id)` in the group; answers the task entries once each is
/// stored (and any photo fetched), and the id of a block's entry.
async fn aminah_reports(
    a: &Appliance,
    c: &reqwest::Client,
    t: &str,
    reports: &[(&str, DateTime<Utc>, &str, Option<&str>)],
) -> Vec<Value> {
    for (id, at, text, media) in reports {
        let body = cloud_group_msg(
            id,
            "60123456701",
            "Aminah",
            at.timestamp(),
            Some(text),
            *media,
            None,
        );
        a.post_cloud(c, &body).await;
    }
    let photos = reports.iter().any(|r| r.3.is_some());
    eventually(30, "the task entries", || {
        let (c, u, t) = (c.clone(), a.u("/api/v1/tasks"), t.to_string());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            (items.len() == reports.len()
                && (!photos
                    || items
                        .iter()
                        .any(|i| !i["evidence"].as_array().unwrap().is_empty())))
            .then_some(items)
        }
    })
    .await
}

fn task_of(tasks: &[Value], block: &str) -> i64 {
    tasks
        .iter()
        .find(|x| x["location"]["block"] == block)
        .unwrap_or_else(|| panic!("{tasks:?}"))["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_missed_window_gets_a_reminder_then_an_escalation_once_each_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    let (st, s) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/schedules"),
        &t,
        &cleaning("C"),
    )
    .await;
    assert_eq!(st, 201, "{s}");
    assert_eq!(
        s["assignees"][0]["phone"], "60123456701",
        "stored as digits"
    );
    let stats = a.tick_at(kl(7, 0)).await;
    assert!(stats.materialized >= 1, "{stats:?}");
    let day = occurrences(&a, &c, &t, "date=2026-12-07").await;
    assert_eq!(day.len(), 1, "{day:?}");
    assert_eq!(day[0]["status"], "pending");
    assert_eq!(day[0]["due_at"], "2026-12-07T02:00:00.000Z");
    // Re-running the same tick adds nothing.
    assert_eq!(a.tick_at(kl(7, 0)).await.materialized, 0);

    a.tick_at(kl(10, 14)).await;
    let o = &occurrences(&a, &c, &t, "date=2026-12-07").await[0];
    assert_eq!(o["status"], "missed");
    assert!(rungs(o).is_empty(), "not yet 15 minutes past due: {o}");
    assert_eq!(a.tick_at(kl(10, 15)).await.steps, 1);
    assert_eq!(a.tick_at(kl(10, 16)).await.steps, 0);
    let o = &occurrences(&a, &c, &t, "date=2026-12-07").await[0];
    assert_eq!(rungs(o), vec![("remind".into(), "60123456701".into())]);
    let text = o["reminders"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("Block C") && text.contains("pending"),
        "{text}"
    );
    assert_eq!(o["reminders"][0]["purpose"], "reminder");
    assert_eq!(o["reminders"][0]["state"], "queued", "queued in the outbox");

    // Restart: what was decided is in the database; nothing is repeated, the next rung comes once.
    a.stop().await;
    let a = Appliance::start(dir.path(), &graph.url, kl(10, 59)).await;
    assert_eq!(a.tick_at(kl(10, 59)).await.steps, 0);
    assert_eq!(a.tick_at(kl(11, 0)).await.steps, 1);
    assert_eq!(a.tick_at(kl(11, 30)).await.steps, 0);
    let o = &occurrences(&a, &c, &t, "date=2026-12-07&status=missed").await[0];
    assert_eq!(
        rungs(o),
        vec![
            ("remind".into(), "60123456701".into()),
            ("escalate".into(), "60198765432".into())
        ]
    );
    assert_eq!(o["reminders"][1]["purpose"], "escalation");
    // One outbox row per rung and recipient, however many ticks and restarts.
    let rows: i64 = rusqlite::Connection::open(dir.path().join("data/tapak.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM outbox WHERE about_type = 'occurrence' AND about_id = ?1",
            [o["id"].as_i64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 2);
    a.stop().await;
}

#[tokio::test]
async fn reminder_texts_are_the_managers_edits_in_each_persons_language() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    let url = a.u("/api/v1/settings/reminder-texts");
    // Bad edits are refused naming the field.
    for (bad, field) in [
        (json!({"fr": {"remind": "x"}}), "fr"),
        (json!({"ms": {"bogus": "x"}}), "ms.bogus"),
        (json!({"ms": {"remind": 5}}), "ms.remind"),
        (json!({"ms": {"remind": "x".repeat(501)}}), "ms.remind"),
        (json!(["x"]), "reminder_texts"),
    ] {
        let (st, v) = send_json(&c, reqwest::Method::PUT, &url, &t, &bad).await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(v.to_string().contains(field), "{field}: {v}");
    }
    let edit = json!({"ms": {"remind": "Tolong hantar {what} untuk {place} ({schedule})."}});
    let (st, v) = send_json(&c, reqwest::Method::PUT, &url, &t, &edit).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = get_json(&c, &url, &t).await;
    assert_eq!(st, 200);
    assert_eq!(v["ms"]["remind"], edit["ms"]["remind"]);
    assert!(
        v["en"]["remind"]
            .as_str()
            .unwrap()
            .contains("still pending"),
        "the default stays where nothing was edited: {v}"
    );
    assert!(v["en"]["checkpoints"]
        .as_str()
        .unwrap()
        .contains("{checkpoints}"));

    // Aminah reads Malay; Mr Tan has no language of his own, so the appliance's (English).
    let mut s = cleaning("C");
    s["assignees"][0]["language"] = json!("ms");
    let (st, v) = send_json(&c, reqwest::Method::POST, &a.u("/api/v1/schedules"), &t, &s).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["assignees"][0]["language"], "ms");
    let mut bad = cleaning("D");
    bad["escalate_to"][0]["language"] = json!("fr");
    let (st, v) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/schedules"),
        &t,
        &bad,
    )
    .await;
    assert_eq!(st, 400);
    assert!(v.to_string().contains("escalate_to[0].language"), "{v}");

    a.tick_at(kl(7, 0)).await;
    a.tick_at(kl(10, 15)).await;
    a.tick_at(kl(11, 0)).await;
    let o = &occurrences(&a, &c, &t, "date=2026-12-07").await[0];
    let texts: Vec<&str> = o["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Tolong hantar Laporan pembersihan untuk Blok C (Block C toilets).",
            "Escalation: Cleaning report for Block C still pending after a reminder to Aminah. (Block C toilets)",
        ]
    );
    // Outside the 24-hour window the Cloud API template carries the same facts.
    let params: String = rusqlite::Connection::open(dir.path().join("data/tapak.db"))
        .unwrap()
        .query_row(
            "SELECT template_params FROM outbox WHERE rung = 'remind'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&params).unwrap(),
        json!(["Laporan pembersihan", "Blok C", "Block C toilets"])
    );
    a.stop().await;
}

#[tokio::test]
async fn a_cleaning_posters_tag_with_a_photo_fulfils_its_place_whoever_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![("m-t", jpeg(640, 480, 9))], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    let (st, v) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/sites"),
        &t,
        &json!({"name": "Kenanga Heights"}),
    )
    .await;
    assert!(st == 200 || st == 201, "{v}");
    for b in ["C", "D", "E"] {
        let mut s = cleaning(b);
        s["site"] = json!("Kenanga Heights");
        let (st, v) = send_json(&c, reqwest::Method::POST, &a.u("/api/v1/schedules"), &t, &s).await;
        assert_eq!(st, 201, "{v}");
    }
    a.tick_at(kl(7, 0)).await;
    let at = |h, m| kl(h, m).timestamp();
    // Someone who is not an assignee scans Block C's poster and adds a photo; Block D's tag comes without one; Block
    // E's tag names another site.
    for (id, text, media) in [
        ("wamid.t1", "#C Kenanga Heights", Some("m-t")),
        ("wamid.t2", "#D Kenanga Heights", None),
        ("wamid.t3", "#E Menara Lain", None),
    ] {
        a.post_cloud(
            &c,
            &cloud_group_msg(
                id,
                "60155500011",
                "Relief cleaner",
                at(9, 0),
                Some(text),
                media,
                None,
            ),
        )
        .await;
    }
    messages_stored(&a, &c, &t, 3).await;
    a.tick_at(kl(9, 30)).await;
    let day = occurrences(&a, &c, &t, "date=2026-12-07").await;
    let status = |b: &str| {
        day.iter()
            .find(|o| o["schedule"]["name"] == format!("Block {b} toilets"))
            .map(|o| o["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("C"), "fulfilled", "{day:?}");
    assert_eq!(status("D"), "missing_photo", "{day:?}");
    assert_eq!(status("E"), "pending", "{day:?}");
    a.stop().await;
}

#[tokio::test]
async fn a_report_without_the_photo_gets_a_photo_request_and_one_with_it_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![("m-c", jpeg(640, 480, 5))], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    for b in ["C", "D"] {
        let (st, v) = send_json(
            &c,
            reqwest::Method::POST,
            &a.u("/api/v1/schedules"),
            &t,
            &cleaning(b),
        )
        .await;
        assert_eq!(st, 201, "{v}");
    }
    a.tick_at(kl(7, 0)).await;
    let tasks = aminah_reports(
        &a,
        &c,
        &t,
        &[
            (
                "wamid.s1",
                kl(9, 0),
                "Siap mop tandas blok C ✅",
                Some("m-c"),
            ),
            ("wamid.s2", kl(9, 5), "Siap mop tandas blok D ✅", None),
        ],
    )
    .await;
    let task_c = task_of(&tasks, "C");

    a.tick_at(kl(9, 30)).await;
    let day = occurrences(&a, &c, &t, "date=2026-12-07").await;
    let by = |b: &str| {
        day.iter()
            .find(|o| o["schedule"]["name"] == format!("Block {b} toilets"))
            .cloned()
            .unwrap()
    };
    let (oc, od) = (by("C"), by("D"));
    assert_eq!(oc["status"], "fulfilled", "{oc}");
    assert_eq!(oc["task"], task_c);
    assert!(!oc["evidence"].as_array().unwrap().is_empty(), "{oc}");
    assert!(rungs(&oc).is_empty());
    assert_eq!(od["status"], "missing_photo", "{od}");
    assert_eq!(
        rungs(&od),
        vec![("photo_request".into(), "60123456701".into())]
    );
    assert_eq!(od["reminders"][0]["purpose"], "photo_request");
    // The task entry points at the occurrence it fulfils.
    let (_, task) = get_json(&c, &a.u(&format!("/api/v1/tasks/{task_c}")), &t).await;
    assert_eq!(task["schedule"], oc["id"]);
    // Hours later the fulfilled one is still left alone.
    a.tick_at(kl(13, 0)).await;
    let o = occurrences(&a, &c, &t, &format!("schedule={}", oc["schedule"]["id"])).await;
    let o = o.iter().find(|o| o["id"] == oc["id"]).unwrap();
    assert_eq!(o["status"], "fulfilled");
    assert!(rungs(o).is_empty());
    a.stop().await;
}

/// A task report decides at most one occurrence: the one whose window it falls in, else (a late report) the last
/// one started before it. Yesterday's missed cleaning is still open the next morning (its escalation is a day after
/// the due time), and today's on-time report must not also make yesterday's `late`; a report sent before today's
/// start is yesterday's late one and leaves today's pending.
#[tokio::test]
async fn a_task_report_decides_one_occurrence_not_yesterdays_and_todays() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![("m-c", jpeg(640, 480, 5))], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    for b in ["C", "D"] {
        let mut s = cleaning(b);
        s["photo_required"] = json!(b == "C");
        s["escalate_after_minutes"] = json!(24 * 60);
        let (st, v) = send_json(&c, reqwest::Method::POST, &a.u("/api/v1/schedules"), &t, &s).await;
        assert_eq!(st, 201, "{v}");
    }
    // Another schedule for the same place in the afternoon: its missed occurrence of the 7th is still open on the
    // 8th, and the morning's on-time report is the morning's, not a late one for the afternoon before.
    let mut pm = cleaning("C");
    pm["name"] = json!("Block C toilets (afternoon)");
    pm["rrule"] = json!("DTSTART;TZID=Asia/Kuala_Lumpur:20261201T140000\nRRULE:FREQ=DAILY");
    pm["escalate_after_minutes"] = json!(24 * 60);
    let (st, v) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/schedules"),
        &t,
        &pm,
    )
    .await;
    assert_eq!(st, 201, "{v}");
    a.tick_at(kl(7, 0)).await;
    a.tick_at(kl(10, 30)).await;
    a.tick_at(kl(16, 30)).await;
    let day1 = occurrences(&a, &c, &t, "date=2026-12-07").await;
    assert!(
        day1.len() == 3 && day1.iter().all(|o| o["status"] == "missed"),
        "nothing reported on the 7th: {day1:?}"
    );
    // Block D: done at 07:00 on the 8th, before that day's 08:00 start: yesterday's, late. Block C: done with the
    // photo at 09:00 on the 8th, inside that day's window: today's, fulfilled.
    let tasks = aminah_reports(
        &a,
        &c,
        &t,
        &[
            (
                "wamid.d1",
                kl_on(8, 7, 0),
                "Siap mop tandas blok D ✅",
                None,
            ),
            (
                "wamid.c1",
                kl_on(8, 9, 0),
                "Siap mop tandas blok C ✅",
                Some("m-c"),
            ),
        ],
    )
    .await;
    let (task_c, task_d) = (task_of(&tasks, "C"), task_of(&tasks, "D"));
    for now in [kl_on(8, 9, 30), kl_on(8, 10, 30)] {
        a.tick_at(now).await;
        let all = occurrences(&a, &c, &t, "from=2026-12-07&to=2026-12-08").await;
        let find = |b: &str, day: &str| {
            all.iter()
                .find(|o| {
                    o["schedule"]["name"] == format!("Block {b} toilets")
                        && o["starts_at"].as_str().unwrap().starts_with(day)
                })
                .cloned()
                .unwrap_or_else(|| panic!("{b} {day}: {all:?}"))
        };
        // Starts at 08:00 local, 00:00 UTC.
        let (c7, c8) = (find("C", "2026-12-07"), find("C", "2026-12-08"));
        let (d7, d8) = (find("D", "2026-12-07"), find("D", "2026-12-08"));
        assert_eq!(c8["status"], "fulfilled", "{c8}");
        assert_eq!(c8["task"], task_c);
        assert_eq!(
            c7["status"], "missed",
            "today's report is not yesterday's: {c7}"
        );
        assert!(c7["task"].is_null(), "{c7}");
        let pm7 = all
            .iter()
            .find(|o| {
                o["schedule"]["name"] == "Block C toilets (afternoon)"
                    && o["starts_at"].as_str().unwrap().starts_with("2026-12-07")
            })
            .unwrap_or_else(|| panic!("{all:?}"));
        assert_eq!(
            pm7["status"], "missed",
            "the morning's report is the morning's: {pm7}"
        );
        assert!(pm7["task"].is_null(), "{pm7}");
        assert_eq!(d7["status"], "late", "{d7}");
        assert_eq!(d7["task"], task_d);
        let expected = if now < kl_on(8, 10, 0) {
            "pending"
        } else {
            "missed"
        };
        assert_eq!(
            d8["status"], expected,
            "yesterday's late report is not today's: {d8}"
        );
        assert!(d8["task"].is_null(), "{d8}");
        let (_, tc) = get_json(&c, &a.u(&format!("/api/v1/tasks/{task_c}")), &t).await;
        assert_eq!(tc["schedule"], c8["id"]);
        let (_, td) = get_json(&c, &a.u(&format!("/api/v1/tasks/{task_d}")), &t).await;
        assert_eq!(td["schedule"], d7["id"]);
    }
    a.stop().await;
}

#[tokio::test]
async fn a_patrol_round_with_a_missing_checkpoint_is_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(1, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    let (st, v) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/sites"),
        &t,
        &json!({"name": "Kenanga Heights"}),
    )
    .await;
    assert!(st == 200 || st == 201, "{v}");
    let (st, p) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/schedules"),
        &t,
        &json!({
            "name": "Night patrol",
            "site": "Kenanga Heights",
            "category": "security",
            "assignees": [{"name": "Guard Raju", "phone": "60111222333"}],
            "rrule": "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T000000\nRRULE:FREQ=HOURLY;INTERVAL=2",
            "window_minutes": 60,
            "remind_after_minutes": 10,
            "escalate_after_minutes": 30,
            "escalate_to": [{"name": "Supervisor", "phone": "60198765432"}],
            "checkpoints": [{"code": "CP1", "name": "Gate"}, {"code": "CP2", "name": "Carpark B1"},
                            {"code": "CP3", "name": "Pool"}]
        }),
    )
    .await;
    assert_eq!(st, 201, "{p}");
    a.tick_at(kl(1, 0)).await;
    let at = |h, m| kl(h, m).timestamp();
    // CP1 by the guard in words; CP3 through its poster's tag, sent by whoever scanned it.
    a.post_cloud(
        &c,
        &cloud_group_msg(
            "wamid.p1",
            "60111222333",
            "Guard Raju",
            at(2, 5),
            Some("Checkpoint 1 clear 0205"),
            None,
            None,
        ),
    )
    .await;
    a.post_cloud(
        &c,
        &cloud_group_msg(
            "wamid.p2",
            "60155500011",
            "Relief guard",
            at(2, 20),
            Some("#CP3 Kenanga Heights"),
            None,
            None,
        ),
    )
    .await;
    messages_stored(&a, &c, &t, 2).await;
    a.tick_at(kl(2, 30)).await;
    let round = |items: Vec<Value>| {
        items
            .into_iter()
            .find(|o| o["starts_at"] == "2026-12-06T18:00:00.000Z")
            .unwrap()
    };
    let o = round(occurrences(&a, &c, &t, "date=2026-12-07").await);
    assert_eq!(o["status"], "pending");
    assert_eq!(o["round"], 2);
    a.tick_at(kl(3, 31)).await;
    let o = round(occurrences(&a, &c, &t, "date=2026-12-07").await);
    assert_eq!(o["status"], "missed", "{o}");
    assert_eq!(o["missing_checkpoints"], json!(["CP2"]));
    let r = rungs(&o);
    assert!(
        r.contains(&("remind".into(), "60111222333".into())),
        "{r:?}"
    );
    assert!(
        r.contains(&("escalate".into(), "60198765432".into())),
        "{r:?}"
    );
    let esc = o["reminders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rung"] == "escalate")
        .unwrap();
    assert!(esc["text"].as_str().unwrap().contains("CP2"), "{esc}");
    a.stop().await;
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_the_field_and_excusing_stops_reminders() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("manager").await;
    let viewer = a.token("viewer").await;
    let u = a.u("/api/v1/schedules");
    let cases = [
        ("rrule", json!("RRULE:FREQ=DAILY"), "rrule"),
        (
            "rrule",
            json!("DTSTART;TZID=Mars/Olympus:20261201T080000\nRRULE:FREQ=DAILY"),
            "rrule",
        ),
        (
            "rrule",
            json!("DTSTART:20261201T080000\nRRULE:FREQ=SOMETIMES"),
            "rrule",
        ),
        ("window_minutes", json!(2000), "window_minutes"),
        ("category", json!("magic"), "category"),
    ];
    for (field, value, named) in cases {
        let mut body = cleaning("C");
        body[field] = value.clone();
        let (st, v) = send_json(&c, reqwest::Method::POST, &u, &t, &body).await;
        assert_eq!(st, 400, "{field}={value}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(named), "{field}={value}: {msg}");
    }
    let (_, v) = send_json(
        &c,
        reqwest::Method::POST,
        &u,
        &t,
        &json!({"rrule": "DTSTART;TZID=Mars/Olympus:20261201T080000\nRRULE:FREQ=DAILY", "name": "x",
                "category": "cleaning", "window_minutes": 10}),
    )
    .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("time zone"),
        "{v}"
    );
    let mut no_rrule = cleaning("C");
    no_rrule.as_object_mut().unwrap().remove("rrule");
    let (st, v) = send_json(&c, reqwest::Method::POST, &u, &t, &no_rrule).await;
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("rrule"),
        "{v}"
    );
    assert_eq!(
        send_json(&c, reqwest::Method::POST, &u, &viewer, &cleaning("C"))
            .await
            .0,
        403
    );

    let (st, s) = send_json(&c, reqwest::Method::POST, &u, &t, &cleaning("C")).await;
    assert_eq!(st, 201);
    let id = s["id"].as_i64().unwrap();
    let one = a.u(&format!("/api/v1/schedules/{id}"));
    let (st, v) = send_json(
        &c,
        reqwest::Method::PATCH,
        &one,
        &t,
        &json!({"window_minutes": 5000}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("window_minutes"));
    let (st, v) = send_json(
        &c,
        reqwest::Method::PATCH,
        &one,
        &t,
        &json!({"name": "Block C toilets (am)"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["name"], "Block C toilets (am)");
    assert_eq!(v["window_minutes"], 120);
    let (st, v) = get_json(&c, &u, &viewer).await;
    assert_eq!(st, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);

    a.tick_at(kl(10, 5)).await;
    let o = occurrences(&a, &c, &t, "date=2026-12-07").await.remove(0);
    assert_eq!(o["status"], "missed");
    let ex = a.u(&format!("/api/v1/occurrences/{}/excuse", o["id"]));
    assert_eq!(
        send_json(
            &c,
            reqwest::Method::POST,
            &ex,
            &viewer,
            &json!({"reason": "x"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send_json(&c, reqwest::Method::POST, &ex, &t, &json!({"reason": "  "}))
            .await
            .0,
        400
    );
    let (st, v) = send_json(
        &c,
        reqwest::Method::POST,
        &ex,
        &t,
        &json!({"reason": "water cut, no cleaning possible"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "excused");
    assert_eq!(a.tick_at(kl(12, 0)).await.steps, 0);
    let o = occurrences(&a, &c, &t, "status=excused").await.remove(0);
    assert_eq!(o["excused_reason"], "water cut, no cleaning possible");
    assert!(rungs(&o).is_empty());
    // Deleting stops it; its occurrences stay for the record.
    let r = c.delete(&one).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get_json(&c, &one, &t).await.0, 404);
    assert_eq!(occurrences(&a, &c, &t, "status=excused").await.len(), 1);
    a.stop().await;
}

fn ladder_rows(dir: &Path, about_type: &str) -> Vec<(String, String, Option<String>, String)> {
    let conn = rusqlite::Connection::open(dir.join("data/tapak.db")).unwrap();
    let mut st = conn
        .prepare(
            "SELECT l.rung, l.recipient, o.state, l.text FROM ladder_steps l LEFT JOIN outbox o ON \
             o.about_type = l.about_type AND o.about_id = l.about_id AND o.rung = l.rung AND o.recipient = l.recipient \
             WHERE l.about_type = ?1 ORDER BY l.id",
        )
        .unwrap();
    st.query_map([about_type], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[tokio::test]
async fn an_unanswered_ticket_is_chased_owner_first_then_escalated_and_managers_get_a_daily_summary(
) {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![], 0).await;
    let a = Appliance::start_with(
        dir.path(),
        &graph.url,
        kl(8, 0),
        "summary_time = \"07:30\"\nsummary_to = [\"+60 12-999 0001\"]",
    )
    .await;
    let c = client();
    let t = a.token("manager").await;
    let (_, site) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/sites"),
        &t,
        &json!({"name": "Kenanga Heights", "settings": {"reminders": {
            "escalate_to": [{"name": "Mr Tan", "phone": "60198765432"}], "escalate_after_minutes": 30}}}),
    )
    .await;
    a.post_cloud(
        &c,
        &cloud_group_msg(
            "wamid.t1",
            "60167654302",
            "Rajesh",
            kl(9, 0).timestamp(),
            Some("Lift B stuck at level 5, no one inside"),
            None,
            None,
        ),
    )
    .await;
    let issue = eventually(30, "the ticket", || {
        let (c, u, t) = (c.clone(), a.u("/api/v1/issues"), t.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            v["items"].as_array().and_then(|i| i.first().cloned())
        }
    })
    .await;
    let chat = issue["chat"]["id"].as_i64().unwrap();
    let (st, v) = send_json(
        &c,
        reqwest::Method::PATCH,
        &a.u(&format!("/api/v1/chats/{chat}")),
        &t,
        &json!({"site": site["id"]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let respond_by =
        tapak::store::parse_time(issue["sla"]["respond_by"].as_str().unwrap()).unwrap();
    let min = |m| chrono::Duration::minutes(m);
    a.tick_at(respond_by - min(1)).await;
    assert!(ladder_rows(dir.path(), "issue").is_empty());
    a.tick_at(respond_by).await;
    let rows = ladder_rows(dir.path(), "issue");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "respond_owner");
    assert!(rows[0].3.contains("no response"), "{rows:?}");
    a.tick_at(respond_by + min(29)).await;
    assert_eq!(ladder_rows(dir.path(), "issue").len(), 1);
    a.tick_at(respond_by + min(30)).await;
    a.tick_at(respond_by + min(45)).await;
    let rows = ladder_rows(dir.path(), "issue");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2.as_deref()),
        ("respond_escalate", "60198765432", Some("queued"))
    );

    // The next morning at 07:30 the managers get yesterday's numbers once.
    let next = |h, m| kl(h, m) + chrono::Duration::days(1);
    // (Today's, about 2026-12-06, went at the first tick after 07:30 today.)
    a.tick_at(next(7, 29)).await;
    let before = ladder_rows(dir.path(), "report");
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].3.contains("2026-12-06"), "{before:?}");
    a.tick_at(next(7, 30)).await;
    a.tick_at(next(8, 0)).await;
    let rows = ladder_rows(dir.path(), "report");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (rung, to, state, text) = &rows[1];
    assert_eq!(
        (rung.as_str(), to.as_str(), state.as_deref()),
        ("summary", "60129990001", Some("queued"))
    );
    assert!(
        text.contains("2026-12-07") && text.contains("Tickets open 1"),
        "{text}"
    );
    assert!(text.contains("http://tapak.lan:8080/"), "{text}");
    a.stop().await;
}

/// Every QR code rqrr finds in a greyscale picture, decoded.
fn decode_qr(w: usize, h: usize, px: &[u8]) -> Vec<String> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| px[y * w + x]);
    let mut out: Vec<String> = img
        .detect_grids()
        .into_iter()
        .map(|g| g.decode().expect("a QR code that decodes").1)
        .collect();
    out.sort();
    out
}

/// The greyscale image XObjects of a PDF (as written by pdf-writer: uncompressed DeviceGray, 8 bits).
fn pdf_images(pdf: &[u8]) -> Vec<(usize, usize, Vec<u8>)> {
    let find = |from: usize, pat: &[u8]| {
        pdf[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| p + from)
    };
    let number = |at: usize| -> usize {
        let digits: String = pdf[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|b| *b as char)
            .collect();
        digits.parse().unwrap()
    };
    let mut out = vec![];
    let mut at = 0;
    while let Some(p) = find(at, b"/Subtype /Image") {
        let w = number(find(p, b"/Width ").unwrap() + 7);
        let h = number(find(p, b"/Height ").unwrap() + 8);
        let s = find(p, b"stream\n").unwrap() + 7;
        out.push((w, h, pdf[s..s + w * h].to_vec()));
        at = s + w * h;
    }
    out
}

#[tokio::test]
async fn posters_carry_a_qr_code_of_the_wa_me_link_with_the_tag() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start(vec![], 0).await;
    let a = Appliance::start(dir.path(), &graph.url, kl(7, 0)).await;
    let c = client();
    let t = a.token("viewer").await;
    let m = a.token("manager").await;
    send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/sites"),
        &m,
        &json!({"name": "Kenanga Heights"}),
    )
    .await;
    let (st, p) = send_json(
        &c,
        reqwest::Method::POST,
        &a.u("/api/v1/schedules"),
        &m,
        &json!({
            "name": "Night patrol", "site": "Kenanga Heights", "category": "security",
            "rrule": "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T000000\nRRULE:FREQ=HOURLY;INTERVAL=2",
            "window_minutes": 60,
            "checkpoints": [{"code": "cp1", "name": "Gate"}, {"code": "CP2", "name": "Carpark B1 停车场"},
                            {"code": "CP3", "name": "Café Łąka (José Müller)"}]
        }),
    )
    .await;
    assert_eq!(st, 201, "{p}");
    let id = p["id"].as_i64().unwrap();
    let want: Vec<String> = ["CP1", "CP2", "CP3"]
        .iter()
        .map(|k| format!("https://wa.me/60380001234?text=%23{k}%20Kenanga%20Heights"))
        .collect();
    let get = |q: &str| {
        let (c, u, t) = (
            c.clone(),
            a.u(&format!("/api/v1/schedules/{id}/posters?{q}")),
            t.clone(),
        );
        async move {
            let r = c.get(u).bearer_auth(t).send().await.unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            (r.status().as_u16(), ct, r.bytes().await.unwrap().to_vec())
        }
    };
    let (st, ct, png) = get("format=png&size=a4").await;
    assert_eq!((st, ct.as_str()), (200, "image/png"));
    let img = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(
        decode_qr(img.width() as usize, img.height() as usize, img.as_raw()),
        want
    );
    // Each panel (one per checkpoint) has text above its QR code (site, place) and under it (the instructions).
    let dark = |rows: std::ops::Range<u32>| {
        rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
            .count()
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| img.as_raw()[y * w + x]);
    let mut codes: Vec<(u32, u32)> = prepared
        .detect_grids()
        .iter()
        .map(|g| {
            let ys = g.bounds.iter().map(|p| p.y.max(0) as u32);
            (ys.clone().min().unwrap(), ys.max().unwrap())
        })
        .collect();
    codes.sort();
    assert_eq!(codes.len(), 3);
    let panel = img.height() / 3;
    for (i, (qr_top, qr_bottom)) in codes.into_iter().enumerate() {
        let top = i as u32 * panel;
        assert!(
            dark(top..qr_top - 10) > 500,
            "panel {i}: the site and place above the code"
        );
        assert!(
            dark(qr_bottom + 10..top + panel) > 500,
            "panel {i}: the instructions under the code"
        );
    }
    let (st, ct, pdf) = get("format=pdf&size=a6").await;
    assert_eq!((st, ct.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    // The text as a reader extracts it, through the embedded font's Unicode map: accents as written, what the font
    // lacks (Chinese) as U+FFFD.
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert_eq!(pages.len(), 3);
    let text = doc.extract_text(&pages).unwrap();
    for want in [
        "Kenanga Heights",
        "CP3 - Café Łąka (José Müller)",
        "CP2 - Carpark B1 \u{FFFD}\u{FFFD}\u{FFFD}",
        "Imbas dengan kamera telefon",
        "Scan with your phone camera",
        "#CP1 Kenanga Heights",
    ] {
        assert!(text.contains(want), "{want} in the PDF text:\n{text}");
    }
    assert!(
        String::from_utf8_lossy(&pdf).contains("/FontFile2"),
        "the font is embedded"
    );
    assert!(!String::from_utf8_lossy(&pdf).contains("/Helvetica"));
    let mut links: Vec<String> = pdf_images(&pdf)
        .into_iter()
        .flat_map(|(w, h, px)| decode_qr(w, h, &px))
        .collect();
    links.sort();
    assert_eq!(links, want);
    assert_eq!(get("format=gif").await.0, 400);

    // The command line writes the same posters.
    let out = dir.path().join("posters.png");
    let cli = std::process::Command::new(bin())
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .args(["posters", "night patrol", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let img = image::open(&out).unwrap().to_luma8();
    assert_eq!(
        decode_qr(img.width() as usize, img.height() as usize, img.as_raw()),
        want
    );
    let bad = std::process::Command::new(bin())
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["posters", "no such schedule", "--output"])
        .arg(dir.path().join("x.pdf"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    a.stop().await;
}

//! Records over real HTTP: messages become tickets and task entries with evidence; managers correct them; corrections
//! win and survive re-processing; SLA, repeats and the audit trail.

mod common;

use common::*;
use serde_json::{json, Value};

const T0: i64 = 1_772_414_132; // 2026-03-02 09:15:32 +08:00

#[tokio::test]
async fn a_ticket_lives_from_report_to_resolution_with_proof() {
    let proof = jpeg(800, 600, 3);
    let graph = FakeGraph::start(vec![("m-proof", proof.clone())], 0).await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("manager");
    let msgs = [
        // Ahmad has spoken in the group before, so "@Ahmad" resolves to him (a name nobody has used yet cannot).
        cloud_group_msg(
            "wamid.r0",
            "60124445566",
            "Ahmad Technician",
            T0 - 3600,
            Some("Morning all"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.r1",
            "60167654302",
            "Rajesh",
            T0,
            Some("Lift B stuck at level 5, no one inside"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.r2",
            "60198765403",
            "Tan (Manager)",
            T0 + 60,
            Some("@Ahmad pls check lift B now"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.r3",
            "60124445566",
            "Ahmad Technician",
            T0 + 600,
            Some("Lift tech otw, ETA 30 min"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.r4",
            "60124445566",
            "Ahmad Technician",
            T0 + 3600,
            Some("Lift B ok already, running normal"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.r5",
            "60124445566",
            "Ahmad Technician",
            T0 + 3660,
            None,
            Some("m-proof"),
            None,
        ),
        cloud_group_msg(
            "wamid.r6",
            "60123456701",
            "Aminah",
            T0 + 7200,
            Some("Siap mop lobi blok A ✅"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &token, msgs.len()).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    let items = issues["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{issues}");
    let issue = &items[0];
    assert_eq!(issue["category"], "lift");
    assert_eq!(issue["priority"], "high");
    assert_eq!(issue["status"], "resolved");
    assert_eq!(issue["location"]["block"], "B");
    assert!(issue["resolved_at"].is_string());
    assert!(issue["sla"]["respond_by"].is_string() && issue["sla"]["resolve_by"].is_string());
    assert_eq!(issue["reported_by"]["phone"], "60167654302");
    assert_eq!(
        issue["owner"]["phone"], "60124445566",
        "\"@Ahmad pls check lift B\" made Ahmad the owner"
    );
    let id = issue["id"].as_i64().unwrap();
    // The resolution photo is resolution proof (it arrives with no caption right after the resolution claim).
    let detail = issue_once_it_has_evidence(&c, &s, &token, id, "proof linked").await;
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(
        timeline.len(),
        3,
        "report, update, resolution: {timeline:?}"
    );
    assert!(timeline.iter().all(|t| t["link_reason"].is_string()));
    assert_eq!(detail["evidence"][0]["role"], "resolution_proof");
    // The task report became a task entry.
    let (_, tasks) = get_json(&c, &s.u("/api/v1/tasks"), &token).await;
    assert_eq!(tasks["items"][0]["status"], "done");
    assert_eq!(tasks["items"][0]["category"], "cleaning");
    // Filters.
    assert_eq!(
        get_json(&c, &s.u("/api/v1/issues?status=open"), &token)
            .await
            .1["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        get_json(&c, &s.u("/api/v1/issues?category=lift"), &token)
            .await
            .1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get_json(&c, &s.u("/api/v1/issues?category=boat"), &token)
            .await
            .0,
        400
    );
    // Messages show the record they belong to.
    let (_, page) = get_json(&c, &s.u("/api/v1/messages?limit=50"), &token).await;
    let report = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"].as_str().unwrap_or("").starts_with("Lift B stuck"))
        .unwrap();
    assert_eq!(report["record"], json!({"type": "issue", "id": id}));
    assert_eq!(report["kind"], "issue_report");
}

#[tokio::test]
async fn manager_corrections_win_and_are_audited() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let manager = s.token("manager");
    let viewer = s.token("viewer");
    let msgs = [
        cloud_group_msg(
            "wamid.c1",
            "60167654302",
            "Rajesh",
            T0,
            Some("Paip bocor tingkat 5 blok A"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.c2",
            "60133334405",
            "Farid",
            T0 + 120,
            Some("Toilet lvl 2 blk C choke"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.c3",
            "60123456701",
            "Aminah",
            T0 + 300,
            Some("Kolam renang nampak hijau sikit"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &manager, 3).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &manager).await;
    let ids: Vec<i64> = issues["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 2, "{issues}");
    let (leak, choke) = (ids[ids.len() - 1], ids[ids.len() - 2]);
    // A viewer may not correct.
    let r = c
        .post(s.u(&format!("/api/v1/issues/{leak}/status")))
        .bearer_auth(&viewer)
        .json(&json!({"status": "acknowledged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Acknowledge, assign, merge.
    let r = c
        .post(s.u(&format!("/api/v1/issues/{leak}/status")))
        .bearer_auth(&manager)
        .json(&json!({"status": "acknowledged", "note": "seen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "acknowledged");
    assert!(v["corrections"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["reason"] == "seen"));
    let (_, people) = get_json(&c, &s.u("/api/v1/people"), &manager).await;
    let farid = people["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phone"] == "60133334405")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c
        .post(s.u(&format!("/api/v1/issues/{leak}/assign")))
        .bearer_auth(&manager)
        .json(&json!({"person": farid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["owner"]["id"], farid);
    let r = c
        .post(s.u(&format!("/api/v1/issues/{choke}/status")))
        .bearer_auth(&manager)
        .json(&json!({"status": "sideways"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Reclassify the pool message as an issue_report (cleaning): a new ticket appears.
    let (_, page) = get_json(&c, &s.u("/api/v1/messages?limit=50"), &manager).await;
    let pool = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"].as_str().unwrap_or("").starts_with("Kolam"))
        .unwrap()
        .clone();
    let pid = pool["id"].as_i64().unwrap();
    let r = c.post(s.u(&format!("/api/v1/messages/{pid}/classification"))).bearer_auth(&manager)
        .json(&json!({"kind": "issue_report", "category": "cleaning", "location": {"area": "pool"}, "priority": "low", "reason": "green pool is a cleaning issue"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["kind"], "issue_report");
    assert_eq!(m["record"]["type"], "issue");
    let (_, issue) = get_json(
        &c,
        &s.u(&format!("/api/v1/issues/{}", m["record"]["id"])),
        &manager,
    )
    .await;
    assert_eq!(issue["category"], "cleaning");
    assert_eq!(issue["priority"], "low");
    // Move the choke report out of any record: the ticket disappears, the correction stays.
    let cid = choke;
    let r = c
        .post(s.u(&format!("/api/v1/messages/{cid}/record")))
        .bearer_auth(&manager)
        .json(&json!({"record": null, "reason": "duplicate of a call"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        get_json(&c, &s.u(&format!("/api/v1/issues/{choke}")), &manager)
            .await
            .0,
        404
    );
    // Corrections survive a restart and re-processing (the leak stays acknowledged and assigned).
    let mut s = s;
    s.restart();
    let (_, leak_after) = get_json(&c, &s.u(&format!("/api/v1/issues/{leak}")), &manager).await;
    assert_eq!(leak_after["status"], "acknowledged");
    assert_eq!(leak_after["owner"]["id"], farid);
    // A redelivered message changes nothing.
    assert_eq!(post_cloud(&c, &s, &msgs[0]).await.status(), 200);
    let (_, leak_again) = get_json(&c, &s.u(&format!("/api/v1/issues/{leak}")), &manager).await;
    assert_eq!(leak_again["status"], "acknowledged");
    // The event log records who and why, hash-chained.
    let dest = s.data.join("audit.db");
    assert!(s
        .cli(&["backup", dest.to_str().unwrap()], None)
        .status
        .success());
    assert_foreign_keys_hold(&dest);
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE action LIKE 'issue.%' OR action LIKE 'message.%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(n >= 4, "corrections in the event log: {n}");
    let actor: String = conn
        .query_row(
            "SELECT actor FROM events WHERE action = 'issue.status_changed' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(actor.starts_with("token:"), "{actor}");
}

#[tokio::test]
async fn close_requires_proof_when_the_site_says_so() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let manager = s.token("manager");
    assert_eq!(
        post_cloud(
            &c,
            &s,
            &cloud_group_msg(
                "wamid.p1",
                "60167654302",
                "Rajesh",
                T0,
                Some("Lampu koridor aras 3 blok C rosak"),
                None,
                None
            )
        )
        .await
        .status(),
        200
    );
    wait_processed(&c, &s, &manager, 1).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &manager).await;
    let id = issues["items"][0]["id"].as_i64().unwrap();
    let chat = issues["items"][0]["chat"]["id"].as_i64().unwrap();
    let site: Value = c
        .post(s.u("/api/v1/sites"))
        .bearer_auth(&manager)
        .json(&json!({"name": "Menara", "settings": {"require_proof": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = c
        .patch(s.u(&format!("/api/v1/chats/{chat}")))
        .bearer_auth(&manager)
        .json(&json!({"site": site["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(s.u(&format!("/api/v1/issues/{id}/status")))
        .bearer_auth(&manager)
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("proof"));
    let (_, issue) = get_json(&c, &s.u(&format!("/api/v1/issues/{id}")), &manager).await;
    assert_eq!(issue["site"]["name"], "Menara");
    assert_eq!(issue["status"], "open");
    // Without the policy, closing without proof is allowed (and reopening too).
    c.patch(s.u(&format!("/api/v1/sites/{}", site["id"])))
        .bearer_auth(&manager)
        .json(&json!({"settings": {"require_proof": false}}))
        .send()
        .await
        .unwrap();
    let r = c
        .post(s.u(&format!("/api/v1/issues/{id}/status")))
        .bearer_auth(&manager)
        .json(&json!({"status": "closed", "note": "fixed on site"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "closed");
    let r = c
        .post(s.u(&format!("/api/v1/issues/{id}/status")))
        .bearer_auth(&manager)
        .json(&json!({"status": "open", "note": "came back"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "open");
}

#[tokio::test]
async fn repeats_and_sla_breaches_are_reported() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let manager = s.token("manager");
    let day = 86_400;
    let msgs = [
        cloud_group_msg(
            "wamid.s1",
            "60167654302",
            "Rajesh",
            T0,
            Some("Water pump failure at pump room Block A"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.s2",
            "60167654302",
            "Rajesh",
            T0 + 3 * 3600,
            Some("Pump repaired, running normal"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.s3",
            "60167654302",
            "Rajesh",
            T0 + 2 * day,
            Some("Water pump failure again!! Block A"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &manager, 3).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &manager).await;
    let items = issues["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{issues}");
    assert_eq!(
        items[0]["repeat_of"], items[1]["id"],
        "the 'again' report points to the earlier ticket"
    );
    // March 2026 is long past: the open one breached its SLA; the first was resolved in 3 h (high: 24 h) → not.
    assert_eq!(items[0]["sla"]["breached"], true);
    assert_eq!(items[1]["sla"]["breached"], false);
    let (_, breached) = get_json(&c, &s.u("/api/v1/issues?breached=true"), &manager).await;
    assert_eq!(breached["items"].as_array().unwrap().len(), 1);
    let (_, reps) = get_json(&c, &s.u("/api/v1/repeats?days=7"), &manager).await;
    assert_eq!(reps["items"].as_array().unwrap().len(), 1, "{reps}");
    // SLA policy is configurable.
    let (_, mut pol) = get_json(&c, &s.u("/api/v1/settings/sla"), &manager).await;
    pol["default"]["resolve_within_mins"] = json!(10);
    let r = c
        .put(s.u("/api/v1/settings/sla"))
        .bearer_auth(&manager)
        .json(&pol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, again) = get_json(&c, &s.u("/api/v1/settings/sla"), &manager).await;
    assert_eq!(again["default"]["resolve_within_mins"], 10);
}

/// A lift breakdown reported in the group at T0…
fn lift_stuck(wamid: &str) -> Vec<u8> {
    cloud_group_msg(
        wamid,
        "60167654302",
        "Rajesh",
        T0,
        Some("Lift C stuck at level 3, no one inside"),
        None,
        None,
    )
}

/// …and its resolution a quarter of an hour later, by someone else.
fn lift_ok(wamid: &str) -> Vec<u8> {
    cloud_group_msg(
        wamid,
        "60124445566",
        "Ahmad",
        T0 + 900,
        Some("Lift C ok already, running normal"),
        None,
        None,
    )
}

#[tokio::test]
async fn engine_state_survives_a_crash_between_snapshots() {
    let mut s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("manager");
    let m1 = lift_stuck("wamid.k1");
    assert_eq!(post_cloud(&c, &s, &m1).await.status(), 200);
    wait_processed(&c, &s, &token, 1).await;
    // kill -9 before any snapshot of the engine's state could be written (they are taken every 10 s).
    s.crash();
    s.spawn(&[]);
    let m2 = lift_ok("wamid.k2");
    assert_eq!(post_cloud(&c, &s, &m2).await.status(), 200);
    wait_processed(&c, &s, &token, 2).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    let items = issues["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{issues}");
    assert_eq!(
        items[0]["status"], "resolved",
        "the resolution found the ticket opened before the crash"
    );
}

async fn metric(c: &reqwest::Client, s: &Server, name: &str) -> i64 {
    let text = c
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// A webhook message is classified before the write and linked in the write that stores it: when the 200 comes, its
/// ticket exists and nothing waits for a background pass.
#[tokio::test]
async fn a_webhook_message_is_linked_before_it_is_acknowledged() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("manager");
    assert_eq!(
        post_cloud(&c, &s, &lift_stuck("wamid.i1")).await.status(),
        200
    );
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    assert_eq!(issues["items"].as_array().unwrap().len(), 1, "{issues}");
    assert_eq!(issues["items"][0]["status"], "open");
    assert_eq!(metric(&c, &s, "tapak_messages_unprocessed").await, 0);
    assert_eq!(metric(&c, &s, "tapak_messages").await, 1);
    assert_eq!(post_cloud(&c, &s, &lift_ok("wamid.i2")).await.status(), 200);
    // The gauge counts only what came since the last scrape, and still the whole table.
    assert_eq!(metric(&c, &s, "tapak_messages").await, 2);
    assert_eq!(post_cloud(&c, &s, &lift_ok("wamid.i2")).await.status(), 200);
    assert_eq!(
        metric(&c, &s, "tapak_messages").await,
        2,
        "a redelivery adds nothing"
    );
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    assert_eq!(issues["items"][0]["status"], "resolved", "{issues}");
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    for m in page["items"].as_array().unwrap() {
        assert_eq!(m["record"]["type"], "issue", "{m}");
    }
    assert_eq!(metric(&c, &s, "tapak_messages_processed_total").await, 2);
    assert_foreign_keys_hold(&s.data.join("tapak.db"));
}

/// Under load deliveries are acknowledged from the inbox and filed behind (`inline_filing_below = 0` does that for
/// every one): the answer says so, and the records come out as if each had been filed at once.
#[tokio::test]
async fn deliveries_acknowledged_from_the_inbox_are_filed_in_order() {
    let mut cfg = default_config("http://127.0.0.1:9");
    cfg.push_str("\n[server]\ninline_filing_below = 0\n");
    let s = Server::start(&cfg);
    let c = client();
    let token = s.token("manager");
    for body in [
        lift_stuck("wamid.q1"),
        lift_stuck("wamid.q1"),
        lift_ok("wamid.q2"),
    ] {
        let r = post_cloud(&c, &s, &body).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["queued"], true, "{v}");
    }
    eventually(30, "the inbox filed", || {
        let (c, s) = (c.clone(), &s);
        async move { (metric(&c, s, "tapak_inbox_deliveries").await == 0).then_some(()) }
    })
    .await;
    // The dashboard tells a manager when filing is behind: nothing now.
    let (code, dash) = get_json(&c, &s.u("/api/v1/dashboard"), &token).await;
    assert_eq!(code, 200, "{dash}");
    assert_eq!(
        dash["backlog"],
        serde_json::json!({"deliveries_waiting": 0, "filing_per_second": null, "seconds_left": null}),
        "{dash}"
    );
    // Three deliveries filed in well under the rate's shortest span: no rate, exported as 0.
    assert_eq!(metric(&c, &s, "tapak_inbox_filing_rate").await, 0);
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    assert_eq!(issues["items"].as_array().unwrap().len(), 1, "{issues}");
    assert_eq!(issues["items"][0]["status"], "resolved", "{issues}");
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        2,
        "the redelivery is stored once"
    );
    assert_eq!(metric(&c, &s, "tapak_webhook_queued_total").await, 3);
    assert_eq!(metric(&c, &s, "tapak_messages_duplicate_total").await, 1);
    assert_eq!(metric(&c, &s, "tapak_messages_unprocessed").await, 0);
    assert_foreign_keys_hold(&s.data.join("tapak.db"));
}

/// A server that gives its caches back after one quiet second, a client and a manager's token.
fn quickly_idle_server() -> (Server, reqwest::Client, String) {
    let mut cfg = default_config("http://127.0.0.1:9");
    cfg.push_str("\n[server]\nidle_release_secs = 1\n");
    let s = Server::start(&cfg);
    let token = s.token("manager");
    (s, client(), token)
}

#[tokio::test]
async fn an_idle_appliance_gives_memory_back_and_picks_up_where_it_was() {
    let (s, c, token) = quickly_idle_server();
    let m1 = lift_stuck("wamid.i1");
    assert_eq!(post_cloud(&c, &s, &m1).await.status(), 200);
    wait_processed(&c, &s, &token, 1).await;
    // Idle: the chat's state is snapshotted and dropped from memory.
    eventually(20, "cached states released", || {
        let (c, s) = (c.clone(), &s);
        async move { (metric(&c, s, "tapak_records_states_cached").await == 0).then_some(()) }
    })
    .await;
    // The next message reloads it: the resolution still finds the ticket opened before.
    let m2 = lift_ok("wamid.i2");
    assert_eq!(post_cloud(&c, &s, &m2).await.status(), 200);
    wait_processed(&c, &s, &token, 2).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    let items = issues["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{issues}");
    assert_eq!(items[0]["status"], "resolved", "{issues}");
    assert_eq!(metric(&c, &s, "tapak_records_states_cached").await, 1);
    // And it is given back again after the next quiet spell (not only the first one).
    eventually(20, "cached states released again", || {
        let (c, s) = (c.clone(), &s);
        async move { (metric(&c, s, "tapak_records_states_cached").await == 0).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn a_new_classifier_version_reclassifies_recent_messages_but_not_corrections() {
    let now = chrono::Utc::now().timestamp();
    let mut s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("manager");
    let msgs = [
        cloud_group_msg(
            "wamid.v1",
            "60167654302",
            "Rajesh",
            now - 3600,
            Some("Paip bocor tingkat 5 blok A"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.v2",
            "60133334405",
            "Farid",
            now - 3000,
            Some("Lampu koridor blok C rosak"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &token, 2).await;
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    let lamp = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"].as_str().unwrap().starts_with("Lampu"))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // A manager says the lamp message is chatter: that must survive a classifier upgrade.
    let r = c
        .post(s.u(&format!("/api/v1/messages/{lamp}/classification")))
        .bearer_auth(&token)
        .json(&json!({"kind": "chatter", "reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop();
    // Pretend the stored verdicts came from an older, worse classifier.
    {
        let conn = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
        conn.execute(
            "UPDATE messages SET classifier_version = 'old', kind = 'chatter', \
            classification = json_set(classification, '$.kind', 'chatter') WHERE text LIKE 'Paip%'",
            [],
        )
        .unwrap();
        conn.execute("UPDATE messages SET classifier_version = 'old'", [])
            .unwrap();
        conn.execute("DELETE FROM issues", []).unwrap();
    }
    s.spawn(&[]);
    let issues = eventually(30, "re-classification rebuilt the ticket", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/issues"), token.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            (!items.is_empty()).then_some(items)
        }
    })
    .await;
    assert_eq!(
        issues.len(),
        1,
        "only the pipe leak; the corrected lamp message stays chatter"
    );
    assert_eq!(issues[0]["category"], "plumbing");
    let (_, m) = get_json(&c, &s.u(&format!("/api/v1/messages/{lamp}")), &token).await;
    assert_eq!(m["kind"], "chatter");
}

/// Creates a site with `settings` and moves the chat into it; answers the site.
async fn site_with_chat(
    c: &reqwest::Client,
    s: &Server,
    token: &str,
    name: &str,
    settings: Value,
    chat: &Value,
) -> Value {
    let body = json!({"name": name, "settings": settings});
    let (st, site) = send_json(
        c,
        reqwest::Method::POST,
        &s.u("/api/v1/sites"),
        token,
        &body,
    )
    .await;
    assert_eq!(st, 201, "{site}");
    let url = s.u(&format!("/api/v1/chats/{chat}"));
    let (st, _) = send_json(
        c,
        reqwest::Method::PATCH,
        &url,
        token,
        &json!({"site": site["id"]}),
    )
    .await;
    assert_eq!(st, 200);
    site
}

/// Posts Rajesh's group message `text` (sent `secs` after T0), waits until `total` messages are processed and returns
/// the stored message.
async fn post_and_read(
    c: &reqwest::Client,
    s: &Server,
    token: &str,
    wamid: &str,
    secs: i64,
    text: &str,
    total: usize,
) -> Value {
    let m = cloud_group_msg(
        wamid,
        "60167654302",
        "Rajesh",
        T0 + secs,
        Some(text),
        None,
        None,
    );
    assert_eq!(post_cloud(c, s, &m).await.status(), 200);
    wait_processed(c, s, token, total).await;
    let (_, page) = get_json(c, &s.u("/api/v1/messages"), token).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == text)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn site_vocabulary_feeds_the_extractors() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let manager = s.token("manager");
    let first = cloud_group_msg(
        "wamid.sv1",
        "60167654302",
        "Rajesh",
        T0,
        Some("Selamat pagi semua"),
        None,
        None,
    );
    assert_eq!(post_cloud(&c, &s, &first).await.status(), 200);
    wait_processed(&c, &s, &manager, 1).await;
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &manager).await;
    let chat = page["items"][0]["chat"]["id"].as_i64().unwrap();
    let settings = json!({"blocks": ["Cempaka", "Melur"], "area_aliases": {"dewan": "lobby"}});
    let site = site_with_chat(&c, &s, &manager, "Taman Cempaka", settings, &json!(chat)).await;
    let text = "Lampu dewan Melur rosak, gelap";
    let msg = post_and_read(&c, &s, &manager, "wamid.sv2", 60, text, 2).await;
    assert_eq!(msg["classification"]["location"]["block"], "Melur", "{msg}");
    assert_eq!(msg["classification"]["location"]["area"], "lobby", "{msg}");
    // A new block name in the site's settings counts for the very next message (no stale vocabulary).
    let url = s.u(&format!("/api/v1/sites/{}", site["id"]));
    let settings = json!({"settings": {"blocks": ["Cempaka", "Melur", "Kenanga"], "area_aliases": {"dewan": "lobby"}}});
    let (st, _) = send_json(&c, reqwest::Method::PATCH, &url, &manager, &settings).await;
    assert_eq!(st, 200);
    let text3 = "Lampu dewan Kenanga rosak juga";
    let msg = post_and_read(&c, &s, &manager, "wamid.sv3", 120, text3, 3).await;
    assert_eq!(
        msg["classification"]["location"]["block"], "Kenanga",
        "{msg}"
    );
    assert_eq!(metric(&c, &s, "tapak_classifier_sites_cached").await, 1);
    // Settings of the wrong shape are refused where they enter, naming the field, and nothing changes.
    for (bad, field) in [
        (json!({"blocks": ["Cempaka", 7]}), "settings.blocks"),
        (
            json!({"area_aliases": [["dewan"]]}),
            "settings.area_aliases",
        ),
        (json!({"require_proof": "yes"}), "settings.require_proof"),
    ] {
        let body = json!({"settings": bad});
        let (st, e) = send_json(&c, reqwest::Method::PATCH, &url, &manager, &body).await;
        assert_eq!(st, 400, "{e}");
        let m = e["error"]["message"].as_str().unwrap_or_default();
        assert!(m.starts_with(field), "{m}");
        let body = json!({"name": "Another", "settings": bad});
        let (st, _) = send_json(
            &c,
            reqwest::Method::POST,
            &s.u("/api/v1/sites"),
            &manager,
            &body,
        )
        .await;
        assert_eq!(st, 400);
    }
    let (_, sites) = get_json(&c, &s.u("/api/v1/sites"), &manager).await;
    assert_eq!(sites["items"].as_array().map(Vec::len), Some(1), "{sites}");
    assert_eq!(
        sites["items"][0]["settings"]["blocks"],
        json!(["Cempaka", "Melur", "Kenanga"])
    );
    // Without the site's vocabulary the same words give no block/area.
    let out = std::process::Command::new(bin())
        .args(["--data", s.data.join("x").to_str().unwrap(), "classify"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = out;
    use std::io::Write;
    out.stdin
        .take()
        .unwrap()
        .write_all(format!("{{\"id\":1,\"text\":\"{text}\"}}\n").as_bytes())
        .unwrap();
    let o = out.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["location"],
        json!({}),
        "the bundled vocabulary alone does not know these names: {v}"
    );
}

#[tokio::test]
async fn a_resent_photo_is_flagged_as_a_duplicate() {
    let original = tapak::demo::demo_photo(5);
    // The same picture, resized to half and re-compressed hard (what a forward or a re-send does).
    let resent = {
        let img = image::load_from_memory(&original).unwrap().resize(
            320,
            240,
            image::imageops::FilterType::Triangle,
        );
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 40)
            .encode_image(&img.to_rgb8())
            .unwrap();
        out
    };
    let other = jpeg(1200, 900, 11);
    let graph = FakeGraph::start(vec![("p1", original), ("p2", resent), ("p3", other)], 0).await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("manager");
    for (i, mid) in ["p1", "p2", "p3"].iter().enumerate() {
        let m = cloud_group_msg(
            &format!("wamid.dup{i}"),
            "60123456701",
            "Aminah",
            T0 + i as i64 * 86_400,
            Some("Siap mop lobi blok A"),
            Some(mid),
            None,
        );
        assert_eq!(post_cloud(&c, &s, &m).await.status(), 200);
    }
    let evs = eventually(60, "three photos stored", || {
        let (c, s_url, t) = (c.clone(), s.u("/api/v1/messages?limit=10"), token.clone());
        let base = s.url.clone();
        async move {
            let (_, page) = get_json(&c, &s_url, &t).await;
            let mut evs = vec![];
            for m in page["items"].as_array()?.iter().rev() {
                let id = m["media"][0].as_i64()?;
                let (_, e) = get_json(&c, &format!("{base}/api/v1/evidence/{id}"), &t).await;
                if e["status"] != "ready" {
                    return None;
                }
                evs.push(e);
            }
            (evs.len() == 3).then_some(evs)
        }
    })
    .await;
    assert!(evs[0]["duplicate_of"].is_null());
    assert_eq!(
        evs[1]["duplicate_of"], evs[0]["id"],
        "resized and re-compressed copy is the same picture"
    );
    assert!(
        evs[2]["duplicate_of"].is_null(),
        "a different photo is not a duplicate"
    );
}

/// A site's classifier (its own lexicon) is built when its chats talk and given back when the appliance is idle.
#[tokio::test]
async fn site_classifiers_are_released_when_idle() {
    let (s, c, manager) = quickly_idle_server();
    let first = post_and_read(&c, &s, &manager, "wamid.sc1", 0, "Selamat pagi semua", 1).await;
    let settings = json!({"blocks": ["Melur"]});
    site_with_chat(
        &c,
        &s,
        &manager,
        "Taman Melur",
        settings,
        &first["chat"]["id"],
    )
    .await;
    let msg = post_and_read(&c, &s, &manager, "wamid.sc2", 60, "Lampu Melur rosak", 2).await;
    assert_eq!(msg["classification"]["location"]["block"], "Melur", "{msg}");
    assert_eq!(metric(&c, &s, "tapak_classifier_sites_cached").await, 1);
    eventually(20, "site classifier released", || {
        let (c, s) = (c.clone(), &s);
        async move { (metric(&c, s, "tapak_classifier_sites_cached").await == 0).then_some(()) }
    })
    .await;
    // Rebuilt on demand: the vocabulary still works after the release.
    let msg = post_and_read(&c, &s, &manager, "wamid.sc3", 120, "Paip Melur bocor", 3).await;
    assert_eq!(msg["classification"]["location"]["block"], "Melur", "{msg}");
}

/// "Overdue now" (open, past a deadline) and "was late once" (resolved after its deadline) are different lists, and
/// the dashboard's tiles count exactly what their lists hold. Before `overdue` existed the dashboard's "Overdue" tile
/// (open and past a deadline) opened `breached=true`, which also lists tickets resolved late: 1 on the tile, 2 listed.
#[tokio::test]
async fn overdue_now_and_late_once_are_separate_lists_that_match_the_dashboard() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let manager = s.token("manager");
    // Every ticket: answer within 5 minutes, resolve within an hour, around the clock.
    let (_, mut pol) = get_json(&c, &s.u("/api/v1/settings/sla"), &manager).await;
    pol["rules"] = json!([]);
    pol["business_hours"] = Value::Null;
    pol["default"] =
        json!({"respond_within_mins": 5, "resolve_within_mins": 60, "around_the_clock": true});
    let r = c
        .put(s.u("/api/v1/settings/sla"))
        .bearer_auth(&manager)
        .json(&pol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let msgs = [
        cloud_group_msg(
            "wamid.o1",
            "60167654302",
            "Rajesh",
            T0,
            Some("Water pump failure at pump room Block A"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.o2",
            "60167654302",
            "Rajesh",
            T0 + 3 * 3600,
            Some("Pump repaired, running normal"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.o3",
            "60167654302",
            "Rajesh",
            T0 + 2 * 86_400,
            Some("Lift B stuck at level 5, no one inside"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &manager, 3).await;
    let ids = |v: &Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    let (_, all) = get_json(&c, &s.u("/api/v1/issues"), &manager).await;
    assert_eq!(ids(&all).len(), 2, "{all}");
    let (lift, pump) = (ids(&all)[0], ids(&all)[1]);
    let (_, breached) = get_json(&c, &s.u("/api/v1/issues?breached=true"), &manager).await;
    assert_eq!(ids(&breached), vec![lift, pump], "both were late");
    let (_, overdue) = get_json(&c, &s.u("/api/v1/issues?overdue=true"), &manager).await;
    assert_eq!(
        ids(&overdue),
        vec![lift],
        "only the open one is overdue now"
    );
    let (_, late_once) = get_json(
        &c,
        &s.u("/api/v1/issues?breached=true&overdue=false"),
        &manager,
    )
    .await;
    assert_eq!(
        ids(&late_once),
        vec![pump],
        "the resolved one was late once"
    );
    let (_, open) = get_json(&c, &s.u("/api/v1/issues?open=true"), &manager).await;
    let (_, dash) = get_json(&c, &s.u("/api/v1/dashboard"), &manager).await;
    assert_eq!(dash["overdue_issues"], json!(ids(&overdue).len()), "{dash}");
    assert_eq!(dash["open_issues"], json!(ids(&open).len()), "{dash}");
}

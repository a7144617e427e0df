//! Manager corrections over real HTTP: one write transaction each, a side-effect list in the response (and the event
//! log), a dry run that returns the same list without writing, and nothing half-applied when a correction fails.

mod common;

use common::*;
use serde_json::{json, Value};

const T0: i64 = 1_772_414_132; // 2026-03-02 09:15:32 +08:00

async fn messages(c: &reqwest::Client, s: &Server, token: &str) -> Vec<Value> {
    let (_, v) = get_json(c, &s.u("/api/v1/messages?limit=500"), token).await;
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn wait_processed(c: &reqwest::Client, s: &Server, token: &str, n: usize) {
    eventually(30, "messages processed", || {
        let (c, t) = (c.clone(), token.to_string());
        async move {
            let items = messages(&c, s, &t).await;
            let done = items.iter().filter(|m| !m["kind"].is_null()).count();
            (items.len() >= n && done == items.len()).then_some(())
        }
    })
    .await;
}

async fn post_ok(c: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    let r = c
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

fn by_source<'a>(items: &'a [Value], text: &str, sender: &str) -> &'a Value {
    items
        .iter()
        .find(|m| m["text"] == text && m["sender"]["phone"] == sender)
        .unwrap_or_else(|| panic!("no message {text:?} from {sender}"))
}

async fn count(c: &reqwest::Client, s: &Server, token: &str, what: &str) -> usize {
    let (st, v) = get_json(c, &s.u(&format!("/api/v1/{what}?limit=200")), token).await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().map_or(0, Vec::len)
}

/// Three messages: a pool report (a task entry), a lift fault (a ticket), and days later the same pool words from
/// someone else (another task entry).
async fn pool_chat(c: &reqwest::Client, s: &Server, token: &str) -> (i64, i64, i64) {
    let msgs = [
        cloud_group_msg(
            "wamid.c1",
            "60123456701",
            "Aminah",
            T0,
            Some("Kolam warna hijau"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.c2",
            "60167654302",
            "Rajesh",
            T0 + 600,
            Some("Lift B stuck at level 5, no one inside"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.c3",
            "60133334405",
            "Siti",
            T0 + 3 * 86_400,
            Some("Kolam warna hijau"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(c, s, m).await.status(), 200);
    }
    wait_processed(c, s, token, msgs.len()).await;
    let items = messages(c, s, token).await;
    let first = by_source(&items, "Kolam warna hijau", "60123456701");
    let lift = by_source(
        &items,
        "Lift B stuck at level 5, no one inside",
        "60167654302",
    );
    let again = by_source(&items, "Kolam warna hijau", "60133334405");
    assert_ne!(first["kind"], "issue_report", "{first}");
    assert_eq!(lift["record"]["type"], "issue", "{lift}");
    (
        first["id"].as_i64().unwrap(),
        lift["record"]["id"].as_i64().unwrap(),
        again["id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_reclassification_changes_only_its_message_and_its_preview_lists_the_same_side_effects() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("manager");
    let (first, lift, again) = pool_chat(&c, &s, &token).await;
    let again_before = get_json(&c, &s.u(&format!("/api/v1/messages/{again}")), &token)
        .await
        .1;
    let (issues_before, tasks_before) = (
        count(&c, &s, &token, "issues").await,
        count(&c, &s, &token, "tasks").await,
    );
    let body = json!({"kind": "issue_report", "category": "cleaning", "location": {"area": "pool"},
        "priority": "low", "reason": "a green pool is a cleaning fault"});
    let url = s.u(&format!("/api/v1/messages/{first}/classification"));

    // The dry run answers what would change and writes nothing.
    let preview = post_ok(&c, &format!("{url}?dry_run=true"), &token, &body).await;
    assert_eq!(preview["dry_run"], true, "{preview}");
    assert_eq!(preview["kind"], "issue_report", "{preview}");
    let effects = preview["side_effects"].as_array().expect("side_effects");
    assert!(
        effects
            .iter()
            .any(|e| e["kind"] == "ticket_opened" && e["ticket"] == first),
        "the reclassified message opens its own ticket: {preview}"
    );
    let (_, unchanged) = get_json(&c, &s.u(&format!("/api/v1/messages/{first}")), &token).await;
    assert_ne!(
        unchanged["kind"], "issue_report",
        "a dry run wrote: {unchanged}"
    );
    assert_eq!(count(&c, &s, &token, "issues").await, issues_before);
    assert_eq!(count(&c, &s, &token, "tasks").await, tasks_before);

    // Applied: the same list, and only this message changed.
    let applied = post_ok(&c, &url, &token, &body).await;
    assert_eq!(applied["dry_run"], false, "{applied}");
    assert_eq!(
        applied["side_effects"], preview["side_effects"],
        "the preview's list is the applied list"
    );
    assert_eq!(applied["kind"], "issue_report");
    assert_eq!(applied["record"]["type"], "issue");
    assert_eq!(applied["record"]["id"], first);
    let (_, again_after) = get_json(&c, &s.u(&format!("/api/v1/messages/{again}")), &token).await;
    // The same words from someone else are not re-classified as a fault of their own; the linker may read them as a
    // follow-up of the new ticket, and then the move is listed.
    assert_ne!(again_after["kind"], "issue_report", "{again_after}");
    if again_after["record"] != again_before["record"] {
        assert!(
            applied["side_effects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "message_moved"
                    && e["message"] == again
                    && e["to"] == again_after["record"]),
            "{applied}"
        );
    }
    // One ticket more (the reclassified message's own), no duplicate for the later pool message.
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues?limit=50"), &token).await;
    let mut ids: Vec<i64> = issues["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![first, lift];
    want.sort_unstable();
    assert_eq!(ids, want, "{issues}");
    assert_eq!(issues_before, 1);

    // The event log carries the same side effects.
    let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
    let data: String = db
        .query_row(
            "SELECT data FROM events WHERE action = 'message.reclassified' ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["side_effects"], applied["side_effects"], "{data}");
}

#[tokio::test]
async fn a_failing_correction_leaves_nothing_half_applied() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("manager");
    let (first, _, _) = pool_chat(&c, &s, &token).await;
    let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
    let counts = |db: &rusqlite::Connection| -> (i64, i64, i64) {
        db.query_row(
            "SELECT (SELECT count(*) FROM corrections), (SELECT count(*) FROM events), (SELECT count(*) FROM issues)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    let before = counts(&db);
    // Storing the corrected classification on the message fails (a real SQLite error inside the correction).
    db.execute_batch(
        "CREATE TRIGGER refuse_reclassification BEFORE UPDATE OF classification ON messages \
         WHEN NEW.kind = 'issue_report' AND OLD.kind IS NOT 'issue_report' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    let url = s.u(&format!("/api/v1/messages/{first}/classification"));
    let body = json!({"kind": "issue_report", "category": "cleaning", "reason": "test"});
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500, "{}", r.text().await.unwrap());
    assert_eq!(
        counts(&db),
        before,
        "no correction, event or ticket of the failed correction was kept"
    );
    let (_, m) = get_json(&c, &s.u(&format!("/api/v1/messages/{first}")), &token).await;
    assert_ne!(m["kind"], "issue_report", "{m}");
    assert!(m["record"]["type"] != "issue", "{m}");
    // The writer goes on: once the trigger is gone the same correction applies.
    db.execute_batch("DROP TRIGGER refuse_reclassification")
        .unwrap();
    post_ok(&c, &url, &token, &body).await;
}

//! The corpus chat exports, imported with `tapak import` and read back over the API, scored against what their
//! `.expected.json` describes: tickets detected, follow-ups and resolutions linked to the right ticket, final status,
//! `repeat_of` and evidence per record, with the real classifier, end to end.
//!
//! Out of sample: none of these chats' messages is in the classifier's training assets (`assets/classifier/`), so the
//! scores are what a new site's chat would get. `no_chat_message_is_in_the_classifier_training_data` checks that. The table
//! is printed (`cargo test --test corpus_chats -- --nocapture`); the floors are today's level, not the target.
//!
//! The six corpus chats were read while tuning the linker (issue 17), so their linking scores are in-sample;
//! `heldout-sri-orkid` (written for tapak before any linker tuning, never tuned on) is held out: its row is marked and
//! its differences are never printed.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

const CHATS: [&str; 6] = [
    "dev-condo-cleaning",
    "dev-security-maintenance",
    "dev-apartment-security",
    "dev-condo-cleaning-2",
    "dev-office-tower-mne",
    "dev-township-landscape",
];

/// Written for tapak before the linker was tuned (issue 17) and never tuned on: its scores are the held-out ones.
const HELD_OUT: [&str; 1] = ["heldout-sri-orkid"];

struct Outcome {
    issues: Vec<Value>,
    tasks: Vec<Value>,
}

async fn import_and_read(name: &str) -> (Server, Outcome, Value) {
    let mut s = Server::start("");
    s.stop();
    let path = fixture(&format!("records/{name}.txt"));
    let out = s.cli(&["import", "--json", path.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.spawn(&[]);
    let token = s.token("inspector");
    let c = client();
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues?limit=500"), &token).await;
    let mut detailed = vec![];
    for i in issues["items"].as_array().unwrap() {
        let (_, d) = get_json(&c, &s.u(&format!("/api/v1/issues/{}", i["id"])), &token).await;
        detailed.push(d);
    }
    let (_, tasks) = get_json(&c, &s.u("/api/v1/tasks?limit=500"), &token).await;
    let expected: Value =
        serde_json::from_slice(&read_fixture(&format!("records/{name}.expected.json"))).unwrap();
    (
        s,
        Outcome {
            issues: detailed,
            tasks: tasks["items"].as_array().unwrap().clone(),
        },
        expected,
    )
}

fn text_of(v: &Value) -> String {
    v.as_str().unwrap_or("").trim().to_string()
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// `ok` of `total`.
#[derive(Default, Clone, Copy)]
struct Ratio {
    ok: usize,
    total: usize,
}

impl Ratio {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += usize::from(ok);
    }
    /// 1.0 when there is nothing to get right.
    fn value(self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.ok as f64 / self.total as f64
        }
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} ({:>2}/{:<2})", self.value(), self.ok, self.total)
    }
}

/// One chat's scores, as issue 17 measures them.
#[derive(Default)]
struct ChatScore {
    /// Expected tickets found (by their opening message), tickets we opened that are not expected, expected ones missed.
    tickets_tp: usize,
    tickets_fp: usize,
    tickets_fn: usize,
    /// Expected updates/resolutions found in the right ticket's timeline, and expected-unlinked ones left unlinked.
    links: Ratio,
    final_status: Ratio,
    /// Tickets where the expected or our `repeat_of` is set: both agree.
    repeat_of: Ratio,
    /// Media files in the record the expected file names (or in none when it names none), with the same role.
    evidence: Ratio,
    /// Task entries found by their opening text with the expected final status.
    tasks: Ratio,
    failures: Vec<String>,
}

impl ChatScore {
    fn tickets_f1(&self) -> f64 {
        let d = 2 * self.tickets_tp + self.tickets_fp + self.tickets_fn;
        if d == 0 {
            1.0
        } else {
            2.0 * self.tickets_tp as f64 / d as f64
        }
    }
}

/// Where each media file ended up: `("issue" | "task", record id, role)`.
fn media_places(o: &Outcome) -> BTreeMap<String, (&'static str, Value, String)> {
    let mut at = BTreeMap::new();
    for (what, records) in [("issue", &o.issues), ("task", &o.tasks)] {
        for r in records {
            for e in arr(&r["evidence"]) {
                if let Some(f) = e["filename"].as_str() {
                    let role = e["role"].as_str().unwrap_or("evidence").to_string();
                    at.insert(f.to_string(), (what, r["id"].clone(), role));
                }
            }
        }
    }
    at
}

fn score(o: &Outcome, exp: &Value) -> ChatScore {
    let mut s = ChatScore::default();
    let exp_issues = arr(&exp["issues"]);
    // Expected ids (I1…) → our tickets, through the opening message's text.
    let mut by_exp: BTreeMap<&str, &Value> = BTreeMap::new();
    for e in exp_issues {
        let id = e["id"].as_str().unwrap_or("");
        match o
            .issues
            .iter()
            .find(|i| text_of(&i["timeline"][0]["text"]) == text_of(&e["text"]))
        {
            Some(t) => {
                by_exp.insert(id, t);
            }
            None => s
                .failures
                .push(format!("{id}: no ticket opened by {:?}", e["text"])),
        }
    }
    s.tickets_tp = by_exp.len();
    s.tickets_fn = exp_issues.len() - by_exp.len();
    let matched: Vec<&Value> = by_exp.values().map(|t| &t["id"]).collect();
    for t in &o.issues {
        if !matched.contains(&&t["id"]) {
            s.tickets_fp += 1;
            s.failures.push(format!(
                "extra ticket opened by {:?}",
                t["timeline"][0]["text"]
            ));
        }
    }
    let timeline = |t: &Value| -> BTreeSet<String> {
        arr(&t["timeline"])
            .iter()
            .map(|m| text_of(&m["text"]))
            .collect()
    };
    for e in exp_issues {
        let id = e["id"].as_str().unwrap_or("");
        let ours = by_exp.get(id).copied();
        let tl = ours.map(timeline).unwrap_or_default();
        let follow_ups = arr(&e["updates"])
            .iter()
            .chain(e["resolved_by"].as_object().map(|_| &e["resolved_by"]));
        for u in follow_ups {
            let ok = tl.contains(&text_of(&u["text"]));
            s.links.add(ok);
            if !ok {
                s.failures
                    .push(format!("{id}: {:?} not linked to it", u["text"]));
            }
        }
        let resolved =
            ours.is_some_and(|t| matches!(t["status"].as_str(), Some("resolved" | "closed")));
        let ok = ours.is_some() && resolved == (e["final_status"] == "resolved");
        s.final_status.add(ok);
        if !ok {
            s.failures.push(format!(
                "{id}: final status {} (expected {})",
                ours.map_or(&Value::Null, |t| &t["status"]),
                e["final_status"]
            ));
        }
        let want = e["repeat_of"]
            .as_str()
            .map(|r| by_exp.get(r).map_or(Value::Null, |t| t["id"].clone()));
        let got = ours
            .map(|t| t["repeat_of"].clone())
            .filter(|v| !v.is_null());
        if want.is_some() || got.is_some() {
            let ok = want.is_some() && want == got;
            s.repeat_of.add(ok);
            if !ok {
                s.failures.push(format!(
                    "{id}: repeat_of {got:?} (expected {:?})",
                    e["repeat_of"]
                ));
            }
        }
    }
    let linked: BTreeSet<String> = o.issues.iter().flat_map(timeline).collect();
    for u in arr(&exp["unlinked_issue_messages"]) {
        let ok = !linked.contains(&text_of(&u["text"]));
        s.links.add(ok);
        if !ok {
            s.failures
                .push(format!("{:?} must stay unlinked", u["text"]));
        }
    }
    // Task entries, found by their opening text.
    let mut task_by_exp: BTreeMap<&str, &Value> = BTreeMap::new();
    for e in arr(&exp["task_entries"]) {
        let id = e["id"].as_str().unwrap_or("");
        let t = o
            .tasks
            .iter()
            .find(|t| text_of(&t["text"]) == text_of(&e["opened"]["text"]));
        if let Some(t) = t {
            task_by_exp.insert(id, t);
        }
        let ok = t.is_some_and(|t| t["status"] == e["final_status"]);
        s.tasks.add(ok);
        if !ok {
            s.failures.push(format!(
                "{id}: task entry {:?} {}",
                e["opened"]["text"],
                t.map_or("missing".to_string(), |t| format!("status {}", t["status"]))
            ));
        }
    }
    // Evidence: each media file in the expected record with the expected role.
    let places = media_places(o);
    if let Some(links) = exp["media_links"].as_object() {
        for (file, l) in links {
            let want = match l["record"].as_str() {
                Some("issue") => by_exp
                    .get(l["id"].as_str().unwrap_or(""))
                    .map(|t| ("issue", t["id"].clone(), text_of(&l["role"]))),
                Some("task") => task_by_exp
                    .get(l["id"].as_str().unwrap_or(""))
                    .map(|t| ("task", t["id"].clone(), text_of(&l["role"]))),
                _ => None,
            };
            let got = places.get(file).cloned();
            let ok = match (&want, &got) {
                (None, None) => l["record"].is_null(),
                (Some(w), Some(g)) => w == g,
                _ => false,
            };
            s.evidence.add(ok);
            if !ok {
                s.failures.push(format!(
                    "{file}: in {:?} (expected {} {})",
                    got.map(|g| (g.0, g.1, g.2)),
                    l["record"],
                    l["id"]
                ));
            }
        }
    }
    s
}

/// Today's level for one chat; a regression below it fails. Not the target (issue 17 asks for ≥ 0.92 tickets F1,
/// ≥ 0.85 links, ≥ 0.90 final status, ≥ 0.80 repeat_of, ≥ 0.90 evidence). The evidence floors sit one file below
/// the lowest level seen: end to end, which record a media file joins varies between runs (for example
/// IMG-20261217-WA0005.jpg, PTT-20261218-WA0003.opus, 00000124-PHOTO-…), although the records engine replaying the
/// same chats is deterministic (`records::corpus_tests::newer_chats_match_expected_with_their_labels`). Under load it
/// varies more: dev-condo-cleaning-2 scored 16/25 end to end on a loaded machine where the same classifications give
/// 20/25 in process (`records::linker_tests`), so the evidence floors sit below both.
struct Floor {
    tickets_f1: f64,
    links: f64,
    final_status: f64,
    repeat_of: f64,
    evidence: f64,
    tasks: f64,
}

fn floor(name: &str) -> Floor {
    let f = |tickets_f1, links, final_status, repeat_of, evidence, tasks| Floor {
        tickets_f1,
        links,
        final_status,
        repeat_of,
        evidence,
        tasks,
    };
    match name {
        "dev-condo-cleaning" => f(1.00, 0.85, 1.00, 1.00, 0.80, 0.86),
        "dev-security-maintenance" => f(0.92, 0.93, 1.00, 1.00, 0.85, 1.00),
        "dev-apartment-security" => f(0.85, 0.70, 0.71, 1.00, 0.73, 1.00),
        "dev-condo-cleaning-2" => f(0.83, 0.90, 0.66, 0.00, 0.60, 0.93),
        "dev-office-tower-mne" => f(0.85, 0.92, 0.71, 0.00, 0.60, 0.57),
        "dev-township-landscape" => f(0.88, 0.65, 0.75, 1.00, 0.74, 0.81),
        "heldout-sri-orkid" => f(0.90, 0.80, 0.66, 0.00, 0.60, 1.00),
        _ => f(1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    }
}

#[tokio::test]
async fn corpus_chats_score_at_least_todays_level_out_of_sample() {
    let mut table = String::from(
        "chat                                | tickets F1 (tp/fp/fn) | follow-ups linked | final status  | repeat_of     | evidence      | task entries\n",
    );
    let mut regressions = vec![];
    let mut details = String::new();
    let mut read_in_context = 0;
    for name in CHATS.iter().chain(&HELD_OUT) {
        let (_s, o, exp) = import_and_read(name).await;
        let sc = score(&o, &exp);
        // Messages the linker read as follow-ups show their new kind and why in the ticket's timeline.
        for t in &o.issues {
            for m in arr(&t["timeline"]) {
                let reason = m["link_reason"].as_str().unwrap_or("");
                if reason.contains("read as issue_") {
                    read_in_context += 1;
                    assert!(
                        reason.contains(&format!("read as {}", text_of(&m["kind"]))),
                        "{name}: {m}"
                    );
                }
            }
        }
        let label = if HELD_OUT.contains(name) {
            format!("{name} (held out)")
        } else {
            name.to_string()
        };
        table.push_str(&format!(
            "{label:<35} | {:.2} ({:>2}/{}/{})        | {}     | {} | {} | {} | {}\n",
            sc.tickets_f1(),
            sc.tickets_tp,
            sc.tickets_fp,
            sc.tickets_fn,
            sc.links,
            sc.final_status,
            sc.repeat_of,
            sc.evidence,
            sc.tasks
        ));
        // The held-out chat's differences are not printed: they must not steer tuning.
        if !HELD_OUT.contains(name) {
            for f in &sc.failures {
                details.push_str(&format!("  {name}: {f}\n"));
            }
        }
        let fl = floor(name);
        for (what, got, min) in [
            ("tickets F1", sc.tickets_f1(), fl.tickets_f1),
            ("follow-ups linked", sc.links.value(), fl.links),
            ("final status", sc.final_status.value(), fl.final_status),
            ("repeat_of", sc.repeat_of.value(), fl.repeat_of),
            ("evidence", sc.evidence.value(), fl.evidence),
            ("task entries", sc.tasks.value(), fl.tasks),
        ] {
            if got + 1e-9 < min {
                regressions.push(format!("{name}: {what} {got:.2} < floor {min:.2}"));
            }
        }
    }
    println!("{table}\nwhat differs from the expected outcome:\n{details}");
    assert!(
        read_in_context > 0,
        "some follow-ups are read in context and say so in their link reason"
    );
    assert!(
        regressions.is_empty(),
        "below today's level:\n{}\n{table}\n{details}",
        regressions.join("\n")
    );
}

#[test]
fn no_chat_message_is_in_the_classifier_training_data() {
    let norm = |t: &str| t.trim().to_lowercase();
    let trained: BTreeSet<String> = tapak::classify::bundled_training_data(&[])
        .expect("bundled training data parses")
        .iter()
        .map(|t| norm(&t.text))
        .collect();
    let mut classified = 0;
    for name in CHATS.iter().chain(&HELD_OUT) {
        let exp: Value =
            serde_json::from_slice(&read_fixture(&format!("records/{name}.expected.json")))
                .unwrap();
        for m in arr(&exp["messages"])
            .iter()
            .filter(|m| m["kind"].is_string())
        {
            classified += 1;
            let t = m["text"].as_str().unwrap_or("");
            // A bare "👍" or "ok" is every chat's; only messages with words of their own must be unseen.
            if t.split_whitespace().count() < 3 {
                continue;
            }
            assert!(
                !trained.contains(&norm(t)),
                "{name} line {}: {t:?} is in the training data",
                m["line"]
            );
        }
    }
    assert!(classified > 300, "{classified} classified chat messages");
}

#[tokio::test]
async fn reimport_yields_the_same_records() {
    let (s, before, _) = import_and_read("dev-security-maintenance").await;
    let mut s = s;
    s.stop();
    let path = fixture("records/dev-security-maintenance.txt");
    let out = s.cli(&["import", "--json", path.to_str().unwrap()], None);
    assert!(out.status.success());
    let summary: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(summary["new"], 0);
    assert_foreign_keys_hold(&s.data.join("tapak.db"));
    s.spawn(&[]);
    let token = s.token("viewer");
    let (_, issues) = get_json(&client(), &s.u("/api/v1/issues?limit=500"), &token).await;
    let ids: Vec<&Value> = issues["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    let before_ids: Vec<&Value> = before.issues.iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, before_ids);
}

//! The corpus chat exports, imported with `tapak import` and read back over the API, produce what their
//! `.expected.json` describes: tickets, final status, which messages link where, evidence per record, repeat links and
//! task entries — with the real classifier, end to end.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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
    let summary: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
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
    let _ = summary;
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

fn files(evidence: &Value, role: Option<&str>) -> BTreeSet<String> {
    evidence
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| role.is_none_or(|r| e["role"] == r))
        .filter_map(|e| e["filename"].as_str().map(str::to_string))
        .collect()
}

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn check(name: &str, o: &Outcome, exp: &Value) {
    let exp_issues = exp["issues"].as_array().unwrap();
    assert_eq!(
        o.issues.len(),
        exp_issues.len(),
        "{name}: number of tickets"
    );
    // Map expected ids (I1…) to our tickets through the opening message text.
    let mut by_exp: BTreeMap<String, &Value> = BTreeMap::new();
    for e in exp_issues {
        let t = o
            .issues
            .iter()
            .find(|i| text_of(&i["timeline"][0]["text"]) == text_of(&e["text"]))
            .unwrap_or_else(|| panic!("{name}: no ticket opened by {:?}", e["text"]));
        by_exp.insert(e["id"].as_str().unwrap().to_string(), t);
    }
    for e in exp_issues {
        let id = e["id"].as_str().unwrap();
        let t = by_exp[id];
        let ctx = format!("{name} {id} {:?}", e["text"]);
        assert_eq!(t["category"], e["category"], "{ctx}: category");
        assert_eq!(t["location"], e["location"], "{ctx}: location");
        let resolved = matches!(t["status"].as_str(), Some("resolved") | Some("closed"));
        assert_eq!(
            resolved,
            e["final_status"] == "resolved",
            "{ctx}: final status {}",
            t["status"]
        );
        match e["repeat_of"].as_str() {
            Some(r) => assert_eq!(t["repeat_of"], by_exp[r]["id"], "{ctx}: repeat_of"),
            None => assert!(t["repeat_of"].is_null(), "{ctx}: repeat_of"),
        }
        let timeline: BTreeSet<String> = t["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| text_of(&m["text"]))
            .collect();
        for u in e["updates"].as_array().unwrap() {
            assert!(
                timeline.contains(&text_of(&u["text"])),
                "{ctx}: update {:?} linked",
                u["text"]
            );
        }
        if let Some(r) = e["resolved_by"].as_object() {
            assert!(
                timeline.contains(&text_of(&r["text"])),
                "{ctx}: resolution {:?} linked",
                r["text"]
            );
        }
        assert_eq!(
            files(&t["evidence"], None),
            set(&e["evidence_media"]),
            "{ctx}: evidence"
        );
        assert_eq!(
            files(&t["evidence"], Some("resolution_proof")),
            set(&e["resolution_proof"]),
            "{ctx}: resolution proof"
        );
    }
    // Task entries by status, each with its evidence.
    let exp_tasks = exp["task_entries"].as_array().unwrap();
    assert_eq!(
        o.tasks.len(),
        exp_tasks.len(),
        "{name}: number of task entries"
    );
    for e in exp_tasks {
        let t = o
            .tasks
            .iter()
            .find(|t| text_of(&t["text"]) == text_of(&e["opened"]["text"]))
            .unwrap_or_else(|| panic!("{name}: no task entry opened by {:?}", e["opened"]["text"]));
        assert_eq!(
            t["status"], e["final_status"],
            "{name} {}: task status",
            e["id"]
        );
        assert_eq!(
            files(&t["evidence"], None),
            set(&e["evidence"]),
            "{name} {}: task evidence",
            e["id"]
        );
    }
    // Unlinked updates stay unlinked.
    let linked: BTreeSet<String> = o
        .issues
        .iter()
        .flat_map(|i| {
            i["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| text_of(&m["text"]))
        })
        .collect();
    for u in exp["unlinked_issue_messages"].as_array().unwrap() {
        assert!(
            !linked.contains(&text_of(&u["text"])),
            "{name}: {:?} must stay unlinked",
            u["text"]
        );
    }
}

#[tokio::test]
async fn condo_cleaning_chat() {
    let (_s, o, exp) = import_and_read("dev-condo-cleaning").await;
    check("dev-condo-cleaning", &o, &exp);
}

#[tokio::test]
async fn security_maintenance_chat() {
    let (_s, o, exp) = import_and_read("dev-security-maintenance").await;
    check("dev-security-maintenance", &o, &exp);
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

//! What the Issues screens ask of the API, over real HTTP: filters by owner, vendor, location and text, sorting,
//! totals that equal the list, the filtered list as CSV and XLSX, one plain-language history per ticket, and photos
//! that say when and by whom they were sent. Task filters by block, schedule and photo.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use common::*;
use serde_json::{json, Value};

const T0: i64 = 1_772_414_132; // 2026-03-02 09:15:32 +08:00

fn ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect()
}

async fn list(c: &reqwest::Client, s: &Server, token: &str, q: &str) -> Value {
    let (st, v) = get_json(c, &s.u(&format!("/api/v1/issues?limit=500&{q}")), token).await;
    assert_eq!(st, 200, "{q}: {v}");
    v
}

async fn post(c: &reqwest::Client, s: &Server, token: &str, path: &str, body: Value) -> Value {
    let r = c
        .post(s.u(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(st == 200 || st == 201, "{path}: {st} {v}");
    v
}

#[tokio::test]
async fn the_issue_list_filters_sorts_counts_and_downloads_what_it_shows() {
    let photo = jpeg(640, 480, 9);
    let graph = FakeGraph::start(vec![("m-lift", photo)], 0).await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let manager = s.token("manager");
    let msgs = [
        cloud_group_msg(
            "wamid.i1",
            "60167654302",
            "Rajesh",
            T0,
            Some("Lift B stuck at level 5, no one inside"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.i2",
            "60167654302",
            "Rajesh",
            T0 + 30,
            None,
            Some("m-lift"),
            None,
        ),
        cloud_group_msg(
            "wamid.i3",
            "60124445566",
            "Ahmad Technician",
            T0 + 600,
            Some("Lift tech otw, ETA 30 min"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.i4",
            "60123456701",
            "Aminah",
            T0 + 3600,
            Some("Water pump failure at pump room Block A"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.i5",
            "60123456701",
            "Aminah",
            T0 + 7200,
            Some("Aircon not cold in the gym, Block C"),
            None,
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &manager, msgs.len()).await;
    let all = list(&c, &s, &manager, "").await;
    let items = all["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "three tickets: {all}");
    let find = |word: &str| -> i64 {
        items
            .iter()
            .find(|i| i["title"].as_str().unwrap_or("").contains(word))
            .and_then(|i| i["id"].as_i64())
            .unwrap_or_else(|| panic!("no ticket titled with {word}: {all}"))
    };
    let (lift, pump, aircon) = (find("Lift"), find("pump"), find("Aircon"));
    assert_eq!(ids(&all), vec![aircon, pump, lift], "newest first");
    // Totals come with the first page and equal the rows.
    assert_eq!(all["totals"]["all"], 3, "{all}");
    assert_eq!(all["totals"]["open"], 3);
    assert_eq!(all["totals"]["done"], 0);

    // A vendor's technician owns the lift ticket.
    let vendor = post(
        &c,
        &s,
        &manager,
        "/api/v1/vendors",
        json!({"name": "KL Lifts", "trade": "lift"}),
    )
    .await;
    let ravi = post(
        &c,
        &s,
        &manager,
        "/api/v1/people",
        json!({"name": "Ravi", "phone": "60112223344", "vendor": vendor["id"]}),
    )
    .await;
    let ravi_id = ravi["id"].as_i64().unwrap();
    post(
        &c,
        &s,
        &manager,
        &format!("/api/v1/issues/{lift}/assign"),
        json!({"person": ravi_id, "note": "lift contractor"}),
    )
    .await;
    post(
        &c,
        &s,
        &manager,
        &format!("/api/v1/issues/{pump}/status"),
        json!({"status": "resolved", "note": "pump replaced"}),
    )
    .await;

    assert_eq!(
        ids(&list(&c, &s, &manager, &format!("owner={ravi_id}")).await),
        vec![lift]
    );
    let by_vendor = list(&c, &s, &manager, "vendor=KL%20Lifts").await;
    assert_eq!(ids(&by_vendor), vec![lift]);
    assert_eq!(by_vendor["items"][0]["owner_vendor"]["name"], "KL Lifts");
    assert_eq!(
        ids(&list(&c, &s, &manager, &format!("vendor={}", vendor["id"])).await),
        vec![lift]
    );
    assert_eq!(
        ids(&list(&c, &s, &manager, "location=Block%20C").await),
        vec![aircon]
    );
    assert_eq!(ids(&list(&c, &s, &manager, "location=b").await), vec![lift]);
    // Text finds titles and the tickets' messages ("otw" is only in the technician's update of the lift ticket).
    assert_eq!(ids(&list(&c, &s, &manager, "q=aircon").await), vec![aircon]);
    // The full-text index is filled in the background just after messages are filed: wait for it.
    eventually(30, "the update is in the full-text index", || {
        let (c, s, m) = (&c, &s, &manager);
        async move { (ids(&list(c, s, m, "q=otw").await) == vec![lift]).then_some(()) }
    })
    .await;
    assert_eq!(
        ids(&list(&c, &s, &manager, &format!("q=%23{pump}")).await),
        vec![pump]
    );
    assert_eq!(
        ids(&list(&c, &s, &manager, "q=100%25").await),
        Vec::<i64>::new()
    );
    // Unknown values are clear errors.
    for bad in ["sort=sideways", "owner=nobody", "vendor=Nope"] {
        let (st, v) = get_json(&c, &s.u(&format!("/api/v1/issues?{bad}")), &manager).await;
        assert!(st == 400 || st == 404, "{bad}: {st} {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    // Sorting, and paging through a sorted list keeps every ticket once.
    assert_eq!(
        ids(&list(&c, &s, &manager, "sort=oldest").await),
        vec![lift, pump, aircon]
    );
    let by_priority = list(&c, &s, &manager, "sort=priority").await;
    let rank = |p: &Value| match p.as_str() {
        Some("urgent") => 0,
        Some("high") => 1,
        Some("normal") => 2,
        Some("low") => 3,
        _ => 4,
    };
    let ranks: Vec<i32> = by_priority["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| rank(&i["priority"]))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{by_priority}");
    let mut paged = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(cur) => format!("sort=deadline&limit=1&cursor={cur}"),
            None => "sort=deadline&limit=1".into(),
        };
        let (_, page) = get_json(&c, &s.u(&format!("/api/v1/issues?{q}")), &manager).await;
        assert_eq!(
            page["totals"].is_null(),
            cursor.is_some(),
            "totals on the first page only"
        );
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    let mut sorted = paged.clone();
    sorted.sort();
    assert_eq!(sorted, {
        let mut v = vec![lift, pump, aircon];
        v.sort();
        v
    });
    let deadlines: Vec<String> = {
        let v = list(&c, &s, &manager, "sort=deadline").await;
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sla"]["resolve_by"].as_str().unwrap_or("~").to_string())
            .collect()
    };
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{deadlines:?}");
    // Totals follow the filters.
    let open = list(&c, &s, &manager, "open=true").await;
    assert_eq!(open["totals"]["all"], json!(ids(&open).len()));
    let everything = list(&c, &s, &manager, "").await;
    assert_eq!(everything["totals"]["open"], 2);
    assert_eq!(everything["totals"]["done"], 1);

    // The download holds exactly the filtered list, in its order.
    let q = "sort=oldest&location=b";
    let r = c
        .get(s.u(&format!("/api/v1/issues/export?format=csv&{q}")))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "UTF-8 BOM for Excel"
    );
    let mut rd = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..3], ["ID", "Title", "Status"]);
    let owner_col = header.iter().position(|h| h == "Owner").unwrap();
    let vendor_col = header.iter().position(|h| h == "Vendor").unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], lift.to_string());
    assert_eq!(&rows[0][owner_col], "Ravi");
    assert_eq!(&rows[0][vendor_col], "KL Lifts");

    let r = c
        .get(s.u("/api/v1/issues/export?format=xlsx&sort=oldest"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap().to_vec();
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("Issues").unwrap();
    let got: Vec<i64> = sheet
        .rows()
        .skip(1)
        .map(|r| match &r[0] {
            Data::Float(f) => *f as i64,
            other => panic!("ID cell {other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![lift, pump, aircon],
        "the XLSX has the list's rows"
    );
    let opened_col = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .position(|h| *h == Data::String("Opened".into()))
        .unwrap();
    assert!(
        matches!(sheet.get((1, opened_col)), Some(Data::DateTime(_))),
        "times are date cells: {:?}",
        sheet.get((1, opened_col))
    );
    let (st, v) = get_json(&c, &s.u("/api/v1/issues/export?format=pdf"), &manager).await;
    assert_eq!(st, 400, "{v}");

    // One history per ticket, in time order, in plain words.
    let (st, h) = get_json(
        &c,
        &s.u(&format!("/api/v1/issues/{lift}/timeline")),
        &manager,
    )
    .await;
    assert_eq!(st, 200, "{h}");
    let h = h["items"].as_array().unwrap().clone();
    let events: Vec<&str> = h.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events.first(), Some(&"opened"), "{h:?}");
    assert!(events.contains(&"assigned"), "{h:?}");
    let times: Vec<&str> = h.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut in_order = times.clone();
    in_order.sort();
    assert_eq!(times, in_order, "oldest first");
    assert_eq!(h[0]["summary"], "Rajesh reported the problem");
    let update = h
        .iter()
        .find(|e| e["message"]["text"] == "Lift tech otw, ETA 30 min")
        .expect("the update is in the history");
    assert_eq!(update["summary"], "Ahmad Technician reported progress");
    assert_eq!(update["status"], "in_progress");
    let assigned = h.iter().find(|e| e["event"] == "assigned").unwrap();
    assert_eq!(assigned["person"]["name"], "Ravi");
    assert_eq!(assigned["note"], "lift contractor");
    assert!(
        assigned["summary"]
            .as_str()
            .unwrap()
            .starts_with("Assigned to Ravi by "),
        "{assigned}"
    );
    let (_, ph) = get_json(
        &c,
        &s.u(&format!("/api/v1/issues/{pump}/timeline")),
        &manager,
    )
    .await;
    let resolved = ph["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "status")
        .cloned()
        .unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["note"], "pump replaced");
    assert!(resolved["summary"]
        .as_str()
        .unwrap()
        .ends_with(" resolved it"));
    let (st, _) = get_json(&c, &s.u("/api/v1/issues/999999/timeline"), &manager).await;
    assert_eq!(st, 404);

    // The photo says who sent it and when.
    let detail = issue_once_it_has_evidence(&c, &s, &manager, lift, "photo linked").await;
    assert_eq!(detail["evidence"][0]["sender"]["name"], "Rajesh");
    let sent = detail["evidence"][0]["sent_at"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(sent)
            .unwrap()
            .timestamp(),
        T0 + 30
    );
}

#[tokio::test]
async fn tasks_filter_by_block_and_photo_on_the_server() {
    let photo = jpeg(640, 480, 4);
    let graph = FakeGraph::start(vec![("m-mop", photo)], 0).await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("manager");
    let msgs = [
        cloud_group_msg(
            "wamid.t1",
            "60123456701",
            "Aminah",
            T0,
            Some("Siap mop lobi blok A ✅"),
            None,
            None,
        ),
        cloud_group_msg(
            "wamid.t2",
            "60123456702",
            "Farah",
            T0 + 900,
            Some("Done cleaning toilet block B"),
            Some("m-mop"),
            None,
        ),
    ];
    for m in &msgs {
        assert_eq!(post_cloud(&c, &s, m).await.status(), 200);
    }
    wait_processed(&c, &s, &token, msgs.len()).await;
    let tasks = |q: &'static str| {
        let (c, u, t) = (c.clone(), s.u(&format!("/api/v1/tasks?{q}")), token.clone());
        async move {
            let (st, v) = get_json(&c, &u, &t).await;
            assert_eq!(st, 200, "{q}: {v}");
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["location"]["block"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(tasks("").await.len(), 2);
    assert_eq!(tasks("block=a").await, ["A"]);
    assert_eq!(tasks("block=none").await, Vec::<String>::new());
    eventually(30, "photo linked to the task", || {
        let f = tasks("photo=yes");
        async move { (f.await == ["B"]).then_some(()) }
    })
    .await;
    assert_eq!(tasks("photo=none").await, ["A"]);
    assert_eq!(tasks("schedule=12345").await, Vec::<String>::new());
    let (st, v) = get_json(&c, &s.u("/api/v1/tasks?photo=maybe"), &token).await;
    assert_eq!(st, 400, "{v}");
}

//! Audit ZIPs end to end: exported from a running appliance (CLI and HTTP), checked offline with `tapak verify`, and
//! every kind of tampering caught and named: changed content, a forged manifest, a changed or removed event, an
//! altered or removed webhook delivery, a missing or added file, a hostile file name, a different signing key, a
//! truncated ZIP. A delivery carrying many messages is in the ZIP once.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The demo's dates are around today; the period covers the last month and tomorrow (in the appliance's zone).
fn period() -> (String, String) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Kuala_Lumpur)
        .date_naive();
    (
        (today - chrono::Duration::days(30)).to_string(),
        (today + chrono::Duration::days(1)).to_string(),
    )
}

fn read_zip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = vec![];
            f.read_to_end(&mut b).unwrap();
            (f.name().to_string(), b)
        })
        .collect()
}

fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
}

fn get<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a Vec<u8> {
    &entries.iter().find(|(n, _)| n == name).unwrap().1
}

fn set(entries: &mut [(String, Vec<u8>)], name: &str, bytes: Vec<u8>) {
    entries.iter_mut().find(|(n, _)| n == name).unwrap().1 = bytes;
}

/// Rewrites the manifest's entries for the files as they are now and signs it with `key` (what someone holding the
/// key, or their own key, could do): the checks that remain are the chain and the raw bodies.
fn reseal(entries: &mut [(String, Vec<u8>)], key: &ed25519_dalek::SigningKey) {
    let mut m: Value = serde_json::from_slice(get(entries, "manifest.json")).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        let path = f["path"].as_str().unwrap().to_string();
        if let Some((_, b)) = entries.iter().find(|(n, _)| *n == path) {
            f["sha256"] = hex::encode(Sha256::digest(b)).into();
            f["bytes"] = (b.len() as u64).into();
        }
    }
    m["public_key"] = hex::encode(key.verifying_key().as_bytes()).into();
    let json = serde_json::to_vec_pretty(&m).unwrap();
    let sig = tapak::audit::signing::sign(key, &json);
    set(entries, "manifest.json", json);
    set(entries, "manifest.sig", sig.into_bytes());
}

fn appliance_key(s: &Server) -> ed25519_dalek::SigningKey {
    let text = std::fs::read_to_string(s.data.join("audit-signing.key")).unwrap();
    let b: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
    ed25519_dalek::SigningKey::from_bytes(&b)
}

/// `tapak export audit ARGS --output ZIP`, then `tapak verify ZIP`, both succeeding; answers verify's output.
fn export_and_verify(s: &Server, zip: &Path, args: &[&str]) -> String {
    let mut a = vec!["export", "audit"];
    a.extend(args);
    a.extend(["--output", zip.to_str().unwrap()]);
    let out = s.cli(&a, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, stdout, stderr) = verify(s, zip);
    assert_eq!(code, 0, "{stdout}{stderr}");
    stdout
}

/// Runs `tapak verify` on a ZIP: exit code, stdout, stderr.
fn verify(s: &Server, zip: &Path) -> (i32, String, String) {
    let out = s.cli(&["verify", zip.to_str().unwrap()], None);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines(b: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(b)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn jsonl(v: &[Value]) -> Vec<u8> {
    v.iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

#[tokio::test]
async fn audit_zips_export_verify_and_catch_tampering() {
    let s = Server::start_demo(&default_config("http://127.0.0.1:9"));
    let c = client();
    let admin = s.token("admin");
    // A webhook message from a group that belongs to no site: in a site's export its events are redacted.
    let now = chrono::Utc::now().timestamp();
    let body = cloud_group_msg(
        "wamid.AUDIT-OTHER-1",
        "60123456799",
        "Outsider",
        now - 60,
        Some("Secret other-site note: lift B motor smells burnt"),
        None,
        None,
    );
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    eventually(20, "the webhook message is filed", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/search?q=burnt"), admin.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            (!v["items"].as_array()?.is_empty()).then_some(())
        }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let (from, to) = period();
    let all = dir.path().join("all.zip");
    let stdout = export_and_verify(&s, &all, &["--from", &from, "--to", &to]);
    assert!(stdout.starts_with("intact:"), "{stdout}");

    // The fingerprint verify prints is the appliance's, as the API shows it.
    let (st, key) = get_json(&c, &s.u("/api/v1/exports/audit/key"), &admin).await;
    assert_eq!(st, 200);
    let fp = key["fingerprint"].as_str().unwrap().to_string();
    assert!(stdout.contains(&format!("signed by key {fp}")), "{stdout}");

    // What is inside: every message of the period naming its delivery, the delivery's body verbatim, the demo's tickets
    // and photos byte-identical.
    let entries = read_zip(&all);
    let manifest: Value = serde_json::from_slice(get(&entries, "manifest.json")).unwrap();
    let msgs = lines(get(&entries, "messages.jsonl"));
    let (_, listed) = get_json(
        &c,
        &s.u(&format!("/api/v1/messages?limit=500&from={from}&to={to}")),
        &admin,
    )
    .await;
    assert_eq!(msgs.len(), listed["items"].as_array().unwrap().len());
    assert_eq!(manifest["counts"]["messages"], msgs.len());
    let webhook = msgs
        .iter()
        .find(|m| m["text"].as_str().is_some_and(|t| t.contains("burnt")))
        .expect("the webhook message is exported");
    let deliveries = lines(get(&entries, "deliveries.jsonl"));
    assert_eq!(manifest["counts"]["deliveries"], deliveries.len());
    let sha = hex::encode(Sha256::digest(&body));
    assert_eq!(webhook["delivery"], sha);
    let delivery = deliveries.iter().find(|d| d["sha256"] == sha).unwrap();
    assert_eq!(
        delivery["body"].as_str().unwrap().as_bytes(),
        &body[..],
        "the raw body is the one Meta sent, verbatim"
    );
    assert!(manifest["counts"]["issues"].as_u64().unwrap() > 0);
    assert!(manifest["counts"]["tasks"].as_u64().unwrap() > 0);
    let evidence = lines(get(&entries, "evidence.jsonl"));
    let with_file: Vec<&Value> = evidence.iter().filter(|e| e["file"].is_string()).collect();
    assert!(!with_file.is_empty(), "the demo's photos are in the ZIP");
    for e in &with_file {
        let served = c
            .get(s.u(&format!("/api/v1/evidence/{}/file", e["id"])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&served[..], &get(&entries, e["file"].as_str().unwrap())[..]);
    }
    let events = lines(get(&entries, "events.jsonl"));
    assert!(
        events.iter().all(|e| e["redacted"].is_null()),
        "an all-sites export shows every event"
    );
    assert!(events.iter().any(|e| e["action"] == "payload.received"));

    // One site: the other group's message is not there, and its events keep only their place in the chain.
    let site_zip = dir.path().join("site.zip");
    let stdout = export_and_verify(
        &s,
        &site_zip,
        &[
            "--from",
            &from,
            "--to",
            &to,
            "--site",
            "Seri Mutiara Residences",
        ],
    );
    assert!(stdout.contains("site Seri Mutiara Residences"), "{stdout}");
    let site_entries = read_zip(&site_zip);
    let everything: String = site_entries
        .iter()
        .filter(|(n, _)| n.ends_with(".jsonl"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        !everything.contains("burnt"),
        "another site's message leaked into the site's export"
    );
    let site_events = lines(get(&site_entries, "events.jsonl"));
    assert!(site_events.iter().any(|e| e["redacted"] == true));
    // The chain stays whole: the site export starts with the same events, hash for hash, then has the first export's
    // own event and whatever the appliance wrote since (the demo's scheduler may record reminder sends between the two
    // exports, depending on the time of day).
    assert!(
        site_events.len() > events.len(),
        "the site export has at least one more event (the first export)"
    );
    for (a, b) in events.iter().zip(&site_events) {
        assert_eq!(a["id"], b["id"], "the chain stays whole");
        assert_eq!(a["hash"], b["hash"], "the chain stays whole");
    }
    let later = &site_events[events.len()..];
    assert!(
        later
            .iter()
            .any(|e| e["action"] == "audit.exported" || e["redacted"] == true),
        "the first export is recorded after the events it exported"
    );
    for w in site_events.windows(2) {
        assert_eq!(
            w[1]["prev_hash"], w[0]["hash"],
            "events are chained in order"
        );
    }

    // Tampering, each caught and named.
    let t = dir.path().join("t.zip");
    let key = appliance_key(&s);
    let check = |entries: &[(String, Vec<u8>)], want_code: i32, want: &str| {
        write_zip(&t, entries);
        let (code, stdout, stderr) = verify(&s, &t);
        assert_eq!(
            code, want_code,
            "expected exit {want_code} naming {want:?}: {stdout}{stderr}"
        );
        assert!(stderr.contains(want), "expected {want:?} in: {stderr}");
    };
    // a. A message's text changed.
    let mut e = entries.clone();
    let m = String::from_utf8(get(&e, "messages.jsonl").clone())
        .unwrap()
        .replace("burnt", "fine!");
    set(&mut e, "messages.jsonl", m.into_bytes());
    check(&e, 1, "messages.jsonl: content does not match");
    // b. ... and the manifest updated to match, without the key.
    let mut m: Value = serde_json::from_slice(get(&e, "manifest.json")).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == "messages.jsonl" {
            f["sha256"] = hex::encode(Sha256::digest(get(&e, "messages.jsonl"))).into();
        }
    }
    set(
        &mut e,
        "manifest.json",
        serde_json::to_vec_pretty(&m).unwrap(),
    );
    check(&e, 1, "manifest.sig: the signature does not match");
    // c. With the appliance's key, a changed webhook body is still caught by its own hash ...
    let i = deliveries.iter().position(|d| d["sha256"] == sha).unwrap();
    let mut ds = deliveries.clone();
    let b = ds[i]["body"].as_str().unwrap().replace("burnt", "fine!");
    ds[i]["body"] = b.clone().into();
    let mut e = entries.clone();
    set(&mut e, "deliveries.jsonl", jsonl(&ds));
    reseal(&mut e, &key);
    check(
        &e,
        1,
        &format!(
            "deliveries.jsonl line {} (delivery {}): the webhook body does not match its SHA-256",
            i + 1,
            delivery["id"]
        ),
    );
    // ... and with its hash changed to match, by the message that points at the original.
    ds[i]["sha256"] = hex::encode(Sha256::digest(b.as_bytes())).into();
    let mut e = entries.clone();
    set(&mut e, "deliveries.jsonl", jsonl(&ds));
    reseal(&mut e, &key);
    let pointing = format!(
        "(message {}): its delivery \"{sha}\" is not in deliveries.jsonl",
        webhook["id"]
    );
    check(&e, 1, &pointing);
    // ... and a delivery taken out, the same way.
    let mut ds = deliveries.clone();
    ds.remove(i);
    let mut e = entries.clone();
    set(&mut e, "deliveries.jsonl", jsonl(&ds));
    reseal(&mut e, &key);
    check(&e, 1, &pointing);
    // d. ... and a changed event by the chain.
    let mut e = entries.clone();
    let mut evs = lines(get(&e, "events.jsonl"));
    evs[0]["actor"] = "someone-else".into();
    set(&mut e, "events.jsonl", jsonl(&evs));
    reseal(&mut e, &key);
    check(&e, 1, "events.jsonl line 1");
    // e. ... and a removed event.
    let mut e = entries.clone();
    let mut evs = lines(get(&e, "events.jsonl"));
    evs.remove(1);
    set(&mut e, "events.jsonl", jsonl(&evs));
    reseal(&mut e, &key);
    check(&e, 1, "events are missing or out of order");
    // f. An evidence photo taken out.
    let photo = with_file[0]["file"].as_str().unwrap().to_string();
    let e: Vec<_> = entries
        .iter()
        .filter(|(n, _)| *n != photo)
        .cloned()
        .collect();
    check(
        &e,
        1,
        &format!("{photo}: listed in the manifest but missing"),
    );
    // g. A photo swapped for another picture.
    let mut e = entries.clone();
    set(&mut e, &photo, jpeg(40, 30, 9));
    check(&e, 1, &format!("{photo}: "));
    // h. A file slipped in, and a hostile name.
    let mut e = entries.clone();
    e.push(("extra.txt".into(), b"hello".to_vec()));
    check(&e, 1, "extra.txt: in the ZIP but not listed");
    let mut e = entries.clone();
    e.push(("../../etc/evil".into(), b"x".to_vec()));
    check(&e, 1, "unsafe file name");
    // i. Everything re-signed with someone else's key: internally consistent, but the fingerprint is not the
    //    appliance's, which is what an inspector compares.
    let mut e = entries.clone();
    let mut ms = lines(get(&e, "messages.jsonl"));
    ms.retain(|m| !m["text"].as_str().is_some_and(|t| t.contains("burnt")));
    set(&mut e, "messages.jsonl", jsonl(&ms));
    let forger = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    reseal(&mut e, &forger);
    write_zip(&t, &e);
    let (code, stdout, _) = verify(&s, &t);
    assert_eq!(code, 0);
    assert!(
        !stdout.contains(&fp),
        "a forger's key must not show the appliance's fingerprint: {stdout}"
    );
    // j. Not a ZIP, or cut short: unreadable.
    let bytes = std::fs::read(&all).unwrap();
    std::fs::write(&t, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, stderr) = verify(&s, &t);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = verify(&s, &dir.path().join("nope.zip"));
    assert_eq!(code, 2, "{stderr}");
    // k. A ZIP whose directory claims a billion entries is refused before the directory is read.
    let (code, _, stderr) = verify(
        &s,
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/audit/billion-entries.zip"
        )),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("declares 1000000000 entries, more than the 2000000"),
        "{stderr}"
    );

    // Bad input to the CLI: clear errors, exit 2, no file left behind.
    let bad = dir.path().join("bad.zip");
    for (args, want) in [
        (vec!["--from", "2026-12-09", "--to", "2026-12-01"], "after"),
        (
            vec!["--from", "9/12/2026", "--to", "2026-12-01"],
            "from: expected a date",
        ),
        (
            vec!["--from", &from, "--to", &to, "--site", "Nowhere Towers"],
            "not found",
        ),
    ] {
        let mut a = vec!["export", "audit"];
        a.extend(args);
        a.extend(["--output", bad.to_str().unwrap()]);
        let out = s.cli(&a, None);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(want));
        assert!(!bad.exists());
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|f| !f
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "no temporary file is left beside the output"
    );

    // Over HTTP: inspectors and managers may export, viewers may not; the download verifies offline.
    let inspector = s.token("inspector");
    let viewer = s.token("viewer");
    let url = s.u(&format!("/api/v1/exports/audit?from={from}&to={to}"));
    let r = c.get(&url).bearer_auth(&inspector).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("tapak-audit-"));
    let got = dir.path().join("http.zip");
    std::fs::write(&got, r.bytes().await.unwrap()).unwrap();
    let (code, stdout, stderr) = verify(&s, &got);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        c.get(&url)
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    let (st, v) = get_json(
        &c,
        &s.u("/api/v1/exports/audit?from=2026-12-09&to=2026-12-01"),
        &inspector,
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
    let (st, _) = get_json(
        &c,
        &s.u(&format!(
            "/api/v1/exports/audit?from={from}&to={to}&site=Nowhere"
        )),
        &inspector,
    )
    .await;
    assert_eq!(st, 404);
    assert!(
        std::fs::read_dir(s.data.join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "the HTTP export leaves nothing in the data dir"
    );

    // A photo whose stored file has gone (a damaged disk, a bad restore): the ZIP still verifies, and the manifest
    // says which evidence is missing and why instead of pointing at a file that is not there.
    let gone = with_file[0]["sha256"].as_str().unwrap().to_string();
    std::fs::remove_file(
        s.data
            .join("evidence")
            .join(&gone[..2])
            .join(&gone[2..4])
            .join(&gone),
    )
    .unwrap();
    let partial = dir.path().join("partial.zip");
    export_and_verify(&s, &partial, &["--from", &from, "--to", &to]);
    let pe = read_zip(&partial);
    let pm: Value = serde_json::from_slice(get(&pe, "manifest.json")).unwrap();
    assert!(
        pm["counts"]["evidence_missing"].as_u64().unwrap() >= 1,
        "{}",
        pm["counts"]
    );
    let line = lines(get(&pe, "evidence.jsonl"))
        .into_iter()
        .find(|e| e["id"] == with_file[0]["id"])
        .unwrap();
    assert!(line["file"].is_null(), "{line}");
    assert!(
        line["missing"].as_str().unwrap().contains("unreadable"),
        "{line}"
    );
    assert!(pe.iter().all(|(n, _)| !n.contains(&gone)));

    // Every export is in the event log, with who made it.
    let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
    let exports: Vec<String> = db
        .prepare("SELECT actor FROM events WHERE action = 'audit.exported' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(exports.len(), 4, "{exports:?}");
    assert_eq!(exports[0], "cli");
    assert!(exports[2].contains("inspector"), "{exports:?}");
}

/// One Cloud API delivery carrying many messages: its body is in the ZIP once, in deliveries.jsonl, and every
/// message names it by hash (it used to be copied into every message's line).
#[tokio::test]
async fn a_delivery_with_many_messages_is_in_the_zip_once() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let admin = s.token("admin");
    let now = chrono::Utc::now().timestamp();
    let one: Value = serde_json::from_slice(&cloud_group_msg(
        "wamid.X",
        "60123456700",
        "Batch",
        now,
        None,
        None,
        None,
    ))
    .unwrap();
    let template = one["entry"][0]["changes"][0]["value"]["messages"][0].clone();
    let n = 300;
    let msgs: Vec<Value> = (0..n)
        .map(|i| {
            let mut m = template.clone();
            m["id"] = format!("wamid.BATCH-{i}").into();
            m["timestamp"] = (now - 600 + i).to_string().into();
            m["text"]["body"] = format!("Batch note {i}: lobby light {i} flickers").into();
            m
        })
        .collect();
    let mut batch = one.clone();
    batch["entry"][0]["changes"][0]["value"]["messages"] = msgs.into();
    let body = serde_json::to_vec(&batch).unwrap();
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    eventually(30, "the batch is filed", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/messages?limit=500"), admin.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            (v["items"].as_array()?.len() == n as usize).then_some(())
        }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let (from, to) = period();
    let zip = dir.path().join("batch.zip");
    export_and_verify(&s, &zip, &["--from", &from, "--to", &to]);
    let entries = read_zip(&zip);
    let sha = hex::encode(Sha256::digest(&body));
    let deliveries = lines(get(&entries, "deliveries.jsonl"));
    assert_eq!(deliveries.len(), 1, "one delivery, once");
    assert_eq!(deliveries[0]["sha256"], sha);
    assert_eq!(
        deliveries[0]["body"].as_str().unwrap().as_bytes(),
        &body[..]
    );
    let msgs = get(&entries, "messages.jsonl");
    assert_eq!(lines(msgs).len(), n as usize);
    assert!(lines(msgs).iter().all(|m| m["delivery"] == sha));
    let text = String::from_utf8_lossy(msgs);
    assert!(
        !text.contains("whatsapp_business_account"),
        "a message line still carries the delivery's body"
    );
    let longest = text.lines().map(str::len).max().unwrap();
    assert!(
        longest * 10 < body.len(),
        "a {longest}-byte message line for a {}-byte delivery",
        body.len()
    );
    let manifest: Value = serde_json::from_slice(get(&entries, "manifest.json")).unwrap();
    assert_eq!(manifest["counts"]["deliveries"], 1);
    assert_eq!(manifest["counts"]["messages"], n);
    let readme = String::from_utf8_lossy(get(&entries, "README.txt")).into_owned();
    assert!(
        readme.contains("\n- deliveries.jsonl  each of those deliveries once"),
        "{readme}"
    );
}

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// A chat export (Android, 24 h) from yesterday: a leak report with hostile markup, its photo, a formula-looking
/// message and a document, each attachment under the name WhatsApp gave it.
fn hostile_export(dir: &Path) -> std::path::PathBuf {
    let d = (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Kuala_Lumpur)
        - chrono::Duration::days(1))
    .format("%d/%m/%Y")
    .to_string();
    let txt = format!(
        "{d}, 09:15 - Aminah Yusof: Paip bocor di Blok C aras 3, air melimpah {HOSTILE}\n\
         {d}, 09:16 - Aminah Yusof: IMG-20261201-WA0007.jpg (file attached)\n\
         {d}, 09:20 - Rajesh Kumar: =HYPERLINK(\"http://evil.example\",\"click\") lampu lobi rosak\n\
         {d}, 09:21 - Rajesh Kumar: Quotation Lift & Co (rev 2).pdf (file attached)\n"
    );
    let path = dir.join("WhatsApp Chat with Audit Readable.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [
        ("WhatsApp Chat with Audit Readable.txt", txt.into_bytes()),
        ("IMG-20261201-WA0007.jpg", jpeg(64, 48, 11)),
        (
            "Quotation Lift & Co (rev 2).pdf",
            b"%PDF-1.4\n% a quotation\n%%EOF\n".to_vec(),
        ),
    ] {
        w.start_file(name, o).unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.finish().unwrap();
    path
}

/// Reads a CSV of the ZIP: it starts with a UTF-8 byte-order mark; answers the header and the rows.
fn csv_of(entries: &[(String, Vec<u8>)], name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = get(entries, name);
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "{name} does not start with a UTF-8 BOM"
    );
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(&bytes[3..]);
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// The readable copies: CSVs that re-read to the same records as the JSON lines (formula cells defused, original file
/// names), an index that opens offline in headless Chromium showing every ticket's photos and the hostile text as
/// text, and a changed page or cell caught by `tapak verify`.
#[tokio::test]
async fn the_zip_reads_in_excel_and_offline_in_a_browser() {
    let s = Server::start_demo(&default_config("http://127.0.0.1:9"));
    let c = client();
    let admin = s.token("admin");
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path());
    let out = s.cli(&["import", "--json", export.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The API names each attachment as it was sent.
    let (_, found) = get_json(&c, &s.u("/api/v1/search?q=HYPERLINK"), &admin).await;
    assert!(!found["items"].as_array().unwrap().is_empty(), "{found}");

    let (from, to) = period();
    let zip_path = dir.path().join("readable.zip");
    export_and_verify(&s, &zip_path, &["--from", &from, "--to", &to]);
    let entries = read_zip(&zip_path);
    let manifest: Value = serde_json::from_slice(get(&entries, "manifest.json")).unwrap();
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for name in [
        "index.html",
        "messages.csv",
        "tickets.csv",
        "tasks.csv",
        "occurrences.csv",
        "events.csv",
        "evidence.csv",
    ] {
        assert!(listed.contains(&name), "{name} is not in the manifest");
    }

    // messages.csv: one row per message of messages.jsonl, same ids and texts; formula-looking text defused.
    let msgs = lines(get(&entries, "messages.jsonl"));
    let (h, rows) = csv_of(&entries, "messages.csv");
    assert_eq!(rows.len(), msgs.len());
    let (id_c, text_c, att_c) = (
        column(&h, "id"),
        column(&h, "text"),
        column(&h, "attachments"),
    );
    for (m, r) in msgs.iter().zip(&rows) {
        assert_eq!(r[id_c], m["id"].to_string());
        let text = m["text"].as_str().unwrap_or("");
        if text.starts_with(['=', '+', '-', '@']) {
            assert_eq!(
                r[text_c],
                format!("'{text}"),
                "a formula cell was not defused"
            );
        } else {
            assert_eq!(r[text_c], text);
        }
    }
    assert!(
        rows.iter()
            .any(|r| r[text_c].starts_with("'=HYPERLINK(\"http://evil.example\"")),
        "the formula message is not in messages.csv"
    );
    assert!(rows.iter().any(|r| r[text_c].contains(HOSTILE)));
    assert!(
        rows.iter()
            .any(|r| r[att_c] == "Quotation Lift & Co (rev 2).pdf"),
        "the document's original name is not in messages.csv"
    );

    // tickets.csv and tasks.csv: the JSON lines' records, row for row.
    let issues = lines(get(&entries, "issues.jsonl"));
    let (h, rows) = csv_of(&entries, "tickets.csv");
    assert_eq!(rows.len(), issues.len());
    let (id_c, title_c, status_c) = (column(&h, "id"), column(&h, "title"), column(&h, "status"));
    for (i, r) in issues.iter().zip(&rows) {
        assert_eq!(r[id_c], i["id"].to_string());
        assert_eq!(r[status_c], i["status"].as_str().unwrap());
        let title = i["title"].as_str().unwrap();
        assert!(r[title_c] == title || r[title_c] == format!("'{title}"));
    }
    let tasks = lines(get(&entries, "tasks.jsonl"));
    let (h, rows) = csv_of(&entries, "tasks.csv");
    assert_eq!(rows.len(), tasks.len());
    assert!(rows
        .iter()
        .zip(&tasks)
        .all(|(r, t)| r[column(&h, "id")].parse::<i64>().ok() == t["id"].as_i64()));
    let (h, rows) = csv_of(&entries, "events.csv");
    assert_eq!(rows.len(), lines(get(&entries, "events.jsonl")).len());
    assert!(rows
        .iter()
        .zip(lines(get(&entries, "events.jsonl")))
        .all(|(r, e)| r[column(&h, "hash")] == e["hash"].as_str().unwrap()));
    let (h, _) = csv_of(&entries, "occurrences.csv");
    assert!(h.contains(&"status".to_string()));

    // evidence.csv: original names beside the file in the ZIP, which is named by hash.
    let evidence = lines(get(&entries, "evidence.jsonl"));
    let (h, rows) = csv_of(&entries, "evidence.csv");
    assert_eq!(rows.len(), evidence.len());
    let (name_c, file_c) = (column(&h, "original_name"), column(&h, "file_in_zip"));
    let photo = rows
        .iter()
        .find(|r| r[name_c] == "IMG-20261201-WA0007.jpg")
        .expect("the photo's original name is in evidence.csv");
    assert!(photo[file_c].starts_with("evidence/") && !photo[file_c].contains("WA0007"));
    assert_eq!(
        get(&entries, &photo[file_c]),
        &jpeg(64, 48, 11),
        "the file under its hash is the photo that was sent"
    );
    let doc = rows
        .iter()
        .find(|r| r[name_c] == "Quotation Lift & Co (rev 2).pdf")
        .expect("the document's original name is in evidence.csv");
    assert!(doc[file_c].ends_with(".pdf"), "{doc:?}");
    let e: Value = evidence
        .iter()
        .find(|e| e["filename"] == "Quotation Lift & Co (rev 2).pdf")
        .unwrap()
        .clone();
    let (_, api) = get_json(&c, &s.u(&format!("/api/v1/evidence/{}", e["id"])), &admin).await;
    assert_eq!(api["filename"], "Quotation Lift & Co (rev 2).pdf", "{api}");

    // The pages: every ticket has one, showing as many photos as its record has files in the ZIP.
    let mut pages = serde_json::Map::new();
    for i in &issues {
        let page = format!("tickets/{}.html", i["id"]);
        let html = String::from_utf8(get(&entries, &page).clone()).unwrap();
        assert!(!html.contains(HOSTILE), "{page} carries unescaped markup");
        let photos = i["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "photo")
            .filter(|e| {
                evidence
                    .iter()
                    .any(|x| x["id"] == e["id"] && x["file"].is_string())
            })
            .count();
        pages.insert(page, photos.into());
    }
    assert!(
        pages.values().any(|n| n.as_u64().unwrap() > 0),
        "no ticket with a photo to check"
    );
    let index = String::from_utf8(get(&entries, "index.html").clone()).unwrap();
    assert!(!index.contains(HOSTILE) && index.contains("&lt;img src=x onerror=alert(1)&gt;"));
    for external in ["src=\"http", "href=\"http", "<script", "<link"] {
        assert!(!index.contains(external), "index.html has {external}");
    }
    let task_pages: Vec<String> = entries
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n.starts_with("tasks/"))
        .collect();
    assert!(!task_pages.is_empty());

    if std::env::var_os("TAPAK_SKIP_BROWSER").is_some() {
        eprintln!("TAPAK_SKIP_BROWSER is set: the browser half of this test is skipped");
    } else {
        let unpacked = dir.path().join("unpacked");
        zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap())
            .unwrap()
            .extract(&unpacked)
            .unwrap();
        let chromium =
            std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let expect = serde_json::json!({"pages": pages, "hostile": HOSTILE, "more": task_pages});
        let out = std::process::Command::new("node")
            .arg("e2e/audit.mjs")
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("ui"))
            .env("AUDIT_DIR", &unpacked)
            .env("AUDIT_EXPECT", expect.to_string())
            .env("CHROMIUM_PATH", &chromium)
            .output()
            .expect("run node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}");
        assert!(
            out.status.success(),
            "the offline pages failed in Chromium:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.matches("ok ").count() >= pages.len() + 3, "{stdout}");
    }

    // Changing a page or a cell (even keeping the size) is caught.
    let t = dir.path().join("t.zip");
    for (name, from, to) in [
        ("index.html", "Tickets", "Tickets!"),
        ("messages.csv", "'=HYPERLINK", "=HYPERLINK"),
        (
            "evidence.csv",
            "IMG-20261201-WA0007.jpg",
            "IMG-20261201-WA0008.jpg",
        ),
    ] {
        let mut e = entries.clone();
        let changed = String::from_utf8(get(&e, name).clone())
            .unwrap()
            .replacen(from, to, 1);
        assert_ne!(changed.as_bytes(), &get(&e, name)[..]);
        set(&mut e, name, changed.into_bytes());
        write_zip(&t, &e);
        let (code, stdout, stderr) = verify(&s, &t);
        assert_eq!(code, 1, "{name}: {stdout}{stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

/// Anchoring: moving a fake clock through two nights, the tick queues each day's chain head for the anchor chat once,
/// after the anchor time; `tapak verify ZIP --anchors CHAT.txt` (the chat's export) says which posted heads the ZIP's
/// chain matches, ignores heads outside it, and fails on one that differs.
#[tokio::test]
async fn nightly_anchors_are_posted_once_a_day_and_verify_matches_them() {
    use chrono::{DateTime, Utc};
    use tapak::audit::anchor::{self, Anchor};
    use tapak::outbox::{Purpose, Route};
    let dir = tempfile::tempdir().unwrap();
    let kl = chrono_tz::Asia::Kuala_Lumpur;
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let clock = tapak::clock::FakeClock::new(at("2026-12-06T10:00:00+08:00"));
    let db_path = dir.path().join("tapak.db");
    let db = tapak::store::Db::open_with_clock(&db_path, clock.clone()).unwrap();
    let record = |what: &'static str| {
        let db = db.clone();
        async move {
            db.write(move |tx| {
                tapak::store::events::append(
                    tx,
                    "test",
                    what,
                    "thing",
                    None,
                    &serde_json::json!({}),
                )
            })
            .await
            .unwrap()
        }
    };
    let chat = "120363400000000009@g.us";
    let set = anchor::Settings {
        chat: Some(chat.into()),
        route: Route::Waha,
        time: chrono::NaiveTime::from_hms_opt(0, 5, 0).unwrap(),
        tz: kl,
    };
    let tick = |when: &str| {
        clock.set(at(when));
        let (db, set, now) = (db.clone(), set.clone(), at(when));
        async move { anchor::tick(&db, &set, now).await.unwrap() }
    };
    for what in ["a", "b", "c"] {
        record(what).await;
    }
    assert!(
        !tick("2026-12-06T23:00:00+08:00").await,
        "the day is not over"
    );
    assert!(
        !tick("2026-12-07T00:04:00+08:00").await,
        "before the anchor time"
    );
    assert!(tick("2026-12-07T00:06:00+08:00").await, "the 6th is posted");
    assert!(!tick("2026-12-07T00:30:00+08:00").await, "once a day");
    clock.set(at("2026-12-07T09:00:00+08:00"));
    record("d").await;
    record("e").await;
    assert!(tick("2026-12-08T00:10:00+08:00").await, "the 7th is posted");
    assert!(!tick("2026-12-08T12:00:00+08:00").await);
    let off = anchor::Settings {
        chat: None,
        ..set.clone()
    };
    assert!(!anchor::tick(&db, &off, at("2026-12-09T01:00:00+08:00"))
        .await
        .unwrap());

    let sends = db
        .read(|c| tapak::store::outbox::list(c, &tapak::store::outbox::Filter::default(), 100))
        .await
        .unwrap();
    let posted: Vec<&tapak::outbox::Send> = sends
        .iter()
        .filter(|s| s.purpose == Purpose::Anchor)
        .collect();
    assert_eq!(posted.len(), 2, "{sends:?}");
    assert!(posted
        .iter()
        .all(|s| s.to == chat && s.route == Route::Waha));
    let mut anchors: Vec<Anchor> = posted.iter().flat_map(|s| anchor::parse(&s.text)).collect();
    anchors.sort_by_key(|a| a.day);
    let hash_of = |id: i64| {
        let c = rusqlite::Connection::open(&db_path).unwrap();
        c.query_row("SELECT hash FROM events WHERE id = ?1", [id], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    // The 6th ended at event 3; the 7th's head is the last event of the 7th (its own post was event 4).
    assert_eq!(anchors[0].day.to_string(), "2026-12-06");
    assert_eq!(anchors[0].event, 3);
    assert_eq!(anchors[0].head, hash_of(3));
    assert_eq!(anchors[1].day.to_string(), "2026-12-07");
    assert_eq!(anchors[1].event, 6);
    assert_eq!(anchors[1].head, hash_of(6));

    // An export of the period, checked against the chat's export.
    let conn = tapak::store::db::open_and_migrate(&db_path).unwrap();
    let files = tapak::evidence::EvidenceStore::open(dir.path()).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let zip = dir.path().join("dec.zip");
    let req = tapak::audit::export::Request {
        period: tapak::audit::Period::parse("2026-12-06", "2026-12-07").unwrap(),
        site: None,
        now: at("2026-12-08T12:00:00+08:00"),
    };
    tapak::audit::export::export(&conn, &files, &key, kl, &req, &zip, &mut |_, _| true).unwrap();
    let chat_export = dir.path().join("anchors.txt");
    let line = |a: &Anchor| format!("08/12/2026, 00:10 - Tapak: {}\n", a.text());
    let outside = Anchor {
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        event: 999,
        head: "ab".repeat(32),
    };
    std::fs::write(
        &chat_export,
        format!(
            "{}{}{}",
            line(&anchors[0]),
            line(&anchors[1]),
            line(&outside)
        ),
    )
    .unwrap();
    let verify = |txt: &Path| {
        let out = std::process::Command::new(bin())
            .arg("--data")
            .arg(dir.path().join("cli-data"))
            .args([
                "verify",
                zip.to_str().unwrap(),
                "--anchors",
                txt.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = verify(&chat_export);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("anchors posted (3):"), "{stdout}");
    assert!(
        stdout.contains("2026-12-06 event 3 head ") && stdout.contains("2026-12-07 event 6 head "),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches(": matches this ZIP's chain").count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("2026-11-02 event 999 head abababababababab…: not in this ZIP"),
        "{stdout}"
    );
    // A posted head that differs from the ZIP's chain (a rewritten log, or a forged post).
    let forged = Anchor {
        head: "cd".repeat(32),
        ..anchors[0].clone()
    };
    std::fs::write(&chat_export, line(&forged)).unwrap();
    let (code, stdout, stderr) = verify(&chat_export);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("DIFFERS: this ZIP has {}", anchors[0].head)),
        "{stdout}"
    );
    assert!(stderr.contains("differ from this ZIP's chain"), "{stderr}");
}

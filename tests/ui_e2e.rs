//! The web UI in real headless Chromium (Debian's `chromium` driven by playwright-core), against `tapak serve --demo`.
//! Needs `/usr/bin/chromium` (or CHROMIUM_PATH) and `ui/node_modules` (the build installs them). Set
//! TAPAK_SKIP_BROWSER=1 to skip on a machine without a browser; CI never sets it.

mod common;

use std::process::Command;

#[test]
fn ui_works_in_a_real_browser() {
    if std::env::var_os("TAPAK_SKIP_BROWSER").is_some() {
        eprintln!("TAPAK_SKIP_BROWSER is set: browser tests skipped");
        return;
    }
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: apt-get install -y chromium (or set TAPAK_SKIP_BROWSER=1 to skip)"
    );
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    assert!(
        ui.join("node_modules/playwright-core").exists(),
        "run `npm ci` in ui/ first"
    );
    // A fake Graph API takes the settings screen's test message (the only simulated party is WhatsApp).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let graph = rt.block_on(common::FakeGraph::start(vec![], 0));
    // The posters need the WhatsApp number their QR codes open.
    let s = common::Server::start_demo(&format!(
        "[posters]\nbusiness_number = \"60123450000\"\n\n[reminders]\ntemplate_name = \"tapak_notice\"\n{}",
        common::default_config(&graph.url)
    ));
    let out = Command::new("node")
        .arg("e2e/run.mjs")
        .current_dir(&ui)
        .env("TAPAK_URL", &s.url)
        .env("TAPAK_USER", "admin")
        .env("TAPAK_PASSWORD", "tapak-demo")
        .env("E2E_REQUIRE_LT", "1")
        // Screenshots of every page at 1366x900 and 390x844 (git-ignored test artifacts).
        .env(
            "E2E_SCREENSHOTS",
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots"),
        )
        .env("TAPAK_BIN", common::bin())
        .env("CHROMIUM_PATH", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser tests failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        s.log()
    );
    assert!(stdout.contains("ok "), "no steps ran:\n{stdout}");
}

/// The UI's JavaScript and CSS, as a browser receives them (gzip), stay under 250 KB together.
#[tokio::test]
async fn the_ui_bundle_transferred_gzip_stays_under_250_kb() {
    let s = common::Server::start("");
    let c = common::client();
    let index = c.get(s.u("/")).send().await.unwrap().text().await.unwrap();
    let assets: Vec<&str> = index
        .split('"')
        .filter(|p| p.starts_with("/assets/") && (p.ends_with(".js") || p.ends_with(".css")))
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with(".js")),
        "no script in index.html: {index}"
    );
    let mut total = 0usize;
    for a in &assets {
        let r = c
            .get(s.u(a))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{a}");
        assert_eq!(
            r.headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("gzip"),
            "{a} is not sent compressed"
        );
        let n = r.bytes().await.unwrap().len();
        println!("{a}: {n} bytes gzip");
        total += n;
    }
    println!("UI bundle: {total} bytes of JS and CSS transferred");
    assert!(total < 250 * 1024, "the UI bundle is {total} bytes gzip");
}

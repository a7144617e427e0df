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
    let s = common::Server::start_demo("");
    let out = Command::new("node")
        .arg("e2e/run.mjs")
        .current_dir(&ui)
        .env("TAPAK_URL", &s.url)
        .env("TAPAK_USER", "admin")
        .env("TAPAK_PASSWORD", "tapak-demo")
        .env("E2E_REQUIRE_LT", "1")
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

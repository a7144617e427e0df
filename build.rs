//! Builds the web UI (`ui/` → `ui/dist`) when it is missing or older than its sources, so `cargo build` on a fresh
//! clone embeds a working UI. Needs Node.js and npm; set TAPAK_SKIP_UI_BUILD=1 to skip (a placeholder page is embedded
//! if no build exists).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    let mut best = None;
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        if let Some(t) = newest(&entry.path()) {
            if best.is_none_or(|b| t > b) {
                best = Some(t);
            }
        }
    }
    best
}

fn placeholder(dist: &Path, why: &str) {
    let _ = std::fs::create_dir_all(dist);
    let index = dist.join("index.html");
    if !index.exists() {
        let _ = std::fs::write(
            &index,
            format!("<!doctype html><meta charset=utf-8><title>tapak</title><p>The tapak web UI was not built: {why}. Install Node.js 20+ and npm, then rebuild.</p>"),
        );
    }
}

fn npm(ui: &Path, args: &[&str]) -> bool {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    match Command::new(npm).args(args).current_dir(ui).status() {
        Ok(s) => s.success(),
        Err(e) => {
            println!("cargo:warning=cannot run npm {}: {e}", args.join(" "));
            false
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let ui = root.join("ui");
    let dist = ui.join("dist");
    let sources = [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "public",
        "tsconfig.json",
    ];
    for s in sources {
        println!("cargo:rerun-if-changed=ui/{s}");
    }
    println!("cargo:rerun-if-env-changed=TAPAK_SKIP_UI_BUILD");
    if std::env::var_os("TAPAK_SKIP_UI_BUILD").is_some() || !ui.join("package.json").exists() {
        placeholder(&dist, "TAPAK_SKIP_UI_BUILD is set");
        return;
    }
    let src_time = sources.iter().filter_map(|s| newest(&ui.join(s))).max();
    let built = std::fs::metadata(dist.join("index.html"))
        .and_then(|m| m.modified())
        .ok();
    let stale = match (src_time, built) {
        (_, None) => true,
        (Some(s), Some(b)) => s > b,
        (None, Some(_)) => false,
    };
    if !stale {
        return;
    }
    let lock_time = newest(&ui.join("package-lock.json"));
    let modules_time = newest(&ui.join("node_modules/.package-lock.json"));
    let need_install = match (lock_time, modules_time) {
        (_, None) => true,
        (Some(l), Some(m)) => l > m,
        (None, Some(_)) => false,
    };
    if need_install && !npm(&ui, &["ci", "--no-audit", "--no-fund"]) {
        placeholder(&dist, "npm ci failed");
        println!("cargo:warning=npm ci failed; the embedded UI may be missing or stale");
        return;
    }
    if !npm(&ui, &["run", "build"]) {
        placeholder(&dist, "npm run build failed");
        println!("cargo:warning=npm run build failed; the embedded UI may be missing or stale");
    }
}

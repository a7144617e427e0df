//! The module map of docs/architecture.md, checked: a module that imports one it may not fails this test.
//!
//! Only code before a file's first `#[cfg(test)]` counts (tests may spin up fake servers with axum, or read the
//! database directly). Known debts are listed below by file; the test also fails when a listed file no longer has the
//! debt, so the list only shrinks.

use std::path::{Path, PathBuf};

/// Files allowed to hold SQL outside `src/store/` (none: the list is kept so a debt must be named and justified here).
const SQL_DEBT: &[&str] = &[];

/// Files allowed to name `rusqlite` outside `src/store/` (none).
const RUSQLITE_DEBT: &[&str] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// (path relative to the crate, non-test code)
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable source");
            let code = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let rel = p
                .strip_prefix(root)
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, code)
        })
        .collect()
}

fn has_sql(code: &str) -> bool {
    code.split('"').skip(1).step_by(2).any(|lit| {
        let l = lit.trim_start();
        [
            "SELECT ",
            "INSERT ",
            "DELETE FROM ",
            "CREATE TABLE",
            "PRAGMA ",
        ]
        .iter()
        .any(|k| l.starts_with(k))
            || (l.starts_with("UPDATE ") && l.contains(" SET "))
    })
}

fn uses(code: &str, what: &str) -> bool {
    code.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
        .any(|l| l.contains(what))
}

fn check(rule: &str, offenders: Vec<String>, debt: &[&str], problems: &mut Vec<String>) {
    for f in &offenders {
        if !debt.contains(&f.as_str()) {
            problems.push(format!("{rule}: {f}"));
        }
    }
    for d in debt {
        if !offenders.iter().any(|f| f == d) {
            problems.push(format!(
                "{rule}: {d} is listed as a debt but no longer has it; remove it from the list"
            ));
        }
    }
}

#[test]
fn modules_import_only_what_the_architecture_allows() {
    let src = sources();
    assert!(src.len() > 50, "found the sources ({})", src.len());
    let mut problems = vec![];
    let under = |f: &str, dirs: &[&str]| dirs.iter().any(|d| f.starts_with(d));

    // The application wiring is imported by the command line only.
    let app: Vec<String> = src
        .iter()
        .filter(|(f, c)| {
            !under(f, &["src/cli.rs", "src/main.rs", "src/app.rs"]) && uses(c, "crate::app")
        })
        .map(|(f, _)| f.clone())
        .collect();
    check("imports app", app, &[], &mut problems);

    // HTTP serving lives in web (app.rs starts the server).
    let axum: Vec<String> = src
        .iter()
        .filter(|(f, c)| !under(f, &["src/web/", "src/app.rs"]) && uses(c, "axum"))
        .map(|(f, _)| f.clone())
        .collect();
    check("axum outside web", axum, &[], &mut problems);

    // Outbound HTTP goes through the one WhatsApp client (core.rs builds the shared reqwest client it wraps).
    let http: Vec<String> = src
        .iter()
        .filter(|(f, c)| !under(f, &["src/whatsapp/", "src/core.rs"]) && uses(c, "reqwest"))
        .map(|(f, _)| f.clone())
        .collect();
    check("reqwest outside whatsapp", http, &[], &mut problems);

    // SQLite lives in store.
    let rusqlite: Vec<String> = src
        .iter()
        .filter(|(f, c)| !under(f, &["src/store/"]) && uses(c, "rusqlite"))
        .map(|(f, _)| f.clone())
        .collect();
    check(
        "rusqlite outside store",
        rusqlite,
        RUSQLITE_DEBT,
        &mut problems,
    );
    let sql: Vec<String> = src
        .iter()
        .filter(|(f, c)| !under(f, &["src/store/"]) && has_sql(c))
        .map(|(f, _)| f.clone())
        .collect();
    check("SQL outside store", sql, SQL_DEBT, &mut problems);

    // The store sits below ingest, the pipeline, the workers and the web layer.
    let store_up: Vec<String> = src
        .iter()
        .filter(|(f, c)| {
            under(f, &["src/store/"])
                && [
                    "crate::ingest",
                    "crate::web",
                    "crate::pipeline",
                    "crate::scheduler",
                    "crate::core",
                ]
                .iter()
                .any(|m| uses(c, m))
        })
        .map(|(f, _)| f.clone())
        .collect();
    check(
        "store imports a layer above it",
        store_up,
        &[],
        &mut problems,
    );

    // The domain (classification, records, schedules, the outbox's rules) knows no HTTP, SQL or runtime.
    let domain: Vec<String> = src
        .iter()
        .filter(|(f, c)| {
            under(
                f,
                &[
                    "src/classify/",
                    "src/records/",
                    "src/schedule/",
                    "src/reports/",
                    "src/outbox/mod.rs",
                    "src/outbox/texts.rs",
                    "src/outbox/limits.rs",
                    "src/message.rs",
                ],
            ) && [
                "crate::store",
                "crate::web",
                "crate::pipeline",
                "crate::core",
                "axum",
                "rusqlite",
                "reqwest",
                "tokio",
            ]
            .iter()
            .any(|m| uses(c, m))
        })
        .map(|(f, _)| f.clone())
        .collect();
    check("domain imports I/O", domain, &[], &mut problems);

    assert!(
        problems.is_empty(),
        "architecture rules broken (see docs/architecture.md):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_sql_detector_sees_sql_and_ignores_prose() {
    assert!(has_sql(r#"tx.execute("INSERT INTO x VALUES (1)", [])"#));
    assert!(has_sql(r#"c.query_row("SELECT 1", [], f)"#));
    assert!(has_sql(r#"tx.execute("UPDATE t SET a = 1", [])"#));
    assert!(!has_sql(r#"let s = "update the ticket"; "Select a site""#));
    assert!(!has_sql("no strings here"));
}

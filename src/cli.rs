//! The command line: parse, load configuration, initialise logging, dispatch. Results go to standard output,
//! logs and errors to standard error. Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "tapak",
    version,
    about = "Self-hosted backend for facility-operations WhatsApp groups"
)]
pub struct Cli {
    /// Configuration file (TOML); env TAPAK_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, evidence, exports); env TAPAK_DATA; default ./tapak-data.
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance: HTTP API, webhooks, web UI, background workers.
    Serve {
        /// Address to listen on (127.0.0.1:0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Load demo data into an empty database first.
        #[arg(long)]
        demo: bool,
    },
    /// Classify JSON lines ({"id","text"}) from standard input; with --eval, score labelled lines.
    Classify {
        /// Score labelled lines (from FILE, or standard input when FILE is "-" or omitted).
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
        eval: Option<String>,
        /// With --eval: print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Score a model trained without these bundled training sets (dev, extra, dev2; comma-separated), so a
        /// labelled set that is also in the shipped model's training can be scored out of sample.
        #[arg(long, value_delimiter = ',', value_name = "SOURCES")]
        without: Vec<String>,
    },
    /// Manage logins.
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCmd,
    },
    /// Import WhatsApp chat exports (.txt, or .zip with media); each PATH is imported all or nothing.
    Import {
        /// Export files (.txt or .zip).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Chat name (found by name, created when new); default: from the file name.
        #[arg(long, value_name = "NAME")]
        chat: Option<String>,
        /// Site name (created when new); the chat is assigned to it.
        #[arg(long, value_name = "SITE")]
        site: Option<String>,
        /// Parse and count without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// One JSON object per PATH on standard output.
        #[arg(long)]
        json: bool,
        /// Day/month order when the dates are ambiguous: day_first, month_first or year_first.
        #[arg(long, value_name = "ORDER")]
        date_order: Option<String>,
    },
    /// Printable QR posters (PDF, or PNG by extension) for a schedule's checkpoints or locations.
    Posters {
        /// Schedule id or name.
        #[arg(value_name = "SCHEDULE")]
        schedule: String,
        /// Output file: .pdf or .png.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Paper size: a4 or a6.
        #[arg(long, default_value = "a4")]
        size: String,
    },
    /// A daily, weekly or monthly report (docs/reports.md); JSON to standard output when no --output.
    Report {
        /// daily, weekly or monthly.
        #[arg(value_parser = ["daily", "weekly", "monthly"])]
        period: String,
        /// A day in the period, YYYY-MM-DD (default today, in general.timezone).
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Site id or name (default the whole firm).
        #[arg(long, value_name = "SITE")]
        site: Option<String>,
        /// json, csv (a ZIP of one CSV per table), xlsx, html or pdf.
        #[arg(long, default_value = "json", value_parser = ["json", "csv", "xlsx", "html", "pdf"])]
        format: String,
        /// Write the report to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Export records for inspectors.
    Export {
        #[command(subcommand)]
        what: ExportCmd,
    },
    /// Check an audit ZIP offline: exit 0 intact, 1 tampered or incomplete (naming the first broken item), 2 unreadable.
    Verify {
        /// The audit ZIP.
        file: PathBuf,
        /// A text file of the anchor chat's messages (e.g. its export): lists which posted day heads the ZIP's chain
        /// matches (exit 1 if one differs).
        #[arg(long, value_name = "FILE")]
        anchors: Option<PathBuf>,
    },
    /// Write a consistent copy of the database (safe while `serve` runs).
    Backup {
        /// Destination file.
        file: PathBuf,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a login; the password is read from standard input.
    Add {
        name: String,
        /// admin, manager, viewer or inspector.
        #[arg(long)]
        role: String,
    },
    /// Set a login's password (read from standard input).
    Passwd { name: String },
    /// List logins.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Write an audit ZIP: the period's messages with their raw webhook bodies, tickets, task log, evidence files
    /// and event log, with a signed manifest (`tapak verify` checks it).
    Audit {
        /// First day (YYYY-MM-DD, in general.timezone).
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Last day, included.
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Only this site (name or id).
        #[arg(long, value_name = "SITE")]
        site: Option<String>,
        /// The ZIP to write.
        #[arg(long, value_name = "FILE.zip")]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token and print it on standard output.
    Create {
        #[arg(long)]
        name: String,
        /// admin, manager, viewer or inspector.
        #[arg(long)]
        role: String,
    },
}

/// An error with the exit code it deserves.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(m: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: m.into(),
        }
    }
    pub fn runtime(m: impl Into<String>) -> CliError {
        CliError {
            code: 1,
            message: m.into(),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::runtime(format!("{e:#}"))
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict(_) | crate::store::StoreError::Invalid(_) => {
                CliError::usage(e.to_string())
            }
            other => CliError::runtime(other.to_string()),
        }
    }
}

fn init_logging() {
    let filter = std::env::var("TAPAK_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,tower_http=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapak: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

fn load_config(cli: &Cli, listen: Option<String>) -> Result<Config, CliError> {
    Config::load(&Overrides {
        config_file: cli.config.clone(),
        data_dir: cli.data.clone(),
        listen,
    })
    .map_err(|e| CliError::usage(e.to_string()))
}

fn read_password() -> Result<String, CliError> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| {
        CliError::runtime(format!("cannot read the password from standard input: {e}"))
    })?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    Ok(s)
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(format!("cannot start the async runtime: {e}")))
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Serve { listen, demo } => {
            let cfg = load_config(&cli, listen.clone())?;
            let demo = *demo;
            runtime()?.block_on(async move {
                let shutdown = crate::app::shutdown_signal();
                let app = crate::app::App::build(cfg).await?;
                if demo {
                    crate::demo::load(&app.pipeline()).await?;
                }
                let url = app.base_url();
                {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{url}");
                    let _ = out.flush();
                }
                tracing::info!(%url, "tapak is serving");
                app.run(shutdown).await?;
                Ok::<(), CliError>(())
            })
        }
        Command::Classify {
            eval,
            json,
            without,
        } => classify(eval.as_deref(), *json, without),
        Command::User { action } => {
            let cfg = load_config(&cli, None)?;
            let db = crate::store::Db::open(&cfg.db_path())?;
            let r = match action {
                UserCmd::Add { name, role } => {
                    let role = crate::auth::parse_role(role)
                        .map_err(|e| CliError::usage(e.to_string()))?;
                    let name = name.trim().to_string();
                    if name.is_empty() {
                        return Err(CliError::usage("user name must not be empty"));
                    }
                    let pw = read_password()?;
                    let hash = crate::auth::hash_password(&pw)
                        .map_err(|e| CliError::usage(e.to_string()))?;
                    let n2 = name.clone();
                    db.write_blocking(move |tx| {
                        let id = crate::store::users::create(tx, &n2, role.as_str(), &hash)?;
                        crate::store::events::append(
                            tx,
                            "cli",
                            "user.created",
                            "user",
                            Some(&id.to_string()),
                            &serde_json::json!({"name": n2, "role": role.as_str()}),
                        )?;
                        Ok(())
                    })?;
                    eprintln!("created user {name} ({})", role.as_str());
                    Ok(())
                }
                UserCmd::Passwd { name } => {
                    let pw = read_password()?;
                    let hash = crate::auth::hash_password(&pw)
                        .map_err(|e| CliError::usage(e.to_string()))?;
                    let n2 = name.clone();
                    db.write_blocking(move |tx| {
                        crate::store::users::set_password(tx, &n2, &hash)?;
                        crate::store::events::append(
                            tx,
                            "cli",
                            "user.password_changed",
                            "user",
                            None,
                            &serde_json::json!({"name": n2}),
                        )?;
                        Ok(())
                    })
                    .map_err(|e| match e {
                        crate::store::StoreError::NotFound(m) => {
                            CliError::usage(format!("{m} not found"))
                        }
                        other => other.into(),
                    })?;
                    eprintln!("password changed for {name}");
                    Ok(())
                }
                UserCmd::List => {
                    let users = db.read_blocking(crate::store::users::list)?;
                    let mut out = std::io::stdout().lock();
                    for u in users {
                        let _ = writeln!(
                            out,
                            "{}\t{}\t{}",
                            u.name,
                            u.role,
                            if u.disabled { "disabled" } else { "active" }
                        );
                    }
                    Ok(())
                }
            };
            db.close();
            r
        }
        Command::Token {
            action: TokenCmd::Create { name, role },
        } => {
            let cfg = load_config(&cli, None)?;
            let role = crate::auth::parse_role(role).map_err(|e| CliError::usage(e.to_string()))?;
            let db = crate::store::Db::open(&cfg.db_path())?;
            let token = crate::auth::new_token();
            let (h, n2) = (crate::auth::secret_hash(&token), name.clone());
            db.write_blocking(move |tx| {
                let id = crate::store::users::create_token(tx, &n2, role.as_str(), &h)?;
                crate::store::events::append(
                    tx,
                    "cli",
                    "token.created",
                    "api_token",
                    Some(&id.to_string()),
                    &serde_json::json!({"name": n2, "role": role.as_str()}),
                )?;
                Ok(())
            })?;
            db.close();
            println!("{token}");
            Ok(())
        }
        Command::Import {
            paths,
            chat,
            site,
            dry_run,
            json,
            date_order,
        } => {
            let date_order = match date_order {
                Some(o) => Some(crate::ingest::export::DateOrder::parse(o).ok_or_else(|| {
                    CliError::usage(format!(
                        "--date-order: expected day_first, month_first or year_first, got {o:?}"
                    ))
                })?),
                None => None,
            };
            let cfg = load_config(&cli, None)?;
            let core = crate::core::Core::open(cfg, std::sync::Arc::new(crate::core::SystemClock))?;
            let svc = crate::pipeline::Pipeline::new(std::sync::Arc::new(core));
            let rt = runtime()?;
            let opts = crate::ingest::import::ImportOptions {
                chat: chat.clone(),
                site: site.clone(),
                dry_run: *dry_run,
                actor: "cli".into(),
                display_name: None,
                date_order,
            };
            let code = crate::ingest::import::run_cli(&svc, &rt, paths, &opts, *json);
            svc.db.close();
            match code {
                0 => Ok(()),
                c => Err(CliError {
                    code: c,
                    message: "some exports were not imported (see above)".into(),
                }),
            }
        }
        Command::Export {
            what:
                ExportCmd::Audit {
                    from,
                    to,
                    site,
                    output,
                },
        } => {
            let cfg = load_config(&cli, None)?;
            export_audit(&cfg, from, to, site.clone(), output)
        }
        Command::Verify { file, anchors } => verify_audit(file, anchors.as_deref()),
        Command::Report {
            period,
            date,
            site,
            format,
            output,
        } => {
            let cfg = load_config(&cli, None)?;
            report(
                &cfg,
                period,
                date.as_deref(),
                site.clone(),
                format,
                output.as_deref(),
            )
        }
        Command::Posters {
            schedule,
            output,
            size,
        } => {
            use crate::posters::{Format, Size};
            let cfg = load_config(&cli, None)?;
            let ext = output
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            let format = Format::parse(ext).ok_or_else(|| {
                CliError::usage(format!(
                    "--output {}: give a .pdf or .png file",
                    output.display()
                ))
            })?;
            let size = Size::parse(size)
                .ok_or_else(|| CliError::usage(format!("--size {size}: a4 or a6")))?;
            let db = crate::store::Db::open(&cfg.db_path())?;
            let key = schedule.clone();
            let found =
                runtime()?.block_on(db.read(move |c| crate::store::schedules::find(c, &key)));
            db.close();
            let s = found.map_err(|e| CliError::usage(format!("SCHEDULE: {e}")))?;
            let list = crate::posters::posters(&s, &cfg.posters.business_number)
                .map_err(|e| CliError::usage(e.to_string()))?;
            let bytes = crate::posters::render(&s, &list, format, size)
                .map_err(|e| CliError::runtime(e.to_string()))?;
            std::fs::write(output, bytes).map_err(|e| {
                CliError::runtime(format!("cannot write {}: {e}", output.display()))
            })?;
            eprintln!("{} poster(s) written to {}", list.len(), output.display());
            Ok(())
        }
        Command::Backup { file } => {
            let cfg = load_config(&cli, None)?;
            crate::store::db::backup_file(&cfg.db_path(), file)
                .map_err(|e| CliError::runtime(e.to_string()))?;
            eprintln!("backup written to {}", file.display());
            Ok(())
        }
        Command::Config => {
            let cfg = load_config(&cli, None)?;
            print!("{}", cfg.redacted_toml());
            println!("# data directory: {}", cfg.data_dir.display());
            Ok(())
        }
    }
}

/// `tapak export audit`.
fn report(
    cfg: &Config,
    period: &str,
    date: Option<&str>,
    site: Option<String>,
    format: &str,
    output: Option<&std::path::Path>,
) -> Result<(), CliError> {
    use crate::reports::{render, PeriodKind};
    let bad = |what: &str| CliError::usage(what.to_string());
    let kind = PeriodKind::parse(period).ok_or_else(|| bad("PERIOD: daily, weekly or monthly"))?;
    let format = render::Format::parse(format)
        .ok_or_else(|| bad("--format: json, csv, xlsx, html or pdf"))?;
    let tz = cfg.timezone().map_err(|e| CliError::usage(e.to_string()))?;
    let now = crate::clock::now();
    let day = match date {
        None => now.with_timezone(&tz).date_naive(),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| CliError::usage(format!("--date: expected YYYY-MM-DD, got {d:?}")))?,
    };
    if !cfg.db_path().exists() {
        return Err(CliError::usage(format!(
            "no tapak database at {} (use --data to point at the data directory)",
            cfg.db_path().display()
        )));
    }
    let db = crate::store::Db::open(&cfg.db_path())?;
    let opts = crate::reports::Options::from_config(&cfg.reports);
    let made = runtime()?.block_on(db.read(move |c| {
        Ok(crate::store::reports::report(
            c,
            kind,
            day,
            site.as_deref(),
            tz,
            now,
            &opts,
        ))
    }));
    db.close();
    let r = made
        .map_err(|e| CliError::runtime(e.to_string()))?
        .map_err(|e| match e {
            crate::store::reports::ReportError::Store(crate::store::StoreError::NotFound(w)) => {
                CliError::usage(format!("--site: {w} not found"))
            }
            crate::store::reports::ReportError::Period(p) => CliError::usage(format!("--{p}")),
            other => CliError::runtime(other.to_string()),
        })?;
    let bytes = render::render(&r, format).map_err(|e| CliError::runtime(e.to_string()))?;
    match output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", path.display()))),
        None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)
            .map_err(|e| CliError::runtime(format!("cannot write to standard output: {e}"))),
    }
}

fn export_audit(
    cfg: &Config,
    from: &str,
    to: &str,
    site: Option<String>,
    output: &std::path::Path,
) -> Result<(), CliError> {
    use crate::audit::{self, AuditError};
    let period = audit::Period::parse(from, to).map_err(|e| CliError::usage(e.to_string()))?;
    let tz = cfg.timezone().map_err(|e| CliError::usage(e.to_string()))?;
    if !cfg.db_path().exists() {
        return Err(CliError::usage(format!(
            "no tapak database at {} (use --data to point at the data directory)",
            cfg.db_path().display()
        )));
    }
    let files = crate::evidence::EvidenceStore::open(&cfg.data_dir)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let key = audit::signing::load_or_create(&cfg.data_dir)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let db = crate::store::Db::open(&cfg.db_path())?;
    let req = audit::export::Request {
        period,
        site,
        now: crate::clock::now(),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} exporting {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let out = output.to_path_buf();
    let b2 = bar.clone();
    let res = db.read_blocking(move |c| {
        Ok(audit::export::export(
            c,
            &files,
            &key,
            tz,
            &req,
            &out,
            &mut |what, n| {
                b2.set_message(format!("{what}: {n}"));
                true
            },
        ))
    });
    bar.finish_and_clear();
    let res = res.map_err(CliError::from).and_then(|r| {
        let m = r.map_err(|e| match e {
            AuditError::Invalid(_) | AuditError::NotFound(_) => CliError::usage(e.to_string()),
            other => CliError::runtime(other.to_string()),
        })?;
        let m2 = m.clone();
        db.write_blocking(move |tx| audit::record_export(tx, "cli", &m2))?;
        Ok(m)
    });
    db.close();
    let m = res?;
    let c = &m.counts;
    println!(
        "{}: {} messages, {} issues, {} tasks, {} evidence files ({} missing), {} events; signed by key {}",
        output.display(),
        c.messages,
        c.issues,
        c.tasks,
        c.evidence_files,
        c.evidence_missing,
        c.events,
        m.key_fingerprint
    );
    Ok(())
}

/// `tapak verify --anchors FILE`: each posted day head against the ZIP's chain; exit 1 if one differs.
fn check_anchors(
    zip: &std::path::Path,
    m: &crate::audit::Manifest,
    file: &std::path::Path,
) -> Result<(), CliError> {
    use crate::audit::anchor::{parse, Match};
    let text = std::fs::read(file).map_err(|e| CliError {
        code: 2,
        message: format!("cannot read {}: {e}", file.display()),
    })?;
    let anchors = parse(&String::from_utf8_lossy(&text));
    if anchors.is_empty() {
        println!("  anchors: no \"tapak anchor\" line in {}", file.display());
        return Ok(());
    }
    let matches = crate::audit::verify::check_anchors(zip, m, &anchors).map_err(|e| CliError {
        code: 2,
        message: e.to_string(),
    })?;
    let mut differ = 0;
    println!("  anchors posted ({}):", anchors.len());
    for (a, r) in anchors.iter().zip(&matches) {
        let what = match r {
            Match::Matches => "matches this ZIP's chain".to_string(),
            Match::Differs { zip_hash } => {
                differ += 1;
                format!("DIFFERS: this ZIP has {zip_hash}")
            }
            Match::Outside => "not in this ZIP's stretch of the chain".to_string(),
        };
        println!(
            "    {} event {} head {}…: {what}",
            a.day,
            a.event,
            &a.head[..16]
        );
    }
    if differ > 0 {
        return Err(CliError {
            code: 1,
            message: format!(
                "tampered: {differ} posted chain head(s) differ from this ZIP's chain (rewritten after they were posted)"
            ),
        });
    }
    Ok(())
}

/// `tapak verify`: exit 0 intact, 1 tampered or incomplete, 2 unreadable.
fn verify_audit(file: &std::path::Path, anchors: Option<&std::path::Path>) -> Result<(), CliError> {
    use crate::audit::verify::{verify, Failure};
    match verify(file) {
        Ok(v) => {
            let m = &v.manifest;
            let c = &m.counts;
            println!("intact: {}", file.display());
            println!(
                "  period {} to {} ({}), {}",
                m.from,
                m.to,
                m.timezone,
                m.site
                    .as_ref()
                    .map(|s| format!("site {}", s.name))
                    .unwrap_or_else(|| "all sites".into())
            );
            println!(
                "  {} messages, {} issues, {} tasks, {} evidence files, {} events{}",
                c.messages,
                c.issues,
                c.tasks,
                c.evidence_files,
                c.events,
                match (m.chain.first_event, m.chain.last_event) {
                    (Some(a), Some(b)) => format!(
                        " (chain {a}..{b}, head {})",
                        &m.chain.head[..16.min(m.chain.head.len())]
                    ),
                    _ => String::new(),
                }
            );
            if c.evidence_missing > 0 {
                println!(
                    "  {} evidence items could not be included (evidence.jsonl says why)",
                    c.evidence_missing
                );
            }
            println!("  signed by key {}", v.fingerprint);
            match anchors {
                Some(a) => check_anchors(file, m, a),
                None => Ok(()),
            }
        }
        Err(Failure::Broken { item, reason }) => Err(CliError {
            code: 1,
            message: format!("tampered or incomplete: {item}: {reason}"),
        }),
        Err(Failure::Unreadable(r)) => Err(CliError {
            code: 2,
            message: format!("cannot check: {r}"),
        }),
    }
}

/// `tapak classify`: JSON lines in, JSON lines out, in order; bad lines get an error line and the rest continue.
fn classify(eval: Option<&str>, json: bool, without: &[String]) -> Result<(), CliError> {
    let mut excluded = Vec::new();
    for name in without {
        excluded.push(
            crate::classify::TrainingSource::parse(name.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--without: unknown training set {name:?} (dev, extra or dev2)"
                ))
            })?,
        );
    }
    let classifier = if excluded.is_empty() {
        crate::classify::Classifier::new()
    } else {
        crate::classify::Classifier::trained_without(&excluded)
            .map_err(|e| CliError::runtime(e.to_string()))?
    };
    if let Some(src) = eval {
        let text = if src == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::runtime(format!("cannot read standard input: {e}")))?;
            s
        } else {
            std::fs::read_to_string(src).map_err(|e| CliError::usage(format!("{src}: {e}")))?
        };
        let mut items = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let item: crate::classify::Labelled = serde_json::from_str(line).map_err(|e| {
                CliError::usage(format!("{src} line {}: not a labelled message: {e}", i + 1))
            })?;
            items.push(item);
        }
        if items.is_empty() {
            return Err(CliError::usage(format!("{src}: no labelled lines")));
        }
        let report = crate::classify::evaluate(&classifier, &items);
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        } else {
            print!("{report}");
        }
        return Ok(());
    }
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line =
            line.map_err(|e| CliError::runtime(format!("cannot read standard input: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let result = match serde_json::from_str::<serde_json::Value>(&line) {
            Err(e) => serde_json::json!({"id": null, "error": format!("not valid JSON: {e}")}),
            Ok(v) => {
                let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
                match v.get("text").and_then(|t| t.as_str()) {
                    None => {
                        serde_json::json!({"id": id, "error": "no \"text\" string in this line"})
                    }
                    Some(text) => {
                        let c = classifier.classify(text);
                        let mut o = serde_json::to_value(&c).unwrap_or_default();
                        if let Some(map) = o.as_object_mut() {
                            map.remove("kind_scores");
                            map.insert("id".into(), id);
                        }
                        o
                    }
                }
            }
        };
        writeln!(out, "{result}")
            .map_err(|e| CliError::runtime(format!("cannot write output: {e}")))?;
    }
    out.flush()
        .map_err(|e| CliError::runtime(format!("cannot write output: {e}")))?;
    Ok(())
}

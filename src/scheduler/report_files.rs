//! Scheduled delivery (`[reports]`): at the configured local times the day before's, the week before's and the month
//! before's reports are written as files under `DATA_DIR/reports/{daily,weekly,monthly}/`, kept `retention_days`, and
//! the weekly or monthly PDF is queued as a WhatsApp document to the configured recipients.
//!
//! [`tick`] is one deterministic step at a given `now` (the scheduler's tick calls it after its own transaction; tests
//! move a fake clock). A run is recorded in the database (`report_runs`) once its files are written, so a restart
//! neither skips nor repeats it, and runs missed while the appliance was off are each made once when it is back. Files are written to a temporary file in their directory and renamed into place,
//! so a reader never sees half a file. The document sends are keyed (report, rung `document`, recipient) in the
//! outbox, so a run made twice (a crash between its files and its record) still sends each PDF once.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::Serialize;

use crate::outbox::{About, Document, NewSend, Purpose, Route};
use crate::reports::period::{Period, PeriodKind};
use crate::reports::render::{self, Format};
use crate::reports::{Options, Report};
use crate::store::{Db, StoreError};

/// Which sites get their own files.
#[derive(Debug, Clone, PartialEq)]
pub enum Sites {
    /// None: only the firm's report (when `overall`).
    None,
    /// Every site (`sites = ["*"]`).
    Every,
    /// These, by id or name.
    Named(Vec<String>),
}

/// What delivery needs from the configuration (`[reports]`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub tz: chrono_tz::Tz,
    /// `DATA_DIR/reports`.
    pub dir: PathBuf,
    /// Local time of the daily run; None = no daily files.
    pub daily: Option<NaiveTime>,
    /// Weekday and local time of the weekly run.
    pub weekly: Option<(Weekday, NaiveTime)>,
    /// Day of the month (1-28) and local time of the monthly run.
    pub monthly: Option<(u32, NaiveTime)>,
    pub formats: Vec<Format>,
    /// The firm's report (every site together).
    pub overall: bool,
    pub sites: Sites,
    pub retention_days: i64,
    /// Phones or group ids the PDF of each period in `send_periods` goes to.
    pub send_to: Vec<String>,
    pub send_periods: Vec<PeriodKind>,
    pub send_route: Route,
    pub opts: Options,
}

fn time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// `monday` … `sunday` (or `mon` … `sun`), any case.
pub fn weekday(s: &str) -> Option<Weekday> {
    s.trim().parse::<Weekday>().ok()
}

impl Settings {
    /// From a validated configuration (anything that does not parse is off).
    pub fn from_config(cfg: &crate::config::Config, tz: chrono_tz::Tz) -> Settings {
        let r = &cfg.reports;
        let sites = if r.sites.iter().any(|s| s.trim() == "*") {
            Sites::Every
        } else if r.sites.is_empty() {
            Sites::None
        } else {
            Sites::Named(r.sites.iter().map(|s| s.trim().to_string()).collect())
        };
        Settings {
            tz,
            dir: cfg.data("reports"),
            daily: time(&r.daily_time),
            weekly: weekday(&r.weekly_day).zip(time(&r.weekly_time)),
            monthly: Some(r.monthly_day)
                .filter(|d| (1..=28).contains(d))
                .zip(time(&r.monthly_time)),
            formats: r.formats.iter().filter_map(|f| Format::parse(f)).collect(),
            overall: r.overall,
            sites,
            retention_days: i64::from(r.retention_days),
            send_to: r.send_to.iter().map(|s| s.trim().to_string()).collect(),
            send_periods: r
                .send_periods
                .iter()
                .filter_map(|p| PeriodKind::parse(p.trim()))
                .collect(),
            send_route: Route::parse(r.send_route.trim()).unwrap_or(Route::CloudApi),
            opts: Options::from_config(r),
        }
    }

    /// Off: nothing is written (the scheduler's tests build settings by hand).
    pub fn off(tz: chrono_tz::Tz) -> Settings {
        Settings {
            tz,
            dir: PathBuf::new(),
            daily: None,
            weekly: None,
            monthly: None,
            formats: vec![],
            overall: false,
            sites: Sites::None,
            retention_days: 1,
            send_to: vec![],
            send_periods: vec![],
            send_route: Route::CloudApi,
            opts: Options::default(),
        }
    }

    fn is_on(&self) -> bool {
        !self.formats.is_empty()
            && (self.overall || self.sites != Sites::None)
            && (self.daily.is_some() || self.weekly.is_some() || self.monthly.is_some())
    }

    /// The format the daily summary links to: the first of PDF, HTML, XLSX, CSV, JSON that is written.
    pub fn link_format(&self) -> Option<Format> {
        [
            Format::Pdf,
            Format::Html,
            Format::Xlsx,
            Format::Csv,
            Format::Json,
        ]
        .into_iter()
        .find(|f| self.formats.contains(f))
    }

    /// The file name of the firm's daily report for `day`, when daily files of the firm are written.
    pub fn daily_file(&self, day: NaiveDate) -> Option<String> {
        let f = self.link_format()?;
        (self.daily.is_some() && self.overall)
            .then(|| format!("tapak-daily-{}.{}", day.format("%Y-%m-%d"), f.extension()))
    }
}

/// The instant a local date and time falls on (the earlier of a repeated hour; an hour later in a skipped one).
fn local(d: NaiveDate, t: NaiveTime, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let dt = d.and_time(t);
    tz.from_local_datetime(&dt)
        .earliest()
        .or_else(|| {
            dt.checked_add_signed(Duration::hours(1))
                .and_then(|x| tz.from_local_datetime(&x).earliest())
        })
        .map(|x| x.with_timezone(&Utc))
}

fn days_back(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    d.checked_sub_signed(Duration::days(n))
}

/// The latest run of `kind` due at or before `now`: when it was due and the period it reports (the day, Monday-to-
/// Sunday week or month before the run's day). None when that kind is off.
pub fn due_run(
    s: &Settings,
    kind: PeriodKind,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Period)> {
    let today = now.with_timezone(&s.tz).date_naive();
    let (run_day, at) = match kind {
        PeriodKind::Daily => {
            let t = s.daily?;
            (0..=1)
                .filter_map(|b| days_back(today, b))
                .filter_map(|d| Some((d, local(d, t, s.tz)?)))
                .find(|(_, at)| *at <= now)?
        }
        PeriodKind::Weekly => {
            let (wd, t) = s.weekly?;
            (0..=7)
                .filter_map(|b| days_back(today, b))
                .filter(|d| d.weekday() == wd)
                .filter_map(|d| Some((d, local(d, t, s.tz)?)))
                .find(|(_, at)| *at <= now)?
        }
        PeriodKind::Monthly => {
            let (md, t) = s.monthly?;
            let this = today.with_day(md);
            let before = today
                .with_day(1)
                .and_then(|d| d.pred_opt())
                .and_then(|d| d.with_day(md));
            [this, before]
                .into_iter()
                .flatten()
                .filter_map(|d| Some((d, local(d, t, s.tz)?)))
                .find(|(_, at)| *at <= now)?
        }
    };
    // The period before the run's day: the day before; the last whole week (Monday to Sunday) before the run's
    // week; the month before the run's month.
    let in_period = match kind {
        PeriodKind::Daily => run_day.pred_opt()?,
        PeriodKind::Weekly => days_back(
            run_day,
            i64::from(run_day.weekday().num_days_from_monday()) + 1,
        )?,
        PeriodKind::Monthly => run_day.with_day(1)?.pred_opt()?,
    };
    Some((at, Period::containing(kind, in_period, s.tz).ok()?))
}

/// What one delivery tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Runs made (a period of a kind).
    pub runs: usize,
    /// Files written.
    pub files: usize,
    /// Documents queued.
    pub sends: usize,
    /// Old files deleted.
    pub deleted: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] crate::store::reports::ReportError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("{0}")]
    Io(String),
}

/// One run's work at a time in this process (the scheduler's loop and a test's tick may meet).
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Most periods of one kind a tick catches up (beyond that, and beyond the retention, missed runs are not made).
const MAX_CATCH_UP: usize = 62;

/// The periods of `kind` to make at `now`, oldest first: the latest run due and every run missed since the last one
/// made (within the retention). The first time a kind runs it has no last run: the run due then is recorded as made
/// without files (a new install does not write reports of the time before it), and files start with the next one.
async fn todo(
    db: &Db,
    s: &Settings,
    kind: PeriodKind,
    now: DateTime<Utc>,
) -> Result<(Vec<(DateTime<Utc>, Period)>, bool), DeliveryError> {
    let Some((due, latest)) = due_run(s, kind, now) else {
        return Ok((vec![], false));
    };
    let Some(last) = db
        .read(move |c| crate::store::reports::last_run(c, kind))
        .await?
    else {
        return Ok((vec![(due, latest)], true));
    };
    let oldest = days_back(now.with_timezone(&s.tz).date_naive(), s.retention_days);
    let mut out = vec![];
    let mut p = latest;
    while p.first_day > last && out.len() < MAX_CATCH_UP && oldest.is_none_or(|o| p.last_day >= o) {
        let prev = p.previous(s.tz).ok();
        out.push((due, p));
        match prev {
            Some(x) => p = x,
            None => break,
        }
    }
    out.reverse();
    Ok((out, false))
}

/// Makes the runs due at `now` that were not made yet (see [`todo`]), then deletes files past their retention.
pub async fn tick(db: &Db, s: &Settings, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    let mut out = Delivered::default();
    if !s.is_on() {
        return Ok(out);
    }
    let _one = RUNNING.lock().await;
    for kind in [PeriodKind::Daily, PeriodKind::Weekly, PeriodKind::Monthly] {
        let (periods, baseline) = todo(db, s, kind, now).await?;
        for (due, period) in periods {
            let files = if baseline {
                vec![]
            } else {
                run(db, s, &period, now, &mut out).await?
            };
            let (first, label, n) = (period.first_day, period.label(), files.len());
            db.write(move |tx| {
                crate::store::reports::record_run(tx, kind, first, &label, due, now, &files)
            })
            .await?;
            if !baseline {
                out.runs += 1;
                tracing::info!(period = kind.as_str(), label = %period.label(), files = n, "report files written");
            }
        }
    }
    if out.runs > 0 {
        let (dir, today, keep) = (
            s.dir.clone(),
            now.with_timezone(&s.tz).date_naive(),
            s.retention_days,
        );
        out.deleted = tokio::task::spawn_blocking(move || sweep(&dir, today, keep))
            .await
            .map_err(|e| DeliveryError::Io(e.to_string()))?;
    }
    Ok(out)
}

/// The scopes of a run: the firm (None) and each site's id.
async fn scopes(db: &Db, s: &Settings) -> Result<Vec<Option<String>>, StoreError> {
    let mut out: Vec<Option<String>> = vec![];
    if s.overall {
        out.push(None);
    }
    let sites = s.sites.clone();
    let ids: Vec<i64> = db
        .read(move |c| match &sites {
            Sites::None => Ok(vec![]),
            Sites::Every => crate::store::reports::site_ids(c),
            Sites::Named(keys) => Ok(keys
                .iter()
                .filter_map(|k| match crate::store::reports::find_site(c, k) {
                    Ok(r) => Some(r.id),
                    Err(_) => {
                        tracing::warn!(site = %k, "[reports] sites names no such site; skipped");
                        None
                    }
                })
                .collect()),
        })
        .await?;
    out.extend(ids.into_iter().map(|id| Some(id.to_string())));
    Ok(out)
}

/// Writes the files of one period for every scope; queues the PDFs to send. Answers the file names written.
async fn run(
    db: &Db,
    s: &Settings,
    period: &Period,
    now: DateTime<Utc>,
    out: &mut Delivered,
) -> Result<Vec<String>, DeliveryError> {
    let dir = s.dir.join(period.kind.as_str());
    let mut names = vec![];
    for scope in scopes(db, s).await? {
        let (kind, day, tz, opts) = (period.kind, period.first_day, s.tz, s.opts.clone());
        let report = db
            .read(move |c| {
                Ok(crate::store::reports::report(
                    c,
                    kind,
                    day,
                    scope.as_deref(),
                    tz,
                    now,
                    &opts,
                ))
            })
            .await??;
        let (d, formats, r) = (dir.clone(), s.formats.clone(), report.clone());
        let written = tokio::task::spawn_blocking(move || write_all(&d, &r, &formats))
            .await
            .map_err(|e| DeliveryError::Io(e.to_string()))??;
        out.files += written.len();
        if s.send_periods.contains(&kind) {
            let pdf = render::file_name(&report, Format::Pdf);
            if written.contains(&pdf) {
                out.sends += send_pdf(db, s, &report, &dir.join(&pdf), &pdf, now).await?;
            }
        }
        names.extend(written);
    }
    Ok(names)
}

/// Renders `r` in each format and writes each file atomically into `dir`. Answers the names written.
fn write_all(dir: &Path, r: &Report, formats: &[Format]) -> Result<Vec<String>, DeliveryError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| DeliveryError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let mut names = vec![];
    for &f in formats {
        let bytes = render::render(r, f)?;
        let name = render::file_name(r, f);
        write_atomically(dir, &name, &bytes)?;
        names.push(name);
    }
    Ok(names)
}

/// Writes `bytes` to `dir/name` through a temporary file in `dir`, flushed to disk, then renamed over it.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    use std::io::Write;
    let io = |e: std::io::Error| {
        DeliveryError::Io(format!("cannot write {}: {e}", dir.join(name).display()))
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(dir.join(name)).map_err(|e| io(e.error))?;
    Ok(())
}

/// The id a report's sends are about: `site × 10⁹ + kind × 10⁸ + YYYYMMDD` of the period's first day (kind 1 daily,
/// 2 weekly, 3 monthly; site 0 for the firm), so each period and scope is its own subject.
pub fn about_id(r: &Report) -> i64 {
    let kind = match r.period.kind {
        PeriodKind::Daily => 1,
        PeriodKind::Weekly => 2,
        PeriodKind::Monthly => 3,
    };
    let day: i64 = r
        .period
        .first_day
        .format("%Y%m%d")
        .to_string()
        .parse()
        .unwrap_or(0);
    let site = r.site.as_ref().map(|s| s.id).unwrap_or(0);
    site.checked_mul(1_000_000_000)
        .and_then(|x| x.checked_add(kind * 100_000_000 + day))
        .unwrap_or(day)
}

/// The WhatsApp caption of a report's PDF: what, when, for whom, and the headline numbers.
pub fn caption(r: &Report) -> String {
    let who = r
        .site
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "all sites".into());
    let s = &r.summary;
    let work = match s.completion_rate {
        Some(x) => format!("scheduled work done {:.0}%", x * 100.0),
        None => "no scheduled work".into(),
    };
    let text = format!(
        "tapak {} report {} ({} to {}), {who}: tickets opened {}, resolved {}, overdue now {}; {work}.",
        r.period.kind.as_str(),
        r.period.label(),
        r.period.first_day,
        r.period.last_day,
        s.tickets_opened,
        s.tickets_resolved,
        r.tickets.overdue_now,
    );
    text.chars().take(1000).collect()
}

async fn send_pdf(
    db: &Db,
    s: &Settings,
    r: &Report,
    path: &Path,
    name: &str,
    now: DateTime<Utc>,
) -> Result<usize, DeliveryError> {
    let mut n = 0;
    for to in &s.send_to {
        let send = NewSend::document(
            to.clone(),
            s.send_route,
            Document::new(path.to_string_lossy(), name),
            caption(r),
            Purpose::Summary,
            About::report(about_id(r)),
        );
        match crate::outbox::documents::enqueue_document(db, send, now).await {
            Ok(Some(_)) => n += 1,
            Ok(None) => {}
            Err(StoreError::Invalid(why)) => {
                tracing::warn!(to = %to, %why, "report PDF not queued")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// A report file's name, read back: `tapak-{period}-{label}[-site-{id}].{ext}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FileName {
    pub period: PeriodKind,
    pub label: String,
    /// The site's id; null for the firm.
    pub site: Option<i64>,
    /// `pdf`, `xlsx`, `html`, `zip` (CSV) or `json`.
    pub extension: String,
    /// The period's last local day.
    #[schema(value_type = String)]
    pub last_day: NaiveDate,
}

/// Reads a file name written by delivery; None for anything else (a path, a temporary file, another name).
pub fn parse_name(name: &str) -> Option<FileName> {
    if name.contains(['/', '\\']) || name.contains("..") {
        return None;
    }
    let rest = name.strip_prefix("tapak-")?;
    let (stem, ext) = rest.rsplit_once('.')?;
    if !["pdf", "xlsx", "html", "zip", "json"].contains(&ext) {
        return None;
    }
    let (kind, rest) = stem.split_once('-')?;
    let kind = PeriodKind::parse(kind)?;
    let (label, site) = match rest.split_once("-site-") {
        Some((l, id)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            (l, Some(id.parse().ok()?))
        }
        Some(_) => return None,
        None => (rest, None),
    };
    let last_day = match kind {
        PeriodKind::Daily => NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?,
        PeriodKind::Weekly => {
            let (y, w) = label.split_once("-W")?;
            NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, Weekday::Sun)?
        }
        PeriodKind::Monthly => {
            let first = NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d").ok()?;
            Period::containing(PeriodKind::Monthly, first, chrono_tz::UTC)
                .ok()?
                .last_day
        }
    };
    Some(FileName {
        period: kind,
        label: label.to_string(),
        site,
        extension: ext.to_string(),
        last_day,
    })
}

/// Deletes report files whose period ended more than `keep_days` days before `today`. Answers how many.
pub fn sweep(dir: &Path, today: NaiveDate, keep_days: i64) -> usize {
    let Some(cutoff) = days_back(today, keep_days) else {
        return 0;
    };
    let mut n = 0;
    for kind in ["daily", "weekly", "monthly"] {
        let Ok(entries) = std::fs::read_dir(dir.join(kind)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(f) = parse_name(&name) else { continue };
            if f.last_day < cutoff {
                match std::fs::remove_file(e.path()) {
                    Ok(()) => n += 1,
                    Err(err) => {
                        tracing::warn!(file = %name, error = %err, "cannot delete an old report file")
                    }
                }
            }
        }
    }
    n
}

/// A report file on disk.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileInfo {
    pub name: String,
    #[serde(flatten)]
    pub about: FileName,
    pub bytes: u64,
    /// When it was written (the file's modification time).
    pub written_at: Option<DateTime<Utc>>,
}

/// The report files in `dir` (of one period kind, or all), newest period first.
pub fn list(dir: &Path, kind: Option<PeriodKind>) -> Vec<FileInfo> {
    let mut out = vec![];
    for k in [PeriodKind::Daily, PeriodKind::Weekly, PeriodKind::Monthly] {
        if kind.is_some_and(|want| want != k) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir.join(k.as_str())) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let (Some(about), Ok(meta)) = (parse_name(&name), e.metadata()) else {
                continue;
            };
            if !meta.is_file() || about.period != k {
                continue;
            }
            out.push(FileInfo {
                name,
                about,
                bytes: meta.len(),
                written_at: meta.modified().ok().map(DateTime::<Utc>::from),
            });
        }
    }
    out.sort_by(|a, b| {
        b.about
            .last_day
            .cmp(&a.about.last_day)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// The path of the report file `name` in `dir`: only a name delivery writes, only a regular file (not a link).
pub fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    let f = parse_name(name)?;
    let path = dir.join(f.period.as_str()).join(name);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    meta.file_type().is_file().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kl(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Kuala_Lumpur
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn settings() -> Settings {
        let t = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        Settings {
            daily: Some(t),
            weekly: Some((Weekday::Mon, t)),
            monthly: Some((1, t)),
            formats: vec![Format::Pdf],
            overall: true,
            ..Settings::off(chrono_tz::Asia::Kuala_Lumpur)
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_run_due_is_the_latest_and_reports_the_period_before_it() {
        let s = settings();
        // Tuesday 8 Dec 2026, 05:59: today's daily run is not due; yesterday's (reporting the 6th) is.
        let (at, p) = due_run(&s, PeriodKind::Daily, kl(2026, 12, 8, 5, 59)).unwrap();
        assert_eq!(
            (at, p.first_day),
            (kl(2026, 12, 7, 6, 0), day("2026-12-06"))
        );
        let (at, p) = due_run(&s, PeriodKind::Daily, kl(2026, 12, 8, 6, 0)).unwrap();
        assert_eq!(
            (at, p.first_day),
            (kl(2026, 12, 8, 6, 0), day("2026-12-07"))
        );
        // Weekly on Monday 06:00: Monday 7 Dec's run reports 30 Nov - 6 Dec, until Monday 14 Dec's.
        let (at, p) = due_run(&s, PeriodKind::Weekly, kl(2026, 12, 13, 23, 0)).unwrap();
        assert_eq!(
            (at, p.first_day, p.last_day),
            (kl(2026, 12, 7, 6, 0), day("2026-11-30"), day("2026-12-06"))
        );
        let (_, p) = due_run(&s, PeriodKind::Weekly, kl(2026, 12, 14, 6, 0)).unwrap();
        assert_eq!(p.label(), "2026-W50");
        // A run on Wednesday reports the last whole week, not the one under way.
        let wed = Settings {
            weekly: Some((Weekday::Wed, NaiveTime::from_hms_opt(6, 0, 0).unwrap())),
            ..settings()
        };
        let (_, p) = due_run(&wed, PeriodKind::Weekly, kl(2026, 12, 9, 7, 0)).unwrap();
        assert_eq!(p.first_day, day("2026-11-30"));
        // Monthly on the 1st: the month before; before 06:00 on the 1st, still the month before that.
        let (_, p) = due_run(&s, PeriodKind::Monthly, kl(2027, 1, 1, 6, 0)).unwrap();
        assert_eq!(p.label(), "2026-12");
        let (_, p) = due_run(&s, PeriodKind::Monthly, kl(2027, 1, 1, 5, 0)).unwrap();
        assert_eq!(p.label(), "2026-11");
        assert!(due_run(
            &Settings::off(chrono_tz::UTC),
            PeriodKind::Daily,
            kl(2027, 1, 1, 5, 0)
        )
        .is_none());
    }

    #[test]
    fn only_report_file_names_are_read_and_their_period_end_is_known() {
        let f = parse_name("tapak-weekly-2026-W50-site-3.pdf").unwrap();
        assert_eq!(
            (f.period, f.label.as_str(), f.site, f.last_day),
            (PeriodKind::Weekly, "2026-W50", Some(3), day("2026-12-13"))
        );
        assert_eq!(
            parse_name("tapak-monthly-2026-02.xlsx").unwrap().last_day,
            day("2026-02-28")
        );
        assert_eq!(parse_name("tapak-daily-2026-12-07.zip").unwrap().site, None);
        for bad in [
            "../tapak-daily-2026-12-07.pdf",
            "daily/tapak-daily-2026-12-07.pdf",
            "tapak-daily-2026-12-07.pdf/..",
            "tapak-daily-2026-12-07.exe",
            "tapak-yearly-2026.pdf",
            "tapak-daily-2026-13-07.pdf",
            "tapak-daily-2026-12-07-site-x.pdf",
            ".tmp-abc",
            "tapak.db",
        ] {
            assert!(parse_name(bad).is_none(), "{bad}");
        }
    }
}

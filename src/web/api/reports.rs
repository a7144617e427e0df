//! `GET /api/v1/reports/{period}` (JSON) and `GET /api/v1/reports/{period}/download?format=` (files): daily, weekly
//! and monthly reports (docs/reports.md defines every number).

use axum::extract::{Path, State};
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::auth::Permission;
use crate::reports::{PeriodKind, Report};
use crate::scheduler::report_files::{self, FileInfo};
use crate::store::reports::ReportError;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, QueryParams};
use crate::web::AppState;

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Period(p) => ApiError::Invalid(p.to_string()),
            ReportError::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// A day in the period, `YYYY-MM-DD` in the configured time zone; default today.
    pub date: Option<String>,
    /// Site id or name; default the whole firm.
    pub site: Option<String>,
}

fn kind(period: &str) -> ApiResult<PeriodKind> {
    PeriodKind::parse(period).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no report period {period:?}: daily, weekly or monthly"
        ))
    })
}

/// The report asked for, computed off the async threads.
pub async fn load(st: &AppState, kind: PeriodKind, p: &ReportParams) -> ApiResult<Report> {
    let now = st.clock.now();
    let tz = st.tz;
    let date = match p.date.as_deref() {
        None => now.with_timezone(&tz).date_naive(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid(format!("date: expected YYYY-MM-DD, got {d:?}")))?,
    };
    let site = p.site.clone();
    let opts = crate::reports::Options::from_config(&st.cfg.reports);
    let r = st
        .db
        .read(move |c| {
            Ok(crate::store::reports::report(
                c,
                kind,
                date,
                site.as_deref(),
                tz,
                now,
                &opts,
            ))
        })
        .await??;
    Ok(r)
}

/// A report for the period (`daily`, `weekly` from Monday, `monthly`) containing `date`, for a site or the firm,
/// with the previous period's headline numbers for comparison.
#[utoipa::path(get, path = "/api/v1/reports/{period}", tag = "reports",
    params(("period" = String, Path, description = "daily, weekly or monthly"), ReportParams),
    responses((status = 200, body = Report), (status = 400, description = "bad date"),
        (status = 404, description = "unknown period or site")),
    security(("token" = []), ("session" = [])))]
pub async fn get_report(
    State(st): State<AppState>,
    caller: Caller,
    Path(period): Path<String>,
    QueryParams(p): QueryParams<ReportParams>,
) -> ApiResult<Json<Report>> {
    caller.require(Permission::ReadRecords)?;
    let kind = kind(&period)?;
    Ok(Json(load(&st, kind, &p).await?))
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// `csv` (a ZIP of one CSV per table), `xlsx`, `html`, `pdf` or `json`.
    pub format: String,
    /// A day in the period, `YYYY-MM-DD` in the configured time zone; default today.
    pub date: Option<String>,
    /// Site id or name; default the whole firm.
    pub site: Option<String>,
}

/// The report as a file: CSV (ZIP), XLSX, HTML or PDF.
#[utoipa::path(get, path = "/api/v1/reports/{period}/download", tag = "reports",
    params(("period" = String, Path, description = "daily, weekly or monthly"), DownloadParams),
    responses((status = 200, description = "the file, as an attachment"), (status = 400, description = "bad format or date"),
        (status = 404, description = "unknown period or site")),
    security(("token" = []), ("session" = [])))]
pub async fn download(
    State(st): State<AppState>,
    caller: Caller,
    Path(period): Path<String>,
    QueryParams(p): QueryParams<DownloadParams>,
) -> ApiResult<axum::response::Response> {
    use crate::reports::render::{self, Format};
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    caller.require(Permission::ReadRecords)?;
    let kind = kind(&period)?;
    let format = Format::parse(&p.format).ok_or_else(|| {
        ApiError::invalid(format!(
            "format: {:?} is not one of csv, xlsx, html, pdf, json",
            p.format
        ))
    })?;
    let report = load(
        &st,
        kind,
        &ReportParams {
            date: p.date.clone(),
            site: p.site.clone(),
        },
    )
    .await?;
    let name = render::file_name(&report, format);
    let bytes = tokio::task::spawn_blocking(move || render::render(&report, format))
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.mime()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilesParams {
    /// `daily`, `weekly` or `monthly`; default every period.
    pub period: Option<String>,
}

/// The report files written at the configured times (`[reports]`), newest period first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileList {
    pub items: Vec<FileInfo>,
}

/// The report files the appliance wrote on schedule (`[reports]` in the configuration), kept for
/// `retention_days`. Download one with `GET /api/v1/reports/files/{name}`.
#[utoipa::path(get, path = "/api/v1/reports/files", tag = "reports", params(FilesParams),
    responses((status = 200, body = FileList), (status = 400, description = "bad period")),
    security(("token" = []), ("session" = [])))]
pub async fn files(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<FilesParams>,
) -> ApiResult<Json<FileList>> {
    caller.require(Permission::ReadRecords)?;
    let kind = match p.period.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => Some(PeriodKind::parse(k).ok_or_else(|| {
            ApiError::invalid(format!("period: {k:?} is not daily, weekly or monthly"))
        })?),
    };
    let dir = st.cfg.data("reports");
    let items = tokio::task::spawn_blocking(move || report_files::list(&dir, kind))
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    Ok(Json(FileList { items }))
}

/// One report file by name (as `GET /api/v1/reports/files` lists it), as an attachment. Only the names the
/// appliance writes are served: anything else, a path included, is 404.
#[utoipa::path(get, path = "/api/v1/reports/files/{name}", tag = "reports",
    params(("name" = String, Path, description = "tapak-{period}-{label}[-site-{id}].{ext}")),
    responses((status = 200, description = "the file, as an attachment"), (status = 404, description = "no such file")),
    security(("token" = []), ("session" = [])))]
pub async fn file(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    caller.require(Permission::ReadRecords)?;
    let dir = st.cfg.data("reports");
    let n = name.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        report_files::find(&dir, &n).and_then(|p| std::fs::read(p).ok())
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?
    .ok_or_else(|| ApiError::NotFound(format!("no report file {name:?}")))?;
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.essence_str()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

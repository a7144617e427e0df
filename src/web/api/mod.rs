//! `/api/v1` resources. Handlers check the caller's role, translate parameters and call the store.

pub mod connections;
pub mod directory;
pub mod evidence;
pub mod exports;
pub mod imports;
pub mod messages;
pub mod outbox;
pub mod records;
pub mod reports;
pub mod schedules;
pub mod users;

use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/imports",
            get(imports::list)
                .post(imports::create)
                .layer(axum::extract::DefaultBodyLimit::max(
                    state.cfg.server.upload_body_limit,
                )),
        )
        .route("/api/v1/messages", get(messages::list))
        .route("/api/v1/messages/{id}", get(messages::get_one))
        .route("/api/v1/search", get(messages::search))
        .route("/api/v1/dashboard", get(messages::dashboard))
        .route("/api/v1/chats", get(directory::list_chats))
        .route(
            "/api/v1/chats/{id}",
            get(directory::get_chat).patch(directory::update_chat),
        )
        .route(
            "/api/v1/sites",
            get(directory::list_sites).post(directory::create_site),
        )
        .route(
            "/api/v1/sites/{id}",
            axum::routing::patch(directory::update_site),
        )
        .route(
            "/api/v1/people",
            get(directory::list_people).post(directory::create_person),
        )
        .route(
            "/api/v1/people/{id}",
            axum::routing::patch(directory::update_person),
        )
        .route(
            "/api/v1/people/{id}/merge",
            axum::routing::post(directory::merge_person),
        )
        .route(
            "/api/v1/vendors",
            get(directory::list_vendors).post(directory::create_vendor),
        )
        .route(
            "/api/v1/vendors/{id}",
            axum::routing::patch(directory::update_vendor),
        )
        .route("/api/v1/evidence/{id}", get(evidence::get_one))
        .route(
            "/api/v1/evidence/{id}/record",
            axum::routing::post(records::move_evidence),
        )
        .route("/api/v1/issues", get(records::list_issues))
        .route("/api/v1/issues/export", get(records::export_issues))
        .route("/api/v1/issues/{id}", get(records::get_issue))
        .route("/api/v1/issues/{id}/timeline", get(records::issue_timeline))
        .route(
            "/api/v1/issues/{id}/status",
            axum::routing::post(records::set_status),
        )
        .route(
            "/api/v1/issues/{id}/assign",
            axum::routing::post(records::assign),
        )
        .route(
            "/api/v1/issues/{id}/merge",
            axum::routing::post(records::merge),
        )
        .route("/api/v1/exports/audit", get(exports::audit_zip))
        .route("/api/v1/exports/audit/key", get(exports::signing_key))
        .route("/api/v1/tasks", get(records::list_tasks))
        .route("/api/v1/tasks/{id}", get(records::get_task))
        .route(
            "/api/v1/messages/{id}/classification",
            axum::routing::post(records::reclassify),
        )
        .route(
            "/api/v1/messages/{id}/record",
            axum::routing::post(records::move_message),
        )
        .route("/api/v1/repeats", get(records::repeats))
        .route("/api/v1/outbox", get(outbox::list))
        .route("/api/v1/reports/files", get(reports::files))
        .route("/api/v1/reports/files/{name}", get(reports::file))
        .route("/api/v1/reports/{period}", get(reports::get_report))
        .route("/api/v1/reports/{period}/download", get(reports::download))
        .route(
            "/api/v1/settings/reminder-texts",
            get(outbox::get_texts).put(outbox::put_texts),
        )
        .route(
            "/api/v1/settings/sla",
            get(records::get_sla).put(records::put_sla),
        )
        .route(
            "/api/v1/schedules",
            get(schedules::list).post(schedules::create),
        )
        .route(
            "/api/v1/schedules/{id}",
            get(schedules::get_one)
                .patch(schedules::update)
                .delete(schedules::delete),
        )
        .route("/api/v1/schedules/{id}/posters", get(schedules::posters))
        .route("/api/v1/occurrences", get(schedules::list_occurrences))
        .route(
            "/api/v1/occurrences/{id}/excuse",
            axum::routing::post(schedules::excuse),
        )
        .route("/api/v1/evidence/{id}/file", get(evidence::file))
        .route("/api/v1/evidence/{id}/thumbnail", get(evidence::thumbnail))
        .merge(users::routes())
        .merge(connections::routes())
}

/// Unknown `/api/` paths get a JSON 404, never the UI.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API resource at {}", uri.path()))
}

/// `{"items": [...], "next_cursor": ...}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T: Serialize> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Site id or name.
    pub site: Option<String>,
    /// Chat id.
    pub chat: Option<i64>,
    /// Person id or phone number.
    pub person: Option<String>,
    /// `YYYY-MM-DD` (in the configured time zone) or RFC 3339; inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD` (whole day included) or RFC 3339; inclusive.
    pub to: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    /// `cloud_api`, `waha`, `evolution` or `import`.
    pub source: Option<String>,
    /// Message type (`text`, `media`, …).
    #[serde(rename = "type")]
    pub msg_type: Option<String>,
    /// Search text (for `/search`).
    pub q: Option<String>,
}

impl ListParams {
    /// The decoded `cursor`, if one was given.
    pub fn cursor(&self) -> ApiResult<Option<crate::store::messages::Cursor>> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => crate::store::messages::Cursor::decode(c)
                .map(Some)
                .ok_or_else(|| ApiError::invalid("cursor: not a cursor returned by this API")),
        }
    }
    pub fn limit(&self) -> ApiResult<usize> {
        match self.limit {
            None => Ok(50),
            Some(0) => Err(ApiError::invalid("limit: must be between 1 and 500")),
            Some(n) if n > 500 => Err(ApiError::invalid("limit: must be between 1 and 500")),
            Some(n) => Ok(n),
        }
    }
}

/// Parses a `from`/`to` bound into unix milliseconds. A date means the start (from) or end (to) of that day.
pub fn time_bound(field: &str, v: &str, tz: chrono_tz::Tz, end: bool) -> ApiResult<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(format!(
            "{field}: expected YYYY-MM-DD or an RFC 3339 time, got {v:?}"
        ))
    })?;
    let day = if end { d.succ_opt().unwrap_or(d) } else { d };
    let start = crate::store::day_start_ms(day, tz).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field}: {v} does not exist in the configured time zone"
        ))
    })?;
    Ok(if end { start - 1 } else { start })
}

/// Distinguishes a missing field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

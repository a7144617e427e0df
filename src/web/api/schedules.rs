//! Schedules of expected work and their occurrences (issue 18): create, read, edit, delete; list occurrences; excuse.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::auth::Permission;
use crate::schedule::ScheduleSpec;
use crate::store::occurrences::{self, Occurrence};
use crate::store::schedules::{self, Schedule, ScheduleRow};
use crate::store::{chats, events, StoreError};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, JsonBody, QueryParams};
use crate::web::AppState;

use super::Page;

/// A schedule definition (`interfaces.md`, "schedule"), plus how reminders travel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ScheduleInput {
    #[serde(flatten)]
    pub spec: ScheduleSpec,
    /// `cloud_api`, `waha` or `evolution`; omitted = the site's default.
    #[serde(default)]
    pub route: Option<String>,
    /// `group`, `person` or `both`; omitted = the site's default.
    #[serde(default)]
    pub audience: Option<String>,
}

fn from_json(v: serde_json::Value) -> ApiResult<ScheduleInput> {
    serde_json::from_value(v).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

/// Validates the definition and resolves its site and chat (by id or name). Errors name the field.
async fn resolve(st: &AppState, input: ScheduleInput) -> ApiResult<ScheduleRow> {
    input
        .spec
        .check(st.tz)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Some(r) = &input.route {
        if !matches!(r.as_str(), "cloud_api" | "waha" | "evolution") {
            return Err(ApiError::invalid(
                "route: one of cloud_api, waha, evolution",
            ));
        }
    }
    if let Some(a) = &input.audience {
        if !matches!(a.as_str(), "group" | "person" | "both") {
            return Err(ApiError::invalid("audience: one of group, person, both"));
        }
    }
    let site_key = input.spec.site.clone().filter(|s| !s.trim().is_empty());
    let chat_key = input.spec.chat.clone().filter(|s| !s.trim().is_empty());
    let (site_id, chat_id) = st
        .db
        .read(move |c| {
            let site = match &site_key {
                Some(k) => Some(
                    chats::find_site(c, k.trim())?
                        .ok_or_else(|| StoreError::Invalid(format!("site: no site {k:?}")))?
                        .id,
                ),
                None => None,
            };
            let chat = match &chat_key {
                Some(k) => {
                    let by_id = match k.trim().parse::<i64>() {
                        Ok(id) => chats::get(c, id).ok().map(|ch| ch.id),
                        Err(_) => None,
                    };
                    Some(
                        match by_id {
                            Some(id) => Some(id),
                            None => chats::find_by_name(c, k.trim())?,
                        }
                        .ok_or_else(|| StoreError::Invalid(format!("chat: no chat {k:?}")))?,
                    )
                }
                None => None,
            };
            Ok((site, chat))
        })
        .await?;
    Ok(ScheduleRow {
        spec: input.spec.normalized(),
        site_id,
        chat_id,
        route: input.route,
        audience: input.audience,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleParams {
    /// Site id or name.
    pub site: Option<String>,
}

async fn site_filter(st: &AppState, site: Option<String>) -> ApiResult<Option<i64>> {
    match site {
        None => Ok(None),
        Some(k) => {
            let found = st.db.read(move |c| chats::find_site(c, k.trim())).await?;
            Ok(Some(found.map(|s| s.id).unwrap_or(-1)))
        }
    }
}

/// Every schedule (of a site), newest first.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(ScheduleParams),
    responses((status = 200, body = Page<Schedule>)), security(("token" = []), ("session" = [])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<ScheduleParams>,
) -> ApiResult<Json<Page<Schedule>>> {
    caller.require(Permission::ReadOperational)?;
    let site = site_filter(&st, p.site).await?;
    let items = st.db.read(move |c| schedules::list(c, site)).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = i64, Path)),
    responses((status = 200, body = Schedule), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Permission::ReadOperational)?;
    Ok(Json(st.db.read(move |c| schedules::get(c, id)).await?))
}

/// Creates a schedule. 400 names the field at fault (an invalid RRULE, an unknown zone, a window longer than the
/// period, ...).
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleInput,
    responses((status = 201, body = Schedule), (status = 400)), security(("token" = []), ("session" = [])))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    caller.require(Permission::Manage)?;
    let row = resolve(&st, from_json(body)?).await?;
    let from_ms = st
        .clock
        .now()
        .checked_sub_signed(chrono::Duration::minutes(row.spec.window_minutes))
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    let actor = caller.actor();
    let id = st
        .db
        .write(move |tx| {
            let id = schedules::insert(tx, &row, from_ms)?;
            events::append(
                tx,
                &actor,
                "schedule.created",
                "schedule",
                Some(&id.to_string()),
                &serde_json::to_value(&row.spec)?,
            )?;
            Ok(id)
        })
        .await?;
    let s = st.db.read(move |c| schedules::get(c, id)).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// Changes some fields of a schedule (the same fields and checks as creating one).
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = i64, Path)),
    request_body = Object, responses((status = 200, body = Schedule), (status = 400), (status = 404)),
    security(("token" = []), ("session" = [])))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(patch): JsonBody<serde_json::Value>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Permission::Manage)?;
    let serde_json::Value::Object(patch) = patch else {
        return Err(ApiError::invalid("body: expected a JSON object"));
    };
    let current = st.db.read(move |c| schedules::get(c, id)).await?;
    let mut merged =
        serde_json::to_value(current.spec()).map_err(|e| ApiError::Internal(e.into()))?;
    if let serde_json::Value::Object(m) = &mut merged {
        m.insert("route".into(), current.route.clone().into());
        m.insert("audience".into(), current.audience.clone().into());
        for (k, v) in patch.clone() {
            m.insert(k, v);
        }
    }
    let row = resolve(&st, from_json(merged)?).await?;
    let now_ms = st.clock.now().timestamp_millis();
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            schedules::update(tx, id, &row, now_ms)?;
            events::append(
                tx,
                &actor,
                "schedule.updated",
                "schedule",
                Some(&id.to_string()),
                &serde_json::Value::Object(patch),
            )
        })
        .await?;
    Ok(Json(st.db.read(move |c| schedules::get(c, id)).await?))
}

/// Deletes a schedule: no new occurrences; past ones stay for the record.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::Manage)?;
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            schedules::delete(tx, id)?;
            events::append(
                tx,
                &actor,
                "schedule.deleted",
                "schedule",
                Some(&id.to_string()),
                &serde_json::json!({}),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OccurrenceParams {
    /// One local day, `YYYY-MM-DD`.
    pub date: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339; inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339; inclusive.
    pub to: Option<String>,
    /// Site id or name.
    pub site: Option<String>,
    /// `pending`, `fulfilled`, `late`, `missing_photo`, `blocked`, `missed` or `excused`.
    pub status: Option<String>,
    /// Schedule id.
    pub schedule: Option<i64>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Occurrences by start time, newest first, each with the report and evidence that decided it and every reminder
/// sent for it.
#[utoipa::path(get, path = "/api/v1/occurrences", tag = "schedules", params(OccurrenceParams),
    responses((status = 200, body = Page<Occurrence>), (status = 400)), security(("token" = []), ("session" = [])))]
pub async fn list_occurrences(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<OccurrenceParams>,
) -> ApiResult<Json<Page<Occurrence>>> {
    caller.require(Permission::ReadRecords)?;
    let limit = super::ListParams {
        limit: p.limit,
        ..Default::default()
    }
    .limit()?;
    let mut f = occurrences::Filter {
        site: site_filter(&st, p.site).await?,
        schedule: p.schedule,
        ..Default::default()
    };
    if let Some(s) = &p.status {
        if crate::schedule::OccurrenceStatus::parse(s).is_none() {
            return Err(ApiError::invalid(format!("status: unknown status {s:?}")));
        }
        f.status = Some(s.clone());
    }
    if let Some(d) = &p.date {
        f.from_ms = Some(super::time_bound("date", d, st.tz, false)?);
        f.to_ms = Some(super::time_bound("date", d, st.tz, true)?);
    }
    if let Some(v) = &p.from {
        f.from_ms = Some(super::time_bound("from", v, st.tz, false)?);
    }
    if let Some(v) = &p.to {
        f.to_ms = Some(super::time_bound("to", v, st.tz, true)?);
    }
    let before = match &p.cursor {
        None => None,
        Some(c) => Some(
            c.split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| ApiError::invalid("cursor: not a cursor returned by this API"))?,
        ),
    };
    let items = st
        .db
        .read(move |c| {
            let mut items = occurrences::list(c, &f, before, limit + 1)?;
            let next = if items.len() > limit {
                items.truncate(limit);
                match items.last() {
                    Some(o) => occurrences::sort_key(c, o.id)?.map(|k| format!("{k}:{}", o.id)),
                    None => None,
                }
            } else {
                None
            };
            Ok((items, next))
        })
        .await?;
    Ok(Json(Page {
        items: items.0,
        next_cursor: items.1,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Excuse {
    pub reason: String,
}

/// Excuses an occurrence (a manager, with a reason): no more reminders for it.
#[utoipa::path(post, path = "/api/v1/occurrences/{id}/excuse", tag = "schedules", params(("id" = i64, Path)),
    request_body = Excuse, responses((status = 200, body = Occurrence), (status = 400), (status = 404)),
    security(("token" = []), ("session" = [])))]
pub async fn excuse(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<Excuse>,
) -> ApiResult<Json<Occurrence>> {
    caller.require(Permission::Manage)?;
    let reason = body.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid("reason: must be 1 to 500 characters"));
    }
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            occurrences::excuse(tx, id, &reason, &actor)?;
            events::append(
                tx,
                &actor,
                "occurrence.excused",
                "occurrence",
                Some(&id.to_string()),
                &serde_json::json!({ "reason": reason }),
            )
        })
        .await?;
    let found = st
        .db
        .read(move |c| {
            let key = occurrences::sort_key(c, id)?;
            let f = occurrences::Filter {
                from_ms: key,
                to_ms: key,
                ..Default::default()
            };
            Ok(occurrences::list(c, &f, None, 500)?
                .into_iter()
                .find(|o| o.id == id))
        })
        .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("occurrence {id} not found")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PosterParams {
    /// `pdf` (default) or `png`.
    pub format: Option<String>,
    /// `a4` (default) or `a6`.
    pub size: Option<String>,
}

/// Printable QR posters for a schedule's checkpoints (patrols) or location (cleaning): each QR code opens WhatsApp at
/// the business number with the place's tag ready to send.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/posters", tag = "schedules", params(("id" = i64, Path), PosterParams),
    responses((status = 200, description = "PDF or PNG"), (status = 400), (status = 404)),
    security(("token" = []), ("session" = [])))]
pub async fn posters(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(p): QueryParams<PosterParams>,
) -> ApiResult<axum::response::Response> {
    use crate::posters::{Format, Size};
    use axum::response::IntoResponse;
    caller.require(Permission::ReadOperational)?;
    let format = match p.format.as_deref() {
        None => Format::Pdf,
        Some(f) => Format::parse(f).ok_or_else(|| ApiError::invalid("format: pdf or png"))?,
    };
    let size = match p.size.as_deref() {
        None => Size::A4,
        Some(s) => Size::parse(s).ok_or_else(|| ApiError::invalid("size: a4 or a6"))?,
    };
    let s = st.db.read(move |c| schedules::get(c, id)).await?;
    let number = st.cfg.posters.business_number.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let list = crate::posters::posters(&s, &number)?;
        crate::posters::render(&s, &list, format, size)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, format.mime())], bytes).into_response())
}

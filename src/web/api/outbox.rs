//! `GET /api/v1/outbox`: the sends tapak made or will make (reminders, escalations, summaries), with their state.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::{time_bound, Page};
use crate::auth::Permission;
use crate::outbox::{AboutType, Purpose, Send, SendState};
use crate::store::outbox::{self as store, Filter};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, QueryParams};
use crate::web::AppState;

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `read`, `failed` or `unconfirmed`.
    pub state: Option<String>,
    /// `reminder`, `escalation`, `photo_request`, `summary` or `anchor`.
    pub purpose: Option<String>,
    /// `occurrence`, `issue` or `report`, optionally with its id: `occurrence:12`.
    pub about: Option<String>,
    /// Created from: `YYYY-MM-DD` (configured time zone) or RFC 3339; inclusive.
    pub from: Option<String>,
    /// Created until: `YYYY-MM-DD` (whole day) or RFC 3339; inclusive.
    pub to: Option<String>,
}

fn parsed<T>(field: &str, v: Option<&str>, parse: fn(&str) -> Option<T>) -> ApiResult<Option<T>> {
    v.map(|s| parse(s).ok_or_else(|| ApiError::invalid(format!("{field}: unknown value {s:?}"))))
        .transpose()
}

/// Sends, newest first.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "outbox", params(OutboxParams),
    responses((status = 200, description = "a page of sends", body = Page<Send>)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<OutboxParams>,
) -> ApiResult<Json<Page<Send>>> {
    caller.require(Permission::ReadOperational)?;
    let limit = match p.limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit: must be between 1 and 500")),
    };
    let (about_type, about_id) = match p.about.as_deref() {
        None => (None, None),
        Some(a) => {
            let (t, id) =
                match a.split_once(':') {
                    Some((t, id)) => (
                        t,
                        Some(id.parse::<i64>().map_err(|_| {
                            ApiError::invalid(format!("about: {id:?} is not an id"))
                        })?),
                    ),
                    None => (a, None),
                };
            (parsed("about", Some(t), AboutType::parse)?, id)
        }
    };
    let mut f = Filter {
        state: parsed("state", p.state.as_deref(), SendState::parse)?,
        purpose: parsed("purpose", p.purpose.as_deref(), Purpose::parse)?,
        about_type,
        about_id,
        from_ms: p
            .from
            .as_deref()
            .map(|v| time_bound("from", v, st.tz, false))
            .transpose()?,
        to_ms: p
            .to
            .as_deref()
            .map(|v| time_bound("to", v, st.tz, true).map(|ms| ms.saturating_add(1)))
            .transpose()?,
        before_id: None,
    };
    if let Some(c) = &p.cursor {
        f.before_id = Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("cursor: not a cursor returned by this API"))?,
        );
    }
    let mut items = st.db.read(move |c| store::list(c, &f, limit + 1)).await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|s| s.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

/// The reminder texts in effect: every language and kind, the manager's edit where there is one, else the default.
/// Placeholders: `{what}`, `{place}`, `{schedule}`, `{assignees}`, `{checkpoints}`.
#[utoipa::path(get, path = "/api/v1/settings/reminder-texts", tag = "outbox",
    responses((status = 200, description = "{\"en\": {kind: text}, \"ms\": {...}}")),
    security(("token" = []), ("session" = [])))]
pub async fn get_texts(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Permission::ReadRecords)?;
    let stored = st
        .db
        .read(|c| crate::store::settings::get(c, crate::store::settings::REMINDER_TEXTS))
        .await?;
    let v = stored
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok(Json(crate::outbox::texts::Texts::from_json(&v).effective()))
}

/// Edits reminder texts: `{"ms": {"remind": "..."}}`; a kind left out or set to `""` goes back to the default.
#[utoipa::path(put, path = "/api/v1/settings/reminder-texts", tag = "outbox",
    responses((status = 200, description = "the texts in effect"), (status = 400, description = "names the field")),
    security(("token" = []), ("session" = [])))]
pub async fn put_texts(
    State(st): State<AppState>,
    caller: Caller,
    crate::web::error::JsonBody(v): crate::web::error::JsonBody<serde_json::Value>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Permission::Manage)?;
    crate::outbox::texts::validate(&v)
        .map_err(|(field, why)| ApiError::invalid(format!("{field}: {why}")))?;
    let actor = caller.actor();
    let text = v.to_string();
    let event = v.clone();
    st.db
        .write(move |tx| {
            crate::store::settings::set(tx, crate::store::settings::REMINDER_TEXTS, &text)?;
            crate::store::events::append(
                tx,
                &actor,
                "settings.reminder_texts_changed",
                "settings",
                None,
                &event,
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(crate::outbox::texts::Texts::from_json(&v).effective()))
}

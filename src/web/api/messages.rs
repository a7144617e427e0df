//! Messages, search and the dashboard summary.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use super::{time_bound, ListParams, Page};
use crate::auth::Permission;
use crate::store::{self, messages::Message, messages::MessageFilter};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, QueryParams};
use crate::web::AppState;

/// Resolves API filter parameters (names, phones, dates) into a store filter.
pub async fn filter(st: &AppState, p: &ListParams) -> ApiResult<MessageFilter> {
    let tz = st.tz;
    let mut f = MessageFilter {
        chat: p.chat,
        kind: p.kind.clone(),
        category: p.category.clone(),
        source: p.source.clone(),
        msg_type: p.msg_type.clone(),
        ..MessageFilter::default()
    };
    if let Some(v) = &p.from {
        f.from_ms = Some(time_bound("from", v, tz, false)?);
    }
    if let Some(v) = &p.to {
        f.to_ms = Some(time_bound("to", v, tz, true)?);
    }
    if let Some(person) = p.person.clone() {
        let key = person.clone();
        f.person = Some(
            st.db
                .read(move |c| store::people::lookup(c, &key))
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("person {person:?} not found")))?,
        );
    }
    if let Some(site) = p.site.clone() {
        f.site = Some(site_id(st, &site).await?);
    }
    Ok(f)
}

pub async fn site_id(st: &AppState, site: &str) -> ApiResult<i64> {
    let key = site.to_string();
    st.db
        .read(move |c| Ok(store::chats::find_site(c, &key)?.map(|s| s.id)))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("site {site:?} not found")))
}

/// Messages, newest first.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(ListParams),
    responses((status = 200, description = "a page of messages", body = Page<Message>)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<ListParams>,
) -> ApiResult<Json<Page<Message>>> {
    caller.require(Permission::ReadOperational)?;
    let f = filter(&st, &p).await?;
    let (limit, cur) = (p.limit()?, p.cursor()?);
    let (items, next) = st
        .db
        .read(move |c| store::messages::list(c, &f, cur, limit))
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|c| c.encode()),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: Message,
    pub versions: Vec<store::messages::Version>,
    pub evidence: Vec<store::evidence::Evidence>,
}

/// One message with its earlier versions (edits) and its evidence.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages", params(("id" = i64, Path)),
    responses((status = 200, body = MessageDetail), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageDetail>> {
    caller.require(Permission::ReadOperational)?;
    let d = st
        .db
        .read(move |c| {
            Ok(MessageDetail {
                message: store::messages::get(c, id)?,
                versions: store::messages::versions(c, id)?,
                evidence: store::evidence::for_message(c, id)?,
            })
        })
        .await?;
    Ok(Json(d))
}

/// Full-text search over message text; each item carries a `snippet` with the match between « and ».
#[utoipa::path(get, path = "/api/v1/search", tag = "messages", params(ListParams),
    responses((status = 200, body = Page<Message>), (status = 400)), security(("token" = []), ("session" = [])))]
pub async fn search(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<ListParams>,
) -> ApiResult<Json<Page<Message>>> {
    caller.require(Permission::ReadOperational)?;
    let q =
        p.q.clone()
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| ApiError::invalid("q: give the words to search for"))?;
    let f = filter(&st, &p).await?;
    let (limit, cur) = (p.limit()?, p.cursor()?);
    let (items, next) = st
        .db
        .read(move |c| store::messages::search(c, &q, &f, cur, limit))
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|c| c.encode()),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub messages_today: i64,
    pub messages_unprocessed: i64,
    pub media_pending: i64,
    pub media_failed: i64,
    /// Deliveries acknowledged but not yet filed (after a burst): what the records are still missing.
    pub backlog: crate::pipeline::inbox::Backlog,
    pub chats: Vec<store::chats::Chat>,
    #[serde(flatten)]
    pub records: store::records::RecordCounts,
    pub recent_issues: Vec<store::records::Issue>,
}

/// The numbers a manager sees first.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "messages",
    responses((status = 200, body = Dashboard)), security(("token" = []), ("session" = [])))]
pub async fn dashboard(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Dashboard>> {
    caller.require(Permission::ReadRecords)?;
    // The chat list is operational browsing (see `auth::Role::may`): left out for inspectors, like `/chats`.
    let with_chats = caller.role.may(Permission::ReadOperational);
    let now = st.clock.now();
    let today = now.with_timezone(&st.tz).date_naive().to_string();
    let from = time_bound("from", &today, st.tz, false)?;
    let backlog = crate::pipeline::inbox::backlog(&st).await?;
    let d = st
        .db
        .read(move |c| {
            let f = MessageFilter {
                from_ms: Some(from),
                ..MessageFilter::default()
            };
            let today_count = store::messages::count_filtered(c, &f)?;
            let mut chats = if with_chats {
                store::chats::list(c)?
            } else {
                vec![]
            };
            chats.truncate(20);
            Ok(Dashboard {
                messages_today: today_count,
                messages_unprocessed: store::messages::count_pending(c)?,
                media_pending: store::evidence::count_by_status(c, "pending")?,
                media_failed: store::evidence::count_by_status(c, "failed")?,
                backlog,
                chats,
                records: store::records::counts(c, from, now.timestamp_millis())?,
                recent_issues: store::records::list_issues(
                    c,
                    &store::records::RecordFilter {
                        open: Some(true),
                        now_ms: now.timestamp_millis(),
                        ..Default::default()
                    },
                    None,
                    10,
                )?
                .0,
            })
        })
        .await?;
    Ok(Json(d))
}

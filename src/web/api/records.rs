//! Issues, tasks and manager corrections (reclassify, move, assign, change status, merge, close with or without proof).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::{time_bound, ListParams, Page};
use crate::auth::Permission;
use crate::classify::types::{Category, Classification, Kind, Location, Priority, TaskStatus};
use crate::pipeline::{self, Corrected, CorrectionInput};
use crate::records::{
    Action, EvidenceOverride, EvidenceRole, IssueStatus, RecordOverride, RecordRef,
};
use crate::store::{self, records::IssueSort, records::RecordFilter};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, JsonBody, QueryParams};
use crate::web::AppState;

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// Only issues whose SLA is (true) or is not (false) breached.
    pub breached: Option<bool>,
    /// Only open (true) or only resolved/closed (false) issues.
    pub open: Option<bool>,
    /// Only issues overdue now (true: open and past a deadline not yet met) or not (false). `breached` also counts
    /// issues that were late once (answered or resolved after the deadline); `overdue` does not.
    pub overdue: Option<bool>,
    /// Issues owned by this person (id or phone).
    pub owner: Option<String>,
    /// Issues owned by a person of this vendor (id or name).
    pub vendor: Option<String>,
    /// Location words ("C", "Block C", "lobby"): each must be the block, level or unit, or part of the area.
    pub location: Option<String>,
    /// Order of issues: `newest` (default), `oldest`, `priority` (most urgent first), `deadline` (soonest resolve-by).
    pub sort: Option<String>,
    /// Tasks in this block (`none`: tasks without a block).
    pub block: Option<String>,
    /// Tasks that fulfilled an occurrence of this schedule (id).
    pub schedule: Option<i64>,
    /// Tasks with (`yes`) or without (`none`) a photo.
    pub photo: Option<String>,
}

/// Words of a location filter, without the words that only name the kind of place ("Block C" → "C").
fn location_words(v: &str) -> Vec<String> {
    const NOISE: [&str; 8] = [
        "block", "blok", "level", "aras", "floor", "lvl", "unit", "tingkat",
    ];
    v.split(|c: char| c.is_whitespace() || c == ',')
        .map(str::trim)
        .filter(|w| !w.is_empty() && !NOISE.contains(&w.to_lowercase().as_str()))
        .take(8)
        .map(String::from)
        .collect()
}

async fn record_filter(st: &AppState, p: &ListParams, r: &RecordParams) -> ApiResult<RecordFilter> {
    let mf = super::messages::filter(st, p).await?;
    if let Some(s) = &p.status {
        let ok = [
            "open",
            "acknowledged",
            "in_progress",
            "resolved",
            "closed",
            "done",
            "blocked",
        ];
        if !ok.contains(&s.as_str()) {
            return Err(ApiError::invalid(format!("status: unknown value {s:?}")));
        }
    }
    if let Some(c) = &p.category {
        if Category::parse(c).is_none() {
            return Err(ApiError::invalid(format!("category: unknown value {c:?}")));
        }
    }
    if let Some(pr) = &p.priority {
        if Priority::parse(pr).is_none() {
            return Err(ApiError::invalid(format!("priority: unknown value {pr:?}")));
        }
    }
    let owner = match r.owner.clone() {
        Some(key) => {
            let k = key.clone();
            Some(
                st.db
                    .read(move |c| store::people::lookup(c, &k))
                    .await?
                    .ok_or_else(|| ApiError::NotFound(format!("owner {key:?} not found")))?,
            )
        }
        None => None,
    };
    let vendor = match r.vendor.clone() {
        Some(key) => {
            let vendors = st.db.read(store::chats::list_vendors).await?;
            Some(
                vendors
                    .iter()
                    .find(|v| v.id.to_string() == key || v.name.eq_ignore_ascii_case(&key))
                    .map(|v| v.id)
                    .ok_or_else(|| ApiError::NotFound(format!("vendor {key:?} not found")))?,
            )
        }
        None => None,
    };
    let photo = match r.photo.as_deref() {
        None => None,
        Some("yes") => Some(true),
        Some("none") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "photo: expected yes or none, got {other:?}"
            )))
        }
    };
    Ok(RecordFilter {
        owner,
        vendor,
        location: r
            .location
            .as_deref()
            .map(location_words)
            .unwrap_or_default(),
        text: p.q.clone().filter(|q| !q.trim().is_empty()),
        block: r
            .block
            .clone()
            .map(|b| if b == "none" { String::new() } else { b }),
        schedule: r.schedule,
        photo,
        site: mf.site,
        chat: mf.chat,
        person: mf.person,
        status: p.status.clone(),
        category: p.category.clone(),
        priority: p.priority.clone(),
        from_ms: mf.from_ms,
        to_ms: mf.to_ms,
        breached: r.breached,
        open: r.open,
        overdue: r.overdue,
        now_ms: st.clock.now().timestamp_millis(),
    })
}

fn issue_sort(r: &RecordParams) -> ApiResult<IssueSort> {
    match r.sort.as_deref() {
        None | Some("") => Ok(IssueSort::Newest),
        Some(s) => IssueSort::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "sort: expected newest, oldest, priority or deadline, got {s:?}"
            ))
        }),
    }
}

/// A page of issues; the first page (no cursor) also carries the totals of everything the filters select.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IssuePage {
    pub items: Vec<store::records::Issue>,
    pub next_cursor: Option<String>,
    pub totals: Option<store::records::IssueTotals>,
}

/// Issue tickets, newest first (or as `sort` says); `q` searches titles and the tickets' messages.
#[utoipa::path(get, path = "/api/v1/issues", tag = "records", params(ListParams, RecordParams),
    responses((status = 200, body = IssuePage)), security(("token" = []), ("session" = [])))]
pub async fn list_issues(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<ListParams>,
    QueryParams(r): QueryParams<RecordParams>,
) -> ApiResult<Json<IssuePage>> {
    caller.require(Permission::ReadRecords)?;
    let f = record_filter(&st, &p, &r).await?;
    let sort = issue_sort(&r)?;
    let (limit, cur) = (p.limit()?, p.cursor()?);
    let (items, next, totals) = st
        .db
        .read(move |c| {
            let (items, next) = store::records::list_issues_sorted(c, &f, sort, cur, limit)?;
            let totals = match cur {
                None => Some(store::records::issue_totals(c, &f)?),
                Some(_) => None,
            };
            Ok((items, next, totals))
        })
        .await?;
    Ok(Json(IssuePage {
        items,
        next_cursor: next.map(|c| c.encode()),
        totals,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` or `xlsx`.
    pub format: String,
}

/// At most this many tickets in one download; narrow the filters for more.
const EXPORT_MAX: i64 = 100_000;

/// The filtered list of issues (the same filters and order as `GET /issues`) as a CSV or XLSX file.
#[utoipa::path(get, path = "/api/v1/issues/export", tag = "records", params(ExportParams, ListParams, RecordParams),
    responses((status = 200, description = "the file, as an attachment"), (status = 400, description = "bad format or filter, or too many rows")),
    security(("token" = []), ("session" = [])))]
pub async fn export_issues(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(e): QueryParams<ExportParams>,
    QueryParams(p): QueryParams<ListParams>,
    QueryParams(r): QueryParams<RecordParams>,
) -> ApiResult<axum::response::Response> {
    use crate::records::export;
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    caller.require(Permission::ReadRecords)?;
    let (ext, mime) = match e.format.as_str() {
        "csv" => ("csv", "text/csv; charset=utf-8"),
        "xlsx" => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        other => {
            return Err(ApiError::invalid(format!(
                "format: expected csv or xlsx, got {other:?}"
            )))
        }
    };
    let f = record_filter(&st, &p, &r).await?;
    let sort = issue_sort(&r)?;
    let tz = st.tz;
    let now = st.clock.now();
    let bytes = st
        .db
        .read(move |c| {
            let n = store::records::issue_totals(c, &f)?.all;
            if n > EXPORT_MAX {
                return Err(store::StoreError::Invalid(format!(
                    "{n} tickets match; a download holds at most {EXPORT_MAX}: narrow the dates or filters"
                )));
            }
            let mut rows = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
            let mut cursor = None;
            loop {
                let (items, next) =
                    store::records::list_issues_sorted(c, &f, sort, cursor, 500)?;
                rows.extend(items);
                match next {
                    Some(nx) => cursor = Some(nx),
                    None => break,
                }
            }
            Ok(rows)
        })
        .await?;
    let sheet = issue_sheet(&bytes, tz, now);
    let out = tokio::task::spawn_blocking(move || match ext {
        "csv" => export::csv(&sheet),
        _ => export::xlsx(&sheet),
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    let name = format!(
        "tapak-issues-{}.{ext}",
        now.with_timezone(&tz).format("%Y-%m-%d")
    );
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The columns of the issues download, one row per ticket (times in the firm's time zone).
fn issue_sheet(
    items: &[store::records::Issue],
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::records::export::Sheet {
    use crate::records::export::{Cell, Sheet};
    let time = |s: &Option<String>| {
        Cell::Time(
            s.as_deref()
                .and_then(store::parse_time)
                .map(|t| t.with_timezone(&tz).naive_local()),
        )
    };
    let text = |s: Option<&str>| Cell::Text(s.unwrap_or_default().to_string());
    let who = |p: &Option<store::people::PersonRef>| {
        Cell::Text(
            p.as_ref()
                .and_then(|p| p.name.clone().or_else(|| p.phone.clone()))
                .unwrap_or_default(),
        )
    };
    let yes = |b: bool| Cell::Text(if b { "yes" } else { "" }.into());
    let rows = items
        .iter()
        .map(|i| {
            let open = !matches!(i.status.as_str(), "resolved" | "closed");
            let overdue_now = open
                && (i.sla.resolve_breached
                    || (i.sla.respond_breached
                        && i.sla
                            .respond_by
                            .as_deref()
                            .and_then(store::parse_time)
                            .is_some_and(|t| t < now)));
            let location = serde_json::from_value::<Location>(i.location.clone())
                .ok()
                .filter(|l| *l != Location::default())
                .map(|l| crate::outbox::texts::place(crate::outbox::texts::Lang::En, &l))
                .unwrap_or_default();
            vec![
                Cell::Int(i.id),
                text(Some(&i.title)),
                text(Some(&i.status)),
                text(i.priority.as_deref()),
                text(i.category.as_deref()),
                Cell::Text(location),
                text(i.site.as_ref().map(|s| s.name.as_str())),
                text(i.chat.name.as_deref()),
                time(&Some(i.opened_at.clone())),
                who(&i.reported_by),
                who(&i.owner),
                text(i.owner_vendor.as_ref().map(|v| v.name.as_str())),
                time(&i.sla.respond_by),
                time(&i.sla.resolve_by),
                time(&i.resolved_at),
                time(&i.closed_at),
                yes(overdue_now),
                yes(i.sla.breached && !overdue_now),
                Cell::Int(i.messages),
                Cell::Int(i.photos),
                i.repeat_of
                    .map(Cell::Int)
                    .unwrap_or(Cell::Text(String::new())),
            ]
        })
        .collect();
    Sheet {
        name: "Issues",
        columns: vec![
            "ID",
            "Title",
            "Status",
            "Priority",
            "Category",
            "Location",
            "Site",
            "Chat",
            "Opened",
            "Reported by",
            "Owner",
            "Vendor",
            "Respond by",
            "Resolve by",
            "Resolved",
            "Closed",
            "Overdue now",
            "Was late once",
            "Messages",
            "Photos",
            "Repeat of",
        ],
        rows,
    }
}

/// A ticket's history in plain language: messages, status changes, assignments, notes and corrections, oldest first.
#[utoipa::path(get, path = "/api/v1/issues/{id}/timeline", tag = "records", params(("id" = i64, Path)),
    responses((status = 200, description = "`{\"items\": [entry…]}`: each entry has `at`, `event`, `actor`, `summary` and what the event concerns"),
        (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn issue_timeline(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Permission::ReadRecords)?;
    let items = st
        .db
        .read(move |c| store::records::issue_history(c, id))
        .await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// One issue with its timeline (linked messages, in order, each with why it was linked) and evidence.
#[utoipa::path(get, path = "/api/v1/issues/{id}", tag = "records", params(("id" = i64, Path)),
    responses((status = 200, body = store::records::IssueDetail), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn get_issue(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<store::records::IssueDetail>> {
    caller.require(Permission::ReadRecords)?;
    let now = st.clock.now();
    Ok(Json(
        st.db
            .read(move |c| store::records::issue_detail(c, id, now))
            .await?,
    ))
}

/// Task-log entries, newest first (filters `block`, `schedule` and `photo` of RecordParams apply).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "records", params(ListParams, RecordParams),
    responses((status = 200, body = Page<store::records::Task>)), security(("token" = []), ("session" = [])))]
pub async fn list_tasks(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<ListParams>,
    QueryParams(r): QueryParams<RecordParams>,
) -> ApiResult<Json<Page<store::records::Task>>> {
    caller.require(Permission::ReadRecords)?;
    let f = record_filter(&st, &p, &r).await?;
    let (limit, cur) = (p.limit()?, p.cursor()?);
    let (items, next) = st
        .db
        .read(move |c| store::records::list_tasks(c, &f, cur, limit))
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|c| c.encode()),
    }))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "records", params(("id" = i64, Path)),
    responses((status = 200, body = store::records::Task), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn get_task(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<store::records::Task>> {
    caller.require(Permission::ReadRecords)?;
    Ok(Json(
        st.db.read(move |c| store::records::get_task(c, id)).await?,
    ))
}

async fn chat_of(st: &AppState, what: &'static str, id: i64) -> ApiResult<i64> {
    Ok(st
        .db
        .read(move |c| store::records::chat_of(c, what, id))
        .await?)
}

fn need_reason(r: &Option<String>) -> Option<String> {
    r.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `?dry_run=true` on a correction: answer what it would change (the same `side_effects` list) without keeping it.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRun {
    /// Apply the correction inside a transaction that is rolled back: the response shows the record and the side
    /// effects as they would be, and nothing is stored (no correction, no event, no lesson for the classifier).
    #[serde(default)]
    pub dry_run: bool,
}

/// A correction as a handler describes it.
struct Fix<'a> {
    chat_id: i64,
    target: &'static str,
    target_id: i64,
    data: serde_json::Value,
    note: &'a Option<String>,
    event: &'a str,
    reclassify: Option<(String, Classification)>,
}

fn to_json(v: impl serde::Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.into()))
}

/// Applies a manager's correction in one write transaction (audited, replayed by the records engine) and returns
/// what `read_back` reads afterwards in that transaction, with the correction's side effects.
async fn correct<T, F>(
    st: &AppState,
    caller: &Caller,
    fix: Fix<'_>,
    dry: &DryRun,
    read_back: F,
) -> ApiResult<Json<Corrected<T>>>
where
    T: Send + 'static,
    F: FnOnce(&store::Transaction<'_>) -> Result<T, store::StoreError> + Send + 'static,
{
    let out = pipeline::apply_correction(
        st,
        CorrectionInput {
            chat_id: fix.chat_id,
            target: fix.target,
            target_id: Some(fix.target_id),
            data: fix.data,
            actor: caller.actor(),
            reason: need_reason(fix.note),
            action: fix.event.into(),
            reclassify: fix.reclassify,
        },
        dry.dry_run,
        read_back,
    )
    .await?;
    Ok(Json(out))
}

/// Records a manager's ticket action (as a correction the engine replays) and returns the ticket `show` afterwards.
#[allow(clippy::too_many_arguments)]
async fn ticket_action(
    st: &AppState,
    caller: &Caller,
    chat_id: i64,
    issue: i64,
    action: Action,
    note: &Option<String>,
    event: &str,
    show: i64,
    dry: &DryRun,
) -> ApiResult<Json<Corrected<store::records::IssueDetail>>> {
    let now = st.clock.now();
    let action = crate::records::ManagerAction {
        id: 0,
        at: now,
        action,
    };
    let fix = Fix {
        chat_id,
        target: "action",
        target_id: issue,
        data: to_json(action)?,
        note,
        event,
        reclassify: None,
    };
    correct(st, caller, fix, dry, move |c| {
        store::records::issue_detail(c, show, now)
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    /// `acknowledged`, `in_progress`, `resolved`, `closed`, or `open` (reopen).
    pub status: String,
    /// Why (kept in the audit log).
    pub note: Option<String>,
}

/// Change a ticket's status (acknowledge, close, reopen…). Closing may require resolution proof by site policy
/// (`require_proof` in the site's settings).
#[utoipa::path(post, path = "/api/v1/issues/{id}/status", tag = "corrections", params(("id" = i64, Path), DryRun), request_body = StatusChange,
    responses((status = 200, body = Corrected<store::records::IssueDetail>), (status = 409, description = "proof required")),
    security(("token" = []), ("session" = [])))]
pub async fn set_status(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(dry): QueryParams<DryRun>,
    JsonBody(b): JsonBody<StatusChange>,
) -> ApiResult<Json<Corrected<store::records::IssueDetail>>> {
    caller.require(Permission::Manage)?;
    let status = IssueStatus::parse(&b.status)
        .ok_or_else(|| ApiError::invalid(format!("status: unknown value {:?}", b.status)))?;
    let now = st.clock.now();
    let detail = st
        .db
        .read(move |c| store::records::issue_detail(c, id, now))
        .await?;
    if status == IssueStatus::Closed {
        let site_id = detail.issue.site.as_ref().map(|s| s.id);
        let requires = match site_id {
            Some(sid) => st
                .db
                .read(move |c| store::settings::site_settings(c, sid))
                .await?
                .is_some_and(|s| s.require_proof),
            None => false,
        };
        let has_proof = detail
            .evidence
            .iter()
            .any(|e| e.role.as_deref() == Some("resolution_proof"));
        if requires && !has_proof {
            return Err(ApiError::Conflict(
                "this site requires resolution proof (a photo sent with the resolution) before a ticket is closed".into(),
            ));
        }
    }
    let chat_id = detail.issue.chat.id;
    ticket_action(
        &st,
        &caller,
        chat_id,
        id,
        Action::SetStatus { issue: id, status },
        &b.note,
        "issue.status_changed",
        id,
        &dry,
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Assign {
    /// Person id of the new owner.
    pub person: Option<i64>,
    /// Vendor id the ticket is assigned to, or null to take it from its vendor.
    #[serde(default, deserialize_with = "super::double_option")]
    pub vendor: Option<Option<i64>>,
    pub note: Option<String>,
}

/// Assign a ticket to a person (staff or a vendor's technician), to a vendor (a contractor firm), or both.
#[utoipa::path(post, path = "/api/v1/issues/{id}/assign", tag = "corrections", params(("id" = i64, Path), DryRun), request_body = Assign,
    responses((status = 200, body = Corrected<store::records::IssueDetail>), (status = 400), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn assign(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(dry): QueryParams<DryRun>,
    JsonBody(b): JsonBody<Assign>,
) -> ApiResult<Json<Corrected<store::records::IssueDetail>>> {
    caller.require(Permission::Manage)?;
    if b.person.is_none() && b.vendor.is_none() {
        return Err(ApiError::invalid("person or vendor is required"));
    }
    let (person, vendor) = (b.person, b.vendor);
    st.db
        .read(move |c| {
            if let Some(p) = person {
                store::people::get_ref(c, p)?;
            }
            if let Some(Some(v)) = vendor {
                store::chats::get_vendor(c, v)?;
            }
            Ok(())
        })
        .await?;
    let chat_id = chat_of(&st, "issue", id).await?;
    let mut actions = vec![];
    if let Some(person) = person {
        actions.push((Action::SetOwner { issue: id, person }, "issue.assigned"));
    }
    if let Some(vendor) = vendor {
        actions.push((
            Action::SetVendor { issue: id, vendor },
            "issue.vendor_assigned",
        ));
    }
    let mut out = None;
    for (action, event) in actions {
        out =
            Some(ticket_action(&st, &caller, chat_id, id, action, &b.note, event, id, &dry).await?);
    }
    out.ok_or_else(|| ApiError::invalid("person or vendor is required"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Merge {
    /// The ticket that remains.
    pub into: i64,
    pub note: Option<String>,
}

/// Merge this ticket into another of the same chat (its messages and evidence move; it is closed).
#[utoipa::path(post, path = "/api/v1/issues/{id}/merge", tag = "corrections", params(("id" = i64, Path), DryRun), request_body = Merge,
    responses((status = 200, body = Corrected<store::records::IssueDetail>), (status = 400)), security(("token" = []), ("session" = [])))]
pub async fn merge(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(dry): QueryParams<DryRun>,
    JsonBody(b): JsonBody<Merge>,
) -> ApiResult<Json<Corrected<store::records::IssueDetail>>> {
    caller.require(Permission::Manage)?;
    if b.into == id {
        return Err(ApiError::invalid("into: cannot merge a ticket into itself"));
    }
    let chat_id = chat_of(&st, "issue", id).await?;
    if chat_of(&st, "issue", b.into).await? != chat_id {
        return Err(ApiError::invalid(
            "into: tickets of different chats cannot be merged",
        ));
    }
    let into = b.into;
    ticket_action(
        &st,
        &caller,
        chat_id,
        id,
        Action::Merge { from: id, into },
        &b.note,
        "issue.merged",
        into,
        &dry,
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Reclassify {
    pub kind: String,
    pub status: Option<String>,
    pub category: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub location: Option<Location>,
    pub priority: Option<String>,
    #[serde(default)]
    pub repeat: bool,
    pub reason: Option<String>,
}

fn to_class(r: &Reclassify) -> ApiResult<Classification> {
    let kind = Kind::parse(&r.kind)
        .ok_or_else(|| ApiError::invalid(format!("kind: unknown value {:?}", r.kind)))?;
    let status = match &r.status {
        Some(s) => Some(
            TaskStatus::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("status: unknown value {s:?}")))?,
        ),
        None => None,
    };
    let category = match &r.category {
        Some(s) => Some(
            Category::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("category: unknown value {s:?}")))?,
        ),
        None => None,
    };
    let priority = match &r.priority {
        Some(s) => Some(
            Priority::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("priority: unknown value {s:?}")))?,
        ),
        None => None,
    };
    if status.is_some() && kind != Kind::TaskReport {
        return Err(ApiError::invalid("status: only a task_report has a status"));
    }
    if priority.is_some() && kind != Kind::IssueReport {
        return Err(ApiError::invalid(
            "priority: only an issue_report has a priority",
        ));
    }
    Ok(Classification {
        kind,
        status: if kind == Kind::TaskReport {
            status.or(Some(TaskStatus::Done))
        } else {
            None
        },
        category,
        location: r.location.clone().unwrap_or_default(),
        priority: if kind == Kind::IssueReport {
            priority.or(Some(Priority::Normal))
        } else {
            None
        },
        repeat: r.repeat,
        confidence: 1.0,
        cues: vec!["manager correction".into()],
        kind_scores: None,
    })
}

/// Reclassify a message, in one transaction. The correction wins over the classifier (now and after any
/// re-processing) and the chat's records are rebuilt (an `issue_report` here splits a new ticket off). Only this
/// message is reclassified: `side_effects` lists every other record the rebuild changed (tickets opened, closed or
/// removed, task entries, other messages moved). The classifier learns from it for the messages that come later.
/// With `?dry_run=true` nothing is kept and the response shows what applying it would do.
#[utoipa::path(post, path = "/api/v1/messages/{id}/classification", tag = "corrections", params(("id" = i64, Path), DryRun),
    request_body = Reclassify, responses((status = 200, body = Corrected<store::messages::Message>), (status = 400)),
    security(("token" = []), ("session" = [])))]
pub async fn reclassify(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(dry): QueryParams<DryRun>,
    JsonBody(b): JsonBody<Reclassify>,
) -> ApiResult<Json<Corrected<store::messages::Message>>> {
    caller.require(Permission::Manage)?;
    let class = to_class(&b)?;
    let msg = st.db.read(move |c| store::messages::get(c, id)).await?;
    let Some(text) = msg.text.clone().filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::invalid("this message has no text to classify"));
    };
    let fix = Fix {
        chat_id: msg.chat.id,
        target: "message",
        target_id: id,
        data: serde_json::json!({"class": class}),
        note: &b.reason,
        event: "message.reclassified",
        reclassify: Some((text, class)),
    };
    correct(&st, &caller, fix, &dry, move |c| {
        store::messages::get(c, id)
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RecordTarget {
    /// `task` or `issue`
    #[serde(rename = "type")]
    pub record_type: String,
    pub id: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MoveMessage {
    /// The record the message belongs to, or null for none.
    pub record: Option<RecordTarget>,
    pub reason: Option<String>,
}

fn record_ref(t: &RecordTarget) -> ApiResult<RecordRef> {
    match t.record_type.as_str() {
        "issue" => Ok(RecordRef::Issue(t.id)),
        "task" => Ok(RecordRef::Task(t.id)),
        other => Err(ApiError::invalid(format!(
            "record.type: expected task or issue, got {other:?}"
        ))),
    }
}

async fn check_same_chat(st: &AppState, r: RecordRef, chat_id: i64) -> ApiResult<()> {
    let (what, id) = match r {
        RecordRef::Issue(id) => ("issue", id),
        RecordRef::Task(id) => ("task", id),
    };
    if chat_of(st, what, id).await? != chat_id {
        return Err(ApiError::invalid(
            "record: records of another chat cannot be targeted",
        ));
    }
    Ok(())
}

/// Move a message to another record (or to none).
#[utoipa::path(post, path = "/api/v1/messages/{id}/record", tag = "corrections", params(("id" = i64, Path), DryRun),
    request_body = MoveMessage, responses((status = 200, body = Corrected<store::messages::Message>)), security(("token" = []), ("session" = [])))]
pub async fn move_message(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(dry): QueryParams<DryRun>,
    JsonBody(b): JsonBody<MoveMessage>,
) -> ApiResult<Json<Corrected<store::messages::Message>>> {
    caller.require(Permission::Manage)?;
    let chat_id = chat_of(&st, "message", id).await?;
    let ov = match &b.record {
        Some(t) => {
            let r = record_ref(t)?;
            check_same_chat(&st, r, chat_id).await?;
            RecordOverride::Link { record: r }
        }
        None => RecordOverride::NoRecord,
    };
    let fix = Fix {
        chat_id,
        target: "message",
        target_id: id,
        data: serde_json::json!({"record": ov}),
        note: &b.reason,
        event: "message.moved",
        reclassify: None,
    };
    correct(&st, &caller, fix, &dry, move |c| {
        store::messages::get(c, id)
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MoveEvidence {
    pub record: Option<RecordTarget>,
    /// `evidence` (default) or `resolution_proof`.
    pub role: Option<String>,
    pub reason: Option<String>,
}

/// Move a photo / voice note to another record (or to none), as evidence or as resolution proof.
#[utoipa::path(post, path = "/api/v1/evidence/{id}/record", tag = "corrections", params(("id" = i64, Path), DryRun),
    request_body = MoveEvidence, responses((status = 200, body = Corrected<store::evidence::Evidence>)), security(("token" = []), ("session" = [])))]
pub async fn move_evidence(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    QueryParams(dry): QueryParams<DryRun>,
    JsonBody(b): JsonBody<MoveEvidence>,
) -> ApiResult<Json<Corrected<store::evidence::Evidence>>> {
    caller.require(Permission::Manage)?;
    let chat_id = chat_of(&st, "evidence", id).await?;
    let role = match b.role.as_deref() {
        None | Some("evidence") => EvidenceRole::Evidence,
        Some("resolution_proof") => EvidenceRole::ResolutionProof,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "role: expected evidence or resolution_proof, got {other:?}"
            )))
        }
    };
    let ov = match &b.record {
        Some(t) => {
            let r = record_ref(t)?;
            check_same_chat(&st, r, chat_id).await?;
            EvidenceOverride::Link { record: r, role }
        }
        None => EvidenceOverride::Unlinked,
    };
    let fix = Fix {
        chat_id,
        target: "evidence",
        target_id: id,
        data: to_json(ov)?,
        note: &b.reason,
        event: "evidence.moved",
        reclassify: None,
    };
    correct(&st, &caller, fix, &dry, move |c| {
        store::evidence::get(c, id)
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepeatParams {
    /// Window in days (default 30).
    pub days: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Repeated problems: tickets of the same site (or chat), category and matching location within N days.
#[utoipa::path(get, path = "/api/v1/repeats", tag = "records", params(RepeatParams),
    responses((status = 200, description = "groups of repeated problems")), security(("token" = []), ("session" = [])))]
pub async fn repeats(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<RepeatParams>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Permission::ReadRecords)?;
    let days = p.days.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::invalid("days: must be between 1 and 3660"));
    }
    let from = p
        .from
        .as_deref()
        .map(|v| time_bound("from", v, st.tz, false))
        .transpose()?;
    let to =
        p.to.as_deref()
            .map(|v| time_bound("to", v, st.tz, true))
            .transpose()?;
    let groups = st
        .db
        .read(move |c| {
            let tickets = store::records::ticket_summaries(c, from, to)?;
            Ok(crate::records::repeated_problems(&tickets, days))
        })
        .await?;
    Ok(Json(serde_json::json!({"days": days, "items": groups})))
}

/// The SLA policy (targets per category and priority, optional business hours).
#[utoipa::path(get, path = "/api/v1/settings/sla", tag = "records", responses((status = 200, description = "the SLA policy")),
    security(("token" = []), ("session" = [])))]
pub async fn get_sla(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<crate::records::SlaPolicy>> {
    caller.require(Permission::ReadRecords)?;
    Ok(Json(st.db.read(store::records::sla_policy).await?))
}

/// Replace the SLA policy (applies to tickets opened from now on and to re-processed chats).
#[utoipa::path(put, path = "/api/v1/settings/sla", tag = "records", responses((status = 200, description = "the SLA policy")),
    security(("token" = []), ("session" = [])))]
pub async fn put_sla(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(p): JsonBody<crate::records::SlaPolicy>,
) -> ApiResult<Json<crate::records::SlaPolicy>> {
    caller.require(Permission::Manage)?;
    p.validate().map_err(ApiError::Invalid)?;
    let actor = caller.actor();
    let v = serde_json::to_value(&p).map_err(|e| ApiError::Internal(e.into()))?;
    let policy = p.clone();
    st.db
        .write(move |tx| {
            store::settings::set_sla_policy(tx, &policy)?;
            store::events::append(tx, &actor, "settings.sla_changed", "settings", None, &v)?;
            Ok(())
        })
        .await?;
    Ok(Json(p))
}

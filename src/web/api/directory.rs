//! Chats, sites, people and vendors: list, create, edit (map a sender to a person, a chat to a site, a person to a vendor).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::auth::Permission;
use crate::store::{self, chats, events, people};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, JsonBody};
use crate::web::AppState;

use super::Page;

fn page<T: serde::Serialize>(items: Vec<T>) -> Json<Page<T>> {
    Json(Page {
        items,
        next_cursor: None,
    })
}

fn clean_name(field: &str, v: &str) -> ApiResult<String> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(ApiError::invalid(format!(
            "{field}: must be 1 to 200 characters"
        )));
    }
    Ok(t.to_string())
}

/// Every chat (WhatsApp group or direct chat), most recently active first.
#[utoipa::path(get, path = "/api/v1/chats", tag = "directory", responses((status = 200, body = Page<chats::Chat>)),
    security(("token" = []), ("session" = [])))]
pub async fn list_chats(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<chats::Chat>>> {
    caller.require(Permission::ReadOperational)?;
    Ok(page(st.db.read(chats::list).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}", tag = "directory", params(("id" = i64, Path)),
    responses((status = 200, body = chats::Chat), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn get_chat(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<chats::Chat>> {
    caller.require(Permission::ReadOperational)?;
    Ok(Json(st.db.read(move |c| chats::get(c, id)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatUpdate {
    pub name: Option<String>,
    /// Site id, or null to detach.
    #[serde(default, deserialize_with = "super::double_option")]
    pub site: Option<Option<i64>>,
}

/// Rename a chat or assign it to a site.
#[utoipa::path(patch, path = "/api/v1/chats/{id}", tag = "directory", params(("id" = i64, Path)), request_body = ChatUpdate,
    responses((status = 200, body = chats::Chat), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn update_chat(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(u): JsonBody<ChatUpdate>,
) -> ApiResult<Json<chats::Chat>> {
    caller.require(Permission::Manage)?;
    let name = u
        .name
        .as_deref()
        .map(|n| clean_name("name", n))
        .transpose()?;
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            if let Some(n) = &name {
                chats::rename(tx, id, n)?;
            }
            if let Some(site) = u.site {
                chats::set_site(tx, id, site)?;
            }
            events::append(
                tx,
                &actor,
                "chat.updated",
                "chat",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "site": u.site}),
            )?;
            Ok(())
        })
        .await?;
    if u.site.is_some() {
        st.pipeline.forget_chat_sites();
    }
    Ok(Json(st.db.read(move |c| chats::get(c, id)).await?))
}

#[utoipa::path(get, path = "/api/v1/sites", tag = "directory", responses((status = 200, body = Page<chats::Site>)),
    security(("token" = []), ("session" = [])))]
pub async fn list_sites(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<chats::Site>>> {
    caller.require(Permission::ReadRecords)?;
    Ok(page(st.db.read(chats::list_sites).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SiteInput {
    pub name: Option<String>,
    /// Site vocabulary and policies: `{"blocks": [...], "areas": {"alias": "lobby"}, "aliases": [...], "require_proof": bool}`.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/api/v1/sites", tag = "directory", request_body = SiteInput,
    responses((status = 201, body = chats::Site), (status = 409)), security(("token" = []), ("session" = [])))]
pub async fn create_site(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(s): JsonBody<SiteInput>,
) -> ApiResult<(StatusCode, Json<chats::Site>)> {
    caller.require(Permission::Manage)?;
    let name = clean_name("name", s.name.as_deref().unwrap_or(""))?;
    let settings = s.settings.unwrap_or_else(|| serde_json::json!({}));
    store::settings::SiteSettings::validate(&settings).map_err(ApiError::invalid)?;
    let actor = caller.actor();
    let id = st
        .db
        .write(move |tx| {
            let id = chats::create_site(tx, &name, &settings)?;
            events::append(
                tx,
                &actor,
                "site.created",
                "site",
                Some(&id.to_string()),
                &serde_json::json!({"name": name}),
            )?;
            Ok(id)
        })
        .await?;
    let site = st
        .db
        .read(move |c| Ok(chats::list_sites(c)?.into_iter().find(|s| s.id == id)))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("site {id}")))?;
    Ok((StatusCode::CREATED, Json(site)))
}

#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "directory", params(("id" = i64, Path)), request_body = SiteInput,
    responses((status = 200, body = chats::Site), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn update_site(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(s): JsonBody<SiteInput>,
) -> ApiResult<Json<chats::Site>> {
    caller.require(Permission::Manage)?;
    let name = s
        .name
        .as_deref()
        .map(|n| clean_name("name", n))
        .transpose()?;
    if let Some(v) = &s.settings {
        store::settings::SiteSettings::validate(v).map_err(ApiError::invalid)?;
    }
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            chats::update_site(tx, id, name.as_deref(), s.settings.as_ref())?;
            events::append(
                tx,
                &actor,
                "site.updated",
                "site",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "settings": s.settings}),
            )?;
            Ok(())
        })
        .await?;
    // Webhook messages are classified before the write with their site's vocabulary: use the new one from now on.
    st.pipeline.forget_chat_sites();
    st.db
        .read(move |c| Ok(chats::list_sites(c)?.into_iter().find(|s| s.id == id)))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("site {id} not found")))
}

#[utoipa::path(get, path = "/api/v1/people", tag = "directory", responses((status = 200, body = Page<people::Person>)),
    security(("token" = []), ("session" = [])))]
pub async fn list_people(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<people::Person>>> {
    caller.require(Permission::ReadOperational)?;
    Ok(page(st.db.read(people::list).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PersonInput {
    pub name: Option<String>,
    /// Any format: `+60 12-345 6789`.
    pub phone: Option<String>,
    /// Vendor id, or null to detach.
    #[serde(default, deserialize_with = "super::double_option")]
    pub vendor: Option<Option<i64>>,
}

fn phone_field(p: &Option<String>) -> ApiResult<Option<String>> {
    p.as_deref()
        .map(|v| {
            crate::ingest::model::normalize_phone(v)
                .ok_or_else(|| ApiError::invalid(format!("phone: {v:?} is not a phone number")))
        })
        .transpose()
}

#[utoipa::path(post, path = "/api/v1/people", tag = "directory", request_body = PersonInput,
    responses((status = 201, body = people::PersonRef), (status = 409)), security(("token" = []), ("session" = [])))]
pub async fn create_person(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(p): JsonBody<PersonInput>,
) -> ApiResult<(StatusCode, Json<people::PersonRef>)> {
    caller.require(Permission::Manage)?;
    let name = p
        .name
        .as_deref()
        .map(|n| clean_name("name", n))
        .transpose()?;
    let phone = phone_field(&p.phone)?;
    if name.is_none() && phone.is_none() {
        return Err(ApiError::invalid("name or phone is required"));
    }
    let actor = caller.actor();
    let id = st
        .db
        .write(move |tx| {
            let id = people::create(tx, name.as_deref(), phone.as_deref())?;
            if let Some(v) = p.vendor {
                people::update(tx, id, None, None, Some(v))?;
            }
            events::append(
                tx,
                &actor,
                "person.created",
                "person",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "phone": phone}),
            )?;
            Ok(id)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(st.db.read(move |c| people::get_ref(c, id)).await?),
    ))
}

#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "directory", params(("id" = i64, Path)), request_body = PersonInput,
    responses((status = 200, body = people::PersonRef), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn update_person(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(p): JsonBody<PersonInput>,
) -> ApiResult<Json<people::PersonRef>> {
    caller.require(Permission::Manage)?;
    let name = p
        .name
        .as_deref()
        .map(|n| clean_name("name", n))
        .transpose()?;
    let phone = phone_field(&p.phone)?;
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            people::update(tx, id, name.as_deref(), phone.as_deref(), p.vendor)?;
            events::append(
                tx,
                &actor,
                "person.updated",
                "person",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "phone": phone, "vendor": p.vendor}),
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(st.db.read(move |c| people::get_ref(c, id)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MergeInput {
    /// The person that remains.
    pub into: i64,
    pub reason: Option<String>,
}

/// Merge this person into another (the same human seen under two ids).
#[utoipa::path(post, path = "/api/v1/people/{id}/merge", tag = "directory", params(("id" = i64, Path)), request_body = MergeInput,
    responses((status = 200, body = people::PersonRef), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn merge_person(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(m): JsonBody<MergeInput>,
) -> ApiResult<Json<people::PersonRef>> {
    caller.require(Permission::Manage)?;
    let actor = caller.actor();
    let into = m.into;
    st.db
        .write(move |tx| {
            people::merge(tx, id, into)?;
            events::append(
                tx,
                &actor,
                "person.merged",
                "person",
                Some(&id.to_string()),
                &serde_json::json!({"into": into, "reason": m.reason}),
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(st.db.read(move |c| people::get_ref(c, into)).await?))
}

#[utoipa::path(get, path = "/api/v1/vendors", tag = "directory", responses((status = 200, body = Page<chats::Vendor>)),
    security(("token" = []), ("session" = [])))]
pub async fn list_vendors(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<chats::Vendor>>> {
    caller.require(Permission::ReadRecords)?;
    Ok(page(st.db.read(chats::list_vendors).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VendorInput {
    pub name: String,
    pub trade: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/vendors", tag = "directory", request_body = VendorInput,
    responses((status = 201, body = chats::Vendor), (status = 409)), security(("token" = []), ("session" = [])))]
pub async fn create_vendor(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(v): JsonBody<VendorInput>,
) -> ApiResult<(StatusCode, Json<chats::Vendor>)> {
    caller.require(Permission::Manage)?;
    let name = clean_name("name", &v.name)?;
    let actor = caller.actor();
    let (n2, trade) = (name.clone(), v.trade.clone());
    let id = st
        .db
        .write(move |tx| {
            let id = chats::create_vendor(tx, &n2, trade.as_deref())?;
            events::append(
                tx,
                &actor,
                "vendor.created",
                "vendor",
                Some(&id.to_string()),
                &serde_json::json!({"name": n2}),
            )?;
            Ok(id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(vendor(&st, id).await?)))
}

async fn vendor(st: &AppState, id: i64) -> ApiResult<chats::Vendor> {
    st.db
        .read(move |c| Ok(chats::list_vendors(c)?.into_iter().find(|v| v.id == id)))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("vendor {id} not found")))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VendorUpdate {
    pub name: Option<String>,
    /// A category (`cleaning`, `lift`…), or null for any trade.
    #[serde(default, deserialize_with = "super::double_option")]
    pub trade: Option<Option<String>>,
}

/// Rename a vendor or change its trade.
#[utoipa::path(patch, path = "/api/v1/vendors/{id}", tag = "directory", params(("id" = i64, Path)), request_body = VendorUpdate,
    responses((status = 200, body = chats::Vendor), (status = 404), (status = 409)), security(("token" = []), ("session" = [])))]
pub async fn update_vendor(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(v): JsonBody<VendorUpdate>,
) -> ApiResult<Json<chats::Vendor>> {
    caller.require(Permission::Manage)?;
    let name = v
        .name
        .as_deref()
        .map(|n| clean_name("name", n))
        .transpose()?;
    let trade = v
        .trade
        .map(|t| t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()));
    let actor = caller.actor();
    st.db
        .write(move |tx| {
            chats::update_vendor(
                tx,
                id,
                name.as_deref(),
                trade.as_ref().map(|t| t.as_deref()),
            )?;
            events::append(
                tx,
                &actor,
                "vendor.updated",
                "vendor",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "trade": trade}),
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(vendor(&st, id).await?))
}

//! Logins and API tokens, managed by administrators: add a user, change a role, reset a password, disable a user,
//! create and revoke tokens. What `tapak user add` and `tapak token create` do on the command line.
//!
//! Passwords are hashed (argon2id) in the login limiter's bounded pool, never in the request task; hashes and
//! tokens are never returned except the new token itself, once. The last enabled administrator can be neither
//! demoted nor disabled (409), so the appliance always keeps someone who can manage it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::Page;
use crate::auth::{self, Permission, Role};
use crate::store::{events, users};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, JsonBody};
use crate::web::AppState;

fn role_field(v: &str) -> ApiResult<Role> {
    Role::parse(v).ok_or_else(|| {
        ApiError::invalid(format!(
            "role: unknown role {v:?} (admin, manager, viewer or inspector)"
        ))
    })
}

fn name_field(field: &str, v: &str) -> ApiResult<String> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field}: must be 1 to 100 characters, no control characters"
        )));
    }
    Ok(t.to_string())
}

/// Hashes a password in the bounded pool; a weak one is a 400 naming the field.
async fn hash(st: &AppState, password: String) -> ApiResult<String> {
    st.login_limiter
        .hash(move || auth::hash_password(&password))
        .await?
        .map_err(|e| match e {
            auth::AuthError::WeakPassword => ApiError::invalid(format!("password: {e}")),
            other => ApiError::internal(other.to_string()),
        })
}

/// Every login (never a password hash).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = Page<users::User>), (status = 403)), security(("token" = []), ("session" = [])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<users::User>>> {
    caller.require(Permission::Admin)?;
    let items = st.db.read(users::list).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub name: String,
    /// `admin`, `manager`, `viewer` or `inspector`.
    pub role: String,
    /// At least 8 characters.
    pub password: String,
}

/// Adds a login.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = users::User), (status = 400), (status = 403), (status = 409, description = "the name is taken")),
    security(("token" = []), ("session" = [])))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(u): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<users::User>)> {
    caller.require(Permission::Admin)?;
    let name = name_field("name", &u.name)?;
    let role = role_field(&u.role)?;
    let hashed = hash(&st, u.password).await?;
    let actor = caller.actor();
    let id = st
        .db
        .write(move |tx| {
            let id = users::create(tx, &name, role.as_str(), &hashed)?;
            events::append(
                tx,
                &actor,
                "user.created",
                "user",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "role": role.as_str()}),
            )?;
            Ok(id)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(st.db.read(move |c| users::get(c, id)).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserUpdate {
    pub role: Option<String>,
    /// `true` disables the login and ends its sessions; `false` enables it again.
    pub disabled: Option<bool>,
    /// A new password (at least 8 characters); the user's other sessions end.
    pub password: Option<String>,
}

/// Changes a user's role, disables or enables the login, or resets its password. 409 when that would leave no
/// enabled administrator.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = users::User), (status = 400), (status = 403), (status = 404),
              (status = 409, description = "the last enabled administrator cannot be demoted or disabled")),
    security(("token" = []), ("session" = [])))]
pub async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(u): JsonBody<UserUpdate>,
) -> ApiResult<Json<users::User>> {
    caller.require(Permission::Admin)?;
    let role = u.role.as_deref().map(role_field).transpose()?;
    if role.is_none() && u.disabled.is_none() && u.password.is_none() {
        return Err(ApiError::invalid(
            "give role, disabled or password to change",
        ));
    }
    let hashed = match u.password {
        Some(p) => Some(hash(&st, p).await?),
        None => None,
    };
    let actor = caller.actor();
    let own = caller.user_id == Some(id);
    let disabled = u.disabled;
    let outcome = st
        .db
        .write(move |tx| {
            let before = users::get(tx, id)?;
            let stays_admin = role.map_or(before.role == "admin", |r| r == Role::Admin)
                && !disabled.unwrap_or(before.disabled);
            if before.role == "admin"
                && !before.disabled
                && !stays_admin
                && users::other_enabled_admins(tx, id)? == 0
            {
                return Ok(Err(format!(
                    "{} is the last enabled administrator; make another user an administrator first",
                    before.name
                )));
            }
            users::update(
                tx,
                id,
                role.map(Role::as_str),
                disabled,
                hashed.as_deref(),
            )?;
            // A disabled login or a reset password ends the user's sessions (an administrator changing their own
            // password keeps the session they are using).
            let ended = if disabled == Some(true) || (hashed.is_some() && !own) {
                users::end_sessions(tx, id, None)?
            } else {
                0
            };
            events::append(
                tx,
                &actor,
                "user.updated",
                "user",
                Some(&id.to_string()),
                &serde_json::json!({
                    "name": before.name,
                    "role": role.map(Role::as_str),
                    "disabled": disabled,
                    "password_reset": hashed.is_some(),
                    "sessions_ended": ended,
                }),
            )?;
            Ok(Ok(()))
        })
        .await?;
    outcome.map_err(ApiError::Conflict)?;
    Ok(Json(st.db.read(move |c| users::get(c, id)).await?))
}

/// Every API token (never the token itself), live ones first.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "users",
    responses((status = 200, body = Page<users::Token>), (status = 403)), security(("token" = []), ("session" = [])))]
pub async fn list_tokens(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<users::Token>>> {
    caller.require(Permission::Admin)?;
    Ok(Json(Page {
        items: st.db.read(users::list_tokens).await?,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// What the token is for (a script, an integration).
    pub name: String,
    pub role: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: users::Token,
    /// The token: shown this once, stored only as a hash. Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Creates an API token; the answer carries it once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "users", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400), (status = 403)), security(("token" = []), ("session" = [])))]
pub async fn create_token(
    State(st): State<AppState>,
    caller: Caller,
    JsonBody(t): JsonBody<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    caller.require(Permission::Admin)?;
    let name = name_field("name", &t.name)?;
    let role = role_field(&t.role)?;
    let token = auth::new_token();
    let hashed = auth::secret_hash(&token);
    let actor = caller.actor();
    let id = st
        .db
        .write(move |tx| {
            let id = users::create_token(tx, &name, role.as_str(), &hashed)?;
            events::append(
                tx,
                &actor,
                "token.created",
                "api_token",
                Some(&id.to_string()),
                &serde_json::json!({"name": name, "role": role.as_str()}),
            )?;
            Ok(id)
        })
        .await?;
    let info = st.db.read(move |c| users::get_token(c, id)).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { info, token })))
}

/// Revokes an API token: requests carrying it get 401 from now on.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = users::Token), (status = 403), (status = 404),
              (status = 409, description = "the token making the request cannot revoke itself")),
    security(("token" = []), ("session" = [])))]
pub async fn revoke_token(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<users::Token>> {
    caller.require(Permission::Admin)?;
    if caller.token_id == Some(id) {
        return Err(ApiError::Conflict(
            "this is the token making the request; revoke it with another token or from the web UI"
                .into(),
        ));
    }
    let actor = caller.actor();
    let t = st
        .db
        .write(move |tx| {
            let t = users::revoke_token(tx, id)?;
            events::append(
                tx,
                &actor,
                "token.revoked",
                "api_token",
                Some(&id.to_string()),
                &serde_json::json!({"name": t.name}),
            )?;
            Ok(t)
        })
        .await?;
    Ok(Json(t))
}

pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, patch};
    axum::Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{id}", patch(update))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
}

/// The OpenAPI entries of these routes (merged into the API's document).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, update, list_tokens, create_token, revoke_token),
    tags((name = "users", description = "Logins and API tokens (administrators only)."))
)]
pub struct Doc;

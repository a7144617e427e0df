//! The WhatsApp connections screen: for each source (Cloud API, WAHA, Evolution) whether it is configured to receive
//! and to send, the webhook address to paste (from `server.public_url`), the last delivery received, WAHA's session
//! status (asked from WAHA itself), a test message through the outbox, and the reminder defaults of `[reminders]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::Permission;
use crate::config::Config;
use crate::message::Source;
use crate::outbox::{About, AboutType, NewSend, Purpose, Route, Send};
use crate::store::{events, ingest, outbox};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, JsonBody};
use crate::web::AppState;

/// One source as the screen shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Connection {
    /// `cloud_api`, `waha` or `evolution`.
    pub source: &'static str,
    /// Webhooks from it are checked and accepted (its secret is set).
    pub receiving: bool,
    /// tapak can send through it (reminders, test messages).
    pub sending: bool,
    /// Configuration keys still empty, e.g. `whatsapp.cloud.app_secret`.
    pub missing: Vec<String>,
    /// The address to paste into Meta's app settings or the gateway; null until `server.public_url` is set.
    pub webhook_url: Option<String>,
    pub last_delivery: Option<ingest::LastDelivery>,
    /// WAHA's session name (`whatsapp.waha.session`), or Evolution's instance.
    pub session: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Connections {
    /// `server.public_url` (empty when not set: the webhook addresses are then unknown to the server).
    pub public_url: String,
    pub items: Vec<Connection>,
}

const SOURCES: [(Source, &str); 3] = [
    (Source::CloudApi, "/webhooks/whatsapp"),
    (Source::Waha, "/webhooks/waha"),
    (Source::Evolution, "/webhooks/evolution"),
];

/// Which keys a source still lacks: (to receive, to send).
fn missing(cfg: &Config, source: Source) -> (Vec<&'static str>, Vec<&'static str>) {
    let w = &cfg.whatsapp;
    let need = |pairs: &[(&'static str, bool)]| -> Vec<&'static str> {
        pairs
            .iter()
            .filter(|(_, set)| !set)
            .map(|(k, _)| *k)
            .collect()
    };
    match source {
        Source::CloudApi => (
            need(&[
                ("whatsapp.cloud.app_secret", w.cloud.app_secret.is_set()),
                ("whatsapp.cloud.verify_token", w.cloud.verify_token.is_set()),
            ]),
            need(&[
                ("whatsapp.cloud.access_token", w.cloud.access_token.is_set()),
                (
                    "whatsapp.cloud.phone_number_id",
                    !w.cloud.phone_number_id.is_empty(),
                ),
            ]),
        ),
        Source::Waha => (
            if w.waha.webhook_hmac_key.is_set() || w.waha.webhook_token.is_set() {
                vec![]
            } else {
                vec!["whatsapp.waha.webhook_hmac_key or whatsapp.waha.webhook_token"]
            },
            need(&[("whatsapp.waha.base_url", !w.waha.base_url.is_empty())]),
        ),
        Source::Evolution => (
            if w.evolution.webhook_token.is_set() || w.evolution.webhook_jwt_key.is_set() {
                vec![]
            } else {
                vec!["whatsapp.evolution.webhook_token or whatsapp.evolution.webhook_jwt_key"]
            },
            need(&[
                (
                    "whatsapp.evolution.base_url",
                    !w.evolution.base_url.is_empty(),
                ),
                ("whatsapp.evolution.api_key", w.evolution.api_key.is_set()),
                (
                    "whatsapp.evolution.instance",
                    !w.evolution.instance.is_empty(),
                ),
            ]),
        ),
        Source::Import => (vec![], vec![]),
    }
}

/// The three WhatsApp sources: configured or not, the webhook address, the last delivery.
#[utoipa::path(get, path = "/api/v1/settings/connections", tag = "settings",
    responses((status = 200, body = Connections), (status = 403)), security(("token" = []), ("session" = [])))]
pub async fn list(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Connections>> {
    caller.require(Permission::Manage)?;
    let last = st
        .db
        .read(|c| {
            SOURCES
                .iter()
                .map(|(s, _)| ingest::last_delivery(c, *s))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let base = st.cfg.server.public_url.trim().trim_end_matches('/');
    let items = SOURCES
        .iter()
        .zip(last)
        .map(|((source, path), last_delivery)| {
            let (rx, tx) = missing(&st.cfg, *source);
            Connection {
                source: source.as_str(),
                receiving: rx.is_empty(),
                sending: tx.is_empty(),
                missing: rx.into_iter().chain(tx).map(str::to_string).collect(),
                webhook_url: (!base.is_empty()).then(|| format!("{base}{path}")),
                last_delivery,
                session: match source {
                    Source::Waha => Some(st.cfg.whatsapp.waha.session.clone()),
                    Source::Evolution => {
                        Some(st.cfg.whatsapp.evolution.instance.clone()).filter(|s| !s.is_empty())
                    }
                    _ => None,
                },
            }
        })
        .collect();
    Ok(Json(Connections {
        public_url: base.to_string(),
        items,
    }))
}

/// WAHA's answer about the session, or why there is none.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WahaSession {
    pub session: String,
    /// WAHA answered.
    pub reachable: bool,
    /// `WORKING`, `SCAN_QR_CODE`, `STARTING`, `STOPPED`, `FAILED`… as WAHA says; null when unreachable.
    pub status: Option<String>,
    /// The linked account (`me.pushName` or `me.id`), when WAHA tells.
    pub account: Option<String>,
    /// Why WAHA could not be asked (unreachable, refused the key, unknown session).
    pub error: Option<String>,
}

/// Asks WAHA for its session's status (`GET {base_url}/api/sessions/{session}` with `X-Api-Key`). Always 200 when
/// WAHA is configured: an unreachable gateway is an answer too (`reachable: false` with the reason).
#[utoipa::path(get, path = "/api/v1/settings/connections/waha/session", tag = "settings",
    responses((status = 200, body = WahaSession), (status = 403), (status = 409, description = "WAHA is not configured")),
    security(("token" = []), ("session" = [])))]
pub async fn waha_session(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<WahaSession>> {
    caller.require(Permission::Manage)?;
    let w = &st.cfg.whatsapp.waha;
    if w.base_url.is_empty() {
        return Err(ApiError::Conflict(
            "WAHA is not configured: set whatsapp.waha.base_url".into(),
        ));
    }
    let session = w.session.clone();
    let url = format!(
        "{}/api/sessions/{}",
        w.base_url.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(&session, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut req = st.http.get(&url).timeout(std::time::Duration::from_secs(5));
    if w.api_key.is_set() {
        req = req.header("X-Api-Key", w.api_key.expose());
    }
    let unreachable = |error: String| WahaSession {
        session: session.clone(),
        reachable: false,
        status: None,
        account: None,
        error: Some(error),
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                "no answer within 5 seconds".to_string()
            } else if e.is_connect() {
                "connection refused or host not found".to_string()
            } else {
                "the request failed".to_string()
            };
            return Ok(Json(unreachable(format!("WAHA at {}: {why}", w.base_url))));
        }
    };
    let code = resp.status();
    if !code.is_success() {
        let why = match code.as_u16() {
            401 | 403 => "refused the API key (whatsapp.waha.api_key)".to_string(),
            404 => format!("has no session {session:?}"),
            n => format!("answered HTTP {n}"),
        };
        return Ok(Json(unreachable(format!("WAHA {why}"))));
    }
    let body: serde_json::Value = match resp.json().await {
        Ok(v) => v,
        Err(_) => {
            return Ok(Json(unreachable(
                "WAHA answered something other than JSON".into(),
            )))
        }
    };
    let me = body.get("me");
    let text = |v: Option<&serde_json::Value>| v.and_then(|x| x.as_str()).map(str::to_string);
    Ok(Json(WahaSession {
        session: text(body.get("name")).unwrap_or(session.clone()),
        reachable: true,
        status: text(body.get("status")),
        account: text(me.and_then(|m| m.get("pushName"))).or(text(me.and_then(|m| m.get("id")))),
        error: None,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TestMessage {
    /// A phone number (`+60 12-345 6789` is fine).
    pub to: String,
    /// Default: "Test message from tapak: this connection works."
    pub text: Option<String>,
}

/// Queues a test message to a phone through the outbox on this route (quiet hours do not hold it). The answer is the
/// queued send; `GET /api/v1/outbox` shows how it went (sent, failed with the reason).
#[utoipa::path(post, path = "/api/v1/settings/connections/{source}/test", tag = "settings",
    params(("source" = String, Path, description = "cloud_api, waha or evolution")), request_body = TestMessage,
    responses((status = 201, body = Send), (status = 400), (status = 403),
              (status = 409, description = "the source is not configured for sending")),
    security(("token" = []), ("session" = [])))]
pub async fn send_test(
    State(st): State<AppState>,
    caller: Caller,
    Path(source): Path<String>,
    JsonBody(m): JsonBody<TestMessage>,
) -> ApiResult<(StatusCode, Json<Send>)> {
    caller.require(Permission::Admin)?;
    let route = Route::parse(&source).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no WhatsApp source {source:?} (cloud_api, waha or evolution)"
        ))
    })?;
    let src = match route {
        Route::CloudApi => Source::CloudApi,
        Route::Waha => Source::Waha,
        Route::Evolution => Source::Evolution,
    };
    let (_, lacking) = missing(&st.cfg, src);
    if !lacking.is_empty() {
        return Err(ApiError::Conflict(format!(
            "{source} is not configured for sending: set {}",
            lacking.join(", ")
        )));
    }
    let to = crate::ingest::model::normalize_phone(&m.to)
        .ok_or_else(|| ApiError::invalid(format!("to: {:?} is not a phone number", m.to)))?;
    let text = m
        .text
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Test message from tapak: this connection works.".into());
    let now = st.clock.now();
    let mut send = NewSend::text(
        to,
        route,
        text,
        Purpose::Test,
        About {
            kind: AboutType::Test,
            id: now.timestamp_millis(),
        },
    );
    send.template_params = vec![send.text.clone()];
    send.validate().map_err(ApiError::invalid)?;
    let actor = caller.actor();
    let id = st
        .db
        .write(move |tx| {
            let id = outbox::enqueue(tx, &send, now)?;
            if let Some(id) = id {
                events::append(
                    tx,
                    &actor,
                    "connection.test_queued",
                    "send",
                    Some(&id.to_string()),
                    &serde_json::json!({"route": send.route, "to": send.to}),
                )?;
            }
            Ok(id)
        })
        .await?
        .ok_or_else(|| ApiError::Conflict("a test message was just queued; try again".into()))?;
    st.wake.outbox.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(st.db.read(move |c| outbox::get(c, id)).await?),
    ))
}

/// The appliance's reminder defaults (`[reminders]`); sites override quiet hours, language, route and audience in
/// their settings (`reminders`), schedules the route and audience.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReminderDefaults {
    /// `quiet_hours`, `language`, `template_name`, `template_language`, `route`, `audience` as configured.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub reminders: crate::config::RemindersConfig,
    /// `[outbox] urgent_passes_quiet_hours`.
    pub urgent_passes_quiet_hours: bool,
}

#[utoipa::path(get, path = "/api/v1/settings/reminders", tag = "settings",
    responses((status = 200, body = ReminderDefaults)), security(("token" = []), ("session" = [])))]
pub async fn reminder_defaults(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ReminderDefaults>> {
    caller.require(Permission::ReadRecords)?;
    Ok(Json(ReminderDefaults {
        reminders: st.cfg.reminders.clone(),
        urgent_passes_quiet_hours: st.cfg.outbox.urgent_passes_quiet_hours,
    }))
}

pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/v1/settings/connections", get(list))
        .route(
            "/api/v1/settings/connections/waha/session",
            get(waha_session),
        )
        .route(
            "/api/v1/settings/connections/{source}/test",
            post(send_test),
        )
        .route("/api/v1/settings/reminders", get(reminder_defaults))
}

/// The OpenAPI entries of these routes (merged into the API's document).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, waha_session, send_test, reminder_defaults),
    tags((name = "settings", description = "WhatsApp connections and reminder defaults for the settings screens."))
)]
pub struct Doc;

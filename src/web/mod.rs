//! The thin HTTP layer: routing, extractors, translation between HTTP and the domain/store modules.

pub mod api;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod openapi;
mod state;
pub mod ui;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use std::time::Duration;
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::{AppState, WebState};

pub fn router(state: AppState) -> Router {
    let cfg = &state.cfg.server;
    let webhooks = Router::new()
        .route(
            "/webhooks/whatsapp",
            get(webhooks::cloud_handshake)
                .post(webhooks::cloud_post)
                .layer(DefaultBodyLimit::max(cfg.webhook_body_limit)),
        )
        .route(
            "/webhooks/waha",
            post(webhooks::waha_post).layer(DefaultBodyLimit::max(cfg.webhook_body_limit)),
        )
        .route(
            "/webhooks/evolution",
            post(webhooks::evolution_post).layer(DefaultBodyLimit::max(cfg.evolution_body_limit)),
        );
    let api = api::routes(&state)
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/{*rest}", axum::routing::any(api::not_found))
        .layer(DefaultBodyLimit::max(cfg.api_body_limit))
        .layer(axum::middleware::map_response(error::json_rejections))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // API answers are per caller and often personal: never stored by a browser or a proxy (evidence files, which
        // are immutable, set their own).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .route("/healthz", get(metrics::healthz))
        .route("/metrics", get(metrics::prometheus))
        .merge(webhooks)
        .merge(api)
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count_requests))
        .layer(CompressionLayer::new().compress_when(
            // Audit ZIPs, voice notes and videos are compressed already; compressing them again only costs the box CPU
            // (and would drop byte ranges, which seeking needs). Images are left alone by the default.
            DefaultPredicate::new()
                .and(NotForContentType::const_new("application/zip"))
                .and(NotForContentType::const_new("audio/"))
                .and(NotForContentType::const_new("video/")),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

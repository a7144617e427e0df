//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api, auth};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::SESSION_COOKIE,
                "browser session from POST /api/v1/auth/login; writes also need the X-CSRF-Token header",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tapak API", description = "The JSON API behind tapak's web UI. Lists return `{items, next_cursor}`, newest first; errors return `{error: {code, message}}`. Authenticate with `Authorization: Bearer <token>` (`tapak token create`) or the session cookie."),
    paths(
        auth::login, auth::logout, auth::me,
        api::messages::list, api::messages::get_one, api::messages::search, api::messages::dashboard,
        api::directory::list_chats, api::directory::get_chat, api::directory::update_chat,
        api::directory::list_sites, api::directory::create_site, api::directory::update_site,
        api::directory::list_people, api::directory::create_person, api::directory::update_person, api::directory::merge_person,
        api::directory::list_vendors, api::directory::create_vendor, api::directory::update_vendor,
        api::evidence::get_one, api::evidence::file, api::evidence::thumbnail,
        api::imports::create, api::imports::list,
        api::records::list_issues, api::records::get_issue, api::records::list_tasks, api::records::get_task,
        api::records::set_status, api::records::assign, api::records::merge, api::records::reclassify,
        api::records::move_message, api::records::move_evidence, api::records::repeats, api::records::get_sla,
        api::records::put_sla, api::records::export_issues, api::records::issue_timeline,
        api::exports::audit_zip, api::exports::signing_key,
        api::schedules::list, api::schedules::get_one, api::schedules::create, api::schedules::update,
        api::schedules::delete, api::schedules::list_occurrences, api::schedules::excuse, api::schedules::posters,
        api::outbox::list,
        api::reports::get_report, api::reports::download, api::reports::files, api::reports::file,
        api::outbox::get_texts,
        api::outbox::put_texts,
    ),
    modifiers(&Security),
    tags((name = "auth"), (name = "messages"), (name = "directory"), (name = "evidence"), (name = "records"), (name = "imports"),
        (name = "schedules", description = "Expected work: schedules, their occurrences and the reminders sent for them."),
        (name = "outbox", description = "WhatsApp sends (reminders, escalations, summaries): written before they are sent, with their delivery state."),
        (name = "reports", description = "Daily, weekly and monthly reports per site and for the firm (docs/reports.md defines every number)."),
        (name = "audit", description = "Audit ZIPs for inspectors, signed by the appliance's Ed25519 key and checked offline with `tapak verify`."),
        (name = "corrections", description = "Manager corrections: they win over every automatic rule, survive re-processing and are recorded in the hash-chained event log with who and why."))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.merge(api::users::Doc::openapi());
    doc.merge(api::connections::Doc::openapi());
    Json(doc)
}

//! The outbox: every message tapak sends over WhatsApp (reminders, escalations, photo requests, the daily summary,
//! later report delivery) is written here before it is sent, and sent by one worker (the sender).
//!
//! Producers (the scheduler, the ticket chaser, the daily summary) build a [`NewSend`] and call
//! [`crate::store::outbox::enqueue`] inside their own write transaction: the send is durable together with the
//! decision that made it, and the unique key (about, rung, recipient) makes a second ask for the same send a no-op.
//!
//! This module holds the domain types only: no SQL (that is `store::outbox`) and no HTTP (that is the sender).

pub mod documents;
pub mod limits;
pub mod sender;
pub mod texts;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::schedule::ladder::Rung;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }

            /// The value named `s` (as [`Self::as_str`] writes it), else `None`.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// How a send leaves: Meta's Cloud API or one of the self-hosted gateways.
    Route {
        CloudApi = "cloud_api",
        Waha = "waha",
        Evolution = "evolution",
    }
);

str_enum!(
    /// What the send is (or was, once sent: a Cloud API text outside the 24-hour window goes out as a template).
    Kind {
        Text = "text",
        Template = "template",
        Document = "document",
    }
);

str_enum!(
    /// Why the send exists.
    Purpose {
        Reminder = "reminder",
        Escalation = "escalation",
        PhotoRequest = "photo_request",
        Summary = "summary",
        Anchor = "anchor",
        /// An administrator's test message from the connections screen.
        Test = "test",
    }
);

str_enum!(
    /// What a send is about.
    AboutType {
        Occurrence = "occurrence",
        Issue = "issue",
        Report = "report",
        /// A test message (its id is the time it was asked for, in unix ms).
        Test = "test",
    }
);

str_enum!(
    /// Where a send is. `queued` → `sending` → `sent` → `delivered` → `read`; or `failed`; or `unconfirmed` when the
    /// request went out and no answer came (never resent blindly; a status webhook may settle it).
    SendState {
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
        Unconfirmed = "unconfirmed",
    }
);

str_enum!(
    /// Who a schedule's reminders reach on a gateway route: its group (mentioning the person), the person, or both.
    Audience {
        Group = "group",
        Person = "person",
        Both = "both",
    }
);

impl Purpose {
    /// The purpose of a send for a rung of the reminder ladder.
    pub fn of_rung(rung: Rung) -> Purpose {
        match rung {
            Rung::Remind | Rung::RespondOwner | Rung::ResolveOwner => Purpose::Reminder,
            Rung::PhotoRequest => Purpose::PhotoRequest,
            Rung::Escalate | Rung::RespondEscalate | Rung::ResolveEscalate => Purpose::Escalation,
        }
    }
}

impl SendState {
    /// Order of WhatsApp receipts: a status only ever moves a send up (sent < delivered < read), whatever order the
    /// webhooks arrive in. `None` for states that are not receipts.
    pub fn receipt_rank(self) -> Option<u8> {
        match self {
            SendState::Sent => Some(1),
            SendState::Delivered => Some(2),
            SendState::Read => Some(3),
            _ => None,
        }
    }

    /// Whether the worker will still act on the send by itself.
    pub fn is_pending(self) -> bool {
        matches!(self, SendState::Queued | SendState::Sending)
    }
}

/// What a send is about: `{"type": "occurrence"|"issue"|"report", "id": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct About {
    #[serde(rename = "type")]
    pub kind: AboutType,
    pub id: i64,
}

impl About {
    pub fn occurrence(id: i64) -> About {
        About {
            kind: AboutType::Occurrence,
            id,
        }
    }
    pub fn issue(id: i64) -> About {
        About {
            kind: AboutType::Issue,
            id,
        }
    }
    pub fn report(id: i64) -> About {
        About {
            kind: AboutType::Report,
            id,
        }
    }
}

/// How a schedule's reminders go out: a per-schedule setting; absent fields fall back to the site's default
/// ([`SiteReminders`]) and then to the appliance's (`[reminders] route`, `audience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    pub route: Option<Route>,
    pub audience: Option<Audience>,
}

impl Delivery {
    /// This setting with its blanks filled from `fallback`.
    pub fn or(self, fallback: Delivery) -> Delivery {
        Delivery {
            route: self.route.or(fallback.route),
            audience: self.audience.or(fallback.audience),
        }
    }
}

/// A site's reminder settings: the `reminders` object of the site's `settings`
/// (`{"reminders": {"route": "waha", "audience": "group", "quiet_hours": "23:00-06:00", "language": "ms"}}`).
/// Every field is optional; unknown or malformed ones are ignored (the appliance default applies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteReminders {
    pub delivery: Delivery,
    /// `Some("")` switches quiet hours off for the site.
    pub quiet_hours: Option<String>,
    pub language: Option<texts::Lang>,
}

impl SiteReminders {
    /// Reads the `reminders` object of a site's settings JSON.
    pub fn from_settings(settings: &serde_json::Value) -> SiteReminders {
        let Some(r) = settings.get("reminders") else {
            return SiteReminders::default();
        };
        let s = |k: &str| r.get(k).and_then(|v| v.as_str());
        SiteReminders {
            delivery: Delivery {
                route: s("route").and_then(Route::parse),
                audience: s("audience").and_then(Audience::parse),
            },
            quiet_hours: s("quiet_hours").map(str::to_string),
            language: s("language").and_then(texts::Lang::parse),
        }
    }
}

/// A send to be queued. Build one with [`NewSend::text`] and adjust the public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSend {
    /// A phone (digits, `+` and spaces allowed) or a chat id (`…@g.us` for a group).
    pub to: String,
    pub route: Route,
    pub kind: Kind,
    /// The message text (for a Cloud API template: what it says, for the record).
    pub text: String,
    /// The Cloud API template's body parameters, used when the send goes out as a template.
    pub template_params: Vec<String>,
    /// Phones mentioned in a group send (WAHA `mentions`, Evolution `mentioned`).
    pub mentions: Vec<String>,
    pub purpose: Purpose,
    pub about: About,
    /// The ladder's rung ([`Rung::as_str`]); empty for sends outside the ladder. Part of the unique key.
    pub rung: String,
    /// An urgent escalation: may pass quiet hours when `[outbox] urgent_passes_quiet_hours` is on.
    pub urgent: bool,
    /// The site whose quiet hours apply (else the appliance's `[reminders] quiet_hours`).
    pub site_id: Option<i64>,
    /// Not before this time (default: as soon as allowed).
    pub not_before: Option<DateTime<Utc>>,
    /// The file of a [`Kind::Document`] send (its caption is `text`).
    pub document: Option<Document>,
}

/// A file sent as a WhatsApp document: read from `path` when the send is attempted (the producer keeps it until then),
/// shown to the recipient as `filename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Document {
    pub path: String,
    pub filename: String,
    pub mime: String,
}

impl Document {
    /// A document named `filename`, its MIME type guessed from the name (`application/octet-stream` when unknown).
    pub fn new(path: impl Into<String>, filename: impl Into<String>) -> Document {
        let filename = filename.into();
        let mime = mime_guess::from_path(&filename)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_string();
        Document {
            path: path.into(),
            filename,
            mime,
        }
    }

    /// The name as WhatsApp will show it: a plain file name (no folders, no control characters), not empty.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.filename.trim();
        if n.is_empty() {
            return Err("document.filename: empty".into());
        }
        if n.contains(['/', '\\']) || n.chars().any(char::is_control) || n == "." || n == ".." {
            return Err(format!(
                "document.filename: {:?} is not a plain file name",
                self.filename
            ));
        }
        if n.chars().count() > MAX_FILENAME_CHARS {
            return Err(format!(
                "document.filename: longer than {MAX_FILENAME_CHARS} characters"
            ));
        }
        if self.path.trim().is_empty() {
            return Err("document.path: empty".into());
        }
        Ok(())
    }
}

/// Longest document name accepted.
pub const MAX_FILENAME_CHARS: usize = 200;
/// WhatsApp's limit on a media caption.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// WhatsApp's limit on a document (Cloud API and the gateways alike).
pub const MAX_DOCUMENT_BYTES: u64 = 100 * 1024 * 1024;

impl NewSend {
    pub fn text(
        to: impl Into<String>,
        route: Route,
        text: impl Into<String>,
        purpose: Purpose,
        about: About,
    ) -> NewSend {
        NewSend {
            to: to.into(),
            route,
            kind: Kind::Text,
            text: text.into(),
            template_params: Vec::new(),
            mentions: Vec::new(),
            purpose,
            about,
            rung: String::new(),
            urgent: false,
            site_id: None,
            not_before: None,
            document: None,
        }
    }

    /// A document send: `doc` with `caption` (may be empty). Its rung is `document`, so a text and a document about
    /// the same thing to the same recipient are two sends.
    pub fn document(
        to: impl Into<String>,
        route: Route,
        doc: Document,
        caption: impl Into<String>,
        purpose: Purpose,
        about: About,
    ) -> NewSend {
        let mut s = NewSend::text(to, route, caption, purpose, about);
        s.kind = Kind::Document;
        s.rung = "document".into();
        s.document = Some(doc);
        s
    }

    /// A send for a rung of the ladder (purpose and rung from the rung).
    pub fn for_rung(
        to: impl Into<String>,
        route: Route,
        text: impl Into<String>,
        about: About,
        rung: Rung,
    ) -> NewSend {
        let mut s = NewSend::text(to, route, text, Purpose::of_rung(rung), about);
        s.rung = rung.as_str().to_string();
        s
    }

    /// Checks what the store cannot: a recipient that can be addressed and a text WhatsApp accepts.
    pub fn validate(&self) -> Result<(), String> {
        if recipient_digits(&self.to).is_none() && !is_chat_id(&self.to) {
            return Err(format!(
                "to: {:?} is neither a phone number nor a chat id",
                self.to
            ));
        }
        if self.kind == Kind::Document {
            return match &self.document {
                None => Err("document: a document send without its file".into()),
                Some(_) if self.text.chars().count() > MAX_CAPTION_CHARS => Err(format!(
                    "text: a caption longer than {MAX_CAPTION_CHARS} characters"
                )),
                Some(d) => d.validate(),
            };
        }
        if self.text.trim().is_empty() {
            return Err("text: empty".into());
        }
        if self.text.chars().count() > MAX_TEXT_CHARS {
            return Err(format!("text: longer than {MAX_TEXT_CHARS} characters"));
        }
        Ok(())
    }
}

/// WhatsApp's limit on a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;

/// A stored send, as `GET /api/v1/outbox` shows it (`interfaces.md`, "send").
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Send {
    pub id: i64,
    pub to: String,
    pub route: Route,
    pub kind: Kind,
    pub text: String,
    pub template_params: Vec<String>,
    pub mentions: Vec<String>,
    pub purpose: Purpose,
    pub about: About,
    pub rung: String,
    pub urgent: bool,
    pub site: Option<i64>,
    pub state: SendState,
    pub attempts: i64,
    pub error: Option<String>,
    pub wa_message_id: Option<String>,
    /// When the worker will next try it (RFC 3339), while queued.
    pub next_attempt_at: Option<String>,
    /// The file of a document send.
    pub document: Option<Document>,
    pub created_at: String,
    pub updated_at: String,
}

/// The digits of a phone number (`+60 16-765 4302` → `60167654302`); `None` when `to` is not one.
pub fn recipient_digits(to: &str) -> Option<String> {
    crate::ingest::model::normalize_phone(to)
}

/// Whether `to` is a WhatsApp chat id (`<id>@g.us`, `<digits>@c.us`, `<digits>@s.whatsapp.net`, `<digits>@lid`).
pub fn is_chat_id(to: &str) -> bool {
    let Some((user, server)) = to.trim().rsplit_once('@') else {
        return false;
    };
    !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b':' || b == b'.')
        && matches!(server, "g.us" | "c.us" | "s.whatsapp.net" | "lid")
}

/// Where a schedule's reminder to one person goes under `delivery`: `(to, mentions)` pairs. On a gateway route the
/// group (`chat`, mentioning the person), the person, or both; the Cloud API cannot post in a phone-created group, so
/// it always writes to the person. With no group known, the person.
pub fn targets(delivery: Delivery, chat: Option<&str>, phone: &str) -> Vec<(String, Vec<String>)> {
    let route = delivery.route.unwrap_or(Route::CloudApi);
    let group = chat.filter(|c| is_group(c) && route != Route::CloudApi);
    let person = (phone.to_string(), Vec::new());
    match (delivery.audience.unwrap_or(Audience::Group), group) {
        (Audience::Group, Some(g)) => vec![(g.to_string(), vec![phone.to_string()])],
        (Audience::Both, Some(g)) => vec![(g.to_string(), vec![phone.to_string()]), person],
        _ => vec![person],
    }
}

/// Whether `to` is a group chat.
pub fn is_group(to: &str) -> bool {
    to.trim().ends_with("@g.us")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Route::ALL {
            assert_eq!(Route::parse(r.as_str()), Some(*r));
        }
        for s in SendState::ALL {
            assert_eq!(SendState::parse(s.as_str()), Some(*s));
        }
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Route::parse("sms"), None);
    }

    #[test]
    fn receipts_only_rank_upwards() {
        assert!(SendState::Read.receipt_rank() > SendState::Delivered.receipt_rank());
        assert!(SendState::Delivered.receipt_rank() > SendState::Sent.receipt_rank());
        assert_eq!(SendState::Failed.receipt_rank(), None);
    }

    #[test]
    fn recipients() {
        assert_eq!(
            recipient_digits("+60 16-765 4302").as_deref(),
            Some("60167654302")
        );
        assert_eq!(recipient_digits("12"), None);
        assert_eq!(recipient_digits("abc"), None);
        assert!(is_chat_id("120363025555555555@g.us"));
        assert!(is_chat_id("60167654302@c.us"));
        assert!(!is_chat_id("60167654302"));
        assert!(!is_chat_id("x@example.com"));
        assert!(is_group("120363025555555555@g.us"));
        let mut s = NewSend::text(
            "nobody",
            Route::Waha,
            "hi",
            Purpose::Reminder,
            About::issue(1),
        );
        assert!(s.validate().unwrap_err().starts_with("to:"));
        s.to = "60167654302".into();
        assert!(s.validate().is_ok());
        s.text = " ".into();
        assert!(s.validate().unwrap_err().starts_with("text:"));
    }

    #[test]
    fn document_sends_need_a_plain_name_and_a_short_caption() {
        let doc = Document::new("/data/reports/w49.pdf", "Weekly report 2026-W49.pdf");
        assert_eq!(doc.mime, "application/pdf");
        let mut s = NewSend::document(
            "60167654302",
            Route::CloudApi,
            doc,
            "",
            Purpose::Summary,
            About::report(49),
        );
        assert_eq!(s.kind, Kind::Document);
        assert!(s.validate().is_ok(), "an empty caption is fine");
        s.text = "x".repeat(MAX_CAPTION_CHARS + 1);
        assert!(s.validate().unwrap_err().starts_with("text:"));
        s.text = "Weekly report".into();
        for bad in ["../etc/passwd", "a\\b.pdf", "", "x\n.pdf"] {
            s.document.as_mut().unwrap().filename = bad.into();
            assert!(
                s.validate().unwrap_err().starts_with("document.filename"),
                "{bad:?}"
            );
        }
        s.document = None;
        assert!(s.validate().unwrap_err().starts_with("document:"));
        assert_eq!(Document::new("p", "notes").mime, "application/octet-stream");
    }

    #[test]
    fn audiences() {
        let g = Some("120363@g.us");
        let d = |route, audience| Delivery {
            route: Some(route),
            audience: Some(audience),
        };
        assert_eq!(
            targets(d(Route::Waha, Audience::Group), g, "6012"),
            vec![("120363@g.us".to_string(), vec!["6012".to_string()])]
        );
        assert_eq!(
            targets(d(Route::Evolution, Audience::Both), g, "6012").len(),
            2
        );
        assert_eq!(
            targets(d(Route::CloudApi, Audience::Group), g, "6012"),
            vec![("6012".to_string(), vec![])]
        );
        assert_eq!(
            targets(d(Route::Waha, Audience::Group), None, "6012"),
            vec![("6012".to_string(), vec![])]
        );
    }

    #[test]
    fn site_settings_fill_blanks() {
        let v = serde_json::json!({"reminders": {"route": "waha", "audience": "bogus", "quiet_hours": "", "language": "ms"}});
        let s = SiteReminders::from_settings(&v);
        assert_eq!(s.delivery.route, Some(Route::Waha));
        assert_eq!(s.delivery.audience, None);
        assert_eq!(s.quiet_hours.as_deref(), Some(""));
        assert_eq!(s.language, Some(texts::Lang::Ms));
        let per_schedule = Delivery {
            route: None,
            audience: Some(Audience::Person),
        };
        assert_eq!(
            per_schedule.or(s.delivery),
            Delivery {
                route: Some(Route::Waha),
                audience: Some(Audience::Person)
            }
        );
        assert_eq!(
            SiteReminders::from_settings(&serde_json::json!({})),
            SiteReminders::default()
        );
    }
}

//! Configuration: built-in defaults < TOML file < `TAPAK_*` environment < command-line flags.
//!
//! Every key is documented in `config.example.toml`; a test keeps the two in sync.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret string: never printed by `Debug`, redacted by [`Config::redacted_toml`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"<redacted>\"")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub general: GeneralConfig,
    pub whatsapp: WhatsAppConfig,
    pub scheduler: SchedulerConfig,
    pub posters: PostersConfig,
    pub reminders: RemindersConfig,
    pub outbox: OutboxConfig,
    pub evidence: EvidenceConfig,
    pub import: ImportConfig,
    pub audit: AuditConfig,
    pub reports: ReportsConfig,
    pub transcribe: TranscribeConfig,
    /// Not a file key: the data directory (`--data`, `TAPAK_DATA`), default `./tapak-data`.
    #[serde(skip)]
    pub data_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            general: GeneralConfig::default(),
            whatsapp: WhatsAppConfig::default(),
            scheduler: SchedulerConfig::default(),
            posters: PostersConfig::default(),
            reminders: RemindersConfig::default(),
            outbox: OutboxConfig::default(),
            evidence: EvidenceConfig::default(),
            import: ImportConfig::default(),
            audit: AuditConfig::default(),
            reports: ReportsConfig::default(),
            transcribe: TranscribeConfig::default(),
            data_dir: PathBuf::from("tapak-data"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub public_url: String,
    pub tls_cert: String,
    pub tls_key: String,
    /// Largest accepted body for the Cloud API and WAHA webhooks, in bytes.
    pub webhook_body_limit: usize,
    /// Largest accepted body for the Evolution webhook (base64 media inline), in bytes.
    pub evolution_body_limit: usize,
    /// Largest accepted JSON body on `/api/v1`, in bytes.
    pub api_body_limit: usize,
    /// Largest accepted chat-export upload on `/api/v1/imports`, in bytes.
    pub upload_body_limit: usize,
    /// Session lifetime in hours.
    pub session_hours: u64,
    /// Failed logins allowed per user name and client address per 15 minutes.
    pub login_attempts: u32,
    /// Seconds without new messages after which cached memory goes back to the OS (0 = keep it).
    pub idle_release_secs: u64,
    /// Webhook deliveries in flight below which a delivery is filed (messages, classification, records) in the
    /// transaction that stores it; at or above, deliveries are acknowledged from the inbox and filed behind in large
    /// batches (0 = always through the inbox).
    pub inline_filing_below: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "0.0.0.0:8080".into(),
            public_url: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            webhook_body_limit: 8 * 1024 * 1024,
            evolution_body_limit: 64 * 1024 * 1024,
            api_body_limit: 1024 * 1024,
            upload_body_limit: 512 * 1024 * 1024,
            session_hours: 12,
            login_attempts: 10,
            idle_release_secs: 20,
            inline_filing_below: 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneralConfig {
    pub timezone: String,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        GeneralConfig {
            timezone: "Asia/Kuala_Lumpur".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsAppConfig {
    pub cloud: CloudConfig,
    pub waha: WahaConfig,
    pub evolution: EvolutionConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    pub verify_token: Secret,
    pub app_secret: Secret,
    pub access_token: Secret,
    pub phone_number_id: String,
    pub graph_base_url: String,
    pub graph_version: String,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            verify_token: Secret::default(),
            app_secret: Secret::default(),
            access_token: Secret::default(),
            phone_number_id: String::new(),
            graph_base_url: "https://graph.facebook.com".into(),
            graph_version: "v25.0".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WahaConfig {
    pub base_url: String,
    pub api_key: Secret,
    pub webhook_hmac_key: Secret,
    pub webhook_token: Secret,
    pub session: String,
}

impl Default for WahaConfig {
    fn default() -> Self {
        WahaConfig {
            base_url: String::new(),
            api_key: Secret::default(),
            webhook_hmac_key: Secret::default(),
            webhook_token: Secret::default(),
            session: "default".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionConfig {
    pub base_url: String,
    pub api_key: Secret,
    pub instance: String,
    pub webhook_token: Secret,
    pub webhook_jwt_key: Secret,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    pub tick_seconds: u64,
    /// Local time (`HH:MM`) of the managers' daily summary; empty = off.
    pub summary_time: String,
    /// Phones the daily summary goes to.
    pub summary_to: Vec<String>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tick_seconds: 30,
            summary_time: String::new(),
            summary_to: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PostersConfig {
    /// The WhatsApp number QR posters open (`wa.me/<number>`): the business number guards and cleaners report to.
    pub business_number: String,
}

/// Reminder texts and how they go out (`[reminders]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemindersConfig {
    /// `HH:MM-HH:MM` in `general.timezone`; empty = none. Sends wait until the end (per-site override in the site's
    /// settings, `reminders.quiet_hours`).
    pub quiet_hours: String,
    /// `en` or `ms`: the language of reminder texts unless the site or person says otherwise.
    pub language: String,
    /// Approved Cloud API template used outside the 24-hour window; empty = such sends fail with that reason.
    pub template_name: String,
    pub template_language: String,
    /// Approved Cloud API template with a DOCUMENT header and one body parameter (the caption, else the file name),
    /// used for documents outside the 24-hour window; empty = such sends fail with that reason.
    pub document_template_name: String,
    /// Default route of reminders: `cloud_api`, `waha` or `evolution` (per site and per schedule overrides).
    pub route: String,
    /// Default audience on gateway routes: `group`, `person` or `both`.
    pub audience: String,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        RemindersConfig {
            quiet_hours: "22:00-07:00".into(),
            language: "en".into(),
            template_name: String::new(),
            template_language: "en".into(),
            document_template_name: String::new(),
            route: "cloud_api".into(),
            audience: "group".into(),
        }
    }
}

/// The sender worker's limits (`[outbox]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Attempts before a send that keeps failing (5xx, 429, connection refused) is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt, at most `max_backoff_seconds`.
    pub backoff_seconds: u64,
    pub max_backoff_seconds: u64,
    /// How long one send may take before its outcome is unknown (marked unconfirmed, never resent blindly).
    pub timeout_seconds: u64,
    /// Sends to one recipient per minute.
    pub per_recipient_per_minute: u32,
    /// Sends to anyone per minute.
    pub global_per_minute: u32,
    /// Whether urgent escalations may be sent during quiet hours.
    pub urgent_passes_quiet_hours: bool,
    /// How often the worker looks for due sends even when nothing woke it.
    pub poll_seconds: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 6,
            backoff_seconds: 30,
            max_backoff_seconds: 3600,
            timeout_seconds: 30,
            per_recipient_per_minute: 6,
            global_per_minute: 60,
            urgent_passes_quiet_hours: false,
            poll_seconds: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Longest edge of generated thumbnails, in pixels.
    pub thumbnail_px: u32,
    /// Largest media file tapak downloads, in bytes.
    pub max_media_bytes: u64,
    /// Download attempts before a media item is marked `failed`.
    pub max_attempts: u32,
    /// Media downloads and image decodes running at once.
    pub concurrency: usize,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            thumbnail_px: 320,
            max_media_bytes: 100 * 1024 * 1024,
            max_attempts: 8,
            concurrency: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Largest total uncompressed size of a chat-export zip, in bytes.
    pub max_uncompressed_bytes: u64,
    /// Largest compression ratio accepted for one zip entry (zip-bomb guard).
    pub max_compression_ratio: u64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            max_uncompressed_bytes: 4 * 1024 * 1024 * 1024,
            max_compression_ratio: 200,
        }
    }
}

/// Audit anchoring (`[audit]`): each night the event chain's head as the day before ended is posted to a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The chat the heads are posted to: a group id (`…@g.us`) or a phone; empty = off.
    pub anchor_chat: String,
    /// How they go out: `cloud_api`, `waha` or `evolution`.
    pub anchor_route: String,
    /// Local time (`HH:MM`) after which the day before is posted.
    pub anchor_time: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            anchor_chat: String::new(),
            anchor_route: "cloud_api".into(),
            anchor_time: "00:05".into(),
        }
    }
}

/// Reports (`[reports]`, docs/reports.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// Local time (`HH:MM`) the day before's report files are written; empty = no daily files.
    pub daily_time: String,
    /// Day of the week (`monday` … `sunday`) the week before's (Monday to Sunday) files are written.
    pub weekly_day: String,
    /// Local time of the weekly run; empty = no weekly files.
    pub weekly_time: String,
    /// Day of the month (1-28) the month before's files are written.
    pub monthly_day: u32,
    /// Local time of the monthly run; empty = no monthly files.
    pub monthly_time: String,
    /// Formats written: any of `pdf`, `xlsx`, `html`, `csv` (a ZIP of CSV files), `json`.
    pub formats: Vec<String>,
    /// Whether the firm's report (every site together) is written.
    pub overall: bool,
    /// Sites that get their own files too, by id or name; `["*"]` = every site.
    pub sites: Vec<String>,
    /// Files are deleted once their period ended this many days ago.
    pub retention_days: u32,
    /// Phones or group ids (`…@g.us`) each PDF of `send_periods` is sent to as a WhatsApp document; empty = none.
    pub send_to: Vec<String>,
    /// Which periods' PDFs are sent: `daily`, `weekly`, `monthly`.
    pub send_periods: Vec<String>,
    /// How they go out: `cloud_api`, `waha` or `evolution`.
    pub send_route: String,
    /// A reminder, photo request or escalation counts as answered when its answer came within this many minutes.
    pub answer_window_minutes: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            daily_time: "06:00".into(),
            weekly_day: "monday".into(),
            weekly_time: "06:30".into(),
            monthly_day: 1,
            monthly_time: "07:00".into(),
            formats: vec!["pdf".into(), "xlsx".into()],
            overall: true,
            sites: vec![],
            retention_days: 90,
            send_to: vec![],
            send_periods: vec!["weekly".into(), "monthly".into()],
            send_route: "cloud_api".into(),
            answer_window_minutes: 120,
        }
    }
}

/// Voice notes as text (`[transcribe]`): a command the operator installs (whisper.cpp's CLI, for example) is run on
/// each voice note in the background; what it prints on standard output is the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscribeConfig {
    /// The command line, split like a shell would (quotes, no expansion); `{file}` is replaced by the voice note's
    /// path (appended when absent). Empty = voice notes are not transcribed.
    pub command: String,
    /// A run still going after this long is killed (with its process group) and counts as a failed attempt.
    pub timeout_seconds: u64,
    /// Runs of one voice note (with backoff) before its transcript is marked failed.
    pub max_attempts: u32,
}

impl Default for TranscribeConfig {
    fn default() -> Self {
        TranscribeConfig {
            command: String::new(),
            timeout_seconds: 300,
            max_attempts: 3,
        }
    }
}

impl TranscribeConfig {
    /// The command's words, or `None` when transcription is off; an error when the line cannot be split.
    pub fn argv(&self) -> Result<Option<Vec<String>>, String> {
        if self.command.trim().is_empty() {
            return Ok(None);
        }
        match shlex::split(&self.command) {
            Some(words) if !words.is_empty() => Ok(Some(words)),
            _ => Err("not a command line (unbalanced quotes?)".into()),
        }
    }
}

/// Command-line values that override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// Environment variables with the `TAPAK_` prefix that are not configuration keys.
const NON_KEY_ENV: &[&str] = &[
    "TAPAK_CONFIG",
    "TAPAK_DATA",
    "TAPAK_LOG",
    "TAPAK_SKIP_UI_BUILD",
];

impl Config {
    /// Loads defaults, then the file (`--config` or `TAPAK_CONFIG`), then `TAPAK_*` variables, then flags.
    pub fn load(ov: &Overrides) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(ov, &env)
    }

    /// As [`Config::load`], with the environment given explicitly (for tests).
    pub fn load_from(ov: &Overrides, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let file = ov.config_file.clone().or_else(|| {
            get("TAPAK_CONFIG")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        let mut tree =
            toml::Value::try_from(Config::default()).map_err(|e| ConfigError::Invalid {
                key: "defaults".into(),
                message: e.to_string(),
            })?;
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let from_file: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
            merge(&mut tree, from_file);
            // Validate unknown keys against the file alone so the message names the file.
            toml::from_str::<Config>(&text).map_err(|e| ConfigError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("TAPAK_") else {
                continue;
            };
            if NON_KEY_ENV.contains(&name.as_str()) || rest.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            match set_path(&mut tree, &path, value) {
                Ok(()) => {}
                Err(SetError::UnknownKey(key)) => {
                    // Not ours (or a typo): say so, but do not refuse to start.
                    tracing::warn!(variable = %name, "ignoring environment variable: no configuration key {key}");
                }
                Err(SetError::Bad(message)) => {
                    return Err(ConfigError::Env {
                        var: name.clone(),
                        message,
                    })
                }
            }
        }
        let mut cfg: Config = tree
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Env {
                var: "TAPAK_*".into(),
                message: e.to_string(),
            })?;
        cfg.data_dir = ov
            .data_dir
            .clone()
            .or_else(|| {
                get("TAPAK_DATA")
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("tapak-data"));
        if let Some(listen) = &ov.listen {
            cfg.server.listen = listen.clone();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
        };
        self.server
            .listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| {
                invalid(
                    "server.listen",
                    format!("not an address like 0.0.0.0:8080 ({e})"),
                )
            })?;
        self.timezone()?;
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            return Err(invalid(
                "server.tls_cert",
                "tls_cert and tls_key must be set together".into(),
            ));
        }
        url::Url::parse(&self.whatsapp.cloud.graph_base_url)
            .map_err(|e| invalid("whatsapp.cloud.graph_base_url", format!("not a URL ({e})")))?;
        for (key, v) in [
            ("whatsapp.waha.base_url", &self.whatsapp.waha.base_url),
            (
                "whatsapp.evolution.base_url",
                &self.whatsapp.evolution.base_url,
            ),
        ] {
            if !v.is_empty() {
                url::Url::parse(v).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
            }
        }
        if self.scheduler.tick_seconds == 0 {
            return Err(invalid(
                "scheduler.tick_seconds",
                "must be at least 1".into(),
            ));
        }
        let summary = self.scheduler.summary_time.trim();
        if !summary.is_empty() && chrono::NaiveTime::parse_from_str(summary, "%H:%M").is_err() {
            return Err(invalid(
                "scheduler.summary_time",
                format!("{summary:?} is not a time like 07:30"),
            ));
        }
        if let Some(bad) = self
            .scheduler
            .summary_to
            .iter()
            .find(|p| crate::ingest::model::normalize_phone(p).is_none())
        {
            return Err(invalid(
                "scheduler.summary_to",
                format!("{bad:?} is not a phone number"),
            ));
        }
        self.transcribe
            .argv()
            .map_err(|e| invalid("transcribe.command", e))?;
        if self.transcribe.timeout_seconds == 0 {
            return Err(invalid(
                "transcribe.timeout_seconds",
                "must be at least 1".into(),
            ));
        }
        if self.transcribe.max_attempts == 0 {
            return Err(invalid(
                "transcribe.max_attempts",
                "must be at least 1".into(),
            ));
        }
        if crate::outbox::Route::parse(self.audit.anchor_route.trim()).is_none() {
            return Err(invalid(
                "audit.anchor_route",
                "must be cloud_api, waha or evolution".into(),
            ));
        }
        let anchor_time = self.audit.anchor_time.trim();
        if chrono::NaiveTime::parse_from_str(anchor_time, "%H:%M").is_err() {
            return Err(invalid(
                "audit.anchor_time",
                format!("{anchor_time:?} is not a time like 00:05"),
            ));
        }
        let chat = self.audit.anchor_chat.trim();
        if !chat.is_empty()
            && !crate::outbox::is_chat_id(chat)
            && crate::outbox::recipient_digits(chat).is_none()
        {
            return Err(invalid(
                "audit.anchor_chat",
                format!("{chat:?} is neither a chat id nor a phone number"),
            ));
        }
        crate::outbox::limits::QuietHours::parse(&self.reminders.quiet_hours)
            .map_err(|m| invalid("reminders.quiet_hours", m))?;
        if crate::outbox::texts::Lang::parse(&self.reminders.language).is_none() {
            return Err(invalid("reminders.language", "must be en or ms".into()));
        }
        if crate::outbox::Route::parse(&self.reminders.route).is_none() {
            return Err(invalid(
                "reminders.route",
                "must be cloud_api, waha or evolution".into(),
            ));
        }
        if crate::outbox::Audience::parse(&self.reminders.audience).is_none() {
            return Err(invalid(
                "reminders.audience",
                "must be group, person or both".into(),
            ));
        }
        for (key, v) in [
            ("outbox.max_attempts", self.outbox.max_attempts as u64),
            ("outbox.timeout_seconds", self.outbox.timeout_seconds),
            ("outbox.poll_seconds", self.outbox.poll_seconds),
            (
                "outbox.per_recipient_per_minute",
                self.outbox.per_recipient_per_minute as u64,
            ),
            (
                "outbox.global_per_minute",
                self.outbox.global_per_minute as u64,
            ),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        self.validate_reports()?;
        if !(1..=10_080).contains(&self.reports.answer_window_minutes) {
            return Err(invalid(
                "reports.answer_window_minutes",
                "must be from 1 to 10080 (a week)".into(),
            ));
        }
        if self.evidence.thumbnail_px < 16 {
            return Err(invalid(
                "evidence.thumbnail_px",
                "must be at least 16".into(),
            ));
        }
        Ok(())
    }

    fn validate_reports(&self) -> Result<(), ConfigError> {
        let r = &self.reports;
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: format!("reports.{key}"),
            message,
        };
        for (key, v) in [
            ("daily_time", &r.daily_time),
            ("weekly_time", &r.weekly_time),
            ("monthly_time", &r.monthly_time),
        ] {
            let v = v.trim();
            if !v.is_empty() && chrono::NaiveTime::parse_from_str(v, "%H:%M").is_err() {
                return Err(invalid(key, format!("{v:?} is not a time like 06:00")));
            }
        }
        if crate::scheduler::report_files::weekday(&r.weekly_day).is_none() {
            return Err(invalid(
                "weekly_day",
                format!("{:?} is not a day of the week like monday", r.weekly_day),
            ));
        }
        if !(1..=28).contains(&r.monthly_day) {
            return Err(invalid(
                "monthly_day",
                "must be from 1 to 28 (a day every month has)".into(),
            ));
        }
        if let Some(bad) = r
            .formats
            .iter()
            .find(|f| crate::reports::render::Format::parse(f.trim()).is_none())
        {
            return Err(invalid(
                "formats",
                format!("{bad:?} is not one of pdf, xlsx, html, csv, json"),
            ));
        }
        if r.retention_days == 0 {
            return Err(invalid("retention_days", "must be at least 1".into()));
        }
        if let Some(bad) = r
            .send_periods
            .iter()
            .find(|p| crate::reports::PeriodKind::parse(p.trim()).is_none())
        {
            return Err(invalid(
                "send_periods",
                format!("{bad:?} is not daily, weekly or monthly"),
            ));
        }
        if crate::outbox::Route::parse(r.send_route.trim()).is_none() {
            return Err(invalid(
                "send_route",
                "must be cloud_api, waha or evolution".into(),
            ));
        }
        if let Some(bad) = r.send_to.iter().find(|to| {
            !crate::outbox::is_chat_id(to.trim()) && crate::outbox::recipient_digits(to).is_none()
        }) {
            return Err(invalid(
                "send_to",
                format!("{bad:?} is neither a chat id nor a phone number"),
            ));
        }
        if !r.send_to.is_empty() && !r.formats.iter().any(|f| f.trim() == "pdf") {
            return Err(invalid(
                "send_to",
                "the PDF is what is sent: add \"pdf\" to reports.formats".into(),
            ));
        }
        Ok(())
    }

    pub fn timezone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.general
            .timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| ConfigError::Invalid {
                key: "general.timezone".into(),
                message: format!("unknown time zone {:?}", self.general.timezone),
            })
    }

    /// The effective configuration as TOML with every secret replaced by `<redacted>`.
    pub fn redacted_toml(&self) -> String {
        let mut c = self.clone();
        for s in [
            &mut c.whatsapp.cloud.verify_token,
            &mut c.whatsapp.cloud.app_secret,
            &mut c.whatsapp.cloud.access_token,
            &mut c.whatsapp.waha.api_key,
            &mut c.whatsapp.waha.webhook_hmac_key,
            &mut c.whatsapp.waha.webhook_token,
            &mut c.whatsapp.evolution.api_key,
            &mut c.whatsapp.evolution.webhook_token,
            &mut c.whatsapp.evolution.webhook_jwt_key,
        ] {
            if s.is_set() {
                *s = Secret("<redacted>".into());
            }
        }
        toml::to_string_pretty(&c).unwrap_or_default()
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("tapak.db")
    }
    pub fn data(&self, sub: &str) -> PathBuf {
        self.data_dir.join(sub)
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

enum SetError {
    UnknownKey(String),
    Bad(String),
}

/// Sets `path` in the tree from an environment string, typed like the default value at that path.
fn set_path(tree: &mut toml::Value, path: &[String], raw: &str) -> Result<(), SetError> {
    let mut cur = tree;
    for (i, part) in path.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .ok_or_else(|| SetError::UnknownKey(path.join(".")))?;
        let Some(next) = table.get_mut(part) else {
            return Err(SetError::UnknownKey(path.join(".")));
        };
        if i + 1 == path.len() {
            *next = match next {
                toml::Value::Integer(_) => {
                    toml::Value::Integer(raw.trim().parse().map_err(|_| {
                        SetError::Bad(format!("expected a whole number, got {raw:?}"))
                    })?)
                }
                toml::Value::Boolean(_) => {
                    toml::Value::Boolean(raw.trim().parse().map_err(|_| {
                        SetError::Bad(format!("expected true or false, got {raw:?}"))
                    })?)
                }
                toml::Value::Table(_) => {
                    return Err(SetError::Bad(format!(
                        "{} is a section, not a key",
                        path.join(".")
                    )))
                }
                _ => toml::Value::String(raw.to_string()),
            };
            return Ok(());
        }
        cur = next;
    }
    Err(SetError::UnknownKey(String::new()))
}

/// Reads a config file without applying anything else (used by the example-drift test).
pub fn parse_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let parsed = parse_file(&path).expect("config.example.toml parses");
        assert_eq!(parsed, Config::default());
        // And every key of the defaults appears in the example (no undocumented keys).
        let text = std::fs::read_to_string(&path).unwrap();
        let example: toml::Value = toml::from_str(&text).unwrap();
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        fn keys(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    let p = format!("{prefix}{k}");
                    out.push(p.clone());
                    keys(v, &format!("{p}."), out);
                }
            }
        }
        let (mut a, mut b) = (vec![], vec![]);
        keys(&example, "", &mut a);
        keys(&defaults, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "config.example.toml must list exactly the keys of Config::default()"
        );
    }

    #[test]
    fn precedence_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\n[whatsapp.cloud]\napp_secret = \"from-file\"\ngraph_version = \"v20.0\"\n",
        )
        .unwrap();
        let env = vec![
            (
                "TAPAK_WHATSAPP__CLOUD__APP_SECRET".to_string(),
                "from-env".to_string(),
            ),
            ("TAPAK_SCHEDULER__TICK_SECONDS".to_string(), "5".to_string()),
            ("TAPAK_DATA".to_string(), "/tmp/x".to_string()),
        ];
        let ov = Overrides {
            config_file: Some(file.clone()),
            data_dir: None,
            listen: Some("127.0.0.1:0".into()),
        };
        let c = Config::load_from(&ov, &env).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:0");
        assert_eq!(c.whatsapp.cloud.app_secret.expose(), "from-env");
        assert_eq!(c.whatsapp.cloud.graph_version, "v20.0");
        assert_eq!(c.scheduler.tick_seconds, 5);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        // No file, no env: defaults and ./tapak-data.
        let d = Config::load_from(&Overrides::default(), &[]).unwrap();
        assert_eq!(d.data_dir, PathBuf::from("tapak-data"));
        assert_eq!(d.server.listen, "0.0.0.0:8080");
    }

    #[test]
    fn errors_name_the_key() {
        let env = vec![(
            "TAPAK_SCHEDULER__TICK_SECONDS".to_string(),
            "soon".to_string(),
        )];
        let e = Config::load_from(&Overrides::default(), &env).unwrap_err();
        assert!(
            e.to_string().contains("TAPAK_SCHEDULER__TICK_SECONDS"),
            "{e}"
        );
        // Unknown TAPAK_ variables are ignored (with a warning), not fatal.
        let env = vec![("TAPAK_NOPE__X".to_string(), "1".to_string())];
        assert!(Config::load_from(&Overrides::default(), &env).is_ok());
        let env = vec![(
            "TAPAK_GENERAL__TIMEZONE".to_string(),
            "Mars/Base".to_string(),
        )];
        let e = Config::load_from(&Overrides::default(), &env).unwrap_err();
        assert!(e.to_string().contains("general.timezone"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[server]\nlisen = \"x\"\n").unwrap();
        let ov = Overrides {
            config_file: Some(file),
            ..Overrides::default()
        };
        let e = Config::load_from(&ov, &[]).unwrap_err();
        assert!(
            e.to_string().contains("bad.toml") && e.to_string().contains("lisen"),
            "{e}"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let mut c = Config::default();
        c.whatsapp.cloud.app_secret = Secret("topsecret".into());
        c.whatsapp.waha.api_key = Secret("waha-key".into());
        let shown = c.redacted_toml();
        assert!(!shown.contains("topsecret") && !shown.contains("waha-key"));
        assert!(shown.contains("<redacted>"));
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}

//! Reminder texts in English and Malay.

use serde::{Deserialize, Serialize};

/// A language reminder texts are written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    Ms,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ms => "ms",
        }
    }

    /// `en` / `ms` (any case; `my`, `bm`, `malay` and `english` too), else `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "ms" | "my" | "bm" | "malay" => Some(Lang::Ms),
            _ => None,
        }
    }
}

/// What a reminder chases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The report itself.
    Report,
    /// The photo a report came without.
    Photo,
}

/// Which text: the rung of the ladder it is sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// To the assignees: the report is missing.
    Remind,
    /// To the reporter: the photo is missing.
    PhotoRequest,
    /// To the escalation contacts.
    Escalate,
    /// To the guards: patrol checkpoints not checked in.
    Checkpoints,
    /// To the escalation contacts: a patrol round missed checkpoints.
    EscalateCheckpoints,
}

impl TextKind {
    pub fn key(self) -> &'static str {
        match self {
            TextKind::Remind => "remind",
            TextKind::PhotoRequest => "photo_request",
            TextKind::Escalate => "escalate",
            TextKind::Checkpoints => "checkpoints",
            TextKind::EscalateCheckpoints => "escalate_checkpoints",
        }
    }

    pub const ALL: [TextKind; 5] = [
        TextKind::Remind,
        TextKind::PhotoRequest,
        TextKind::Escalate,
        TextKind::Checkpoints,
        TextKind::EscalateCheckpoints,
    ];

    pub fn parse(s: &str) -> Option<TextKind> {
        TextKind::ALL.into_iter().find(|k| k.key() == s)
    }
}

/// The facts a reminder names.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// The schedule's name.
    pub schedule: &'a str,
    /// The schedule's category (`cleaning`, `security`, ...).
    pub category: &'a str,
    pub location: crate::classify::types::Location,
    /// Who was reminded (for escalations): names or phones.
    pub assignees: &'a str,
    /// Patrol checkpoints not checked in ("CP2, CP3").
    pub checkpoints: &'a str,
}

/// Editable reminder texts: per language and kind, with `{what}`, `{place}`, `{schedule}`, `{assignees}` and
/// `{checkpoints}` placeholders. Overrides come from the `reminder_texts` setting (`{"ms": {"remind": "..."}}`); a missing or empty
/// entry keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    overrides: std::collections::HashMap<(Lang, &'static str), String>,
}

const DEFAULTS: &[(Lang, TextKind, &str)] = &[
    (Lang::En, TextKind::Remind, "{what} for {place} still pending. Please update. ({schedule})"),
    (Lang::Ms, TextKind::Remind, "{what} {place} masih belum diterima. Sila kemas kini. ({schedule})"),
    (Lang::En, TextKind::PhotoRequest, "{what} for {place} not received. Please send the photo. ({schedule})"),
    (Lang::Ms, TextKind::PhotoRequest, "{what} {place} belum diterima. Sila hantar gambar. ({schedule})"),
    (Lang::En, TextKind::Escalate, "Escalation: {what} for {place} still pending after a reminder to {assignees}. ({schedule})"),
    (Lang::Ms, TextKind::Escalate, "Eskalasi: {what} {place} masih belum diterima selepas peringatan kepada {assignees}. ({schedule})"),
    (Lang::En, TextKind::Checkpoints, "Patrol {place}: checkpoints {checkpoints} not checked in. Please update. ({schedule})"),
    (Lang::Ms, TextKind::Checkpoints, "Rondaan {place}: pusat semakan {checkpoints} belum dilaporkan. Sila kemas kini. ({schedule})"),
    (Lang::En, TextKind::EscalateCheckpoints, "Escalation: patrol {place} missed checkpoints {checkpoints} after a reminder to {assignees}. ({schedule})"),
    (Lang::Ms, TextKind::EscalateCheckpoints, "Eskalasi: rondaan {place} tertinggal pusat semakan {checkpoints} selepas peringatan kepada {assignees}. ({schedule})"),
];

/// The longest text a manager may set for one template.
pub const MAX_TEXT_CHARS: usize = 500;

/// Checks a `reminder_texts` value before it is stored: `{"en"|"ms": {kind: text}}` with known kinds and texts of
/// at most [`MAX_TEXT_CHARS`]. Returns the field at fault and why.
pub fn validate(v: &serde_json::Value) -> Result<(), (String, String)> {
    let obj = v.as_object().ok_or_else(|| {
        (
            "reminder_texts".to_string(),
            "must be an object keyed by language".to_string(),
        )
    })?;
    for (lang, kinds) in obj {
        if Lang::parse(lang).map(Lang::as_str) != Some(lang.as_str()) {
            return Err((lang.clone(), "unknown language: use en or ms".into()));
        }
        let kinds = kinds.as_object().ok_or_else(|| {
            (
                lang.clone(),
                "must be an object keyed by text kind".to_string(),
            )
        })?;
        for (kind, text) in kinds {
            let field = format!("{lang}.{kind}");
            if TextKind::parse(kind).is_none() {
                let known: Vec<&str> = TextKind::ALL.iter().map(|k| k.key()).collect();
                return Err((
                    field,
                    format!("unknown text kind; known: {}", known.join(", ")),
                ));
            }
            let text = text
                .as_str()
                .ok_or_else(|| (field.clone(), "must be a string".to_string()))?;
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err((field, format!("at most {MAX_TEXT_CHARS} characters")));
            }
        }
    }
    Ok(())
}

impl Texts {
    /// Reads overrides from the `reminder_texts` setting's JSON; unknown languages and kinds are ignored.
    pub fn from_json(v: &serde_json::Value) -> Texts {
        let mut overrides = std::collections::HashMap::new();
        for lang in [Lang::En, Lang::Ms] {
            for kind in TextKind::ALL {
                if let Some(t) = v
                    .get(lang.as_str())
                    .and_then(|l| l.get(kind.key()))
                    .and_then(|t| t.as_str())
                    .filter(|t| !t.trim().is_empty())
                {
                    overrides.insert((lang, kind.key()), t.to_string());
                }
            }
        }
        Texts { overrides }
    }

    fn template(&self, lang: Lang, kind: TextKind) -> &str {
        self.overrides
            .get(&(lang, kind.key()))
            .map(String::as_str)
            .or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(l, k, _)| *l == lang && *k == kind)
                    .map(|(_, _, t)| *t)
            })
            .unwrap_or("{what} {place}")
    }

    /// Every language's template for every kind, as in effect: `{"en": {kind: text}, "ms": {...}}`.
    pub fn effective(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for lang in [Lang::En, Lang::Ms] {
            let kinds: serde_json::Map<String, serde_json::Value> = TextKind::ALL
                .iter()
                .map(|k| (k.key().to_string(), self.template(lang, *k).into()))
                .collect();
            out.insert(lang.as_str().to_string(), kinds.into());
        }
        out.into()
    }

    /// The text of a reminder, and the parameters of the Cloud API template that says the same outside the
    /// 24-hour window: `[what, place, schedule]`.
    pub fn render(&self, lang: Lang, kind: TextKind, f: &Facts<'_>) -> (String, Vec<String>) {
        let missing = if kind == TextKind::PhotoRequest {
            Missing::Photo
        } else {
            Missing::Report
        };
        let what = what(lang, f.category, missing);
        let place = place(lang, &f.location);
        let schedule = f.schedule.trim();
        let mut text = self
            .template(lang, kind)
            .replace("{what}", &what)
            .replace("{place}", &place)
            .replace("{assignees}", f.assignees.trim())
            .replace("{checkpoints}", f.checkpoints.trim())
            .replace("{schedule}", schedule);
        if schedule.is_empty() {
            text = text.replace(" ()", "");
        }
        (text, vec![what, place, schedule.to_string()])
    }
}

/// "Cleaning report", "Laporan pembersihan", "Security photo", "Gambar keselamatan".
pub fn what(lang: Lang, category: &str, missing: Missing) -> String {
    let (en, ms) = match category.trim().to_ascii_lowercase().as_str() {
        "cleaning" => ("Cleaning", "pembersihan"),
        "security" => ("Security", "keselamatan"),
        "plumbing" => ("Plumbing", "paip"),
        "electrical" => ("Electrical", "elektrik"),
        "lift" => ("Lift", "lif"),
        "hvac" => ("Air-conditioning", "penghawa dingin"),
        "pest" => ("Pest control", "kawalan perosak"),
        "landscaping" => ("Landscaping", "landskap"),
        "waste" => ("Waste", "sampah"),
        "civil" => ("Civil works", "kerja sivil"),
        _ => ("Work", "kerja"),
    };
    match (lang, missing) {
        (Lang::En, Missing::Report) => format!("{en} report"),
        (Lang::En, Missing::Photo) => format!("{en} photo"),
        (Lang::Ms, Missing::Report) => format!("Laporan {ms}"),
        (Lang::Ms, Missing::Photo) => format!("Gambar {ms}"),
    }
}

/// "Block C, Level 5, lobby" / "Blok C, Aras 5, lobby"; "the site" / "tapak" when there is no location.
pub fn place(lang: Lang, l: &crate::classify::types::Location) -> String {
    let (block, level) = match lang {
        Lang::En => ("Block", "Level"),
        Lang::Ms => ("Blok", "Aras"),
    };
    let parts: Vec<String> = [
        l.block.as_deref().map(|b| format!("{block} {b}")),
        l.level.as_deref().map(|v| format!("{level} {v}")),
        l.unit.as_deref().map(|u| format!("Unit {u}")),
        l.area.clone(),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.trim().is_empty())
    .collect();
    if parts.is_empty() {
        match lang {
            Lang::En => "the site".into(),
            Lang::Ms => "tapak".into(),
        }
    } else {
        parts.join(", ")
    }
}

/// The language of a person's reminders: theirs, else the site's, else the appliance default.
pub fn choose(person: Option<Lang>, site: Option<Lang>, default: Lang) -> Lang {
    person.or(site).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::types::Location;

    fn facts() -> Facts<'static> {
        Facts {
            schedule: "Daily cleaning",
            category: "cleaning",
            location: Location {
                block: Some("C".into()),
                ..Location::default()
            },
            assignees: "Aminah",
            checkpoints: "",
        }
    }

    #[test]
    fn reminders_in_english_and_malay_name_what_where_and_the_schedule() {
        let t = Texts::default();
        let (en, params) = t.render(Lang::En, TextKind::Remind, &facts());
        assert_eq!(
            en,
            "Cleaning report for Block C still pending. Please update. (Daily cleaning)"
        );
        assert_eq!(params, ["Cleaning report", "Block C", "Daily cleaning"]);
        let (ms, _) = t.render(Lang::Ms, TextKind::Remind, &facts());
        assert_eq!(
            ms,
            "Laporan pembersihan Blok C masih belum diterima. Sila kemas kini. (Daily cleaning)"
        );
        let (photo, _) = t.render(Lang::Ms, TextKind::PhotoRequest, &facts());
        assert!(photo.starts_with("Gambar pembersihan Blok C belum diterima. Sila hantar gambar."));
        let (esc, _) = t.render(Lang::En, TextKind::Escalate, &facts());
        assert!(esc.contains("Cleaning report for Block C") && esc.contains("Aminah"));
    }

    #[test]
    fn texts_are_editable_per_language() {
        let t = Texts::from_json(&serde_json::json!({
            "ms": {"remind": "Tolong hantar {what} untuk {place}.", "escalate": ""},
            "fr": {"remind": "ignored"}
        }));
        let mut f = facts();
        f.schedule = "";
        assert_eq!(
            t.render(Lang::Ms, TextKind::Remind, &f).0,
            "Tolong hantar Laporan pembersihan untuk Blok C."
        );
        // Untouched entries keep the default; an empty schedule name leaves no "()".
        assert_eq!(
            t.render(Lang::En, TextKind::Remind, &f).0,
            "Cleaning report for Block C still pending. Please update."
        );
        assert!(t
            .render(Lang::Ms, TextKind::Escalate, &f)
            .0
            .starts_with("Eskalasi:"));
    }

    #[test]
    fn places_and_language_choice() {
        let l = Location {
            block: Some("A".into()),
            level: Some("5".into()),
            area: Some("lobby".into()),
            ..Location::default()
        };
        assert_eq!(place(Lang::En, &l), "Block A, Level 5, lobby");
        assert_eq!(place(Lang::Ms, &l), "Blok A, Aras 5, lobby");
        assert_eq!(place(Lang::Ms, &Location::default()), "tapak");
        assert_eq!(what(Lang::En, "unknown", Missing::Photo), "Work photo");
        assert_eq!(choose(None, Some(Lang::Ms), Lang::En), Lang::Ms);
        assert_eq!(choose(Some(Lang::En), Some(Lang::Ms), Lang::Ms), Lang::En);
        assert_eq!(choose(None, None, Lang::Ms), Lang::Ms);
        assert_eq!(Lang::parse("BM"), Some(Lang::Ms));
    }
}

//! A schedule as managers define it (`interfaces.md`, "schedule"), validated on the way in.

use serde::{Deserialize, Serialize};

use super::{Invalid, Recurrence, MAX_WINDOW_MINUTES};
use crate::classify::types::{Category, Location};

/// Someone to remind or escalate to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    #[serde(default)]
    pub name: Option<String>,
    pub phone: String,
    /// The language of this person's reminders (`en` or `ms`); else the site's, else `[reminders] language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Who is expected to do the work: a person, or a vendor (by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Assignee {
    Vendor { vendor: String },
    Person(Person),
}

/// A patrol checkpoint: the code guards type or scan ("CP3") and its name ("Carpark B1 exit").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checkpoint {
    pub code: String,
    pub name: String,
}

/// The definition of a schedule, as given to `POST /api/v1/schedules` (site, chat and vendor are names or ids,
/// resolved by the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleSpec {
    pub name: String,
    #[serde(default)]
    pub site: Option<String>,
    pub category: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub location: Location,
    #[serde(default)]
    pub assignees: Vec<Assignee>,
    #[serde(default)]
    pub chat: Option<String>,
    pub rrule: String,
    pub window_minutes: i64,
    #[serde(default)]
    pub photo_required: bool,
    #[serde(default)]
    pub remind_after_minutes: Option<i64>,
    #[serde(default)]
    pub escalate_after_minutes: Option<i64>,
    #[serde(default)]
    pub escalate_to: Vec<Person>,
    /// Patrols only: the checkpoints every round must pass.
    #[serde(default)]
    pub checkpoints: Vec<Checkpoint>,
}

/// What validation gives back besides "ok": the parsed recurrence and category.
pub struct Checked {
    pub recurrence: Recurrence,
    pub category: Category,
}

const LANGUAGES: &str = "en (English) or ms (Bahasa Melayu)";

fn language_ok(l: &Option<String>) -> bool {
    l.as_deref()
        .is_none_or(|l| matches!(l.trim().to_ascii_lowercase().as_str(), "en" | "ms"))
}

fn phone_ok(p: &str) -> bool {
    crate::ingest::model::normalize_phone(p).is_some()
}

fn delay(field: &str, v: Option<i64>) -> Result<(), Invalid> {
    match v {
        Some(m) if !(0..=MAX_WINDOW_MINUTES).contains(&m) => Err(Invalid::new(
            field,
            format!("must be between 0 and {MAX_WINDOW_MINUTES} minutes"),
        )),
        _ => Ok(()),
    }
}

impl ScheduleSpec {
    /// The same definition with every phone as digits with country code and no `+` (as stored and returned);
    /// call after [`ScheduleSpec::check`].
    pub fn normalized(mut self) -> ScheduleSpec {
        let digits = |p: &mut String| {
            if let Some(d) = crate::ingest::model::normalize_phone(p) {
                *p = d;
            }
        };
        for a in &mut self.assignees {
            if let Assignee::Person(p) = a {
                digits(&mut p.phone);
            }
        }
        for p in &mut self.escalate_to {
            digits(&mut p.phone);
        }
        for c in &mut self.checkpoints {
            c.code = c.code.trim().to_ascii_uppercase();
        }
        self
    }

    /// Validates every field; the first problem found is returned, naming its field.
    pub fn check(&self, default_tz: chrono_tz::Tz) -> Result<Checked, Invalid> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Invalid::new("name", "required"));
        }
        if name.chars().count() > 120 {
            return Err(Invalid::new("name", "at most 120 characters"));
        }
        let category = Category::parse(self.category.trim()).ok_or_else(|| {
            Invalid::new(
                "category",
                format!("unknown category {:?}", truncate(&self.category, 40)),
            )
        })?;
        let recurrence = Recurrence::parse(&self.rrule, default_tz)?;
        recurrence.check_window(self.window_minutes)?;
        delay("remind_after_minutes", self.remind_after_minutes)?;
        delay("escalate_after_minutes", self.escalate_after_minutes)?;
        if let (Some(r), Some(e)) = (self.remind_after_minutes, self.escalate_after_minutes) {
            if e < r {
                return Err(Invalid::new(
                    "escalate_after_minutes",
                    "must not be earlier than remind_after_minutes",
                ));
            }
        }
        if self.escalate_after_minutes.is_some() && self.escalate_to.is_empty() {
            return Err(Invalid::new(
                "escalate_to",
                "give at least one person to escalate to",
            ));
        }
        for (i, a) in self.assignees.iter().enumerate() {
            match a {
                Assignee::Person(p) if !phone_ok(&p.phone) => return Err(Invalid::new(
                    format!("assignees[{i}].phone"),
                    "not a phone number (country code and number; +, spaces and dashes allowed)",
                )),
                Assignee::Vendor { vendor } if vendor.trim().is_empty() => {
                    return Err(Invalid::new(format!("assignees[{i}].vendor"), "empty"))
                }
                _ => {}
            }
        }
        for (i, p) in self.escalate_to.iter().enumerate() {
            if !phone_ok(&p.phone) {
                return Err(Invalid::new(
                    format!("escalate_to[{i}].phone"),
                    "not a phone number (country code and number; +, spaces and dashes allowed)",
                ));
            }
            if !language_ok(&p.language) {
                return Err(Invalid::new(
                    format!("escalate_to[{i}].language"),
                    LANGUAGES,
                ));
            }
        }
        for (i, a) in self.assignees.iter().enumerate() {
            if let Assignee::Person(p) = a {
                if !language_ok(&p.language) {
                    return Err(Invalid::new(format!("assignees[{i}].language"), LANGUAGES));
                }
            }
        }
        let mut codes = std::collections::HashSet::new();
        for (i, c) in self.checkpoints.iter().enumerate() {
            let code = c.code.trim();
            if code.is_empty()
                || code.len() > 16
                || !code
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            {
                return Err(Invalid::new(
                    format!("checkpoints[{i}].code"),
                    "1-16 letters, digits or '-'",
                ));
            }
            if !codes.insert(code.to_ascii_uppercase()) {
                return Err(Invalid::new(
                    format!("checkpoints[{i}].code"),
                    format!("duplicate code {code:?}"),
                ));
            }
        }
        Ok(Checked {
            recurrence,
            category,
        })
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ScheduleSpec {
        serde_json::from_value(serde_json::json!({
            "name": "Block C toilets",
            "site": "Kenanga Heights",
            "category": "cleaning",
            "location": {"block": "C", "area": "toilet"},
            "assignees": [{"name": "Siti", "phone": "60123456789"}, {"vendor": "CleanCo"}],
            "chat": "Kenanga Cleaners",
            "rrule": "DTSTART;TZID=Asia/Kuala_Lumpur:20261201T080000\nRRULE:FREQ=DAILY",
            "window_minutes": 120,
            "photo_required": true,
            "remind_after_minutes": 15,
            "escalate_after_minutes": 60,
            "escalate_to": [{"name": "Mr Tan", "phone": "+60198765432"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_good_schedule_passes_and_reads_people_and_vendors() {
        let s = spec();
        let c = s.check(chrono_tz::Asia::Kuala_Lumpur).unwrap();
        assert_eq!(c.category, Category::Cleaning);
        assert!(matches!(&s.assignees[1], Assignee::Vendor { vendor } if vendor == "CleanCo"));
        assert!(matches!(&s.assignees[0], Assignee::Person(p) if p.phone == "60123456789"));
        let n = s.normalized();
        assert_eq!(n.escalate_to[0].phone, "60198765432");
    }

    #[test]
    fn each_bad_field_is_named() {
        let tz = chrono_tz::Asia::Kuala_Lumpur;
        type Change = Box<dyn Fn(&mut ScheduleSpec)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|s| s.name = " ".into()), "name"),
            (Box::new(|s| s.category = "magic".into()), "category"),
            (Box::new(|s| s.rrule = "RRULE:FREQ=DAILY".into()), "rrule"),
            (Box::new(|s| s.window_minutes = 2000), "window_minutes"),
            (
                Box::new(|s| s.remind_after_minutes = Some(-5)),
                "remind_after_minutes",
            ),
            (
                Box::new(|s| s.escalate_after_minutes = Some(i64::MAX)),
                "escalate_after_minutes",
            ),
            (
                Box::new(|s| s.escalate_after_minutes = Some(5)),
                "escalate_after_minutes",
            ),
            (Box::new(|s| s.escalate_to.clear()), "escalate_to"),
            (
                Box::new(|s| {
                    s.assignees[0] = Assignee::Person(Person {
                        name: None,
                        phone: "abc".into(),
                        language: None,
                    })
                }),
                "assignees[0].phone",
            ),
            (
                Box::new(|s| s.escalate_to[0].language = Some("fr".into())),
                "escalate_to[0].language",
            ),
            (
                Box::new(|s| {
                    s.checkpoints = vec![
                        Checkpoint {
                            code: "CP1".into(),
                            name: "Gate".into(),
                        },
                        Checkpoint {
                            code: "cp1".into(),
                            name: "Gate again".into(),
                        },
                    ]
                }),
                "checkpoints[1].code",
            ),
        ];
        for (change, field) in cases {
            let mut s = spec();
            change(&mut s);
            let e = s
                .check(tz)
                .err()
                .unwrap_or_else(|| panic!("{field} accepted"));
            assert_eq!(e.field, field, "{e}");
        }
    }
}

//! Settings, typed: the SLA policy (the `settings` table) and each site's settings (`sites.settings`), read into
//! structs here so no other module parses settings JSON.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;

use super::StoreError;
use crate::records::SlaPolicy;

/// Key of the SLA policy in the `settings` table.
pub const SLA_SETTING: &str = "sla_policy";
/// The managers' edits of the reminder texts (`{"en"|"ms": {kind: text}}`, see [`crate::outbox::texts`]).
pub const REMINDER_TEXTS: &str = "reminder_texts";

/// A raw setting by key (for settings without a typed home yet, and tools).
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Stores a raw setting by key.
pub fn set(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO settings(key, value, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(params![key, value, super::now_str()])?;
    Ok(())
}

/// The SLA policy in force (the built-in one until a manager sets another).
pub fn sla_policy(conn: &Connection) -> Result<SlaPolicy, StoreError> {
    Ok(get(conn, SLA_SETTING)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

pub fn set_sla_policy(tx: &Transaction<'_>, p: &SlaPolicy) -> Result<(), StoreError> {
    set(tx, SLA_SETTING, &serde_json::to_string(p)?)
}

/// What tapak reads from a site's settings (the JSON object is stored as given; other keys are kept, not read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSettings {
    /// `blocks`: block names as the site writes them.
    pub blocks: Vec<String>,
    /// `area_aliases`: local names of common areas → normalised areas, as `{"dewan": "lobby"}` or
    /// `[["dewan", "lobby"]]`.
    pub area_aliases: Vec<(String, String)>,
    /// `aliases` and `site_aliases`: names of the site itself.
    pub site_aliases: Vec<String>,
    /// `require_proof`: a ticket closes only with a resolution photo.
    pub require_proof: bool,
}

/// A site's `reminders` object: each field optional; `quiet_hours` is `HH:MM-HH:MM` or `""` (none at this site).
fn validate_reminders(v: Option<&Value>) -> Result<(), String> {
    let m = match v {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err("settings.reminders: must be a JSON object".into()),
    };
    let text = |k: &str| -> Result<Option<&str>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("settings.reminders.{k}: must be a string")),
        }
    };
    if let Some(q) = text("quiet_hours")? {
        crate::outbox::limits::QuietHours::parse(q)
            .map_err(|e| format!("settings.reminders.quiet_hours: {e}"))?;
    }
    let one_of = |k: &str, ok: fn(&str) -> bool, allowed: &str| -> Result<(), String> {
        match text(k)? {
            Some(v) if !ok(v) => Err(format!(
                "settings.reminders.{k}: {v:?} is not one of {allowed}"
            )),
            _ => Ok(()),
        }
    };
    one_of(
        "route",
        |v| crate::outbox::Route::parse(v).is_some(),
        "cloud_api, waha, evolution",
    )?;
    one_of(
        "audience",
        |v| crate::outbox::Audience::parse(v).is_some(),
        "group, person, both",
    )?;
    one_of(
        "language",
        |v| crate::outbox::texts::Lang::parse(v).is_some(),
        "en, ms",
    )
}

impl SiteSettings {
    /// Checks a settings object given through the API: 400-worthy text naming the field at fault.
    pub fn validate(v: &Value) -> Result<SiteSettings, String> {
        let Value::Object(m) = v else {
            return Err("settings: must be a JSON object".into());
        };
        let strings = |key: &str| -> Result<(), String> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(()),
                Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(()),
                Some(_) => Err(format!("settings.{key}: must be a list of strings")),
            }
        };
        strings("blocks")?;
        strings("aliases")?;
        strings("site_aliases")?;
        match m.get("area_aliases") {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) if o.values().all(Value::is_string) => {}
            Some(Value::Array(a))
                if a.iter().all(|p| {
                    p.as_array()
                        .is_some_and(|p| p.len() == 2 && p.iter().all(Value::is_string))
                }) => {}
            Some(_) => {
                return Err(
                    "settings.area_aliases: must map names to areas ({\"dewan\": \"lobby\"} or [[\"dewan\", \"lobby\"]])"
                        .into(),
                )
            }
        }
        match m.get("require_proof") {
            None | Some(Value::Null) | Some(Value::Bool(_)) => {}
            Some(_) => return Err("settings.require_proof: must be true or false".into()),
        }
        validate_reminders(m.get("reminders"))?;
        Ok(SiteSettings::from_json(v))
    }

    /// Reads stored settings, skipping values of the wrong shape (stored before they were validated).
    pub fn from_json(settings: &Value) -> SiteSettings {
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let area_aliases = match settings.get("area_aliases") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((
                        p.first()?.as_str()?.to_string(),
                        p.get(1)?.as_str()?.to_string(),
                    ))
                })
                .collect(),
            _ => vec![],
        };
        let mut site_aliases = strings(settings.get("aliases"));
        site_aliases.extend(strings(settings.get("site_aliases")));
        SiteSettings {
            blocks: strings(settings.get("blocks")),
            area_aliases,
            site_aliases,
            require_proof: settings
                .get("require_proof")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// Reads the `sites.settings` column (text); unparsable text reads as no settings.
    pub fn from_stored(text: Option<&str>) -> SiteSettings {
        text.and_then(|s| serde_json::from_str::<Value>(s).ok())
            .map(|v| SiteSettings::from_json(&v))
            .unwrap_or_default()
    }

    /// The site's vocabulary for its classifier.
    pub fn vocabulary(&self) -> crate::classify::SiteVocabulary {
        crate::classify::SiteVocabulary {
            blocks: self.blocks.clone(),
            area_aliases: self.area_aliases.clone(),
            site_aliases: self.site_aliases.clone(),
        }
    }
}

/// The site and settings of each of these chats that is in a site.
pub fn sites_of_chats(
    conn: &Connection,
    chats: &[i64],
) -> Result<Vec<(i64, i64, SiteSettings)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT ch.id, s.id, s.settings FROM chats ch JOIN sites s ON s.id = ch.site_id WHERE ch.id = ?1",
    )?;
    let mut out = vec![];
    for &chat in chats {
        if let Some((c, s, text)) = st
            .query_row([chat], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?))
            })
            .optional()?
        {
            out.push((c, s, SiteSettings::from_stored(text.as_deref())));
        }
    }
    Ok(out)
}

/// A site's settings by id (`None` for an unknown site).
pub fn site_settings(conn: &Connection, site_id: i64) -> Result<Option<SiteSettings>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT settings FROM sites WHERE id = ?1")?
        .query_row([site_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .map(|t| SiteSettings::from_stored(t.as_deref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_settings_are_validated_where_they_enter_and_read_leniently_when_stored() {
        let ok = serde_json::json!({"blocks": ["A", "Cempaka"], "area_aliases": {"dewan": "lobby"},
            "aliases": ["SM"], "require_proof": true, "colour": "kept"});
        let s = SiteSettings::validate(&ok).unwrap();
        assert_eq!(s.blocks, vec!["A", "Cempaka"]);
        assert_eq!(s.area_aliases, vec![("dewan".into(), "lobby".into())]);
        assert!(s.require_proof);
        for (bad, field) in [
            (serde_json::json!({"blocks": ["A", 1]}), "settings.blocks"),
            (
                serde_json::json!({"area_aliases": [["dewan"]]}),
                "settings.area_aliases",
            ),
            (
                serde_json::json!({"require_proof": "yes"}),
                "settings.require_proof",
            ),
            (serde_json::json!([1]), "settings:"),
        ] {
            let e = SiteSettings::validate(&bad).unwrap_err();
            assert!(e.starts_with(field), "{bad}: {e}");
        }
        // Stored before validation: the good parts are read.
        let s = SiteSettings::from_stored(Some(
            r#"{"blocks": ["A", 1], "area_aliases": [["x", "garden"], [2]]}"#,
        ));
        assert_eq!(s.blocks, vec!["A"]);
        assert_eq!(s.area_aliases, vec![("x".into(), "garden".into())]);
        assert_eq!(
            SiteSettings::from_stored(Some("not json")),
            SiteSettings::default()
        );
    }
}

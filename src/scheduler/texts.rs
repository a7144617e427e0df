//! Plain reminder texts in English and Malay (the outbox's editable templates replace these when configured).

use crate::classify::types::Location;
use crate::schedule::ladder::Rung;

/// Reminder language: `en` or `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ms,
}

impl Lang {
    pub fn parse(s: &str) -> Lang {
        if s.trim().eq_ignore_ascii_case("ms") {
            Lang::Ms
        } else {
            Lang::En
        }
    }
}

/// "Block C, level 3, toilet" (or "Blok C, aras 3, toilet").
pub fn place(loc: &Location, lang: Lang) -> String {
    let (b, l, u) = match lang {
        Lang::En => ("Block", "level", "unit"),
        Lang::Ms => ("Blok", "aras", "unit"),
    };
    let mut parts = vec![];
    if let Some(v) = &loc.block {
        parts.push(format!("{b} {v}"));
    }
    if let Some(v) = &loc.level {
        parts.push(format!("{l} {v}"));
    }
    if let Some(v) = &loc.unit {
        parts.push(format!("{u} {v}"));
    }
    if let Some(v) = &loc.area {
        parts.push(v.clone());
    }
    parts.join(", ")
}

/// What a rung says about a scheduled job: the schedule, the place, and what is missing.
pub fn occurrence(
    lang: Lang,
    rung: Rung,
    schedule: &str,
    place: &str,
    missing_checkpoints: &[String],
) -> String {
    let at = if place.is_empty() {
        String::new()
    } else {
        format!(" ({place})")
    };
    let cps = missing_checkpoints.join(", ");
    match (lang, rung, cps.is_empty()) {
        (Lang::En, Rung::PhotoRequest, _) => {
            format!("{schedule}{at}: report received without the photo. Please send the photo.")
        }
        (Lang::Ms, Rung::PhotoRequest, _) => {
            format!("{schedule}{at}: laporan diterima tanpa gambar. Sila hantar gambar.")
        }
        (Lang::En, Rung::Escalate, true) => {
            format!("Escalation: {schedule}{at} report still not received. Please follow up.")
        }
        (Lang::Ms, Rung::Escalate, true) => {
            format!("Eskalasi: laporan {schedule}{at} masih belum diterima. Sila ambil tindakan.")
        }
        (Lang::En, Rung::Escalate, false) => {
            format!("Escalation: {schedule}{at} patrol round missed checkpoints {cps}. Please follow up.")
        }
        (Lang::Ms, Rung::Escalate, false) => {
            format!("Eskalasi: rondaan {schedule}{at} tertinggal pusat semakan {cps}. Sila ambil tindakan.")
        }
        (Lang::En, _, false) => {
            format!("{schedule}{at}: checkpoints {cps} not checked in. Please update.")
        }
        (Lang::Ms, _, false) => {
            format!("{schedule}{at}: pusat semakan {cps} belum dilaporkan. Sila kemas kini.")
        }
        (Lang::En, _, true) => format!("{schedule} report{at} still pending. Please update."),
        (Lang::Ms, _, true) => {
            format!("Laporan {schedule}{at} masih belum diterima. Sila kemas kini.")
        }
    }
}

/// What a rung says about an overdue ticket.
pub fn ticket(lang: Lang, rung: Rung, id: i64, title: &str) -> String {
    let respond = matches!(rung, Rung::RespondOwner | Rung::RespondEscalate);
    let escalate = matches!(rung, Rung::RespondEscalate | Rung::ResolveEscalate);
    let head = match (lang, escalate) {
        (Lang::En, true) => "Escalation: ",
        (Lang::Ms, true) => "Eskalasi: ",
        _ => "",
    };
    match (lang, respond) {
        (Lang::En, true) => {
            format!("{head}ticket #{id} \"{title}\" has had no response yet. Please respond.")
        }
        (Lang::Ms, true) => {
            format!("{head}tiket #{id} \"{title}\" belum ada maklum balas. Sila beri respons.")
        }
        (Lang::En, false) => {
            format!("{head}ticket #{id} \"{title}\" is past its resolve-by time. Please update.")
        }
        (Lang::Ms, false) => format!(
            "{head}tiket #{id} \"{title}\" telah melepasi masa penyelesaian. Sila kemas kini."
        ),
    }
}

/// Counts for the managers' daily summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub day: String,
    pub done: i64,
    pub late: i64,
    pub missed: i64,
    pub no_photo: i64,
    pub open_tickets: i64,
    pub overdue_tickets: i64,
    pub link: String,
}

pub fn summary(lang: Lang, s: &Summary) -> String {
    let link = if s.link.is_empty() {
        String::new()
    } else {
        format!("\n{}", s.link)
    };
    match lang {
        Lang::En => format!(
            "tapak {}: done {}, late {}, missed {}, no photo {}. Tickets open {}, overdue {}.{link}",
            s.day, s.done, s.late, s.missed, s.no_photo, s.open_tickets, s.overdue_tickets
        ),
        Lang::Ms => format!(
            "tapak {}: siap {}, lewat {}, tertinggal {}, tiada gambar {}. Tiket terbuka {}, lewat tempoh {}.{link}",
            s.day, s.done, s.late, s.missed, s.no_photo, s.open_tickets, s.overdue_tickets
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_the_schedule_the_place_and_what_is_missing() {
        let loc = Location {
            block: Some("C".into()),
            ..Default::default()
        };
        let t = occurrence(
            Lang::Ms,
            Rung::Remind,
            "pembersihan",
            &place(&loc, Lang::Ms),
            &[],
        );
        assert_eq!(
            t,
            "Laporan pembersihan (Blok C) masih belum diterima. Sila kemas kini."
        );
        let t = occurrence(Lang::En, Rung::PhotoRequest, "Cleaning", "Block C", &[]);
        assert!(t.contains("photo") && t.contains("Block C"), "{t}");
        let t = occurrence(
            Lang::En,
            Rung::Escalate,
            "Night patrol",
            "",
            &["CP2".into()],
        );
        assert!(t.contains("CP2") && t.starts_with("Escalation"), "{t}");
        assert!(ticket(Lang::En, Rung::ResolveEscalate, 7, "Leak").contains("#7"));
    }
}

//! The ticket chase's and the managers' daily summary's texts, in English and Malay. Reminders about scheduled work
//! use the outbox's editable templates ([`crate::outbox::texts`]).

use crate::outbox::texts::Lang;
use crate::schedule::ladder::Rung;

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
    fn ticket_and_summary_texts_name_the_ticket_and_the_counts() {
        assert!(ticket(Lang::En, Rung::ResolveEscalate, 7, "Leak").contains("#7"));
        assert!(ticket(Lang::Ms, Rung::RespondOwner, 7, "Bocor").starts_with("tiket #7"));
        let s = Summary {
            day: "2026-12-06".into(),
            done: 3,
            missed: 1,
            ..Default::default()
        };
        assert!(
            summary(Lang::Ms, &s).contains("siap 3") && summary(Lang::En, &s).contains("missed 1")
        );
    }
}

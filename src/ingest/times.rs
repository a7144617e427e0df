//! Times that come from outside (webhook timestamps, chat-export dates) are checked where they enter: a time outside
//! the sane range is clamped into it, and the delivery says so, so a message is never lost and nothing downstream
//! (time zones, deadlines, day buckets) ever meets a date chrono cannot handle.

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{InboundMessage, Normalized};

/// The earliest time a WhatsApp message can carry: 2009-01-01 (before WhatsApp existed).
pub const EARLIEST_UNIX: i64 = 1_230_768_000;

/// How far ahead of our clock a source's time may be (clock skew, time zones got wrong).
pub const AHEAD: TimeDelta = TimeDelta::days(1);

/// The range a time from outside must fall in, relative to `now`.
pub fn sane_range(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let earliest = DateTime::from_timestamp(EARLIEST_UNIX, 0).unwrap_or(DateTime::UNIX_EPOCH);
    let latest = now.checked_add_signed(AHEAD).unwrap_or(now).max(earliest);
    (earliest, latest)
}

/// `Some(clamped)` when `t` lies outside [`sane_range`], else `None`.
pub fn clamp(t: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (earliest, latest) = sane_range(now);
    let c = t.clamp(earliest, latest);
    (c != t).then_some(c)
}

/// Clamps a message's `sent_at`; answers a note naming the message and both times when it did.
pub fn clamp_message(m: &mut InboundMessage, now: DateTime<Utc>) -> Option<String> {
    let c = clamp(m.sent_at, now)?;
    let note = format!(
        "message {}: time {} is outside 2009-01-01 .. now + 1 day; kept with the time {}",
        m.source_message_id,
        m.sent_at.to_rfc3339(),
        c.to_rfc3339()
    );
    m.sent_at = c;
    Some(note)
}

/// Clamps every time in a delivery (messages, edits, receipts) and records each clamp in `n.errors` (stored with the
/// raw body, which keeps the original value). Answers how many it clamped.
pub fn clamp_delivery(n: &mut Normalized, now: DateTime<Utc>) -> usize {
    let mut notes: Vec<String> = n
        .messages
        .iter_mut()
        .filter_map(|m| clamp_message(m, now))
        .collect();
    let mut note = |what: String, at: &mut DateTime<Utc>| {
        if let Some(t) = clamp(*at, now) {
            notes.push(format!(
                "{what}: time {} out of range; kept as {}",
                at.to_rfc3339(),
                t.to_rfc3339()
            ));
            *at = t;
        }
    };
    for c in &mut n.changes {
        note(format!("change to {}", c.target_id), &mut c.at);
    }
    for s in &mut n.statuses {
        note(format!("status of {}", s.message_id), &mut s.at);
    }
    let clamped = notes.len();
    n.errors.extend(notes);
    clamped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::model::{ChatRef, Source};
    use crate::ingest::test_support::{t, text_message};

    #[test]
    fn extreme_times_are_clamped_and_noted() {
        let now = t(1_800_000_000);
        let chat = ChatRef {
            external_id: "c".into(),
            name: None,
            is_group: true,
        };
        let far = DateTime::from_timestamp(8_210_266_876_799, 0).unwrap();
        let before = DateTime::from_timestamp(-8_334_601_228_800, 0).unwrap();
        let mut n = Normalized {
            messages: vec![
                text_message(Source::CloudApi, "a", chat.clone(), None, far, "x"),
                text_message(Source::CloudApi, "b", chat.clone(), None, before, "y"),
                text_message(Source::CloudApi, "c", chat, None, now, "z"),
            ],
            ..Normalized::default()
        };
        assert_eq!(clamp_delivery(&mut n, now), 2);
        assert_eq!(n.messages[0].sent_at, now + AHEAD);
        assert_eq!(n.messages[1].sent_at.timestamp(), EARLIEST_UNIX);
        assert_eq!(n.messages[2].sent_at, now, "a sane time is left alone");
        assert_eq!(n.errors.len(), 2);
        assert!(
            n.errors[0].contains("message a") && n.errors[0].contains("+262"),
            "{:?}",
            n.errors
        );
    }

    #[test]
    fn a_clock_at_the_end_of_time_does_not_overflow() {
        let (lo, hi) = sane_range(DateTime::<Utc>::MAX_UTC);
        assert!(lo < hi);
        assert_eq!(
            clamp(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
            Some(lo)
        );
    }
}

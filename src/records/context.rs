//! Reading a message with the chat's open tickets in view (issue 17).
//!
//! The classifier judges a message alone. A follow-up often only makes sense against the open ticket it continues
//! ("owner informed, she will pass the key tonight", "换好了", "noise is gone now"), so the classifier's first guess may
//! be a new report, routine work or a check-in. Here, when a message carries the classifier's per-kind
//! probabilities, "update" or "resolved" for the open ticket it fits best competes with that first guess:
//!
//! * each open ticket gets a fit score from link cues, in log-odds units: the message replies to one of its messages
//!   ([`W_REPLY`]), comes from the ticket's owner or from someone who reported or updated it, names its category, its
//!   location (block, level, unit, area; a different value of a key it shares counts against), or a distinctive
//!   term of its messages (an asset tag such as "P3", a unit "09-02", a Chinese word pair such as "皮带");
//! * the message is read as a follow-up of the best ticket when `TEMPER × ln(p(follow-up) / p(first guess)) + fit >
//!   margin(first guess)`, the fit has at least [`MIN_FIT_TO_SWITCH`] and the message names no other place than the
//!   ticket; the margin is larger for routine work, check-ins and instructions, which routinely name the place of an
//!   open ticket without continuing it;
//! * a message the classifier already read as an update or resolution links by rule L3 (a) reply, (b) category and
//!   location, then to the best fit (with at least [`MIN_FIT_TO_LINK`]), then L3 (c) the sender's ticket.
//!
//! Deterministic: a pure function of the chat state and the message (its stored classification with the scores), so
//! replaying a chat reproduces it. A manager's correction carries no scores and is never re-read. Every decision
//! lists its cues, stored with the link.

use crate::classify::types::{Classification, Kind, Location};

use super::engine::{ChatState, LinkReason, MsgIn, Ticket};

/// A reply to one of the ticket's messages: the strongest link there is.
pub const W_REPLY: f32 = 6.0;
/// Sent by the ticket's owner (the person an instruction assigned it to); adds to the touches below.
const W_OWNER: f32 = 1.0;
/// Sent by someone who opened or updated the ticket; the sender's most recently touched ticket gets the full weight.
const W_LAST_TOUCHED: f32 = 1.5;
const W_TOUCHED: f32 = 0.75;
const W_CATEGORY: f32 = 1.5;
const W_OTHER_CATEGORY: f32 = -1.5;
/// The first location key shared with an equal value; each further one adds half.
const W_LOCATION: f32 = 1.0;
const W_OTHER_LOCATION: f32 = -1.5;
/// Taught by a manager's correction: the sender works on the ticket's trade / at its block or area.
const W_TAUGHT_TRADE: f32 = 1.0;
const W_TAUGHT_PLACE: f32 = 0.5;
/// Distinctive terms shared with the ticket's messages count up to this much together (see [`term_weight`]).
const MAX_TERMS_WEIGHT: f32 = 2.0;
/// A ticket with no activity for this long fits less (per day beyond, up to [`MAX_STALE`]).
const STALE_AFTER_HOURS: i64 = 48;
const W_STALE_PER_DAY: f32 = -0.25;
const MAX_STALE: f32 = -1.0;
/// A follow-up kind links by fit only with at least this much evidence (after reply and category/location, rule L3).
pub const MIN_FIT_TO_LINK: f32 = 1.0;
/// A message of another kind is re-read as a follow-up only with at least this much evidence.
pub const MIN_FIT_TO_SWITCH: f32 = 2.0;
/// Chatter, check-ins and instructions are re-read only when the classifier gives a follow-up at least this chance.
pub const MIN_P_FOLLOW_UP: f32 = 0.02;
/// Terms kept per ticket (the newest).
pub const TICKET_TERMS: usize = 24;

/// The classifier's log-odds count this much: trained to near-separable data, it is overconfident (a follow-up worded
/// like a report gets p(report) 0.99), so its evidence is tempered before it is weighed against the link cues.
const TEMPER: f32 = 0.5;

/// How much more evidence a first guess of this kind needs to be overturned (log-odds). A report naming an open
/// ticket's place is most often its follow-up; routine work, check-ins and instructions routinely name the place or
/// trade of an open ticket without continuing it (a guard's patrol in a security chat, a manager's reminder), so
/// they need much more; chatter in between ("ok, going now" is chatter unless it says more).
fn margin(kind: Kind) -> f32 {
    match kind {
        Kind::IssueReport => 0.3,
        Kind::Chatter => 1.5,
        Kind::TaskReport => 2.0,
        Kind::CheckIn | Kind::Instruction => 3.5,
        Kind::IssueUpdate | Kind::IssueResolved => 0.0,
    }
}

/// How well a message fits one open ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Index into [`ChatState::tickets`].
    pub idx: usize,
    pub score: f32,
    /// The strongest cue, as the link's reason.
    pub reason: LinkReason,
    pub cues: Vec<String>,
    /// The message names another value of a location key the ticket has.
    pub conflict: bool,
}

/// The best-fitting open ticket, if any (ties: the most recently opened, then the first in the chat's order), with
/// the cues that explain its score. Only the winner's cues are written out: every open ticket is weighed for each
/// message, and formatting every candidate's cues cost most of an import's time in a chat with many open tickets.
pub fn best_fit(state: &ChatState, msg: &MsgIn, class: &Classification) -> Option<Fit> {
    let replied = msg
        .reply_to
        .and_then(|q| state.msg_records.get(&q))
        .and_then(|r| match r {
            super::RecordRef::Issue(id) => Some(state.resolve_merged(*id)),
            super::RecordRef::Task(_) => None,
        });
    let last_touched = msg.sender_id.and_then(|s| {
        state
            .tickets
            .iter()
            .filter(|t| t.is_open_for_linking())
            .filter_map(|t| t.touched_by(s).map(|o| (o, t.id)))
            .max()
            .map(|(_, id)| id)
    });
    let words = terms(&msg.text);
    let weigh = |idx: usize, t: &Ticket, explain: bool| {
        let seen = Seen {
            replied,
            last_touched,
            words: &words,
        };
        let mut f = fit_one(idx, t, msg, class, seen, explain);
        if let Some(s) = msg.sender_id {
            taught_cues(&state.taught, s, t, &mut f, explain);
        }
        f
    };
    // Better: a higher score, then the more recently opened; on a full tie the earlier candidate stays.
    let better = |a: &Fit, b: &Fit| {
        let (ta, tb) = (&state.tickets[a.idx], &state.tickets[b.idx]);
        a.score
            .total_cmp(&b.score)
            .then_with(|| (ta.opened_at, ta.opened_ordinal).cmp(&(tb.opened_at, tb.opened_ordinal)))
            == std::cmp::Ordering::Greater
    };
    let mut best: Option<Fit> = None;
    for (idx, t) in state.tickets.iter().enumerate() {
        if !t.is_open_for_linking() {
            continue;
        }
        let f = weigh(idx, t, false);
        if best.as_ref().is_none_or(|b| better(&f, b)) {
            best = Some(f);
        }
    }
    let idx = best?.idx;
    Some(weigh(idx, &state.tickets[idx], true))
}

/// Cues adding up to a fit.
struct Acc {
    score: f32,
    cues: Vec<String>,
    /// (weight, reason) of the strongest positive cue that names a reason.
    strongest: (f32, LinkReason),
    /// Whether to write the cues out (only the winning fit's are shown).
    explain: bool,
}

impl Acc {
    fn add(&mut self, w: f32, cue: String, reason: Option<LinkReason>) {
        self.score += w;
        if self.explain {
            self.cues.push(format!("{cue} ({w:+.1})"));
        }
        if let Some(r) = reason {
            if w > self.strongest.0 {
                self.strongest = (w, r);
            }
        }
    }
}

/// What is read from the message once and weighed against every ticket.
#[derive(Clone, Copy)]
struct Seen<'a> {
    /// The ticket the message replies to.
    replied: Option<i64>,
    /// The open ticket the sender touched last.
    last_touched: Option<i64>,
    words: &'a [String],
}

fn fit_one(
    idx: usize,
    t: &Ticket,
    msg: &MsgIn,
    class: &Classification,
    seen: Seen<'_>,
    explain: bool,
) -> Fit {
    let Seen {
        replied,
        last_touched,
        words,
    } = seen;
    let mut a = Acc {
        score: 0.0,
        cues: Vec::new(),
        strongest: (0.0, LinkReason::InContext),
        explain,
    };
    if replied == Some(t.id) {
        a.add(
            W_REPLY,
            "replies to its message".into(),
            Some(LinkReason::Reply),
        );
    }
    if let Some(s) = msg.sender_id {
        if t.owner == Some(s) {
            a.add(
                W_OWNER,
                "sent by its owner".into(),
                Some(LinkReason::TicketOwner),
            );
        }
        if last_touched == Some(t.id) {
            a.add(
                W_LAST_TOUCHED,
                "the sender reported or updated it last".into(),
                Some(LinkReason::SameSenderOpenTicket),
            );
        } else if t.touched_by(s).is_some() {
            a.add(
                W_TOUCHED,
                "the sender reported or updated it".into(),
                Some(LinkReason::SameSenderOpenTicket),
            );
        }
    }
    let mut place = 0.0;
    match (class.category, t.category) {
        (Some(x), Some(y)) if x == y => {
            a.add(W_CATEGORY, format!("same category {}", x.as_str()), None);
            place += W_CATEGORY;
        }
        (Some(x), Some(y)) => a.add(
            W_OTHER_CATEGORY,
            format!("category {} ≠ {}", x.as_str(), y.as_str()),
            None,
        ),
        _ => {}
    }
    let (equal, differ) = shared_keys(&class.location, &t.location);
    if !equal.is_empty() {
        let w = W_LOCATION + 0.5 * (equal.len() - 1) as f32;
        a.add(w, format!("same {}", equal.join(", ")), None);
        place += w;
    }
    let conflict = !differ.is_empty();
    for k in differ {
        a.add(W_OTHER_LOCATION, format!("other {k}"), None);
    }
    if place > a.strongest.0 {
        a.strongest = (place, LinkReason::SameCategoryLocation);
    }
    let mut named = 0.0;
    for w in words.iter().filter(|w| t.terms.contains(w)) {
        let x = term_weight(w).min(MAX_TERMS_WEIGHT - named);
        if x <= 0.0 {
            break;
        }
        named += x;
        a.add(x, format!("names '{w}'"), Some(LinkReason::InContext));
    }
    let idle_h = (msg.sent_at - t.last_activity).num_hours();
    if idle_h > STALE_AFTER_HOURS {
        let days = (idle_h - STALE_AFTER_HOURS) as f32 / 24.0;
        let w = (W_STALE_PER_DAY * days).max(MAX_STALE);
        if w < 0.0 {
            a.add(w, format!("idle {idle_h} h"), None);
        }
    }
    Fit {
        idx,
        score: a.score,
        reason: a.strongest.1,
        cues: a.cues,
        conflict,
    }
}

/// Cues a manager's corrections taught: the sender's trades and places.
fn taught_cues(
    taught: &super::engine::Taught,
    sender: i64,
    t: &Ticket,
    f: &mut Fit,
    explain: bool,
) {
    if let Some(c) = t.category {
        if taught.trades.contains(&(sender, c)) {
            f.score += W_TAUGHT_TRADE;
            if explain {
                f.cues.push(format!(
                    "taught by a correction: the sender works on {} ({W_TAUGHT_TRADE:+.1})",
                    c.as_str()
                ));
            }
        }
    }
    for (k, v) in [("block", &t.location.block), ("area", &t.location.area)] {
        if let Some(v) = v {
            let e = (sender, k.to_string(), v.to_lowercase());
            if taught.places.contains(&e) {
                f.score += W_TAUGHT_PLACE;
                if explain {
                    f.cues.push(format!(
                        "taught by a correction: the sender works at {k} {v} ({W_TAUGHT_PLACE:+.1})"
                    ));
                }
            }
        }
    }
}

/// Location keys both have, split into equal and different values.
fn shared_keys(a: &Location, b: &Location) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut equal = vec![];
    let mut differ = vec![];
    for (k, x, y) in [
        ("block", &a.block, &b.block),
        ("level", &a.level, &b.level),
        ("unit", &a.unit, &b.unit),
        ("area", &a.area, &b.area),
    ] {
        if let (Some(x), Some(y)) = (x, y) {
            if x.eq_ignore_ascii_case(y) {
                equal.push(k);
            } else {
                differ.push(k);
            }
        }
    }
    (equal, differ)
}

/// What the message is, read against the open tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// `issue_update` or `issue_resolved`.
    pub kind: Kind,
    pub fit: Fit,
    /// Why, for the message's link: the probabilities compared and the ticket's cues.
    pub cues: Vec<String>,
}

/// Whether a message the classifier read as another kind is a follow-up of an open ticket; `None` keeps the first
/// guess (also for messages whose kind is final: no scores).
pub fn reread(state: &ChatState, msg: &MsgIn, class: &Classification) -> Option<Reading> {
    if legacy() || matches!(class.kind, Kind::IssueUpdate | Kind::IssueResolved) {
        return None;
    }
    let p0 = class.score_of(class.kind)?.max(1e-4);
    let p_upd = class.score_of(Kind::IssueUpdate)?.max(1e-4);
    let p_res = class.score_of(Kind::IssueResolved)?.max(1e-4);
    // Resolving closes the ticket to further links, so a re-read message resolves it only when the classifier clearly
    // prefers that (or when it is a `done` report: work finished on an open ticket's problem is its fix); otherwise
    // it is an update.
    let done = class.kind == Kind::TaskReport
        && class.status == Some(crate::classify::types::TaskStatus::Done);
    // A message saying the problem is back or still there ("again", "masih", "还是") never resolves it.
    let resolves = !class.repeat
        && ((p_res >= 2.0 * p_upd && p_res >= 0.05) || (done && p_res * 3.0 >= p_upd));
    let (kind, pf) = if resolves {
        (Kind::IssueResolved, p_res.max(p_upd))
    } else {
        (Kind::IssueUpdate, p_upd.max(p_res))
    };
    let best = best_fit(state, msg, class)?;
    // A message naming another place than the ticket (another level, unit, block or area) is about something else.
    if best.score < MIN_FIT_TO_SWITCH || best.conflict {
        return None;
    }
    // An acknowledgement, greeting or assignment the classifier gives no chance of being a follow-up stays what it
    // is, even as a reply to the ticket's message ("ok noted" quoting the report).
    if !matches!(class.kind, Kind::IssueReport | Kind::TaskReport) && pf < MIN_P_FOLLOW_UP {
        return None;
    }
    let gain = TEMPER * (pf.ln() - p0.ln()) + best.score - margin(class.kind);
    if gain <= 0.0 {
        return None;
    }
    let mut cues = vec![format!(
        "read as {} of an open ticket, not {}: p {:.2} vs {:.2}, fit {:+.1}",
        kind.as_str(),
        class.kind.as_str(),
        pf,
        p0,
        best.score
    )];
    cues.extend(best.cues.iter().cloned());
    Some(Reading {
        kind,
        fit: best,
        cues,
    })
}

#[cfg(test)]
thread_local! {
    /// Tests measure the linker against the rules alone (L3 with the classifier's first guess) by setting this.
    pub static LEGACY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether reading in context is switched off (only ever in tests, to measure what it adds).
pub fn legacy() -> bool {
    #[cfg(test)]
    {
        LEGACY.with(|l| l.get())
    }
    #[cfg(not(test))]
    {
        false
    }
}

/// The cues as appended to a message's link reason.
pub fn cue_note(cues: &[String]) -> String {
    format!(" ({})", cues.join("; "))
}

/// Words that say nothing about which ticket a message continues.
const STOP: &[&str] = &[
    "already", "after", "again", "also", "back", "been", "before", "boss", "bos", "come", "coming",
    "dengan", "done", "from", "going", "have", "here", "just", "lagi", "later", "masih", "morning",
    "need", "nanti", "now", "only", "please", "pls", "reach", "sudah", "still", "that", "then",
    "there", "this", "today", "tomorrow", "tonight", "tolong", "untuk", "will", "with", "yang",
    "esok", "pagi", "petang", "malam", "semua", "sini", "sana", "okay", "thank", "thanks", "noted",
    "baik", "sikit", "ready", "check", "checked", "checking", "what", "when", "where", "they",
    "them", "their", "your", "said", "says", "tadi", "dulu", "lepas", "sampai", "dari", "kita",
    "kami", "saya", "tidak", "belum", "boleh", "bisa", "ada", "sir", "puan", "encik", "kak", "pak",
    "bu", "abang",
];

/// Chinese characters that make a pair common (particles, pronouns, auxiliaries).
const FUNCTION_ZH: &[char] = &[
    '的', '了', '在', '是', '要', '有', '我', '你', '他', '她', '吗', '吧', '呢', '也', '就', '都',
    '还', '不', '没', '先', '去', '好', '很', '才', '个', '这', '那', '和', '到', '会', '说', '看',
    '上', '下',
];

/// Chinese pairs as common as the stop words.
const STOP_ZH: &[&str] = &[
    "现在", "已经", "明天", "今天", "没有", "可以", "好了", "一下", "我们", "他们", "上面", "下面",
    "早上", "下午", "晚上", "要换", "要等", "先用", "不能", "老大", "知道", "马上", "过去", "看看",
    "检查", "正常", "的时", "时候",
];

/// How much naming a term of the ticket says: an asset tag or number ("P3", "09-02") or a Chinese word pair without
/// function characters ("皮带", "轴承") the most, a longer word less (common words are as likely in another ticket's
/// messages).
fn term_weight(w: &str) -> f32 {
    if w.chars()
        .any(|c| c.is_ascii_digit() || crate::classify::normalize::is_cjk(c))
    {
        1.0
    } else {
        0.5
    }
}

/// Distinctive terms of a text: words of five letters or more that are not stop words, any word with a digit and a
/// letter or of two digits or more ("P3", "09-02", "no.1" stays "no"), and pairs of adjacent Chinese characters.
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |w: String, out: &mut Vec<String>| {
        if !out.contains(&w) {
            out.push(w);
        }
    };
    let lower = text.to_lowercase();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |word: &mut String,
                      out: &mut Vec<String>,
                      push: &mut dyn FnMut(String, &mut Vec<String>)| {
        let w = word.trim_matches('-').to_string();
        word.clear();
        let digits = w.chars().filter(char::is_ascii_digit).count();
        let letters = w.chars().filter(|c| c.is_alphabetic()).count();
        let keep = (digits > 0 && (letters > 0 || digits >= 2))
            || (digits == 0 && w.chars().count() >= 5 && !STOP.contains(&w.as_str()));
        if keep {
            push(w, out);
        }
    };
    let flush_cjk = |cjk: &mut Vec<char>,
                     out: &mut Vec<String>,
                     push: &mut dyn FnMut(String, &mut Vec<String>)| {
        for pair in cjk.windows(2) {
            let p: String = pair.iter().collect();
            if !STOP_ZH.contains(&p.as_str()) && !pair.iter().any(|c| FUNCTION_ZH.contains(c)) {
                push(p, out);
            }
        }
        cjk.clear();
    };
    for c in lower.chars() {
        if crate::classify::normalize::is_cjk(c) {
            flush_word(&mut word, &mut out, &mut push);
            cjk.push(c);
        } else if c.is_alphanumeric() || (c == '-' && !word.is_empty()) {
            flush_cjk(&mut cjk, &mut out, &mut push);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out, &mut push);
            flush_cjk(&mut cjk, &mut out, &mut push);
        }
    }
    flush_word(&mut word, &mut out, &mut push);
    flush_cjk(&mut cjk, &mut out, &mut push);
    out
}

#[cfg(test)]
mod tests {
    use super::super::engine::{process, Effect, IssueStatus, Overrides, RecordRef, SeqIds};
    use super::*;
    use crate::classify::types::{Category, TaskStatus};
    use chrono::{DateTime, Duration, TimeZone, Utc};

    /// A chat fed message by message; returns every effect.
    struct Feed {
        state: ChatState,
        ids: SeqIds,
        t0: DateTime<Utc>,
        n: i64,
        fx: Vec<Effect>,
        ov: Overrides,
    }

    impl Feed {
        fn new() -> Feed {
            Feed {
                state: ChatState::new(1),
                ids: SeqIds::default(),
                t0: Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap(),
                n: 0,
                fx: vec![],
                ov: Overrides::default(),
            }
        }
        /// Sends a message `mins` minutes in; returns its id.
        fn send(
            &mut self,
            mins: i64,
            sender: i64,
            text: &str,
            class: Classification,
            mentions: Vec<i64>,
        ) -> i64 {
            self.n += 1;
            let sent_at = self.t0 + Duration::minutes(mins);
            let m = MsgIn {
                id: self.n,
                chat_id: 1,
                sender_id: Some(sender),
                sent_at,
                local_date: sent_at.date_naive(),
                ordinal: self.n as u64,
                text: text.into(),
                class: Some(class),
                has_media: false,
                media: vec![],
                reply_to: None,
                mentions,
            };
            let fx = process(&mut self.state, &m, &mut self.ids, &self.ov).unwrap();
            self.fx.extend(fx);
            self.n
        }
        fn link_of(&self, msg: i64) -> Option<RecordRef> {
            self.fx.iter().rev().find_map(|e| match e {
                Effect::LinkMessage { msg: m, record, .. } if *m == msg => Some(*record),
                _ => None,
            })
        }
        fn reading_of(&self, msg: i64) -> Option<(Kind, Vec<String>)> {
            self.fx.iter().find_map(|e| match e {
                Effect::ReadInContext {
                    msg: m, kind, cues, ..
                } if *m == msg => Some((*kind, cues.clone())),
                _ => None,
            })
        }
        fn status(&self, issue: i64) -> IssueStatus {
            self.state.ticket(issue).unwrap().status
        }
    }

    /// A classifier verdict with its per-kind probabilities (`probs` lists the kinds given; the rest share nothing).
    fn verdict(
        kind: Kind,
        cat: Option<Category>,
        level: Option<&str>,
        probs: &[(Kind, f32)],
    ) -> Classification {
        let mut s = [0.0f32; 7];
        for (k, p) in probs {
            s[*k as usize] = *p;
        }
        Classification {
            kind,
            status: (kind == Kind::TaskReport).then_some(TaskStatus::Done),
            category: cat,
            location: Location {
                level: level.map(str::to_string),
                ..Location::default()
            },
            priority: None,
            repeat: false,
            confidence: s[kind as usize],
            cues: vec![],
            kind_scores: Some(s),
        }
    }

    /// The lift ticket at level 18, assigned to person 2 by an instruction naming them.
    fn lift_ticket(f: &mut Feed) {
        let report = verdict(
            Kind::IssueReport,
            Some(Category::Lift),
            Some("18"),
            &[(Kind::IssueReport, 0.99)],
        );
        f.send(
            0,
            1,
            "Lift P3 stuck at L18, 2 persons inside",
            report,
            vec![],
        );
        let assign = verdict(
            Kind::Instruction,
            Some(Category::Lift),
            None,
            &[(Kind::Instruction, 0.99)],
        );
        f.send(2, 3, "@Jason lift P3 pls come asap", assign, vec![2]);
    }

    #[test]
    fn a_report_by_the_assignee_naming_the_open_tickets_place_is_read_as_its_update() {
        let mut f = Feed::new();
        lift_ticket(&mut f);
        // Worded like a new report (p 0.95), but from the assignee, about the same lift and level.
        let at = verdict(
            Kind::IssueReport,
            Some(Category::Lift),
            Some("18"),
            &[
                (Kind::IssueReport, 0.95),
                (Kind::IssueUpdate, 0.04),
                (Kind::IssueResolved, 0.01),
            ],
        );
        let m = f.send(
            20,
            2,
            "At L18 now, P3 main drive board burnt",
            at.clone(),
            vec![],
        );
        assert_eq!(f.link_of(m), Some(RecordRef::Issue(1)));
        let (kind, cues) = f.reading_of(m).expect("the reading is explained");
        assert_eq!(kind, Kind::IssueUpdate);
        assert!(
            cues[0].starts_with("read as issue_update of an open ticket, not issue_report"),
            "{cues:?}"
        );
        for cue in [
            "sent by its owner",
            "same category lift",
            "same level",
            "names 'p3'",
        ] {
            assert!(cues.iter().any(|c| c.starts_with(cue)), "{cue} in {cues:?}");
        }
        assert_eq!(f.status(1), IssueStatus::InProgress);
        assert_eq!(f.state.tickets.len(), 1, "no second ticket");

        // A manager's correction (no probabilities) is final: the same text opens a ticket.
        let mut g = Feed::new();
        lift_ticket(&mut g);
        let corrected = Classification {
            kind_scores: None,
            ..at
        };
        let m = g.send(
            20,
            2,
            "At L18 now, P3 main drive board burnt",
            corrected,
            vec![],
        );
        assert_eq!(g.link_of(m), Some(RecordRef::Issue(2)));
        assert!(g.reading_of(m).is_none());
    }

    #[test]
    fn a_report_naming_another_place_or_from_a_stranger_stays_a_new_ticket() {
        let mut f = Feed::new();
        lift_ticket(&mut f);
        // The assignee, same trade, another level: a second problem.
        let other = verdict(
            Kind::IssueReport,
            Some(Category::Lift),
            Some("3"),
            &[(Kind::IssueReport, 0.9), (Kind::IssueUpdate, 0.1)],
        );
        let m = f.send(20, 2, "Lift at L3 also door cannot close", other, vec![]);
        assert_eq!(f.link_of(m), Some(RecordRef::Issue(2)));
        // Someone who never touched the ticket, same trade, no place: too little to overturn a confident report.
        let stranger = verdict(
            Kind::IssueReport,
            Some(Category::Lift),
            None,
            &[(Kind::IssueReport, 0.97), (Kind::IssueUpdate, 0.03)],
        );
        let m = f.send(30, 9, "Lift making noise", stranger, vec![]);
        assert_eq!(f.link_of(m), Some(RecordRef::Issue(3)));
    }

    #[test]
    fn an_observation_resolves_the_ticket_unless_it_says_the_problem_is_back() {
        let mut f = Feed::new();
        lift_ticket(&mut f);
        // "Noise gone now, lift running smooth" read by the classifier as routine work done.
        let done = verdict(
            Kind::TaskReport,
            Some(Category::Lift),
            Some("18"),
            &[
                (Kind::TaskReport, 0.7),
                (Kind::IssueResolved, 0.2),
                (Kind::IssueUpdate, 0.1),
            ],
        );
        let m = f.send(
            60,
            2,
            "L18 lift P3 noise gone now, running smooth",
            done,
            vec![],
        );
        assert_eq!(f.link_of(m), Some(RecordRef::Issue(1)));
        assert_eq!(f.reading_of(m).map(|r| r.0), Some(Kind::IssueResolved));
        assert_eq!(f.status(1), IssueStatus::Resolved);

        let mut g = Feed::new();
        lift_ticket(&mut g);
        let mut back = verdict(
            Kind::IssueReport,
            Some(Category::Lift),
            Some("18"),
            &[
                (Kind::IssueReport, 0.6),
                (Kind::IssueResolved, 0.35),
                (Kind::IssueUpdate, 0.05),
            ],
        );
        back.repeat = true;
        let m = g.send(60, 2, "L18 P3 still stuck again", back, vec![]);
        assert_eq!(g.reading_of(m).map(|r| r.0), Some(Kind::IssueUpdate));
        assert_eq!(g.status(1), IssueStatus::InProgress);
    }

    /// A manager moves a technician's unplaceable update to the lift ticket; the linker learns that he works on lifts,
    /// and his next such update goes to the lift ticket open then, which he never touched.
    #[test]
    fn moving_a_message_teaches_who_works_on_which_trade() {
        use super::super::engine::{MessageOverride, RecordOverride};
        let run = |taught: bool| {
            let mut f = Feed::new();
            let report = |c| {
                verdict(
                    Kind::IssueReport,
                    Some(c),
                    None,
                    &[(Kind::IssueReport, 0.99)],
                )
            };
            let upd = verdict(Kind::IssueUpdate, None, None, &[(Kind::IssueUpdate, 0.9)]);
            let fixed = |c| {
                verdict(
                    Kind::IssueResolved,
                    Some(c),
                    None,
                    &[(Kind::IssueResolved, 0.9)],
                )
            };
            if taught {
                // Message 3 (below) belongs to ticket 1: the manager's correction, replayed with the messages.
                f.ov.messages.insert(
                    3,
                    MessageOverride {
                        class: None,
                        record: Some(RecordOverride::Link {
                            record: RecordRef::Issue(1),
                        }),
                    },
                );
            }
            f.send(0, 1, "Lift A stuck", report(Category::Lift), vec![]);
            f.send(5, 4, "Pump tripped", report(Category::Plumbing), vec![]);
            let m = f.send(20, 5, "Reached, checking now", upd.clone(), vec![]);
            f.send(90, 1, "Lift A ok already", fixed(Category::Lift), vec![]);
            f.send(95, 4, "Pump ok already", fixed(Category::Plumbing), vec![]);
            f.send(
                600,
                1,
                "Lift B door cannot close",
                report(Category::Lift),
                vec![],
            );
            f.send(
                605,
                4,
                "Pump no water again",
                report(Category::Plumbing),
                vec![],
            );
            let later = f.send(620, 5, "Reached, checking now", upd, vec![]);
            (f, m, later)
        };
        let (f, m, later) = run(false);
        assert_eq!(f.link_of(m), None, "nothing says which ticket");
        assert_eq!(f.link_of(later), None);

        let (f, m, later) = run(true);
        assert_eq!(f.link_of(m), Some(RecordRef::Issue(1)));
        assert_eq!(
            f.link_of(later),
            Some(RecordRef::Issue(3)),
            "the lift ticket open now"
        );
        let (_, cues) = f.reading_of(later).unwrap();
        assert!(
            cues.iter()
                .any(|c| c.starts_with("taught by a correction: the sender works on lift")),
            "{cues:?}"
        );
        // Saved with the chat's state.
        let saved = serde_json::to_string(&f.state).unwrap();
        let back: ChatState = serde_json::from_str(&saved).unwrap();
        assert_eq!(back.taught.trades, vec![(5, Category::Lift)]);
    }

    #[test]
    fn interleaved_tickets_a_follow_up_goes_to_the_one_it_names() {
        let mut f = Feed::new();
        let report = verdict(
            Kind::IssueReport,
            Some(Category::Hvac),
            None,
            &[(Kind::IssueReport, 0.99)],
        );
        f.send(0, 1, "AHU 12楼 belt noise", report.clone(), vec![]);
        f.send(5, 1, "FCU 21楼 轴承 grinding", report, vec![]);
        // The technician updates both, the 21st-floor one last.
        let upd = verdict(Kind::IssueUpdate, None, None, &[(Kind::IssueUpdate, 0.9)]);
        f.send(10, 2, "12楼皮带断了", upd.clone(), vec![]);
        f.send(20, 2, "21楼的轴承要订货", upd.clone(), vec![]);
        // No category, no location: the term it shares with the 12th-floor ticket outweighs "last updated".
        let m = f.send(30, 2, "皮带买到了，现在去换", upd, vec![]);
        assert_eq!(f.link_of(m), Some(RecordRef::Issue(1)));
        let (_, cues) = f.reading_of(m).unwrap();
        assert!(
            cues.iter().any(|c| c.starts_with("names '皮带'")),
            "{cues:?}"
        );
    }

    #[test]
    fn terms_keep_asset_tags_units_long_words_and_chinese_pairs() {
        assert_eq!(
            terms("P3 main drive board burnt, must order new one. Unit 09-02!"),
            vec!["p3", "drive", "board", "burnt", "order", "09-02"]
        );
        assert_eq!(terms("12楼AHU皮带断了"), vec!["12", "皮带", "带断"]);
        assert_eq!(term_weight("p3"), 1.0);
        assert!(term_weight("皮带") > term_weight("board"));
        assert!(
            terms("好的，我在看").is_empty(),
            "pairs with function characters say nothing"
        );
        assert!(terms("already done boss, tq").is_empty());
    }
}

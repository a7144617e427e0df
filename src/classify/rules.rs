//! Per-message analysis and the hand-written rules: task status, category, priority (rule 18) and repeat (rules 20–21).

use crate::classify::lexicon::{pr, q, rp, Cue, Hit, Lexicon, Tags};
use crate::classify::normalize::{TokClass, Token};
use crate::classify::types::{Category, Kind, Priority, TaskStatus};

/// Everything the rules and the features need about one message.
pub struct Analysis<'a> {
    pub lex: &'a Lexicon,
    pub toks: Vec<Token>,
    pub hits: Vec<Hit>,
    /// Union of the cue bits of all hits.
    pub cues: u32,
    /// Start of the problem clause ("..., but toilet choke").
    pub focus: Option<usize>,
}

impl<'a> Analysis<'a> {
    pub fn new(lex: &'a Lexicon, toks: Vec<Token>) -> Analysis<'a> {
        let hits = lex.matches(&toks);
        let mut cues = 0;
        for h in &hits {
            cues |= lex.entries[h.entry].tags.cues;
        }
        let focus = crate::classify::extract::contrast_start(lex, &hits);
        Analysis {
            lex,
            toks,
            hits,
            cues,
            focus,
        }
    }

    pub fn tags(&self, h: &Hit) -> &Tags {
        &self.lex.entries[h.entry].tags
    }

    pub fn has(&self, c: Cue) -> bool {
        self.cues & c.bit() != 0
    }

    /// Surface text of a hit as written.
    pub fn surface(&self, h: &Hit) -> String {
        let mut s = String::new();
        for t in &self.toks[h.start..h.end] {
            let prev_cjk = s
                .chars()
                .last()
                .is_some_and(crate::classify::normalize::is_cjk);
            if !s.is_empty() && (t.class != TokClass::Cjk || !prev_cjk) {
                s.push(' ');
            }
            s.push_str(&t.raw);
        }
        s
    }

    pub fn first_hit_with(&self, c: Cue) -> Option<&Hit> {
        self.hits.iter().find(|h| self.tags(h).has(c))
    }

    fn hit_has_text(&self, h: &Hit, words: &[&str]) -> bool {
        let ph = &self.lex.entries[h.entry].phrase;
        words.iter().any(|w| {
            (ph.len() == 1 && ph[0] == *w)
                || ph.join(" ") == *w
                || (ph.len() > 1 && ph.concat() == *w)
        })
    }

    pub fn word_count(&self) -> usize {
        self.toks
            .iter()
            .filter(|t| matches!(t.class, TokClass::Word | TokClass::Num | TokClass::Cjk))
            .count()
    }
}

// ------------------------------------------------------------------------------------------------ status

const ONGOING_WEAK: &[&str] = &[
    "now",
    "lagi",
    "moving to",
    "going to",
    "sambung",
    "continue",
    "continuing",
    "lanjut",
    "proceed",
    "proceeding",
    "pergi",
    "now at",
    "part",
    "more",
    "left",
    "balance",
    "remaining",
];

/// Task status (rule 13 and rule 2): blocked words first, then ongoing words, else done.
pub fn status(a: &Analysis) -> (TaskStatus, Option<String>) {
    if let Some(h) = a.first_hit_with(Cue::Blocked) {
        return (TaskStatus::Blocked, Some(a.surface(h)));
    }
    let has_done = a
        .hits
        .iter()
        .any(|h| a.tags(h).has(Cue::Done) && !a.hit_has_text(h, &["dah", "了", "已经"]));
    for h in &a.hits {
        if a.tags(h).has(Cue::Ongoing) {
            let weak = a.hit_has_text(h, ONGOING_WEAK);
            if !weak || !has_done {
                return (TaskStatus::InProgress, Some(a.surface(h)));
            }
        }
    }
    // "belum selesai" / "not yet done"
    for w in a.toks.windows(2) {
        if matches!(w[0].text.as_str(), "belum" | "not" | "未" | "还没")
            && matches!(w[1].text.as_str(), "siap" | "done" | "yet" | "完")
        {
            return (
                TaskStatus::InProgress,
                Some(format!("{} {}", w[0].raw, w[1].raw)),
            );
        }
    }
    (TaskStatus::Done, None)
}

// ------------------------------------------------------------------------------------------------ category

/// Lexicon category scores (index = `Category as usize`), with the position of each category's first strong hit.
pub struct CatScores {
    pub score: [f32; 11],
    pub first: [usize; 11],
    pub best_hit: [Option<Hit>; 11],
}

pub fn category_scores(a: &Analysis, focus_boost: bool) -> CatScores {
    let mut cs = CatScores {
        score: [0.0; 11],
        first: [usize::MAX; 11],
        best_hit: [None; 11],
    };
    let mut best_w = [0u8; 11];
    let mut sum = [0.0f32; 11];
    let mut max = [0.0f32; 11];
    for h in &a.hits {
        let tags = a.tags(h);
        let boost = if focus_boost && a.focus.is_some_and(|f| h.start >= f) {
            2.0
        } else {
            1.0
        };
        for &(c, w) in &tags.cats {
            let i = c as usize;
            let v = f32::from(w) * boost;
            sum[i] += v;
            max[i] = max[i].max(v);
            if w > best_w[i] {
                best_w[i] = w;
                cs.best_hit[i] = Some(*h);
            }
            if w >= 3 && cs.first[i] == usize::MAX {
                cs.first[i] = h.start;
            }
        }
    }
    // the strongest mention counts fully, further mentions half
    for i in 0..11 {
        cs.score[i] = max[i] + 0.5 * (sum[i] - max[i]);
        if cs.first[i] == usize::MAX && cs.score[i] > 0.0 {
            cs.first[i] = usize::MAX - 1;
        }
    }
    cs
}

/// Rule-based category: highest lexicon evidence, with the contract's special cases.
pub fn rule_category(a: &Analysis, kind: Kind) -> (Option<Category>, Option<String>) {
    if kind == Kind::Chatter {
        return (None, None);
    }
    let mut cs = category_scores(a, kind == Kind::IssueReport);
    let idx = |c: Category| c as usize;
    // Rule 16: rain seeping through ceiling / wall is civil, other leaks through a ceiling are plumbing.
    let qb = a.hits.iter().fold(0u64, |acc, h| acc | a.tags(h).q);
    let rain = qb & q::RAIN != 0;
    let leak = qb & q::LEAKWORD != 0;
    let seep = qb & q::SEEP != 0;
    if rain && (leak || seep) {
        cs.score[idx(Category::Civil)] += 4.0;
    } else if leak && cs.score[idx(Category::Civil)] > 0.0 && cs.score[idx(Category::Hvac)] == 0.0 {
        cs.score[idx(Category::Plumbing)] += 4.0;
    }
    // Guards' patrols and checks are security.
    if kind == Kind::CheckIn && (a.has(Cue::Patrol) || a.has(Cue::Clear)) {
        cs.score[idx(Category::Security)] += 5.0;
        if cs.first[idx(Category::Security)] >= usize::MAX - 1 {
            cs.first[idx(Category::Security)] = 0;
        }
    }
    // Fire or smoke from an electrical source is electrical.
    if (a.has(Cue::Hazard) || qb & q::HOT != 0)
        && cs.first[idx(Category::Electrical)] < usize::MAX - 1
    {
        cs.score[idx(Category::Electrical)] += 3.0;
    }
    // Aircon dripping water is hvac.
    if cs.first[idx(Category::Hvac)] < usize::MAX - 1 && leak {
        cs.score[idx(Category::Hvac)] += 3.0;
    }
    let mut best: Option<usize> = None;
    for i in 0..11 {
        if cs.score[i] <= 0.0 {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) => {
                if cs.score[i] > cs.score[b] + 1e-6
                    || ((cs.score[i] - cs.score[b]).abs() < 1e-6 && cs.first[i] < cs.first[b])
                {
                    Some(i)
                } else {
                    Some(b)
                }
            }
        };
    }
    match best {
        Some(b) => {
            let cue = cs.best_hit[b].map(|h| a.surface(&h));
            (Some(Category::ALL[b]), cue)
        }
        None => (None, None),
    }
}

// ------------------------------------------------------------------------------------------------ priority

/// A word from `words` not directly negated ("stuck" but not "not stuck").
fn affirmed(a: &Analysis, words: &[&str]) -> bool {
    a.toks.iter().enumerate().any(|(i, t)| {
        words.contains(&t.text.as_str())
            && !(i > 0
                && matches!(
                    a.toks[i - 1].text.as_str(),
                    "not" | "tak" | "no" | "bukan" | "takde" | "belum" | "never" | "不" | "没"
                ))
    })
}

fn any_text(a: &Analysis, words: &[&str]) -> bool {
    a.toks.iter().any(|t| words.contains(&t.text.as_str()))
}

/// Priority of an issue report (rule 18). `cat` is the message's category.
pub fn priority(a: &Analysis, cat: Option<Category>) -> (Priority, String) {
    let mut bits = 0u8;
    let mut qb = 0u64;
    let mut cue_u = None;
    let mut cue_h = None;
    let mut cue_l = None;
    for h in &a.hits {
        let t = a.tags(h);
        if t.prio & pr::URGENT != 0 && cue_u.is_none() {
            cue_u = Some(a.surface(h));
        }
        if t.prio & pr::HIGH != 0 && cue_h.is_none() {
            cue_h = Some(a.surface(h));
        }
        if t.prio & pr::LOW != 0 && cue_l.is_none() {
            cue_l = Some(a.surface(h));
        }
        bits |= t.prio;
        qb |= t.q;
    }
    if qb & q::WATEROUT != 0 && a.toks.iter().any(|t| t.text == "water") {
        qb |= q::NOWATER;
    }
    let has = |bit: u64| qb & bit != 0;
    let block_words = any_text(
        a,
        &[
            "blok", "tower", "building", "bangunan", "座", "栋", "menara",
        ],
    );
    let block_wide = has(q::WHOLE) && block_words;
    let fault = a.has(Cue::Fault);
    // --- urgent
    let trapped_ctx = affirmed(
        a,
        &[
            "stuck",
            "tersangkut",
            "困",
            "trapped",
            "terperangkap",
            "terkurung",
            "berhenti",
        ],
    ) || (cat == Some(Category::Lift) && a.has(Cue::Hazard));
    if has(q::TRAPPED) && !has(q::NOBODY) && trapped_ctx {
        return (Priority::Urgent, "someone trapped".into());
    }
    if has(q::NOPOWER) && cat != Some(Category::Plumbing) {
        return (Priority::Urgent, "power off".into());
    }
    if has(q::NOWATER) && (block_wide || any_text(a, &["whole", "seluruh", "整"])) {
        return (Priority::Urgent, "whole block without water".into());
    }
    if has(q::FALLING)
        && has(q::PEOPLE)
        && matches!(cat, Some(Category::Landscaping | Category::Civil))
        && !any_text(a, &["nobody", "takde", "tiada"])
    {
        return (Priority::Urgent, "falling on people/cars".into());
    }
    if cat == Some(Category::Pest) && has(q::STUNG) {
        return (Priority::Urgent, "dangerous animal among people".into());
    }
    if has(q::HOT) && !has(q::SMALL) || bits & pr::URGENT != 0 {
        let u = cue_u.clone().unwrap_or_else(|| "danger".into());
        return (Priority::Urgent, u);
    }
    // --- low (cosmetic)
    if has(q::SOFT) {
        return (Priority::Low, "still works".into());
    }
    if has(q::COSMETIC) || (has(q::SMALL) && bits & pr::LOW != 0 && !has(q::LEAKWORD)) {
        let serious = has(q::NOWATER)
            || (has(q::ACTIVELEAK) && !has(q::SMALL))
            || (bits & pr::HIGH != 0 && !has(q::SMALL) && !has(q::COSMETIC));
        if !serious {
            return (Priority::Low, cue_l.unwrap_or_else(|| "cosmetic".into()));
        }
    }
    // --- high / normal per trade
    match cat {
        Some(Category::Lift) => {
            if has(q::DEGRADED) && !affirmed(a, &["stuck", "rosak", "breakdown", "坏"]) {
                return (Priority::Normal, "lift degraded".into());
            }
            if fault || bits & pr::HIGH != 0 {
                return (
                    Priority::High,
                    cue_h.unwrap_or_else(|| "lift out of service".into()),
                );
            }
            (Priority::Normal, "lift".into())
        }
        Some(Category::Hvac) => (Priority::Normal, "aircon/ventilation fault".into()),
        Some(Category::Plumbing) => {
            if has(q::NOWATER) {
                return (Priority::High, "no water".into());
            }
            if has(q::PUMPW) && (fault || bits & pr::HIGH != 0) && !has(q::DEGRADED) {
                return (Priority::High, "pump failure".into());
            }
            if has(q::ACTIVELEAK) && !has(q::FIXTURE) && !has(q::SMALL) {
                return (Priority::High, "active leak".into());
            }
            (Priority::Normal, "plumbing fault".into())
        }
        Some(Category::Civil) => {
            if has(q::ACTIVELEAK) && has(q::CEILING) && !has(q::SEEP) {
                return (Priority::High, "dripping ceiling".into());
            }
            // A door or gate that shuts people out (card access, barrier) is a failed access point.
            if has(q::GATE) && fault && bits & pr::HIGH != 0 {
                return (Priority::High, "gate/access failed".into());
            }
            (Priority::Normal, "building fabric".into())
        }
        Some(Category::Electrical) => {
            if has(q::INTERCOM) && (has(q::WHOLE) || block_words) {
                return (Priority::High, "intercom down".into());
            }
            if has(q::ALLLIGHTS) {
                return (Priority::High, "area lighting off".into());
            }
            (Priority::Normal, "single electrical fault".into())
        }
        Some(Category::Security) => {
            if any_text(a, &["cctv", "dvr", "nvr"]) && (has(q::CCTVSYS) || has(q::WHOLE)) {
                return (Priority::High, "CCTV system down".into());
            }
            if has(q::GATE) && fault && !has(q::PARKED) {
                return (Priority::High, "gate/access failed".into());
            }
            if has(q::SUSPICIOUS) {
                return (Priority::High, "suspicious person".into());
            }
            (Priority::Normal, "security matter".into())
        }
        Some(Category::Waste) => {
            if has(q::CHUTE) {
                return (Priority::High, "refuse chute".into());
            }
            (Priority::Normal, "waste".into())
        }
        Some(Category::Pest) => {
            if has(q::BEENEST) {
                return (Priority::High, "bee/hornet nest".into());
            }
            (Priority::Normal, "pest sighting".into())
        }
        Some(Category::Landscaping) => {
            if has(q::LEANING) || has(q::FALLING) {
                return (Priority::High, "tree/branch hazard".into());
            }
            (Priority::Normal, "landscaping".into())
        }
        _ => (Priority::Normal, "needs fixing".into()),
    }
}

// ------------------------------------------------------------------------------------------------ repeat

/// Repeat (rules 20–21), only meaningful for issue reports and updates.
pub fn repeat(a: &Analysis) -> Option<String> {
    let n = a.hits.len();
    for (k, h) in a.hits.iter().enumerate() {
        let t = a.tags(h);
        if t.rep & rp::AGAIN != 0 {
            // "working again", "normal again", "on again"
            let prev_restore = k > 0
                && a.tags(&a.hits[k - 1]).rep & rp::RESTORE != 0
                && a.hits[k - 1].end == h.start;
            if !prev_restore {
                return Some(a.surface(h));
            }
            continue;
        }
        if t.rep & rp::LAGI != 0 && t.rep & rp::AGAIN == 0 {
            let i = h.start;
            let next = a.toks.get(i + 1);
            let next_is_num = next.is_some_and(|x| {
                x.class == TokClass::Num
                    || matches!(
                        x.text.as_str(),
                        "setengah"
                            | "satu"
                            | "dua"
                            | "tiga"
                            | "sikit"
                            | "sekejap"
                            | "kejap"
                            | "sebentar"
                            | "sejam"
                            | "seminit"
                    )
            });
            let next_is_work = k + 1 < n && a.hits[k + 1].start == i + 1 && {
                let nt = a.tags(&a.hits[k + 1]);
                nt.has(Cue::Work) || nt.rep & rp::REDO != 0 || nt.has(Cue::Done)
            };
            let prev = i.checked_sub(1).map(|p| &a.toks[p]);
            let prev_restore =
                k > 0 && a.hits[k - 1].end == i && a.tags(&a.hits[k - 1]).rep & rp::RESTORE != 0;
            let prev_small = prev.is_some_and(|p| {
                matches!(
                    p.text.as_str(),
                    "satu"
                        | "sebentar"
                        | "kejap"
                        | "sekejap"
                        | "sikit"
                        | "ada"
                        | "apa"
                        | "mana"
                        | "nak"
                        | "lagi"
                        | "tak"
                        | "belum"
                        | "takde"
                        | "jam"
                        | "hour"
                        | "hours"
                        | "hari"
                        | "minute"
                        | "menit"
                        | "day"
                        | "days"
                        | "minggu"
                        | "floor"
                        | "level"
                        | "unit"
                ) || p.class == TokClass::Num
            });
            let neg_before = a.toks[i.saturating_sub(4)..i].iter().any(|t| {
                matches!(
                    t.text.as_str(),
                    "tak" | "belum" | "takde" | "bukan" | "no" | "not" | "never"
                )
            });
            let problem_before = a.hits[..k].iter().any(|p| {
                let pt = a.tags(p);
                pt.has(Cue::Fault)
                    || pt.has(Cue::Asset)
                    || pt.area.is_some()
                    || pt.has(Cue::PestSee)
                    || pt.has(Cue::Hazard)
            });
            if !next_is_num
                && !next_is_work
                && !prev_restore
                && !prev_small
                && !neg_before
                && problem_before
                && i > 0
            {
                return Some(a.surface(h));
            }
            continue;
        }
        if t.rep & rp::STILL != 0 {
            // look at what follows "still"
            let rest = &a.hits[k + 1..];
            let Some(nh) = rest.first() else { continue };
            let nt = a.tags(nh);
            if nt.rep & (rp::REDO | rp::NOTYET) != 0 && !nt.has(Cue::Fault) {
                continue;
            }
            if nt.has(Cue::Neg) {
                // still not working / still not cold / masih tak jalan
                if rest.get(1).is_some_and(|x| {
                    let xt = a.tags(x);
                    xt.has(Cue::Fn) || xt.rep & rp::RESTORE != 0 || xt.has(Cue::Fault)
                }) {
                    return Some(format!("{} {}", a.surface(h), a.surface(nh)));
                }
                continue;
            }
            if nt.has(Cue::Fault) && nt.rep & rp::RESTORE == 0 {
                return Some(format!("{} {}", a.surface(h), a.surface(nh)));
            }
            // "still" + asset/area + fault ("still toilet choke")
            if (nt.has(Cue::Asset) || nt.area.is_some())
                && rest.get(1).is_some_and(|x| a.tags(x).has(Cue::Fault))
            {
                return Some(a.surface(h));
            }
            continue;
        }
        if t.rep & rp::BACK != 0 && t.rep & rp::AGAIN == 0 {
            // "rosak balik", "berpasir balik", "kembali rusak"
            let prev_fault = k > 0
                && a.hits[k - 1].end == h.start
                && a.tags(&a.hits[k - 1]).has(Cue::Fault)
                && a.tags(&a.hits[k - 1]).rep & rp::RESTORE == 0;
            let next_fault = a.toks.get(h.end).is_some()
                && k + 1 < n
                && a.hits[k + 1].start == h.end
                && a.tags(&a.hits[k + 1]).has(Cue::Fault)
                && a.toks[h.start].text == "kembali";
            if prev_fault || next_fault {
                return Some(a.surface(h));
            }
        }
    }
    // Chinese 又 / 还是 inside longer phrases
    let s: String = a
        .toks
        .iter()
        .filter(|t| t.class == TokClass::Cjk)
        .map(|t| t.raw.as_str())
        .collect();
    if (s.contains('又') || s.contains("还是") || s.contains("还在")) && !s.contains("还在等")
    {
        return Some("又/还是".into());
    }
    None
}

/// Is the structural flag set on any hit?
pub fn any_struct(a: &Analysis, flag: u16) -> bool {
    a.hits.iter().any(|h| a.tags(h).st & flag != 0)
}

//! Multilingual lexicon: phrases (English, Malay, Manglish, Indonesian, Chinese) with the cues they carry.
//!
//! The lexicon text lives in `assets/classifier/lexicon.txt` (format described at its top). Phrases are tokenised
//! like messages, so a Chinese phrase is a sequence of one-character tokens and matches inside unsegmented text.
//! Matching is greedy longest-match from left to right; Malay/Indonesian affixes are stripped as a fallback
//! ("dibersihkan" → "bersih", "pompanya" → "pompa").

use std::collections::HashSet;

use crate::classify::normalize::{tokenize, FxBuild, FxHashMap, SpellingMap, Token};
use crate::classify::types::{Category, Priority};

/// The 15 normalised area words of the contract.
pub const AREAS: [&str; 15] = [
    "lobby",
    "carpark",
    "pool",
    "gym",
    "guardhouse",
    "toilet",
    "lift lobby",
    "pump room",
    "playground",
    "rooftop",
    "staircase",
    "corridor",
    "bin centre",
    "garden",
    "management office",
];

pub fn area_index(name: &str) -> Option<u8> {
    let n = name.replace('_', " ");
    AREAS.iter().position(|a| *a == n).map(|i| i as u8)
}

/// Kind cues: features for the statistical layer and inputs to the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cue {
    Fault,
    PestSee,
    Hazard,
    Complain,
    NewProb,
    Why,
    Fn,
    Neg,
    Res,
    Upd,
    Vendor,
    Work,
    Done,
    Ongoing,
    Blocked,
    Patrol,
    Shift,
    Attend,
    Clear,
    Req,
    Announce,
    Q,
    Mention,
    Greet,
    Ack,
    Thanks,
    Social,
    Asset,
    Reason,
    Mess,
}

impl Cue {
    pub const ALL: [Cue; 30] = [
        Cue::Fault,
        Cue::PestSee,
        Cue::Hazard,
        Cue::Complain,
        Cue::NewProb,
        Cue::Why,
        Cue::Fn,
        Cue::Neg,
        Cue::Res,
        Cue::Upd,
        Cue::Vendor,
        Cue::Work,
        Cue::Done,
        Cue::Ongoing,
        Cue::Blocked,
        Cue::Patrol,
        Cue::Shift,
        Cue::Attend,
        Cue::Clear,
        Cue::Req,
        Cue::Announce,
        Cue::Q,
        Cue::Mention,
        Cue::Greet,
        Cue::Ack,
        Cue::Thanks,
        Cue::Social,
        Cue::Asset,
        Cue::Reason,
        Cue::Mess,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Cue::Fault => "fault",
            Cue::PestSee => "pestsee",
            Cue::Hazard => "hazard",
            Cue::Complain => "complain",
            Cue::NewProb => "newprob",
            Cue::Why => "why",
            Cue::Fn => "fn",
            Cue::Neg => "neg",
            Cue::Res => "res",
            Cue::Upd => "upd",
            Cue::Vendor => "vendor",
            Cue::Work => "work",
            Cue::Done => "done",
            Cue::Ongoing => "ongoing",
            Cue::Blocked => "blocked",
            Cue::Patrol => "patrol",
            Cue::Shift => "shift",
            Cue::Attend => "attend",
            Cue::Clear => "clear",
            Cue::Req => "req",
            Cue::Announce => "announce",
            Cue::Q => "q",
            Cue::Mention => "mention",
            Cue::Greet => "greet",
            Cue::Ack => "ack",
            Cue::Thanks => "thanks",
            Cue::Social => "social",
            Cue::Asset => "asset",
            Cue::Reason => "reason",
            Cue::Mess => "mess",
        }
    }
    fn parse(s: &str) -> Option<Cue> {
        Cue::ALL.into_iter().find(|c| c.name() == s)
    }
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Structural words used by the extractors and the rules.
pub mod st {
    pub const LEVEL: u16 = 1;
    pub const BLOCK: u16 = 2;
    pub const UNITWORD: u16 = 4;
    pub const CONTRAST: u16 = 8;
    pub const BASEMENT: u16 = 16;
    pub const ROOM: u16 = 32;
    pub const AREAWORD: u16 = 64;
    pub const SITE: u16 = 128;
    pub const BLOCKNAME: u16 = 256;
    pub const NOCAT: u16 = 512;
}

/// Repeat evidence (rules 20–21).
pub mod rp {
    pub const AGAIN: u8 = 1;
    pub const LAGI: u8 = 2;
    pub const STILL: u8 = 4;
    pub const BACK: u8 = 8;
    pub const RESTORE: u8 = 16;
    pub const REDO: u8 = 32;
    pub const NOTYET: u8 = 64;
}

/// Qualifiers used by the priority and category rules (`q:` tags).
pub mod q {
    pub const NAMES: [&str; 28] = [
        "nowater",
        "nopower",
        "trapped",
        "nobody",
        "soft",
        "cosmetic",
        "small",
        "fixture",
        "activeleak",
        "alllights",
        "whole",
        "cctvsys",
        "gate",
        "suspicious",
        "beenest",
        "leaning",
        "falling",
        "people",
        "degraded",
        "chute",
        "ceiling",
        "rain",
        "leakword",
        "seep",
        "intercom",
        "parked",
        "stung",
        "hot",
    ];
    pub const NOWATER: u64 = 1 << 0;
    pub const NOPOWER: u64 = 1 << 1;
    pub const TRAPPED: u64 = 1 << 2;
    pub const NOBODY: u64 = 1 << 3;
    pub const SOFT: u64 = 1 << 4;
    pub const COSMETIC: u64 = 1 << 5;
    pub const SMALL: u64 = 1 << 6;
    pub const FIXTURE: u64 = 1 << 7;
    pub const ACTIVELEAK: u64 = 1 << 8;
    pub const ALLLIGHTS: u64 = 1 << 9;
    pub const WHOLE: u64 = 1 << 10;
    pub const CCTVSYS: u64 = 1 << 11;
    pub const GATE: u64 = 1 << 12;
    pub const SUSPICIOUS: u64 = 1 << 13;
    pub const BEENEST: u64 = 1 << 14;
    pub const LEANING: u64 = 1 << 15;
    pub const FALLING: u64 = 1 << 16;
    pub const PEOPLE: u64 = 1 << 17;
    pub const DEGRADED: u64 = 1 << 18;
    pub const CHUTE: u64 = 1 << 19;
    pub const CEILING: u64 = 1 << 20;
    pub const RAIN: u64 = 1 << 21;
    pub const LEAKWORD: u64 = 1 << 22;
    pub const SEEP: u64 = 1 << 23;
    pub const INTERCOM: u64 = 1 << 24;
    pub const PARKED: u64 = 1 << 25;
    pub const STUNG: u64 = 1 << 26;
    pub const HOT: u64 = 1 << 27;
    pub const PUMPW: u64 = 1 << 28;
    pub const LIFTW: u64 = 1 << 29;
    pub const WATEROUT: u64 = 1 << 30;
    pub fn parse(s: &str) -> Option<u64> {
        match s {
            "pumpw" => Some(PUMPW),
            "liftw" => Some(LIFTW),
            "waterout" => Some(WATEROUT),
            _ => NAMES.iter().position(|n| *n == s).map(|i| 1u64 << i),
        }
    }
}

/// Priority evidence bits.
pub mod pr {
    pub const URGENT: u8 = 1;
    pub const HIGH: u8 = 2;
    pub const LOW: u8 = 4;
}

#[derive(Debug, Clone, Default)]
pub struct Tags {
    pub cues: u32,
    pub cats: Vec<(Category, u8)>,
    pub area: Option<u8>,
    pub prio: u8,
    pub rep: u8,
    pub st: u16,
    /// Qualifier bits (`q:` tags).
    pub q: u64,
    /// Block name for site-configured block names.
    pub block_name: Option<String>,
}

impl Tags {
    pub fn has(&self, c: Cue) -> bool {
        self.cues & c.bit() != 0
    }
    fn merge(&mut self, o: &Tags) {
        self.cues |= o.cues;
        for &(c, w) in &o.cats {
            match self.cats.iter_mut().find(|(x, _)| *x == c) {
                Some(e) => e.1 = e.1.max(w),
                None => self.cats.push((c, w)),
            }
        }
        if o.area.is_some() {
            self.area = o.area;
        }
        self.prio |= o.prio;
        self.rep |= o.rep;
        self.st |= o.st;
        self.q |= o.q;
        if o.block_name.is_some() {
            self.block_name.clone_from(&o.block_name);
        }
    }
    pub fn priority(&self) -> Option<Priority> {
        if self.prio & pr::URGENT != 0 {
            Some(Priority::Urgent)
        } else if self.prio & pr::HIGH != 0 {
            Some(Priority::High)
        } else if self.prio & pr::LOW != 0 {
            Some(Priority::Low)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub phrase: Vec<String>,
    pub surface: String,
    pub tags: Tags,
}

/// A lexicon match over tokens `start..end`.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub entry: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("lexicon line {line}: {msg}")]
    Parse { line: usize, msg: String },
}

#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    pub spelling: SpellingMap,
    pub entries: Vec<Entry>,
    by_first: FxHashMap<String, Vec<usize>>,
    /// Entry by a 64-bit hash of its phrase (for merging a phrase added twice); the phrase itself is in `entries`.
    by_phrase: FxHashMap<u64, usize>,
    known: HashSet<String, FxBuild>,
}

/// The `by_phrase` key of a phrase's normalised tokens.
fn phrase_key(toks: &[String]) -> u64 {
    use std::hash::BuildHasher;
    FxBuild::default().hash_one(toks)
}

const PREFIXES: [&str; 15] = [
    "meng", "meny", "mem", "men", "me", "peng", "pem", "pen", "pe", "ber", "be", "ter", "di", "ke",
    "se",
];
const SUFFIXES: [&str; 5] = ["nya", "kan", "lah", "an", "i"];

impl Lexicon {
    pub fn parse(text: &str) -> Result<Lexicon, LexiconError> {
        let mut lex = Lexicon::default();
        // First pass: the spelling map, so phrases are normalised with it.
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix('=') {
                let (canon, vars) = rest.split_once("::").ok_or_else(|| LexiconError::Parse {
                    line: i + 1,
                    msg: "spelling line without '::'".into(),
                })?;
                let canon = canon.trim();
                for v in vars.split('|').map(str::trim).filter(|v| !v.is_empty()) {
                    lex.spelling.insert(&v.to_lowercase(), canon);
                }
                lex.spelling.insert(canon, canon);
            }
        }
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('=') {
                continue;
            }
            let (tags, phrases) = line.split_once("::").ok_or_else(|| LexiconError::Parse {
                line: i + 1,
                msg: "line without '::'".into(),
            })?;
            let tags = parse_tags(tags).map_err(|msg| LexiconError::Parse { line: i + 1, msg })?;
            for p in phrases.split('|').map(str::trim).filter(|p| !p.is_empty()) {
                lex.add_phrase(p, &tags);
            }
        }
        lex.rebuild();
        Ok(lex)
    }

    /// Adds (or merges into) a phrase. Call `rebuild` afterwards.
    pub fn add_phrase(&mut self, phrase: &str, tags: &Tags) {
        let spelling = &self.spelling;
        let toks: Vec<String> = tokenize(phrase, spelling, &|w| spelling.contains(w))
            .into_iter()
            .map(|t| t.text)
            .collect();
        if toks.is_empty() {
            return;
        }
        let key = phrase_key(&toks);
        let same = match self.by_phrase.get(&key) {
            Some(&i) if self.entries[i].phrase == toks => Some(i),
            // Two phrases with one hash: the later ones are found by a scan (never seen with 64 bits, but correct).
            Some(_) => self.entries.iter().position(|e| e.phrase == toks),
            None => None,
        };
        if let Some(idx) = same {
            self.entries[idx].tags.merge(tags);
            return;
        }
        let idx = self.entries.len();
        self.by_phrase.entry(key).or_insert(idx);
        self.entries.push(Entry {
            phrase: toks,
            surface: phrase.to_string(),
            tags: tags.clone(),
        });
    }

    pub fn rebuild(&mut self) {
        self.by_first.clear();
        self.known.clear();
        for (i, e) in self.entries.iter().enumerate() {
            self.by_first
                .entry(e.phrase[0].clone())
                .or_default()
                .push(i);
            for t in &e.phrase {
                self.known.insert(t.clone());
            }
        }
        let entries = &self.entries;
        for v in self.by_first.values_mut() {
            v.sort_by(|a, b| entries[*b].phrase.len().cmp(&entries[*a].phrase.len()));
        }
        // A multi-word phrase without its own trade, area or cues inherits those of the words inside it
        // ("sarang lebah" → pest, "toilet choke" → toilet, "pam air rosak" → fault + plumbing).
        let mut order: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].phrase.len() > 1)
            .collect();
        order.sort_by_key(|&i| self.entries[i].phrase.len());
        for i in order {
            let subs = self.match_words(&self.entries[i].phrase, self.entries[i].phrase.len() - 1);
            let mut add = Tags::default();
            for s in subs {
                add.merge(&self.entries[s].tags);
            }
            let e = &mut self.entries[i].tags;
            if e.cats.is_empty() && e.area.is_none() && e.st & st::NOCAT == 0 {
                e.cats = add.cats.clone();
            }
            if e.prio == 0 {
                e.prio = add.prio;
            }
            if e.cues == 0 {
                e.cues = add.cues;
            }
            if e.area.is_none() && e.st & st::ROOM == 0 {
                e.area = add.area;
            }
            if e.q == 0 {
                e.q = add.q;
            }
        }
    }

    /// Greedy matching of lexicon phrases no longer than `max_len` over plain normalised words.
    fn match_words(&self, words: &[String], max_len: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let mut found = None;
            if let Some(cands) = self.by_first.get(words[i].as_str()) {
                for &e in cands {
                    let ph = &self.entries[e].phrase;
                    if ph.len() <= max_len
                        && i + ph.len() <= words.len()
                        && ph.iter().zip(&words[i..]).all(|(p, w)| p == w)
                    {
                        found = Some((e, ph.len()));
                        break;
                    }
                }
            }
            match found {
                Some((e, n)) => {
                    out.push(e);
                    i += n;
                }
                None => i += 1,
            }
        }
        out
    }

    pub fn is_known(&self, w: &str) -> bool {
        self.known.contains(w) || self.spelling.contains(w)
    }

    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        tokenize(text, &self.spelling, &|w| self.is_known(w))
    }

    fn single(&self, w: &str) -> Option<usize> {
        self.by_first
            .get(w)?
            .iter()
            .copied()
            .find(|&i| self.entries[i].phrase.len() == 1)
    }

    /// Affix-stripping fallback for one Malay/Indonesian word.
    fn stemmed(&self, w: &str) -> Option<usize> {
        if w.len() < 5 || !w.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let lookup = |s: &str| -> Option<usize> {
            if s.len() < 3 {
                return None;
            }
            let s = self.spelling.get(s).unwrap_or(s);
            self.single(s)
        };
        let mut bases: [&str; 6] = [w; 6];
        let mut nb = 1;
        for s in SUFFIXES {
            if let Some(b) = w.strip_suffix(s) {
                bases[nb] = b;
                nb += 1;
            }
        }
        for b in &bases[1..nb] {
            if let Some(i) = lookup(b) {
                return Some(i);
            }
        }
        for &b in &bases[..nb] {
            for p in PREFIXES {
                if let Some(s) = b.strip_prefix(p) {
                    if let Some(i) = lookup(s) {
                        return Some(i);
                    }
                }
            }
        }
        None
    }

    /// Greedy longest-match of lexicon phrases over the tokens.
    pub fn matches(&self, toks: &[Token]) -> Vec<Hit> {
        let mut hits = Vec::with_capacity(toks.len());
        let mut i = 0;
        while i < toks.len() {
            let mut found = None;
            if let Some(cands) = self.by_first.get(toks[i].text.as_str()) {
                for &e in cands {
                    let ph = &self.entries[e].phrase;
                    if i + ph.len() <= toks.len()
                        && ph.iter().zip(&toks[i..]).all(|(p, t)| *p == t.text)
                    {
                        found = Some((e, ph.len()));
                        break;
                    }
                }
            }
            if found.is_none() {
                if let Some(e) = self.stemmed(&toks[i].text) {
                    found = Some((e, 1));
                }
            }
            match found {
                Some((e, n)) => {
                    hits.push(Hit {
                        start: i,
                        end: i + n,
                        entry: e,
                    });
                    i += n;
                }
                None => i += 1,
            }
        }
        hits
    }
}

fn parse_tags(s: &str) -> Result<Tags, String> {
    let mut t = Tags::default();
    for tag in s.split_whitespace() {
        let (kind, val) = tag
            .split_once(':')
            .ok_or_else(|| format!("bad tag '{tag}'"))?;
        match kind {
            "k" => {
                t.cues |= Cue::parse(val)
                    .ok_or_else(|| format!("unknown cue '{val}'"))?
                    .bit()
            }
            "c" => {
                let (cat, w) = val.split_once(':').unwrap_or((val, "2"));
                let cat =
                    Category::parse(cat).ok_or_else(|| format!("unknown category '{cat}'"))?;
                let w: u8 = w.parse().map_err(|_| format!("bad weight in '{tag}'"))?;
                t.cats.push((cat, w));
            }
            "a" => t.area = Some(area_index(val).ok_or_else(|| format!("unknown area '{val}'"))?),
            "p" => {
                t.prio |= match val {
                    "urgent" => pr::URGENT,
                    "high" => pr::HIGH,
                    "low" => pr::LOW,
                    _ => return Err(format!("unknown priority '{val}'")),
                }
            }
            "r" => {
                t.rep |= match val {
                    "again" => rp::AGAIN,
                    "lagi" => rp::LAGI,
                    "still" => rp::STILL,
                    "back" => rp::BACK,
                    "restore" => rp::RESTORE,
                    "redo" => rp::REDO,
                    "notyet" => rp::NOTYET,
                    _ => return Err(format!("unknown repeat tag '{val}'")),
                }
            }
            "q" => t.q |= q::parse(val).ok_or_else(|| format!("unknown qualifier '{val}'"))?,
            "x" => {
                t.st |= match val {
                    "level" => st::LEVEL,
                    "block" => st::BLOCK,
                    "unitword" => st::UNITWORD,
                    "contrast" => st::CONTRAST,
                    "basement" => st::BASEMENT,
                    "room" => st::ROOM,
                    "areaword" => st::AREAWORD,
                    "nocat" => st::NOCAT,
                    _ => return Err(format!("unknown structure tag '{val}'")),
                }
            }
            _ => return Err(format!("unknown tag kind '{kind}'")),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex() -> Lexicon {
        Lexicon::parse(include_str!("../../assets/classifier/lexicon.txt"))
            .expect("bundled lexicon parses")
    }

    fn hit_surfaces(l: &Lexicon, s: &str) -> Vec<Vec<String>> {
        let t = l.tokenize(s);
        l.matches(&t)
            .into_iter()
            .map(|h| l.entries[h.entry].phrase.clone())
            .collect()
    }

    #[test]
    fn bundled_lexicon_parses_and_is_large() {
        let l = lex();
        assert!(l.entries.len() > 1500, "only {} entries", l.entries.len());
    }

    #[test]
    fn longest_match_prefers_area_over_trade() {
        let l = lex();
        let t = l.tokenize("vomit at lift lobby");
        let hits = l.matches(&t);
        let e = &l.entries[hits.last().expect("hit").entry];
        assert_eq!(e.tags.area, area_index("lift lobby"));
        assert!(e.tags.cats.iter().all(|(c, _)| *c != Category::Lift));
    }

    #[test]
    fn chinese_matches_without_segmentation() {
        let l = lex();
        let hs = hit_surfaces(&l, "B座3楼水管漏水，很多水");
        assert!(
            hs.iter()
                .any(|p| p.join("") == "水管" || p.join("") == "water管"),
            "{hs:?}"
        );
        let t = l.tokenize("厕所的水龙头坏了");
        let hits = l.matches(&t);
        assert!(hits.iter().any(|h| l.entries[h.entry].tags.has(Cue::Fault)));
        assert!(hits
            .iter()
            .any(|h| l.entries[h.entry].tags.area == area_index("toilet")));
    }

    #[test]
    fn malay_affixes_are_stripped() {
        let l = lex();
        let t = l.tokenize("pembersihan");
        let hits = l.matches(&t);
        assert_eq!(hits.len(), 1);
        assert!(l.entries[hits[0].entry]
            .tags
            .cats
            .iter()
            .any(|(c, _)| *c == Category::Cleaning));
    }
}

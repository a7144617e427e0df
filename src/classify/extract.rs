//! Location extractors: block, level, unit and area (labelling rules 22–25).
//!
//! Forms handled: `blk 218`, `blok C`, `Block A`, `A座`, `Tower 3` / `Menara 3`, a block letter next to an area or asset
//! (`Lobby C`, `lift B`, `D bin centre`); `lvl 5`, `level 5`, `aras 5`, `tingkat 5`, `lantai 5`, `floor 5`, `5th floor`,
//! `L3`, `3楼`, `B1`, `P2`, `LG`, `G floor`, `ground floor`, `tingkat bawah`, `lantai dasar`; units `A-12-03`, `#08-14`,
//! `unit 12A`, `rumah C-12-05`; areas from the lexicon and the site vocabulary. Ranges ("lvl 1 to 12", "lobby A to D")
//! and several different values give nothing; a unit does not imply a block or a level.

use crate::classify::lexicon::{area_index, st, Hit, Lexicon, AREAS};
use crate::classify::normalize::{TokClass, Token};
use crate::classify::types::Location;

/// Words that make a range or a list between two values.
fn is_range_word(t: &str) -> bool {
    matches!(
        t,
        "to" | "-"
            | "until"
            | "till"
            | "hingga"
            | "sampai"
            | "sampe"
            | "arrive"
            | "ke"
            | "and"
            | "&"
            | "dan"
            | "n"
            | "or"
            | "atau"
            | "~"
            | "至"
            | "到"
            | "和"
            | "thru"
            | "through"
            | "down"
            | "up"
    )
}

fn is_ordinal_suffix(s: &str) -> bool {
    matches!(s, "st" | "nd" | "rd" | "th")
}

/// A level value written alone: "5", "12", "G", "B1", "LG", "P2", "5th".
fn level_value(t: &Token) -> Option<String> {
    let r = t.raw.as_str();
    let l = t.text.as_str();
    if matches!(l, "ground" | "dasar" | "bawah" | "mezzanine") {
        return Some(if l == "mezzanine" {
            "M".to_string()
        } else {
            "G".to_string()
        });
    }
    if r.is_empty() || r.len() > 4 {
        return None;
    }
    if r.chars().all(|c| c.is_ascii_digit()) && r.len() <= 3 {
        return Some(r.trim_start_matches('0').to_string())
            .filter(|s| !s.is_empty())
            .or(Some("0".into()));
    }
    let digits_end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
    if digits_end > 0 && is_ordinal_suffix(&l[digits_end..]) {
        return Some(r[..digits_end].to_string());
    }
    match l {
        "g" | "gf" | "g/f" | "ground" | "dasar" | "bawah" | "lg" | "ug" | "m" | "mezzanine" => {
            return Some(match l {
                "g" | "gf" | "g/f" | "ground" | "dasar" | "bawah" => "G".to_string(),
                "mezzanine" => "M".to_string(),
                _ => l.to_uppercase(),
            })
        }
        _ => {}
    }
    basement_value(t)
}

/// "B1", "B2", "P2", "LG1": basement / parking levels.
fn basement_value(t: &Token) -> Option<String> {
    let l = t.text.as_str();
    let mut cs = l.chars();
    let first = cs.next()?;
    let rest = cs.as_str();
    if (first == 'b' || first == 'p')
        && !rest.is_empty()
        && rest.len() <= 2
        && rest.chars().all(|c| c.is_ascii_digit())
    {
        return Some(l.to_uppercase());
    }
    None
}

/// "L3", "lvl3", "level3", "aras5", "tingkat5", "tkt5".
fn glued_level(t: &Token) -> Option<String> {
    if t.class != TokClass::Word {
        return None;
    }
    let l = t.text.as_str();
    for p in [
        "lvl", "level", "aras", "tingkat", "tkt", "lv", "l", "flr", "fl",
    ] {
        if let Some(rest) = l.strip_prefix(p) {
            if !rest.is_empty() && rest.len() <= 3 && rest.chars().all(|c| c.is_ascii_digit()) {
                if p == "l" && !t.raw.starts_with('L') {
                    // lower-case "l3" is accepted too, but not inside longer words
                }
                return Some(rest.trim_start_matches('0').to_string()).filter(|s| !s.is_empty());
            }
            if p != "l" && matches!(rest, "g" | "b1" | "b2" | "b3" | "lg" | "p1" | "p2" | "p3") {
                return Some(rest.to_uppercase());
            }
        }
    }
    None
}

/// A block value after a block word: "A", "218", "305A", "B2", "C1".
fn block_value(t: &Token) -> Option<String> {
    let r = t.raw.as_str();
    if t.class == TokClass::Cjk || t.class == TokClass::Punct || t.class == TokClass::Emoji {
        return None;
    }
    // a named block written with a capital: "blok Kenanga", "Block Orchid"
    let named = r.len() >= 3
        && r.len() <= 14
        && r.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && r.chars().skip(1).all(|c| c.is_ascii_lowercase());
    if named {
        return Some(r.to_string());
    }
    if r.is_empty() || r.chars().count() > 5 || !r.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let letters = r.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let digits = r.len() - letters;
    if letters > 2 || (letters == 0 && digits == 0) {
        return None;
    }
    // Common words that follow "block" but are not names (a single letter is a block even when the spelling map
    // reads it as a word: "blk K" is block K, not "ok"; "blok X" is block X, not "tak").
    if r.chars().count() > 1
        && matches!(
            t.text.as_str(),
            "ni" | "tu"
                | "je"
                | "yg"
                | "is"
                | "at"
                | "no"
                | "to"
                | "and"
                | "of"
                | "in"
                | "ok"
                | "dah"
                | "pun"
                | "kat"
                | "ada"
                | "all"
                | "tak"
        )
    {
        return None;
    }
    Some(r.to_uppercase())
}

/// A single block letter written next to an area or asset ("Lobby C", "C lobby", "lift B").
fn bare_block_letter(t: &Token) -> Option<String> {
    let r = t.raw.as_str();
    if r.len() != 1 {
        // "C1", "B2" next to an area are blocks only after a block word; keep it strict here.
        return None;
    }
    let c = r.chars().next()?;
    if c.is_ascii_uppercase() && c != 'I' || matches!(c, 'b'..='h') {
        Some(c.to_ascii_uppercase().to_string())
    } else {
        None
    }
}

fn unit_like(r: &str) -> bool {
    // A-12-03, B-09-02, AB-1-23, A1-12-3
    let parts: Vec<&str> = r.split('-').collect();
    if parts.len() == 3 {
        let p0 = parts[0];
        let p0_ok = !p0.is_empty()
            && p0.len() <= 3
            && p0.chars().all(|c| c.is_ascii_alphanumeric())
            && p0.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        let num = |s: &str| {
            !s.is_empty()
                && s.len() <= 4
                && s.trim_end_matches(|c: char| c.is_ascii_alphabetic())
                    .chars()
                    .all(|c| c.is_ascii_digit())
        };
        return (p0_ok || p0.chars().all(|c| c.is_ascii_digit()) && !p0.is_empty())
            && num(parts[1])
            && num(parts[2]);
    }
    if parts.len() == 2 {
        // 08-14 (both parts of at least two digits, not a time range like 1230-1300)
        let (a, b) = (parts[0], parts[1]);
        let b_core = b.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        return a.len() == 2
            && (2..=3).contains(&b_core.len())
            && a.chars().all(|c| c.is_ascii_digit())
            && b_core.chars().all(|c| c.is_ascii_digit());
    }
    false
}

/// Result of location extraction, with human-readable cues.
pub struct Extracted {
    pub location: Location,
    pub cues: Vec<String>,
}

/// Index of the first token of the problem clause (after "but"/"tapi"/"但是"), if any.
pub fn contrast_start(lex: &Lexicon, hits: &[Hit]) -> Option<usize> {
    hits.iter()
        .find(|h| lex.entries[h.entry].tags.st & st::CONTRAST != 0)
        .map(|h| h.end)
}

pub fn extract(
    lex: &Lexicon,
    toks: &[Token],
    hits: &[Hit],
    focus_from: Option<usize>,
) -> Extracted {
    let mut cues = Vec::new();
    let n = toks.len();
    // Per-token structural flags from lexicon hits.
    let mut tok_st = vec![0u16; n];
    let mut tok_area: Vec<Option<u8>> = vec![None; n];
    let mut hit_at: Vec<Option<usize>> = vec![None; n];
    for (hi, h) in hits.iter().enumerate() {
        let tags = &lex.entries[h.entry].tags;
        for i in h.start..h.end {
            tok_st[i] |= tags.st;
            hit_at[i] = Some(hi);
            if tags.area.is_some() {
                tok_area[i] = tags.area;
            }
        }
    }
    let is_level_word = |i: usize| toks[i].text == "level" || tok_st[i] & st::LEVEL != 0;
    let is_block_word = |i: usize| toks[i].text == "blok" || tok_st[i] & st::BLOCK != 0;
    let is_asset = |i: usize| {
        tok_area[i].is_some()
            || hit_at[i].is_some_and(|hi| {
                let t = &lex.entries[hits[hi].entry].tags;
                !t.cats.is_empty()
                    && t.cats.iter().any(|(_, w)| *w >= 3)
                    && toks[i].class == TokClass::Word
            })
    };

    // ---- units
    let mut units: Vec<String> = Vec::new();
    let mut unit_tok = vec![false; n];
    for i in 0..n {
        let t = &toks[i];
        if t.class == TokClass::Cjk || t.class == TokClass::Punct {
            continue;
        }
        let after_marker = i > 0 && (toks[i - 1].text == "#" || tok_st[i - 1] & st::UNITWORD != 0);
        let after_level = i > 0 && is_level_word(i - 1);
        let ok = if after_level {
            false
        } else if unit_like(&t.raw) {
            true
        } else {
            after_marker
                && t.raw.chars().any(|c| c.is_ascii_digit())
                && t.raw.len() <= 8
                && t.raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if ok {
            unit_tok[i] = true;
            if !units.iter().any(|u| u.eq_ignore_ascii_case(&t.raw)) {
                units.push(t.raw.to_uppercase());
            }
        }
    }

    // ---- blocks
    let mut blocks: Vec<(usize, String)> = Vec::new();
    let mut block_tok = vec![false; n];
    let mut multi_block = false;
    for h in hits {
        if let Some(b) = &lex.entries[h.entry].tags.block_name {
            blocks.push((h.start, b.clone()));
            for flag in block_tok.iter_mut().take(h.end).skip(h.start) {
                *flag = true;
            }
        }
    }
    for i in 0..n {
        if unit_tok[i] {
            continue;
        }
        let t = &toks[i];
        if is_block_word(i) && t.class != TokClass::Cjk {
            if let Some(v) = toks.get(i + 1).and_then(block_value) {
                // lists: "blk A & B", "blok A sampai D"
                let listed = toks.get(i + 2).is_some_and(|x| is_range_word(&x.text))
                    && toks.get(i + 3).and_then(block_value).is_some();
                if listed {
                    multi_block = true;
                } else {
                    blocks.push((i, v));
                    block_tok[i + 1] = true;
                }
            }
        } else if is_block_word(i) && t.class == TokClass::Cjk && i > 0 {
            if let Some(v) = block_value(&toks[i - 1]) {
                blocks.push((i - 1, v));
                block_tok[i - 1] = true;
            }
        } else if matches!(t.text.as_str(), "tower" | "menara" | "tw") {
            if let Some(v) = toks
                .get(i + 1)
                .filter(|x| x.raw.len() <= 3 && x.raw.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                blocks.push((i, format!("Tower {}", v.raw.to_uppercase())));
                block_tok[i + 1] = true;
            } else if let Some(v) = toks.get(i + 1).and_then(block_value) {
                // "Tower Melur"
                blocks.push((i, format!("Tower {v}")));
                block_tok[i + 1] = true;
            }
        }
    }
    // bare letters next to an area/asset: "Lobby C", "C lobby", "lift B", "D ground lobby"
    for i in 0..n {
        if block_tok[i] || unit_tok[i] || (i > 0 && is_block_word(i - 1)) {
            continue;
        }
        let Some(v) = bare_block_letter(&toks[i]) else {
            continue;
        };
        if i + 1 < n && is_level_word(i + 1) {
            continue;
        }
        let prev_asset = i > 0 && is_asset(i - 1);
        let next_asset = (i + 1 < n && is_asset(i + 1))
            || (i + 2 < n && level_value(&toks[i + 1]).is_some() && is_asset(i + 2));
        if !(prev_asset || next_asset) {
            continue;
        }
        // "lobby A to D", "A sampai D"
        let listed = toks.get(i + 1).is_some_and(|x| is_range_word(&x.text))
            && toks.get(i + 2).and_then(bare_block_letter).is_some();
        if listed {
            multi_block = true;
            continue;
        }
        // An uppercase "A" at the start followed by a noun is an article ("A resident ...").
        if v == "A"
            && i == 0
            && !prev_asset
            && toks.get(i + 1).is_some_and(|_| tok_area[i + 1].is_none())
        {
            continue;
        }
        blocks.push((i, v));
        block_tok[i] = true;
    }
    let mut block = None;
    if !multi_block {
        let mut distinct: Vec<&(usize, String)> = Vec::new();
        for b in &blocks {
            if !distinct.iter().any(|d| d.1.eq_ignore_ascii_case(&b.1)) {
                distinct.push(b);
            }
        }
        if distinct.len() == 1 {
            block = Some(distinct[0].1.clone());
        } else if distinct.len() > 1 {
            if let Some(f) = focus_from {
                let in_focus: Vec<_> = distinct.iter().filter(|d| d.0 >= f).collect();
                if in_focus.len() == 1 {
                    block = Some(in_focus[0].1.clone());
                }
            }
        }
    }
    if let Some(b) = &block {
        cues.push(format!("block: {b}"));
    }

    // ---- levels
    let mut levels: Vec<(usize, String)> = Vec::new();
    let mut range = false;
    let mut all_floors = false;
    for i in 0..n {
        if unit_tok[i] || block_tok[i] {
            continue;
        }
        let t = &toks[i];
        if is_level_word(i) {
            // semua floor / all floors / every level
            if i > 0
                && matches!(
                    toks[i - 1].text.as_str(),
                    "semua" | "all" | "every" | "setiap" | "tiap" | "each" | "各"
                )
            {
                all_floors = true;
                continue;
            }
            // "level 5", "lantai 11", "floor 3", "tingkat bawah"
            if let Some(next) = toks.get(i + 1) {
                if next.class == TokClass::Num && next.raw.contains('-') {
                    range = true;
                    continue;
                }
                if let Some(v) =
                    level_value(next).filter(|_| !unit_tok.get(i + 1).copied().unwrap_or(false))
                {
                    let is_range = toks.get(i + 2).is_some_and(|x| is_range_word(&x.text))
                        && (toks
                            .get(i + 3)
                            .is_some_and(|x| level_value(x).is_some() || is_level_word(i + 3))
                            || toks.get(i + 4).is_some_and(|x| level_value(x).is_some()));
                    if is_range {
                        range = true;
                    } else {
                        levels.push((i, v));
                    }
                    continue;
                }
            }
            // "5th floor", "G floor", "ground floor", "3楼", "B1 level" (but not "lagi 3 floor" = three more floors)
            let more = i >= 2
                && matches!(
                    toks[i - 2].text.as_str(),
                    "lagi"
                        | "another"
                        | "more"
                        | "tinggal"
                        | "baki"
                        | "still"
                        | "remaining"
                        | "还有"
                );
            if i > 0 && !block_tok[i - 1] && !unit_tok[i - 1] && !more {
                if let Some(v) = level_value(&toks[i - 1]) {
                    let prev_range = i >= 3
                        && is_range_word(&toks[i - 2].text)
                        && level_value(&toks[i - 3]).is_some();
                    if prev_range {
                        range = true;
                    } else {
                        levels.push((i - 1, v));
                    }
                }
            }
            continue;
        }
        if t.text == "ground" && !(i + 1 < n && is_level_word(i + 1)) {
            levels.push((i, "G".to_string()));
            continue;
        }
        if let Some(v) = glued_level(t) {
            // "L3" must be upper-case or clearly a level ("lvl3")
            if !(t.text.starts_with('l')
                && !t.text.starts_with("lv")
                && !t.text.starts_with("level")
                && !t.raw.starts_with('L'))
            {
                levels.push((i, v));
            }
            continue;
        }
        if t.class == TokClass::Word
            && basement_value(t).is_some()
            && !(i > 0 && is_block_word(i - 1))
        {
            // bare B1 / P2 (not "blk B2"); skip when it is really part of a list like "B1-B3"
            if let Some(v) = basement_value(t) {
                let next_is_level_word = i + 1 < n && is_level_word(i + 1);
                if !next_is_level_word {
                    levels.push((i, v));
                }
            }
        }
    }
    let mut level = None;
    if !range && !all_floors {
        let mut distinct: Vec<&(usize, String)> = Vec::new();
        for l in &levels {
            if !distinct.iter().any(|d| d.1.eq_ignore_ascii_case(&l.1)) {
                distinct.push(l);
            }
        }
        if distinct.len() == 1 {
            level = Some(distinct[0].1.clone());
        } else if let (true, Some(f)) = (distinct.len() > 1, focus_from) {
            let in_focus: Vec<_> = distinct.iter().filter(|d| d.0 >= f).collect();
            if in_focus.len() == 1 {
                level = Some(in_focus[0].1.clone());
            }
        }
    } else if range && levels.len() == 1 && all_floors {
        level = None;
    }
    if let Some(l) = &level {
        cues.push(format!("level: {l}"));
    }

    // ---- area
    let mut areas: Vec<(usize, u8)> = Vec::new();
    for h in hits {
        if let Some(a) = lex.entries[h.entry].tags.area {
            areas.push((h.start, a));
        }
    }
    let mut area = match focus_from {
        Some(f) => areas
            .iter()
            .find(|a| a.0 >= f)
            .or_else(|| areas.first())
            .map(|a| a.1),
        None => areas.first().map(|a| a.1),
    };
    let mut implied = None;
    if area.is_none() {
        let basement_word = hits
            .iter()
            .any(|h| lex.entries[h.entry].tags.st & st::BASEMENT != 0);
        let basement_level = level
            .as_deref()
            .is_some_and(|l| l.starts_with('B') || l.starts_with('P'));
        if basement_word || basement_level {
            area = area_index("carpark");
            implied = Some("basement");
        } else if units.is_empty()
            && toks.iter().any(|t| {
                t.text == "pump" && matches!(t.raw.to_lowercase().as_str(), "pump" | "pam")
            })
            && !toks
                .iter()
                .any(|t| matches!(t.text.as_str(), "sump" | "booster" | "penggalak"))
        {
            // The building's water pump ("pump", "pam"), not a sump, booster or garden pump named as such.
            area = area_index("pump room");
            implied = Some("pump");
        }
    }
    if let Some(a) = area {
        match implied {
            Some(w) => cues.push(format!("area: {} (implied by '{w}')", AREAS[a as usize])),
            None => cues.push(format!("area: {}", AREAS[a as usize])),
        }
    }
    let unit = if units.len() == 1 { units.pop() } else { None };
    if let Some(u) = &unit {
        cues.push(format!("unit: {u}"));
    }
    Extracted {
        location: Location {
            block,
            level,
            unit,
            area: area.map(|a| AREAS[a as usize].to_string()),
        },
        cues,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex() -> Lexicon {
        Lexicon::parse(include_str!("../../assets/classifier/lexicon.txt")).expect("lexicon")
    }

    fn loc(s: &str) -> Location {
        let l = lex();
        let t = l.tokenize(s);
        let h = l.matches(&t);
        let f = contrast_start(&l, &h);
        extract(&l, &t, &h, f).location
    }

    fn l(
        block: Option<&str>,
        level: Option<&str>,
        unit: Option<&str>,
        area: Option<&str>,
    ) -> Location {
        Location {
            block: block.map(Into::into),
            level: level.map(Into::into),
            unit: unit.map(Into::into),
            area: area.map(Into::into),
        }
    }

    #[test]
    fn block_forms() {
        assert_eq!(loc("Paip bocor blk 218").block.as_deref(), Some("218"));
        assert_eq!(loc("lobi blok C bocor").block.as_deref(), Some("C"));
        assert_eq!(loc("Block 305A lift rosak").block.as_deref(), Some("305A"));
        assert_eq!(loc("Tower 3 lift stuck").block.as_deref(), Some("Tower 3"));
        assert_eq!(loc("A座大堂很脏").block.as_deref(), Some("A"));
        assert_eq!(loc("Lobby C done boss").block.as_deref(), Some("C"));
        assert_eq!(loc("Lif B dah boleh guna").block.as_deref(), Some("B"));
        assert_eq!(loc("Done all lobby A to D").block, None);
        assert_eq!(loc("A resident complain noise").block, None);
        // single letters the spelling map reads as words ("k" → ok, "x" → tak)
        assert_eq!(loc("Smoke at blk K lvl 5").block.as_deref(), Some("K"));
        assert_eq!(loc("Lampu blok X rosak").block.as_deref(), Some("X"));
        assert_eq!(loc("Lobby blok ok dah mop").block, None);
    }

    #[test]
    fn level_forms() {
        assert_eq!(loc("Paip bocor aras 5 blok A").level.as_deref(), Some("5"));
        assert_eq!(loc("toilet L3 choke").level.as_deref(), Some("3"));
        assert_eq!(
            loc("tingkat bawah blok B kotor").level.as_deref(),
            Some("G")
        );
        assert_eq!(
            loc("Block A ground floor mopped").level.as_deref(),
            Some("G")
        );
        assert_eq!(loc("B座3楼水管漏水").level.as_deref(), Some("3"));
        assert_eq!(loc("lantai dasar blok C").level.as_deref(), Some("G"));
        assert_eq!(
            loc("Tower 1 level 15 done. moving to 14 now")
                .level
                .as_deref(),
            Some("15")
        );
        assert_eq!(loc("staircase patrol blk B lvl 1 to 12 clear").level, None);
        assert_eq!(loc("3 light at lvl 4-5 not working").level, None);
        assert_eq!(loc("corridor lvl 6 done now lvl 7").level, None);
    }

    #[test]
    fn basement_and_units() {
        assert_eq!(
            loc("0130 B1 carpark checked"),
            l(None, Some("B1"), None, Some("carpark"))
        );
        assert_eq!(
            loc("B2 dah check 0245"),
            l(None, Some("B2"), None, Some("carpark"))
        );
        assert_eq!(
            loc("Rumah C-12-05 xde orang"),
            l(None, None, Some("C-12-05"), None)
        );
        assert_eq!(loc("Leak at #08-14 kitchen").unit.as_deref(), Some("08-14"));
        assert_eq!(loc("Unit 12A aircon bocor").unit.as_deref(), Some("12A"));
    }

    #[test]
    fn area_synonyms() {
        assert_eq!(
            loc("Sampah penuh kat rumah sampah").area.as_deref(),
            Some("bin centre")
        );
        assert_eq!(loc("停车场的灯全部不亮").area.as_deref(), Some("carpark"));
        assert_eq!(
            loc("pejabat pengurusan aircond bocor").area.as_deref(),
            Some("management office")
        );
        assert_eq!(
            loc("vomit at lift lobby lvl 3 blk A"),
            l(Some("A"), Some("3"), None, Some("lift lobby"))
        );
        assert_eq!(
            loc("done clean lobby A, but toilet lvl 2 choke"),
            l(Some("A"), Some("2"), None, Some("toilet"))
        );
        assert_eq!(loc("Pam air rosak lagi").area.as_deref(), Some("pump room"));
    }
}

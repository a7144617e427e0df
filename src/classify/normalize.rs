//! Text normalisation and tokenisation.
//!
//! Messages are lower-cased, long letter runs are collapsed ("okkkk" → "ok"), Malay reduplication digits are dropped
//! ("budak2" → "budak"), emojis become words (`✅` → `emo_check`), Chinese characters become one token each (so Chinese
//! lexicon phrases match without word segmentation) and every word goes through a spelling map ("sudah", "udah" →
//! "dah"; "x", "tidak", "gak" → "tak"; "blk", "block" → "blok"; ...). The original surface form is kept next to the
//! normalised one for the location extractors, which need the case ("Lobby C", "A-12-03").

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A small, fast, non-cryptographic hasher (FxHash) for the lexicon's string maps.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = HashMap<K, V, FxBuild>;

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokClass {
    /// Letters (possibly with digits or inner hyphens).
    Word,
    /// Digits only (possibly with inner `.`, `-`, `/`, `:`).
    Num,
    /// One Chinese/Japanese/Korean character.
    Cjk,
    /// An emoji mapped to a word (`emo_check`, `emo_ok`, ...).
    Emoji,
    /// `?`, `!`, `@`, `#`, or a clause break `,`.
    Punct,
}

/// One token of a message.
#[derive(Debug, Clone)]
pub struct Token {
    /// Normalised text (lower-case, spelling map applied).
    pub text: String,
    /// Surface form as written (case kept).
    pub raw: String,
    pub class: TokClass,
}

/// The single-token spelling map (`=canon :: variants` lines of the lexicon).
#[derive(Debug, Clone, Default)]
pub struct SpellingMap {
    map: FxHashMap<String, String>,
}

impl SpellingMap {
    pub fn insert(&mut self, variant: &str, canon: &str) {
        self.map.insert(variant.to_string(), canon.to_string());
    }
    pub fn get(&self, w: &str) -> Option<&str> {
        self.map.get(w).map(String::as_str)
    }
    pub fn contains(&self, w: &str) -> bool {
        self.map.contains_key(w)
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// Maps an emoji (or a few symbols) to a word; `None` for characters that are not emoji.
pub fn emoji_word(c: char) -> Option<&'static str> {
    Some(match c {
        '✅' | '✔' | '☑' | '✓' | '🆗' => "emo_check",
        '👍' | '👌' | '🤙' | '💪' => "emo_ok",
        '🙏' => "emo_thanks",
        '😂' | '🤣' | '😅' | '😆' | '😄' | '😁' | '😀' | '😃' | '😜' | '😝' => {
            "emo_laugh"
        }
        '🎉' | '🎂' | '🎊' | '🪔' | '🧧' | '🎁' | '🥳' | '🌙' | '🕌' | '🎄' | '🏮' => {
            "emo_celebrate"
        }
        '👏' => "emo_clap",
        '⛈' | '🌧' | '☔' | '🌩' | '⚡' | '🌦' => "emo_rain",
        '🔥' => "emo_fire",
        '⚠' | '🚨' | '‼' | '❗' | '❕' => "emo_alert",
        '❌' | '✖' | '⛔' | '🚫' => "emo_cross",
        '😡' | '😠' | '😤' | '🤬' => "emo_angry",
        '😢' | '😭' | '😞' | '😔' | '🥺' | '😩' | '😫' => "emo_sad",
        '🧹' | '🧽' | '🧼' | '🪣' => "emo_clean",
        '🙂' | '😊' | '🤗' | '😍' | '🥰' | '❤' | '💕' | '😘' | '🌹' | '🌸' | '☺' => {
            "emo_smile"
        }
        _ => {
            let u = c as u32;
            if (0x1F300..=0x1FAFF).contains(&u) || (0x2600..=0x27BF).contains(&u) {
                "emo"
            } else {
                return None;
            }
        }
    })
}

fn is_skippable(c: char) -> bool {
    matches!(c as u32, 0xFE0F | 0xFE0E | 0x200D | 0x200E | 0x200F | 0x202A..=0x202E | 0x1F3FB..=0x1F3FF | 0x20E3)
}

/// Collapses runs of three or more equal letters: to two when `known` accepts the two-letter form, else to one.
fn collapse_runs(w: String, known: &dyn Fn(&str) -> bool) -> String {
    let mut has_run = false;
    let (mut p1, mut p2) = ('\0', '\0');
    for c in w.chars() {
        if c == p1 && c == p2 && c.is_alphabetic() {
            has_run = true;
            break;
        }
        p2 = p1;
        p1 = c;
    }
    if !has_run {
        return w;
    }
    let chars: Vec<char> = w.chars().collect();
    let squeeze = |keep: usize| -> String {
        let mut out = String::with_capacity(w.len());
        let mut prev = '\0';
        let mut run = 0;
        for &c in &chars {
            if c == prev && c.is_alphabetic() {
                run += 1;
            } else {
                run = 1;
                prev = c;
            }
            if run <= keep {
                out.push(c);
            }
        }
        out
    };
    let two = squeeze(2);
    if known(&two) {
        two
    } else {
        squeeze(1)
    }
}

fn push_word(
    out: &mut Vec<Token>,
    raw: &mut String,
    map: &SpellingMap,
    known: &dyn Fn(&str) -> bool,
) {
    if raw.is_empty() {
        return;
    }
    // Trim joining punctuation left at the end ("no." stays: handled by lexicon as "no").
    while raw.ends_with(['-', '.', '/', '\'']) {
        raw.pop();
    }
    if raw.is_empty() {
        return;
    }
    let lower = raw.to_lowercase();
    let has_alpha = lower.chars().any(char::is_alphabetic);
    let has_digit = lower.chars().any(|c| c.is_ascii_digit());
    let mut text = if has_alpha {
        collapse_runs(lower, known)
    } else {
        lower
    };
    // Malay reduplication written with a 2: "budak2", "apa2", "menitik2".
    if has_alpha && text.len() > 3 && text.ends_with('2') {
        let stem = &text[..text.len() - 1];
        if stem.chars().all(char::is_alphabetic) && !map.contains(&text) {
            text = stem.to_string();
        }
    }
    if text.contains('\'') {
        text = text.replace('\'', "");
    }
    let text = match map.get(&text) {
        Some(c) => c.to_string(),
        None => text,
    };
    let class = if has_alpha {
        TokClass::Word
    } else if has_digit {
        TokClass::Num
    } else {
        TokClass::Word
    };
    out.push(Token {
        text,
        raw: std::mem::take(raw),
        class,
    });
}

/// Splits a message into normalised tokens.
pub fn tokenize(text: &str, map: &SpellingMap, known: &dyn Fn(&str) -> bool) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(text.len() / 4 + 4);
    let mut word = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut last_punct: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if is_skippable(c) {
            continue;
        }
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        if c.is_alphanumeric() && !is_cjk(c) {
            word.push(c);
            last_punct = None;
            continue;
        }
        // Joiners inside a word: A-12-03, no.2, 3.2, G/F, a/c, can't.
        if !word.is_empty() && next.is_alphanumeric() && !is_cjk(next) {
            let joins = match c {
                '-' => true,
                '\'' | '’' => word.chars().all(char::is_alphabetic),
                '.' | ':' => {
                    word.chars().last().is_some_and(|p| p.is_ascii_digit()) && next.is_ascii_digit()
                }
                '/' => word.chars().count() <= 2 && next.is_alphanumeric(),
                _ => false,
            };
            if joins {
                if c != '\'' && c != '’' {
                    word.push(c);
                }
                continue;
            }
        }
        push_word(&mut out, &mut word, map, known);
        if is_cjk(c) {
            let s = c.to_string();
            let text = map.get(&s).map(str::to_string).unwrap_or_else(|| s.clone());
            out.push(Token {
                text,
                raw: s,
                class: TokClass::Cjk,
            });
            last_punct = None;
            continue;
        }
        if let Some(e) = emoji_word(c) {
            // Repeated identical emojis count once.
            if out
                .last()
                .is_some_and(|t| t.class == TokClass::Emoji && t.text == e)
            {
                continue;
            }
            out.push(Token {
                text: e.to_string(),
                raw: c.to_string(),
                class: TokClass::Emoji,
            });
            last_punct = None;
            continue;
        }
        let p = match c {
            '?' | '？' => Some('?'),
            '!' | '！' => Some('!'),
            '@' => Some('@'),
            '#' => Some('#'),
            '.' | '。' | '\n' => Some('.'),
            ',' | '，' | ';' | '；' | ':' | '：' | '、' | '(' | ')' | '（' | '）' | '~' | '|' => {
                Some(',')
            }
            _ => None,
        };
        if let Some(p) = p {
            if last_punct == Some(p) {
                if p == '!' {
                    if let Some(t) = out.last_mut() {
                        t.text = "!!".to_string();
                    }
                }
                continue;
            }
            out.push(Token {
                text: p.to_string(),
                raw: c.to_string(),
                class: TokClass::Punct,
            });
            last_punct = Some(p);
        } else {
            last_punct = None;
        }
    }
    push_word(&mut out, &mut word, map, known);
    out
}

/// Text key used by the correction memory: normalised tokens joined by spaces, clause breaks dropped.
pub fn memory_key(tokens: &[Token]) -> String {
    let mut s = String::new();
    for t in tokens {
        if t.text == "," || t.text == "." {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&t.text);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> SpellingMap {
        let mut m = SpellingMap::default();
        for v in ["sudah", "udah", "dah"] {
            m.insert(v, "dah");
        }
        for v in ["x", "tidak", "tak"] {
            m.insert(v, "tak");
        }
        m.insert("blk", "blok");
        m.insert("ok", "ok");
        m
    }

    fn texts(s: &str) -> Vec<String> {
        let m = map();
        tokenize(s, &m, &|w| m.contains(w))
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn lowercases_and_maps_spellings() {
        assert_eq!(texts("Sudah SIAP blk A"), vec!["dah", "siap", "blok", "a"]);
        assert_eq!(texts("udah x bocor"), vec!["dah", "tak", "bocor"]);
    }

    #[test]
    fn collapses_letter_runs_and_reduplication() {
        assert_eq!(texts("okkkkk"), vec!["ok"]);
        assert_eq!(texts("pleaseeee"), vec!["please"]);
        assert_eq!(texts("budak2 main"), vec!["budak", "main"]);
    }

    #[test]
    fn emojis_become_words_and_cjk_splits() {
        assert_eq!(texts("Done ✅✅"), vec!["done", "emo_check"]);
        assert_eq!(texts("👍🏽"), vec!["emo_ok"]);
        assert_eq!(texts("电梯坏了"), vec!["电", "梯", "坏", "了"]);
        assert_eq!(texts("E座大堂 clean"), vec!["e", "座", "大", "堂", "clean"]);
    }

    #[test]
    fn keeps_unit_numbers_and_clause_breaks() {
        let m = map();
        let t = tokenize("Rumah C-12-05, xde orang!!", &m, &|w| m.contains(w));
        assert_eq!(t[1].raw, "C-12-05");
        assert_eq!(t[1].text, "c-12-05");
        assert_eq!(t[2].text, ",");
        assert_eq!(t.last().map(|t| t.text.as_str()), Some("!!"));
    }
}

//! Person-name candidates in an instruction ("@Ali", "Ali pls check", "Mr Tan, tolong …", "Siti, …").
//! Resolving the names to person ids is the caller's job (match against display names / aliases).

use std::sync::LazyLock;

use regex::Regex;

/// Words that ask someone to act; a capitalised name right before one is addressed.
const REQUEST_WORDS: &[&str] = &[
    "pls", "plz", "pl", "please", "tolong", "tlg", "mohon", "can", "could", "check",
];
/// Capitalised words that are not names on their own.
const NOT_NAMES: &[&str] = &[
    "pls",
    "plz",
    "please",
    "boss",
    "bos",
    "all",
    "semua",
    "guys",
    "team",
    "good",
    "morning",
    "reminder",
    "tq",
    "thanks",
    "thank",
    "ok",
    "okay",
    "hi",
    "hello",
    "noted",
    "kak",
    "bu",
    "pak",
    "sir",
    "madam",
    "abang",
    "bang",
    "dear",
    "everyone",
    "semua",
    "tolong",
    "urgent",
    "today",
    "tomorrow",
    "esok",
    "hari",
    "ini",
    "ni",
    "selamat",
    "pagi",
    "petang",
    "assalamualaikum",
    "salam",
    "the",
    "and",
    "then",
    "also",
    "just",
    "now",
    "yes",
    "no",
];
/// Titles that belong to the name that follows ("Mr Tan", "Pn Rosnah").
const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "en", "encik", "cik", "pn", "puan", "dr", "tuan", "uncle", "auntie",
];

static AT_MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"@(\+?\d[\d \-]{4,}\d|\p{Lu}[\p{L}'’\-]*(?:[ \t]+\p{Lu}[\p{L}'’\-]*){0,3}|\p{L}[\p{L}'’\-]*)")
        .expect("static regex")
});

fn bare(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric())
}

fn is_name_word(word: &str) -> bool {
    let b = bare(word);
    let mut chars = b.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_uppercase()
        && b.chars().count() >= 2
        && !b.chars().any(|c| c.is_ascii_digit())
        && !NOT_NAMES.contains(&b.to_lowercase().as_str())
}

fn is_honorific(word: &str) -> bool {
    HONORIFICS.contains(&bare(word).to_lowercase().as_str())
}

fn ends_sentence(word: &str) -> bool {
    let b = bare(word).to_lowercase();
    (word.ends_with('.') && !HONORIFICS.contains(&b.as_str()))
        || word.ends_with('!')
        || word.ends_with('?')
}

fn push_unique(out: &mut Vec<String>, name: String) {
    if !name.is_empty() && !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
        out.push(name);
    }
}

/// Collects name words backwards from `end` (exclusive). The word right before `end` may carry a comma.
fn name_before(words: &[&str], end: usize) -> Option<String> {
    let mut picked: Vec<&str> = Vec::new();
    let mut i = end;
    while i > 0 && picked.len() < 3 {
        let w = words[i - 1];
        if ends_sentence(w) || (i < end && w.ends_with(',')) {
            break;
        }
        if is_name_word(w) || (is_honorific(w) && !picked.is_empty()) {
            picked.push(bare(w));
            i -= 1;
        } else {
            break;
        }
    }
    // A leading honorific before the collected words ("Mr" in "Mr Tan").
    if !picked.is_empty() && i > 0 && is_honorific(words[i - 1]) && !words[i - 1].ends_with(',') {
        picked.push(bare(words[i - 1]));
    }
    if picked.is_empty() || picked.iter().all(|w| is_honorific(w)) {
        return None;
    }
    picked.reverse();
    Some(picked.join(" "))
}

/// Name candidates addressed or mentioned in `text`, in order of appearance, without duplicates.
pub fn mentioned_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Most messages mention nobody with '@': they skip the regex (and the per-thread cache it builds).
    let no_at = if text.contains('@') {
        for c in AT_MENTION.captures_iter(text) {
            if let Some(m) = c.get(1) {
                // Drop trailing request words captured as capitalised words ("@Ali Pls …").
                let words: Vec<&str> = m
                    .as_str()
                    .split_whitespace()
                    .take_while(|w| !REQUEST_WORDS.contains(&bare(w).to_lowercase().as_str()))
                    .collect();
                push_unique(&mut out, words.join(" "));
            }
        }
        AT_MENTION.replace_all(text, " ")
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    for line in no_at.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // Vocative at the start of a sentence: "Siti, chemical dah ada …".
        let mut start = true;
        for (i, w) in words.iter().enumerate() {
            if start && w.ends_with(',') {
                if let Some(n) = name_before(&words, i + 1) {
                    push_unique(&mut out, n);
                }
            }
            start = ends_sentence(w)
                || (start && (is_name_word(w) || is_honorific(w)) && !w.ends_with(','));
        }
        // Addressed before a request word: "Rajan pls …", "Mr Tan, tolong …".
        for (i, w) in words.iter().enumerate() {
            if i > 0 && REQUEST_WORDS.contains(&bare(w).to_lowercase().as_str()) {
                if let Some(n) = name_before(&words, i) {
                    push_unique(&mut out, n);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mentioned_names;

    #[test]
    fn extracts_names_from_instructions() {
        let cases: &[(&str, &[&str])] = &[
            ("@Ah Keong pls call the lift vendor", &["Ah Keong"]),
            ("@Ah Keong urgent pls", &["Ah Keong"]),
            ("Ah Keong pls check the pump now!!", &["Ah Keong"]),
            ("Mei Ling pls call the boom gate vendor", &["Mei Ling"]),
            ("Rajan pls put wet floor sign there", &["Rajan"]),
            ("@Ali tolong cuci carpark B1 blk B lepas JMB visit", &["Ali"]),
            ("Tq Ros. Mr Tan, tolong arrange plumber check siling lobi D", &["Mr Tan"]),
            ("Siti, chemical dah ada kat stor blok A, tolong sambung cuci toilet lvl 1 petang ni", &["Siti"]),
            ("Ali check pump room now", &["Ali"]),
            ("@60123456789 pls check", &["60123456789"]),
        ];
        for (text, want) in cases {
            assert_eq!(
                mentioned_names(text),
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{text}"
            );
        }
    }

    #[test]
    fn no_names_in_plain_requests() {
        for text in [
            "Pls clean the pool deck today, weekend many residents",
            "Good morning. Reminder fire drill next Tuesday 10am, pls brief all guards",
            "Hari ni JMB inspection 3pm. Pls make sure lobby A sampai D siap sebelum 2pm ya",
            "Kak, chemical toilet dah habis, tak dapat cuci toilet lvl 1 blk A",
            "Boss, blk B lift no.2 stuck at lvl 7, no one inside",
            "Reminder: pls submit timesheet today before 5pm",
            "Notice water cut Sat 9am-5pm, pls paste at every lift lobby",
        ] {
            assert!(
                mentioned_names(text).is_empty(),
                "{text}: {:?}",
                mentioned_names(text)
            );
        }
    }
}

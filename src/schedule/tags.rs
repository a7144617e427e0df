//! Places named in check-ins and task reports: the exact tag of a QR poster (`#CP3 Kenanga Heights`), checkpoint
//! mentions ("Checkpoint 3 clear 0200", "CP 3 ok", "检查点3") and round mentions ("Round 2 ok", "Rondaan 2 selesai").

use std::sync::LazyLock;

use regex::Regex;

/// The tag a QR poster pre-fills: `#` + the checkpoint or place code + a space + the site's name, on the message's
/// first line. Parsed exactly; the caller checks the code and site against the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosterTag {
    pub code: String,
    pub site: String,
}

/// The text a poster's QR code pre-fills for `code` at `site`.
pub fn poster_text(code: &str, site: &str) -> String {
    format!("#{} {}", code.trim().to_ascii_uppercase(), site.trim())
}

/// The tag code of a cleaning schedule's place: its block, level and unit (`C-L3`, `A-L2-U5`), else `S<schedule id>`.
/// The poster prints it and the scheduler matches it, so both come from here.
pub fn location_code(loc: &crate::classify::types::Location, schedule_id: i64) -> String {
    let part = |v: &Option<String>, prefix: &str| {
        v.as_deref()
            .map(|v| {
                let a: String = v.chars().filter(char::is_ascii_alphanumeric).collect();
                format!("{prefix}{}", a.to_ascii_uppercase())
            })
            .filter(|v| v.len() > prefix.len())
    };
    let parts: Vec<String> = [
        part(&loc.block, ""),
        part(&loc.level, "L"),
        part(&loc.unit, "U"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let code: String = parts.join("-").chars().take(16).collect();
    if code.is_empty() {
        format!("S{schedule_id}")
    } else {
        code
    }
}

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^#([A-Za-z0-9][A-Za-z0-9-]{0,15})[ \t]+(\S[^\r\n]*?)[ \t]*$")
        .expect("static regex")
});

/// Reads a poster tag from the first line of `text`.
pub fn parse_poster_tag(text: &str) -> Option<PosterTag> {
    let first = text.trim_start().lines().next()?;
    let c = TAG.captures(first.trim_end())?;
    Some(PosterTag {
        code: c[1].to_ascii_uppercase(),
        site: c[2].to_string(),
    })
}

/// Whether a poster tag names `site` (case and surrounding spaces ignored; the site name must be complete: extra
/// words after it, such as "ok", are allowed, a different name is not).
pub fn tag_names_site(tag: &PosterTag, site: &str) -> bool {
    let want = site.trim().to_lowercase();
    let got = tag.site.trim().to_lowercase();
    !want.is_empty()
        && (got == want
            || got
                .strip_prefix(&want)
                .is_some_and(|rest| rest.starts_with(' ')))
}

/// Which of `sites` the tag names: the longest name it names (so "Kenanga Heights" beats "Kenanga").
pub fn best_site<S: AsRef<str>>(tag: &PosterTag, sites: &[S]) -> Option<usize> {
    sites
        .iter()
        .enumerate()
        .filter(|(_, s)| tag_names_site(tag, s.as_ref()))
        .max_by_key(|(_, s)| s.as_ref().trim().chars().count())
        .map(|(i, _)| i)
}

static CHECKPOINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:\b(?:checkpoint|check point|chkpt|chk pt|cp|pos|titik|checkpoint no\.?)\s*#?\s*([0-9]{1,3}[a-z]?)\b|检查点\s*([0-9]{1,3}))",
    )
    .expect("static regex")
});

/// Checkpoint numbers or codes named in free text, upper-cased ("Checkpoint 3 clear" → "3", "cp 12" → "12").
pub fn checkpoint_mentions(text: &str) -> Vec<String> {
    CHECKPOINT
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_ascii_uppercase())
        .collect()
}

/// Whether a mention ("3") names the checkpoint `code` ("CP3", "3", "CP-03").
pub fn mention_matches(mention: &str, code: &str) -> bool {
    if mention.eq_ignore_ascii_case(code) {
        return true;
    }
    let digits = |s: &str| -> String {
        let d: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .skip_while(|c| c.is_ascii_alphabetic())
            .collect();
        d.trim_start_matches('0').to_ascii_uppercase()
    };
    let (m, c) = (digits(mention), digits(code));
    !m.is_empty() && m == c
}

static ROUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:round|rondaan|ronda|patrol|rounding)\s*(?:no\.?\s*)?#?([0-9]{1,2})\b")
        .expect("static regex")
});

/// The round number in "Round 2 ok" / "Rondaan 2 selesai" / "Patrol 3 done".
pub fn round_mention(text: &str) -> Option<u32> {
    ROUND.captures(text)?.get(1)?.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poster_tag_round_trips_and_is_parsed_exactly() {
        let text = poster_text("cp3", "Kenanga Heights");
        assert_eq!(text, "#CP3 Kenanga Heights");
        let tag = parse_poster_tag(&format!("{text}\nall clear")).unwrap();
        assert_eq!(tag.code, "CP3");
        assert!(tag_names_site(&tag, "kenanga heights"));
        assert!(tag_names_site(
            &parse_poster_tag("#CP3 Kenanga Heights ok").unwrap(),
            "Kenanga Heights"
        ));
        // With two sites whose names share a start, the longest one the tag names wins.
        let sites = ["Kenanga", "Kenanga Heights", "Melur"];
        assert_eq!(best_site(&tag, &sites), Some(1));
        assert_eq!(
            best_site(&parse_poster_tag("#CP1 kenanga").unwrap(), &sites),
            Some(0)
        );
        assert_eq!(
            best_site(&parse_poster_tag("#CP1 Cempaka").unwrap(), &sites),
            None
        );
        assert!(!tag_names_site(
            &parse_poster_tag("#CP3 Kenanga Heightsville").unwrap(),
            "Kenanga Heights"
        ));
        for not_a_tag in [
            "CP3 Kenanga Heights",
            "# CP3 Kenanga",
            "#CP3",
            "hello #CP3 Kenanga",
            "",
        ] {
            assert_eq!(parse_poster_tag(not_a_tag), None, "{not_a_tag:?}");
        }
    }

    #[test]
    fn checkpoints_and_rounds_are_found_in_free_text() {
        assert_eq!(checkpoint_mentions("Checkpoint 3 clear 0200"), vec!["3"]);
        assert_eq!(checkpoint_mentions("CP 12 ok, cp4 ok"), vec!["12", "4"]);
        assert_eq!(checkpoint_mentions("检查点2 正常"), vec!["2"]);
        assert!(checkpoint_mentions("clear 0200, all ok").is_empty());
        assert!(mention_matches("3", "CP3"));
        assert!(mention_matches("3", "CP-03"));
        assert!(!mention_matches("3", "CP13"));
        assert_eq!(round_mention("Round 2 ok"), Some(2));
        assert_eq!(round_mention("rondaan 3 selesai semua ok"), Some(3));
        assert_eq!(round_mention("all good"), None);
    }
}

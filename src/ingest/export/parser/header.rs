//! The message header grammar, over bytes: a date, a time, optional brackets and AM/PM at the start of a line, in
//! every form the exports use (`whatsapp.md` §6.2); anything else is a continuation line.

use chrono::{NaiveDate, NaiveDateTime};

use super::DateOrder;

/// A matched message header (date, time, optional brackets and AM/PM) at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub nums: [u32; 3],
    pub digits: [u8; 3],
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// `Some(true)` = PM, `Some(false)` = AM.
    pub pm: Option<bool>,
    pub bracketed: bool,
    /// Byte offset of the text after the header (author or system text).
    pub rest: usize,
}

impl RawHeader {
    pub(super) fn year_first(&self) -> bool {
        self.digits[0] >= 3
    }

    pub(super) fn to_datetime(self, order: DateOrder) -> Option<NaiveDateTime> {
        let [a, b, c] = self.nums;
        let (y, yd, m, d) = if self.year_first() {
            (a, self.digits[0], b, c)
        } else {
            match order {
                DateOrder::DayFirst => (c, self.digits[2], b, a),
                DateOrder::MonthFirst => (c, self.digits[2], a, b),
                DateOrder::YearFirst => (a, self.digits[0], b, c),
            }
        };
        let year = if yd <= 2 { 2000 + y } else { y };
        let hour = match self.pm {
            None => self.hour,
            Some(pm) => {
                let h = self.hour % 12;
                if pm {
                    h + 12
                } else {
                    h
                }
            }
        };
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, m, d)?.and_hms_opt(
            hour,
            self.minute,
            self.second,
        )
    }
}

/// Length of an invisible character (BOM, bidi control, zero-width) at `i`, else 0.
#[inline]
fn invisible_len(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(0xEF) if b.get(i + 1) == Some(&0xBB) && b.get(i + 2) == Some(&0xBF) => 3,
        Some(0xE2) => match (b.get(i + 1), b.get(i + 2)) {
            // U+200B..U+200F (ZWSP, ZWNJ, ZWJ, LRM, RLM), U+202A..U+202E, U+2060, U+2066..U+2069
            (Some(0x80), Some(0x8B..=0x8F)) | (Some(0x80), Some(0xAA..=0xAE)) => 3,
            (Some(0x81), Some(0xA0)) | (Some(0x81), Some(0xA6..=0xA9)) => 3,
            _ => 0,
        },
        _ => 0,
    }
}

/// Length of a whitespace character (ASCII space/tab, NBSP, U+2000..U+200A, NNBSP, MMSP, ideographic) at `i`.
#[inline]
fn space_len(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b' ') | Some(b'\t') => 1,
        Some(0xC2) if b.get(i + 1) == Some(&0xA0) => 2,
        Some(0xE2) => match (b.get(i + 1), b.get(i + 2)) {
            (Some(0x80), Some(0x80..=0x8A))
            | (Some(0x80), Some(0xAF))
            | (Some(0x81), Some(0x9F)) => 3,
            _ => 0,
        },
        Some(0xE3) if b.get(i + 1) == Some(&0x80) && b.get(i + 2) == Some(&0x80) => 3,
        _ => 0,
    }
}

#[inline]
fn skip_blank(b: &[u8], mut i: usize) -> usize {
    loop {
        let n = space_len(b, i);
        let n = if n == 0 { invisible_len(b, i) } else { n };
        if n == 0 {
            return i;
        }
        i += n;
    }
}

/// A decimal digit (ASCII, Arabic-Indic U+0660.., Extended Arabic-Indic U+06F0..) at `i`: (value, byte len).
#[inline]
fn digit_at(b: &[u8], i: usize) -> Option<(u32, usize)> {
    match *b.get(i)? {
        c @ b'0'..=b'9' => Some(((c - b'0') as u32, 1)),
        0xD9 => match *b.get(i + 1)? {
            c @ 0xA0..=0xA9 => Some(((c - 0xA0) as u32, 2)),
            _ => None,
        },
        0xDB => match *b.get(i + 1)? {
            c @ 0xB0..=0xB9 => Some(((c - 0xB0) as u32, 2)),
            _ => None,
        },
        _ => None,
    }
}

#[inline]
fn read_num(b: &[u8], i: &mut usize, max_digits: u8) -> Option<(u32, u8)> {
    let mut v = 0u32;
    let mut n = 0u8;
    while let Some((d, len)) = digit_at(b, *i) {
        if n == max_digits {
            return None;
        }
        v = v * 10 + d;
        n += 1;
        *i += len;
    }
    (n > 0).then_some((v, n))
}

#[inline]
fn word_end(b: &[u8], k: usize) -> bool {
    b.get(k).is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// An AM/PM token at `i`: (is_pm, end offset). Accepts `AM PM a.m. p.m. a. m. p. m.` (any case, any
/// space incl. NBSP inside), Malay `PG PTG`, `上午 下午 午前 午後 오전 오후`, Arabic `ص م`.
fn meridiem_at(b: &[u8], i: usize) -> Option<(bool, usize)> {
    let c = b.get(i)?.to_ascii_lowercase();
    if c == b'a' || c == b'p' {
        let pm = c == b'p';
        let mut k = i + 1;
        if pm {
            match b.get(k).map(u8::to_ascii_lowercase) {
                Some(b't')
                    if b.get(k + 1).map(u8::to_ascii_lowercase) == Some(b'g')
                        && word_end(b, k + 2) =>
                {
                    return Some((true, k + 2));
                }
                Some(b'g') if word_end(b, k + 1) => return Some((false, k + 1)),
                _ => {}
            }
        }
        if b.get(k) == Some(&b'.') {
            k += 1;
        }
        k += space_len(b, k);
        if b.get(k).map(u8::to_ascii_lowercase) != Some(b'm') {
            return None;
        }
        k += 1;
        if b.get(k) == Some(&b'.') {
            k += 1;
        }
        return word_end(b, k).then_some((pm, k));
    }
    if c < 0x80 {
        return None;
    }
    const TOKENS: [(&str, bool); 8] = [
        ("上午", false),
        ("下午", true),
        ("午前", false),
        ("午後", true),
        ("오전", false),
        ("오후", true),
        ("ص", false),
        ("م", true),
    ];
    let rest = &b[i..];
    TOKENS
        .iter()
        .find(|(t, _)| rest.starts_with(t.as_bytes()))
        .map(|(t, pm)| (*pm, i + t.len()))
}

/// Match a message header at the start of `b` (§6.2/§6.3).
pub(crate) fn parse_header(b: &[u8]) -> Option<RawHeader> {
    let mut i = 0;
    loop {
        let n = invisible_len(b, i);
        if n == 0 {
            break;
        }
        i += n;
    }
    let bracketed = b.get(i) == Some(&b'[');
    if bracketed {
        i += 1;
        while invisible_len(b, i) > 0 {
            i += invisible_len(b, i);
        }
    }
    // Fast reject for continuation lines.
    digit_at(b, i)?;
    let (n1, d1) = read_num(b, &mut i, 4)?;
    let sep = *b.get(i)?;
    if !matches!(sep, b'/' | b'.' | b'-') {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (n2, d2) = read_num(b, &mut i, 4)?;
    if b.get(i) != Some(&sep) {
        return None;
    }
    i += 1;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (n3, d3) = read_num(b, &mut i, 4)?;
    // The year sits first (`2026/03/02`), last (`02/03/2026`), or, in one rare export form, in the
    // middle (`03/2026/02`, month/year/day); it is moved last so date-order detection sees day and
    // month as usual.
    let (nums, digits) = if d2 == 4 {
        if d1 > 2 || d3 > 2 {
            return None;
        }
        ([n1, n3, n2], [d1, d3, d2])
    } else if d2 > 2 {
        return None;
    } else {
        if d1 >= 3 {
            if d1 != 4 || d3 > 2 {
                return None;
            }
        } else if d3 != 2 && d3 != 4 {
            return None;
        }
        ([n1, n2, n3], [d1, d2, d3])
    };
    // `13. 6. 2018.`: a dot after the year; those exports put no dash before the author.
    let year_dot = sep == b'.' && b.get(i) == Some(&b'.');
    if year_dot {
        i += 1;
    }
    let comma = b.get(i) == Some(&b',');
    if comma {
        i += 1;
    }
    let j = skip_blank(b, i);
    if j == i && !comma {
        return None;
    }
    i = j;
    // Finnish `13.6.2018 klo 21.25.15`.
    if b[i..].starts_with(b"klo") && word_end(b, i + 3) {
        let j = skip_blank(b, i + 3);
        if j == i + 3 {
            return None;
        }
        i = j;
    }
    // AM/PM before the time (zh/ja/ko style).
    let mut pm = None;
    if b.get(i).is_some_and(|&c| c >= 0x80) {
        if let Some((p, k)) = meridiem_at(b, i) {
            pm = Some(p);
            i = skip_blank(b, k);
        }
    }
    let (hour, _) = read_num(b, &mut i, 2)?;
    let tsep = *b.get(i)?;
    if tsep != b':' && tsep != b'.' {
        return None;
    }
    i += 1;
    let (minute, dm) = read_num(b, &mut i, 2)?;
    if dm != 2 {
        return None;
    }
    let mut second = 0;
    if b.get(i) == Some(&tsep) && digit_at(b, i + 1).is_some() {
        i += 1;
        let (s, ds) = read_num(b, &mut i, 2)?;
        if ds != 2 {
            return None;
        }
        second = s;
    }
    let j = skip_blank(b, i);
    if pm.is_none() {
        if let Some((p, k)) = meridiem_at(b, j) {
            pm = Some(p);
            i = k;
        }
    }
    let before_blank = i;
    i = skip_blank(b, i);
    if bracketed {
        if b.get(i) != Some(&b']') {
            return None;
        }
        i = skip_blank(b, i + 1);
    } else {
        match b.get(i) {
            Some(b'-') => i += 1,
            Some(0xE2) if b.get(i + 1) == Some(&0x80) && b.get(i + 2) == Some(&0x93) => i += 3,
            // Dotted dates may end the time with a colon: `13.06.18 21.25.15: A: x`.
            Some(b':') if sep == b'.' && i == before_blank => i += 1,
            // `13. 6. 2018. 21:25:15 A: x`: no separator at all, only the blank.
            Some(_) if year_dot && i > before_blank => {}
            _ => return None,
        }
        let j = skip_blank(b, i);
        if j == i && i < b.len() && !year_dot {
            return None;
        }
        i = j;
    }
    let hour_ok = match pm {
        None => hour <= 23,
        Some(_) => hour <= 12,
    };
    if !hour_ok || minute > 59 || second > 59 {
        return None;
    }
    Some(RawHeader {
        nums,
        digits,
        hour,
        minute,
        second,
        pm,
        bracketed,
        rest: i,
    })
}

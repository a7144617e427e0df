//! Pass 1: which of day and month comes first, decided from the header dates with a few counters (`whatsapp.md`
//! §6.6); the scan stops at the first decisive date.

use std::io::BufRead;

use super::header::{parse_header, RawHeader};
use super::{DateOrder, DateOrderDecision, LineReader, OrderEvidence, ParseError, ParseOptions};

/// Bounded-memory statistics over header dates (§6.6).
#[derive(Debug, Default, Clone)]
pub struct DateOrderDetector {
    seen: usize,
    year_first: usize,
    max_a: u32,
    max_b: u32,
    prev: Option<(u32, u32, u32)>,
    dec_a: usize,
    dec_b: usize,
    chg_a: usize,
    chg_b: usize,
}

impl DateOrderDetector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one header; returns true once the order is decided for certain.
    pub(crate) fn observe(&mut self, h: &RawHeader) -> bool {
        self.seen += 1;
        if h.year_first() {
            self.year_first += 1;
            return self.seen == self.year_first;
        }
        let [a, b, y] = h.nums;
        if a <= 31 {
            self.max_a = self.max_a.max(a);
        }
        if b <= 31 {
            self.max_b = self.max_b.max(b);
        }
        if let Some((pa, pb, py)) = self.prev {
            if py == y {
                if a < pa {
                    self.dec_a += 1;
                }
                if b < pb {
                    self.dec_b += 1;
                }
            }
            if a != pa {
                self.chg_a += 1;
            }
            if b != pb {
                self.chg_b += 1;
            }
        }
        self.prev = Some((a, b, y));
        (self.max_a > 12) != (self.max_b > 12)
    }

    pub fn headers_seen(&self) -> usize {
        self.seen
    }

    pub fn decide(&self) -> DateOrderDecision {
        let (order, evidence) = if self.year_first > 0 && self.year_first * 2 >= self.seen {
            (DateOrder::YearFirst, OrderEvidence::YearFirst)
        } else if self.max_a > 12 && self.max_b <= 12 {
            (DateOrder::DayFirst, OrderEvidence::ComponentOver12)
        } else if self.max_b > 12 && self.max_a <= 12 {
            (DateOrder::MonthFirst, OrderEvidence::ComponentOver12)
        } else if self.dec_a != self.dec_b {
            let o = if self.dec_a > self.dec_b {
                DateOrder::DayFirst
            } else {
                DateOrder::MonthFirst
            };
            (o, OrderEvidence::Decreased)
        } else if self.chg_a != self.chg_b {
            let o = if self.chg_a > self.chg_b {
                DateOrder::DayFirst
            } else {
                DateOrder::MonthFirst
            };
            (o, OrderEvidence::ChangesMoreOften)
        } else {
            (DateOrder::DayFirst, OrderEvidence::Default)
        };
        let ambiguous = !matches!(
            evidence,
            OrderEvidence::YearFirst | OrderEvidence::ComponentOver12
        );
        DateOrderDecision {
            order,
            evidence,
            ambiguous,
            headers_seen: self.seen,
        }
    }
}

/// Pass 1: scan header lines and decide the date order. Stops at the first decisive date.
/// Errors with [`ParseError::NotAnExport`] naming the first non-blank line when no header exists at all.
pub fn detect_date_order<R: BufRead>(
    reader: R,
    opts: &ParseOptions,
) -> Result<DateOrderDecision, ParseError> {
    let mut lines = LineReader::new(reader, opts.max_line_bytes);
    let mut det = DateOrderDetector::new();
    let mut first_content_line = None;
    while lines.next_line()? {
        if first_content_line.is_none() && lines.buf.iter().any(|c| !c.is_ascii_whitespace()) {
            first_content_line = Some(lines.line_no);
        }
        if let Some(h) = parse_header(&lines.buf) {
            if det.observe(&h) {
                break;
            }
        }
    }
    if det.headers_seen() == 0 {
        return Err(ParseError::NotAnExport {
            line: first_content_line.unwrap_or(1),
        });
    }
    Ok(det.decide())
}

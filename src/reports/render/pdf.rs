//! PDF through pdf-writer (pure Rust): landscape A4 pages of the report's tables in DejaVu Sans, embedded as a subset
//! ([`crate::pdf`]): Latin text with any accents prints as written; a character the font lacks prints as '�'.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::pdf::{Fonts, Weight};

use super::Table;
use crate::reports::model::Report;

const W: f32 = 842.0;
const H: f32 = 595.0;
const MARGIN: f32 = 36.0;
const PT: f32 = 7.5;
const LINE: f32 = 10.5;
/// DejaVu Sans's average advance at `PT` (letters and digits), used to fit columns.
const CHAR_W: f32 = PT * 0.55;

enum Line {
    Title(String),
    Heading(String),
    Text(String),
    Row {
        cells: Vec<String>,
        x: Vec<f32>,
        bold: bool,
    },
}

fn fit(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(chars.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

fn table_lines(t: &Table, out: &mut Vec<Line>) {
    out.push(Line::Heading(t.title.to_string()));
    if t.rows.is_empty() {
        out.push(Line::Text(t.empty.unwrap_or("nothing").to_string()));
        return;
    }
    let n = t.columns.len();
    // Data decides the widths; a long header is cut before a value is.
    let mut chars: Vec<usize> = t
        .columns
        .iter()
        .map(|c| c.chars().count().min(12))
        .collect();
    for row in &t.rows {
        for (i, c) in row.iter().enumerate().take(n) {
            chars[i] = chars[i].max(c.text().chars().count());
        }
    }
    let avail = ((W - 2.0 * MARGIN) / CHAR_W) as usize;
    // Shrink the widest columns until the table fits the page.
    let gap = 2;
    while chars.iter().map(|c| c + gap).sum::<usize>() > avail {
        let Some((i, _)) = chars.iter().enumerate().max_by_key(|(_, c)| **c) else {
            break;
        };
        if chars[i] <= 6 {
            break;
        }
        chars[i] -= 1;
    }
    let mut x = Vec::with_capacity(n);
    let mut at = MARGIN;
    for c in &chars {
        x.push(at);
        at += (*c + gap) as f32 * CHAR_W;
    }
    out.push(Line::Row {
        cells: t
            .columns
            .iter()
            .zip(&chars)
            .map(|(c, w)| fit(c, *w))
            .collect(),
        x: x.clone(),
        bold: true,
    });
    for row in &t.rows {
        out.push(Line::Row {
            cells: row
                .iter()
                .zip(&chars)
                .map(|(c, w)| fit(&c.text(), *w))
                .collect(),
            x: x.clone(),
            bold: false,
        });
    }
}

pub fn render(r: &Report, tables: &[Table]) -> Result<Vec<u8>, String> {
    let mut lines = vec![
        Line::Title(super::title(r)),
        Line::Text(format!(
            "{} to {} ({}); compared with {} to {}. Generated {}.",
            r.period.first_day,
            r.period.last_day,
            r.period.timezone,
            r.previous_period.first_day,
            r.previous_period.last_day,
            r.generated_at.format("%Y-%m-%d %H:%M UTC")
        )),
    ];
    lines.extend(
        r.warnings
            .iter()
            .map(|w| Line::Text(format!("Warning: {w}"))),
    );
    for t in tables {
        table_lines(t, &mut lines);
    }
    // Pages: a heading is not left alone at the bottom of a page.
    let mut pages: Vec<Vec<Line>> = vec![Vec::new()];
    let mut y = H - MARGIN;
    let per = |l: &Line| match l {
        Line::Title(_) => 22.0,
        Line::Heading(_) => 20.0,
        _ => LINE,
    };
    for l in lines {
        let need = per(&l)
            + if matches!(l, Line::Heading(_)) {
                3.0 * LINE
            } else {
                0.0
            };
        if y - need < MARGIN {
            pages.push(Vec::new());
            y = H - MARGIN;
        }
        y -= per(&l);
        if let Some(p) = pages.last_mut() {
            p.push(l);
        }
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let bold = Ref::new(4);
    let ids: Vec<(Ref, Ref)> = (0..pages.len() as i32)
        .map(|i| (Ref::new(5 + 2 * i), Ref::new(6 + 2 * i)))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|p| p.0))
        .count(ids.len() as i32);
    let mut fonts = Fonts::new()?;
    let count = pages.len();
    for (n, (page_lines, (page_id, content_id))) in pages.iter().zip(&ids).enumerate() {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, W, H));
        page.parent(tree);
        page.contents(*content_id);
        page.resources()
            .fonts()
            .pair(Name(b"F1"), font)
            .pair(Name(b"F2"), bold);
        page.finish();
        let mut c = Content::new();
        let mut text = |c: &mut Content, f: &[u8], pt: f32, x: f32, y: f32, s: &str| {
            let weight = if f == b"F2" {
                Weight::Bold
            } else {
                Weight::Regular
            };
            c.begin_text();
            c.set_font(Name(f), pt);
            c.next_line(x, y);
            c.show(Str(&fonts.encode(weight, s)));
            c.end_text();
        };
        let mut y = H - MARGIN;
        for l in page_lines {
            y -= per(l);
            match l {
                Line::Title(s) => text(&mut c, b"F2", 15.0, MARGIN, y, s),
                Line::Heading(s) => text(&mut c, b"F2", 11.0, MARGIN, y, s),
                Line::Text(s) => text(&mut c, b"F1", 8.5, MARGIN, y, s),
                Line::Row { cells, x, bold } => {
                    let f: &[u8] = if *bold { b"F2" } else { b"F1" };
                    for (s, x) in cells.iter().zip(x) {
                        if !s.is_empty() {
                            text(&mut c, f, PT, *x, y, s);
                        }
                    }
                }
            }
        }
        text(
            &mut c,
            b"F1",
            7.0,
            W - MARGIN - 60.0,
            MARGIN / 2.0,
            &format!("page {} of {count}", n + 1),
        );
        pdf.stream(*content_id, &c.finish());
    }
    fonts.write(&mut pdf, font, bold, 5 + 2 * ids.len() as i32)?;
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cell_is_cut_with_a_tilde() {
        assert_eq!(fit("abcdefgh", 5), "abcd~");
        assert_eq!(fit("café", 5), "café");
    }
}

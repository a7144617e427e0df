//! A list of records as a spreadsheet a manager opens: CSV (UTF-8 with a byte-order mark, a header row, RFC 4180
//! quoting, CRLF; text that a spreadsheet would run as a formula is defused) or XLSX (typed number and date-time
//! cells, a frozen and filtered header row, column widths from the content).

use chrono::{Datelike, NaiveDateTime, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A local date and time (the firm's time zone); None = empty.
    Time(Option<NaiveDateTime>),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Time(Some(t)) => t.format("%Y-%m-%d %H:%M").to_string(),
            Cell::Time(None) => String::new(),
        }
    }
}

/// A table: a header and its rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    pub name: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the spreadsheet: {0}")]
pub struct ExportError(pub String);

/// Untrusted text made safe to open in a spreadsheet: text starting with `=`, `+`, `-`, `@` (or a tab or carriage
/// return, which some spreadsheets skip before one of those) would be run as a formula, so it gets a leading
/// apostrophe, which Excel and LibreOffice show as text.
pub fn defuse(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// The sheet as CSV bytes.
pub fn csv(sheet: &Sheet) -> Result<Vec<u8>, ExportError> {
    let err = |e: csv::Error| ExportError(e.to_string());
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer("\u{feff}".as_bytes().to_vec());
    w.write_record(&sheet.columns).map_err(err)?;
    for row in &sheet.rows {
        w.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => defuse(s),
            other => other.text(),
        }))
        .map_err(err)?;
    }
    w.into_inner().map_err(|e| ExportError(e.to_string()))
}

/// The sheet as XLSX bytes: strings are always written as text (never formulas), numbers and times typed.
pub fn xlsx(sheet: &Sheet) -> Result<Vec<u8>, ExportError> {
    let err = |e: XlsxError| ExportError(e.to_string());
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color("DDE6F0");
    let time = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let ws = wb.add_worksheet();
    ws.set_name(sheet.name).map_err(err)?;
    let mut widths: Vec<usize> = sheet.columns.iter().map(|c| c.chars().count()).collect();
    for (c, name) in sheet.columns.iter().enumerate() {
        ws.write_string_with_format(0, col(c)?, *name, &header)
            .map_err(err)?;
    }
    for (i, row) in sheet.rows.iter().enumerate() {
        let r = u32::try_from(i + 1).map_err(|e| ExportError(e.to_string()))?;
        for (c, cell) in row.iter().enumerate() {
            let cc = col(c)?;
            match cell {
                Cell::Text(s) => {
                    ws.write_string(r, cc, s).map_err(err)?;
                }
                Cell::Int(n) => {
                    ws.write_number(r, cc, *n as f64).map_err(err)?;
                }
                Cell::Time(Some(t)) => {
                    let d = ExcelDateTime::from_ymd(
                        u16::try_from(t.year()).map_err(|e| ExportError(e.to_string()))?,
                        t.month() as u8,
                        t.day() as u8,
                    )
                    .and_then(|d| d.and_hms(t.hour() as u16, t.minute() as u8, t.second()))
                    .map_err(err)?;
                    ws.write_datetime_with_format(r, cc, d, &time)
                        .map_err(err)?;
                }
                Cell::Time(None) => {}
            }
            if let Some(w) = widths.get_mut(c) {
                let n = match cell {
                    Cell::Time(Some(_)) => 16,
                    other => other.text().chars().count().min(60),
                };
                *w = (*w).max(n);
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(col(c)?, (*w as f64 + 2.0).max(8.0))
            .map_err(err)?;
    }
    ws.set_freeze_panes(1, 0).map_err(err)?;
    let last_row = u32::try_from(sheet.rows.len()).map_err(|e| ExportError(e.to_string()))?;
    ws.autofilter(
        0,
        0,
        last_row.max(1),
        col(sheet.columns.len().saturating_sub(1))?,
    )
    .map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

fn col(c: usize) -> Result<u16, ExportError> {
    u16::try_from(c).map_err(|e| ExportError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_bom_quotes_what_it_must_and_defuses_formulas() {
        let t = NaiveDateTime::parse_from_str("2026-12-01 08:05", "%Y-%m-%d %H:%M").unwrap();
        let sheet = Sheet {
            name: "Issues",
            columns: vec!["ID", "Title", "Opened"],
            rows: vec![
                vec![
                    Cell::Int(7),
                    Cell::Text("=HYPERLINK(\"x\")".into()),
                    Cell::Time(Some(t)),
                ],
                vec![
                    Cell::Int(8),
                    Cell::Text("a, \"b\"\nc".into()),
                    Cell::Time(None),
                ],
            ],
        };
        let bytes = csv(&sheet).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\u{feff}ID,Title,Opened\r\n7,\"'=HYPERLINK(\"\"x\"\")\",2026-12-01 08:05\r\n8,\"a, \"\"b\"\"\nc\",\r\n"
        );
    }
}

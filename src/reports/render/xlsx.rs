//! XLSX through rust_xlsxwriter: one sheet per table, the summary first; real number, percentage, duration and date
//! cells; a frozen, filtered header row; column widths from the content.

use chrono::Datelike;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

use super::{Cell, RenderError, Table};
use crate::reports::model::Report;

fn err(e: XlsxError) -> RenderError {
    RenderError(e.to_string())
}

pub fn render(_r: &Report, tables: &[Table]) -> Result<Vec<u8>, RenderError> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color("DDE6F0");
    let pct = Format::new().set_num_format("0.0%");
    // Durations are stored as days (Excel's unit) and shown as hours:minutes:seconds, past 24 hours too.
    let dur = Format::new().set_num_format("[h]:mm:ss");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for table in tables {
        let ws = wb.add_worksheet();
        ws.set_name(table.name).map_err(err)?;
        let mut widths: Vec<usize> = table.columns.iter().map(|c| c.chars().count()).collect();
        for (c, name) in table.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *name, &header)
                .map_err(err)?;
        }
        let rows: Vec<Vec<Cell>> = if table.rows.is_empty() {
            table
                .empty
                .map(|e| vec![vec![Cell::Text(e.to_string())]])
                .unwrap_or_default()
        } else {
            table.rows.clone()
        };
        for (i, row) in rows.iter().enumerate() {
            let r = u32::try_from(i + 1).map_err(|e| RenderError(e.to_string()))?;
            for (c, cell) in row.iter().enumerate() {
                let col = c as u16;
                match cell {
                    Cell::Text(s) => {
                        ws.write_string(r, col, s).map_err(err)?;
                    }
                    Cell::Int(n) => {
                        ws.write_number(r, col, *n as f64).map_err(err)?;
                    }
                    Cell::Rate(Some(x)) => {
                        ws.write_number_with_format(r, col, *x, &pct).map_err(err)?;
                    }
                    Cell::Duration(Some(s)) => {
                        ws.write_number_with_format(r, col, *s as f64 / 86_400.0, &dur)
                            .map_err(err)?;
                    }
                    Cell::Rate(None) | Cell::Duration(None) => {}
                    Cell::Date(d) => {
                        let (y, m, day) = (
                            u16::try_from(d.year()).map_err(|e| RenderError(e.to_string()))?,
                            d.month() as u8,
                            d.day() as u8,
                        );
                        let dt = ExcelDateTime::from_ymd(y, m, day).map_err(err)?;
                        ws.write_datetime_with_format(r, col, dt, &date)
                            .map_err(err)?;
                    }
                }
                if let Some(w) = widths.get_mut(c) {
                    *w = (*w).max(cell.text().chars().count().min(60));
                }
            }
        }
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(c as u16, (*w as f64 + 2.0).max(8.0))
                .map_err(err)?;
        }
        ws.set_freeze_panes(1, 0).map_err(err)?;
        let last_row = u32::try_from(rows.len()).map_err(|e| RenderError(e.to_string()))?;
        let last_col = table.columns.len().saturating_sub(1) as u16;
        ws.autofilter(0, 0, last_row.max(1), last_col)
            .map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}

//! A report as files: CSV (one file per table, zipped), XLSX, HTML and PDF. Each format renders the same tables
//! ([`tables`]), so a number has the same name and value everywhere.

mod html;
mod pdf;
mod xlsx;

use std::io::Write;

use chrono::NaiveDate;

use super::model::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Html,
    Pdf,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "xlsx" => Format::Xlsx,
            "html" => Format::Html,
            "pdf" => Format::Pdf,
            _ => return None,
        })
    }
    /// The file's extension (CSV comes zipped: several tables).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "zip",
            Format::Xlsx => "xlsx",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "application/zip",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the report: {0}")]
pub struct RenderError(pub String);

/// One cell, typed so that each format can write a real number, percentage, duration or date.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A fraction (0.25 = 25 %); None = nothing to divide.
    Rate(Option<f64>),
    /// Seconds; None = no value.
    Duration(Option<i64>),
    Date(NaiveDate),
}

impl Cell {
    /// The text CSV, HTML and PDF show.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Rate(Some(r)) => format!("{:.1}%", r * 100.0),
            Cell::Duration(Some(s)) => {
                let s = (*s).max(0);
                format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
            }
            Cell::Rate(None) | Cell::Duration(None) => String::new(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
    fn numeric(&self) -> bool {
        matches!(
            self,
            Cell::Int(_) | Cell::Rate(_) | Cell::Duration(_) | Cell::Date(_)
        )
    }
}

/// A table: a sheet in XLSX, a file in the CSV ZIP, a section in HTML and PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// File and sheet name (ASCII, at most 31 characters).
    pub name: &'static str,
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// Shown instead of an empty table ("no schedules").
    pub empty: Option<&'static str>,
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn ids(v: &[i64]) -> Cell {
    t(v.iter()
        .map(|i| format!("#{i}"))
        .collect::<Vec<_>>()
        .join(" "))
}

/// The report's tables, the summary first.
pub fn tables(r: &Report) -> Vec<Table> {
    let (s, p) = (&r.summary, &r.previous);
    let site = r
        .site
        .as_ref()
        .map(|x| x.name.clone())
        .unwrap_or_else(|| "all sites".into());
    let num = |name: &str, a: i64, b: i64| vec![t(name), Cell::Int(a), Cell::Int(b)];
    let dur = |name: &str, a: Option<i64>, b: Option<i64>| {
        vec![t(name), Cell::Duration(a), Cell::Duration(b)]
    };
    let summary = Table {
        name: "Summary",
        title: "Summary",
        columns: vec!["Metric", "This period", "Previous period"],
        rows: vec![
            vec![
                t("Report"),
                t(r.period.kind.as_str()),
                t(r.previous_period.kind.as_str()),
            ],
            vec![t("Site"), t(site.clone()), t(site)],
            vec![
                t("First day"),
                Cell::Date(r.period.first_day),
                Cell::Date(r.previous_period.first_day),
            ],
            vec![
                t("Last day"),
                Cell::Date(r.period.last_day),
                Cell::Date(r.previous_period.last_day),
            ],
            num("Tickets opened", s.tickets_opened, p.tickets_opened),
            num("Tickets resolved", s.tickets_resolved, p.tickets_resolved),
            num("Tickets closed", s.tickets_closed, p.tickets_closed),
            num(
                "Tickets open at the end",
                s.tickets_open_at_end,
                p.tickets_open_at_end,
            ),
            num("Late to respond", s.late_to_respond, p.late_to_respond),
            num("Late to resolve", s.late_to_resolve, p.late_to_resolve),
            dur(
                "Mean time to acknowledge",
                s.mean_acknowledge_seconds,
                p.mean_acknowledge_seconds,
            ),
            dur(
                "Mean time to resolve",
                s.mean_resolve_seconds,
                p.mean_resolve_seconds,
            ),
            num("Task entries", s.tasks, p.tasks),
            num(
                "Scheduled work expected",
                s.scheduled_expected,
                p.scheduled_expected,
            ),
            num("Scheduled work done", s.scheduled_done, p.scheduled_done),
            vec![
                t("Completion rate"),
                Cell::Rate(s.completion_rate),
                Cell::Rate(p.completion_rate),
            ],
            num("Repeated problems", s.repeats, p.repeats),
            num("Messages", s.messages, p.messages),
        ],
        empty: None,
    };
    let tk = &r.tickets;
    let tickets = Table {
        name: "Tickets",
        title: "Tickets",
        columns: vec!["Metric", "Value", "Tickets"],
        rows: vec![
            vec![t("Opened"), Cell::Int(tk.opened), ids(&tk.ids.opened)],
            vec![t("Resolved"), Cell::Int(tk.resolved), ids(&tk.ids.resolved)],
            vec![t("Closed"), Cell::Int(tk.closed), ids(&tk.ids.closed)],
            vec![
                t("Still open at the end"),
                Cell::Int(tk.open_at_end),
                ids(&tk.ids.open_at_end),
            ],
            vec![
                t("Late to respond"),
                Cell::Int(tk.late_to_respond),
                ids(&tk.ids.late_to_respond),
            ],
            vec![
                t("Late to resolve"),
                Cell::Int(tk.late_to_resolve),
                ids(&tk.ids.late_to_resolve),
            ],
            vec![
                t("Still overdue now"),
                Cell::Int(tk.overdue_now),
                ids(&tk.ids.overdue_now),
            ],
            vec![
                t("Acknowledged (count)"),
                Cell::Int(tk.time_to_acknowledge.count),
                t(""),
            ],
            vec![
                t("Mean time to acknowledge"),
                Cell::Duration(tk.time_to_acknowledge.mean_seconds),
                t(""),
            ],
            vec![
                t("90th percentile time to acknowledge"),
                Cell::Duration(tk.time_to_acknowledge.p90_seconds),
                t(""),
            ],
            vec![
                t("Resolved or closed (count)"),
                Cell::Int(tk.time_to_resolve.count),
                t(""),
            ],
            vec![
                t("Mean time to resolve"),
                Cell::Duration(tk.time_to_resolve.mean_seconds),
                t(""),
            ],
            vec![
                t("90th percentile time to resolve"),
                Cell::Duration(tk.time_to_resolve.p90_seconds),
                t(""),
            ],
        ],
        empty: None,
    };
    let mut work_rows = Vec::new();
    let sw = &r.scheduled;
    for (group, lines) in [
        ("site", &sw.by_site),
        ("block", &sw.by_block),
        ("category", &sw.by_category),
        ("schedule", &sw.by_schedule),
        ("person", &sw.by_person),
    ] {
        for l in lines {
            let c = &l.counts;
            work_rows.push(vec![
                t(group),
                t(l.key.clone()),
                Cell::Int(c.expected),
                Cell::Int(c.done_on_time),
                Cell::Int(c.late),
                Cell::Int(c.missed),
                Cell::Int(c.missing_photo),
                Cell::Int(c.blocked),
                Cell::Int(c.excused),
                Cell::Int(c.pending),
                Cell::Rate(c.completion_rate),
            ]);
        }
    }
    let scheduled = Table {
        name: "Scheduled work",
        title: "Scheduled work",
        columns: vec![
            "By",
            "Name",
            "Expected",
            "Done on time",
            "Late",
            "Missed",
            "Missing photo",
            "Blocked",
            "Excused",
            "Pending",
            "Completion rate",
        ],
        rows: work_rows,
        empty: Some(if sw.schedules == 0 {
            "no schedules"
        } else {
            "no scheduled work in this period"
        }),
    };
    let mut task_rows = Vec::new();
    for (group, lines) in [
        ("status", &r.tasks.by_status),
        ("category", &r.tasks.by_category),
        ("location", &r.tasks.by_location),
    ] {
        for c in lines {
            task_rows.push(vec![t(group), t(c.key.clone()), Cell::Int(c.count)]);
        }
    }
    let tasks = Table {
        name: "Tasks",
        title: "Task-log entries",
        columns: vec!["By", "Name", "Entries"],
        rows: task_rows,
        empty: Some("no task-log entries"),
    };
    let mut rep_rows = Vec::new();
    for (group, lines) in [
        ("site", &r.repeats.top_sites),
        ("location", &r.repeats.top_locations),
        ("category", &r.repeats.top_categories),
    ] {
        for l in lines {
            let chains = l
                .chains
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|i| format!("#{i}"))
                        .collect::<Vec<_>>()
                        .join(" > ")
                })
                .collect::<Vec<_>>()
                .join("; ");
            rep_rows.push(vec![
                t(group),
                t(l.key.clone()),
                Cell::Int(l.repeats),
                t(chains),
            ]);
        }
    }
    let repeats = Table {
        name: "Repeated problems",
        title: "Repeated problems",
        columns: vec!["By", "Name", "Repeats", "Ticket chains"],
        rows: rep_rows,
        empty: Some("no repeated problems"),
    };
    let card = |kind: &str, c: &Scorecard| {
        vec![
            t(kind),
            t(c.name.clone()),
            Cell::Int(c.current.tickets_owned),
            Cell::Int(c.current.tickets_resolved),
            Cell::Int(c.current.resolved_within_sla),
            Cell::Rate(c.current.within_sla_rate),
            Cell::Duration(c.current.mean_resolve_seconds),
            Cell::Int(c.current.reports_sent),
            Cell::Int(c.current.reports_on_time),
            Cell::Int(c.current.photos_sent),
            Cell::Rate(c.previous.within_sla_rate),
            Cell::Duration(c.previous.mean_resolve_seconds),
            t(c.trend.clone().unwrap_or_default()),
        ]
    };
    let scorecards = Table {
        name: "Scorecards",
        title: "Scorecards",
        columns: vec![
            "Kind",
            "Name",
            "Tickets owned",
            "Resolved",
            "Resolved within SLA",
            "Within SLA",
            "Mean resolution",
            "Reports sent",
            "Reports on time",
            "Photos sent",
            "Within SLA before",
            "Mean resolution before",
            "Trend",
        ],
        rows: r
            .scorecards
            .vendors
            .iter()
            .map(|c| card("vendor", c))
            .chain(r.scorecards.people.iter().map(|c| card("person", c)))
            .collect(),
        empty: Some("no scorecards"),
    };
    let rm = &r.reminders;
    let mut rem_rows = vec![
        vec![t("all"), Cell::Int(rm.sent)],
        vec![
            t(format!("answered within {} minutes", rm.window_minutes)),
            Cell::Int(rm.answered_within_window),
        ],
    ];
    rem_rows.extend(
        rm.by_purpose
            .iter()
            .map(|c| vec![t(c.key.clone()), Cell::Int(c.count)]),
    );
    let reminders = Table {
        name: "Reminders",
        title: "Reminders sent",
        columns: vec!["Reminders", "Count"],
        rows: rem_rows,
        empty: None,
    };
    let chats = Table {
        name: "Chats",
        title: "Messages per chat",
        columns: vec!["Site", "Chat", "Messages", "Previous period", "Warning"],
        rows: r
            .chats
            .iter()
            .map(|c| {
                vec![
                    t(c.site.as_ref().map(|s| s.name.clone()).unwrap_or_default()),
                    t(c.chat.name.clone()),
                    Cell::Int(c.messages),
                    Cell::Int(c.previous),
                    t(if c.silent { "went silent" } else { "" }),
                ]
            })
            .collect(),
        empty: Some("no chats"),
    };
    let mut out = vec![
        summary, tickets, scheduled, tasks, repeats, scorecards, reminders, chats,
    ];
    if r.site.is_none() {
        out.push(Table {
            name: "Sites",
            title: "Per site",
            columns: vec![
                "Site",
                "Tickets opened",
                "Resolved",
                "Open at the end",
                "Late to respond",
                "Late to resolve",
                "Overdue now",
                "Task entries",
                "Work expected",
                "Work done",
                "Completion rate",
                "Messages",
            ],
            rows: r
                .sites
                .iter()
                .map(|s| {
                    vec![
                        t(s.site
                            .as_ref()
                            .map(|x| x.name.clone())
                            .unwrap_or_else(|| "(no site)".into())),
                        Cell::Int(s.tickets_opened),
                        Cell::Int(s.tickets_resolved),
                        Cell::Int(s.tickets_open_at_end),
                        Cell::Int(s.late_to_respond),
                        Cell::Int(s.late_to_resolve),
                        Cell::Int(s.overdue_now),
                        Cell::Int(s.tasks),
                        Cell::Int(s.scheduled_expected),
                        Cell::Int(s.scheduled_done),
                        Cell::Rate(s.completion_rate),
                        Cell::Int(s.messages),
                    ]
                })
                .collect(),
            empty: Some("no sites"),
        });
    }
    out
}

/// A title for the report: "tapak weekly report 2026-W50, Kenanga Heights".
pub fn title(r: &Report) -> String {
    format!(
        "tapak {} report {}, {}",
        r.period.kind.as_str(),
        r.period.label(),
        r.site
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or("all sites")
    )
}

/// The file name a download gets: `tapak-weekly-2026-W50[-site-3].xlsx`.
pub fn file_name(r: &Report, f: Format) -> String {
    format!(
        "tapak-{}-{}{}.{}",
        r.period.kind.as_str(),
        r.period.label(),
        r.site
            .as_ref()
            .map(|s| format!("-site-{}", s.id))
            .unwrap_or_default(),
        f.extension()
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One table as CSV: UTF-8, a header row, CRLF line ends.
pub fn csv(table: &Table) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n"
    };
    out.push_str(&line(table.columns.iter().map(|c| c.to_string()).collect()));
    for row in &table.rows {
        out.push_str(&line(row.iter().map(Cell::text).collect()));
    }
    out
}

/// The report in `format`.
pub fn render(r: &Report, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => serde_json::to_vec_pretty(r).map_err(|e| RenderError(e.to_string())),
        Format::Csv => {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for table in tables(r) {
                let name = format!("{}.csv", table.name.to_lowercase().replace(' ', "_"));
                zip.start_file(name, opts)
                    .map_err(|e| RenderError(e.to_string()))?;
                zip.write_all(csv(&table).as_bytes())
                    .map_err(|e| RenderError(e.to_string()))?;
            }
            let cur = zip.finish().map_err(|e| RenderError(e.to_string()))?;
            Ok(cur.into_inner())
        }
        Format::Xlsx => xlsx::render(r, &tables(r)),
        Format::Html => Ok(html::render(r, &tables(r)).into_bytes()),
        Format::Pdf => pdf::render(r, &tables(r)).map_err(RenderError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_percentages_durations_and_dates_and_csv_quotes_what_it_must() {
        assert_eq!(Cell::Rate(Some(2.0 / 7.0)).text(), "28.6%");
        assert_eq!(Cell::Duration(Some(93_600)).text(), "26:00:00");
        assert_eq!(Cell::Duration(Some(3_725)).text(), "1:02:05");
        assert_eq!(Cell::Duration(None).text(), "");
        let table = Table {
            name: "x",
            title: "x",
            columns: vec!["a", "b"],
            rows: vec![vec![t("say \"hi\", then\nleave"), Cell::Int(3)]],
            empty: None,
        };
        assert_eq!(csv(&table), "a,b\r\n\"say \"\"hi\"\", then\nleave\",3\r\n");
    }
}

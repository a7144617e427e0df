//! A self-contained HTML page: inline CSS, inline SVG bar charts, printable on A4. Every piece of text that came from
//! outside (site, chat, person and vendor names, categories, locations) is escaped: nothing becomes markup.

use std::fmt::Write;

use super::Table;
use crate::reports::model::Report;

/// Escapes text for HTML content and (quoted) attribute values: `&`, `<`, `>`, `"` and `'`.
pub fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

const CSS: &str = "@page{size:A4;margin:14mm}body{font-family:Helvetica,Arial,sans-serif;font-size:10pt;color:#222;\
max-width:190mm;margin:auto}h1{font-size:16pt;margin:0 0 4px}h2{font-size:12pt;margin:18px 0 6px;\
border-bottom:1px solid #99a}p.meta{color:#555;margin:0 0 8px}table{border-collapse:collapse;width:100%;\
page-break-inside:auto}tr{page-break-inside:avoid}th,td{border:1px solid #ccd;padding:2px 5px;text-align:left;\
vertical-align:top}th{background:#dde6f0}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.warn{color:#a00}.empty{color:#666;font-style:italic}svg{display:block;margin:6px 0}\
@media print{h2{page-break-after:avoid}}";

/// A horizontal bar chart: one bar (or two, this period and the previous) per label.
fn bars(title: &str, items: &[(String, f64, Option<f64>)], unit: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let max = items
        .iter()
        .flat_map(|(_, a, b)| [*a, b.unwrap_or(0.0)])
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let row_h = 18.0;
    let (label_w, bar_w) = (170.0, 360.0);
    let h = row_h * items.len() as f64 + 24.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let _ = write!(
        s,
        "<text x=\"0\" y=\"12\" font-size=\"11\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    for (i, (label, a, b)) in items.iter().enumerate() {
        let y = 20.0 + row_h * i as f64;
        let short: String = label.chars().take(30).collect();
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"10\">{}</text>",
            y + 11.0,
            esc(&short)
        );
        let wa = bar_w * a / max;
        let _ = write!(
            s,
            "<rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{wa:.1}\" height=\"{}\" fill=\"#3b6ea5\"/>",
            if b.is_some() { 7.0 } else { 13.0 }
        );
        if let Some(b) = b {
            let wb = bar_w * b / max;
            let _ = write!(
                s,
                "<rect x=\"{label_w}\" y=\"{:.1}\" width=\"{wb:.1}\" height=\"6\" fill=\"#b8c4d2\"/>",
                y + 7.0
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}{unit}</text>",
            label_w + wa + 4.0,
            y + 10.0,
            fmt_num(*a)
        );
    }
    s.push_str("</svg>");
    s
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn table_html(t: &Table, out: &mut String) {
    let _ = write!(out, "<h2>{}</h2>", esc(t.title));
    if t.rows.is_empty() {
        let _ = write!(
            out,
            "<p class=\"empty\">{}</p>",
            esc(t.empty.unwrap_or("nothing"))
        );
        return;
    }
    out.push_str("<table><thead><tr>");
    for c in &t.columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = if cell.numeric() { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", esc(&cell.text()));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

pub fn render(r: &Report, tables: &[Table]) -> String {
    let title = super::title(r);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    let _ = write!(out, "<h1>{}</h1>", esc(&title));
    let _ = write!(
        out,
        "<p class=\"meta\">{} to {} ({}); compared with {} to {}. Generated {}.</p>",
        r.period.first_day,
        r.period.last_day,
        esc(&r.period.timezone),
        r.previous_period.first_day,
        r.previous_period.last_day,
        r.generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    for w in &r.warnings {
        let _ = write!(out, "<p class=\"warn\">⚠ {}</p>", esc(w));
    }
    let (s, p) = (&r.summary, &r.previous);
    let f = |x: i64| x as f64;
    out.push_str(&bars(
        "Tickets: this period (dark) and the previous one (light)",
        &[
            (
                "Opened".into(),
                f(s.tickets_opened),
                Some(f(p.tickets_opened)),
            ),
            (
                "Resolved".into(),
                f(s.tickets_resolved),
                Some(f(p.tickets_resolved)),
            ),
            (
                "Open at the end".into(),
                f(s.tickets_open_at_end),
                Some(f(p.tickets_open_at_end)),
            ),
            (
                "Late to respond".into(),
                f(s.late_to_respond),
                Some(f(p.late_to_respond)),
            ),
            (
                "Late to resolve".into(),
                f(s.late_to_resolve),
                Some(f(p.late_to_resolve)),
            ),
        ],
        "",
    ));
    let rates: Vec<(String, f64, Option<f64>)> = r
        .scheduled
        .by_site
        .iter()
        .filter_map(|l| {
            l.counts
                .completion_rate
                .map(|x| (l.key.clone(), x * 100.0, None))
        })
        .collect();
    out.push_str(&bars("Scheduled work completion by site", &rates, "%"));
    let chats: Vec<(String, f64, Option<f64>)> = r
        .chats
        .iter()
        .map(|c| (c.chat.name.clone(), f(c.messages), Some(f(c.previous))))
        .collect();
    out.push_str(&bars(
        "Messages per chat: this period (dark) and the previous one (light)",
        &chats,
        "",
    ));
    for t in tables {
        table_html(t, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc("<img src=x onerror=alert(1)> & \"q\" 'a'"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#x27;a&#x27;"
        );
        let svg = bars("t", &[("<b>".into(), 1.0, None)], "");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}

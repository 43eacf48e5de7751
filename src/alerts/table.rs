//! The table view of `picket alerts`: one aligned row per alert, optionally with its
//! evidence (one indented line per triggering event) under it.
//!
//! Everything printed is escaped ([`escape_for_terminal`]): arguments and paths are
//! attacker-controlled, and a crafted argument must not be able to move the cursor,
//! recolour or retitle the analyst's terminal, or fake a line.

use super::fields::{
    command_of, count_of, event_time_text, evidence_of, rule_label, second_of, severity_of, text,
    user_of, EvidenceEntry,
};
use super::read::LoggedAlert;
use chrono::{DateTime, Utc};
use sensor_core::Severity;
use serde_json::Value;
use std::io::{self, Write};

/// Escapes control characters (including ESC, CR, LF and C1 controls) so text can be
/// printed to a terminal safely: `\n`, `\t`, `\r`, `\e` and `\u{..}` forms.
pub fn escape_for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Unicode bidirectional overrides can make a command line read differently from what
/// runs ("Trojan Source"); show them escaped too.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Which time the first column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeColumn {
    /// When the triggering event happened (`event.created`): what an analyst asks first.
    #[default]
    Event,
    /// When Picket raised the alert (`@timestamp`); differs for replayed telemetry.
    Alert,
}

/// How the table is drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableView {
    /// The time shown in the first column.
    pub time: TimeColumn,
    /// Print each alert's evidence under its row.
    pub evidence: bool,
}

/// Table headers.
pub fn headers(time: TimeColumn) -> [&'static str; 7] {
    let first = match time {
        TimeColumn::Event => "TIME (UTC)",
        TimeColumn::Alert => "ALERT TIME (UTC)",
    };
    [
        first,
        "HOST",
        "USER",
        "RULE",
        "SEVERITY",
        "COUNT",
        "COMMAND LINE",
    ]
}

/// The columns of the table view for one alert, escaped.
pub fn table_row(alert: &Value, time: TimeColumn) -> [String; 7] {
    let time = match time {
        TimeColumn::Event => event_time_text(alert),
        TimeColumn::Alert => text(alert, &["@timestamp"]),
    };
    let severity = severity_of(alert).map_or("", Severity::as_str);
    [
        escape_for_terminal(&second_of(time)),
        escape_for_terminal(text(alert, &["host", "name"])),
        escape_for_terminal(user_of(alert)),
        escape_for_terminal(&rule_label(alert)),
        escape_for_terminal(severity),
        count_of(alert).to_string(),
        escape_for_terminal(command_of(alert)),
    ]
}

/// The evidence lines printed under an alert's row, escaped, each at most `width`
/// characters: `event.id`, the event's time (to the millisecond) and `file:record`
/// for replayed events; a last line counts the events not listed.
pub fn evidence_lines(alert: &Value, width: usize) -> Vec<String> {
    let (entries, omitted) = evidence_of(alert);
    let width = width.max(40);
    let mut lines: Vec<String> = entries
        .iter()
        .map(|e| truncate(&evidence_line(e), width))
        .collect();
    if omitted > 0 {
        lines.push(format!("    - … and {omitted} more events, not listed"));
    }
    lines
}

fn evidence_line(e: &EvidenceEntry<'_>) -> String {
    let id = match e.event_id {
        "" => "(no event.id)".to_string(),
        id => escape_for_terminal(id),
    };
    let time = match DateTime::parse_from_rfc3339(e.timestamp) {
        Ok(t) => t
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string(),
        Err(_) => escape_for_terminal(e.timestamp),
    };
    let place = match (e.file, e.record) {
        (Some(file), Some(record)) => format!("  {}:{record}", escape_for_terminal(file)),
        (Some(file), None) => format!("  {}", escape_for_terminal(file)),
        (None, Some(record)) => format!("  record {record}"),
        (None, None) => String::new(),
    };
    format!("    - {id}  {time}{place}")
}

/// Column widths for a table: the first six columns, the command line takes the rest.
#[derive(Debug, Clone)]
pub struct TableLayout {
    widths: [usize; 6],
    last: usize,
    width: usize,
    view: TableView,
}

impl TableLayout {
    /// Widths fitted to `rows` (each column at most 48), in a terminal `width` wide.
    pub fn fit(rows: &[[String; 7]], width: usize, view: TableView) -> TableLayout {
        let names = headers(view.time);
        let mut widths = [0usize; 6];
        for (i, w) in widths.iter_mut().enumerate() {
            *w = names[i].chars().count();
        }
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.chars().count()).min(48);
            }
        }
        TableLayout::with_widths(widths, width, view)
    }

    /// Fixed widths, for `--follow` (rows are not known in advance).
    pub fn fixed(width: usize, view: TableView) -> TableLayout {
        let first = headers(view.time)[0].chars().count().max(19);
        TableLayout::with_widths([first, 16, 12, 26, 8, 5], width, view)
    }

    fn with_widths(widths: [usize; 6], width: usize, view: TableView) -> TableLayout {
        let fixed: usize = widths.iter().map(|w| w + 2).sum();
        TableLayout {
            widths,
            last: width.saturating_sub(fixed).max(20),
            width,
            view,
        }
    }

    /// Writes one row (cells already escaped), cutting cells to their column.
    fn write_row(&self, out: &mut dyn Write, cells: [&str; 7]) -> io::Result<()> {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 6 {
                line.push_str(&truncate(cell, self.last));
            } else {
                let shown = truncate(cell, self.widths[i]);
                let pad = self.widths[i].saturating_sub(shown.chars().count());
                line.push_str(&shown);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())
    }

    /// Writes the header row.
    pub fn write_header(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_row(out, headers(self.view.time))
    }

    /// Writes an alert's row (already built by [`table_row`]) and, when the view asks
    /// for it, its evidence lines.
    pub fn write_alert(
        &self,
        out: &mut dyn Write,
        alert: &Value,
        row: &[String; 7],
    ) -> io::Result<()> {
        self.write_row(out, row.each_ref().map(String::as_str))?;
        if self.view.evidence {
            for line in evidence_lines(alert, self.width) {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}

/// Writes alerts as an aligned table; the last column (command line) is cut to `width`.
pub fn write_table(
    out: &mut dyn Write,
    alerts: &[LoggedAlert],
    width: usize,
    view: TableView,
) -> io::Result<()> {
    let rows: Vec<[String; 7]> = alerts
        .iter()
        .map(|a| table_row(&a.value, view.time))
        .collect();
    let layout = TableLayout::fit(&rows, width, view);
    layout.write_header(out)?;
    for (alert, row) in alerts.iter().zip(&rows) {
        layout.write_alert(out, &alert.value, row)?;
    }
    Ok(())
}

/// `s` cut to `max` characters, the last one an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_terminal_control() {
        let evil = "ss -tan\u{1b}[2J\u{1b}]0;pwned\u{7}\nfake line\u{202e}";
        let shown = escape_for_terminal(evil);
        assert!(
            !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{shown}"
        );
        assert_eq!(shown, "ss -tan\\e[2J\\e]0;pwned\\u{7}\\nfake line\\u{202e}");
    }

    #[test]
    fn evidence_lines_name_id_time_and_place_escaped() {
        let a = serde_json::json!({"picket": {
            "evidence": [
                {"event_id": "e1", "timestamp": "2024-05-01T10:00:00.1234Z", "file": "/r/Security.evtx", "record": 4688},
                {"event_id": "\u{1b}]0;x\u{7}", "timestamp": "2024-05-01T12:00:00+02:00", "record": 3},
                {"event_id": "", "timestamp": "yesterday"}
            ],
            "evidence_omitted": 2
        }});
        assert_eq!(
            evidence_lines(&a, 200),
            [
                "    - e1  2024-05-01 10:00:00.123  /r/Security.evtx:4688",
                "    - \\e]0;x\\u{7}  2024-05-01 10:00:00.000  record 3",
                "    - (no event.id)  yesterday",
                "    - … and 2 more events, not listed",
            ]
        );
        let cut = evidence_lines(&a, 10);
        assert!(cut.iter().all(|l| l.chars().count() <= 40), "{cut:?}");
    }
}

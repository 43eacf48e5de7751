//! Reading the alert log back for analysts: `picket alerts`.
//!
//! Rotated files are read oldest first (`alerts.jsonl.N` … `.1`, then `alerts.jsonl`), so
//! the output is in time order. Everything printed in a table is escaped: arguments and
//! paths are attacker-controlled, and a crafted argument must not be able to move the
//! cursor or recolour the analyst's terminal. JSON output is the log's bytes, unchanged.

use crate::sink::rotated_path;
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One line of the alert log, kept both raw (for exact JSON output) and parsed.
#[derive(Debug, Clone)]
pub struct LoggedAlert {
    /// The line exactly as written.
    pub raw: String,
    /// Parsed JSON.
    pub value: Value,
}

/// The log files behind `path`, oldest first.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = (1..=10_000)
        .map(|n| rotated_path(path, n))
        .take_while(|p| p.exists())
        .collect();
    rotated.reverse();
    if path.exists() {
        rotated.push(path.to_path_buf());
    }
    rotated
}

/// Reads every alert from the log and its rotated files. Lines that are not JSON
/// objects are counted in the second value (a torn last line after a crash, say).
pub fn read_alerts(path: &Path) -> io::Result<(Vec<LoggedAlert>, u64)> {
    let files = log_files(path);
    if files.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no alert log at {}", path.display()),
        ));
    }
    let mut alerts = Vec::new();
    let mut bad = 0;
    for file in files {
        let reader = BufReader::new(std::fs::File::open(&file)?);
        for line in reader.split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            let raw = String::from_utf8_lossy(&line).into_owned();
            match serde_json::from_str::<Value>(&raw) {
                Ok(value) if value.is_object() => alerts.push(LoggedAlert { raw, value }),
                _ => bad += 1,
            }
        }
    }
    Ok((alerts, bad))
}

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

fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// The columns of the table view for one alert.
pub fn table_row(alert: &Value) -> [String; 7] {
    let time = text(alert, &["@timestamp"]);
    let time = time.get(..19).unwrap_or(time).replace('T', " ");
    let user = match text(alert, &["user", "name"]) {
        "" => text(alert, &["user", "id"]),
        name => name,
    };
    let rule = match text(alert, &["picket", "analytic"]) {
        "" => text(alert, &["rule", "name"]).to_string(),
        analytic => format!("{analytic} {}", text(alert, &["picket", "mutable_element"])),
    };
    let count = alert
        .get("picket")
        .and_then(|p| p.get("count"))
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let command = match text(alert, &["process", "command_line"]) {
        "" => text(alert, &["process", "executable"]),
        c => c,
    };
    [
        time,
        escape_for_terminal(text(alert, &["host", "name"])),
        escape_for_terminal(user),
        escape_for_terminal(rule.trim()),
        escape_for_terminal(text(alert, &["picket", "severity"])),
        count.to_string(),
        escape_for_terminal(command),
    ]
}

/// Writes alerts as an aligned table; the last column (command line) is cut to `width`.
pub fn write_table(out: &mut impl Write, alerts: &[LoggedAlert], width: usize) -> io::Result<()> {
    const HEADERS: [&str; 7] = ["TIME (UTC)", "HOST", "USER", "RULE", "SEVERITY", "COUNT", "COMMAND LINE"];
    let rows: Vec<[String; 7]> = alerts.iter().map(|a| table_row(&a.value)).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(6) {
            *w = (*w).max(cell.chars().count()).min(48);
        }
    }
    let fixed: usize = widths.iter().take(6).map(|w| w + 2).sum();
    let last = width.saturating_sub(fixed).max(20);
    let line = |out: &mut dyn Write, cells: [&str; 7]| -> io::Result<()> {
        for (i, cell) in cells.iter().enumerate() {
            let limit = if i == 6 { last } else { widths[i] };
            let shown = truncate(cell, limit);
            if i == 6 {
                writeln!(out, "{shown}")?;
            } else {
                write!(out, "{shown:<w$}  ", w = widths[i])?;
            }
        }
        Ok(())
    };
    line(out, HEADERS)?;
    for row in &rows {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
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
        assert!(!shown.chars().any(|c| c.is_control() || c == '\u{202e}'), "{shown}");
        assert_eq!(shown, "ss -tan\\e[2J\\e]0;pwned\\u{7}\\nfake line\\u{202e}");
    }

    #[test]
    fn rotated_logs_read_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(rotated_path(&path, 2), "{\"n\":1}\n").expect("w");
        std::fs::write(rotated_path(&path, 1), "{\"n\":2}\nnot json\n").expect("w");
        std::fs::write(&path, "{\"n\":3}\n").expect("w");
        let (alerts, bad) = read_alerts(&path).expect("read");
        let order: Vec<i64> = alerts.iter().filter_map(|a| a.value["n"].as_i64()).collect();
        assert_eq!(order, vec![1, 2, 3]);
        assert_eq!(bad, 1);
    }
}

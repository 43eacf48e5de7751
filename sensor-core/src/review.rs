//! Reading the alert log back for analysts: `picket alerts`.
//!
//! Rotated files are read oldest first (`alerts.jsonl.N` … `.1`, then `alerts.jsonl`), so
//! the output is in time order; rotation does not compress, so there are no compressed
//! files to read. [`Filter`] selects alerts by time (absolute or relative, [`parse_time`]),
//! rule, analytic, minimum severity, user, host and free text. [`follow`] tails the log
//! across rotations.
//!
//! Everything printed in a table or summary is escaped ([`escape_for_terminal`]):
//! arguments and paths are attacker-controlled, and a crafted argument must not be able
//! to move the cursor, recolour or retitle the analyst's terminal, or fake a line. JSON
//! output is the log's bytes, unchanged.

use crate::alert::Severity;
use crate::sink::rotated_path;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a review request is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// A `--since`/`--until` value that is neither a time nor a relative duration.
    #[error("cannot read {0:?} as a time: expected RFC 3339 (2024-05-01T10:00:00Z), \"2024-05-01 10:00\", \"2024-05-01\", or a relative time such as 30m, 2h, 1d, 1w, 1h30m")]
    BadTime(String),
}

/// One line of the alert log, kept both raw (for exact JSON output) and parsed.
#[derive(Debug, Clone)]
pub struct LoggedAlert {
    /// The line exactly as written (without its newline).
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

/// Parses one log line; `None` for a line that is not a JSON object in UTF-8.
fn parse_line(line: &[u8]) -> Option<LoggedAlert> {
    let raw = std::str::from_utf8(line).ok()?;
    let value: Value = serde_json::from_str(raw).ok()?;
    value.is_object().then(|| LoggedAlert {
        raw: raw.to_string(),
        value,
    })
}

/// Reads every alert from the log and its rotated files. Lines that are not JSON
/// objects are counted in the second value (a torn line after a crash, say).
pub fn read_alerts(path: &Path) -> io::Result<(Vec<LoggedAlert>, u64)> {
    read_matching(path, &Filter::default())
}

/// Reads the alerts that pass `filter`, oldest first; the second value counts lines
/// that are not alerts.
pub fn read_matching(path: &Path, filter: &Filter) -> io::Result<(Vec<LoggedAlert>, u64)> {
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
        let reader = BufReader::new(File::open(&file)?);
        bad += scan(reader, filter, &mut |a| {
            alerts.push(a);
            Ok(())
        })?;
    }
    Ok((alerts, bad))
}

/// Feeds every matching alert of `reader` to `sink`; returns the count of bad lines.
fn scan(
    reader: impl BufRead,
    filter: &Filter,
    sink: &mut dyn FnMut(LoggedAlert) -> io::Result<()>,
) -> io::Result<u64> {
    let mut bad = 0;
    for line in reader.split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match parse_line(&line) {
            Some(a) if filter.matches(&a.value) => sink(a)?,
            Some(_) => {}
            None => bad += 1,
        }
    }
    Ok(bad)
}

/// Parses a `--since`/`--until` value: RFC 3339, `YYYY-MM-DD[ T]HH:MM[:SS]` (UTC),
/// `YYYY-MM-DD` (midnight UTC), `now`, or a time before `now` such as `90s`, `30m`,
/// `2h`, `1d`, `1w` or `1h30m`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReviewError> {
    let t = text.trim();
    let bad = || ReviewError::BadTime(text.to_string());
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(ago) = parse_relative(t) {
        return now.checked_sub_signed(ago).ok_or_else(bad);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .ok_or_else(bad);
    }
    Err(bad())
}

/// `1h30m` → 90 minutes; `None` unless the whole text is number+unit pairs.
fn parse_relative(t: &str) -> Option<TimeDelta> {
    let mut total = TimeDelta::zero();
    let mut digits = String::new();
    let mut any = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(&TimeDelta::try_seconds(n.checked_mul(unit)?)?)?;
        any = true;
    }
    (any && digits.is_empty()).then_some(total)
}

/// Case-insensitive glob (`*` any run, `?` one character).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn has_wildcard(p: &str) -> bool {
    p.contains('*') || p.contains('?')
}

/// Exact (case-insensitive) or glob when the pattern has `*`/`?`.
fn name_matches(pattern: &str, value: &str) -> bool {
    if has_wildcard(pattern) {
        glob_match(pattern, value)
    } else {
        pattern.to_lowercase() == value.to_lowercase()
    }
}

/// Which alerts to show. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Alerts raised at or after this time (`@timestamp`).
    pub since: Option<DateTime<Utc>>,
    /// Alerts raised at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// `rule.name` contains this (case-insensitive), or `rule.id` equals it; a glob
    /// (`*`, `?`) must match the whole name or id.
    pub rule: Option<String>,
    /// `picket.analytic` (`AN0904`), case-insensitive; globs allowed.
    pub analytic: Option<String>,
    /// Minimum severity.
    pub min_severity: Option<Severity>,
    /// `user.name` or `user.id`, case-insensitive; globs allowed.
    pub user: Option<String>,
    /// `host.name`, case-insensitive; globs allowed.
    pub host: Option<String>,
    /// Case-insensitive text anywhere in the alert's string values (decoded, so `\n`
    /// in the JSON matches a newline).
    pub grep: Option<String>,
}

impl Filter {
    /// Does the alert pass every set condition?
    pub fn matches(&self, alert: &Value) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = timestamp(alert) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        if let Some(rule) = &self.rule {
            let name = text(alert, &["rule", "name"]);
            let id = text(alert, &["rule", "id"]);
            let ok = if has_wildcard(rule) {
                glob_match(rule, name) || glob_match(rule, id)
            } else {
                name.to_lowercase().contains(&rule.to_lowercase()) || id.eq_ignore_ascii_case(rule)
            };
            if !ok {
                return false;
            }
        }
        if let Some(a) = &self.analytic {
            if !name_matches(a, text(alert, &["picket", "analytic"])) {
                return false;
            }
        }
        if let Some(min) = self.min_severity {
            if severity_of(alert).is_none_or(|s| s < min) {
                return false;
            }
        }
        if let Some(u) = &self.user {
            let name = text(alert, &["user", "name"]);
            let id = text(alert, &["user", "id"]);
            if !(name_matches(u, name) || name_matches(u, id)) {
                return false;
            }
        }
        if let Some(h) = &self.host {
            if !name_matches(h, text(alert, &["host", "name"])) {
                return false;
            }
        }
        if let Some(g) = &self.grep {
            if !contains_text(alert, &g.to_lowercase()) {
                return false;
            }
        }
        true
    }
}

/// The alert's `@timestamp`.
pub fn timestamp(alert: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text(alert, &["@timestamp"]))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `event.severity` (1–4), else `picket.severity`.
fn severity_of(alert: &Value) -> Option<Severity> {
    let n = alert
        .get("event")
        .and_then(|e| e.get("severity"))
        .and_then(Value::as_u64);
    match n {
        Some(1) => Some(Severity::Low),
        Some(2) => Some(Severity::Medium),
        Some(3) => Some(Severity::High),
        Some(4) => Some(Severity::Critical),
        _ => text(alert, &["picket", "severity"]).parse().ok(),
    }
}

fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_text(x, needle)),
        Value::Object(o) => o.values().any(|x| contains_text(x, needle)),
        Value::Number(n) => n.to_string().contains(needle),
        _ => false,
    }
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

fn user_of(alert: &Value) -> &str {
    match text(alert, &["user", "name"]) {
        "" => text(alert, &["user", "id"]),
        name => name,
    }
}

/// `AN0904 UtilityNameList` for analytics, the rule name for Elastic rules.
fn rule_label(alert: &Value) -> String {
    match text(alert, &["picket", "analytic"]) {
        "" => text(alert, &["rule", "name"]).to_string(),
        analytic => format!("{analytic} {}", text(alert, &["picket", "mutable_element"]))
            .trim()
            .to_string(),
    }
}

fn command_of(alert: &Value) -> &str {
    match text(alert, &["process", "command_line"]) {
        "" => text(alert, &["process", "executable"]),
        c => c,
    }
}

fn count_of(alert: &Value) -> u64 {
    alert
        .get("picket")
        .and_then(|p| p.get("count"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// Table headers.
pub const HEADERS: [&str; 7] = [
    "TIME (UTC)",
    "HOST",
    "USER",
    "RULE",
    "SEVERITY",
    "COUNT",
    "COMMAND LINE",
];

/// The columns of the table view for one alert, escaped.
pub fn table_row(alert: &Value) -> [String; 7] {
    let time = text(alert, &["@timestamp"]);
    let time = time.get(..19).unwrap_or(time).replace('T', " ");
    let severity = severity_of(alert).map_or("", Severity::as_str);
    [
        escape_for_terminal(&time),
        escape_for_terminal(text(alert, &["host", "name"])),
        escape_for_terminal(user_of(alert)),
        escape_for_terminal(&rule_label(alert)),
        escape_for_terminal(severity),
        count_of(alert).to_string(),
        escape_for_terminal(command_of(alert)),
    ]
}

/// Column widths for a table: the first six columns, the command line takes the rest.
#[derive(Debug, Clone)]
pub struct TableLayout {
    widths: [usize; 6],
    last: usize,
}

impl TableLayout {
    /// Widths fitted to `rows` (each column at most 48), in a terminal `width` wide.
    pub fn fit(rows: &[[String; 7]], width: usize) -> TableLayout {
        let mut widths = [0usize; 6];
        for (i, w) in widths.iter_mut().enumerate() {
            *w = HEADERS[i].chars().count();
        }
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.chars().count()).min(48);
            }
        }
        TableLayout::with_widths(widths, width)
    }

    /// Fixed widths, for `--follow` (rows are not known in advance).
    pub fn fixed(width: usize) -> TableLayout {
        TableLayout::with_widths([19, 16, 12, 26, 8, 5], width)
    }

    fn with_widths(widths: [usize; 6], width: usize) -> TableLayout {
        let fixed: usize = widths.iter().map(|w| w + 2).sum();
        TableLayout {
            widths,
            last: width.saturating_sub(fixed).max(20),
        }
    }

    /// Writes one row (cells already escaped), cutting cells to their column.
    pub fn write_row(&self, out: &mut dyn Write, cells: [&str; 7]) -> io::Result<()> {
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
        self.write_row(out, HEADERS)
    }
}

/// Writes alerts as an aligned table; the last column (command line) is cut to `width`.
pub fn write_table(out: &mut dyn Write, alerts: &[LoggedAlert], width: usize) -> io::Result<()> {
    let rows: Vec<[String; 7]> = alerts.iter().map(|a| table_row(&a.value)).collect();
    let layout = TableLayout::fit(&rows, width);
    layout.write_header(out)?;
    for row in &rows {
        layout.write_row(out, row.each_ref().map(String::as_str))?;
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

/// Most rows shown in each summary section.
const SUMMARY_ROWS: usize = 15;
/// Most hours shown in the per-hour chart (the latest ones).
const SUMMARY_HOURS: usize = 72;

/// Writes the summary: totals, counts by rule × user, alerts per hour as a bar chart,
/// and the top command lines. Every name is escaped.
pub fn write_summary(out: &mut dyn Write, alerts: &[LoggedAlert], width: usize) -> io::Result<()> {
    let width = width.max(60);
    let events: u64 = alerts.iter().map(|a| count_of(&a.value)).sum();
    let times: Vec<DateTime<Utc>> = alerts.iter().filter_map(|a| timestamp(&a.value)).collect();
    let (first, last) = (times.iter().min(), times.iter().max());
    writeln!(
        out,
        "{} alerts ({events} occurrences counting folded repeats){}",
        alerts.len(),
        match (first, last) {
            (Some(f), Some(l)) => format!(
                " from {} to {} UTC",
                f.format("%Y-%m-%d %H:%M:%S"),
                l.format("%Y-%m-%d %H:%M:%S")
            ),
            _ => String::new(),
        }
    )?;
    if alerts.is_empty() {
        return Ok(());
    }

    // Rule × user.
    let mut by_pair: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for a in alerts {
        let key = (rule_label(&a.value), user_of(&a.value).to_string());
        let e = by_pair.entry(key).or_default();
        e.0 += 1;
        e.1 += count_of(&a.value);
    }
    let mut pairs: Vec<_> = by_pair.into_iter().collect();
    pairs.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    writeln!(out, "\nAlerts by rule and user")?;
    let rule_w = pairs
        .iter()
        .map(|((r, _), _)| escape_for_terminal(r).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    writeln!(
        out,
        "  {:>7}  {:>7}  {:<rule_w$}  USER",
        "ALERTS", "EVENTS", "RULE"
    )?;
    for ((rule, user), (n, ev)) in pairs.iter().take(SUMMARY_ROWS) {
        let rule = truncate(&escape_for_terminal(rule), rule_w);
        let user = truncate(
            &escape_for_terminal(if user.is_empty() { "-" } else { user }),
            32,
        );
        writeln!(out, "  {n:>7}  {ev:>7}  {rule:<rule_w$}  {user}")?;
    }
    if pairs.len() > SUMMARY_ROWS {
        writeln!(
            out,
            "  … {} more rule/user pairs",
            pairs.len() - SUMMARY_ROWS
        )?;
    }

    // Alerts per hour.
    writeln!(out, "\nAlerts per hour (UTC)")?;
    if let (Some(first), Some(last)) = (first, last) {
        let hour = |t: &DateTime<Utc>| {
            t.with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(*t)
        };
        let mut counts: HashMap<DateTime<Utc>, u64> = HashMap::new();
        for t in &times {
            *counts.entry(hour(t)).or_default() += 1;
        }
        let (h0, h1) = (hour(first), hour(last));
        let span = usize::try_from((h1 - h0).num_hours()).unwrap_or(0) + 1;
        let shown = span.min(SUMMARY_HOURS);
        if span > shown {
            writeln!(out, "  (the last {shown} of {span} hours)")?;
        }
        let start = h1 - TimeDelta::hours(i64::try_from(shown).unwrap_or(1) - 1);
        let max = counts.values().copied().max().unwrap_or(1).max(1);
        let bar_room = width.saturating_sub(30).clamp(10, 60) as u64;
        for i in 0..shown {
            let h = start + TimeDelta::hours(i64::try_from(i).unwrap_or(0));
            let n = counts.get(&h).copied().unwrap_or(0);
            let len = if n == 0 {
                0
            } else {
                (n * bar_room).div_ceil(max)
            };
            let bar = "#".repeat(usize::try_from(len).unwrap_or(0));
            writeln!(out, "  {}  {bar} {n}", h.format("%Y-%m-%d %H:00"))?;
        }
    } else {
        writeln!(out, "  (no readable timestamps)")?;
    }

    // Top command lines.
    let mut by_cmd: HashMap<&str, u64> = HashMap::new();
    for a in alerts {
        *by_cmd.entry(command_of(&a.value)).or_default() += 1;
    }
    let mut cmds: Vec<_> = by_cmd.into_iter().collect();
    cmds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    writeln!(out, "\nTop command lines")?;
    writeln!(out, "  {:>7}  COMMAND LINE", "ALERTS")?;
    for (cmd, n) in cmds.iter().take(SUMMARY_ROWS) {
        let cmd = if cmd.is_empty() { "-" } else { cmd };
        let shown = truncate(&escape_for_terminal(cmd), width.saturating_sub(13).max(20));
        writeln!(out, "  {n:>7}  {shown}")?;
    }
    if cmds.len() > SUMMARY_ROWS {
        writeln!(out, "  … {} more command lines", cmds.len() - SUMMARY_ROWS)?;
    }
    Ok(())
}

/// Where `--follow` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowStart {
    /// Show the last N matching alerts already in the log (across rotated files), then
    /// new ones.
    Last(usize),
    /// Show every matching alert already in the log, then new ones.
    All,
}

/// Tails the log at `path` across rotations: every new line that passes `filter` goes
/// to `emit`, until `stop` says so or `emit` fails (a closed pipe, say). A rotation
/// (the path now names another file, or the file shrank) is noticed at the next poll:
/// the old file is read to its end first, then the new one from its start. A line is
/// only emitted once it is complete (ends with a newline).
pub fn follow(
    path: &Path,
    filter: &Filter,
    start: FollowStart,
    poll: Duration,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(&LoggedAlert) -> io::Result<()>,
) -> io::Result<()> {
    // Wait for the log to exist.
    let mut file = loop {
        match File::open(path) {
            Ok(f) => break f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if stop() {
                    return Ok(());
                }
                std::thread::sleep(poll);
            }
            Err(e) => return Err(e),
        }
    };
    // What is there already: rotated files, then the open file up to its current end.
    let mut backlog: Vec<LoggedAlert> = Vec::new();
    for old in log_files(path).iter().filter(|p| p.as_path() != path) {
        if let Ok(f) = File::open(old) {
            scan(BufReader::new(f), filter, &mut |a| {
                backlog.push(a);
                Ok(())
            })?;
        }
    }
    let mut pending = Vec::new();
    let mut offset = read_new(&mut file, 0, &mut pending)?;
    let complete = pending
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    scan(&pending[..complete], filter, &mut |a| {
        backlog.push(a);
        Ok(())
    })?;
    pending.drain(..complete);
    let skip = match start {
        FollowStart::All => 0,
        FollowStart::Last(n) => backlog.len().saturating_sub(n),
    };
    for a in &backlog[skip..] {
        emit(a)?;
    }
    drop(backlog);

    loop {
        if stop() {
            return Ok(());
        }
        let got = read_new(&mut file, offset, &mut pending)?;
        offset += got;
        emit_complete(&mut pending, filter, emit)?;
        if got > 0 {
            continue;
        }
        if rotated(path, &file, offset) {
            // Read the old file to its end; a partial line left there was torn.
            offset += read_new(&mut file, offset, &mut pending)?;
            emit_complete(&mut pending, filter, emit)?;
            pending.clear();
            match File::open(path) {
                Ok(f) => {
                    file = f;
                    offset = 0;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        std::thread::sleep(poll);
    }
}

/// Appends whatever follows `offset` in `file` to `buf`; returns the bytes read.
fn read_new(file: &mut File, offset: u64, buf: &mut Vec<u8>) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    let n = file.read_to_end(buf)?;
    Ok(n as u64)
}

fn emit_complete(
    pending: &mut Vec<u8>,
    filter: &Filter,
    emit: &mut dyn FnMut(&LoggedAlert) -> io::Result<()>,
) -> io::Result<()> {
    let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
        return Ok(());
    };
    let complete: Vec<u8> = pending.drain(..=end).collect();
    scan(&complete[..], filter, &mut |a| emit(&a))?;
    Ok(())
}

/// Has the log been rotated away from the file we hold?
fn rotated(path: &Path, file: &File, offset: u64) -> bool {
    let Ok(now) = std::fs::metadata(path) else {
        // Gone (rotation with keep_files = 0 removes it until the next alert).
        return true;
    };
    if now.len() < offset {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(held) = file.metadata() {
            return held.ino() != now.ino() || held.dev() != now.dev();
        }
    }
    let _ = file;
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

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
    fn rotated_logs_read_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(rotated_path(&path, 2), "{\"n\":1}\n").expect("w");
        std::fs::write(rotated_path(&path, 1), "{\"n\":2}\nnot json\n").expect("w");
        std::fs::write(&path, "{\"n\":3}\n").expect("w");
        let (alerts, bad) = read_alerts(&path).expect("read");
        let order: Vec<i64> = alerts
            .iter()
            .filter_map(|a| a.value["n"].as_i64())
            .collect();
        assert_eq!(order, vec![1, 2, 3]);
        assert_eq!(bad, 1);
    }

    #[test]
    fn times_absolute_and_relative() {
        let now = Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
            .single()
            .expect("now");
        let at = |y, mo, d, h, mi| {
            Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
                .single()
                .expect("t")
        };
        assert_eq!(parse_time("2h", now).expect("2h"), at(2024, 5, 1, 10, 0));
        assert_eq!(
            parse_time("1h30m", now).expect("1h30m"),
            at(2024, 5, 1, 10, 30)
        );
        assert_eq!(parse_time("1d", now).expect("1d"), at(2024, 4, 30, 12, 0));
        assert_eq!(parse_time("1w", now).expect("1w"), at(2024, 4, 24, 12, 0));
        assert_eq!(
            parse_time("90s", now).expect("90s"),
            now - TimeDelta::seconds(90)
        );
        assert_eq!(parse_time("now", now).expect("now"), now);
        assert_eq!(
            parse_time("2024-05-01T09:15:00+02:00", now).expect("rfc3339"),
            at(2024, 5, 1, 7, 15)
        );
        assert_eq!(
            parse_time("2024-05-01 09:15", now).expect("space"),
            at(2024, 5, 1, 9, 15)
        );
        assert_eq!(
            parse_time("2024-04-30", now).expect("date"),
            at(2024, 4, 30, 0, 0)
        );
        for bad in ["", "2x", "h", "yesterday", "2024-13-01", "5m3"] {
            assert!(parse_time(bad, now).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("an09*", "AN0904"));
        assert!(glob_match("*admin*", "domain-admins"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("web*", "db1"));
    }

    fn alert_json(
        ts: &str,
        rule: &str,
        analytic: &str,
        sev: u8,
        user: &str,
        host: &str,
        cmd: &str,
    ) -> Value {
        serde_json::json!({
            "@timestamp": ts,
            "event": {"kind": "alert", "severity": sev},
            "rule": {"id": format!("id-{rule}"), "name": rule},
            "user": {"name": user, "id": "1000"},
            "host": {"name": host},
            "process": {"command_line": cmd},
            "picket": {"analytic": analytic, "mutable_element": "UtilityNameList", "count": 1}
        })
    }

    #[test]
    fn filter_conditions_combine() {
        let a = alert_json(
            "2024-05-01T10:00:00Z",
            "Network connections discovery",
            "AN0904",
            3,
            "alice",
            "web-1",
            "ss -tan\nsecret",
        );
        let t = |s: &str| parse_time(s, Utc::now()).expect("time");
        assert!(Filter::default().matches(&a));
        let f = |edit: &dyn Fn(&mut Filter)| {
            let mut f = Filter::default();
            edit(&mut f);
            f.matches(&a)
        };
        assert!(f(&|f| f.since = Some(t("2024-05-01T10:00:00Z"))));
        assert!(!f(&|f| f.since = Some(t("2024-05-01T10:00:01Z"))));
        assert!(f(&|f| f.until = Some(t("2024-05-01T10:00:00Z"))));
        assert!(!f(&|f| f.until = Some(t("2024-05-01T09:59:59Z"))));
        assert!(f(&|f| f.rule = Some("connections".into())));
        assert!(f(
            &|f| f.rule = Some("ID-NETWORK CONNECTIONS DISCOVERY".into())
        ));
        assert!(!f(&|f| f.rule = Some("lateral".into())));
        assert!(f(&|f| f.analytic = Some("an0904".into())));
        assert!(!f(&|f| f.analytic = Some("AN0903".into())));
        assert!(f(&|f| f.min_severity = Some(Severity::High)));
        assert!(!f(&|f| f.min_severity = Some(Severity::Critical)));
        assert!(f(&|f| f.user = Some("ALICE".into())));
        assert!(f(&|f| f.user = Some("1000".into())));
        assert!(!f(&|f| f.user = Some("bob".into())));
        assert!(f(&|f| f.host = Some("web-*".into())));
        assert!(!f(&|f| f.host = Some("web".into())));
        assert!(f(&|f| f.grep = Some("TAN\nSEC".into())));
        assert!(!f(&|f| f.grep = Some("nmap".into())));
    }

    #[test]
    fn summary_counts_and_escapes() {
        let mut alerts = Vec::new();
        for (i, (user, cmd)) in [
            ("alice", "ss -tan"),
            ("alice", "ss -tan"),
            ("bob", "netstat -an"),
            ("eve\u{1b}]0;x\u{7}", "ss \u{1b}[2J-tan\nfake"),
        ]
        .iter()
        .enumerate()
        {
            let v = alert_json(
                &format!("2024-05-01T{:02}:10:00Z", 10 + i / 2 * 2),
                "r",
                "AN0904",
                1,
                user,
                "h",
                cmd,
            );
            alerts.push(LoggedAlert {
                raw: v.to_string(),
                value: v,
            });
        }
        let mut out = Vec::new();
        write_summary(&mut out, &alerts, 100).expect("summary");
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(text.starts_with("4 alerts (4 occurrences"), "{text}");
        assert!(
            text.contains("      2        2  AN0904 UtilityNameList  alice"),
            "{text}"
        );
        assert!(text.contains("eve\\e]0;x\\u{7}"), "{text}");
        assert!(text.contains("ss \\e[2J-tan\\nfake"), "{text}");
        // 10:00 has 2, 11:00 none, 12:00 has 2.
        assert!(text.contains("2024-05-01 11:00   0"), "{text}");
        assert_eq!(text.matches("\n  2024-05-01 1").count(), 3, "{text}");
        assert!(text.contains("      2  ss -tan\n"), "{text}");
    }

    #[test]
    fn follow_sees_new_lines_across_rotation_and_holds_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}\n").expect("w");
        let seen = Arc::new(Mutex::new(Vec::<i64>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2, path2) = (seen.clone(), stop.clone(), path.clone());
        let t = std::thread::spawn(move || {
            follow(
                &path2,
                &Filter::default(),
                FollowStart::Last(1),
                Duration::from_millis(10),
                &|| stop2.load(Ordering::Relaxed),
                &mut |a| {
                    if let Some(n) = a.value["n"].as_i64() {
                        seen2.lock().expect("lock").push(n);
                    }
                    Ok(())
                },
            )
        });
        let wait_for = |n: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while seen.lock().expect("lock").len() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "follow saw {:?}",
                    seen.lock().expect("lock")
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait_for(1);
        let append = |p: &Path, s: &str| {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .expect("open");
            f.write_all(s.as_bytes()).expect("append");
        };
        append(&path, "{\"n\":3}\n{\"n\"");
        wait_for(2);
        append(&path, ":4}\n");
        wait_for(3);
        // Rotate: the old file gets one more line first, then a new file appears.
        append(&path, "{\"n\":5}\n");
        std::fs::rename(&path, rotated_path(&path, 1)).expect("rotate");
        append(&rotated_path(&path, 1), "{\"n\":6}\n");
        append(&path, "{\"n\":7}\n");
        wait_for(6);
        stop.store(true, Ordering::Relaxed);
        t.join().expect("join").expect("follow");
        assert_eq!(*seen.lock().expect("lock"), vec![2, 3, 4, 5, 6, 7]);
    }
}

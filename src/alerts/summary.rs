//! The summary view of `picket alerts --summary`: totals, counts by rule × user, alerts
//! per hour (of the time they were raised) as a bar chart, and the top command lines.
//! Every name is escaped for the terminal.

use super::fields::{alert_time, command_of, count_of, rule_label, user_of};
use super::read::LoggedAlert;
use super::table::{escape_for_terminal, truncate};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use std::collections::HashMap;
use std::io::{self, Write};

/// Most rows shown in each summary section.
const SUMMARY_ROWS: usize = 15;
/// Most hours shown in the per-hour chart (the latest ones).
const SUMMARY_HOURS: usize = 72;

/// Writes the summary: totals, counts by rule × user, alerts per hour as a bar chart,
/// and the top command lines. Every name is escaped.
pub fn write_summary(out: &mut dyn Write, alerts: &[LoggedAlert], width: usize) -> io::Result<()> {
    let width = width.max(60);
    let events: u64 = alerts.iter().map(|a| count_of(&a.value)).sum();
    let times: Vec<DateTime<Utc>> = alerts.iter().filter_map(|a| alert_time(&a.value)).collect();
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

#[cfg(test)]
mod tests {
    use super::super::fields::testing::alert_json;
    use super::*;

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
}

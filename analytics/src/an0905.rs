//! AN0905 (macOS): `lsof -i`, `netstat`, `nettop`, `who`, `last`, directly or through
//! AppleScript (`osascript -e 'do shell script "…"'`) or Automator, and who launched them.
//!
//! - `ShellCommandWatchlist`: the watched commands; for AppleScript hosts, each command
//!   inside `do shell script "…"` is checked; a watched command below an Automator
//!   process is reported as issued through Automator.
//! - `TerminalBinaryDenylist`: decided from the whole ancestor chain. No Terminal.app or
//!   iTerm2 among the ancestors raises severity; a denylisted app (Office, Mail,
//!   browsers, Preview) among them raises it further.

use crate::common::{ancestor_chain, args_of, command_line, host_label, short, user_label};
use crate::config::An0905Config;
use crate::glob::GlobList;
use crate::hit::Hit;
use crate::utility::UtilityList;
use sensor_core::alert::Severity;
use sensor_core::event::{file_name, Event};

/// Shells and wrappers skipped when naming the application that launched a command.
const SHELLS: [&str; 14] = [
    "sh", "bash", "zsh", "dash", "ksh", "tcsh", "csh", "fish", "login", "env", "sudo", "su",
    "xargs", "nohup",
];

#[derive(Debug, Clone)]
pub(crate) struct An0905 {
    severity: Severity,
    commands: UtilityList,
    applescript: GlobList,
    automator: GlobList,
    terminals: GlobList,
    outside_severity: Severity,
    denylist: GlobList,
    deny_severity: Severity,
}

/// Finds the `do shell script "…"` strings in AppleScript source.
fn shell_scripts(source: &str) -> Vec<String> {
    let lower = source.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = lower[from..].find("do shell script") {
        let after = from + rel + "do shell script".len();
        let rest = &source[after..];
        let trimmed = rest.trim_start();
        let start = after + (rest.len() - trimmed.len());
        from = after;
        let Some(body) = trimmed.strip_prefix('"') else {
            continue;
        };
        let mut text = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        text.push(n);
                    }
                }
                '"' => break,
                c => text.push(c),
            }
        }
        from = start + 1;
        out.push(text);
    }
    out
}

/// Splits a shell command line into simple commands (`;`, `&&`, `||`, `|`, newlines).
fn simple_commands(script: &str) -> Vec<Vec<String>> {
    script
        .split([';', '|', '&', '\n'])
        .map(|part| {
            part.split_whitespace()
                .map(|w| w.trim_matches(['\'', '"', '(', ')']).to_string())
                .filter(|w| !w.is_empty())
                .collect::<Vec<String>>()
        })
        .filter(|words| !words.is_empty())
        .collect()
}

impl An0905 {
    pub(crate) fn build(cfg: &An0905Config) -> An0905 {
        let w = &cfg.shell_command_watchlist;
        let d = &cfg.terminal_binary_denylist;
        An0905 {
            severity: cfg.severity,
            commands: UtilityList::new(&w.commands),
            applescript: GlobList::new(&w.applescript_hosts),
            automator: GlobList::new(&w.automator_apps),
            terminals: GlobList::new(&d.terminal_apps),
            outside_severity: d.outside_terminal_severity,
            denylist: GlobList::new(&d.denylisted_apps),
            deny_severity: d.denylisted_app_severity,
        }
    }

    /// (watched entry, how it was issued) for `ev`.
    fn watched(&self, ev: &Event, chain: &[(&str, &str)]) -> Option<(String, &'static str)> {
        let name = ev.process.name.as_deref().or(ev
            .process
            .executable
            .as_deref()
            .map(file_name))?;
        if self.applescript.matches(name) {
            let args = args_of(ev);
            let source = if args.len() > 1 {
                args[1..].join(" ")
            } else {
                command_line(ev).into_owned()
            };
            for script in shell_scripts(&source) {
                for words in simple_commands(&script) {
                    let prog = file_name(&words[0]);
                    if let Some(entry) = self.commands.find(prog, &words[1..]) {
                        return Some((entry.to_string(), "AppleScript do shell script"));
                    }
                }
            }
            return None;
        }
        let entry = self.commands.find_event(ev)?;
        let via = if chain.iter().any(|(n, exe)| {
            self.automator.matches(n) || (!exe.is_empty() && self.automator.matches(exe))
        }) {
            "Automator"
        } else {
            "a shell"
        };
        Some((entry.to_string(), via))
    }

    pub(crate) fn check(&self, ev: &Event) -> Option<Hit> {
        // Cheap test first: most events are neither watched nor AppleScript.
        let name = ev.process.name.as_deref().or(ev
            .process
            .executable
            .as_deref()
            .map(file_name))?;
        if !self.applescript.matches(name) && self.commands.find_event(ev).is_none() {
            return None;
        }
        let chain = ancestor_chain(ev);
        let (entry, via) = self.watched(ev, &chain)?;
        let who = user_label(ev);
        let host = host_label(ev);
        let shown = short(&command_line(ev));
        let mut hit = Hit::new(
            "AN0905",
            "ShellCommandWatchlist",
            entry.clone(),
            self.severity,
        );
        hit.detail("issued_via", via);
        hit.detail("watchlist_entry", entry.clone());
        let hit_in = |list: &GlobList| {
            chain.iter().find_map(|(n, exe)| {
                list.find(n)
                    .or_else(|| (!exe.is_empty()).then(|| list.find(exe)).flatten())
                    .map(|g| (n.to_string(), g.source().to_string()))
            })
        };
        let terminal = hit_in(&self.terminals).or_else(|| {
            ev.picket
                .terminal_app
                .as_deref()
                .filter(|t| self.terminals.matches(t))
                .map(|t| (t.to_string(), t.to_string()))
        });
        let denied = hit_in(&self.denylist);
        let what = format!(
            "{entry:?} is in ShellCommandWatchlist (network-connection discovery, via {via})"
        );
        if let Some((app, glob)) = denied {
            hit.severity = self.severity.max(self.deny_severity);
            hit.mutable_element = "TerminalBinaryDenylist";
            hit.matched_value = glob.clone();
            hit.detail("launching_app", app.clone());
            hit.message = format!(
                "{who} ran `{shown}` on {host}: {what}, launched by {app}, which must never launch discovery ({glob:?} in TerminalBinaryDenylist)"
            );
        } else if let Some((term, _)) = terminal {
            hit.detail("terminal_app", term.clone());
            hit.message = format!("{who} ran `{shown}` in {term} on {host}: {what}");
        } else if chain.is_empty() {
            hit.detail("terminal_app", "unknown (no ancestry)");
            hit.message = format!("{who} ran `{shown}` on {host}: {what} (launcher unknown)");
        } else {
            // The launching application: the nearest ancestor inside an .app bundle,
            // else the nearest that is not a shell, else the parent.
            let app = chain
                .iter()
                .find(|(_, exe)| exe.contains(".app/"))
                .or_else(|| chain.iter().find(|(n, _)| !SHELLS.contains(n)))
                .or_else(|| chain.first())
                .map(|(n, _)| n.to_string())
                .unwrap_or_default();
            hit.severity = self.severity.max(self.outside_severity);
            hit.mutable_element = "TerminalBinaryDenylist";
            hit.matched_value = format!("outside terminal: {app}");
            hit.detail("launching_app", app.clone());
            hit.message = format!(
                "{who} ran `{shown}` on {host}: {what}, launched by {app} with no Terminal.app or iTerm2 among its ancestors (TerminalBinaryDenylist)"
            );
        }
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applescript_shell_scripts_are_extracted() {
        let s = shell_scripts(r#"do shell script "lsof -i -nP | grep \"LISTEN\"" & return"#);
        assert_eq!(s, vec![r#"lsof -i -nP | grep "LISTEN""#.to_string()]);
        let cmds = simple_commands(&s[0]);
        assert_eq!(cmds[0], vec!["lsof", "-i", "-nP"]);
        assert!(shell_scripts("display dialog \"hi\"").is_empty());
    }
}

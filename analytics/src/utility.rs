//! Lists of programs with an optional required flag (`"lsof -i"`), as AN0904's
//! `UtilityNameList` and AN0905's `ShellCommandWatchlist` use them.

use crate::glob::Glob;
use sensor_core::event::{file_name, Event};
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct Entry {
    flag: Option<String>,
    source: String,
}

/// A compiled list of `name [flag]` entries. Names are case-insensitive globs; exact
/// names are looked up in a hash map.
#[derive(Debug, Clone, Default)]
pub(crate) struct UtilityList {
    exact: HashMap<String, Vec<Entry>>,
    globs: Vec<(Glob, Entry)>,
}

/// Multi-call binaries whose applet is the real program.
const MULTICALL: [&str; 2] = ["busybox", "toybox"];

impl UtilityList {
    pub(crate) fn new(items: &[String]) -> UtilityList {
        let mut list = UtilityList::default();
        for item in items {
            let mut parts = item.split_whitespace();
            let Some(name) = parts.next() else { continue };
            let entry = Entry {
                flag: parts.next().map(str::to_string),
                source: item.split_whitespace().collect::<Vec<_>>().join(" "),
            };
            let glob = Glob::new(name, true);
            if glob.is_exact() {
                list.exact
                    .entry(name.to_lowercase())
                    .or_default()
                    .push(entry);
            } else {
                list.globs.push((glob, entry));
            }
        }
        list
    }

    /// The entry `name` with `args` (not including argv\[0\]) matches.
    pub(crate) fn find(&self, name: &str, args: &[String]) -> Option<&str> {
        let ok = |e: &Entry| match &e.flag {
            None => true,
            Some(flag) => args.iter().any(|a| has_flag(a, flag)),
        };
        let found = if name.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
            self.exact.get(&name.to_lowercase())
        } else {
            self.exact.get(name)
        };
        if let Some(e) = found.and_then(|entries| entries.iter().find(|e| ok(e))) {
            return Some(&e.source);
        }
        self.globs
            .iter()
            .find(|(g, e)| g.matches(name) && ok(e))
            .map(|(_, e)| e.source.as_str())
    }

    /// Matches the program an event runs: `process.name` with `process.args[1..]`; for
    /// `busybox`/`toybox` the applet (`busybox netstat -an`, or argv\[0\] naming it).
    pub(crate) fn find_event(&self, ev: &Event) -> Option<&str> {
        let name = ev.process.name.as_deref().or(ev
            .process
            .executable
            .as_deref()
            .map(file_name))?;
        let args = &ev.process.args;
        let rest = args.get(1..).unwrap_or(&[]);
        if MULTICALL.iter().any(|m| name.eq_ignore_ascii_case(m)) {
            let argv0 = args.first().map(|a| file_name(a)).unwrap_or("");
            if !argv0.is_empty() && !MULTICALL.iter().any(|m| argv0.eq_ignore_ascii_case(m)) {
                return self.find(argv0, rest);
            }
            let applet = rest.first().map(String::as_str)?;
            return self.find(applet, rest.get(1..).unwrap_or(&[]));
        }
        self.find(name, rest)
    }
}

/// Does argument `arg` carry `flag`? `-i` is carried by `-i`, `-i4`, `-iTCP:22` and the
/// short-option cluster `-nPi`; a long flag (`--all`) by `--all` and `--all=x`.
pub(crate) fn has_flag(arg: &str, flag: &str) -> bool {
    if arg == flag || arg.starts_with(flag) {
        return true;
    }
    let short = flag.len() == 2 && flag.starts_with('-') && !flag.starts_with("--");
    if short && arg.starts_with('-') && !arg.starts_with("--") && arg.len() > 2 {
        let letter = flag.as_bytes()[1];
        let cluster = &arg.as_bytes()[1..];
        return cluster.iter().all(u8::is_ascii_alphabetic) && cluster.contains(&letter);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_and_names() {
        let l = UtilityList::new(&v(&["netstat", "lsof -i", "python*"]));
        assert_eq!(l.find("netstat", &[]), Some("netstat"));
        assert_eq!(l.find("lsof", &v(&["-i", "-nP"])), Some("lsof -i"));
        assert_eq!(l.find("lsof", &v(&["-nPi"])), Some("lsof -i"));
        assert_eq!(l.find("lsof", &v(&["-iTCP:22"])), Some("lsof -i"));
        assert_eq!(l.find("lsof", &v(&["/var/log/syslog"])), None);
        assert_eq!(l.find("lsof", &v(&["-p", "12"])), None);
        assert_eq!(l.find("python3.11", &[]), Some("python*"));
        assert_eq!(l.find("ss", &[]), None);
    }
}

//! AN0903 (Windows): commands, PowerShell cmdlets and WMI/CIM classes that enumerate
//! network connections, sessions and shares.
//!
//! - `CommandPatternList`: keywords (one Aho-Corasick automaton over the normalised
//!   command line, with word boundaries checked at each hit) and regexes (one `RegexSet`
//!   over the cleaned command line). PowerShell `-EncodedCommand` payloads are decoded
//!   and matched as well; `process.pe.original_file_name` is matched against the keywords
//!   so a renamed `netstat.exe` is still caught.
//! - `SuspiciousParentProcesses`: when the parent (or, by default, any ancestor) is an
//!   Office app, a script host or a web/database server, severity rises.
//! - `WmiQueries` (by behaviour): a WMI operation (`wmi-operation` event) naming one of
//!   the network-connection classes, for its client process whatever it is called.

use crate::common::{
    ancestor_chain, command_line, encoded_powershell, host_label, is_word_byte, normalize_into,
    short, user_label,
};
use crate::config::An0903Config;
use crate::glob::GlobList;
use crate::hit::Hit;
use crate::Scratch;
use aho_corasick::AhoCorasick;
use regex::RegexSet;
use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use sensor_core::event::{file_name, Event};

#[derive(Debug, Clone)]
pub(crate) struct An0903 {
    severity: Severity,
    keywords: Option<AhoCorasick>,
    keyword_src: Vec<String>,
    regexes: Option<RegexSet>,
    regex_src: Vec<String>,
    decode: bool,
    parents: GlobList,
    check_ancestors: bool,
    parent_severity: Severity,
    wmi_enabled: bool,
    wmi_classes: Vec<String>,
}

/// Where a pattern matched.
enum Place {
    CommandLine,
    OriginalFileName,
    Decoded,
}

impl An0903 {
    pub(crate) fn build(cfg: &An0903Config, problems: &mut Problems) -> An0903 {
        let c = &cfg.command_pattern_list;
        let (mut clean, mut norm) = (String::new(), String::new());
        let mut keyword_src = Vec::new();
        let mut keyword_norm = Vec::new();
        for k in &c.keywords {
            normalize_into(k, &mut clean, &mut norm);
            if !norm.is_empty() {
                keyword_src.push(k.clone());
                keyword_norm.push(norm.clone());
            }
        }
        let keywords = if keyword_norm.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(&keyword_norm);
            match built {
                Ok(ac) => Some(ac),
                Err(e) => {
                    problems.push((
                        "analytics.an0903.command_pattern_list.keywords".into(),
                        e.to_string(),
                    ));
                    None
                }
            }
        };
        let (regexes, regex_src) = crate::compile_regex_set(
            "analytics.an0903.command_pattern_list.regexes",
            &c.regexes,
            problems,
        );
        let p = &cfg.suspicious_parent_processes;
        An0903 {
            severity: cfg.severity,
            keywords,
            keyword_src,
            regexes,
            regex_src,
            decode: c.decode_encoded_powershell,
            parents: GlobList::new(&p.names),
            check_ancestors: p.check_ancestors,
            parent_severity: p.severity,
            wmi_enabled: cfg.wmi_queries.enabled,
            wmi_classes: cfg.wmi_queries.classes.clone(),
        }
    }

    /// AN0903 on a WMI operation: the first configured class it names.
    pub(crate) fn check_wmi(&self, ev: &Event) -> Option<Hit> {
        if !self.wmi_enabled {
            return None;
        }
        let e = ev.picket.enumeration.as_ref()?;
        let class = e
            .tables
            .iter()
            .find_map(|t| self.wmi_classes.iter().find(|c| c.eq_ignore_ascii_case(t)))?;
        let mut hit = Hit::new("AN0903", "WmiQueries", class.clone(), self.severity);
        let query = match ev.field("picket.enumeration.query") {
            sensor_core::event::FieldValue::Str(q) => q.to_string(),
            _ => String::new(),
        };
        let client = match command_line(ev) {
            c if c.is_empty() => format!("process {}", ev.process.pid.unwrap_or(0)),
            c => format!("`{}`", short(&c)),
        };
        hit.message = format!(
            "{} ran {client} on {}, which asked WMI for {class} (`{}`): network-connection discovery by behaviour, whatever the program is called",
            user_label(ev),
            host_label(ev),
            short(&query),
        );
        hit.detail("wmi_class", class.clone());
        hit.detail("wmi_query", short(&query));
        if let sensor_core::event::FieldValue::Str(ns) = ev.field("picket.enumeration.namespace") {
            hit.detail("wmi_namespace", ns);
        }
        Some(hit)
    }

    /// The first keyword that occurs as whole words in the normalised `text`.
    fn keyword_in(&self, normalized: &str) -> Option<&str> {
        let ac = self.keywords.as_ref()?;
        let bytes = normalized.as_bytes();
        for m in ac.find_overlapping_iter(normalized) {
            let before_ok = m.start() == 0 || !is_word_byte(bytes[m.start() - 1]);
            let after_ok = m.end() == bytes.len() || !is_word_byte(bytes[m.end()]);
            if before_ok && after_ok {
                return self
                    .keyword_src
                    .get(m.pattern().as_usize())
                    .map(String::as_str);
            }
        }
        None
    }

    fn regex_in(&self, cleaned: &str) -> Option<&str> {
        let set = self.regexes.as_ref().filter(|s| s.is_match(cleaned))?;
        let first = set.matches(cleaned).into_iter().next()?;
        self.regex_src.get(first).map(String::as_str)
    }

    /// The pattern that matches `text` (keywords first, then regexes).
    fn match_text(&self, text: &str, s: &mut Scratch) -> Option<String> {
        normalize_into(text, &mut s.clean, &mut s.norm);
        if let Some(k) = self.keyword_in(&s.norm) {
            return Some(k.to_string());
        }
        // `s.clean` holds the cleaned text after normalize_into.
        self.regex_in(&s.clean).map(str::to_string)
    }

    pub(crate) fn check(&self, ev: &Event, s: &mut Scratch) -> Option<Hit> {
        let line = command_line(ev);
        let mut found = self.match_text(&line, s).map(|p| (p, Place::CommandLine));
        if found.is_none() {
            if let Some(ofn) = ev
                .process
                .pe
                .as_ref()
                .and_then(|pe| pe.original_file_name.as_deref())
            {
                normalize_into(ofn, &mut s.clean, &mut s.norm);
                found = self
                    .keyword_in(&s.norm)
                    .map(|k| (k.to_string(), Place::OriginalFileName));
            }
        }
        let mut decoded = None;
        if found.is_none() && self.decode {
            if let Some(text) = encoded_powershell(ev) {
                found = self.match_text(&text, s).map(|p| (p, Place::Decoded));
                decoded = Some(text);
            }
        }
        let (pattern, place) = found?;

        let who = user_label(ev);
        let host = host_label(ev);
        let shown = short(&line);
        let mut hit = Hit::new(
            "AN0903",
            "CommandPatternList",
            pattern.clone(),
            self.severity,
        );
        let how = match place {
            Place::CommandLine => format!("it matches {pattern:?} in CommandPatternList"),
            Place::OriginalFileName => format!(
                "its PE original file name {:?} matches {pattern:?} in CommandPatternList (renamed binary)",
                ev.process.pe.as_ref().and_then(|p| p.original_file_name.as_deref()).unwrap_or("")
            ),
            Place::Decoded => format!(
                "its decoded -EncodedCommand payload matches {pattern:?} in CommandPatternList"
            ),
        };
        if let Some(text) = decoded {
            hit.detail("decoded_command", short(&text));
        }
        hit.detail("command_pattern", pattern.clone());

        // SuspiciousParentProcesses.
        let chain = ancestor_chain(ev);
        let depth = if self.check_ancestors {
            chain.len()
        } else {
            chain.len().min(1)
        };
        let suspicious = chain[..depth]
            .iter()
            .enumerate()
            .find_map(|(i, (name, exe))| {
                let g = self.parents.find(name).or_else(|| {
                    (!exe.is_empty())
                        .then(|| self.parents.find(file_name(exe)))
                        .flatten()
                })?;
                Some((i, name.to_string(), g.source().to_string()))
            });
        match suspicious {
            Some((i, name, glob)) => {
                let sev = self.severity.max(self.parent_severity);
                hit.severity = sev;
                hit.mutable_element = "SuspiciousParentProcesses";
                hit.matched_value = glob.clone();
                hit.detail("suspicious_ancestor", name.clone());
                hit.detail("ancestor_depth", i + 1);
                let rel = if i == 0 { "its parent" } else { "an ancestor" };
                hit.message = format!(
                    "{who} ran `{shown}` on {host}: network-connection discovery ({how}) launched by {rel} {name} ({glob:?} in SuspiciousParentProcesses)"
                );
            }
            None => {
                hit.message =
                    format!("{who} ran `{shown}` on {host}: network-connection discovery, {how}");
            }
        }
        Some(hit)
    }
}

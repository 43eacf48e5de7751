//! AN0908 on hosts: the cloud CLIs listing networks, on process starts of any OS.
//!
//! - AWS CLI: `aws [global options] SERVICE [options] OPERATION ...`, the CLI spelling
//!   of every exact API of the API list (`DescribeVpcs` → `ec2 describe-vpcs`, ELB →
//!   `elb` and `elbv2`) and `aws_commands`; global options that take a value
//!   (`--region`, `--profile`, `--output`, `--query`, `--endpoint-url`, ...) are skipped
//!   wherever they stand.
//! - Azure CLI: `az [global options] network vnet list ...`, the command words typed
//!   exactly.
//! - gcloud: `gcloud [flags] [alpha|beta|preview] compute networks list ...`, flags
//!   anywhere.
//! - PowerShell: the cmdlets as whole words in a `powershell`/`pwsh` command line or its
//!   `-EncodedCommand`.
//!
//! The collector sees what the kernel ran, so the wrappers are read from the
//! interpreter's argv: `python[3] [options] SCRIPT args` where the script is a listed
//! program (`…/bin/aws`, `…/lib/gcloud.py`), and `python [options] -m MODULE args`
//! (`-Im azure.cli`, `-IBm azure.cli`, `-m awscli`). A listed program whose argv shows a
//! `#!` interpreter: Python is read as above (AWS CLI v1); a shell (`/usr/bin/az`,
//! `/usr/bin/gcloud` are shell scripts) is left to the Python process the wrapper starts,
//! so one command gives one alert.

use crate::common::{
    args_of, command_line, encoded_powershell, host_label, is_word_byte, short, user_label,
};
use crate::config::{ApiList, CloudCliCommands};
use crate::glob::GlobList;
use crate::hit::Hit;
use sensor_core::alert::Severity;
use sensor_core::event::{file_name, Event};
use std::collections::HashSet;

/// AWS CLI global options that take a value.
const AWS_VALUE_OPTIONS: [&str; 10] = [
    "--region",
    "--profile",
    "--output",
    "--query",
    "--endpoint-url",
    "--color",
    "--ca-bundle",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--cli-binary-format",
];

/// Azure CLI global options that take a value.
const AZ_VALUE_OPTIONS: [&str; 4] = ["--output", "-o", "--query", "--subscription"];

/// Azure CLI global options without a value.
const AZ_FLAGS: [&str; 5] = ["--debug", "--verbose", "--only-show-errors", "--help", "-h"];

/// gcloud flags that take a value (global ones and the common list filters).
const GCLOUD_VALUE_FLAGS: [&str; 19] = [
    "--project",
    "--account",
    "--configuration",
    "--format",
    "--filter",
    "--flatten",
    "--verbosity",
    "--impersonate-service-account",
    "--billing-project",
    "--access-token-file",
    "--trace-token",
    "--limit",
    "--page-size",
    "--sort-by",
    "--region",
    "--regions",
    "--zone",
    "--zones",
    "--network",
];

/// gcloud release tracks.
const GCLOUD_TRACKS: [&str; 3] = ["alpha", "beta", "preview"];

/// The botocore spelling of an API name: `DescribeVpcs` → `describe-vpcs`,
/// `DescribePublicIpv4Pools` → `describe-public-ipv4-pools`.
pub(crate) fn cli_spelling(api: &str) -> String {
    let chars: Vec<char> = api.chars().collect();
    let mut out = String::with_capacity(api.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A file name without `.exe`, `.cmd` or `.bat`.
fn stem(name: &str) -> &str {
    for ext in [".exe", ".cmd", ".bat"] {
        if crate::common::ends_with_ci(name, ext) {
            return &name[..name.len() - ext.len()];
        }
    }
    name
}

/// Which CLI a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Aws,
    Az,
    Gcloud,
}

impl Tool {
    fn as_str(self) -> &'static str {
        match self {
            Tool::Aws => "aws",
            Tool::Az => "az",
            Tool::Gcloud => "gcloud",
        }
    }
}

/// What a host command was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliMatch {
    /// `aws`, `az`, `gcloud`, `powershell`.
    pub(crate) tool: &'static str,
    /// The command in its canonical words (`aws ec2 describe-vpcs`, `Get-EC2Vpc`).
    pub(crate) command: String,
    /// The wrapper that ran it (`python3 -Im azure.cli`), if any.
    pub(crate) via: Option<String>,
}

/// The compiled `[analytics.an0908.cli]`.
#[derive(Debug, Clone)]
pub(crate) struct CloudCli {
    severity: Severity,
    aws_programs: GlobList,
    aws_modules: HashSet<String>,
    aws_ops: HashSet<String>,
    az_programs: GlobList,
    az_modules: HashSet<String>,
    az_commands: Vec<Vec<String>>,
    gcloud_programs: GlobList,
    gcloud_commands: Vec<Vec<String>>,
    interpreters: GlobList,
    powershell_hosts: GlobList,
    /// (lower case, as written).
    cmdlets: Vec<(String, String)>,
    /// Every lower-case cmdlet in one automaton, to rule a text out in one pass.
    cmdlet_gate: Option<aho_corasick::AhoCorasick>,
}

fn word_lists(items: &[String]) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = items
        .iter()
        .map(|c| {
            c.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    // Longest first, so the most specific command names the match.
    v.sort_by_key(|w| std::cmp::Reverse(w.len()));
    v
}

fn lower_set(items: &[String]) -> HashSet<String> {
    items.iter().map(|m| m.trim().to_lowercase()).collect()
}

impl CloudCli {
    pub(crate) fn build(cfg: &CloudCliCommands, apis: &ApiList) -> CloudCli {
        let mut aws_ops: HashSet<String> = cfg
            .aws_commands
            .iter()
            .map(|c| {
                c.split_whitespace()
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if cfg.aws_from_api_list {
            for (_, cli_names, names) in apis.services() {
                for n in names.iter().map(|n| n.trim()) {
                    if n.is_empty() || n.contains(['*', '?']) {
                        continue;
                    }
                    let op = cli_spelling(n);
                    for service in &cli_names {
                        aws_ops.insert(format!("{service} {op}"));
                    }
                }
            }
        }
        let mut cli = CloudCli {
            severity: cfg.severity,
            aws_programs: GlobList::new(&cfg.aws_programs),
            aws_modules: lower_set(&cfg.aws_modules),
            aws_ops,
            az_programs: GlobList::new(&cfg.az_programs),
            az_modules: lower_set(&cfg.az_modules),
            az_commands: word_lists(&cfg.az_commands),
            gcloud_programs: GlobList::new(&cfg.gcloud_programs),
            gcloud_commands: word_lists(&cfg.gcloud_commands),
            interpreters: GlobList::new(&cfg.interpreters),
            powershell_hosts: GlobList::new(&cfg.powershell_hosts),
            cmdlets: cfg
                .powershell_cmdlets
                .iter()
                .map(|c| (c.trim().to_lowercase(), c.trim().to_string()))
                .filter(|(l, _)| !l.is_empty())
                .collect(),
            cmdlet_gate: None,
        };
        cli.cmdlet_gate = aho_corasick::AhoCorasick::new(cli.cmdlets.iter().map(|(l, _)| l)).ok();
        cli
    }

    fn tool_of_program(&self, name: &str) -> Option<Tool> {
        if self.aws_programs.matches(name) {
            Some(Tool::Aws)
        } else if self.az_programs.matches(name) {
            Some(Tool::Az)
        } else if self.gcloud_programs.matches(name) {
            Some(Tool::Gcloud)
        } else {
            None
        }
    }

    fn tool_of_module(&self, module: &str) -> Option<Tool> {
        let m = module.to_lowercase();
        if self.aws_modules.contains(&m) {
            Some(Tool::Aws)
        } else if self.az_modules.contains(&m) {
            Some(Tool::Az)
        } else {
            None
        }
    }

    /// The cloud CLI network listing `ev` runs, as an alert.
    pub(crate) fn check(&self, ev: &Event) -> Option<Hit> {
        let m = self.matched(ev)?;
        let line = command_line(ev);
        let mut hit = Hit::new("AN0908", "Cli", m.command.clone(), self.severity);
        let via = m
            .via
            .as_deref()
            .map(|v| format!(", through {v}"))
            .unwrap_or_default();
        hit.message = format!(
            "{} ran `{}` on {}: `{}` lists cloud networks ({} in [analytics.an0908.cli]{via})",
            user_label(ev),
            short(&line),
            host_label(ev),
            m.command,
            m.tool,
        );
        hit.detail("via", "cli");
        hit.detail("cloud_cli", m.tool);
        hit.detail("cloud_command", m.command);
        if let Some(v) = m.via {
            hit.detail("wrapper", v);
        }
        Some(hit)
    }

    /// The match for `ev`, if its program lists cloud networks.
    pub(crate) fn matched(&self, ev: &Event) -> Option<CliMatch> {
        let args = args_of(ev);
        let name = ev
            .process
            .name
            .as_deref()
            .or(ev.process.executable.as_deref().map(file_name))
            .or(args.first().map(|a| file_name(a)))?;
        let name = stem(name);
        if self.powershell_hosts.matches(name) {
            return self.powershell(ev);
        }
        if let Some(tool) = self.tool_of_program(name) {
            let a0 = args.first().map(|a| stem(file_name(a)))?;
            if self.tool_of_program(a0) == Some(tool) {
                return self.command(tool, &args[1..], None);
            }
            // A `#!` script: argv starts with its interpreter.
            let (at, interp) = if a0.eq_ignore_ascii_case("env") {
                let i = args
                    .iter()
                    .skip(1)
                    .position(|a| !a.starts_with('-') && !a.contains('='))?;
                (i + 1, stem(file_name(&args[i + 1])))
            } else {
                (0, a0)
            };
            if self.interpreters.matches(interp) {
                return self.interpreted(&args[at..]);
            }
            let script_later = args
                .iter()
                .skip(1)
                .any(|a| self.tool_of_program(stem(file_name(a))) == Some(tool));
            if script_later {
                // A shell wrapper: the interpreter it starts is reported.
                return None;
            }
            // argv[0] renamed (`exec -a`).
            return self.command(tool, &args[1..], None);
        }
        if self.interpreters.matches(name) {
            return self.interpreted(&args);
        }
        None
    }

    /// A Python interpreter's argv (`args[0]` the interpreter).
    fn interpreted(&self, args: &[String]) -> Option<CliMatch> {
        let interp = file_name(args.first()?);
        let mut i = 1;
        while i < args.len() {
            let a = args[i].as_str();
            if a == "--" {
                i += 1;
                break;
            }
            if let Some(rest) = a.strip_prefix("-m").filter(|r| !r.is_empty()) {
                let tool = self.tool_of_module(rest)?;
                return self.command(tool, &args[i + 1..], Some(format!("{interp} {a}")));
            }
            if a == "-W" || a == "-X" {
                i += 2;
                continue;
            }
            if a.starts_with("-W") || a.starts_with("-X") || a.starts_with("--") {
                i += 1;
                continue;
            }
            if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) {
                if !cluster.bytes().all(|b| b.is_ascii_alphabetic()) {
                    i += 1;
                    continue;
                }
                if cluster.ends_with('m') {
                    let module = args.get(i + 1)?;
                    let tool = self.tool_of_module(module)?;
                    return self.command(
                        tool,
                        &args[i + 2..],
                        Some(format!("{interp} {a} {module}")),
                    );
                }
                if cluster.contains('c') {
                    // `-c "code"`: no script.
                    return None;
                }
                i += 1;
                continue;
            }
            break;
        }
        let script = args.get(i)?;
        let tool = self.tool_of_program(stem(file_name(script)))?;
        self.command(tool, &args[i + 1..], Some(format!("{interp} {script}")))
    }

    fn command(&self, tool: Tool, words: &[String], via: Option<String>) -> Option<CliMatch> {
        let command = match tool {
            Tool::Aws => self.aws(words)?,
            Tool::Az => self.az(words)?,
            Tool::Gcloud => self.gcloud(words)?,
        };
        Some(CliMatch {
            tool: tool.as_str(),
            command,
            via,
        })
    }

    fn aws(&self, words: &[String]) -> Option<String> {
        let mut positional: Vec<String> = Vec::with_capacity(2);
        let mut iter = words.iter();
        while let Some(w) = iter.next() {
            if positional.len() == 2 {
                break;
            }
            if w.starts_with("--") {
                if !w.contains('=') && AWS_VALUE_OPTIONS.contains(&w.to_lowercase().as_str()) {
                    iter.next();
                }
                continue;
            }
            if w.starts_with('-') {
                continue;
            }
            positional.push(w.to_lowercase());
        }
        let [service, op] = positional.as_slice() else {
            return None;
        };
        let key = format!("{service} {op}");
        self.aws_ops.contains(&key).then(|| format!("aws {key}"))
    }

    fn az(&self, words: &[String]) -> Option<String> {
        let mut typed: Vec<String> = Vec::new();
        let mut iter = words.iter();
        while let Some(w) = iter.next() {
            let lw = w.to_lowercase();
            if AZ_VALUE_OPTIONS.contains(&lw.as_str()) {
                iter.next();
                continue;
            }
            if AZ_FLAGS.contains(&lw.as_str()) || (lw.starts_with("--") && lw.contains('=')) {
                continue;
            }
            if lw.starts_with('-') {
                // The command's own options: the command words are done.
                break;
            }
            typed.push(lw);
        }
        let p = self
            .az_commands
            .iter()
            .find(|p| typed.len() >= p.len() && typed.iter().zip(p.iter()).all(|(t, w)| t == w))?;
        Some(format!("az {}", p.join(" ")))
    }

    fn gcloud(&self, words: &[String]) -> Option<String> {
        let mut typed: Vec<String> = Vec::new();
        let mut iter = words.iter();
        while let Some(w) = iter.next() {
            let lw = w.to_lowercase();
            if lw.starts_with('-') {
                if GCLOUD_VALUE_FLAGS.contains(&lw.as_str()) {
                    iter.next();
                }
                continue;
            }
            typed.push(lw);
        }
        if typed
            .first()
            .is_some_and(|t| GCLOUD_TRACKS.contains(&t.as_str()))
        {
            typed.remove(0);
        }
        let p = self
            .gcloud_commands
            .iter()
            .find(|p| typed.len() >= p.len() && typed.iter().zip(p.iter()).all(|(t, w)| t == w))?;
        Some(format!("gcloud {}", p.join(" ")))
    }

    fn powershell(&self, ev: &Event) -> Option<CliMatch> {
        let line = command_line(ev);
        let decoded = encoded_powershell(ev);
        let found = |text: &str, via: Option<&str>| {
            self.cmdlet_in(text).map(|c| CliMatch {
                tool: "powershell",
                command: c.to_string(),
                via: via.map(str::to_string),
            })
        };
        found(&line, None).or_else(|| {
            decoded
                .as_deref()
                .and_then(|d| found(d, Some("-EncodedCommand")))
        })
    }

    /// The first listed cmdlet in `text`, as a whole word.
    fn cmdlet_in(&self, text: &str) -> Option<&str> {
        let lower = text.to_lowercase();
        // One automaton pass first: no cmdlet anywhere, no whole-word one either.
        if self
            .cmdlet_gate
            .as_ref()
            .is_some_and(|g| !g.is_match(&lower))
        {
            return None;
        }
        let b = lower.as_bytes();
        let mut best: Option<(usize, &str)> = None;
        for (l, source) in &self.cmdlets {
            let mut from = 0;
            while let Some(rel) = lower[from..].find(l.as_str()) {
                let at = from + rel;
                let end = at + l.len();
                let before = at == 0 || !is_word_byte(b[at - 1]);
                let after = end >= b.len() || !is_word_byte(b[end]);
                if before && after {
                    if best.is_none_or(|(p, _)| at < p) {
                        best = Some((at, source.as_str()));
                    }
                    break;
                }
                from = at + l.chars().next().map_or(1, char::len_utf8);
            }
        }
        best.map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_take_the_cli_spelling() {
        for (api, cli) in [
            ("DescribeVpcs", "describe-vpcs"),
            (
                "DescribeVpcEndpointServices",
                "describe-vpc-endpoint-services",
            ),
            ("DescribePublicIpv4Pools", "describe-public-ipv4-pools"),
            (
                "DescribeVpcClassicLinkDnsSupport",
                "describe-vpc-classic-link-dns-support",
            ),
            ("GetSubnetCidrReservations", "get-subnet-cidr-reservations"),
            ("DescribeDBInstances", "describe-db-instances"),
            (
                "DescribeDirectConnectGateways",
                "describe-direct-connect-gateways",
            ),
            ("ListFirewalls", "list-firewalls"),
        ] {
            assert_eq!(cli_spelling(api), cli, "{api}");
        }
    }

    #[test]
    fn stems() {
        assert_eq!(stem("aws.exe"), "aws");
        assert_eq!(stem("AZ.CMD"), "AZ");
        assert_eq!(stem("gcloud.py"), "gcloud.py");
    }
}

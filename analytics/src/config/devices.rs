//! `[analytics.an0906]` (ESXi) and `[analytics.an0907]` (network devices): the two
//! analytics that read device logs (`sensor-logs` events: `observer.type` `hypervisor`,
//! `router`, `switch`, `firewall`, `network`) rather than process starts.
//!
//! Times, time zones, CIDR networks and patterns are checked by building them once in
//! [`crate::Analytics::build`]; the value checks here are ranges and names.

use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The origins a device log can give a command (`picket.origin`).
pub const ORIGINS: [&str; 5] = ["ssh", "dcui", "api", "shell", "console"];

/// `[analytics.an0906]`: network-connection discovery on VMware ESXi hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct An0906Config {
    /// Run AN0906 on ESXi log events (`observer.type: hypervisor`).
    pub enabled: bool,
    /// Severity of a discovery command from an unexpected origin.
    pub severity: Severity,
    /// The discovery commands (not a DET0320 mutable element: what AN0906 looks for).
    pub command_list: EsxiCommandList,
    /// `ExecutionOriginCheck`.
    pub execution_origin_check: ExecutionOriginCheck,
    /// `ExpectedAdminAccessWindow`.
    pub expected_admin_access_window: ExpectedAdminAccessWindow,
}

impl Default for An0906Config {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Medium,
            command_list: EsxiCommandList::default(),
            execution_origin_check: ExecutionOriginCheck::default(),
            expected_admin_access_window: ExpectedAdminAccessWindow::default(),
        }
    }
}

/// `[analytics.an0906.command_list]`: what counts as listing an ESXi host's connections.
/// Only the command word counts: the first word of each part of a shell line (split at
/// `;`, `|`, `&`, `&&`, `||`, parentheses and backquotes), after `sudo`, `exec`, `env`,
/// `nohup`, `time`, `command`, `busybox`, `VAR=value` and `sh -c`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EsxiCommandList {
    /// esxcli commands: namespace words then the command, run by one of `esxcli_tools`
    /// with any esxcli global options before them (`--formatter=csv`, `--server X`,
    /// `-u X`, ...) and any command options after (`-t tcp`). The management API's
    /// dotted form (`vim.EsxCLI.network.ip.connection.list`) counts too.
    pub esxcli_commands: Vec<String>,
    /// Programs that run esxcli commands (name globs; the path is ignored).
    pub esxcli_tools: Vec<String>,
    /// Other commands: a name glob, optionally followed by one flag that must be present
    /// (as AN0904's `utilities`).
    pub commands: Vec<String>,
    /// Case-insensitive regexes on the whole command line, for anything else.
    pub regexes: Vec<String>,
}

impl Default for EsxiCommandList {
    fn default() -> Self {
        Self {
            esxcli_commands: strings(&["network ip connection list"]),
            esxcli_tools: strings(&["esxcli", "localcli"]),
            commands: strings(&["netstat", "lsof"]),
            regexes: Vec::new(),
        }
    }
}

/// `[analytics.an0906.execution_origin_check]`: `ExecutionOriginCheck`, where a command
/// came from. The origin is the event's `picket.origin` (`ssh`, `dcui`, `api`, `shell`,
/// `console`); a command with none (or `shell`, an ESXi shell of unknown origin) by a
/// user who has an open SSH session on the same host is joined to that session: origin
/// `ssh`, client address the session's. Otherwise the origin is `shell`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionOriginCheck {
    /// Origins that are normal management: a discovery command from one of them is not
    /// an alert (it is counted as `expected_origin_skipped`).
    pub expected_origins: Vec<String>,
    /// Administrators' networks (CIDR, or a bare address): a command whose client
    /// address is inside one is expected whatever its origin.
    pub admin_source_networks: Vec<String>,
    /// Join shell commands to the SSH login (`event.action: login`, `picket.origin:
    /// ssh`, `event.outcome` `success` or unset) of the same user on the same host. A
    /// `session-end` (origin `ssh` or unset) closes the session from the same client
    /// address, or, naming none, the user's oldest. With several open sessions the
    /// command names every client; it is expected only when all are in admin networks.
    pub join_ssh_sessions: bool,
    /// An SSH session with no login, command or end for this many seconds is forgotten.
    pub session_timeout_secs: u64,
}

impl Default for ExecutionOriginCheck {
    fn default() -> Self {
        Self {
            expected_origins: strings(&["api"]),
            admin_source_networks: Vec::new(),
            join_ssh_sessions: true,
            session_timeout_secs: 43_200,
        }
    }
}

/// What an alert inside an expected admin access window becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowAction {
    /// Sent at `lowered_severity`, naming the window in `picket.details.admin_window`.
    Lower,
    /// Not sent (counted as `admin_window_suppressed`).
    Suppress,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// `mon` (or `monday`).
    #[serde(alias = "monday")]
    Mon,
    /// `tue` (or `tuesday`).
    #[serde(alias = "tuesday")]
    Tue,
    /// `wed` (or `wednesday`).
    #[serde(alias = "wednesday")]
    Wed,
    /// `thu` (or `thursday`).
    #[serde(alias = "thursday")]
    Thu,
    /// `fri` (or `friday`).
    #[serde(alias = "friday")]
    Fri,
    /// `sat` (or `saturday`).
    #[serde(alias = "saturday")]
    Sat,
    /// `sun` (or `sunday`).
    #[serde(alias = "sunday")]
    Sun,
}

/// `[analytics.an0906.expected_admin_access_window]`: `ExpectedAdminAccessWindow`, when
/// connection audits are expected (maintenance windows). Decided on the event's own
/// `@timestamp`. Time zones are fixed UTC offsets (`"UTC"`, `"+02:00"`, `"-05:30"`): no
/// time-zone database, so a zone with daylight saving time needs its offset changed
/// twice a year (or two windows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpectedAdminAccessWindow {
    /// `lower` or `suppress`.
    pub action: WindowAction,
    /// The severity a lowered alert gets (never higher than it had).
    pub lowered_severity: Severity,
    /// Time zone of recurring windows that name none.
    pub time_zone: String,
    /// Recurring windows (`[[...windows]]`).
    pub windows: Vec<RecurringWindow>,
    /// One-off date ranges (`[[...ranges]]`).
    pub ranges: Vec<DateRange>,
}

impl Default for ExpectedAdminAccessWindow {
    fn default() -> Self {
        Self {
            action: WindowAction::Lower,
            lowered_severity: Severity::Low,
            time_zone: "UTC".into(),
            windows: Vec::new(),
            ranges: Vec::new(),
        }
    }
}

/// A weekly window: `start` to `end` (`"HH:MM"`, 24-hour) on each of `weekdays`. A
/// window whose end is not after its start wraps midnight: `sat` 22:00 to 02:00 runs
/// from Saturday 22:00 to Sunday 02:00 (the weekday is the day it starts). `end =
/// "24:00"` is the end of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurringWindow {
    /// Named in alerts; unset: `windows[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Days it starts on; empty: every day.
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    /// `"HH:MM"`.
    pub start: String,
    /// `"HH:MM"` (or `"24:00"`).
    pub end: String,
    /// A fixed offset; unset: the section's `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A one-off window, `from` (inclusive) to `to` (exclusive), RFC 3339 date-times with
/// their offset (`"2025-03-01T20:00:00+01:00"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// Named in alerts; unset: `ranges[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
}

/// `[analytics.an0907]`: socket and session queries on routers, switches and firewalls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct An0907Config {
    /// Run AN0907 on network-device log events (`observer.type` `router`, `switch`,
    /// `firewall`, `network`) and on SNMP queries run on hosts.
    pub enabled: bool,
    /// Severity of a plain match.
    pub severity: Severity,
    /// `CommandPatternList`: device CLI commands.
    pub command_pattern_list: DeviceCommandPatternList,
    /// `PrivilegedUserCheck`.
    pub privileged_user_check: PrivilegedUserCheck,
    /// SNMP queries of the connection tables, run on any host (CommandPatternList too).
    pub snmp: SnmpQueries,
    /// Several distinct discovery commands in a short time.
    pub frequency: CommandFrequency,
}

impl Default for An0907Config {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Low,
            command_pattern_list: DeviceCommandPatternList::default(),
            privileged_user_check: PrivilegedUserCheck::default(),
            snmp: SnmpQueries::default(),
            frequency: CommandFrequency::default(),
        }
    }
}

/// `[analytics.an0907.command_pattern_list]`: `CommandPatternList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceCommandPatternList {
    /// Commands as words. A typed word matches a pattern word it equals or abbreviates
    /// (a prefix at least `min_abbreviation_chars` long, as IOS accepts `sh ip soc`);
    /// more words may follow, and so may a `| include ...` filter. A last word `$` means
    /// no more words may follow. A leading `do` (IOS configuration mode) is skipped.
    pub patterns: Vec<String>,
    /// Shortest abbreviation of a pattern word; shorter words must be typed in full.
    pub min_abbreviation_chars: u32,
    /// Case-insensitive regexes on the command line, for anything else.
    pub regexes: Vec<String>,
}

impl Default for DeviceCommandPatternList {
    fn default() -> Self {
        Self {
            patterns: strings(&[
                // Cisco IOS / IOS XE
                "show ip sockets",
                "show tcp",
                "show udp",
                "show users",
                "show sessions",
                "show ssh $",
                "show control-plane host open-ports",
                "who",
                "where",
                // Cisco ASA
                "show conn",
                "show local-host",
                "show asp table socket",
                "show ssh sessions",
                // Cisco NX-OS
                "show sockets connection",
                "show ssh session",
                // Juniper Junos
                "show system connections",
                "show system users",
                // Arista EOS (show users as above; the Linux shell through bash)
                "bash netstat",
                "bash ss",
                "bash sudo netstat",
                "bash sudo ss",
            ]),
            min_abbreviation_chars: 2,
            regexes: Vec::new(),
        }
    }
}

/// Whose commands AN0907 watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceUserScope {
    /// Everyone but administrators (DET0320's default).
    NonAdmin,
    /// Everyone, administrators included.
    All,
}

/// `[analytics.an0907.privileged_user_check]`: `PrivilegedUserCheck`. An administrator
/// has a privilege level of at least `admin_privilege_level`, or is a listed user, or a
/// member of a listed group (`picket.user_groups`). A command with no privilege level is
/// in scope: unknown is not admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivilegedUserCheck {
    /// `non_admin` or `all`.
    pub scope: DeviceUserScope,
    /// Privilege levels from this up are administrators (Cisco: 15).
    pub admin_privilege_level: u8,
    /// Administrators by name (case-insensitive).
    pub admin_users: Vec<String>,
    /// Members of these groups are administrators (case-insensitive).
    pub admin_groups: Vec<String>,
}

impl Default for PrivilegedUserCheck {
    fn default() -> Self {
        Self {
            scope: DeviceUserScope::NonAdmin,
            admin_privilege_level: 15,
            admin_users: Vec::new(),
            admin_groups: Vec::new(),
        }
    }
}

/// `[analytics.an0907.snmp]`: SNMP queries of the connection tables, on host process
/// starts of any OS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnmpQueries {
    /// Watch SNMP tools.
    pub enabled: bool,
    /// The tools (name globs; `.exe` is ignored).
    pub tools: Vec<String>,
    /// Table OIDs: an argument naming one, or anything under it, counts (with or without
    /// the leading dot, or as `iso.3.6...`).
    pub oids: Vec<String>,
    /// MIB object names that count (with or without a `MODULE::` prefix or an instance
    /// suffix): tables, entries, columns.
    pub mib_names: Vec<String>,
    /// A walk (`snmpwalk`, `snmpbulkwalk`, `snmptable`) of a subtree holding a watched
    /// table (`1.3.6.1.2.1.6`, `tcp`, `mib-2`, or no OID at all, which walks mib-2)
    /// counts too.
    pub walk_ancestors: bool,
}

impl Default for SnmpQueries {
    fn default() -> Self {
        Self {
            enabled: true,
            tools: strings(&[
                "snmpwalk",
                "snmpbulkwalk",
                "snmpget",
                "snmpgetnext",
                "snmpbulkget",
                "snmptable",
            ]),
            oids: strings(&[
                "1.3.6.1.2.1.6.13",
                "1.3.6.1.2.1.6.19",
                "1.3.6.1.2.1.6.20",
                "1.3.6.1.2.1.7.5",
                "1.3.6.1.2.1.7.7",
            ]),
            mib_names: strings(&[
                "tcpConnTable",
                "tcpConnEntry",
                "tcpConnState",
                "tcpConnLocalAddress",
                "tcpConnLocalPort",
                "tcpConnRemAddress",
                "tcpConnRemPort",
                "tcpConnectionTable",
                "tcpConnectionEntry",
                "tcpConnectionState",
                "tcpConnectionProcess",
                "tcpListenerTable",
                "tcpListenerEntry",
                "tcpListenerProcess",
                "udpTable",
                "udpEntry",
                "udpLocalAddress",
                "udpLocalPort",
                "udpEndpointTable",
                "udpEndpointEntry",
                "udpEndpointProcess",
            ]),
            walk_ancestors: true,
        }
    }
}

/// `[analytics.an0907.frequency]`: several distinct discovery commands (distinct matched
/// patterns) by one user on one device within a window raise the last alert's severity
/// and attach the earlier commands as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandFrequency {
    /// Distinct patterns that raise severity; 0 turns it off.
    pub distinct_commands: u32,
    /// ... within this many seconds.
    pub window_secs: u64,
    /// The raised severity.
    pub severity: Severity,
    /// Per product (`observer.product`, case-insensitive): its own count and window.
    /// Like a list, a `products` table given replaces the default one (repeat `ASA` to
    /// keep it).
    pub products: BTreeMap<String, FrequencyOverride>,
}

impl Default for CommandFrequency {
    fn default() -> Self {
        let mut products = BTreeMap::new();
        products.insert(
            "ASA".to_string(),
            FrequencyOverride {
                distinct_commands: 7,
                window_secs: 300,
            },
        );
        Self {
            distinct_commands: 4,
            window_secs: 300,
            severity: Severity::High,
            products,
        }
    }
}

/// One product's frequency threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyOverride {
    /// Distinct patterns; 0 turns it off for the product.
    pub distinct_commands: u32,
    /// Seconds.
    pub window_secs: u64,
}

fn non_empty(field: &str, list: &[String], problems: &mut Problems) {
    for (i, item) in list.iter().enumerate() {
        if item.trim().is_empty() {
            problems.push((
                format!("{field}[{i}]"),
                "expected a name or pattern, found an empty string".into(),
            ));
        }
    }
}

fn frequency_range(field: &str, count: u32, window_secs: u64, problems: &mut Problems) {
    if count == 1 || count > 1_000 {
        problems.push((
            format!("{field}.distinct_commands"),
            format!("expected 0 (off) or 2 to 1000 distinct commands, found {count}"),
        ));
    }
    if count > 0 && !(1..=86_400).contains(&window_secs) {
        problems.push((
            format!("{field}.window_secs"),
            format!("expected 1 to 86400 seconds, found {window_secs}"),
        ));
    }
}

impl An0906Config {
    pub(crate) fn check_values(&self, problems: &mut Problems) {
        let f = "analytics.an0906.command_list";
        let c = &self.command_list;
        non_empty(
            &format!("{f}.esxcli_commands"),
            &c.esxcli_commands,
            problems,
        );
        non_empty(&format!("{f}.esxcli_tools"), &c.esxcli_tools, problems);
        non_empty(&format!("{f}.commands"), &c.commands, problems);
        for (i, item) in c.commands.iter().enumerate() {
            if item.split_whitespace().count() > 2 {
                problems.push((
                    format!("{f}.commands[{i}]"),
                    format!("expected a name and at most one flag (\"lsof -i\"), found {item:?}"),
                ));
            }
        }
        let f = "analytics.an0906.execution_origin_check";
        let o = &self.execution_origin_check;
        for (i, origin) in o.expected_origins.iter().enumerate() {
            if !ORIGINS.contains(&origin.as_str()) {
                problems.push((
                    format!("{f}.expected_origins[{i}]"),
                    format!(
                        "expected one of \"ssh\", \"dcui\", \"api\", \"shell\", \"console\", found {origin:?}"
                    ),
                ));
            }
        }
        if !(60..=604_800).contains(&o.session_timeout_secs) {
            problems.push((
                format!("{f}.session_timeout_secs"),
                format!(
                    "expected 60 to 604800 seconds (a week), found {}",
                    o.session_timeout_secs
                ),
            ));
        }
    }
}

impl An0907Config {
    pub(crate) fn check_values(&self, problems: &mut Problems) {
        let f = "analytics.an0907.command_pattern_list";
        let c = &self.command_pattern_list;
        non_empty(&format!("{f}.patterns"), &c.patterns, problems);
        for (i, p) in c.patterns.iter().enumerate() {
            let words: Vec<&str> = p.split_whitespace().collect();
            if words.iter().rev().skip(1).any(|w| *w == "$") || words == ["$"] {
                problems.push((
                    format!("{f}.patterns[{i}]"),
                    format!("expected words with at most a final \"$\", found {p:?}"),
                ));
            }
            if p.contains('|') {
                problems.push((
                    format!("{f}.patterns[{i}]"),
                    format!("expected a command without a \"|\" filter, found {p:?}"),
                ));
            }
        }
        if !(1..=16).contains(&c.min_abbreviation_chars) {
            problems.push((
                format!("{f}.min_abbreviation_chars"),
                format!(
                    "expected 1 to 16 characters, found {}",
                    c.min_abbreviation_chars
                ),
            ));
        }
        let f = "analytics.an0907.privileged_user_check";
        let p = &self.privileged_user_check;
        if p.admin_privilege_level == 0 {
            problems.push((
                format!("{f}.admin_privilege_level"),
                "expected a level from 1 (0 would make every user an administrator)".into(),
            ));
        }
        non_empty(&format!("{f}.admin_users"), &p.admin_users, problems);
        non_empty(&format!("{f}.admin_groups"), &p.admin_groups, problems);
        let f = "analytics.an0907.snmp";
        let s = &self.snmp;
        non_empty(&format!("{f}.tools"), &s.tools, problems);
        non_empty(&format!("{f}.mib_names"), &s.mib_names, problems);
        for (i, oid) in s.oids.iter().enumerate() {
            let o = oid.trim_start_matches('.');
            let ok = !o.is_empty()
                && o.split('.')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                problems.push((
                    format!("{f}.oids[{i}]"),
                    format!("expected a numeric OID such as \"1.3.6.1.2.1.6.13\", found {oid:?}"),
                ));
            }
        }
        let f = "analytics.an0907.frequency";
        let q = &self.frequency;
        frequency_range(f, q.distinct_commands, q.window_secs, problems);
        for (name, o) in &q.products {
            if name.trim().is_empty() {
                problems.push((
                    format!("{f}.products"),
                    "expected a product name, found an empty one".into(),
                ));
            }
            frequency_range(
                &format!("{f}.products.{name}"),
                o.distinct_commands,
                o.window_secs,
                problems,
            );
        }
    }
}

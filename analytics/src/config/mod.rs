//! `[analytics]` and `[rules]` (the analytics room): DET0320's analytics
//! AN0903/AN0904/AN0905 (host processes), AN0906/AN0907 (ESXi and network-device logs,
//! in [`devices`]) and AN0908 (cloud API calls and cloud CLIs, in [`cloud`]) with their
//! mutable elements, and the Elastic rules to run.
//!
//! (Over 600 lines: every mutable element of three host analytics, each with its
//! defaults, documentation and value checks, side by side.)
//!
//! What needs compiling (regexes, keyword automata) is checked by compiling it, once, in
//! [`crate::Analytics::build`]; [`AnalyticsConfig::validate`] is that build. The value
//! checks here are the part no compiler makes.
//!
//! Every mutable element DET0320 names is one sub-table whose key is the element's name in
//! snake case (`UtilityNameList` → `[analytics.an0904.utility_name_list]`), so an alert's
//! `picket.mutable_element` leads straight to the setting that fired. The TimeWindow
//! correlation is AN0903's element, offered to all three platforms as
//! `[analytics.time_window]`.
//!
//! Name lists (`utilities`, `names`, `terminal_apps`, ...) take case-insensitive glob
//! patterns (`*` any run, `?` one character); regex lists take Rust `regex` syntax and
//! match case-insensitively.

pub mod cloud;
pub mod devices;
mod rules;

pub use cloud::{
    An0908Config, ApiList, ApiOrigin, BurstQueryThreshold, CloudCliCommands, FailedCalls,
    OriginClasses, ServicePrincipalAllowlist,
};
pub use devices::{
    An0906Config, An0907Config, CommandFrequency, DateRange, DeviceCommandPatternList,
    DeviceUserScope, EsxiCommandList, ExecutionOriginCheck, ExpectedAdminAccessWindow,
    FrequencyOverride, PrivilegedUserCheck, RecurringWindow, SnmpQueries, Weekday, WindowAction,
};
pub use rules::{RuleFile, RulesConfig, SigmaConfig};

use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use serde::{Deserialize, Serialize};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `[analytics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Identical alerts (same rule, mutable element, matched value, host, user and
    /// command line) within this many seconds fold into one: the first is sent at once, and when the window
    /// closes one summary alert carries `picket.count`, `first_seen` and `last_seen`.
    /// 0 turns folding off (every alert is sent).
    pub fold_window_secs: u64,
    /// `[analytics.an0903]`: Windows.
    pub an0903: An0903Config,
    /// `[analytics.an0904]`: Linux.
    pub an0904: An0904Config,
    /// `[analytics.an0905]`: macOS.
    pub an0905: An0905Config,
    /// `[analytics.an0906]`: VMware ESXi (shell and API logs).
    pub an0906: An0906Config,
    /// `[analytics.an0907]`: network devices (CLI accounting) and SNMP queries.
    pub an0907: An0907Config,
    /// `[analytics.an0908]`: IaaS (cloud API calls and the cloud CLIs on hosts).
    pub an0908: An0908Config,
    /// `[analytics.time_window]`: discovery followed by lateral movement or credential
    /// access (AN0903's TimeWindow, for every platform).
    pub time_window: TimeWindowConfig,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            fold_window_secs: 60,
            an0903: An0903Config::default(),
            an0904: An0904Config::default(),
            an0905: An0905Config::default(),
            an0906: An0906Config::default(),
            an0907: An0907Config::default(),
            an0908: An0908Config::default(),
            time_window: TimeWindowConfig::default(),
        }
    }
}

/// `[analytics.an0903]`: command-line discovery of network connections on Windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct An0903Config {
    /// Run AN0903 on Windows events.
    pub enabled: bool,
    /// Severity of a plain match.
    pub severity: Severity,
    /// `CommandPatternList`.
    pub command_pattern_list: CommandPatternList,
    /// `SuspiciousParentProcesses`.
    pub suspicious_parent_processes: SuspiciousParentProcesses,
    /// `WmiQueries`: WMI operations on the network-connection classes, whatever the
    /// client process is called.
    pub wmi_queries: WmiQueries,
}

impl Default for An0903Config {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Low,
            command_pattern_list: CommandPatternList::default(),
            suspicious_parent_processes: SuspiciousParentProcesses::default(),
            wmi_queries: WmiQueries::default(),
        }
    }
}

/// `[analytics.an0903.wmi_queries]`: AN0903 by behaviour. A `wmi-operation` event (a
/// `Microsoft-Windows-WMI-Activity` operation, event 11: live from ETW or replayed from
/// EVTX and Winlogbeat) that names one of `classes` raises AN0903 for its client
/// process, whatever that process is called (`Get-NetTCPConnection`,
/// `Get-CimInstance MSFT_NetTCPConnection`, `wmic netuse` all reach these classes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WmiQueries {
    /// Raise on WMI operations.
    pub enabled: bool,
    /// WMI class names (case-insensitive, exact).
    pub classes: Vec<String>,
}

impl Default for WmiQueries {
    fn default() -> Self {
        Self {
            enabled: true,
            classes: strings(&[
                "MSFT_NetTCPConnection",
                "MSFT_NetUDPEndpoint",
                "Win32_NetworkConnection",
                "Win32_ServerConnection",
                "Win32_ServerSession",
            ]),
        }
    }
}

/// `[analytics.an0903.command_pattern_list]`: `CommandPatternList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandPatternList {
    /// Keywords matched case-insensitively as whole words in the normalised command line
    /// (lower case, `"` and `^` removed, whitespace collapsed, `.exe` dropped from words)
    /// and in `process.pe.original_file_name`. Several words must follow each other.
    pub keywords: Vec<String>,
    /// Case-insensitive regexes matched against the command line with `"` and `^` removed
    /// and whitespace collapsed (case and `.exe` kept).
    pub regexes: Vec<String>,
    /// Decode PowerShell `-EncodedCommand` payloads (UTF-16LE base64) and match them too.
    pub decode_encoded_powershell: bool,
}

impl Default for CommandPatternList {
    fn default() -> Self {
        Self {
            keywords: strings(&[
                "netstat",
                "get-nettcpconnection",
                "get-netudpendpoint",
                "win32_networkconnection",
                "msft_nettcpconnection",
                "msft_netudpendpoint",
                "wmic netuse",
                "qwinsta",
                "quser",
                "query session",
                "query user",
                "sharpview",
                "get-netsession",
                "get-netloggedon",
            ]),
            regexes: strings(&[
                r"\bnet1?(\.exe)?\s+(use|sessions?|config|view)\b",
                r"\bnbtstat(\.exe)?\s+(.*\s)?[-/]s\b",
            ]),
            decode_encoded_powershell: true,
        }
    }
}

/// `[analytics.an0903.suspicious_parent_processes]`: `SuspiciousParentProcesses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuspiciousParentProcesses {
    /// Process names (globs) that should never launch discovery.
    pub names: Vec<String>,
    /// Look at the whole ancestor chain (`winword.exe → cmd.exe → netstat.exe`), not just
    /// the parent.
    pub check_ancestors: bool,
    /// Severity when one of them is the parent or an ancestor.
    pub severity: Severity,
}

impl Default for SuspiciousParentProcesses {
    fn default() -> Self {
        Self {
            names: strings(&[
                "winword.exe",
                "excel.exe",
                "powerpnt.exe",
                "outlook.exe",
                "msaccess.exe",
                "mspub.exe",
                "onenote.exe",
                "visio.exe",
                "wscript.exe",
                "cscript.exe",
                "mshta.exe",
                "w3wp.exe",
                "httpd.exe",
                "nginx.exe",
                "tomcat*.exe",
                "php-cgi.exe",
                "sqlservr.exe",
                "sqlagent.exe",
                "postgres.exe",
                "mysqld.exe",
            ]),
            check_ancestors: true,
            severity: Severity::High,
        }
    }
}

/// Which users AN0904 watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserScope {
    /// Everyone but administrators: regular users and service accounts (DET0320's
    /// default). A user Picket cannot classify (no uid) counts as in scope.
    NonAdmin,
    /// Service accounts only.
    ServiceAccounts,
    /// Every user, root included.
    All,
}

/// `[analytics.an0904]`: network-connection discovery on Linux.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct An0904Config {
    /// Run AN0904 on Linux events.
    pub enabled: bool,
    /// Severity of a plain match.
    pub severity: Severity,
    /// `UtilityNameList`.
    pub utility_name_list: UtilityNameList,
    /// `UserContextScope`.
    pub user_context_scope: UserContextScope,
    /// `ExecutionFrequencyThreshold`.
    pub execution_frequency_threshold: ExecutionFrequencyThreshold,
    /// `ConnectionTableReads`: the same analytic on what a process does rather than
    /// what it is called.
    pub connection_table_reads: ConnectionTableReads,
}

impl Default for An0904Config {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Low,
            utility_name_list: UtilityNameList::default(),
            user_context_scope: UserContextScope::default(),
            execution_frequency_threshold: ExecutionFrequencyThreshold::default(),
            connection_table_reads: ConnectionTableReads::default(),
        }
    }
}

/// `[analytics.an0904.connection_table_reads]`: AN0904 by behaviour. The Linux
/// collector reports every read of the system's connection tables (a `/proc/net` table
/// or a NETLINK_SOCK_DIAG dump) as a `connection-table-read` event, whatever the
/// reading program is called; a read of one of `tables` by a user in scope
/// (UserContextScope) raises AN0904 and counts towards ExecutionFrequencyThreshold
/// (once per process). Interface and route files (`/proc/net/dev`, `/proc/net/route`)
/// are configuration discovery (T1016), not connection listing: the collector does not
/// hook them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionTableReads {
    /// Raise on connection-table reads.
    pub enabled: bool,
    /// The tables that count, in `/proc/net` names (`tcp6`); sock_diag requests are
    /// named the same way from their family and protocol (`AF_INET6` + TCP → `tcp6`,
    /// `AF_UNIX` → `unix`).
    pub tables: Vec<String>,
    /// Programs whose reads never raise (monitoring agents): by the path of the file
    /// the process runs, as the kernel has it (`/proc/PID/exe`), with an optional
    /// SHA-256 that must match too. Exact paths, not patterns: a user cannot put a
    /// program at a root-owned path, but could at one a pattern also matches.
    pub allowlist: Vec<AllowedReader>,
}

/// One entry of `[analytics.an0904.connection_table_reads] allowlist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedReader {
    /// Absolute path of the executable (`/usr/bin/prometheus-node-exporter`).
    pub executable: String,
    /// Its SHA-256 (64 hex digits). When given, a read is allowlisted only when the
    /// collector hashed the running file and the hash matches; a file it could not hash
    /// (the process was already gone) does not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl AllowedReader {
    fn path(p: &str) -> AllowedReader {
        AllowedReader {
            executable: p.into(),
            sha256: None,
        }
    }
}

impl Default for ConnectionTableReads {
    fn default() -> Self {
        Self {
            enabled: true,
            tables: strings(&[
                "tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet",
            ]),
            allowlist: [
                // Prometheus node exporter: Debian's package, and the upstream tarball.
                "/usr/bin/prometheus-node-exporter",
                "/usr/local/bin/node_exporter",
                "/usr/sbin/collectd",
                "/usr/bin/telegraf",
                "/usr/sbin/conntrack",
                "/usr/sbin/zabbix_agentd",
                "/usr/sbin/netdata",
            ]
            .into_iter()
            .map(AllowedReader::path)
            .collect(),
        }
    }
}

/// `[analytics.an0904.utility_name_list]`: `UtilityNameList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UtilityNameList {
    /// Utilities: a name glob, optionally followed by one flag that must be present
    /// (`"lsof -i"` matches `lsof -i`, `lsof -i4`, `lsof -nPi`, not `lsof /var/log/x`).
    /// `busybox`/`toybox` applets count under their applet name.
    pub utilities: Vec<String>,
    /// Programs (globs) that count when their command line reads a `/proc/net` table.
    pub proc_net_readers: Vec<String>,
    /// The `/proc/net/<file>` tables that count (also via `/proc/self/net` and
    /// `/proc/<pid>/net`).
    pub proc_net_files: Vec<String>,
}

impl Default for UtilityNameList {
    fn default() -> Self {
        Self {
            utilities: strings(&[
                "netstat",
                "ss",
                "lsof -i",
                "who",
                "w",
                "last",
                "sockstat",
                "conntrack",
            ]),
            proc_net_readers: strings(&[
                "cat", "head", "tail", "less", "more", "awk", "gawk", "mawk", "grep", "egrep",
                "sed", "cut", "strings", "xxd", "od", "python*", "perl*", "ruby*", "php*", "node",
            ]),
            proc_net_files: strings(&["tcp", "tcp6", "udp", "udp6", "unix", "raw", "raw6"]),
        }
    }
}

/// `[analytics.an0904.user_context_scope]`: `UserContextScope`. Decided on the effective
/// user (`user.effective.*`, else `user.*`); the login uid is recorded in the alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserContextScope {
    /// `non_admin`, `service_accounts` or `all`.
    pub scope: UserScope,
    /// First uid of regular users (`UID_MIN` of `/etc/login.defs`); uids from 1 up to
    /// this are service accounts.
    pub uid_min: u32,
    /// Members of these groups are administrators (as is uid 0).
    pub admin_groups: Vec<String>,
    /// Accounts that are service accounts whatever their uid.
    pub service_account_names: Vec<String>,
    /// Login shells (globs) that mark a service account.
    pub service_shells: Vec<String>,
}

impl Default for UserContextScope {
    fn default() -> Self {
        Self {
            scope: UserScope::NonAdmin,
            uid_min: 1000,
            admin_groups: strings(&["sudo", "wheel", "admin"]),
            service_account_names: strings(&[
                "www-data", "nobody", "nginx", "apache", "httpd", "postgres", "mysql", "redis",
                "tomcat", "jenkins", "git",
            ]),
            service_shells: strings(&["*/nologin", "*/false"]),
        }
    }
}

/// `[analytics.an0904.execution_frequency_threshold]`: `ExecutionFrequencyThreshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionFrequencyThreshold {
    /// Executions by one user on one host that make a burst; 0 turns bursts off.
    pub count: u32,
    /// ... within this many seconds.
    pub window_secs: u64,
    /// Severity of the burst alert.
    pub severity: Severity,
}

impl Default for ExecutionFrequencyThreshold {
    fn default() -> Self {
        Self {
            count: 5,
            window_secs: 60,
            severity: Severity::High,
        }
    }
}

/// `[analytics.an0905]`: network-connection discovery on macOS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct An0905Config {
    /// Run AN0905 on macOS events.
    pub enabled: bool,
    /// Severity of a plain match (launched from Terminal.app or iTerm2).
    pub severity: Severity,
    /// `ShellCommandWatchlist`.
    pub shell_command_watchlist: ShellCommandWatchlist,
    /// `TerminalBinaryDenylist`.
    pub terminal_binary_denylist: TerminalBinaryDenylist,
}

impl Default for An0905Config {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Low,
            shell_command_watchlist: ShellCommandWatchlist::default(),
            terminal_binary_denylist: TerminalBinaryDenylist::default(),
        }
    }
}

/// `[analytics.an0905.shell_command_watchlist]`: `ShellCommandWatchlist`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShellCommandWatchlist {
    /// Commands: a name glob, optionally followed by one required flag (as in AN0904's
    /// `utilities`).
    pub commands: Vec<String>,
    /// AppleScript runners whose `do shell script "…"` text is checked against `commands`.
    pub applescript_hosts: Vec<String>,
    /// Automator processes (globs on ancestor name or path): a watched command below one
    /// of them is reported as issued through Automator.
    pub automator_apps: Vec<String>,
}

impl Default for ShellCommandWatchlist {
    fn default() -> Self {
        Self {
            commands: strings(&["lsof -i", "netstat", "nettop", "who", "last"]),
            applescript_hosts: strings(&["osascript"]),
            automator_apps: strings(&[
                "Automator",
                "Automator Runner",
                "Automator Application Stub",
                "automator",
                "*/Automator.app/*",
            ]),
        }
    }
}

/// `[analytics.an0905.terminal_binary_denylist]`: `TerminalBinaryDenylist`, decided from the
/// whole ancestor chain (`picket.ancestors`), not just the parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalBinaryDenylist {
    /// Terminal applications (globs on ancestor name or executable path). A watched command
    /// with none of them among its ancestors was launched by some other application.
    pub terminal_apps: Vec<String>,
    /// Severity when no terminal application is an ancestor.
    pub outside_terminal_severity: Severity,
    /// Applications (globs on ancestor name or path) that must never launch discovery.
    pub denylisted_apps: Vec<String>,
    /// Severity when one of them is an ancestor.
    pub denylisted_app_severity: Severity,
}

impl Default for TerminalBinaryDenylist {
    fn default() -> Self {
        Self {
            terminal_apps: strings(&["Terminal", "iTerm2", "*/Terminal.app/*", "*/iTerm.app/*"]),
            outside_terminal_severity: Severity::Medium,
            denylisted_apps: strings(&[
                "Microsoft Word",
                "Microsoft Excel",
                "Microsoft PowerPoint",
                "Microsoft Outlook",
                "Mail",
                "Safari",
                "Google Chrome*",
                "firefox",
                "Microsoft Edge*",
                "Preview",
                "*/Microsoft Word.app/*",
                "*/Microsoft Excel.app/*",
                "*/Microsoft PowerPoint.app/*",
                "*/Microsoft Outlook.app/*",
                "*/Mail.app/*",
                "*/Safari.app/*",
                "*/Google Chrome.app/*",
                "*/Firefox.app/*",
                "*/Microsoft Edge.app/*",
                "*/Preview.app/*",
            ]),
            denylisted_app_severity: Severity::High,
        }
    }
}

/// `[analytics.time_window]`: AN0903's `TimeWindow`, for every platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeWindowConfig {
    /// Correlate discovery with what follows it.
    pub enabled: bool,
    /// Platforms it runs on: `windows`, `linux`, `macos`.
    pub platforms: Vec<String>,
    /// A follow-up within this many seconds of a discovery alert by the same user on the
    /// same host gives one correlated alert.
    pub window_secs: u64,
    /// Severity of the correlated alert.
    pub severity: Severity,
    /// Lateral movement: case-insensitive regexes on the command line (with `"` and `^`
    /// removed and whitespace collapsed, as for `command_pattern_list.regexes`).
    pub lateral_movement_patterns: Vec<String>,
    /// Credential access: case-insensitive regexes on the command line (cleaned the same
    /// way).
    pub credential_access_patterns: Vec<String>,
}

impl Default for TimeWindowConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            platforms: strings(&["windows", "linux", "macos"]),
            window_secs: 900,
            severity: Severity::High,
            lateral_movement_patterns: strings(&[
                r"\bpsexe(c|svc)(64)?(\.exe)?\b",
                r"\bwmic(\.exe)?\b.*\s/node:",
                r"\bwinrs(\.exe)?\b",
                r"\binvoke-command\b.*\s-computername\b",
                r"\benter-pssession\b",
                r"\bnet1?(\.exe)?\s+use\s+\\\\[^\s\\]+\\[a-z]\$",
                r"\bnet1?(\.exe)?\s+use\s+\\\\[^\s\\]+\\admin\$",
                r"\bsc(\.exe)?\s+\\\\\S+\s+(create|config|start)\b",
                r"\bschtasks(\.exe)?\b.*\s/s\s",
                r"(^|[\s/])(ssh|scp)\s+\S",
            ]),
            credential_access_patterns: strings(&[
                r"\bprocdump(64)?(\.exe)?\b.*\blsass",
                r"\bcomsvcs(\.dll)?\b.*\bminidump\b",
                r"\breg(\.exe)?\s+save\s+hklm\\(sam|security|system)\b",
                r"\bvssadmin(\.exe)?\s+create\s+shadow\b",
                r"\bwmic(\.exe)?\s+shadowcopy\s+call\s+create\b",
                r"harddiskvolumeshadowcopy",
                r"\bntdsutil(\.exe)?\b.*\bifm\b",
                r"/etc/(g)?shadow\b",
            ]),
        }
    }
}

const PLATFORMS: [&str; 3] = ["windows", "linux", "macos"];

impl AnalyticsConfig {
    /// Semantic checks, appended as (field path, message): builds the analytics
    /// ([`crate::Analytics::build`]), which compiles every pattern once.
    pub fn validate(&self, problems: &mut Problems) {
        problems.extend(crate::Analytics::build(self).1);
    }

    /// The checks compiling does not make (ranges, empty names, name shapes).
    pub(crate) fn check_values(&self, problems: &mut Problems) {
        let mut push = |field: String, msg: String| problems.push((field, msg));
        let non_empty = |field: &str, list: &[String], push: &mut dyn FnMut(String, String)| {
            for (i, item) in list.iter().enumerate() {
                if item.trim().is_empty() {
                    push(
                        format!("{field}[{i}]"),
                        "expected a name or pattern, found an empty string".into(),
                    );
                }
            }
        };

        if self.fold_window_secs > 86_400 {
            push(
                "analytics.fold_window_secs".into(),
                format!(
                    "expected 0 to 86400 seconds, found {}",
                    self.fold_window_secs
                ),
            );
        }

        let c = &self.an0903.command_pattern_list;
        let f = "analytics.an0903.command_pattern_list";
        non_empty(&format!("{f}.keywords"), &c.keywords, &mut push);
        non_empty(
            "analytics.an0903.suspicious_parent_processes.names",
            &self.an0903.suspicious_parent_processes.names,
            &mut push,
        );

        let q = &self.an0903.wmi_queries;
        for (i, c) in q.classes.iter().enumerate() {
            let ok = c.contains('_')
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                && c.starts_with(|ch: char| ch.is_ascii_alphabetic());
            if !ok {
                push(
                    format!("analytics.an0903.wmi_queries.classes[{i}]"),
                    format!(
                        "expected a WMI class name such as \"MSFT_NetTCPConnection\", found {c:?}"
                    ),
                );
            }
        }

        let u = &self.an0904.utility_name_list;
        let f = "analytics.an0904.utility_name_list";
        non_empty(&format!("{f}.utilities"), &u.utilities, &mut push);
        for (i, item) in u.utilities.iter().enumerate() {
            if item.split_whitespace().count() > 2 {
                push(
                    format!("{f}.utilities[{i}]"),
                    format!("expected a name and at most one flag (\"lsof -i\"), found {item:?}"),
                );
            }
        }
        non_empty(
            &format!("{f}.proc_net_readers"),
            &u.proc_net_readers,
            &mut push,
        );
        for (i, item) in u.proc_net_files.iter().enumerate() {
            let ok = !item.is_empty()
                && item
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                push(
                    format!("{f}.proc_net_files[{i}]"),
                    format!("expected a /proc/net file name such as \"tcp6\", found {item:?}"),
                );
            }
        }
        let s = &self.an0904.user_context_scope;
        let f = "analytics.an0904.user_context_scope";
        if s.uid_min == 0 {
            push(
                format!("{f}.uid_min"),
                "expected a uid above 0 (uid 0 is root)".into(),
            );
        }
        non_empty(&format!("{f}.admin_groups"), &s.admin_groups, &mut push);
        non_empty(
            &format!("{f}.service_account_names"),
            &s.service_account_names,
            &mut push,
        );
        non_empty(&format!("{f}.service_shells"), &s.service_shells, &mut push);
        let t = &self.an0904.execution_frequency_threshold;
        let f = "analytics.an0904.execution_frequency_threshold";
        if t.count == 1 || t.count > 100_000 {
            push(
                format!("{f}.count"),
                format!(
                    "expected 0 (off) or 2 to 100000 executions, found {}",
                    t.count
                ),
            );
        }
        if t.count > 0 && !(1..=86_400).contains(&t.window_secs) {
            push(
                format!("{f}.window_secs"),
                format!("expected 1 to 86400 seconds, found {}", t.window_secs),
            );
        }

        let r = &self.an0904.connection_table_reads;
        let f = "analytics.an0904.connection_table_reads";
        for (i, t) in r.tables.iter().enumerate() {
            let ok = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                push(
                    format!("{f}.tables[{i}]"),
                    format!("expected a table name such as \"tcp6\" or \"unix\", found {t:?}"),
                );
            }
        }
        for (i, a) in r.allowlist.iter().enumerate() {
            if !a.executable.starts_with('/') || a.executable.contains(['*', '?']) {
                push(
                    format!("{f}.allowlist[{i}].executable"),
                    format!(
                        "expected the absolute path of an executable (no patterns), found {:?}",
                        a.executable
                    ),
                );
            }
            if let Some(h) = &a.sha256 {
                if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    push(
                        format!("{f}.allowlist[{i}].sha256"),
                        format!("expected 64 hexadecimal digits (a SHA-256), found {h:?}"),
                    );
                }
            }
        }

        let w = &self.an0905.shell_command_watchlist;
        let f = "analytics.an0905.shell_command_watchlist";
        non_empty(&format!("{f}.commands"), &w.commands, &mut push);
        for (i, item) in w.commands.iter().enumerate() {
            if item.split_whitespace().count() > 2 {
                push(
                    format!("{f}.commands[{i}]"),
                    format!("expected a name and at most one flag (\"lsof -i\"), found {item:?}"),
                );
            }
        }
        non_empty(
            &format!("{f}.applescript_hosts"),
            &w.applescript_hosts,
            &mut push,
        );
        non_empty(&format!("{f}.automator_apps"), &w.automator_apps, &mut push);
        let d = &self.an0905.terminal_binary_denylist;
        let f = "analytics.an0905.terminal_binary_denylist";
        non_empty(&format!("{f}.terminal_apps"), &d.terminal_apps, &mut push);
        non_empty(
            &format!("{f}.denylisted_apps"),
            &d.denylisted_apps,
            &mut push,
        );

        let t = &self.time_window;
        let f = "analytics.time_window";
        for (i, p) in t.platforms.iter().enumerate() {
            if !PLATFORMS.contains(&p.as_str()) {
                push(
                    format!("{f}.platforms[{i}]"),
                    format!("expected \"windows\", \"linux\" or \"macos\", found {p:?}"),
                );
            }
        }
        if !(1..=86_400).contains(&t.window_secs) {
            push(
                format!("{f}.window_secs"),
                format!("expected 1 to 86400 seconds, found {}", t.window_secs),
            );
        }

        self.an0906.check_values(problems);
        self.an0907.check_values(problems);
        self.an0908.check_values(problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::config::{ConfigErrors, ConfigRoot};

    /// A root with only `[analytics]`, to parse sections through the real loader.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Config {
        analytics: AnalyticsConfig,
    }

    impl ConfigRoot for Config {
        type Built = ();
        fn build(&self) -> Result<(), Problems> {
            let mut problems = Vec::new();
            self.analytics.validate(&mut problems);
            problems.is_empty().then_some(()).ok_or(problems)
        }
    }

    impl Config {
        fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
            sensor_core::config::from_toml_str(text, origin)
        }
    }

    #[test]
    fn default_analytics_config_is_valid() {
        let mut problems = Vec::new();
        AnalyticsConfig::default().validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn bad_analytics_settings_are_located() {
        let text = "[analytics.an0903.command_pattern_list]\nregexes = ['ok', '(unclosed']\n\n[analytics.an0904.user_context_scope]\nscope = \"non_admin\"\nuid_min = 0\n\n[analytics.time_window]\nplatforms = [\"linux\", \"plan9\"]\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("three problems");
        let got: Vec<(usize, &str)> = errs.0.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "analytics.an0903.command_pattern_list.regexes[1]"),
                (6, "analytics.an0904.user_context_scope.uid_min"),
                (9, "analytics.time_window.platforms[1]"),
            ],
            "{errs}"
        );
    }

    #[test]
    fn the_embedded_default_file_has_the_default_analytics() {
        /// The whole file, reading only `[analytics]`.
        #[derive(Deserialize)]
        struct File {
            analytics: AnalyticsConfig,
        }
        let text = include_str!("../../../packaging/config/picket.toml");
        let file: File = toml::from_str(text).expect("the default file parses");
        assert_eq!(file.analytics, AnalyticsConfig::default());
    }

    #[test]
    fn connection_table_reads_parse_and_bad_entries_are_located() {
        let text = r#"
[analytics.an0904.connection_table_reads]
tables = ["tcp", "unix"]

[[analytics.an0904.connection_table_reads.allowlist]]
executable = "/opt/agent/bin/agent"
sha256 = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

[[analytics.an0904.connection_table_reads.allowlist]]
executable = "/usr/sbin/collectd"
"#;
        let c = Config::from_toml_str(text, "t.toml").expect("valid");
        let r = &c.analytics.an0904.connection_table_reads;
        assert!(r.enabled);
        assert_eq!(r.tables, vec!["tcp", "unix"]);
        assert_eq!(r.allowlist.len(), 2);
        assert_eq!(r.allowlist[1].sha256, None);

        let bad = r#"
[analytics.an0904.connection_table_reads]
tables = ["tcp", "/proc/net/tcp"]

[[analytics.an0904.connection_table_reads.allowlist]]
executable = "node_exporter"

[[analytics.an0904.connection_table_reads.allowlist]]
executable = "/usr/bin/telegraf"
sha256 = "abc"
"#;
        let errs = Config::from_toml_str(bad, "t.toml").expect_err("three problems");
        let got: Vec<(usize, &str)> = errs.0.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (3, "analytics.an0904.connection_table_reads.tables[1]"),
                (
                    6,
                    "analytics.an0904.connection_table_reads.allowlist[0].executable"
                ),
                (
                    10,
                    "analytics.an0904.connection_table_reads.allowlist[1].sha256"
                ),
            ],
            "{errs}"
        );
        let unknown = "[[analytics.an0904.connection_table_reads.allowlist]]\nexecutable = \"/x\"\nhash = \"y\"\n";
        let errs = Config::from_toml_str(unknown, "t.toml").expect_err("unknown field");
        assert!(errs.to_string().contains("hash"), "{errs}");
        let defaults = ConnectionTableReads::default();
        assert!(
            !defaults.tables.iter().any(|t| t == "dev" || t == "route"),
            "T1016 is not AN0904"
        );
        assert!(defaults
            .allowlist
            .iter()
            .any(|a| a.executable == "/usr/bin/prometheus-node-exporter"));
    }

    #[test]
    fn device_analytics_tables_parse() {
        let text = r#"
[analytics.an0906.execution_origin_check]
expected_origins = ["api", "dcui"]
admin_source_networks = ["10.10.0.0/16", "2001:db8:a::/48", "192.0.2.7"]

[analytics.an0906.expected_admin_access_window]
action = "suppress"
time_zone = "+02:00"

[[analytics.an0906.expected_admin_access_window.windows]]
name = "Saturday patching"
weekdays = ["sat", "sunday"]
start = "22:00"
end = "02:00"

[[analytics.an0906.expected_admin_access_window.ranges]]
from = "2025-03-01T20:00:00+01:00"
to = "2025-03-02T06:00:00+01:00"

[analytics.an0907.privileged_user_check]
scope = "all"
admin_privilege_level = 10

[analytics.an0907.frequency.products.NX-OS]
distinct_commands = 5
window_secs = 120
"#;
        let c = Config::from_toml_str(text, "t.toml").expect("valid");
        let w = &c.analytics.an0906.expected_admin_access_window;
        assert_eq!(w.action, WindowAction::Suppress);
        assert_eq!(w.windows[0].weekdays, [Weekday::Sat, Weekday::Sun]);
        assert_eq!(w.windows[0].time_zone, None);
        assert_eq!(w.ranges[0].name, None);
        let f = &c.analytics.an0907.frequency;
        // Like a list, a products table given replaces the default one (ASA included).
        assert_eq!(f.products.len(), 1, "{:?}", f.products);
        assert_eq!(f.products["NX-OS"].distinct_commands, 5);
        assert_eq!(
            c.analytics.an0907.privileged_user_check.scope,
            DeviceUserScope::All
        );
        // It round-trips through its serialized form.
        let again: Config =
            Config::from_toml_str(&sensor_core::config::to_toml(&c), "<serialized>")
                .expect("serialized parses");
        assert_eq!(again, c);
    }

    #[test]
    fn bad_device_settings_are_located() {
        let text = r#"[analytics.an0906.execution_origin_check]
expected_origins = ["api", "telnet"]
admin_source_networks = ["10.0.0.0/33"]

[analytics.an0906.expected_admin_access_window]
time_zone = "Europe/Berlin"

[[analytics.an0906.expected_admin_access_window.windows]]
start = "22:00"
end = "2am"

[analytics.an0907.command_pattern_list]
regexes = ['show', '(unclosed']

[analytics.an0907.snmp]
oids = ["tcpConnTable"]

[analytics.an0907.frequency]
distinct_commands = 1
"#;
        let errs = Config::from_toml_str(text, "t.toml").expect_err("problems");
        let got: Vec<(usize, &str)> = errs.0.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (
                    2,
                    "analytics.an0906.execution_origin_check.expected_origins[1]"
                ),
                (
                    3,
                    "analytics.an0906.execution_origin_check.admin_source_networks[0]"
                ),
                (6, "analytics.an0906.expected_admin_access_window.time_zone"),
                (
                    10,
                    "analytics.an0906.expected_admin_access_window.windows[0].end"
                ),
                (13, "analytics.an0907.command_pattern_list.regexes[1]"),
                (16, "analytics.an0907.snmp.oids[0]"),
                (19, "analytics.an0907.frequency.distinct_commands"),
            ],
            "{errs}"
        );
        let tz = errs.0.iter().find(|e| e.field.ends_with("time_zone"));
        assert!(
            tz.is_some_and(|e| e.message.contains("no time-zone database")),
            "{errs}"
        );
    }

    #[test]
    fn unknown_window_keys_and_weekdays_are_typed_errors() {
        let text = "[[analytics.an0906.expected_admin_access_window.windows]]\nstart = \"22:00\"\nend = \"23:00\"\nweekdays = [\"caturday\"]\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("bad weekday");
        assert_eq!(errs.0[0].line, 4, "{errs}");
        assert!(errs.0[0].message.contains("mon"), "{errs}");
        let text = "[analytics.an0907.privileged_user_check]\nadmin_level = 15\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("unknown key");
        assert_eq!(errs.0[0].line, 2, "{errs}");
    }

    #[test]
    fn cloud_analytics_tables_parse() {
        let text = r#"
[analytics.an0908]
single_call_origins = ["cli", "sdk"]

[analytics.an0908.api_list]
ec2 = ["DescribeVpcs", "DescribeSubnet*"]

[analytics.an0908.api_list.other]
"globalaccelerator.amazonaws.com" = ["ListAccelerators"]

[analytics.an0908.origin]
in_scope = ["cli", "console"]

[analytics.an0908.service_principal_allowlist]
arns = ["arn:aws:iam::111122223333:role/terraform-ci"]
role_names = ["inventory-*"]
session_names = ["GitLabRunner-*"]
account_ids = ["444455556666"]
gcp_service_accounts = ["deployer@acme.iam.gserviceaccount.com"]
service_linked_roles = false

[analytics.an0908.burst_query_threshold]
distinct_apis = 0
calls = 20
calls_window_secs = 60

[analytics.an0908.cli]
aws_commands = ["ec2 describe-instances"]
az_commands = ["vm list"]
"#;
        let c = Config::from_toml_str(text, "t.toml").expect("valid");
        let a = &c.analytics.an0908;
        assert_eq!(a.single_call_origins, [ApiOrigin::Cli, ApiOrigin::Sdk]);
        assert_eq!(a.origin.in_scope, [ApiOrigin::Cli, ApiOrigin::Console]);
        // A list given replaces that list; the rest keep their defaults.
        assert_eq!(a.api_list.ec2.len(), 2);
        assert_eq!(
            a.api_list.elasticloadbalancing,
            ApiList::default().elasticloadbalancing
        );
        assert_eq!(a.origin.cli, OriginClasses::default().cli);
        assert!(!a.service_principal_allowlist.service_linked_roles);
        assert!(a.service_principal_allowlist.aws_service_calls);
        assert_eq!(a.burst_query_threshold.distinct_window_secs, 10);
        let again: Config =
            Config::from_toml_str(&sensor_core::config::to_toml(&c), "<serialized>")
                .expect("serialized parses");
        assert_eq!(again, c);
    }

    #[test]
    fn bad_cloud_settings_are_located() {
        let text = r#"[analytics.an0908.api_list]
ec2 = ["DescribeVpcs", "Describe Subnets"]

[analytics.an0908.api_list.other]
"globalaccelerator" = ["ListAccelerators"]

[analytics.an0908.service_principal_allowlist]
account_ids = [" "]

[analytics.an0908.burst_query_threshold]
distinct_apis = 1
calls_window_secs = 0

[analytics.an0908.failed_calls]
error_codes = [""]

[analytics.an0908.cli]
aws_commands = ["ec2"]
az_commands = ["network"]
gcloud_commands = ["compute networks list", "compute --project x"]
"#;
        let errs = Config::from_toml_str(text, "t.toml").expect_err("problems");
        let got: Vec<(usize, &str)> = errs.0.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "analytics.an0908.api_list.ec2[1]"),
                (4, "analytics.an0908.api_list.other"),
                (
                    8,
                    "analytics.an0908.service_principal_allowlist.account_ids[0]"
                ),
                (11, "analytics.an0908.burst_query_threshold.distinct_apis"),
                (
                    12,
                    "analytics.an0908.burst_query_threshold.calls_window_secs"
                ),
                (15, "analytics.an0908.failed_calls.error_codes[0]"),
                (18, "analytics.an0908.cli.aws_commands[0]"),
                (19, "analytics.an0908.cli.az_commands[0]"),
                (20, "analytics.an0908.cli.gcloud_commands[1]"),
            ],
            "{errs}"
        );
        let text = "[analytics.an0908.origin]\nin_scope = [\"cli\", \"browser\"]\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("bad origin");
        assert_eq!(errs.0[0].line, 2, "{errs}");
        assert!(errs.0[0].message.contains("console"), "{errs}");
    }

    #[test]
    fn unknown_scope_is_a_typed_error() {
        let text = "[analytics.an0904.user_context_scope]\nscope = \"admins\"\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("bad scope");
        assert_eq!(errs.0[0].line, 2, "{errs}");
        assert!(errs.0[0].message.contains("non_admin"), "{errs}");
    }
}

//! SNMP queries for active sessions (AN0907): `snmpwalk`, `snmpbulkwalk`, `snmpget`,
//! `snmpgetnext`, `snmpbulkget`, `snmptable` (also `.exe`) run on a host with an argument
//! naming a connection table (tcpConnTable, tcpConnectionTable, tcpListenerTable,
//! udpTable, udpEndpointTable) by OID (`1.3.6.1.2.1.6.13`, `.1.3.6...`, `iso.3.6...`,
//! `mib-2.6.13`, anything under it) or by MIB name (`tcpConnState`,
//! `TCP-MIB::tcpConnectionTable`, `udpLocalAddress.0.0.0.0.161`).
//!
//! Arguments are read as Net-SNMP reads them: options (`-v 2c`, `-cpublic`, `-On`), then
//! the agent (the target host), then the objects. SnmpSoft's Windows tools
//! (`SnmpWalk.exe -r:host -os:oid`) are read too. A walk of a subtree holding a watched
//! table (`1.3.6.1.2.1.6`, `tcp`, `mib-2`, or no OID: Net-SNMP then walks mib-2) counts
//! when `walk_ancestors` is on.

use crate::common::ends_with_ci;
use crate::config::SnmpQueries;
use crate::glob::GlobList;
use sensor_core::event::{file_name, Event};
use std::collections::HashMap;

/// Net-SNMP options that take a value (`-v 2c` or `-v2c`).
const VALUE_OPTIONS: &str = "aAcCeEIlmMnOPrtTuvxXYZ";

/// Names of the tables whose OIDs are known, for `picket.details.snmp_table`.
const KNOWN_TABLES: [(&str, &str); 5] = [
    ("1.3.6.1.2.1.6.13", "tcpConnTable"),
    ("1.3.6.1.2.1.6.19", "tcpConnectionTable"),
    ("1.3.6.1.2.1.6.20", "tcpListenerTable"),
    ("1.3.6.1.2.1.7.5", "udpTable"),
    ("1.3.6.1.2.1.7.7", "udpEndpointTable"),
];

/// Symbolic OID prefixes that may start an object (`iso.3.6.1...`, `mib-2.6.13`, `tcp`).
const SYMBOLS: [(&str, &str); 8] = [
    ("iso", "1"),
    ("org", "1.3"),
    ("dod", "1.3.6"),
    ("internet", "1.3.6.1"),
    ("mgmt", "1.3.6.1.2"),
    ("mib-2", "1.3.6.1.2.1"),
    ("tcp", "1.3.6.1.2.1.6"),
    ("udp", "1.3.6.1.2.1.7"),
];

/// MIB name prefixes → the table the object belongs to.
const NAME_TABLES: [(&str, &str); 6] = [
    ("tcpconnection", "tcpConnectionTable"),
    ("tcpconn", "tcpConnTable"),
    ("tcplistener", "tcpListenerTable"),
    ("udpendpoint", "udpEndpointTable"),
    ("udplocal", "udpTable"),
    ("udpentry", "udpTable"),
];

#[derive(Debug, Clone)]
struct Table {
    oid: Vec<u32>,
    name: String,
}

/// The compiled `[analytics.an0907.snmp]`.
#[derive(Debug, Clone)]
pub(crate) struct Snmp {
    tools: GlobList,
    tables: Vec<Table>,
    names: HashMap<String, String>,
    walk_ancestors: bool,
}

/// What an SNMP query asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnmpQuery {
    pub(crate) tool: String,
    pub(crate) table: String,
    /// The argument that named it (empty for a walk with no OID).
    pub(crate) object: String,
    pub(crate) target: Option<String>,
    /// Matched as a walk of a subtree holding the table.
    pub(crate) ancestor: bool,
}

fn numeric(s: &str) -> Option<Vec<u32>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split('.').map(|n| n.parse::<u32>().ok()).collect()
}

/// An object as a numeric OID, if it is one (`.1.3.6...`, `iso.3.6...`, `mib-2.6.13`,
/// `SNMPv2-SMI::mib-2.6.13`, `tcp`).
fn resolve_oid(object: &str) -> Option<Vec<u32>> {
    let o = object.rsplit("::").next().unwrap_or(object);
    let o = o.trim_start_matches('.');
    if let Some(n) = numeric(o).filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let (head, tail) = match o.split_once('.') {
        Some((h, t)) => (h, t),
        None => (o, ""),
    };
    let (_, base) = SYMBOLS.iter().find(|(s, _)| head.eq_ignore_ascii_case(s))?;
    let mut oid = numeric(base)?;
    oid.extend(numeric(tail)?);
    Some(oid)
}

fn table_of_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "udptable" {
        return "udpTable".into();
    }
    NAME_TABLES
        .iter()
        .find(|(p, _)| lower.starts_with(p))
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| name.to_string())
}

impl Snmp {
    pub(crate) fn build(cfg: &SnmpQueries) -> Snmp {
        let tables = cfg
            .oids
            .iter()
            .filter_map(|o| {
                let canonical = o.trim().trim_start_matches('.');
                let oid = numeric(canonical).filter(|n| !n.is_empty())?;
                let name = KNOWN_TABLES
                    .iter()
                    .find(|(k, _)| *k == canonical)
                    .map_or_else(|| canonical.to_string(), |(_, n)| n.to_string());
                Some(Table { oid, name })
            })
            .collect();
        let names = cfg
            .mib_names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(|n| (n.to_ascii_lowercase(), table_of_name(n)))
            .collect();
        Snmp {
            tools: GlobList::new(&cfg.tools),
            tables,
            names,
            walk_ancestors: cfg.walk_ancestors,
        }
    }

    /// The table `object` names (or, for a walk, a subtree holding), and whether it was
    /// a subtree.
    fn table_of(&self, object: &str, walk: bool) -> Option<(String, bool)> {
        if let Some(oid) = resolve_oid(object) {
            if let Some(t) = self.tables.iter().find(|t| oid.starts_with(&t.oid)) {
                return Some((t.name.clone(), false));
            }
            if walk && self.walk_ancestors {
                if let Some(t) = self.tables.iter().find(|t| t.oid.starts_with(&oid)) {
                    return Some((t.name.clone(), true));
                }
            }
            return None;
        }
        let name = object.rsplit("::").next().unwrap_or(object);
        let name = name.split('.').next().unwrap_or(name);
        self.names
            .get(&name.to_ascii_lowercase())
            .map(|t| (t.clone(), false))
    }

    /// The connection-table query `ev` runs, if it is one.
    pub(crate) fn check(&self, ev: &Event) -> Option<SnmpQuery> {
        let name = ev.process.name.as_deref().or(ev
            .process
            .executable
            .as_deref()
            .map(file_name))?;
        let tool = if ends_with_ci(name, ".exe") {
            &name[..name.len() - 4]
        } else {
            name
        };
        if !self.tools.matches(tool) {
            return None;
        }
        let tool = tool.to_ascii_lowercase();
        let walk = tool.contains("walk");
        let args = crate::common::args_of(ev);
        let mut target: Option<String> = None;
        let mut objects: Vec<&str> = Vec::new();
        let mut iter = args.iter().skip(1);
        let mut options_done = false;
        while let Some(a) = iter.next() {
            if !options_done && a == "--" {
                options_done = true;
                continue;
            }
            if !options_done && a.starts_with('-') && a.len() > 1 {
                // SnmpSoft: -r:host, -os:oid, -op:oid.
                if let Some((key, value)) = a.split_once(':') {
                    match key.to_ascii_lowercase().as_str() {
                        "-r" => target = Some(value.to_string()),
                        "-os" | "-op" | "-o" => objects.push(value),
                        _ => {}
                    }
                    continue;
                }
                if a.starts_with("--") {
                    continue;
                }
                let letter = a.as_bytes()[1] as char;
                if a.len() == 2 && VALUE_OPTIONS.contains(letter) {
                    iter.next();
                }
                continue;
            }
            if target.is_none() {
                target = Some(a.clone());
            } else {
                objects.push(a);
            }
        }
        for object in &objects {
            if let Some((table, ancestor)) = self.table_of(object, walk) {
                return Some(SnmpQuery {
                    tool,
                    table,
                    object: object.to_string(),
                    target,
                    ancestor,
                });
            }
        }
        if objects.is_empty() && walk && self.walk_ancestors && target.is_some() {
            let table = self.tables.first()?.name.clone();
            return Some(SnmpQuery {
                tool,
                table,
                object: String::new(),
                target,
                ancestor: true,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::event::Event;

    fn ev(args: &[&str]) -> Event {
        let mut e = Event::default();
        e.event.kind_type = vec!["start".into()];
        e.set_executable(format!("/usr/bin/{}", args[0]));
        e.set_argv(args.iter().map(|s| s.to_string()).collect());
        e
    }

    fn snmp() -> Snmp {
        Snmp::build(&SnmpQueries::default())
    }

    fn table(args: &[&str]) -> Option<(String, Option<String>)> {
        snmp().check(&ev(args)).map(|q| (q.table, q.target))
    }

    #[test]
    fn oid_forms() {
        let want = |t: &str| Some((t.to_string(), Some("10.0.0.1".to_string())));
        assert_eq!(
            table(&[
                "snmpwalk",
                "-v2c",
                "-c",
                "public",
                "10.0.0.1",
                "1.3.6.1.2.1.6.13"
            ]),
            want("tcpConnTable")
        );
        assert_eq!(
            table(&[
                "snmpwalk",
                "-v",
                "2c",
                "-cpublic",
                "10.0.0.1",
                ".1.3.6.1.2.1.6.19"
            ]),
            want("tcpConnectionTable")
        );
        assert_eq!(
            table(&["snmpbulkwalk", "-On", "10.0.0.1", "iso.3.6.1.2.1.6.20"]),
            want("tcpListenerTable")
        );
        assert_eq!(
            table(&[
                "snmpget",
                "10.0.0.1",
                "1.3.6.1.2.1.6.13.1.1.10.0.0.1.22.10.0.0.9.50000"
            ]),
            want("tcpConnTable")
        );
        assert_eq!(
            table(&["snmptable", "10.0.0.1", "SNMPv2-SMI::mib-2.7.5"]),
            want("udpTable")
        );
        assert_eq!(
            table(&["snmpgetnext", "10.0.0.1", ".iso.3.6.1.2.1.7.7.1"]),
            want("udpEndpointTable")
        );
        // A walk of a subtree that holds a table, or of mib-2 by default.
        assert_eq!(
            table(&["snmpwalk", "10.0.0.1", "1.3.6.1.2.1.6"]),
            want("tcpConnTable")
        );
        assert_eq!(
            table(&["snmpwalk", "-v1", "-c", "public", "10.0.0.1"]),
            want("tcpConnTable")
        );
        assert_eq!(
            table(&["snmpbulkwalk", "10.0.0.1", "TCP-MIB::tcp"]),
            want("tcpConnTable")
        );
    }

    #[test]
    fn mib_names() {
        let want = |t: &str| Some((t.to_string(), Some("udp:router1:161".to_string())));
        assert_eq!(
            table(&[
                "snmptable",
                "-v2c",
                "-c",
                "x",
                "udp:router1:161",
                "tcpConnTable"
            ]),
            want("tcpConnTable")
        );
        assert_eq!(
            table(&["snmpwalk", "udp:router1:161", "TCP-MIB::tcpConnectionTable"]),
            want("tcpConnectionTable")
        );
        assert_eq!(
            table(&["snmpwalk", "udp:router1:161", "tcpConnState"]),
            want("tcpConnTable")
        );
        assert_eq!(
            table(&[
                "snmpget",
                "udp:router1:161",
                "TCP-MIB::tcpConnectionState.ipv4.\"10.0.0.1\".22"
            ]),
            want("tcpConnectionTable")
        );
        assert_eq!(
            table(&["snmpwalk.exe", "udp:router1:161", "udpLocalAddress"]),
            want("udpTable")
        );
        assert_eq!(
            table(&["snmpwalk", "udp:router1:161", "UDP-MIB::udpEndpointProcess"]),
            want("udpEndpointTable")
        );
        assert_eq!(
            table(&[
                "SnmpWalk.exe",
                "-r:udp:router1:161",
                "-os:.1.3.6.1.2.1.6.13"
            ])
            .map(|t| t.0),
            Some("tcpConnTable".into())
        );
    }

    #[test]
    fn other_queries_stay_silent() {
        for args in [
            &["snmpget", "-v2c", "-c", "public", "10.0.0.1", "sysDescr.0"][..],
            &["snmpget", "10.0.0.1", "1.3.6.1.2.1.1.1.0"],
            &["snmpget", "10.0.0.1", "1.3.6.1.2.1.6"],
            &["snmpwalk", "10.0.0.1", "system"],
            &["snmpwalk", "10.0.0.1", "1.3.6.1.2.1.2.2"],
            &["snmpwalk", "10.0.0.1", "ifTable"],
            &["snmpwalk", "10.0.0.1", "1.3.6.1.2.1.6.130"],
            &["snmpget", "10.0.0.1"],
            &["snmpset", "10.0.0.1", "tcpConnState.1", "i", "12"],
            &["cat", "tcpConnTable"],
        ] {
            assert_eq!(table(args), None, "{args:?}");
        }
        let cfg = SnmpQueries {
            walk_ancestors: false,
            ..SnmpQueries::default()
        };
        let s = Snmp::build(&cfg);
        assert_eq!(s.check(&ev(&["snmpwalk", "10.0.0.1"])), None);
        assert_eq!(
            s.check(&ev(&["snmpwalk", "10.0.0.1", "1.3.6.1.2.1.6"])),
            None
        );
        assert!(s
            .check(&ev(&["snmpwalk", "10.0.0.1", "1.3.6.1.2.1.6.13"]))
            .is_some());
    }
}

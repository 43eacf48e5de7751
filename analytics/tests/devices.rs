//! AN0906 (ESXi) and AN0907 (network devices) through the engine, on events built the
//! way the log parsers build them (`sensor_logs::LogRecord::into_event`). Each record
//! notes the log line it stands for.

use analytics::config::{
    AnalyticsConfig, DateRange, RecurringWindow, RulesConfig, Weekday, WindowAction,
};
use analytics::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::{Alert, Severity};
use sensor_core::detect::Detector;
use sensor_core::event::{Endpoint, Event};
use sensor_logs::{Action, Device, DeviceKind, LogRecord};
use serde_json::json;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// 2025-03-04 (a Tuesday) 10:00 UTC, plus `secs`.
fn at(secs: i64) -> DateTime<Utc> {
    t("2025-03-04T10:00:00Z") + TimeDelta::seconds(secs)
}

fn endpoint(ip: &str) -> Endpoint {
    Endpoint {
        ip: Some(ip.into()),
        ..Endpoint::default()
    }
}

fn esxi(host: &str) -> Device {
    let mut d = Device::new(DeviceKind::Hypervisor);
    d.hostname = Some(host.into());
    d.ip = Some("192.0.2.10".into());
    d.vendor = Some("VMware");
    d.product = Some("ESXi");
    d
}

/// `shell[2101176]: [root]: <command>` (esxi.shell, no origin), or an hostd API call.
fn esxi_command(
    when: DateTime<Utc>,
    host: &str,
    user: &str,
    cmd: &str,
    origin: Option<&'static str>,
) -> Event {
    let dataset = if origin == Some("api") {
        "esxi.hostd"
    } else {
        "esxi.shell"
    };
    let mut r = LogRecord::new(when, dataset, Action::Command, esxi(host));
    r.user = Some(user.into());
    r.command = Some(cmd.into());
    r.origin = origin;
    r.pid = Some(2_101_176);
    r.into_event()
}

/// `sshd[2100977]: Accepted keyboard-interactive/pam for root from 10.10.5.23 port 53422 ssh2`
fn ssh_login(
    when: DateTime<Utc>,
    host: &str,
    user: &str,
    from: &str,
    outcome: &'static str,
) -> Event {
    let mut r = LogRecord::new(when, "esxi.auth", Action::Login, esxi(host));
    r.user = Some(user.into());
    r.source = Some(endpoint(from));
    r.origin = Some("ssh");
    r.outcome = Some(outcome);
    r.into_event()
}

/// `sshd[2100977]: Session closed for 'root'` (no address) or with the client.
fn ssh_end(when: DateTime<Utc>, host: &str, user: &str, from: Option<&str>) -> Event {
    let mut r = LogRecord::new(when, "esxi.auth", Action::SessionEnd, esxi(host));
    r.user = Some(user.into());
    r.source = from.map(endpoint);
    r.origin = Some("ssh");
    r.into_event()
}

fn router(product: &'static str, kind: DeviceKind) -> Device {
    let mut d = Device::new(kind);
    let (name, ip) = match product {
        "IOS" => ("rtr1", "192.0.2.1"),
        "ASA" => ("fw1", "192.0.2.2"),
        "NX-OS" => ("nx1", "192.0.2.3"),
        "Junos" => ("mx1", "192.0.2.4"),
        _ => ("sw1", "192.0.2.5"),
    };
    d.hostname = Some(name.into());
    d.ip = Some(ip.into());
    d.vendor = Some(if product == "Junos" {
        "Juniper"
    } else {
        "Cisco"
    });
    d.product = Some(product);
    d
}

/// A TACACS+ accounting record: `<date> 192.0.2.1 alice tty2 10.1.1.5 stop task_id=17
/// service=shell priv-lvl=1 cmd=show ip sockets <cr>`.
fn device_command(
    when: DateTime<Utc>,
    product: &'static str,
    user: &str,
    level: Option<u8>,
    cmd: &str,
) -> Event {
    let kind = if product == "ASA" {
        DeviceKind::Firewall
    } else {
        DeviceKind::Router
    };
    let mut r = LogRecord::new(
        when,
        "tacacs.accounting",
        Action::Command,
        router(product, kind),
    );
    r.user = Some(user.into());
    r.privilege_level = level;
    r.command = Some(cmd.into());
    r.source = Some(endpoint("10.1.1.5"));
    r.origin = Some("ssh");
    r.terminal = Some("tty2".into());
    r.into_event()
}

fn ios(secs: i64, user: &str, level: Option<u8>, cmd: &str) -> Event {
    device_command(at(secs), "IOS", user, level, cmd)
}

fn config() -> AnalyticsConfig {
    AnalyticsConfig {
        fold_window_secs: 0,
        ..AnalyticsConfig::default()
    }
}

fn engine(config: &AnalyticsConfig) -> Engine {
    let (e, errors) = Engine::build(config, &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    e
}

fn feed(e: &mut Engine, events: &[Event]) -> Vec<Alert> {
    let mut out = Vec::new();
    for ev in events {
        e.on_event(ev, &mut out);
    }
    out
}

fn only(alerts: &[Alert], analytic: &str) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| a.picket.analytic == analytic)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------- AN0906 ----------

#[test]
fn an0906_joins_a_shell_command_to_its_ssh_login_and_alerts() {
    let mut e = engine(&config());
    let alerts = feed(
        &mut e,
        &[
            ssh_login(at(0), "esx01", "root", "198.51.100.7", "success"),
            esxi_command(
                at(30),
                "esx01",
                "root",
                "esxcli network ip connection list",
                None,
            ),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.picket.analytic, "AN0906");
    assert_eq!(a.rule.id, "picket-AN0906");
    assert_eq!(a.picket.mutable_element, "ExecutionOriginCheck");
    assert_eq!(a.picket.matched_value, "esxcli network ip connection list");
    assert_eq!(a.severity(), Severity::Medium);
    assert_eq!(a.picket.details["origin"], "ssh");
    assert_eq!(a.picket.details["origin_source"], "ssh_session");
    assert_eq!(a.picket.details["client_address"], "198.51.100.7");
    assert_eq!(a.picket.details["ssh_login_at"], at(0).to_rfc3339());
    for part in [
        "root",
        "esx01",
        "SSH",
        "198.51.100.7",
        "esxcli network ip connection list",
    ] {
        assert!(a.message.contains(part), "{part}: {}", a.message);
    }
    assert_eq!(a.host.name.as_deref(), Some("esx01"));
}

#[test]
fn an0906_command_forms_match_and_lookalikes_stay_silent() {
    let matching = [
        "esxcli network ip connection list",
        "esxcli network ip connection list -t tcp",
        "esxcli --formatter=csv network ip connection list",
        "esxcli --formatter csv network ip connection list",
        "esxcli -s vc01.example.com -u administrator@vsphere.local -p 'S3cr3t!' --vihost esx01 network ip connection list",
        "esxcli --server=vc01 --thumbprint AB:CD --sessionfile /tmp/s --debug network ip connection list",
        "/bin/esxcli --some-future-option value network ip connection list",
        "localcli network ip connection list",
        "localcli --formatter=keyvalue network ip connection list --type=udp",
        "cd /tmp; netstat -an",
        "netstat -tnp | grep ESTABLISHED",
        "lsof",
        "lsof -i",
        "sh -c 'esxcli network ip connection list > /tmp/c.txt'",
        "vim.EsxCLI.network.ip.connection.list",
    ];
    let silent = [
        "grep netstat /var/log/shell.log",
        "cat /var/log/shell.log | grep esxcli",
        "esxcli network ip interface list",
        "esxcli network ip neighbor list",
        "esxcli network ip interface ipv4 get",
        "esxcli --server network ip interface list",
        "vi /etc/netstat.conf",
        "echo esxcli network ip connection list",
        "esxcli network",
    ];
    let mut e = engine(&config());
    for (i, cmd) in matching.iter().enumerate() {
        let alerts = feed(
            &mut e,
            &[esxi_command(at(i as i64), "esx01", "root", cmd, None)],
        );
        assert_eq!(alerts.len(), 1, "{cmd} should match");
        assert_eq!(
            alerts[0].picket.details["origin"], "shell",
            "{cmd}: no SSH session"
        );
    }
    for cmd in silent {
        let alerts = feed(&mut e, &[esxi_command(at(100), "esx01", "root", cmd, None)]);
        assert!(alerts.is_empty(), "{cmd} should be silent: {alerts:#?}");
    }
}

#[test]
fn an0906_origins_expected_and_not() {
    let mut e = engine(&config());
    // The management API is the expected interface: not an alert, but counted.
    let api = esxi_command(
        at(0),
        "esx01",
        "vpxuser",
        "vim.EsxCLI.network.ip.connection.list",
        Some("api"),
    );
    assert!(feed(&mut e, std::slice::from_ref(&api)).is_empty());
    assert_eq!(e.stats().expected_origin_skipped, 1);
    // The DCUI and a shell of unknown origin are not.
    let dcui = feed(
        &mut e,
        &[esxi_command(
            at(1),
            "esx01",
            "root",
            "esxcli network ip connection list",
            Some("dcui"),
        )],
    );
    assert_eq!(dcui[0].picket.details["origin"], "dcui");
    assert_eq!(dcui[0].picket.details["origin_source"], "event");
    assert!(dcui[0].message.contains("DCUI"), "{}", dcui[0].message);
    let shell = feed(
        &mut e,
        &[esxi_command(at(2), "esx01", "root", "netstat -an", None)],
    );
    assert_eq!(shell[0].picket.details["origin"], "shell");
    assert_eq!(shell[0].picket.details["origin_source"], "unknown");

    // expected_origins is a setting: with ssh expected, a joined SSH command is silent,
    // and with nothing expected the API alerts.
    let mut cfg = config();
    cfg.an0906.execution_origin_check.expected_origins = vec!["api".into(), "ssh".into()];
    let mut e = engine(&cfg);
    let events = [
        ssh_login(at(0), "esx01", "root", "198.51.100.7", "success"),
        esxi_command(
            at(5),
            "esx01",
            "root",
            "esxcli network ip connection list",
            None,
        ),
    ];
    assert!(feed(&mut e, &events).is_empty());
    assert_eq!(e.stats().expected_origin_skipped, 1);
    cfg.an0906.execution_origin_check.expected_origins = vec![];
    let mut e = engine(&cfg);
    let alerts = feed(&mut e, &[api]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].picket.details["origin"], "api");
}

#[test]
fn an0906_admin_networks_make_a_client_expected() {
    let mut cfg = config();
    cfg.an0906.execution_origin_check.admin_source_networks =
        vec!["10.10.0.0/16".into(), "2001:db8:a::/48".into()];
    let mut e = engine(&cfg);
    let alerts = feed(
        &mut e,
        &[
            ssh_login(at(0), "esx01", "root", "10.10.5.23", "success"),
            esxi_command(
                at(5),
                "esx01",
                "root",
                "esxcli network ip connection list",
                None,
            ),
            ssh_login(at(10), "esx02", "root", "198.51.100.7", "success"),
            esxi_command(
                at(15),
                "esx02",
                "root",
                "esxcli network ip connection list",
                None,
            ),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].host.name.as_deref(), Some("esx02"));
    assert_eq!(e.stats().expected_origin_skipped, 1);
    // Two open sessions, one from outside: not expected, and both clients named.
    let a = feed(
        &mut e,
        &[
            ssh_login(at(16), "esx01", "root", "203.0.113.9", "success"),
            esxi_command(at(17), "esx01", "root", "netstat -an", None),
        ],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].picket.details["client_addresses"],
        json!(["203.0.113.9", "10.10.5.23"])
    );
    assert!(
        a[0].message.contains("one of 203.0.113.9, 10.10.5.23"),
        "{}",
        a[0].message
    );
    // The event's own client address counts too.
    let mut r = LogRecord::new(at(20), "esxi.shell", Action::Command, esxi("esx03"));
    r.user = Some("root".into());
    r.command = Some("netstat -an".into());
    r.origin = Some("ssh");
    r.source = Some(endpoint("2001:db8:a:1::9"));
    assert!(feed(&mut e, &[r.into_event()]).is_empty());
    assert_eq!(e.stats().expected_origin_skipped, 2);
}

#[test]
fn an0906_sessions_are_per_host_and_user_close_and_expire() {
    let mut e = engine(&config());
    let cmd = "esxcli network ip connection list";
    let origin = |alerts: &[Alert]| {
        alerts[0].picket.details["origin"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    feed(
        &mut e,
        &[ssh_login(at(0), "esx01", "root", "198.51.100.7", "success")],
    );
    // Another host, another user: not joined.
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(1), "esx02", "root", cmd, None)]
        )),
        "shell"
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(2), "esx01", "ops", cmd, None)]
        )),
        "shell"
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(3), "esx01", "ROOT", cmd, None)]
        )),
        "ssh"
    );
    // The session ends: no longer joined.
    feed(&mut e, &[ssh_end(at(4), "esx01", "root", None)]);
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(5), "esx01", "root", cmd, None)]
        )),
        "shell"
    );
    // A failed login opens nothing.
    feed(
        &mut e,
        &[ssh_login(at(6), "esx01", "root", "198.51.100.7", "failure")],
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(7), "esx01", "root", cmd, None)]
        )),
        "shell"
    );
    // A session-start opens nothing (the login did), and an SSH command that names no
    // client gets the session's.
    let mut start = LogRecord::new(at(8), "esxi.auth", Action::SessionStart, esxi("esx01"));
    start.user = Some("root".into());
    start.origin = Some("ssh");
    feed(&mut e, &[start.into_event()]);
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(9), "esx01", "root", cmd, None)]
        )),
        "shell"
    );
    // Two sessions from two clients: ending one by address keeps the other.
    feed(
        &mut e,
        &[
            ssh_login(at(10), "esx01", "root", "198.51.100.7", "success"),
            ssh_login(at(11), "esx01", "root", "203.0.113.9", "success"),
            ssh_end(at(12), "esx01", "root", Some("198.51.100.7")),
        ],
    );
    let a = feed(&mut e, &[esxi_command(at(13), "esx01", "root", cmd, None)]);
    assert_eq!(a[0].picket.details["client_address"], "203.0.113.9");
    let a = feed(
        &mut e,
        &[esxi_command(at(13), "esx01", "root", cmd, Some("ssh"))],
    );
    assert_eq!(a[0].picket.details["client_address"], "203.0.113.9");
    assert_eq!(a[0].picket.details["origin_source"], "ssh_session");
    // Idle for longer than the 12 h timeout: forgotten (the command is 12 h after the
    // last activity, at 13 s).
    let late = at(13) + TimeDelta::hours(12);
    let a = feed(&mut e, &[esxi_command(late, "esx01", "root", cmd, None)]);
    assert_eq!(origin(&a), "shell");

    // The timeout is a setting; activity (a joined command) keeps a session alive.
    let mut cfg = config();
    cfg.an0906.execution_origin_check.session_timeout_secs = 3600;
    let mut e = engine(&cfg);
    feed(
        &mut e,
        &[ssh_login(at(0), "esx01", "root", "198.51.100.7", "success")],
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(3000), "esx01", "root", cmd, None)]
        )),
        "ssh"
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(6000), "esx01", "root", cmd, None)]
        )),
        "ssh"
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(9700), "esx01", "root", cmd, None)]
        )),
        "shell"
    );
    // Ticks expire idle sessions too.
    let mut e = engine(&cfg);
    feed(
        &mut e,
        &[ssh_login(at(0), "esx01", "root", "198.51.100.7", "success")],
    );
    e.on_tick(at(3600), false, &mut Vec::new());
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(3601), "esx01", "root", cmd, None)]
        )),
        "shell"
    );

    // Joining is a setting.
    let mut cfg = config();
    cfg.an0906.execution_origin_check.join_ssh_sessions = false;
    let mut e = engine(&cfg);
    feed(
        &mut e,
        &[ssh_login(at(0), "esx01", "root", "198.51.100.7", "success")],
    );
    assert_eq!(
        origin(&feed(
            &mut e,
            &[esxi_command(at(1), "esx01", "root", cmd, None)]
        )),
        "shell"
    );
}

#[test]
fn an0906_sessions_carry_over_a_reload_and_are_bounded() {
    let mut old = engine(&config());
    feed(
        &mut old,
        &[ssh_login(at(0), "esx01", "root", "198.51.100.7", "success")],
    );
    let mut new = engine(&config());
    new.take_state_from(old.as_any_mut());
    let a = feed(
        &mut new,
        &[esxi_command(at(5), "esx01", "root", "netstat -an", None)],
    );
    assert_eq!(a[0].picket.details["client_address"], "198.51.100.7");

    // Over the bound, the least recently active session goes, counted.
    let mut e = engine(&config());
    let logins: Vec<Event> = (0..16_385)
        .map(|i| ssh_login(at(i), &format!("esx{i}"), "root", "198.51.100.7", "success"))
        .collect();
    feed(&mut e, &logins);
    assert_eq!(e.stats().state_evictions, 1);
    let first = feed(
        &mut e,
        &[esxi_command(at(20_000), "esx0", "root", "netstat", None)],
    );
    assert_eq!(
        first[0].picket.details["origin"], "shell",
        "esx0's session was the oldest"
    );
    let second = feed(
        &mut e,
        &[esxi_command(at(20_001), "esx1", "root", "netstat", None)],
    );
    assert_eq!(second[0].picket.details["origin"], "ssh");
}

fn window_config(action: WindowAction) -> AnalyticsConfig {
    let mut cfg = config();
    let w = &mut cfg.an0906.expected_admin_access_window;
    w.action = action;
    w.windows = vec![RecurringWindow {
        name: Some("Saturday patching".into()),
        weekdays: vec![Weekday::Sat],
        start: "22:00".into(),
        end: "02:00".into(),
        time_zone: Some("+01:00".into()),
    }];
    w.ranges = vec![DateRange {
        name: Some("vSphere 8 upgrade".into()),
        from: "2025-03-04T09:00:00Z".into(),
        to: "2025-03-04T11:00:00Z".into(),
    }];
    cfg
}

#[test]
fn an0906_admin_window_lowers_by_default_and_can_suppress() {
    let cmd = "esxcli network ip connection list";
    let mut e = engine(&window_config(WindowAction::Lower));
    // 2025-03-01 is a Saturday: 22:30 at +01:00 is 21:30 UTC; Sunday 01:30 local is
    // Sunday 00:30 UTC (the window wraps midnight).
    for (when, name) in [
        ("2025-03-01T21:30:00Z", Some("Saturday patching")),
        ("2025-03-02T00:30:00Z", Some("Saturday patching")),
        ("2025-03-02T01:00:00Z", None),
        ("2025-03-01T20:59:00Z", None),
        ("2025-03-04T10:00:00Z", Some("vSphere 8 upgrade")),
        ("2025-03-04T11:00:00Z", None),
    ] {
        let a = feed(&mut e, &[esxi_command(t(when), "esx01", "root", cmd, None)]);
        assert_eq!(a.len(), 1, "{when}");
        match name {
            Some(n) => {
                assert_eq!(a[0].severity(), Severity::Low, "{when}");
                assert_eq!(a[0].picket.details["admin_window"], n, "{when}");
                assert!(a[0].message.contains(n), "{}", a[0].message);
            }
            None => {
                assert_eq!(a[0].severity(), Severity::Medium, "{when}");
                assert!(!a[0].picket.details.contains_key("admin_window"));
            }
        }
    }
    assert_eq!(e.stats().admin_window_lowered, 3);

    // The lowered severity is a setting (and never raises an alert).
    let mut cfg = window_config(WindowAction::Lower);
    cfg.an0906.expected_admin_access_window.lowered_severity = Severity::High;
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[esxi_command(
            t("2025-03-04T10:00:00Z"),
            "esx01",
            "root",
            cmd,
            None,
        )],
    );
    assert_eq!(a[0].severity(), Severity::Medium);
    cfg.an0906.severity = Severity::Critical;
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[esxi_command(
            t("2025-03-04T10:00:00Z"),
            "esx01",
            "root",
            cmd,
            None,
        )],
    );
    assert_eq!(a[0].severity(), Severity::High);

    let mut e = engine(&window_config(WindowAction::Suppress));
    let inside = feed(
        &mut e,
        &[esxi_command(
            t("2025-03-01T21:30:00Z"),
            "esx01",
            "root",
            cmd,
            None,
        )],
    );
    assert!(inside.is_empty());
    let outside = feed(
        &mut e,
        &[esxi_command(
            t("2025-03-03T21:30:00Z"),
            "esx01",
            "root",
            cmd,
            None,
        )],
    );
    assert_eq!(outside.len(), 1);
    assert_eq!(e.stats().admin_window_suppressed, 1);
    assert_eq!(e.stats().admin_window_lowered, 0);
}

#[test]
fn an0906_custom_regexes_and_disabling() {
    let mut cfg = config();
    cfg.an0906.command_list.regexes = vec![r"\bvsish\b.*/net/tcpip/".into()];
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[esxi_command(
            at(0),
            "esx01",
            "root",
            "vsish -e ls /net/tcpip/instances/",
            None,
        )],
    );
    assert_eq!(a[0].picket.matched_value, r"\bvsish\b.*/net/tcpip/");
    cfg.an0906.enabled = false;
    let mut e = engine(&cfg);
    assert!(feed(
        &mut e,
        &[esxi_command(at(0), "esx01", "root", "netstat -an", None)]
    )
    .is_empty());
}

// ---------------------------------------------------------------- AN0907 ----------

#[test]
fn an0907_default_patterns_abbreviations_and_lookalikes() {
    let mut e = engine(&config());
    let a = feed(&mut e, &[ios(0, "alice", Some(1), "show ip sockets")]);
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(a.picket.analytic, "AN0907");
    assert_eq!(a.rule.id, "picket-AN0907");
    assert_eq!(a.picket.mutable_element, "CommandPatternList");
    assert_eq!(a.picket.matched_value, "show ip sockets");
    assert_eq!(a.severity(), Severity::Low);
    assert_eq!(a.picket.details["privilege_level"], 1);
    for part in [
        "alice",
        "rtr1",
        "192.0.2.1",
        "10.1.1.5",
        "ssh",
        "privilege level 1",
        "show ip sockets",
    ] {
        assert!(a.message.contains(part), "{part}: {}", a.message);
    }

    let matches = [
        ("sh ip soc", "show ip sockets"),
        ("sh tcp br", "show tcp"),
        ("show tcp brief all", "show tcp"),
        ("sh tcp br | i ESTAB", "show tcp"),
        ("show users", "show users"),
        ("show sessions", "show sessions"),
        (
            "show control-plane host open-ports",
            "show control-plane host open-ports",
        ),
        (
            "sh control-plane host open",
            "show control-plane host open-ports",
        ),
    ];
    for (i, (cmd, want)) in matches.iter().enumerate() {
        let a = feed(&mut e, &[ios(10 + i as i64 * 400, "bob", Some(1), cmd)]);
        assert_eq!(a.len(), 1, "{cmd}");
        assert_eq!(a[0].picket.matched_value, *want, "{cmd}");
    }
    for cmd in [
        "show running-config | include tcp",
        "show version",
        "show interfaces status",
        "configure terminal",
    ] {
        assert!(
            feed(&mut e, &[ios(9_000, "bob", Some(1), cmd)]).is_empty(),
            "{cmd}"
        );
    }
}

#[test]
fn an0907_vendor_commands() {
    let mut e = engine(&config());
    for (product, cmd, want) in [
        ("ASA", "show conn all", "show conn"),
        ("ASA", "show local-host", "show local-host"),
        (
            "NX-OS",
            "show sockets connection tcp",
            "show sockets connection",
        ),
        (
            "Junos",
            "show system connections | match ESTABLISHED",
            "show system connections",
        ),
        ("EOS", "show users detail", "show users"),
        ("EOS", "bash sudo netstat -tnp", "bash sudo netstat"),
    ] {
        let ev = device_command(at(0), product, &format!("u-{want}"), None, cmd);
        let a = feed(&mut e, &[ev]);
        assert_eq!(a.len(), 1, "{product} {cmd}");
        assert_eq!(a[0].picket.matched_value, want);
        assert!(
            a[0].message.contains("privilege level unknown"),
            "{}",
            a[0].message
        );
    }
}

#[test]
fn an0907_privileged_user_check() {
    let mut e = engine(&config());
    // Level 15 is an administrator by default: out of scope, counted.
    assert!(feed(&mut e, &[ios(0, "admin", Some(15), "show tcp brief")]).is_empty());
    assert_eq!(e.stats().admin_user_skipped, 1);
    // Unknown privilege is in scope.
    assert_eq!(
        feed(&mut e, &[ios(1, "carol", None, "show tcp brief")]).len(),
        1
    );

    // admin_privilege_level is a setting.
    let mut cfg = config();
    cfg.an0907.privileged_user_check.admin_privilege_level = 10;
    let mut e = engine(&cfg);
    assert!(feed(&mut e, &[ios(0, "op", Some(12), "show users")]).is_empty());
    assert_eq!(
        feed(&mut e, &[ios(1, "op", Some(5), "show users")]).len(),
        1
    );

    // admin_users and admin_groups.
    let mut cfg = config();
    cfg.an0907.privileged_user_check.admin_users = vec!["NetOps".into()];
    cfg.an0907.privileged_user_check.admin_groups = vec!["network-admins".into()];
    let mut e = engine(&cfg);
    assert!(feed(&mut e, &[ios(0, "netops", Some(1), "show users")]).is_empty());
    let mut grouped = ios(1, "dave", Some(1), "show users");
    grouped.picket.user_groups = vec!["Network-Admins".into()];
    assert!(feed(&mut e, &[grouped]).is_empty());
    assert_eq!(e.stats().admin_user_skipped, 2);

    // scope = "all" alerts on administrators too, saying so.
    let mut cfg = config();
    cfg.an0907.privileged_user_check.scope = analytics::config::DeviceUserScope::All;
    let mut e = engine(&cfg);
    let a = feed(&mut e, &[ios(0, "admin", Some(15), "show tcp brief")]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].picket.details["user_class"], "administrator");
    assert!(a[0].message.contains("scope = \"all\""), "{}", a[0].message);
}

#[test]
fn an0907_custom_regexes() {
    let mut cfg = config();
    cfg.an0907.command_pattern_list.regexes = vec![r"^show\s+ip\s+nat\s+trans".into()];
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[ios(0, "alice", Some(1), "SHOW IP NAT TRANSLATIONS verbose")],
    );
    assert_eq!(a[0].picket.matched_value, r"^show\s+ip\s+nat\s+trans");
    assert!(feed(
        &mut e,
        &[ios(1, "alice", Some(1), "show ip nat statistics")]
    )
    .is_empty());

    cfg.an0907.command_pattern_list.regexes = vec!["ok".into(), "(unclosed".into()];
    let (_, errors) = Engine::build(&cfg, &RulesConfig::default(), &[]);
    let fields: Vec<String> = errors
        .iter()
        .map(|e| match &e.kind {
            analytics::RuleErrorKind::Setting { field, .. } => field.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(fields, ["analytics.an0907.command_pattern_list.regexes[1]"]);
}

#[test]
fn an0907_frequency_raises_severity_with_the_earlier_commands_as_evidence() {
    let mut e = engine(&config());
    let events = [
        ios(0, "alice", Some(1), "show users"),
        ios(20, "alice", Some(1), "show users"),
        ios(40, "alice", Some(1), "sh ip soc"),
        ios(60, "alice", Some(1), "show sessions"),
        // Another device or user does not add up.
        device_command(at(70), "NX-OS", "alice", Some(1), "show ssh session"),
        ios(80, "mallory", Some(1), "show tcp brief"),
        ios(100, "alice", Some(1), "sh tcp br"),
    ];
    let alerts = feed(&mut e, &events);
    assert_eq!(alerts.len(), 7);
    assert!(alerts[..6].iter().all(|a| a.severity() == Severity::Low));
    let raised = &alerts[6];
    assert_eq!(raised.severity(), Severity::High);
    assert_eq!(raised.picket.details["frequency_distinct_commands"], 4);
    assert_eq!(
        raised.picket.details["frequency_commands"],
        json!(["show users", "show ip sockets", "show sessions", "show tcp"])
    );
    assert_eq!(raised.picket.details["frequency_span_secs"], 80);
    assert_eq!(raised.picket.related_events.len(), 3);
    assert_eq!(
        raised.picket.evidence.len(),
        4,
        "the command and the three before it"
    );
    assert!(raised.message.contains("4 distinct"), "{}", raised.message);
    // Forgotten after raising: the next one is plain again.
    let next = feed(
        &mut e,
        &[ios(
            110,
            "alice",
            Some(1),
            "show control-plane host open-ports",
        )],
    );
    assert_eq!(next[0].severity(), Severity::Low);

    // Spread wider than the window: never raised.
    let mut e = engine(&config());
    let slow: Vec<Event> = ["show users", "show ip sockets", "show sessions", "show tcp"]
        .iter()
        .enumerate()
        .map(|(i, c)| ios(i as i64 * 150, "alice", Some(1), c))
        .collect();
    assert!(feed(&mut e, &slow)
        .iter()
        .all(|a| a.severity() == Severity::Low));

    // The count, window and severity are settings; 0 turns it off.
    let mut cfg = config();
    cfg.an0907.frequency.distinct_commands = 2;
    cfg.an0907.frequency.window_secs = 10;
    cfg.an0907.frequency.severity = Severity::Critical;
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[
            ios(0, "alice", Some(1), "show users"),
            ios(5, "alice", Some(1), "show tcp"),
        ],
    );
    assert_eq!(a[1].severity(), Severity::Critical);
    cfg.an0907.frequency.distinct_commands = 0;
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[
            ios(0, "alice", Some(1), "show users"),
            ios(5, "alice", Some(1), "show tcp"),
        ],
    );
    assert!(a.iter().all(|a| a.severity() == Severity::Low));
}

#[test]
fn an0907_frequency_asa_override() {
    let asa = |secs: i64, cmd: &str| device_command(at(secs), "ASA", "eve", Some(5), cmd);
    let cmds = [
        "show conn",
        "show local-host",
        "show asp table socket",
        "show ssh sessions",
        "who",
        "show users",
        "show tcp",
    ];
    let mut e = engine(&config());
    let alerts = feed(
        &mut e,
        &cmds
            .iter()
            .enumerate()
            .map(|(i, c)| asa(i as i64 * 10, c))
            .collect::<Vec<_>>(),
    );
    let severities: Vec<Severity> = alerts.iter().map(Alert::severity).collect();
    assert_eq!(
        severities,
        [vec![Severity::Low; 6], vec![Severity::High]].concat()
    );
    assert_eq!(alerts[6].picket.details["frequency_threshold_count"], 7);
    assert_eq!(alerts[6].picket.related_events.len(), 6);
    assert!(
        alerts[6].message.contains("for ASA"),
        "{}",
        alerts[6].message
    );
}

#[test]
fn an0907_frequency_carries_over_a_reload() {
    let mut old = engine(&config());
    feed(
        &mut old,
        &[
            ios(0, "alice", Some(1), "show users"),
            ios(10, "alice", Some(1), "show sessions"),
            ios(20, "alice", Some(1), "show tcp"),
        ],
    );
    let mut new = engine(&config());
    new.take_state_from(old.as_any_mut());
    let a = feed(&mut new, &[ios(30, "alice", Some(1), "show ip sockets")]);
    assert_eq!(a[0].severity(), Severity::High);
    // Ticks expire it.
    let mut old = engine(&config());
    feed(
        &mut old,
        &[
            ios(0, "alice", Some(1), "show users"),
            ios(10, "alice", Some(1), "show sessions"),
            ios(20, "alice", Some(1), "show tcp"),
        ],
    );
    old.on_tick(at(400), false, &mut Vec::new());
    let a = feed(&mut old, &[ios(30, "alice", Some(1), "show ip sockets")]);
    assert_eq!(a[0].severity(), Severity::Low);
}

fn host_exec(os: &str, args: &[&str]) -> Event {
    let exe = match os {
        "windows" => format!("C:\\Program Files\\Net-SNMP\\bin\\{}", args[0]),
        "macos" => format!("/usr/bin/{}", args[0]),
        _ => format!("/usr/bin/{}", args[0]),
    };
    Event::from_json_value(json!({
        "@timestamp": at(0).to_rfc3339(),
        "event.type": "start", "event.category": "process", "event.action": "exec",
        "host.name": "jump1", "host.os.type": os,
        "user.id": "1000", "user.name": "alice",
        "process.name": args[0], "process.executable": exe, "process.args": args,
        "process.command_line": args.join(" "),
    }))
    .expect("event")
}

#[test]
fn an0907_snmp_queries_of_the_connection_tables() {
    let mut e = engine(&config());
    for (os, args, table) in [
        (
            "linux",
            &[
                "snmpwalk",
                "-v2c",
                "-c",
                "public",
                "192.0.2.1",
                "1.3.6.1.2.1.6.13",
            ][..],
            "tcpConnTable",
        ),
        (
            "linux",
            &[
                "snmpbulkwalk",
                "-v3",
                "-u",
                "mon",
                "-l",
                "authPriv",
                "udp:192.0.2.1:161",
                "TCP-MIB::tcpConnectionTable",
            ],
            "tcpConnectionTable",
        ),
        (
            "macos",
            &[
                "snmpget",
                "-v2c",
                "-c",
                "public",
                "192.0.2.1",
                "tcpConnState.10.0.0.1.22.10.0.0.9.50000",
            ],
            "tcpConnTable",
        ),
        (
            "windows",
            &[
                "snmpwalk.exe",
                "-v",
                "2c",
                "-c",
                "public",
                "192.0.2.1",
                ".1.3.6.1.2.1.7.7",
            ],
            "udpEndpointTable",
        ),
        (
            "linux",
            &[
                "snmptable",
                "-v2c",
                "-c",
                "public",
                "192.0.2.1",
                "iso.3.6.1.2.1.6.20",
            ],
            "tcpListenerTable",
        ),
    ] {
        let a = feed(&mut e, &[host_exec(os, args)]);
        let a = only(&a, "AN0907");
        assert_eq!(a.len(), 1, "{args:?}");
        assert_eq!(a[0].picket.mutable_element, "CommandPatternList");
        assert_eq!(a[0].picket.details["via"], "snmp");
        assert_eq!(a[0].picket.details["snmp_table"], table);
        let target = a[0].picket.details["snmp_target"].as_str().unwrap_or("");
        assert!(target.contains("192.0.2.1"), "{target}");
        assert!(
            a[0].message.contains(table) && a[0].message.contains("192.0.2.1"),
            "{}",
            a[0].message
        );
    }
    for args in [
        &["snmpget", "-v2c", "-c", "public", "192.0.2.1", "sysDescr.0"][..],
        &[
            "snmpget",
            "-v2c",
            "-c",
            "public",
            "192.0.2.1",
            "1.3.6.1.2.1.1.1.0",
        ],
        &["snmpwalk", "-v2c", "-c", "public", "192.0.2.1", "ifDescr"],
    ] {
        assert!(
            only(&feed(&mut e, &[host_exec("linux", args)]), "AN0907").is_empty(),
            "{args:?}"
        );
    }
    // SNMP is a setting.
    let mut cfg = config();
    cfg.an0907.snmp.enabled = false;
    let mut e = engine(&cfg);
    let a = feed(
        &mut e,
        &[host_exec(
            "linux",
            &["snmpwalk", "192.0.2.1", "tcpConnTable"],
        )],
    );
    assert!(only(&a, "AN0907").is_empty());
}

#[test]
fn an0907_and_an0904_both_fire_where_both_apply() {
    let mut e = engine(&config());
    // AN0904 does not know snmpwalk; netstat is AN0904's alone.
    let a = feed(
        &mut e,
        &[host_exec(
            "linux",
            &["snmpwalk", "192.0.2.1", "tcpConnTable"],
        )],
    );
    assert_eq!(only(&a, "AN0907").len(), 1);
    assert!(only(&a, "AN0904").is_empty());
    let a = feed(&mut e, &[host_exec("linux", &["netstat", "-ant"])]);
    assert_eq!(only(&a, "AN0904").len(), 1);
    assert!(only(&a, "AN0907").is_empty());
    // A device command never reaches the host analytics.
    let a = feed(
        &mut e,
        &[device_command(
            at(0),
            "EOS",
            "alice",
            Some(1),
            "bash netstat -an",
        )],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].picket.analytic, "AN0907");
}

#[test]
fn an0906_command_list_settings() {
    let mut cfg = config();
    let c = &mut cfg.an0906.command_list;
    c.esxcli_commands = vec!["network vm port list".into()];
    c.esxcli_tools = vec!["esxcli*".into()];
    c.commands = vec!["nc -z".into()];
    let mut e = engine(&cfg);
    for cmd in [
        "esxcli-wrapper --formatter=csv network vm port list -w 1234",
        "nc -z 10.0.0.1 443",
    ] {
        assert_eq!(
            feed(&mut e, &[esxi_command(at(0), "esx01", "root", cmd, None)]).len(),
            1,
            "{cmd}"
        );
    }
    for cmd in [
        "esxcli network ip connection list",
        "netstat -an",
        "localcli network vm port list",
        "nc 10.0.0.1 443",
    ] {
        assert!(
            feed(&mut e, &[esxi_command(at(0), "esx01", "root", cmd, None)]).is_empty(),
            "{cmd}"
        );
    }
}

#[test]
fn an0907_snmp_lists_severity_and_disabling_are_settings() {
    let mut cfg = config();
    cfg.an0907.severity = Severity::Medium;
    let s = &mut cfg.an0907.snmp;
    s.tools = vec!["snmp-query*".into()];
    s.oids = vec!["1.3.6.1.4.1.9.9.999".into()];
    s.mib_names = vec!["ciscoSessionTable".into()];
    let mut e = engine(&cfg);
    let a = only(
        &feed(
            &mut e,
            &[host_exec(
                "linux",
                &["snmp-query-tool", "192.0.2.1", ".1.3.6.1.4.1.9.9.999.1"],
            )],
        ),
        "AN0907",
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].picket.details["snmp_table"], "1.3.6.1.4.1.9.9.999");
    assert_eq!(a[0].severity(), Severity::Medium);
    let a = only(
        &feed(
            &mut e,
            &[host_exec(
                "linux",
                &[
                    "snmp-query-tool",
                    "192.0.2.1",
                    "CISCO-X-MIB::ciscoSessionTable",
                ],
            )],
        ),
        "AN0907",
    );
    assert_eq!(a[0].picket.details["snmp_table"], "ciscoSessionTable");
    // The defaults are replaced, not added to.
    assert!(only(
        &feed(
            &mut e,
            &[host_exec(
                "linux",
                &["snmpwalk", "192.0.2.1", "tcpConnTable"]
            )]
        ),
        "AN0907"
    )
    .is_empty());
    assert!(only(
        &feed(
            &mut e,
            &[host_exec(
                "linux",
                &["snmp-query-tool", "192.0.2.1", "tcpConnTable"]
            )]
        ),
        "AN0907"
    )
    .is_empty());
    // Device commands are Medium too; AN0907 can be switched off.
    assert_eq!(
        feed(&mut e, &[ios(0, "alice", Some(1), "show users")])[0].severity(),
        Severity::Medium
    );
    cfg.an0907.enabled = false;
    let mut e = engine(&cfg);
    assert!(feed(&mut e, &[ios(0, "alice", Some(1), "show users")]).is_empty());
}

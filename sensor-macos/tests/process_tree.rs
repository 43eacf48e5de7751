//! Parsed fork/exec/exit sequences build the right process tree in sensor-core's process
//! table: the ancestor chains AN0905 reads to tell Terminal.app and iTerm2 from other
//! apps.

mod common;

use common::{data, parse_file};
use sensor_core::process_table::ProcessTable;
use sensor_core::Event;

/// Runs a fixture through the process table as the pipeline does; returns the enriched
/// events.
fn through_table(name: &str) -> Vec<Event> {
    let parsed = parse_file(&data(name));
    for (i, r) in parsed.results.iter().enumerate() {
        assert_eq!(r, &Ok(1), "{name} line {}", i + 1);
    }
    let mut table = ProcessTable::new(1024);
    parsed
        .events
        .into_iter()
        .map(|mut ev| {
            table.observe(&mut ev);
            ev
        })
        .collect()
}

fn exec_of<'a>(events: &'a [Event], name: &str) -> &'a Event {
    events
        .iter()
        .find(|e| {
            e.event.action.as_deref() == Some("exec") && e.process.name.as_deref() == Some(name)
        })
        .unwrap_or_else(|| panic!("no exec of {name}"))
}

/// `name(pid)` of each ancestor, nearest first (`?(pid)` when unknown).
fn chain(ev: &Event) -> Vec<String> {
    ev.picket
        .ancestors
        .iter()
        .map(|a| {
            format!(
                "{}({})",
                a.name.as_deref().unwrap_or("?"),
                a.pid.unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn lsof_and_netstat_from_zsh_under_terminal() {
    let events = through_table("terminal_zsh.jsonl");
    let lsof = exec_of(&events, "lsof");
    assert_eq!(lsof.process.args, vec!["lsof", "-i", "-nP"]);
    assert_eq!(lsof.process.pid, Some(2210));
    assert_eq!(
        chain(lsof),
        ["zsh(2202)", "login(2201)", "Terminal(612)", "launchd(1)"]
    );
    let parent = lsof.process.parent.as_ref().expect("parent");
    assert_eq!(parent.name.as_deref(), Some("zsh"));
    assert_eq!(parent.args, vec!["-zsh"]);
    assert_eq!(lsof.process.interactive, Some(true));
    assert_eq!(
        lsof.process.tty.as_ref().and_then(|t| t.other.get("name")),
        Some(&serde_json::json!("/dev/ttys003"))
    );
    assert_eq!(
        lsof.picket.ancestors[2].executable.as_deref(),
        Some("/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal")
    );
    let netstat = exec_of(&events, "netstat");
    assert_eq!(netstat.process.args, vec!["netstat", "-an"]);
    assert_eq!(
        chain(netstat),
        ["zsh(2202)", "login(2201)", "Terminal(612)", "launchd(1)"]
    );
    // login is setuid root: effective uid 0, real uid 501, login uid 501.
    let login = exec_of(&events, "login");
    assert_eq!(login.user.id.as_deref(), Some("501"));
    assert_eq!(
        login.user.effective.as_ref().and_then(|u| u.id.as_deref()),
        Some("0")
    );
    assert_eq!(login.picket.login_uid, Some(501));
}

#[test]
fn the_same_tools_from_an_app_through_sh_have_no_terminal_ancestor() {
    let events = through_table("app_via_sh.jsonl");
    let lsof = exec_of(&events, "lsof");
    // sh -c execs lsof in place: the parent is the app, sh is not in the chain.
    assert_eq!(chain(lsof), ["Acme Helper(4100)", "launchd(1)"]);
    assert_eq!(lsof.process.interactive, Some(false));
    let sh = exec_of(&events, "sh");
    assert_eq!(sh.process.args, vec!["/bin/sh", "-c", "lsof -i -nP"]);
    assert_eq!(chain(sh), ["Acme Helper(4100)", "launchd(1)"]);
    let netstat = exec_of(&events, "netstat");
    assert_eq!(chain(netstat), ["Acme Helper(4100)", "launchd(1)"]);
    assert_eq!(
        netstat
            .process
            .parent
            .as_ref()
            .and_then(|p| p.executable.as_deref()),
        Some("/Applications/Acme Helper.app/Contents/MacOS/Acme Helper")
    );

    let word = through_table("word_via_sh.jsonl");
    let netstat = exec_of(&word, "netstat");
    assert_eq!(chain(netstat), ["Microsoft Word(5100)", "launchd(1)"]);
}

#[test]
fn osascript_do_shell_script_chain() {
    let events = through_table("osascript_do_shell_script.jsonl");
    let osa = exec_of(&events, "osascript");
    assert_eq!(
        osa.process.args,
        vec!["osascript", "-e", "do shell script \"netstat -an\""]
    );
    assert_eq!(chain(osa), ["launchd(1)"]);
    let netstat = exec_of(&events, "netstat");
    assert_eq!(chain(netstat), ["osascript(3301)", "launchd(1)"]);
    assert_eq!(netstat.process.interactive, Some(false));
}

#[test]
fn fork_exec_exit_sequence_with_subshells_reparenting_and_pid_reuse() {
    let events = through_table("tree_fork_exec_exit.jsonl");
    let lsof = exec_of(&events, "lsof");
    // Two forks of zsh (subshell, then the command) before the exec.
    assert_eq!(
        chain(lsof),
        [
            "zsh(720)",
            "zsh(711)",
            "login(710)",
            "iTerm2(700)",
            "launchd(1)"
        ]
    );
    let who = exec_of(&events, "who");
    assert_eq!(who.process.pid, Some(730));
    assert_eq!(
        chain(who),
        ["zsh(711)", "login(710)", "iTerm2(700)", "launchd(1)"]
    );
    // Background job that execs after its shell exited: reparented to launchd; the
    // original parent survives in picket.original_ppid.
    let netstat = exec_of(&events, "netstat");
    assert_eq!(chain(netstat), ["launchd(1)"]);
    assert_eq!(
        netstat.picket.other.get("original_ppid"),
        Some(&serde_json::json!(711))
    );
    // pid 730 reused by launchd for an unrelated process: not a child of zsh any more.
    let md = exec_of(&events, "mdworker_shared");
    assert_eq!(md.process.pid, Some(730));
    assert_eq!(chain(md), ["launchd(1)"]);
    assert_eq!(md.user.id.as_deref(), Some("89"));
    assert_eq!(md.picket.login_uid, None);
    // Exit events carry the pid and the parent too.
    let exits: Vec<_> = events
        .iter()
        .filter(|e| e.event.action.as_deref() == Some("exit"))
        .map(|e| (e.process.pid, e.process.parent.as_ref().and_then(|p| p.pid)))
        .collect();
    assert_eq!(
        exits,
        [
            (Some(721), Some(720)),
            (Some(720), Some(711)),
            (Some(730), Some(711)),
            (Some(711), Some(710)),
            (Some(710), Some(700)),
            (Some(740), Some(1)),
        ]
    );
}

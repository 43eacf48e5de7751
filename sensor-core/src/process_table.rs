//! The process table: what Picket knows about every live (and recently exited) process,
//! built from fork/exec/exit events and seeded from the processes already running.
//!
//! It fills `process.parent.*` and `picket.ancestors` on each event from earlier events, so
//! the analytics can tell who launched a tool even when the collector only reports pids.
//! An event about something a running process did (lifecycle `Other` with a pid: a
//! connection-table read, a WMI query) also gets the process's own image from the table
//! (`process.name`, `executable`, `args`, `command_line`, `entity_id`, `start`, where the
//! collector left them empty) and the ancestors, as a start event does.
//!
//! State is kept per host ([`host_key`]: `host.id`, else `host.name`), so a replay of a
//! SIEM export whose hosts reuse each other's pids gives each host the ancestry it gives
//! when replayed alone. The table is bounded in total: when full, the host holding the
//! most entries gives up its exited processes first, then its oldest running ones
//! (counted in [`ProcessTable::evictions`]).

use crate::event::{Ancestor, Event, Lifecycle, ParentProcess};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

/// How many ancestors an event carries in `picket.ancestors`.
pub const MAX_ANCESTORS: usize = 12;

/// The key state is kept under for `event`'s host: `host.id`, else `host.name`, else
/// the empty string (an event that names no host).
pub fn host_key(event: &Event) -> &str {
    event
        .host
        .id
        .as_deref()
        .or(event.host.name.as_deref())
        .unwrap_or("")
}

/// What the table remembers of one process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessInfo {
    /// pid.
    pub pid: u32,
    /// parent pid (0 when unknown).
    pub ppid: u32,
    /// process name.
    pub name: Option<String>,
    /// executable path.
    pub executable: Option<String>,
    /// argv.
    pub args: Vec<String>,
    /// command line.
    pub command_line: Option<String>,
    /// entity id.
    pub entity_id: Option<String>,
    /// start time.
    pub start: Option<DateTime<Utc>>,
    /// Exited (kept for a while so late children still find their parent).
    pub exited: bool,
}

/// The processes of one host, by pid.
#[derive(Debug, Default)]
struct HostProcs {
    procs: HashMap<u32, ProcessInfo>,
    exited: VecDeque<u32>,
}

/// Process tables of every host seen, bounded in total.
#[derive(Debug)]
pub struct ProcessTable {
    hosts: HashMap<String, HostProcs>,
    len: usize,
    capacity: usize,
    evictions: u64,
}

impl ProcessTable {
    /// An empty table holding at most `capacity` processes over all hosts.
    pub fn new(capacity: usize) -> Self {
        Self {
            hosts: HashMap::new(),
            len: 0,
            capacity: capacity.max(16),
            evictions: 0,
        }
    }

    /// Number of processes known, over all hosts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Running processes forgotten so far to stay within the capacity.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Looks a process of host `host` (a [`host_key`]) up.
    pub fn get(&self, host: &str, pid: u32) -> Option<&ProcessInfo> {
        self.hosts.get(host)?.procs.get(&pid)
    }

    /// Adds or replaces a process of host `host` (seeding, tests).
    pub fn insert(&mut self, host: &str, info: ProcessInfo) {
        while self.len >= self.capacity && self.make_room() {}
        let procs = match self.hosts.get_mut(host) {
            Some(p) => p,
            None => self.hosts.entry(host.to_string()).or_default(),
        };
        if procs.procs.insert(info.pid, info).is_none() {
            self.len += 1;
        }
    }

    /// Seeds host `host`'s table from the processes running now (via `sysinfo`).
    /// Returns how many.
    pub fn seed_from_system(&mut self, host: &str) -> usize {
        use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
        let mut system = System::new();
        system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .with_exe(UpdateKind::Always)
                .with_cmd(UpdateKind::Always),
        );
        let mut n = 0;
        for (pid, p) in system.processes() {
            // Threads show up as processes on Linux; the table wants thread-group leaders.
            if p.thread_kind()
                .is_some_and(|k| k == sysinfo::ThreadKind::Userland)
            {
                continue;
            }
            let args: Vec<String> = p
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let executable = p.exe().map(|e| e.display().to_string());
            let start = DateTime::<Utc>::from_timestamp(p.start_time() as i64, 0);
            self.insert(
                host,
                ProcessInfo {
                    pid: pid.as_u32(),
                    ppid: p.parent().map_or(0, |pp| pp.as_u32()),
                    name: Some(p.name().to_string_lossy().into_owned()),
                    executable,
                    command_line: (!args.is_empty())
                        .then(|| crate::event::join_command_line(&args)),
                    args,
                    entity_id: None,
                    start,
                    exited: false,
                },
            );
            n += 1;
        }
        n
    }

    /// Enriches `event` from its host's processes (filling only what the collector left
    /// empty), then records what the event teaches the table.
    pub fn observe(&mut self, event: &mut Event) {
        let Some(pid) = event.process.pid else {
            return;
        };
        // The host is lent out of the event for the look-up, so the key needs no copy.
        let host = std::mem::take(&mut event.host);
        let key = host.id.as_deref().or(host.name.as_deref()).unwrap_or("");
        // An event teaches at most two new processes (itself and an unknown parent).
        while self.len + 2 > self.capacity && self.make_room() {}
        let keep_exited = (self.capacity / 8).max(64);
        let procs = match self.hosts.get_mut(key) {
            Some(p) => p,
            None => self.hosts.entry(key.to_string()).or_default(),
        };
        let before = procs.procs.len();
        procs.observe(event, pid, keep_exited);
        // `before` is part of `self.len`, so this cannot underflow.
        self.len = self.len - before + procs.procs.len();
        event.host = host;
    }

    /// Frees room: the host with the most entries forgets its exited processes, or if it
    /// has none, its oldest tenth (counted as evictions). False when nothing was freed.
    fn make_room(&mut self) -> bool {
        let Some(procs) = self.hosts.values_mut().max_by_key(|h| h.procs.len()) else {
            return false;
        };
        let before = procs.procs.len();
        while let Some(old) = procs.exited.pop_front() {
            if procs.procs.get(&old).is_some_and(|p| p.exited) {
                procs.procs.remove(&old);
            }
        }
        if procs.procs.len() == before {
            // Full of live processes (pid churn without exit events): drop the oldest
            // tenth so the table stays bounded.
            let mut by_start: Vec<(Option<DateTime<Utc>>, u32)> =
                procs.procs.values().map(|p| (p.start, p.pid)).collect();
            by_start.sort_unstable();
            let n = by_start.len() / 10 + 1;
            for (_, pid) in by_start.into_iter().take(n) {
                procs.procs.remove(&pid);
            }
            self.evictions += (before - procs.procs.len()) as u64;
        }
        let freed = before - procs.procs.len();
        self.len -= freed;
        self.hosts
            .retain(|_, h| !h.procs.is_empty() || !h.exited.is_empty());
        freed > 0
    }
}

impl HostProcs {
    /// Enriches `event` from this host's processes (filling only what the collector
    /// left empty), then records what the event teaches. Exited processes beyond
    /// `keep_exited` are forgotten.
    fn observe(&mut self, event: &mut Event, pid: u32, keep_exited: usize) {
        let lifecycle = event.lifecycle();
        if lifecycle == Lifecycle::Other {
            self.fill_self(event, pid);
        }
        let known_ppid = event.process.parent.as_ref().and_then(|p| p.pid);
        let ppid = known_ppid
            .or_else(|| self.procs.get(&pid).map(|p| p.ppid).filter(|&p| p != 0))
            .unwrap_or(0);
        // Exits need no enrichment, and only program starts are analysed, so only they
        // pay for the ancestor chain: this runs for every fork, exec and exit on the host.
        if ppid != 0 && lifecycle != Lifecycle::End {
            self.learn_parent(event, ppid);
            self.fill_parent(event, ppid);
            if matches!(lifecycle, Lifecycle::Start | Lifecycle::Other) {
                self.fill_ancestors(event, ppid);
            }
        }
        match lifecycle {
            Lifecycle::Start => self.record_image(event, pid, ppid),
            Lifecycle::Fork => self.record_fork(event, pid, ppid),
            Lifecycle::End => self.record_exit(pid, keep_exited),
            Lifecycle::Other => {}
        }
    }

    /// What the process of an `Other` event runs, from its start (or its parent's image
    /// for a fork that never exec'd), where the collector left it empty.
    fn fill_self(&self, event: &mut Event, pid: u32) {
        let Some(me) = self.procs.get(&pid) else {
            return;
        };
        let p = &mut event.process;
        if p.name.is_none() {
            p.name.clone_from(&me.name);
        }
        if p.executable.is_none() {
            p.executable.clone_from(&me.executable);
        }
        if p.args.is_empty() {
            p.args.clone_from(&me.args);
            if p.args_count.is_none() && !me.args.is_empty() {
                p.args_count = Some(me.args.len() as u64);
            }
        }
        if p.command_line.is_none() {
            p.command_line.clone_from(&me.command_line);
        }
        if p.entity_id.is_none() {
            p.entity_id.clone_from(&me.entity_id);
        }
        if p.start.is_none() {
            p.start = me.start;
        }
    }

    /// A parent the table never saw (started before Picket, or outside a replay) is
    /// learnt from what the collector said about it, so its children's chains name it.
    fn learn_parent(&mut self, event: &Event, ppid: u32) {
        if self.procs.contains_key(&ppid) {
            return;
        }
        let Some(parent) = event.process.parent.as_deref() else {
            return;
        };
        if parent.name.is_none() && parent.executable.is_none() {
            return;
        }
        self.procs.insert(
            ppid,
            ProcessInfo {
                pid: ppid,
                ppid: 0,
                name: parent.name.clone(),
                executable: parent.executable.clone(),
                args: parent.args.clone(),
                command_line: parent.command_line.clone(),
                entity_id: parent.entity_id.clone(),
                start: parent.start,
                exited: false,
            },
        );
    }

    fn fill_parent(&self, event: &mut Event, ppid: u32) {
        let Some(parent) = self.procs.get(&ppid) else {
            let p = event.process.parent.get_or_insert_with(Box::default);
            p.pid = Some(ppid);
            return;
        };
        let p: &mut ParentProcess = event.process.parent.get_or_insert_with(Box::default);
        p.pid = Some(ppid);
        if p.name.is_none() {
            p.name.clone_from(&parent.name);
        }
        if p.executable.is_none() {
            p.executable.clone_from(&parent.executable);
        }
        if p.args.is_empty() {
            p.args.clone_from(&parent.args);
        }
        if p.command_line.is_none() {
            p.command_line.clone_from(&parent.command_line);
        }
        if p.entity_id.is_none() {
            p.entity_id.clone_from(&parent.entity_id);
        }
        if p.start.is_none() {
            p.start = parent.start;
        }
    }

    fn fill_ancestors(&self, event: &mut Event, ppid: u32) {
        if !event.picket.ancestors.is_empty() {
            return;
        }
        let mut chain = Vec::new();
        let mut cur = ppid;
        while cur != 0 && chain.len() < MAX_ANCESTORS {
            let Some(info) = self.procs.get(&cur) else {
                chain.push(Ancestor {
                    pid: Some(cur),
                    ..Ancestor::default()
                });
                break;
            };
            chain.push(Ancestor {
                pid: Some(cur),
                name: info.name.clone(),
                executable: info.executable.clone(),
            });
            if info.ppid == cur {
                break;
            }
            cur = info.ppid;
        }
        event.picket.ancestors = chain;
    }

    fn record_image(&mut self, event: &Event, pid: u32, ppid: u32) {
        let p = &event.process;
        let start = p
            .start
            .or_else(|| self.procs.get(&pid).and_then(|old| old.start))
            .or(Some(event.timestamp));
        self.procs.insert(
            pid,
            ProcessInfo {
                pid,
                ppid,
                name: p.name.clone(),
                executable: p.executable.clone(),
                args: p.args.clone(),
                command_line: p.command_line.clone(),
                entity_id: p.entity_id.clone(),
                start,
                exited: false,
            },
        );
    }

    fn record_fork(&mut self, event: &Event, pid: u32, ppid: u32) {
        // A fork child runs its parent's image until it execs.
        let mut info = self.procs.get(&ppid).cloned().unwrap_or_default();
        info.pid = pid;
        info.ppid = ppid;
        info.exited = false;
        info.entity_id = event.process.entity_id.clone();
        info.start = event.process.start.or(Some(event.timestamp));
        if let Some(name) = &event.process.name {
            info.name = Some(name.clone());
        }
        if let Some(exe) = &event.process.executable {
            info.executable = Some(exe.clone());
        }
        self.procs.insert(pid, info);
    }

    fn record_exit(&mut self, pid: u32, keep: usize) {
        if let Some(info) = self.procs.get_mut(&pid) {
            info.exited = true;
            self.exited.push_back(pid);
        }
        // Exited entries stay for a while: children that outlive their parent (and
        // events that arrive slightly out of order) still find it.
        while self.exited.len() > keep {
            if let Some(old) = self.exited.pop_front() {
                if self.procs.get(&old).is_some_and(|p| p.exited) {
                    self.procs.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(pid: u32, ppid: u32, path: &str, args: &[&str]) -> Event {
        let mut ev = Event::exec(Utc::now());
        ev.process.pid = Some(pid);
        ev.process.parent = Some(Box::new(ParentProcess {
            pid: Some(ppid),
            ..Default::default()
        }));
        ev.set_executable(path);
        ev.set_argv(args.iter().map(|s| s.to_string()).collect());
        ev
    }

    #[test]
    fn fork_exec_chain_fills_parent_and_ancestors() {
        let mut t = ProcessTable::new(1024);
        let mut term = exec(
            10,
            1,
            "/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
            &["Terminal"],
        );
        t.observe(&mut term);
        let mut zsh = exec(11, 10, "/bin/zsh", &["-zsh"]);
        t.observe(&mut zsh);
        let mut fork = Event::fork(Utc::now());
        fork.process.pid = Some(12);
        fork.process.parent = Some(Box::new(ParentProcess {
            pid: Some(11),
            ..Default::default()
        }));
        t.observe(&mut fork);
        assert_eq!(t.get("", 12).and_then(|p| p.name.as_deref()), Some("zsh"));
        let mut lsof = exec(12, 11, "/usr/sbin/lsof", &["lsof", "-i", "-nP"]);
        t.observe(&mut lsof);
        let parent = lsof.process.parent.as_ref().expect("parent");
        assert_eq!(parent.name.as_deref(), Some("zsh"));
        assert_eq!(parent.args, vec!["-zsh".to_string()]);
        let names: Vec<_> = lsof
            .picket
            .ancestors
            .iter()
            .map(|a| a.name.as_deref())
            .collect();
        assert_eq!(names, vec![Some("zsh"), Some("Terminal"), None]);
        let mut exit = Event::exit(Utc::now());
        exit.process.pid = Some(12);
        t.observe(&mut exit);
        assert!(t.get("", 12).is_some_and(|p| p.exited));
    }

    #[test]
    fn an_activity_event_gets_its_process_image_and_ancestors() {
        let mut t = ProcessTable::new(1024);
        t.observe(&mut exec(40, 1, "/usr/sbin/sshd", &["sshd"]));
        t.observe(&mut exec(41, 40, "/bin/bash", &["-bash"]));
        t.observe(&mut exec(
            42,
            41,
            "/usr/bin/python3",
            &["python3", "/tmp/peek.py"],
        ));
        let mut read = Event::connection_table_read(Utc::now());
        read.process.pid = Some(42);
        t.observe(&mut read);
        assert_eq!(read.lifecycle(), Lifecycle::Other);
        assert_eq!(read.process.name.as_deref(), Some("python3"));
        assert_eq!(read.process.executable.as_deref(), Some("/usr/bin/python3"));
        assert_eq!(read.process.args, vec!["python3", "/tmp/peek.py"]);
        assert_eq!(
            read.process.command_line.as_deref(),
            Some("python3 /tmp/peek.py")
        );
        let parent = read.process.parent.as_ref().expect("parent from the table");
        assert_eq!(parent.name.as_deref(), Some("bash"));
        let names: Vec<_> = read
            .picket
            .ancestors
            .iter()
            .map(|a| a.name.as_deref())
            .collect();
        assert_eq!(names, vec![Some("bash"), Some("sshd"), None]);
        // What the collector said stays; the table is unchanged by the read.
        let mut said = Event::connection_table_read(Utc::now());
        said.process.pid = Some(42);
        said.process.executable = Some("/usr/bin/python3.11".into());
        t.observe(&mut said);
        assert_eq!(
            said.process.executable.as_deref(),
            Some("/usr/bin/python3.11")
        );
        assert_eq!(
            t.get("", 42).and_then(|p| p.executable.as_deref()),
            Some("/usr/bin/python3")
        );
    }

    #[test]
    fn collector_supplied_parent_fields_win() {
        let mut t = ProcessTable::new(1024);
        t.observe(&mut exec(20, 1, "/bin/bash", &["bash"]));
        let mut ev = exec(21, 20, "/usr/bin/ss", &["ss"]);
        if let Some(p) = ev.process.parent.as_mut() {
            p.name = Some("from-collector".into());
        }
        t.observe(&mut ev);
        let parent = ev.process.parent.as_ref().expect("parent");
        assert_eq!(parent.name.as_deref(), Some("from-collector"));
        assert_eq!(parent.executable.as_deref(), Some("/bin/bash"));
    }

    #[test]
    fn unknown_parent_is_learnt_from_the_collector() {
        let mut t = ProcessTable::new(1024);
        let mut ev = exec(31, 30, "/usr/bin/ss", &["ss"]);
        if let Some(p) = ev.process.parent.as_mut() {
            p.name = Some("sshd".into());
        }
        t.observe(&mut ev);
        let mut child = exec(32, 31, "/usr/bin/true", &["true"]);
        t.observe(&mut child);
        let names: Vec<_> = child
            .picket
            .ancestors
            .iter()
            .map(|a| a.name.as_deref())
            .collect();
        assert_eq!(names, vec![Some("ss"), Some("sshd")]);
    }

    #[test]
    fn hosts_that_share_pids_keep_their_own_ancestry() {
        let mut t = ProcessTable::new(1024);
        let on = |host: &str, mut ev: Event| {
            ev.host.name = Some(host.into());
            ev
        };
        t.observe(&mut on(
            "mac",
            exec(
                310,
                1,
                "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
                &["Terminal"],
            ),
        ));
        t.observe(&mut on("web", exec(310, 1, "/usr/sbin/nginx", &["nginx"])));
        let mut lsof = on("mac", exec(311, 310, "/usr/sbin/lsof", &["lsof", "-i"]));
        t.observe(&mut lsof);
        let parent = lsof.process.parent.as_ref().expect("parent");
        assert_eq!(parent.name.as_deref(), Some("Terminal"));
        assert_eq!(
            t.get("web", 310).and_then(|p| p.name.as_deref()),
            Some("nginx")
        );
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn bounded_over_hosts_and_evictions_counted() {
        let mut t = ProcessTable::new(100);
        for pid in 1..400 {
            let mut ev = exec(pid, 1, "/bin/true", &["true"]);
            ev.host.name = Some(format!("h{}", pid % 3));
            t.observe(&mut ev);
        }
        assert!(t.len() <= 100, "{}", t.len());
        assert!(t.evictions() > 0);
    }

    #[test]
    fn table_stays_bounded() {
        let mut t = ProcessTable::new(100);
        for pid in 1..1000 {
            t.observe(&mut exec(pid, 1, "/bin/true", &["true"]));
        }
        assert!(t.len() <= 100, "{}", t.len());
    }

    #[test]
    fn seeding_finds_this_process() {
        let mut t = ProcessTable::new(65_536);
        assert!(t.seed_from_system("") > 0);
        let me = t.get("", std::process::id()).expect("own pid seeded");
        assert!(me.executable.is_some());
    }
}

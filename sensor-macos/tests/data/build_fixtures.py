#!/usr/bin/env python3
"""Builds the eslogger fixtures in this directory from the real eslogger lines in
../shared/fixtures/macos/eslogger-samples.jsonl (read in place, never copied here).

Every built line is a deep copy of a real line of the same message version, with only
the values changed (pids, paths, argv, ids, times, sequence numbers); key order, nesting,
the stat blocks and eslogger's `\\/` escaping are the real ones. See README.md.

    python3 sensor-macos/tests/data/build_fixtures.py

The output is deterministic: running it again rewrites identical files.
"""

import copy
import datetime as dt
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "../../../../shared/fixtures/macos/eslogger-samples.jsonl")

EXEC, FORK, EXIT, OPEN = 9, 11, 15, 10
AUID_UNSET = 4294967295


def dumps(obj):
    # eslogger writes compact JSON with '/' escaped as '\/'; '/' only occurs in strings.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")


with open(REAL, encoding="utf-8") as f:
    REAL_LINES = [json.loads(line) for line in f if line.strip()]
for raw, parsed in zip(open(REAL, encoding="utf-8"), REAL_LINES):
    assert dumps(parsed) == raw.rstrip("\n"), "serializer does not reproduce the real line"

EXEC_V9, FORK_V10, EXEC_V11, EXIT_V9 = REAL_LINES
# es_process_t templates: the exec lines' subject processes, in their versions' shape.
PROC_V9 = EXEC_V9["process"]      # dict audit tokens, tty object
PROC_V11 = EXEC_V11["process"]    # dict audit tokens, cs_validation_category
TTY_TEMPLATE = EXEC_V9["process"]["tty"]
TEMPLATES = {
    9: {"exec": EXEC_V9, "exit": EXIT_V9, "proc": PROC_V9},
    11: {"exec": EXEC_V11, "exit": EXEC_V11, "proc": PROC_V11},
}


class App:
    """A process image: path, signing, identity."""

    def __init__(self, path, signing_id, team_id=None, platform=True):
        self.path, self.signing_id, self.team_id, self.platform = path, signing_id, team_id, platform


LAUNCHD = App("/sbin/launchd", "com.apple.xpc.launchd")
XPCPROXY = App("/usr/libexec/xpcproxy", "com.apple.xpc.proxy")
TERMINAL = App("/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal", "com.apple.Terminal")
ITERM = App("/Applications/iTerm.app/Contents/MacOS/iTerm2", "com.googlecode.iterm2", "H7V7XYVQ7D", False)
LOGIN = App("/usr/bin/login", "com.apple.login")
ZSH = App("/bin/zsh", "com.apple.zsh")
SH = App("/bin/sh", "com.apple.sh")
LSOF = App("/usr/sbin/lsof", "com.apple.lsof")
NETSTAT = App("/usr/sbin/netstat", "com.apple.netstat")
WHO = App("/usr/bin/who", "com.apple.who")
OSASCRIPT = App("/usr/bin/osascript", "com.apple.osascript")
ACME = App("/Applications/Acme Helper.app/Contents/MacOS/Acme Helper", "com.acme.helper", "ACME123456", False)
WORD = App("/Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word", "com.microsoft.Word", "UBF8T346G9", False)
MDWORKER = App("/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared", "com.apple.mdworker_shared")


class Proc:
    """What the kernel knows of one process at one moment."""

    def __init__(self, pid, ppid, app, *, ruid=501, euid=None, rgid=20, auid=501, asid=100019,
                 tty=None, pgid=None, sid=None, responsible=None, original_ppid=None,
                 pidversion=1000, start=None):
        self.pid, self.ppid, self.app = pid, ppid, app
        self.ruid, self.euid = ruid, ruid if euid is None else euid
        self.rgid, self.auid, self.asid, self.tty = rgid, auid, asid, tty
        self.pgid, self.sid = pgid or pid, sid or pid
        self.responsible = responsible or pid
        self.original_ppid = ppid if original_ppid is None else original_ppid
        self.pidversion, self.start = pidversion, start

    def forked(self, pid, pidversion, start):
        child = copy.copy(self)
        child.pid, child.ppid, child.original_ppid = pid, self.pid, self.pid
        child.pidversion, child.start = pidversion, start
        return child

    def execed(self, app, **changes):
        after = copy.copy(self)
        after.app, after.pidversion = app, self.pidversion + 1
        for k, v in changes.items():
            setattr(after, k, v)
        return after


def token(proc_template_token, pid, ruid, euid, rgid, auid, asid, pidversion):
    t = copy.deepcopy(proc_template_token)
    values = {"pid": pid, "ruid": ruid, "euid": euid, "rgid": rgid, "egid": rgid,
              "auid": auid, "asid": asid, "pidversion": pidversion}
    for k in t:
        t[k] = values[k]
    return t


def es_process(version, p):
    t = copy.deepcopy(TEMPLATES[version]["proc"])
    t["audit_token"] = token(t["audit_token"], p.pid, p.ruid, p.euid, p.rgid, p.auid, p.asid, p.pidversion)
    t["parent_audit_token"] = token(t["parent_audit_token"], p.ppid, p.ruid, p.ruid, p.rgid, p.auid, p.asid, max(p.pidversion - 7, 1))
    t["responsible_audit_token"] = token(t["responsible_audit_token"], p.responsible, p.ruid, p.ruid, p.rgid, p.auid, p.asid, max(p.pidversion - 3, 1))
    t["ppid"], t["original_ppid"] = p.ppid, p.original_ppid
    t["group_id"], t["session_id"] = p.pgid, p.sid
    t["executable"]["path"] = p.app.path
    t["signing_id"], t["team_id"], t["is_platform_binary"] = p.app.signing_id, p.app.team_id, p.app.platform
    t["cdhash"] = hashlib.sha1(p.app.path.encode()).hexdigest().upper()
    t["start_time"] = p.start
    if p.tty:
        tty = copy.deepcopy(TTY_TEMPLATE)
        tty["path"] = p.tty
        tty["stat"]["st_rdev"] = (16 << 24) | int(p.tty[-3:])  # Darwin dev_t: major 16 (ttys)
        t["tty"] = tty
    else:
        t["tty"] = None
    return t


class Recorder:
    def __init__(self, version, seq, when):
        self.version, self.seq, self.when = version, seq, when
        self.mach = 289_350_913_517
        self.per_type = {}
        self.lines = []

    def tick(self, ms=3):
        self.when += dt.timedelta(milliseconds=ms, microseconds=137)
        self.mach += ms * 24_000
        return self.when

    def stamp(self):
        return self.when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "417Z"

    def start_time(self):
        return self.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def envelope(self, template, event_type, thread):
        m = copy.deepcopy(template)
        m["event_type"] = event_type
        m["global_seq_num"] = self.seq
        self.seq += 1
        m["seq_num"] = self.per_type.get(event_type, 0)
        self.per_type[event_type] = m["seq_num"] + 1
        m["mach_time"] = self.mach
        m["time"] = self.stamp()
        m["version"] = self.version
        m["thread"] = {"thread_id": thread}
        return m

    def fork(self, parent, child_pid, ms=2):
        self.tick(ms)
        child = parent.forked(child_pid, parent.pidversion + 40, self.start_time())
        m = self.envelope(TEMPLATES[self.version]["exec"], FORK, 400_000 + parent.pid)
        m["process"] = es_process(self.version, parent)
        m["event"] = {"fork": {"child": es_process(self.version, child)}}
        self.lines.append(m)
        return child

    def exec(self, before, app, args, cwd, env=None, ms=2, **changes):
        self.tick(ms)
        after = before.execed(app, **changes)
        m = self.envelope(TEMPLATES[self.version]["exec"], EXEC, 400_000 + before.pid)
        m["process"] = es_process(self.version, before)
        body = m["event"]["exec"]
        body["target"] = es_process(self.version, after)
        body["args"] = list(args)
        body["cwd"]["path"] = cwd
        body["dyld_exec_path"] = app.path
        body["env"] = list(env or ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/Users/alice", "USER=alice", "SHELL=/bin/zsh"])
        body.pop("entitlements", None)
        self.lines.append(m)
        return after

    def exit(self, p, status=0, ms=5):
        self.tick(ms)
        m = self.envelope(TEMPLATES[self.version]["exit"], EXIT, 400_000 + p.pid)
        m["process"] = es_process(self.version, p)
        m["event"] = {"exit": {"stat": status}}
        self.lines.append(m)

    def write(self, name):
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            for m in self.lines:
                f.write(dumps(m) + "\n")


def app_launch(r, pid, app, *, ruid=501, asid=100019, pidversion=2000, cwd="/"):
    """launchd forks, the child becomes xpcproxy, then the app (how launchd starts apps)."""
    launchd = Proc(1, 0, LAUNCHD, ruid=0, rgid=0, auid=AUID_UNSET, asid=100012, pidversion=742,
                   start="2025-08-07T08:00:01.000000Z", sid=1, pgid=1)
    child = r.fork(launchd, pid)
    child.ruid = child.euid = ruid
    child.rgid, child.auid, child.asid, child.sid, child.pgid = 20, 501, asid, pid, pid
    child.responsible = pid
    proxy = r.exec(child, XPCPROXY, ["xpcproxy", "application.%s.%d" % (app.signing_id, pid)], "/")
    return r.exec(proxy, app, [app.path], cwd, env=["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "XPC_SERVICE_NAME=application.%s" % app.signing_id])


def terminal_zsh():
    r = Recorder(9, 500, dt.datetime(2025, 8, 7, 14, 2, 10, 120000))
    term = app_launch(r, 612, TERMINAL)
    # Terminal forks; the child takes the pty as its controlling terminal and becomes
    # login (setuid root), which forks the user's login shell.
    c = r.fork(term, 2201)
    c.tty, c.sid, c.pgid = "/dev/ttys003", 2201, 2201
    login = r.exec(c, LOGIN, ["login", "-pf", "alice"], "/Users/alice", euid=0)
    c2 = r.fork(login, 2202)
    zsh = r.exec(c2, ZSH, ["-zsh"], "/Users/alice", euid=501, pgid=2202)
    f = r.fork(zsh, 2210, ms=4000)
    f.pgid = 2210
    lsof = r.exec(f, LSOF, ["lsof", "-i", "-nP"], "/Users/alice")
    r.exit(lsof, ms=180)
    f = r.fork(zsh, 2211, ms=6000)
    f.pgid = 2211
    netstat = r.exec(f, NETSTAT, ["netstat", "-an"], "/Users/alice")
    r.exit(netstat, ms=40)
    r.write("terminal_zsh.jsonl")


def app_via_sh(name, app, pid, commands):
    r = Recorder(11, 8800, dt.datetime(2026, 8, 4, 12, 15, 3, 500000))
    parent = app_launch(r, pid, app, asid=100015, pidversion=30000)
    for i, command in enumerate(commands):
        f = r.fork(parent, pid + 20 + i, ms=9000)
        sh = r.exec(f, SH, ["/bin/sh", "-c", command], "/")
        # sh -c with one simple command execs it in place: same pid, new image.
        tool_app = LSOF if command.startswith("lsof") else NETSTAT
        tool = r.exec(sh, tool_app, command.split(), "/")
        r.exit(tool, ms=120)
    r.write(name)


def osascript():
    # A LaunchAgent runs osascript; AppleScript's `do shell script` runs /bin/sh -c.
    r = Recorder(9, 1200, dt.datetime(2025, 8, 7, 16, 40, 0, 250000))
    launchd = Proc(1, 0, LAUNCHD, ruid=0, rgid=0, auid=AUID_UNSET, asid=100012, pidversion=742,
                   start="2025-08-07T08:00:01.000000Z", sid=1, pgid=1)
    c = r.fork(launchd, 3301)
    c.ruid = c.euid = 501
    c.rgid, c.auid, c.asid, c.sid, c.pgid, c.responsible = 20, 501, 100019, 3301, 3301, 3301
    osa = r.exec(c, OSASCRIPT, ["osascript", "-e", 'do shell script "netstat -an"'], "/",
                 env=["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "XPC_SERVICE_NAME=com.acme.updater"])
    f = r.fork(osa, 3302)
    sh = r.exec(f, SH, ["sh", "-c", "netstat -an"], "/")
    netstat = r.exec(sh, NETSTAT, ["netstat", "-an"], "/")
    r.exit(netstat, ms=60)
    r.exit(osa, ms=20)
    r.write("osascript_do_shell_script.jsonl")


def tree():
    # iTerm2 → login → zsh → subshell → lsof; who from zsh; a background netstat that
    # outlives its shell (reparented to launchd, original_ppid kept); pid 730 reused.
    r = Recorder(9, 42000, dt.datetime(2025, 8, 8, 9, 30, 0, 0))
    iterm = app_launch(r, 700, ITERM, pidversion=5000)
    c = r.fork(iterm, 710)
    c.tty, c.sid, c.pgid = "/dev/ttys005", 710, 710
    login = r.exec(c, LOGIN, ["login", "-fpl", "alice", "/Applications/iTerm.app/Contents/MacOS/iTerm2", "--launch_shell"], "/Users/alice", euid=0)
    c = r.fork(login, 711)
    zsh = r.exec(c, ZSH, ["-zsh"], "/Users/alice", euid=501, pgid=711)
    sub = r.fork(zsh, 720, ms=3000)
    f = r.fork(sub, 721)
    lsof = r.exec(f, LSOF, ["lsof", "-i", "-nP"], "/Users/alice")
    r.exit(lsof, ms=200)
    r.exit(sub)
    f = r.fork(zsh, 730, ms=2000)
    who = r.exec(f, WHO, ["who", "-a"], "/Users/alice")
    r.exit(who)
    bg = r.fork(zsh, 740, ms=1000)
    r.exit(zsh, ms=1)
    r.exit(login, ms=1)
    # The shell is gone before the background job execs: ppid is now launchd's.
    bg.ppid = 1
    netstat = r.exec(bg, NETSTAT, ["netstat", "-an"], "/Users/alice")
    r.exit(netstat, ms=50)
    # pid 730 comes back as an unrelated system process.
    launchd = Proc(1, 0, LAUNCHD, ruid=0, rgid=0, auid=AUID_UNSET, asid=100012, pidversion=742,
                   start="2025-08-07T08:00:01.000000Z", sid=1, pgid=1)
    c = r.fork(launchd, 730, ms=5000)
    r.exec(c, MDWORKER, [MDWORKER.path, "-s", "mdworker", "-c", "MDSImporterWorker"], "/", ruid=89, euid=89, rgid=89, auid=AUID_UNSET, tty=None)
    r.write("tree_fork_exec_exit.jsonl")


def malformed():
    r = Recorder(9, 100, dt.datetime(2025, 8, 9, 11, 0, 0, 0))
    zsh = Proc(2202, 2201, ZSH, tty="/dev/ttys003", sid=2201, pgid=2202, pidversion=9000,
               start="2025-08-09T10:00:00.000000Z")
    lines = []
    f = zsh.forked(2300, 9100, "2025-08-09T11:00:00.000000Z")

    def last():
        return dumps(r.lines[-1])

    r.exec(f, NETSTAT, ["netstat", "-an"], "/Users/alice")                           # seq 100
    lines.append(last())
    r.exec(f, LSOF, ["lsof", "-i", "-nP"], "/Users/alice")                            # seq 101
    lines.append(last()[:300])  # truncated mid-line
    r.fork(zsh, 2301)                                                                # seq 102
    lines.append(last())
    r.exec(zsh.forked(2301, 9200, "2025-08-09T11:00:01.000000Z"), WHO, ["who"], "/")  # seq 103
    bad = copy.deepcopy(r.lines[-1])
    bad["event"]["exec"]["target"]["audit_token"]["pid"] = "2301"  # essential, wrong type
    lines.append(dumps(bad))
    r.exec(zsh.forked(2302, 9300, "2025-08-09T11:00:02.000000Z"), NETSTAT, ["netstat", "-rn"], "/")  # seq 104
    odd = copy.deepcopy(r.lines[-1])
    odd["event"]["exec"]["target"]["tty"] = 3  # supplementary, wrong type
    lines.append(dumps(odd))
    r.exit(zsh.forked(2303, 9400, "2025-08-09T11:00:03.000000Z"))                    # seq 105
    other = copy.deepcopy(r.lines[-1])
    other["event_type"] = OPEN  # an event type Picket does not use
    other["event"] = {"open": {"fflag": 1, "file": copy.deepcopy(other["process"]["executable"])}}
    lines.append(dumps(other))
    r.exit(zsh.forked(2304, 9500, "2025-08-09T11:00:04.000000Z"))                    # seq 106
    notime = copy.deepcopy(r.lines[-1])
    del notime["time"]
    lines.append(dumps(notime))
    lines.append("eslogger: this is not JSON")                                      # (seq 107 lost in it)
    r.seq = 110  # 108 and 109 never arrive
    r.exit(zsh.forked(2305, 9600, "2025-08-09T11:00:05.000000Z"))                    # seq 110
    lines.append(last())
    r.seq = 3  # eslogger restarted: numbering starts over
    r.exec(zsh.forked(2306, 9700, "2025-08-09T11:00:06.000000Z"), LSOF, ["lsof", "-i", "-nP"], "/Users/alice")
    lines.append(last())
    with open(os.path.join(HERE, "malformed_and_gaps.jsonl"), "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")


if __name__ == "__main__":
    terminal_zsh()
    app_via_sh("app_via_sh.jsonl", ACME, 4100, ["lsof -i -nP", "netstat -an"])
    app_via_sh("word_via_sh.jsonl", WORD, 5100, ["netstat -an"])
    osascript()
    tree()
    malformed()

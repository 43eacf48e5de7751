#!/usr/bin/env python3
"""Writes an ECS NDJSON load for scripts/bench.sh: process events from Linux, Windows
and macOS hosts round-robin over 150 hosts, with about 1% connection-discovery commands
(the rest benign), shaped like a SIEM export (nested and dotted keys, unmodelled
`agent`/`winlog` objects). Deterministic: the same N gives the same bytes.

Usage: gen-ecs-load.py N OUT
"""
import json
import sys

HOSTS = 150
BENIGN = {
    "linux": [
        ("/usr/bin/git", ["git", "status", "--porcelain"]),
        ("/usr/bin/make", ["make", "-j2", "all"]),
        ("/usr/bin/cc", ["cc", "-O2", "-c", "main.c", "-o", "main.o"]),
        ("/usr/bin/grep", ["grep", "-r", "TODO", "src"]),
        ("/usr/bin/python3", ["python3", "manage.py", "migrate"]),
    ],
    "windows": [
        ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
         ["chrome.exe", "--type=renderer", "--lang=en-US"]),
        ("C:\\Windows\\System32\\svchost.exe", ["svchost.exe", "-k", "netsvcs", "-p"]),
        ("C:\\Windows\\System32\\conhost.exe", ["conhost.exe", "0xffffffff", "-ForceV1"]),
    ],
    "macos": [
        ("/System/Library/Frameworks/CoreServices.framework/mdworker_shared",
         ["mdworker_shared", "-s", "mdworker", "-c", "MDSImporterWorker"]),
        ("/usr/bin/xcrun", ["xcrun", "--show-sdk-path"]),
        ("/bin/zsh", ["zsh", "-c", "echo hi"]),
    ],
}
DISCOVERY = {
    "linux": [("/usr/bin/ss", ["ss", "-tanp"]), ("/usr/bin/netstat", ["netstat", "-an"]),
              ("/usr/bin/lsof", ["lsof", "-i", "-n"])],
    "windows": [("C:\\Windows\\System32\\NETSTAT.EXE", ["NETSTAT.EXE", "-ano"]),
                ("C:\\Windows\\System32\\net.exe", ["net.exe", "use"])],
    "macos": [("/usr/sbin/netstat", ["netstat", "-an"]), ("/usr/sbin/lsof", ["lsof", "-i"])],
}
OSES = ["linux", "windows", "macos"]


def win_cmdline(args, exe):
    return '"' + exe + '" ' + " ".join(args[1:])


def event(i):
    host = i % HOSTS
    os_type = OSES[host % 3]
    discovery = i % 100 == 42
    table = DISCOVERY if discovery else BENIGN
    choices = table[os_type]
    exe, args = choices[(i // HOSTS) % len(choices)]
    name = args[0]
    secs = i // 1000
    ts = "2026-11-20T%02d:%02d:%02d.%03dZ" % (10 + secs // 3600, (secs // 60) % 60, secs % 60, i % 1000)
    pid = 1000 + (i // HOSTS) % 60000
    if os_type == "windows":
        return {
            "@timestamp": ts, "event.kind": "event", "event.category": "process",
            "event.type": "start", "event.code": "1", "event.id": "ev-%d" % i,
            "host.name": "host-%03d" % host, "host.os.type": "windows",
            "process.pid": pid, "process.name": name, "process.executable": exe,
            "process.command_line": win_cmdline(args, exe),
            "process.parent.pid": 3999, "process.parent.name": "cmd.exe",
            "process.parent.executable": "C:\\Windows\\System32\\cmd.exe",
            "user.name": "bob", "user.domain": "CORP", "user.id": "S-1-5-21-1-2-3-1001",
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "record_id": i,
                       "event_data": {"IntegrityLevel": "Medium", "LogonId": "0x3e7"}},
        }
    doc = {
        "@timestamp": ts,
        "event": {"kind": "event", "category": ["process"], "type": ["start"],
                  "action": "exec", "id": "ev-%d" % i},
        "host": {"name": "host-%03d" % host, "id": "mid-%03d" % host,
                 "os": {"type": os_type, "family": "debian" if os_type == "linux" else "macos"}},
        "process": {"pid": pid, "name": name, "executable": exe, "args": args,
                    "command_line": " ".join(args), "working_directory": "/home/alice/src",
                    "parent": {"pid": 999, "name": "bash", "executable": "/bin/bash"}},
        "user": {"id": "1000", "name": "alice", "effective": {"id": "1000", "name": "alice"}},
        "agent": {"type": "picket", "version": "0.1.0"},
    }
    return doc


def main():
    n = int(sys.argv[1])
    with open(sys.argv[2], "w") as out:
        for i in range(n):
            out.write(json.dumps(event(i), separators=(",", ":")))
            out.write("\n")


if __name__ == "__main__":
    main()

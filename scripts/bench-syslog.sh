#!/usr/bin/env bash
# Syslog receiving benchmark (issue 13): the same N messages over TCP on loopback to
#   picket  target/release/picket run with [inputs.syslog] (receiver, device parsers,
#           AN0906/AN0907 and the Elastic rule, alerts written with fsync = "always")
#   rsyslog rsyslogd with imtcp writing every message to a file (omfile)
# in interleaved rounds, so drift hits both alike. The messages are ESXi shell commands
# and Cisco IOS accounted commands in their syslog shapes, LF-framed, 1% of them
# connection listings; the last one is a unique listing whose alert marks the end for
# Picket (for rsyslog: the output file holding N lines).
#
# Reports per round: messages/s for each, Picket's rate over rsyslog's, and Picket's
# losses (every loss counter in `picket status`), its peak RSS and CPU seconds.
#
# Usage: scripts/bench-syslog.sh [--rounds 3] [--messages 1000000]
# Needs rsyslog (scripts/setup.sh) and python3 (the sender).
set -euo pipefail

rounds=3
messages=1000000
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --manifest-path "$root/Cargo.toml" --bin picket >/dev/null
picket="$root/target/release/picket"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The load, written once.
python3 - "$messages" >"$work/load.txt" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n - 1):
    if i % 100 == 0:
        out.write(f"<189>{i}: R{i % 50}: *Dec  1 10:00:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:ops{i % 13}  logged command:show tcp brief\n")
    elif i % 2:
        out.write(f"<14>2026-12-01T10:00:00Z esx{i % 40:02d} shell[{1000 + i % 97}]: [root]: vim-cmd vmsvc/getallvms\n")
    else:
        out.write(f"<189>{i}: R{i % 50}: *Dec  1 10:00:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:ops{i % 13}  logged command:show interfaces status\n")
out.write("<189>0: R0: *Dec  1 10:00:01.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:benchend  logged command:show ip sockets\n")
EOF

send() { # port
  python3 - "$1" "$work/load.txt" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "rb") as f:
    s.sendfile(f)
s.close()
EOF
}

now() { date +%s.%N; }

run_picket() {
  local port state log cfg pid start end
  port=$(free_port); state="$work/p-state"; log="$work/p-alerts.jsonl"; cfg="$work/p.toml"
  rm -rf "$state" "$log"
  cat >"$cfg" <<EOF
[general]
state_dir = "$state"
[collector]
host = false
[inputs.syslog]
enabled = true
[[inputs.syslog.listeners]]
address = "127.0.0.1:$port"
protocol = "tcp"
[sinks.file]
path = "$log"
EOF
  "$picket" run --config "$cfg" 2>"$work/p.err" &
  pid=$!
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.05; done
  start=$(now)
  send "$port"
  until grep -q benchend "$log" 2>/dev/null; do sleep 0.01; done
  end=$(now)
  local hwm cpu
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  cpu=$(awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid" || true
  local lost
  lost=$("$picket" status --json --state-dir "$state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(s["losses"].values()), s["counts"].get("syslog.tcp.messages", 0))')
  echo "$(python3 -c "print($messages / ($end - $start))") $lost $hwm $cpu"
}

run_rsyslog() {
  local port out pid start end
  port=$(free_port); out="$work/r-out.log"; rm -f "$out"
  cat >"$work/r.conf" <<EOF
global(workDirectory="$work")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$port" ruleset="file")
ruleset(name="file") { action(type="omfile" file="$out") }
EOF
  rsyslogd -n -f "$work/r.conf" -i "$work/r.pid" &
  pid=$!
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.05; done
  start=$(now)
  send "$port"
  until [[ -f $out ]] && (($(wc -l <"$out") >= messages)); do sleep 0.02; done
  end=$(now)
  kill -TERM "$pid"; wait "$pid" || true
  python3 -c "print($messages / ($end - $start))"
}

printf '%-6s %14s %14s %7s %8s %10s %9s %8s\n' round picket_msg/s rsyslog_msg/s ratio lost received rss_kib cpu_s
for r in $(seq 1 "$rounds"); do
  read -r p_rate lost received hwm cpu < <(run_picket)
  rs_rate=$(run_rsyslog)
  printf '%-6s %14.0f %14.0f %7.2f %8s %10s %9s %8s\n' "$r" "$p_rate" "$rs_rate" \
    "$(python3 -c "print($p_rate / $rs_rate)")" "$lost" "$received" "$hwm" "$cpu"
done

#!/usr/bin/env bash
# Soak under faults (issue 17): `picket run` (release build) for MINUTES (default 30;
# `--ci` is 2) with a temp config, under all of this at once:
#   - a steady exec load at half this machine's measured maximum exec rate;
#   - alert traffic: ESXi shell lines (AN0906) sent to an rsyslogd started here, which
#     forwards them to Picket's syslog input over TCP (octet counting);
#   - a conf.d push every minute (every 30 s in runs under 5 minutes; written beside,
#     renamed in: the file watch reloads), valid and invalid in turn;
#   - that rsyslogd restarted every 5 minutes (every minute in runs under 10 minutes);
#   - the alert log's disk (a small tmpfs mounted here) filled and freed once, in the
#     first half, so the second half shows the memory it held coming back.
# Samples RSS, open fds and threads of picket every 2 s and fits a least-squares slope
# (per minute) over the second half. Passes when:
#   - RSS slope < 1 MiB/min (a leak of one alert or event per exec at this load grows
#     by several MiB a minute; allocator noise over a minute is far below 1 MiB);
#   - fds and threads: the fitted line rises less than 1 over the second half (a leak
#     of one per reload or per reconnect would rise by several; a socket or thread that
#     exists for a moment during a sample does not move the fit by one);
#   - every loss counter is 0 (nothing here may lose data: alerts kept in memory while
#     the disk is full are not lost), and the faults are counted where expected:
#     sink.file.outages = 1, sink.file.kept = 0 at the end, config.reload_failed = the
#     invalid pushes, one syslog connection per rsyslogd run;
#   - alerts_raised = alerts_written + sink.file + alert_queue losses.
# Needs root (eBPF, tmpfs, rsyslogd). Exits non-zero on failure.
# Usage: sudo scripts/soak.sh [MINUTES] | --ci
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=30
case "${1:-}" in
  --ci) minutes=2 ;;
  "") ;;
  *[!0-9]* | 0) echo "usage: $0 [MINUTES] | --ci" >&2; exit 2 ;;
  *) minutes=$1 ;;
esac
[[ $(id -u) == 0 ]] || { echo "soak.sh: needs root (eBPF, a tmpfs, rsyslogd)" >&2; exit 1; }
RSYSLOGD=/usr/sbin/rsyslogd
[[ -x $RSYSLOGD ]] || { echo "soak.sh: $RSYSLOGD missing: run scripts/setup.sh" >&2; exit 1; }

echo "== soak: building picket (release)"
cargo build --release --bin picket
PICKET=${CARGO_TARGET_DIR:-target}/release/picket
[[ $PICKET == /* ]] || PICKET=$PWD/$PICKET

T=$(mktemp -d /tmp/picket-soak.XXXXXX)
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [[ -f $T/rsyslog/rsyslogd.pid ]] && kill "$(cat "$T/rsyslog/rsyslogd.pid")" 2>/dev/null
  [[ -n ${PICKET_PID:-} ]] && kill "$PICKET_PID" 2>/dev/null
  for p in "${pids[@]}" ${PICKET_PID:-}; do wait "$p" 2>/dev/null; done
  mountpoint -q "$T/alerts" && umount "$T/alerts"
  if [[ -n ${SOAK_KEEP:-} ]]; then echo "soak: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    ss -Htanu "( sport = :$p )" | grep -q . || { echo "$p"; return; }
  done
}
PORT=$(free_port)   # Picket's syslog TCP input
RPORT=$(free_port)  # rsyslogd's UDP input

mkdir -p "$T/alerts" "$T/conf.d" "$T/rsyslog" "$T/push"
chmod 755 "$T/conf.d"
# 8 MiB: the log and its two rotated files (1 MiB each) fit; a filler fills the rest.
mount -t tmpfs -o size=8m,mode=0755 picket-soak "$T/alerts"
cat >"$T/picket.toml" <<EOF
[general]
state_dir = "$T/state"
[inputs.syslog]
enabled = true
[[inputs.syslog.listeners]]
address = "127.0.0.1:$PORT"
protocol = "tcp"
[analytics]
fold_window_secs = 0
[sinks.file]
path = "$T/alerts/alerts.jsonl"
max_bytes = 1048576
keep_files = 2
EOF
chmod 644 "$T/picket.toml"

status_json() { "$PICKET" status --json --state-dir "$T/state" 2>/dev/null; }
# A field of the status file: `field counts/sink.file.kept`.
field() {
  status_json | python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("/"):
    v = v.get(k, {}) if isinstance(v, dict) else {}
print(v if isinstance(v, (int, str)) else "")' "$1" 2>/dev/null || true
}

echo "== soak: starting picket run ($minutes min) in $T"
"$PICKET" run --config "$T/picket.toml" 2>"$T/picket.log" &
PICKET_PID=$!
for _ in $(seq 300); do
  [[ $(field collector/state) == running ]] && break
  kill -0 "$PICKET_PID" 2>/dev/null || { cat "$T/picket.log"; echo "soak: picket exited" >&2; exit 1; }
  sleep 0.2
done
[[ $(field collector/state) == running ]] || { cat "$T/picket.log"; echo "soak: collector not running" >&2; exit 1; }

cat >"$T/rsyslog/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$RPORT")
action(type="omfwd" target="127.0.0.1" port="$PORT" protocol="tcp" TCP_Framing="octet-counted"
       queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
EOF
rsyslog_runs=0
start_rsyslog() {
  rm -f "$T/rsyslog/rsyslogd.pid"
  "$RSYSLOGD" -f "$T/rsyslog/rsyslog.conf" -i "$T/rsyslog/rsyslogd.pid"
  for _ in $(seq 100); do [[ -s $T/rsyslog/rsyslogd.pid ]] && break; sleep 0.1; done
  rsyslog_runs=$((rsyslog_runs + 1))
}
stop_rsyslog() {
  local pid
  pid=$(cat "$T/rsyslog/rsyslogd.pid")
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
start_rsyslog

# The machine's maximum exec rate: one shell running /bin/true back to back for 3 s
# (per core), then the load at half of it.
echo "== soak: measuring the exec rate"
burst() {
  local n=0 end=$((SECONDS + 3))
  while ((SECONDS < end)); do /bin/true; n=$((n + 1)); done
  echo "$n"
}
cores=$(nproc)
total=0
bursts=()
for ((i = 0; i < cores; i++)); do burst >"$T/burst.$i" & bursts+=($!); done
wait "${bursts[@]}"
for ((i = 0; i < cores; i++)); do total=$((total + $(cat "$T/burst.$i"))); done
max_rate=$((total / 3))
rate=$((max_rate / 2))
echo "soak: max exec rate $max_rate/s on $cores cores; load at $rate/s"

# Sleeps without an exec of sleep(1) (the load's own execs are the only ones).
mkfifo "$T/never"
exec 9<>"$T/never"
nap() { read -r -t "$1" -u 9 _ || true; }

# Paced load: one shell per core, each keeping to its share by the clock.
exec_load() {
  local share=$1 start=${EPOCHREALTIME/./} done=0 now target
  while :; do
    now=${EPOCHREALTIME/./}
    target=$(((now - start) * share / 1000000))
    while ((done < target)); do /bin/true; done=$((done + 1)); done
    nap 0.02
  done
}
for ((i = 0; i < cores; i++)); do exec_load $((rate / cores)) & pids+=($!); done

# Alert traffic: 5 ESXi shell commands a second (each raises AN0906), over UDP into
# rsyslogd (what it drops while restarting is before Picket, so not Picket's loss).
alert_load() {
  local n=0
  while :; do
    printf '<14>2026-12-01T10:00:00Z esx-soak shell[4242]: [soak%d]: esxcli network ip connection list' \
      "$((n % 50))" >/dev/udp/127.0.0.1/"$RPORT" 2>/dev/null || true
    n=$((n + 1))
    nap 0.2
  done
}
alert_load & pids+=($!)

# Samples: elapsed seconds, RSS KiB, fds, threads.
sample() {
  local start=$SECONDS rss thr fds
  while :; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PICKET_PID/status")
    thr=$(awk '/^Threads:/ {print $2}' "/proc/$PICKET_PID/status")
    fds=$(find "/proc/$PICKET_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
    echo "$((SECONDS - start)) $rss $fds $thr" >>"$T/samples"
    sleep 2
  done
}
sample & pids+=($!)

# The schedule, in seconds from now.
duration=$((minutes * 60))
restart_every=$((minutes >= 10 ? 300 : 60))
# Short runs push every 30 s, so even the 2-minute run has a valid and an invalid push.
push_every=$((minutes >= 5 ? 60 : 30))
fill_at=$((duration * 15 / 100))
free_at=$((duration * 30 / 100))
valid_pushes=0
invalid_pushes=0
push=0
filled=0
freed=0
max_kept=0
start=$SECONDS
next_push=$((start + push_every))
next_restart=$((start + restart_every))
while ((SECONDS - start < duration)); do
  kill -0 "$PICKET_PID" 2>/dev/null || { tail -50 "$T/picket.log"; echo "soak: picket died" >&2; exit 1; }
  now=$SECONDS
  if ((now >= next_push)); then
    push=$((push + 1))
    if ((push % 2)); then
      # Valid, and different from the last valid one, so the detector is swapped.
      level=$( ((push % 4 == 1)) && echo warn || echo info)
      printf '[general]\nlog_level = "%s"\n' "$level" >"$T/push/50-soak.toml"
      valid_pushes=$((valid_pushes + 1))
    else
      printf '[general]\nlog_level = 42\n' >"$T/push/50-soak.toml"
      invalid_pushes=$((invalid_pushes + 1))
    fi
    chmod 644 "$T/push/50-soak.toml"
    mv "$T/push/50-soak.toml" "$T/conf.d/50-soak.toml"
    echo "soak: $((now - start))s push $push ($( ((push % 2)) && echo valid || echo invalid))"
    next_push=$((next_push + push_every))
  fi
  if ((now >= next_restart && now - start < duration - 20)); then
    stop_rsyslog
    start_rsyslog
    echo "soak: $((now - start))s rsyslogd restarted (run $rsyslog_runs)"
    next_restart=$((next_restart + restart_every))
  fi
  if ((!filled && now - start >= fill_at)); then
    dd if=/dev/zero of="$T/alerts/filler" bs=64k 2>/dev/null || true
    filled=1
    echo "soak: $((now - start))s alert log disk filled ($(df --output=avail -k "$T/alerts" | tail -1 | tr -d ' ') KiB free)"
  fi
  if ((filled && !freed)); then
    kept=$(field counts/sink.file.kept)
    ((${kept:-0} > max_kept)) && max_kept=$kept
  fi
  if ((filled && !freed && now - start >= free_at)); then
    rm -f "$T/alerts/filler"
    freed=1
    echo "soak: $((now - start))s alert log disk freed (up to $max_kept alerts were kept in memory)"
  fi
  sleep 1
done

echo "== soak: stopping the load; draining"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${pids[@]}" 2>/dev/null || true
pids=()
sleep 3
stop_rsyslog
sleep 2
kill -TERM "$PICKET_PID"
wait "$PICKET_PID" || { tail -50 "$T/picket.log"; echo "soak: picket run exited non-zero" >&2; exit 1; }
PICKET_PID=
cp "$T/state/status.json" "$T/final.json"

python3 - "$T/samples" "$T/final.json" "$minutes" "$max_rate" "$rate" \
  "$valid_pushes" "$invalid_pushes" "$rsyslog_runs" "$max_kept" <<'EOF'
import json, sys
samples_path, final_path = sys.argv[1], sys.argv[2]
minutes, max_rate, rate, valid, invalid, runs, max_kept = map(int, sys.argv[3:])
rows = [list(map(float, l.split())) for l in open(samples_path) if len(l.split()) == 4]
half = [r for r in rows if r[0] >= rows[-1][0] / 2]

def slope(points):
    # Least squares, per minute.
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx * 60

half_min = (half[-1][0] - half[0][0]) / 60
rss = slope([(r[0], r[1] / 1024) for r in half])
fds = slope([(r[0], r[2]) for r in half])
thr = slope([(r[0], r[3]) for r in half])
s = json.load(open(final_path))
losses = s["losses"]
counts = s["counts"]
fails = []

def check(ok, what):
    print(("PASS " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)

print(f"soak: {minutes} min, {len(rows)} samples, second half {half_min:.1f} min; "
      f"exec load {rate}/s (max {max_rate}/s)")
print(f"RSS     first {rows[0][1] / 1024:.1f} MiB, peak {max(r[1] for r in rows) / 1024:.1f} MiB, "
      f"last {rows[-1][1] / 1024:.1f} MiB; slope (2nd half) {rss:+.3f} MiB/min")
print(f"fds     first {rows[0][2]:.0f}, max {max(r[2] for r in rows):.0f}, last {rows[-1][2]:.0f}; "
      f"slope {fds:+.3f}/min")
print(f"threads first {rows[0][3]:.0f}, max {max(r[3] for r in rows):.0f}, last {rows[-1][3]:.0f}; "
      f"slope {thr:+.3f}/min")
print(f"events seen {s['events_seen']}, alerts raised {s['alerts_raised']}, "
      f"written {s['alerts_written']}")
print("losses: " + ", ".join(f"{k}={v}" for k, v in sorted(losses.items())))
interesting = ["config.reloaded", "config.reload_failed", "sink.file.outages", "sink.file.kept",
               "syslog.tcp.connections", "syslog.tcp.messages", "syslog.stalled", "state_dir.recreated"]
print("counts: " + ", ".join(f"{k}={counts.get(k)}" for k in interesting))
check(rss < 1.0, f"RSS slope {rss:+.3f} MiB/min < 1")
check(fds * half_min < 1, f"fds: fitted rise {fds * half_min:+.2f} over the second half < 1")
check(thr * half_min < 1, f"threads: fitted rise {thr * half_min:+.2f} over the second half < 1")
check(all(v == 0 for v in losses.values()), "every loss counter is 0")
check(s["alerts_raised"] > 0, "alerts were raised")
check(s["alerts_raised"] == s["alerts_written"] + losses.get("sink.file", 0) + losses.get("alert_queue", 0),
      "alerts_raised = alerts_written + counted alert losses")
check(counts.get("sink.file.outages") == 1 and max_kept > 0,
      f"the full disk was one outage with alerts kept in memory (up to {max_kept})")
check(counts.get("sink.file.kept") == 0, "no alert still kept at the end")
check(counts.get("config.reload_failed") == invalid,
      f"config.reload_failed = {invalid} invalid pushes ({valid} valid)")
check(counts.get("config.reloaded", 0) >= valid, f"config.reloaded >= {valid} valid pushes")
check(counts.get("syslog.tcp.connections") == runs, f"one syslog connection per rsyslogd run ({runs})")
check(s["events_seen"] > 0 and s["collector"]["state"] in ("running", "stopped"), "the collector ran")
print("soak: " + ("PASSED" if not fails else f"FAILED ({len(fails)})"))
sys.exit(1 if fails else 0)
EOF

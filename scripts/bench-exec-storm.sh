#!/usr/bin/env bash
# Exec-storm benchmark for the Linux collector (issue 4): interleaved A/B rounds of
#   baseline  no tracer
#   picket    target/release/picket run --config <tmp>   (collector + pipeline + analytics)
#   collector the sensor-linux `trace --count` example      (collector alone; opt-in)
#   auditd    auditd with `auditctl -a always,exit -F arch=b64 -S execve`
#   bpftrace  a bpftrace script printing every execve with its argv
# Each round runs every mode once, in that order, so slow drift (other load, thermal)
# hits all modes alike; a mode's cost is the median over rounds of its rate divided by
# the same round's baseline rate.
#
# Reports per mode: median execs/s, ratio to baseline, and for picket/collector their
# peak RSS (VmHWM), CPU time per 1,000 execs and events lost (kernel ring buffer and
# channel); for auditd the kernel's audit `lost` count; for bpftrace its "Lost" events.
#
# Usage: sudo scripts/bench-exec-storm.sh [--rounds 5] [--execs 20000] [--workers N]
#                                         [--modes "baseline picket auditd bpftrace"]
#                                         [--ring BYTES]   (picket's/collector's ring buffer)
#                                         [--picket-b BIN] (mode picket-b: another picket
#                                                           build, e.g. an older commit's,
#                                                           interleaved with picket)
# With kernel.bpf_stats_enabled, picket rounds also report the kernel time of the
# process programs (handle_exec + handle_fork + handle_exit, from `bpftool prog show`)
# per exec, in the notes column ("bpf_us_per_exec=").

# Needs root. auditd and bpftrace come from `scripts/setup.sh --bench`; a mode whose
# tool is missing is reported as skipped. bpftrace needs tracefs: the script mounts it
# at /sys/kernel/tracing for the bpftrace rounds if it is not mounted, and unmounts it
# afterwards.
set -euo pipefail

rounds=5
execs=20000
workers=$(nproc)
modes="baseline picket auditd bpftrace"
ring= # collector.linux.ring_buffer_bytes for picket and collector; empty = the default
picket_b= # a second picket binary (mode picket-b)
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --execs) execs=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --ring) ring=$2; shift 2 ;;
    --picket-b) picket_b=$2; modes="$modes picket-b"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
ring_config=${ring:+$'[collector.linux]\nring_buffer_bytes = '$ring}
trace_ring=(${ring:+--ring "$ring"})
[[ $EUID -eq 0 ]] || { echo "bench-exec-storm: run as root (eBPF, auditd and bpftrace need it)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
echo "building release binaries (target dir $target_dir)..." >&2
(cd "$repo" && cargo build --release --quiet --bin picket \
  && cargo build --release --quiet -p sensor-linux --example exec_storm --example trace)
picket_bin=$target_dir/release/picket
storm_bin=$target_dir/release/examples/exec_storm
trace_bin=$target_dir/release/examples/trace

work=$(mktemp -d /tmp/picket-bench.XXXXXX)
mounted_tracefs=0
bg_pid= # the tracer running now, stopped on exit
cleanup() {
  if [[ -n $bg_pid ]]; then kill -TERM "$bg_pid" 2>/dev/null || true; fi
  if ((mounted_tracefs)); then umount /sys/kernel/tracing 2>/dev/null || true; fi
  auditctl -D >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

hz=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of a pid (fields 14 and 15 of /proc/pid/stat, after comm)
  local rest
  rest=$(sed 's/^.*) //' "/proc/$1/stat")
  awk '{print $12 + $13}' <<<"$rest"
}
sum_numbers() { # sums every integer in stdin
  awk '{ while (match($0, /[0-9]+/)) { s += substr($0, RSTART, RLENGTH); $0 = substr($0, RSTART + RLENGTH) } } END { print s + 0 }'
}
vm_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
wait_for() { # file pattern seconds
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2 || true
  return 1
}
storm() { # prints the rate
  local out
  out=$("$storm_bin" --execs "$execs" --workers "$workers" --prefix "bench-$1-$2-")
  grep -q 'failed=0 ' <<<"$out" || { echo "storm failures: $out" >&2; exit 1; }
  sed 's/.*rate=//' <<<"$out"
}

results=$work/results.tsv # mode round rate rss_kb cpu_ms_per_1000 lost extra
: >"$results"

run_baseline() { echo -e "baseline\t$1\t$(storm baseline "$1")\t-\t-\t-\t-" >>"$results"; }

# Ids of the loaded process programs (handle_exec, handle_fork, handle_exit).
process_prog_ids() {
  bpftool prog show --json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name") in ("handle_exec", "handle_fork", "handle_exit"):
        print(p["id"])'
}

# Kernel time (ns) so far of the programs with the ids in $1 (space-separated): the
# running picket's, told apart from any other tracer's by the ids it added.
bpf_process_ns() {
  bpftool prog show --json 2>/dev/null | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1].split()}
print(sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin) if p["id"] in ids))' "$1"
}

run_picket() { run_picket_bin "$picket_bin" picket "$1"; }
run_picket-b() { run_picket_bin "$picket_b" picket-b "$1"; }

run_picket_bin() {
  local bin=$1 mode=$2 round=$3 dir=$work/$2-$3
  mkdir -p "$dir"
  cat >"$dir/picket.toml" <<EOF
[general]
state_dir = "$dir/state"
$ring_config
[sinks.file]
path = "$dir/alerts.jsonl"
EOF
  local before mine
  before=$(process_prog_ids)
  "$bin" run --config "$dir/picket.toml" 2>"$dir/stderr" &
  local pid=$!
  bg_pid=$pid
  wait_for "$dir/stderr" "Attached the eBPF process tracer" 60
  mine=$(comm -13 <(sort <<<"$before") <(process_prog_ids | sort) | tr '\n' ' ')
  local t0 rate t1 rss b0 b1 bpf=
  t0=$(cpu_ticks "$pid")
  b0=$(bpf_process_ns "$mine")
  rate=$(storm "$mode" "$round")
  sleep 2 # let the pipeline finish what the storm queued
  t1=$(cpu_ticks "$pid")
  b1=$(bpf_process_ns "$mine")
  [[ $(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null) == 1 ]] &&
    bpf="bpf_us_per_exec=$(awk -v d=$((b1 - b0)) -v n="$execs" 'BEGIN {printf "%.2f", d / n / 1000}') "
  rss=$(vm_hwm_kb "$pid")
  kill -TERM "$pid"
  wait "$pid" || { echo "picket run failed:" >&2; cat "$dir/stderr" >&2; exit 1; }
  bg_pid=
  local status losses lost seen
  status=$(tr -d ' \n' <"$dir/state/status.json")
  losses=$(grep -o '"losses":{[^}]*}' <<<"$status" || echo '{}')
  lost=$(sum_numbers <<<"$losses")
  seen=$( (grep -o '"events_seen":[0-9]*' <<<"$status" || true) | grep -o '[0-9]*$' || true)
  echo -e "$mode\t$round\t$rate\t$rss\t$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$execs" 'BEGIN {printf "%.1f", t / hz * 1000 / (n / 1000)}')\t$lost\t${bpf}events_seen=$seen $losses" >>"$results"
}

run_collector() {
  local round=$1 dir=$work/collector-$1
  mkdir -p "$dir"
  "$trace_bin" --count "${trace_ring[@]}" 2>"$dir/stderr" &
  local pid=$!
  bg_pid=$pid
  wait_for "$dir/stderr" "tracing" 60
  local t0 rate t1 rss
  t0=$(cpu_ticks "$pid")
  rate=$(storm collector "$round")
  sleep 2
  t1=$(cpu_ticks "$pid")
  rss=$(vm_hwm_kb "$pid")
  kill -TERM "$pid"
  wait "$pid"
  bg_pid=
  local line lost
  line=$(grep '^events' "$dir/stderr" || echo "events ? losses ?")
  lost=$(sum_numbers <<<"${line#*losses}")
  echo -e "collector\t$round\t$rate\t$rss\t$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$execs" 'BEGIN {printf "%.1f", t / hz * 1000 / (n / 1000)}')\t$lost\t$line" >>"$results"
}

run_auditd() {
  local round=$1
  if ! command -v auditd >/dev/null || ! command -v auditctl >/dev/null; then
    echo -e "auditd\t$round\tskipped\t-\t-\t-\tnot installed: scripts/setup.sh --bench" >>"$results"
    return
  fi
  local started=0 apid
  apid=$(pgrep -x auditd || true)
  if [[ -z $apid ]]; then
    mkdir -p /var/log/audit
    auditd
    started=1
    sleep 0.5
    apid=$(pgrep -x auditd)
  fi
  auditctl -D >/dev/null
  auditctl -a always,exit -F arch=b64 -S execve
  local lost0 lost1 t0 t1 rate
  lost0=$(auditctl -s | awk '/^lost/ {print $2}')
  t0=$(cpu_ticks "$apid")
  rate=$(storm auditd "$round")
  t1=$(cpu_ticks "$apid")
  lost1=$(auditctl -s | awk '/^lost/ {print $2}')
  auditctl -D >/dev/null
  if ((started)); then kill -TERM "$apid"; while kill -0 "$apid" 2>/dev/null; do sleep 0.1; done; fi
  echo -e "auditd\t$round\t$rate\t-\t$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$execs" 'BEGIN {printf "%.1f", t / hz * 1000 / (n / 1000)}')\t$((lost1 - lost0))\tauditd daemon CPU" >>"$results"
}

run_bpftrace() {
  local round=$1 dir=$work/bpftrace-$1
  if ! command -v bpftrace >/dev/null; then
    echo -e "bpftrace\t$round\tskipped\t-\t-\t-\tnot installed: scripts/setup.sh --bench" >>"$results"
    return
  fi
  mkdir -p "$dir"
  if [[ ! -e /sys/kernel/tracing/events ]]; then
    mount -t tracefs nodev /sys/kernel/tracing
    mounted_tracefs=1
  fi
  bpftrace -e 'tracepoint:syscalls:sys_enter_execve { printf("%d %s ", pid, comm); join(args->argv); }' \
    >"$dir/out" 2>"$dir/stderr" &
  local pid=$!
  bg_pid=$pid
  wait_for "$dir/out" "Attaching" 60
  local t0 t1 rate rss
  t0=$(cpu_ticks "$pid")
  rate=$(storm bpftrace "$round")
  sleep 2
  t1=$(cpu_ticks "$pid")
  rss=$(vm_hwm_kb "$pid")
  kill -INT "$pid"
  wait "$pid" || true
  bg_pid=
  local lost captured
  lost=$(cat "$dir/out" "$dir/stderr" | awk '{ for (i = 1; i < NF; i++) if ($i == "Lost") s += $(i + 1) } END { print s + 0 }')
  captured=$(grep -c "bench-bpftrace-$round-" "$dir/out" || true)
  echo -e "bpftrace\t$round\t$rate\t$rss\t$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$execs" 'BEGIN {printf "%.1f", t / hz * 1000 / (n / 1000)}')\t$lost\tprinted $captured of $execs markers" >>"$results"
}

echo "exec storm: $rounds rounds x [$modes], $execs execs, $workers workers, $(nproc) CPUs, kernel $(uname -r)" >&2
for ((r = 1; r <= rounds; r++)); do
  for m in $modes; do
    echo "round $r: $m" >&2
    "run_$m" "$r"
  done
done

echo
echo "Per round (mode round execs/s peak_rss_kB cpu_ms_per_1000_execs lost notes):"
column -t -s $'\t' "$results" 2>/dev/null || cat "$results"
echo
echo "Summary (medians over $rounds rounds; ratio = rate / same round's baseline rate):"
awk -F'\t' '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (n == 0) return "-"
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { rows[NR] = $0; if ($1 == "baseline") base[$2] = $3 }
  END {
    printf "%-10s %10s %10s %12s %16s %8s\n", "mode", "execs/s", "ratio", "peak_rss_MB", "cpu_ms/1000exec", "lost"
    for (i = 1; i <= NR; i++) {
      split(rows[i], f, "\t"); m = f[1]
      if (!(m in seen)) { seen[m] = 1; order[++k] = m }
      if (f[3] == "skipped") { skipped[m] = 1; continue }
      rates[m] = rates[m] " " f[3]
      if (f[2] in base && base[f[2]] > 0) ratios[m] = ratios[m] " " f[3] / base[f[2]]
      if (f[4] != "-" && f[4] > rss[m]) rss[m] = f[4]
      if (f[5] != "-") cpus[m] = cpus[m] " " f[5]
      if (f[6] != "-") lost[m] += f[6]
    }
    for (i = 1; i <= k; i++) {
      m = order[i]
      if (m in skipped && !(m in rates)) { printf "%-10s skipped (tool not installed)\n", m; continue }
      printf "%-10s %10.1f %10.4f %12s %16s %8s\n", m, median(rates[m]), median(ratios[m]),
        (m in rss) ? sprintf("%.1f", rss[m] / 1024) : "-", (m in cpus) ? median(cpus[m]) : "-",
        (m in lost) ? lost[m] : "-"
    }
  }' "$results"

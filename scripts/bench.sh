#!/usr/bin/env bash
# Picket's speed, each figure beside its baseline in the same run (timing on a shared
# machine moves ±15% between runs, so the ratios are the result, not the seconds).
#
#   ecs replay      `picket replay` of a generated ECS export (gen-ecs-load.py: three
#                   OSes round-robin over 150 hosts, 1% discovery commands), alerts to a
#                   file with fsync = "always"; beside it:
#                     wc -l            the file read, nothing parsed
#                     value parse      serde_json::Value of every line, one core
#                     event parse      Picket's ECS reader alone, one core
#                     picket, off      the same replay with replay_threads = 1 and
#                                      replay_batch_events = 1 (no parser threads, no
#                                      batches: how replay ran before them)
#                   and checks that "off" and "on" raise the same alerts.
#   elastic rules   the first --rule-events events of the load (default 20,000) replayed with the
#                   built-in rule alone, then with the 512 Elastic process rules of
#                   ../shared/fixtures/rules/elastic-process-eql added (rules.paths),
#                   then with those and SigmaHQ's 1,434 process_creation rules of
#                   ../shared/fixtures/rules/sigma-process-creation (rule loading is
#                   part of each replay's time, so a short replay is mostly loading).
#   hostile record  one 100 MB line: peak RSS, counted and skipped.
#   cloudtrail      `picket replay --format cloudtrail` of a generated trail tree
#                   (gen-cloudtrail-load.py: the recorded CloudTrail fixtures as S3
#                   delivery objects of 1,000 records), plain and gzip, threads and
#                   batches off and on (same alerts checked); beside it `cat | wc -l`,
#                   `zcat | wc -l` and a serde_json::Value parse of every object on one
#                   core and on all (`--cloudtrail [--cloud-records N]`, default 500,000;
#                   `--no-ecs` skips the sections above).
#   criterion       analytics evaluate-only, EVTX replay (`--criterion` to add them;
#                   they take minutes).
#   exec storm      scripts/bench-exec-storm.sh (`--storm`; needs root).
#
# Usage: scripts/bench.sh [--events N] [--rule-events N] [--no-ecs]
#                         [--cloudtrail [--cloud-records N]] [--criterion] [--storm]
set -euo pipefail
cd "$(dirname "$0")/.."

events=1000000
rule_events=20000
criterion=0
storm=0
ecs=1
cloudtrail=0
cloud_records=500000
usage="usage: $0 [--events N] [--rule-events N] [--no-ecs] [--cloudtrail [--cloud-records N]] [--criterion] [--storm]"
while (($#)); do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --rule-events) rule_events=$2; shift 2 ;;
    --no-ecs) ecs=0; shift ;;
    --cloudtrail) cloudtrail=1; shift ;;
    --cloud-records) cloud_records=$2; shift 2 ;;
    --criterion) criterion=1; shift ;;
    --storm) storm=1; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/picket-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== building (release)" >&2
cargo build --release --bin picket >&2
cargo build --release -p sensor-core --example ndjson_baseline >&2
cargo build --release -p sensor-logs --example cloudtrail_baseline >&2
picket=target/release/picket

# The default config, with settings replaced.
config() { # NAME SED-EXPRESSIONS...
  local out="$work/$1.toml"; shift
  cp packaging/config/picket.toml "$out"
  local e
  for e in "$@"; do sed -i "$e" "$out"; done
  chmod 644 "$out"
  echo "$out"
}
on=$(config on)
off=$(config off 's/^replay_threads = 0/replay_threads = 1/' 's/^replay_batch_events = 64/replay_batch_events = 1/')
rules=$(config rules "s|^paths = \[\]|paths = [\"$PWD/../shared/fixtures/rules/elastic-process-eql\"]|")
grep -q '^replay_threads = 1' "$off"
sigma=$(config sigma "s|^paths = \[\]|paths = [\"$PWD/../shared/fixtures/rules/elastic-process-eql\", \"$PWD/../shared/fixtures/rules/sigma-process-creation\"]|")
grep -q 'elastic-process-eql' "$rules"
grep -q 'sigma-process-creation' "$sigma"

# Runs a command; prints "wall user sys peak_rss_mb" from its own rusage (wait4).
measure() {
  python3 - "$@" <<'PY'
import os, sys, time
start = time.monotonic()
pid = os.spawnvp(os.P_NOWAIT, sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - start
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"failed: {' '.join(sys.argv[1:])}")
print(f"{wall:.3f} {usage.ru_utime:.3f} {usage.ru_stime:.3f} {usage.ru_maxrss // 1024}")
PY
}

replay() { # CONFIG INPUT OUTPUT
  measure "$picket" replay --config "$1" -o "$3" "$2" 2>>"$work/replay.log"
}

# Alerts without what names the run (when written, the writer's pid, the config).
normalized() {
  python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    a.pop("@timestamp", None)
    a.get("event", {}).pop("id", None)
    a.get("picket", {}).pop("config_hash", None)
    print(json.dumps(a, sort_keys=True))
PY
}

rate() { python3 -c "print(f'{($1) / ($2):,.0f}')"; }
ratio() { python3 -c "print(f'{($1) / ($2):.2f}x')"; }


same=""
if ((ecs)); then
echo "== generating $events ECS events" >&2
python3 scripts/gen-ecs-load.py "$events" "$work/load.ndjson"
head -n "$rule_events" "$work/load.ndjson" >"$work/rules-load.ndjson"

echo "== ecs replay" >&2
read -r wc_wall _ <<<"$(measure sh -c "wc -l <'$work/load.ndjson' >/dev/null")"
read -r value_lines value_wall event_lines_unused event_wall < <(
  target/release/examples/ndjson_baseline "$work/load.ndjson" |
    awk '{v[$1]=$2" "$3} END {print v["value"], v["event"]}'
)
read -r off_wall off_user off_sys off_rss <<<"$(replay "$off" "$work/load.ndjson" "$work/alerts-off.ndjson")"
read -r on_wall on_user on_sys on_rss <<<"$(replay "$on" "$work/load.ndjson" "$work/alerts-on.ndjson")"
if cmp -s <(normalized "$work/alerts-off.ndjson") <(normalized "$work/alerts-on.ndjson"); then
  same="identical ($(wc -l <"$work/alerts-on.ndjson") alerts)"
else
  same="DIFFERENT"
fi

echo "== elastic rules" >&2
read -r bi_wall bi_user _ <<<"$(replay "$on" "$work/rules-load.ndjson" "$work/alerts-builtin.ndjson")"
read -r all_wall all_user _ <<<"$(replay "$rules" "$work/rules-load.ndjson" "$work/alerts-rules.ndjson")"
read -r sigma_wall sigma_user _ <<<"$(replay "$sigma" "$work/rules-load.ndjson" "$work/alerts-sigma.ndjson")"

echo "== hostile record" >&2
python3 - "$work/hostile.ndjson" <<'PY'
import json, sys
arg = "A" * 1000
doc = {"@timestamp": "2026-11-20T10:00:00Z", "event": {"type": ["start"]},
       "host": {"name": "h"}, "process": {"pid": 1, "name": "ss", "args": ["ss"] + [arg] * 100000}}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps(doc) + "\n")
PY
read -r _ _ _ hostile_rss <<<"$(replay "$on" "$work/hostile.ndjson" "$work/alerts-hostile.ndjson")"
hostile_mb=$(( $(stat -c %s "$work/hostile.ndjson") / 1048576 ))
fi

if ((cloudtrail)); then
  echo "== generating $cloud_records CloudTrail records" >&2
  python3 scripts/gen-cloudtrail-load.py "$cloud_records" "$work/trail" "$work/trail-gz"
  # "value-1 RECORDS SECONDS" and "value-N RECORDS SECONDS" on one line.
  baseline() {
    target/release/examples/cloudtrail_baseline "$1" |
      awk '{split($1, k, "-"); printf "%s %s %s ", k[2], $2, $3} END {print ""}'
  }
  read -r _ _ ct_value1_wall ct_valuen_threads _ ct_valuen_wall <<<"$(baseline "$work/trail")"
  read -r _ _ ct_gvalue1_wall _ _ ct_gvaluen_wall <<<"$(baseline "$work/trail-gz")"
  read -r ct_cat_wall _ <<<"$(measure sh -c "find '$work/trail' -type f -print0 | xargs -0 cat | wc -l >/dev/null")"
  read -r ct_zcat_wall _ <<<"$(measure sh -c "find '$work/trail-gz' -type f -print0 | xargs -0 zcat | wc -l >/dev/null")"
  ct_replay() { # CONFIG DIR OUTPUT
    measure "$picket" replay --config "$1" --format cloudtrail -o "$3" "$2" 2>>"$work/replay.log"
  }
  read -r ctp_off_wall ctp_off_user ctp_off_sys ctp_off_rss <<<"$(ct_replay "$off" "$work/trail" "$work/ct-off.ndjson")"
  read -r ctp_on_wall ctp_on_user ctp_on_sys ctp_on_rss <<<"$(ct_replay "$on" "$work/trail" "$work/ct-on.ndjson")"
  read -r ctg_off_wall ctg_off_user ctg_off_sys ctg_off_rss <<<"$(ct_replay "$off" "$work/trail-gz" "$work/ctg-off.ndjson")"
  read -r ctg_on_wall ctg_on_user ctg_on_sys ctg_on_rss <<<"$(ct_replay "$on" "$work/trail-gz" "$work/ctg-on.ndjson")"
  # Off and on must agree within a format (the evidence names the object, so plain and
  # gzip alerts differ by path) and raise as many alerts across formats.
  ct_same="identical ($(wc -l <"$work/ct-on.ndjson") alerts)"
  for run in ct-off ct-on ctg-off ctg-on; do normalized "$work/$run.ndjson" >"$work/$run.norm"; done
  cmp -s "$work/ct-off.norm" "$work/ct-on.norm" || ct_same="DIFFERENT (plain off/on)"
  cmp -s "$work/ctg-off.norm" "$work/ctg-on.norm" || ct_same="DIFFERENT (gzip off/on)"
  [[ $(wc -l <"$work/ct-on.norm") == $(wc -l <"$work/ctg-on.norm") ]] || ct_same="DIFFERENT (plain/gzip counts)"
fi

if ((ecs)); then
printf '\nPicket bench, %s, %s events (%s MB), %s cores\n\n' "$(git rev-parse --short HEAD)" "$events" \
  "$(( $(stat -c %s "$work/load.ndjson") / 1048576 ))" "$(nproc)"
printf '%-34s %12s %10s %10s %8s %10s\n' "measure" "events/s" "wall s" "cpu s" "RSS MB" "vs value"
row() { # NAME EVENTS WALL CPU RSS
  printf '%-34s %12s %10s %10s %8s %10s\n' "$1" "$(rate "$2" "$3")" "$3" "$4" "$5" "$(ratio "$2 / $3" "$value_lines / $value_wall")"
}
row "wc -l (read only)" "$events" "$wc_wall" "-" "-"
row "serde_json::Value parse, 1 core" "$value_lines" "$value_wall" "$value_wall" "-"
row "ECS reader alone, 1 core" "$value_lines" "$event_wall" "$event_wall" "-"
row "picket replay, threads+batches off" "$events" "$off_wall" "$(python3 -c "print(f'{$off_user + $off_sys:.2f}')")" "$off_rss"
row "picket replay (default)" "$events" "$on_wall" "$(python3 -c "print(f'{$on_user + $on_sys:.2f}')")" "$on_rss"
printf '\n  replay speed-up from threads and batches: %s (wall), %s (cpu); alerts: %s\n' \
  "$(ratio "$off_wall" "$on_wall")" "$(ratio "$off_user + $off_sys" "$on_user + $on_sys")" "$same"
printf '  elastic rules: %s events, built-in only %ss, with the 512 process rules %ss: %s the cost\n' \
  "$rule_events" "$bi_wall" "$all_wall" "$(ratio "$all_wall" "$bi_wall")"
printf '  sigma rules: %s events, built-in only %ss, with the 512 Elastic and 1,434 Sigma process rules %ss: %s the cost (cpu %s)\n' \
  "$rule_events" "$bi_wall" "$sigma_wall" "$(ratio "$sigma_wall" "$bi_wall")" "$(ratio "$sigma_user" "$bi_user")"
printf '  hostile record: one %s MB line, peak RSS %s MB; %s\n' "$hostile_mb" "$hostile_rss" \
  "$(grep -o '[0-9]* oversized skipped' "$work/replay.log" | tail -1)"
fi
if ((cloudtrail)); then
  printf '\nCloudTrail replay, %s records in %s objects (%s MB plain, %s MB gzip), %s cores\n\n' \
    "$cloud_records" "$(find "$work/trail" -type f | wc -l)" "$(du -sm "$work/trail" | cut -f1)" \
    "$(du -sm "$work/trail-gz" | cut -f1)" "$(nproc)"
  printf '%-40s %12s %10s %10s %8s %12s\n' "measure" "records/s" "wall s" "cpu s" "RSS MB" "vs 1-core Value"
  ctrow() { # NAME WALL CPU RSS VALUE-WALL
    printf '%-40s %12s %10s %10s %8s %12s\n' "$1" "$(rate "$cloud_records" "$2")" "$2" "$3" "$4" "$(ratio "$5" "$2")"
  }
  cpu() { python3 -c "print(f'{$1 + $2:.2f}')"; }
  ctrow "plain: cat | wc -l (read only)" "$ct_cat_wall" "-" "-" "$ct_value1_wall"
  ctrow "plain: serde_json::Value, 1 core" "$ct_value1_wall" "$ct_value1_wall" "-" "$ct_value1_wall"
  ctrow "plain: serde_json::Value, $ct_valuen_threads cores" "$ct_valuen_wall" "-" "-" "$ct_value1_wall"
  ctrow "plain: picket, threads+batches off" "$ctp_off_wall" "$(cpu "$ctp_off_user" "$ctp_off_sys")" "$ctp_off_rss" "$ct_value1_wall"
  ctrow "plain: picket replay (default)" "$ctp_on_wall" "$(cpu "$ctp_on_user" "$ctp_on_sys")" "$ctp_on_rss" "$ct_value1_wall"
  ctrow "gzip: zcat | wc -l" "$ct_zcat_wall" "-" "-" "$ct_gvalue1_wall"
  ctrow "gzip: serde_json::Value, 1 core" "$ct_gvalue1_wall" "$ct_gvalue1_wall" "-" "$ct_gvalue1_wall"
  ctrow "gzip: serde_json::Value, $ct_valuen_threads cores" "$ct_gvaluen_wall" "-" "-" "$ct_gvalue1_wall"
  ctrow "gzip: picket, threads+batches off" "$ctg_off_wall" "$(cpu "$ctg_off_user" "$ctg_off_sys")" "$ctg_off_rss" "$ct_gvalue1_wall"
  ctrow "gzip: picket replay (default)" "$ctg_on_wall" "$(cpu "$ctg_on_user" "$ctg_on_sys")" "$ctg_on_rss" "$ct_gvalue1_wall"
  printf '\n  picket vs zcat | wc -l: %s of its speed; alerts off/on, plain/gzip: %s\n' \
    "$(ratio "$ct_zcat_wall" "$ctg_on_wall")" "$ct_same"
fi

if ((criterion)); then
  echo
  cargo bench -p analytics --bench throughput 2>&1 | grep -E "time:|thrpt:|^[a-z].*/" || true
  cargo bench -p sensor-windows --bench evtx_replay 2>&1 | grep -E "time:|thrpt:|^[a-z].*/|x " || true
fi
if ((storm)); then
  echo
  scripts/bench-exec-storm.sh --rounds 3 --modes "baseline picket"
fi
[[ $same != DIFFERENT && ${ct_same:-} != DIFFERENT* ]]

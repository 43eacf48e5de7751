#!/usr/bin/env bash
# Coverage-guided fuzzing of every input parser (cargo-fuzz / libFuzzer, fuzz/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   each target for SECONDS (default 60) or
#                                           10,000,000 runs, whichever comes first
#   scripts/fuzz.sh --ci                    each target's seeds plus a few seconds of new
#                                           inputs (FUZZ_CI_SECONDS, default 5)
#
# Seeds are built at every run from the recorded telemetry in ../shared/fixtures and the
# repository's own test data, into target/fuzz/seeds/<target> (gitignored; nothing from
# the fixtures is ever copied into the repository). What the fuzzer finds on top is
# kept in target/fuzz/corpus/<target>, crashing inputs in target/fuzz/artifacts/<target>.
# Prints a table (target, executions, crashes, timeouts, OOMs) and exits non-zero on any
# crash, timeout or OOM. Idempotent: installs the nightly toolchain and cargo-fuzz only
# if they are missing. See docs/fuzzing.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

mode=full
seconds=60
if [[ ${1:-} == --ci ]]; then
  mode=ci
  seconds=${FUZZ_CI_SECONDS:-5}
  shift
elif [[ ${1:-} =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
runs=10000000
rss_mb=2048
timeout_s=10

all_targets=()
for f in fuzz/fuzz_targets/*.rs; do
  all_targets+=("$(basename "$f" .rs)")
done
targets=("${@:-${all_targets[@]}}")

fixtures="$repo/../shared/fixtures"
if [[ ! -d $fixtures ]]; then
  echo "fuzz.sh: the recorded fixtures are missing: $fixtures (clone shared beside the repository)" >&2
  exit 1
fi

# --- tools -------------------------------------------------------------------------
rustup toolchain list | grep -q '^nightly-' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

target_dir=${CARGO_TARGET_DIR:-$repo/target}
work="$repo/target/fuzz"
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="$target_dir/$triple/release"

echo "== building the fuzz targets (cargo +nightly fuzz build)"
# The target directory named, so the binaries are where this script runs them whether
# or not CARGO_TARGET_DIR is set (cargo-fuzz's own default is fuzz/target).
(cd fuzz && cargo +nightly fuzz build -O --debug-assertions --target-dir "$target_dir")
# The Windows JSON seeds are rendered from the recorded EVTX logs by an example of
# sensor-windows, built the ordinary way.
cargo build -q -p sensor-windows --example evtx_jsonl
evtx_jsonl="$target_dir/debug/examples/evtx_jsonl"

# --- seeds -------------------------------------------------------------------------
seeds="$work/seeds"
rm -rf "$seeds"
mkdir -p "$seeds"

# seed_lines TARGET PREFIX FILE...: one seed per non-empty line, PREFIX bytes before it.
seed_lines() {
  local t=$1 prefix=$2
  shift 2
  mkdir -p "$seeds/$t"
  PREFIX="$prefix" DIR="$seeds/$t" perl -ne '
    BEGIN { $n = 0 }
    chomp; next if $_ eq "";
    $n++; my $f = sprintf("%s/%s-%s-%05d", $ENV{DIR}, "line", substr(unpack("H*", $ARGV), -24), $n);
    open(my $o, ">", $f) or die "$f: $!"; binmode $o; print $o $ENV{PREFIX}, $_; close $o;
  ' "$@"
}

# seed_files TARGET PREFIX FILE...: one seed per file, PREFIX bytes before it.
seed_files() {
  local t=$1 prefix=$2 f n=0
  shift 2
  mkdir -p "$seeds/$t"
  for f in "$@"; do
    n=$((n + 1))
    { printf '%b' "$prefix"; cat "$f"; } >"$seeds/$t/file-$n-$(basename "$f")"
  done
}

# json_records FILE...: each record of JSON arrays / wrapper objects / NDJSON, one per
# line (perl's core JSON::PP).
json_records() {
  perl -MJSON::PP -e '
    my $js = JSON::PP->new->utf8->canonical;
    for my $f (@ARGV) {
      open(my $in, "<", $f) or die "$f: $!"; local $/; my $text = <$in>;
      my @docs = eval { ($js->decode($text)) };
      @docs = map { my $d = eval { $js->decode($_) }; defined $d ? ($d) : () } split /\n/, $text unless @docs;
      for my $d (@docs) {
        my @r = ref $d eq "ARRAY" ? @$d
              : (ref $d eq "HASH" && ref $d->{Records} eq "ARRAY") ? @{$d->{Records}}
              : (ref $d eq "HASH" && ref $d->{entries} eq "ARRAY") ? @{$d->{entries}} : ($d);
        print $js->encode($_), "\n" for grep { ref $_ eq "HASH" } @r;
      }
    }' "$@"
}

# ECS lines: the detection cases' events (base fields merged in), dotted keys as written.
ecs_lines() {
  perl -MJSON::PP -ne '
    BEGIN { $js = JSON::PP->new->utf8->canonical }
    my $c = eval { $js->decode($_) } or next;
    my %base = %{ $c->{base} || {} };
    for my $e (@{ $c->{events} || [] }) {
      my %ev = (%base, %$e); $ev{"@timestamp"} //= "2026-06-15T12:00:00Z";
      $ev{"event.category"} //= ["process"];
      print $js->encode(\%ev), "\n";
    }' tests/data/detections/*.ndjson
}

# The `query = '''...'''` of each rule file, one per line (newlines kept as spaces).
rule_queries() {
  perl -0777 -ne 'while (/^query\s*=\s*(\x27\x27\x27|""")(.*?)\1/msg) { my $q = $2; $q =~ s/\s*\n\s*/ /g; print "$q\n" }' "$@"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rules=("$fixtures"/rules/elastic-process-eql/*.toml analytics/rules/*.toml)
esxi_logs=("$fixtures"/esxi/*.log)
net_logs=("$fixtures"/network/*.log)
device_logs=("${esxi_logs[@]}" "${net_logs[@]}" sensor-logs/tests/data/built-positives.log)
trail_files=()
while IFS= read -r -d '' f; do trail_files+=("$f"); done < <(find "$fixtures/cloud/aws" -type f \( -name '*.json' -o -name '*.cloudtrail' \) -print0 | sort -z)

ecs_lines >"$tmp/ecs.ndjson"
rule_queries "${rules[@]}" >"$tmp/queries.txt"
json_records "${trail_files[@]}" >"$tmp/cloudtrail.ndjson"
json_records sensor-logs/tests/data/gcp-audit-built.json >"$tmp/gcp.ndjson"
"$evtx_jsonl" "$fixtures"/windows/evtx/*.evtx >"$tmp/evtx.jsonl"
"$evtx_jsonl" --winlogbeat "$fixtures"/windows/evtx/*.evtx >"$tmp/winlogbeat.ndjson"
# A sample of the rendered records (every 20th) keeps the JSON seed sets small.
awk 'NR % 20 == 1' "$tmp/evtx.jsonl" "$tmp/winlogbeat.ndjson" >"$tmp/windows.sample"

seed_lines ecs_line '' "$tmp/ecs.ndjson"
seed_lines alert_line '' "$tmp/ecs.ndjson"
seed_files eslogger_lines '' "$fixtures"/macos/eslogger-samples.jsonl sensor-macos/tests/data/*.jsonl
seed_lines eslogger_lines '' "$fixtures"/macos/eslogger-samples.jsonl
seed_files evtx_file '' "$fixtures"/windows/evtx/*.evtx
seed_lines winlog_json '' "$tmp/windows.sample"
seed_lines eql_parse '' "$tmp/queries.txt"
awk 'NR == FNR { ev[n++] = $0; next } { print $0 "\001" ev[FNR % n] }' "$tmp/ecs.ndjson" "$tmp/queries.txt" >"$tmp/eql_eval.txt"
mkdir -p "$seeds/eql_eval"
DIR="$seeds/eql_eval" perl -ne 'chomp; my ($q, $e) = split /\x01/, $_, 2; open(my $o, ">", sprintf("%s/pair-%05d", $ENV{DIR}, $.)) or die; print $o "$q\n$e"; close $o' "$tmp/eql_eval.txt"
# The structured targets read their input as a stream of choices (the `arbitrary`
# crate), so any bytes are a valid start: a few fixed pseudo-random ones (perl's
# generator, seeded), the same on every run.
for t in eql_differential pipeline_accounting; do
  mkdir -p "$seeds/$t"
  DIR="$seeds/$t" perl -e 'srand(17); for my $n (1 .. 32) { open(my $o, ">", sprintf("%s/random-%02d", $ENV{DIR}, $n)) or die; binmode $o; print $o pack("C*", map { int(rand(256)) } 1 .. 64 * $n); close $o }'
done
seed_files elastic_rule '' "${rules[@]}"
seed_files config_toml '' packaging/config/*.toml
seed_files config_layered '' packaging/config/*.toml
mkdir -p "$seeds/config_layered"
{ cat packaging/config/picket.toml; printf '\0'; cat packaging/config/fleet-example.toml; printf '\0[general]\nlog_level = "debug"\n'; } >"$seeds/config_layered/layers-default-fleet"
for spec in '\x00\xff\x40' '\x01\x40\x07' '\x02\x10\x00'; do
  seed_files syslog_framing "$spec" "${device_logs[@]}"
done
mkdir -p "$seeds/syslog_framing"
n=0
for f in "${device_logs[@]}"; do
  n=$((n + 1))
  { printf '\x01\xff\x40'; perl -ne 'chomp; print length($_), " ", $_' "$f"; } >"$seeds/syslog_framing/octets-$n"
done
seed_lines syslog_message '' "${device_logs[@]}"
seed_lines esxi_line '' "${esxi_logs[@]}" sensor-logs/tests/data/built-positives.log
seed_lines network_line '' "${net_logs[@]}" sensor-logs/tests/data/built-positives.log
seed_lines tacacs_line '' "${net_logs[@]}" sensor-logs/tests/data/built-positives.log
seed_lines log_line '' "${device_logs[@]}"
seed_lines cloudtrail_record '' "$tmp/cloudtrail.ndjson"
seed_lines gcp_audit_record '' "$tmp/gcp.ndjson"
seed_files cloud_splitter '\xfe' "${trail_files[@]}"
seed_files cloud_splitter '\xff' sensor-logs/tests/data/gcp-audit-built.json
seed_files cloud_object '\x00' "${trail_files[@]}"
seed_files cloud_object '\x01' sensor-logs/tests/data/gcp-audit-built.json
mkdir -p "$seeds/cloud_object"
n=0
for f in "$fixtures"/cloud/aws/stratus-red-team/*.json "$fixtures"/cloud/aws/otrf/*.json; do
  n=$((n + 1))
  { printf '\x00'; gzip -c "$f"; } >"$seeds/cloud_object/gz-$n"
done
{ printf '\x01'; gzip -c sensor-logs/tests/data/gcp-audit-built.json; } >"$seeds/cloud_object/gz-gcp"

# --- dictionaries and limits -------------------------------------------------------
dicts_of() {
  case $1 in
    ecs_line) echo ecs ;;
    alert_line) echo "alert ecs" ;;
    eslogger_lines) echo eslogger ;;
    evtx_file) echo evtx ;;
    winlog_json) echo "evtx ecs" ;;
    eql_parse) echo eql ;;
    eql_eval) echo "eql ecs" ;;
    elastic_rule) echo "rule eql" ;;
    config_toml | config_layered) echo config ;;
    syslog_framing) echo "syslog esxi network" ;;
    syslog_message) echo syslog ;;
    esxi_line) echo "syslog esxi" ;;
    network_line) echo "syslog network" ;;
    tacacs_line) echo tacacs ;;
    log_line) echo "syslog esxi network tacacs" ;;
    cloudtrail_record) echo cloudtrail ;;
    gcp_audit_record) echo gcp ;;
    cloud_splitter | cloud_object) echo "cloudtrail gcp" ;;
    *) echo "" ;;
  esac
}
max_len_of() {
  case $1 in
    evtx_file) echo 69632 ;; # the file header and one 64 KiB chunk
    config_toml | config_layered) echo 65536 ;;
    cloud_splitter | cloud_object | elastic_rule | eslogger_lines) echo 32768 ;;
    *) echo 8192 ;;
  esac
}

# --- runs --------------------------------------------------------------------------
logs="$work/logs"
mkdir -p "$logs"
rows=()
failed=0
started=$(date +%s)
for t in "${targets[@]}"; do
  if [[ ! -x $bin_dir/$t ]]; then
    echo "fuzz.sh: no fuzz target $t (have: ${all_targets[*]})" >&2
    exit 2
  fi
  dict="$work/dict/$t.dict"
  mkdir -p "$work/dict" "$work/artifacts/$t" "$seeds/$t"
  : >"$dict"
  for d in $(dicts_of "$t"); do cat "fuzz/dict/$d.dict" >>"$dict"; done
  # libFuzzer refuses an empty dictionary file; a target without one gets none.
  dict_arg=()
  [[ -s $dict ]] && dict_arg=(-dict="$dict")
  if [[ $mode == ci ]]; then
    corpus="$work/ci-corpus/$t"
    rm -rf "$corpus"
  else
    corpus="$work/corpus/$t"
  fi
  mkdir -p "$corpus"
  log="$logs/$t.log"
  echo "== $t (${seconds}s or $runs runs)"
  t0=$(date +%s)
  set +e
  "$bin_dir/$t" "$corpus" "$seeds/$t" \
    "${dict_arg[@]}" -max_len="$(max_len_of "$t")" \
    -max_total_time="$seconds" -runs="$runs" \
    -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
    -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 \
    -close_fd_mask=1 >"$log" 2>&1
  rc=$?
  set -e
  t1=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(grep -cE 'ERROR: libFuzzer: deadly signal|ERROR: (AddressSanitizer|LeakSanitizer)|panicked at' "$log" || true)
  timeouts=$(grep -c 'ERROR: libFuzzer: timeout' "$log" || true)
  ooms=$(grep -cE 'ERROR: libFuzzer: (out-of-memory|malloc)' "$log" || true)
  ((crashes > 0)) && crashes=1
  if ((rc != 0)) && ((crashes + timeouts + ooms == 0)); then
    crashes=1 # an exit libFuzzer did not explain: count it, read the log
  fi
  if ((crashes + timeouts + ooms > 0)); then
    failed=1
    echo "   FAILED (exit $rc): see $log and $work/artifacts/$t/" >&2
    grep -m3 -E 'panicked at|ERROR:' "$log" >&2 || true
  fi
  rows+=("$(printf '%-20s %12s %8s %8s %8s %6ss' "$t" "${execs:-?}" "$crashes" "$timeouts" "$ooms" "$((t1 - t0))")")
done

echo
printf '%-20s %12s %8s %8s %8s %7s\n' target executions crashes timeouts OOMs time
for r in "${rows[@]}"; do echo "$r"; done
echo "total $(($(date +%s) - started))s of fuzzing ($mode mode)"
exit "$failed"

#!/usr/bin/env bash
# SigmaHQ's regression data for process_creation rules, through Picket: for every
# `regression_data/**/proc_creation_*/info.yml` of a SigmaHQ checkout, replays its EVTX
# with only that rule loaded and checks that the rule fires (an alert whose rule.id is
# the Sigma id). Prints one line per rule and a summary; exits 1 if a rule that loads
# does not fire on its own recording.
#
#   scripts/sigma-regression.sh SIGMA_CHECKOUT [RULES_DIR]
#
# RULES_DIR holds the rule files by name (default: the checkout's own rule folders).
# The regression data is not in ../shared/fixtures, so CI cannot run this; it needs a
# checkout of https://github.com/SigmaHQ/sigma. PICKET_BIN picks the binary (default:
# a debug build of this tree).
set -euo pipefail
cd "$(dirname "$0")/.."

sigma=${1:?usage: scripts/sigma-regression.sh SIGMA_CHECKOUT [RULES_DIR]}
rules_dir=${2:-}
[ -d "$sigma/regression_data" ] || { echo "no regression_data in $sigma" >&2; exit 2; }

bin=${PICKET_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --bin picket
  bin="${CARGO_TARGET_DIR:-target}/debug/picket"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The rule file by name, else (a rule renamed since its data was recorded) by its id.
find_rule() {
  local name=$1 id=$2 found=""
  if [ -n "$rules_dir" ]; then
    [ -f "$rules_dir/$name.yml" ] && found="$rules_dir/$name.yml"
    [ -n "$found" ] || found=$(grep -rlE "^id: *$id *$" "$rules_dir" 2>/dev/null | head -1)
  else
    local dirs=("$sigma/rules" "$sigma/rules-emerging-threats" "$sigma/rules-threat-hunting")
    found=$(find "${dirs[@]}" -name "$name.yml" -print -quit 2>/dev/null || true)
    [ -n "$found" ] || found=$(grep -rlE "^id: *$id *$" "${dirs[@]}" 2>/dev/null | head -1)
  fi
  echo "$found"
}

fired=0 silent=0 refused=0 missing=0
while IFS= read -r info; do
  dir=$(dirname "$info")
  name=$(basename "$dir")
  id=$(awk '/^rule_metadata:/{m=1; next} m && /id:/{print $NF; exit}' "$info")
  rule=$(find_rule "$name" "$id")
  if [ -z "$rule" ]; then
    echo "no-rule   $name"
    missing=$((missing + 1))
    continue
  fi
  mkdir -p "$work/$name"
  cp "$rule" "$work/$name/"
  printf '[rules]\nbuiltin = false\npaths = ["%s"]\n' "$work/$name" > "$work/$name.toml"
  if ! "$bin" check-config "$work/$name.toml" > "$work/$name.check" 2>&1; then
    echo "refused   $name: $(grep -m1 -v '^OK' "$work/$name.check" | cut -c1-160)"
    refused=$((refused + 1))
    continue
  fi
  evtx=("$dir"/*.evtx)
  if "$bin" replay --format evtx --config "$work/$name.toml" "${evtx[@]}" 2>/dev/null \
      | grep -q "\"id\":\"$id\""; then
    echo "fired     $name"
    fired=$((fired + 1))
  else
    echo "SILENT    $name ($id)"
    silent=$((silent + 1))
  fi
done < <(find "$sigma/regression_data" -path '*/proc_creation_*/info.yml' | sort)

echo "fired $fired, silent $silent, refused $refused, rule not found $missing"
[ "$silent" -eq 0 ]

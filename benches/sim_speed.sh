#!/usr/bin/env bash
# Simulation speed, single core: simulated requests (and upstream attempts) per wall-clock second
# on the retry-storm scenarios, and a 1-hour scenario at 50 requests/s.
#   bash benches/sim_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin gauntlet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/hour.toml" <<'TOML'
name = "hour-at-50"
duration = "1h"
[upstream]
latency = { distribution = "lognormal", median = "300ms", p99 = "2s" }
[[upstream.failures]]
kind = "status"
status = 503
probability = 0.02
[workload]
stages = [{ for = "1h", rate = "50/s" }]
prompts = { distinct = 5000, zipf_exponent = 1.0 }
[client.retry]
max_attempts = 3
budget_ratio = 0.1
[client.timeout]
attempt = "10s"
total = "20s"
TOML
run() { # label, scenario, extra args
  local out="$tmp/$1"
  local t0 t1
  t0=$(date +%s.%N)
  taskset -c 0 target/release/gauntlet run "$2" --sim --quiet --out "$out" "${@:3}" > /dev/null || true
  t1=$(date +%s.%N)
  python3 - "$out/summary.json" "$t0" "$t1" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); wall = float(sys.argv[3]) - float(sys.argv[2])
n = d["requests"]["total"]; a = d["upstream"]["calls"]
print(f"{sys.argv[4]:<28} {d['duration_s']:>6.0f} s simulated in {wall:5.2f} s: "
      f"{n:>7} requests ({n / wall:>9.0f}/s), {a:>7} upstream attempts ({a / wall:>9.0f}/s)")
PY
}
run retry-storm-naive scenarios/retry-storm-naive.toml --duration 10m
run retry-storm-budgeted scenarios/retry-storm-budgeted.toml --duration 10m
run hour-at-50/s "$tmp/hour.toml"

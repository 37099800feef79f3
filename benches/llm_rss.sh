#!/usr/bin/env bash
# Peak memory of the LLM figures: a streamed simulation of 100 k requests against one of 1 M
# (every request streams 20 tokens, every token gap, TTFT and TPOT recorded, under an [slo]).
# Memory must not grow with the number of requests: the 1 M run's peak RSS within 1.2x of the
# 100 k run's. Simulation, so the request count is exact and the wall time short.
#   bash benches/llm_rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile bench -q --bin gauntlet
bin=${CARGO_TARGET_DIR:-target}/release/gauntlet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scenario() { # name, seconds at 1000/s
  cat > "$tmp/$1.toml" <<TOML
name = "$1"
duration = "$2s"
[upstream]
reply = { tokens = { distribution = "fixed", value = 20 } }
stream = { time_to_first_token = "100ms", per_token = "10ms" }
[workload]
arrivals = "constant"
stages = [{ for = "$2s", rate = "1000/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
stream_share = 1.0
[slo]
ttft = "500ms"
itl = { p = 99, max = "50ms" }
[report]
interval = "10s"
TOML
}
run() { # name, seconds
  scenario "$1" "$2"
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/$1.rss" "$bin" run "$tmp/$1.toml" --sim --quiet --out "$tmp/$1" > /dev/null || true
  t1=$(date +%s.%N)
  python3 - "$tmp/$1/summary.json" "$(cat "$tmp/$1.rss")" "$t0" "$t1" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[5]:<6} {d['requests']['total']:>8} requests, {d['itl_ms']['count']:>9} token gaps, "
      f"peak RSS {int(sys.argv[2]) / 1024:7.1f} MiB, {float(sys.argv[4]) - float(sys.argv[3]):6.1f} s wall")
PY
}
run 100k 100
run 1m 1000
python3 - "$(cat "$tmp/100k.rss")" "$(cat "$tmp/1m.rss")" <<'PY'
import sys
a, b = int(sys.argv[1]), int(sys.argv[2])
print(f"1 M / 100 k peak RSS: {b / a:.2f}x (target: at most 1.20x)")
PY

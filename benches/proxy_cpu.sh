#!/usr/bin/env bash
# The CPU cost of one request through `gauntlet proxy`, as instructions counted by callgrind:
# the same for the same binary and inputs whatever else the machine is doing, so it is the
# figure to compare on a shared machine (benches/proxy_vs_gateway.sh measures time, which is not).
#   bash benches/proxy_cpu.sh [requests=2000]
# Environment: CONNS (keep-alive connections of the load, default 1), WARMUP (requests before the
# count starts, default 200), TOP (functions listed, default 30; 0 lists none), KEEP (a directory
# to keep the callgrind file in, for callgrind_annotate).
#
# The proxy runs release-built under `valgrind --tool=callgrind` with every layer on (the same
# config as benches/proxy_vs_gateway.sh: cache, limiter, retry, breaker, timeouts, fallback, and
# the metrics and access log it always has), in front of mock-upstream (not under valgrind) with
# no faults and no latency. The load (benches/proxy_cpu_load.py, closed loop) sends non-streamed
# chat completions, every prompt distinct, so no cache answers. Counting is switched on only
# after the warm-up (callgrind_control), so start-up and first connections are not in it:
# "instructions per request" is the proxy process's total (every thread) over those requests.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
conns=${CONNS:-1}
warmup=${WARMUP:-200}
top=${TOP:-30}
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p mock-upstream --bin mock-upstream
cargo build --release -q --bin gauntlet
bin="$target_dir/release"

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
mock_port=18295
proxy_port=18296

wait_http() { # url: up to 120 s (the proxy starts slowly under valgrind)
  for _ in $(seq 1200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answered at $1" >&2
  exit 1
}

printf '[reply]\ntokens = { distribution = "fixed", value = 20 }\n' > "$tmp/fast.toml"
"$bin/mock-upstream" --listen 127.0.0.1:$mock_port --faults "$tmp/fast.toml" > /dev/null &
wait_http "http://127.0.0.1:$mock_port/_mock/stats"

source benches/proxy_config.sh
proxy_config $proxy_port $mock_port > "$tmp/proxy.toml"
out="$tmp/callgrind.out"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" --log-file="$tmp/valgrind.log" \
  "$bin/gauntlet" proxy "$tmp/proxy.toml" > /dev/null 2> "$tmp/access.log" &
proxy_pid=$!
wait_http "http://127.0.0.1:$proxy_port/healthz"

python3 benches/proxy_cpu_load.py $proxy_port "$warmup" "$conns" 0 > /dev/null
callgrind_control -i on $proxy_pid > /dev/null
python3 benches/proxy_cpu_load.py $proxy_port "$n" "$conns" "$warmup" > /dev/null
callgrind_control -i off $proxy_pid > /dev/null
kill -TERM $proxy_pid
wait $proxy_pid || true

total=$(awk '/^totals:/ {t = $2} END {print t}' "$out")
served=$(grep -c '"status":200' "$tmp/access.log" || true)
echo "== gauntlet proxy under callgrind, every layer on: $n requests over $conns connection(s) after $warmup warm-up"
echo "instructions: $total over $n requests = $((total / n)) per request ($served of $((n + warmup)) answered 200)"
if [ "$top" -gt 0 ]; then
  callgrind_annotate --inclusive=no "$out" 2> /dev/null | sed -n "1,$((top + 25))p" | grep -v '^--' | tail -n +1 \
    | awk 'NF' | head -$((top + 12))
fi
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  cp "$out" "$KEEP/callgrind.out"
  echo "kept $KEEP/callgrind.out (callgrind_annotate --inclusive=yes $KEEP/callgrind.out)"
fi

#!/usr/bin/env bash
# HTTP throughput of the mock (limits on, zero latency) against a bare hyper hello-world server,
# with the same load tool (wrk) in the same run, on loopback only.
#   bash mock-upstream/bench-http.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
cargo build --release -q -p mock-upstream --bin mock-upstream --example hello_hyper
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cat > "$tmp/limits.toml" <<'TOML'
[limits]
requests_per_minute = 1000000000
tokens_per_minute = 4000000000
requests_per_day = 2000000000
[reply]
tokens = { distribution = "fixed", value = 20 }
TOML
cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
LUA
target/release/mock-upstream --listen 127.0.0.1:18089 --faults "$tmp/limits.toml" > /dev/null &
target/release/examples/hello_hyper 127.0.0.1:18090 > /dev/null &
target/release/examples/hello_hyper 127.0.0.1:18091 axum > /dev/null &
sleep 1
run() { wrk -t1 -c"$conns" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
hyper_rps=$(run http://127.0.0.1:18090/)
axum_rps=$(run http://127.0.0.1:18091/)
mock_rps=$(run -s "$tmp/post.lua" http://127.0.0.1:18089/v1/chat/completions)
codes=$(curl -s http://127.0.0.1:18089/_mock/stats | tr -d ' \n' | grep -o '"by_status":{[^}]*}')
echo "bare hyper:            ${hyper_rps} req/s"
echo "axum hello (context):  ${axum_rps} req/s"
echo "mock (limits, 0 ms):   ${mock_rps} req/s   ${codes}"
awk -v m="$mock_rps" -v h="$hyper_rps" -v a="$axum_rps" \
  'BEGIN { printf "mock / hyper:          %.2f   (axum hello / hyper: %.2f)\n", m / h, a / h }'

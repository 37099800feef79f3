#!/usr/bin/env bash
# HTTP throughput of the mock (limits on, zero latency) against a bare hyper hello-world server,
# with the same load tool (wrk) in the same run, on loopback only: chat completions, then
# embeddings (1536 dimensions, base64 as the Node SDK asks and float), each other route as a
# ratio of chat's rate.
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
# A wrk script POSTing $2 as JSON, written to $1.
lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
LUA
}
lua "$tmp/post.lua" '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
sentence="The quick brown fox jumps over the lazy dog"
lua "$tmp/emb64.lua" '{"model":"text-embedding-3-small","input":"'"$sentence"'","encoding_format":"base64"}'
lua "$tmp/embf.lua" '{"model":"text-embedding-3-small","input":"'"$sentence"'"}'
target/release/mock-upstream --listen 127.0.0.1:18089 --faults "$tmp/limits.toml" > /dev/null &
target/release/examples/hello_hyper 127.0.0.1:18090 > /dev/null &
target/release/examples/hello_hyper 127.0.0.1:18091 axum > /dev/null &
sleep 1
run() { wrk -t1 -c"$conns" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
hyper_rps=$(run http://127.0.0.1:18090/)
axum_rps=$(run http://127.0.0.1:18091/)
mock_rps=$(run -s "$tmp/post.lua" http://127.0.0.1:18089/v1/chat/completions)
emb64_rps=$(run -s "$tmp/emb64.lua" http://127.0.0.1:18089/v1/embeddings)
embf_rps=$(run -s "$tmp/embf.lua" http://127.0.0.1:18089/v1/embeddings)
codes=$(curl -s http://127.0.0.1:18089/_mock/stats | tr -d ' \n' | grep -o '"by_status":{[^}]*}')
echo "bare hyper:            ${hyper_rps} req/s"
echo "axum hello (context):  ${axum_rps} req/s"
echo "mock (limits, 0 ms):   ${mock_rps} req/s   ${codes}"
echo "embeddings base64:     ${emb64_rps} req/s"
echo "embeddings float:      ${embf_rps} req/s"
awk -v m="$mock_rps" -v h="$hyper_rps" -v a="$axum_rps" \
  'BEGIN { printf "mock / hyper:          %.2f   (axum hello / hyper: %.2f)\n", m / h, a / h }'
awk -v m="$mock_rps" -v b="$emb64_rps" -v f="$embf_rps" \
  'BEGIN { printf "embeddings / chat:     base64 %.2f, float %.2f   (target: at least 0.8)\n", b / m, f / m }'

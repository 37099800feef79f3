#!/usr/bin/env bash
# What a gateway adds: the mock called directly, through `gauntlet proxy` and through LiteLLM's
# proxy, by the same load generator in the same run, loopback only.
#   bash benches/proxy_vs_gateway.sh [seconds per point=5]
# Environment: RATES (default "1000 5000" requests/s), PIN (default 1: the load generator on CPU 0,
# the mock and the gateway under test on CPU 1, with taskset), SKIP_LITELLM=1 to leave it out.
#
# The upstream is mock-upstream with no faults and no latency (20-token answers). The load is the
# project's own driver (`gauntlet run --target`): open model, a constant rate, non-streamed chat
# completions, every prompt distinct (so neither gateway's cache can answer), no client layer in
# the driver. Both gateways run every layer that has a counterpart in the other: the same retries
# (3 attempts = LiteLLM's num_retries 2), the same rate limit (10 000/s = LiteLLM's rpm 600 000),
# a response cache (in memory) and timeouts; gauntlet proxy also runs its breaker and fallback.
# Per point and path: p50 and p99 latency (from the driver's summary.json; counted from each
# request's intended start, so the driver's own schedule lag is in every path alike, and from the
# actual send, without it), the rate
# achieved, and the server's CPU per request (utime + stime from /proc/PID/stat before and after,
# the mock's for the direct path, the gateway's alone otherwise). "added" is gateway minus direct.
# LiteLLM is installed from PyPI into a venv under the target directory (pinned below) and run
# offline: the local model cost map, no telemetry, one uvicorn worker, no database.
# No figure here is asserted: read them (README "Performance", "Proxy overhead").
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rates=${RATES:-"1000 5000"}
pin=${PIN:-1}
litellm_version=1.80.0
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p mock-upstream --bin mock-upstream
cargo build --release -q --bin gauntlet
bin="$target_dir/release"

venv="$target_dir/litellm-venv"
with_litellm=$([ "${SKIP_LITELLM:-0}" = 1 ] && echo 0 || echo 1)
if [ "$with_litellm" = 1 ] && ! "$venv/bin/pip" show litellm 2>/dev/null | grep -qx "Version: $litellm_version"; then
  echo "installing litellm[proxy]==$litellm_version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "litellm[proxy]==$litellm_version"
fi

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
mock_port=18290
proxy_port=18291
litellm_port=18292
# Prefixes, not functions: a function run in the background is a subshell, and $! must be the server.
if [ "$pin" = 1 ]; then on_load=(taskset -c 0); on_server=(taskset -c 1); else on_load=(env); on_server=(env); fi

wait_http() { # url: up to 60 s (LiteLLM imports for a while)
  for _ in $(seq 600); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answered at $1" >&2
  exit 1
}

# The upstream: no faults, no latency, 20-token answers.
printf '[reply]\ntokens = { distribution = "fixed", value = 20 }\n' > "$tmp/fast.toml"
"${on_server[@]}" "$bin/mock-upstream" --listen 127.0.0.1:$mock_port --faults "$tmp/fast.toml" > /dev/null &
mock_pid=$!
wait_http "http://127.0.0.1:$mock_port/_mock/stats"

# gauntlet proxy: every layer that has a LiteLLM counterpart, and its own breaker and fallback.
source benches/proxy_config.sh
proxy_config $proxy_port $mock_port > "$tmp/gauntlet-proxy.toml"
proxy_pid=
if "$bin/gauntlet" proxy --help > /dev/null 2>&1; then
  "${on_server[@]}" "$bin/gauntlet" proxy "$tmp/gauntlet-proxy.toml" > "$tmp/gauntlet-proxy.log" 2>&1 &
  proxy_pid=$!
else
  echo "this gauntlet has no proxy command: its path is left out" >&2
fi

litellm_pid=
if [ "$with_litellm" = 1 ]; then
  cat > "$tmp/litellm.yaml" <<EOF
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$mock_port/v1
      api_key: sk-bench
      rpm: 600000
      timeout: 30
router_settings:
  num_retries: 2
litellm_settings:
  num_retries: 2
  request_timeout: 60
  telemetry: false
  turn_off_message_logging: true
  cache: true
  cache_params:
    type: local
    ttl: 300
general_settings:
  disable_spend_logs: true
EOF
  "${on_server[@]}" env LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR "$venv/bin/litellm" \
    --config "$tmp/litellm.yaml" --host 127.0.0.1 --port $litellm_port --num_workers 1 --telemetry False \
    > "$tmp/litellm.log" 2>&1 &
  litellm_pid=$!
fi

if [ -n "$proxy_pid" ]; then wait_http "http://127.0.0.1:$proxy_port/healthz"; fi
if [ -n "$litellm_pid" ]; then wait_http "http://127.0.0.1:$litellm_port/health/liveliness"; fi

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"warm up"}]}'
for port in $mock_port ${proxy_pid:+$proxy_port} ${litellm_pid:+$litellm_port}; do # connections, imports
  for _ in $(seq 20); do
    curl -s -o /dev/null -H 'Authorization: Bearer sk-bench' -H 'Content-Type: application/json' \
      -d "$body" "http://127.0.0.1:$port/v1/chat/completions"
  done
done

# CPU ticks (utime + stime) of a process and its children's threads (LiteLLM may fork).
ticks() {
  local total=0 p
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }

scenario() { # file, rate
  printf 'name = "proxy-bench"\nseed = 1\nduration = "%ss"\n[upstream]\ntarget = "http://127.0.0.1:%s"\napi_keys = ["sk-bench"]\n[workload]\narrivals = "constant"\nstages = [{ for = "1h", rate = "%s/s" }]\nprompts = { distinct = 10000000, zipf_exponent = 0.0 }\nmax_in_flight = 100000\n' \
    "$secs" "$mock_port" "$2" > "$1"
}

# Drain between points: the driver stops at its duration, but a gateway that fell behind (LiteLLM
# above ~95/s) goes on working off its queue, on the servers' core, into the next point. Wait until
# the server under test is idle (at most one CPU tick, 10 ms, in a second) and the mock has answered
# nothing new, three seconds running (at most 120 s; then say so). Its CPU is read after the drain,
# so a point's backlog is charged to that point.
mock_requests() { curl -s "http://127.0.0.1:$mock_port/_mock/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
drain() { # server pid
  local quiet=0 t0 t1 r0 r1
  t0=$(ticks "$1"); r0=$(mock_requests)
  for _ in $(seq 120); do
    sleep 1
    t1=$(ticks "$1"); r1=$(mock_requests)
    if [ $((t1 - t0)) -le 1 ] && [ "$r1" = "$r0" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 3 ] && return 0
    t0=$t1; r0=$r1
  done
  echo "pid $1 still busy after 120 s: the next point shares its core with this one's backlog" >&2
}

# One point: path name, port, server pid, rate. Prints a table row; keeps p50/p99 for "added".
declare -A p50 p99
point() {
  local name=$1 port=$2 pid=$3 rate=$4 out="$tmp/$1-$4"
  scenario "$tmp/s-$rate.toml" "$rate"
  local before after
  before=$(ticks "$pid")
  "${on_load[@]}" "$bin/gauntlet" run "$tmp/s-$rate.toml" --target "http://127.0.0.1:$port" --threads 1 \
    --out "$out" --quiet > /dev/null || true
  drain "$pid"
  after=$(ticks "$pid")
  local n ok achieved cpu_us
  n=$(field "$out/summary.json" "d['requests']['total']")
  ok=$(field "$out/summary.json" "d['requests']['ok']")
  achieved=$(field "$out/summary.json" "round(d['requests']['total'] / d['duration_s'])")
  cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
  p50[$name-$rate]=$(field "$out/summary.json" "d['latency_ms']['p50']")
  p99[$name-$rate]=$(field "$out/summary.json" "d['latency_ms']['p99']")
  local svc
  svc=$(field "$out/summary.json" "'%s / %s' % (d['schedule']['service_ms']['p50'], d['schedule']['service_ms']['p99'])")
  local added="—"
  if [ "$name" != direct ]; then
    added=$(awk -v a="${p50[$name-$rate]}" -v b="${p50[direct-$rate]}" -v c="${p99[$name-$rate]}" -v d="${p99[direct-$rate]}" \
      'BEGIN {printf "%+.3f / %+.3f", a - b, c - d}')
  fi
  printf '| %s/s | %s | %s of %s ok, %s/s | %s | %s | %s | %s | %s |\n' "$rate" "$name" "$ok" "$n" "$achieved" \
    "${p50[$name-$rate]}" "${p99[$name-$rate]}" "$added" "$svc" "$cpu_us"
}

echo "== mock direct, gauntlet proxy, LiteLLM $litellm_version; ${secs} s per point; pinned: $pin"
echo "| rate | path | requests | p50 ms | p99 ms | added p50 / p99 ms | from send p50 / p99 ms | server CPU µs/request |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
drain "$mock_pid"
for rate in $rates; do
  point direct $mock_port $mock_pid "$rate"
  if [ -n "$proxy_pid" ]; then point gauntlet-proxy $proxy_port "$proxy_pid" "$rate"; fi
  if [ -n "$litellm_pid" ]; then point litellm $litellm_port "$litellm_pid" "$rate"; fi
done
echo "mock's own answers: $(mock_requests) requests"

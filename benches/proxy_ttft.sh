#!/usr/bin/env bash
# Time to first token through `gauntlet proxy` against the mock called directly, loopback only.
#   bash benches/proxy_ttft.sh [seconds per point=5] [rounds=3]
# Environment: RATES (default "20 200" requests/s), TTFT (the mock's time to first token,
# default 20ms), PIN (default 1: the driver on CPU 0, the mock and the proxy on CPU 1).
#
# The upstream is mock-upstream streaming 20-token chat answers: the first chunk after TTFT, then
# one chunk every 5 ms. The load is the project's own driver (`gauntlet run --target`): open
# model, a constant rate, every session streaming, every prompt distinct (no cache hit), no client
# layer in the driver. The proxy runs a cache, retries, a breaker and timeouts, and passes the
# upstream's frames on as they come. The driver's `ttft_ms` is counted from each request's
# intended start to its first content chunk, so it holds the driver's schedule lag (tokio's timer
# ticks in milliseconds, and where in a tick the driver wakes shifts with what it talks to);
# `ttft_sent_ms`, from the request's actual send, is what the proxy itself adds. Both are printed.
# The rounds alternate direct and proxy so a noisy
# neighbour spreads over both; each row is one round, and "added" is proxy minus direct of the
# same round. No figure here is asserted: read them (README "gauntlet proxy").
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
rates=${RATES:-"20 200"}
ttft=${TTFT:-20ms}
pin=${PIN:-1}
target_dir=${CARGO_TARGET_DIR:-target}
profile=${PROFILE:-release} # PROFILE=debug reuses a debug build (figures then are not the release's)
if [ "$profile" = release ]; then build=(--release); else build=(); fi
cargo build "${build[@]}" -q -p mock-upstream --bin mock-upstream
cargo build "${build[@]}" -q --bin gauntlet
bin="$target_dir/$profile"

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
mock_port=18295
proxy_port=18296
if [ "$pin" = 1 ]; then on_load=(taskset -c 0); on_server=(taskset -c 1); else on_load=(env); on_server=(env); fi

wait_http() { # url: up to 30 s
  for _ in $(seq 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answered at $1" >&2
  exit 1
}

printf '[reply]\ntokens = { distribution = "fixed", value = 20 }\n[stream]\ntime_to_first_token = "%s"\nper_token = "5ms"\n' \
  "$ttft" > "$tmp/mock.toml"
"${on_server[@]}" "$bin/mock-upstream" --listen 127.0.0.1:$mock_port --faults "$tmp/mock.toml" > /dev/null &
wait_http "http://127.0.0.1:$mock_port/_mock/stats"

cat > "$tmp/proxy.toml" <<EOF
[proxy]
listen = "127.0.0.1:$proxy_port"
upstream = "http://127.0.0.1:$mock_port"

[client.cache]
ttl = "5m"

[client.retry]
max_attempts = 3

[client.breaker]

[client.timeout]
attempt = "30s"
total = "60s"
EOF
"${on_server[@]}" "$bin/gauntlet" proxy "$tmp/proxy.toml" > "$tmp/proxy.log" 2>&1 &
wait_http "http://127.0.0.1:$proxy_port/healthz"

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }

# One run: rate, port, out dir, seed (a new one per run: the proxy's cache must not answer a
# prompt sequence it has seen). Prints "ttft_p50 ttft_p99 sent_p50 sent_p99 ok total".
measure() {
  printf 'name = "proxy-ttft"\nseed = %s\nduration = "%ss"\n[workload]\narrivals = "constant"\nstages = [{ for = "1h", rate = "%s/s" }]\nprompts = { distinct = 10000000, zipf_exponent = 0.0 }\nstream_share = 1.0\nmax_in_flight = 100000\n' \
    "$4" "$secs" "$1" > "$tmp/s.toml"
  "${on_load[@]}" "$bin/gauntlet" run "$tmp/s.toml" --target "http://127.0.0.1:$2" --threads 1 \
    --out "$3" --quiet > /dev/null || true
  field "$3/summary.json" "'%s %s %s %s %s %s' % (d['ttft_ms']['p50'], d['ttft_ms']['p99'], d['ttft_sent_ms']['p50'], d['ttft_sent_ms']['p99'], d['requests']['ok'], d['requests']['total'])"
}

added() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN {printf "%+.3f / %+.3f", a - b, c - d}'; } # proxy p50, direct p50, proxy p99, direct p99

echo "== TTFT, mock direct vs gauntlet proxy; mock TTFT $ttft, 5 ms per token; ${secs} s per point; pinned: $pin"
echo "| rate | round | direct TTFT p50 / p99 ms | proxy TTFT p50 / p99 ms | added p50 / p99 ms | from send: direct | proxy | added | ok (direct, proxy) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for rate in $rates; do
  for round in $(seq "$rounds"); do
    seed=$((rate * 100 + round))
    read -r d50 d99 ds50 ds99 dok dn <<< "$(measure "$rate" $mock_port "$tmp/direct-$rate-$round" "$seed")"
    read -r p50 p99 ps50 ps99 pok pn <<< "$(measure "$rate" $proxy_port "$tmp/proxy-$rate-$round" "$seed")"
    printf '| %s/s | %s | %s / %s | %s / %s | %s | %s / %s | %s / %s | %s | %s of %s, %s of %s |\n' "$rate" "$round" \
      "$d50" "$d99" "$p50" "$p99" "$(added "$p50" "$d50" "$p99" "$d99")" \
      "$ds50" "$ds99" "$ps50" "$ps99" "$(added "$ps50" "$ds50" "$ps99" "$ds99")" "$dok" "$dn" "$pok" "$pn"
  done
done

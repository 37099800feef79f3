#!/usr/bin/env bash
# The driver against oha, the same fast mock, the same run, loopback only.
#   bash benches/driver_vs_oha.sh [seconds=10] [rounds=3]
# Needs oha (cargo install oha) and GNU time (apt-get install time).
#  1. maximum throughput: closed model, 32 users, every client layer off, vs `oha -c 32`;
#  2. CPU time per request at a fixed 10 000 requests/s, vs `oha -q 10000` (user + sys);
#  3. schedule accuracy at a fixed 2 000 requests/s: achieved rate and the driver's own lag;
#  4. memory: peak RSS of a 1 000 000-request run against a 100 000-request one.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
command -v oha >/dev/null || { echo "needs oha: cargo install oha" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 2; }
cargo build --release -q -p mock-upstream --bin mock-upstream
cargo build --release -q --bin gauntlet
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=18189
url="http://127.0.0.1:$port/v1/chat/completions"
printf '[reply]\ntokens = { distribution = "fixed", value = 20 }\n' > "$tmp/fast.toml"
target/release/mock-upstream --listen 127.0.0.1:$port --faults "$tmp/fast.toml" > /dev/null &
sleep 1
body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
oha_run() { oha --no-tui -z "${secs}s" -m POST -T application/json -d "$body" "$@" "$url"; }
scenario() { # name, workload lines, duration
  printf 'name = "%s"\nduration = "%s"\n[upstream]\ntarget = "http://127.0.0.1:%s"\n[workload]\nprompts = { distinct = 1000, zipf_exponent = 0.0 }\nmax_in_flight = 100000\n%b' \
    "$1" "$3" "$port" "$2" > "$tmp/$1.toml"
}
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }
cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u + s}' "$1"; }
rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Parts 1 and 2 alternate oha and the driver in short rounds, so a noisy neighbour on a shared
# machine falls on both alike; each round gives a ratio, and the median of the rounds is the figure.
echo "== 1. maximum throughput, 32 connections / users ($rounds rounds of ${secs} s each)"
scenario closed32 'model = "closed"\nusers = 32\n' "${secs}s"
: > "$tmp/ratios1"
for r in $(seq "$rounds"); do
  oha_rps=$(oha_run -c 32 | awk '/Requests\/sec/ {print $2}')
  target/release/gauntlet run "$tmp/closed32.toml" --out "$tmp/closed32" --quiet > /dev/null || true
  drv_rps=$(field "$tmp/closed32/summary.json" "d['requests']['total'] / d['duration_s']")
  ratio=$(awk -v a="$drv_rps" -v b="$oha_rps" 'BEGIN { printf "%.2f", a / b }')
  echo "$ratio" >> "$tmp/ratios1"
  printf 'round %d: oha %.0f req/s, driver %.0f req/s, driver / oha %s\n' "$r" "$oha_rps" "$drv_rps" "$ratio"
done
echo "driver / oha, median: $(median < "$tmp/ratios1")"

echo "== 2. CPU per request at 10 000 requests/s ($rounds rounds of ${secs} s each)"
scenario open10k 'arrivals = "constant"\nstages = [{ for = "1h", rate = "10000/s" }]\n' "${secs}s"
: > "$tmp/ratios2"
for r in $(seq "$rounds"); do
  /usr/bin/time -v -o "$tmp/oha.time" oha --no-tui -z "${secs}s" -q 10000 -c 64 -m POST -T application/json -d "$body" "$url" > "$tmp/oha.out"
  oha_n=$(awk '/\[200\]/ {print $2}' "$tmp/oha.out")
  /usr/bin/time -v -o "$tmp/drv.time" target/release/gauntlet run "$tmp/open10k.toml" --out "$tmp/open10k" --quiet > /dev/null || true
  drv_n=$(field "$tmp/open10k/summary.json" "d['requests']['total']")
  oha_us=$(awk -v c="$(cpu "$tmp/oha.time")" -v n="$oha_n" 'BEGIN {printf "%.1f", c / n * 1e6}')
  drv_us=$(awk -v c="$(cpu "$tmp/drv.time")" -v n="$drv_n" 'BEGIN {printf "%.1f", c / n * 1e6}')
  ratio=$(awk -v a="$drv_us" -v b="$oha_us" 'BEGIN { printf "%.2f", a / b }')
  echo "$ratio" >> "$tmp/ratios2"
  echo "round $r: oha $(cpu "$tmp/oha.time") s CPU for $oha_n requests ($oha_us us/request), driver $(cpu "$tmp/drv.time") s for $drv_n ($drv_us us/request), driver / oha $ratio"
done
echo "driver / oha CPU per request, median: $(median < "$tmp/ratios2")"
# The same run on one driver thread (`--threads 1`): at a rate one core can carry it wakes less
# often than two threads taking turns (a knob, not the default: see README).
/usr/bin/time -v -o "$tmp/drv1.time" target/release/gauntlet run "$tmp/open10k.toml" --out "$tmp/open10k-1" --quiet --threads 1 > /dev/null || true
drv1_n=$(field "$tmp/open10k-1/summary.json" "d['requests']['total']")
echo "driver --threads 1: $(cpu "$tmp/drv1.time") s CPU for $drv1_n requests: $(awk -v c="$(cpu "$tmp/drv1.time")" -v n="$drv1_n" 'BEGIN {printf "%.1f", c / n * 1e6}') us/request; latency p50 $(field "$tmp/open10k-1/summary.json" "d['latency_ms']['p50']") ms (default threads, last round: $(field "$tmp/open10k/summary.json" "d['latency_ms']['p50']") ms)"

echo "== 3. schedule accuracy at 2 000 requests/s for ${secs} s"
scenario open2k 'arrivals = "constant"\nstages = [{ for = "1h", rate = "2000/s" }]\n' "${secs}s"
target/release/gauntlet run "$tmp/open2k.toml" --out "$tmp/open2k" --quiet > /dev/null || true
echo "achieved: $(field "$tmp/open2k/summary.json" "round(d['requests']['total'] / d['duration_s'], 1)") req/s of 2000 ($(field "$tmp/open2k/summary.json" "round((d['requests']['total'] / d['duration_s'] / 2000 - 1) * 100, 3)") %)"
echo "driver lag: p50 $(field "$tmp/open2k/summary.json" "d['schedule']['lag_ms']['p50']") ms, p99 $(field "$tmp/open2k/summary.json" "d['schedule']['lag_ms']['p99']") ms; latency p50 $(field "$tmp/open2k/summary.json" "d['latency_ms']['p50']") ms"

echo "== 4. memory: 100 000 against 1 000 000 requests at 10 000/s"
scenario m100k 'arrivals = "constant"\nstages = [{ for = "1h", rate = "10000/s" }]\n' "10s"
scenario m1m 'arrivals = "constant"\nstages = [{ for = "1h", rate = "10000/s" }]\n' "100s"
/usr/bin/time -v -o "$tmp/m100k.time" target/release/gauntlet run "$tmp/m100k.toml" --out "$tmp/m100k" --quiet > /dev/null || true
/usr/bin/time -v -o "$tmp/m1m.time" target/release/gauntlet run "$tmp/m1m.toml" --out "$tmp/m1m" --quiet > /dev/null || true
a=$(rss "$tmp/m100k.time"); b=$(rss "$tmp/m1m.time")
echo "peak RSS: $a KiB ($(field "$tmp/m100k/summary.json" "d['requests']['total']") requests), $b KiB ($(field "$tmp/m1m/summary.json" "d['requests']['total']") requests): ratio $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"

#!/usr/bin/env bash
# Wall-clock time of a 12-step `gauntlet plan` (release build) on a shipped scenario, with two
# simulations at once (--jobs 2, the 2-core machine): the highest stage rate of
# steady-under-limit.toml meeting its SLO, and the users a daily quota carries.
#   bash benches/plan_speed.sh            (PROFILE=debug to time a debug build instead)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
if [ "$profile" = release ]; then cargo build --release -q --bin gauntlet; else cargo build -q --bin gauntlet; fi
bin="${CARGO_TARGET_DIR:-target}/$profile/gauntlet"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bench() { # label, scenario, vary, until
  local out="$tmp/$1" t0 t1
  t0=$(date +%s.%N)
  "$bin" plan "$2" --vary "$3" --until "$4" --steps 12 --jobs 2 --quiet --out "$out" > "$tmp/$1.txt" || true
  t1=$(date +%s.%N)
  python3 - "$out/plan.json" "$t0" "$t1" "$1" "$tmp/$1.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); wall = float(sys.argv[3]) - float(sys.argv[2])
n = len(d["steps"])
print(f"{sys.argv[4]:<22} {n:>2} steps in {wall:5.2f} s ({wall / n:.2f} s a step): {open(sys.argv[5]).readline().strip()}")
PY
}
bench steady-rate scenarios/steady-under-limit.toml 'workload.stages[0].rate=1/s..30/s' 'error_rate < 1% and latency.p99 < 5s'
bench daily-quota-users scenarios/plan-daily-quota.toml 'workload.users=1..300' 'error_rate < 1%'
bench stretch-free-quota scenarios/stretch-free-quota.toml 'workload.users=2..400' 'error_rate < 1% and outcomes.fallback < 1% and priority.interactive.latency.p99 < 10s'

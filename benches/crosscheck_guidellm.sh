#!/usr/bin/env bash
# Gauntlet's LLM figures against GuideLLM's, on the same paced mock in the same script, loopback only.
#   bash benches/crosscheck_guidellm.sh [seconds=10] [rate=5]
# Env: PROFILE=release|debug (default release: the build both tools are measured against),
#      VENV=dir (default target/crosscheck-venv; made on first use with `pip install guidellm`).
# The mock binary streams 10-token replies, the first token after 200 ms, one every 20 ms after.
# GuideLLM reads prompts from a local JSONL file and runs with HF_HUB_OFFLINE=1 (no tokenizer
# download); nothing leaves 127.0.0.1. Prints both tools' TTFT and ITL p50 / p99 and the
# ratio gauntlet / GuideLLM; exits 1 when one of them is more than 5 % apart.
# Note: GuideLLM's ITL is per request ((latency − TTFT) / (tokens − 1)), which is Gauntlet's TPOT;
# Gauntlet's ITL is every gap. Both are printed against it.
# Not in CI: installing GuideLLM pulls PyTorch (minutes, ~1 GB) and the run is two ~10 s loads.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rate=${2:-5}
profile=${PROFILE:-release}
venv=${VENV:-target/crosscheck-venv}
flag=()
[ "$profile" = release ] && flag=(--release)
cargo build "${flag[@]}" -q -p mock-upstream --bin mock-upstream
cargo build "${flag[@]}" -q --bin gauntlet
bin="${CARGO_TARGET_DIR:-target}/$profile"
if [ ! -x "$venv/bin/guidellm" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q guidellm
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=18289
printf 'seed = 7\n[reply]\ntokens = { distribution = "fixed", value = 10 }\n[stream]\ntime_to_first_token = "200ms"\nper_token = "20ms"\n' > "$tmp/paced.toml"
"$bin/mock-upstream" --listen 127.0.0.1:$port --faults "$tmp/paced.toml" > "$tmp/mock.log" 2>&1 &
sleep 1
python3 -c "
import json, sys
with open(sys.argv[1], 'w') as f:
    for i in range(100000):
        f.write(json.dumps({'prompt': f'question {i}: tell me about the weather'}) + '\n')
" "$tmp/prompts.jsonl"

echo "== GuideLLM: constant $rate/s for $secs s, streamed"
"$venv/bin/guidellm" run \
  --backend "kind=openai_http,target=http://127.0.0.1:$port,model=gpt-4o-mini,validate_backend=false,api_key=sk-crosscheck" \
  --profile "kind=constant,rate=$rate" \
  --constraint "kind=max_duration,seconds=$secs" \
  --data "kind=json_file,path=$tmp/prompts.jsonl" \
  --output "kind=json,path=$tmp/guidellm.json" \
  --disable-console > "$tmp/guidellm.log" 2>&1 || { cat "$tmp/guidellm.log"; exit 2; }

echo "== Gauntlet: the same load"
cat > "$tmp/crosscheck.toml" <<EOF
name = "crosscheck"
seed = 7
duration = "${secs}s"
[upstream]
target = "http://127.0.0.1:$port"
[workload]
arrivals = "constant"
stages = [{ for = "${secs}s", rate = "$rate/s" }]
prompts = { distinct = 100000, zipf_exponent = 0.0 }
stream_share = 1.0
EOF
"$bin/gauntlet" run "$tmp/crosscheck.toml" --out "$tmp/gauntlet" --quiet > /dev/null

python3 - "$tmp/guidellm.json" "$tmp/gauntlet/summary.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))["benchmarks"][0]["metrics"]
s = json.load(open(sys.argv[2]))
def gl(key, p):
    return g[key]["successful"]["percentiles"][p]
rows = [
    ("TTFT p50", gl("time_to_first_token_ms", "p50"), s["ttft_ms"]["p50"]),
    ("TTFT p99", gl("time_to_first_token_ms", "p99"), s["ttft_ms"]["p99"]),
    ("ITL p50 (gauntlet: every gap)", gl("inter_token_latency_ms", "p50"), s["itl_ms"]["p50"]),
    ("ITL p99 (gauntlet: every gap)", gl("inter_token_latency_ms", "p99"), s["itl_ms"]["p99"]),
    ("ITL p50 (gauntlet: TPOT)", gl("inter_token_latency_ms", "p50"), s["tpot_ms"]["p50"]),
    ("ITL p99 (gauntlet: TPOT)", gl("inter_token_latency_ms", "p99"), s["tpot_ms"]["p99"]),
]
n = g["time_to_first_token_ms"]["successful"]["count"]
print(f"requests: GuideLLM {n}, gauntlet {s['requests']['ok']}")
print(f"| figure | GuideLLM ms | gauntlet ms | gauntlet / GuideLLM |")
print(f"| --- | ---: | ---: | ---: |")
bad = 0
for name, a, b in rows:
    ratio = b / a
    bad += abs(ratio - 1) > 0.05
    print(f"| {name} | {a:.2f} | {b:.2f} | {ratio:.3f} |")
sys.exit(1 if bad else 0)
EOF

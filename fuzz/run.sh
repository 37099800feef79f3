#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 10), seeded from the shipped
# scenarios, fault files and the example report. Needs a nightly toolchain and cargo-fuzz.
#   bash fuzz/run.sh [SECONDS]
# A crash leaves its input in fuzz/artifacts/TARGET/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-10}"
root=..
seed() { # seed TARGET FILES...
  local dir="corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do cp "$f" "$dir/seed-$(basename "$f")"; done
}
seed scenario "$root"/scenarios/*.toml "$root"/tests/bad_inputs/scenarios/*.toml
seed fault_file "$root"/mock-upstream/faults/*.toml
mkdir -p corpus/wire_request corpus/client_response corpus/run_dir
printf '{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}' > corpus/wire_request/seed-chat.json
printf '{"prompt":"hi"}' > corpus/wire_request/seed-legacy.json
printf '429\nretry-after: 1e300\nx-ratelimit-remaining-requests: 0\n\n{"error":{"message":"slow down","type":"requests"}}' > corpus/client_response/seed-429
printf '200\ncontent-type: text/event-stream\n\ndata: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\ndata: [DONE]\n\n' > corpus/client_response/seed-sse
ex="$root/reports/example"
{ cat "$ex/summary.json"; printf '\0'; cat "$ex/timeseries.csv"; printf '\0'; cat "$ex/latency.hlog"; } > corpus/run_dir/seed-example
cargo +nightly fuzz build -O
for target in scenario fault_file wire_request client_response run_dir; do
  echo "== fuzz $target for ${seconds}s"
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 \
    | grep -E "^#[0-9]+ *DONE|Done [0-9]+ runs|SUMMARY|panicked|ERROR" || true
  # cargo fuzz exits non-zero on a crash; the pipe above hides it, the artifact does not.
  if compgen -G "artifacts/$target/*" > /dev/null; then
    echo "fuzz $target found a crash: fuzz/artifacts/$target/" >&2
    exit 1
  fi
done

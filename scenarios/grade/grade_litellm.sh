#!/usr/bin/env bash
# Grades the LiteLLM proxy with `gauntlet grade`: installs litellm[proxy] (pinned, as
# benches/proxy_vs_gateway.sh does) from PyPI into a venv under the target directory once, then
# runs every question with LiteLLM started afresh per question from systems/litellm.toml (its
# config: systems/litellm.yaml, the upstream the question's mock). Not in CI: the install takes
# minutes. The scorecard goes to ${OUT:-reports/grade-litellm}; the exit code is grade's.
#   scenarios/grade/grade_litellm.sh [--only QUESTION,...]
set -euo pipefail
cd "$(dirname "$0")/../.."
litellm_version=1.80.0
target_dir=${CARGO_TARGET_DIR:-target}
venv="$target_dir/litellm-venv"
if ! "$venv/bin/pip" show litellm 2>/dev/null | grep -qx "Version: $litellm_version"; then
  echo "installing litellm[proxy]==$litellm_version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "litellm[proxy]==$litellm_version"
fi
gauntlet=${GAUNTLET_BIN:-}
if [ -z "$gauntlet" ]; then
  cargo build --release -q --bin gauntlet
  gauntlet="$target_dir/release/gauntlet"
fi
LITELLM_BIN="$(cd "$venv/bin" && pwd)/litellm" exec "$gauntlet" grade scenarios/grade/systems/litellm.toml \
  --out "${OUT:-reports/grade-litellm}" "$@"

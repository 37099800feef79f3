//! The official `openai` and `anthropic` Python SDKs (PyPI, pinned in
//! `tests/sdk/python/requirements.txt`) against the real mock binary: one script of `tests/sdk/python/` per test, each with its own
//! fault file. The interpreter is `GAUNTLET_SDK_PYTHON`, by default the venv `.ci/run` makes at
//! `target/sdk-venv`. What each script proves is in `tests/sdk/README.md`.

mod sdk_harness;

use sdk_harness::{run_check, Sdk, CLEAN, OUTAGE, STREAMING, STREAM_ERROR, TOOLS, TWO_RPM};

#[test]
fn python_chat() {
    run_check(Sdk::Python, "chat.py", CLEAN);
}

#[test]
fn python_stream() {
    run_check(Sdk::Python, "stream.py", STREAMING);
}

#[test]
fn python_responses() {
    run_check(Sdk::Python, "responses.py", STREAMING);
}

#[test]
fn python_embeddings() {
    run_check(Sdk::Python, "embeddings.py", sdk_harness::EMBEDDINGS);
}

#[test]
fn python_parse() {
    run_check(Sdk::Python, "parse.py", CLEAN);
}

#[test]
fn python_tools() {
    run_check(Sdk::Python, "tools.py", TOOLS);
}

#[test]
fn python_tools_stream() {
    run_check(Sdk::Python, "tools_stream.py", TOOLS);
}

#[test]
fn python_models() {
    run_check(Sdk::Python, "models.py", sdk_harness::MODELS);
}

#[test]
fn python_not_found() {
    run_check(Sdk::Python, "not_found.py", sdk_harness::ONE_MODEL);
}

#[test]
fn python_stream_error() {
    run_check(Sdk::Python, "stream_error.py", STREAM_ERROR);
}

#[test]
fn python_anthropic_plain() {
    run_check(Sdk::Python, "anthropic_plain.py", CLEAN);
}

#[test]
fn python_anthropic_stream() {
    run_check(Sdk::Python, "anthropic_stream.py", STREAMING);
}

#[test]
fn python_anthropic_tools() {
    run_check(Sdk::Python, "anthropic_tools.py", TOOLS);
}

#[test]
fn python_anthropic_rate_limit() {
    run_check(Sdk::Python, "anthropic_rate_limit.py", TWO_RPM);
}

#[test]
fn python_anthropic_overloaded() {
    run_check(Sdk::Python, "anthropic_overloaded.py", OUTAGE);
}

#[test]
fn python_anthropic_stream_error() {
    run_check(Sdk::Python, "anthropic_stream_error.py", STREAM_ERROR);
}

//! The official `openai` Node SDK (npm, pinned in `tests/sdk/node/package.json`) against the
//! real mock binary: one script of `tests/sdk/node/` per test, each with its own fault file.
//! What each script proves is in `tests/sdk/README.md`.

mod sdk_harness;

use sdk_harness::{
    run_check, Sdk, CLEAN, EMBEDDINGS, MODELS, ONE_MODEL, STREAMING, STREAM_ERROR, TOOLS,
};

#[test]
fn node_chat_plain() {
    run_check(Sdk::Node, "chat_plain.mjs", CLEAN);
}

#[test]
fn node_chat_stream() {
    run_check(Sdk::Node, "chat_stream.mjs", STREAMING);
}

#[test]
fn node_responses_plain() {
    run_check(Sdk::Node, "responses_plain.mjs", CLEAN);
}

#[test]
fn node_responses_stream() {
    run_check(Sdk::Node, "responses_stream.mjs", STREAMING);
}

#[test]
fn node_embeddings() {
    run_check(Sdk::Node, "embeddings.mjs", EMBEDDINGS);
}

#[test]
fn node_tools() {
    run_check(Sdk::Node, "tools.mjs", TOOLS);
}

#[test]
fn node_tools_stream() {
    run_check(Sdk::Node, "tools_stream.mjs", TOOLS);
}

#[test]
fn node_parse() {
    run_check(Sdk::Node, "parse.mjs", CLEAN);
}

#[test]
fn node_models() {
    run_check(Sdk::Node, "models.mjs", MODELS);
}

#[test]
fn node_not_found() {
    run_check(Sdk::Node, "not_found.mjs", ONE_MODEL);
}

#[test]
fn node_stream_error() {
    run_check(Sdk::Node, "stream_error.mjs", STREAM_ERROR);
}

#[test]
fn node_retries_honour_retry_after_ms() {
    // 60 a minute: the bucket holds 60 and refills one a second, so the retry waits ~1 s.
    run_check(
        Sdk::Node,
        "retries.mjs",
        "[limits]\nrequests_per_minute = 60\n",
    );
}

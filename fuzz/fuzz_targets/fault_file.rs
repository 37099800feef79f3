//! A fault file, as TOML (the mock's `--faults`) and as JSON (`PUT /_mock/faults`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mock_upstream::faults::load::{parse_json, parse_toml};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_toml(&text, "fuzz.toml");
    let _ = parse_json(&text, "request body");
});

//! A scenario file: parsing and validation must answer with a scenario or an error, never a
//! panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = gauntlet::scenario::Scenario::parse(&text, "fuzz.toml");
});

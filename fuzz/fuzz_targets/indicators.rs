//! Fuzzes indicator batches (lookback input): plain text, MISP events and STIX bundles, sniffed
//! or forced, with defanged forms and URLs. It must never panic; unreadable items are listed.
#![no_main]

use dnsledger_analytics::indicators::{self, InputFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let forced = match data.first().map(|b| b % 4) {
        Some(1) => Some(InputFormat::Text),
        Some(2) => Some(InputFormat::Misp),
        Some(3) => Some(InputFormat::Stix),
        _ => None,
    };
    let _ = indicators::parse(text, forced);
});

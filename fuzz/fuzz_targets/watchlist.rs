//! Fuzzes watchlist files (what `PUT /api/v1/watchlists/{name}` and the watch directory read):
//! JSON parsing, validation, and compiling the accepted list into the matcher. It must never
//! panic.
#![no_main]

use std::sync::Arc;

use dnsledger_watch::{Matcher, Watchlist};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(list) = Watchlist::from_json(data, "fuzz") else { return };
    if list.validate(&[]).is_ok() {
        let _ = Matcher::new(vec![Arc::new(list)]);
    }
});

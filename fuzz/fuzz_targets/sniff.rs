//! Fuzzes format detection on arbitrary input heads. It must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dnsledger_sources::Format::sniff(data);
    let _ = dnsledger_ingest::is_batch_file(data);
});

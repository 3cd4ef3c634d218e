//! Fuzzes the `zeek` input format: the whole pipeline path of one input held in memory
//! (priming, record splitting, parsing, pre-aggregation). It must never panic.
#![no_main]

use dnsledger_sources::{Format, SourceOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(format) = Format::parse("zeek") else { return };
    let opts = SourceOptions { negative: data.first().is_some_and(|b| b & 1 == 1), ..SourceOptions::default() };
    let mut parser = format.parser(&opts);
    let _ = dnsledger_ingest::parse_input(format, parser.as_mut(), data, "fuzz");
});

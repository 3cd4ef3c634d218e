//! Fuzzes label lists (the clustering's ground truth): `ENTRY verdict:source` lines with
//! `# kind:` headers, and MISP/STIX documents read as labels; then looks names and addresses up.
//! It must never panic.
#![no_main]

use dnsledger_analytics::labels::{Labels, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut l = Labels::empty();
    let _ = l.add_text(text, "fuzz");
    let _ = l.add_indicators(text, "fuzz", Verdict::Malicious, "fuzz");
    for probe in ["www.example.com", "example.com", "192.0.2.1", "2001:db8::1"] {
        if let Ok(ip) = probe.parse() {
            let _ = l.address(ip);
        } else if let Ok(n) = dnsledger_model::Name::from_presentation(probe) {
            let _ = l.name(&n);
        }
    }
});

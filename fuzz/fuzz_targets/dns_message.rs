//! Fuzzes the sensor's DNS message path: one raw response through `dnsledger_wire::Extractor`
//! (parsing, decompression, RRset grouping, the answer chain, the bailiwick rule, negative
//! answers), checking what must hold for whatever is kept:
//! - no panic; a second extraction of the same bytes with the same (warm) extractor gives the
//!   same result and the same observations (buffer reuse leaks nothing between messages);
//! - every observation is inside the bailiwick the extractor reports, and carries it;
//! - names are valid (they re-parse from their wire form) and rdata is canonical (the model's
//!   `canonicalize` is the identity on it, and its presentation form parses back to it);
//! - the output is bounded by the records the message can hold.
//!
//! Then `Extractor::extract_rrsets` (the sensor's entry point) must hand out the same RRsets,
//! with the same fields and record keys, as the observations of `extract`.
//!
//! With flag 16 the message goes through the mDNS mode (`Extractor::extract_mdns`) instead,
//! where every observation must carry its own name as bailiwick.
//!
//! Input: one flags byte (negative answers, authority, additional, zone hint, mDNS), then with
//! a zone hint one length byte and that many octets of hint name (wire form), then the message.
#![no_main]

use dnsledger_model::rdata::{canonicalize, Rdata};
use dnsledger_model::Name;
use dnsledger_wire::{ExtractOptions, Extractor, MessageMeta, Observation};
use libfuzzer_sys::fuzz_target;

fn describe(o: &Observation) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        o.rrname.as_wire(),
        o.rrtype,
        o.rdata,
        o.ttl,
        o.bailiwick.as_ref().map(|b| b.as_wire().to_vec()),
        o.negative
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else { return };
    let mut hint = None;
    if flags & 8 != 0 {
        let Some((&n, r)) = rest.split_first() else { return };
        let Some(h) = r.get(..usize::from(n)) else { return };
        hint = Name::from_wire(h).ok();
        rest = r.get(usize::from(n)..).unwrap_or(&[]);
    }
    let msg = rest;
    let mdns = flags & 16 != 0;
    let opts = ExtractOptions {
        negative: flags & 1 != 0,
        authority: flags & 2 == 0,
        additional: flags & 4 == 0,
        ..ExtractOptions::default()
    };
    let _ = dnsledger_wire::peek_header(msg);
    let _ = dnsledger_wire::question_key(msg);
    let meta = MessageMeta { time: 1_700_000_000, zone_hint: hint.as_ref() };
    let mut ex = Extractor::new(opts);
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for _ in 0..2 {
        let mut seen: Vec<Observation> = Vec::new();
        let res = if mdns {
            ex.extract_mdns(msg, &meta, &mut |o| seen.push(o.clone()))
        } else {
            ex.extract(msg, &meta, &mut |o| seen.push(o.clone()))
        };
        let zone = ex.zone().cloned();
        if let Ok(Ok(x)) = &res {
            // bounded output: one RRset per (owner, type, section) at most, plus one negative
            let records = msg.len() / 11 + 1;
            assert!(seen.len() <= records + 1, "{} observations from {} octets", seen.len(), msg.len());
            let negatives = seen.iter().filter(|o| o.negative.is_some()).count();
            assert_eq!(x.rrsets as usize, seen.len() - negatives);
            assert!(negatives <= 1);
            assert_eq!(x.negative.is_some(), negatives == 1);
            if mdns {
                assert_eq!(zone, None, "mDNS has no zone");
            } else if hint.is_some() {
                assert_eq!(zone, hint, "a zone hint is the zone");
            }
        } else {
            assert!(seen.is_empty(), "nothing is emitted from a rejected or skipped message");
        }
        for o in &seen {
            assert_eq!(Name::from_wire(o.rrname.as_wire()).as_ref(), Ok(&o.rrname), "owner name valid");
            if mdns {
                assert_eq!(o.bailiwick.as_ref(), Some(&o.rrname), "an mDNS RRset speaks for its own name");
            } else {
                assert_eq!(o.bailiwick, zone, "observation carries the zone");
            }
            if let Some(z) = &zone {
                assert!(o.rrname.is_subdomain_of(z), "{} outside bailiwick {}", o.rrname, z);
            }
            if o.negative.is_some() {
                assert!(o.rdata.is_empty());
                continue;
            }
            assert!(!o.rdata.is_empty(), "a positive RRset has rdata");
            assert!(o.rdata.windows(2).all(|w| w[0] < w[1]), "rdata sorted and de-duplicated");
            for rd in &o.rdata {
                let Rdata::Wire(w) = rd else { panic!("wire source gave text rdata") };
                let mut out = Vec::new();
                canonicalize(o.rrtype, w, &mut out).expect("kept rdata validates");
                assert_eq!(&out, w, "kept rdata is canonical");
                let text = rd.to_presentation(o.rrtype);
                match Rdata::parse(o.rrtype, &text) {
                    Ok(back) => assert_eq!(&back, rd, "{:?} presentation {text:?} round trip", o.rrtype),
                    Err(e) => panic!("{:?} presentation {text:?} does not parse back: {e}", o.rrtype),
                }
            }
        }
        let outcome = match &res {
            Ok(Ok(x)) => format!("{x:?} zone {zone:?}"),
            Ok(Err(skip)) => format!("skip {skip:?}"),
            Err(e) => format!("error {}", e.reason),
        };
        runs.push((outcome, seen.iter().map(describe).collect()));
    }
    assert_eq!(runs[0], runs[1], "extraction is repeatable with a warm extractor");
    if !mdns {
        // the sensor's entry point: the same RRsets, fields and record keys as the observations
        let mut seen: Vec<Observation> = Vec::new();
        let res = ex.extract(msg, &meta, &mut |o| seen.push(o.clone()));
        let mut i = 0;
        let res2 = ex.extract_rrsets(msg, &meta, &mut |x| {
            let o = seen.get(i).expect("no more RRsets than observations");
            i += 1;
            assert_eq!((x.owner, x.rrtype, x.ttl, x.negative), (o.rrname.as_wire(), o.rrtype, o.ttl, o.negative));
            assert_eq!(x.bailiwick, o.bailiwick.as_ref());
            assert!(x.rdata().eq(o.rdata.iter().map(Rdata::bytes)), "same rdata");
            let (mut a, mut b) = (Vec::new(), Vec::new());
            o.write_key(&mut a);
            x.write_key(&mut b);
            assert_eq!(a, b, "same record key");
        });
        assert_eq!(i, seen.len(), "as many RRsets as observations");
        assert_eq!(format!("{res:?}"), format!("{res2:?}"), "same outcome");
    }
});

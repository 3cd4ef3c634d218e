//! DNSDB exports: API v2 responses in SAF framing, and the plain NDJSON records that API v1
//! and `dnsdbq -j` print. The framing, record fields and rdata presentation follow
//! `shared/reference/dnsdb-api.md` (§2 SAF, §2.3–2.5 objects, §2.7 rdata, §4.4 batch output).
//!
//! What each line becomes:
//! - `{"obj":{...}}` (with no `cond` or `"cond":"ongoing"`): the record inside, read like a
//!   COF/NDJSON record (the record reading is shared with [`crate::ndjson`]);
//! - a plain record line (`{"count":271,"time_first":…,"rrname":"fsi.io.","rrtype":"A",
//!   "bailiwick":"fsi.io.","rdata":["104.244.14.108"]}`): the same;
//! - an rrset record (`rdata` array, `bailiwick`) is one observation of the whole RRset with that
//!   bailiwick; an rdata-lookup record (no `bailiwick`, `rdata` one string or a one-element array)
//!   is one observation without bailiwick;
//! - sensor times (`time_first`/`time_last`) give a sensor observation with `count`; zone times
//!   (`zone_time_first`/`zone_time_last`) give a zone observation; a record with both gives both,
//!   adding its count once (to the sensor observation; the zone one has count 0);
//! - DNSDB records name no sensor: `--sensor` is recorded when given.
//!
//! Skipped lines (counted by reason): `saf control` (`begin`, `succeeded`, keepalive `ongoing`
//! and `msg`-only lines), `saf limited` (the server stopped at a limit: the export is incomplete),
//! `saf failed` (the query failed part way: the export is incomplete), `summary` (summarize
//! results: totals, not RRsets), `flex result` (DNSDB Flex rrnames/rdata results: names or rdata
//! without the other half), `batch separator` (the `--`, `++ path` and `-- NOERROR (…)` lines
//! `dnsdbq -f`/`-ff` print between answers), blank lines and `#` comments.
//! Rejected: an unknown `cond` value (`bad field`), and everything [`crate::ndjson`] rejects.

use dnsledger_model::Observation;

use crate::ndjson::{fill, read_record, Record};
use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// Parser for DNSDB SAF streams and plain DNSDB record lines.
pub struct DnsdbParser {
    sensor: Option<String>,
    obs: Observation,
}

impl DnsdbParser {
    /// A parser recording `opts.sensor` with each observation (DNSDB records carry no sensor).
    pub fn new(opts: &SourceOptions) -> DnsdbParser {
        DnsdbParser { sensor: opts.sensor.clone(), obs: Observation::default() }
    }
}

/// Why a record line carries no RRset, if it is one of the non-RRset DNSDB result shapes.
fn not_an_rrset(rec: &Record<'_>) -> Option<&'static str> {
    if rec.num_results.is_some() {
        return Some("summary");
    }
    // Flex results have no bailiwick, no zone times, and only one of rrname and rdata.
    let flex_shape = rec.rrtype.is_some()
        && rec.bailiwick.is_none()
        && rec.negative.is_none()
        && rec.zone_time_first.is_none()
        && rec.zone_time_last.is_none();
    let has_rdata = rec.rdata.is_some() || rec.raw_rdata.is_some();
    let flex_names = flex_shape && rec.rrname.is_some() && !has_rdata;
    let flex_rdata = flex_shape && rec.rrname.is_none() && has_rdata;
    (flex_names || flex_rdata).then_some("flex result")
}

impl LineParser for DnsdbParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        if line == b"--" || line.starts_with(b"-- ") || line.starts_with(b"++ ") {
            return Ok(LineOutcome::Skipped("batch separator"));
        }
        let rec = read_record(line)?;
        let terminal = match rec.cond.as_deref() {
            None | Some("begin" | "ongoing" | "succeeded") => None,
            Some("limited") => Some("saf limited"),
            Some("failed") => Some("saf failed"),
            Some(other) => {
                return Err(ParseError::new(
                    "bad field",
                    format!("cond: {other:?} is not a SAF condition (begin, ongoing, succeeded, limited, failed)"),
                ))
            }
        };
        let rec: &Record<'_> = match (&rec.obj, terminal) {
            (Some(obj), _) => obj,
            (None, Some(why)) => return Ok(LineOutcome::Skipped(why)),
            (None, None) if rec.cond.is_some() || rec.msg.is_some() => return Ok(LineOutcome::Skipped("saf control")),
            (None, None) => &rec,
        };
        if let Some(why) = not_an_rrset(rec) {
            return Ok(LineOutcome::Skipped(why));
        }
        fill(rec, &mut self.obs, &self.sensor, emit).map(LineOutcome::Observations)
    }
}

/// True if `line` (the first JSON line of the input) is unmistakably DNSDB output: a SAF line
/// (`{"cond":…` or `{"obj":…`), or a record in the DNSDB service's key order
/// (`{"count":…,"time_first"|"zone_time_first":…,"rrname":…,"rrtype":…,…"rdata":…}`, which
/// `dnsdbq -j` preserves). Other COF-shaped lines are left to the `ndjson` format, which reads
/// plain DNSDB records the same way.
pub fn sniff(line: &[u8]) -> bool {
    let Some(rest) = line.trim_ascii().strip_prefix(b"{") else { return false };
    let rest = rest.trim_ascii_start();
    if rest.starts_with(b"\"cond\"") || rest.starts_with(b"\"obj\"") {
        return true;
    }
    let has = |k: &[u8]| memchr::memmem::find(rest, k).is_some();
    rest.starts_with(b"\"count\":")
        && (has(b",\"time_first\":") || has(b",\"zone_time_first\":"))
        && has(b",\"rrname\":")
        && has(b",\"rrtype\":")
        && has(b",\"rdata\":")
}

#[cfg(test)]
mod tests {
    use dnsledger_model::{Name, RrType};

    use super::*;

    fn parser() -> DnsdbParser {
        DnsdbParser::new(&SourceOptions { sensor: Some("dnsdb-export".into()), ..Default::default() })
    }

    fn run(p: &mut DnsdbParser, line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()));
        (r, out)
    }

    fn rdata(o: &Observation) -> Vec<String> {
        o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect()
    }

    fn bailiwick(o: &Observation) -> Option<String> {
        o.bailiwick.as_ref().map(Name::to_string)
    }

    // A v2 rrset lookup response, shaped like shared/reference/dnsdb-api.md §2.2/§2.3.
    const SAF_RRSET: &[&str] = &[
        r#"{"cond":"begin"}"#,
        r#"{"obj":{"count":271,"time_first":1578076118,"time_last":1580765117,"rrname":"fsi.example.","rrtype":"A","bailiwick":"fsi.example.","rdata":["104.244.14.108","104.244.14.109"]}}"#,
        r#"{"cond":"ongoing","msg":"keepalive"}"#,
        r#"{"obj":{"count":1820,"zone_time_first":1374250920,"zone_time_last":1589472138,"rrname":"farsight.example.","rrtype":"NS","bailiwick":"example.","rdata":["ns5.dns.example.","ns6.dns.example.","ns7.dns.example."]}}"#,
        r#"{"cond":"ongoing","obj":{"count":3,"time_first":1600000000,"time_last":1600000500,"zone_time_first":1500000000,"zone_time_last":1500086400,"rrname":"both.example.","rrtype":"MX","bailiwick":"example.","rdata":["10 mail.example."]}}"#,
        r#"{"cond":"succeeded"}"#,
    ];

    #[test]
    fn saf_rrset_stream() {
        let mut p = parser();
        let mut outcomes = Vec::new();
        let mut obs = Vec::new();
        for l in SAF_RRSET {
            let (r, o) = run(&mut p, l);
            outcomes.push(r.unwrap());
            obs.extend(o);
        }
        assert_eq!(
            outcomes,
            [
                LineOutcome::Skipped("saf control"),
                LineOutcome::Observations(1),
                LineOutcome::Skipped("saf control"),
                LineOutcome::Observations(1),
                LineOutcome::Observations(2),
                LineOutcome::Skipped("saf control"),
            ]
        );
        assert_eq!(obs.len(), 4);
        let a = &obs[0];
        assert_eq!((a.rrname.to_string().as_str(), a.rrtype), ("fsi.example.", RrType::A));
        assert_eq!(rdata(a), ["104.244.14.108", "104.244.14.109"]);
        assert_eq!(bailiwick(a).as_deref(), Some("fsi.example."));
        assert_eq!((a.zone, a.time_first, a.time_last, a.count, a.ttl), (false, 1578076118, 1580765117, 271, None));
        assert_eq!(a.sensor.as_deref(), Some("dnsdb-export"));
        let ns = &obs[1];
        assert_eq!((ns.rrname.to_string().as_str(), ns.rrtype), ("farsight.example.", RrType::NS));
        assert_eq!(rdata(ns), ["ns5.dns.example.", "ns6.dns.example.", "ns7.dns.example."]);
        assert_eq!(bailiwick(ns).as_deref(), Some("example."));
        assert_eq!((ns.zone, ns.time_first, ns.time_last, ns.count), (true, 1374250920, 1589472138, 1820));
        // both kinds of time: two observations, count once
        let (s, z) = (&obs[2], &obs[3]);
        assert_eq!((s.zone, s.time_first, s.time_last, s.count), (false, 1600000000, 1600000500, 3));
        assert_eq!((z.zone, z.time_first, z.time_last, z.count), (true, 1500000000, 1500086400, 0));
        assert_eq!((rdata(s), rdata(z)), (vec!["10 mail.example.".to_string()], vec!["10 mail.example.".to_string()]));
    }

    #[test]
    fn saf_terminators_are_visible() {
        let mut p = parser();
        let (r, o) = run(&mut p, r#"{"cond":"limited","msg":"Result limit reached"}"#);
        assert_eq!((r, o.len()), (Ok(LineOutcome::Skipped("saf limited")), 0));
        let (r, _) = run(&mut p, r#"{"cond":"failed","msg":"query timed out"}"#);
        assert_eq!(r, Ok(LineOutcome::Skipped("saf failed")));
        let (r, _) = run(&mut p, r#"{"msg":"notice"}"#);
        assert_eq!(r, Ok(LineOutcome::Skipped("saf control")));
        let e = run(&mut p, r#"{"cond":"finished"}"#).0.unwrap_err();
        assert_eq!(e.reason, "bad field");
        assert!(e.detail.contains("\"finished\""), "{e}");
    }

    #[test]
    fn rdata_lookup_records() {
        // v2 rdata results (array) and v1 / dnsdbq -j rdata results (one string), no bailiwick
        let mut p = parser();
        for line in [
            r#"{"obj":{"count":7,"time_first":1380139330,"time_last":1694013012,"rrname":"www.example.com.","rrtype":"A","rdata":["93.184.216.34"]}}"#,
            r#"{"count":7,"time_first":1380139330,"time_last":1694013012,"rrname":"www.example.com.","rrtype":"A","rdata":"93.184.216.34"}"#,
        ] {
            let (r, o) = run(&mut p, line);
            assert_eq!(r, Ok(LineOutcome::Observations(1)));
            assert_eq!(o[0].rrname.to_string(), "www.example.com.");
            assert_eq!(rdata(&o[0]), ["93.184.216.34"]);
            assert_eq!(o[0].bailiwick, None);
            assert_eq!((o[0].count, o[0].time_first, o[0].time_last), (7, 1380139330, 1694013012));
        }
    }

    #[test]
    fn plain_dnsdbq_json_records() {
        // dnsdbq -j prints the obj alone, in the service's key order; rdata in wdns presentation
        let mut p = parser();
        let lines = [
            (
                r#"{"count":10,"time_first":1,"time_last":2,"rrname":"example.com.","rrtype":"SOA","bailiwick":"com.","rdata":["ns.icann.org. noc.dns.icann.org. 2022091303 7200 3600 1209600 3600"]}"#,
                "ns.icann.org. noc.dns.icann.org. 2022091303 7200 3600 1209600 3600",
            ),
            (
                r#"{"count":1,"time_first":1,"time_last":2,"rrname":"example.com.","rrtype":"TXT","bailiwick":"example.com.","rdata":["\"part one\" \"part two\""]}"#,
                "\"part one\" \"part two\"",
            ),
            (
                r#"{"count":1,"time_first":1,"time_last":2,"rrname":"_sip._udp.example.com.","rrtype":"SRV","bailiwick":"example.com.","rdata":["0 5 5060 sip.example.com."]}"#,
                "0 5 5060 sip.example.com.",
            ),
            (
                r#"{"count":1,"time_first":1,"time_last":2,"rrname":"example.com.","rrtype":"CAA","bailiwick":"example.com.","rdata":["0 \"issuewild\" \"letsencrypt.org\""]}"#,
                "0 \"issuewild\" \"letsencrypt.org\"",
            ),
            (
                r#"{"count":1,"time_first":1,"time_last":2,"rrname":"example.com.","rrtype":"DS","bailiwick":"com.","rdata":["60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"]}"#,
                "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
            ),
            (
                r#"{"count":1,"time_first":1,"time_last":2,"rrname":"x.example.com.","rrtype":"TYPE65280","bailiwick":"example.com.","rdata":["\\# 3 0a 0b 0c "]}"#,
                "\\# 3 0a0b0c",
            ),
        ];
        for (line, want) in lines {
            let (r, o) = run(&mut p, line);
            assert_eq!(r, Ok(LineOutcome::Observations(1)), "{line}");
            assert_eq!(rdata(&o[0]), [want], "{line}");
        }
    }

    #[test]
    fn non_rrset_results_are_skipped() {
        let mut p = parser();
        let skip = |p: &mut DnsdbParser, l: &str| run(p, l).0;
        assert_eq!(
            skip(&mut p, r#"{"obj":{"count":105,"num_results":2,"time_first":1,"time_last":2}}"#),
            Ok(LineOutcome::Skipped("summary"))
        );
        assert_eq!(
            skip(&mut p, r#"{"obj":{"rrname":"www.fsi.example.","rrtype":"A"}}"#),
            Ok(LineOutcome::Skipped("flex result"))
        );
        assert_eq!(
            skip(
                &mut p,
                r#"{"obj":{"rdata":"exch.fsi.example.","rrtype":"MX","raw_rdata":"000A04657863680366736902696F00"}}"#
            ),
            Ok(LineOutcome::Skipped("flex result"))
        );
        assert_eq!(skip(&mut p, "--"), Ok(LineOutcome::Skipped("batch separator")));
        assert_eq!(skip(&mut p, "++ rrset/name/www.example.com/A"), Ok(LineOutcome::Skipped("batch separator")));
        assert_eq!(skip(&mut p, "-- NOERROR (no error)"), Ok(LineOutcome::Skipped("batch separator")));
        assert_eq!(skip(&mut p, ""), Ok(LineOutcome::Skipped("empty line")));
    }

    #[test]
    fn rejections() {
        let mut p = parser();
        let reason = |p: &mut DnsdbParser, l: &str| run(p, l).0.unwrap_err().reason;
        assert_eq!(
            reason(
                &mut p,
                r#"{"obj":{"count":1,"time_first":1,"time_last":2,"rrtype":"A","rdata":["1.2.3.4"],"bailiwick":"a."}}"#
            ),
            "missing field"
        );
        assert_eq!(
            reason(
                &mut p,
                r#"{"obj":{"count":1,"time_first":1,"time_last":2,"rrname":"a.","rrtype":"A","rdata":["1.2.3"]}}"#
            ),
            "bad rdata"
        );
        assert_eq!(
            reason(&mut p, r#"{"obj":{"count":1,"rrname":"a.","rrtype":"A","rdata":["1.2.3.4"]}}"#),
            "missing field"
        );
        assert_eq!(reason(&mut p, r#"{"obj":[1]}"#), "bad json");
        assert_eq!(reason(&mut p, "not json"), "bad json");
        // dnsdbq -T datefix style times are accepted, garbage times are not
        let (r, o) = run(
            &mut p,
            r#"{"count":1,"time_first":"2020-01-01 00:00:00","time_last":"2020-01-02 00:00:00","rrname":"a.","rrtype":"A","rdata":["192.0.2.1"]}"#,
        );
        assert_eq!((r, o[0].time_first, o[0].time_last), (Ok(LineOutcome::Observations(1)), 1577836800, 1577923200));
        assert_eq!(
            reason(&mut p, r#"{"count":1,"time_first":"soon","rrname":"a.","rrtype":"A","rdata":["192.0.2.1"]}"#),
            "bad time"
        );
    }

    #[test]
    fn sniffs_dnsdb_lines_only() {
        assert!(sniff(br#"{"cond":"begin"}"#));
        assert!(sniff(br#"{ "obj": {"count":1}}"#));
        assert!(sniff(SAF_RRSET[1].as_bytes()));
        assert!(sniff(
            br#"{"count":271,"time_first":1578076118,"time_last":1580765117,"rrname":"fsi.io.","rrtype":"A","bailiwick":"fsi.io.","rdata":["104.244.14.108"]}"#
        ));
        assert!(sniff(br#"{"count":1,"zone_time_first":1,"zone_time_last":2,"rrname":"a.","rrtype":"NS","bailiwick":"a.","rdata":["b."]}"#));
        // COF / dnsledger NDJSON and other JSON logs are not claimed
        assert!(!sniff(br#"{"rrname":"a.","rrtype":"A","rdata":"192.0.2.1","time_first":1,"time_last":2,"count":1}"#));
        assert!(!sniff(br#"{"rrtype": "A", "rrname": "x", "rdata": "y", "count": "19", "time_first": "1"}"#));
        assert!(!sniff(br#"{"timestamp":"2024-01-01T00:00:00Z","event_type":"dns","dns":{"rrname":"a"}}"#));
        assert!(!sniff(b"cond"));
        assert!(!sniff(b""));
    }

    #[test]
    fn mutated_lines_never_panic() {
        let mut samples: Vec<&str> = SAF_RRSET.to_vec();
        samples.push(r#"{"obj":{"count":105,"num_results":2,"time_first":1,"time_last":2}}"#);
        samples.push(r#"{"cond":"limited","msg":"Result limit reached"}"#);
        let mut p = parser();
        crate::testing::mutate_all(&samples, 6000, |l| {
            let _ = p.parse_line(l, &mut |_| {});
            let _ = sniff(l);
        });
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn speed() {
        let mut p = parser();
        for (what, line) in [("dnsdb SAF rrset", SAF_RRSET[1]), ("dnsdb SAF control", SAF_RRSET[0])] {
            crate::ndjson::tests::time_per_call(what, 300_000, || {
                let _ = p.parse_line(line.as_bytes(), &mut |o| {
                    std::hint::black_box(o);
                });
            });
        }
    }
}

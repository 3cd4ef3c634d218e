//! Azure DNS logs: which of them carry answers, and reading the one that does.
//!
//! Which Azure logs carry answer records (checked against Microsoft Learn: "Azure Firewall
//! logs and metrics" / "Azure Firewall DNS proxy", the Azure Monitor table references
//! `AZFWDnsQuery`, `AzureDiagnostics` and `DNSQueryLogs`, "DNS security policy" and "Secure
//! and view DNS traffic", and the "Azure DNS Private Resolver" pages):
//!
//! | log | where it appears | answers? |
//! |---|---|---|
//! | Azure Firewall DNS proxy, legacy | `AzureDiagnostics`, category `AzureFirewallDnsProxy`, text in `msg` / `msg_s` (`DNS Request: 10.0.0.4:53124 - 4711 A IN www.example.com. udp 44 false 512 NOERROR - 0.000246s`, or `... Error: ...`) | no: query, flags, sizes, rcode, duration |
//! | Azure Firewall DNS proxy, structured | table / category `AZFWDnsQuery` (`SourceIp`, `QueryName`, `QueryType`, `ResponseCode`, `ResponseFlags`, `ResponseSize`, `RequestDurationSecs`, `ErrorMessage`, ...) | no: no answer column |
//! | DNS security policy query logs | table `DNSQueryLogs`, diagnostic category `DnsResponse` of a DNS resolver policy (`microsoft.network/dnsresolverpolicies`) | **yes**: `Answer` (`Type`, `Class`, `TTL`, `RData` per record) |
//! | DNS Private Resolver | no query log of its own: queries through its inbound/outbound endpoints and forwarding rulesets are logged by a DNS security policy linked to the virtual network, in the same `DNSQueryLogs` (columns `PrivateResolverEndpointId`, `DnsForwardingRulesetId`, `ResolutionPath`) | **yes**, as above |
//!
//! The Azure Firewall records are recognised and rejected with the reason `no answers` and a
//! detail saying they record only the query and its response code (a whole file of them gives
//! one clear category in the import summary). `DNSQueryLogs` / `DnsResponse` records become
//! observations:
//! - Both shapes are read: the Log Analytics export (flat columns `TimeGenerated`, `QueryName`,
//!   `QueryType`, `ResponseCode`, `Answer`, `VirtualNetworkId`, `ResolverPolicyRuleAction`,
//!   `Type: "DNSQueryLogs"`, with `Answer` a JSON array or a string holding one) and the
//!   diagnostic-settings form sent to storage or Event Hubs (`{"time":...,"resourceId":...,
//!   "category":"DnsResponse","operationName":...,"properties":{"query_name":...,"query_type":...,
//!   "response_code":0,"answer":[{"Type":"A","Class":"IN","TTL":60,"RData":"192.0.2.1"}],
//!   "vnet_id":...,"resolverpolicy_rule_action":"Allow",...}}`), one record per line or a
//!   storage blob's `{"records":[...]}` envelope on one line (one line, several records).
//! - The answers are logged in response order with their TTLs but (as far as the published
//!   schema and samples show) without owner names, so owners are rebuilt along the CNAME chain
//!   as for Route 53 (see [`crate::route53`]); an answer that does name its owner (`Name`) is
//!   taken as given. Records are grouped into one observation per owner and type, TTL the
//!   smallest of the RRset's; no bailiwick is known.
//! - Response code 3 (NXDOMAIN) and 0 without data of the queried type (NODATA) are negative
//!   answers (kept with `SourceOptions::negative`, else skipped as `negative answer`); other
//!   codes are skipped as `failed query`.
//! - A query blocked by the policy (`ResolverPolicyRuleAction` `Deny`/`Block`, or an answer
//!   pointing at the block response `blockpolicy.azuredns.invalid`) carries a synthesized
//!   answer, not DNS data: skipped as `blocked by DNS security policy`. `Allow` and `Alert`
//!   answers are real.
//! - Sensor: `SourceOptions::sensor` if given, else the virtual network id (the vantage point),
//!   else the record's resource id (the DNS resolver policy).
//! - Records of other categories (a blob or export holding other logs) are skipped as `not a
//!   DNS log record`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use dnsledger_model::Observation;
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

use crate::cloud::{
    finish_response, json_fields, lossy, parse_time, set_sensor, Answer, Chain, Rcode, Rrsets, Scalar, Tally,
};
use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// The name a DNS security policy's block rule answers with.
const BLOCK_TARGET: &str = "azuredns.invalid";

/// Parser for Azure DNS security policy query logs (and recogniser of Azure Firewall DNS
/// proxy logs, which carry no answers).
pub struct AzureParser {
    sensor: Option<String>,
    negative: bool,
    obs: Observation,
    sets: Rrsets,
}

impl AzureParser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> AzureParser {
        AzureParser {
            sensor: opts.sensor.clone(),
            negative: opts.negative,
            obs: Observation::default(),
            sets: Rrsets::new(),
        }
    }

    fn record(&mut self, r: &AzRecord<'_>, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        if let Some(records) = &r.records {
            let mut tally = Tally::default();
            for rec in records {
                tally.add(if rec.records.is_some() {
                    Err(ParseError::new("bad field", "records[]: a nested records envelope"))
                } else {
                    self.record(rec, emit)
                });
            }
            return tally.finish("record");
        }
        let props = r.properties.as_deref();
        let f = Fields { top: r, props };
        let category = f.str(|x| x.category.as_ref());
        let table = r.table.as_ref().and_then(Scalar::as_str);
        let operation = f.str(|x| x.operation.as_ref());
        let msg = f.str(|x| x.msg.as_ref());
        if category == Some("AzureFirewallDnsProxy")
            || operation == Some("AzureFirewallDnsProxyLog")
            || msg.is_some_and(|m| m.trim_start().starts_with("DNS Request:"))
        {
            return Err(no_answers("an Azure Firewall DNS proxy log record (AzureFirewallDnsProxy)"));
        }
        if category == Some("AZFWDnsQuery") || table == Some("AZFWDnsQuery") {
            return Err(no_answers("an Azure Firewall DNS proxy log record (AZFWDnsQuery)"));
        }
        let dns_log = category == Some("DnsResponse")
            || table == Some("DNSQueryLogs")
            || (f.get(|x| x.query_name.as_ref()).is_some()
                && (f.get(|x| x.answer.as_ref()).is_some() || f.get(|x| x.rule_action.as_ref()).is_some()));
        if !dns_log {
            return Ok(LineOutcome::Skipped("not a DNS log record"));
        }
        self.dns_query_log(&f, emit)
    }

    /// A `DNSQueryLogs` / `DnsResponse` record.
    fn dns_query_log(
        &mut self,
        f: &Fields<'_, '_>,
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<LineOutcome, ParseError> {
        let qname = f.get(|x| x.query_name.as_ref()).ok_or_else(|| ParseError::new("missing field", "QueryName"))?;
        let qname = qname.as_str().ok_or_else(|| ParseError::new("bad field", format!("QueryName {qname}")))?;
        if let Some(action) = f.str(|x| x.rule_action.as_ref()) {
            if action.eq_ignore_ascii_case("Deny") || action.eq_ignore_ascii_case("Block") {
                return Ok(LineOutcome::Skipped("blocked by DNS security policy"));
            }
        }
        let rcode = match f.get(|x| x.response_code.as_ref()) {
            Some(rc) => Rcode::from_scalar("ResponseCode", rc)?,
            None => return Err(ParseError::new("missing field", "ResponseCode")),
        };
        if rcode == Rcode::Failed {
            return Ok(LineOutcome::Skipped("failed query"));
        }
        let qtype = f.get(|x| x.query_type.as_ref()).ok_or_else(|| ParseError::new("missing field", "QueryType"))?;
        let qtype = qtype.rrtype().ok_or_else(|| ParseError::new("unknown rrtype", format!("QueryType {qtype}")))?;
        if let Some(class) = f.str(|x| x.query_class.as_ref()) {
            if !class.is_empty() && !class.eq_ignore_ascii_case("IN") {
                return Err(ParseError::new("unsupported class", format!("QueryClass {class:?}")));
            }
        }
        let ts = f.get(|x| x.time.as_ref()).ok_or_else(|| ParseError::new("missing field", "time (TimeGenerated)"))?;
        let time = ts.as_str().and_then(parse_time).ok_or_else(|| ParseError::new("bad time", format!("time {ts}")))?;

        let parsed_text;
        let answers: &[AzAnswer<'_>] = match f.get(|x| x.answer.as_ref()) {
            None | Some(AnswerField::Empty) => &[],
            Some(AnswerField::List(list)) => list,
            Some(AnswerField::Text(text)) => {
                let text = text.trim();
                parsed_text = if text.is_empty() {
                    Vec::new()
                } else {
                    serde_json::from_str::<Vec<AzAnswer<'_>>>(text)
                        .map_err(|e| ParseError::new("bad json", format!("Answer: {e}")))?
                };
                &parsed_text
            }
        };
        let mut chain = Chain::start(&mut self.sets, qname)?;
        for (i, a) in answers.iter().enumerate() {
            let field = |n: &str| format!("Answer[{i}].{n}");
            let rrtype = a
                .rrtype
                .as_ref()
                .and_then(Scalar::as_str)
                .ok_or_else(|| ParseError::new("missing field", field("Type")))?;
            let rdata = a
                .rdata
                .as_ref()
                .and_then(Scalar::as_str)
                .ok_or_else(|| ParseError::new("missing field", field("RData")))?;
            if is_block_target(rdata) {
                return Ok(LineOutcome::Skipped("blocked by DNS security policy"));
            }
            let ttl = match &a.ttl {
                None | Some(Scalar::Null) => None,
                Some(t) => Some(
                    t.as_u64()
                        .and_then(|t| u32::try_from(t).ok())
                        .ok_or_else(|| ParseError::new("bad ttl", format!("{}: {t}", field("TTL"))))?,
                ),
            };
            let class = a.class.as_ref().and_then(Scalar::as_str);
            let owner = a.name.as_ref().and_then(Scalar::as_str).filter(|n| !n.trim().is_empty());
            chain.push(&mut self.sets, Answer { rrtype, class, rdata, ttl, owner })?;
        }
        chain.finish()?;

        let obs = &mut self.obs;
        obs.bailiwick = None;
        obs.time_first = time;
        obs.time_last = time;
        obs.zone = false;
        obs.count = 1;
        let own = f.str(|x| x.vnet_id.as_ref()).or_else(|| f.str(|x| x.resource_id.as_ref()));
        set_sensor(obs, &self.sensor, own);
        Ok(finish_response(&mut self.sets, obs, qtype, rcode, self.negative, emit))
    }
}

impl LineParser for AzureParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        if line.first() == Some(&b'{') {
            let r: AzRecord<'_> =
                serde_json::from_slice(line).map_err(|e| ParseError::new("bad json", e.to_string()))?;
            return self.record(&r, emit);
        }
        if line.starts_with(b"DNS Request:") {
            return Err(no_answers("an Azure Firewall DNS proxy log message (AzureFirewallDnsProxy)"));
        }
        Err(ParseError::new("unrecognized line", format!("not an Azure log JSON record: {:?}", lossy(line))))
    }
}

/// True if `line` is an Azure DNS security policy query log record or an Azure Firewall DNS
/// proxy log record (as JSON, or the legacy proxy's bare message text).
pub fn sniff(line: &[u8]) -> bool {
    let l = line.trim_ascii();
    if l.first() != Some(&b'{') {
        return l.starts_with(b"DNS Request: ");
    }
    let has = |k: &[u8]| memchr::memmem::find(l, k).is_some();
    has(b"\"AzureFirewallDnsProxy\"")
        || has(b"\"AZFWDnsQuery\"")
        || has(b"\"DNSQueryLogs\"")
        || has(b"\"ResolverPolicyRuleAction\"")
        || has(b"\"resolverpolicy_rule_action\"")
        || (has(b"\"DnsResponse\"") && has(b"\"category\""))
}

/// True for the block response's name (`blockpolicy.azuredns.invalid.`, any case).
fn is_block_target(rdata: &str) -> bool {
    let t = rdata.trim().trim_end_matches('.');
    t.len() >= BLOCK_TARGET.len()
        && t.get(t.len() - BLOCK_TARGET.len()..).is_some_and(|s| s.eq_ignore_ascii_case(BLOCK_TARGET))
}

fn no_answers(what: &str) -> ParseError {
    ParseError::new(
        "no answers",
        format!(
            "{what}: Azure Firewall DNS proxy logs record only the query and its response code, not the answer \
             records, so they cannot become passive DNS records (Azure DNS security policy query logs, \
             DNSQueryLogs, carry answers)"
        ),
    )
}

json_fields! {
    /// A record in either shape: Log Analytics columns at the top level, or the diagnostic
    /// settings form with the log's fields under `properties`, or a `records` envelope.
    struct AzRecord<'a> {
        category: Scalar<'a> = b"category" | b"Category",
        table: Scalar<'a> = b"Type",
        time: Scalar<'a> = b"time" | b"TimeGenerated" | b"timeGenerated",
        resource_id: Scalar<'a> = b"resourceId" | b"ResourceId" | b"_ResourceId",
        operation: Scalar<'a> = b"operationName" | b"OperationName",
        properties: Box<AzRecord<'a>> = b"properties",
        records: Vec<AzRecord<'a>> = b"records",
        query_name: Scalar<'a> = b"query_name" | b"QueryName",
        query_type: Scalar<'a> = b"query_type" | b"QueryType",
        query_class: Scalar<'a> = b"query_class" | b"QueryClass",
        response_code: Scalar<'a> = b"response_code" | b"ResponseCode",
        answer: AnswerField<'a> = b"answer" | b"Answer",
        vnet_id: Scalar<'a> = b"vnet_id" | b"VirtualNetworkId",
        rule_action: Scalar<'a> = b"resolverpolicy_rule_action" | b"ResolverPolicyRuleAction",
        msg: Scalar<'a> = b"msg" | b"msg_s",
    }
}

json_fields! {
    /// One answer record.
    struct AzAnswer<'a> {
        rrtype: Scalar<'a> = b"Type" | b"type",
        class: Scalar<'a> = b"Class" | b"class",
        ttl: Scalar<'a> = b"TTL" | b"Ttl" | b"ttl",
        rdata: Scalar<'a> = b"RData" | b"Rdata" | b"rdata",
        name: Scalar<'a> = b"Name" | b"name",
    }
}

/// A field read from `properties` when there, else from the top level.
struct Fields<'r, 'a> {
    top: &'r AzRecord<'a>,
    props: Option<&'r AzRecord<'a>>,
}

impl<'r, 'a> Fields<'r, 'a> {
    fn get<T>(&self, f: impl Fn(&'r AzRecord<'a>) -> Option<&'r T>) -> Option<&'r T> {
        self.props.and_then(&f).or_else(|| f(self.top))
    }

    fn str(&self, f: impl Fn(&'r AzRecord<'a>) -> Option<&'r Scalar<'a>>) -> Option<&'r str> {
        self.get(f).and_then(Scalar::as_str)
    }
}

/// The `Answer` column: an array of records, or (Log Analytics exports of dynamic columns) a
/// string holding the JSON array.
#[derive(Default)]
enum AnswerField<'a> {
    /// No answer (`null`).
    #[default]
    Empty,
    /// The records.
    List(Vec<AzAnswer<'a>>),
    /// The records as JSON text.
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for AnswerField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnswerField<'a>, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AnswerField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of answer records or a string holding one")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<AnswerField<'a>, S::Error> {
                let mut v = Vec::new();
                while let Some(a) = seq.next_element()? {
                    v.push(a);
                }
                Ok(AnswerField::List(v))
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<AnswerField<'a>, E> {
                Ok(AnswerField::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AnswerField<'a>, E> {
                Ok(AnswerField::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AnswerField<'a>, E> {
                Ok(AnswerField::Text(Cow::Owned(v)))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<AnswerField<'a>, E> {
                Ok(AnswerField::Empty)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<AnswerField<'a>, E> {
                Ok(AnswerField::Empty)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use dnsledger_model::{Name, Negative, Rdata, RrType};

    use super::*;
    use crate::route53::per_line_cpu_ns;

    fn run(p: &mut AzureParser, line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()));
        (r, out)
    }

    fn parse(line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        run(&mut AzureParser::new(&SourceOptions::default()), line)
    }

    fn name(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn rd(t: RrType, s: &str) -> Rdata {
        Rdata::parse(t, s).unwrap()
    }

    const POLICY: &str = "/SUBSCRIPTIONS/00000000-1111-2222-3333-444444444444/RESOURCEGROUPS/NET-RG/PROVIDERS/MICROSOFT.NETWORK/DNSRESOLVERPOLICIES/CORP-POLICY";

    /// A DnsResponse record as diagnostic settings write it to storage (Azure Monitor
    /// resource log schema: time/resourceId/category/operationName/properties; the properties'
    /// names are those of DNS security policy DnsResponse logs); values are ours.
    fn storage(qname: &str, qtype: &str, rcode: u32, answer: &str, action: &str) -> String {
        format!(
            r#"{{"time":"2024-03-05T10:20:30.1234567Z","resourceId":"{POLICY}","category":"DnsResponse","operationName":"RESPONSE_SUCCESS","properties":{{"version":"1","sub_id":"00000000-1111-2222-3333-444444444444","region":"westeurope","vnet_id":"5f3c2a10-9b1e-4c2d-8e7f-0123456789ab","query_name":"{qname}","query_type":"{qtype}","query_class":"IN","response_code":{rcode},"srcipaddr":"10.20.0.4","srcport":53124,"dstipaddr":"168.63.129.16","dstport":53,"transport":"UDP","query_response_time":2,"resolution_path":"PublicDnsResolution","resolverpolicy_id":"{POLICY}","resolverpolicy_rule_action":"{action}","answer":{answer}}}}}"#
        )
    }

    /// The same record as a Log Analytics export row of DNSQueryLogs (column names of the
    /// DNSQueryLogs table reference; `Answer` exported as a JSON string).
    fn analytics(qname: &str, qtype: &str, rcode: u32, answer: &str) -> String {
        format!(
            r#"{{"TenantId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","TimeGenerated":"2024-03-05T10:20:30.123Z","OperationName":"RESPONSE_SUCCESS","Region":"westeurope","VirtualNetworkId":"5f3c2a10-9b1e-4c2d-8e7f-0123456789ab","SourceIpAddress":"10.20.0.4","SourcePort":53124,"Transport":"UDP","QueryName":"{qname}","QueryType":"{qtype}","QueryClass":"IN","ResponseCode":{rcode},"QueryResponseTime":2,"ResolutionPath":"PublicDnsResolution","ResolverPolicyId":"{POLICY}","ResolverPolicyRuleAction":"NoMatch","Answer":{},"Authority":"[]","Additionalrecords":"[]","SourceSystem":"Azure","Type":"DNSQueryLogs","_ResourceId":"{}"}}"#,
            serde_json::to_string(answer).unwrap(),
            POLICY.to_ascii_lowercase()
        )
    }

    const CHAIN: &str = r#"[{"Type":"CNAME","Class":"IN","TTL":3600,"RData":"shop.cdn.example.net."},{"Type":"A","Class":"IN","TTL":60,"RData":"192.0.2.10"},{"Type":"A","Class":"IN","TTL":45,"RData":"192.0.2.11"}]"#;

    fn check_chain(v: &[Observation]) {
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].rrname.clone(), v[0].rrtype, v[0].ttl), (name("www.shop.example"), RrType::CNAME, Some(3600)));
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::CNAME, "shop.cdn.example.net.")]);
        assert_eq!((v[1].rrname.clone(), v[1].rrtype, v[1].ttl), (name("shop.cdn.example.net"), RrType::A, Some(45)));
        assert_eq!(v[1].rdata.to_vec(), vec![rd(RrType::A, "192.0.2.10"), rd(RrType::A, "192.0.2.11")]);
        for o in v {
            assert_eq!(
                (o.time_first, o.time_last, o.count, o.zone, o.negative),
                (1709634030, 1709634030, 1, false, None)
            );
            assert_eq!(o.bailiwick, None);
            assert_eq!(o.sensor.as_deref(), Some("5f3c2a10-9b1e-4c2d-8e7f-0123456789ab"));
        }
    }

    #[test]
    fn dns_security_policy_records_both_shapes() {
        let (r, v) = parse(&storage("www.shop.example.", "A", 0, CHAIN, "Allow"));
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        check_chain(&v);
        let (r, v) = parse(&analytics("www.shop.example.", "A", 0, CHAIN));
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        check_chain(&v);
        // a storage blob's records envelope on one line
        let blob = format!(
            r#"{{"records":[{},{}]}}"#,
            storage("www.shop.example.", "A", 0, CHAIN, "Alert"),
            storage(
                "api.shop.example.",
                "AAAA",
                0,
                r#"[{"Type":"AAAA","Class":"IN","TTL":300,"RData":"2001:db8::80"}]"#,
                "NoMatch"
            )
        );
        let (r, v) = parse(&blob);
        assert_eq!(r, Ok(LineOutcome::Observations(3)));
        assert_eq!((v[2].rrname.clone(), v[2].rrtype, v[2].ttl), (name("api.shop.example"), RrType::AAAA, Some(300)));
        let mut p = AzureParser::new(&SourceOptions { sensor: Some("azure-weu".into()), ..Default::default() });
        assert!(run(&mut p, &blob).1.iter().all(|o| o.sensor.as_deref() == Some("azure-weu")));
        // answers naming their owner are taken as named
        let named = r#"[{"Name":"www.shop.example.","Type":"CNAME","Class":"IN","TTL":3600,"RData":"shop.cdn.example.net."},{"Name":"shop.cdn.example.net.","Type":"A","Class":"IN","TTL":60,"RData":"192.0.2.10"},{"Name":"shop.cdn.example.net.","Type":"A","Class":"IN","TTL":45,"RData":"192.0.2.11"}]"#;
        check_chain(&parse(&storage("www.shop.example.", "A", 0, named, "Allow")).1);
    }

    #[test]
    fn negative_blocked_and_failed() {
        let nx = storage("nope.shop.example.", "A", 3, "[]", "NoMatch");
        assert_eq!(parse(&nx).0, Ok(LineOutcome::Skipped("negative answer")));
        let mut p = AzureParser::new(&SourceOptions { negative: true, ..Default::default() });
        let (r, v) = run(&mut p, &nx);
        assert_eq!(r, Ok(LineOutcome::Observations(1)));
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (name("nope.shop.example"), RrType::A, Some(Negative::NxDomain))
        );
        let nodata = analytics("v4.shop.example.", "AAAA", 0, "[]");
        let (_, v) = run(&mut p, &nodata);
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (name("v4.shop.example"), RrType::AAAA, Some(Negative::NoData))
        );
        let blocked = storage(
            "bad.example.",
            "A",
            0,
            r#"[{"Type":"CNAME","Class":"IN","TTL":60,"RData":"blockpolicy.azuredns.invalid."}]"#,
            "Deny",
        );
        assert_eq!(parse(&blocked).0, Ok(LineOutcome::Skipped("blocked by DNS security policy")));
        let blocked = blocked.replace("\"Deny\"", "\"NoMatch\"");
        assert_eq!(parse(&blocked).0, Ok(LineOutcome::Skipped("blocked by DNS security policy")));
        let servfail = storage("x.example.", "A", 2, "[]", "NoMatch");
        assert_eq!(parse(&servfail).0, Ok(LineOutcome::Skipped("failed query")));
    }

    #[test]
    fn firewall_logs_carry_no_answers() {
        // AzureDiagnostics, category AzureFirewallDnsProxy (Azure Firewall logs: legacy DNS proxy
        // message layout); storage shape and Log Analytics shape; values are ours.
        let legacy = r#"{"category":"AzureFirewallDnsProxy","time":"2024-03-05T10:20:30.5550000Z","resourceId":"/SUBSCRIPTIONS/0000/RESOURCEGROUPS/NET-RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/HUB-FW","operationName":"AzureFirewallDnsProxyLog","properties":{"msg":"DNS Request: 10.20.0.4:53124 - 4711 A IN www.shop.example. udp 44 false 512 NOERROR qr,rd,ra 60 0.000246s"}}"#;
        let la = r#"{"TenantId":"aaaa","TimeGenerated":"2024-03-05T10:20:30.555Z","Category":"AzureFirewallDnsProxy","OperationName":"AzureFirewallDnsProxyLog","msg_s":"DNS Request: 10.20.0.4:53124 - 4711 A IN www.shop.example. udp 44 false 512 NOERROR qr,rd,ra 60 0.000246s","Type":"AzureDiagnostics"}"#;
        // AZFWDnsQuery (table reference columns), storage and Log Analytics shapes
        let structured = r#"{"time":"2024-03-05T10:20:30.5550000Z","resourceId":"/SUBSCRIPTIONS/0000/RESOURCEGROUPS/NET-RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/HUB-FW","category":"AZFWDnsQuery","operationName":"AZFWDnsQuery","properties":{"SourceIp":"10.20.0.4","SourcePort":53124,"QueryId":4711,"QueryType":"A","QueryClass":"IN","QueryName":"www.shop.example.","Protocol":"UDP","RequestSize":44,"DnssecOkBit":false,"EDNS0BufferSize":512,"ResponseCode":"NOERROR","ResponseFlags":"qr,rd,ra","ResponseSize":60,"RequestDurationSecs":0.000246,"ErrorNumber":0,"ErrorMessage":""}}"#;
        let structured_la = r#"{"TimeGenerated":"2024-03-05T10:20:30.555Z","SourceIp":"10.20.0.4","QueryName":"www.shop.example.","QueryType":"A","ResponseCode":"NOERROR","Type":"AZFWDnsQuery"}"#;
        let msg =
            "DNS Request: 10.20.0.4:53124 - 4711 A IN www.shop.example. udp 44 false 512 NOERROR qr,rd,ra 60 0.000246s";
        for l in [legacy, la, structured, structured_la, msg] {
            let e = parse(l).0.unwrap_err();
            assert_eq!(e.reason, "no answers", "{l}");
            assert!(e.detail.contains("Azure Firewall DNS proxy"), "{}", e.detail);
            assert!(sniff(l.as_bytes()), "{l}");
            assert_eq!(crate::Format::sniff(l.as_bytes()), Some(crate::Format::Azure), "{l}");
        }
    }

    #[test]
    fn other_records_and_rejections() {
        let rule =
            r#"{"category":"AZFWApplicationRule","time":"2024-03-05T10:20:30Z","properties":{"Protocol":"HTTPS"}}"#;
        assert_eq!(parse(rule).0, Ok(LineOutcome::Skipped("not a DNS log record")));
        let reason = |l: &str| parse(l).0.unwrap_err().reason;
        let good = storage("www.shop.example.", "A", 0, CHAIN, "Allow");
        assert_eq!(reason(&good.replace("192.0.2.11", "192.0.2.311")), "bad rdata");
        assert_eq!(reason(&good.replace("\"TTL\":45", "\"TTL\":-45")), "bad ttl");
        assert_eq!(reason(&good.replace("\"Type\":\"A\"", "\"Type\":\"AA\"")), "unknown rrtype");
        assert_eq!(reason(&good.replace("\"query_type\":\"A\"", "\"query_type\":\"ZZ\"")), "unknown rrtype");
        assert_eq!(reason(&good.replace("\"query_class\":\"IN\"", "\"query_class\":\"CH\"")), "unsupported class");
        assert_eq!(reason(&good.replace("\"response_code\":0,", "")), "missing field");
        assert_eq!(reason(&good.replace("2024-03-05T10:20:30.1234567Z", "later")), "bad time");
        assert_eq!(
            reason(&good.replace("\"query_name\":\"www.shop.example.\"", "\"query_name\":\"www..shop\"")),
            "bad rrname"
        );
        let la = analytics("www.shop.example.", "A", 0, "[{\"Type\":\"A\"");
        assert_eq!(reason(&la), "bad json");
        assert_eq!(reason(&good[..150]), "bad json");
        assert_eq!(reason("bare words"), "unrecognized line");
        let blob = format!(r#"{{"records":[{good},{}]}}"#, good.replace("192.0.2.11", "192.0.2.311"));
        let (r, v) = parse(&blob);
        let e = r.unwrap_err();
        assert_eq!((e.reason, v.len()), ("bad rdata", 2));
        assert!(e.detail.starts_with("record 2 of 2: ") && e.detail.contains("2 observations"), "{}", e.detail);
        assert_eq!(parse(r#"{"records":[]}"#).0, Ok(LineOutcome::Skipped("empty envelope")));
    }

    #[test]
    fn sniffing() {
        for l in [storage("a.example.", "A", 0, "[]", "Allow"), analytics("a.example.", "A", 0, "[]")] {
            assert!(sniff(l.as_bytes()));
            assert_eq!(crate::Format::sniff(l.as_bytes()), Some(crate::Format::Azure));
        }
        assert!(!sniff(br#"{"category":"AZFWApplicationRule","properties":{}}"#));
        assert!(!sniff(br#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1}"#));
    }

    #[test]
    fn mutated_lines_never_panic() {
        let s = storage("www.shop.example.", "A", 0, CHAIN, "Allow");
        let a = analytics("www.shop.example.", "A", 0, CHAIN);
        let nx = storage("nope.example.", "A", 3, "[]", "NoMatch");
        let blob = format!(r#"{{"records":[{s},{nx}]}}"#);
        let fw = r#"{"category":"AZFWDnsQuery","properties":{"QueryName":"a.example.","ResponseCode":"NOERROR"}}"#;
        let mut p = AzureParser::new(&SourceOptions { negative: true, ..Default::default() });
        crate::testing::mutate_all(&[&s, &a, &nx, &blob, fw], 5000, |l| {
            let _ = p.parse_line(l, &mut |_| {});
            let _ = sniff(l);
        });
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn speed() {
        let s = storage("www.shop.example.", "A", 0, CHAIN, "Allow");
        let a = analytics("www.shop.example.", "A", 0, CHAIN);
        let nx = storage("nope.example.", "A", 3, "[]", "NoMatch");
        let one = storage(
            "api.shop.example.",
            "A",
            0,
            r#"[{"Type":"A","Class":"IN","TTL":300,"RData":"192.0.2.80"}]"#,
            "NoMatch",
        );
        let lines = [s.as_str(), a.as_str(), nx.as_str(), one.as_str()];
        let mut p = AzureParser::new(&SourceOptions { negative: true, ..Default::default() });
        let mut obs = 0u64;
        let ns = per_line_cpu_ns(&lines, |l| {
            let _ = p.parse_line(l, &mut |_| obs += 1);
        });
        let base = per_line_cpu_ns(&lines, |l| {
            let _ = serde_json::from_slice::<serde::de::IgnoredAny>(l);
        });
        println!(
            "azure: {ns:.0} ns/line of CPU ({obs} observations); serde_json IgnoredAny on the same lines: {base:.0}"
        );
    }
}

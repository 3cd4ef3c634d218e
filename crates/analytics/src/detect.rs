//! ATT&CK detections over the stored history: signs that an adversary acquired domains or
//! compromised domains and DNS servers (MITRE ATT&CK T1583.001, T1584.001, T1584.002), each
//! detection naming its technique, scored in [0, 1] with its reasons and the records behind it.
//!
//! One pass over every RRset record, folded per registered domain (store order keeps a domain's
//! names together), looks at the domains with activity in the window:
//!
//! - **`new-domain` (T1583.001, Acquire Infrastructure: Domains).** A registered domain whose
//!   first sighting is inside the window, reported when something beyond newness points at an
//!   adversary: a label that looks generated (long, digit-heavy, high character entropy), a
//!   short life (all activity within [`SHORT_LIFE_DAYS`] days), a burst of names in its first
//!   day, or name servers shared with other new domains of the same window.
//! - **`shadowing` (T1584.001, Compromise Infrastructure: Domains).** New hostnames under an
//!   established domain (first seen at least `established_days` before the window) resolving
//!   into networks (/24, /48) none of its established names ever used. The score grows with
//!   the number of such names and when the same foreign address also serves new names of other
//!   established domains — the pattern of shadowing campaigns, where many stolen domains get
//!   subdomains pointing at one server. Addresses on the shared-infrastructure lists (CDNs) do
//!   not count.
//! - **`delegation-change` and `soa-change` (T1584.002, Compromise Infrastructure: DNS Server).**
//!   An established zone whose NS RRset seen in the window names name servers under registered
//!   domains it was never delegated to before, or whose SOA MNAME moves to a never-seen
//!   provider: the traces of a hijacked delegation or a taken-over DNS server.
//! - **`dangling-cname` (T1584.001).** A CNAME still answered in the window whose target was
//!   answered NXDOMAIN (recorded by sensors with negative caching on, `--negative`) or stopped
//!   resolving before the alias did: whoever registers or claims the target takes the name over.
//!
//! Bounds: the pass reads at most `max_scanned` records; one domain's records are kept up to
//! [`MAX_GROUP_RECORDS`]; at most [`MAX_TARGET_LOOKUPS`] CNAME targets are looked up. Hitting a
//! bound is said in `notes`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::ControlFlow;

use dnsledger_model::time::DAY;
use dnsledger_model::{Name, Record, RrType, TypeFilter};
use dnsledger_store::{NameMatch, NegativeFilter, RrsetQuery, Store};
use serde::Serialize;

use crate::{registered_domain, AnalyticsError, Budget, Evidence, Infra, Limits, Window};

/// Default age a domain must have before the window to count as established, in days.
pub const DEFAULT_ESTABLISHED_DAYS: u64 = 90;
/// A domain whose whole activity fits in this many days is short-lived.
pub const SHORT_LIFE_DAYS: u64 = 3;
/// A new delegation seen for at most this many days, then gone, is brief.
pub const BRIEF_DELEGATION_DAYS: u64 = 7;
/// Records of one registered domain kept for the detections.
pub const MAX_GROUP_RECORDS: usize = 10_000;
/// CNAME targets looked up per run.
pub const MAX_TARGET_LOOKUPS: usize = 20_000;
/// Evidence records per detection.
pub const EVIDENCE_PER_DETECTION: usize = 10;
/// Detections below this score are not reported.
pub const DEFAULT_MIN_SCORE: f64 = 0.5;

/// An ATT&CK technique a detection points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Technique {
    /// Acquire Infrastructure: Domains.
    #[serde(rename = "T1583.001")]
    AcquireDomains,
    /// Compromise Infrastructure: Domains.
    #[serde(rename = "T1584.001")]
    CompromiseDomains,
    /// Compromise Infrastructure: DNS Server.
    #[serde(rename = "T1584.002")]
    CompromiseDnsServer,
}

impl Technique {
    /// The technique id (`T1583.001`).
    pub fn id(self) -> &'static str {
        match self {
            Technique::AcquireDomains => "T1583.001",
            Technique::CompromiseDomains => "T1584.001",
            Technique::CompromiseDnsServer => "T1584.002",
        }
    }

    /// The technique name.
    pub fn name(self) -> &'static str {
        match self {
            Technique::AcquireDomains => "Acquire Infrastructure: Domains",
            Technique::CompromiseDomains => "Compromise Infrastructure: Domains",
            Technique::CompromiseDnsServer => "Compromise Infrastructure: DNS Server",
        }
    }
}

/// What was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A new registered domain with adversary-like traits.
    NewDomain,
    /// New hostnames of an established domain in unrelated networks.
    Shadowing,
    /// An established zone delegated to never-seen name servers.
    DelegationChange,
    /// An established zone's SOA MNAME moved to a never-seen provider.
    SoaChange,
    /// A live CNAME whose target no longer resolves.
    DanglingCname,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] =
        [Kind::NewDomain, Kind::Shadowing, Kind::DelegationChange, Kind::SoaChange, Kind::DanglingCname];

    /// The kebab-case name (`new-domain`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NewDomain => "new-domain",
            Kind::Shadowing => "shadowing",
            Kind::DelegationChange => "delegation-change",
            Kind::SoaChange => "soa-change",
            Kind::DanglingCname => "dangling-cname",
        }
    }

    /// Parses a kebab-case name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The technique the kind points to.
    pub fn technique(self) -> Technique {
        match self {
            Kind::NewDomain => Technique::AcquireDomains,
            Kind::Shadowing | Kind::DanglingCname => Technique::CompromiseDomains,
            Kind::DelegationChange | Kind::SoaChange => Technique::CompromiseDnsServer,
        }
    }
}

/// One detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// ATT&CK technique id.
    pub technique: Technique,
    /// ATT&CK technique name.
    pub technique_name: &'static str,
    /// What was detected.
    pub kind: Kind,
    /// Registered domain concerned.
    pub domain: String,
    /// The names concerned (new hostnames, the zone, the alias).
    pub names: Vec<String>,
    /// Confidence in [0, 1].
    pub score: f64,
    /// Why, one line per trait.
    pub reasons: Vec<String>,
    /// When the suspicious activity was first seen.
    pub time_first: u64,
    /// When it was last seen.
    pub time_last: u64,
    /// The records (first [`EVIDENCE_PER_DETECTION`]).
    pub evidence: Vec<Evidence>,
}

/// What to look for.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectOptions {
    /// The window new activity must fall in (`from` is required).
    pub window: Window,
    /// Days of history before the window that make a domain established.
    pub established_days: u64,
    /// Kinds to run (empty = all).
    pub kinds: Vec<Kind>,
    /// Least score reported.
    pub min_score: f64,
    /// Bounds.
    pub limits: Limits,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            window: Window::default(),
            established_days: DEFAULT_ESTABLISHED_DAYS,
            kinds: Vec::new(),
            min_score: DEFAULT_MIN_SCORE,
            limits: Limits::default(),
        }
    }
}

/// The answer of [`detect`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectReport {
    /// The window applied.
    pub window: Window,
    /// Detections, highest score first.
    pub detections: Vec<Detection>,
    /// Detections per kind, before the result cap.
    pub counts: BTreeMap<&'static str, u64>,
    /// Registered domains examined.
    pub domains: u64,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

/// Shannon entropy of a label's characters, bits per character.
pub fn entropy(label: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in label.bytes() {
        counts[b as usize] += 1;
    }
    let n = label.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

/// The traits of a label that make it look machine-generated, with a weight in [0, 1]:
/// hexadecimal strings, digits mixed into letters, too few vowels or long consonant runs for
/// a pronounceable word, great length. Concatenated dictionary words pass (they are also how
/// honest names are made), so do consonant-vowel pseudo-words; those are left to the other
/// signals.
fn generated_look(label: &str) -> Option<(f64, String)> {
    let len = label.len();
    let digits = label.bytes().filter(u8::is_ascii_digit).count();
    let letters: Vec<u8> = label.bytes().filter(u8::is_ascii_alphabetic).map(|b| b.to_ascii_lowercase()).collect();
    let vowels = letters.iter().filter(|b| b"aeiou".contains(b)).count();
    let mut run = 0usize;
    let mut max_run = 0usize;
    for b in label.bytes().map(|b| b.to_ascii_lowercase()) {
        if b.is_ascii_alphabetic() && !b"aeiou".contains(&b) {
            run += 1;
            max_run = max_run.max(run);
        } else {
            run = 0;
        }
    }
    let mut w: f64 = 0.0;
    let mut why = Vec::new();
    if len >= 12 && digits >= 2 && label.bytes().all(|b| b.is_ascii_hexdigit()) {
        w += 0.6;
        why.push("hexadecimal".to_string());
    } else if digits >= 3 && letters.len() >= 3 && digits * 5 >= len {
        w += 0.4;
        why.push(format!("{digits} digits mixed into letters"));
    }
    if letters.len() >= 8 && vowels * 100 < letters.len() * 22 {
        w += 0.5;
        why.push(format!("{vowels} vowels in {} letters", letters.len()));
    }
    if max_run >= 5 {
        w += 0.3;
        why.push(format!("{max_run} consonants in a row"));
    }
    if len >= 24 {
        w += 0.2;
        why.push(format!("{len} characters"));
    }
    (w > 0.0).then(|| (w.min(1.0), format!("label {label:?} looks generated: {}", why.join(", "))))
}

/// The network of an address for "unrelated network" tests: its /24 or /48.
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(a) & 0xffff_ff00)),
        IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(a) & !((1u128 << 80) - 1))),
    }
}

fn times(r: &Record) -> Option<(u64, u64)> {
    r.agg.effective_times()
}

struct Ctx<'a> {
    opts: &'a DetectOptions,
    infra: &'a Infra,
    from: u64,
    to: u64,
    established_before: u64,
}

impl Ctx<'_> {
    fn wants(&self, k: Kind) -> bool {
        self.opts.kinds.is_empty() || self.opts.kinds.contains(&k)
    }

    fn inside(&self, t: u64) -> bool {
        t >= self.from && t <= self.to
    }

    /// Active in the window: its first..last seen overlaps it.
    fn active(&self, r: &Record) -> bool {
        times(r).is_some_and(|(f, l)| l >= self.from && f <= self.to)
    }
}

/// A zone's providers (registered domains of its NS targets or SOA MNAMEs) seen before the
/// window, and the records first seen inside it with theirs.
type ZoneProviders<'a> = (BTreeSet<String>, Vec<(&'a Record, Vec<String>)>);

/// A shadowing candidate kept for the cross-domain pass.
struct Shadow {
    domain: String,
    names: BTreeSet<String>,
    addresses: BTreeSet<IpAddr>,
    first: u64,
    last: u64,
    evidence: Vec<Evidence>,
    baseline: usize,
}

/// A CNAME to check once the pass is over.
struct Alias {
    domain: String,
    record: Record,
    target: Name,
}

fn detection(kind: Kind, domain: &str) -> Detection {
    Detection {
        technique: kind.technique(),
        technique_name: kind.technique().name(),
        kind,
        domain: domain.to_string(),
        names: Vec::new(),
        score: 0.0,
        reasons: Vec::new(),
        time_first: u64::MAX,
        time_last: 0,
        evidence: Vec::new(),
    }
}

impl Detection {
    fn add(&mut self, r: &Record) {
        if let Some((f, l)) = times(r) {
            self.time_first = self.time_first.min(f);
            self.time_last = self.time_last.max(l);
        }
        if self.evidence.len() < EVIDENCE_PER_DETECTION {
            self.evidence.push(Evidence::from_record(r));
        }
    }
}

/// A delegation or SOA change found in one domain, scored once the whole pass has counted
/// what each provider serves.
struct ZoneChange {
    d: Detection,
    /// Providers (registered domains of the name servers) never seen for the zone before.
    new: BTreeSet<String>,
    /// The earlier delegation was seen again after the new one ended.
    reverted: bool,
    /// Days the new delegation was seen, when it ended inside the window after at most
    /// [`BRIEF_DELEGATION_DAYS`].
    ended_after: Option<u64>,
}

/// Everything the pass learns from one registered domain.
struct Examined {
    detections: Vec<Detection>,
    shadow: Option<Shadow>,
    aliases: Vec<Alias>,
    changes: Vec<ZoneChange>,
    /// Registered domains of its name servers (itself excepted), over all time.
    providers: BTreeSet<String>,
    /// First seen inside the window.
    is_new: bool,
}

fn examine(ctx: &Ctx<'_>, domain: &str, recs: &[Record]) -> Examined {
    let mut out = Examined {
        detections: Vec::new(),
        shadow: None,
        aliases: Vec::new(),
        changes: Vec::new(),
        providers: BTreeSet::new(),
        is_new: false,
    };
    let Some(first) = recs.iter().filter_map(times).map(|t| t.0).min() else { return out };
    let last = recs.iter().filter_map(times).map(|t| t.1).max().unwrap_or(first);
    if !recs.iter().any(|r| ctx.active(r)) {
        return out;
    }
    let established = first < ctx.established_before;
    out.is_new = ctx.inside(first);
    for r in recs.iter().filter(|r| r.rrtype == RrType::NS) {
        for ns in r.rdata.iter().filter_map(|x| x.indexed_name(r.rrtype)) {
            let p = registered_domain(&ns.to_string());
            if p != domain {
                out.providers.insert(p);
            }
        }
    }

    // T1583.001: a new registered domain with adversary-like traits
    if ctx.inside(first) && ctx.wants(Kind::NewDomain) {
        let mut d = detection(Kind::NewDomain, domain);
        let mut score: f64 = 0.3;
        d.reasons.push(format!("first seen {} (inside the window)", dnsledger_model::time::format_human(first)));
        let label = domain.split('.').next().unwrap_or(domain);
        if let Some((w, why)) = generated_look(label) {
            score += 0.35 * w;
            d.reasons.push(why);
        }
        if last.saturating_sub(first) < SHORT_LIFE_DAYS * DAY && last.saturating_add(SHORT_LIFE_DAYS * DAY) < ctx.to {
            score += 0.2;
            d.reasons.push(format!("short-lived: all activity within {SHORT_LIFE_DAYS} days, silent since"));
        }
        let first_day: BTreeSet<&Name> = recs
            .iter()
            .filter(|r| times(r).is_some_and(|t| t.0 < first.saturating_add(DAY)))
            .map(|r| &r.rrname)
            .collect();
        if first_day.len() >= 10 {
            score += 0.15;
            d.reasons.push(format!("{} names on its first day", first_day.len()));
        }
        let names: BTreeSet<String> = recs.iter().map(|r| r.rrname.to_string()).collect();
        d.names = names.into_iter().take(20).collect();
        for r in recs {
            d.add(r);
        }
        d.score = score;
        out.detections.push(d);
    }

    // T1584.002: delegation and SOA changes of a zone with earlier history (scored after the
    // pass, from what the new providers serve)
    for (rrtype, kind) in [(RrType::NS, Kind::DelegationChange), (RrType::SOA, Kind::SoaChange)] {
        if !ctx.wants(kind) {
            continue;
        }
        // per zone: providers before the window, and the records first seen in it
        let mut zones: BTreeMap<&Name, ZoneProviders<'_>> = BTreeMap::new();
        for r in recs.iter().filter(|r| r.rrtype == rrtype) {
            let Some((f, _)) = times(r) else { continue };
            let providers: Vec<String> = r
                .rdata
                .iter()
                .filter_map(|x| x.indexed_name(r.rrtype))
                .map(|n| registered_domain(&n.to_string()))
                .collect();
            let z = zones.entry(&r.rrname).or_default();
            if f < ctx.from {
                z.0.extend(providers);
            } else if ctx.inside(f) {
                z.1.push((r, providers));
            }
        }
        for (zone, (before, changes)) in zones {
            if before.is_empty() {
                continue;
            }
            let mut d = detection(kind, domain);
            let mut new: BTreeSet<String> = BTreeSet::new();
            let (mut new_first, mut new_last) = (u64::MAX, 0u64);
            for (r, providers) in &changes {
                let fresh: Vec<&String> = providers.iter().filter(|p| !before.contains(*p)).collect();
                if !fresh.is_empty() {
                    new.extend(fresh.into_iter().cloned());
                    d.add(r);
                    if let Some((f, l)) = times(r) {
                        new_first = new_first.min(f);
                        new_last = new_last.max(l);
                    }
                }
            }
            if new.is_empty() {
                continue;
            }
            let what =
                if kind == Kind::DelegationChange { "delegated to name servers under" } else { "SOA MNAME moved to" };
            d.names.push(zone.to_string());
            d.reasons.push(format!(
                "{what} {} (never before; earlier: {})",
                new.iter().cloned().collect::<Vec<_>>().join(", "),
                before.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            let old: Vec<&Record> = recs
                .iter()
                .filter(|r| r.rrtype == rrtype && &r.rrname == zone && times(r).is_some_and(|t| t.0 < ctx.from))
                .collect();
            let reverted = old.iter().any(|r| times(r).is_some_and(|t| t.1 > new_last.saturating_add(DAY)));
            let days = new_last.saturating_sub(new_first) / DAY + 1;
            let ended = new_last.saturating_add(DAY) < ctx.to.min(dnsledger_model::time::now());
            let ended_after = (ended && days <= BRIEF_DELEGATION_DAYS).then_some(days);
            for r in old {
                d.add(r);
            }
            out.changes.push(ZoneChange { d, new, reverted, ended_after });
        }
    }

    // dangling CNAMEs: collected here, their targets looked up after the pass
    if ctx.wants(Kind::DanglingCname) {
        for r in recs.iter().filter(|r| r.rrtype == RrType::CNAME && ctx.active(r)) {
            if let Some(target) = r.rdata.first().and_then(|x| x.indexed_name(r.rrtype)) {
                out.aliases.push(Alias { domain: domain.to_string(), record: r.clone(), target });
            }
        }
    }
    if !established {
        return out;
    }

    // T1584.001 shadowing: new names of an established domain in networks it never used
    if ctx.wants(Kind::Shadowing) {
        let mut baseline: BTreeSet<IpAddr> = BTreeSet::new();
        let mut name_first: HashMap<&Name, u64> = HashMap::new();
        for r in recs {
            if let Some((f, _)) = times(r) {
                let e = name_first.entry(&r.rrname).or_insert(f);
                *e = (*e).min(f);
            }
        }
        for r in recs.iter().filter(|r| matches!(r.rrtype, RrType::A | RrType::AAAA)) {
            if name_first.get(&r.rrname).is_some_and(|&f| f < ctx.from) {
                baseline.extend(r.rdata.iter().filter_map(|x| x.ip(r.rrtype)).map(network));
            }
        }
        let mut s = Shadow {
            domain: domain.to_string(),
            names: BTreeSet::new(),
            addresses: BTreeSet::new(),
            first: u64::MAX,
            last: 0,
            evidence: Vec::new(),
            baseline: baseline.len(),
        };
        for r in recs.iter().filter(|r| matches!(r.rrtype, RrType::A | RrType::AAAA)) {
            let new_name = name_first.get(&r.rrname).is_some_and(|&f| ctx.inside(f));
            if !new_name || !ctx.active(r) {
                continue;
            }
            let foreign: Vec<IpAddr> = r
                .rdata
                .iter()
                .filter_map(|x| x.ip(r.rrtype))
                .filter(|ip| !baseline.contains(&network(*ip)) && ctx.infra.address(*ip).is_none())
                .collect();
            if foreign.is_empty() {
                continue;
            }
            s.names.insert(r.rrname.to_string());
            s.addresses.extend(foreign);
            if let Some((f, l)) = times(r) {
                s.first = s.first.min(f);
                s.last = s.last.max(l);
            }
            if s.evidence.len() < EVIDENCE_PER_DETECTION {
                s.evidence.push(Evidence::from_record(r));
            }
        }
        if !s.names.is_empty() && s.baseline > 0 {
            out.shadow = Some(s);
        }
    }

    out
}

/// Runs the detections over the store for activity in `opts.window`.
pub fn detect(store: &dyn Store, infra: &Infra, opts: &DetectOptions) -> Result<DetectReport, AnalyticsError> {
    opts.window.validate()?;
    let from = opts.window.from.ok_or_else(|| AnalyticsError::Input("detections need the window's start".into()))?;
    let to = opts.window.to.unwrap_or_else(dnsledger_model::time::now);
    let ctx = Ctx {
        opts,
        infra,
        from,
        to,
        established_before: from.saturating_sub(opts.established_days.saturating_mul(DAY)),
    };
    let mut budget = Budget::new(&opts.limits);
    let mut notes = Vec::new();
    let mut detections = Vec::new();
    let mut shadows = Vec::new();
    let mut aliases = Vec::new();
    let mut changes: Vec<ZoneChange> = Vec::new();
    // per provider (registered domain of name servers): domains delegated to it, and how many
    // of them were first seen in the window
    let mut served: HashMap<String, (u64, u64)> = HashMap::new();
    let mut new_providers: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut domains = 0u64;
    let mut big_groups = 0u64;

    let q = RrsetQuery {
        name: NameMatch::Below(Name::root()),
        types: TypeFilter::All,
        bailiwick: None,
        fence: Default::default(),
        negative: NegativeFilter::Exclude,
    };
    let mut cur: Option<(String, Vec<Record>, bool)> = None;
    let mut flush = |g: Option<(String, Vec<Record>, bool)>| {
        if let Some((d, recs, cut)) = g {
            domains += 1;
            big_groups += u64::from(cut);
            let e = examine(&ctx, &d, &recs);
            detections.extend(e.detections);
            shadows.extend(e.shadow);
            aliases.extend(e.aliases);
            changes.extend(e.changes);
            for p in &e.providers {
                let c = served.entry(p.clone()).or_default();
                c.0 += 1;
                c.1 += u64::from(e.is_new);
            }
            if e.is_new {
                new_providers.insert(d, e.providers);
            }
        }
    };
    budget.rrset(store, &q, |r| {
        let same = cur.as_ref().is_some_and(|(d, recs, _)| {
            recs.last().is_some_and(|l| l.rrname == r.rrname) || registered_domain(&r.rrname.to_string()) == *d
        });
        if !same {
            let d = registered_domain(&r.rrname.to_string());
            flush(cur.replace((d, Vec::new(), false)));
        }
        if let Some((_, recs, cut)) = cur.as_mut() {
            if recs.len() < MAX_GROUP_RECORDS {
                recs.push(r);
            } else {
                *cut = true;
            }
        }
        ControlFlow::Continue(())
    })?;
    flush(cur.take());
    if budget.exhausted {
        notes.push(format!(
            "stopped after reading {} records (max_scanned): domains later in the store were not examined",
            opts.limits.max_scanned
        ));
    }
    if big_groups > 0 {
        notes.push(format!(
            "{big_groups} domains had more than {MAX_GROUP_RECORDS} records: only the first were examined"
        ));
    }

    // a provider is suspect when it serves few domains, or mostly domains new in the window
    let suspect = |p: &str| -> Option<String> {
        let &(total, new) = served.get(p)?;
        if Name::from_presentation(p).is_ok_and(|n| infra.name(&n).is_some()) {
            return None;
        }
        if new >= 3 && new * 2 >= total {
            Some(format!("name servers under {p} serve {total} domains, {new} of them first seen in the window"))
        } else if total <= 3 {
            Some(format!("name servers under {p} serve only {total} domain(s)"))
        } else {
            None
        }
    };

    // new domains on name servers that serve mostly new domains
    for d in detections.iter_mut().filter(|d| d.kind == Kind::NewDomain) {
        let why = new_providers.get(&d.domain).into_iter().flatten().find_map(|p| {
            let &(total, new) = served.get(p.as_str())?;
            (new >= 3 && new * 2 >= total).then(|| suspect(p)).flatten()
        });
        if let Some(why) = why {
            d.score += 0.2;
            d.reasons.push(why);
        }
    }

    // delegation and SOA changes: a move to an established provider is how domains change
    // hosting; a move to a provider serving almost nothing, or mostly fresh domains, and a
    // delegation that flips back, are how hijacks look
    for c in changes {
        let mut d = c.d;
        let mut score: f64 = 0.3;
        if let Some(why) = c.new.iter().filter(|p| **p != d.domain).find_map(|p| suspect(p)) {
            score += 0.3;
            d.reasons.push(why);
        }
        if c.reverted {
            score += 0.3;
            d.reasons.push("the earlier delegation was seen again after it (a flip and back)".into());
        }
        if let Some(days) = c.ended_after {
            score += 0.2;
            d.reasons.push(format!("the new delegation was seen for {days} day(s) only"));
        }
        d.score = score.min(1.0);
        detections.push(d);
    }

    // shadowing: score by the number of new names and by addresses shared across domains
    let mut per_addr: HashMap<IpAddr, BTreeSet<&str>> = HashMap::new();
    for s in &shadows {
        for a in &s.addresses {
            per_addr.entry(*a).or_default().insert(s.domain.as_str());
        }
    }
    for s in &shadows {
        let mut d = detection(Kind::Shadowing, &s.domain);
        let others =
            s.addresses.iter().map(|a| per_addr.get(a).map_or(0, |x| x.len().saturating_sub(1))).max().unwrap_or(0);
        let mut score: f64 = 0.35;
        d.reasons.push(format!(
            "{} new name(s) of an established domain resolve into networks its {} earlier network(s) never included: {}",
            s.names.len(),
            s.baseline,
            s.addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
        ));
        if s.names.len() >= 3 {
            score += 0.15;
        }
        if others > 0 {
            score += (0.15 * others as f64).min(0.45);
            d.reasons.push(format!("the same address(es) serve new names of {others} other established domain(s)"));
        }
        let random = s.names.iter().filter_map(|n| n.split('.').next()).find_map(generated_look);
        if let Some((w, why)) = random {
            score += 0.1 * w;
            d.reasons.push(why);
        }
        d.score = score.min(1.0);
        d.names = s.names.iter().take(20).cloned().collect();
        d.time_first = s.first;
        d.time_last = s.last;
        d.evidence = s.evidence.clone();
        detections.push(d);
    }

    // dangling CNAMEs: look the targets up
    if aliases.len() > MAX_TARGET_LOOKUPS {
        notes.push(format!("{} live CNAMEs: only the first {MAX_TARGET_LOOKUPS} targets were checked", aliases.len()));
        aliases.truncate(MAX_TARGET_LOOKUPS);
    }
    for a in &aliases {
        if budget.exhausted {
            break;
        }
        let Some((_, alias_last)) = times(&a.record) else { continue };
        let q = RrsetQuery {
            name: NameMatch::Exact(a.target.clone()),
            types: TypeFilter::Any,
            bailiwick: None,
            fence: Default::default(),
            negative: NegativeFilter::Include,
        };
        let mut nx: Option<Record> = None;
        let mut data_last: Option<u64> = None;
        let mut data: Option<Record> = None;
        budget.rrset(store, &q, |r| {
            match (r.negative, times(&r)) {
                (Some(dnsledger_model::Negative::NxDomain), Some(_)) => nx = Some(r),
                (None, Some((_, l))) if data_last.is_none_or(|x| l > x) => {
                    data_last = Some(l);
                    data = Some(r);
                }
                _ => {}
            }
            ControlFlow::Continue(())
        })?;
        let mut d = detection(Kind::DanglingCname, &a.domain);
        d.names = vec![a.record.rrname.to_string(), a.target.to_string()];
        d.add(&a.record);
        if let Some(n) = &nx {
            let nx_last = times(n).map_or(0, |t| t.1);
            if data_last.is_some_and(|l| l > nx_last) {
                continue; // resolved again after the NXDOMAIN
            }
            d.score = 0.8;
            d.reasons.push(format!(
                "target {} answered NXDOMAIN (last {}) while the alias was still answered",
                a.target,
                dnsledger_model::time::format_human(nx_last)
            ));
            d.add(n);
        } else if let Some(l) = data_last.filter(|&l| l.saturating_add(7 * DAY) < alias_last) {
            d.score = 0.55;
            d.reasons.push(format!(
                "target {} stopped resolving on {} while the alias was answered until {}",
                a.target,
                dnsledger_model::time::format_human(l),
                dnsledger_model::time::format_human(alias_last)
            ));
            if let Some(r) = &data {
                d.add(r);
            }
        } else {
            continue;
        }
        detections.push(d);
    }

    detections.retain(|d| d.score >= opts.min_score);
    for d in &mut detections {
        d.score = (d.score.min(1.0) * 100.0).round() / 100.0;
    }
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for d in &detections {
        *counts.entry(d.kind.as_str()).or_default() += 1;
    }
    detections.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.time_first.cmp(&b.time_first)).then(a.domain.cmp(&b.domain))
    });
    if detections.len() > opts.limits.max_results {
        notes.push(format!(
            "{} detections beyond the first {}",
            detections.len() - opts.limits.max_results,
            opts.limits.max_results
        ));
        detections.truncate(opts.limits.max_results);
    }
    Ok(DetectReport {
        window: opts.window,
        detections,
        counts,
        domains,
        scanned: budget.scanned,
        limited: !notes.is_empty(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{put, store, D, JAN1};
    use dnsledger_model::{Observation, Rdata};
    use dnsledger_store::Batch;

    /// The window: 30 days starting 200 days after JAN1.
    const W0: u64 = JAN1 + 200 * D;

    fn run(s: &dyn Store, kinds: &[Kind]) -> DetectReport {
        let opts = DetectOptions {
            window: Window { from: Some(W0), to: Some(W0 + 30 * D) },
            kinds: kinds.to_vec(),
            ..DetectOptions::default()
        };
        detect(s, &Infra::empty(), &opts).unwrap()
    }

    #[test]
    fn new_generated_domains_with_shared_name_servers() {
        let (_d, s) = store();
        for (i, d) in ["xk3j9q2mz8v7b1c4.test", "q9w8e7r6t5y4u3i2.test", "p0o9i8u7y6t5r4e3.test"].iter().enumerate() {
            let t = W0 + (i as u64 + 1) * D;
            put(&*s, d, "A", &["203.0.113.9"], t, t + 3600, "s1");
            put(&*s, d, "NS", &["ns1.badhost.example"], t, t + 3600, "s1");
        }
        // an ordinary new domain: no trait beyond newness, not reported
        put(&*s, "bakery.test", "A", &["192.0.2.1"], W0 + D, W0 + 25 * D, "s1");
        // an old domain: not new
        put(&*s, "oldsite.test", "A", &["192.0.2.2"], JAN1, W0 + 25 * D, "s1");
        let r = run(&*s, &[Kind::NewDomain]);
        let doms: Vec<&str> = r.detections.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(doms.len(), 3, "{r:#?}");
        assert!(!doms.contains(&"bakery.test") && !doms.contains(&"oldsite.test"));
        let d = &r.detections[0];
        assert_eq!(d.technique.id(), "T1583.001");
        assert!(d.reasons.iter().any(|x| x.contains("looks generated")), "{d:#?}");
        assert!(d.reasons.iter().any(|x| x.contains("badhost.example serve 3")), "{d:#?}");
        assert!(d.reasons.iter().any(|x| x.contains("short-lived")), "{d:#?}");
        assert!(!d.evidence.is_empty());
        assert_eq!(r.counts.get("new-domain"), Some(&3));
        let j = serde_json::to_value(d).unwrap();
        assert_eq!(j["technique"], "T1583.001");
        assert_eq!(j["kind"], "new-domain");
    }

    #[test]
    fn shadowing_across_established_domains() {
        let (_d, s) = store();
        for dom in ["florist.test", "dentist.test"] {
            put(&*s, &format!("www.{dom}"), "A", &["192.0.2.10"], JAN1, W0 + 20 * D, "s1");
            put(&*s, dom, "A", &["192.0.2.10"], JAN1, W0 + 20 * D, "s1");
        }
        for sub in ["a1b2c3d4e5f6g7h8.florist.test", "x9y8w7v6u5t4s3r2.dentist.test", "pay.dentist.test"] {
            put(&*s, sub, "A", &["198.51.100.66"], W0 + 2 * D, W0 + 3 * D, "s1");
        }
        // a new name in the domain's own network is not shadowing
        put(&*s, "shop.florist.test", "A", &["192.0.2.11"], W0 + 2 * D, W0 + 3 * D, "s1");
        let r = run(&*s, &[Kind::Shadowing]);
        assert_eq!(r.detections.len(), 2, "{r:#?}");
        for d in &r.detections {
            assert_eq!(d.technique.id(), "T1584.001");
            assert!(d.reasons.iter().any(|x| x.contains("1 other established domain")), "{d:#?}");
            assert!(!d.names.contains(&"shop.florist.test.".to_string()));
            assert!(d.score >= 0.5);
        }
        // with the address on a CDN list, nothing
        let mut infra = Infra::empty();
        infra.add_text("198.51.100.0/24 cdn:lab\n", "t").unwrap();
        let opts = DetectOptions {
            window: Window { from: Some(W0), to: Some(W0 + 30 * D) },
            kinds: vec![Kind::Shadowing],
            ..DetectOptions::default()
        };
        assert!(detect(&*s, &infra, &opts).unwrap().detections.is_empty());
    }

    #[test]
    fn delegation_and_soa_changes() {
        let (_d, s) = store();
        // bank.test: delegated for two days to a provider serving nothing else, then back
        put(&*s, "bank.test", "NS", &["ns1.goodprovider.example", "ns2.goodprovider.example"], JAN1, W0 + 20 * D, "s1");
        put(&*s, "bank.test", "NS", &["ns1.attacker.example"], W0 + 5 * D, W0 + 6 * D, "s1");
        put(&*s, "bank.test", "SOA", &["ns1.goodprovider.example. host.bank.test. 1 2 3 4 5"], JAN1, W0 + 20 * D, "s1");
        put(&*s, "bank.test", "SOA", &["ns1.attacker.example. x.bank.test. 9 2 3 4 5"], W0 + 5 * D, W0 + 6 * D, "s1");
        // a provider adding a third server of its own is not a change of provider
        put(&*s, "shop.test", "NS", &["a.goodprovider.example"], JAN1, W0 - D, "s1");
        put(&*s, "shop.test", "NS", &["a.goodprovider.example", "b.goodprovider.example"], W0 + D, W0 + 2 * D, "s1");
        // cafe.test moves for good to a big provider: how domains change hosting
        for i in 0..5 {
            put(&*s, &format!("client{i}.test"), "NS", &["ns1.bigdns.example"], JAN1, W0 + 25 * D, "s1");
        }
        put(&*s, "cafe.test", "NS", &["ns1.goodprovider.example"], JAN1, W0 + 2 * D, "s1");
        put(&*s, "cafe.test", "NS", &["ns1.bigdns.example"], W0 + 3 * D, W0 + 25 * D, "s1");
        let r = run(&*s, &[Kind::DelegationChange, Kind::SoaChange]);
        assert_eq!(r.detections.len(), 2, "{r:#?}");
        for d in &r.detections {
            assert_eq!(d.technique.id(), "T1584.002");
            assert_eq!(d.domain, "bank.test");
            assert!(d.reasons.iter().any(|x| x.contains("attacker.example serve only 1")), "{d:#?}");
            assert!(d.reasons.iter().any(|x| x.contains("flip and back")), "{d:#?}");
            assert!(d.reasons.iter().any(|x| x.contains("2 day(s) only")), "{d:#?}");
            assert!(d.score >= 0.99, "{d:#?}");
            assert!(d.evidence.len() >= 2, "old and new records: {d:#?}");
        }
        // at a low threshold the migration shows, with its low score
        let opts = DetectOptions {
            window: Window { from: Some(W0), to: Some(W0 + 30 * D) },
            kinds: vec![Kind::DelegationChange],
            min_score: 0.0,
            ..DetectOptions::default()
        };
        let all = detect(&*s, &Infra::empty(), &opts).unwrap();
        let cafe = all.detections.iter().find(|d| d.domain == "cafe.test").expect("cafe.test listed at score 0");
        assert!(cafe.score < 0.5, "{cafe:#?}");
    }

    #[test]
    fn dangling_cnames() {
        let (_d, s) = store();
        put(&*s, "assets.corp.test", "CNAME", &["corp-assets.bucket.example"], JAN1, W0 + 10 * D, "s1");
        put(&*s, "corp-assets.bucket.example", "A", &["192.0.2.50"], JAN1, W0 - 20 * D, "s1");
        // the target answered NXDOMAIN later (a sensor with --negative)
        let mut o = Observation {
            rrname: Name::from_presentation("corp-assets.bucket.example").unwrap(),
            rrtype: RrType::A,
            time_first: W0 + D,
            time_last: W0 + 9 * D,
            count: 4,
            negative: Some(dnsledger_model::Negative::NxDomain),
            sensor: Some("s1".into()),
            ..Observation::default()
        };
        let mut b = Batch::new();
        b.add(&mut o);
        s.write(&b).unwrap();
        // an alias whose target stopped resolving long before the alias did
        put(&*s, "old.corp.test", "CNAME", &["gone.host.example"], JAN1, W0 + 10 * D, "s1");
        put(&*s, "gone.host.example", "A", &["192.0.2.51"], JAN1, JAN1 + 10 * D, "s1");
        // a healthy alias
        put(&*s, "www.corp.test", "CNAME", &["web.host.example"], JAN1, W0 + 10 * D, "s1");
        put(&*s, "web.host.example", "A", &["192.0.2.52"], JAN1, W0 + 10 * D, "s1");
        let r = run(&*s, &[Kind::DanglingCname]);
        let names: Vec<&str> = r.detections.iter().map(|d| d.names[0].as_str()).collect();
        assert_eq!(names, ["assets.corp.test.", "old.corp.test."], "{r:#?}");
        assert!(r.detections[0].reasons[0].contains("NXDOMAIN"));
        assert_eq!(r.detections[0].technique, Technique::CompromiseDomains);
        let _ = Rdata::Text(String::new());
    }

    #[test]
    fn bounds_and_input() {
        let (_d, s) = store();
        assert!(detect(&*s, &Infra::empty(), &DetectOptions::default()).is_err(), "no window start");
        for i in 0..5 {
            put(&*s, &format!("n{i}.test"), "A", &["192.0.2.1"], W0, W0, "s1");
        }
        let opts = DetectOptions {
            window: Window { from: Some(W0), to: Some(W0 + D) },
            limits: Limits { max_scanned: 2, max_results: 10 },
            ..DetectOptions::default()
        };
        let r = detect(&*s, &Infra::empty(), &opts).unwrap();
        assert!(r.limited && r.notes[0].contains("max_scanned"), "{r:?}");
        assert_eq!(Kind::parse("Shadowing"), Some(Kind::Shadowing));
        assert!(entropy("aaaa") < 0.01 && entropy("abcd") > 1.99);
    }
}

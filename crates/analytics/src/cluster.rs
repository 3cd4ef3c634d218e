//! Malicious domain clustering: the graph of registered domains ↔ addresses ↔ name servers ↔
//! CNAME targets around seed indicators over a time window, its communities, and a
//! maliciousness score per domain and per cluster from labels ([`crate::labels`]).
//!
//! **Expansion.** Breadth first from the seeds (domains, hostnames, addresses). A domain node is
//! expanded with two RRset lookups (the registered domain and every name below it) into its
//! A/AAAA addresses, its NS name servers and the registered domains its CNAMEs point into; an
//! address with one inverse lookup into the domains that resolved to it; a name server into the
//! domains delegated to it. Every address is also linked to its /24 (/48) network, expanded
//! like an address into the domains on its neighbours: bulletproof hosters rent out
//! neighbouring addresses to one customer after another, so a new campaign next door to a
//! known one is found even when no address is shared (the network features of Notos).
//! `hops` counts domain-to-domain pivots (one pivot = two edges; a network sits at the depth
//! of its address). Nodes at the last depth are expanded only to link with nodes already in
//! the graph.
//!
//! **Shared infrastructure is not followed blindly.** An address or name server tagged by the
//! [`Infra`] lists (CDN, cloud, parking, sinkhole) is kept in the graph but not expanded, gets
//! no network node, and its edges are weak (weight × 0.1). One with more than `fanout`
//! registered domains is marked `fanout_exceeded`, not expanded, and down-weighted the same
//! way — unless a tenth or more of the domains met there are labelled malicious: then it is a
//! hostile neighbourhood (a bulletproof hoster's addresses or name servers), `hostile`, read in
//! full up to the per-node bound and weighed like any other node. Every other edge weighs `base / ln(e + d)` (base 1 for addresses and CNAMEs, 0.7 for
//! delegations, 0.5 for address-to-network), `d` the number of registered domains on its
//! infrastructure end, so a host shared by two domains links them more strongly than one
//! shared by forty.
//!
//! **Communities** come from Louvain modularity optimisation (Blondel et al. 2008) on the
//! weighted graph. It is written here (about a hundred lines) because the graph crates we
//! could use do not ship it, and because we need its order fixed: nodes are visited in
//! discovery order and ties keep the current community, so the same store and seeds always give
//! the same clusters and evidence.
//!
//! **Scores.** A labelled node (a registered domain listed itself or under a listed parent, an
//! address or name server on a list) has its verdict's score (malicious 1, suspicious 0.5,
//! benign 0); a listed hostname does not label its whole domain, since a compromised name
//! under an honest domain is what shadowing looks like. Every other node gets the weighted
//! mean of its neighbours' scores, shrunk toward 0 by a prior weight of a quarter of a strong
//! edge (`s(v) = Σ w·s(u) / (Σ w + 0.25)`), iterated to a fixed point: guilt by association
//! through strong links, little through weak ones (the idea of Segugio and Notos, without
//! their trained models). A cluster's score is the mean score of its domains. Each score lists
//! the neighbours that contributed most; each edge carries its records.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::time::Instant;

use dnsledger_model::{Name, Record, RrType, TypeFilter};
use dnsledger_store::{
    IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery, ScanStats, Store, StoreError,
};
use serde::{Deserialize, Serialize};

use crate::labels::{Label, Labels};
use crate::{registered_domain, AnalyticsError, Enricher, Evidence, Infra, IpInfo, Limits, Window};

/// Default domain-to-domain pivots.
pub const DEFAULT_HOPS: usize = 2;
/// Most pivots allowed.
pub const MAX_HOPS: usize = 4;
/// Default cap on nodes in the graph.
pub const DEFAULT_MAX_NODES: usize = 2_000;
/// Default cap on records read when expanding one node.
pub const DEFAULT_PER_NODE: usize = 2_000;
/// Records kept as evidence on one edge.
pub const EVIDENCE_PER_EDGE: usize = 3;
/// Names kept on one domain node.
pub const NAMES_PER_DOMAIN: usize = 20;
/// Weight factor of edges through shared infrastructure or over-the-fan-out nodes.
pub const WEAK_FACTOR: f64 = 0.1;
/// Share of labelled-malicious domains among those met that makes an over-the-fan-out node a
/// hostile neighbourhood.
pub const HOSTILE_SHARE: f64 = 0.1;
/// Prior weight shrinking unlabelled scores toward 0.
pub const PRIOR_WEIGHT: f64 = 0.25;

/// How far and how wide to expand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Records whose first..last seen overlap this window.
    pub window: Window,
    /// Domain-to-domain pivots from the seeds.
    pub hops: usize,
    /// An address or name server with more registered domains is shared infrastructure.
    pub fanout: usize,
    /// Most nodes in the graph.
    pub max_nodes: usize,
    /// Most records read when expanding one node.
    pub per_node: usize,
    /// Bounds on the whole analysis (`max_results` caps the clusters listed).
    pub limits: Limits,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            window: Window::default(),
            hops: DEFAULT_HOPS,
            fanout: crate::shared::DEFAULT_FANOUT,
            max_nodes: DEFAULT_MAX_NODES,
            per_node: DEFAULT_PER_NODE,
            limits: Limits::default(),
        }
    }
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A registered domain (eTLD+1) and the names below it.
    Domain,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A name server host.
    Ns,
    /// The /24 (IPv4) or /48 (IPv6) network of addresses in the graph.
    Net,
}

/// What an edge stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// A name of the domain had an A/AAAA record with the address.
    Resolves,
    /// The domain (or a zone below it) was delegated to the name server.
    Delegates,
    /// A name of the domain was a CNAME alias into the other domain.
    Alias,
    /// The address is in the network.
    Network,
    /// The name server is a name of the domain (its own addresses lead on from there).
    Names,
}

impl EdgeKind {
    fn base(self) -> f64 {
        match self {
            EdgeKind::Resolves | EdgeKind::Alias | EdgeKind::Names => 1.0,
            EdgeKind::Delegates => 0.7,
            EdgeKind::Network => 0.5,
        }
    }
}

/// A neighbour's share of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The neighbour node's index.
    pub node: usize,
    /// Its value (domain, address, name server).
    pub value: String,
    /// Edge weight × the neighbour's score.
    pub share: f64,
}

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Index in `nodes`.
    pub id: usize,
    /// What it is.
    pub kind: NodeKind,
    /// The domain, address or name-server name.
    pub value: String,
    /// Edges from the nearest seed (0 for seeds).
    pub depth: usize,
    /// True for a seed.
    pub seed: bool,
    /// Shared-infrastructure tag, if listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// Registered domains seen on it (infrastructure nodes; counted up to the fan-out + 1).
    pub domains: usize,
    /// True if more than the fan-out of registered domains used it.
    pub fanout_exceeded: bool,
    /// True if over the fan-out but a large share of its domains are labelled malicious: a
    /// hostile neighbourhood (bulletproof hosting), expanded in full and not down-weighted as
    /// shared infrastructure.
    pub hostile: bool,
    /// True if its neighbours were looked up.
    pub expanded: bool,
    /// ASN, AS organisation and country of an address (with databases configured).
    #[serde(default, skip_serializing_if = "IpInfo::is_empty")]
    pub info: IpInfo,
    /// Names of a domain node seen (first [`NAMES_PER_DOMAIN`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// What a label list says of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Maliciousness in [0, 1].
    pub score: f64,
    /// The neighbours that contributed most to an unlabelled node's score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub score_evidence: Vec<Contribution>,
    /// Index in `clusters`.
    pub cluster: usize,
}

/// An edge of the graph, with the records behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Domain node index.
    pub source: usize,
    /// Address, name-server or (for aliases) domain node index.
    pub target: usize,
    /// What links them.
    pub kind: EdgeKind,
    /// Weight used by the communities and scores.
    pub weight: f64,
    /// True if through shared infrastructure or an over-the-fan-out node.
    pub weak: bool,
    /// Observations summed over the records.
    pub count: u64,
    /// First seen over the records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen over the records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// The records (first [`EVIDENCE_PER_EDGE`]); none on address-to-network edges.
    pub evidence: Vec<Evidence>,
}

/// A community of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Index in `clusters` (clusters are sorted by score, then size).
    pub id: usize,
    /// Its registered domains, highest score first.
    pub domains: Vec<String>,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Its name servers.
    pub nameservers: Vec<String>,
    /// Mean score of its domains (of all its nodes when it has no domain).
    pub score: f64,
    /// Members labelled malicious.
    pub malicious: usize,
    /// Members labelled suspicious.
    pub suspicious: usize,
    /// Members labelled benign.
    pub benign: usize,
    /// True if a seed is in it.
    pub has_seed: bool,
    /// Node indexes of its members.
    pub members: Vec<usize>,
}

/// The answer of [`cluster`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// The seeds as given.
    pub seeds: Vec<String>,
    /// The window applied.
    pub window: Window,
    /// Pivots expanded.
    pub hops: usize,
    /// The graph's nodes.
    pub nodes: Vec<Node>,
    /// The graph's edges.
    pub edges: Vec<Edge>,
    /// Communities, highest score first.
    pub clusters: Vec<Cluster>,
    /// Modularity of the partition (−0.5..1; above ~0.3 the communities are marked).
    pub modularity: f64,
    /// Records read.
    pub scanned: u64,
    /// Wall-clock milliseconds taken.
    pub elapsed_ms: u64,
    /// True if a bound cut the graph short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

/// The /24 (IPv4) or /48 (IPv6) holding an address, as `IP/LEN`.
fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("{}/24", std::net::Ipv4Addr::from(u32::from(a) & 0xffff_ff00)),
        IpAddr::V6(a) => format!("{}/48", std::net::Ipv6Addr::from(u128::from(a) & !((1u128 << 80) - 1))),
    }
}

impl ClusterReport {
    /// The MISP event of one cluster: its domains (`domain`, flagged for detection from
    /// `to_ids_score` up), addresses (`ip-dst`) and name servers (`hostname`) as attributes with
    /// their scores and labels in the comment, a `passive-dns` object per record behind its
    /// edges, and tags with the cluster's score. `None` if there is no such cluster.
    pub fn misp_event(&self, cluster: usize, to_ids_score: f64, now: u64) -> Option<serde_json::Value> {
        use crate::export::{misp_event, ExportRecord, MispAttribute};
        let c = self.clusters.iter().find(|c| c.id == cluster)?;
        let members: std::collections::HashSet<usize> = c.members.iter().copied().collect();
        let mut attrs = Vec::new();
        for &i in &c.members {
            let n = &self.nodes[i];
            let kind = match n.kind {
                NodeKind::Domain => "domain",
                NodeKind::Ip => "ip-dst",
                NodeKind::Ns => "hostname",
                NodeKind::Net => continue,
            };
            let mut comment = format!("dnsledger score {:.2}", n.score);
            if let Some(l) = &n.label {
                comment.push_str(&format!("; labelled {:?} by {}", l.verdict, l.source).to_lowercase());
            }
            if let Some(t) = &n.shared {
                comment.push_str(&format!("; shared infrastructure {t}"));
            }
            attrs.push(MispAttribute {
                category: "Network activity".into(),
                kind: kind.into(),
                value: n.value.clone(),
                comment,
                to_ids: n.kind == NodeKind::Domain && n.score >= to_ids_score && n.shared.is_none(),
            });
        }
        let mut records = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for e in self.edges.iter().filter(|e| members.contains(&e.source) && members.contains(&e.target)) {
            for ev in &e.evidence {
                if let Some(r) = ExportRecord::from_json(&crate::to_json(ev)) {
                    if seen.insert(r.key()) {
                        records.push(r);
                    }
                }
            }
        }
        let seeds = self.seeds.join(", ");
        let title = format!("dnsledger cluster {} around {seeds} ({} domains)", c.id, c.domains.len());
        let tags =
            vec![format!("dnsledger:cluster-score=\"{:.2}\"", c.score), "dnsledger:analysis=\"cluster\"".to_string()];
        Some(misp_event(&title, &tags, &records, &attrs, now))
    }

    /// The cluster an export stands for when none is named: the highest-scored one holding a
    /// seed, else the first.
    pub fn main_cluster(&self) -> Option<usize> {
        self.clusters.iter().find(|c| c.has_seed).or(self.clusters.first()).map(|c| c.id)
    }

    /// Adds the ASN, AS organisation and country of each address node (nothing without
    /// databases).
    pub fn enrich(&mut self, enricher: &Enricher) {
        if enricher.is_empty() {
            return;
        }
        for n in self.nodes.iter_mut().filter(|n| n.kind == NodeKind::Ip) {
            if let Ok(ip) = n.value.parse::<IpAddr>() {
                n.info = enricher.lookup(ip);
            }
        }
    }
}

/// A parsed seed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seed {
    Domain(String),
    Ip(IpAddr),
}

fn parse_seed(s: &str) -> Result<Seed, AnalyticsError> {
    let t = s.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(Seed::Ip(ip));
    }
    let name = Name::from_presentation(t).map_err(|e| AnalyticsError::Input(format!("seed {t:?}: {e}")))?;
    if name.is_root() {
        return Err(AnalyticsError::Input(format!("seed {t:?}: the root is not a domain")));
    }
    Ok(Seed::Domain(registered_domain(&name.to_string())))
}

/// What one node's lookups found.
#[derive(Default)]
struct Found {
    records: Vec<Record>,
    /// Distinct registered domains met (infrastructure nodes).
    domains: usize,
    fanout_exceeded: bool,
    per_node_cut: bool,
    scanned: u64,
    error: Option<AnalyticsError>,
}

fn lookup(
    f: impl FnOnce(&mut dnsledger_store::Visitor<'_>) -> Result<ScanStats, StoreError>,
    context: impl FnOnce() -> String,
    found: &mut Found,
    mut keep: impl FnMut(&Record) -> ControlFlow<()>,
) {
    let mut records = std::mem::take(&mut found.records);
    let mut scanned = 0u64;
    let r = f(&mut |r: Record| {
        scanned += 1;
        let flow = keep(&r);
        records.push(r);
        flow
    });
    found.records = records;
    found.scanned += scanned;
    if let Err(source) = r {
        found.error = Some(AnalyticsError::Store { context: context(), source });
    }
}

/// Runs the lookups of one node (no graph state is touched, so nodes of a level run in
/// parallel).
fn expand(store: &dyn Store, kind: NodeKind, value: &str, opts: &ClusterOptions) -> Found {
    let mut found = Found::default();
    let fence = opts.window.fence();
    let per_node = opts.per_node.max(1);
    match kind {
        NodeKind::Domain => {
            let Ok(name) = Name::from_presentation(value) else { return found };
            for m in [NameMatch::Exact(name.clone()), NameMatch::Below(name)] {
                let q = RrsetQuery {
                    name: m,
                    types: TypeFilter::Any,
                    bailiwick: None,
                    fence,
                    negative: NegativeFilter::Exclude,
                };
                let mut n = found.records.len();
                let mut cut = false;
                lookup(
                    |v| store.lookup_rrset(&q, v),
                    || format!("expanding domain {value}"),
                    &mut found,
                    |_| {
                        n += 1;
                        if n >= per_node {
                            cut = true;
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    },
                );
                found.per_node_cut |= cut;
                found.records.retain(|r| matches!(r.rrtype, RrType::A | RrType::AAAA | RrType::CNAME | RrType::NS));
                if cut || found.error.is_some() {
                    break;
                }
            }
        }
        NodeKind::Ip | NodeKind::Ns | NodeKind::Net => {
            let target = if kind == NodeKind::Ip {
                match value.parse::<IpAddr>() {
                    Ok(ip) => RdataTarget::Ip(IpRange::single(ip)),
                    Err(_) => return found,
                }
            } else if kind == NodeKind::Net {
                match IpRange::parse(value) {
                    Ok(r) => RdataTarget::Ip(r),
                    Err(_) => return found,
                }
            } else {
                match Name::from_presentation(value) {
                    Ok(n) => RdataTarget::Name(NameMatch::Exact(n)),
                    Err(_) => return found,
                }
            };
            let types = if kind == NodeKind::Ns { TypeFilter::Only(RrType::NS) } else { TypeFilter::Any };
            let q = RdataQuery { target, types, fence };
            let mut domains: BTreeSet<String> = BTreeSet::new();
            let mut n = 0usize;
            let (mut over, mut cut) = (false, false);
            lookup(
                |v| store.lookup_rdata(&q, v),
                || format!("expanding {value}"),
                &mut found,
                |r| {
                    n += 1;
                    domains.insert(registered_domain(&r.rrname.to_string()));
                    if domains.len() > opts.fanout {
                        over = true;
                        ControlFlow::Break(())
                    } else if n >= per_node {
                        cut = true;
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            );
            found.domains = domains.len();
            found.fanout_exceeded = over;
            found.per_node_cut = cut;
            if kind != NodeKind::Ns {
                found.records.retain(|r| matches!(r.rrtype, RrType::A | RrType::AAAA));
            }
        }
    }
    found
}

struct Graph<'a> {
    infra: &'a Infra,
    labels: &'a Labels,
    nodes: Vec<Node>,
    index: HashMap<(NodeKind, String), usize>,
    edges: Vec<Edge>,
    edge_index: HashMap<(usize, usize, EdgeKind), usize>,
    max_nodes: usize,
    full: bool,
}

impl Graph<'_> {
    /// The node for (kind, value), created at `depth` unless the graph is full or `link_only`.
    fn node(&mut self, kind: NodeKind, value: &str, depth: usize, link_only: bool) -> Option<usize> {
        if let Some(&i) = self.index.get(&(kind, value.to_string())) {
            return Some(i);
        }
        if link_only {
            return None;
        }
        if self.nodes.len() >= self.max_nodes {
            self.full = true;
            return None;
        }
        let (shared, label) = match kind {
            NodeKind::Ip => {
                let ip = value.parse::<IpAddr>().ok();
                (
                    ip.and_then(|a| self.infra.address(a)).map(str::to_string),
                    ip.and_then(|a| self.labels.address(a)).cloned(),
                )
            }
            NodeKind::Net => (
                IpRange::parse(value).ok().and_then(|r| self.infra.address(r.start)).map(str::to_string),
                IpRange::parse(value).ok().and_then(|r| self.labels.address(r.start)).cloned(),
            ),
            NodeKind::Domain | NodeKind::Ns => {
                let n = Name::from_presentation(value).ok();
                (
                    n.as_ref().and_then(|n| self.infra.name(n)).map(str::to_string),
                    n.as_ref().and_then(|n| self.labels.name(n)).cloned(),
                )
            }
        };
        let id = self.nodes.len();
        self.nodes.push(Node {
            id,
            kind,
            value: value.to_string(),
            depth,
            seed: false,
            shared,
            domains: 0,
            fanout_exceeded: false,
            hostile: false,
            expanded: false,
            info: IpInfo::default(),
            names: Vec::new(),
            label,
            score: 0.0,
            score_evidence: Vec::new(),
            cluster: 0,
        });
        self.index.insert((kind, value.to_string()), id);
        Some(id)
    }

    fn edge(&mut self, a: usize, b: usize, kind: EdgeKind, r: Option<&Record>) {
        if a == b {
            return;
        }
        let i = *self.edge_index.entry((a, b, kind)).or_insert_with(|| {
            self.edges.push(Edge {
                source: a,
                target: b,
                kind,
                weight: 0.0,
                weak: false,
                count: 0,
                time_first: None,
                time_last: None,
                evidence: Vec::new(),
            });
            self.edges.len() - 1
        });
        let Some(r) = r else { return };
        let e = &mut self.edges[i];
        e.count = e.count.saturating_add(r.agg.count);
        if let Some((f, l)) = r.agg.effective_times() {
            e.time_first = Some(e.time_first.map_or(f, |x| x.min(f)));
            e.time_last = Some(e.time_last.map_or(l, |x| x.max(l)));
        }
        if e.evidence.len() < EVIDENCE_PER_EDGE {
            e.evidence.push(Evidence::from_record(r));
        }
    }

    /// The node of address `ip` at `depth`, linked to the node of its network unless the
    /// address is shared infrastructure.
    fn address(&mut self, ip: IpAddr, depth: usize, link_only: bool) -> Option<usize> {
        let id = self.node(NodeKind::Ip, &ip.to_string(), depth, link_only)?;
        if self.nodes[id].shared.is_none() {
            let net = network_of(ip);
            let d = self.nodes[id].depth;
            if let Some(n) = self.node(NodeKind::Net, &net, d, link_only) {
                self.edge(id, n, EdgeKind::Network, None);
            }
        }
        Some(id)
    }

    /// Adds what a node's lookups found; returns the new nodes.
    fn absorb(&mut self, id: usize, found: &Found, link_only: bool) -> Vec<usize> {
        let depth = self.nodes[id].depth + 1;
        let before = self.nodes.len();
        match self.nodes[id].kind {
            NodeKind::Domain => {
                let own = self.nodes[id].value.clone();
                for r in &found.records {
                    let name = r.rrname.to_string();
                    let names = &mut self.nodes[id].names;
                    if names.len() < NAMES_PER_DOMAIN && !names.contains(&name) {
                        names.push(name);
                    }
                    for d in &r.rdata {
                        match r.rrtype {
                            RrType::A | RrType::AAAA => {
                                if let Some(ip) = d.ip(r.rrtype) {
                                    if let Some(t) = self.address(ip, depth, link_only) {
                                        self.edge(id, t, EdgeKind::Resolves, Some(r));
                                    }
                                }
                            }
                            RrType::NS => {
                                if let Some(ns) = d.indexed_name(r.rrtype) {
                                    let ns = ns.to_string();
                                    let ns = ns.trim_end_matches('.');
                                    if let Some(t) = self.node(NodeKind::Ns, ns, depth, link_only) {
                                        self.edge(id, t, EdgeKind::Delegates, Some(r));
                                    }
                                }
                            }
                            RrType::CNAME => {
                                if let Some(target) = d.indexed_name(r.rrtype) {
                                    let td = registered_domain(&target.to_string());
                                    if td != own {
                                        if let Some(t) = self.node(NodeKind::Domain, &td, depth, link_only) {
                                            self.edge(id, t, EdgeKind::Alias, Some(r));
                                        }
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            kind @ (NodeKind::Ip | NodeKind::Ns | NodeKind::Net) => {
                let n = &mut self.nodes[id];
                n.domains = n.domains.max(found.domains);
                n.fanout_exceeded |= found.fanout_exceeded;
                // over the fan-out the domains met are an arbitrary sample: link only to
                // domains already in the graph
                let link_only = link_only || (found.fanout_exceeded && !n.hostile);
                if kind == NodeKind::Ns {
                    // the name server's own domain: its addresses are where the server runs
                    let own = registered_domain(&self.nodes[id].value);
                    if let Some(d) = self.node(NodeKind::Domain, &own, depth, link_only) {
                        self.edge(d, id, EdgeKind::Names, None);
                    }
                }
                for r in &found.records {
                    let d = registered_domain(&r.rrname.to_string());
                    let Some(s) = self.node(NodeKind::Domain, &d, depth, link_only) else { continue };
                    match kind {
                        NodeKind::Ip => self.edge(s, id, EdgeKind::Resolves, Some(r)),
                        NodeKind::Ns => self.edge(s, id, EdgeKind::Delegates, Some(r)),
                        _ => {
                            // a neighbour in the network: its address joins the graph beside it
                            for ip in r.rdata.iter().filter_map(|x| x.ip(r.rrtype)) {
                                if let Some(a) = self.address(ip, depth, link_only) {
                                    self.edge(s, a, EdgeKind::Resolves, Some(r));
                                }
                            }
                        }
                    }
                }
            }
        }
        (before..self.nodes.len()).collect()
    }

    /// The share of the registered domains of `records` labelled malicious.
    fn malicious_share(&self, records: &[Record]) -> f64 {
        let domains: BTreeSet<String> = records.iter().map(|r| registered_domain(&r.rrname.to_string())).collect();
        if domains.is_empty() {
            return 0.0;
        }
        let bad = domains
            .iter()
            .filter_map(|d| Name::from_presentation(d).ok())
            .filter(|n| self.labels.name(n).is_some_and(|l| l.verdict == crate::labels::Verdict::Malicious))
            .count();
        bad as f64 / domains.len() as f64
    }

    /// Sets edge weights from infrastructure degrees and flags.
    fn weigh(&mut self) {
        let mut degree = vec![0usize; self.nodes.len()];
        for e in &self.edges {
            degree[e.target] += 1;
        }
        for e in &mut self.edges {
            let t = &self.nodes[e.target];
            let d = match t.kind {
                NodeKind::Domain => 1,
                NodeKind::Ip | NodeKind::Ns | NodeKind::Net => t.domains.max(degree[e.target]),
            };
            e.weak = t.kind != NodeKind::Domain && (t.shared.is_some() || (t.fanout_exceeded && !t.hostile));
            let factor = if e.weak { WEAK_FACTOR } else { 1.0 };
            e.weight = e.kind.base() * factor / (std::f64::consts::E + d as f64).ln();
        }
    }
}

/// Expands the graph around `seeds` (domains, hostnames, addresses), finds its communities and
/// scores them from `labels`.
pub fn cluster(
    store: &dyn Store,
    seeds: &[String],
    infra: &Infra,
    labels: &Labels,
    opts: &ClusterOptions,
) -> Result<ClusterReport, AnalyticsError> {
    let started = Instant::now();
    opts.window.validate()?;
    if seeds.is_empty() {
        return Err(AnalyticsError::Input("no seeds: give domains, hostnames or addresses".into()));
    }
    if opts.hops > MAX_HOPS {
        return Err(AnalyticsError::Input(format!("hops: at most {MAX_HOPS}, got {}", opts.hops)));
    }
    let parsed = seeds.iter().map(|s| parse_seed(s)).collect::<Result<Vec<_>, _>>()?;
    let mut g = Graph {
        infra,
        labels,
        nodes: Vec::new(),
        index: HashMap::new(),
        edges: Vec::new(),
        edge_index: HashMap::new(),
        max_nodes: opts.max_nodes.max(parsed.len()),
        full: false,
    };
    let mut frontier = Vec::new();
    for s in &parsed {
        let (kind, value) = match s {
            Seed::Domain(d) => (NodeKind::Domain, d.clone()),
            Seed::Ip(ip) => (NodeKind::Ip, ip.to_string()),
        };
        let made = match s {
            Seed::Ip(ip) => g.address(*ip, 0, false),
            Seed::Domain(_) => g.node(kind, &value, 0, false),
        };
        if let Some(i) = made {
            g.nodes[i].seed = true;
            if !frontier.contains(&i) {
                frontier.push(i);
            }
        }
    }
    let max_depth = opts.hops * 2;
    let mut scanned = 0u64;
    let mut notes = Vec::new();
    let mut budget_hit = false;
    let mut per_node_cut = 0usize;
    let mut queue: VecDeque<usize> = frontier.into();
    while !queue.is_empty() {
        // one BFS level at a time; the level's lookups run in parallel, results are merged
        // in discovery order
        let depth = queue.front().map_or(0, |&i| g.nodes[i].depth);
        let mut level = Vec::new();
        while queue.front().is_some_and(|&i| g.nodes[i].depth == depth) {
            if let Some(i) = queue.pop_front() {
                // shared infrastructure is not expanded (seeds are, since the analyst asked)
                let n = &g.nodes[i];
                if n.kind == NodeKind::Domain || n.shared.is_none() || n.seed {
                    level.push(i);
                }
            }
        }
        if scanned >= opts.limits.max_scanned {
            budget_hit = true;
            break;
        }
        let jobs: Vec<(NodeKind, String)> =
            level.iter().map(|&i| (g.nodes[i].kind, g.nodes[i].value.clone())).collect();
        let found = run_parallel(store, &jobs, opts);
        let link_only = depth >= max_depth;
        let mut hostile = Vec::new();
        for (&i, mut f) in level.iter().zip(found) {
            if let Some(e) = f.error.take() {
                return Err(e);
            }
            scanned += f.scanned;
            per_node_cut += usize::from(f.per_node_cut);
            g.nodes[i].expanded = true;
            if f.fanout_exceeded && g.nodes[i].shared.is_none() && g.malicious_share(&f.records) >= HOSTILE_SHARE {
                hostile.push(i);
            }
            for n in g.absorb(i, &f, link_only) {
                queue.push_back(n);
            }
        }
        // hostile neighbourhoods: read in full (up to per_node) what the fan-out cut short
        if !hostile.is_empty() && scanned < opts.limits.max_scanned {
            let jobs: Vec<(NodeKind, String)> =
                hostile.iter().map(|&i| (g.nodes[i].kind, g.nodes[i].value.clone())).collect();
            let wide = ClusterOptions { fanout: usize::MAX, ..*opts };
            for (&i, mut f) in hostile.iter().zip(run_parallel(store, &jobs, &wide)) {
                if let Some(e) = f.error.take() {
                    return Err(e);
                }
                scanned += f.scanned;
                per_node_cut += usize::from(f.per_node_cut);
                g.nodes[i].hostile = true;
                g.nodes[i].domains = f.domains;
                for n in g.absorb(i, &f, link_only) {
                    queue.push_back(n);
                }
            }
        }
    }
    if budget_hit {
        notes.push(format!("stopped expanding after reading {scanned} records (max_scanned)"));
    }
    if g.full {
        notes.push(format!("the graph reached {} nodes (max_nodes): further nodes were not added", g.max_nodes));
    }
    if per_node_cut > 0 {
        notes.push(format!(
            "{per_node_cut} nodes had more than {} records (per_node): the rest were not read",
            opts.per_node
        ));
    }
    let over: Vec<&str> = g.nodes.iter().filter(|n| n.fanout_exceeded).map(|n| n.value.as_str()).take(10).collect();
    if !over.is_empty() {
        notes.push(format!(
            "more than {} registered domains on {} (not expanded, links down-weighted)",
            opts.fanout,
            over.join(", ")
        ));
    }
    g.weigh();

    let weighted: Vec<(usize, usize, f64)> = g.edges.iter().map(|e| (e.source, e.target, e.weight)).collect();
    let (community, modularity) = louvain(g.nodes.len(), &weighted);
    score(&mut g.nodes, &weighted);
    let mut clusters = build_clusters(&mut g.nodes, &community);
    let mut limited = budget_hit || g.full || per_node_cut > 0;
    if clusters.len() > opts.limits.max_results {
        notes.push(format!(
            "{} clusters beyond the first {} left out",
            clusters.len() - opts.limits.max_results,
            opts.limits.max_results
        ));
        clusters.truncate(opts.limits.max_results);
        limited = true;
    }
    Ok(ClusterReport {
        seeds: seeds.to_vec(),
        window: opts.window,
        hops: opts.hops,
        nodes: g.nodes,
        edges: g.edges,
        clusters,
        modularity: (modularity * 1e4).round() / 1e4,
        scanned,
        elapsed_ms: started.elapsed().as_millis() as u64,
        limited,
        notes,
    })
}

/// Runs the lookups of a level over the machine's cores, results in job order.
fn run_parallel(store: &dyn Store, jobs: &[(NodeKind, String)], opts: &ClusterOptions) -> Vec<Found> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len()).max(1);
    if threads == 1 {
        return jobs.iter().map(|(k, v)| expand(store, *k, v, opts)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<Found>> = (0..jobs.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((k, v)) = jobs.get(i) else { break };
                    mine.push((i, expand(store, *k, v, opts)));
                }
                if let Ok(mut r) = results.lock() {
                    r.extend(mine);
                }
            });
        }
    });
    for (i, f) in results.into_inner().unwrap_or_default() {
        out[i] = Some(f);
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// Louvain community detection on an undirected weighted graph of `n` nodes; returns each
/// node's community (numbered from 0 in order of first member) and the partition's modularity.
pub fn louvain(n: usize, edges: &[(usize, usize, f64)]) -> (Vec<usize>, f64) {
    let mut assign: Vec<usize> = (0..n).collect();
    let mut level_edges: Vec<(usize, usize, f64)> = edges.iter().copied().filter(|e| e.2 > 0.0).collect();
    let mut size = n;
    for _ in 0..32 {
        let comm = one_level(size, &level_edges);
        let (renum, count) = renumber(&comm);
        for a in assign.iter_mut() {
            *a = renum[comm[*a]];
        }
        if count == size {
            break;
        }
        // aggregate: communities become nodes, edges between them summed
        let mut agg: HashMap<(usize, usize), f64> = HashMap::new();
        for &(a, b, w) in &level_edges {
            let (x, y) = (renum[comm[a]], renum[comm[b]]);
            *agg.entry((x.min(y), x.max(y))).or_default() += w;
        }
        let mut next: Vec<(usize, usize, f64)> = agg.into_iter().map(|((a, b), w)| (a, b, w)).collect();
        next.sort_by_key(|x| (x.0, x.1));
        level_edges = next;
        size = count;
    }
    let (renum, _) = renumber(&assign);
    let assign: Vec<usize> = assign.iter().map(|&c| renum[c]).collect();
    let q = modularity(&assign, edges);
    (assign, q)
}

/// Renumbers community ids densely in order of first appearance.
fn renumber(comm: &[usize]) -> (Vec<usize>, usize) {
    let mut map = vec![usize::MAX; comm.len().max(comm.iter().copied().max().map_or(0, |m| m + 1))];
    let mut next = 0;
    for &c in comm {
        if map[c] == usize::MAX {
            map[c] = next;
            next += 1;
        }
    }
    (map, next)
}

/// The local-moving phase: each node joins the neighbouring community with the best
/// modularity gain until no node moves.
fn one_level(n: usize, edges: &[(usize, usize, f64)]) -> Vec<usize> {
    let mut adj: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut k = vec![0.0f64; n];
    let mut m2 = 0.0;
    for &(a, b, w) in edges {
        if a == b {
            adj[a].push((a, w));
            k[a] += 2.0 * w;
        } else {
            adj[a].push((b, w));
            adj[b].push((a, w));
            k[a] += w;
            k[b] += w;
        }
        m2 += 2.0 * w;
    }
    let mut comm: Vec<usize> = (0..n).collect();
    if m2 <= 0.0 {
        return comm;
    }
    let mut tot = k.clone();
    let mut links: HashMap<usize, f64> = HashMap::new();
    for _ in 0..64 {
        let mut moved = false;
        for i in 0..n {
            let own = comm[i];
            links.clear();
            for &(j, w) in &adj[i] {
                if j != i {
                    *links.entry(comm[j]).or_default() += w;
                }
            }
            tot[own] -= k[i];
            let gain = |c: usize, w_ic: f64| w_ic - tot[c] * k[i] / m2;
            let mut best = own;
            let mut best_gain = gain(own, links.get(&own).copied().unwrap_or(0.0));
            let mut cands: Vec<(usize, f64)> = links.iter().map(|(&c, &w)| (c, w)).collect();
            cands.sort_by_key(|c| c.0);
            for (c, w) in cands {
                let g = gain(c, w);
                if g > best_gain + 1e-12 {
                    best = c;
                    best_gain = g;
                }
            }
            tot[best] += k[i];
            if best != own {
                comm[i] = best;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    comm
}

/// Modularity of a partition of a weighted undirected graph.
pub fn modularity(comm: &[usize], edges: &[(usize, usize, f64)]) -> f64 {
    let m2: f64 = edges.iter().map(|e| 2.0 * e.2).sum();
    if m2 <= 0.0 {
        return 0.0;
    }
    let c = comm.iter().copied().max().map_or(0, |m| m + 1);
    let (mut inside, mut tot) = (vec![0.0f64; c], vec![0.0f64; c]);
    for &(a, b, w) in edges {
        tot[comm[a]] += w;
        tot[comm[b]] += w;
        if comm[a] == comm[b] {
            inside[comm[a]] += 2.0 * w;
        }
    }
    (0..c).map(|i| inside[i] / m2 - (tot[i] / m2).powi(2)).sum()
}

/// Scores every node: labels where known, else the shrunk weighted mean of its neighbours.
fn score(nodes: &mut [Node], edges: &[(usize, usize, f64)]) {
    let n = nodes.len();
    let mut adj: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for &(a, b, w) in edges {
        adj[a].push((b, w));
        adj[b].push((a, w));
    }
    let fixed: Vec<Option<f64>> = nodes.iter().map(|nd| nd.label.as_ref().map(|l| l.verdict.score())).collect();
    let mut s: Vec<f64> = fixed.iter().map(|f| f.unwrap_or(0.0)).collect();
    for _ in 0..50 {
        let mut delta = 0.0f64;
        let prev = s.clone();
        for v in 0..n {
            if fixed[v].is_some() {
                continue;
            }
            let (num, den) = adj[v].iter().fold((0.0, 0.0), |(a, b), &(u, w)| (a + w * prev[u], b + w));
            let x = num / (den + PRIOR_WEIGHT);
            delta = delta.max((x - s[v]).abs());
            s[v] = x;
        }
        if delta < 1e-6 {
            break;
        }
    }
    for v in 0..n {
        nodes[v].score = (s[v] * 1e4).round() / 1e4;
        if fixed[v].is_none() {
            let mut c: Vec<Contribution> = adj[v]
                .iter()
                .filter(|&&(u, w)| w * s[u] > 0.0)
                .map(|&(u, w)| Contribution {
                    node: u,
                    value: nodes[u].value.clone(),
                    share: ((w * s[u]) * 1e4).round() / 1e4,
                })
                .collect();
            c.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.node.cmp(&b.node)));
            c.truncate(3);
            nodes[v].score_evidence = c;
        }
    }
}

/// Groups nodes by community, sorts clusters by score then size, and numbers them.
fn build_clusters(nodes: &mut [Node], community: &[usize]) -> Vec<Cluster> {
    let count = community.iter().copied().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &c) in community.iter().enumerate() {
        members[c].push(i);
    }
    let mut clusters: Vec<Cluster> = members
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|m| {
            let of = |k: NodeKind| -> Vec<usize> { m.iter().copied().filter(|&i| nodes[i].kind == k).collect() };
            let mut doms = of(NodeKind::Domain);
            doms.sort_by(|&a, &b| nodes[b].score.total_cmp(&nodes[a].score).then(nodes[a].value.cmp(&nodes[b].value)));
            let scored = if doms.is_empty() { &m } else { &doms };
            let score = scored.iter().map(|&i| nodes[i].score).sum::<f64>() / scored.len() as f64;
            let verdicts = |v: crate::labels::Verdict| {
                m.iter().filter(|&&i| nodes[i].label.as_ref().is_some_and(|l| l.verdict == v)).count()
            };
            Cluster {
                id: 0,
                domains: doms.iter().map(|&i| nodes[i].value.clone()).collect(),
                addresses: of(NodeKind::Ip).iter().map(|&i| nodes[i].value.clone()).collect(),
                nameservers: of(NodeKind::Ns).iter().map(|&i| nodes[i].value.clone()).collect(),
                score: (score * 1e4).round() / 1e4,
                malicious: verdicts(crate::labels::Verdict::Malicious),
                suspicious: verdicts(crate::labels::Verdict::Suspicious),
                benign: verdicts(crate::labels::Verdict::Benign),
                has_seed: m.iter().any(|&i| nodes[i].seed),
                members: m,
            }
        })
        .collect();
    clusters.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.members.len().cmp(&a.members.len()))
            .then(a.members.first().cmp(&b.members.first()))
    });
    for (id, c) in clusters.iter_mut().enumerate() {
        c.id = id;
        for &i in &c.members {
            nodes[i].cluster = id;
        }
    }
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Verdict;
    use crate::testutil::{put, store, D, JAN1};

    #[test]
    fn louvain_splits_two_cliques_joined_by_one_edge() {
        let mut e = Vec::new();
        for (a, b) in [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5)] {
            e.push((a, b, 1.0));
        }
        e.push((2, 3, 0.1));
        let (c, q) = louvain(6, &e);
        assert_eq!(c[0], c[1]);
        assert_eq!(c[1], c[2]);
        assert_eq!(c[3], c[4]);
        assert_eq!(c[4], c[5]);
        assert_ne!(c[0], c[3]);
        assert!(q > 0.4, "{q}");
        // the same input gives the same answer
        assert_eq!(louvain(6, &e), (c, q));
        // no edges: every node alone, modularity 0
        assert_eq!(louvain(3, &[]), (vec![0, 1, 2], 0.0));
    }

    #[test]
    fn modularity_of_one_community_is_zero() {
        let e = [(0, 1, 1.0), (1, 2, 1.0)];
        assert!(modularity(&[0, 0, 0], &e).abs() < 1e-12);
        assert!(modularity(&[0, 1, 2], &e) < 0.0);
    }

    /// A campaign (three domains on two bulletproof addresses and one name server), a benign
    /// pair on their own address, and a CDN address both use.
    fn world() -> (tempfile::TempDir, std::sync::Arc<dyn Store>) {
        let (dir, s) = store();
        let t = JAN1 + 10 * D;
        for (name, ip) in [
            ("www.bad-one.test", "198.51.100.10"),
            ("bad-two.test", "198.51.100.10"),
            ("bad-two.test", "198.51.100.11"),
            ("cdn.bad-three.test", "198.51.100.11"),
            ("www.good-a.example", "203.0.113.5"),
            ("good-b.example", "203.0.113.5"),
            ("static.bad-one.test", "192.0.2.80"),
            ("static.good-a.example", "192.0.2.80"),
        ] {
            put(&*s, name, "A", &[ip], t, t + D, "s1");
        }
        for d in ["bad-one.test", "bad-two.test", "bad-three.test"] {
            put(&*s, d, "NS", &["ns1.bulletproof.test"], t, t + D, "s1");
        }
        put(&*s, "login.bad-three.test", "CNAME", &["host.bad-four.test"], t, t + D, "s1");
        put(&*s, "host.bad-four.test", "A", &["198.51.100.12"], t, t + D, "s1");
        (dir, s)
    }

    fn infra() -> Infra {
        let mut i = Infra::empty();
        i.add_text("192.0.2.80 cdn:lab\n", "t").unwrap();
        i
    }

    #[test]
    fn expands_clusters_and_scores_from_labels() {
        let (_d, s) = world();
        let mut labels = Labels::empty();
        labels.add_text("bad-one.test malicious:feed\ngood-b.example benign:analyst\n", "l").unwrap();
        let opts = ClusterOptions::default();
        let r = cluster(&*s, &["www.bad-one.test".into()], &infra(), &labels, &opts).unwrap();
        let node =
            |v: &str| r.nodes.iter().find(|n| n.value == v).unwrap_or_else(|| panic!("{v} missing: {:#?}", r.nodes));
        // the campaign is found through the shared address, the name server and the CNAME
        for d in ["bad-one.test", "bad-two.test", "bad-three.test", "bad-four.test"] {
            assert_eq!(node(d).kind, NodeKind::Domain);
        }
        assert!(node("bad-one.test").seed);
        assert_eq!(node("ns1.bulletproof.test").kind, NodeKind::Ns);
        // the CDN address is in the graph but not expanded, so the benign side is not reached
        // through it except as a weak link
        let cdn = node("192.0.2.80");
        assert_eq!(cdn.shared.as_deref(), Some("cdn:lab"));
        assert!(!cdn.expanded);
        assert!(r.nodes.iter().all(|n| n.value != "good-b.example"), "{:#?}", r.nodes);
        let weak: Vec<&Edge> = r.edges.iter().filter(|e| e.target == cdn.id).collect();
        assert!(!weak.is_empty() && weak.iter().all(|e| e.weak && e.weight < 0.1));
        // scores: the labelled seed is 1, its strongly linked neighbours high
        assert_eq!(node("bad-one.test").score, 1.0);
        assert!(node("bad-two.test").score > 0.3, "{:#?}", node("bad-two.test"));
        assert!(!node("bad-two.test").score_evidence.is_empty());
        // one cluster holds the campaign and is scored first
        let c = &r.clusters[0];
        assert!(c.has_seed && c.malicious == 1, "{:#?}", r.clusters);
        assert!(c.domains.contains(&"bad-one.test".to_string()) && c.domains.contains(&"bad-two.test".to_string()));
        // every edge carries its records, except address-to-network (arithmetic, not a
        // sighting) and name-server-to-its-domain (the name says it)
        assert!(r
            .edges
            .iter()
            .filter(|e| !matches!(e.kind, EdgeKind::Network | EdgeKind::Names))
            .all(|e| !e.evidence.is_empty() && e.time_first.is_some()));
        assert!(r.nodes.iter().any(|n| n.kind == NodeKind::Net && n.value == "198.51.100.0/24"));
        assert!(!r.limited, "{:?}", r.notes);
    }

    #[test]
    fn fanout_and_bounds_are_reported() {
        let (_d, s) = store();
        let t = JAN1;
        for i in 0..12 {
            put(&*s, &format!("site{i}.test"), "A", &["203.0.113.99"], t, t, "s1");
        }
        put(&*s, "site0.test", "A", &["203.0.113.1"], t, t, "s1");
        let opts = ClusterOptions { fanout: 5, ..ClusterOptions::default() };
        let r = cluster(&*s, &["site0.test".into()], &Infra::empty(), &Labels::empty(), &opts).unwrap();
        let hub = r.nodes.iter().find(|n| n.value == "203.0.113.99").unwrap();
        assert!(hub.fanout_exceeded && hub.domains == 6, "{hub:#?}");
        assert_eq!(r.nodes.iter().filter(|n| n.kind == NodeKind::Domain).count(), 1, "{:#?}", r.nodes);
        assert!(r.notes.iter().any(|n| n.contains("203.0.113.99")), "{:?}", r.notes);
        // a small node cap stops the graph and says so
        let opts = ClusterOptions { max_nodes: 3, ..ClusterOptions::default() };
        let r = cluster(&*s, &["203.0.113.99".into()], &Infra::empty(), &Labels::empty(), &opts).unwrap();
        assert_eq!(r.nodes.len(), 3);
        assert!(r.limited && r.notes.iter().any(|n| n.contains("max_nodes")), "{:?}", r.notes);
        // bad input
        assert!(cluster(&*s, &[], &Infra::empty(), &Labels::empty(), &ClusterOptions::default()).is_err());
        assert!(
            cluster(&*s, &["bad..name".into()], &Infra::empty(), &Labels::empty(), &ClusterOptions::default()).is_err()
        );
        let opts = ClusterOptions { hops: 9, ..ClusterOptions::default() };
        assert!(cluster(&*s, &["site0.test".into()], &Infra::empty(), &Labels::empty(), &opts).is_err());
    }

    #[test]
    fn hops_bound_the_pivots() {
        let (_d, s) = store();
        // a chain: a.test -1- b.test -2- c.test -3- d.test, each link one shared address
        for (n, ips) in [
            ("a.test", ["192.0.2.1", "192.0.2.1"]),
            ("b.test", ["192.0.2.1", "198.51.100.2"]),
            ("c.test", ["198.51.100.2", "203.0.113.3"]),
            ("d.test", ["203.0.113.3", "203.0.113.3"]),
        ] {
            for ip in ips {
                put(&*s, n, "A", &[ip], JAN1, JAN1, "s1");
            }
        }
        let domains = |hops| {
            let opts = ClusterOptions { hops, ..ClusterOptions::default() };
            let r = cluster(&*s, &["a.test".into()], &Infra::empty(), &Labels::empty(), &opts).unwrap();
            r.nodes.iter().filter(|n| n.kind == NodeKind::Domain).map(|n| n.value.clone()).collect::<Vec<_>>()
        };
        assert_eq!(domains(1), ["a.test", "b.test"]);
        assert_eq!(domains(2), ["a.test", "b.test", "c.test"]);
        assert_eq!(domains(3), ["a.test", "b.test", "c.test", "d.test"]);
        let _ = Verdict::Benign;
    }

    #[test]
    fn address_nodes_are_enriched() {
        let (_d, s) = world();
        let dir = tempfile::tempdir().unwrap();
        let db = crate::enrich::testdb::make(dir.path(), "geolite2-asn", crate::enrich::testdb::NETS);
        let e = Enricher::open(Some(&db), None).unwrap();
        let mut r =
            cluster(&*s, &["bad-two.test".into()], &infra(), &Labels::empty(), &ClusterOptions::default()).unwrap();
        r.enrich(&e);
        let n = r.nodes.iter().find(|n| n.value == "198.51.100.10").unwrap();
        assert_eq!(n.info.asn, Some(64501), "{n:#?}");
        assert!(r.nodes.iter().filter(|n| n.kind == NodeKind::Domain).all(|n| n.info.is_empty()));
    }

    #[test]
    fn a_cluster_becomes_a_misp_event() {
        let (_d, s) = world();
        let mut labels = Labels::empty();
        labels.add_text("bad-one.test malicious:feed\n", "l").unwrap();
        let r = cluster(&*s, &["bad-one.test".into()], &infra(), &labels, &ClusterOptions::default()).unwrap();
        let id = r.main_cluster().unwrap();
        let ev = r.misp_event(id, 0.3, 1_700_000_000).unwrap();
        let e = &ev["Event"];
        assert!(e["info"].as_str().unwrap().contains("bad-one.test"), "{ev:#}");
        let attrs = e["Attribute"].as_array().unwrap();
        let dom = attrs.iter().find(|a| a["value"] == "bad-one.test").unwrap();
        assert_eq!(dom["type"], "domain");
        assert_eq!(dom["to_ids"], true);
        assert!(dom["comment"].as_str().unwrap().contains("labelled malicious by feed"), "{dom}");
        assert!(attrs.iter().any(|a| a["type"] == "ip-dst"));
        let objects = e["Object"].as_array().unwrap();
        assert!(!objects.is_empty() && objects.iter().all(|o| o["name"] == "passive-dns"));
        assert!(e["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"].as_str().unwrap().starts_with("dnsledger:cluster-score")));
        assert!(r.misp_event(9999, 0.3, 0).is_none());
    }
}

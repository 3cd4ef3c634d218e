//! Labels: what analysts and feeds already say about names and addresses (a blocklist, a MISP
//! export turned into a list, an analyst's marks), the ground truth the clustering scores from.
//!
//! Lists are text files in the format of [`crate::infra`]: one entry a line — a domain (which
//! covers every name below it), an address, an `IP/LEN` prefix or an `IP-IP` range — optionally
//! followed by `verdict:source`, where the verdict is `malicious`, `suspicious` or `benign` and
//! the source names the list (`malicious:abuse-feed`, `benign:analyst`). Lines without one take
//! the file's `# kind: verdict:source` header. A file that is JSON is read as a MISP event or
//! STIX 2.1 bundle instead (`crate::indicators`): each of its domains and addresses is labelled
//! malicious, with the file's name as source. Lookups are hashed (exact names and each parent
//! of a name; addresses per prefix length), so lists of millions of entries stay cheap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use dnsledger_model::Name;
use dnsledger_store::IpRange;
use serde::{Deserialize, Serialize};

use crate::AnalyticsError;

/// What a list says of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Known good (an allow list, an analyst's "benign").
    Benign,
    /// Worth a look (a grey list).
    Suspicious,
    /// Known bad (a blocklist).
    Malicious,
}

impl Verdict {
    /// Parses `malicious`, `suspicious` or `benign`.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s.to_ascii_lowercase().as_str() {
            "malicious" | "bad" => Some(Verdict::Malicious),
            "suspicious" => Some(Verdict::Suspicious),
            "benign" | "good" => Some(Verdict::Benign),
            _ => None,
        }
    }

    /// The maliciousness a verdict stands for in scores: 1, 0.5 or 0.
    pub fn score(self) -> f64 {
        match self {
            Verdict::Malicious => 1.0,
            Verdict::Suspicious => 0.5,
            Verdict::Benign => 0.0,
        }
    }
}

/// A verdict and the list it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The verdict.
    pub verdict: Verdict,
    /// The list (`abuse-feed`, `analyst`…) and the file it was read from.
    pub source: String,
    /// The entry that matched (a parent domain, a prefix).
    pub entry: String,
}

/// A set of labelled names and address ranges.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    names: HashMap<Name, Label>,
    /// Prefixes per (family is v6, prefix length), keyed by the masked address.
    prefixes: HashMap<(bool, u8), HashMap<u128, Label>>,
    /// Ranges that are not one prefix.
    ranges: Vec<(IpRange, Label)>,
    sources: Vec<String>,
}

fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u32::from(a) as u128),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn mask(v: u128, v6: bool, len: u8) -> u128 {
    let width = if v6 { 128 } else { 32 };
    if len == 0 {
        0
    } else {
        v & (u128::MAX << (width - len as u32)) & if v6 { u128::MAX } else { u32::MAX as u128 }
    }
}

/// The prefix `r` is, if it is one: (v6, length, masked start).
fn as_prefix(r: &IpRange) -> Option<(bool, u8, u128)> {
    let ((v6, s), (v6e, e)) = (bits(r.start), bits(r.end));
    if v6 != v6e {
        return None;
    }
    let width: u32 = if v6 { 128 } else { 32 };
    let span = e.checked_sub(s)?.checked_add(1);
    let host_bits = match span {
        None => 128, // the whole IPv6 space
        Some(n) if n.is_power_of_two() => n.trailing_zeros(),
        Some(_) => return None,
    };
    if host_bits > width || (host_bits < 128 && s & ((1u128 << host_bits) - 1) != 0) {
        return None;
    }
    Some((v6, (width - host_bits) as u8, s))
}

impl Labels {
    /// No labels.
    pub fn empty() -> Labels {
        Labels::default()
    }

    /// Adds the entries of a list file: a label list, or a MISP event or STIX 2.1 bundle (JSON)
    /// whose indicators are all labelled malicious with the file name as source.
    pub fn add_file(&mut self, path: &Path) -> Result<usize, AnalyticsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AnalyticsError::Input(format!("reading label list {}: {e}", path.display())))?;
        let origin = path.display().to_string();
        if text.trim_start().starts_with(['{', '[']) {
            let source: String = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "import".into())
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect();
            return self.add_indicators(&text, &origin, Verdict::Malicious, &source);
        }
        self.add_text(&text, &origin)
    }

    /// Labels every domain, address, prefix and range of a MISP event or STIX bundle with
    /// `verdict` from `source`; `*.zone` wildcards label the zone. Returns the entries read;
    /// items that are not indicators of names or addresses are skipped.
    pub fn add_indicators(
        &mut self,
        json: &str,
        origin: &str,
        verdict: Verdict,
        source: &str,
    ) -> Result<usize, AnalyticsError> {
        use crate::indicators::{self, Target};
        let (_, batch) =
            indicators::parse(json, None).map_err(|e| AnalyticsError::Input(format!("label list {origin}: {e}")))?;
        let mut n = 0;
        for ind in batch.indicators {
            let label = |entry: String| Label { verdict, source: source.to_string(), entry };
            match ind.target {
                Target::Domain(name) | Target::Below(name) => {
                    self.names.insert(name.clone(), label(name.to_string()));
                }
                Target::Ip(r) => match as_prefix(&r) {
                    Some((v6, len, start)) => {
                        self.prefixes.entry((v6, len)).or_default().insert(start, label(r.to_string()));
                    }
                    None => self.ranges.push((r, label(r.to_string()))),
                },
            }
            n += 1;
        }
        self.sources.push(format!("{origin} ({n} entries, {} unreadable)", batch.rejected_count));
        Ok(n)
    }

    /// Adds the entries of list text; `origin` names it in errors and [`Labels::sources`].
    /// Returns the number of entries read.
    pub fn add_text(&mut self, text: &str, origin: &str) -> Result<usize, AnalyticsError> {
        let mut default: Option<(Verdict, String)> = None;
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let bad = |why: String| AnalyticsError::Input(format!("{origin}:{}: {why}", i + 1));
            let line = line.trim();
            if let Some(c) = line.strip_prefix('#') {
                if let Some(k) = c.trim().strip_prefix("kind:") {
                    default = Some(parse_tag(k.trim()).map_err(bad)?);
                }
                continue;
            }
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let entry = parts.next().unwrap_or("");
            let (verdict, source) = match parts.next() {
                Some(t) => parse_tag(t).map_err(bad)?,
                None => default.clone().ok_or_else(|| bad("no verdict on the line and no `# kind:` header".into()))?,
            };
            if parts.next().is_some() {
                return Err(bad(format!("expected `ENTRY [verdict:source]`, got {line:?}")));
            }
            let label = Label { verdict, source, entry: entry.to_string() };
            if entry.starts_with(|c: char| c.is_ascii_hexdigit() || c == ':') && entry.contains(['.', ':']) {
                if let Ok(r) = IpRange::parse(entry) {
                    match as_prefix(&r) {
                        Some((v6, len, start)) => {
                            self.prefixes.entry((v6, len)).or_default().insert(start, label);
                        }
                        None => self.ranges.push((r, label)),
                    }
                    n += 1;
                    continue;
                }
            }
            let name = Name::from_presentation(entry).map_err(|e| bad(format!("{entry:?}: {e}")))?;
            self.names.insert(name, label);
            n += 1;
        }
        self.sources.push(format!("{origin} ({n} entries)"));
        Ok(n)
    }

    /// Labels one name (from a request or an analyst's mark).
    pub fn mark_name(&mut self, name: Name, verdict: Verdict, source: &str) {
        let entry = name.to_string();
        self.names.insert(name, Label { verdict, source: source.to_string(), entry });
    }

    /// The label of `name` or of its closest labelled parent.
    pub fn name(&self, name: &Name) -> Option<&Label> {
        if self.names.is_empty() {
            return None;
        }
        let mut cur = Some(name.clone());
        while let Some(n) = cur {
            if let Some(l) = self.names.get(&n) {
                return Some(l);
            }
            cur = n.parent();
        }
        None
    }

    /// The label of the most specific prefix (or the first range) containing `ip`.
    pub fn address(&self, ip: IpAddr) -> Option<&Label> {
        let (v6, v) = bits(ip);
        let width = if v6 { 128u8 } else { 32 };
        let found =
            (0..=width).rev().find_map(|len| self.prefixes.get(&(v6, len)).and_then(|m| m.get(&mask(v, v6, len))));
        found.or_else(|| self.ranges.iter().find(|(r, _)| r.contains(ip)).map(|(_, l)| l))
    }

    /// The lists loaded, with their entry counts.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.names.len() + self.prefixes.values().map(HashMap::len).sum::<usize>() + self.ranges.len()
    }

    /// True if nothing is labelled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn parse_tag(t: &str) -> Result<(Verdict, String), String> {
    let (v, src) = t.split_once(':').unwrap_or((t, ""));
    let verdict = Verdict::parse(v)
        .ok_or_else(|| format!("bad verdict {v:?} in {t:?}: expected malicious, suspicious or benign"))?;
    if src.is_empty() || !src.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) {
        return Err(format!("bad tag {t:?}: expected verdict:source (source of letters, digits, - _ . :)"));
    }
    Ok((verdict, src.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    #[test]
    fn names_cover_their_subtree_and_addresses_their_prefix() {
        let mut l = Labels::empty();
        let text = "# kind: malicious:feed\nevil.example\n198.51.100.0/24\n203.0.113.7 suspicious:mine\n\
                    good.example benign:analyst # comment\n2001:db8::/32\n192.0.2.10-192.0.2.12\n";
        assert_eq!(l.add_text(text, "list.txt").unwrap(), 6);
        assert_eq!(l.len(), 6);
        assert_eq!(l.name(&n("a.b.evil.example")).map(|x| x.verdict), Some(Verdict::Malicious));
        assert_eq!(l.name(&n("evil.example")).map(|x| x.entry.as_str()), Some("evil.example"));
        assert_eq!(
            l.name(&n("good.example")).map(|x| (x.verdict, x.source.as_str())),
            Some((Verdict::Benign, "analyst"))
        );
        assert!(l.name(&n("example")).is_none());
        let ip = |s: &str| l.address(s.parse().unwrap()).map(|x| x.verdict);
        assert_eq!(ip("198.51.100.200"), Some(Verdict::Malicious));
        assert_eq!(ip("198.51.101.1"), None);
        assert_eq!(ip("203.0.113.7"), Some(Verdict::Suspicious));
        assert_eq!(ip("203.0.113.8"), None);
        assert_eq!(ip("2001:db8:1::1"), Some(Verdict::Malicious));
        assert_eq!(ip("192.0.2.11"), Some(Verdict::Malicious));
        assert_eq!(ip("192.0.2.13"), None);
        assert_eq!(l.sources(), ["list.txt (6 entries)"]);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = Labels::empty().add_text("evil.example\n", "x.txt").unwrap_err().to_string();
        assert!(e.contains("x.txt:1") && e.contains("no verdict"), "{e}");
        let e = Labels::empty()
            .add_text("# kind: malicious:x\na.example\nb.example evil:x\n", "y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("y:3") && e.contains("bad verdict"), "{e}");
        assert!(Labels::empty().add_text("a.example malicious\n", "z").is_err());
        assert!(Labels::empty().add_text("a.example malicious:x extra\n", "z").is_err());
        assert!(Labels::empty().add_file(Path::new("/nonexistent/labels.txt")).is_err());
    }

    #[test]
    fn prefixes_are_recognised() {
        let p = |s: &str| as_prefix(&IpRange::parse(s).unwrap());
        assert_eq!(p("10.0.0.0/8").map(|x| x.1), Some(8));
        assert_eq!(p("10.0.0.1").map(|x| x.1), Some(32));
        assert_eq!(p("0.0.0.0/0").map(|x| x.1), Some(0));
        assert_eq!(p("::/0").map(|x| x.1), Some(0));
        assert_eq!(p("10.0.0.1-10.0.0.2"), None);
        assert_eq!(p("10.0.0.0-10.0.0.2"), None);
        let mut l = Labels::empty();
        l.add_text("0.0.0.0/0 suspicious:all\n", "a").unwrap();
        assert!(l.address("8.8.8.8".parse().unwrap()).is_some());
        assert!(l.address("2001:db8::1".parse().unwrap()).is_none());
        l.mark_name(n("x.example"), Verdict::Benign, "analyst");
        assert_eq!(l.name(&n("www.x.example")).map(|x| x.verdict), Some(Verdict::Benign));
    }

    #[test]
    fn misp_and_stix_files_label_their_indicators_malicious() {
        let dir = tempfile::tempdir().unwrap();
        let misp = dir.path().join("case-42.json");
        std::fs::write(
            &misp,
            r#"{"Event":{"info":"x","Attribute":[{"type":"domain","value":"evil.example"},{"type":"ip-dst","value":"198.51.100.7"},{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}]}}"#,
        )
        .unwrap();
        let mut l = Labels::empty();
        assert_eq!(l.add_file(&misp).unwrap(), 2);
        let d = l.name(&n("www.evil.example")).unwrap();
        assert_eq!((d.verdict, d.source.as_str()), (Verdict::Malicious, "case-42"));
        assert!(l.address("198.51.100.7".parse().unwrap()).is_some());
        let stix = dir.path().join("feed.json");
        std::fs::write(
            &stix,
            r#"{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'bad.example']","pattern_type":"stix"}]}"#,
        )
        .unwrap();
        assert_eq!(l.add_file(&stix).unwrap(), 1);
        assert!(l.name(&n("bad.example")).is_some());
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{ not json").unwrap();
        assert!(l.add_file(&broken).is_err());
    }
}

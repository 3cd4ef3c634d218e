//! Shared infrastructure: address ranges and domain suffixes where many unrelated domains meet
//! (CDNs, clouds, sinkholes, private space, dynamic-DNS services, parking name servers), so a
//! pivot through them is flagged as weak evidence instead of followed blindly.
//!
//! Lists are text files, one entry a line: an address, `IP/LEN` prefix or `IP-IP` range, or a
//! domain suffix, optionally followed by its tag `kind:label` (`cdn:cloudflare`,
//! `sinkhole:loopback`, `dyndns:dynu.com`). Lines without a tag take the file's
//! `# kind: kind:label` header line. `#` starts a comment. Every shipped file names its public
//! source and date in its header (`crates/analytics/data/`); users add their own files.

use std::net::IpAddr;
use std::path::Path;

use dnsledger_model::Name;
use dnsledger_store::IpRange;

use crate::AnalyticsError;

/// The lists shipped with dnsledger: (file name, contents). Only what the project states
/// itself (the IANA special-purpose ranges); provider lists are read at run time from the
/// system ([`Infra::system`]) or from the user's files, never copied into the source tree.
pub const BUILTIN: &[(&str, &str)] = &[("special-purpose.txt", include_str!("../data/special-purpose.txt"))];

/// Where Debian's `publicsuffix` package puts the Public Suffix List; its PRIVATE section names
/// the dynamic-DNS services that registered their suffixes.
pub const SYSTEM_PSL: &str = "/usr/share/publicsuffix/public_suffix_list.dat";

/// A set of shared-infrastructure ranges and suffixes.
#[derive(Debug, Clone, Default)]
pub struct Infra {
    ranges: Vec<(IpRange, String)>,
    suffixes: Vec<(Name, String)>,
    sources: Vec<String>,
}

impl Infra {
    /// An empty set.
    pub fn empty() -> Infra {
        Infra::default()
    }

    /// The lists shipped with dnsledger.
    pub fn builtin() -> Infra {
        let mut i = Infra::default();
        for (name, text) in BUILTIN {
            // the shipped files are checked by a unit test, so this cannot fail
            if let Err(e) = i.add_text(text, name) {
                debug_assert!(false, "{e}");
            }
        }
        i
    }

    /// Adds the entries of a list file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), AnalyticsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AnalyticsError::Input(format!("reading infrastructure list {}: {e}", path.display())))?;
        self.add_text(&text, &path.display().to_string())
    }

    /// The shipped lists, plus the dynamic-DNS suffixes of the system's Public Suffix List
    /// ([`SYSTEM_PSL`]) when it is installed.
    pub fn system() -> Infra {
        let mut i = Infra::builtin();
        if let Ok(text) = std::fs::read_to_string(SYSTEM_PSL) {
            i.add_psl_dyndns(&text, SYSTEM_PSL);
        }
        i
    }

    /// Adds the suffixes of the Public Suffix List's PRIVATE section whose block (the comment
    /// lines above a run of entries, naming the organisation) says it is a dynamic-DNS service,
    /// tagged `dyndns:<first suffix of the block>`; returns how many were added.
    pub fn add_psl_dyndns(&mut self, text: &str, origin: &str) -> usize {
        let mut private = false;
        let mut comment = String::new();
        let mut block_tag: Option<String> = None;
        let mut n = 0;
        for line in text.lines().map(str::trim) {
            if line.contains("===BEGIN PRIVATE DOMAINS===") {
                private = true;
            }
            if !private {
                continue;
            }
            if line.is_empty() {
                comment.clear();
                block_tag = None;
                continue;
            }
            if let Some(c) = line.strip_prefix("//") {
                if block_tag.is_some() {
                    comment.clear();
                    block_tag = None;
                }
                comment.push_str(&c.to_ascii_lowercase());
                comment.push(' ');
                continue;
            }
            let dynamic = ["dynamic dns", "dyndns", "ddns", "dynamic-dns"].iter().any(|k| comment.contains(k));
            if !dynamic {
                continue;
            }
            // `*.x` and `!x` entries stand for x
            let entry = line.trim_start_matches("*.").trim_start_matches('!');
            let Ok(name) = Name::from_presentation(entry) else { continue };
            let tag = block_tag
                .get_or_insert_with(|| {
                    let label: String = entry
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
                        .collect();
                    format!("dyndns:{label}")
                })
                .clone();
            self.suffixes.push((name, tag));
            n += 1;
        }
        self.sources.push(format!("{origin} (dynamic-DNS suffixes, {n} entries)"));
        n
    }

    /// Adds the entries of list text; `origin` names it in errors and [`Infra::sources`].
    pub fn add_text(&mut self, text: &str, origin: &str) -> Result<(), AnalyticsError> {
        let mut default_tag: Option<String> = None;
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let bad = |why: String| AnalyticsError::Input(format!("{origin}:{}: {why}", i + 1));
            let line = line.trim();
            if let Some(c) = line.strip_prefix('#') {
                if let Some(k) = c.trim().strip_prefix("kind:") {
                    let k = k.trim();
                    check_tag(k).map_err(bad)?;
                    default_tag = Some(k.to_string());
                }
                continue;
            }
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let entry = parts.next().unwrap_or("");
            let tag = match parts.next() {
                Some(t) => {
                    check_tag(t).map_err(bad)?;
                    t.to_string()
                }
                None => default_tag.clone().ok_or_else(|| bad("no tag on the line and no `# kind:` header".into()))?,
            };
            if parts.next().is_some() {
                return Err(bad(format!("expected `ENTRY [kind:label]`, got {line:?}")));
            }
            if entry.starts_with(|c: char| c.is_ascii_hexdigit() || c == ':') && entry.contains(['.', ':']) {
                if let Ok(r) = IpRange::parse(entry) {
                    self.ranges.push((r, tag));
                    n += 1;
                    continue;
                }
            }
            let name = Name::from_presentation(entry).map_err(|e| bad(format!("{entry:?}: {e}")))?;
            self.suffixes.push((name, tag));
            n += 1;
        }
        self.sources.push(format!("{origin} ({n} entries)"));
        Ok(())
    }

    /// The tag of the first range containing `ip`.
    pub fn address(&self, ip: IpAddr) -> Option<&str> {
        self.ranges.iter().find(|(r, _)| r.contains(ip)).map(|(_, t)| t.as_str())
    }

    /// The tag of the first suffix `name` is equal to or below.
    pub fn name(&self, name: &Name) -> Option<&str> {
        self.suffixes.iter().find(|(s, _)| name.is_subdomain_of(s)).map(|(_, t)| t.as_str())
    }

    /// The lists loaded, with their entry counts.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Number of ranges and suffixes.
    pub fn len(&self) -> usize {
        self.ranges.len() + self.suffixes.len()
    }

    /// True if nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn check_tag(t: &str) -> Result<(), String> {
    match t.split_once(':') {
        Some((k, l))
            if !k.is_empty()
                && !l.is_empty()
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(format!("bad tag {t:?}: expected kind:label (letters, digits, - _ . :)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_load_and_name_their_source() {
        for (name, text) in BUILTIN {
            assert!(text.lines().any(|l| l.starts_with("# source:")), "{name} names no source");
            assert!(text.lines().any(|l| l.starts_with("# date:")), "{name} has no date");
            let mut i = Infra::empty();
            i.add_text(text, name).unwrap();
            assert!(i.len() > 5, "{name}");
        }
        let i = Infra::builtin();
        assert_eq!(i.address("127.0.0.1".parse().unwrap()), Some("sinkhole:loopback"));
        assert_eq!(i.address("10.1.2.3".parse().unwrap()), Some("private:rfc1918"));
        assert_eq!(i.address("8.8.8.8".parse().unwrap()), None);
        assert_eq!(i.sources().len(), BUILTIN.len());
    }

    #[test]
    fn dynamic_dns_suffixes_come_from_the_psl_private_section() {
        // the shape of the list (sections, organisation comments, blocks), made up here
        let psl = "// ===BEGIN ICANN DOMAINS===\n// a dynamic dns registry in the ICANN part\nicann-dyn.test\n\
                   // ===END ICANN DOMAINS===\n// ===BEGIN PRIVATE DOMAINS===\n\n\
                   // Example Dynamic DNS : https://dyn.example\n// Submitted by someone\ndyn-a.test\n*.dyn-b.test\n\n\
                   // Plain Hosting Co\nhost.test\n\n// Other DDNS provider\nddns.test\n// ===END PRIVATE DOMAINS===\n";
        let mut i = Infra::empty();
        assert_eq!(i.add_psl_dyndns(psl, "psl"), 3);
        let n = |s: &str| Name::from_presentation(s).unwrap();
        assert_eq!(i.name(&n("home.dyn-a.test")), Some("dyndns:dyn-a.test"));
        assert_eq!(i.name(&n("x.y.dyn-b.test")), Some("dyndns:dyn-a.test"));
        assert_eq!(i.name(&n("box.ddns.test")), Some("dyndns:ddns.test"));
        assert_eq!(i.name(&n("www.host.test")), None);
        assert_eq!(i.name(&n("a.icann-dyn.test")), None);
        // on Debian with the publicsuffix package, the real list yields a few hundred
        if std::path::Path::new(SYSTEM_PSL).exists() {
            let s = Infra::system();
            assert!(s.len() > Infra::builtin().len() + 100, "{:?}", s.sources());
            assert!(s.name(&n("host.dyndns.org")).is_some_and(|t| t.starts_with("dyndns:")));
        }
    }

    #[test]
    fn user_lists() {
        let mut i = Infra::empty();
        i.add_text("# kind: parking:acme\nns1.parked.test\n198.18.0.0/15 sinkhole:lab # comment\n", "mine.txt")
            .unwrap();
        assert_eq!(i.address("198.19.0.1".parse().unwrap()), Some("sinkhole:lab"));
        assert_eq!(i.name(&Name::from_presentation("ns1.parked.test").unwrap()), Some("parking:acme"));
        let e = Infra::empty().add_text("203.0.113.0/24\n", "x.txt").unwrap_err().to_string();
        assert!(e.contains("x.txt:1") && e.contains("no tag"), "{e}");
        assert!(Infra::empty().add_text("1.2.3.0/24 cdn\n", "x").is_err());
        assert!(Infra::empty().add_text("1.2.3.0/24 cdn:a extra\n", "x").is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.txt");
        std::fs::write(&p, "2001:db8::/32 cloud:lab\n").unwrap();
        i.add_file(&p).unwrap();
        assert_eq!(i.address("2001:db8::5".parse().unwrap()), Some("cloud:lab"));
        assert!(Infra::empty().add_file(&dir.path().join("missing")).is_err());
    }
}

//! Watchlists as users write them: a name, entries (names, `*.zone` wildcards, addresses,
//! prefixes, ranges — each with an optional label), the alert kinds wanted and the sinks to
//! send them to; their JSON form (files and the API) and their validation.

use std::fmt;
use std::net::IpAddr;

use dnsledger_model::Name;
use dnsledger_store::{IpRange, NameMatch};
use serde::{Deserialize, Serialize};

use crate::WatchError;

/// Longest watchlist name.
pub const MAX_LIST_NAME: usize = 128;
/// Most entries one watchlist may hold.
pub const MAX_ENTRIES: usize = 1_000_000;

/// What an alert says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A watched name or address appears in a record the store never had before.
    FirstMatch,
    /// A watched owner name resolves to rdata it never had (for its type).
    NewResolution,
    /// A watched address (or an address in a watched prefix/range) gains a name never seen
    /// pointing there.
    IpNewName,
    /// An ATT&CK detection of a scheduled run (not asked for by lists: see
    /// [`crate::Watcher::raise_detections`]).
    Detection,
}

impl AlertKind {
    /// Every kind, the default of a watchlist.
    pub const ALL: [AlertKind; 3] = [AlertKind::FirstMatch, AlertKind::NewResolution, AlertKind::IpNewName];

    /// The kind's name (`first_match`, `new_resolution`, `ip_new_name`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::FirstMatch => "first_match",
            AlertKind::NewResolution => "new_resolution",
            AlertKind::IpNewName => "ip_new_name",
            AlertKind::Detection => "detection",
        }
    }

    /// Parses a kind's name (a kind a watchlist can ask for; not `detection`).
    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// Parses any alert's kind, `detection` included (for filtering alerts).
    pub fn parse_any(s: &str) -> Option<AlertKind> {
        AlertKind::parse(s).or((s.trim() == "detection").then_some(AlertKind::Detection))
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One watched item as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// `www.example.com` (exactly this name), `*.example.com` (every name below it), `192.0.2.1`,
    /// `192.0.2.0/24`, `192.0.2.10-192.0.2.20`, and the IPv6 forms.
    pub value: String,
    /// Free text carried into alerts (a case number, why it is watched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An entry understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Exactly this owner name (or rdata name).
    Name(Name),
    /// Every name strictly below this zone (`*.zone`).
    Below(Name),
    /// Addresses in this inclusive range (a single address, a prefix or a range).
    Addresses(IpRange),
}

impl Entry {
    /// Parses the value: an address form first (`IP`, `IP/len`, `IP,len`, `IP-IP`), else a
    /// name or `*.zone`. Right-hand wildcards (`www.example.*`) are refused: they cannot be
    /// matched by suffix.
    pub fn target(&self) -> Result<Target, String> {
        let v = self.value.trim();
        if v.is_empty() {
            return Err("empty entry".into());
        }
        if looks_like_address(v) {
            return IpRange::parse(v).map(Target::Addresses).map_err(|e| e.to_string());
        }
        match NameMatch::parse(v) {
            Ok(NameMatch::Exact(n)) => Ok(Target::Name(n)),
            Ok(NameMatch::Below(z)) => Ok(Target::Below(z)),
            Ok(NameMatch::Starting(_)) => {
                Err(format!("{v:?}: right-hand wildcards are not supported in watchlists (use *.zone or a name)"))
            }
            Err(e) => Err(format!("{v:?}: {e}")),
        }
    }
}

/// True if `v` is written as an address form rather than a name: it has a colon (IPv6), or
/// it starts with a digit and everything before a `/`, `,` or `-` parses as an address.
fn looks_like_address(v: &str) -> bool {
    if v.contains(':') {
        return true;
    }
    let head = v.split(['/', ',', '-']).next().unwrap_or(v).trim();
    head.parse::<IpAddr>().is_ok()
}

/// A watchlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watchlist {
    /// Its name (the file name without `.json`); 1 to 128 of `A-Z a-z 0-9 . _ -`, no leading
    /// dot. May be left out of a file or a PUT body (taken from the file name or the URL).
    #[serde(default)]
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Alert kinds wanted (default: all three).
    #[serde(default = "all_kinds")]
    pub kinds: Vec<AlertKind>,
    /// Names of configured sinks (`[[analytics.watch_sink]]`) that receive its alerts, beside
    /// the alerts journal every alert goes to.
    #[serde(default)]
    pub sinks: Vec<String>,
    /// What is watched.
    #[serde(default)]
    pub entries: Vec<Entry>,
}

fn all_kinds() -> Vec<AlertKind> {
    AlertKind::ALL.to_vec()
}

impl Watchlist {
    /// An empty watchlist wanting every kind.
    pub fn new(name: &str) -> Watchlist {
        Watchlist {
            name: name.to_string(),
            description: None,
            kinds: all_kinds(),
            sinks: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Parses the JSON form; `name` fills in a missing name and must equal a given one.
    pub fn from_json(text: &[u8], name: &str) -> Result<Watchlist, WatchError> {
        let mut w: Watchlist = serde_json::from_slice(text)
            .map_err(|e| WatchError::Invalid(format!("watchlist {name:?}: not a watchlist document: {e}")))?;
        if w.name.is_empty() {
            w.name = name.to_string();
        } else if w.name != name {
            return Err(WatchError::Invalid(format!(
                "watchlist {name:?}: the document names itself {:?}; the names must agree",
                w.name
            )));
        }
        Ok(w)
    }

    /// The JSON form (pretty, as files are written).
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Checks the name, every entry, the kinds, and that every sink is one of `sinks_known`.
    /// All problems are reported at once.
    pub fn validate(&self, sinks_known: &[String]) -> Result<(), WatchError> {
        let mut problems = Vec::new();
        if !valid_list_name(&self.name) {
            problems.push(format!(
                "name {:?}: use 1 to {MAX_LIST_NAME} of A-Z a-z 0-9 . _ - (no leading dot, no \"..\")",
                self.name
            ));
        }
        if self.entries.len() > MAX_ENTRIES {
            problems.push(format!("{} entries: at most {MAX_ENTRIES}", self.entries.len()));
        }
        let mut bad = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if let Err(m) = e.target() {
                bad += 1;
                if bad <= 20 {
                    problems.push(format!("entry {}: {m}", i + 1));
                }
            }
        }
        if bad > 20 {
            problems.push(format!("... {} more bad entries", bad - 20));
        }
        if self.kinds.is_empty() {
            problems.push("kinds is empty: name at least one of first_match, new_resolution, ip_new_name".into());
        }
        for s in &self.sinks {
            if !sinks_known.iter().any(|k| k == s) {
                let known =
                    if sinks_known.is_empty() { "none are configured".to_string() } else { sinks_known.join(", ") };
                problems.push(format!("sink {s:?} is not configured ([[analytics.watch_sink]]: {known})"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WatchError::Invalid(format!("watchlist {:?}: {}", self.name, problems.join("; "))))
        }
    }

    /// True if the list wants alerts of `kind`.
    pub fn wants(&self, kind: AlertKind) -> bool {
        self.kinds.contains(&kind)
    }
}

/// True if `name` may name a watchlist (and its file): 1 to 128 of `A-Z a-z 0-9 . _ -`, no
/// leading dot, no `..`.
pub fn valid_list_name(name: &str) -> bool {
    (1..=MAX_LIST_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with('.')
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &str) -> Entry {
        Entry { value: v.into(), label: None }
    }

    #[test]
    fn entries_are_names_wildcards_or_addresses() {
        let n = |s: &str| Name::from_presentation(s).unwrap();
        assert_eq!(e("WWW.Example.com.").target(), Ok(Target::Name(n("www.example.com"))));
        assert_eq!(e("*.example.com").target(), Ok(Target::Below(n("example.com"))));
        assert_eq!(e("123.example").target(), Ok(Target::Name(n("123.example"))));
        let r = |s: &str| Target::Addresses(IpRange::parse(s).unwrap());
        assert_eq!(e("192.0.2.1").target(), Ok(r("192.0.2.1")));
        assert_eq!(e("192.0.2.0/24").target(), Ok(r("192.0.2.0/24")));
        assert_eq!(e("192.0.2.10-192.0.2.20").target(), Ok(r("192.0.2.10-192.0.2.20")));
        assert_eq!(e("2001:db8::/32").target(), Ok(r("2001:db8::/32")));
        for bad in ["", "www.example.*", "192.0.2.0/33", "192.0.2.9-192.0.2.1", "2001:db8::/129", "a..b", "1.2.3.4-::1"]
        {
            assert!(e(bad).target().is_err(), "{bad}");
        }
    }

    #[test]
    fn documents_parse_with_defaults_and_names_must_agree() {
        let w = Watchlist::from_json(br#"{"entries":[{"value":"example.com","label":"case 1"}]}"#, "l1").unwrap();
        assert_eq!(w.name, "l1");
        assert_eq!(w.kinds, AlertKind::ALL.to_vec());
        assert_eq!(w.entries[0].label.as_deref(), Some("case 1"));
        assert!(Watchlist::from_json(br#"{"name":"other"}"#, "l1").is_err());
        assert!(Watchlist::from_json(br#"{"entries":[],"colour":1}"#, "l1").is_err(), "unknown fields refused");
        assert!(Watchlist::from_json(br#"{"kinds":["first_match","bogus"]}"#, "l1").is_err());
        let back = Watchlist::from_json(&w.to_json(), "l1").unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut w = Watchlist::new("../x");
        w.entries = vec![e("ok.example"), e("www.example.*"), e("10.0.0.0/40")];
        w.kinds.clear();
        w.sinks = vec!["hook".into(), "nope".into()];
        let msg = w.validate(&["hook".to_string()]).unwrap_err().to_string();
        for part in ["name", "entry 2", "entry 3", "kinds is empty", "\"nope\" is not configured"] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
        assert!(!msg.contains("\"hook\""), "{msg}");
        let mut ok = Watchlist::new("good-list_1.v2");
        ok.entries = vec![e("*.example.net"), e("198.51.100.0/24")];
        ok.validate(&[]).unwrap();
        for bad in ["", ".x", "a/b", "a..b", &"x".repeat(129)] {
            assert!(!valid_list_name(bad), "{bad}");
        }
    }
}

//! `dnsledger watch`: watchlists and their alerts, in a local watch directory or on a running
//! server (`--server URL --key K`), and the watcher `serve` and `import --watch` put around
//! their store (`dnsledger_watch`).
//!
//! Where lists live: `[analytics] watch_dir`, else `watchlists/` inside the embedded store's
//! data directory; a ClickHouse store has no data directory, so `watch_dir` must be set.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use dnsledger_watch::{AlertFilter, AlertKind, Entry, WatchDir, WatchSettings, Watcher, Watchlist};
use serde_json::{json, Value};

use crate::backend::{StoreArgs, Target};
use crate::config::{AnalyticsSection, Config};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
ENTRIES:
  www.example.com      exactly this name (as owner, or inside rdata: CNAME/NS/MX/SRV/... targets)
  *.example.com        every name below example.com (not example.com itself: add both to watch both)
  192.0.2.1  192.0.2.0/24  192.0.2.10-192.0.2.20  2001:db8::/32   addresses of A/AAAA records

ALERT KINDS (--kind, default all):
  first_match      a watched name/address appears in a record never stored before
  new_resolution   a watched owner name gets rdata it never had (for that type)
  ip_new_name      a watched address/prefix/range gains a name never seen pointing there

EXAMPLES:
  dnsledger watch add campaign-7 '*.example.com' 192.0.2.0/24 --label 'case 7' --sink soc-hook
  dnsledger watch add campaign-7 --file indicators.txt       # one entry per line, optional label after a space
  dnsledger watch list
  dnsledger watch alerts --since 1d --watchlist campaign-7
  dnsledger watch remove campaign-7 192.0.2.0/24               # one entry; without entries the whole list
  dnsledger watch --server http://127.0.0.1:8053 --key \"$KEY\" list

A running server reads the directory again on SIGHUP; through --server, changes apply at once.")]
pub struct WatchArgs {
    #[command(subcommand)]
    cmd: WatchCmd,

    /// Work on a running `dnsledger serve` at this URL instead of the local watch directory.
    #[arg(long, global = true, value_name = "URL", env = "DNSLEDGER_SERVER")]
    server: Option<String>,

    /// API key for --server (changes need an admin key when the server has keys).
    #[arg(long, global = true, value_name = "KEY", env = "DNSLEDGER_API_KEY", hide_env_values = true)]
    key: Option<String>,

    /// PEM file of extra CA certificates to trust for an https:// --server (a private CA or a
    /// self-signed server), beside the system's.
    #[arg(long, value_name = "FILE", env = "DNSLEDGER_CA_FILE", global = true)]
    ca_file: Option<std::path::PathBuf>,

    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,

    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand, Debug)]
enum WatchCmd {
    /// The watchlists, with their entry counts.
    List,
    /// One watchlist, every entry.
    Show {
        /// The list.
        name: String,
    },
    /// Add entries to a watchlist (created if missing), or set its kinds, sinks, description.
    Add {
        /// The list.
        name: String,
        /// Entries to add (see ENTRIES).
        entries: Vec<String>,
        /// Read entries from a file (`-`: stdin): one per line, an optional label after the
        /// first space; `#` comments.
        #[arg(long, value_name = "FILE")]
        file: Option<String>,
        /// Label of the entries added on the command line.
        #[arg(long)]
        label: Option<String>,
        /// Alert kinds the list wants (repeatable; replaces the list's kinds).
        #[arg(long, value_name = "KIND", value_parser = parse_kind)]
        kind: Vec<AlertKind>,
        /// Sinks the list sends to (repeatable; names of [[analytics.watch_sink]]; replaces the list's sinks).
        #[arg(long, value_name = "NAME")]
        sink: Vec<String>,
        /// The list's description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove entries from a watchlist, or the whole list when no entry is given.
    Remove {
        /// The list.
        name: String,
        /// Entries to remove (as written when added).
        entries: Vec<String>,
    },
    /// Alerts raised, oldest first.
    Alerts {
        /// Raised at or after this time (epoch seconds, -SECONDS, a duration ago like 1d, RFC 3339, YYYY-MM-DD).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        since: Option<String>,
        /// Only this list's.
        #[arg(long, value_name = "NAME")]
        watchlist: Option<String>,
        /// Only these kinds (first_match, new_resolution, ip_new_name, detection; repeat or comma-separate).
        #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = parse_any_kind)]
        kind: Vec<AlertKind>,
        /// The newest this many.
        #[arg(short = 'l', long, default_value_t = 100)]
        limit: usize,
    },
}

fn parse_any_kind(s: &str) -> Result<AlertKind, String> {
    AlertKind::parse_any(s)
        .ok_or_else(|| format!("unknown alert kind {s:?}: first_match, new_resolution, ip_new_name or detection"))
}

fn parse_kind(s: &str) -> Result<AlertKind, String> {
    AlertKind::parse(s).ok_or_else(|| format!("unknown alert kind {s:?}: first_match, new_resolution or ip_new_name"))
}

/// The watch directory for this configuration and store, if there is one.
pub fn watch_dir(a: &AnalyticsSection, target: &Target) -> Option<PathBuf> {
    a.watch_dir.clone().or_else(|| match target {
        Target::RocksDb(dir) => Some(dir.join("watchlists")),
        Target::ClickHouse(_) => None,
    })
}

/// The configured sink names.
fn sink_names(a: &AnalyticsSection) -> Vec<String> {
    a.watch_sink.iter().flatten().map(|s| s.name().to_string()).collect()
}

/// Problems of the watch settings, for `config check`.
pub fn check_config(a: &AnalyticsSection) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in a.watch_sink.iter().flatten() {
        if let Err(e) = s.check() {
            errors.push(format!("[[analytics.watch_sink]] {e}"));
        }
        if !seen.insert(s.name().to_string()) {
            errors.push(format!("[[analytics.watch_sink]] name {:?} is used twice", s.name()));
        }
    }
    if a.watch_recent_alerts == Some(0) {
        errors.push("[analytics] watch_recent_alerts must be at least 1".into());
    }
    errors
}

/// Starts the watcher of `serve` / `import --watch`: `None` when there is no watch directory
/// (ClickHouse without `watch_dir`).
pub fn open_watcher(file: &Config, target: &Target) -> anyhow::Result<Option<Arc<Watcher>>> {
    let Some(dir) = watch_dir(&file.analytics, target) else { return Ok(None) };
    let errors = check_config(&file.analytics);
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    let settings = WatchSettings {
        dir: dir.clone(),
        journal: file.analytics.watch_alerts_file.clone(),
        sinks: file.analytics.watch_sink.clone().unwrap_or_default(),
        ring: file.analytics.watch_recent_alerts,
    };
    let w = Watcher::open(settings).with_context(|| format!("watchlists in {}", dir.display()))?;
    Ok(Some(w))
}

/// Runs `dnsledger watch`.
pub fn run(a: WatchArgs) -> anyhow::Result<ExitCode> {
    match &a.server {
        Some(url) => remote(&a, url),
        None => local(&a),
    }
}

/// Entries from a file: one per line, optional label after the first whitespace.
fn entries_from(path: &str) -> anyhow::Result<Vec<Entry>> {
    let mut text = String::new();
    if path == "-" {
        std::io::stdin().read_to_string(&mut text).context("reading entries from stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("reading entries from {path}"))?;
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (value, label) = match l.split_once(char::is_whitespace) {
            Some((v, rest)) => (v, Some(rest.trim().to_string()).filter(|s| !s.is_empty())),
            None => (l, None),
        };
        out.push(Entry { value: value.to_string(), label });
    }
    Ok(out)
}

/// Applies an `add` to `list`; returns how many entries were new.
fn apply_add(list: &mut Watchlist, cmd: &WatchCmd) -> anyhow::Result<usize> {
    let WatchCmd::Add { entries, file, label, kind, sink, description, .. } = cmd else { return Ok(0) };
    let mut adding: Vec<Entry> = entries.iter().map(|v| Entry { value: v.clone(), label: label.clone() }).collect();
    if let Some(f) = file {
        adding.extend(entries_from(f)?);
    }
    let mut added = 0;
    for e in adding {
        e.target().map_err(|m| anyhow::anyhow!("entry {:?}: {m}", e.value))?;
        match list.entries.iter_mut().find(|x| x.value == e.value) {
            Some(x) => x.label = e.label.or(x.label.take()),
            None => {
                list.entries.push(e);
                added += 1;
            }
        }
    }
    if !kind.is_empty() {
        list.kinds = kind.clone();
    }
    if !sink.is_empty() {
        list.sinks = sink.clone();
    }
    if description.is_some() {
        list.description = description.clone();
    }
    Ok(added)
}

fn local(a: &WatchArgs) -> anyhow::Result<ExitCode> {
    let file = a.store.load_config()?;
    let target = a.store.target(&file)?;
    let Some(dir) = watch_dir(&file.analytics, &target) else {
        bail!("no watch directory: set [analytics] watch_dir (a ClickHouse store has no data directory to default to)");
    };
    let d = WatchDir::new(&dir);
    let sinks = sink_names(&file.analytics);
    match &a.cmd {
        WatchCmd::List => {
            let (lists, errors) = d.load_all(&sinks)?;
            let rows: Vec<Value> = lists
                .iter()
                .map(|l| json!({"name": l.name, "entries": l.entries.len(), "kinds": l.kinds, "sinks": l.sinks, "description": l.description}))
                .collect();
            print_lists(a.json, &json!({ "watchlists": rows, "errors": errors }));
        }
        WatchCmd::Show { name } => match d.read(name, &sinks)? {
            Some(l) => print_list(a.json, &serde_json::to_value(&l)?),
            None => bail!("no watchlist {name:?} in {}", dir.display()),
        },
        cmd @ WatchCmd::Add { name, .. } => {
            let mut list = d.read(name, &sinks)?.unwrap_or_else(|| Watchlist::new(name));
            let added = apply_add(&mut list, cmd)?;
            list.validate(&sinks)?;
            d.write(&list)?;
            eprintln!(
                "{name}: {added} entr{} added, {} in all ({}); a running server reads it on SIGHUP",
                if added == 1 { "y" } else { "ies" },
                list.entries.len(),
                d.file(name).display()
            );
        }
        WatchCmd::Remove { name, entries } => {
            if entries.is_empty() {
                if !d.remove(name)? {
                    bail!("no watchlist {name:?} in {}", dir.display());
                }
                eprintln!("{name}: removed");
            } else {
                let Some(mut list) = d.read(name, &sinks)? else { bail!("no watchlist {name:?} in {}", dir.display()) };
                let before = list.entries.len();
                list.entries.retain(|e| !entries.contains(&e.value));
                d.write(&list)?;
                eprintln!("{name}: {} entries removed, {} left", before - list.entries.len(), list.entries.len());
            }
        }
        WatchCmd::Alerts { since, watchlist, kind, limit } => {
            let since = since
                .as_deref()
                .map(|s| dnsledger_model::time::parse_time(s, dnsledger_model::time::now()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
            let journal = file.analytics.watch_alerts_file.clone().unwrap_or_else(|| dir.join("alerts.ndjson"));
            let f = AlertFilter { since, watchlist: watchlist.clone(), kinds: kind.clone(), limit: (*limit).max(1) };
            let page = dnsledger_watch::alert::read_journal(&journal, &f)?;
            print_alerts(a.json, &serde_json::to_value(&page)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One request to the server; returns the status and the JSON answer.
fn call(a: &WatchArgs, base: &str, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let agent = crate::https::agent(a.ca_file.as_deref())?;
    let key = a.key.as_deref();
    let resp = match (method, body) {
        ("PUT", Some(b)) => {
            let mut r = agent.put(&url).header("Content-Type", "application/json");
            if let Some(k) = key {
                r = r.header("X-API-Key", k);
            }
            r.send(serde_json::to_vec(b)?.as_slice())
        }
        ("DELETE", _) => {
            let mut r = agent.delete(&url);
            if let Some(k) = key {
                r = r.header("X-API-Key", k);
            }
            r.call()
        }
        _ => {
            let mut r = agent.get(&url);
            if let Some(k) = key {
                r = r.header("X-API-Key", k);
            }
            r.call()
        }
    };
    let mut resp = resp.map_err(crate::https::failed(&url))?;
    let status = resp.status().as_u16();
    let text =
        resp.body_mut().with_config().limit(1 << 30).read_to_string().with_context(|| format!("reading {url}"))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("server answered {status} with non-JSON"))?;
    Ok((status, doc))
}

fn server_error(status: u16, doc: &Value) -> anyhow::Error {
    anyhow::anyhow!("server answered {status}: {}", doc.get("error").and_then(Value::as_str).unwrap_or("?"))
}

fn enc(s: &str) -> String {
    crate::query::encode_segment(s)
}

fn remote(a: &WatchArgs, base: &str) -> anyhow::Result<ExitCode> {
    let ok = |(status, doc): (u16, Value)| -> anyhow::Result<Value> {
        if (200..300).contains(&status) {
            Ok(doc)
        } else {
            Err(server_error(status, &doc))
        }
    };
    match &a.cmd {
        WatchCmd::List => print_lists(a.json, &ok(call(a, base, "GET", "/api/v1/watchlists", None)?)?),
        WatchCmd::Show { name } => {
            print_list(a.json, &ok(call(a, base, "GET", &format!("/api/v1/watchlists/{}", enc(name)), None)?)?)
        }
        cmd @ WatchCmd::Add { name, .. } => {
            let path = format!("/api/v1/watchlists/{}", enc(name));
            let (status, doc) = call(a, base, "GET", &path, None)?;
            let mut list = match status {
                200 => serde_json::from_value::<Watchlist>(doc).context("the server's watchlist")?,
                404 => Watchlist::new(name),
                s => return Err(server_error(s, &doc)),
            };
            let added = apply_add(&mut list, cmd)?;
            let total = list.entries.len();
            ok(call(a, base, "PUT", &path, Some(&serde_json::to_value(&list)?))?)?;
            eprintln!(
                "{name}: {added} entr{} added, {total} in all (in force now)",
                if added == 1 { "y" } else { "ies" }
            );
        }
        WatchCmd::Remove { name, entries } => {
            let path = format!("/api/v1/watchlists/{}", enc(name));
            if entries.is_empty() {
                ok(call(a, base, "DELETE", &path, None)?)?;
                eprintln!("{name}: removed");
            } else {
                let mut list: Watchlist = serde_json::from_value(ok(call(a, base, "GET", &path, None)?)?)?;
                let before = list.entries.len();
                list.entries.retain(|e| !entries.contains(&e.value));
                ok(call(a, base, "PUT", &path, Some(&serde_json::to_value(&list)?))?)?;
                eprintln!("{name}: {} entries removed, {} left", before - list.entries.len(), list.entries.len());
            }
        }
        WatchCmd::Alerts { since, watchlist, kind, limit } => {
            let mut q = vec![format!("limit={}", (*limit).max(1))];
            if let Some(s) = since {
                q.push(format!("since={}", enc(s)));
            }
            if let Some(w) = watchlist {
                q.push(format!("watchlist={}", enc(w)));
            }
            if !kind.is_empty() {
                q.push(format!("kind={}", kind.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")));
            }
            let doc = ok(call(a, base, "GET", &format!("/api/v1/alerts?{}", q.join("&")), None)?)?;
            print_alerts(a.json, &doc);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn print_lists(json: bool, doc: &Value) {
    if json {
        return print_json(doc);
    }
    println!("{:<32} {:>8}  {:<40} sinks", "watchlist", "entries", "kinds");
    for l in doc["watchlists"].as_array().into_iter().flatten() {
        let join =
            |k: &str| l[k].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(",");
        println!(
            "{:<32} {:>8}  {:<40} {}",
            l["name"].as_str().unwrap_or("?"),
            l["entries"].as_u64().unwrap_or(0),
            join("kinds"),
            join("sinks")
        );
    }
    for e in doc["errors"].as_array().into_iter().flatten() {
        eprintln!("not loaded: {}: {}", e["file"].as_str().unwrap_or("?"), e["error"].as_str().unwrap_or("?"));
    }
}

fn print_list(json: bool, l: &Value) {
    if json {
        return print_json(l);
    }
    println!("watchlist   {}", l["name"].as_str().unwrap_or("?"));
    if let Some(d) = l["description"].as_str() {
        println!("description {d}");
    }
    println!("kinds       {}", l["kinds"]);
    println!("sinks       {}", l["sinks"]);
    for e in l["entries"].as_array().into_iter().flatten() {
        println!("  {:<48} {}", e["value"].as_str().unwrap_or("?"), e["label"].as_str().unwrap_or(""));
    }
}

fn print_alerts(json: bool, doc: &Value) {
    if json {
        return print_json(doc);
    }
    println!("{:<20} {:<20} {:<15} {:<32} record", "raised", "watchlist", "kind", "entry");
    for a in doc["alerts"].as_array().into_iter().flatten() {
        let r = &a["record"];
        let rdata: Vec<&str> = r["rdata"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!(
            "{:<20} {:<20} {:<15} {:<32} {} {} {}",
            a["raised"].as_u64().map(dnsledger_model::time::format_rfc3339).unwrap_or_default(),
            a["watchlist"].as_str().unwrap_or("?"),
            a["kind"].as_str().unwrap_or("?"),
            a["entry"].as_str().unwrap_or("?"),
            r["rrname"].as_str().unwrap_or("?"),
            r["rrtype"].as_str().unwrap_or("?"),
            rdata.join(" ")
        );
    }
    if doc["limited"].as_bool() == Some(true) {
        eprintln!("(more alerts matched; older ones left out: raise --limit or narrow --since)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_merges_entries_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("e.txt");
        std::fs::write(
            &f,
            "# indicators\n*.example.net  from report 12\n198.51.100.0/24\n\nwww.example.com relabelled\n",
        )
        .unwrap();
        let mut l = Watchlist::new("x");
        l.entries.push(Entry { value: "www.example.com".into(), label: Some("old".into()) });
        let cmd = WatchCmd::Add {
            name: "x".into(),
            entries: vec!["192.0.2.1".into()],
            file: Some(f.display().to_string()),
            label: Some("cli".into()),
            kind: vec![AlertKind::IpNewName],
            sink: vec![],
            description: Some("d".into()),
        };
        assert_eq!(apply_add(&mut l, &cmd).unwrap(), 3);
        let v: Vec<(&str, Option<&str>)> = l.entries.iter().map(|e| (e.value.as_str(), e.label.as_deref())).collect();
        assert_eq!(
            v,
            vec![
                ("www.example.com", Some("relabelled")),
                ("192.0.2.1", Some("cli")),
                ("*.example.net", Some("from report 12")),
                ("198.51.100.0/24", None),
            ]
        );
        assert_eq!(l.kinds, vec![AlertKind::IpNewName]);
        assert_eq!(l.description.as_deref(), Some("d"));
        let bad = WatchCmd::Add {
            name: "x".into(),
            entries: vec!["www.example.*".into()],
            file: None,
            label: None,
            kind: vec![],
            sink: vec![],
            description: None,
        };
        assert!(apply_add(&mut l, &bad).is_err());
    }

    #[test]
    fn the_directory_defaults_to_the_data_dir() {
        let a = AnalyticsSection::default();
        assert_eq!(watch_dir(&a, &Target::RocksDb("/srv/d".into())), Some(PathBuf::from("/srv/d/watchlists")));
        let set = AnalyticsSection { watch_dir: Some("/etc/w".into()), ..Default::default() };
        assert_eq!(watch_dir(&set, &Target::RocksDb("/srv/d".into())), Some(PathBuf::from("/etc/w")));
    }
}

//! `dnsledger key`: create, list, rotate and remove API keys in a key file (`dnsledger-keys`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use dnsledger_keys::{KeyOptions, KeyStore, KeySummary};
use dnsledger_model::time::{format_human, parse_duration, parse_time, Timestamp};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  export DNSLEDGER_KEYS_FILE=/var/lib/dnsledger/keys.toml
  dnsledger key add alice --limit 1000 --burst 10/5m --expires +90d
  KEY=$(dnsledger key add ci-bot --results-max 1000 --offset-max 0 --no-flex)
  dnsledger key add ops --admin          # may also take online backups (POST /api/v1/admin/backup)
  dnsledger key list
  dnsledger key rotate alice
  dnsledger key remove ci-bot

The secret is printed once, alone on stdout; the key file keeps only a salted SHA-256 of it.
Clients send it as `X-API-Key` (DNSDB, dnsdbq's DNSDB_API_KEY) or as the HTTP Basic password
(CIRCL, dnsdbq's CIRCL_AUTH=\"user:SECRET\").")]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,

    /// Key file (TOML; created by the first `key add`).
    #[arg(long, global = true, env = "DNSLEDGER_KEYS_FILE", value_name = "PATH")]
    keys_file: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum KeyCommand {
    /// Create a key and print its secret (once).
    Add(AddArgs),
    /// List keys with their limits and today's usage (never secrets).
    List(ListArgs),
    /// Give a key a new secret (the old one stops working) and print it.
    Rotate {
        /// Name of the key.
        name: String,
    },
    /// Delete a key.
    Remove {
        /// Name of the key.
        name: String,
    },
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
TIME for --expires: an absolute time (epoch seconds, YYYY-MM-DD, `YYYY-MM-DD HH:MM:SS` UTC,
RFC 3339) or `+DURATION` from now, e.g. +30d, +1w, +12h.")]
struct AddArgs {
    /// Name of the key: 1 to 64 of A-Z a-z 0-9 . _ -
    name: String,

    /// Queries per UTC day (default: unlimited).
    #[arg(long, value_name = "N")]
    limit: Option<u64>,

    /// Most results per query (default: the server's --results-max).
    #[arg(long, value_name = "N")]
    results_max: Option<u64>,

    /// Largest `offset` (default: the key's results maximum; 0 = offsets not allowed).
    #[arg(long, value_name = "N")]
    offset_max: Option<u64>,

    /// Burst quota: at most N queries in any window of SECONDS (or a duration like 5m).
    #[arg(long, value_name = "N/SECONDS", value_parser = parse_burst)]
    burst: Option<(u64, u64)>,

    /// Expiry: an absolute TIME or +DURATION from now (see below).
    #[arg(long, value_name = "TIME")]
    expires: Option<String>,

    /// Do not allow Flex (regex/glob) searches.
    #[arg(long)]
    no_flex: bool,

    /// May call the admin API (`POST /api/v1/admin/backup`: online backups).
    #[arg(long)]
    admin: bool,
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// One JSON object per key instead of a table.
    #[arg(long)]
    json: bool,
}

/// Parses `N/SECONDS` or `N/DURATION` (e.g. `10/300`, `10/5m`).
fn parse_burst(s: &str) -> Result<(u64, u64), String> {
    let err = || format!("bad burst {s:?}: expected N/SECONDS such as 10/300 or 10/5m");
    let (n, w) = s.split_once('/').ok_or_else(err)?;
    let n: u64 = n.trim().parse().map_err(|_| err())?;
    let w = w.trim();
    let w = w.parse::<u64>().ok().or_else(|| parse_duration(w)).ok_or_else(err)?;
    if n == 0 || w == 0 {
        return Err(format!("bad burst {s:?}: both numbers must be at least 1"));
    }
    Ok((n, w))
}

/// Parses an expiry: `+DURATION` after `now`, or an absolute time. Relative forms that
/// `parse_time` reads as "before now" (`30d`, `-3600`) are refused, as is a time already past.
fn parse_expires(s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let t = s.trim();
    let when = if let Some(d) = t.strip_prefix('+') {
        let secs = d
            .parse::<u64>()
            .ok()
            .or_else(|| parse_duration(d))
            .with_context(|| format!("bad --expires {s:?}: expected +SECONDS or +DURATION like +30d"))?;
        now.saturating_add(secs)
    } else {
        if t.starts_with('-') || parse_duration(t).is_some() {
            bail!("bad --expires {s:?}: for a time after now write +DURATION, e.g. +30d");
        }
        parse_time(t, now).with_context(|| format!("bad --expires {s:?}"))?
    };
    if when <= now {
        bail!("--expires {s:?} is in the past ({} UTC)", format_human(when));
    }
    Ok(when)
}

fn keys_file(a: &KeyArgs) -> anyhow::Result<PathBuf> {
    match &a.keys_file {
        Some(p) => Ok(p.clone()),
        None => bail!("no key file: give --keys-file PATH or set DNSLEDGER_KEYS_FILE"),
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |n| n.to_string())
}

fn print_table(keys: &[KeySummary]) {
    println!(
        "{:<20} {:<8} {:<19} {:<19} {:>10} {:>8} {:>12} {:>11} {:>10} {:<4} {:<5} STATUS",
        "NAME", "ID", "CREATED", "EXPIRES", "DAILY", "TODAY", "BURST", "RESULTS_MAX", "OFFSET_MAX", "FLEX", "ADMIN"
    );
    let now = dnsledger_model::time::now();
    for k in keys {
        let status = if k.disabled {
            "disabled"
        } else if k.expires.is_some_and(|t| t <= now) {
            "expired"
        } else {
            "active"
        };
        println!(
            "{:<20} {:<8} {:<19} {:<19} {:>10} {:>8} {:>12} {:>11} {:>10} {:<4} {:<5} {status}",
            k.name,
            k.id,
            format_human(k.created),
            k.expires.map_or_else(|| "never".to_string(), format_human),
            k.daily_limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string()),
            k.used_today,
            k.burst.map_or_else(|| "-".to_string(), |(n, w)| format!("{n}/{w}s")),
            opt(k.results_max),
            match k.offset_max {
                Some(0) => "n/a".to_string(),
                o => opt(o),
            },
            if k.flex { "yes" } else { "no" },
            if k.admin { "yes" } else { "no" },
        );
    }
}

/// Prints a new secret alone on stdout and how to use it on stderr.
fn print_secret(secret: &str, what: &str, path: &std::path::Path) {
    println!("{secret}");
    eprintln!(
        "dnsledger: {what} in {}. The secret above is shown only this once and cannot be recovered: \
         store it now. Clients send it as X-API-Key or as the HTTP Basic password.",
        path.display()
    );
}

/// Runs `dnsledger key`.
pub fn run(a: KeyArgs) -> anyhow::Result<ExitCode> {
    let path = keys_file(&a)?;
    let open = || KeyStore::load_or_empty(&path);
    match a.command {
        KeyCommand::Add(add) => {
            let now = dnsledger_model::time::now();
            let expires = add.expires.as_deref().map(|t| parse_expires(t, now)).transpose()?;
            let opts = KeyOptions {
                daily_limit: add.limit,
                results_max: add.results_max,
                offset_max: add.offset_max,
                burst: add.burst,
                expires,
                flex: !add.no_flex,
                disabled: false,
                admin: add.admin,
            };
            let secret = open()?.add(&add.name, &opts)?;
            print_secret(&secret, &format!("created key {:?}", add.name), &path);
        }
        KeyCommand::List(l) => {
            if !path.exists() {
                bail!("no key file at {} (`dnsledger key add` creates it)", path.display());
            }
            let keys = open()?.list();
            if l.json {
                for k in &keys {
                    println!("{}", serde_json::to_string(k)?);
                }
            } else if keys.is_empty() {
                eprintln!("dnsledger: no keys in {}", path.display());
            } else {
                print_table(&keys);
            }
        }
        KeyCommand::Rotate { name } => {
            let secret = open()?.rotate(&name)?;
            print_secret(&secret, &format!("new secret for key {name:?} (the old one no longer works)"), &path);
        }
        KeyCommand::Remove { name } => {
            open()?.remove(&name)?;
            eprintln!("dnsledger: removed key {name:?} from {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst() {
        assert_eq!(parse_burst("10/300"), Ok((10, 300)));
        assert_eq!(parse_burst("10/5m"), Ok((10, 300)));
        assert_eq!(parse_burst(" 3 / 1h "), Ok((3, 3600)));
        for bad in ["10", "10/", "/5", "0/5", "5/0", "x/5", "5/5x"] {
            assert!(parse_burst(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expires() {
        let now = 1_800_000_000;
        assert_eq!(parse_expires("+30d", now).unwrap(), now + 30 * 86_400);
        assert_eq!(parse_expires("+1w2h", now).unwrap(), now + 7 * 86_400 + 7200);
        assert_eq!(parse_expires("+3600", now).unwrap(), now + 3600);
        assert_eq!(parse_expires("2030-01-01", now).unwrap(), 1_893_456_000);
        assert_eq!(parse_expires("1900000000", now).unwrap(), 1_900_000_000);
        let e = parse_expires("30d", now).unwrap_err().to_string();
        assert!(e.contains("+30d"), "{e}");
        assert!(parse_expires("-3600", now).is_err());
        assert!(parse_expires("+", now).is_err());
        assert!(parse_expires("+soon", now).is_err());
        let e = parse_expires("2020-01-01", now).unwrap_err().to_string();
        assert!(e.contains("in the past"), "{e}");
        assert!(parse_expires("tomorrow", now).is_err());
    }
}

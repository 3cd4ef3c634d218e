//! What the ClickHouse integration tests share: the servers the test command started, fresh
//! databases, observations.
#![allow(dead_code)]

use dnsledger_model::{Name, Observation, Rdata, RrType};

fn env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: these tests need real ClickHouse servers; run scripts/test.sh, or start them with \
             `scripts/clickhouse.sh start DIR` and `eval \"$(scripts/clickhouse.sh env DIR)\"`"
        ),
    }
}

/// The single-node server's HTTP URL.
pub fn single_node() -> String {
    env("DNSLEDGER_TEST_CLICKHOUSE")
}

/// The 2-shard cluster: its servers' URLs and its name.
pub fn two_shards() -> (Vec<String>, String) {
    let urls = env("DNSLEDGER_TEST_CLICKHOUSE_SHARDS").split(',').map(str::to_string).collect();
    (urls, env("DNSLEDGER_TEST_CLICKHOUSE_CLUSTER"))
}

/// The replicated cluster (one shard, two replicas on the two cluster servers): its name.
pub fn replicated_cluster() -> String {
    env("DNSLEDGER_TEST_CLICKHOUSE_REPLICATED_CLUSTER")
}

/// A database name no other test uses.
pub fn fresh_database(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("dnsledger_t_{tag}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Drops a test database on `url` (best effort).
pub fn drop_database(url: &str, db: &str) {
    let _ = ureq_post(url, &format!("DROP DATABASE IF EXISTS `{db}`"));
}

fn ureq_post(url: &str, sql: &str) -> Result<(), String> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "60", "--data-binary", sql, url])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An A observation of `name` -> 10.x.y.z from `i`.
pub fn obs(name: &str, i: u32, time: u64) -> Observation {
    Observation {
        rrname: Name::from_presentation(name).unwrap(),
        rrtype: RrType::A,
        rdata: [Rdata::ipv4(std::net::Ipv4Addr::from(0x0a00_0000 + i))].into_iter().collect(),
        time_first: time,
        time_last: time,
        ttl: Some(300),
        sensor: Some("s1".into()),
        ..Observation::default()
    }
}

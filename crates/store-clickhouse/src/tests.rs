//! Unit tests that need no server: row encoding round trips through the scan decoder.

use super::*;
use crate::rowbinary::Reader;

#[test]
fn merge_rows_decode_to_the_same_aggregate() {
    let store_opts = ClickHouseOptions::default();
    assert!(schema::validate(&store_opts).is_ok());
    let mut agg = dnsledger_model::Aggregate { count: 7, ..Default::default() };
    agg.observe_sensor(86_400 * 3 + 5, 86_400 * 5, 0);
    agg.observe_ttl(60);
    agg.observe_ttl(300);
    agg.sensors.insert(1);
    let mut rows = Vec::new();
    store::tests_support::merge_row(&mut rows, b"\x01k", &agg, &["a".into(), "b".into()]);
    let mut r = Reader::new(&rows);
    assert_eq!(r.string().unwrap(), b"\x01k");
    assert_eq!(r.u64().unwrap(), 7);
}

#[test]
fn options_are_validated() {
    let mut o = ClickHouseOptions::with_urls(["http://a", "http://b"]);
    assert!(schema::validate(&o).is_err(), "two shards need a cluster");
    o.cluster = Some("c".into());
    assert!(schema::validate(&o).is_ok());
    o.shards = vec![vec!["http://a".into(), "http://b".into()]];
    assert!(schema::validate(&o).is_err(), "replicas need replicated tables");
    o.replicated = true;
    assert!(schema::validate(&o).is_ok());
    o.max_rows_per_insert = 0;
    assert!(schema::validate(&o).is_err());
}

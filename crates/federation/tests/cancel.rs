//! Cancelling lookups against loopback upstreams, checked by the order of events (a bound only
//! keeps a failing run from hanging): a cancel closes the connection a fetch is blocked on
//! before the upstream sent the rest, stops CIRCL paging, ends a merged federated lookup with
//! `cancelled` reports, and — once a fetch is over — leaves its kept-alive connection in the
//! pool for the next lookup.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::{reply, serve};
use dnsledger_federation::config::Secret;
use dnsledger_federation::federated::{self, Request, SourceStatus};
use dnsledger_federation::{Cancel, Kind, Upstream, UpstreamConfig, UpstreamError, UpstreamQuery};

/// Longest any wait lasts before the test fails (never reached when things work).
const BOUND: Duration = Duration::from_secs(30);

fn upstream(kind: Kind, url: &str) -> Arc<Upstream> {
    let mut c = UpstreamConfig::new("up", kind, url);
    c.api_key = Some(Secret::new("k"));
    c.timeout_secs = Some(120);
    Arc::new(Upstream::new(c))
}

fn query() -> UpstreamQuery {
    UpstreamQuery::parse("rrset/name/www.example.com").unwrap()
}

fn obj(ip: &str) -> String {
    format!("{{\"obj\":{{\"count\":1,\"time_first\":1000,\"time_last\":2000,\"rrname\":\"www.example.com.\",\"rrtype\":\"A\",\"bailiwick\":\"example.com.\",\"rdata\":[\"{ip}\"]}}}}\n")
}

#[derive(Debug, PartialEq)]
enum Ev {
    /// The upstream sent the first part of its answer.
    Sent,
    /// The upstream's client closed the connection.
    Closed,
    /// The upstream sent the rest (only if the connection stayed open).
    Finished,
}

/// A DNSDB upstream that sends `begin` and one record, then waits until its client closes the
/// connection (or [`BOUND`] passes, then it sends the rest). Events go to the returned channel.
fn holding_upstream() -> (String, mpsc::Receiver<Ev>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).unwrap_or(0) == 0 {
                return;
            }
            head.push(b[0]);
        }
        let first = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n{{\"cond\":\"begin\"}}\n{}",
            obj("192.0.2.1")
        );
        s.write_all(first.as_bytes()).unwrap();
        let _ = tx.send(Ev::Sent);
        // the client sends nothing more: a read returns when it closes (or at the bound)
        s.set_read_timeout(Some(BOUND)).unwrap();
        let closed = match s.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        };
        if closed {
            let _ = tx.send(Ev::Closed);
            return;
        }
        let rest = format!("{}{{\"cond\":\"succeeded\"}}\n", obj("192.0.2.2"));
        if s.write_all(rest.as_bytes()).is_ok() {
            let _ = tx.send(Ev::Finished);
        }
    });
    (url, rx)
}

#[test]
fn a_cancel_closes_the_connection_a_fetch_is_blocked_on() {
    let (url, events) = holding_upstream();
    let up = upstream(Kind::Dnsdb, &url);
    let cancel = Cancel::new();
    let (got_tx, got) = mpsc::channel();
    let fetch = {
        let (up, cancel) = (up.clone(), cancel.clone());
        std::thread::spawn(move || {
            up.fetch_with(&query(), &cancel, &mut |o| {
                let _ = got_tx.send(o);
            })
        })
    };
    assert_eq!(events.recv_timeout(BOUND).unwrap(), Ev::Sent);
    // the fetch decoded the first record: it now waits on the socket for more
    got.recv_timeout(BOUND).expect("the first record");
    cancel.cancel();
    assert_eq!(events.recv_timeout(BOUND).unwrap(), Ev::Closed, "closed before the upstream sent the rest");
    let res = fetch.join().unwrap();
    assert!(matches!(res, Err(UpstreamError::Cancelled)), "{res:?}");
    assert_eq!(UpstreamError::Cancelled.category(), "cancelled");
}

#[test]
fn a_cancel_stops_paging() {
    // CIRCL: page 1 has two records and a cursor; page 2 must never be asked
    let page = format!(
        "{}\n{}\n",
        r#"{"rrname":"www.example.com","rrtype":"A","rdata":"192.0.2.1","time_first":1000,"time_last":2000,"count":1}"#,
        r#"{"rrname":"www.example.com","rrtype":"A","rdata":"192.0.2.2","time_first":1000,"time_last":2000,"count":1}"#
    );
    let fake = serve(move |_| reply("200 OK", &[("x-dribble-cursor", "next")], &page));
    let up = upstream(Kind::Circl, &fake.url);
    let cancel = Cancel::new();
    let mut seen = 0;
    let res = up.fetch_with(&query(), &cancel, &mut |_| {
        seen += 1;
        // the client goes away while the first page is read
        cancel.cancel();
    });
    assert!(matches!(res, Err(UpstreamError::Cancelled)), "{res:?}");
    assert_eq!(seen, 1, "no record is decoded after the cancel");
    assert_eq!(fake.count("/pdns/query/"), 1, "the next page was not asked");
}

#[test]
fn a_cancelled_merged_lookup_reports_cancelled_sources() {
    let (url, events) = holding_upstream();
    let up = upstream(Kind::Dnsdb, &url);
    let cancel = Cancel::new();
    let run = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let req = Request { local: None, upstreams: vec![up], query: query(), limit: None };
            federated::run_cancellable(req, &cancel, &mut |_| {})
        })
    };
    assert_eq!(events.recv_timeout(BOUND).unwrap(), Ev::Sent);
    cancel.cancel();
    assert_eq!(events.recv_timeout(BOUND).unwrap(), Ev::Closed);
    let answer = run.join().unwrap();
    assert!(answer.records.is_empty());
    assert_eq!(answer.reports.len(), 1);
    assert_eq!(answer.reports[0].status, SourceStatus::Error);
    assert_eq!(answer.reports[0].category, Some("cancelled"), "{:?}", answer.reports);
}

#[test]
fn a_late_cancel_leaves_the_pooled_connection_alone() {
    let body = format!("{{\"cond\":\"begin\"}}\n{}{{\"cond\":\"succeeded\"}}\n", obj("192.0.2.1"));
    let fake = serve(move |_| reply("200 OK", &[("Content-Type", "application/x-ndjson")], &body));
    let up = upstream(Kind::Dnsdb, &fake.url);
    let first = Cancel::new();
    let a = up.fetch_with(&query(), &first, &mut |_| {});
    assert!(a.is_ok(), "{a:?}");
    // the first lookup's client goes away after its answer was complete (a response body
    // dropped at the end does this): its connection is back in the pool, not its own any more
    first.cancel();
    let b = up.fetch_with(&query(), &Cancel::new(), &mut |_| {});
    assert!(b.is_ok(), "{b:?}");
    assert_eq!(fake.count("/dnsdb/v2/lookup/"), 2);
    assert_eq!(fake.connections(), 1, "the second lookup reused the kept-alive connection");
}

//! Exactly-once writes against a real ClickHouse server, through a proxy that breaks
//! connections the way networks do: a request that never arrives, and a response that never
//! comes back after the insert was applied. Either way the batch must be stored once.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dnsledger_store::{Batch, NameMatch, RrsetQuery, Store};
use dnsledger_store_clickhouse::{init, ClickHouseOptions, ClickHouseStore};
use std::sync::atomic::AtomicBool;

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Close the client connection before forwarding the insert.
    DropRequest,
    /// Forward the insert, let the server apply it, then close without the response.
    DropResponse,
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body) from `s`.
fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A proxy that applies `fault` to the first `faults` INSERT requests and forwards the rest;
/// one request per connection (it answers with `Connection: close` semantics by closing).
fn proxy(upstream: String, fault: Fault, faults: usize) -> (String, Arc<AtomicUsize>) {
    proxy_with_switch(upstream, fault, faults, Arc::new(AtomicBool::new(false)))
}

/// [`proxy`], which also refuses every insert while `down` is set.
fn proxy_with_switch(
    upstream: String,
    fault: Fault,
    faults: usize,
    down: Arc<AtomicBool>,
) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    let injected = Arc::new(AtomicUsize::new(0));
    let count = injected.clone();
    let up = upstream.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for client in l.incoming() {
            let Ok(mut client) = client else { continue };
            let up = up.clone();
            let count = count.clone();
            let down = down.clone();
            std::thread::spawn(move || {
                let Some(req) = read_request(&mut client) else { return };
                let is_insert = String::from_utf8_lossy(&req[..req.len().min(400)]).contains("entries_in");
                if is_insert && down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                let inject = is_insert && count.load(Ordering::SeqCst) < faults;
                if inject && fault == Fault::DropRequest {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                let Ok(mut server) = TcpStream::connect(&up) else { return };
                // one request per upstream connection, so the response ends at EOF
                let head_end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
                let head = String::from_utf8_lossy(&req[..head_end]).replace("keep-alive", "close");
                let mut fwd = head.into_bytes();
                fwd.extend_from_slice(b"\r\nConnection: close");
                fwd.extend_from_slice(&req[head_end..]);
                if server.write_all(&fwd).is_err() {
                    return;
                }
                let mut resp = Vec::new();
                let _ = server.read_to_end(&mut resp);
                if inject {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                let _ = client.write_all(&resp);
                let _ = client.shutdown(Shutdown::Both);
            });
        }
    });
    (addr, injected)
}

fn run(fault: Fault) {
    let server = common::single_node();
    let (url, injected) = proxy(server.clone(), fault, 2);
    let db = common::fresh_database("exactly_once");
    let mut opts = ClickHouseOptions::with_urls([server.clone()]);
    opts.database = db.clone();
    opts.timeout = Duration::from_secs(20);
    opts.max_rows_per_insert = 600; // three inserts, two of them faulted
    init(&opts).expect("init");
    opts.shards = vec![vec![url]];
    let store = ClickHouseStore::open(opts).expect("open");
    let mut batch = Batch::new();
    for i in 0..500u32 {
        let mut o = common::obs(&format!("h{i}.once.example"), i, 1_700_000_000);
        o.count = 3;
        batch.add(&mut o);
    }
    batch.set_checkpoint("once", b"p1".to_vec());
    store.write(&batch).expect("the write succeeds after retries");
    assert_eq!(injected.load(Ordering::SeqCst), 2, "the proxy injected its faults");
    let q = RrsetQuery {
        name: NameMatch::parse("*.once.example").unwrap(),
        types: Default::default(),
        bailiwick: None,
        fence: Default::default(),
        negative: Default::default(),
    };
    let mut records = 0;
    let mut total = 0;
    store
        .lookup_rrset(&q, &mut |r| {
            records += 1;
            total += r.agg.count;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(records, 500);
    assert_eq!(total, 1500, "every observation counted exactly once");
    assert_eq!(store.checkpoint("once").unwrap().as_deref(), Some(&b"p1"[..]));
    common::drop_database(&server, &db);
}

#[test]
fn a_lost_request_is_sent_again() {
    run(Fault::DropRequest);
}

#[test]
fn a_lost_response_is_not_counted_twice() {
    run(Fault::DropResponse);
}

fn total(store: &ClickHouseStore, pattern: &str) -> (usize, u64) {
    let q = RrsetQuery {
        name: NameMatch::parse(pattern).unwrap(),
        types: Default::default(),
        bailiwick: None,
        fence: Default::default(),
        negative: Default::default(),
    };
    let (mut records, mut count) = (0, 0);
    store
        .lookup_rrset(&q, &mut |r| {
            records += 1;
            count += r.agg.count;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    (records, count)
}

/// A batch that reached one shard of two (the other was down) is not acknowledged, its
/// checkpoint is not visible, and sending it again completes it without counting the shard
/// that had it twice.
#[test]
fn a_batch_half_written_to_two_shards_is_completed_once() {
    let (urls, cluster) = common::two_shards();
    let db = common::fresh_database("half");
    let mut opts = ClickHouseOptions::with_urls(urls.clone());
    opts.cluster = Some(cluster);
    opts.database = db.clone();
    opts.timeout = Duration::from_secs(20);
    opts.retries = 2;
    init(&opts).expect("init");
    let down = Arc::new(AtomicBool::new(false));
    let (second, _) = proxy_with_switch(urls[1].clone(), Fault::DropRequest, 0, down.clone());
    opts.shards = vec![vec![urls[0].clone()], vec![second]];
    let store = ClickHouseStore::open(opts).expect("open");
    let mut batch = Batch::new();
    for i in 0..400u32 {
        let mut o = common::obs(&format!("h{i}.half.example"), i, 1_700_000_000);
        o.count = 2;
        batch.add(&mut o);
    }
    batch.set_checkpoint("half", b"offset-400".to_vec());
    down.store(true, Ordering::SeqCst);
    assert!(store.write(&batch).is_err(), "a shard that stays down fails the write");
    let (records, _) = total(&store, "*.half.example");
    assert!(records > 0 && records < 400, "one shard has its part ({records} records)");
    assert_eq!(store.checkpoint("half").unwrap(), None, "the checkpoint is not on every shard");
    down.store(false, Ordering::SeqCst);
    store.write(&batch).expect("the same batch again");
    assert_eq!(total(&store, "*.half.example"), (400, 800), "every observation exactly once");
    assert_eq!(store.checkpoint("half").unwrap().as_deref(), Some(&b"offset-400"[..]));
    for u in &urls {
        common::drop_database(u, &db);
    }
}

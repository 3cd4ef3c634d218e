//! Live capture on the loopback interface. It needs root or CAP_NET_RAW: the test suite runs as
//! root (CI too), and without it these tests fail loudly instead of being skipped.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use super::*;
use crate::live::{LiveOptions, LiveSource};
use crate::CaptureError;

fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root, "live capture tests need root (CAP_NET_RAW); run the suite as root");
    root
}

#[test]
fn loopback_capture_delivers_udp_payloads() {
    if !privileged() {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    let opts = LiveOptions {
        interface: "lo".into(),
        bpf: format!("udp and dst port {port}"),
        timeout_ms: 50,
        buffer_bytes: 2 << 20,
        ..LiveOptions::default()
    };
    let mut src = LiveSource::open(&opts).unwrap();
    assert_eq!(src.linktype(), LinkType::Ethernet);
    let sent: Vec<Vec<u8>> = (0..5u16).map(|i| dns(i, false, &format!("live{i}.example"))).collect();
    for m in &sent {
        tx.send_to(m, ("127.0.0.1", port)).unwrap();
    }
    let mut d = Decoder::new(DecoderConfig { udp_ports: vec![port], ..DecoderConfig::default() });
    let mut got: Vec<Got> = Vec::new();
    let mut last_index = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < sent.len() && Instant::now() < deadline {
        if let Some(p) = src.next().unwrap() {
            assert_eq!(p.index, last_index + 1);
            last_index = p.index;
            assert!(p.ts > 1_600_000_000_000_000);
            d.packet(&p, &mut |x| got.push(Got::of(x)));
        }
    }
    let datas: Vec<Vec<u8>> = got.iter().map(|g| g.data.clone()).collect();
    assert_eq!(datas, sent);
    assert!(got.iter().all(|g| g.dport == port && g.src == v4(127, 0, 0, 1)));
    let st = src.stats().unwrap();
    assert!(st.received >= sent.len() as u64, "{st:?}");
    assert_eq!(st.dropped, 0);
    // Nothing more: reads return None within the read timeout.
    let t = Instant::now();
    for _ in 0..3 {
        assert!(src.next().unwrap().is_none());
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn fanout_group_can_be_joined() {
    if !privileged() {
        return;
    }
    let opts =
        LiveOptions { interface: "lo".into(), fanout: Some(4242), buffer_bytes: 1 << 20, ..LiveOptions::default() };
    let a = LiveSource::open(&opts).unwrap();
    let b = LiveSource::open(&opts).unwrap();
    drop((a, b));
}

#[test]
fn dns_filter_compiles() {
    let f = crate::live::dns_filter(&[53, 5353], &[53]);
    assert_eq!(
        f,
        "(udp and (port 53 or port 5353)) or (tcp and (port 53)) or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)"
    );
    if !privileged() {
        return;
    }
    let opts = LiveOptions { interface: "lo".into(), bpf: f, buffer_bytes: 1 << 20, ..LiveOptions::default() };
    LiveSource::open(&opts).unwrap();
}

#[test]
fn bad_filter_and_missing_interface_are_clear_errors() {
    if !privileged() {
        return;
    }
    let opts = LiveOptions { interface: "lo".into(), bpf: "udp port banana".into(), ..LiveOptions::default() };
    let e = LiveSource::open(&opts).unwrap_err();
    assert!(matches!(e, CaptureError::BadFilter { .. }), "{e:?}");
    assert!(e.to_string().contains("banana"), "{e}");
    let opts = LiveOptions { interface: "nosuchif0".into(), ..LiveOptions::default() };
    let e = LiveSource::open(&opts).unwrap_err();
    assert!(matches!(e, CaptureError::NoSuchDevice { .. }), "{e:?}");
    assert!(e.to_string().contains("nosuchif0"), "{e}");
}

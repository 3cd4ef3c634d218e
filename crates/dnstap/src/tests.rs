//! Tests of the Frame Streams layer: round trips, chunked parsing, handshakes, the listener
//! against hostile peers, and interop with the Debian fstrm tools and `dnstap-ldns`.

use std::io::{Cursor, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message as _;

use crate::fstrm::*;
use crate::listener::*;
use crate::proto::*;

const CT: &[u8] = DNSTAP_CONTENT_TYPE;

/// A control frame as bytes.
fn control(kind: ControlKind, cts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_control(kind, cts, &mut v).ok();
    v
}

/// A data frame as bytes.
fn data(p: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_data(p, &mut v).ok();
    v
}

fn payloads(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| (0..(i * 37 % 300 + 1)).map(|j| (i * 7 + j) as u8).collect()).collect()
}

fn file_bytes(ps: &[Vec<u8>]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), CT).ok().map(Some).unwrap_or(None);
    for p in ps {
        if let Some(w) = w.as_mut() {
            w.write_frame(p).ok();
        }
    }
    w.and_then(|w| w.finish().ok()).unwrap_or_default()
}

fn read_all<R: Read>(r: R) -> Result<(Vec<Vec<u8>>, bool), FstrmError> {
    let mut rd = Reader::new(r)?;
    let mut out = Vec::new();
    while let Some(p) = rd.next_payload()? {
        out.push(p.to_vec());
    }
    Ok((out, rd.saw_stop()))
}

#[test]
fn frame_layout_is_the_documented_one() {
    // escape, length 34, START, CONTENT_TYPE field of 22 octets "protobuf:dnstap.Dnstap"
    let mut want = vec![0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 22];
    want.extend_from_slice(b"protobuf:dnstap.Dnstap");
    assert_eq!(control(ControlKind::Start, &[CT]), want);
    assert_eq!(control(ControlKind::Stop, &[]), vec![0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
    assert_eq!(data(b"abc"), vec![0, 0, 0, 3, b'a', b'b', b'c']);
    let mut v = Vec::new();
    assert!(encode_data(b"", &mut v).is_err());
    assert!(encode_control(ControlKind::Ready, &[&[b'x'; 257]], &mut v).is_err());
    assert!(v.is_empty());
}

#[test]
fn writer_reader_round_trip() {
    let ps = payloads(200);
    let bytes = file_bytes(&ps);
    assert_eq!(read_all(Cursor::new(&bytes)), Ok((ps.clone(), true)));
    // One octet per read() call.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(o)) => {
                    *o = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
    assert_eq!(read_all(Trickle(&bytes)), Ok((ps.clone(), true)));
    // A frame larger than the read buffer grows it.
    let big = vec![vec![7u8; 200_000], vec![1u8; 3]];
    assert_eq!(read_all(Cursor::new(file_bytes(&big))), Ok((big, true)));
    // A capture cut on a frame boundary (no STOP) reads to its end.
    let cut = &bytes[..bytes.len() - 12];
    assert_eq!(read_all(Cursor::new(cut)), Ok((ps, false)));
}

#[test]
fn slice_parsing_at_every_split_point() {
    let ps = payloads(12);
    let bytes = file_bytes(&ps);
    for split in 0..=bytes.len() {
        // Feed the first `split` octets, carry the rest over, then add the remainder.
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut controls = Vec::new();
        let mut pending: Vec<u8> = bytes[..split].to_vec();
        for more in [&bytes[split..], &[][..]] {
            let mut at = 0;
            loop {
                match next_frame(&pending[at..]) {
                    Ok(Some((Frame::Data(p), n))) => {
                        frames.push(p.to_vec());
                        at += n;
                    }
                    Ok(Some((Frame::Control(c), n))) => {
                        controls.push(c.kind);
                        at += n;
                    }
                    Ok(None) => break,
                    Err(e) => panic!("split {split}: {e}"),
                }
            }
            pending.drain(..at);
            pending.extend_from_slice(more);
        }
        assert!(pending.is_empty(), "split {split}: {} octets left", pending.len());
        assert_eq!(frames, ps, "split {split}");
        assert_eq!(controls, vec![ControlKind::Start, ControlKind::Stop], "split {split}");
    }
}

#[test]
fn control_frames_decode_content_types() {
    let b = control(ControlKind::Ready, &[b"a", CT]);
    let Ok(Some((Frame::Control(c), n))) = next_frame(&b) else { panic!("no control frame") };
    assert_eq!(n, b.len());
    assert_eq!(c.kind, ControlKind::Ready);
    assert_eq!(c.content_types().collect::<Vec<_>>(), vec![&b"a"[..], CT]);
    assert!(c.matches(CT));
    assert!(!c.matches(b"b"));
    // Unknown field types are skipped; no content type matches any.
    let mut b = vec![0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 4, 0, 0, 0, 9, 0, 0, 0, 1, b'z'];
    let Ok(Some((Frame::Control(c), _))) = next_frame(&b) else { panic!("no control frame") };
    assert_eq!(c.content_types().count(), 0);
    assert!(c.matches(CT));
    // ... but a field running past the frame is an error.
    b[19] = 2;
    let e = next_frame(&b).err().map(|e| e.kind);
    assert_eq!(e, Some(FstrmErrorKind::BadControl("READY: field of 2 octets overruns the frame".into())));
}

#[test]
fn errors_name_offset_and_reason() {
    let k = |b: &[u8]| next_frame(b).err().map(|e| (e.offset, e.kind));
    assert_eq!(
        next_frame_capped(&[0, 0, 1, 0, 1, 2], 255).err().map(|e| e.kind),
        Some(FstrmErrorKind::Oversize { len: 256, max: 255 })
    );
    assert_eq!(
        k(&[0, 0, 0, 0, 0, 0, 2, 1]),
        Some((0, FstrmErrorKind::BadControl("control frame length 513 is over 512".into())))
    );
    assert_eq!(
        k(&[0, 0, 0, 0, 0, 0, 0, 2, 0, 0]),
        Some((0, FstrmErrorKind::BadControl("control frame length 2 is shorter than a control type".into())))
    );
    assert_eq!(
        k(&[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 9]),
        Some((0, FstrmErrorKind::BadControl("unknown control type 9".into())))
    );
    assert_eq!(
        k(&control(ControlKind::Start, &[b"a", b"b"])),
        Some((0, FstrmErrorKind::BadControl("START carries more than one content type".into())))
    );
    let mut stop_ct = control(ControlKind::Start, &[b"a"]);
    stop_ct[11] = 3;
    assert_eq!(k(&stop_ct), Some((0, FstrmErrorKind::BadControl("STOP carries a content type".into()))));
    // Offsets are stream offsets in the reader.
    let mut f = file_bytes(&payloads(3));
    let third = 42 + 4 + 1 + 4 + 38; // START (42 octets), frame 0 (1 octet), frame 1 (38 octets)
    let e = Reader::new(Cursor::new(&f[..f.len() - 20])).and_then(|mut r| {
        while r.next_payload()?.is_some() {}
        Ok(())
    });
    assert_eq!(
        e.err().map(|e| (e.offset, e.kind)),
        Some((third as u64, FstrmErrorKind::Truncated { needed: 4 + 75, had: 160 - 89 }))
    );
    f[third..third + 4].copy_from_slice(&[0x7f, 0, 0, 0]);
    let e = read_all(Cursor::new(&f)).err();
    assert_eq!(e.as_ref().map(|e| e.offset), Some(third as u64));
    assert_eq!(e.map(|e| e.kind.as_str()), Some("oversize"));
    // Content type, START first, no second START.
    let other = [control(ControlKind::Start, &[b"protobuf:other"]), data(b"x")].concat();
    assert_eq!(
        read_all(Cursor::new(other)).err().map(|e| e.kind),
        Some(FstrmErrorKind::WrongContentType { got: "protobuf:other".into(), want: "protobuf:dnstap.Dnstap".into() })
    );
    assert_eq!(
        read_all(Cursor::new(data(b"x"))).err().map(|e| (e.offset, e.kind)),
        Some((0, FstrmErrorKind::Unexpected { got: "data frame of 1 octets".into(), expected: "START" }))
    );
    let two = [control(ControlKind::Start, &[CT]), data(b"x"), control(ControlKind::Start, &[CT])].concat();
    assert_eq!(
        read_all(Cursor::new(two)).err().map(|e| (e.offset, e.kind)),
        Some((47, FstrmErrorKind::Unexpected { got: "START control frame".into(), expected: "data or STOP" }))
    );
    assert_eq!(read_all(Cursor::new(Vec::new())).err().map(|e| e.kind.as_str()), Some("unexpected_control"));
    let shown = read_all(Cursor::new(&f)).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        shown,
        format!("frame streams error at byte {third}: data frame of 2130706432 octets is over the cap of 1048576")
    );
}

#[test]
fn start_without_content_type_is_accepted() {
    let b = [control(ControlKind::Start, &[]), data(b"p"), control(ControlKind::Stop, &[])].concat();
    let mut r = Reader::new(Cursor::new(b)).ok();
    assert_eq!(r.as_ref().map(|r| r.content_type().is_none()), Some(true));
    assert_eq!(r.as_mut().and_then(|r| r.next_payload().ok().flatten().map(<[u8]>::to_vec)), Some(b"p".to_vec()));
}

/// Deterministic xorshift for the mutation tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_streams_never_panic() {
    let good = file_bytes(&payloads(20));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..4000 {
        let mut b = good.clone();
        match i % 3 {
            0 => b.truncate((rng.next() % good.len() as u64) as usize),
            _ => {
                for _ in 0..(1 + rng.next() % 4) {
                    let at = (rng.next() % b.len() as u64) as usize;
                    if let Some(x) = b.get_mut(at) {
                        *x = rng.next() as u8;
                    }
                }
            }
        }
        let _ = read_all(Cursor::new(&b));
        let mut at = 0;
        while let Ok(Some((_, n))) = next_frame(&b[at..]) {
            at += n;
        }
        // The receiver handshake on garbage, over a byte stream.
        struct Duplex(Cursor<Vec<u8>>);
        impl Read for Duplex {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0.read(buf)
            }
        }
        impl Write for Duplex {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut d = Duplex(Cursor::new(b));
        let mut rx = Receiver::new(CT, 4096);
        if rx.handshake(&mut d).is_ok() {
            while let Ok(Some(_)) = rx.next_payload(&mut d) {}
        }
    }
}

#[test]
fn handshake_over_a_socketpair() {
    let Ok((a, mut b)) = UnixStream::pair() else { panic!("socketpair") };
    let ps = payloads(50);
    let sent = ps.clone();
    let sender = std::thread::spawn(move || -> Result<(), FstrmError> {
        let mut s = Sender::connect(a, CT)?;
        for p in &sent {
            s.send(p).map_err(|e| FstrmError::new(0, FstrmErrorKind::Io(e.kind(), e.to_string())))?;
        }
        s.finish().map(|_| ())
    });
    let mut rx = Receiver::new(CT, DEFAULT_MAX_FRAME);
    assert_eq!(rx.handshake(&mut b), Ok(Handshake::Bidirectional));
    let mut got = Vec::new();
    while let Some(p) = rx.next_payload(&mut b).ok().flatten() {
        got.push(p.to_vec());
    }
    assert!(rx.stopped());
    assert_eq!(got, ps);
    assert_eq!(sender.join().ok(), Some(Ok(())));
}

#[test]
fn sender_refuses_a_wrong_accept() {
    let Ok((a, mut b)) = UnixStream::pair() else { panic!("socketpair") };
    let t = std::thread::spawn(move || Sender::connect(a, CT).err().map(|e| e.kind));
    let mut ready = [0u8; 42];
    assert!(b.read_exact(&mut ready).is_ok());
    assert_eq!(ready.to_vec(), control(ControlKind::Ready, &[CT]));
    assert!(b.write_all(&control(ControlKind::Accept, &[b"x"])).is_ok());
    assert_eq!(
        t.join().ok().flatten(),
        Some(FstrmErrorKind::WrongContentType { got: "x".into(), want: "protobuf:dnstap.Dnstap".into() })
    );
}

type Got = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

fn spawn_listener(ep: &Endpoint, config: ListenerConfig) -> (ListenerHandle, Got) {
    let got: Got = Arc::default();
    let g = Arc::clone(&got);
    let l = Listener::bind(ep, config).unwrap_or_else(|e| panic!("bind {ep}: {e}"));
    let h = l
        .spawn(move |p, info| g.lock().unwrap_or_else(|e| e.into_inner()).push((info.id, p.to_vec())))
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    (h, got)
}

fn tcp_addr(h: &ListenerHandle) -> SocketAddr {
    match h.endpoint() {
        Endpoint::Tcp(a) => *a,
        Endpoint::Unix(p) => panic!("not tcp: {}", p.display()),
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn frames_of(got: &Got, id: u64) -> Vec<Vec<u8>> {
    got.lock().unwrap_or_else(|e| e.into_inner()).iter().filter(|(i, _)| *i == id).map(|(_, p)| p.clone()).collect()
}

#[test]
fn listener_over_tcp_survives_hostile_peers() {
    let cfg = ListenerConfig { handshake_timeout: Duration::from_millis(300), max_frame: 1000, ..Default::default() };
    let (h, got) = spawn_listener(&Endpoint::Tcp("127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!())), cfg);
    let addr = tcp_addr(&h);
    // A well-behaved sender stays connected across all the hostile ones.
    let good = TcpStream::connect(addr).and_then(|s| s.set_read_timeout(Some(Duration::from_secs(5))).map(|()| s));
    let mut good =
        Sender::connect(good.unwrap_or_else(|e| panic!("connect: {e}")), CT).unwrap_or_else(|e| panic!("{e}"));
    good.send(b"first").unwrap_or_else(|e| panic!("{e}"));

    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("garbage handshake", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("wrong content type", control(ControlKind::Ready, &[b"protobuf:other"])),
        ("data before start", data(b"xyz")),
        ("oversize frame", [control(ControlKind::Start, &[CT]), data(&[1; 1001])].concat()),
        ("disconnect mid-frame", [control(ControlKind::Start, &[CT]), vec![0, 0, 0, 50, 1, 2, 3]].concat()),
        ("silent peer", Vec::new()),
    ];
    for (what, bytes) in &hostile {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{what}: {e}"));
        s.write_all(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        if *what == "silent peer" {
            // The handshake timeout closes it; the read sees EOF (or a reset).
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut b = [0u8; 16];
            assert!(matches!(s.read(&mut b), Ok(0) | Err(_)), "{what}");
        }
    }
    drop(hostile);
    // A peer trickling its READY one octet per 50 ms (2.1 s in all) meets the 300 ms deadline.
    let mut slow = TcpStream::connect(addr).unwrap_or_else(|e| panic!("trickle: {e}"));
    let t = Instant::now();
    for b in control(ControlKind::Ready, &[CT]) {
        if slow.write_all(&[b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if h.stats().error_total() == 7 {
            break;
        }
    }
    wait_for("seven errors", || h.stats().error_total() == 7);
    assert!(t.elapsed() < Duration::from_millis(1500), "trickling peer held on for {:?}", t.elapsed());
    good.send(b"second").unwrap_or_else(|e| panic!("{e}"));
    good.finish().unwrap_or_else(|e| panic!("finish: {e}"));
    wait_for("the good connection to end", || h.stats().stopped == 1);
    assert_eq!(frames_of(&got, 1), vec![b"first".to_vec(), b"second".to_vec()]);
    let h_errors = h.recent_errors();
    let stats = h.stop();
    let mut errors = stats.errors.clone();
    errors.sort();
    // The HTTP request's first four octets read as a frame length of 1,195,725,856.
    assert_eq!(
        errors,
        vec![("oversize", 2), ("timeout", 2), ("truncated", 1), ("unexpected_control", 1), ("wrong_content_type", 1)]
    );
    let recent = h_errors.iter().map(|e| (e.info.id, e.error.as_str())).collect::<Vec<_>>();
    assert!(
        recent.contains(&(2, "frame streams error at byte 0: data frame of 1195725856 octets is over the cap of 1000")),
        "{recent:?}"
    );
    assert!(recent.contains(&(7, "frame streams error at byte 0: timed out waiting for the peer")), "{recent:?}");
    assert_eq!((stats.accepted, stats.rejected, stats.active, stats.frames, stats.bytes), (8, 0, 0, 2, 11));
}

#[test]
fn listener_over_unix_socket_with_cap_stop_and_unidirectional_sender() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("tap.sock");
    // Something that is not a socket is never removed.
    std::fs::write(&path, b"keep").unwrap_or_else(|e| panic!("{e}"));
    assert!(Listener::bind(&Endpoint::Unix(path.clone()), ListenerConfig::default()).is_err());
    assert_eq!(std::fs::read(&path).ok(), Some(b"keep".to_vec()));
    std::fs::remove_file(&path).ok();
    // A stale socket is.
    drop(std::os::unix::net::UnixListener::bind(&path));
    let cfg = ListenerConfig { max_connections: 2, ..Default::default() };
    let (h, got) = spawn_listener(&Endpoint::Unix(path.clone()), cfg);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode, Some(0o660));
    }
    // A second listener on a live socket is refused (its probe is connection 1, which ends
    // before a handshake: one error).
    assert!(Listener::bind(&Endpoint::Unix(path.clone()), ListenerConfig::default()).is_err());
    wait_for("the probe's error", || h.stats().error_total() == 1);

    // Unidirectional sender: START, frames, STOP, no FINISH expected.
    let mut uni = UnixStream::connect(&path).unwrap_or_else(|e| panic!("{e}"));
    uni.write_all(&file_bytes(&payloads(5))).unwrap_or_else(|e| panic!("{e}"));
    wait_for("unidirectional stream", || h.stats().stopped == 1);
    assert_eq!(frames_of(&got, 2), payloads(5));

    // A bidirectional sender that closes right after STOP, without reading FINISH, has still
    // ended its stream cleanly.
    let mut quick = UnixStream::connect(&path).unwrap_or_else(|e| panic!("{e}"));
    quick.write_all(&control(ControlKind::Ready, &[CT])).unwrap_or_else(|e| panic!("{e}"));
    let mut accept = [0u8; 42];
    quick.read_exact(&mut accept).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(accept.to_vec(), control(ControlKind::Accept, &[CT]));
    let stream = [control(ControlKind::Start, &[CT]), data(b"one"), control(ControlKind::Stop, &[])].concat();
    quick.write_all(&stream).unwrap_or_else(|e| panic!("{e}"));
    drop(quick);
    wait_for("the quick sender", || h.stats().stopped == 2);
    assert_eq!(frames_of(&got, 3), vec![b"one".to_vec()]);

    // Two idle bidirectional senders fill the cap; a third is closed at once.
    let a = Sender::connect(UnixStream::connect(&path).unwrap_or_else(|e| panic!("{e}")), CT);
    let b = Sender::connect(UnixStream::connect(&path).unwrap_or_else(|e| panic!("{e}")), CT);
    assert!(a.is_ok() && b.is_ok());
    wait_for("two open connections", || h.stats().active == 2);
    assert_eq!(h.connections().iter().map(|c| c.info.peer.as_str()).collect::<Vec<_>>(), vec!["unix", "unix"]);
    let c = Sender::connect(UnixStream::connect(&path).unwrap_or_else(|e| panic!("{e}")), CT);
    assert!(c.is_err());
    wait_for("a rejection", || h.stats().rejected == 1);
    // Stop unblocks the idle connections and removes the socket file.
    let t = Instant::now();
    let stats = h.stop();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!((stats.accepted, stats.rejected, stats.active, stats.stopped, stats.error_total()), (5, 1, 0, 2, 1));
    assert!(!path.exists());
}

// ---------------------------------------------------------------- interop with Debian tools

/// The path of a Debian tool; panics naming the package when it is missing.
fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found: install the Debian package `{package}` (apt-get install -y {package})");
}

/// Kills a started process by PID on drop (SIGINT first so it can finish its output).
struct Proc(Child);
impl Proc {
    fn interrupt_and_wait(&mut self) {
        // SAFETY: kill(2) with our own child's PID and a valid signal number has no memory effects.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, libc::SIGINT);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A DNS response `example.com. 300 IN A 192.0.2.1` (RFC 1035 §4.1 layout, written by hand).
fn dns_response() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);
    m
}

fn dnstap_frame(i: u32) -> Vec<u8> {
    Dnstap {
        identity: Some(b"interop".to_vec()),
        version: None,
        extra: None,
        r#type: dnstap::Type::Message as i32,
        message: Some(Message {
            r#type: message::Type::ClientResponse as i32,
            socket_family: Some(SocketFamily::Inet as i32),
            socket_protocol: Some(SocketProtocol::Udp as i32),
            query_address: Some(vec![192, 0, 2, 99]),
            query_port: Some(40000 + i),
            query_time_sec: Some(1_700_000_000),
            query_time_nsec: Some(0),
            response_time_sec: Some(1_700_000_000 + u64::from(i)),
            response_time_nsec: Some(500),
            response_message: Some(dns_response()),
            ..Message::default()
        }),
    }
    .encode_to_vec()
}

#[test]
fn interop_fstrm_capture_receives_from_our_sender() {
    let capture = tool("fstrm_capture", "fstrm-bin");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sock = dir.path().join("cap.sock");
    let out = dir.path().join("cap.fstrm");
    let child = Command::new(capture)
        .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
        .arg(&sock)
        .arg("-w")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting fstrm_capture: {e}"));
    let mut proc = Proc(child);
    wait_for("fstrm_capture's socket", || sock.exists());
    let frames: Vec<Vec<u8>> = (0..100).map(dnstap_frame).collect();
    let stream = UnixStream::connect(&sock).unwrap_or_else(|e| panic!("{e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut s = Sender::connect(stream, CT).unwrap_or_else(|e| panic!("handshake with fstrm_capture: {e}"));
    for f in &frames {
        s.send(f).unwrap_or_else(|e| panic!("{e}"));
    }
    s.finish().unwrap_or_else(|e| panic!("STOP/FINISH with fstrm_capture: {e}"));
    proc.interrupt_and_wait();
    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    assert_eq!(read_all(Cursor::new(bytes)), Ok((frames, true)));
}

#[test]
fn interop_fstrm_replay_sends_to_our_listener() {
    let replay = tool("fstrm_replay", "fstrm-bin");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sock = dir.path().join("rx.sock");
    let file = dir.path().join("in.fstrm");
    let frames: Vec<Vec<u8>> = (0..300).map(dnstap_frame).collect();
    std::fs::write(&file, file_bytes(&frames)).unwrap_or_else(|e| panic!("{e}"));
    let (h, got) = spawn_listener(&Endpoint::Unix(sock.clone()), ListenerConfig::default());
    let status = Command::new(replay)
        .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
        .arg(&sock)
        .arg("-r")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running fstrm_replay: {e}"));
    assert!(status.success(), "fstrm_replay failed: {status}");
    wait_for("fstrm_replay's stream", || h.stats().stopped == 1);
    let stats = h.stop();
    assert_eq!(frames_of(&got, 1), frames);
    assert_eq!((stats.error_total(), stats.frames), (0, 300));
}

#[test]
fn interop_dnstap_ldns_reads_our_file() {
    let ldns = tool("dnstap-ldns", "dnstap-ldns");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("out.dnstap");
    std::fs::write(&file, file_bytes(&[dnstap_frame(1), dnstap_frame(2)])).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(ldns).arg("-r").arg(&file).arg("-y").output().unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "dnstap-ldns failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("type: MESSAGE").count(), 2, "{text}");
    assert_eq!(text.matches("type: CLIENT_RESPONSE").count(), 2, "{text}");
    assert!(text.contains("identity: \"interop\""), "{text}");
    assert!(text.contains("query_address: \"192.0.2.99\""), "{text}");
    assert!(text.contains("response_time: !!timestamp 2023-11-14 22:13:22.000000"), "{text}");
    assert!(text.contains("query_port: 40002"), "{text}");
    assert!(text.contains("example.com.\t300\tIN\tA\t192.0.2.1"), "{text}");
}

/// A peer held in memory: reads trickle out `chunk` octets at a time with an interrupted read
/// every third call; writes are kept.
struct Trickle {
    input: Vec<u8>,
    pos: usize,
    chunk: usize,
    reads: usize,
    written: Vec<u8>,
}

impl Trickle {
    fn new(input: Vec<u8>, chunk: usize) -> Trickle {
        Trickle { input, pos: 0, chunk, reads: 0, written: Vec::new() }
    }

    /// The control frames we wrote back (which must be all we wrote).
    fn replies(&self) -> Vec<ControlKind> {
        let mut out = Vec::new();
        let mut w = self.written.as_slice();
        while !w.is_empty() {
            match next_frame(w) {
                Ok(Some((Frame::Control(c), used))) => {
                    out.push(c.kind);
                    w = w.get(used..).unwrap_or_default();
                }
                other => panic!("wrote something other than a control frame: {other:?}"),
            }
        }
        out
    }
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        if self.reads.is_multiple_of(3) {
            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "signal"));
        }
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The receiver's side of the handshake against hostile peers (the `dnstap_handshake` fuzz
/// target's seeds from bench/gen_hostile.py): it answers exactly what the protocol says (one
/// ACCEPT after READY, nothing after a bare START, FINISH after STOP on a bidirectional
/// connection) and turns every malformed or out-of-place frame into an error, at any read size.
#[test]
fn receiver_answers_hostile_peers_by_the_protocol() {
    let ready = control(ControlKind::Ready, &[CT]);
    let start = control(ControlKind::Start, &[CT]);
    let stop = control(ControlKind::Stop, &[]);
    let mut huge_control = vec![0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 4];
    huge_control.resize(8 + 513, 0);
    // READY with a 300-octet content type (the encoder refuses to write one: built by hand)
    let mut long_ct = vec![0, 0, 0, 0, 0, 0, 1, 56, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 1, 44];
    long_ct.resize(long_ct.len() + 300, b'z');
    long_ct.extend_from_slice(&start);
    type Case = (&'static str, Vec<u8>, Result<Handshake, &'static str>, usize, Vec<ControlKind>);
    let cases: Vec<Case> = vec![
        (
            "bidirectional",
            [ready.clone(), start.clone(), data(b"x"), stop.clone()].concat(),
            Ok(Handshake::Bidirectional),
            1,
            vec![ControlKind::Accept, ControlKind::Finish],
        ),
        (
            "unidirectional",
            [start.clone(), data(b"x"), stop.clone()].concat(),
            Ok(Handshake::Unidirectional),
            1,
            vec![],
        ),
        (
            "no content type",
            [control(ControlKind::Ready, &[]), start.clone(), stop.clone()].concat(),
            Ok(Handshake::Bidirectional),
            0,
            vec![ControlKind::Accept, ControlKind::Finish],
        ),
        (
            "wrong content type",
            [control(ControlKind::Ready, &[b"protobuf:other"]), start.clone()].concat(),
            Err("wrong_content_type"),
            0,
            vec![],
        ),
        ("content type over 256", long_ct, Err("bad_control"), 0, vec![]),
        ("control frame over 512", huge_control, Err("bad_control"), 0, vec![]),
        ("data first", [data(b"x"), start.clone()].concat(), Err("unexpected_control"), 0, vec![]),
        (
            "READY twice",
            [ready.clone(), ready.clone(), start.clone()].concat(),
            Err("unexpected_control"),
            0,
            vec![ControlKind::Accept],
        ),
        (
            "oversized data frame",
            [start.clone(), vec![0xff, 0xff, 0xff, 0xff], data(b"x")].concat(),
            Ok(Handshake::Unidirectional),
            0,
            vec![],
        ),
        (
            "end inside a frame",
            [ready.clone(), start.clone(), vec![0, 0, 0, 40, 1, 2]].concat(),
            Ok(Handshake::Bidirectional),
            0,
            vec![ControlKind::Accept],
        ),
        (
            "FINISH from the sender",
            [ready.clone(), start.clone(), control(ControlKind::Finish, &[])].concat(),
            Ok(Handshake::Bidirectional),
            0,
            vec![ControlKind::Accept],
        ),
    ];
    for chunk in [1, 5, 4096] {
        for (what, bytes, hs, frames, replies) in &cases {
            let mut peer = Trickle::new(bytes.clone(), chunk);
            let mut rx = Receiver::new(CT, DEFAULT_MAX_FRAME);
            let got = rx.handshake(&mut peer);
            assert_eq!(got.as_ref().map_err(|e| e.kind.as_str()), hs.as_ref().map_err(|e| *e), "{what}, chunk {chunk}");
            let mut n = 0;
            if got.is_ok() {
                while let Ok(Some(_)) = rx.next_payload(&mut peer) {
                    n += 1;
                }
            }
            assert_eq!(n, *frames, "{what}, chunk {chunk}");
            assert_eq!(&peer.replies(), replies, "{what}, chunk {chunk}");
        }
    }
}

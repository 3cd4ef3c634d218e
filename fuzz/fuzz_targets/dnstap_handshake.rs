//! Fuzzes the Frame Streams socket handshake and data phase as the dnstap listener runs them
//! (`Receiver`: READY → ACCEPT → START, or a bare START, then data frames until STOP →
//! FINISH), the sending side (`Sender`: READY, ACCEPT expected, START … STOP, FINISH
//! expected), and the unidirectional file `Reader`, on arbitrary peer bytes delivered in
//! fuzzed chunk sizes with interrupted reads and optionally failing writes. Data frames are
//! decoded as dnstap messages, as the collector does.
//!
//! Checks: no panic; what the receiver writes back is exactly the protocol's answer (one
//! ACCEPT naming our content type after READY, nothing after a bare START, FINISH after STOP
//! on a bidirectional connection, nothing else); payloads respect the frame cap; offsets never
//! pass the input.
#![no_main]

use std::io::{self, Read, Write};

use dnsledger_dnstap::{
    next_frame, ControlKind, DnstapView, Frame, Handshake, Reader, ReaderOptions, Receiver, Sender, DNSTAP_CONTENT_TYPE,
};
use libfuzzer_sys::fuzz_target;

/// The peer: reads come from the input in chunks, writes are collected (or fail).
struct Peer<'a> {
    input: &'a [u8],
    pos: usize,
    chunk: usize,
    reads: usize,
    interrupt_every: usize,
    fail_writes: bool,
    written: Vec<u8>,
}

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.interrupt_every > 0 && self.reads % self.interrupt_every == 0 {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let rest = self.input.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Peer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.fail_writes {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "peer went away"));
        }
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The control frames in `out`, which must hold nothing else.
fn controls(mut out: &[u8]) -> Vec<(ControlKind, Vec<Vec<u8>>)> {
    let mut v = Vec::new();
    while !out.is_empty() {
        match next_frame(out) {
            Ok(Some((Frame::Control(c), used))) => {
                v.push((c.kind, c.content_types().map(<[u8]>::to_vec).collect()));
                out = &out[used..];
            }
            other => panic!("we wrote something that is not a control frame: {other:?}"),
        }
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&opt, input)) = data.split_first() else { return };
    let chunk = [1, 2, 5, 13, 64, 512, 4096, 1 << 20][usize::from(opt & 7)];
    let max_frame = if opt & 8 != 0 { 64 } else { dnsledger_dnstap::DEFAULT_MAX_FRAME };
    let mut peer = Peer {
        input,
        pos: 0,
        chunk,
        reads: 0,
        interrupt_every: usize::from((opt >> 4) & 3) * 3,
        fail_writes: opt & 0x40 != 0,
        written: Vec::new(),
    };
    match opt >> 7 {
        0 => {
            let mut rx = Receiver::new(DNSTAP_CONTENT_TYPE, max_frame);
            let hs = rx.handshake(&mut peer);
            let after_handshake = controls(&peer.written);
            match &hs {
                Ok(Handshake::Bidirectional) => {
                    assert_eq!(after_handshake, vec![(ControlKind::Accept, vec![DNSTAP_CONTENT_TYPE.to_vec()])]);
                }
                Ok(Handshake::Unidirectional) => assert!(after_handshake.is_empty()),
                Err(_) => assert!(after_handshake.len() <= 1),
            }
            let mut frames = 0usize;
            if hs.is_ok() {
                while let Ok(Some(p)) = rx.next_payload(&mut peer) {
                    assert!(p.len() <= max_frame && !p.is_empty());
                    if let Ok(view) = DnstapView::decode(p) {
                        let _ = format!("{view:?}");
                    }
                    frames += 1;
                    assert!(frames <= input.len() / 4, "{frames} frames from {} octets", input.len());
                }
                let all = controls(&peer.written);
                let finish = all.iter().filter(|(k, _)| *k == ControlKind::Finish).count();
                let expect_finish = rx.stopped() && matches!(hs, Ok(Handshake::Bidirectional)) && !peer.fail_writes;
                assert_eq!(finish, usize::from(expect_finish), "FINISH exactly after STOP: {all:?}");
            }
            assert!(rx.offset() <= input.len() as u64);
        }
        _ => {
            if opt & 0x20 != 0 {
                // the unidirectional file reader
                let opts = ReaderOptions { max_frame, ..ReaderOptions::default() };
                if let Ok(mut r) = Reader::with_options(&mut peer, opts) {
                    let mut n = 0;
                    while let Ok(Some(p)) = r.next_payload() {
                        assert!(p.len() <= max_frame);
                        n += 1;
                        assert!(n <= input.len() / 4);
                    }
                    assert!(r.offset() <= input.len() as u64);
                }
                return;
            }
            // the sending side: our READY, then whatever the peer answers
            if let Ok(mut tx) = Sender::connect(&mut peer, DNSTAP_CONTENT_TYPE) {
                let _ = tx.send(b"\x0a\x00");
                let _ = tx.finish();
            }
            if !peer.fail_writes {
                let mut w = peer.written.as_slice();
                // our own frames: READY, maybe START, a data frame, STOP
                while let Ok(Some((_f, used))) = next_frame(w) {
                    w = &w[used..];
                }
                assert!(w.is_empty(), "the sender wrote a partial frame");
            }
        }
    }
});

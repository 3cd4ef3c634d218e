//! Fuzzes capture files end to end in memory: pcap/pcapng bytes → frames (read both as an
//! in-memory file, the path mapped files take, and as a stream delivered in small chunks, the
//! path pipes and stdin take) → the sensor worker (link/IP/UDP/TCP decoding, defragmentation,
//! reassembly, query/response matching, extraction, the deduplication cache).
//!
//! Checks: no panic; both readers deliver the same frames and agree on success or failure;
//! every frame delivered lies inside the input; the worker's counters add up.
//!
//! Input: one byte of options (stream chunk size, `require_query`, negative answers), then the
//! capture file.
#![no_main]

use std::io::Read;

use dnsledger_capture::FileSource;
use dnsledger_sensor::worker::Worker;
use dnsledger_sensor::SensorOptions;
use libfuzzer_sys::fuzz_target;

/// Hands out the input a few octets at a time, as a pipe might.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

type FrameSig = (u64, i64, u32, Vec<u8>, u32);

fn frames(src: &mut FileSource) -> (Vec<FrameSig>, Result<dnsledger_capture::FileSummary, String>) {
    let mut out = Vec::new();
    let res = src.for_each(&mut |p| out.push((p.index, p.ts, p.linktype.to_dlt(), p.data.to_vec(), p.orig_len)));
    (out, res.map_err(|e| e.to_string()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&opt, file)) = data.split_first() else { return };
    let chunk = [1, 3, 7, 64, 1000, 4096, 65536, usize::MAX][usize::from(opt & 7)];
    let (mem_frames, mem_res) = frames(&mut FileSource::from_bytes(file.to_vec(), "fuzz".into()));
    let reader = Chunked { data: file.to_vec(), pos: 0, chunk };
    let (stream_frames, stream_res) = frames(&mut FileSource::from_reader(Box::new(reader), "fuzz".into()).unwrap());
    assert_eq!(mem_frames, stream_frames, "in-memory and streamed reading deliver the same frames");
    assert_eq!(mem_res.is_ok(), stream_res.is_ok(), "{mem_res:?} vs {stream_res:?}");
    if let (Ok(a), Ok(b)) = (&mem_res, &stream_res) {
        assert_eq!(a, b);
        assert_eq!(a.frames, mem_frames.len() as u64);
    }
    let mut total = 0usize;
    for (i, f) in mem_frames.iter().enumerate() {
        assert_eq!(f.0, i as u64 + 1, "frames are numbered from 1");
        total += f.3.len();
    }
    assert!(total <= file.len(), "frames come from the input");

    let opts = SensorOptions {
        require_query: opt & 8 != 0,
        extract: dnsledger_wire::ExtractOptions { negative: opt & 16 != 0, ..Default::default() },
        ..SensorOptions::default()
    };
    let mut batches = 0usize;
    let mut send = |_b| batches += 1;
    let mut worker = Worker::new(&opts, None, &mut send);
    let mut src = FileSource::from_bytes(file.to_vec(), "fuzz".into());
    let _ = src.for_each(&mut |p| worker.frame(p));
    let (ws, ds, _ms) = worker.finish();
    assert_eq!(ds.frames, mem_frames.len() as u64, "every frame reaches the decoder");
    let _ = ws;
});

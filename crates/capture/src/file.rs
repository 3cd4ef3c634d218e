//! pcap and pcapng files: memory-mapped regular files, streamed pipes and stdin.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memmap2::Mmap;

use crate::{CaptureError, LinkType, Micros, Packet};

/// Largest pcapng block or legacy pcap record accepted; bounds the streaming buffer.
const MAX_BLOCK: usize = 64 << 20;
/// Snapshot length assumed when a legacy header says 0 (libpcap's maximum).
const MAX_SNAPLEN: u32 = 262_144;
/// Initial streaming buffer size.
const STREAM_BUF: usize = 1 << 20;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

/// Container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Legacy libpcap format (microsecond or nanosecond magic).
    Pcap,
    /// pcapng.
    PcapNg,
}

/// What [`FileSource::for_each`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Detected format; `None` for an empty input.
    pub format: Option<FileFormat>,
    /// Frames delivered.
    pub frames: u64,
    /// Captured bytes delivered.
    pub bytes: u64,
    /// pcapng blocks skipped (name resolution, statistics, custom, unknown).
    pub skipped_blocks: u64,
}

enum Input {
    Empty,
    Mapped(Mmap),
    Bytes(Vec<u8>),
    Stream(Box<dyn Read + Send>),
    Consumed,
}

/// Reads pcap and pcapng files (memory-mapped), or a stream (stdin, pipes) with constant memory.
pub struct FileSource {
    name: String,
    input: Input,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource").field("name", &self.name).finish_non_exhaustive()
    }
}

impl FileSource {
    /// Opens a capture: regular files are memory-mapped, anything else (FIFOs, devices) is streamed.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let name = path.display().to_string();
        let io_err = |source| CaptureError::Io { name: name.clone(), source };
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Ok(FileSource { name, input: Input::Stream(Box::new(file)) });
        }
        if meta.len() == 0 {
            return Ok(FileSource { name, input: Input::Empty });
        }
        // SAFETY: the mapping is read-only and private to this process. If another process truncates the
        // file while it is mapped, reads past the new end fault (SIGBUS); that is the accepted cost of
        // zero-copy reading and the same contract as every mmap-based capture reader.
        let map = unsafe { Mmap::map(&file) }.map_err(io_err)?;
        #[cfg(unix)]
        {
            // Only a hint; failure is harmless.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        Ok(FileSource { name, input: Input::Mapped(map) })
    }

    /// Reads a capture from a stream (stdin, a pipe, a decompressor) through one reusable buffer.
    pub fn from_reader(r: Box<dyn Read + Send>, name: String) -> Result<FileSource, CaptureError> {
        Ok(FileSource { name, input: Input::Stream(r) })
    }

    /// Reads a capture already held in memory (e.g. decompressed, or built by a test); frames are
    /// borrowed from `data` as from a mapped file, so it can be read again.
    pub fn from_bytes(data: Vec<u8>, name: String) -> FileSource {
        let input = if data.is_empty() { Input::Empty } else { Input::Bytes(data) };
        FileSource { name, input }
    }

    /// Name used in error messages (the path, or the name given to [`FileSource::from_reader`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `f` for each frame in order; returns a summary. A truncated or corrupt file stops reading with
    /// an error that says which file, frame number and byte offset and why, after delivering all frames
    /// before it. A mapped file can be read again; a stream is consumed by the first call.
    pub fn for_each(&mut self, f: &mut dyn FnMut(&Packet<'_>)) -> Result<FileSummary, CaptureError> {
        let mut parser = Parser::new(self.name.clone());
        match &mut self.input {
            Input::Empty | Input::Consumed => Ok(FileSummary::default()),
            Input::Mapped(map) => {
                let map: &Mmap = map;
                run_slice(&mut parser, map, &mut |done| release(map, done), f)
            }
            Input::Bytes(data) => run_slice(&mut parser, data, &mut |_| {}, f),
            Input::Stream(_) => {
                let Input::Stream(mut r) = std::mem::replace(&mut self.input, Input::Consumed) else {
                    return Ok(FileSummary::default());
                };
                run_stream(&mut parser, &mut *r, f)
            }
        }
    }
}

/// Bytes of a mapped file read between two releases of the pages already read.
const RELEASE_EVERY: usize = 32 << 20;

/// Drops the pages of `map` before `done` from this process's resident set (the page cache
/// keeps them), so reading a multi-gigabyte capture costs no more resident memory than a
/// small one. Frames are only lent to the callback while it runs, so no reference into the
/// released range can outlive this.
fn release(map: &Mmap, done: usize) {
    #[cfg(unix)]
    {
        let len = done & !(4096 - 1);
        if len > 0 {
            // SAFETY: the mapping is private and read-only, so MADV_DONTNEED discards nothing that
            // cannot be faulted in again from the file, and no borrow of the range is alive here.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
        }
    }
    #[cfg(not(unix))]
    let _ = (map, done);
}

fn run_slice(
    parser: &mut Parser,
    data: &[u8],
    release: &mut dyn FnMut(usize),
    f: &mut dyn FnMut(&Packet<'_>),
) -> Result<FileSummary, CaptureError> {
    let mut pos = 0usize;
    let mut released = 0usize;
    loop {
        if pos - released >= RELEASE_EVERY {
            release(pos);
            released = pos;
        }
        let rest = data.get(pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(parser.summary());
        }
        match parser.step(rest, pos as u64)? {
            (Step::Frame(p), n) => {
                f(&p);
                pos += n;
            }
            (Step::Skip, n) => pos += n,
            (Step::NeedMore(need), _) => return Err(parser.truncated(pos as u64, need, rest.len())),
        }
    }
}

fn run_stream(
    parser: &mut Parser,
    r: &mut dyn Read,
    f: &mut dyn FnMut(&Packet<'_>),
) -> Result<FileSummary, CaptureError> {
    let mut buf = vec![0u8; STREAM_BUF];
    let (mut start, mut end, mut base) = (0usize, 0usize, 0u64);
    let mut eof = false;
    loop {
        let rest = buf.get(start..end).unwrap_or(&[]);
        if rest.is_empty() && eof {
            return Ok(parser.summary());
        }
        match parser.step(rest, base + start as u64)? {
            (Step::Frame(p), n) => {
                f(&p);
                start += n;
            }
            (Step::Skip, n) => start += n,
            (Step::NeedMore(need), _) => {
                if eof {
                    return Err(parser.truncated(base + start as u64, need, rest.len()));
                }
                if need <= rest.len() {
                    return Err(parser.corrupt(base + start as u64, "internal: parser stalled".into()));
                }
                buf.copy_within(start..end, 0);
                end -= start;
                base += start as u64;
                start = 0;
                if need > buf.len() {
                    buf.resize(need, 0);
                }
                while end < need {
                    let Some(space) = buf.get_mut(end..) else { break };
                    match r.read(space) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => end += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(source) => return Err(CaptureError::Io { name: parser.name.clone(), source }),
                    }
                }
            }
        }
    }
}

/// Timestamp unit conversion of one pcapng interface.
#[derive(Debug, Clone, Copy)]
enum TsScale {
    Mul(u64),
    Div(u64),
    Shift(u32),
    Zero,
}

impl TsScale {
    fn from_tsresol(b: u8) -> TsScale {
        let n = u32::from(b & 0x7f);
        if b & 0x80 != 0 {
            return if n <= 64 { TsScale::Shift(n) } else { TsScale::Zero };
        }
        match n {
            0..=6 => TsScale::Mul(10u64.pow(6 - n)),
            7..=25 => TsScale::Div(10u64.pow(n - 6)),
            _ => TsScale::Zero,
        }
    }

    fn micros(self, units: u64) -> i64 {
        let v = match self {
            TsScale::Mul(m) => units.saturating_mul(m),
            TsScale::Div(d) => units / d,
            TsScale::Shift(n) => ((u128::from(units) * 1_000_000) >> n).min(u128::from(u64::MAX)) as u64,
            TsScale::Zero => 0,
        };
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: LinkType,
    snaplen: u32,
    scale: TsScale,
    offset_us: i64,
}

enum State {
    Start,
    Pcap { be: bool, nanos: bool, linktype: LinkType, snaplen: u32 },
    PcapNg { be: bool, ifaces: Vec<Iface> },
}

enum Step<'a> {
    Frame(Packet<'a>),
    Skip,
    NeedMore(usize),
}

struct Parser {
    name: String,
    state: State,
    /// Frames delivered so far; the next frame is `frames + 1`.
    frames: u64,
    bytes: u64,
    skipped_blocks: u64,
    last_ts: Micros,
}

#[inline]
fn rd16(buf: &[u8], at: usize, be: bool) -> Option<u16> {
    let b: [u8; 2] = buf.get(at..at + 2)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
}

#[inline]
fn rd32(buf: &[u8], at: usize, be: bool) -> Option<u32> {
    let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
}

impl Parser {
    fn new(name: String) -> Parser {
        Parser { name, state: State::Start, frames: 0, bytes: 0, skipped_blocks: 0, last_ts: 0 }
    }

    fn summary(&self) -> FileSummary {
        let format = match self.state {
            State::Start => None,
            State::Pcap { .. } => Some(FileFormat::Pcap),
            State::PcapNg { .. } => Some(FileFormat::PcapNg),
        };
        FileSummary { format, frames: self.frames, bytes: self.bytes, skipped_blocks: self.skipped_blocks }
    }

    fn corrupt(&self, offset: u64, reason: String) -> CaptureError {
        CaptureError::Corrupt { name: self.name.clone(), frame: self.frames + 1, offset, reason }
    }

    fn truncated(&self, offset: u64, need: usize, have: usize) -> CaptureError {
        let what = match self.state {
            State::Start => "file header",
            State::Pcap { .. } => "record",
            State::PcapNg { .. } => "block",
        };
        self.corrupt(offset, format!("input ends inside a {what} (needs {need} bytes, {have} left)"))
    }

    fn deliver<'a>(&mut self, ts: Micros, linktype: LinkType, data: &'a [u8], orig_len: u32) -> Step<'a> {
        self.frames += 1;
        self.bytes += data.len() as u64;
        self.last_ts = ts;
        Step::Frame(Packet { index: self.frames, ts, linktype, data, orig_len })
    }

    /// Parses one header, record or block at the start of `buf` (which starts at input byte `offset`).
    fn step<'a>(&mut self, buf: &'a [u8], offset: u64) -> Result<(Step<'a>, usize), CaptureError> {
        match self.state {
            State::Start => self.header(buf, offset),
            State::Pcap { be, nanos, linktype, snaplen } => {
                let (Some(sec), Some(frac), Some(caplen), Some(orig_len)) =
                    (rd32(buf, 0, be), rd32(buf, 4, be), rd32(buf, 8, be), rd32(buf, 12, be))
                else {
                    return Ok((Step::NeedMore(16), 0));
                };
                if caplen > snaplen {
                    let reason = format!("captured length {caplen} exceeds the snapshot length {snaplen}");
                    return Err(self.corrupt(offset, reason));
                }
                if caplen as usize > MAX_BLOCK {
                    // The header's snapshot length is not bounded by itself: without this, a
                    // stream would grow its buffer to whatever a record claims (up to 4 GiB).
                    let reason = format!("captured length {caplen} is over the limit of {MAX_BLOCK} octets");
                    return Err(self.corrupt(offset, reason));
                }
                let total = 16 + caplen as usize;
                let Some(data) = buf.get(16..total) else { return Ok((Step::NeedMore(total), 0)) };
                let frac = if nanos { frac / 1000 } else { frac };
                let ts = i64::from(sec) * 1_000_000 + i64::from(frac);
                Ok((self.deliver(ts, linktype, data, orig_len), total))
            }
            State::PcapNg { .. } => self.block(buf, offset),
        }
    }

    fn header<'a>(&mut self, buf: &'a [u8], offset: u64) -> Result<(Step<'a>, usize), CaptureError> {
        let Some(magic) = rd32(buf, 0, false) else { return Ok((Step::NeedMore(4), 0)) };
        let (be, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            SHB => {
                self.state = State::PcapNg { be: false, ifaces: Vec::new() };
                return self.block(buf, offset);
            }
            _ => {
                let head: Vec<String> = buf.iter().take(4).map(|b| format!("{b:02x}")).collect();
                let hint = match buf {
                    [0x1f, 0x8b, ..] => " (gzip-compressed; decompress it first)",
                    [0x28, 0xb5, 0x2f, 0xfd, ..] => " (zstd-compressed; decompress it first)",
                    _ => "",
                };
                let reason = format!("unknown magic {}{hint}", head.join(" "));
                return Err(CaptureError::NotCapture { name: self.name.clone(), reason });
            }
        };
        let (Some(snaplen), Some(network)) = (rd32(buf, 16, be), rd32(buf, 20, be)) else {
            return Ok((Step::NeedMore(24), 0));
        };
        let snaplen = if snaplen == 0 { MAX_SNAPLEN } else { snaplen };
        let linktype = LinkType::from_dlt(network & 0xffff);
        self.state = State::Pcap { be, nanos, linktype, snaplen };
        Ok((Step::Skip, 24))
    }

    fn block<'a>(&mut self, buf: &'a [u8], offset: u64) -> Result<(Step<'a>, usize), CaptureError> {
        let State::PcapNg { be, .. } = self.state else { return Err(self.corrupt(offset, "internal state".into())) };
        let (Some(btype_le), Some(_)) = (rd32(buf, 0, false), rd32(buf, 8, false)) else {
            return Ok((Step::NeedMore(12), 0));
        };
        let mut be = be;
        if btype_le == SHB {
            be = match buf.get(8..12) {
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                _ => return Err(self.corrupt(offset, "section header with a bad byte-order magic".into())),
            };
        }
        let btype = rd32(buf, 0, be).unwrap_or(0);
        let blen = rd32(buf, 4, be).unwrap_or(0) as usize;
        if blen < 12 || !blen.is_multiple_of(4) || blen > MAX_BLOCK {
            return Err(self.corrupt(offset, format!("bad block length {blen} (block type {btype:#x})")));
        }
        let Some(block) = buf.get(..blen) else { return Ok((Step::NeedMore(blen), 0)) };
        if rd32(block, blen - 4, be) != Some(blen as u32) {
            return Err(self.corrupt(offset, format!("block length {blen} does not match its trailer")));
        }
        let body = block.get(8..blen - 4).unwrap_or(&[]);
        let short = |p: &Parser| p.corrupt(offset, format!("block type {btype:#x} too short ({blen} bytes)"));
        match btype {
            SHB => {
                let major = rd16(body, 4, be).ok_or_else(|| short(self))?;
                if body.len() < 16 {
                    return Err(short(self));
                }
                if major != 1 {
                    return Err(self.corrupt(offset, format!("unsupported pcapng major version {major}")));
                }
                self.state = State::PcapNg { be, ifaces: Vec::new() };
                Ok((Step::Skip, blen))
            }
            IDB => {
                let (Some(lt), Some(snaplen)) = (rd16(body, 0, be), rd32(body, 4, be)) else {
                    return Err(short(self));
                };
                let mut iface = Iface {
                    linktype: LinkType::from_dlt(u32::from(lt)),
                    snaplen,
                    scale: TsScale::Mul(1),
                    offset_us: 0,
                };
                let mut opts = body.get(8..).unwrap_or(&[]);
                while let (Some(code), Some(len)) = (rd16(opts, 0, be), rd16(opts, 2, be)) {
                    let len = usize::from(len);
                    let Some(val) = opts.get(4..4 + len) else { break };
                    match (code, val) {
                        (0, _) => break,
                        (9, [b]) => iface.scale = TsScale::from_tsresol(*b),
                        (14, v) if v.len() == 8 => {
                            let secs = rd32(v, 0, be).zip(rd32(v, 4, be)).map(|(a, b)| {
                                if be {
                                    (u64::from(a) << 32 | u64::from(b)) as i64
                                } else {
                                    (u64::from(b) << 32 | u64::from(a)) as i64
                                }
                            });
                            iface.offset_us = secs.unwrap_or(0).saturating_mul(1_000_000);
                        }
                        _ => {}
                    }
                    opts = opts.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
                }
                if let State::PcapNg { ifaces, .. } = &mut self.state {
                    if ifaces.len() >= 65_536 {
                        return Err(self.corrupt(offset, "more than 65536 interfaces in one section".into()));
                    }
                    ifaces.push(iface);
                }
                Ok((Step::Skip, blen))
            }
            EPB | OPB => {
                let (Some(id), Some(hi), Some(lo), Some(caplen), Some(orig_len)) = (
                    if btype == EPB { rd32(body, 0, be) } else { rd16(body, 0, be).map(u32::from) },
                    rd32(body, 4, be),
                    rd32(body, 8, be),
                    rd32(body, 12, be),
                    rd32(body, 16, be),
                ) else {
                    return Err(short(self));
                };
                let iface = self.iface(id, offset)?;
                if iface.snaplen != 0 && caplen > iface.snaplen {
                    let reason = format!("captured length {caplen} exceeds the snapshot length {}", iface.snaplen);
                    return Err(self.corrupt(offset, reason));
                }
                let Some(data) = body.get(20..20 + caplen as usize) else {
                    return Err(self.corrupt(offset, format!("captured length {caplen} goes beyond its block")));
                };
                let units = u64::from(hi) << 32 | u64::from(lo);
                let ts = iface.scale.micros(units).saturating_add(iface.offset_us);
                Ok((self.deliver(ts, iface.linktype, data, orig_len), blen))
            }
            SPB => {
                let orig_len = rd32(body, 0, be).ok_or_else(|| short(self))?;
                let iface = self.iface(0, offset)?;
                let mut caplen = (orig_len as usize).min(body.len() - 4);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                let data = body.get(4..4 + caplen).unwrap_or(&[]);
                Ok((self.deliver(self.last_ts, iface.linktype, data, orig_len), blen))
            }
            _ => {
                self.skipped_blocks += 1;
                Ok((Step::Skip, blen))
            }
        }
    }

    fn iface(&self, id: u32, offset: u64) -> Result<Iface, CaptureError> {
        if let State::PcapNg { ifaces, .. } = &self.state {
            if let Some(i) = ifaces.get(id as usize) {
                return Ok(*i);
            }
        }
        Err(self.corrupt(offset, format!("packet refers to undeclared interface {id}")))
    }
}

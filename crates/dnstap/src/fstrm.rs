//! Frame Streams (fstrm): framing, control frames, file reader and writer, and the
//! bidirectional handshake of socket transports.
//!
//! Format, as described by the public fstrm protocol description (`fstrm/control.h` and the
//! "Frame Streams" notes of <https://github.com/farsightsec/fstrm>), all integers big-endian:
//!
//! - a **data frame** is a 32-bit length (non-zero) followed by that many payload octets;
//! - a **control frame** is the escape sequence (a zero 32-bit length), a 32-bit control frame
//!   length (at most [`MAX_CONTROL_FRAME`] = 512), then the control frame: a 32-bit control type
//!   (ACCEPT=1, START=2, STOP=3, READY=4, FINISH=5) and fields, each a 32-bit field type
//!   (CONTENT_TYPE=1), a 32-bit length and that many octets (a content type is at most 256
//!   octets, e.g. `protobuf:dnstap.Dnstap`).
//!
//! A unidirectional stream (a file) is START, data frames, STOP. A bidirectional socket
//! connection starts with the sender's READY (listing the content types it can send), the
//! receiver's ACCEPT (the content type chosen), then START ... STOP from the sender, answered by
//! FINISH from the receiver.
//!
//! Leniency, documented: control frame fields of unknown type are skipped (fstrm defines only
//! CONTENT_TYPE); a START or READY without any content type matches any content type (as
//! libfstrm's matching does); a file that ends cleanly at a frame boundary without STOP reads to
//! its end (a capture cut by a crash), [`Reader::saw_stop`] tells the difference. Data frames
//! longer than the configured cap ([`DEFAULT_MAX_FRAME`], 1 MiB, libfstrm's reader default; a
//! dnstap frame holds at most two 64 KiB DNS messages plus metadata) are an error, as is any
//! malformed control frame; every error names the byte offset of the frame.

use std::fmt;
use std::io::{self, Read, Write};

/// Content type of dnstap streams.
pub const DNSTAP_CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";
/// Default cap on a data frame's payload length (1 MiB, as libfstrm's reader).
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// Largest control frame the protocol allows (octets after the control frame length).
pub const MAX_CONTROL_FRAME: usize = 512;
/// Longest content type the protocol allows.
pub const MAX_CONTENT_TYPE: usize = 256;
/// Control field type CONTENT_TYPE.
const FIELD_CONTENT_TYPE: u32 = 1;
/// Octets read from a stream at a time (frames larger than this grow the buffer).
const READ_CHUNK: usize = 64 * 1024;

/// Control frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlKind {
    /// ACCEPT (1): receiver to sender, the content type accepted.
    Accept,
    /// START (2): the stream begins (with its content type).
    Start,
    /// STOP (3): the stream ends.
    Stop,
    /// READY (4): sender to receiver, the content types it offers.
    Ready,
    /// FINISH (5): receiver to sender, acknowledges STOP.
    Finish,
}

impl ControlKind {
    /// The protocol's number for this control type.
    pub fn code(self) -> u32 {
        match self {
            ControlKind::Accept => 1,
            ControlKind::Start => 2,
            ControlKind::Stop => 3,
            ControlKind::Ready => 4,
            ControlKind::Finish => 5,
        }
    }

    /// The control type with this number.
    pub fn from_code(code: u32) -> Option<ControlKind> {
        Some(match code {
            1 => ControlKind::Accept,
            2 => ControlKind::Start,
            3 => ControlKind::Stop,
            4 => ControlKind::Ready,
            5 => ControlKind::Finish,
            _ => return None,
        })
    }

    /// The protocol's name, e.g. `START`.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlKind::Accept => "ACCEPT",
            ControlKind::Start => "START",
            ControlKind::Stop => "STOP",
            ControlKind::Ready => "READY",
            ControlKind::Finish => "FINISH",
        }
    }
}

/// A validated control frame, borrowing its fields from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control<'a> {
    /// The control type.
    pub kind: ControlKind,
    /// The field octets after the control type (already validated).
    fields: &'a [u8],
}

impl<'a> Control<'a> {
    /// The CONTENT_TYPE fields, in order.
    pub fn content_types(&self) -> ContentTypes<'a> {
        ContentTypes { rest: self.fields }
    }

    /// True if the frame lists `ct`, or lists no content type at all (which matches any).
    pub fn matches(&self, ct: &[u8]) -> bool {
        let mut any = false;
        for c in self.content_types() {
            if c == ct {
                return true;
            }
            any = true;
        }
        !any
    }
}

/// Iterator over the CONTENT_TYPE fields of a [`Control`].
#[derive(Debug, Clone)]
pub struct ContentTypes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ContentTypes<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Fields were validated by `parse_control`; stop quietly on anything else.
        loop {
            let ftype = be32(self.rest, 0)?;
            let len = be32(self.rest, 4)? as usize;
            let value = self.rest.get(8..8 + len)?;
            self.rest = self.rest.get(8 + len..).unwrap_or_default();
            if ftype == FIELD_CONTENT_TYPE {
                return Some(value);
            }
        }
    }
}

/// One frame of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A data frame's payload (for dnstap: one encoded `Dnstap` message).
    Data(&'a [u8]),
    /// A control frame.
    Control(Control<'a>),
}

/// What went wrong, without the position (see [`FstrmError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FstrmErrorKind {
    /// The input ended inside a frame.
    Truncated {
        /// Octets the frame needs (length prefixes included).
        needed: u64,
        /// Octets that were there.
        had: u64,
    },
    /// A data frame longer than the cap.
    Oversize {
        /// The frame's payload length.
        len: u64,
        /// The cap.
        max: usize,
    },
    /// A malformed control frame.
    BadControl(String),
    /// A control frame that is not allowed here (e.g. data before START, a second START).
    Unexpected {
        /// What came.
        got: String,
        /// What the protocol wants at this point.
        expected: &'static str,
    },
    /// The peer's content types do not include the one wanted.
    WrongContentType {
        /// The content types the peer named (lossy UTF-8, comma-separated).
        got: String,
        /// The content type wanted.
        want: String,
    },
    /// Reading or writing the underlying stream failed.
    Io(io::ErrorKind, String),
}

impl fmt::Display for FstrmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FstrmErrorKind::Truncated { needed, had } => {
                write!(f, "truncated frame: input ends after {had} of its {needed} octets")
            }
            FstrmErrorKind::Oversize { len, max } => write!(f, "data frame of {len} octets is over the cap of {max}"),
            FstrmErrorKind::BadControl(d) => write!(f, "bad control frame: {d}"),
            FstrmErrorKind::Unexpected { got, expected } => write!(f, "unexpected {got}, expected {expected}"),
            FstrmErrorKind::WrongContentType { got, want } => {
                write!(f, "wrong content type: peer offers [{got}], want {want}")
            }
            FstrmErrorKind::Io(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, _) => {
                f.write_str("timed out waiting for the peer")
            }
            FstrmErrorKind::Io(_, d) => write!(f, "i/o error: {d}"),
        }
    }
}

impl FstrmErrorKind {
    /// A short stable label for counters (`truncated`, `oversize`, `bad_control`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            FstrmErrorKind::Truncated { .. } => "truncated",
            FstrmErrorKind::Oversize { .. } => "oversize",
            FstrmErrorKind::BadControl(_) => "bad_control",
            FstrmErrorKind::Unexpected { .. } => "unexpected_control",
            FstrmErrorKind::WrongContentType { .. } => "wrong_content_type",
            FstrmErrorKind::Io(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, _) => "timeout",
            FstrmErrorKind::Io(..) => "io",
        }
    }
}

/// A Frame Streams error at a byte offset of the stream (of the slice, for [`next_frame`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame streams error at byte {offset}: {kind}")]
pub struct FstrmError {
    /// Offset of the frame (or of the read) where the error was found.
    pub offset: u64,
    /// What went wrong.
    pub kind: FstrmErrorKind,
}

impl FstrmError {
    /// An error at `offset`.
    pub fn new(offset: u64, kind: FstrmErrorKind) -> FstrmError {
        FstrmError { offset, kind }
    }

    /// The same error with `base` added to its offset (for a slice cut from a larger stream).
    pub fn offset_by(mut self, base: u64) -> FstrmError {
        self.offset = self.offset.saturating_add(base);
        self
    }

    fn io(offset: u64, e: &io::Error) -> FstrmError {
        FstrmError::new(offset, FstrmErrorKind::Io(e.kind(), e.to_string()))
    }

    fn bad(offset: u64, detail: impl Into<String>) -> FstrmError {
        FstrmError::new(offset, FstrmErrorKind::BadControl(detail.into()))
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// How much of a frame is at the start of a buffer.
enum Extent {
    /// A whole frame of this many octets (length prefixes included).
    Whole(usize),
    /// Not yet: at least this many octets are needed.
    Need(usize),
}

/// Measures the frame at the start of `buf` without decoding a control frame's fields.
fn extent(buf: &[u8], max_frame: usize) -> Result<Extent, FstrmError> {
    let Some(len) = be32(buf, 0) else { return Ok(Extent::Need(4)) };
    let len = len as usize;
    let total = if len != 0 {
        if len > max_frame {
            return Err(FstrmError::new(0, FstrmErrorKind::Oversize { len: len as u64, max: max_frame }));
        }
        4 + len
    } else {
        let Some(clen) = be32(buf, 4) else { return Ok(Extent::Need(8)) };
        let clen = clen as usize;
        if clen > MAX_CONTROL_FRAME {
            return Err(FstrmError::bad(0, format!("control frame length {clen} is over {MAX_CONTROL_FRAME}")));
        }
        if clen < 4 {
            return Err(FstrmError::bad(0, format!("control frame length {clen} is shorter than a control type")));
        }
        8 + clen
    };
    Ok(if buf.len() >= total { Extent::Whole(total) } else { Extent::Need(total) })
}

/// Validates a control frame body (control type and fields).
fn parse_control(body: &[u8]) -> Result<Control<'_>, FstrmError> {
    let code = be32(body, 0).ok_or_else(|| FstrmError::bad(0, "control frame shorter than its type"))?;
    let kind =
        ControlKind::from_code(code).ok_or_else(|| FstrmError::bad(0, format!("unknown control type {code}")))?;
    let fields = body.get(4..).unwrap_or_default();
    let mut rest = fields;
    let mut n_ct = 0;
    while !rest.is_empty() {
        let (Some(ftype), Some(flen)) = (be32(rest, 0), be32(rest, 4)) else {
            return Err(FstrmError::bad(0, format!("{}: truncated field header", kind.as_str())));
        };
        let flen = flen as usize;
        let Some(value) = rest.get(8..8 + flen) else {
            return Err(FstrmError::bad(0, format!("{}: field of {flen} octets overruns the frame", kind.as_str())));
        };
        if ftype == FIELD_CONTENT_TYPE {
            if value.len() > MAX_CONTENT_TYPE {
                return Err(FstrmError::bad(
                    0,
                    format!("{}: content type of {flen} octets is over {MAX_CONTENT_TYPE}", kind.as_str()),
                ));
            }
            n_ct += 1;
        }
        rest = rest.get(8 + flen..).unwrap_or_default();
    }
    match kind {
        ControlKind::Stop | ControlKind::Finish if n_ct > 0 => {
            Err(FstrmError::bad(0, format!("{} carries a content type", kind.as_str())))
        }
        ControlKind::Start if n_ct > 1 => Err(FstrmError::bad(0, "START carries more than one content type")),
        _ => Ok(Control { kind, fields }),
    }
}

/// The next frame of `buf` and the octets it takes, with the default cap ([`DEFAULT_MAX_FRAME`]).
///
/// `Ok(None)` when `buf` holds only the beginning of a frame (keep the rest and add more); errors
/// carry offsets relative to `buf` (see [`FstrmError::offset_by`]). Zero-copy: the frame borrows `buf`.
pub fn next_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, FstrmError> {
    next_frame_capped(buf, DEFAULT_MAX_FRAME)
}

/// [`next_frame`] with a cap on data frame payloads.
pub fn next_frame_capped(buf: &[u8], max_frame: usize) -> Result<Option<(Frame<'_>, usize)>, FstrmError> {
    let total = match extent(buf, max_frame)? {
        Extent::Whole(t) => t,
        Extent::Need(_) => return Ok(None),
    };
    let frame = buf.get(..total).unwrap_or_default();
    let Some(len) = be32(frame, 0) else { return Ok(None) };
    if len != 0 {
        return Ok(Some((Frame::Data(frame.get(4..).unwrap_or_default()), total)));
    }
    let control = parse_control(frame.get(8..).unwrap_or_default())?;
    Ok(Some((Frame::Control(control), total)))
}

/// Appends a data frame holding `payload` to `out`.
///
/// Panics never; an empty payload (which would read as an escape) or one over 4 GiB is refused.
pub fn encode_data(payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l != 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "data frame payload must be 1 octet to 4 GiB"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Appends a control frame of `kind` listing `content_types` to `out`.
pub fn encode_control(kind: ControlKind, content_types: &[&[u8]], out: &mut Vec<u8>) -> io::Result<()> {
    let mut len = 4usize;
    for ct in content_types {
        if ct.len() > MAX_CONTENT_TYPE {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "content type over 256 octets"));
        }
        len += 8 + ct.len();
    }
    if len > MAX_CONTROL_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "control frame over 512 octets"));
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(&kind.code().to_be_bytes());
    for ct in content_types {
        out.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        out.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        out.extend_from_slice(ct);
    }
    Ok(())
}

fn write_control<W: Write>(w: &mut W, kind: ControlKind, content_types: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    encode_control(kind, content_types, &mut buf)?;
    w.write_all(&buf)?;
    w.flush()
}

fn lossy_list<'a>(cts: impl Iterator<Item = &'a [u8]>) -> String {
    let v: Vec<String> = cts.map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    v.join(", ")
}

fn describe(frame: &Frame<'_>) -> String {
    match frame {
        Frame::Data(p) => format!("data frame of {} octets", p.len()),
        Frame::Control(c) => format!("{} control frame", c.kind.as_str()),
    }
}

/// Cuts frames out of a byte stream, buffering reads (zero-copy: frames borrow the buffer).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    max_frame: usize,
}

impl FrameDecoder {
    /// A decoder with a cap on data frame payloads.
    pub fn new(max_frame: usize) -> FrameDecoder {
        FrameDecoder { buf: vec![0; READ_CHUNK], start: 0, end: 0, offset: 0, max_frame }
    }

    /// Stream offset of the next frame (octets consumed so far).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next frame from `r`; `Ok(None)` at end of input on a frame boundary.
    ///
    /// Reads interrupted by a timeout surface as [`FstrmErrorKind::Io`] with kind
    /// `WouldBlock`/`TimedOut`; octets already read stay buffered.
    pub fn next<'s, R: Read + ?Sized>(&'s mut self, r: &mut R) -> Result<Option<Frame<'s>>, FstrmError> {
        loop {
            let avail = self.buf.get(self.start..self.end).unwrap_or_default();
            let need = match extent(avail, self.max_frame).map_err(|e| e.offset_by(self.offset))? {
                Extent::Whole(_) => break,
                Extent::Need(n) => n,
            };
            // Make room for the whole frame after `start`.
            if self.start + need > self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if need > self.buf.len() {
                    self.buf.resize(need.max(READ_CHUNK), 0);
                }
            }
            let Some(space) = self.buf.get_mut(self.end..) else { break };
            let n = loop {
                match r.read(space) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(FstrmError::io(self.offset + (self.end - self.start) as u64, &e)),
                }
            };
            if n == 0 {
                let had = (self.end - self.start) as u64;
                if had == 0 {
                    return Ok(None);
                }
                return Err(FstrmError::new(self.offset, FstrmErrorKind::Truncated { needed: need as u64, had }));
            }
            self.end += n;
        }
        let avail = self.buf.get(self.start..self.end).unwrap_or_default();
        match next_frame_capped(avail, self.max_frame) {
            Ok(Some((frame, used))) => {
                self.start += used;
                self.offset += used as u64;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                Ok(Some(frame))
            }
            Ok(None) => Err(FstrmError::bad(self.offset, "internal: incomplete frame after measuring")),
            Err(e) => Err(e.offset_by(self.offset)),
        }
    }

    /// Like [`FrameDecoder::next`], but end of input is an error (a handshake needs a frame).
    fn expect<'s, R: Read + ?Sized>(&'s mut self, r: &mut R, what: &'static str) -> Result<Frame<'s>, FstrmError> {
        let at = self.offset;
        match self.next(r)? {
            Some(f) => Ok(f),
            None => {
                Err(FstrmError::new(at, FstrmErrorKind::Unexpected { got: "end of stream".into(), expected: what }))
            }
        }
    }
}

/// Options of a [`Reader`].
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Cap on data frame payloads.
    pub max_frame: usize,
    /// The content type the START frame must carry (`None`: any).
    pub content_type: Option<Vec<u8>>,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions { max_frame: DEFAULT_MAX_FRAME, content_type: Some(DNSTAP_CONTENT_TYPE.to_vec()) }
    }
}

/// Reads a unidirectional Frame Streams file: START (content type checked), data frames, STOP.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    dec: FrameDecoder,
    content_type: Option<Vec<u8>>,
    done: bool,
    saw_stop: bool,
}

impl<R: Read> Reader<R> {
    /// Reads the START frame of a dnstap stream (content type `protobuf:dnstap.Dnstap`).
    pub fn new(inner: R) -> Result<Reader<R>, FstrmError> {
        Reader::with_options(inner, ReaderOptions::default())
    }

    /// Reads the START frame, checking the content type given in the options.
    pub fn with_options(mut inner: R, opts: ReaderOptions) -> Result<Reader<R>, FstrmError> {
        let mut dec = FrameDecoder::new(opts.max_frame);
        let at = dec.offset();
        let start = dec.expect(&mut inner, "START")?;
        let ct = match start {
            Frame::Control(c) if c.kind == ControlKind::Start => {
                if let Some(want) = &opts.content_type {
                    if !c.matches(want) {
                        return Err(FstrmError::new(
                            at,
                            FstrmErrorKind::WrongContentType {
                                got: lossy_list(c.content_types()),
                                want: String::from_utf8_lossy(want).into_owned(),
                            },
                        ));
                    }
                }
                c.content_types().next().map(<[u8]>::to_vec)
            }
            other => {
                return Err(FstrmError::new(
                    at,
                    FstrmErrorKind::Unexpected { got: describe(&other), expected: "START" },
                ))
            }
        };
        Ok(Reader { inner, dec, content_type: ct, done: false, saw_stop: false })
    }

    /// The content type named by START, if any.
    pub fn content_type(&self) -> Option<&[u8]> {
        self.content_type.as_deref()
    }

    /// The next data frame's payload; `Ok(None)` after STOP or at a clean end of input.
    pub fn next_payload(&mut self) -> Result<Option<&[u8]>, FstrmError> {
        if self.done {
            return Ok(None);
        }
        let at = self.dec.offset();
        match self.dec.next(&mut self.inner) {
            Ok(Some(Frame::Data(p))) => Ok(Some(p)),
            Ok(Some(Frame::Control(c))) if c.kind == ControlKind::Stop => {
                self.done = true;
                self.saw_stop = true;
                Ok(None)
            }
            Ok(Some(Frame::Control(c))) => {
                self.done = true;
                Err(FstrmError::new(
                    at,
                    FstrmErrorKind::Unexpected {
                        got: format!("{} control frame", c.kind.as_str()),
                        expected: "data or STOP",
                    },
                ))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// True once the STOP frame was read (false if the input ended without one).
    pub fn saw_stop(&self) -> bool {
        self.saw_stop
    }

    /// Octets of the stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.dec.offset()
    }
}

/// Writes a unidirectional Frame Streams file: START, data frames, STOP.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes START with `content_type` (use [`DNSTAP_CONTENT_TYPE`] for dnstap).
    pub fn new(mut inner: W, content_type: &[u8]) -> io::Result<Writer<W>> {
        let mut buf = Vec::with_capacity(4096);
        encode_control(ControlKind::Start, &[content_type], &mut buf)?;
        inner.write_all(&buf)?;
        buf.clear();
        Ok(Writer { inner, buf })
    }

    /// Writes one data frame (buffered by the caller's writer, if any).
    pub fn write_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        self.buf.clear();
        encode_data(payload, &mut self.buf)?;
        self.inner.write_all(&self.buf)
    }

    /// Writes STOP, flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        write_control(&mut self.inner, ControlKind::Stop, &[])?;
        Ok(self.inner)
    }
}

/// How a receiver's connection was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// READY / ACCEPT / START: the sender expects FINISH after its STOP.
    Bidirectional,
    /// The sender began with START (no READY): no FINISH is sent.
    Unidirectional,
}

/// The receiving end of a socket connection: handshake, then data frames until STOP.
#[derive(Debug)]
pub struct Receiver {
    dec: FrameDecoder,
    content_type: Vec<u8>,
    mode: Option<Handshake>,
    stopped: bool,
}

impl Receiver {
    /// A receiver for `content_type` with a cap on data frames.
    pub fn new(content_type: &[u8], max_frame: usize) -> Receiver {
        Receiver { dec: FrameDecoder::new(max_frame), content_type: content_type.to_vec(), mode: None, stopped: false }
    }

    /// Performs the receiver's handshake: READY → ACCEPT (with our content type) → START, or a
    /// bare START from a sender that skips READY.
    pub fn handshake<S: Read + Write>(&mut self, s: &mut S) -> Result<Handshake, FstrmError> {
        let want = self.content_type.clone();
        let want_str = || String::from_utf8_lossy(&want).into_owned();
        let at = self.dec.offset();
        let first = self.dec.expect(s, "READY or START")?;
        let mode = match first {
            Frame::Control(c) if c.kind == ControlKind::Ready => {
                if !c.matches(&want) {
                    return Err(FstrmError::new(
                        at,
                        FstrmErrorKind::WrongContentType { got: lossy_list(c.content_types()), want: want_str() },
                    ));
                }
                write_control(s, ControlKind::Accept, &[&want]).map_err(|e| FstrmError::io(at, &e))?;
                let at = self.dec.offset();
                match self.dec.expect(s, "START")? {
                    Frame::Control(c) if c.kind == ControlKind::Start => {
                        if !c.matches(&want) {
                            return Err(FstrmError::new(
                                at,
                                FstrmErrorKind::WrongContentType {
                                    got: lossy_list(c.content_types()),
                                    want: want_str(),
                                },
                            ));
                        }
                    }
                    other => {
                        return Err(FstrmError::new(
                            at,
                            FstrmErrorKind::Unexpected { got: describe(&other), expected: "START" },
                        ))
                    }
                }
                Handshake::Bidirectional
            }
            Frame::Control(c) if c.kind == ControlKind::Start => {
                if !c.matches(&want) {
                    return Err(FstrmError::new(
                        at,
                        FstrmErrorKind::WrongContentType { got: lossy_list(c.content_types()), want: want_str() },
                    ));
                }
                Handshake::Unidirectional
            }
            other => {
                return Err(FstrmError::new(
                    at,
                    FstrmErrorKind::Unexpected { got: describe(&other), expected: "READY or START" },
                ))
            }
        };
        self.mode = Some(mode);
        Ok(mode)
    }

    /// The next data frame's payload; `Ok(None)` after STOP (FINISH is sent back on a
    /// bidirectional connection; a sender that already closed does not make it an error).
    /// End of input before STOP is an error.
    pub fn next_payload<S: Read + Write>(&mut self, s: &mut S) -> Result<Option<&[u8]>, FstrmError> {
        if self.stopped {
            return Ok(None);
        }
        let at = self.dec.offset();
        if self.mode.is_none() {
            return Err(FstrmError::new(
                at,
                FstrmErrorKind::Unexpected { got: "data before handshake".into(), expected: "handshake" },
            ));
        }
        let frame = self.dec.expect(s, "data or STOP")?;
        match frame {
            Frame::Data(p) => Ok(Some(p)),
            Frame::Control(c) if c.kind == ControlKind::Stop => {
                self.stopped = true;
                if self.mode == Some(Handshake::Bidirectional) {
                    // Senders may close right after STOP without reading FINISH (Unbound does
                    // on its unix socket): the stream has ended cleanly either way.
                    let _ = write_control(s, ControlKind::Finish, &[]);
                }
                Ok(None)
            }
            other => {
                Err(FstrmError::new(at, FstrmErrorKind::Unexpected { got: describe(&other), expected: "data or STOP" }))
            }
        }
    }

    /// True once STOP was received.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Octets received so far.
    pub fn offset(&self) -> u64 {
        self.dec.offset()
    }
}

/// The sending end of a bidirectional socket connection (what a DNS server does).
#[derive(Debug)]
pub struct Sender<S: Read + Write> {
    inner: S,
    dec: FrameDecoder,
    buf: Vec<u8>,
}

impl<S: Read + Write> Sender<S> {
    /// READY (offering `content_type`) → ACCEPT (must name it) → START.
    pub fn connect(mut inner: S, content_type: &[u8]) -> Result<Sender<S>, FstrmError> {
        let mut dec = FrameDecoder::new(MAX_CONTROL_FRAME);
        write_control(&mut inner, ControlKind::Ready, &[content_type]).map_err(|e| FstrmError::io(0, &e))?;
        let at = dec.offset();
        match dec.expect(&mut inner, "ACCEPT")? {
            Frame::Control(c) if c.kind == ControlKind::Accept => {
                if !c.matches(content_type) {
                    return Err(FstrmError::new(
                        at,
                        FstrmErrorKind::WrongContentType {
                            got: lossy_list(c.content_types()),
                            want: String::from_utf8_lossy(content_type).into_owned(),
                        },
                    ));
                }
            }
            other => {
                return Err(FstrmError::new(
                    at,
                    FstrmErrorKind::Unexpected { got: describe(&other), expected: "ACCEPT" },
                ))
            }
        }
        write_control(&mut inner, ControlKind::Start, &[content_type]).map_err(|e| FstrmError::io(0, &e))?;
        Ok(Sender { inner, dec, buf: Vec::with_capacity(4096) })
    }

    /// Sends one data frame.
    pub fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.buf.clear();
        encode_data(payload, &mut self.buf)?;
        self.inner.write_all(&self.buf)
    }

    /// Sends STOP and waits for FINISH; returns the stream.
    pub fn finish(mut self) -> Result<S, FstrmError> {
        self.inner.flush().map_err(|e| FstrmError::io(0, &e))?;
        write_control(&mut self.inner, ControlKind::Stop, &[]).map_err(|e| FstrmError::io(0, &e))?;
        let at = self.dec.offset();
        match self.dec.expect(&mut self.inner, "FINISH")? {
            Frame::Control(c) if c.kind == ControlKind::Finish => Ok(self.inner),
            other => Err(FstrmError::new(at, FstrmErrorKind::Unexpected { got: describe(&other), expected: "FINISH" })),
        }
    }

    /// The underlying stream (e.g. to set timeouts).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

//! A blocking Frame Streams socket server: accepts dnstap senders (resolvers, authoritative
//! servers) on a unix socket or a TCP address and hands every data frame to a callback.
//!
//! One thread accepts (non-blocking accept polled every [`ACCEPT_POLL`], so a stop request is
//! seen promptly without a self-connect), one thread per connection runs the receiver side of
//! the fstrm handshake ([`crate::fstrm::Receiver`]: READY/ACCEPT/START, or a bare START from a
//! unidirectional sender, then data frames until STOP, answered by FINISH) and calls the
//! callback with each payload. Connections over [`ListenerConfig::max_connections`] are closed
//! at once and counted. The handshake must complete within
//! [`ListenerConfig::handshake_timeout`] (10 s by default, a deadline for the whole handshake,
//! not per read); afterwards reads wait for
//! [`ListenerConfig::idle_timeout`] (none by default: dnstap senders may be quiet for hours).
//!
//! Errors never stop the listener: a peer that sends a garbage handshake, an oversized frame,
//! or disconnects in the middle of a frame has its connection closed and the error counted
//! (per reason, see [`ListenerStats`]) and remembered in [`ListenerHandle::recent_errors`];
//! other connections carry on. [`ListenerHandle::stop`] stops accepting, shuts every open
//! connection down (unblocking their reads), joins all threads and removes the unix socket file.
//!
//! Unix sockets: a file already at the path is removed only if it is a socket that nobody
//! accepts on (a stale socket); anything else is an error. The new socket gets mode
//! [`ListenerConfig::socket_mode`] (0660 by default, so the DNS server's group can connect).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fstrm::{FstrmError, FstrmErrorKind, Receiver, DEFAULT_MAX_FRAME, DNSTAP_CONTENT_TYPE};

/// How often the accept loop checks for new connections and for a stop request.
pub const ACCEPT_POLL: Duration = Duration::from_millis(25);
/// The frame callback as the threads share it.
type Callback = Arc<dyn Fn(&[u8], &ConnInfo) + Send + Sync>;
/// Errors kept for [`ListenerHandle::recent_errors`].
const RECENT_ERRORS: usize = 32;

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix stream socket at this path.
    Unix(PathBuf),
    /// A TCP address (port 0 picks a free port, see [`ListenerHandle::endpoint`]).
    Tcp(SocketAddr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Most connections served at once; further ones are closed on accept (default 64).
    pub max_connections: usize,
    /// Time allowed from accept to the end of the handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Longest silence tolerated after the handshake (default `None`: wait forever).
    pub idle_timeout: Option<Duration>,
    /// Cap on data frame payloads (default 1 MiB).
    pub max_frame: usize,
    /// Content type accepted (default `protobuf:dnstap.Dnstap`).
    pub content_type: Vec<u8>,
    /// Permissions of a unix socket file (default 0o660).
    pub socket_mode: u32,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            max_connections: 64,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            max_frame: DEFAULT_MAX_FRAME,
            content_type: DNSTAP_CONTENT_TYPE.to_vec(),
            socket_mode: 0o660,
        }
    }
}

/// Who a data frame came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Connection number, counting from 1 in accept order.
    pub id: u64,
    /// The peer: `ip:port` for TCP, `unix` for a unix socket peer.
    pub peer: String,
}

/// Counters of one connection.
#[derive(Debug, Default)]
struct ConnCounters {
    frames: AtomicU64,
    bytes: AtomicU64,
}

/// What one open connection has done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSnapshot {
    /// The connection.
    pub info: ConnInfo,
    /// Data frames received.
    pub frames: u64,
    /// Payload octets received.
    pub bytes: u64,
}

/// Totals over the listener's life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Connections accepted (and served).
    pub accepted: u64,
    /// Connections closed on accept because `max_connections` were open.
    pub rejected: u64,
    /// Connections open now.
    pub active: u64,
    /// Connections that ended with STOP (and FINISH when bidirectional).
    pub stopped: u64,
    /// Data frames received.
    pub frames: u64,
    /// Payload octets received.
    pub bytes: u64,
    /// Connections ended by an error, by reason (`truncated`, `oversize`, `bad_control`,
    /// `unexpected_control`, `wrong_content_type`, `timeout`, `io`, `accept`, `callback_panic`).
    pub errors: Vec<(&'static str, u64)>,
}

impl ListenerStats {
    /// Errors of all reasons.
    pub fn error_total(&self) -> u64 {
        self.errors.iter().map(|(_, n)| n).sum()
    }
}

/// One connection error, for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnError {
    /// The connection (id 0 for accept errors).
    pub info: ConnInfo,
    /// What happened.
    pub error: String,
}

/// A connected peer socket.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
    fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tcp(s) => s.set_read_timeout(t),
        }
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tcp(s) => s.set_write_timeout(t),
        }
    }
    fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(nb),
            Stream::Tcp(s) => s.set_nonblocking(nb),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Socket {
    fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Socket::Unix(l) => l.accept().map(|(s, _)| (Stream::Unix(s), "unix".to_string())),
            Socket::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), a.to_string())),
        }
    }
}

/// An open connection as the listener tracks it.
struct Open {
    info: ConnInfo,
    counters: Arc<ConnCounters>,
    /// A clone of the socket, to shut it down on stop.
    stream: Stream,
}

/// State shared by the accept thread, the connection threads and the handle.
struct Shared {
    config: ListenerConfig,
    stop: AtomicBool,
    accepted: AtomicU64,
    rejected: AtomicU64,
    stopped: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    open: Mutex<HashMap<u64, Open>>,
    errors: Mutex<Vec<(&'static str, u64)>>,
    recent: Mutex<Vec<ConnError>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking callback must not take the listener down with a poisoned lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn error(&self, info: &ConnInfo, reason: &'static str, error: String) {
        {
            let mut e = lock(&self.errors);
            match e.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => e.push((reason, 1)),
            }
        }
        let mut r = lock(&self.recent);
        if r.len() >= RECENT_ERRORS {
            r.remove(0);
        }
        r.push(ConnError { info: info.clone(), error });
    }
}

/// A bound listening socket, not yet serving.
pub struct Listener {
    socket: Socket,
    endpoint: Endpoint,
    config: ListenerConfig,
}

impl Listener {
    /// Binds `endpoint` (for a unix path, after removing a stale socket file there).
    pub fn bind(endpoint: &Endpoint, config: ListenerConfig) -> io::Result<Listener> {
        let (socket, endpoint) = match endpoint {
            Endpoint::Unix(path) => {
                remove_stale_socket(path)?;
                let l = UnixListener::bind(path)
                    .map_err(|e| io::Error::new(e.kind(), format!("binding unix socket {}: {e}", path.display())))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.socket_mode)).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("setting mode {:o} on {}: {e}", config.socket_mode, path.display()),
                    )
                })?;
                (Socket::Unix(l), Endpoint::Unix(path.clone()))
            }
            Endpoint::Tcp(addr) => {
                let l = TcpListener::bind(addr)
                    .map_err(|e| io::Error::new(e.kind(), format!("binding tcp {addr}: {e}")))?;
                let local = l.local_addr()?;
                (Socket::Tcp(l), Endpoint::Tcp(local))
            }
        };
        match &socket {
            Socket::Unix(l) => l.set_nonblocking(true)?,
            Socket::Tcp(l) => l.set_nonblocking(true)?,
        }
        Ok(Listener { socket, endpoint, config })
    }

    /// Where the listener is bound (with the actual port for TCP port 0).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Starts serving on a background thread; `callback` gets every data frame payload.
    pub fn spawn<F>(self, callback: F) -> io::Result<ListenerHandle>
    where
        F: Fn(&[u8], &ConnInfo) + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            config: self.config,
            stop: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            stopped: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            errors: Mutex::new(Vec::new()),
            recent: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let callback: Callback = Arc::new(callback);
        let socket = self.socket;
        let sh = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("dnstap-accept".into())
            .spawn(move || accept_loop(&socket, &sh, &callback))?;
        Ok(ListenerHandle { shared, endpoint: self.endpoint, accept: Some(accept) })
    }
}

/// Removes `path` if it is a unix socket nobody accepts on; errors if it is anything else.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket; not removing it", path.display()),
        ));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is a socket in use by another process", path.display()),
        ));
    }
    std::fs::remove_file(path)
}

fn accept_loop(socket: &Socket, shared: &Arc<Shared>, callback: &Callback) {
    let mut next_id = 0u64;
    while !shared.stop.load(Ordering::Acquire) {
        let (stream, peer) = match socket.accept() {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // e.g. EMFILE: count, back off, keep listening.
                shared.error(&ConnInfo { id: 0, peer: String::new() }, "accept", format!("accept: {e}"));
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        next_id += 1;
        let info = ConnInfo { id: next_id, peer };
        reap(shared);
        if lock(&shared.open).len() >= shared.config.max_connections {
            shared.rejected.fetch_add(1, Ordering::Relaxed);
            stream.shutdown();
            continue;
        }
        if let Err(e) = start_connection(stream, info.clone(), shared, callback) {
            shared.error(&info, "io", format!("setting up connection: {e}"));
        }
    }
}

/// Joins connection threads that have finished.
fn reap(shared: &Shared) {
    let mut threads = lock(&shared.threads);
    let mut i = 0;
    while i < threads.len() {
        if threads.get(i).is_some_and(JoinHandle::is_finished) {
            let _ = threads.swap_remove(i).join();
        } else {
            i += 1;
        }
    }
}

fn start_connection(stream: Stream, info: ConnInfo, shared: &Arc<Shared>, callback: &Callback) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(shared.config.handshake_timeout))?;
    stream.set_write_timeout(Some(shared.config.handshake_timeout))?;
    let counters = Arc::new(ConnCounters::default());
    let clone = stream.try_clone()?;
    shared.accepted.fetch_add(1, Ordering::Relaxed);
    lock(&shared.open).insert(info.id, Open { info: info.clone(), counters: Arc::clone(&counters), stream: clone });
    let sh = Arc::clone(shared);
    let cb = Arc::clone(callback);
    let id = info.id;
    let spawned = std::thread::Builder::new().name(format!("dnstap-conn-{id}")).spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve(stream, &info, &sh, &counters, cb.as_ref())
        }));
        if let Some(o) = lock(&sh.open).remove(&info.id) {
            o.stream.shutdown();
        }
        match result {
            Ok(Ok(())) => {
                sh.stopped.fetch_add(1, Ordering::Relaxed);
            }
            // A stop request shuts connections down: not the peer's error.
            Ok(Err(_)) if sh.stop.load(Ordering::Acquire) => {}
            Ok(Err(e)) => sh.error(&info, e.kind.as_str(), e.to_string()),
            Err(_) => sh.error(&info, "callback_panic", "the frame callback panicked".into()),
        }
    });
    match spawned {
        Ok(h) => {
            lock(&shared.threads).push(h);
            Ok(())
        }
        Err(e) => {
            if let Some(o) = lock(&shared.open).remove(&id) {
                o.stream.shutdown();
            }
            Err(e)
        }
    }
}

fn serve(
    mut stream: Stream,
    info: &ConnInfo,
    shared: &Shared,
    counters: &ConnCounters,
    callback: &(dyn Fn(&[u8], &ConnInfo) + Send + Sync),
) -> Result<(), FstrmError> {
    let cfg = &shared.config;
    let mut rx = Receiver::new(&cfg.content_type, cfg.max_frame);
    rx.handshake(&mut Deadline { stream: &mut stream, at: Instant::now() + cfg.handshake_timeout })?;
    stream
        .set_read_timeout(cfg.idle_timeout)
        .map_err(|e| FstrmError::new(rx.offset(), FstrmErrorKind::Io(e.kind(), e.to_string())))?;
    while let Some(payload) = rx.next_payload(&mut stream)? {
        counters.frames.fetch_add(1, Ordering::Relaxed);
        counters.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
        shared.frames.fetch_add(1, Ordering::Relaxed);
        shared.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
        callback(payload, info);
    }
    Ok(())
}

/// A stream whose reads all end by one deadline (a peer trickling octets cannot stretch the
/// handshake past it: a read timeout alone restarts with every octet).
struct Deadline<'s> {
    stream: &'s mut Stream,
    at: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "handshake deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A running listener: statistics and the stop switch. Dropping it stops the listener too.
pub struct ListenerHandle {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    accept: Option<JoinHandle<()>>,
}

impl ListenerHandle {
    /// Where the listener is bound.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Totals so far.
    pub fn stats(&self) -> ListenerStats {
        ListenerStats {
            accepted: self.shared.accepted.load(Ordering::Relaxed),
            rejected: self.shared.rejected.load(Ordering::Relaxed),
            active: lock(&self.shared.open).len() as u64,
            stopped: self.shared.stopped.load(Ordering::Relaxed),
            frames: self.shared.frames.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
            errors: lock(&self.shared.errors).clone(),
        }
    }

    /// The open connections and their counters.
    pub fn connections(&self) -> Vec<ConnSnapshot> {
        let open = lock(&self.shared.open);
        let mut v: Vec<ConnSnapshot> = open
            .values()
            .map(|o| ConnSnapshot {
                info: o.info.clone(),
                frames: o.counters.frames.load(Ordering::Relaxed),
                bytes: o.counters.bytes.load(Ordering::Relaxed),
            })
            .collect();
        v.sort_by_key(|c| c.info.id);
        v
    }

    /// The last connection errors (up to 32), oldest first.
    pub fn recent_errors(&self) -> Vec<ConnError> {
        lock(&self.shared.recent).clone()
    }

    /// Stops accepting, shuts every connection down, joins all threads and removes the unix
    /// socket file. Returns the final totals.
    pub fn stop(mut self) -> ListenerStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        for o in lock(&self.shared.open).values() {
            o.stream.shutdown();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
        if let Endpoint::Unix(p) = &self.endpoint {
            if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.shutdown();
        }
    }
}

//! Cancelling a federated lookup whose client went away: the [`Cancel`] flag a lookup's
//! workers share, and the upstream agents' connector through which a cancel closes the
//! connections the lookup is using.
//!
//! The upstream clients are blocking (`ureq`): a worker waiting for a slow upstream sits in a
//! socket read that no flag can interrupt, and only the upstream's `timeout_secs` would end it.
//! So a cancel does two things:
//!
//! - **It closes the sockets in use.** Every upstream agent is built with `connector()`, which
//!   wraps ureq's default connector chain (proxies, TCP, rustls — the same chain a plain agent
//!   uses) and keeps the shutdown handle ureq's TCP transport registers for each new socket.
//!   The wrapping transport binds its socket to the lookup running on the current thread
//!   (`Cancel::enter`, set by [`crate::Upstream::fetch_with`]) the first time that lookup
//!   reads or writes on it; [`Cancel::cancel`] shuts down (`shutdown(2)`, both directions)
//!   every socket bound to the lookup. A read blocked on one returns at once, with the
//!   connection closed (it never goes back to the pool), and the upstream sees its client hang
//!   up. Binding happens per use, not per connection, because connections are pooled: one kept
//!   alive for the next lookup belongs to whichever lookup uses it now, and leaving
//!   `Cancel::enter`'s scope unbinds what that fetch used, so a late cancel never touches a
//!   pooled connection another lookup has taken since.
//! - **It raises a flag** that the workers check between records, lines and pages, before every
//!   request (`Upstream::pace`) and in every wait (rate limiter, `Retry-After`): a
//!   worker between reads stops there, and no new request or page is started.
//!
//! Together: a worker stops at once, whether it is blocked on the socket (also under TLS: the
//! handle is the TCP socket's, registered before the handshake) or busy between reads, and
//! whatever the upstream does. What a socket shutdown cannot interrupt is name resolution and a TCP connect in
//! progress (ureq's own limit): those are bounded by the connect timeout (at most 5 s), and
//! the request is then refused before anything is sent.
//!
//! Why not a per-read timeout loop: ureq treats a read timeout as the end of the request (the
//! connection is dropped and the request cannot resume), so polling with short timeouts would
//! break slow but healthy upstreams. Why not `ureq::Agent::shutdown`: it closes every
//! connection of the agent, which is shared by all lookups to that upstream.
//!
//! The connector uses ureq's `unversioned` transport API (it may change in a minor ureq
//! release; `Cargo.lock` pins the version this was written against, 3.5).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, ShutdownHandle, Transport,
};

/// A handle that shuts one socket down (kept weakly: the socket closes as usual when dropped).
type Handle = Weak<dyn ShutdownHandle>;

/// A lookup's cancel flag, shared by its workers (clones share it).
#[derive(Clone, Default)]
pub struct Cancel(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Sockets in use per running fetch ([`Cancel::enter`] scope id → handles).
    scopes: Mutex<Vec<(u64, Vec<Handle>)>>,
    /// Wakes workers waiting in [`Cancel::sleep`].
    wake: Condvar,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel").field("cancelled", &self.is_cancelled()).finish_non_exhaustive()
    }
}

/// Scope ids, unique in the process.
static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The lookup a fetch on this thread belongs to, and its scope id.
    static CURRENT: RefCell<Option<(Cancel, u64)>> = const { RefCell::new(None) };
}

impl Cancel {
    /// A flag not raised yet.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels the lookup: raises the flag, shuts down every socket its running fetches use
    /// and wakes its waiting workers. Idempotent.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let handles: Vec<Handle> = {
            let scopes = self.0.scopes.lock().unwrap_or_else(|p| p.into_inner());
            scopes.iter().flat_map(|(_, h)| h.iter().cloned()).collect()
        };
        for h in handles.iter().filter_map(Weak::upgrade) {
            h.shutdown();
        }
        self.0.wake.notify_all();
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Sleeps `d`, or less if the lookup is cancelled meanwhile; true if it was.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        let mut guard = self.0.scopes.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.is_cancelled() {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            guard = match self.0.wake.wait_timeout(guard, end - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Makes this the lookup of the fetches run on this thread until the returned guard is
    /// dropped: sockets they use are shut down by a cancel. Dropping the guard unbinds them
    /// (the connections may go back to the pool for other lookups).
    pub(crate) fn enter(&self) -> Entered {
        let id = NEXT_SCOPE.fetch_add(1, Ordering::Relaxed);
        self.0.scopes.lock().unwrap_or_else(|p| p.into_inner()).push((id, Vec::new()));
        let previous = CURRENT.with(|c| c.borrow_mut().replace((self.clone(), id)));
        Entered { cancel: self.clone(), id, previous }
    }

    /// Binds `handles` to scope `id`; shuts them down at once if the lookup is already
    /// cancelled (a cancel that ran before the binding).
    fn bind(&self, id: u64, handles: &[Handle]) {
        {
            let mut scopes = self.0.scopes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, list)) = scopes.iter_mut().find(|(i, _)| *i == id) {
                list.extend(handles.iter().cloned());
            }
        }
        if self.is_cancelled() {
            for h in handles.iter().filter_map(Weak::upgrade) {
                h.shutdown();
            }
        }
    }

    /// A guard that cancels the lookup when dropped (unless disarmed): tie it to what lives
    /// as long as the client is there (a response body, a request future).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// The lookup of the fetch running on this thread, if it runs under [`Cancel::enter`].
pub(crate) fn current() -> Option<Cancel> {
    CURRENT.with(|c| c.borrow().as_ref().map(|(c, _)| c.clone()))
}

/// True if the fetch running on this thread belongs to a cancelled lookup.
pub(crate) fn current_cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|(c, _)| c.is_cancelled()))
}

/// The scope of [`Cancel::enter`].
pub(crate) struct Entered {
    cancel: Cancel,
    id: u64,
    previous: Option<(Cancel, u64)>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = self.previous.take());
        let mut scopes = self.cancel.0.scopes.lock().unwrap_or_else(|p| p.into_inner());
        scopes.retain(|(i, _)| *i != self.id);
    }
}

/// Cancels a lookup when dropped ([`Cancel::on_drop`]).
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// Drops the guard without cancelling (the lookup ended normally).
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

/// The error a transport of a cancelled lookup returns.
fn cancelled_error() -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "lookup cancelled: its client went away",
    ))
}

/// An agent for `config` whose connections a [`Cancel`] can close (see the module docs).
pub(crate) fn agent(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(config, connector(), DefaultResolver::default())
}

/// ureq's default connector chain, with its sockets' shutdown handles kept for cancels.
pub(crate) fn connector() -> CancellableConnector {
    CancellableConnector(DefaultConnector::new())
}

/// See [`connector`].
#[derive(Debug)]
pub(crate) struct CancellableConnector(DefaultConnector);

impl Connector<()> for CancellableConnector {
    type Out = CancellableTransport;

    fn connect(&self, details: &ConnectionDetails, chained: Option<()>) -> Result<Option<Self::Out>, ureq::Error> {
        if current_cancelled() {
            return Err(cancelled_error());
        }
        // keep a copy of what the chain registers with the agent (the new socket's handle)
        let kept: Arc<Mutex<Vec<Handle>>> = Arc::default();
        let register = details.register_shutdown.clone();
        let keep = kept.clone();
        let ours = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: Arc::new(move |h: Handle| {
                keep.lock().unwrap_or_else(|p| p.into_inner()).push(h.clone());
                register(h)
            }),
        };
        let Some(inner) = self.0.connect(&ours, chained)? else { return Ok(None) };
        let handles = std::mem::take(&mut *kept.lock().unwrap_or_else(|p| p.into_inner()));
        let mut t = CancellableTransport { inner, handles, bound: None };
        t.check()?;
        Ok(Some(t))
    }
}

/// A transport whose socket is bound to the lookup using it (see the module docs).
pub(crate) struct CancellableTransport {
    inner: Box<dyn Transport>,
    handles: Vec<Handle>,
    /// The lookup and scope the socket is bound to now.
    bound: Option<(Weak<Inner>, u64)>,
}

impl std::fmt::Debug for CancellableTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancellableTransport").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl CancellableTransport {
    /// Binds the socket to the current thread's lookup (if not yet) and fails if that lookup
    /// is cancelled.
    fn check(&mut self) -> Result<(), ureq::Error> {
        CURRENT.with(|c| {
            let c = c.borrow();
            let Some((cancel, id)) = c.as_ref() else { return Ok(()) };
            let same =
                self.bound.as_ref().is_some_and(|(w, i)| *i == *id && std::ptr::eq(w.as_ptr(), Arc::as_ptr(&cancel.0)));
            if !same {
                cancel.bind(*id, &self.handles);
                self.bound = Some((Arc::downgrade(&cancel.0), *id));
            }
            if cancel.is_cancelled() {
                Err(cancelled_error())
            } else {
                Ok(())
            }
        })
    }
}

impl Transport for CancellableTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.check()?;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.check()?;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_ends_on_cancel_and_guards_cancel_on_drop() {
        let c = Cancel::new();
        assert!(!c.sleep(Duration::from_millis(1)));
        let c2 = c.clone();
        let t = std::thread::spawn(move || c2.sleep(Duration::from_secs(3600)));
        drop(c.on_drop());
        assert!(t.join().unwrap(), "the sleeper saw the cancel");
        assert!(c.is_cancelled());
        let d = Cancel::new();
        d.on_drop().disarm();
        assert!(!d.is_cancelled());
    }

    #[test]
    fn scopes_set_and_restore_the_current_lookup() {
        let a = Cancel::new();
        assert!(!current_cancelled());
        {
            let _e = a.enter();
            assert!(!current_cancelled());
            a.cancel();
            assert!(current_cancelled());
            assert_eq!(a.0.scopes.lock().unwrap().len(), 1);
        }
        assert!(!current_cancelled());
        assert!(a.0.scopes.lock().unwrap().is_empty(), "leaving the scope unbinds its sockets");
    }
}

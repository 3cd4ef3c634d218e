//! HTTPS: a listener that hands axum TLS sessions instead of TCP streams.
//!
//! Handshakes run in their own tasks (with a deadline), so a client that connects and says
//! nothing delays nobody; finished sessions queue for axum's accept loop. A client that speaks
//! plain HTTP to the HTTPS port gets a `400` that says so, not a hang or a TLS alert it cannot
//! read. The certificate comes from `dnsledger_tls::server::ServerCert`, which SIGHUP reloads.
//! Built on tokio-rustls (a thin adapter over rustls) rather than axum-server, which would bring
//! its own hyper stack and serve loop beside axum's.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use dnsledger_telemetry::catalog::TLS_HANDSHAKE_FAILURES;

/// How long a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 512;

/// The body of the answer to a plain-HTTP request on the HTTPS port.
const PLAIN_HTTP_BODY: &str = "This port speaks HTTPS: use an https:// URL to reach it.\n";

/// The whole answer to a plain-HTTP request on the HTTPS port.
fn plain_http_answer() -> String {
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
        PLAIN_HTTP_BODY.len(),
        PLAIN_HTTP_BODY
    )
}

/// A TCP listener whose connections are TLS sessions (an [`axum::serve::Listener`]).
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accepts on `tcp` and runs the TLS handshake of `config` on every connection; must be
    /// called inside a tokio runtime.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener { rx, local, task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // the accept loop only ends when this listener is dropped
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                // out of file descriptors and the like: wait a little rather than spin
                tracing::warn!(error = %e, "accepting an HTTPS connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        // Responses go out in several writes (headers, streamed chunks): without TCP_NODELAY,
        // Nagle's algorithm meets the client's delayed ACK and every lookup waits ~40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let reason = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(Some(tls))) => {
                    drop(slot);
                    let _ = tx.send((tls, peer)).await;
                    return;
                }
                Ok(Ok(None)) => {
                    tracing::debug!(%peer, "plain HTTP on the HTTPS port: answered 400");
                    "plain_http"
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    "tls"
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake not finished within {HANDSHAKE_TIMEOUT:?}");
                    "timeout"
                }
            };
            metrics::counter!(TLS_HANDSHAKE_FAILURES, "reason" => reason).increment(1);
        });
    }
}

/// Runs the handshake; `None` when the client spoke plain HTTP (and was told so).
async fn handshake(acceptor: &TlsAcceptor, mut stream: TcpStream) -> io::Result<Option<TlsStream<TcpStream>>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the handshake"));
    }
    // 0x16 starts a TLS handshake record; a request line starts with an upper-case method
    if first[0] != 0x16 && first[0].is_ascii_uppercase() {
        // read what the client sent, so closing does not reset the connection under the answer
        let mut request = [0u8; 8192];
        let _ = stream.read(&mut request).await?;
        stream.write_all(plain_http_answer().as_bytes()).await?;
        stream.shutdown().await?;
        return Ok(None);
    }
    acceptor.accept(stream).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_answer_is_well_formed() {
        let text = plain_http_answer();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize =
            head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.parse().ok()).unwrap();
        assert_eq!(len, body.len());
    }
}

//! The HTTP accept loop, with every wait bounded.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never
//! runs: a client that opens a connection and sends nothing (or a byte a
//! minute: slowloris) holds a socket and a file descriptor forever, and
//! enough of them stop the server accepting the provider's webhooks. This
//! loop is `axum::serve` with hyper's timer set:
//!
//! - a connection must deliver each request's headers within
//!   [`Timeouts::header_read`], counted from when the connection is ready
//!   for a request, so the same limit closes idle keep-alive connections;
//! - request bodies are bounded by the body timeout layer in the router,
//!   and webhooks by their budget (see `budget.rs`);
//! - WebSocket media streams, once upgraded, keep their own idle timeout.
//!
//! The caller chooses the listener (the server's turns Nagle off on every
//! connection). Graceful shutdown works as in `axum::serve`: stop accepting, let each
//! connection finish its request in flight, then return.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long the server waits on a client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For a request's headers, and for the next request on an idle
    /// keep-alive connection.
    pub header_read: Duration,
}

impl Default for Timeouts {
    /// Ten seconds: the provider sends a webhook's headers at once, so this
    /// only ever closes clients that are stalled, idle or hostile.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`, as with `axum::serve`.
pub async fn serve_with_timeouts(
    mut listener: impl Listener<Io = TcpStream, Addr = SocketAddr>,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        // `Listener::accept` waits out accept errors (out of file
        // descriptors and the like) itself, as `axum::serve` does.
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let service =
            TowerToHyperService::new(router.clone().layer(axum::Extension(ConnectInfo(peer))));
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header_read)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(connection);
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.changed() => connection.as_mut().graceful_shutdown(),
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    async fn start(timeouts: Timeouts) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_with_timeouts(listener, router, timeouts, async {
            let _ = rx.await;
        }));
        (addr, tx)
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_disconnected() {
        let timeouts = Timeouts {
            header_read: Duration::from_millis(200),
        };
        let (addr, _stop) = start(timeouts).await;
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();

        // The server closes the connection (possibly after a 408): reading
        // reaches the end instead of waiting forever.
        // The outer bound only turns a hang into a failure.
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut rest))
            .await
            .expect("the server closed the stalled connection")
            .unwrap();
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_and_requests_see_their_peer() {
        let timeouts = Timeouts {
            header_read: Duration::from_millis(200),
        };
        let (addr, _stop) = start(timeouts).await;
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();

        // The outer bound only turns a hang into a failure.
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), client.read_to_end(&mut answer))
            .await
            .expect("the server closed the idle connection")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
    }
}

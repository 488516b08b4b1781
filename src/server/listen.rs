//! Serving a router on a public port with the limits it needs: at most so many connections,
//! a head of bounded size read within a bounded time; and a graceful stop that lets the
//! requests under way finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::config::Limits;

/// What a connection past the cap is told before it is closed.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n";

/// Serves `router` on `listener` until `stop` completes, then waits for the connections under
/// way to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms.max(1)))
        // hyper's least is 8 KB; a head past it is answered 431.
        .max_buf_size(limits.max_header_bytes.max(8192))
        // An answer is a head and a body of a few hundred bytes: copied into one buffer and
        // sent with one `send`, rather than `writev` of the two (README, "Where the time goes").
        .writev(false);
    let last_said = AtomicI64::new(0);
    tokio::pin!(stop);
    loop {
        let (mut stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait, do not spin.
                    say_at_most_every_second(&last_said, &format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            say_at_most_every_second(
                &last_said,
                &format!(
                    "refused a connection from {peer}: {} connections already (limits.max_connections)",
                    limits.max_connections
                ),
            );
            tokio::spawn(async move {
                let _ = stream.write_all(TOO_MANY).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    graceful.shutdown().await;
}

/// A line on stderr, at most once a second: a flood must not become a flood of log lines.
fn say_at_most_every_second(last: &AtomicI64, line: &str) {
    let now = jiff::Timestamp::now().as_second();
    if last.swap(now, Ordering::Relaxed) != now {
        tracing::warn!("{line}");
    }
}

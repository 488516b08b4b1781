//! Serving a router on a public port with the limits it needs: at most so many connections,
//! a head of bounded size read within a bounded time; and a graceful stop that lets the
//! requests under way finish.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::config::Limits;

/// What a connection past the cap is told before it is closed.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n";

/// Serves `service` on `listener` until `stop` completes, then waits for the connections under
/// way to finish their requests. The service is a router through
/// [`hyper_util::service::TowerToHyperService`], or the Exotel listener's
/// [`super::shortcut::Shortcut`].
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<axum::BoxError>,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<axum::BoxError>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let head_timeout = Duration::from_millis(limits.header_read_timeout_ms.max(1));
    let mut http = hyper::server::conn::http1::Builder::new();
    // The head timeout is [`head_overdue`]'s, one timer a connection: hyper's own armed a
    // timer in tokio's wheel for every request and took it out again, 700 instructions a
    // request and 3.5% of a saturated server's profile (`docs/performance.md`, "Load").
    http.header_read_timeout(None)
        // hyper's least is 8 KB; a head past it is answered 431.
        .max_buf_size(limits.max_header_bytes.max(8192))
        // An answer is a head and a body of a few hundred bytes: copied into one buffer and
        // sent with one `send`, rather than `writev` of the two (`docs/performance.md`, "Load").
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
        let waiting = Arc::new(Waiting::new());
        let service = Watched {
            inner: service.clone(),
            waiting: Arc::clone(&waiting),
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                // The connection first: a head it has just read starts its answer before
                // the timeout looks.
                biased;
                _ = connection => {}
                // Dropped between requests, the connection closes and no answer is lost.
                () = head_overdue(&waiting, head_timeout) => {}
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
}

/// Since when a connection has waited for a request head (ms after its start: it waits from
/// its start, then from each answer sent), unless answers are under way.
///
/// Only the connection's task touches it (its service, its answers' bodies and
/// [`head_overdue`] are all polled there), so plain loads and stores do; atomics only because
/// the task moves between threads.
struct Waiting {
    start: Instant,
    since_ms: AtomicU64,
    /// Answers under way: one at a time as hyper serves HTTP/1.1 today, but an answer
    /// overlapping the next must not let its end start the clock while the next is made.
    answering: AtomicU32,
}

impl Waiting {
    fn new() -> Waiting {
        Waiting {
            start: Instant::now(),
            since_ms: AtomicU64::new(0),
            answering: AtomicU32::new(0),
        }
    }

    fn answer_started(&self) {
        let answering = self.answering.load(Ordering::Relaxed);
        self.answering.store(answering + 1, Ordering::Relaxed);
    }

    fn answer_sent(&self) {
        let since = self.start.elapsed().as_millis() as u64;
        self.since_ms.store(since, Ordering::Relaxed);
        let answering = self.answering.load(Ordering::Relaxed);
        self.answering
            .store(answering.saturating_sub(1), Ordering::Relaxed);
    }

    /// When the head awaited is overdue; `None` while answers are under way.
    fn overdue_at(&self, timeout: Duration) -> Option<Instant> {
        if self.answering.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let since = self.since_ms.load(Ordering::Relaxed);
        Some(self.start + Duration::from_millis(since) + timeout)
    }
}

/// Completes once a connection has waited `timeout` for a request head: a head that does not
/// end, or a connection kept open with no request. The clock starts when an answer's body has
/// been sent (or dropped): a Live page's stream of events is one answer, however long.
async fn head_overdue(waiting: &Waiting, timeout: Duration) {
    loop {
        let now = Instant::now();
        let at = waiting.overdue_at(timeout).unwrap_or(now + timeout);
        if at <= now {
            return;
        }
        tokio::time::sleep_until(at.into()).await;
    }
}

/// A connection's service, telling its [`Waiting`] when a request is answered.
struct Watched<S> {
    inner: S,
    waiting: Arc<Waiting>,
}

impl<S, R, B> hyper::service::Service<R> for Watched<S>
where
    S: hyper::service::Service<R, Response = hyper::Response<B>>,
{
    type Response = hyper::Response<WatchedBody<B>>;
    type Error = S::Error;
    type Future = Answering<S::Future>;

    fn call(&self, request: R) -> Self::Future {
        self.waiting.answer_started();
        Answering {
            inner: self.inner.call(request),
            answered: Some(Answered(Arc::clone(&self.waiting))),
        }
    }
}

/// Dropped with an answer's body, once sent (or with the answer, if it fails): from then on,
/// the connection waits for its next head.
struct Answered(Arc<Waiting>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.answer_sent();
    }
}

pin_project_lite::pin_project! {
    /// A request's answer, its body carrying the [`Answered`] along.
    struct Answering<F> {
        #[pin]
        inner: F,
        answered: Option<Answered>,
    }
}

impl<F, B, E> Future for Answering<F>
where
    F: Future<Output = Result<hyper::Response<B>, E>>,
{
    type Output = Result<hyper::Response<WatchedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.inner.poll(cx));
        let answered = this.answered.take();
        Poll::Ready(answer.map(|response| response.map(|body| WatchedBody { body, answered })))
    }
}

pin_project_lite::pin_project! {
    /// An answer's body as it was, and the [`Answered`] dropped with it.
    struct WatchedBody<B> {
        #[pin]
        body: B,
        answered: Option<Answered>,
    }
}

impl<B: hyper::body::Body> hyper::body::Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A line on stderr, at most once a second: a flood must not become a flood of log lines.
fn say_at_most_every_second(last: &AtomicI64, line: &str) {
    let now = jiff::Timestamp::now().as_second();
    if last.swap(now, Ordering::Relaxed) != now {
        tracing::warn!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_when_the_last_answer_under_way_is_sent() {
        let waiting = Waiting::new();
        let timeout = Duration::from_secs(10);
        assert_eq!(waiting.overdue_at(timeout), Some(waiting.start + timeout));
        waiting.answer_started();
        waiting.answer_started();
        assert_eq!(waiting.overdue_at(timeout), None);
        waiting.answer_sent();
        assert_eq!(waiting.overdue_at(timeout), None);
        std::thread::sleep(Duration::from_millis(5));
        waiting.answer_sent();
        let at = waiting.overdue_at(timeout).unwrap();
        assert!(
            at >= waiting.start + timeout + Duration::from_millis(5),
            "{at:?}"
        );
    }
}

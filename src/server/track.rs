//! Times every request, by the template of the route it matched: a tower layer around each
//! route, so that the time and the status reach `/metrics`.
//!
//! A layer of its own rather than `axum::middleware::from_fn`: that boxes a future and clones
//! the route's service for every request, a tenth of what axum's routing cost a Connect.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;

use super::AppState;

/// Wraps each route in [`Track`].
#[derive(Clone)]
pub(super) struct TrackLayer {
    pub(super) state: Arc<AppState>,
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            state: Arc::clone(&self.state),
        }
    }
}

#[derive(Clone)]
pub(super) struct Track<S> {
    inner: S,
    state: Arc<AppState>,
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The template, not the path: the secret in `/exotel/{secret}/connect` never
        // becomes a label.
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        Tracked {
            inner: self.inner.call(request),
            seen: Some(Seen {
                state: Arc::clone(&self.state),
                route,
                method,
                started: Instant::now(),
            }),
        }
    }
}

/// What is counted once the response is there.
struct Seen {
    state: Arc<AppState>,
    route: Option<MatchedPath>,
    method: Method,
    started: Instant,
}

pin_project_lite::pin_project! {
    pub(super) struct Tracked<F> {
        #[pin]
        inner: F,
        seen: Option<Seen>,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(seen)) = (&result, this.seen.take()) {
            seen.state.metrics.request(
                seen.route.as_ref().map(MatchedPath::as_str),
                seen.method.as_str(),
                response.status().as_u16(),
                seen.started.elapsed(),
            );
        }
        Poll::Ready(result)
    }
}

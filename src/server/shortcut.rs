//! The public listener's service: a request in, its answer out. [`super::app`]'s router
//! answers every request but Exotel's two most asked, GET `/exotel/connect` and
//! `/exotel/passthru`, which go straight to the handlers that route would call, timed the
//! same way. The router's match, the URL parameters it files in a map of the request's
//! extensions and the boxed service and future it makes cost 2,600 instructions a Connect,
//! and these two routes need none of them (`docs/performance.md`, "Load").

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::Response;
use axum::routing::future::RouteFuture;

use super::AppState;
use super::track::{self, Tracked};

/// What a handler's future is, whichever of the two it is: axum boxes it.
type HandlerFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// [`super::app`]'s router, with the two shortcuts ahead of it. Cloned once a connection.
#[derive(Clone)]
pub struct Shortcut {
    router: Router,
    state: Arc<AppState>,
}

/// The two routes' paths, which [`super::app`] routes too.
pub(super) const CONNECT: &str = "/exotel/connect";
pub(super) const PASSTHRU: &str = "/exotel/passthru";

/// The route a request takes past the router, if it is one of the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hot {
    Connect,
    Passthru,
}

impl Hot {
    /// Only GET, and only the exact path: anything else (HEAD, POST, a secret in the path, a
    /// slash more) is the router's, as are the answers it gives them.
    fn of(method: &Method, path: &str) -> Option<Hot> {
        if *method != Method::GET {
            return None;
        }
        match path {
            CONNECT => Some(Hot::Connect),
            PASSTHRU => Some(Hot::Passthru),
            _ => None,
        }
    }

    /// The template the request is timed under: the route's in [`super::app`], its path.
    fn template(self) -> &'static str {
        match self {
            Hot::Connect => CONNECT,
            Hot::Passthru => PASSTHRU,
        }
    }
}

impl Shortcut {
    pub fn new(state: Arc<AppState>) -> Shortcut {
        Shortcut {
            router: super::app(Arc::clone(&state)),
            state,
        }
    }

    fn answer(&self, request: Request) -> Answer {
        let Some(hot) = Hot::of(request.method(), request.uri().path()) else {
            // axum's router is always ready: `poll_ready` has nothing to wait for.
            let mut router = self.router.clone();
            return Answer::Routed {
                inner: tower::Service::call(&mut router, request),
            };
        };
        let method = request.method().clone();
        let state = Arc::clone(&self.state);
        let answered: HandlerFuture = match hot {
            Hot::Connect => Handler::call(super::decide::connect, request, state),
            Hot::Passthru => Handler::call(super::decide::passthru, request, state),
        };
        Answer::Shortcut {
            inner: track::tracked(&self.state, hot.template(), method, Answered(answered)),
        }
    }
}

/// Taken as hyper takes a service, with the request's own body: each connection's requests
/// are handed to it by reference, so no request clones it.
impl<B> hyper::service::Service<axum::http::Request<B>> for Shortcut
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: axum::http::Request<B>) -> Answer {
        // A GET has no body, and an empty one is boxed without an allocation.
        self.answer(request.map(|body| {
            if body.is_end_stream() {
                Body::empty()
            } else {
                Body::new(body)
            }
        }))
    }
}

pin_project_lite::pin_project! {
    /// The answer to a request, from a shortcut or from the router.
    #[project = AnswerProjection]
    pub enum Answer {
        Shortcut { #[pin] inner: Tracked<Answered> },
        Routed { #[pin] inner: RouteFuture<Infallible> },
    }
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProjection::Shortcut { inner } => inner.poll(cx),
            AnswerProjection::Routed { inner } => inner.poll(cx),
        }
    }
}

/// A handler's answer, as a service's: it cannot fail.
pub struct Answered(HandlerFuture);

impl Future for Answered {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_get_of_the_exact_path_is_taken_past_the_router() {
        assert_eq!(Hot::of(&Method::GET, "/exotel/connect"), Some(Hot::Connect));
        assert_eq!(
            Hot::of(&Method::GET, "/exotel/passthru"),
            Some(Hot::Passthru)
        );
        for (method, path) in [
            (Method::HEAD, "/exotel/connect"),
            (Method::POST, "/exotel/connect"),
            (Method::POST, "/exotel/passthru"),
            (Method::GET, "/exotel/connect/"),
            (Method::GET, "/exotel/Connect"),
            (Method::GET, "/exotel/s3cret/connect"),
            (Method::GET, "/exotel/events"),
            (Method::GET, "/healthz"),
        ] {
            assert_eq!(Hot::of(&method, path), None, "{method} {path}");
        }
    }
}

//! The Live page's feed: decisions in (as JSON, built only while a console watches), batches
//! of them out as server-sent events, until the server stops.

use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::{broadcast, watch};

/// Decisions a slow page may fall behind by before it skips ahead.
const BACKLOG: usize = 4096;
/// How often a page is sent what was decided since: a page at 500 decisions a second gets
/// four batches, not 500 messages.
const BATCH_EVERY: Duration = Duration::from_millis(250);
/// The most decisions in one batch; a page keeps fewer than this anyway.
const MAX_BATCH: usize = 500;

pub struct Live {
    decisions: broadcast::Sender<Arc<str>>,
    /// Set when the server stops: open feeds end, so the graceful stop does not wait on them.
    closing: watch::Sender<bool>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            decisions: broadcast::channel(BACKLOG).0,
            closing: watch::channel(false).0,
        }
    }
}

impl Live {
    /// Whether a console watches: the decision path builds events only then.
    pub fn watching(&self) -> bool {
        self.decisions.receiver_count() > 0
    }

    /// Sends a decision (a JSON object) to every page watching.
    pub fn send(&self, decision: String) {
        let _ = self.decisions.send(Arc::from(decision));
    }

    /// Ends every feed; new ones end at once.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A page's feed: `decisions` events, each `{"skipped": N, "decisions": [...]}` with the
    /// decisions since the last, oldest first, and how many were skipped because the page fell
    /// more than the backlog behind.
    pub fn feed(
        &self,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>> + use<>>
    {
        let receiver = self.decisions.subscribe();
        let closing = self.closing.subscribe();
        let hello = Event::default().event("hello").data("{}");
        let stream = futures_util::stream::unfold(
            (receiver, closing, Some(hello)),
            |(mut receiver, mut closing, hello)| async move {
                if let Some(hello) = hello {
                    return Some((Ok(hello), (receiver, closing, None)));
                }
                loop {
                    if *closing.borrow() {
                        return None;
                    }
                    tokio::select! {
                        _ = closing.changed() => return None,
                        () = tokio::time::sleep(BATCH_EVERY) => {}
                    }
                    let mut batch = Vec::new();
                    let mut skipped = 0u64;
                    while batch.len() < MAX_BATCH {
                        match receiver.try_recv() {
                            Ok(decision) => batch.push(decision),
                            Err(broadcast::error::TryRecvError::Lagged(n)) => skipped += n,
                            Err(_) => break,
                        }
                    }
                    if skipped > 0 || !batch.is_empty() {
                        let data = format!(
                            "{{\"skipped\":{skipped},\"decisions\":[{}]}}",
                            batch.join(",")
                        );
                        let event = Event::default().event("decisions").data(data);
                        return Some((Ok(event), (receiver, closing, None)));
                    }
                }
            },
        );
        Sse::new(stream).keep_alive(KeepAlive::default())
    }
}

//! The Live page's feed: decisions in (as JSON, built only while a console watches), batches
//! of them out as server-sent events, until the server stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::{broadcast, watch};

/// Decisions a slow page may fall behind by before it skips ahead.
const BACKLOG: usize = 4096;
/// How often a page is sent what was decided since: a page at 500 decisions a second gets
/// ten batches, not 500 messages; small batches keep each write short.
const BATCH_EVERY: Duration = Duration::from_millis(100);
/// The most decisions shown per batch: 1,000 a second, twice what a page must keep up with.
/// Past it, a busy server's decisions are sampled: each batch says how many it left out, and
/// those are neither traced nor serialised, so a console costs the answers next to nothing.
const PER_BATCH: u64 = 100;

pub struct Live {
    decisions: broadcast::Sender<Arc<str>>,
    /// Set when the server stops: open feeds end, so the graceful stop does not wait on them.
    closing: watch::Sender<bool>,
    /// The batch window now (ms since the epoch / `BATCH_EVERY`), and decisions shown in it.
    window: AtomicU64,
    shown: AtomicU64,
    /// Decisions left out since the start, for every feed to report its share of.
    left_out: Arc<AtomicU64>,
    /// Pages watching. Read on every decision's path: an atomic read, where the broadcast's
    /// own count takes its lock.
    watching: Arc<AtomicUsize>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            decisions: broadcast::channel(BACKLOG).0,
            closing: watch::channel(false).0,
            window: AtomicU64::new(0),
            shown: AtomicU64::new(0),
            left_out: Arc::new(AtomicU64::new(0)),
            watching: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Live {
    /// Whether this decision is to be shown: a console watches, and this batch window has
    /// room. The decision path traces and sends a decision only then.
    pub fn take_slot(&self) -> bool {
        if self.watching.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let window = now / BATCH_EVERY.as_millis() as u64;
        let was = self.window.load(Ordering::Relaxed);
        if was != window
            && self
                .window
                .compare_exchange(was, window, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.shown.store(0, Ordering::Relaxed);
        }
        if self.shown.fetch_add(1, Ordering::Relaxed) < PER_BATCH {
            true
        } else {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            false
        }
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
    /// decisions since the last, oldest first, and how many were left out since (sampled out
    /// on a busy server, or missed because the page fell more than the backlog behind).
    pub fn feed(
        &self,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>> + use<>>
    {
        let hello = Event::default().event("hello").data("{}");
        self.watching.fetch_add(1, Ordering::Relaxed);
        let feed = Feed {
            watching: Arc::clone(&self.watching),
            receiver: self.decisions.subscribe(),
            closing: self.closing.subscribe(),
            seen_left_out: self.left_out.load(Ordering::Relaxed),
            left_out: Arc::clone(&self.left_out),
        };
        let batches = futures_util::stream::unfold(feed, |mut feed| async move {
            let event = feed.next_batch().await?;
            Some((Ok(event), feed))
        });
        let stream = futures_util::StreamExt::chain(
            futures_util::stream::once(async { Ok(hello) }),
            batches,
        );
        Sse::new(stream).keep_alive(KeepAlive::default())
    }
}

/// One page's end of the feed.
struct Feed {
    receiver: broadcast::Receiver<Arc<str>>,
    closing: watch::Receiver<bool>,
    left_out: Arc<AtomicU64>,
    /// `left_out` when this page last heard.
    seen_left_out: u64,
    /// [`Live::watching`], which this page leaves when it goes.
    watching: Arc<AtomicUsize>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.watching.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Feed {
    /// The next batch, once there is one; `None` when the server stops.
    async fn next_batch(&mut self) -> Option<Event> {
        loop {
            if *self.closing.borrow() {
                return None;
            }
            tokio::select! {
                _ = self.closing.changed() => return None,
                () = tokio::time::sleep(BATCH_EVERY) => {}
            }
            let mut batch = Vec::new();
            let mut skipped = 0u64;
            loop {
                match self.receiver.try_recv() {
                    Ok(decision) => batch.push(decision),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => skipped += n,
                    Err(_) => break,
                }
            }
            let left_out = self.left_out.load(Ordering::Relaxed);
            skipped += left_out.saturating_sub(self.seen_left_out);
            self.seen_left_out = left_out;
            if skipped > 0 || !batch.is_empty() {
                let data = format!(
                    "{{\"skipped\":{skipped},\"decisions\":[{}]}}",
                    batch.join(",")
                );
                return Some(Event::default().event("decisions").data(data));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_decision_is_shown_only_while_a_page_watches() {
        let live = Live::default();
        assert!(!live.take_slot());
        let page = live.feed();
        let other = live.feed();
        assert!(live.take_slot());
        drop(page);
        assert!(live.take_slot());
        drop(other);
        assert!(!live.take_slot());
    }
}

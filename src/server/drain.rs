//! A background thread's loop over its queue: items in, handled in batches. While items keep
//! coming the thread drains the queue every 2 ms rather than waiting on it, so that a sender
//! on the answer's path never has to wake it (at tens of thousands of items a second the
//! wake-ups cost more than the work); idle, it waits, and the first item wakes it.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

/// How long the thread sleeps between drains while items keep coming (the decision log's
/// writer keeps the same pace).
pub(super) const DRAIN_EVERY: Duration = Duration::from_millis(2);
/// Empty drains in a row (about 100 ms) before the thread blocks until the next item.
pub(super) const IDLE_DRAINS: u32 = 50;

/// Runs until every sender is gone: `handle(Some(item))` for every item, then `handle(None)`
/// after a batch that had any. `handle` returns `false` to stop.
pub fn drain<T>(items: &Receiver<T>, mut handle: impl FnMut(Option<T>) -> bool) {
    let mut idle = 0;
    loop {
        let mut handled = 0;
        if idle >= IDLE_DRAINS {
            let Ok(item) = items.recv() else { return };
            if !handle(Some(item)) {
                return;
            }
            handled += 1;
        }
        let gone = loop {
            match items.try_recv() {
                Ok(item) => {
                    if !handle(Some(item)) {
                        return;
                    }
                    handled += 1;
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if handled > 0 {
            if !handle(None) {
                return;
            }
            idle = 0;
        } else {
            idle += 1;
        }
        if gone {
            return;
        }
        std::thread::sleep(DRAIN_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_handled_in_order_and_the_loop_ends_with_its_senders() {
        let (send, items) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut batches = 0;
            drain(&items, |item| {
                match item {
                    Some(i) => seen.push(i),
                    None => batches += 1,
                }
                true
            });
            (seen, batches)
        });
        for i in 0..1000 {
            send.send(i).unwrap();
        }
        drop(send);
        let (seen, batches) = worker.join().unwrap();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(batches >= 1);
    }
}

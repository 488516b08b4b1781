//! The decision log: JSON lines appended to a bounded buffer that a writer thread of its own
//! takes and writes a batch at a time, so that a stdout nobody drains never holds up an
//! answer. When the buffer is full, lines are dropped and counted, never waited for.

use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::drain::{DRAIN_EVERY, IDLE_DRAINS};

/// Bytes waiting for the writer at most: 16,384 lines of 256 bytes, a few seconds of a busy
/// server.
pub const CAPACITY: usize = 16_384 * 256;

pub struct DecisionLog {
    shared: Arc<Shared>,
    dropped: AtomicU64,
}

struct Shared {
    lines: Mutex<Lines>,
    /// Wakes a writer waiting for lines.
    arrived: Condvar,
    /// Wakes [`DecisionLog::flush`] when a batch is written.
    written: Condvar,
}

/// What the answers and the writer share: one short lock a line, to copy it in; the writer
/// takes the whole buffer at once, leaving its own emptied one in its place.
struct Lines {
    bytes: Vec<u8>,
    capacity: usize,
    /// Lines added since the start.
    added: u64,
    /// Lines written since the start, each batch counted once written and flushed.
    written: u64,
    /// The writer waits on [`Shared::arrived`]: the next line wakes it.
    waiting: bool,
    /// The log is dropped: the writer writes what is left and ends.
    closed: bool,
}

impl Shared {
    fn lines(&self) -> MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DecisionLog {
    /// A log writing to stdout from a thread of its own, which ends when the log is dropped.
    pub fn to_stdout() -> DecisionLog {
        DecisionLog::to(CAPACITY, std::io::stdout)
    }

    /// A log holding `capacity` bytes at most, writing to what `open` gives on a thread of
    /// its own.
    pub fn to<W: Write + 'static>(
        capacity: usize,
        open: impl FnOnce() -> W + Send + 'static,
    ) -> DecisionLog {
        let shared = Arc::new(Shared {
            lines: Mutex::new(Lines {
                bytes: Vec::new(),
                capacity,
                added: 0,
                written: 0,
                waiting: false,
                closed: false,
            }),
            arrived: Condvar::new(),
            written: Condvar::new(),
        });
        let writer = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("routec-decision-log".into())
            .spawn(move || write_all(open(), &writer));
        if let Err(e) = spawned {
            tracing::error!("the decision log cannot start: {e}");
        }
        DecisionLog {
            shared,
            dropped: AtomicU64::new(0),
        }
    }

    /// Adds the line `write_line` writes (with its newline) into a buffer of this thread's,
    /// so that a line costs no allocation; drops it when the writer is behind.
    pub fn write_with(&self, write_line: impl FnOnce(&mut Vec<u8>)) {
        thread_local! {
            static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            write_line(line);
            self.write(line);
        });
    }

    /// Adds a line (with its newline); drops it when the writer is behind.
    pub fn write(&self, line: &[u8]) {
        let wake = {
            let mut lines = self.shared.lines();
            if lines.bytes.len() + line.len() > lines.capacity {
                drop(lines);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            lines.bytes.extend_from_slice(line);
            lines.added += 1;
            std::mem::take(&mut lines.waiting)
        };
        if wake {
            self.shared.arrived.notify_one();
        }
    }

    /// Waits, `within` at most, until every line added so far is written: at shutdown, so
    /// that the last decisions reach the log.
    pub fn flush(&self, within: Duration) {
        let until = Instant::now() + within;
        let mut lines = self.shared.lines();
        let added = lines.added;
        while lines.written < added {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            lines = match self.shared.written.wait_timeout(lines, left) {
                Ok((lines, _)) => lines,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Lines dropped because the writer was behind (or gone).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The writer ends once it has written what was added before.
impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.shared.lines().closed = true;
        self.shared.arrived.notify_one();
    }
}

/// The writer's loop, at the shadow's worker's pace ([`super::drain`]): every
/// [`DRAIN_EVERY`] while lines keep coming (a sender on the answer's path never wakes it),
/// takes what was added and writes it in one write, then flushes; after [`IDLE_DRAINS`] empty
/// turns, waits for the next line. A write that fails drops its batch.
fn write_all(mut out: impl Write, shared: &Shared) {
    let mut batch = Vec::new();
    let mut idle = 0;
    loop {
        let (added, closed) = {
            let mut lines = shared.lines();
            if lines.bytes.is_empty() && !lines.closed && idle >= IDLE_DRAINS {
                lines.waiting = true;
                while lines.waiting && !lines.closed {
                    lines = match shared.arrived.wait(lines) {
                        Ok(lines) => lines,
                        Err(e) => e.into_inner(),
                    };
                }
            }
            std::mem::swap(&mut lines.bytes, &mut batch);
            (lines.added, lines.closed)
        };
        if batch.is_empty() {
            idle += 1;
        } else {
            idle = 0;
            let _ = out.write_all(&batch);
            let _ = out.flush();
            batch.clear();
            shared.lines().written = added;
            shared.written.notify_all();
        }
        if closed {
            return;
        }
        std::thread::sleep(DRAIN_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A writer that never returns: a pipe nobody reads.
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            std::thread::park();
            Ok(0)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_writer_drops_lines_and_counts_them_without_waiting() {
        let log = DecisionLog::to(4, || Stuck);
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            log.write(b"{}\n");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // What fits in four bytes, and what the writer took before it stuck; the rest
        // dropped.
        assert!(log.dropped() >= 900, "{}", log.dropped());
    }

    /// Counts the writes that reach it.
    struct Counted(Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>);

    impl Write for Counted {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.fetch_add(1, Ordering::Relaxed);
            self.1
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_of_lines_is_one_write() {
        let (writes, text) = (Arc::default(), Arc::default());
        let (counted, seen) = (Arc::clone(&writes), Arc::clone(&text));
        let log = DecisionLog::to(64 * 1024, move || Counted(counted, seen));
        // Queued faster than the writer, which drains every 2 ms, takes them.
        for i in 0..500 {
            log.write_with(|out| out.extend_from_slice(format!("{{\"line\":{i}}}\n").as_bytes()));
        }
        log.flush(std::time::Duration::from_secs(5));
        let text = text.lock().expect("not poisoned").clone();
        let lines: Vec<_> = String::from_utf8(text)
            .expect("UTF-8")
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(lines.len(), 500);
        assert_eq!(lines[499], "{\"line\":499}");
        // Every line, in order, in a few writes rather than one a line.
        assert!(
            writes.load(Ordering::Relaxed) < 50,
            "{}",
            writes.load(Ordering::Relaxed)
        );
    }
}

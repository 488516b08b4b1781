//! The decision log: JSON lines handed to a writer thread through a bounded queue, so that a
//! stdout nobody drains never holds up an answer. When the queue is full, lines are dropped
//! and counted, never waited for.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Lines waiting for the writer at most: a few seconds of a busy server.
pub const QUEUE: usize = 16_384;

/// The writer's buffer: a batch of some hundred lines in one write.
const BUFFER: usize = 64 * 1024;

pub struct DecisionLog {
    queue: SyncSender<Vec<u8>>,
    dropped: AtomicU64,
    /// Lines queued and not yet written.
    pending: Arc<AtomicUsize>,
}

impl DecisionLog {
    /// A log writing to stdout from a thread of its own, which ends when the log is dropped.
    pub fn to_stdout() -> DecisionLog {
        DecisionLog::to(QUEUE, std::io::stdout)
    }

    /// A log of `capacity` lines writing to what `open` gives, on a thread of its own.
    pub fn to<W: Write + 'static>(
        capacity: usize,
        open: impl FnOnce() -> W + Send + 'static,
    ) -> DecisionLog {
        let (queue, lines) = sync_channel(capacity);
        let pending = Arc::new(AtomicUsize::new(0));
        let written = Arc::clone(&pending);
        let spawned = std::thread::Builder::new()
            .name("routec-decision-log".into())
            .spawn(move || write_all(open(), &lines, &written));
        if let Err(e) = spawned {
            tracing::error!("the decision log cannot start: {e}");
        }
        DecisionLog {
            queue,
            dropped: AtomicU64::new(0),
            pending,
        }
    }

    /// Queues a line (with its newline); drops it when the writer is behind.
    pub fn write(&self, line: Vec<u8>) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits, `within` at most, until every queued line is written: at shutdown, so that the
    /// last decisions reach the log.
    pub fn flush(&self, within: Duration) {
        let until = Instant::now() + within;
        while self.pending.load(Ordering::Relaxed) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Lines dropped because the writer was behind (or gone).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes lines in batches (see [`super::drain`]), flushing after each; a write that fails
/// drops the line. Buffered: stdout writes each line as it comes (it is line-buffered), a
/// system call a decision, where a batch needs one.
fn write_all(out: impl Write, lines: &Receiver<Vec<u8>>, pending: &AtomicUsize) {
    let mut out = std::io::BufWriter::with_capacity(BUFFER, out);
    let mut written = 0;
    super::drain::drain(lines, |line| {
        match line {
            Some(line) => {
                let _ = out.write_all(&line);
                written += 1;
            }
            None => {
                let _ = out.flush();
                pending.fetch_sub(std::mem::take(&mut written), Ordering::Relaxed);
            }
        }
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

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
            log.write(b"{}\n".to_vec());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Four queued, and what the writer took into its buffer before it stuck; the rest
        // dropped.
        assert!(log.dropped() >= 900, "{}", log.dropped());
    }

    /// Counts the writes that reach it.
    struct Counted(Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<u8>>>);

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
        let log = DecisionLog::to(1000, move || Counted(counted, seen));
        // Queued faster than the writer, which drains every 2 ms, takes them.
        for i in 0..500 {
            log.write(format!("{{\"line\":{i}}}\n").into_bytes());
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

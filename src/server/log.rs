//! The decision log: JSON lines appended to bounded buffers, one a worker thread, that a
//! writer thread of its own takes and writes a batch at a time, so that a stdout nobody
//! drains never holds up an answer. When a buffer is full, lines are dropped and counted,
//! never waited for.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::drain::{DRAIN_EVERY, IDLE_DRAINS};
use super::per_thread::PerThread;

/// Bytes waiting for the writer at most, across the buffers: 16,384 lines of 256 bytes, a
/// few seconds of a busy server.
pub const CAPACITY: usize = 16_384 * 256;

pub struct DecisionLog {
    shared: Arc<Shared>,
}

struct Shared {
    /// One buffer a worker thread: with one for all, the two workers passed its lock's cache
    /// line, and its last bytes', between the cores at every decision (a quarter of
    /// `report_decision`'s time in a profile, `docs/performance.md`). The writer takes them
    /// in turn, so lines of one batch are in order by thread, not across threads.
    buffers: PerThread<Mutex<Buffer>>,
    /// The writer waits on [`Shared::arrived`]: the next line wakes it. Every line reads it;
    /// it is written only when the writer goes idle or wakes, so it stays in every core's
    /// cache.
    waiting: AtomicBool,
    gate: Mutex<Gate>,
    /// Wakes a writer waiting for lines.
    arrived: Condvar,
    /// Wakes [`DecisionLog::flush`] when a batch is written.
    written: Condvar,
    dropped: AtomicU64,
}

/// A thread's lines, waiting for the writer, which takes them all at once, leaving its own
/// emptied buffer in their place.
struct Buffer {
    bytes: Vec<u8>,
    capacity: usize,
    /// Lines added since the start.
    added: u64,
}

/// What the writer tells the rest.
struct Gate {
    /// Lines written since the start, by buffer, each batch counted once written and
    /// flushed.
    written: Vec<u64>,
    /// The log is dropped: the writer writes what is left and ends.
    closed: bool,
}

/// A lock that a panic elsewhere does not poison: the bytes stay whole lines.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn gate(&self) -> MutexGuard<'_, Gate> {
        lock(&self.gate)
    }

    /// Waits until a line arrives or the log is closed. The flag is set before the buffers
    /// are looked at, under their locks: a line added after a buffer was found empty sees it
    /// set, and wakes the writer.
    fn wait_for_lines(&self) {
        let mut gate = self.gate();
        self.waiting.store(true, Ordering::Relaxed);
        if self.buffers.all().all(|b| lock(b).bytes.is_empty()) {
            while self.waiting.load(Ordering::Relaxed) && !gate.closed {
                gate = match self.arrived.wait(gate) {
                    Ok(gate) => gate,
                    Err(e) => e.into_inner(),
                };
            }
        }
        self.waiting.store(false, Ordering::Relaxed);
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
        DecisionLog::with(super::per_thread::cores(), capacity, open)
    }

    /// [`DecisionLog::to`], with `buffers` buffers, each holding its share of `capacity`.
    fn with<W: Write + 'static>(
        buffers: usize,
        capacity: usize,
        open: impl FnOnce() -> W + Send + 'static,
    ) -> DecisionLog {
        let buffers = PerThread::with(buffers, || {
            Mutex::new(Buffer {
                bytes: Vec::new(),
                capacity: capacity.div_ceil(buffers.max(1)),
                added: 0,
            })
        });
        let shared = Arc::new(Shared {
            gate: Mutex::new(Gate {
                written: vec![0; buffers.len()],
                closed: false,
            }),
            buffers,
            waiting: AtomicBool::new(false),
            arrived: Condvar::new(),
            written: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let writer = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("routec-decision-log".into())
            .spawn(move || write_all(open(), &writer));
        if let Err(e) = spawned {
            tracing::error!("the decision log cannot start: {e}");
        }
        DecisionLog { shared }
    }

    /// Adds the line `write_line` writes (with its newline) into this thread's buffer, where
    /// it is written in place, with no copy and no allocation; drops it when the buffer has
    /// no room for it.
    pub fn write_with(&self, write_line: impl FnOnce(&mut Vec<u8>)) {
        let shared = &*self.shared;
        {
            let mut buffer = lock(shared.buffers.mine());
            let before = buffer.bytes.len();
            write_line(&mut buffer.bytes);
            if buffer.bytes.len() > buffer.capacity {
                buffer.bytes.truncate(before);
                drop(buffer);
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            buffer.added += 1;
        }
        // Read first, swapped only when set: the writer waits seldom.
        if shared.waiting.load(Ordering::Relaxed) && shared.waiting.swap(false, Ordering::Relaxed) {
            let _gate = shared.gate();
            shared.arrived.notify_one();
        }
    }

    /// Adds a line (with its newline); drops it when the writer is behind.
    #[cfg(test)]
    fn write(&self, line: &[u8]) {
        self.write_with(|out| out.extend_from_slice(line));
    }

    /// Waits, `within` at most, until every line added so far is written: at shutdown, so
    /// that the last decisions reach the log.
    pub fn flush(&self, within: Duration) {
        let until = Instant::now() + within;
        let added: Vec<u64> = self.shared.buffers.all().map(|b| lock(b).added).collect();
        let mut gate = self.shared.gate();
        while gate
            .written
            .iter()
            .zip(&added)
            .any(|(written, added)| written < added)
        {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            gate = match self.shared.written.wait_timeout(gate, left) {
                Ok((gate, _)) => gate,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Lines dropped because the writer was behind (or gone).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// The writer ends once it has written what was added before.
impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.shared.gate().closed = true;
        self.shared.arrived.notify_one();
    }
}

/// The writer's loop, at the shadow's worker's pace ([`super::drain`]): every
/// [`DRAIN_EVERY`] while lines keep coming (a sender on the answer's path never wakes it),
/// takes each buffer's lines and writes them in one write, then flushes; after
/// [`IDLE_DRAINS`] empty turns, waits for the next line. A write that fails drops its batch.
fn write_all(mut out: impl Write, shared: &Shared) {
    let mut batch = Vec::new();
    let mut idle = 0;
    loop {
        if idle >= IDLE_DRAINS {
            shared.wait_for_lines();
        }
        // Read before the buffers are taken: a line added before the log closed is taken.
        let closed = shared.gate().closed;
        let mut any = false;
        for (n, buffer) in shared.buffers.all().enumerate() {
            let added = {
                let mut buffer = lock(buffer);
                std::mem::swap(&mut buffer.bytes, &mut batch);
                buffer.added
            };
            // An empty buffer added nothing since it was last taken: its count stands.
            if !batch.is_empty() {
                any = true;
                let _ = out.write_all(&batch);
                let _ = out.flush();
                batch.clear();
                shared.gate().written[n] = added;
            }
        }
        if any {
            idle = 0;
            shared.written.notify_all();
        } else {
            idle += 1;
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

    /// The lines written so far, one a string.
    fn lines_of(text: &Mutex<Vec<u8>>) -> Vec<String> {
        let text = text.lock().expect("not poisoned").clone();
        String::from_utf8(text)
            .expect("UTF-8")
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_thread_s_lines_are_written_whole_and_in_its_order() {
        let text = Arc::default();
        let seen = Arc::clone(&text);
        // Fewer buffers than threads: threads past them share one.
        let log = DecisionLog::with(2, 1 << 20, move || Counted(Arc::default(), seen));
        std::thread::scope(|s| {
            for thread in 0..4 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..2000 {
                        log.write_with(|out| {
                            out.extend_from_slice(format!("{thread} {i}\n").as_bytes())
                        });
                    }
                });
            }
        });
        log.flush(std::time::Duration::from_secs(5));
        let lines = lines_of(&text);
        assert_eq!(lines.len(), 8000);
        for thread in 0..4 {
            let mine: Vec<_> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{thread} ")))
                .map(|i| i.parse::<u32>().expect("a number"))
                .collect();
            assert_eq!(mine, (0..2000).collect::<Vec<_>>(), "thread {thread}");
        }
        assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn a_writer_gone_idle_wakes_for_the_next_line() {
        let text = Arc::default();
        let seen = Arc::clone(&text);
        let log = DecisionLog::with(2, 1 << 16, move || Counted(Arc::default(), seen));
        for round in 0..3 {
            // Longer than the writer's idle turns: it waits for a line.
            std::thread::sleep(DRAIN_EVERY * (IDLE_DRAINS + 20));
            // From another thread each round: another buffer, or the same.
            let line = format!("{{\"round\":{round}}}\n");
            std::thread::scope(|s| {
                s.spawn(|| log.write(line.as_bytes()));
            });
            log.flush(std::time::Duration::from_secs(10));
            assert_eq!(lines_of(&text).len(), round + 1, "round {round}");
        }
    }

    #[test]
    fn lines_added_before_the_log_is_dropped_are_written() {
        let text = Arc::default();
        let seen = Arc::clone(&text);
        let log = DecisionLog::with(2, 1 << 16, move || Counted(Arc::default(), seen));
        std::thread::sleep(DRAIN_EVERY * (IDLE_DRAINS + 20));
        log.write(b"last\n");
        drop(log);
        let until = Instant::now() + Duration::from_secs(10);
        while lines_of(&text).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(lines_of(&text), ["last"]);
    }
}

//! Values written on every request, one per thread that writes: each thread takes its own,
//! readers go through all of them. Two workers counting into one lock or one atomic move its
//! cache line between the cores at every request.

use std::sync::atomic::{AtomicUsize, Ordering};

/// One value a thread, up to the number of cores: past it, threads share.
pub struct PerThread<T> {
    values: Box<[Padded<T>]>,
}

/// A cache line of its own (two, on CPUs that fetch them in pairs), so that neighbours do
/// not share one.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> PerThread<T> {
    /// As many values as the machine has cores, each made by `make`.
    pub fn new(make: impl FnMut() -> T) -> PerThread<T> {
        PerThread::at_most(usize::MAX, make)
    }

    /// As many values as the machine has cores, `most` at most: for a large value.
    pub fn at_most(most: usize, make: impl FnMut() -> T) -> PerThread<T> {
        PerThread::with(cores().min(most), make)
    }

    /// `count` values (at least one), each made by `make`.
    pub fn with(count: usize, mut make: impl FnMut() -> T) -> PerThread<T> {
        PerThread {
            values: (0..count.max(1)).map(|_| Padded(make())).collect(),
        }
    }

    /// This thread's value.
    pub fn mine(&self) -> &T {
        &self.values[thread_number() % self.values.len()].0
    }

    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.values.iter().map(|v| &v.0)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }
}

/// The machine's cores: how many values [`PerThread::new`] makes.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// This thread's number, given the first time it asks: the runtime's workers, which make
/// every decision, take the first ones.
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| *n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn threads_take_their_own_values_and_readers_see_all() {
        let counts = PerThread::with(4, || AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counts.mine().fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let total: u64 = counts.all().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 4000);
        // A thread keeps its value.
        assert!(std::ptr::eq(counts.mine(), counts.mine()));
    }
}

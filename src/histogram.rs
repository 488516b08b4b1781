//! A latency histogram of atomic counters: durations in, bucket counts out, with no lock, so
//! that the request path never waits for a scrape or for another request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from 100 µs (a decision) to 5 s (a hung source).
pub const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations above the bound before each bound and at or below its own (not cumulative:
    /// prometheus-client's encoder sums them).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// The sum in nanoseconds: an integer adds atomically.
    sum_nanos: AtomicU64,
}

/// A histogram's figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub count: u64,
    pub sum_seconds: f64,
    /// (upper bound, observations above the bound before it and at or below its own): each
    /// bucket's own, as prometheus-client's encoder takes them; it sums them into the
    /// cumulative buckets Prometheus reads (summed here as well, they were counted twice).
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn read(&self) -> Reading {
        Reading::sum([self])
    }
}

impl Reading {
    /// The figures of histograms counted apart (by thread, say), as one.
    pub fn sum<'a>(histograms: impl IntoIterator<Item = &'a Histogram>) -> Reading {
        let mut count = 0;
        let mut sum_nanos = 0u64;
        let mut per_bucket = [0u64; BUCKETS.len()];
        for h in histograms {
            count += h.count();
            sum_nanos = sum_nanos.saturating_add(h.sum_nanos.load(Ordering::Relaxed));
            for (total, n) in per_bucket.iter_mut().zip(&h.buckets) {
                *total += n.load(Ordering::Relaxed);
            }
        }
        let in_buckets: u64 = per_bucket.iter().sum();
        Reading {
            // At least the buckets' total: a scrape between two of `observe`'s additions
            // must not show a count below a bucket.
            count: count.max(in_buckets),
            sum_seconds: sum_nanos as f64 / 1e9,
            buckets: BUCKETS.into_iter().zip(per_bucket).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bucket_counts_its_own_and_the_sum_is_in_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let r = h.read();
        assert_eq!(r.count, 3);
        assert!((r.sum_seconds - 60.00305).abs() < 1e-9, "{}", r.sum_seconds);
        assert_eq!(r.buckets[0], (0.0001, 1));
        assert_eq!(r.buckets[5], (0.005, 1));
        assert_eq!(r.buckets.last(), Some(&(5.0, 0)));
        assert_eq!(r.buckets.iter().map(|(_, n)| n).sum::<u64>(), 2);
    }

    #[test]
    fn histograms_counted_apart_read_as_one() {
        let (a, b) = (Histogram::default(), Histogram::default());
        a.observe(Duration::from_micros(50));
        b.observe(Duration::from_millis(3));
        b.observe(Duration::from_secs(60));
        let both = Reading::sum([&a, &b]);
        assert_eq!(both.count, 3);
        assert!(
            (both.sum_seconds - 60.00305).abs() < 1e-9,
            "{}",
            both.sum_seconds
        );
        assert_eq!(both.buckets[0], (0.0001, 1));
        assert_eq!(both.buckets[5], (0.005, 1));
        assert_eq!(both.buckets.last(), Some(&(5.0, 0)));
    }
}

//! A lock-free latency histogram with fixed buckets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds: 100 µs to 10 s. Statements
/// through the proxy range from sub-millisecond lookups to long reports;
/// slower ones land in +Inf.
pub(super) const BOUNDS_NANOS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Per-bucket (not cumulative) counts, the last one for +Inf, and the sum.
///
/// An observation is two relaxed additions and no lock. The count is not
/// stored: a snapshot derives it from the buckets, so the rendered +Inf
/// bucket always equals `_count` even while observations race the scrape.
#[derive(Debug, Default)]
#[repr(align(128))] // hot: off the other counters' cache lines (see `Hot`)
pub(super) struct Histogram {
    buckets: [AtomicU64; BOUNDS_NANOS.len() + 1],
    sum_nanos: AtomicU64,
}

/// What a scrape reads: cumulative counts, the sum in seconds, the count.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    /// `cumulative[i]` counts observations `<= BOUNDS_NANOS[i]`; the last
    /// entry is +Inf.
    pub(super) cumulative: [u64; BOUNDS_NANOS.len() + 1],
    pub(super) sum_seconds: f64,
    pub(super) count: u64,
}

impl Histogram {
    pub(super) fn observe(&self, latency: Duration) {
        // Saturates after 584 years, which no statement reaches.
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        if let Some(count) = self.buckets.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Wraps after 584 years of summed latency; fine for a counter that
        // Prometheus reads as a rate.
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let mut cumulative = [0; BOUNDS_NANOS.len() + 1];
        let mut running = 0u64;
        for (slot, count) in cumulative.iter_mut().zip(&self.buckets) {
            running = running.saturating_add(count.load(Ordering::Relaxed));
            *slot = running;
        }
        Snapshot {
            cumulative,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: running,
        }
    }
}

/// A bucket bound as Prometheus writes it: "0.00025", "1", "10".
pub(super) fn bound_label(nanos: u64) -> String {
    // The quotient of two exact integers is the double nearest the decimal
    // bound, and `Display` prints the shortest text that reads back to it.
    (nanos as f64 / 1e9).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(100)); // on the bound: le="0.0001"
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60)); // beyond 10 s: +Inf only
        h.observe(Duration::ZERO);
        h.observe(Duration::MAX);
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 2);
        assert_eq!(s.cumulative[1], 3);
        assert_eq!(s.cumulative[BOUNDS_NANOS.len() - 1], 3);
        assert_eq!(s.cumulative[BOUNDS_NANOS.len()], 5);
        assert_eq!(s.count, 5);
    }

    #[test]
    fn sum_is_in_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(1500));
        h.observe(Duration::from_millis(500));
        assert_eq!(h.snapshot().sum_seconds, 2.0);
    }

    #[test]
    fn bounds_read_as_the_conventional_decimals() {
        let labels: Vec<String> = BOUNDS_NANOS.iter().map(|&b| bound_label(b)).collect();
        assert_eq!(
            labels,
            [
                "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                "0.1", "0.25", "0.5", "1", "2.5", "5", "10"
            ]
        );
    }

    #[test]
    fn observations_from_many_threads_are_all_counted() {
        let h = std::sync::Arc::new(Histogram::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = std::sync::Arc::clone(&h);
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        h.observe(Duration::from_micros(i));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("observer thread");
        }
        assert_eq!(h.snapshot().count, 40_000);
    }
}

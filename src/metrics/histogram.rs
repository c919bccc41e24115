//! A lock-free latency histogram with fixed buckets, encoded by
//! prometheus-client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds of the buckets, in nanoseconds: 100 µs to 10 s. Statements
/// through the proxy range from sub-millisecond lookups to long reports;
/// slower ones land in +Inf.
const BOUNDS_NANOS: [u64; 16] = [
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
/// prometheus-client's histogram takes a lock for every observation; this
/// one is two relaxed additions, since every statement is observed. The
/// count is not stored: the encoder derives it from the buckets, so the
/// rendered +Inf bucket always equals `_count` even while observations
/// race the scrape.
#[derive(Debug, Default)]
#[repr(align(128))] // hot: off the other counters' cache lines (see `Hot`)
struct Buckets {
    counts: [AtomicU64; BOUNDS_NANOS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A handle: the proxy observes through one clone, the registry encodes
/// another.
#[derive(Debug, Default, Clone)]
pub(super) struct Histogram(Arc<Buckets>);

/// What a scrape reads: per-bucket counts by upper bound in seconds (the
/// last +Inf), and the sum in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    pub(super) buckets: [(f64, u64); BOUNDS_NANOS.len() + 1],
    pub(super) sum_seconds: f64,
}

impl Snapshot {
    pub(super) fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |n, (_, c)| n.saturating_add(*c))
    }
}

impl Histogram {
    pub(super) fn observe(&self, latency: Duration) {
        // Saturates after 584 years, which no statement reaches.
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        if let Some(count) = self.0.counts.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Wraps after 584 years of summed latency; fine for a counter that
        // Prometheus reads as a rate.
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let mut buckets = [(f64::INFINITY, 0); BOUNDS_NANOS.len() + 1];
        for (i, (slot, count)) in buckets.iter_mut().zip(&self.0.counts).enumerate() {
            if let Some(&bound) = BOUNDS_NANOS.get(i) {
                slot.0 = bound as f64 / 1e9;
            }
            slot.1 = count.load(Ordering::Relaxed);
        }
        Snapshot {
            buckets,
            sum_seconds: self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let s = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(s.sum_seconds, s.count(), &s.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
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
        assert_eq!(s.buckets[0], (0.0001, 2));
        assert_eq!(s.buckets[1], (0.00025, 1));
        assert_eq!(s.buckets[BOUNDS_NANOS.len() - 1], (10.0, 0));
        assert_eq!(s.buckets[BOUNDS_NANOS.len()], (f64::INFINITY, 2));
        assert_eq!(s.count(), 5);
    }

    #[test]
    fn sum_is_in_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(1500));
        h.observe(Duration::from_millis(500));
        assert_eq!(h.snapshot().sum_seconds, 2.0);
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
        assert_eq!(h.snapshot().count(), 40_000);
    }
}

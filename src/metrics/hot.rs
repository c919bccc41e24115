//! A counter value that sits alone on its cache line.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::{Atomic, Counter};

/// A prometheus-client counter bumped on every message or statement.
pub(super) type HotCounter = Counter<u64, Hot>;

/// The value behind a `HotCounter`.
///
/// The alignment keeps each hot counter off its neighbours' cache line, so
/// that bumping the byte count does not invalidate the line holding the
/// statement count (false sharing). prometheus-client's own counters are
/// small separate allocations that may share a line. 128 bytes rather
/// than 64: x86 fetches lines in adjacent pairs, and Apple's arm64 cores
/// have 128-byte lines.
///
/// Two workers bumping the *same* counter still pass its line back and
/// forth. At the proxy's message rates that costs tens of nanoseconds per
/// bump, small next to a socket read.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(super) struct Hot(AtomicU64);

/// Relaxed: a counter orders nothing else, and a scrape may see any
/// recent value.
impl Atomic<u64> for Hot {
    fn inc(&self) -> u64 {
        self.inc_by(1)
    }

    fn inc_by(&self, v: u64) -> u64 {
        self.0.fetch_add(v, Ordering::Relaxed)
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

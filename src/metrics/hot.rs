//! A counter that sits alone on its cache line.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter bumped on every message or statement.
///
/// The alignment keeps each hot counter off its neighbours' cache line, so
/// that bumping the byte count does not invalidate the line holding the
/// statement count (false sharing). 128 bytes rather than 64: x86 fetches
/// lines in adjacent pairs, and Apple's arm64 cores have 128-byte lines.
///
/// Two workers bumping the *same* counter still pass its line back and
/// forth. At the proxy's message rates that costs tens of nanoseconds per
/// bump, small next to a socket read; per-worker shards would remove it but
/// need the caller to say which worker it is, which the API does not ask.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(super) struct Hot(AtomicU64);

impl Hot {
    /// Relaxed: a counter orders nothing else, and a scrape may see any
    /// recent value.
    pub(super) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

//! `--max-client-connections`: sessions hold a seat while they are open.
//!
//! A client beyond the limit is not dropped at accept: it gets through the
//! startup phase (its SSLRequest answered, TLS if it asks) and is then told
//! "too many connections" (53300) the way PostgreSQL tells it, which libpq
//! and drivers report as such. Cancel requests still go through: they do
//! not open a session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a client beyond the limit may take to send its startup packet.
pub const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Admissions {
    open: AtomicUsize,
    max: Option<usize>,
}

/// An open session's place; given back on drop.
pub struct Seat(Arc<Admissions>);

impl Admissions {
    pub fn new(max: Option<usize>) -> Arc<Admissions> {
        Arc::new(Admissions {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// A seat, or `None` when all are taken.
    pub fn admit(self: &Arc<Admissions>) -> Option<Seat> {
        let max = self.max.unwrap_or(usize::MAX);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()
            .map(|_| Seat(Arc::clone(self)))
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_counted_and_given_back() {
        let admissions = Admissions::new(Some(2));
        let a = admissions.admit().unwrap();
        let b = admissions.admit().unwrap();
        assert!(admissions.admit().is_none());
        drop(a);
        assert_eq!(admissions.open(), 1);
        let _c = admissions.admit().unwrap();
        drop(b);
        assert_eq!(Admissions::new(None).admit().map(|_| ()), Some(()));
    }
}

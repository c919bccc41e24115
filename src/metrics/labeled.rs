//! Counters keyed by two label values, with a bound on how many exist,
//! encoded by prometheus-client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Stands for the label values that did not fit under the bound.
pub(super) const OTHER: &str = "(other)";

/// Series kept for overflow once the bound is reached: one per second
/// label (there are a handful of actions and reasons), beyond which the
/// second label folds into `OTHER` too.
const SPILL: usize = 32;

/// Longest label value kept, in bytes. Table names reach this map from
/// client SQL; clipping bounds the memory a series can hold. PostgreSQL
/// identifiers are at most 63 bytes, so a schema-qualified name fits.
const MAX_LABEL_BYTES: usize = 256;

/// Counters by (first, second) label values, e.g. (table, action).
///
/// The first label comes from client SQL, so a client naming ever new
/// tables could otherwise grow this map without end. Past `limit` series,
/// new first values are counted under `OTHER`: at most `limit + SPILL + 1`
/// series ever exist.
///
/// prometheus-client's `Family` has no such bound, and looking a series up
/// there takes an owned label set (two allocations per event); this map
/// borrows the caller's strings.
///
/// A mutex is enough: these count intercepted statements, a small share of
/// the traffic, and the lock is held for one map lookup. A handle: the
/// proxy counts through one clone, the registry encodes another.
#[derive(Debug, Clone)]
pub(super) struct Labeled {
    names: [&'static str; 2],
    limit: usize,
    sets: Arc<Mutex<Sets>>,
}

#[derive(Debug, Default)]
struct Sets {
    // Nested rather than keyed by a pair, so that a lookup borrows the
    // caller's `&str`s instead of allocating a key.
    by_first: HashMap<Box<str>, HashMap<Box<str>, u64>>,
    series: usize,
}

impl Labeled {
    /// `names`: the two label names, e.g. `["table", "action"]`.
    pub(super) fn new(names: [&'static str; 2], limit: usize) -> Labeled {
        Labeled {
            names,
            limit,
            sets: Arc::default(),
        }
    }

    pub(super) fn add(&self, first: &str, second: &str) {
        self.add_n(first, second, 1);
    }

    /// Adds `n` to the series (first, second).
    pub(super) fn add_n(&self, first: &str, second: &str, n: u64) {
        let (first, second) = (clip(first), clip(second));
        // Nothing panics while the lock is held; a poisoned lock would
        // still hold valid counts.
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        if sets.bump(first, second, n) {
            return;
        }
        if sets.series < self.limit {
            return sets.insert(first, second, n);
        }
        if sets.bump(OTHER, second, n) {
            return;
        }
        if sets.series < self.limit + SPILL {
            return sets.insert(OTHER, second, n);
        }
        if !sets.bump(OTHER, OTHER, n) {
            sets.insert(OTHER, OTHER, n);
        }
    }

    /// Every series, sorted so that scrapes list them in a stable order.
    pub(super) fn snapshot(&self) -> Vec<(String, String, u64)> {
        let mut out: Vec<(String, String, u64)> = {
            let sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
            sets.by_first
                .iter()
                .flat_map(|(first, seconds)| {
                    seconds
                        .iter()
                        .map(move |(second, n)| (first.to_string(), second.to_string(), *n))
                })
                .collect()
        };
        out.sort_unstable();
        out
    }
}

impl TypedMetric for Labeled {
    const TYPE: MetricType = MetricType::Counter;
}

/// Never empty to prometheus-client, so that the family's HELP and TYPE
/// are rendered before its first sample and dashboards find the name.
impl EncodeMetric for Labeled {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let [first_name, second_name] = self.names;
        for (first, second, n) in self.snapshot() {
            let labels = [(first_name, first.as_str()), (second_name, second.as_str())];
            encoder
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

impl Sets {
    /// Adds `n` to an existing series; false when there is none.
    fn bump(&mut self, first: &str, second: &str, n: u64) -> bool {
        match self.by_first.get_mut(first).and_then(|s| s.get_mut(second)) {
            Some(count) => {
                *count = count.saturating_add(n);
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, first: &str, second: &str, n: u64) {
        self.by_first
            .entry(first.into())
            .or_default()
            .insert(second.into(), n);
        self.series += 1;
    }
}

/// The longest prefix of `s` within `MAX_LABEL_BYTES` that ends on a
/// character boundary.
fn clip(s: &str) -> &str {
    if s.len() <= MAX_LABEL_BYTES {
        return s;
    }
    let end = (0..=MAX_LABEL_BYTES)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 2] = ["table", "action"];

    #[test]
    fn counts_by_both_labels() {
        let l = Labeled::new(NAMES, 10);
        l.add("orders", "soft");
        l.add("orders", "soft");
        l.add("orders", "block");
        l.add("users", "soft");
        assert_eq!(
            l.snapshot(),
            [
                ("orders".into(), "block".into(), 1),
                ("orders".into(), "soft".into(), 2),
                ("users".into(), "soft".into(), 1),
            ]
        );
    }

    #[test]
    fn past_the_limit_new_tables_count_as_other() {
        let l = Labeled::new(NAMES, 3);
        for t in ["a", "b", "c", "d", "e"] {
            l.add(t, "soft");
        }
        l.add("a", "soft"); // existing series keep counting
        l.add("f", "block");
        let s = l.snapshot();
        assert!(s.contains(&("a".into(), "soft".into(), 2)));
        assert!(s.contains(&(OTHER.into(), "soft".into(), 2)));
        assert!(s.contains(&(OTHER.into(), "block".into(), 1)));
        assert!(!s.iter().any(|(t, _, _)| t == "d" || t == "e" || t == "f"));
    }

    #[test]
    fn no_input_grows_it_past_the_bound() {
        let l = Labeled::new(NAMES, 100);
        for i in 0..5_000 {
            l.add(&format!("table_{i}"), &format!("action_{}", i % 200));
        }
        let s = l.snapshot();
        assert!(s.len() <= 100 + SPILL + 1, "{} series", s.len());
        let total: u64 = s.iter().map(|(_, _, n)| n).sum();
        assert_eq!(total, 5_000, "every event is still counted somewhere");
    }

    #[test]
    fn long_values_are_clipped_on_a_character_boundary() {
        let l = Labeled::new(NAMES, 10);
        let long = "é".repeat(MAX_LABEL_BYTES); // two bytes each
        l.add(&long, "soft");
        l.add(&format!("{long}x"), "soft"); // same prefix, same series
        let s = l.snapshot();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0.len(), MAX_LABEL_BYTES);
        assert_eq!(s[0].2, 2);
    }
}

//! A `metrics` recorder for tests that counts each counter's increments by
//! name and labels, so a test can read what one metric added up to while
//! other parts of the process (the cache's own counters) report to the same
//! recorder. Gauges and histograms are dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// Counts every counter registered with it; install it with
/// `metrics::with_local_recorder` around the code under test.
#[derive(Default)]
pub struct CountingRecorder(Mutex<Vec<(Key, Arc<Count>)>>);

#[derive(Default)]
struct Count(AtomicU64);

impl CounterFn for Count {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl Recorder for CountingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let count = Arc::new(Count::default());
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((key.clone(), Arc::clone(&count)));
        Counter::from_arc(count)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

impl CountingRecorder {
    /// A recorder that has counted nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the counters named `name` added up to, over all their labels;
    /// `None` if no counter of that name was registered.
    pub fn total(&self, name: &str) -> Option<u64> {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut named = counts
            .iter()
            .filter(|(key, _)| key.name() == name)
            .peekable();
        named.peek()?;
        Some(named.map(|(_, c)| c.0.load(Ordering::SeqCst)).sum())
    }

    /// How many labels the counters named `name` carry, each.
    pub fn labels(&self, name: &str) -> Vec<usize> {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .iter()
            .filter(|(key, _)| key.name() == name)
            .map(|(key, _)| key.labels().count())
            .collect()
    }
}

//! A token source the tests steer: count its calls, hold them at a gate,
//! make them fail, panic or hang.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use event_listener::{Event, Listener};
use freshen::{Error, ErrorKind, Fetched};
use freshen_core::{BlockingTokenSource, TokenSource};

/// What the next fetches do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// A new token each time (after the gate opens).
    Succeed,
    /// A transient error (after the gate opens).
    Fail,
    /// Panic.
    Panic,
}

#[derive(Debug)]
struct State {
    calls: AtomicUsize,
    gate_open: AtomicBool,
    gate: Event,
    behaviour: Mutex<Behaviour>,
    lifetime: Duration,
    /// Dropped with the source: tells whether the cache still holds it.
    _alive: Arc<()>,
}

/// Cloneable handle; the cache owns one clone, the test another.
#[derive(Clone, Debug)]
pub struct TestSource(Arc<State>);

impl TestSource {
    pub fn new(lifetime: Duration) -> (Self, std::sync::Weak<()>) {
        let alive = Arc::new(());
        let weak = Arc::downgrade(&alive);
        let s = TestSource(Arc::new(State {
            calls: AtomicUsize::new(0),
            gate_open: AtomicBool::new(true),
            gate: Event::new(),
            behaviour: Mutex::new(Behaviour::Succeed),
            lifetime,
            _alive: alive,
        }));
        (s, weak)
    }

    pub fn calls(&self) -> usize {
        self.0.calls.load(Ordering::SeqCst)
    }

    pub fn close_gate(&self) {
        self.0.gate_open.store(false, Ordering::SeqCst);
    }

    pub fn open_gate(&self) {
        self.0.gate_open.store(true, Ordering::SeqCst);
        self.0.gate.notify(usize::MAX);
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.0.behaviour.lock().unwrap() = behaviour;
    }

    fn begin(&self) -> (usize, Behaviour) {
        // Inline, a herd's first caller runs the fetch itself: it is inside
        // `token()`, held at the gate with the others.
        crate::guard::this_thread_waits();
        let n = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let b = *self.0.behaviour.lock().unwrap();
        if b == Behaviour::Panic {
            panic!("test source panics on purpose");
        }
        (n, b)
    }

    fn finish(&self, n: usize, b: Behaviour) -> Result<Fetched, Error> {
        match b {
            Behaviour::Succeed => {
                Ok(Fetched::new(format!("token-{n}")).with_lifetime(self.0.lifetime))
            }
            _ => Err(Error::transient(ErrorKind::Status { status: 503 })),
        }
    }
}

impl TokenSource for TestSource {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let (n, b) = self.begin();
        loop {
            if self.0.gate_open.load(Ordering::SeqCst) {
                break;
            }
            let l = self.0.gate.listen();
            if self.0.gate_open.load(Ordering::SeqCst) {
                break;
            }
            l.await;
        }
        self.finish(n, b)
    }
}

impl BlockingTokenSource for TestSource {
    fn fetch(&self) -> Result<Fetched, Error> {
        let (n, b) = self.begin();
        loop {
            if self.0.gate_open.load(Ordering::SeqCst) {
                break;
            }
            let l = self.0.gate.listen();
            if self.0.gate_open.load(Ordering::SeqCst) {
                break;
            }
            l.wait();
        }
        self.finish(n, b)
    }
}

//! One instance of each stack, on virtual time.
//!
//! Each loop walks one instance from its start to the end of the run, event
//! by event: spans in which the stack answers every arrival alike (a cached
//! token, no state change) are handed to [`Recorder::served_span`] whole;
//! otherwise the next arrival is drawn (`Exp(rate)` after now, by the
//! Poisson process's memorylessness) and handled on its own. Instants are
//! nanoseconds since the start of the run.

use freshen_core::{
    Decision, Fetched, Generation, Instant, Machine, Phase, Policy, Resolution, Ticket, Token,
};

use crate::record::Recorder;
use crate::rng::Rng;

const SEC: u64 = 1_000_000_000;
/// x/oauth2's `expiryDelta`: a token expiring within 10 s is not valid.
const EXPIRY_DELTA: u64 = 10 * SEC;
/// The outer cache of the seed refreshes ahead by `min(L/2, 20 min)`.
const OUTER_MAX_LEAD: u64 = 20 * 60 * SEC;

/// What every instance shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    /// End of the run.
    pub(crate) end: u64,
    /// Requests per second of one instance.
    pub(crate) rate: f64,
    /// Token lifetime.
    pub(crate) lifetime: u64,
    /// Endpoint latency range.
    pub(crate) endpoint: (u64, u64),
}

impl Ctx {
    /// The first arrival after `t`.
    fn arrival(&self, t: u64, rng: &mut Rng) -> u64 {
        let gap = rng.exponential(self.rate) * 1e9;
        t.saturating_add(if gap.is_finite() {
            gap as u64
        } else {
            u64::MAX
        })
    }

    /// A call to the token endpoint sent at `sent`: when it answers, and
    /// when the token it brings really expires (minted half-way through the
    /// round trip, valid for the lifetime).
    fn call(&self, sent: u64, refresh: bool, rec: &mut Recorder<'_>, rng: &mut Rng) -> (u64, u64) {
        let (lo, hi) = self.endpoint;
        let latency = lo + (rng.uniform() * (hi - lo) as f64) as u64;
        rec.endpoint_call(sent, refresh);
        let done = sent.saturating_add(latency);
        let real_expiry = sent
            .saturating_add(latency / 2)
            .saturating_add(self.lifetime);
        (done, real_expiry)
    }
}

/// A token as a baseline cache holds it.
#[derive(Clone, Copy, Debug)]
struct Held {
    /// The expiry the cache believes: receipt + `expires_in`, as x/oauth2
    /// computes it.
    believed: u64,
    /// When the server stops accepting it.
    real: u64,
}

/// A token-endpoint call in flight, with the callers waiting for it.
#[derive(Clone, Copy, Debug)]
struct Fetch {
    done: u64,
    real: u64,
    /// The instance already held a token: a rotation, not the first fetch.
    refresh: bool,
    first_waiter: Option<u64>,
    waiters: u64,
}

impl Fetch {
    fn start(
        ctx: &Ctx,
        at: u64,
        waiter: bool,
        refresh: bool,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
    ) -> Self {
        let (done, real) = ctx.call(at, refresh, rec, rng);
        Fetch {
            done,
            real,
            refresh,
            first_waiter: waiter.then_some(at),
            waiters: u64::from(waiter),
        }
    }

    fn join(&mut self, at: u64) {
        self.waiters += 1;
        self.first_waiter.get_or_insert(at);
    }

    /// The fetch landed: its waiters are sent with the new token.
    fn land(&self, held: Held, rec: &mut Recorder<'_>, rng: &mut Rng) {
        if let Some(first) = self.first_waiter {
            rec.waited(first, self.done, self.waiters, self.refresh, held.real, rng);
        }
    }
}

/// (a) The x/oauth2-style lazy cache.
pub(crate) fn lazy(rec: &mut Recorder<'_>, ctx: &Ctx, rng: &mut Rng, start: u64) {
    let mut t = start;
    let mut held: Option<Held> = None;
    let mut fetch: Option<Fetch> = None;
    while t < ctx.end {
        if let Some(f) = fetch.filter(|f| f.done <= t) {
            fetch = None;
            if let Some(old) = held {
                rec.rotated(f.done, old.real);
            }
            let new = Held {
                believed: f.done.saturating_add(ctx.lifetime),
                real: f.real,
            };
            held = Some(new);
            f.land(new, rec, rng);
            continue;
        }
        // Valid (more than 10 s left): every caller gets it, nothing changes.
        if let (None, Some(h)) = (fetch, held) {
            let valid_until = h.believed.saturating_sub(EXPIRY_DELTA).min(ctx.end);
            if t < valid_until {
                rec.served_span(t, valid_until, h.real);
                t = valid_until;
                continue;
            }
        }
        let next_event = fetch.map_or(ctx.end, |f| f.done.min(ctx.end));
        let a = ctx.arrival(t, rng);
        if a >= next_event {
            t = next_event;
            continue;
        }
        t = a;
        // No valid token: fetch synchronously, or wait for the fetch in
        // flight (the cache's mutex).
        match &mut fetch {
            Some(f) => f.join(a),
            None => fetch = Some(Fetch::start(ctx, a, true, held.is_some(), rec, rng)),
        }
    }
}

/// (b) The double cache of the seed: a refresh-ahead cache over (a).
pub(crate) fn double_cache(rec: &mut Recorder<'_>, ctx: &Ctx, rng: &mut Rng, start: u64) {
    let lead = (ctx.lifetime / 2).min(OUTER_MAX_LEAD);
    let mut t = start;
    let mut inner: Option<Held> = None;
    let mut outer: Option<Held> = None;
    // The inner cache's network fetch (started by the outer cache's
    // background refresh, or by a caller with no usable outer token).
    let mut fetch: Option<Fetch> = None;
    while t < ctx.end {
        if let Some(f) = fetch.filter(|f| f.done <= t) {
            fetch = None;
            let new = Held {
                believed: f.done.saturating_add(ctx.lifetime),
                real: f.real,
            };
            inner = Some(new);
            if let Some(old) = outer {
                rec.rotated(f.done, old.real);
            }
            // The outer cache takes whatever comes back.
            outer = Some(new);
            f.land(new, rec, rng);
            continue;
        }
        if let Some(o) = outer {
            // The outer cache serves its token until it expires. Its
            // background refreshes before the inner cache lets go only get
            // the same token back: no change until the inner cache lets go,
            // the fetch lands, or the token expires.
            let change = match (fetch, inner) {
                (Some(f), _) => f.done,
                (None, Some(i)) => i.believed.saturating_sub(EXPIRY_DELTA),
                (None, None) => t,
            };
            let quiet = change.min(o.believed).min(ctx.end);
            if t < quiet {
                rec.served_span(t, quiet, o.real);
                t = quiet;
                continue;
            }
        }
        let next_event = fetch.map_or(ctx.end, |f| f.done.min(ctx.end));
        let a = ctx.arrival(t, rng);
        if a >= next_event {
            t = next_event;
            continue;
        }
        t = a;
        match outer {
            Some(o) if a < o.believed => {
                rec.sent(a, 1, o.real, rng);
                // Less than the lead left, no refresh running: refresh in
                // the background through the inner cache, which goes to the
                // network only within 10 s of expiry.
                let inner_lets_go =
                    inner.is_none_or(|i| a >= i.believed.saturating_sub(EXPIRY_DELTA));
                if a >= o.believed.saturating_sub(lead) && fetch.is_none() && inner_lets_go {
                    fetch = Some(Fetch::start(ctx, a, false, true, rec, rng));
                }
            }
            _ => match &mut fetch {
                // No usable token: the caller goes through the inner cache
                // synchronously, behind its mutex.
                Some(f) => f.join(a),
                None => fetch = Some(Fetch::start(ctx, a, true, outer.is_some(), rec, rng)),
            },
        }
    }
}

/// An attempt of the machine in flight.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    id: freshen_core::AttemptId,
    sent: u64,
    fetch: Fetch,
    source: Source,
}

/// (c) freshen: the real [`Machine`], driven as freshen's drivers drive it.
///
/// - Read path: while the published token ([`Machine::current`]) is
///   [`Phase::Fresh`], callers take it without asking the machine.
/// - Otherwise every caller asks [`Machine::decide`] and carries out the
///   answer: serve; serve and start the attempt in the background; wait for
///   the attempt in flight; fail.
/// - Outcomes go back with [`Machine::on_success`] (jitter and backoff
///   random values from the PRNG), and the timer calls
///   [`Machine::poll_timers`] at [`Machine::next_wakeup`] (attempt
///   deadlines; prefetch when the policy turns it on).
pub(crate) fn freshen(
    rec: &mut Recorder<'_>,
    ctx: &Ctx,
    rng: &mut Rng,
    start: u64,
    policy: &Policy,
    instance: u32,
) {
    let mut one = Instance::new(start, policy, instance);
    while one.step(ctx, rec, rng, None) {}
}

/// (d) freshen behind a shared store: every instance's machine as in (c),
/// its source a tier over one store the fleet shares (freshen-fleet's
/// protocol: adopt a newer token, else take the lease and fetch, a loser
/// waits for the winner), with the store down in `outage`.
///
/// Instances interact through the store, so they advance together, the one
/// furthest behind in time first: an attempt sees every lease taken and
/// every token published before it.
pub(crate) fn shared_store(
    rec: &mut Recorder<'_>,
    ctx: &Ctx,
    rngs: &mut [Rng],
    starts: &[u64],
    policy: &Policy,
    outage: Option<(u64, u64)>,
) {
    use core::cmp::Reverse;
    use std::collections::BinaryHeap;

    let mut store = Store::new(outage, policy.clone(), ctx.lifetime);
    let mut fleet: Vec<Instance> = starts
        .iter()
        .zip(0u32..)
        .map(|(&start, i)| Instance::new(start, policy, i))
        .collect();
    let mut queue: BinaryHeap<Reverse<(u64, usize)>> = fleet
        .iter()
        .enumerate()
        .map(|(i, one)| Reverse((one.t, i)))
        .collect();
    while let Some(Reverse((_, i))) = queue.pop() {
        let (Some(one), Some(rng)) = (fleet.get_mut(i), rngs.get_mut(i)) else {
            continue;
        };
        if one.step(ctx, rec, rng, Some(&mut store)) {
            queue.push(Reverse((one.t, i)));
        }
    }
}

/// One instance of (c) or (d), advanced one event at a time.
struct Instance {
    d: FreshenDriver,
    t: u64,
    polled_at: Option<u64>,
    /// An arrival drawn but not handled yet (handled at its time, after
    /// every earlier event of the fleet).
    pending: Option<u64>,
}

impl Instance {
    fn new(start: u64, policy: &Policy, instance: u32) -> Self {
        Instance {
            d: FreshenDriver {
                m: Machine::new(policy.clone()),
                attempt: None,
                newest: None,
                minted: 0,
                instance,
                last: None,
            },
            t: start,
            polled_at: None,
            pending: None,
        }
    }

    /// One event; whether the instance has more before the end of the run.
    fn step(
        &mut self,
        ctx: &Ctx,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
        mut store: Option<&mut Store>,
    ) -> bool {
        let (d, t) = (&mut self.d, self.t);
        if t >= ctx.end {
            return false;
        }
        if let Some(a) = self.pending.take() {
            d.request(a, ctx, rec, rng, store.as_deref_mut());
            return true;
        }
        if let Some(a) = d.attempt.filter(|a| a.fetch.done <= t) {
            d.attempt = None;
            d.landed(a, ctx, rec, rng);
            return true;
        }
        // The driver's timer, never twice at one instant.
        let timer = d.m.next_wakeup().map(|w| {
            w.as_nanos()
                .max(self.polled_at.map_or(0, |p| p.saturating_add(1)))
        });
        if timer.is_some_and(|w| w <= t) {
            self.polled_at = Some(t);
            d.poll_timers(t, ctx, rec, rng, store);
            return true;
        }
        let next_event = d
            .attempt
            .map_or(ctx.end, |a| a.fetch.done)
            .min(timer.unwrap_or(u64::MAX))
            .min(ctx.end);
        // The lock-free read path.
        if let Some(token) = d.m.current() {
            if token.phase(Instant::from_nanos(t)) == Phase::Fresh {
                let to = token
                    .refresh_at()
                    .min(token.usable_until())
                    .as_nanos()
                    .min(next_event);
                let real = d.real_expiry(token);
                rec.served_span(t, to, real);
                self.t = to;
                return true;
            }
        }
        let a = ctx.arrival(t, rng);
        if a >= next_event {
            self.t = next_event;
            return true;
        }
        self.t = a;
        self.pending = Some(a);
        true
    }
}

/// A token in the shared store.
#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u64,
    /// When its writer stored it.
    published: u64,
    /// When the store drops it (its TTL: the writer's send + lifetime).
    store_expiry: u64,
    /// When the server stops accepting it.
    real: u64,
}

/// The shared store (Redis) as the fleet sees it: the newest entry, the
/// lease, and the outage window (the store restarts empty after it).
struct Store {
    outage: Option<(u64, u64)>,
    policy: Policy,
    lifetime: u64,
    entries: Vec<Entry>,
    /// The lease: taken at, released (token published) at.
    lease: Option<(u64, u64)>,
    next_id: u64,
}

impl Store {
    fn new(outage: Option<(u64, u64)>, policy: Policy, lifetime: u64) -> Self {
        Store {
            outage,
            policy,
            lifetime,
            entries: Vec::new(),
            lease: None,
            next_id: 1,
        }
    }

    fn up(&self, t: u64) -> bool {
        self.outage.is_none_or(|(from, to)| t < from || t >= to)
    }

    /// Whether an outage began in `(from, to]`: what was written at `from`
    /// is gone at `to`.
    fn wiped_between(&self, from: u64, to: u64) -> bool {
        self.outage.is_some_and(|(o, _)| from < o && o <= to)
    }

    /// The entry a read at `t` finds.
    fn read(&self, t: u64) -> Option<Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.published <= t && t < e.store_expiry && !self.wiped_between(e.published, t))
            .copied()
    }

    fn lease_held(&self, t: u64) -> Option<u64> {
        self.lease
            .filter(|&(from, until)| from <= t && t < until && !self.wiped_between(from, t))
            .map(|(_, until)| until)
    }
}

/// What an attempt of (d) does, decided when it starts.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// A call to the token endpoint (its token gets this id).
    Endpoint { id: u64 },
    /// A token from the store, with the lifetime the tier hands over.
    Adopt { id: u64, lifetime: u64 },
    /// The wait for another instance's token outlasted the attempt's budget.
    GiveUp,
}

struct FreshenDriver {
    m: Machine,
    attempt: Option<Attempt>,
    /// The newest token's generation and real expiry.
    newest: Option<(Generation, u64)>,
    minted: u64,
    instance: u32,
    /// (d): the store token last handed to the machine, and its expiry as
    /// the machine computed it.
    last: Option<(u64, u64)>,
}

impl FreshenDriver {
    /// When the server stops accepting `token` (the machine's own
    /// `expires_at` is earlier by half the round trip).
    fn real_expiry(&self, token: &Token) -> u64 {
        match self.newest {
            Some((g, real)) if g == token.generation() => real,
            _ => token.expires_at().as_nanos(),
        }
    }

    fn start(
        &mut self,
        ticket: &Ticket,
        waiter: bool,
        ctx: &Ctx,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
        store: Option<&mut Store>,
    ) {
        let sent = ticket.started().as_nanos();
        let refresh = self.newest.is_some();
        let (fetch, source) = match store {
            None => (
                Fetch::start(ctx, sent, waiter, refresh, rec, rng),
                Source::Endpoint { id: 0 },
            ),
            Some(store) => self.through_store(store, sent, waiter, refresh, ctx, rec, rng),
        };
        self.attempt = Some(Attempt {
            id: ticket.id(),
            sent,
            fetch,
            source,
        });
    }

    /// The tier's protocol at `sent`: adopt a newer stored token, else take
    /// the lease and fetch (and publish), else wait for the lease holder's
    /// token; with the store down, fetch alone.
    #[allow(clippy::too_many_arguments)]
    fn through_store(
        &mut self,
        store: &mut Store,
        sent: u64,
        waiter: bool,
        refresh: bool,
        ctx: &Ctx,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
    ) -> (Fetch, Source) {
        /// A store round trip on the same network.
        const RTT: u64 = 1_000_000;
        /// Half the tier's poll interval: a waiter sees a token this late.
        const POLL_LAG: u64 = 25_000_000;
        let adopt = |d: &Self, store: &Store, e: Entry, at: u64| -> Option<u64> {
            let full = core::time::Duration::from_nanos(store.lifetime);
            let left = core::time::Duration::from_nanos(e.store_expiry.saturating_sub(at));
            let x = store.policy.adopted_lifetime(full, left)?;
            let x = u64::try_from(x.as_nanos()).unwrap_or(u64::MAX);
            let newer = d
                .last
                .is_none_or(|(id, expires)| id != e.id && sent.saturating_add(x) > expires);
            newer.then_some(x)
        };
        let landed_at = |done: u64, e: Entry| Fetch {
            done,
            real: e.real,
            refresh,
            first_waiter: waiter.then_some(sent),
            waiters: u64::from(waiter),
        };
        let endpoint =
            |store: &mut Store, at: u64, publish: bool, rec: &mut Recorder<'_>, rng: &mut Rng| {
                let mut fetch = Fetch::start(ctx, at, waiter, refresh, rec, rng);
                fetch.first_waiter = waiter.then_some(sent);
                let id = store.next_id;
                store.next_id += 1;
                if publish {
                    store.lease = Some((at, fetch.done));
                    if store.up(fetch.done) && !store.wiped_between(at, fetch.done) {
                        store.entries.retain(|e| e.store_expiry > at);
                        store.entries.push(Entry {
                            id,
                            published: fetch.done,
                            store_expiry: at.saturating_add(store.lifetime),
                            real: fetch.real,
                        });
                    }
                }
                (fetch, Source::Endpoint { id })
            };
        if !store.up(sent) {
            return endpoint(store, sent, false, rec, rng);
        }
        if let Some(e) = store.read(sent) {
            if let Some(lifetime) = adopt(self, store, e, sent) {
                return (
                    landed_at(sent + RTT, e),
                    Source::Adopt { id: e.id, lifetime },
                );
            }
        }
        let Some(until) = store.lease_held(sent) else {
            return endpoint(store, sent, true, rec, rng);
        };
        // A loser: wait for the holder's token, within three quarters of
        // this attempt's timeout.
        let lead = self.m.current().map(|t| t.schedule().lead);
        let budget = u64::try_from((store.policy.attempt_timeout_for(lead) * 3 / 4).as_nanos())
            .unwrap_or(u64::MAX);
        let seen = until.saturating_add(POLL_LAG);
        if let Some((down, _)) = store.outage.filter(|&(o, _)| sent < o && o <= seen) {
            // The store goes away while it waits: it fetches alone.
            return endpoint(store, down, false, rec, rng);
        }
        if seen <= sent.saturating_add(budget) {
            if let Some(e) = store.read(until) {
                if let Some(lifetime) = adopt(self, store, e, seen) {
                    return (landed_at(seen, e), Source::Adopt { id: e.id, lifetime });
                }
            }
        }
        let gave_up = Fetch {
            done: sent.saturating_add(budget).min(seen),
            real: 0,
            refresh,
            first_waiter: waiter.then_some(sent),
            waiters: u64::from(waiter),
        };
        (gave_up, Source::GiveUp)
    }

    /// One caller, past the read path.
    fn request(
        &mut self,
        at: u64,
        ctx: &Ctx,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
        store: Option<&mut Store>,
    ) {
        match self.m.decide(Instant::from_nanos(at)) {
            Decision::Serve(token) => {
                let real = self.real_expiry(&token);
                rec.sent(at, 1, real, rng);
            }
            Decision::ServeAndRefresh(token, ticket) => {
                let real = self.real_expiry(&token);
                rec.sent(at, 1, real, rng);
                self.start(&ticket, false, ctx, rec, rng, store);
            }
            Decision::Wait { attempt, .. } => match &mut self.attempt {
                Some(a) if a.id == attempt => a.fetch.join(at),
                _ => rec.failed(at, 1),
            },
            Decision::RefreshAndWait(ticket) => self.start(&ticket, true, ctx, rec, rng, store),
            Decision::Fail(_) => rec.failed(at, 1),
        }
        self.drain();
    }

    /// The attempt's response arrives: a new token, well-behaved endpoint.
    fn landed(&mut self, a: Attempt, ctx: &Ctx, rec: &mut Recorder<'_>, rng: &mut Rng) {
        let now = a.fetch.done;
        let (secret, lifetime, store_id) = match a.source {
            Source::Endpoint { id } => {
                self.minted += 1;
                (
                    format!("sim-{}-{}", self.instance, self.minted),
                    ctx.lifetime,
                    id,
                )
            }
            Source::Adopt { id, lifetime } => (format!("shared-{id}"), lifetime, id),
            Source::GiveUp => {
                let error = freshen_core::Error::transient(freshen_core::ErrorKind::Timeout {
                    after: core::time::Duration::from_nanos(now.saturating_sub(a.sent)),
                });
                let resolution =
                    self.m
                        .on_failure(a.id, error, Instant::from_nanos(now), rng.next_u64());
                self.resolve(a.fetch, now, resolution, rec, rng);
                self.drain();
                return;
            }
        };
        let fetched =
            Fetched::new(secret).with_lifetime(core::time::Duration::from_nanos(lifetime));
        let resolution = self.m.on_success(
            a.id,
            fetched,
            Instant::from_nanos(a.sent),
            Instant::from_nanos(now),
            rng.next_u64(),
        );
        if matches!(resolution, Some(Ok(_))) {
            self.last = Some((store_id, a.sent.saturating_add(lifetime)));
        }
        if let Some(Ok(token)) = &resolution {
            if self.newest.map(|(g, _)| g) != Some(token.generation()) {
                if let Some((_, old)) = self.newest {
                    rec.rotated(now, old);
                }
                self.newest = Some((token.generation(), a.fetch.real));
            }
        }
        self.resolve(a.fetch, now, resolution, rec, rng);
        self.drain();
    }

    fn poll_timers(
        &mut self,
        now: u64,
        ctx: &Ctx,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
        store: Option<&mut Store>,
    ) {
        let timers = self.m.poll_timers(Instant::from_nanos(now), rng.next_u64());
        if let Some((id, resolution)) = timers.timed_out {
            if let Some(a) = self.attempt.filter(|a| a.id == id) {
                // The late response will be ignored; its waiters are told now.
                self.attempt = None;
                self.resolve(a.fetch, now, Some(resolution), rec, rng);
            }
        }
        if let Some(ticket) = timers.start {
            self.start(&ticket, false, ctx, rec, rng, store);
        }
        self.drain();
    }

    fn resolve(
        &self,
        fetch: Fetch,
        now: u64,
        resolution: Option<Resolution>,
        rec: &mut Recorder<'_>,
        rng: &mut Rng,
    ) {
        let Some(first) = fetch.first_waiter else {
            return;
        };
        match resolution {
            Some(Ok(token)) => {
                let real = self.real_expiry(&token);
                rec.waited(first, now, fetch.waiters, fetch.refresh, real, rng);
            }
            Some(Err(_)) | None => {
                rec.waited_and_failed(first, now, fetch.waiters, fetch.refresh);
            }
        }
    }

    fn drain(&mut self) {
        while self.m.poll_event().is_some() {}
    }
}

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
    let mut d = FreshenDriver {
        m: Machine::new(policy.clone()),
        attempt: None,
        newest: None,
        minted: 0,
        instance,
    };
    let mut t = start;
    let mut polled_at: Option<u64> = None;
    while t < ctx.end {
        if let Some(a) = d.attempt.filter(|a| a.fetch.done <= t) {
            d.attempt = None;
            d.landed(a, ctx, rec, rng);
            continue;
        }
        // The driver's timer, never twice at one instant.
        let timer = d.m.next_wakeup().map(|w| {
            w.as_nanos()
                .max(polled_at.map_or(0, |p| p.saturating_add(1)))
        });
        if timer.is_some_and(|w| w <= t) {
            polled_at = Some(t);
            d.poll_timers(t, ctx, rec, rng);
            continue;
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
                t = to;
                continue;
            }
        }
        let a = ctx.arrival(t, rng);
        if a >= next_event {
            t = next_event;
            continue;
        }
        t = a;
        d.request(a, ctx, rec, rng);
    }
}

struct FreshenDriver {
    m: Machine,
    attempt: Option<Attempt>,
    /// The newest token's generation and real expiry.
    newest: Option<(Generation, u64)>,
    minted: u64,
    instance: u32,
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
    ) {
        let sent = ticket.started().as_nanos();
        let refresh = self.newest.is_some();
        self.attempt = Some(Attempt {
            id: ticket.id(),
            sent,
            fetch: Fetch::start(ctx, sent, waiter, refresh, rec, rng),
        });
    }

    /// One caller, past the read path.
    fn request(&mut self, at: u64, ctx: &Ctx, rec: &mut Recorder<'_>, rng: &mut Rng) {
        match self.m.decide(Instant::from_nanos(at)) {
            Decision::Serve(token) => {
                let real = self.real_expiry(&token);
                rec.sent(at, 1, real, rng);
            }
            Decision::ServeAndRefresh(token, ticket) => {
                let real = self.real_expiry(&token);
                rec.sent(at, 1, real, rng);
                self.start(&ticket, false, ctx, rec, rng);
            }
            Decision::Wait { attempt, .. } => match &mut self.attempt {
                Some(a) if a.id == attempt => a.fetch.join(at),
                _ => rec.failed(at, 1),
            },
            Decision::RefreshAndWait(ticket) => self.start(&ticket, true, ctx, rec, rng),
            Decision::Fail(_) => rec.failed(at, 1),
        }
        self.drain();
    }

    /// The attempt's response arrives: a new token, well-behaved endpoint.
    fn landed(&mut self, a: Attempt, ctx: &Ctx, rec: &mut Recorder<'_>, rng: &mut Rng) {
        self.minted += 1;
        let fetched = Fetched::new(format!("sim-{}-{}", self.instance, self.minted))
            .with_lifetime(core::time::Duration::from_nanos(ctx.lifetime));
        let now = a.fetch.done;
        let resolution = self.m.on_success(
            a.id,
            fetched,
            Instant::from_nanos(a.sent),
            Instant::from_nanos(now),
            rng.next_u64(),
        );
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

    fn poll_timers(&mut self, now: u64, ctx: &Ctx, rec: &mut Recorder<'_>, rng: &mut Rng) {
        let timers = self.m.poll_timers(Instant::from_nanos(now), rng.next_u64());
        if let Some((id, resolution)) = timers.timed_out {
            if let Some(a) = self.attempt.filter(|a| a.id == id) {
                // The late response will be ignored; its waiters are told now.
                self.attempt = None;
                self.resolve(a.fetch, now, Some(resolution), rec, rng);
            }
        }
        if let Some(ticket) = timers.start {
            self.start(&ticket, false, ctx, rec, rng);
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

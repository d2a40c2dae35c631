//! How a cache hands out a fresh token: per-thread spares (the fastest
//! read), or a shared handle (the smallest cache), chosen when it is built.

/// How a cache's read path hands out a fresh token, chosen with the
/// builders' `read_mode` (`CacheBuilder::read_mode`, and freshen-blocking's
/// builder). Both hand out the same [`TokenRef`](crate::TokenRef), take no
/// lock and never wait; they differ in what a read costs and what a cache
/// weighs.
///
/// ```
/// use freshen_cache::ReadMode;
///
/// // A cache among many (one per key of a `KeyedCache`): a third of the
/// // bytes, for a few atomic operations more a read.
/// let mode = ReadMode::Shared;
/// assert_ne!(mode, ReadMode::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadMode {
    /// Each thread that reads the cache keeps spare handles to its token,
    /// so a read and the drop of its token touch no shared count (no
    /// atomic read-modify-write). Costs a per-thread table (512 bytes) and
    /// 512 bytes for each thread that reads the cache: an inline
    /// `BlockingCache` read by one thread is about 1.5 KB, not 450 bytes.
    /// The default: for the few caches of a process, read on every request.
    #[default]
    PerThread,
    /// Every reader clones the one published handle (`arc-swap`'s
    /// `load_full`) and drops it after: four atomic read-modify-writes a
    /// read (two with `with_cached`, which lends the token), 25–30 ns
    /// more than [`PerThread`](Self::PerThread) on one thread of the
    /// reference VM (`BENCHMARKS.md`), and more when threads contend for
    /// the count; no per-thread bytes at all. For caches held by the thousand — the values of a
    /// [`KeyedCache`](crate::KeyedCache), where a key's cache then takes a
    /// few hundred bytes, not 1.5 KB.
    Shared,
}

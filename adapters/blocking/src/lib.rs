//! freshen-blocking: freshen's token cache for synchronous code — it decides
//! nothing (the machine does) and sends nothing (the source does): it only
//! runs attempts on threads, or inline, and waits.
//!
//! [`BlockingCache`] drives the same machine as the async cache, in one of
//! two [`Mode`]s:
//!
//! - [`Mode::Threads`]: refreshes run on a short-lived background thread, and
//!   with prefetch on a timer thread refreshes with no traffic.
//! - [`Mode::Inline`]: no thread at all. The first caller to see a stale
//!   token runs the refresh itself while every other caller keeps getting
//!   the held token. For CLIs and WASI hosts without threads.
//!
//! ```
//! use freshen_blocking::{BlockingCache, Mode};
//! use freshen_core::{BlockingTokenSource, Error, Fetched};
//!
//! struct MySource;
//! impl BlockingTokenSource for MySource {
//!     fn fetch(&self) -> Result<Fetched, Error> {
//!         // Go to the token endpoint here (see freshen-ureq).
//!         Ok(Fetched::new("token").with_lifetime(std::time::Duration::from_secs(3600)))
//!     }
//! }
//!
//! let cache = BlockingCache::builder(MySource).mode(Mode::Inline).build();
//! let token = cache.token()?;
//! assert_eq!(token.secret(), "token");
//! # Ok::<_, Error>(())
//! ```

mod cache;

pub use cache::{BlockingCache, BlockingCacheBuilder, Mode, WeakBlockingCache};
pub use freshen_cache::{ManualClock, MonotonicClock, ReadMode, TokenRef};

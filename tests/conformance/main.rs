//! One conformance suite, run against every driver: tokio (current-thread
//! and multi-thread runtimes), smol, threads and inline. Each case lives
//! once in `cases.rs`; this file instantiates it per driver, and says why
//! where a case cannot apply. `runtimes.rs` adds cases about tokio's
//! runtimes themselves; `guard.rs` bounds every hang check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

mod cases;
mod drivers;
mod guard;
mod manual_tokio;
mod runtimes;
mod source;

macro_rules! case {
    ($name:ident, $driver:ty) => {
        #[test]
        fn $name() {
            crate::cases::$name::<$driver>();
        }
    };
}

macro_rules! common_cases {
    ($driver:ty) => {
        case!(herd_on_empty_cache_causes_one_fetch, $driver);
        case!(herd_on_failing_source_shares_one_error, $driver);
        case!(slow_refresh_of_a_stale_token_blocks_no_caller, $driver);
        case!(
            panicking_source_fails_the_attempt_and_the_cache_recovers,
            $driver
        );
        case!(hanging_source_times_out_and_the_cache_recovers, $driver);
        case!(invalidate_causes_exactly_one_refresh, $driver);
        case!(invalidating_a_replaced_token_does_nothing, $driver);
        case!(thousand_invalidations_of_one_token_cause_one_fetch, $driver);
        case!(dropping_the_last_handle_stops_background_work, $driver);
        case!(panicking_sink_does_not_hang_waiters, $driver);
    };
}

mod tokio_driver {
    common_cases!(crate::drivers::Tokio);
    case!(
        dropped_waiters_do_not_cancel_the_attempt,
        crate::drivers::Tokio
    );
    case!(
        prefetch_refreshes_at_refresh_at_without_traffic,
        crate::drivers::Tokio
    );
}

/// tokio's multi-thread runtime (on a `ManualClock`: its clock cannot
/// pause), and the defects a runtime can bring: tasks that move between
/// workers, runtimes that shut down under a cache or an attempt.
mod tokio_multi_driver {
    common_cases!(crate::drivers::TokioMulti);
    case!(
        dropped_waiters_do_not_cancel_the_attempt,
        crate::drivers::TokioMulti
    );
    case!(
        prefetch_refreshes_at_refresh_at_without_traffic,
        crate::drivers::TokioMulti
    );

    macro_rules! runtime_case {
        ($name:ident) => {
            #[test]
            fn $name() {
                crate::runtimes::$name();
            }
        };
        ($name:ident, ignore = $reason:literal) => {
            #[test]
            #[ignore = $reason]
            fn $name() {
                crate::runtimes::$name();
            }
        };
    }

    runtime_case!(tokens_held_across_awaits_on_moving_tasks_stay_correct);
    runtime_case!(cache_outlives_the_runtime_it_was_built_in);
    runtime_case!(runtime_shutdown_mid_attempt_resolves_waiters);

    // Found by this suite in d40bd46 and fixed since: each case failed then.
    runtime_case!(lost_attempt_does_not_hang_callers);
    runtime_case!(lost_attempt_outside_any_runtime_does_not_panic);
    runtime_case!(runtime_shutdown_before_the_attempt_runs_resolves_waiters);
    runtime_case!(prefetch_survives_the_runtime_it_was_built_in);
    runtime_case!(waiting_on_a_runtime_without_timers_does_not_panic);
}

mod smol_driver {
    common_cases!(crate::drivers::Smol);
    case!(
        dropped_waiters_do_not_cancel_the_attempt,
        crate::drivers::Smol
    );
    case!(
        prefetch_refreshes_at_refresh_at_without_traffic,
        crate::drivers::Smol
    );
}

mod threads_driver {
    common_cases!(crate::drivers::Blocking<false>);
    // dropped_waiters_do_not_cancel_the_attempt: a thread blocked in
    // `token()` cannot be dropped mid-wait, so there is no waiter to drop;
    // the attempt runs on its own thread whatever callers do.
    case!(
        prefetch_refreshes_at_refresh_at_without_traffic,
        crate::drivers::Blocking<false>
    );
}

mod inline_driver {
    common_cases!(crate::drivers::Blocking<true>);
    // dropped_waiters_do_not_cancel_the_attempt: as for threads, a blocked
    // caller cannot be dropped; the caller running the attempt runs it to
    // the end.
    // prefetch_refreshes_at_refresh_at_without_traffic: inline mode runs
    // nothing between calls by design (no thread, for WASI hosts and CLIs),
    // so there is no timer to prefetch with.
}

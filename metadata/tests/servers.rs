//! Each metadata source against a fake that behaves as its provider
//! documents (freshen-testkit's `MetadataFake`), over a real transport.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use freshen_blocking::{BlockingCache, ManualClock, Mode};
use freshen_core::{BlockingTokenSource, ErrorKind, Event, Policy, Retry};
use freshen_metadata::{AzureAppService, AzureImds, Gce, MetadataSource};
use freshen_testkit::metadata::{APP_SERVICE_SECRET, Flavor, MetadataFake, Numbers};
use freshen_testkit::{closed_port, percent_decode};
use freshen_ureq::UreqTransport;

const RESOURCE: &str = "https://management.azure.com/";

fn gce_source(fake: &MetadataFake) -> MetadataSource<UreqTransport> {
    MetadataSource::gce(Gce::new().with_host(fake.host()), UreqTransport::new())
}

fn imds_source(fake: &MetadataFake) -> MetadataSource<UreqTransport> {
    let imds = AzureImds::new(RESOURCE).with_endpoint(fake.base_url());
    MetadataSource::azure(imds, UreqTransport::new())
}

fn app_service_source(fake: &MetadataFake) -> MetadataSource<UreqTransport> {
    let app = AzureAppService::new(fake.identity_endpoint(), APP_SERVICE_SECRET, RESOURCE);
    MetadataSource::azure_app_service(app, UreqTransport::new())
}

fn source_for(flavor: Flavor, fake: &MetadataFake) -> MetadataSource<UreqTransport> {
    match flavor {
        Flavor::Gce => gce_source(fake),
        Flavor::Azure => imds_source(fake),
        Flavor::AppService => app_service_source(fake),
    }
}

#[test]
fn gce_token_as_documented() {
    let fake = MetadataFake::gce();
    let source = MetadataSource::gce(
        Gce::new()
            .with_host(fake.host())
            .with_scopes(["https://www.googleapis.com/auth/cloud-platform", "openid"]),
        UreqTransport::new(),
    );
    let fetched = source.fetch().unwrap();
    assert_eq!(fetched.access_token.expose(), "fake-metadata-token-1");
    assert_eq!(fetched.lifetime, Some(Duration::from_secs(3599)));
    assert_eq!(fetched.token_type.as_deref(), Some("Bearer"));
    assert_eq!(fetched.source_renews_within, Some(Duration::from_secs(300)));
    let request = fake.server().last_request().unwrap();
    assert_eq!(request.method, "GET");
    assert_eq!(request.header("Metadata-Flavor"), Some("Google"));
    assert_eq!(
        request.path_only(),
        "/computeMetadata/v1/instance/service-accounts/default/token"
    );
    assert_eq!(
        request.query_value("scopes").as_deref(),
        Some("https://www.googleapis.com/auth/cloud-platform,openid")
    );
}

#[test]
fn gce_hands_back_its_cached_token_until_five_minutes_before_expiry() {
    let fake = MetadataFake::gce();
    let source = gce_source(&fake);
    let first = source.fetch().unwrap();
    fake.advance(Duration::from_secs(3000));
    let again = source.fetch().unwrap();
    assert_eq!(again.access_token.expose(), first.access_token.expose());
    assert_eq!(again.lifetime, Some(Duration::from_secs(599)));
    fake.advance(Duration::from_secs(300));
    let renewed = source.fetch().unwrap();
    assert_eq!(renewed.access_token.expose(), "fake-metadata-token-2");
    assert_eq!(fake.minted(), 2);
}

#[test]
fn gce_refusals_are_classified() {
    let fake = MetadataFake::gce();
    let source = gce_source(&fake);
    fake.fail_next([503, 429]);
    for _ in 0..2 {
        let e = source.fetch().unwrap_err();
        assert_eq!(e.retry(), Retry::Transient, "{e}");
    }
    // A service account not attached to the VM: the server's 404 is
    // permanent; once attached, it is served.
    let email = "other@project.iam.gserviceaccount.com";
    let other = MetadataSource::gce(
        Gce::new()
            .with_host(fake.host())
            .with_service_account(email),
        UreqTransport::new(),
    );
    let e = other.fetch().unwrap_err();
    assert!(e.is_permanent(), "{e}");
    fake.attach_service_account(email);
    assert!(other.fetch().is_ok());
    let request = fake.server().last_request().unwrap();
    assert_eq!(
        request.path_only(),
        "/computeMetadata/v1/instance/service-accounts/other%40project.iam.gserviceaccount.com/token"
    );
}

#[test]
fn imds_token_as_documented_with_strings_or_numbers() {
    for numbers in [Numbers::Strings, Numbers::Numbers] {
        let fake = MetadataFake::azure();
        fake.set_numbers(numbers);
        let source = MetadataSource::azure(
            AzureImds::new(RESOURCE)
                .with_endpoint(fake.base_url())
                .with_client_id("11111111-2222-3333-4444-555555555555"),
            UreqTransport::new(),
        );
        let fetched = source.fetch().unwrap();
        assert_eq!(fetched.access_token.expose(), "fake-metadata-token-1");
        assert_eq!(fetched.lifetime, Some(Duration::from_secs(3599)));
        assert_eq!(fetched.source_renews_within, Some(Duration::from_secs(300)));
        let request = fake.server().last_request().unwrap();
        assert_eq!(request.header("Metadata"), Some("true"));
        assert_eq!(request.path_only(), "/metadata/identity/oauth2/token");
        assert_eq!(
            request.query_value("api-version").as_deref(),
            Some("2018-02-01")
        );
        assert_eq!(request.query_value("resource").as_deref(), Some(RESOURCE));
        assert_eq!(
            request.query_value("client_id").as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
    }
}

#[test]
fn imds_startup_404_and_throttling_429_are_retried_bad_requests_are_not() {
    let fake = MetadataFake::azure();
    let source = imds_source(&fake);
    fake.fail_next([404, 410, 500]);
    for status in [404, 410, 500] {
        let e = source.fetch().unwrap_err();
        assert_eq!(e.retry(), Retry::Transient, "{status}: {e}");
    }
    assert!(source.fetch().is_ok());
    fake.throttle(2);
    let answers: Vec<_> = (0..4).map(|_| source.fetch()).collect();
    let throttled = answers.iter().filter(|a| a.is_err()).count();
    assert!(throttled >= 1, "the fake throttles past 2 a second");
    for e in answers.iter().filter_map(|a| a.as_ref().err()) {
        assert_eq!(e.retry(), Retry::Transient, "{e}");
    }
    // Without a resource the fake answers 400, as IMDS does: permanent.
    let fake = MetadataFake::azure();
    let no_resource = MetadataSource::azure(
        AzureImds::new("").with_endpoint(fake.base_url()),
        UreqTransport::new(),
    );
    let e = no_resource.fetch().unwrap_err();
    assert!(e.is_permanent(), "{e}");
}

#[test]
fn app_service_token_as_documented_from_expires_on_alone() {
    for numbers in [Numbers::Strings, Numbers::Numbers] {
        let fake = MetadataFake::app_service();
        fake.set_numbers(numbers);
        let app = AzureAppService::new(fake.identity_endpoint(), APP_SERVICE_SECRET, RESOURCE)
            .with_client_id("11111111-2222-3333-4444-555555555555");
        let source = MetadataSource::azure_app_service(app, UreqTransport::new());
        let fetched = source.fetch().unwrap();
        assert_eq!(fetched.access_token.expose(), "fake-metadata-token-1");
        // No expires_in: the lifetime is expires_on less the wall clock,
        // give or take the second the request straddled.
        let lifetime = fetched.lifetime.unwrap().as_secs();
        assert!((3598..=3599).contains(&lifetime), "{lifetime}");
        assert_eq!(fetched.source_renews_within, Some(Duration::from_secs(300)));
        let request = fake.server().last_request().unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path_only(), "/msi/token");
        assert_eq!(
            request.header("X-IDENTITY-HEADER"),
            Some(APP_SERVICE_SECRET)
        );
        assert_eq!(
            request.query_value("api-version").as_deref(),
            Some("2019-08-01")
        );
        assert_eq!(request.query_value("resource").as_deref(), Some(RESOURCE));
        assert_eq!(
            request.query_value("client_id").as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
    }
}

#[test]
fn app_service_wrong_secret_is_refused_for_good_overload_is_retried() {
    let fake = MetadataFake::app_service();
    let wrong = MetadataSource::azure_app_service(
        AzureAppService::new(fake.identity_endpoint(), "not-the-secret", RESOURCE),
        UreqTransport::new(),
    );
    let e = wrong.fetch().unwrap_err();
    assert!(e.is_permanent(), "{e}");
    let shown = format!("{e} {e:?} {wrong:?}");
    assert!(!shown.contains("not-the-secret"), "{shown}");
    assert!(!shown.contains(APP_SERVICE_SECRET), "{shown}");

    let source = app_service_source(&fake);
    fake.fail_next([500, 503, 429]);
    for status in [500, 503, 429] {
        let e = source.fetch().unwrap_err();
        assert_eq!(e.retry(), Retry::Transient, "{status}: {e}");
    }
    let fetched = source.fetch().unwrap();
    let shown = format!("{source:?} {fetched:?}");
    assert!(!shown.contains("fake-metadata-token"), "{shown}");
    assert!(!shown.contains(APP_SERVICE_SECRET), "{shown}");
}

#[test]
fn tokens_never_show_in_debug_or_errors() {
    let fake = MetadataFake::gce();
    let source = gce_source(&fake);
    let fetched = source.fetch().unwrap();
    let shown = format!("{source:?} {fetched:?}");
    assert!(!shown.contains("fake-metadata-token"), "{shown}");
}

/// A blocking cache on a ManualClock whose time the fake follows.
fn cache_in_step(
    source: MetadataSource<UreqTransport>,
    clock: &ManualClock,
) -> (
    BlockingCache<MetadataSource<UreqTransport>, ManualClock>,
    Arc<AtomicUsize>,
) {
    let no_progress = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&no_progress);
    let cache = BlockingCache::builder(source)
        .mode(Mode::Inline)
        .clock(clock.clone())
        .on_event(move |e| {
            if matches!(e, Event::NoProgress { .. }) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build();
    (cache, no_progress)
}

#[test]
fn a_day_of_traffic_costs_about_two_requests_per_token() {
    for flavor in [Flavor::Gce, Flavor::Azure, Flavor::AppService] {
        let fake = MetadataFake::start_on(flavor, 0).unwrap();
        let source = source_for(flavor, &fake);
        let clock = ManualClock::new();
        let (cache, no_progress) = cache_in_step(source, &clock);
        let step = Duration::from_secs(30);
        for _ in 0..(24 * 3600 / 30) {
            let token = cache.token().unwrap();
            assert!(token.secret().starts_with("fake-metadata-token-"));
            drop(token);
            clock.advance(step);
            fake.advance(step);
        }
        let requests = u32::try_from(fake.server().request_count()).unwrap();
        assert_eq!(no_progress.load(Ordering::SeqCst), 0, "{flavor:?}");
        assert!(
            requests <= 2 * fake.minted() + 1,
            "{flavor:?}: {requests} requests for {} tokens",
            fake.minted()
        );
        // One token per (lifetime - 5 min), give or take the step.
        assert!((24..=28).contains(&fake.minted()), "{}", fake.minted());
    }
}

#[test]
fn many_clients_in_one_process_make_one_request() {
    // The IMDS 429 reports: each client object with its own cache. One
    // cache shared by every thread asks once.
    let fake = MetadataFake::azure();
    fake.throttle(5);
    let cache = Arc::new(BlockingCache::new(imds_source(&fake)));
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert!(cache.token().is_ok());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fake.server().request_count(), 1);
}

#[test]
fn not_ready_at_start_then_up_ready_returns_the_token() {
    // The metadata server's port refuses connections for the first tries
    // (issue: openxla/xla #42361 cached that failure for good).
    let port = closed_port();
    let source = MetadataSource::gce(
        Gce::new().with_host(format!("127.0.0.1:{port}")),
        UreqTransport::new(),
    );
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&failures);
    let policy = Policy::builder()
        .backoff_initial(Duration::from_millis(20))
        .backoff_cap(Duration::from_millis(100))
        .build()
        .unwrap();
    let cache = Arc::new(
        BlockingCache::builder(source)
            .policy(policy)
            .on_event(move |e| {
                if let Event::RefreshFailed { error, .. } = e {
                    assert!(matches!(error.kind(), ErrorKind::Transport(_)), "{error}");
                    assert!(!error.is_permanent(), "{error}");
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            })
            .build(),
    );
    let waiting = Arc::clone(&cache);
    let ready = std::thread::spawn(move || waiting.ready(Duration::from_secs(60)));
    // Wait until the cache has failed at least twice, then bring the
    // server up on that port.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while failures.load(Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < until, "no failed attempts");
        std::thread::sleep(Duration::from_millis(2));
    }
    let fake = MetadataFake::start_on(Flavor::Gce, port).unwrap();
    ready.join().unwrap().unwrap();
    assert_eq!(cache.cached().unwrap().secret(), "fake-metadata-token-1");
    assert_eq!(fake.server().request_count(), 1);
}

#[test]
fn the_fakes_refuse_requests_without_the_required_header() {
    use freshen_oauth::http::{HttpRequest, Method};
    use freshen_oauth::transport::Transport;
    let transport = UreqTransport::new();
    let gce = MetadataFake::gce();
    let url = format!(
        "http://{}/computeMetadata/v1/instance/service-accounts/default/token",
        gce.host()
    );
    let response = transport
        .send(&HttpRequest::new(Method::Get, url.as_str()))
        .unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(response.header("Metadata-Flavor"), Some("Google"));
    let imds = MetadataFake::azure();
    let url = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=r",
        imds.base_url()
    );
    let response = transport
        .send(&HttpRequest::new(Method::Get, url.as_str()))
        .unwrap();
    assert_eq!(response.status, 400);
    let body = percent_decode(&String::from_utf8_lossy(&response.body));
    assert!(body.contains("metadata header"), "{body}");
    assert_eq!(gce.minted() + imds.minted(), 0);
}

#[test]
fn an_empty_token_from_a_server_not_ready_is_retried_never_kept() {
    for flavor in [Flavor::Gce, Flavor::Azure, Flavor::AppService] {
        let fake = MetadataFake::start_on(flavor, 0).unwrap();
        fake.empty_next(2);
        let source = source_for(flavor, &fake);
        let e = source.fetch().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidResponse(_)), "{e}");
        assert_eq!(e.retry(), Retry::Transient, "{flavor:?}: {e}");
        // Through a cache: ready() waits it out and holds the real token.
        let policy = Policy::builder()
            .backoff_initial(Duration::from_millis(10))
            .backoff_cap(Duration::from_millis(50))
            .build()
            .unwrap();
        let cache = BlockingCache::builder(source).policy(policy).build();
        cache.ready(Duration::from_secs(30)).unwrap();
        assert_eq!(cache.cached().unwrap().secret(), "fake-metadata-token-1");
        assert_eq!(fake.server().request_count(), 3);
    }
}

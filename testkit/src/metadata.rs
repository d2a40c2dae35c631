//! Fakes of the cloud metadata servers, behaving as their providers
//! document: GCE's metadata server, Azure IMDS and Azure App Service's
//! identity endpoint, on `127.0.0.1`.
//!
//! Each checks the request as the real one does (method, path, the
//! required header, IMDS's `api-version` and `resource`) and answers with
//! the real error status when it is wrong; mints tokens and hands back its
//! cached token (with the remaining lifetime) until 5 minutes before
//! expiry; and can be told to throttle (IMDS's 429 past a rate), to fail
//! the next requests (404 while an identity is assigned, 503), and to
//! advance its own clock, so tests cover hours without waiting.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::fault::Fault;
use crate::request::{RecordedRequest, percent_decode};
use crate::server::{FaultServer, Script};

/// The window before expiry in which the fakes renew their cached token
/// (GCE documents 5 minutes).
pub const RENEWAL_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Which server a [`MetadataFake`] plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// GCE's metadata server.
    Gce,
    /// Azure IMDS.
    Azure,
    /// Azure App Service's (and Functions') identity endpoint, at
    /// [`APP_SERVICE_PATH`], expecting [`APP_SERVICE_SECRET`] in
    /// `X-IDENTITY-HEADER`.
    AppService,
}

/// The path the App Service fake answers on (the platform's
/// `IDENTITY_ENDPOINT` is a loopback URL of its own choosing).
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// The secret the App Service fake expects (the platform's
/// `IDENTITY_HEADER`).
pub const APP_SERVICE_SECRET: &str = "fake-identity-header-secret";

/// How the fake's numbers are written (IMDS writes strings; some versions
/// numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbers {
    /// `"expires_in": "3599"`.
    Strings,
    /// `"expires_in": 3599`.
    Numbers,
}

struct State {
    /// The fake's own clock: how far it was advanced.
    offset: Duration,
    lifetime: Duration,
    minted: u32,
    /// The cached token and when it expires, on the fake's clock.
    current: Option<(String, Duration)>,
    failures: Vec<u16>,
    /// Next answers that are a 200 with an empty token (a server not ready).
    empty: u32,
    /// At most this many requests per second of real time, then 429.
    max_per_second: Option<usize>,
    numbers: Numbers,
    /// GCE: the service accounts attached (`default` always).
    accounts: Vec<String>,
    /// Real instants of the recent requests, for throttling.
    recent: Vec<Instant>,
}

/// A GCE metadata server or Azure IMDS fake on `127.0.0.1`. Dropping it
/// stops it.
///
/// ```
/// use freshen_testkit::metadata::MetadataFake;
///
/// let gce = MetadataFake::gce();
/// assert!(gce.host().starts_with("127.0.0.1:"));
/// assert_eq!(gce.minted(), 0);
/// ```
pub struct MetadataFake {
    flavor: Flavor,
    server: FaultServer,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for MetadataFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataFake")
            .field("flavor", &self.flavor)
            .field("server", &self.server)
            .finish()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MetadataFake {
    /// A GCE metadata server fake on a free port.
    #[allow(clippy::panic)]
    pub fn gce() -> Self {
        Self::start_on(Flavor::Gce, 0)
            .unwrap_or_else(|e| panic!("freshen-testkit: cannot start the GCE fake: {e}"))
    }

    /// An Azure IMDS fake on a free port.
    #[allow(clippy::panic)]
    pub fn azure() -> Self {
        Self::start_on(Flavor::Azure, 0)
            .unwrap_or_else(|e| panic!("freshen-testkit: cannot start the IMDS fake: {e}"))
    }

    /// An Azure App Service identity endpoint fake on a free port; its
    /// `IDENTITY_ENDPOINT` is [`MetadataFake::identity_endpoint`].
    #[allow(clippy::panic)]
    pub fn app_service() -> Self {
        Self::start_on(Flavor::AppService, 0)
            .unwrap_or_else(|e| panic!("freshen-testkit: cannot start the App Service fake: {e}"))
    }

    /// The App Service fake's `IDENTITY_ENDPOINT`:
    /// `http://127.0.0.1:<port>/msi/token`.
    pub fn identity_endpoint(&self) -> String {
        format!("{}{APP_SERVICE_PATH}", self.server.base_url())
    }

    /// A fake of `flavor` on `port` (0: a free one), e.g. a port where
    /// connections were refused until now.
    pub fn start_on(flavor: Flavor, port: u16) -> io::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            offset: Duration::ZERO,
            lifetime: Duration::from_secs(3599),
            minted: 0,
            current: None,
            failures: Vec::new(),
            empty: 0,
            max_per_second: None,
            numbers: Numbers::Strings,
            accounts: vec!["default".to_owned()],
            recent: Vec::new(),
        }));
        let answer_state = Arc::clone(&state);
        let script = Script::from_fn(move |request| {
            let mut state = lock(&answer_state);
            match flavor {
                Flavor::Gce => answer_gce(&mut state, request),
                Flavor::Azure => answer_azure(&mut state, request),
                Flavor::AppService => answer_app_service(&mut state, request),
            }
        });
        let server = FaultServer::try_start_on(port, script)?;
        Ok(MetadataFake {
            flavor,
            server,
            state,
        })
    }

    /// `127.0.0.1:<port>`, for `GCE_METADATA_HOST` or a source's host.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The underlying server: its recorded requests.
    pub fn server(&self) -> &FaultServer {
        &self.server
    }

    /// How many tokens the fake minted (a cached answer mints none).
    pub fn minted(&self) -> u32 {
        lock(&self.state).minted
    }

    /// Moves the fake's clock on: its cached token ages.
    pub fn advance(&self, by: Duration) {
        let mut state = lock(&self.state);
        state.offset = state.offset.saturating_add(by);
    }

    /// The lifetime of the tokens it mints (default 3599 s).
    pub fn set_lifetime(&self, lifetime: Duration) {
        lock(&self.state).lifetime = lifetime;
    }

    /// Answers the next requests with these statuses, in order, before
    /// behaving again (404: an identity being assigned; 503: overloaded).
    pub fn fail_next(&self, statuses: impl IntoIterator<Item = u16>) {
        lock(&self.state).failures.extend(statuses);
    }

    /// Answers the next `n` requests with a 200 whose `access_token` is
    /// empty: a server not ready yet (openxla/xla #42361 cached one).
    pub fn empty_next(&self, n: u32) {
        lock(&self.state).empty += n;
    }

    /// Answers 429 past `n` requests in one second, as IMDS throttles.
    pub fn throttle(&self, n: usize) {
        lock(&self.state).max_per_second = Some(n);
    }

    /// GCE: attaches another service account (by email); any other is
    /// answered 404, as the real server does.
    pub fn attach_service_account(&self, email: impl Into<String>) {
        lock(&self.state).accounts.push(email.into());
    }

    /// Writes lifetimes as JSON strings (IMDS's default) or numbers.
    pub fn set_numbers(&self, numbers: Numbers) {
        lock(&self.state).numbers = numbers;
    }
}

/// The cached token, renewed when it has [`RENEWAL_WINDOW`] left or less,
/// and its remaining lifetime.
fn token(state: &mut State) -> (String, Duration) {
    let now = state.offset;
    let renew = match &state.current {
        Some((_, expires)) => expires.saturating_sub(now) <= RENEWAL_WINDOW,
        None => true,
    };
    if renew {
        state.minted += 1;
        let expires = now.saturating_add(state.lifetime);
        state.current = Some((format!("fake-metadata-token-{}", state.minted), expires));
    }
    let (token, expires) = state.current.clone().unwrap_or_default();
    (token, expires.saturating_sub(now))
}

/// The token to answer with: the cached one, or an empty one while told
/// to play a server that is not ready.
fn answer_token(state: &mut State) -> (String, Duration) {
    if state.empty > 0 {
        state.empty -= 1;
        return (String::new(), state.lifetime);
    }
    token(state)
}

/// A throttling or scripted failure, if one applies now.
fn refusal(state: &mut State) -> Option<u16> {
    if let Some(max) = state.max_per_second {
        let now = Instant::now();
        state
            .recent
            .retain(|t| now.duration_since(*t) < Duration::from_secs(1));
        state.recent.push(now);
        if state.recent.len() > max {
            return Some(429);
        }
    }
    (!state.failures.is_empty()).then(|| state.failures.remove(0))
}

fn raw(status: u16, headers: &[(&str, &str)], body: String) -> Fault {
    Fault::Raw {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.into_bytes(),
    }
}

const GCE_TOKEN_PREFIX: &str = "/computeMetadata/v1/instance/service-accounts/";

fn answer_gce(state: &mut State, request: &RecordedRequest) -> Fault {
    let flavor = [("Metadata-Flavor", "Google"), ("Content-Type", "text/html")];
    // The documented refusals, in the order the real server applies them.
    if request.header("Metadata-Flavor") != Some("Google") {
        return raw(
            403,
            &flavor,
            "Missing Metadata-Flavor:Google header.".into(),
        );
    }
    let path = request.path_only();
    let is_token = path
        .strip_prefix(GCE_TOKEN_PREFIX)
        .and_then(|rest| rest.strip_suffix("/token"))
        .is_some_and(|account| state.accounts.contains(&percent_decode(account)));
    if request.method != "GET" || !is_token {
        return raw(404, &flavor, "Not Found".into());
    }
    if let Some(status) = refusal(state) {
        return raw(status, &flavor, format!("status {status}"));
    }
    let (token, left) = answer_token(state);
    let body = format!(
        r#"{{"access_token":"{token}","expires_in":{},"token_type":"Bearer"}}"#,
        left.as_secs()
    );
    raw(
        200,
        &[
            ("Metadata-Flavor", "Google"),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

fn answer_azure(state: &mut State, request: &RecordedRequest) -> Fault {
    let json = [("Content-Type", "application/json; charset=utf-8")];
    let bad = |description: &str| {
        raw(
            400,
            &json,
            format!(r#"{{"error":"invalid_request","error_description":"{description}"}}"#),
        )
    };
    if request.path_only() != "/metadata/identity/oauth2/token" || request.method != "GET" {
        return raw(404, &json, r#"{"error":"Not found"}"#.into());
    }
    if !request
        .header("Metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return bad("Required metadata header not specified");
    }
    if request.query_value("api-version").is_none() {
        return bad("Required API version parameter not specified");
    }
    let Some(resource) = request.query_value("resource").filter(|r| !r.is_empty()) else {
        return bad("Required audience parameter not specified");
    };
    let selectors = ["client_id", "object_id", "msi_res_id"]
        .iter()
        .filter(|s| request.query_value(s).is_some())
        .count();
    if selectors > 1 {
        return bad("Multiple identity selectors specified");
    }
    if let Some(status) = refusal(state) {
        return raw(status, &json, format!(r#"{{"error":"status {status}"}}"#));
    }
    let (token, left) = answer_token(state);
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (expires_in, expires_on) = (left.as_secs(), epoch + left.as_secs());
    let n = |v: u64| match state.numbers {
        Numbers::Strings => format!("\"{v}\""),
        Numbers::Numbers => v.to_string(),
    };
    let body = format!(
        r#"{{"access_token":"{token}","refresh_token":"","expires_in":{},"expires_on":{},"not_before":{},"resource":"{resource}","token_type":"Bearer"}}"#,
        n(expires_in),
        n(expires_on),
        n(epoch)
    );
    raw(200, &json, body)
}

/// App Service's identity endpoint: the secret header, `api-version`,
/// `resource`, at most one identity selector; the answer carries
/// `expires_on` (epoch seconds, a string) and no `expires_in`. A missing or
/// wrong secret is answered 401 here: the platform documents that the
/// header is required, not the status it answers without it.
fn answer_app_service(state: &mut State, request: &RecordedRequest) -> Fault {
    let json = [("Content-Type", "application/json; charset=utf-8")];
    let bad = |description: &str| {
        raw(
            400,
            &json,
            format!(r#"{{"statusCode":400,"message":"{description}"}}"#),
        )
    };
    if request.path_only() != APP_SERVICE_PATH || request.method != "GET" {
        return raw(
            404,
            &json,
            r#"{"statusCode":404,"message":"Not found"}"#.into(),
        );
    }
    if request.header("X-IDENTITY-HEADER") != Some(APP_SERVICE_SECRET) {
        return raw(
            401,
            &json,
            r#"{"statusCode":401,"message":"Unauthorized"}"#.into(),
        );
    }
    if request.query_value("api-version").as_deref() != Some("2019-08-01") {
        return bad("Unsupported or missing api-version");
    }
    let Some(resource) = request.query_value("resource").filter(|r| !r.is_empty()) else {
        return bad("Required resource parameter not specified");
    };
    let selectors = ["client_id", "principal_id", "mi_res_id"]
        .iter()
        .filter(|s| request.query_value(s).is_some())
        .count();
    if selectors > 1 {
        return bad("Only one of client_id, principal_id or mi_res_id may be specified");
    }
    if let Some(status) = refusal(state) {
        return raw(
            status,
            &json,
            format!(r#"{{"statusCode":{status},"message":"status {status}"}}"#),
        );
    }
    let (token, left) = answer_token(state);
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let expires_on = match state.numbers {
        Numbers::Strings => format!("\"{}\"", epoch + left.as_secs()),
        Numbers::Numbers => (epoch + left.as_secs()).to_string(),
    };
    let body = format!(
        r#"{{"access_token":"{token}","expires_on":{expires_on},"resource":"{resource}","token_type":"Bearer","client_id":"fake-client-id"}}"#
    );
    raw(200, &json, body)
}

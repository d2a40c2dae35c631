//! What a transport does: send one [`HttpRequest`], return the
//! [`HttpResponse`]. Transports live in adapter crates (ureq, reqwest, surf…).
//!
//! Every transport must: apply connect and total timeouts; cap the response
//! body (answering [`freshen_core::ErrorKind::ResponseTooLarge`] past the cap
//! without reading on); refuse plain `http` except to loopback or when
//! explicitly allowed; not follow a redirect to another scheme or host; set a
//! `User-Agent`; and return error statuses as responses (the OAuth2 error is
//! in the body), failing only when no response came.
//!
//! Those rules live here, once, as pure functions every adapter calls:
//! [`TransportConfig`] (timeouts, body cap, `User-Agent`, insecure `http`),
//! [`check_request`] (the metadata servers' one exception to plain `http`),
//! [`check_url`] (before any connection), [`redirect_target`] /
//! [`redirect_allowed`] / [`next_redirect`] (same scheme, host and port
//! only, at most [`MAX_REDIRECTS`] hops), and [`request_target`] for an HTTP
//! API that takes a URL in parts (wasi:http).

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use core::future::Future;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use crate::http::{HttpRequest, HttpResponse, Method};
use freshen_core::ConfigError;
use freshen_core::{Error, ErrorKind};
use zeroize::Zeroize;

/// A blocking HTTP transport.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and returns the response, whatever its status.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, Error>;
}

/// An async HTTP transport.
pub trait AsyncTransport: Send + Sync + 'static {
    /// Sends `request` and returns the response, whatever its status.
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Error>> + Send;
}

// ---------------------------------------------------------------------------
// The rules every transport shares. They live here, once, as pure functions:
// the adapters call them and add only the I/O.
// ---------------------------------------------------------------------------

/// The `User-Agent` every transport sends unless told otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("freshen/", env!("CARGO_PKG_VERSION"));

/// How many redirects a transport follows for one request, at most.
pub const MAX_REDIRECTS: usize = 5;

/// The settings every transport applies: timeouts, the body cap, whether
/// plain `http` may leave the machine, and the `User-Agent`.
///
/// ```
/// use core::time::Duration;
/// use freshen_oauth::transport::TransportConfig;
///
/// let config = TransportConfig::default()
///     .with_timeout(Duration::from_secs(10))
///     .with_max_body(64 * 1024)
///     .with_user_agent("my-service/1.2");
/// assert_eq!(config.connect_timeout(), Duration::from_secs(10));
/// assert_eq!(config.max_body(), 64 * 1024);
/// assert!(!config.allow_insecure_http());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    connect_timeout: Duration,
    timeout: Duration,
    max_body: usize,
    allow_insecure_http: bool,
    user_agent: Cow<'static, str>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body: 1024 * 1024,
            allow_insecure_http: false,
            user_agent: Cow::Borrowed(DEFAULT_USER_AGENT),
        }
    }
}

impl TransportConfig {
    /// The defaults: connect timeout 10 s, total timeout 30 s, body cap
    /// 1 MiB, plain `http` only to loopback, `User-Agent`
    /// [`DEFAULT_USER_AGENT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long establishing the connection (TCP and TLS) may take.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long one request may take in all: connecting, sending,
    /// following redirects and reading the whole body.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest response body accepted, in bytes. A longer body is
    /// not read on: the request fails with
    /// [`ErrorKind::ResponseTooLarge`].
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Allows plain `http` to any host, not only to loopback. Credentials
    /// then cross the network in the clear: meant for test rigs only.
    pub fn with_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sets the `User-Agent` header sent with every request.
    pub fn with_user_agent(mut self, user_agent: impl Into<Cow<'static, str>>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How long establishing the connection may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How long one request may take in all.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The largest response body accepted, in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Whether plain `http` may go to hosts other than loopback.
    pub fn allow_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }

    /// The `User-Agent` header value.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The error for a body longer than [`max_body`](Self::max_body):
    /// permanent, like every response that cannot be used (the parser
    /// classes an oversized body the same way), so retries slow to the cap.
    pub fn too_large(&self) -> Error {
        Error::permanent(ErrorKind::ResponseTooLarge {
            limit: self.max_body,
        })
    }

    /// The error for a request that ran past [`timeout`](Self::timeout).
    pub fn timed_out(&self) -> Error {
        Error::transient(ErrorKind::Timeout {
            after: self.timeout,
        })
    }

    /// Whether a declared `Content-Length` already exceeds the cap, so the
    /// body need not be read at all.
    pub fn declared_too_large(&self, content_length: Option<&str>) -> bool {
        content_length
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|len| len > self.max_body as u64)
    }
}

/// The parts of an absolute URL that decide where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Origin<'a> {
    /// `http` or `https` (as written; compared case-insensitively).
    scheme: Scheme,
    /// The host, without brackets for IPv6 literals.
    host: &'a str,
    /// The explicit port, or the scheme's default.
    port: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// An absolute `http`/`https` URL split at its authority.
struct Parsed<'a> {
    origin: Origin<'a>,
    /// Everything before the path: `scheme://authority`.
    prefix: &'a str,
    /// The path, query and fragment (may be empty).
    rest: &'a str,
    /// Whether the authority carries userinfo (`user:password@`).
    userinfo: bool,
}

/// Reads an absolute `http`/`https` URL, or says what is wrong with it.
///
/// Characters that a URL parser may treat specially (strip, or read as a
/// separator) but this one does not are refused rather than risk reading the
/// host differently from the HTTP client. The reasons quote nothing from the
/// URL: it may hold a password.
fn parse(url: &str) -> Result<Parsed<'_>, &'static str> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("contains whitespace or a control character");
    }
    if url.contains('\\') {
        return Err("contains a backslash");
    }
    if !url.is_ascii() {
        return Err(
            "contains a non-ASCII character (percent-encode it, or write the host in its xn-- form)",
        );
    }
    let Some((scheme, after)) = url.split_once("://") else {
        return Err("is not an absolute URL (expected https://host/path)");
    };
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else {
        return Err("has a scheme other than http or https");
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let prefix = url
        .get(..url.len() - rest.len())
        .ok_or("is not an absolute URL (expected https://host/path)")?;
    // Userinfo ends at the last '@' of the authority.
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((_, hp)) => (true, hp),
        None => (false, authority),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after_host) = bracketed
            .split_once(']')
            .ok_or("has an IPv6 host with no closing bracket")?;
        host.parse::<Ipv6Addr>()
            .map_err(|_| "has an IPv6 host that is not a valid address")?;
        (host, after_host)
    } else {
        match host_port.find(':') {
            Some(i) => host_port.split_at(i),
            None => (host_port, ""),
        }
    };
    if host.is_empty() {
        return Err("has no host");
    }
    let port = match port {
        "" | ":" => match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        },
        p => {
            let digits = p
                .strip_prefix(':')
                .ok_or("has something other than a port after its host")?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("has a port that is not a number");
            }
            digits
                .parse::<u16>()
                .map_err(|_| "has a port above 65535")?
        }
    };
    Ok(Parsed {
        origin: Origin { scheme, host, port },
        prefix,
        rest,
        userinfo,
    })
}

/// Whether `s` holds a character [`parse`] refuses wherever it appears.
fn parse_refuses_chars(s: &str) -> bool {
    s.bytes()
        .any(|b| b <= b' ' || b == 0x7f || b == b'\\' || !b.is_ascii())
}

/// What a token URL is made of, for the request builder's own checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UrlShape {
    /// Whether the authority carries userinfo.
    pub(crate) userinfo: bool,
    /// Whether the URL has a fragment.
    pub(crate) fragment: bool,
}

/// Reads `url` as an absolute `http`/`https` URL; the error says what is
/// wrong, quoting nothing from the URL.
pub(crate) fn url_shape(url: &str) -> Result<UrlShape, &'static str> {
    let parsed = parse(url)?;
    Ok(UrlShape {
        userinfo: parsed.userinfo,
        fragment: parsed.rest.contains('#'),
    })
}

/// Whether a request carrying a secret may go to `host` over plain `http`:
/// only to a loopback host (`127.0.0.0/8`, `::1` — bracketed or not —,
/// `localhost`), unless insecure `http` is allowed. The one rule every
/// sender of a secret follows: [`check_url`] for token requests, and
/// freshen-http for the bearer token on an API request.
///
/// ```
/// use freshen_oauth::transport::plain_http_allowed;
///
/// assert!(plain_http_allowed("127.0.0.1", false));
/// assert!(plain_http_allowed("[::1]", false));
/// assert!(!plain_http_allowed("api.example.com", false));
/// assert!(plain_http_allowed("api.example.com", true));
/// ```
pub fn plain_http_allowed(host: &str, allow_insecure_http: bool) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    allow_insecure_http || is_loopback(host)
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.is_loopback();
    }
    host.parse::<Ipv6Addr>().is_ok_and(|v6| v6.is_loopback())
}

/// A URL as it may appear in an error message or a `Debug`: scheme, host,
/// port and path, without userinfo, query or fragment (any of which may
/// carry a secret).
///
/// A URL this module cannot read is shown quoted and escaped, cut at its
/// query or fragment, with everything between `://` and the last `@`
/// dropped, and shortened to 120 characters: enough to see what is wrong,
/// never its userinfo. A string without `://` is shown as its length only
/// (it may be a secret pasted in the wrong place).
///
/// ```
/// use freshen_oauth::transport::display_url;
///
/// assert_eq!(
///     display_url("https://user:pw@idp.example.com/token?x=1#f"),
///     "https://idp.example.com:443/token"
/// );
/// assert_eq!(
///     display_url("https://user:pw@idp.example.com:99999/token"),
///     r#""https://idp.example.com:99999/token""#
/// );
/// ```
pub fn display_url(url: &str) -> String {
    match parse(url) {
        Ok(p) => {
            let path_end = p.rest.find(['?', '#']).unwrap_or(p.rest.len());
            let path = p.rest.get(..path_end).unwrap_or("");
            let scheme = match p.origin.scheme {
                Scheme::Http => "http",
                Scheme::Https => "https",
            };
            let host = p.origin.host;
            let port = p.origin.port;
            if host.contains(':') {
                format!("{scheme}://[{host}]:{port}{path}")
            } else {
                format!("{scheme}://{host}:{port}{path}")
            }
        }
        Err(_) => display_unreadable(url),
    }
}

/// The longest unreadable URL shown, in characters.
const MAX_SHOWN: usize = 120;

fn display_unreadable(url: &str) -> String {
    // Not even `scheme://`: it may be anything, a secret pasted in the wrong
    // place included, so only its length is shown.
    let Some((scheme, after)) = url.split_once("://") else {
        return format!("<{} characters, no scheme>", url.chars().count());
    };
    // Never the query or the fragment.
    let after = after.split(['?', '#']).next().unwrap_or("");
    let scheme_ok = !scheme.is_empty()
        && scheme.len() <= 16
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    // Conservative: a password may hold an unencoded '/', so drop
    // everything up to the last '@' of the whole remainder.
    let after = after.rsplit_once('@').map_or(after, |(_, tail)| tail);
    let shown = if scheme_ok {
        format!("{scheme}://{after}")
    } else {
        format!("…://{after}")
    };
    let mut out = String::from("\"");
    for (i, c) in shown.chars().enumerate() {
        if i == MAX_SHOWN {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

/// Checks that a transport may send a request to `url`.
///
/// `https` is always allowed. Plain `http` is allowed only to a loopback
/// host (`127.0.0.0/8`, `::1`, `localhost`) unless
/// [`TransportConfig::allow_insecure_http`] is set, since a token request
/// carries a client secret or a refresh token. Anything else (another
/// scheme, a URL this check cannot read unambiguously) is refused with a
/// permanent [`ErrorKind::Config`] error, before any connection is made.
///
/// ```
/// use freshen_oauth::transport::{check_url, TransportConfig};
///
/// let config = TransportConfig::default();
/// assert!(check_url("https://login.example.com/oauth2/token", &config).is_ok());
/// assert!(check_url("http://127.0.0.1:8080/token", &config).is_ok());
/// assert!(check_url("http://example.invalid/token", &config).is_err());
/// ```
pub fn check_url(url: &str, config: &TransportConfig) -> Result<(), Error> {
    let parsed = parse(url).map_err(|reason| {
        Error::permanent(ErrorKind::Config(ConfigError::InvalidTokenUrl {
            url: display_url(url),
            reason,
        }))
    })?;
    match parsed.origin.scheme {
        Scheme::Https => Ok(()),
        Scheme::Http if plain_http_allowed(parsed.origin.host, config.allow_insecure_http) => {
            Ok(())
        }
        Scheme::Http => Err(Error::permanent(ErrorKind::Config(
            ConfigError::InsecureHttp {
                url: display_url(url),
            },
        ))),
    }
}

/// The hosts of the cloud metadata servers, as their providers document
/// them: Azure IMDS and GCE's metadata server answer on the link-local
/// `169.254.169.254` (never routed off the host), and GCE's also under the
/// name `metadata.google.internal`, which resolves to it inside Google Cloud.
///
/// - GCE: <https://cloud.google.com/compute/docs/metadata/querying-metadata>
/// - Azure: <https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service>
pub const METADATA_HOSTS: [&str; 2] = ["169.254.169.254", "metadata.google.internal"];

/// Checks that a transport may send `request`: [`check_url`], with one
/// narrow exception for the cloud metadata servers, which speak plain `http`
/// only. Plain `http` to one of [`METADATA_HOSTS`] on port 80 is allowed
/// for a `GET` with no body that carries the header its provider requires
/// (`Metadata-Flavor: Google` or `Metadata: true`): such a request holds no
/// credential to leak, and the address never leaves the machine. A token
/// request (a `POST` with a secret) to the same host is still refused.
///
/// Transports call this before every hop instead of [`check_url`].
///
/// ```
/// use freshen_oauth::http::{HttpRequest, Method};
/// use freshen_oauth::transport::{check_request, TransportConfig};
///
/// let config = TransportConfig::default();
/// let url = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01";
/// let imds = HttpRequest::new(Method::Get, url).with_header("Metadata", "true");
/// assert!(check_request(&imds, &config).is_ok());
/// // The same URL without the metadata header, or as a POST, is plain http.
/// assert!(check_request(&HttpRequest::new(Method::Get, url), &config).is_err());
/// let post = HttpRequest::new(Method::Post, url).with_header("Metadata", "true");
/// assert!(check_request(&post, &config).is_err());
/// ```
pub fn check_request(request: &HttpRequest, config: &TransportConfig) -> Result<(), Error> {
    let checked = check_url(&request.url, config);
    if checked.is_err() && is_metadata_request(request) {
        return Ok(());
    }
    checked
}

/// A bodiless `GET` over plain `http` to a metadata host's port 80, with its
/// provider's required header.
fn is_metadata_request(request: &HttpRequest) -> bool {
    let Ok(parsed) = parse(&request.url) else {
        return false;
    };
    let origin = parsed.origin;
    let to_metadata_host = origin.scheme == Scheme::Http
        && origin.port == 80
        && !parsed.userinfo
        && METADATA_HOSTS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(origin.host));
    let flavored = request
        .header("Metadata-Flavor")
        .is_some_and(|v| v == "Google")
        || request
            .header("Metadata")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    to_metadata_host && flavored && request.method == Method::Get && request.body.is_empty()
}

/// Where a request goes, in the parts an HTTP API that takes them apart
/// wants (wasi:http's `outgoing-request`, for one): the scheme, the
/// authority as written minus any userinfo, and the path with its query,
/// without the fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// `true` for `https`, `false` for plain `http`.
    pub https: bool,
    /// `host[:port]` as written in the URL (IPv6 hosts keep their
    /// brackets), never the userinfo.
    pub authority: &'a str,
    /// The path and query, never empty (`/` when the URL has no path), never
    /// the fragment.
    pub path_with_query: Cow<'a, str>,
}

/// Splits a URL that [`check_url`] accepted into a [`RequestTarget`], or
/// `None` if it cannot be read (call [`check_url`] first for the error).
///
/// ```
/// use freshen_oauth::transport::request_target;
///
/// let target = request_target("https://user:pw@idp.example.com:8443/oauth2/token?x=1#f").unwrap();
/// assert!(target.https);
/// assert_eq!(target.authority, "idp.example.com:8443");
/// assert_eq!(target.path_with_query, "/oauth2/token?x=1");
/// assert_eq!(request_target("http://127.0.0.1:80").unwrap().path_with_query, "/");
/// ```
pub fn request_target(url: &str) -> Option<RequestTarget<'_>> {
    let parsed = parse(url).ok()?;
    let (_, authority) = parsed.prefix.split_once("://")?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let end = parsed.rest.find('#').unwrap_or(parsed.rest.len());
    let path_with_query = match parsed.rest.get(..end)? {
        "" => Cow::Borrowed("/"),
        // `https://host?x=1`: the path is empty, the query is not.
        q if q.starts_with('?') => Cow::Owned(format!("/{q}")),
        p => Cow::Borrowed(p),
    };
    Some(RequestTarget {
        https: parsed.origin.scheme == Scheme::Https,
        authority,
        path_with_query,
    })
}

/// Resolves a redirect's `Location` against the URL that answered, and
/// returns the absolute target if a transport may follow it.
///
/// A redirect is followed only within one origin: the same scheme, host and
/// port (default ports filled in). Relative locations (`/path`, `path`,
/// `?query`, `//host/path`) are resolved first. Anything else, including a
/// location this function cannot read unambiguously, gives `None`.
///
/// ```
/// use freshen_oauth::transport::redirect_target;
///
/// let from = "https://idp.example.com/oauth2/token";
/// assert_eq!(
///     redirect_target(from, "/v2/token").as_deref(),
///     Some("https://idp.example.com/v2/token")
/// );
/// assert_eq!(redirect_target(from, "http://idp.example.com/token"), None);
/// ```
pub fn redirect_target(from_url: &str, location: &str) -> Option<String> {
    let from = parse(from_url).ok()?;
    // A location any URL parser might read differently (whitespace,
    // control characters, a backslash, non-ASCII) is not followed.
    if location.is_empty() || parse_refuses_chars(location) {
        return None;
    }
    let target = if location.starts_with("//") {
        // Scheme-relative: takes the scheme of the URL that answered.
        let scheme = from.prefix.split_once("://")?.0;
        format!("{scheme}:{location}")
    } else if location.starts_with('/') {
        format!("{}{location}", from.prefix)
    } else if location.starts_with('?') {
        let end = from.rest.find(['?', '#']).unwrap_or(from.rest.len());
        format!("{}{}{location}", from.prefix, from.rest.get(..end)?)
    } else if location.starts_with('#') {
        let end = from.rest.find('#').unwrap_or(from.rest.len());
        format!("{}{}{location}", from.prefix, from.rest.get(..end)?)
    } else {
        let colon = location.find(':');
        let slash = location.find(['/', '?', '#']);
        let has_scheme = match (colon, slash) {
            (Some(c), Some(s)) => c < s,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if has_scheme {
            String::from(location)
        } else {
            // A relative path: replaces the last segment of the base path.
            let end = from.rest.find(['?', '#']).unwrap_or(from.rest.len());
            let path = from.rest.get(..end)?;
            let dir = path.rfind('/').and_then(|i| path.get(..=i)).unwrap_or("/");
            format!("{}{dir}{location}", from.prefix)
        }
    };
    let to = parse(&target).ok()?;
    let same_host = to.origin.host.eq_ignore_ascii_case(from.origin.host);
    if to.origin.scheme == from.origin.scheme && same_host && to.origin.port == from.origin.port {
        Some(target)
    } else {
        None
    }
}

/// Whether a transport may follow a redirect from `from_url` to `to_url`
/// (which may be relative): only within one scheme, host and port.
///
/// ```
/// use freshen_oauth::transport::redirect_allowed;
///
/// let from = "https://idp.example.com/token";
/// assert!(redirect_allowed(from, "https://IDP.example.com:443/v2/token"));
/// assert!(redirect_allowed(from, "token2"));
/// assert!(!redirect_allowed(from, "https://evil.example/token"));
/// assert!(!redirect_allowed(from, "http://idp.example.com/token"));
/// ```
pub fn redirect_allowed(from_url: &str, to_url: &str) -> bool {
    redirect_target(from_url, to_url).is_some()
}

/// Whether a request header is one the transport sets itself (`Host`,
/// `Content-Length`, `Transfer-Encoding`, `Connection`) and must not copy
/// from an [`HttpRequest`].
pub fn is_transport_header(name: &str) -> bool {
    ["host", "content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Whether a request header carries a credential (`Authorization`,
/// `Proxy-Authorization`, `Cookie`): transports mark its value sensitive, so
/// the HTTP library keeps it out of HTTP/2 header compression tables and
/// its own `Debug` output.
pub fn is_sensitive_header(name: &str) -> bool {
    ["authorization", "proxy-authorization", "cookie"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Whether `status` asks the client to go elsewhere (301, 302, 303, 307,
/// 308).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Decides what a transport that follows redirects itself does with a
/// response.
///
/// `sent` is the request that got the response, `hops` how many redirects
/// were already followed for it. Returns:
///
/// - `Ok(None)`: not a redirect (or one without a `Location`): hand the
///   response to the caller.
/// - `Ok(Some(next))`: send `next`. 307 and 308 keep the method and the
///   body; 301, 302 and 303 turn a `POST` into a body-less `GET`, as every
///   HTTP client does.
/// - `Err(_)`: a redirect that must not be followed (to another scheme,
///   host or port), or more than [`MAX_REDIRECTS`]: a permanent
///   [`ErrorKind::Config`] error.
pub fn next_redirect(
    sent: &HttpRequest,
    status: u16,
    location: Option<&str>,
    hops: usize,
) -> Result<Option<HttpRequest>, Error> {
    if !is_redirect(status) {
        return Ok(None);
    }
    let Some(location) = location else {
        return Ok(None);
    };
    let Some(target) = redirect_target(&sent.url, location) else {
        return Err(refused_redirect(&sent.url, location));
    };
    if hops >= MAX_REDIRECTS {
        return Err(Error::permanent(ErrorKind::Config(
            format!(
                "more than {MAX_REDIRECTS} redirects from {}",
                display_url(&sent.url)
            )
            .into(),
        )));
    }
    let mut next = sent.clone();
    next.url = target;
    if matches!(status, 301..=303) && sent.method == Method::Post {
        next.method = Method::Get;
        // Wiped, not just emptied: the GET must not carry the secret on.
        next.body.zeroize();
        next.headers.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("content-type")
                && !name.eq_ignore_ascii_case("content-length")
        });
    }
    Ok(Some(next))
}

/// The error for a redirect that [`redirect_allowed`] refuses.
pub fn refused_redirect(from_url: &str, location: &str) -> Error {
    Error::permanent(ErrorKind::Config(
        format!(
            "refusing a redirect from {} to another origin ({})",
            display_url(from_url),
            display_url(location)
        )
        .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn config() -> TransportConfig {
        TransportConfig::default()
    }

    fn refused(url: &str, config: &TransportConfig) -> bool {
        match check_url(url, config) {
            Ok(()) => false,
            Err(e) => e.is_permanent() && matches!(e.kind(), ErrorKind::Config(_)),
        }
    }

    #[test]
    fn defaults() {
        let c = TransportConfig::new();
        assert_eq!(c.connect_timeout(), Duration::from_secs(10));
        assert_eq!(c.timeout(), Duration::from_secs(30));
        assert_eq!(c.max_body(), 1024 * 1024);
        assert!(!c.allow_insecure_http());
        assert!(c.user_agent().starts_with("freshen/"));
        let c = c.with_user_agent(String::from("x/1")).with_max_body(5);
        assert_eq!(c.user_agent(), "x/1");
        assert!(c.declared_too_large(Some(" 6 ")));
        assert!(!c.declared_too_large(Some("5")));
        assert!(!c.declared_too_large(Some("junk")));
        assert!(!c.declared_too_large(None));
        assert_eq!(
            c.too_large().kind(),
            &ErrorKind::ResponseTooLarge { limit: 5 }
        );
    }

    #[test]
    fn https_always_allowed() {
        for url in [
            "https://idp.example.com/token",
            "HTTPS://idp.example.com:8443/t?x=1",
            "https://[2001:db8::1]/token",
            "https://10.0.0.1",
        ] {
            assert!(check_url(url, &config()).is_ok(), "{url}");
        }
    }

    #[test]
    fn http_only_to_loopback() {
        for url in [
            "http://127.0.0.1:8080/token",
            "http://127.255.0.9/token",
            "http://localhost/token",
            "http://LOCALHOST:1/token",
            "http://[::1]:9000/token",
            "http://user:pw@127.0.0.1/token",
            "http://127.0.0.1?x",
        ] {
            assert!(check_url(url, &config()).is_ok(), "{url}");
        }
        for url in [
            "http://example.invalid/token",
            "http://10.0.0.1/token",
            "http://128.0.0.1/token",
            "http://[::2]/token",
            "http://localhost.evil.example/token",
            "http://127.0.0.1.evil.example/token",
            "http://127.0.0.1@evil.example/token",
            "http://[::1]@evil.example/token",
            "http://localhost\\@evil.example/token",
            "http://127.0.0.1\t/token",
            "http://0x7f.0.0.1/token",
            "http://127.1/token",
            "http://localhost:99999/token",
            "http://localhost:8x/token",
            "http:127.0.0.1/token",
            "http:/127.0.0.1/token",
            " http://127.0.0.1/token",
            "ftp://127.0.0.1/token",
            "file:///etc/passwd",
            "127.0.0.1/token",
            "http:///token",
            "",
        ] {
            assert!(refused(url, &config()), "{url}");
        }
    }

    #[test]
    fn plain_http_to_metadata_servers_only_as_their_providers_require() {
        use crate::http::HttpRequest;
        let gce = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token";
        let imds = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01";
        let get = |url: &str, header: (&str, &str)| {
            HttpRequest::new(Method::Get, url).with_header(header.0, header.1)
        };
        let allowed = [
            get(gce, ("Metadata-Flavor", "Google")),
            get(imds, ("Metadata", "true")),
            get(imds, ("metadata", "True")),
            get(
                "http://METADATA.google.internal:80/x",
                ("Metadata-Flavor", "Google"),
            ),
            get(
                "http://169.254.169.254/computeMetadata/v1/x",
                ("Metadata-Flavor", "Google"),
            ),
        ];
        for request in &allowed {
            assert!(check_request(request, &config()).is_ok(), "{request:?}");
        }
        let refused_requests = [
            // No provider header: not a metadata request.
            HttpRequest::new(Method::Get, imds),
            get(imds, ("Metadata", "false")),
            get(gce, ("Metadata-Flavor", "google-ish")),
            // A POST, or a body: a credential could ride along.
            HttpRequest::new(Method::Post, imds).with_header("Metadata", "true"),
            get(imds, ("Metadata", "true")).with_body(&b"client_secret=x"[..]),
            // Other link-local addresses, other ports, look-alike names.
            get(
                "http://169.254.169.253/metadata/identity",
                ("Metadata", "true"),
            ),
            get("http://169.254.169.254:8080/x", ("Metadata", "true")),
            get(
                "http://metadata.google.internal.evil.example/x",
                ("Metadata-Flavor", "Google"),
            ),
            get(
                "http://metadata.google.internal@evil.example/x",
                ("Metadata-Flavor", "Google"),
            ),
            get(
                "http://u:p@metadata.google.internal/x",
                ("Metadata-Flavor", "Google"),
            ),
            get("http://example.invalid/x", ("Metadata", "true")),
        ];
        for request in &refused_requests {
            let refused = check_request(request, &config())
                .is_err_and(|e| e.is_permanent() && matches!(e.kind(), ErrorKind::Config(_)));
            assert!(refused, "{request:?}");
        }
        // Everything check_url allows stays allowed.
        let loopback = HttpRequest::new(Method::Post, "http://127.0.0.1:1/token");
        assert!(check_request(&loopback, &config()).is_ok());
    }

    #[test]
    fn insecure_http_when_allowed() {
        let c = config().with_allow_insecure_http(true);
        assert!(check_url("http://example.invalid/token", &c).is_ok());
        // Still only http(s).
        assert!(refused("ftp://example.invalid/token", &c));
    }

    #[test]
    fn refusal_messages_hold_no_userinfo_or_query() {
        let e = check_url(
            "http://user:s3cret@example.invalid/t?code=s3cret#f",
            &config(),
        );
        let msg = e.err().map(|e| format!("{e}")).unwrap_or_default();
        assert!(msg.contains("http://example.invalid:80/t"), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
    }

    #[test]
    fn redirects_within_one_origin() {
        let from = "https://idp.example.com/oauth2/token?x=1";
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("/v2/token", Some("https://idp.example.com/v2/token")),
            ("token2", Some("https://idp.example.com/oauth2/token2")),
            ("?y=2", Some("https://idp.example.com/oauth2/token?y=2")),
            ("#f", Some("https://idp.example.com/oauth2/token?x=1#f")),
            ("//idp.example.com/t", Some("https://idp.example.com/t")),
            (
                "https://idp.example.com:443/t",
                Some("https://idp.example.com:443/t"),
            ),
            (
                "HTTPS://IDP.EXAMPLE.COM/t",
                Some("HTTPS://IDP.EXAMPLE.COM/t"),
            ),
            ("http://idp.example.com/t", None),
            ("https://idp.example.com:8443/t", None),
            ("https://evil.example/t", None),
            ("//evil.example/t", None),
            ("https://idp.example.com@evil.example/t", None),
            ("https://evil.example\\@idp.example.com/t", None),
            ("/\\evil.example/t", None),
            ("javascript:alert(1)", None),
            ("http:/t", None),
            ("", None),
        ];
        for (location, want) in cases {
            assert_eq!(
                redirect_target(from, location).as_deref(),
                want,
                "{location}"
            );
            assert_eq!(
                redirect_allowed(from, location),
                want.is_some(),
                "{location}"
            );
        }
        assert!(redirect_allowed(
            "http://127.0.0.1:80/a",
            "http://127.0.0.1/b"
        ));
        assert!(!redirect_allowed(
            "http://127.0.0.1:8080/a",
            "http://localhost:8080/b"
        ));
        assert!(!redirect_allowed(
            "http://127.0.0.1:8080/a",
            "http://example.invalid/token"
        ));
        assert!(redirect_allowed(
            "http://[::1]:8080/a",
            "http://[::1]:8080/b"
        ));
        assert!(!redirect_allowed("not a url", "/b"));
    }

    fn post(url: &str) -> HttpRequest {
        HttpRequest::new(Method::Post, url)
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_header("Authorization", "Basic eDp5")
            .with_body(&b"grant_type=client_credentials"[..])
    }

    #[test]
    fn next_redirect_rules() {
        let sent = post("https://idp.example.com/token");
        // Not a redirect, or one with no Location: the response is the answer.
        assert_eq!(next_redirect(&sent, 200, Some("/x"), 0), Ok(None));
        assert_eq!(next_redirect(&sent, 304, Some("/x"), 0), Ok(None));
        assert_eq!(next_redirect(&sent, 307, None, 0), Ok(None));
        // 307/308 keep method, body and headers.
        for status in [307, 308] {
            let next = next_redirect(&sent, status, Some("/v2"), 0);
            let next = next.ok().flatten();
            let next = next.as_ref();
            assert_eq!(next.map(|r| r.method), Some(Method::Post));
            assert_eq!(next.map(|r| r.body.as_slice()), Some(sent.body.as_slice()));
            assert_eq!(
                next.map(|r| r.url.as_str()),
                Some("https://idp.example.com/v2")
            );
            assert_eq!(
                next.and_then(|r| r.header("authorization")),
                Some("Basic eDp5")
            );
        }
        // 301/302/303 turn a POST into a GET without a body.
        for status in [301, 302, 303] {
            let next = next_redirect(&sent, status, Some("/v2"), 0).ok().flatten();
            let next = next.as_ref();
            assert_eq!(next.map(|r| r.method), Some(Method::Get));
            assert_eq!(next.map(|r| r.body.len()), Some(0));
            assert_eq!(next.and_then(|r| r.header("content-type")), None);
        }
        // Another origin, or too many hops: a permanent Config error.
        for (location, hops) in [("http://idp.example.com/t", 0), ("/v2", MAX_REDIRECTS)] {
            let err = next_redirect(&sent, 307, Some(location), hops).err();
            assert!(err.as_ref().is_some_and(|e| e.is_permanent()), "{location}");
            assert!(matches!(
                err.as_ref().map(|e| e.kind()),
                Some(ErrorKind::Config(_))
            ));
        }
        assert!(next_redirect(&sent, 307, Some("/v2"), MAX_REDIRECTS - 1).is_ok());
    }

    #[test]
    fn request_targets() {
        let t = request_target("HTTPS://u:p@idp.example.com/t?a=b#frag");
        assert_eq!(
            t,
            Some(RequestTarget {
                https: true,
                authority: "idp.example.com",
                path_with_query: Cow::Borrowed("/t?a=b"),
            })
        );
        let t = request_target("http://[::1]:8080#f");
        assert_eq!(
            t.map(|t| (t.https, t.authority, t.path_with_query.into_owned())),
            Some((false, "[::1]:8080", String::from("/")))
        );
        let t = request_target("http://127.0.0.1?x=1");
        assert_eq!(
            t.map(|t| t.path_with_query.into_owned()),
            Some(String::from("/?x=1"))
        );
        assert_eq!(request_target("ftp://127.0.0.1/t"), None);
        assert_eq!(request_target("not a url"), None);
    }

    #[test]
    fn transport_headers() {
        assert!(is_transport_header("Content-Length"));
        assert!(is_transport_header("HOST"));
        assert!(!is_transport_header("Authorization"));
    }

    #[test]
    fn display_url_strips_secrets() {
        assert_eq!(
            display_url("https://u:p@idp.example.com/t?secret=1#frag"),
            "https://idp.example.com:443/t"
        );
        assert_eq!(display_url("http://[::1]:8/t"), "http://[::1]:8/t");
        assert_eq!(display_url("garbage"), "<7 characters, no scheme>");
        assert_eq!(
            display_url("user:pw@idp.example/token"),
            "<25 characters, no scheme>"
        );
        assert_eq!(
            display_url("htps://u:p/w@idp.example/t?q#f"),
            "\"htps://idp.example/t\""
        );
    }
}

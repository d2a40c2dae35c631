//! Which responses reject a token, and where a token may be sent.

use std::fmt;
use std::sync::Arc;

use freshen_core::{ConfigError, Error, ErrorKind};
use freshen_oauth::transport::{display_url, plain_http_allowed};
use http::header::WWW_AUTHENTICATE;
use http::uri::Scheme;
use http::{HeaderMap, HeaderName, StatusCode, Uri};

use crate::challenge::bearer_invalid_token;

/// Named once: a name looked up by string is parsed on every response.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// gRPC's `UNAUTHENTICATED` status code.
const GRPC_UNAUTHENTICATED: &[u8] = b"16";
/// gRPC's `PERMISSION_DENIED` status code.
const GRPC_PERMISSION_DENIED: &[u8] = b"7";

/// What a response says about the token its request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing about the token: hand the response to the caller.
    Accepted,
    /// The server rejected the token: invalidate exactly that token, and
    /// retry once with a newer one if the request can be replayed.
    Rejected,
}

/// A predicate over a 403's status and headers (or gRPC's
/// `PERMISSION_DENIED`): `true` treats it as a rejected token.
type ForbiddenPredicate = dyn Fn(StatusCode, &HeaderMap) -> bool + Send + Sync;

/// The rules of the request path, the same for every integration:
///
/// | response | token invalidated | retried once (replayable body) |
/// |---|---|---|
/// | 401 | yes | yes |
/// | any status with `WWW-Authenticate: Bearer error="invalid_token"` | yes | yes |
/// | gRPC `UNAUTHENTICATED` (`grpc-status: 16` in the headers) | yes | yes |
/// | gRPC `UNAUTHENTICATED` in the trailers ([`Rules::trailers_verdict`]) | yes | no: the response has already gone to the caller |
/// | 403, gRPC `PERMISSION_DENIED` (headers or trailers) | only if [`Rules::invalidate_on_forbidden`]'s predicate says so | likewise |
/// | anything else | no | no |
///
/// A 403 says the token is valid but not allowed: a new token of the same
/// client is rarely allowed more, so evicting it by default would only
/// turn every forbidden call into a token request. Some servers answer 403
/// for a revoked token; those opt in.
///
/// With [`Rules::retry_rejected`]`(false)` nothing is retried: a rejected
/// token is still invalidated, and the rejection goes back to the caller.
#[derive(Clone)]
pub struct Rules {
    allow_insecure_http: bool,
    retry_rejected: bool,
    origin: Option<Uri>,
    forbidden: Option<Arc<ForbiddenPredicate>>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            allow_insecure_http: false,
            retry_rejected: true,
            origin: None,
            forbidden: None,
        }
    }
}

impl Rules {
    /// The defaults: 401 and `invalid_token` reject; 403 never does; plain
    /// `http` only to loopback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows sending the token over plain `http` to any host, not only to
    /// loopback. The token is then readable by anyone on the path.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether a request whose token was rejected is sent again once with
    /// a newer token (default `true`). Off, the integrations keep no copy
    /// of the request (its headers and body) for a retry: the rejected
    /// token is invalidated all the same, and the rejection goes back to
    /// the caller, who decides (for requests that must not be sent twice,
    /// or to save the copy on every request).
    ///
    /// ```
    /// use freshen_http::Rules;
    ///
    /// assert!(Rules::new().retries_rejected());
    /// assert!(!Rules::new().retry_rejected(false).retries_rejected());
    /// ```
    #[must_use]
    pub fn retry_rejected(mut self, retry: bool) -> Self {
        self.retry_rejected = retry;
        self
    }

    /// Whether a rejected request is retried (see [`Rules::retry_rejected`]).
    #[inline]
    pub fn retries_rejected(&self) -> bool {
        self.retry_rejected
    }

    /// Where requests whose URI is a path only are sent: tonic's requests
    /// above its `Channel` carry no scheme or host (the channel adds its
    /// endpoint's), so [`Rules::check_uri`] judges them by this instead.
    #[must_use]
    pub fn origin(mut self, origin: Uri) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Treats a 403 (or gRPC's `PERMISSION_DENIED`) as a rejected token
    /// when `predicate` returns `true` for its status and headers.
    ///
    /// ```
    /// use freshen_http::{Rules, Verdict};
    /// use http::{HeaderMap, StatusCode};
    ///
    /// // This server answers 403 for a revoked token, and says so.
    /// let rules = Rules::new().invalidate_on_forbidden(|_, headers| {
    ///     headers.get("x-token-revoked").is_some()
    /// });
    /// let mut headers = HeaderMap::new();
    /// assert_eq!(rules.verdict(StatusCode::FORBIDDEN, &headers), Verdict::Accepted);
    /// headers.insert("x-token-revoked", "1".parse().unwrap());
    /// assert_eq!(rules.verdict(StatusCode::FORBIDDEN, &headers), Verdict::Rejected);
    /// ```
    #[must_use]
    pub fn invalidate_on_forbidden(
        mut self,
        predicate: impl Fn(StatusCode, &HeaderMap) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.forbidden = Some(Arc::new(predicate));
        self
    }

    /// What a response with `status` and `headers` says about the token
    /// (see the table on [`Rules`]).
    pub fn verdict(&self, status: StatusCode, headers: &HeaderMap) -> Verdict {
        let rejected = status == StatusCode::UNAUTHORIZED
            || headers
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .any(|v| bearer_invalid_token(v.as_bytes()));
        self.judge(status, headers, rejected, status == StatusCode::FORBIDDEN)
    }

    /// What the trailers of a response with `status` say about the token:
    /// a gRPC status there (a streaming call, or a unary one whose server
    /// sent its headers first) is judged as it would be in the headers —
    /// `UNAUTHENTICATED` rejects, `PERMISSION_DENIED` only with
    /// [`Rules::invalidate_on_forbidden`] (its predicate is given `status`
    /// and the trailers). Nothing else is read there: the HTTP status and
    /// `WWW-Authenticate` belong to the headers, judged by
    /// [`Rules::verdict`].
    ///
    /// The caller has already received the response by then, so a
    /// rejection here invalidates the token for the next requests, but
    /// retries nothing.
    ///
    /// ```
    /// use freshen_http::{Rules, Verdict};
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut trailers = HeaderMap::new();
    /// trailers.insert("grpc-status", HeaderValue::from_static("0"));
    /// assert_eq!(Rules::new().trailers_verdict(StatusCode::OK, &trailers), Verdict::Accepted);
    /// trailers.insert("grpc-status", HeaderValue::from_static("16"));
    /// assert_eq!(Rules::new().trailers_verdict(StatusCode::OK, &trailers), Verdict::Rejected);
    /// ```
    pub fn trailers_verdict(&self, status: StatusCode, trailers: &HeaderMap) -> Verdict {
        self.judge(status, trailers, false, false)
    }

    /// The verdict once the HTTP part is known (`rejected`, `forbidden`),
    /// with the gRPC status of `map` (headers or trailers) added: one place
    /// for gRPC's codes and the 403 predicate.
    #[inline]
    fn judge(
        &self,
        status: StatusCode,
        map: &HeaderMap,
        rejected: bool,
        forbidden: bool,
    ) -> Verdict {
        let grpc = map.get(GRPC_STATUS).map(|v| v.as_bytes());
        let rejected = rejected || grpc == Some(GRPC_UNAUTHENTICATED);
        let forbidden = forbidden || grpc == Some(GRPC_PERMISSION_DENIED);
        if rejected || (forbidden && self.forbidden.as_ref().is_some_and(|p| p(status, map))) {
            Verdict::Rejected
        } else {
            Verdict::Accepted
        }
    }

    /// Whether a token may go to `uri`: `https` always; plain `http` only to
    /// a loopback host unless [`Rules::allow_insecure_http`] (the
    /// transports' rule, [`plain_http_allowed`]). A URI with no scheme (a
    /// path only: tonic's requests above its `Channel`) tells nothing, and
    /// is judged by [`Rules::origin`], the destination the caller
    /// configured; with neither, it is refused. Refusals are permanent
    /// [`ConfigError::InsecureHttp`] errors, made before anything is sent.
    ///
    /// ```
    /// use freshen_http::Rules;
    ///
    /// let rules = Rules::new();
    /// assert!(rules.check_uri(&"https://api.example.com/v1".parse().unwrap()).is_ok());
    /// assert!(rules.check_uri(&"http://127.0.0.1:8080/v1".parse().unwrap()).is_ok());
    /// assert!(rules.check_uri(&"http://api.example.com/v1".parse().unwrap()).is_err());
    /// ```
    pub fn check_uri(&self, uri: &Uri) -> Result<(), Error> {
        let target = match (uri.scheme_str(), &self.origin) {
            (Some(_), _) => uri,
            (None, Some(origin)) => origin,
            (None, None) => return Err(refused(uri)),
        };
        // The common case, decided without `Uri::host`'s string searches:
        // `https` and a host, which is all `check_destination` asks of it.
        if target.scheme() == Some(&Scheme::HTTPS) && has_host(target) {
            return Ok(());
        }
        match target.scheme_str() {
            Some(scheme) => self.check_destination(scheme, target.host(), target),
            None => Err(refused(target)),
        }
    }

    /// [`Rules::check_uri`] for a client whose URL is not an
    /// [`http::Uri`] (reqwest's `Url`, say): the same rule, judged from
    /// the URL's `scheme` and `host` as they are, so nothing is parsed or
    /// allocated per request. `url` is shown (without userinfo, query or
    /// fragment) only in the error of a refusal. A host in brackets (an
    /// IPv6 literal, as URL types write it) is read without them.
    ///
    /// ```
    /// use freshen_http::Rules;
    ///
    /// let rules = Rules::new();
    /// let url = "http://api.example.com/v1?key=s3cret";
    /// assert!(rules.check_destination("https", Some("api.example.com"), url).is_ok());
    /// assert!(rules.check_destination("http", Some("[::1]"), url).is_ok());
    /// let refused = rules.check_destination("http", Some("api.example.com"), url).unwrap_err();
    /// assert!(!refused.to_string().contains("s3cret"));
    /// ```
    pub fn check_destination(
        &self,
        scheme: &str,
        host: Option<&str>,
        url: impl fmt::Display,
    ) -> Result<(), Error> {
        let https = scheme.eq_ignore_ascii_case("https");
        let http = scheme.eq_ignore_ascii_case("http");
        match host.filter(|h| !h.is_empty()) {
            Some(_) if https => Ok(()),
            Some(host) if http && plain_http_allowed(host, self.allow_insecure_http) => Ok(()),
            _ => Err(refused(url)),
        }
    }
}

/// Whether `uri`'s host is there and not empty (`Uri::host` would be
/// `Some` and not empty): the part of its authority after any userinfo
/// (`…@`) neither empty nor starting with the port's `:`.
fn has_host(uri: &Uri) -> bool {
    let Some(authority) = uri.authority().map(|a| a.as_str().as_bytes()) else {
        return false;
    };
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at.saturating_add(1)..).unwrap_or_default(),
        None => authority,
    };
    host_port.first().is_some_and(|&b| b != b':')
}

fn refused(url: impl fmt::Display) -> Error {
    Error::permanent(ErrorKind::Config(ConfigError::InsecureHttp {
        url: display_url(&url.to_string()),
    }))
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("retry_rejected", &self.retry_rejected)
            .field(
                "origin",
                &self.origin.as_ref().map(|o| display_url(&o.to_string())),
            )
            .field("invalidate_on_forbidden", &self.forbidden.is_some())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn rejections() {
        let r = Rules::new();
        assert_eq!(
            r.verdict(StatusCode::UNAUTHORIZED, &HeaderMap::new()),
            Verdict::Rejected
        );
        let invalid = headers(&[("www-authenticate", "Bearer error=\"invalid_token\"")]);
        assert_eq!(
            r.verdict(StatusCode::BAD_REQUEST, &invalid),
            Verdict::Rejected
        );
        assert_eq!(
            r.verdict(StatusCode::FORBIDDEN, &invalid),
            Verdict::Rejected
        );
        let grpc = headers(&[("grpc-status", "16")]);
        assert_eq!(r.verdict(StatusCode::OK, &grpc), Verdict::Rejected);
    }

    #[test]
    fn not_rejections() {
        let r = Rules::new();
        assert_eq!(
            r.verdict(StatusCode::OK, &HeaderMap::new()),
            Verdict::Accepted
        );
        assert_eq!(
            r.verdict(StatusCode::FORBIDDEN, &HeaderMap::new()),
            Verdict::Accepted
        );
        let scope = headers(&[("www-authenticate", "Bearer error=\"insufficient_scope\"")]);
        assert_eq!(r.verdict(StatusCode::FORBIDDEN, &scope), Verdict::Accepted);
        let denied = headers(&[("grpc-status", "7")]);
        assert_eq!(r.verdict(StatusCode::OK, &denied), Verdict::Accepted);
        let other = headers(&[("grpc-status", "14")]);
        assert_eq!(r.verdict(StatusCode::OK, &other), Verdict::Accepted);
        assert_eq!(
            r.verdict(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new()),
            Verdict::Accepted
        );
    }

    #[test]
    fn trailers_are_judged_by_their_grpc_status_only() {
        let r = Rules::new();
        let judged = |rules: &Rules, pairs| rules.trailers_verdict(StatusCode::OK, &headers(pairs));
        assert_eq!(judged(&r, &[("grpc-status", "16")]), Verdict::Rejected);
        for accepted in [
            &[("grpc-status", "0")][..],
            &[("grpc-status", "14")],
            &[("grpc-status", "7")],
            &[],
            // Authentication belongs to the headers: not read in trailers.
            &[("www-authenticate", "Bearer error=\"invalid_token\"")],
        ] {
            assert_eq!(judged(&r, accepted), Verdict::Accepted, "{accepted:?}");
        }
        // A 401's status is the headers' business: trailers of a 401 with
        // no gRPC status reject nothing more.
        assert_eq!(
            r.trailers_verdict(StatusCode::UNAUTHORIZED, &HeaderMap::new()),
            Verdict::Accepted
        );
        // PERMISSION_DENIED in trailers: only with the predicate, which is
        // given the response's status and the trailers.
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let opted = Rules::new().invalidate_on_forbidden(move |status, map| {
            record.lock().unwrap().push(status);
            map.contains_key("x-revoked")
        });
        assert_eq!(judged(&opted, &[("grpc-status", "7")]), Verdict::Accepted);
        assert_eq!(
            judged(&opted, &[("grpc-status", "7"), ("x-revoked", "1")]),
            Verdict::Rejected
        );
        assert_eq!(
            judged(&opted, &[("grpc-status", "0"), ("x-revoked", "1")]),
            Verdict::Accepted
        );
        assert_eq!(*seen.lock().unwrap(), [StatusCode::OK, StatusCode::OK]);
    }

    #[test]
    fn forbidden_only_with_the_predicate() {
        let r = Rules::new().invalidate_on_forbidden(|status, _| status == StatusCode::FORBIDDEN);
        assert_eq!(
            r.verdict(StatusCode::FORBIDDEN, &HeaderMap::new()),
            Verdict::Rejected
        );
        let denied = headers(&[("grpc-status", "7")]);
        let grpc = Rules::new().invalidate_on_forbidden(|_, h| h.contains_key("grpc-status"));
        assert_eq!(grpc.verdict(StatusCode::OK, &denied), Verdict::Rejected);
        // The predicate is asked about forbidden responses only.
        let always = Rules::new().invalidate_on_forbidden(|_, _| true);
        assert_eq!(
            always.verdict(StatusCode::NOT_FOUND, &HeaderMap::new()),
            Verdict::Accepted
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let r = Rules::new();
        let ok = [
            "https://a.example/x",
            "http://127.0.0.1/x",
            "http://localhost:1/",
            "http://[::1]:8/",
        ];
        for u in ok {
            assert!(r.check_uri(&u.parse().unwrap()).is_ok(), "{u}");
        }
        let err = r
            .check_uri(&"http://a.example/x?secret=1".parse().unwrap())
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            ErrorKind::Config(ConfigError::InsecureHttp { .. })
        ));
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(
            Rules::new()
                .allow_insecure_http(true)
                .check_uri(&"http://a.example/".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn a_destination_is_judged_as_its_uri_would_be() {
        let r = Rules::new();
        let shown = "http://a.example/x?secret=1";
        for (scheme, host, ok) in [
            ("https", Some("a.example"), true),
            ("HTTPS", Some("a.example"), true),
            ("http", Some("127.0.0.1"), true),
            ("http", Some("localhost"), true),
            ("http", Some("[::1]"), true),
            ("http", Some("a.example"), false),
            ("http", Some("10.0.0.1"), false),
            ("https", None, false),
            ("https", Some(""), false),
            ("ftp", Some("127.0.0.1"), false),
        ] {
            let uri: Option<Uri> = host
                .filter(|h| !h.is_empty())
                .map(|h| format!("{scheme}://{h}/x").parse().unwrap());
            let judged = r.check_destination(scheme, host, shown);
            assert_eq!(judged.is_ok(), ok, "{scheme} {host:?}");
            if let Some(uri) = uri {
                assert_eq!(r.check_uri(&uri).is_ok(), ok, "{uri}");
            }
            if let Err(e) = judged {
                assert!(matches!(
                    e.kind(),
                    ErrorKind::Config(ConfigError::InsecureHttp { .. })
                ));
                assert!(!e.to_string().contains("secret"), "{e}");
            }
        }
        let anywhere = Rules::new().allow_insecure_http(true);
        assert!(
            anywhere
                .check_destination("http", Some("a.example"), shown)
                .is_ok()
        );
    }

    #[test]
    fn has_host_agrees_with_uri_host() {
        for u in [
            "https://a.example/x",
            "https://a.example:8443/x",
            "https://user@a.example/x",
            "https://user:pw@a.example:1/x",
            "https://[::1]:8443/",
            "https://u@[::1]/",
            "/only/a/path",
            "https://a.example",
        ] {
            let uri: Uri = u.parse().unwrap();
            let host = uri.host().is_some_and(|h| !h.is_empty());
            assert_eq!(has_host(&uri), host, "{u}");
        }
        // What the parser lets through with an empty host, if anything,
        // is judged alike.
        for u in ["https://:443/", "https://user@:443/", "https://@/x"] {
            if let Ok(uri) = u.parse::<Uri>() {
                let host = uri.host().is_some_and(|h| !h.is_empty());
                assert_eq!(has_host(&uri), host, "{u}");
                assert_eq!(Rules::new().check_uri(&uri).is_ok(), host, "{u}");
            }
        }
    }

    #[test]
    fn a_path_only_uri_is_judged_by_the_origin() {
        let path: Uri = "/grpc.health.v1.Health/Check".parse().unwrap();
        let with = |origin: &str| Rules::new().origin(origin.parse().unwrap());
        assert!(Rules::new().check_uri(&path).is_err());
        assert!(with("http://127.0.0.1:50051").check_uri(&path).is_ok());
        assert!(with("http://10.0.0.1:50051").check_uri(&path).is_err());
        assert!(with("https://10.0.0.1:50051").check_uri(&path).is_ok());
        // A full URI is judged by itself, not by the origin.
        let full: Uri = "http://10.0.0.1/x".parse().unwrap();
        assert!(with("https://10.0.0.1:50051").check_uri(&full).is_err());
    }
}

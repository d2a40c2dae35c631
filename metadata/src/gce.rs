//! GCE's metadata server: the access token of the VM's (or GKE workload's,
//! Cloud Run's, Cloud Functions') service account.
//!
//! As documented at
//! <https://cloud.google.com/compute/docs/access/authenticate-workloads#applications>
//! and <https://cloud.google.com/compute/docs/metadata/querying-metadata>:
//!
//! - `GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/<account>/token`,
//!   `<account>` being `default` or the account's email, with an optional
//!   `?scopes=<comma-separated scopes>`;
//! - the request header `Metadata-Flavor: Google` is required (the server
//!   answers 403 without it); its responses carry the same header;
//! - the answer is `{"access_token": …, "expires_in": <seconds>,
//!   "token_type": "Bearer"}`;
//! - the server caches the token until it has 5 minutes left, so a request
//!   before then gets the same token with less time on it;
//! - `GCE_METADATA_HOST` (`host[:port]`) points clients at another server
//!   (an emulator), as Google's own client libraries honour it.

use std::fmt;

use freshen_core::{Error, ErrorKind};
use freshen_oauth::http::{HttpRequest, HttpResponse, Method};

use crate::query;

/// The metadata server's documented host name.
pub const GCE_METADATA_HOST: &str = "metadata.google.internal";

/// The environment variable that overrides [`GCE_METADATA_HOST`].
pub const GCE_METADATA_HOST_ENV: &str = "GCE_METADATA_HOST";

/// How long before expiry the metadata server renews its cached token:
/// "The metadata server caches access tokens until they have 5 minutes of
/// remaining time".
pub const GCE_RENEWAL_WINDOW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Which token to ask GCE's metadata server for. Build it, then hand it to
/// [`crate::MetadataSource::gce`].
///
/// ```
/// use freshen_metadata::Gce;
///
/// let gce = Gce::new()
///     .with_host("127.0.0.1:8080")
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
/// assert_eq!(
///     gce.url(),
///     "http://127.0.0.1:8080/computeMetadata/v1/instance/service-accounts/default/token\
///      ?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Gce {
    host: String,
    account: String,
    scopes: Vec<String>,
}

impl Gce {
    /// The default service account, on the documented host or the one
    /// `GCE_METADATA_HOST` names.
    pub fn new() -> Self {
        let host = std::env::var(GCE_METADATA_HOST_ENV)
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| GCE_METADATA_HOST.to_owned());
        Gce {
            host,
            account: "default".to_owned(),
            scopes: Vec::new(),
        }
    }

    /// Asks another server (`host[:port]`, no scheme): an emulator or a
    /// test's fake. Plain `http` to a host other than the documented one
    /// or loopback is refused by the transport unless it allows insecure
    /// `http`.
    #[must_use]
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Asks for the token of another service account attached to the VM
    /// (its email), instead of `default`.
    #[must_use]
    pub fn with_service_account(mut self, email: impl Into<String>) -> Self {
        self.account = email.into();
        self
    }

    /// Asks for a token with these scopes rather than the VM's (GKE and
    /// Cloud Run honour it; a VM's own scopes still bound what it gets).
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The URL this asks.
    pub fn url(&self) -> String {
        let mut url = format!(
            "http://{}/computeMetadata/v1/instance/service-accounts/{}/token",
            self.host,
            query::encode(&self.account)
        );
        for (i, scope) in self.scopes.iter().enumerate() {
            url.push_str(if i == 0 { "?scopes=" } else { "," });
            query::encode_into(&mut url, scope);
        }
        url
    }

    pub(crate) fn request(&self) -> HttpRequest {
        HttpRequest::new(Method::Get, self.url()).with_header("Metadata-Flavor", "Google")
    }

    /// A success must come from the metadata server: it sets
    /// `Metadata-Flavor: Google` on every response. Anything else on that
    /// address (a proxy's page, another service) is not a token to trust.
    pub(crate) fn check(response: &HttpResponse) -> Result<(), Error> {
        let success = (200..300).contains(&response.status);
        if success && response.header("Metadata-Flavor") != Some("Google") {
            return Err(Error::permanent(ErrorKind::InvalidResponse(
                "the answer lacks `Metadata-Flavor: Google`: not GCE's metadata server".to_owned(),
            )));
        }
        Ok(())
    }
}

impl Default for Gce {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Gce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gce")
            .field("host", &self.host)
            .field("account", &self.account)
            .field("scopes", &self.scopes)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_documented_one() {
        let request = Gce::new()
            .with_host(GCE_METADATA_HOST)
            .with_service_account("sa@p.iam.gserviceaccount.com")
            .with_scopes(["a", "b c"])
            .request();
        assert_eq!(request.method, Method::Get);
        assert_eq!(
            request.url,
            "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/\
             sa%40p.iam.gserviceaccount.com/token?scopes=a,b%20c"
        );
        assert_eq!(request.header("Metadata-Flavor"), Some("Google"));
        assert!(request.body.is_empty());
    }

    #[test]
    fn a_success_without_the_flavor_header_is_refused() {
        let body = br#"{"access_token":"t","expires_in":3599,"token_type":"Bearer"}"#;
        let bare = HttpResponse::new(200, &body[..]);
        let e = Gce::check(&bare).unwrap_err();
        assert!(e.is_permanent());
        assert!(Gce::check(&bare.clone().with_header("metadata-flavor", "Google")).is_ok());
        // An error status is left to the parser, header or not.
        assert!(Gce::check(&HttpResponse::new(503, Vec::new())).is_ok());
    }
}

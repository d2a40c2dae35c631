//! Azure App Service's managed identity endpoint, which App Service, Azure
//! Functions and Azure Container Apps run beside each app instead of IMDS.
//!
//! As documented at
//! <https://learn.microsoft.com/azure/app-service/overview-managed-identity>
//! ("Connect to Azure services in app code", REST endpoint reference):
//!
//! - the platform sets `IDENTITY_ENDPOINT` (a local URL, such as
//!   `http://127.0.0.1:41741/MSI/token/`) and `IDENTITY_HEADER` (a secret
//!   that proves the caller runs in the app, rotated by the platform);
//! - `GET <IDENTITY_ENDPOINT>?resource=<uri>&api-version=2019-08-01`, with
//!   at most one of `client_id`, `principal_id` or `mi_res_id` to pick a
//!   user-assigned identity, and the header `X-IDENTITY-HEADER: <IDENTITY_HEADER>`;
//! - the answer holds `access_token`, `expires_on` (seconds since the
//!   epoch, as a string), `resource`, `token_type` and `client_id`; there
//!   is no `expires_in`, so the lifetime comes from `expires_on` and the
//!   wall clock;
//! - the endpoint serves tokens from the platform's cache, as IMDS does, so
//!   it is treated the same way: renewed 5 minutes before expiry.
//!
//! The endpoint is on loopback, so the transports' plain-`http` rule
//! allows it as it is. `IDENTITY_HEADER` is a secret: it is wiped on drop
//! and shown by no `Debug`.

use std::fmt;

use freshen_core::{ConfigError, Error, ErrorKind};
use freshen_oauth::http::{HttpRequest, Method};
use zeroize::Zeroizing;

use crate::identity::Identity;
use crate::query;

/// The environment variable that holds the endpoint's URL.
pub const IDENTITY_ENDPOINT_ENV: &str = "IDENTITY_ENDPOINT";
/// The environment variable that holds the secret header's value.
pub const IDENTITY_HEADER_ENV: &str = "IDENTITY_HEADER";
/// The header the secret is sent in.
pub const IDENTITY_HEADER_NAME: &str = "X-IDENTITY-HEADER";
/// The `api-version` sent: the one the platform documents for
/// `IDENTITY_ENDPOINT`.
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// Which token to ask App Service's identity endpoint for. Build it with
/// [`AzureAppService::from_env`] (or [`AzureAppService::new`] for a test's
/// fake), then hand it to [`crate::MetadataSource::azure_app_service`].
///
/// ```
/// use freshen_metadata::AzureAppService;
///
/// let app = AzureAppService::new(
///     "http://127.0.0.1:41741/MSI/token/",
///     "platform-secret",
///     "https://vault.azure.net",
/// )
/// .with_client_id("11111111-2222-3333-4444-555555555555");
/// assert_eq!(
///     app.url(),
///     "http://127.0.0.1:41741/MSI/token/?resource=https%3A%2F%2Fvault.azure.net\
///      &api-version=2019-08-01&client_id=11111111-2222-3333-4444-555555555555"
/// );
/// // The secret header never shows.
/// assert!(!format!("{app:?}").contains("platform-secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AzureAppService {
    endpoint: String,
    secret: Zeroizing<String>,
    resource: String,
    identity: Identity,
}

impl AzureAppService {
    /// A token for `resource` (the App ID URI of the target API) from the
    /// endpoint at `endpoint`, proving itself with `secret`, for the app's
    /// system-assigned identity.
    pub fn new(
        endpoint: impl Into<String>,
        secret: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        AzureAppService {
            endpoint: endpoint.into(),
            secret: Zeroizing::new(secret.into()),
            resource: resource.into(),
            identity: Identity::System,
        }
    }

    /// The endpoint and secret the platform gives the app
    /// (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`). A configuration error
    /// (permanent) names the variable that is missing or empty; the secret's
    /// value is never shown.
    ///
    /// ```
    /// use freshen_metadata::AzureAppService;
    ///
    /// // Outside App Service the variables are not set.
    /// # if std::env::var_os("IDENTITY_ENDPOINT").is_none() {
    /// let error = AzureAppService::from_env("https://vault.azure.net").unwrap_err();
    /// assert!(error.is_permanent());
    /// assert!(error.to_string().contains("IDENTITY_ENDPOINT"));
    /// # }
    /// ```
    pub fn from_env(resource: impl Into<String>) -> Result<Self, Error> {
        let endpoint = env_var(IDENTITY_ENDPOINT_ENV)?;
        let secret = env_var(IDENTITY_HEADER_ENV)?;
        Ok(Self::new(endpoint.as_str(), secret.as_str(), resource))
    }

    /// The user-assigned identity with this client (application) id.
    #[must_use]
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.identity = Identity::ClientId(id.into());
        self
    }

    /// The user-assigned identity with this principal (object) id.
    #[must_use]
    pub fn with_principal_id(mut self, id: impl Into<String>) -> Self {
        self.identity = Identity::ObjectId(id.into());
        self
    }

    /// The user-assigned identity with this Azure resource id
    /// (`/subscriptions/…/userAssignedIdentities/<name>`), sent as
    /// `mi_res_id`.
    #[must_use]
    pub fn with_resource_id(mut self, id: impl Into<String>) -> Self {
        self.identity = Identity::ResourceId(id.into());
        self
    }

    /// The URL this asks (it holds no secret: the secret goes in a header).
    pub fn url(&self) -> String {
        let separator = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let mut url = format!("{}{separator}resource=", self.endpoint);
        query::encode_into(&mut url, &self.resource);
        url.push_str("&api-version=");
        url.push_str(APP_SERVICE_API_VERSION);
        self.identity
            .push_query(&mut url, ["client_id", "principal_id", "mi_res_id"]);
        url
    }

    pub(crate) fn request(&self) -> HttpRequest {
        HttpRequest::new(Method::Get, self.url())
            .with_header(IDENTITY_HEADER_NAME, self.secret.as_str())
    }
}

/// A variable the platform sets, or a configuration error naming it.
fn env_var(name: &str) -> Result<Zeroizing<String>, Error> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Zeroizing::new(value)),
        _ => Err(Error::permanent(ErrorKind::Config(ConfigError::other(
            format!(
                "{name} is not set: not running in Azure App Service or Functions, or the app has no managed identity"
            ),
        )))),
    }
}

impl fmt::Debug for AzureAppService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureAppService")
            .field(
                "endpoint",
                &freshen_oauth::transport::display_url(&self.endpoint),
            )
            .field("resource", &self.resource)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_documented_one() {
        let request = AzureAppService::new("http://127.0.0.1:8081/msi/token", "s3cr3t", "r")
            .with_resource_id("/subscriptions/s/rg/userAssignedIdentities/n")
            .request();
        assert_eq!(request.method, Method::Get);
        assert_eq!(
            request.url,
            "http://127.0.0.1:8081/msi/token?resource=r&api-version=2019-08-01\
             &mi_res_id=%2Fsubscriptions%2Fs%2Frg%2FuserAssignedIdentities%2Fn"
        );
        assert_eq!(request.header("X-IDENTITY-HEADER"), Some("s3cr3t"));
        let principal = AzureAppService::new("http://localhost:1/t?x=1", "s", "r")
            .with_principal_id("p-1")
            .url();
        assert_eq!(
            principal,
            "http://localhost:1/t?x=1&resource=r&api-version=2019-08-01&principal_id=p-1"
        );
    }

    #[test]
    fn the_secret_never_shows() {
        let app = AzureAppService::new("http://127.0.0.1:1/msi/token", "s3cr3t", "r");
        let shown = format!("{app:?} {:?}", app.request());
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}

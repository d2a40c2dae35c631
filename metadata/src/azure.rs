//! Azure's Instance Metadata Service (IMDS): the token of the VM's managed
//! identity (system-assigned, or a user-assigned one named by id).
//!
//! As documented at
//! <https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>:
//!
//! - `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=<uri>`,
//!   with at most one of `client_id`, `object_id` or `msi_res_id` to pick a
//!   user-assigned identity;
//! - the request header `Metadata: true` is required (400 without it);
//! - the answer holds `access_token`, `expires_in`, `expires_on` and
//!   `not_before` as **strings** of seconds (numbers in some versions),
//!   `resource` and `token_type`;
//! - retry guidance ("Error handling" and "Retry guidance"): retry 404
//!   (the identity is still being assigned), 410 (IMDS is being updated,
//!   for up to 70 s), 429 (IMDS throttles at about 5 requests per second)
//!   and 5xx with exponential backoff; the cache's backoff does this,
//!   with `Retry-After` honoured;
//! - IMDS caches the token it hands out; it is treated as renewed 5
//!   minutes before expiry, as GCE documents for its own server.

use std::fmt;

use freshen_core::{Error, Retry};

use freshen_oauth::http::{HttpRequest, Method};

use crate::identity::Identity;
use crate::query;

/// IMDS's documented endpoint (scheme and host).
pub const AZURE_IMDS_ENDPOINT: &str = "http://169.254.169.254";

/// The `api-version` sent: the first that serves managed identity tokens,
/// and the one Microsoft's examples use.
pub const AZURE_IMDS_API_VERSION: &str = "2018-02-01";

/// How long before expiry IMDS is taken to renew its cached token.
pub const AZURE_RENEWAL_WINDOW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Which token to ask Azure IMDS for. Build it, then hand it to
/// [`crate::MetadataSource::azure`].
///
/// ```
/// use freshen_metadata::AzureImds;
///
/// let imds = AzureImds::new("https://management.azure.com/")
///     .with_client_id("11111111-2222-3333-4444-555555555555");
/// assert_eq!(
///     imds.url(),
///     "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01\
///      &resource=https%3A%2F%2Fmanagement.azure.com%2F\
///      &client_id=11111111-2222-3333-4444-555555555555"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AzureImds {
    endpoint: String,
    resource: String,
    identity: Identity,
}

impl AzureImds {
    /// A token for `resource` (the App ID URI of the target API, e.g.
    /// `https://management.azure.com/`), for the VM's system-assigned
    /// identity.
    pub fn new(resource: impl Into<String>) -> Self {
        AzureImds {
            endpoint: AZURE_IMDS_ENDPOINT.to_owned(),
            resource: resource.into(),
            identity: Identity::System,
        }
    }

    /// Asks another server (`http://host:port`, no path): a test's fake.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim_end_matches('/').to_owned();
        self
    }

    /// The user-assigned identity with this client (application) id.
    #[must_use]
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.identity = Identity::ClientId(id.into());
        self
    }

    /// The user-assigned identity with this object (principal) id.
    #[must_use]
    pub fn with_object_id(mut self, id: impl Into<String>) -> Self {
        self.identity = Identity::ObjectId(id.into());
        self
    }

    /// The user-assigned identity with this Azure resource id
    /// (`/subscriptions/…/userAssignedIdentities/<name>`), sent as
    /// `msi_res_id`.
    #[must_use]
    pub fn with_resource_id(mut self, id: impl Into<String>) -> Self {
        self.identity = Identity::ResourceId(id.into());
        self
    }

    /// The URL this asks.
    pub fn url(&self) -> String {
        let mut url = format!(
            "{}/metadata/identity/oauth2/token?api-version={AZURE_IMDS_API_VERSION}&resource=",
            self.endpoint
        );
        query::encode_into(&mut url, &self.resource);
        self.identity
            .push_query(&mut url, ["client_id", "object_id", "msi_res_id"]);
        url
    }

    pub(crate) fn request(&self) -> HttpRequest {
        HttpRequest::new(Method::Get, self.url()).with_header("Metadata", "true")
    }

    /// IMDS's retry guidance on top of the parser's classes: a 404 (the
    /// identity is not assigned yet) and a 410 (IMDS is being updated) go
    /// away on their own, so they are transient here.
    pub(crate) fn classify(status: u16, error: Error) -> Error {
        if matches!(status, 404 | 410) && error.retry() == Retry::Permanent {
            let transient = Error::new(error.kind().clone(), Retry::Transient);
            return match error.retry_after() {
                Some(after) => transient.with_retry_after(after),
                None => transient,
            };
        }
        error
    }
}

impl fmt::Debug for AzureImds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureImds")
            .field("endpoint", &self.endpoint)
            .field("resource", &self.resource)
            .field("identity", &self.identity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshen_core::ErrorKind;

    #[test]
    fn the_request_is_the_documented_one() {
        let request = AzureImds::new("https://vault.azure.net")
            .with_resource_id("/subscriptions/s/rg/userAssignedIdentities/n")
            .request();
        assert_eq!(request.method, Method::Get);
        assert_eq!(
            request.url,
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01\
             &resource=https%3A%2F%2Fvault.azure.net\
             &msi_res_id=%2Fsubscriptions%2Fs%2Frg%2FuserAssignedIdentities%2Fn"
        );
        assert_eq!(request.header("Metadata"), Some("true"));
        let object = AzureImds::new("r").with_object_id("o-1").url();
        assert!(object.ends_with("&resource=r&object_id=o-1"), "{object}");
        assert!(AzureImds::new("r").url().ends_with("&resource=r"));
    }

    #[test]
    fn not_found_and_gone_are_retried_other_refusals_are_not() {
        let status = |s| Error::permanent(ErrorKind::Status { status: s });
        for s in [404, 410] {
            assert_eq!(AzureImds::classify(s, status(s)).retry(), Retry::Transient);
        }
        assert_eq!(
            AzureImds::classify(400, status(400)).retry(),
            Retry::Permanent
        );
        let kept = AzureImds::classify(
            410,
            status(410).with_retry_after(std::time::Duration::from_secs(70)),
        );
        assert_eq!(kept.retry_after(), Some(std::time::Duration::from_secs(70)));
    }
}

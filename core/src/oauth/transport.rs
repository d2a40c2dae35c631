//! What a transport does: send one [`HttpRequest`], return the
//! [`HttpResponse`]. Transports live in adapter crates (ureq, reqwest, surf…).
//!
//! Every transport must: apply connect and total timeouts; cap the response
//! body (answering [`crate::ErrorKind::ResponseTooLarge`] past the cap
//! without reading on); refuse plain `http` except to loopback or when
//! explicitly allowed; not follow a redirect to another scheme or host; set a
//! `User-Agent`; and return error statuses as responses (the OAuth2 error is
//! in the body), failing only when no response came.

use core::future::Future;

use crate::error::Error;
use crate::oauth::http::{HttpRequest, HttpResponse};

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

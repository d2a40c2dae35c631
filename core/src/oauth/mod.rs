//! The OAuth2 wire as data: token requests built, responses parsed.

pub mod http;
pub mod transport;

pub use http::{HttpRequest, HttpResponse, Method};
pub use transport::{AsyncTransport, Transport};

//! The OAuth2 wire as data: token requests built, responses parsed.
//!
//! Nothing here does I/O or reads a clock: [`TokenRequest`] becomes an
//! [`HttpRequest`] that a [`Transport`] sends, and the [`HttpResponse`] it
//! brings back goes through [`parse_token_response`] (with the wall-clock
//! time, if the caller has one) to a [`ParsedToken`] or a [`ResponseError`].

pub mod client_auth;
pub mod config_error;
pub mod grant;
pub mod http;
pub mod request;
pub mod response;
pub mod response_error;
#[cfg(feature = "std")]
pub mod source;
pub mod transport;

mod date;
mod fields;
mod form;
mod hints;
mod json;
mod number;

pub use client_auth::{AuthMethod, ClientAuth};
pub use config_error::ConfigError;
pub use grant::{Grant, TokenExchange};
pub use http::{HttpRequest, HttpResponse, Method, append_wiping};
pub use request::TokenRequest;
pub use response::{ParseOptions, ParsedToken, parse_token_response};
pub use response_error::{ResponseError, classify};
#[cfg(feature = "std")]
pub use source::OAuthSource;
pub use transport::{AsyncTransport, Transport};

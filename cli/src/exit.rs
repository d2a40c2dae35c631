//! Exit codes, one per kind of failure an operator acts on differently.

use std::process::ExitCode;

use freshen_core::{Error, ErrorKind};

/// The token was printed (or the watch ended holding a usable token).
pub(crate) const OK: u8 = 0;
/// Output could not be written, or the program failed in itself.
pub(crate) const FAILURE: u8 = 1;
/// Bad flags or arguments (clap's own code).
pub(crate) const USAGE: u8 = 2;
/// The configuration cannot work: no secret, an unreadable secret file, an
/// empty client id, a refused URL. Fix the configuration.
pub(crate) const CONFIG: u8 = 3;
/// The token endpoint refused the credentials or the request
/// (`invalid_client`, `invalid_grant`, a bare 401 or 403, …). Fix the
/// credentials; retrying will not help.
pub(crate) const REFUSED: u8 = 4;
/// A passing failure: unreachable, timed out, 5xx, rate limited. Retry later.
pub(crate) const UNAVAILABLE: u8 = 5;
/// The endpoint answered something that is not a usable token response
/// (not a token response at all, or a token already expired on arrival).
pub(crate) const BAD_RESPONSE: u8 = 6;

/// The exit code for a failed token request. The library's classification
/// decides: a permanent refusal is 4 however the endpoint worded it.
pub(crate) fn for_error(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::Config(_) => CONFIG,
        ErrorKind::InvalidResponse(_)
        | ErrorKind::ResponseTooLarge { .. }
        | ErrorKind::ExpiredOnArrival => BAD_RESPONSE,
        ErrorKind::Refused(_) => REFUSED,
        ErrorKind::OAuth(_) | ErrorKind::Provider(_) if error.is_permanent() => REFUSED,
        _ if error.is_permanent() => BAD_RESPONSE,
        _ => UNAVAILABLE,
    }
}

pub(crate) fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}

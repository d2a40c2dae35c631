//! Exit codes, one per kind of failure an operator acts on differently.

use std::process::ExitCode;

use freshen_core::{Error, ErrorKind};

/// The token was printed (or the watch ended normally).
pub(crate) const OK: u8 = 0;
/// Bad flags or arguments (clap's own code).
pub(crate) const USAGE: u8 = 2;
/// The configuration cannot work: no secret, an unreadable secret file, a
/// refused URL. Fix the configuration.
pub(crate) const CONFIG: u8 = 3;
/// The token endpoint refused the request (`invalid_client`,
/// `invalid_grant`, …). Fix the credentials; retrying will not help.
pub(crate) const REFUSED: u8 = 4;
/// A passing failure: unreachable, timed out, 5xx, rate limited. Retry later.
pub(crate) const UNAVAILABLE: u8 = 5;
/// The endpoint answered something that is not a usable token response.
pub(crate) const BAD_RESPONSE: u8 = 6;

/// The exit code for a failed token request.
pub(crate) fn for_error(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::Config(_) => CONFIG,
        ErrorKind::InvalidResponse(_) | ErrorKind::ResponseTooLarge { .. } => BAD_RESPONSE,
        ErrorKind::OAuth(_) if error.is_permanent() => REFUSED,
        _ if error.is_permanent() => BAD_RESPONSE,
        _ => UNAVAILABLE,
    }
}

pub(crate) fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}

//! `freshen`: the operator CLI.
//!
//! ```text
//! freshen token     print an access token (client credentials, or
//!                   --metadata gce|azure|azure-app-service: a cloud
//!                   metadata server)
//! freshen watch     keep a cache and print its lifecycle as it happens
//! freshen simulate  run the fleet simulator
//! ```
//!
//! The client secret comes from `FRESHEN_CLIENT_SECRET` or
//! `--client-secret-file`, never from a flag, and is never echoed; so do
//! private keys (`--private-key FILE`) and tokens read at every attempt
//! (`--assertion-file`, `--subject-token-file`): files or the environment
//! only.
//!
//! Exit codes: 0 success; 1 output could not be written; 2 bad flags; 3
//! configuration cannot work (no secret, an empty client id, a refused URL);
//! 4 the token endpoint refused the credentials or the request (retrying
//! will not help); 5 a passing failure (unreachable, timeout, 5xx, rate
//! limited: retry later); 6 the endpoint's answer is not a usable token
//! response (including a token already expired on arrival). `watch` exits
//! with the state at its end: 0 if it holds a usable token then, else the
//! code of the last failure (see `freshen watch --help`).

mod assertion;
mod config;
mod exit;
mod metadata;
mod shared;
mod simulate;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use freshen_blocking::{BlockingCache, Mode};
use freshen_core::ErrorKind;

use crate::config::ClientArgs;

/// Keeps OAuth2 access tokens fresh: the operator's tool.
#[derive(Parser, Debug)]
#[command(name = "freshen", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "\
Exit codes: 0 success, 1 output could not be written, 2 bad flags, 3 configuration cannot work,
4 credentials or request refused, 5 passing failure (retry later), 6 unusable response.
`watch` exits with the state at its end: see `freshen watch --help`.";

const TOKEN_EXIT_CODES: &str = "\
Exit codes:
  0  the token was printed
  1  it could not be written
  2  bad flags or arguments
  3  the configuration cannot work: no secret, an empty client id or secret, a ':' in the id
     with --auth basic, a token URL with a fragment or a password, plain http to a remote host
  4  the token endpoint refused the credentials or the request (invalid_client, a bare 401
     or 403, ...): retrying will not help
  5  a passing failure (unreachable, timeout, 5xx, rate limited): retry later
  6  the answer is not a usable token: not a token response, or a token already expired on
     arrival (such as expires_in 0)";

#[derive(Subcommand, Debug)]
enum Command {
    /// Print an access token for a client-credentials configuration.
    #[command(after_help = TOKEN_EXIT_CODES)]
    Token(ClientArgs),
    /// Keep a cache and print lifecycle events as they happen.
    #[command(after_help = watch::EXIT_CODES)]
    Watch(watch::WatchArgs),
    /// Run the fleet simulator: a lazy cache, the seed's double cache and
    /// freshen, side by side in virtual time.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::code(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    exit::code(match cli.command {
        Command::Token(args) => token(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Simulate(args) => simulate::run_cli(&args),
    })
}

/// `freshen token`: one request, the token on stdout, errors on stderr.
///
/// The response goes through the same machine as every cache (inline, no
/// thread): a token the library would refuse, such as one with
/// `expires_in: 0`, is refused here too, never printed.
fn token(args: &ClientArgs) -> u8 {
    let source = match args.source() {
        Ok(source) => source,
        Err(e) => {
            eprintln!("freshen: {e}");
            return exit::for_error(&e);
        }
    };
    let cache = BlockingCache::builder(source).mode(Mode::Inline).build();
    match cache.token() {
        Ok(token) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{}", token.secret()).is_err() {
                return exit::FAILURE;
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("freshen: {e}");
            if matches!(e.kind(), ErrorKind::ExpiredOnArrival) {
                eprintln!(
                    "freshen: the token endpoint issued a token with no usable lifetime \
                     (expires_in 0, or shorter than the round trip); not printing it"
                );
            }
            exit::for_error(&e)
        }
    }
}

//! `freshen`: the operator CLI.
//!
//! ```text
//! freshen token     print an access token (client credentials)
//! freshen watch     keep a cache and print its lifecycle as it happens
//! freshen simulate  run the fleet simulator
//! ```
//!
//! The client secret comes from `FRESHEN_CLIENT_SECRET` or
//! `--client-secret-file`, never from a flag, and is never echoed.
//!
//! Exit codes: 0 success; 2 bad flags; 3 configuration cannot work (no
//! secret, refused URL); 4 the token endpoint refused the credentials or the
//! request (retrying will not help); 5 a passing failure (unreachable,
//! timeout, 5xx, rate limited: retry later); 6 the endpoint's answer is not a
//! usable token response.

mod config;
mod exit;
mod simulate;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use freshen_core::BlockingTokenSource;

use crate::config::ClientArgs;

/// Keeps OAuth2 access tokens fresh: the operator's tool.
#[derive(Parser, Debug)]
#[command(name = "freshen", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success, 2 bad flags, 3 configuration cannot work, \
4 credentials or request refused by the token endpoint, 5 passing failure (retry later), \
6 unusable response from the token endpoint.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Print an access token for a client-credentials configuration.
    Token(ClientArgs),
    /// Keep a cache and print lifecycle events as they happen.
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
fn token(args: &ClientArgs) -> u8 {
    let fetched = args.source().and_then(|source| source.fetch());
    match fetched {
        Ok(fetched) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{}", fetched.access_token.expose()).is_err() {
                return exit::FAILURE;
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("freshen: {e}");
            exit::for_error(&e)
        }
    }
}

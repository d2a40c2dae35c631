//! The client-credentials configuration, from flags and the environment.
//! The secret comes from the environment or a file, never from a flag (a
//! flag shows in `ps` and in shell history), and is never echoed.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use freshen_core::{BlockingTokenSource, Error, ErrorKind, Secret};
use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{ConfigError, OAuthSource};
use freshen_ureq::UreqTransport;
use zeroize::Zeroizing;

use crate::assertion::{AssertionArgs, Made};
use crate::metadata::MetadataServer;

/// How the client authenticates (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthMethod {
    /// HTTP Basic (client_secret_basic), the default.
    Basic,
    /// In the form body (client_secret_post).
    Post,
    /// A JWT signed with the secret for every attempt (client_secret_jwt,
    /// HS256): the secret itself never crosses the wire.
    ClientSecretJwt,
}

/// Where to get tokens from.
#[derive(Args, Debug)]
pub(crate) struct ClientArgs {
    /// The token endpoint URL.
    #[arg(long, env = "FRESHEN_TOKEN_URL", required_unless_present = "metadata")]
    pub token_url: Option<String>,
    /// The client id (with --metadata azure or azure-app-service: a
    /// user-assigned identity's).
    #[arg(long, env = "FRESHEN_CLIENT_ID", required_unless_present = "metadata")]
    pub client_id: Option<String>,
    /// Ask a cloud metadata server instead of a token endpoint: no client
    /// secret, the VM's or workload's own identity.
    #[arg(long, value_enum, conflicts_with_all = ["token_url", "client_secret_file"])]
    pub metadata: Option<MetadataServer>,
    /// With --metadata gce: a service account other than `default`.
    #[arg(long, requires = "metadata")]
    pub service_account: Option<String>,
    /// With --metadata: another server, an emulator or a test's fake
    /// (gce: host[:port]; azure: http://host:port; azure-app-service: the
    /// IDENTITY_ENDPOINT URL).
    #[arg(long, requires = "metadata")]
    pub metadata_endpoint: Option<String>,
    /// A file holding the client secret (trailing newline ignored). Without
    /// it, the secret is read from FRESHEN_CLIENT_SECRET.
    #[arg(long, env = "FRESHEN_CLIENT_SECRET_FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Client authentication method.
    #[arg(long, value_enum, default_value_t = AuthMethod::Basic)]
    pub auth: AuthMethod,
    /// A scope to request (repeatable).
    #[arg(long = "scope", env = "FRESHEN_SCOPE", value_delimiter = ' ')]
    pub scopes: Vec<String>,
    /// An audience to request (repeatable).
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// A resource indicator (RFC 8707, repeatable).
    #[arg(long = "resource")]
    pub resources: Vec<String>,
    /// An extra form parameter, NAME=VALUE (repeatable).
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Allow plain http to a host other than loopback (never do this in production).
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Total timeout of one token request, in seconds (at least 1).
    #[arg(long, default_value_t = 30, value_parser = seconds_at_least_one)]
    pub timeout: u64,
    /// Credentials made for every attempt (private keys, token files).
    #[command(flatten)]
    pub per_attempt: AssertionArgs,
}

/// A whole number of seconds, at least 1: zero would be silently useless
/// (no request can finish in no time), so it is refused with a clear
/// message instead of being bent into something else.
pub(crate) fn seconds_at_least_one(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err(String::from("must be at least 1 second")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a whole number of seconds, got {s:?}")),
    }
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))
}

pub(crate) fn config_error(why: impl Into<String>) -> Error {
    Error::permanent(ErrorKind::Config(ConfigError::other(why)))
}

impl ClientArgs {
    /// The client secret, from the file or the environment, in buffers that
    /// are wiped on drop (a trailing newline of the file is dropped in
    /// place). An empty secret is refused by the library, like any other.
    /// `None` when neither is set.
    fn secret(&self) -> Result<Option<Secret>, Error> {
        let mut secret = match &self.client_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    config_error(format!(
                        "cannot read the client secret file {}: {e}",
                        path.display()
                    ))
                })?;
                let mut text = Zeroizing::new(text);
                let kept = text.trim_end_matches(['\r', '\n']).len();
                text.truncate(kept);
                text
            }
            None => match std::env::var("FRESHEN_CLIENT_SECRET") {
                Ok(secret) => Zeroizing::new(secret),
                Err(_) => return Ok(None),
            },
        };
        // Moved, not copied, into the Secret (itself wiped on drop).
        Ok(Some(Secret::new(std::mem::take(&mut *secret))))
    }

    /// The transport's settings from the flags.
    fn transport_config(&self) -> TransportConfig {
        TransportConfig::new()
            .with_timeout(Duration::from_secs(self.timeout))
            .with_allow_insecure_http(self.allow_insecure_http)
    }

    /// The token source these arguments describe: a metadata server with
    /// `--metadata`, otherwise [`ClientArgs::source_and_shape`]'s.
    pub(crate) fn source(&self) -> Result<Box<dyn BlockingTokenSource>, Error> {
        if let Some(server) = self.metadata {
            return crate::metadata::source(server, self, self.transport_config());
        }
        let (source, _) = self.source_and_shape()?;
        Ok(Box::new(source))
    }

    /// The token endpoint's source over ureq (client credentials, or the
    /// JWT-bearer grant or a token exchange, with what is made per
    /// attempt), checked before any request is sent (the library's checks:
    /// the token URL, the client id and secret, scopes and parameters; then
    /// the transport's: plain http only to loopback), and the request's
    /// shape (a shared store's key).
    pub(crate) fn source_and_shape(
        &self,
    ) -> Result<(OAuthSource<UreqTransport, Made>, freshen_oauth::ShapeKey), Error> {
        let (Some(token_url), Some(client_id)) = (&self.token_url, &self.client_id) else {
            return Err(config_error("--token-url and --client-id are required"));
        };
        let (request, made) = self
            .per_attempt
            .plan(token_url, client_id, self.auth, || self.secret())?;
        let mut request = request.scopes(self.scopes.iter().filter(|s| !s.is_empty()).cloned());
        for a in &self.audiences {
            request = request.audience(a.clone());
        }
        for r in &self.resources {
            request = request.resource(r.clone());
        }
        for (n, v) in &self.params {
            request = request.param(n.clone(), v.clone());
        }
        request.validate()?;
        let transport = self.transport_config();
        freshen_oauth::transport::check_url(token_url, &transport)?;
        let shape = request.shape_key();
        Ok((
            OAuthSource::new(request, UreqTransport::with_config(transport)).with_per_attempt(made),
            shape,
        ))
    }
}

//! Credentials made for every attempt, from flags: a private key signing
//! `private_key_jwt` assertions or the JWT-bearer grant, the client secret
//! signing `client_secret_jwt`, and token files read at every attempt
//! (workload identity). Keys and tokens come from files only, never from a
//! flag's value (a flag shows in `ps` and in shell history).

use std::path::PathBuf;

use clap::Args;
use freshen_core::{Error, Secret};
use freshen_jwt::{ClientAssertion, JwtBearer, SigningKey, TokenFile};
use freshen_oauth::grant::TOKEN_TYPE_JWT;
use freshen_oauth::{
    AttemptCredentials, AttemptTarget, ClientAuth, PerAttempt, TokenExchange, TokenRequest,
};
use zeroize::Zeroizing;

use crate::config::{AuthMethod, config_error};

/// Credentials made for every attempt.
#[derive(Args, Debug)]
pub(crate) struct AssertionArgs {
    /// A file holding a private key (PEM: PKCS#8, PKCS#1 or SEC1; or a JWK):
    /// signs a private_key_jwt client assertion (RS256 or ES256) for every
    /// attempt, or the JWT-bearer grant's assertion with --jwt-bearer-issuer.
    #[arg(long, env = "FRESHEN_PRIVATE_KEY_FILE")]
    pub private_key: Option<PathBuf>,
    /// The key id (kid) to put in the assertion's header (default: the
    /// JWK's own kid, if any).
    #[arg(long)]
    pub key_id: Option<String>,
    /// A file holding a client assertion that another party keeps fresh
    /// (AZURE_FEDERATED_TOKEN_FILE): read at every attempt, sent as
    /// private_key_jwt.
    #[arg(long, env = "FRESHEN_ASSERTION_FILE", conflicts_with = "private_key")]
    pub assertion_file: Option<PathBuf>,
    /// Use the JWT-bearer grant (RFC 7523), signed with --private-key as
    /// this issuer (a service account).
    #[arg(long, requires = "private_key", conflicts_with = "subject_token_file")]
    pub jwt_bearer_issuer: Option<String>,
    /// The JWT-bearer assertion's subject, when it differs from the issuer.
    #[arg(long, requires = "jwt_bearer_issuer")]
    pub jwt_bearer_subject: Option<String>,
    /// Exchange (RFC 8693) the token in this file, read at every attempt
    /// (a Kubernetes projected service-account token).
    #[arg(long, env = "FRESHEN_SUBJECT_TOKEN_FILE")]
    pub subject_token_file: Option<PathBuf>,
    /// The subject token's type.
    #[arg(long, default_value = TOKEN_TYPE_JWT, requires = "subject_token_file")]
    pub subject_token_type: String,
}

/// What the CLI makes for each attempt: any of a signed client assertion, a
/// signed JWT-bearer assertion and a token file.
#[derive(Debug, Default)]
pub(crate) struct Made(Vec<Maker>);

#[derive(Debug)]
enum Maker {
    Sign(ClientAssertion),
    Bearer(JwtBearer),
    File(TokenFile),
}

impl PerAttempt for Made {
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        self.0
            .iter()
            .try_fold(AttemptCredentials::new(), |made, m| {
                let more = match m {
                    Maker::Sign(a) => a.make_blocking(target)?,
                    Maker::Bearer(b) => b.make_blocking(target)?,
                    Maker::File(f) => f.make_blocking(target)?,
                };
                Ok(made.merged(more))
            })
    }
}

impl AssertionArgs {
    fn key(&self) -> Result<Option<SigningKey>, Error> {
        let Some(path) = &self.private_key else {
            return Ok(None);
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            config_error(format!(
                "cannot read the private key file {}: {e}",
                path.display()
            ))
        })?);
        let key = if text.trim_start().starts_with('{') {
            SigningKey::from_jwk(&text)?
        } else {
            SigningKey::from_pem(&text)?
        };
        Ok(Some(match &self.key_id {
            Some(kid) => key.with_kid(kid.clone()),
            None => key,
        }))
    }

    /// The request's grant and client, and what is made per attempt.
    /// `secret` gives the client secret if one is configured; it is asked
    /// for only when the client's method may use it.
    pub(crate) fn plan(
        &self,
        token_url: &str,
        client_id: &str,
        auth: AuthMethod,
        secret: impl FnOnce() -> Result<Option<Secret>, Error>,
    ) -> Result<(TokenRequest, Made), Error> {
        let required = |s: Option<Secret>| {
            s.ok_or_else(|| {
                config_error(
                    "no client secret: set FRESHEN_CLIENT_SECRET or pass --client-secret-file \
                     (or authenticate with --private-key or --assertion-file)",
                )
            })
        };
        let mut made = Made::default();
        let client = match (self.key()?, &self.assertion_file) {
            (_, Some(path)) => {
                made.0.push(Maker::File(TokenFile::client_assertion(path)));
                ClientAuth::private_key_jwt(client_id)
            }
            (Some(key), None) => match &self.jwt_bearer_issuer {
                Some(issuer) => {
                    let mut bearer = JwtBearer::new(key, issuer.clone());
                    if let Some(sub) = &self.jwt_bearer_subject {
                        bearer = bearer.with_subject(sub.clone());
                    }
                    made.0.push(Maker::Bearer(bearer));
                    // The grant is the credential; a client secret, if one
                    // is configured, authenticates the client as well.
                    optional_client(auth, client_id, secret()?)
                }
                None => {
                    made.0.push(Maker::Sign(ClientAssertion::new(key)));
                    ClientAuth::private_key_jwt(client_id)
                }
            },
            (None, None) => match auth {
                AuthMethod::ClientSecretJwt => {
                    let key = SigningKey::hs256(required(secret()?)?.expose())?;
                    made.0.push(Maker::Sign(ClientAssertion::new(key)));
                    ClientAuth::client_secret_jwt(client_id)
                }
                _ if self.subject_token_file.is_some() => {
                    optional_client(auth, client_id, secret()?)
                }
                _ => plain_client(auth, client_id, required(secret()?)?),
            },
        };
        let request = if self.jwt_bearer_issuer.is_some() {
            TokenRequest::jwt_bearer(token_url).with_client(client)
        } else if let Some(path) = &self.subject_token_file {
            made.0.push(Maker::File(TokenFile::subject_token(path)));
            let exchange = TokenExchange::subject_per_attempt(self.subject_token_type.clone());
            TokenRequest::token_exchange(token_url, exchange).with_client(client)
        } else {
            TokenRequest::client_credentials(token_url, client)
        };
        Ok((request, made))
    }
}

/// The client of a grant that is its own credential: authenticated with the
/// secret when one is configured, else public (`client_id` only).
fn optional_client(auth: AuthMethod, client_id: &str, secret: Option<Secret>) -> ClientAuth {
    match secret {
        Some(secret) => plain_client(auth, client_id, secret),
        None => ClientAuth::public(client_id),
    }
}

fn plain_client(auth: AuthMethod, client_id: &str, secret: Secret) -> ClientAuth {
    match auth {
        AuthMethod::Post => ClientAuth::post(client_id, secret),
        _ => ClientAuth::basic(client_id, secret),
    }
}

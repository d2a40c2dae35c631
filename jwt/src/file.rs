//! A token read from a file at every attempt: a Kubernetes projected
//! service-account token, which the kubelet rewrites well before it
//! expires (the files `AZURE_FEDERATED_TOKEN_FILE` and
//! `AWS_WEB_IDENTITY_TOKEN_FILE` point at). Reading it once and keeping it
//! is the bug that fails every pod after a day; scheduling refreshes on the
//! file's modification time is the other. Here the file is read again for
//! each attempt and for nothing else: when to refresh is decided by the
//! access token's lifetime alone, and a cached read never touches the file.

use std::path::{Path, PathBuf};

use freshen_core::Error;
use freshen_oauth::{AttemptCredentials, AttemptTarget, PerAttempt};
use zeroize::Zeroizing;

use crate::key::config;

/// What the file's content is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    ClientAssertion,
    SubjectToken,
    GrantAssertion,
}

/// A token file read at every attempt, off the async worker: on tokio's
/// blocking pool (`spawn_blocking`, feature `tokio`) when a tokio runtime
/// runs the attempt, else on the `blocking` crate's pool (smol's blocking
/// facility, feature `blocking`); a blocking source reads it on its own
/// thread. Without either feature an async attempt reads it inline.
/// `Debug` shows the path, never the content.
///
/// ```
/// use freshen_jwt::TokenFile;
/// use freshen_oauth::grant::{TokenExchange, TOKEN_TYPE_JWT};
/// use freshen_oauth::{AttemptTarget, PerAttempt, TokenRequest};
///
/// # let dir = std::env::temp_dir().join(format!("freshen-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("token");
/// std::fs::write(&path, "eyJ.first.sig\n").unwrap();
/// let request = TokenRequest::token_exchange(
///     "https://sts.example.com/token",
///     TokenExchange::subject_per_attempt(TOKEN_TYPE_JWT),
/// );
/// let file = TokenFile::subject_token(&path);
/// let target = AttemptTarget { client_id: None, token_url: request.token_url().into() };
/// assert_eq!(file.make_blocking(&target)?.subject_token().unwrap().expose(), "eyJ.first.sig");
/// std::fs::write(&path, "eyJ.rotated.sig\n").unwrap();
/// assert_eq!(file.make_blocking(&target)?.subject_token().unwrap().expose(), "eyJ.rotated.sig");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), freshen_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TokenFile {
    path: PathBuf,
    role: Role,
}

impl TokenFile {
    /// The file holds a client assertion (`client_assertion`, with
    /// [`freshen_oauth::ClientAuth::private_key_jwt`]): Azure workload
    /// identity, `AZURE_FEDERATED_TOKEN_FILE`.
    pub fn client_assertion(path: impl Into<PathBuf>) -> Self {
        TokenFile {
            path: path.into(),
            role: Role::ClientAssertion,
        }
    }

    /// The file holds a token exchange's subject token (RFC 8693, with
    /// [`freshen_oauth::TokenExchange::subject_per_attempt`]): GCP workload
    /// identity federation, `AWS_WEB_IDENTITY_TOKEN_FILE`-style setups.
    pub fn subject_token(path: impl Into<PathBuf>) -> Self {
        TokenFile {
            path: path.into(),
            role: Role::SubjectToken,
        }
    }

    /// The file holds the JWT-bearer grant's assertion (RFC 7523 §2.1, with
    /// [`freshen_oauth::TokenRequest::jwt_bearer`]).
    pub fn grant_assertion(path: impl Into<PathBuf>) -> Self {
        TokenFile {
            path: path.into(),
            role: Role::GrantAssertion,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn credentials(&self, mut token: Zeroizing<String>) -> AttemptCredentials {
        // Moved, not copied, into the Secret (itself wiped on drop).
        let token = freshen_core::Secret::new(std::mem::take(&mut *token));
        let made = AttemptCredentials::new();
        match self.role {
            Role::ClientAssertion => made.with_client_assertion(token),
            Role::SubjectToken => made.with_subject_token(token),
            Role::GrantAssertion => made.with_grant_assertion(token),
        }
    }
}

/// Reads the token: the whole file, surrounding whitespace dropped (the
/// kubelet writes none; an editor adds a newline). An empty file is an
/// error, never an empty credential.
fn read_token(path: &Path) -> Result<Zeroizing<String>, Error> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        config(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?);
    let token = text.trim();
    if token.is_empty() {
        return Err(config(format!(
            "the token file {} is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(String::from(token)))
}

impl PerAttempt for TokenFile {
    fn make_blocking(&self, _: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(self.credentials(read_token(&self.path)?))
    }

    async fn make(&self, _: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        let token = off_worker(self.path.clone()).await?;
        Ok(self.credentials(token))
    }
}

/// Runs the read on the runtime's blocking facility (see [`TokenFile`]).
async fn off_worker(path: PathBuf) -> Result<Zeroizing<String>, Error> {
    #[cfg(feature = "tokio")]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        return runtime
            .spawn_blocking(move || read_token(&path))
            .await
            .map_err(|e| {
                Error::transient(freshen_core::ErrorKind::Transport(format!(
                    "the token file read did not finish: {e}"
                )))
            })?;
    }
    #[cfg(feature = "blocking")]
    {
        blocking::unblock(move || read_token(&path)).await
    }
    #[cfg(not(feature = "blocking"))]
    {
        read_token(&path)
    }
}

//! A scripted server for the request-path rules tests, without a network.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};

use super::lock;

/// A status to answer with, and a `WWW-Authenticate` challenge if any.
pub type Answer = (StatusCode, Option<&'static str>);

/// Answers with scripted statuses in order (then 200), recording the
/// `Authorization` header each request carried. It knows no framework:
/// each integration's tests wrap it in their own service or middleware.
#[derive(Clone, Default)]
pub struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Script {
    /// A script answering `answers` in order, then 200 with no challenge.
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Script {
            answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            seen: Arc::default(),
        }
    }

    /// Records the request's `Authorization` header (empty if it has none)
    /// and gives the next answer.
    pub fn answer(&self, headers: &HeaderMap) -> Answer {
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        lock(&self.seen).push(token);
        lock(&self.answers)
            .pop_front()
            .unwrap_or((StatusCode::OK, None))
    }

    /// The `Authorization` headers seen so far, in order.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.seen).clone()
    }
}

/// Counts only: the headers seen hold tokens.
impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("answers_left", &lock(&self.answers).len())
            .field("seen", &lock(&self.seen).len())
            .finish()
    }
}

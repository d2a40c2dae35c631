//! Arbitrary status, headers, body and clock into the token-response parser:
//! it must never panic, and what it returns must keep its promises.
#![no_main]

use std::time::Duration;

use freshen_oauth::{HttpResponse, ParseOptions, parse_token_response};
use freshen_core::{Error, Fetched};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now_epoch_secs: Option<u64>,
    max_body_bytes: u16,
    max_lifetime_secs: u32,
    accept_na: bool,
}

fuzz_target!(|input: Input| {
    let options = ParseOptions::new()
        .with_max_body_bytes(usize::from(input.max_body_bytes))
        .with_max_lifetime(Duration::from_secs(u64::from(input.max_lifetime_secs)))
        .accepting_na_token_type(input.accept_na);
    let resp = HttpResponse {
        status: input.status,
        headers: input.headers,
        body: input.body.into(),
    };
    match parse_token_response(&resp, input.now_epoch_secs, &options) {
        Ok(token) => {
            assert!((200..300).contains(&resp.status));
            assert!(resp.body.len() <= options.max_body_bytes());
            assert!(!token.access_token.is_empty());
            assert!(token.lifetime.is_none_or(|l| l <= options.max_lifetime()));
            assert!(token.refresh_in.is_none_or(|l| l <= options.max_lifetime()));
            assert!(token.refresh_token.as_ref().is_none_or(|r| !r.is_empty()));
            let _ = format!("{token:?}");
            let _: Fetched = token.into();
        }
        Err(e) => {
            let _ = format!("{e} {e:?}");
            let _ = (e.is_retryable(), e.is_rate_limited(), e.error_code());
            let error: Error = e.into();
            let _ = format!("{error} {error:?}");
        }
    }
});

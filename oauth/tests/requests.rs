//! Token requests as built for the wire: grants, client authentication,
//! parameters, headers, and secrets kept out of `Debug`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use freshen_core::ErrorKind;
use freshen_oauth::grant::{TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT};
use freshen_oauth::{
    AuthMethod, ClientAuth, ConfigError, Grant, HttpRequest, HttpResponse, Method, ParseOptions,
    TokenExchange, TokenRequest, parse_token_response,
};

const URL: &str = "https://idp.example/oauth2/token";

/// The body's pairs, decoded (a test-side decoder, independent of the crate's).
fn pairs(req: &HttpRequest) -> Vec<(String, String)> {
    let body = std::str::from_utf8(&req.body).unwrap();
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => {
                assert!(
                    c.is_ascii_alphanumeric() || b"*-._".contains(&c),
                    "unencoded {c}"
                );
                out.push(c);
            }
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | A.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn basic_credentials(req: &HttpRequest) -> String {
    let header = req
        .header("authorization")
        .expect("an Authorization header");
    let b64 = header.strip_prefix("Basic ").expect("Basic");
    String::from_utf8(base64_decode(b64)).unwrap()
}

#[test]
fn client_credentials_with_basic_auth_by_default() {
    let req = TokenRequest::client_credentials(URL, ClientAuth::new("my-client", "s3cret"))
        .scopes(["read", "write"])
        .to_http_request()
        .unwrap();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, URL);
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(basic_credentials(&req), "my-client:s3cret");
    assert_eq!(
        std::str::from_utf8(&req.body).unwrap(),
        "grant_type=client_credentials&scope=read+write"
    );
}

#[test]
fn basic_auth_form_encodes_id_and_secret_before_base64() {
    let secret = "p:a+s s%wörd/=&";
    // (A ':' in the id is refused under Basic: see
    // `client_id_with_colon_under_basic_is_a_config_error`.)
    let client = ClientAuth::basic("id with+é", secret);
    assert_eq!(client.method(), AuthMethod::ClientSecretBasic);
    let req = TokenRequest::client_credentials(URL, client)
        .to_http_request()
        .unwrap();
    let creds = basic_credentials(&req);
    assert_eq!(creds, "id+with%2B%C3%A9:p%3Aa%2Bs+s%25w%C3%B6rd%2F%3D%26");
    // Exactly one unencoded ':' separates them, and each half decodes back.
    let (id, sec) = creds.split_once(':').unwrap();
    assert!(!sec.contains(':'));
    assert_eq!(
        (decode(id).as_str(), decode(sec).as_str()),
        ("id with+é", secret)
    );
    // Nothing about the client goes in the body.
    let p = pairs(&req);
    assert!(get(&p, "client_id").is_empty() && get(&p, "client_secret").is_empty());
}

#[test]
fn post_auth_puts_both_in_the_body() {
    let req = TokenRequest::client_credentials(URL, ClientAuth::post("cid", "a b+c"))
        .to_http_request()
        .unwrap();
    assert_eq!(req.header("authorization"), None);
    let p = pairs(&req);
    assert_eq!(get(&p, "client_id"), ["cid"]);
    assert_eq!(get(&p, "client_secret"), ["a b+c"]);
    assert_eq!(get(&p, "grant_type"), ["client_credentials"]);
}

#[test]
fn public_client_sends_only_its_id() {
    let req = TokenRequest::refresh(URL, ClientAuth::public("app"), "rt-1")
        .to_http_request()
        .unwrap();
    assert_eq!(req.header("authorization"), None);
    let p = pairs(&req);
    assert_eq!(get(&p, "client_id"), ["app"]);
    assert!(get(&p, "client_secret").is_empty());
    assert_eq!(get(&p, "grant_type"), ["refresh_token"]);
    assert_eq!(get(&p, "refresh_token"), ["rt-1"]);
}

#[test]
fn audience_resource_and_extra_parameters() {
    let req = TokenRequest::client_credentials(URL, ClientAuth::new("c", "s"))
        .scope("api://x/.default")
        .audience("https://api.example")
        .resource("https://a.example/")
        .resource("https://b.example/")
        .param("tenant", "t&1")
        .to_http_request()
        .unwrap();
    let p = pairs(&req);
    assert_eq!(get(&p, "scope"), ["api://x/.default"]);
    assert_eq!(get(&p, "audience"), ["https://api.example"]);
    assert_eq!(
        get(&p, "resource"),
        ["https://a.example/", "https://b.example/"]
    );
    assert_eq!(get(&p, "tenant"), ["t&1"]);
    assert_eq!(
        p[0],
        ("grant_type".to_owned(), "client_credentials".to_owned())
    );
}

#[test]
fn token_exchange_parameters() {
    let exchange = TokenExchange::new("subject-jwt", TOKEN_TYPE_JWT)
        .with_actor("actor-tok", TOKEN_TYPE_ACCESS_TOKEN)
        .with_requested_token_type(TOKEN_TYPE_ACCESS_TOKEN);
    let request = TokenRequest::token_exchange(URL, exchange)
        .audience("svc-a")
        .audience("svc-b")
        .resource("https://r.example/")
        .scope("read");
    assert!(request.parse_options().accepts_na_token_type());
    let req = request.to_http_request().unwrap();
    let p = pairs(&req);
    assert_eq!(
        get(&p, "grant_type"),
        ["urn:ietf:params:oauth:grant-type:token-exchange"]
    );
    assert_eq!(get(&p, "subject_token"), ["subject-jwt"]);
    assert_eq!(
        get(&p, "subject_token_type"),
        ["urn:ietf:params:oauth:token-type:jwt"]
    );
    assert_eq!(get(&p, "actor_token"), ["actor-tok"]);
    assert_eq!(get(&p, "actor_token_type"), [TOKEN_TYPE_ACCESS_TOKEN]);
    assert_eq!(get(&p, "requested_token_type"), [TOKEN_TYPE_ACCESS_TOKEN]);
    assert_eq!(get(&p, "audience"), ["svc-a", "svc-b"]);
    assert_eq!(get(&p, "resource"), ["https://r.example/"]);
    assert_eq!(get(&p, "scope"), ["read"]);
    // Unauthenticated unless a client is added.
    assert_eq!(req.header("authorization"), None);
    assert!(get(&p, "client_id").is_empty());

    let minimal = TokenRequest::token_exchange(URL, TokenExchange::new("s", TOKEN_TYPE_JWT))
        .with_client(ClientAuth::new("c", "s"))
        .to_http_request()
        .unwrap();
    let p = pairs(&minimal);
    assert!(get(&p, "actor_token").is_empty() && get(&p, "requested_token_type").is_empty());
    assert!(minimal.header("authorization").is_some());
    assert!(
        !TokenRequest::client_credentials(URL, ClientAuth::new("c", "s"))
            .parse_options()
            .accepts_na_token_type()
    );
}

#[test]
fn refresh_grant_keeps_a_rotated_refresh_token() {
    let mut request = TokenRequest::refresh(URL, ClientAuth::new("c", "s"), "rt-old");
    let respond = |body: &str| {
        let resp = HttpResponse::new(200, body.as_bytes());
        parse_token_response(&resp, None, &ParseOptions::default()).unwrap()
    };
    // No new refresh token, or an empty one: keep the old one.
    assert!(!request.rotate_refresh_token(&respond(r#"{"access_token":"a1"}"#)));
    assert!(!request.rotate_refresh_token(&respond(r#"{"access_token":"a1","refresh_token":""}"#)));
    assert_eq!(
        get(&pairs(&request.to_http_request().unwrap()), "refresh_token"),
        ["rt-old"]
    );
    // A new one replaces it.
    let rotated = respond(r#"{"access_token":"a2","refresh_token":"rt-new","expires_in":60}"#);
    assert!(request.rotate_refresh_token(&rotated));
    assert!(!request.rotate_refresh_token(&rotated));
    assert_eq!(
        get(&pairs(&request.to_http_request().unwrap()), "refresh_token"),
        ["rt-new"]
    );
    assert!(matches!(request.grant(), Grant::RefreshToken { .. }));
    // Other grants ignore it.
    let mut cc = TokenRequest::client_credentials(URL, ClientAuth::new("c", "s"));
    assert!(!cc.rotate_refresh_token(&rotated));
}

#[test]
fn misconfiguration_is_a_permanent_config_error() {
    let client = || ClientAuth::new("c", "s");
    let bad = [
        TokenRequest::client_credentials("", client()),
        TokenRequest::client_credentials(URL, client()).scope("read write"),
        TokenRequest::client_credentials(URL, client()).scope(""),
        TokenRequest::client_credentials(URL, client()).param("grant_type", "password"),
        TokenRequest::client_credentials(URL, client()).param("client_secret", "x"),
        TokenRequest::client_credentials(URL, client()).param("", "x"),
    ];
    for request in bad {
        let e = request.to_http_request().unwrap_err();
        assert!(e.is_permanent(), "{request:?}");
        assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("\"s\""));
    }
}

#[test]
fn secrets_never_show_in_debug() {
    let client = ClientAuth::post("visible-id", "CLIENT-SECRET-1");
    let basic = ClientAuth::basic("visible-id", "CLIENT-SECRET-2");
    let exchange = TokenExchange::new("SUBJECT-SECRET", TOKEN_TYPE_JWT)
        .with_actor("ACTOR-SECRET", TOKEN_TYPE_JWT);
    let requests = [
        TokenRequest::refresh(URL, client.clone(), "REFRESH-SECRET")
            .param("device_secret", "EXTRA-SECRET"),
        TokenRequest::client_credentials(URL, basic.clone()),
        TokenRequest::token_exchange(URL, exchange.clone()).with_client(client.clone()),
    ];
    let mut shown = format!("{client:?} {basic:?} {exchange:?}");
    for r in &requests {
        shown += &format!(
            "{r:?} {:?} {:?} {:?}",
            r.grant(),
            r.to_http_request().unwrap(),
            r.client()
        );
    }
    for secret in [
        "CLIENT-SECRET",
        "SUBJECT-SECRET",
        "ACTOR-SECRET",
        "REFRESH-SECRET",
        "EXTRA-SECRET",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("visible-id"));
}

/// The configuration error a request is refused with, before anything is sent.
fn config_error(request: &TokenRequest) -> ConfigError {
    let e = request
        .to_http_request()
        .expect_err("refused before anything is sent");
    assert!(e.is_permanent(), "{e:?}");
    match e.kind() {
        ErrorKind::Config(c) => c.clone(),
        other => panic!("not a config error: {other:?}"),
    }
}

#[test]
fn empty_client_id_is_a_config_error() {
    for client in [
        ClientAuth::basic("", "s3cret"),
        ClientAuth::post("", "s3cret"),
        ClientAuth::public(""),
        ClientAuth::basic("  ", "s3cret"),
    ] {
        let request = TokenRequest::client_credentials(URL, client);
        assert_eq!(config_error(&request), ConfigError::EmptyClientId);
    }
    // Whatever the grant.
    let refresh = TokenRequest::refresh(URL, ClientAuth::public(""), "rt");
    assert_eq!(config_error(&refresh), ConfigError::EmptyClientId);
}

#[test]
fn client_id_with_colon_under_basic_is_a_config_error() {
    let request = TokenRequest::client_credentials(URL, ClientAuth::basic("tenant:app", "s3cret"));
    let e = config_error(&request);
    assert_eq!(e, ConfigError::ClientIdHasColon);
    assert!(e.to_string().contains("client_secret_post"), "{e}");
    // In the body the id is form-encoded and unambiguous: allowed.
    let post = TokenRequest::client_credentials(URL, ClientAuth::post("tenant:app", "s3cret"));
    let p = pairs(&post.to_http_request().unwrap());
    assert_eq!(get(&p, "client_id"), ["tenant:app"]);
}

#[test]
fn empty_client_secret_is_a_config_error() {
    for (client, method) in [
        (ClientAuth::basic("app", ""), AuthMethod::ClientSecretBasic),
        (ClientAuth::post("app", ""), AuthMethod::ClientSecretPost),
    ] {
        let request = TokenRequest::client_credentials(URL, client);
        assert_eq!(
            config_error(&request),
            ConfigError::EmptyClientSecret { method }
        );
    }
    // A public client sends no secret at all: nothing to refuse.
    let public = TokenRequest::refresh(URL, ClientAuth::public("app"), "rt");
    assert!(public.to_http_request().is_ok());
}

#[test]
fn token_url_with_fragment_is_rejected() {
    for url in [
        "https://idp.example/oauth2/token#frag",
        "https://idp.example/oauth2/token?x=1#",
        "https://idp.example#/token",
    ] {
        let request = TokenRequest::client_credentials(url, ClientAuth::new("c", "s3cret"));
        let e = config_error(&request);
        assert!(
            matches!(e, ConfigError::TokenUrlHasFragment { .. }),
            "{url}: {e:?}"
        );
        assert!(e.to_string().contains("RFC 6749 §3.2"), "{e}");
    }
    // A query is allowed (RFC 6749 §3.2).
    let query = TokenRequest::client_credentials(
        "https://idp.example/token?tenant=a",
        ClientAuth::new("c", "s3cret"),
    );
    assert!(query.to_http_request().is_ok());
}

#[test]
fn token_url_with_userinfo_is_rejected_without_showing_the_password() {
    let url = "https://admin:hunter2-PASSWORD@idp.example/token";
    let request = TokenRequest::client_credentials(url, ClientAuth::new("c", "s3cret"));
    let e = config_error(&request);
    assert!(
        matches!(e, ConfigError::TokenUrlHasUserinfo { .. }),
        "{e:?}"
    );
    let shown = format!("{e} {e:?} {request:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("admin"), "{shown}");
    assert!(shown.contains("idp.example"), "{shown}");
}

#[test]
fn bad_token_url_says_what_is_wrong() {
    let cases = [
        ("", "empty"),
        ("idp.example/token", "not an absolute URL"),
        ("ftp://idp.example/token", "scheme other than http or https"),
        ("https:///token", "no host"),
        ("https://idp.example:99999/token", "above 65535"),
        ("https://idp.example:44x/token", "not a number"),
        ("https://idp example/token", "whitespace"),
        ("https://idp.example\\@evil/token", "backslash"),
        ("https://[::1/token", "no closing bracket"),
        ("https://[nope]/token", "not a valid address"),
        ("https://idé.example/token", "non-ASCII"),
    ];
    for (url, why) in cases {
        let request = TokenRequest::client_credentials(url, ClientAuth::new("c", "s3cret"));
        let msg = config_error(&request).to_string();
        assert!(msg.contains(why), "{url:?}: {msg}");
        assert!(!msg.contains("unparseable"), "{msg}");
    }
    // A password in a URL that cannot be read is never shown either, even
    // when it holds what looks like a path.
    for url in [
        "https://user:pass/word@idp.example:99999/token?code=x",
        "https://user:secretword@idp example/token",
    ] {
        let request = TokenRequest::client_credentials(url, ClientAuth::new("c", "s3cret"));
        let msg = config_error(&request).to_string();
        assert!(
            !msg.contains("secretword") && !msg.contains("word@") && !msg.contains("code=x"),
            "{msg}"
        );
        assert!(msg.contains("idp"), "{msg}");
    }
}

/// Compiles only for a type that wipes itself on drop.
fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}

#[test]
fn request_and_response_buffers_zeroize_on_drop() {
    let request = TokenRequest::refresh(URL, ClientAuth::basic("app", "CLIENT-SECRET"), "RT")
        .to_http_request()
        .unwrap();
    // The body holds the refresh token, the Authorization value the secret.
    wiped_on_drop(&request.body);
    let (_, authorization) = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .unwrap();
    wiped_on_drop(authorization);
    for (_, value) in &request.headers {
        wiped_on_drop(value);
    }
    // What a transport hands back, with the tokens in its body.
    let response = HttpResponse::new(200, &br#"{"access_token":"AT"}"#[..]);
    wiped_on_drop(&response.body);
    // Clones are wiped too (a transport clones a request to follow a 307).
    wiped_on_drop(&request.clone().body);
    // A 303 turns the POST into a GET: its body is wiped, not just emptied.
    let next = freshen_oauth::transport::next_redirect(&request, 303, Some("/v2"), 0)
        .unwrap()
        .unwrap();
    assert!(next.body.is_empty() && next.method == Method::Get);
}

/// A transport that answers with a fixed response.
#[cfg(feature = "std")]
struct Canned(HttpResponse);

#[cfg(feature = "std")]
impl freshen_oauth::Transport for Canned {
    fn send(&self, _request: &HttpRequest) -> Result<HttpResponse, freshen_core::Error> {
        Ok(self.0.clone())
    }
}

#[cfg(feature = "std")]
#[test]
fn secrets_echoed_by_the_server_never_reach_the_error() {
    use freshen_core::BlockingTokenSource;
    use freshen_oauth::OAuthSource;
    let echo = HttpResponse::new(
        400,
        &br#"{"error":"invalid_grant","error_description":"refresh token RT-ECHOED-1 for client secret CS-ECHOED-2 is revoked","errorCode":"E-CS-ECHOED-2"}"#[..],
    );
    let request = TokenRequest::refresh(URL, ClientAuth::post("app", "CS-ECHOED-2"), "RT-ECHOED-1");
    let source = OAuthSource::new(request, Canned(echo));
    let e = source.fetch().unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains("RT-ECHOED-1") && !shown.contains("CS-ECHOED-2"),
        "{shown}"
    );
    assert!(
        shown.contains("<redacted>") && shown.contains("invalid_grant"),
        "{shown}"
    );
}

//! Assertions as a server reads them: the header, the claims RFC 7523 §3
//! asks for, a new `jti` each time, and a signature that verifies with the
//! public half of the key (checked here with the RustCrypto crates'
//! verifiers; the real-server tests check them with node's `jose`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use freshen_core::{ConfigError, ErrorKind};
use freshen_jwt::{Algorithm, ClientAssertion, JwtBearer, SigningKey};
use freshen_oauth::{AttemptTarget, PerAttempt};
use serde_json::Value;

const URL: &str = "https://idp.example.test/oauth2/token";
const HS: &str = "an hs256 secret of at least 32 bytes";

fn key_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/oauth-server/test-only-keys")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn target() -> AttemptTarget {
    AttemptTarget {
        client_id: Some("svc".into()),
        token_url: URL.into(),
    }
}

struct Jwt {
    header: Value,
    claims: Value,
    input: String,
    signature: Vec<u8>,
}

fn split(jwt: &str) -> Jwt {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let json =
        |s: &str| serde_json::from_slice(&Base64UrlUnpadded::decode_vec(s).unwrap()).unwrap();
    Jwt {
        header: json(parts[0]),
        claims: json(parts[1]),
        input: format!("{}.{}", parts[0], parts[1]),
        signature: Base64UrlUnpadded::decode_vec(parts[2]).unwrap(),
    }
}

fn client_assertion(key: SigningKey) -> Jwt {
    let made = ClientAssertion::new(key).make_blocking(&target()).unwrap();
    split(made.client_assertion().unwrap().expose())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn check_claims(jwt: &Jwt, lifetime: u64) {
    let c = &jwt.claims;
    assert_eq!(c["iss"], "svc");
    assert_eq!(c["sub"], "svc");
    assert_eq!(c["aud"], URL);
    assert_eq!(c["jti"].as_str().unwrap().len(), 22);
    let iat = c["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(now()) <= 5, "iat {iat}");
    assert_eq!(c["exp"].as_u64().unwrap() - iat, lifetime);
    assert_eq!(jwt.header["typ"], "JWT");
}

#[test]
fn rs256_from_pkcs8_and_pkcs1_pem_and_jwk_verifies() {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::Verifier;
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(&key_text("rsa.pem")).unwrap();
    let public = VerifyingKey::<sha2::Sha256>::new(private.to_public_key());
    for key in [
        SigningKey::from_pem(&key_text("rsa.pem")).unwrap(),
        SigningKey::from_pem(&key_text("rsa-pkcs1.pem")).unwrap(),
        SigningKey::from_jwk(&key_text("rsa.jwk.json")).unwrap(),
    ] {
        assert_eq!(key.algorithm(), Algorithm::Rs256);
        let jwt = client_assertion(key);
        assert_eq!(jwt.header["alg"], "RS256");
        check_claims(&jwt, 300);
        let signature = Signature::try_from(jwt.signature.as_slice()).unwrap();
        public.verify(jwt.input.as_bytes(), &signature).unwrap();
        // A changed claim no longer verifies.
        let forged = jwt.input.replacen('e', "f", 1);
        assert!(public.verify(forged.as_bytes(), &signature).is_err());
    }
}

#[test]
fn es256_from_pkcs8_and_sec1_pem_and_jwk_verifies() {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    use p256::pkcs8::DecodePrivateKey;
    let private = p256::ecdsa::SigningKey::from_pkcs8_pem(&key_text("ec.pem")).unwrap();
    let public = VerifyingKey::from(&private);
    for key in [
        SigningKey::from_pem(&key_text("ec.pem")).unwrap(),
        SigningKey::from_pem(&key_text("ec-sec1.pem")).unwrap(),
        SigningKey::from_jwk(&key_text("ec.jwk.json")).unwrap(),
    ] {
        assert_eq!(key.algorithm(), Algorithm::Es256);
        let jwt = client_assertion(key);
        assert_eq!(jwt.header["alg"], "ES256");
        check_claims(&jwt, 300);
        assert_eq!(jwt.signature.len(), 64, "JWS wants r||s, not DER");
        let signature = Signature::from_slice(&jwt.signature).unwrap();
        public.verify(jwt.input.as_bytes(), &signature).unwrap();
    }
}

#[test]
fn hs256_verifies_with_the_secret_and_kid_is_in_the_header() {
    use hmac::{Hmac, Mac};
    let key = SigningKey::hs256(HS).unwrap().with_kid("k-1");
    let made = ClientAssertion::new(key)
        .with_lifetime(Duration::from_secs(60))
        .make_blocking(&target())
        .unwrap();
    let jwt = split(made.client_assertion().unwrap().expose());
    assert_eq!(jwt.header["alg"], "HS256");
    assert_eq!(jwt.header["kid"], "k-1");
    check_claims(&jwt, 60);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(HS.as_bytes()).unwrap();
    mac.update(jwt.input.as_bytes());
    mac.verify_slice(&jwt.signature).unwrap();
}

#[test]
fn every_attempt_gets_a_new_jti() {
    let assertion = ClientAssertion::new(SigningKey::from_jwk(&key_text("ec.jwk.json")).unwrap());
    let jtis: std::collections::BTreeSet<String> = (0..50)
        .map(|_| {
            let made = assertion.make_blocking(&target()).unwrap();
            split(made.client_assertion().unwrap().expose()).claims["jti"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(jtis.len(), 50);
}

#[test]
fn the_jwk_kid_is_kept_and_with_kid_replaces_it() {
    let key = SigningKey::from_jwk(&key_text("ec.jwk.json")).unwrap();
    assert_eq!(key.kid(), Some("test-ec"));
    assert_eq!(client_assertion(key).header["kid"], "test-ec");
    let key = SigningKey::from_jwk(&key_text("ec.jwk.json"))
        .unwrap()
        .with_kid("other");
    assert_eq!(client_assertion(key).header["kid"], "other");
    let pem = SigningKey::from_pem(&key_text("ec.pem")).unwrap();
    assert!(client_assertion(pem).header.get("kid").is_none());
}

#[test]
fn jwt_bearer_claims() {
    let bearer = JwtBearer::new(SigningKey::hs256(HS).unwrap(), "robot@example.test")
        .with_subject("user@example.test")
        .with_claim("scope", "a b")
        .with_claim("iss", "forged");
    let made = bearer.make_blocking(&target()).unwrap();
    assert!(made.client_assertion().is_none());
    let jwt = split(made.grant_assertion().unwrap().expose());
    assert_eq!(jwt.claims["iss"], "robot@example.test");
    assert_eq!(jwt.claims["sub"], "user@example.test");
    assert_eq!(jwt.claims["aud"], URL);
    assert_eq!(jwt.claims["scope"], "a b");
    let other = JwtBearer::new(SigningKey::hs256(HS).unwrap(), "robot")
        .with_audience("https://oauth2.example.test/");
    let made = other.make_blocking(&target()).unwrap();
    let jwt = split(made.grant_assertion().unwrap().expose());
    assert_eq!(jwt.claims["aud"], "https://oauth2.example.test/");
    assert!(jwt.claims.get("sub").is_none());
}

fn config_message(e: freshen_core::Error) -> String {
    assert!(e.is_permanent());
    match e.kind() {
        ErrorKind::Config(ConfigError::Other(why)) => why.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_keys_are_clear_config_errors_that_quote_no_key() {
    let ec = key_text("ec.pem");
    let d = serde_json::from_str::<Value>(&key_text("ec.jwk.json")).unwrap()["d"]
        .as_str()
        .unwrap()
        .to_string();
    let broken_pem = ec.replace(
        "-----BEGIN PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAB",
    );
    let public_only = key_text("ec.jwk.json").replace(&format!("\"d\": \"{d}\","), "");
    let wrong_alg = key_text("ec.jwk.json").replace("\"kid\"", "\"alg\": \"RS256\", \"kid\"");
    let cases: Vec<(Result<SigningKey, freshen_core::Error>, &str)> = vec![
        (SigningKey::from_pem("not a key"), "not PEM"),
        (SigningKey::from_pem(&broken_pem), "not a valid"),
        (SigningKey::from_jwk("{"), "not a JSON key"),
        (SigningKey::from_jwk(&public_only), "public key cannot sign"),
        (SigningKey::from_jwk(&wrong_alg), "does not match"),
        (SigningKey::from_jwk(r#"{"kty":"OKP"}"#), "not supported"),
        (SigningKey::hs256("short"), "at least 32"),
    ];
    for (result, says) in cases {
        let why = config_message(result.unwrap_err());
        assert!(why.contains(says), "{why:?} should say {says:?}");
        assert!(!why.contains(&d) && !why.contains("MIG"), "{why}");
    }
    let no_client = AttemptTarget {
        client_id: None,
        token_url: URL.into(),
    };
    let e = ClientAssertion::new(SigningKey::hs256(HS).unwrap())
        .make_blocking(&no_client)
        .unwrap_err();
    assert!(config_message(e).contains("needs a client"));
}

#[test]
fn debug_shows_no_key_material() {
    let jwk = key_text("ec.jwk.json");
    let d = serde_json::from_str::<Value>(&jwk).unwrap()["d"]
        .as_str()
        .unwrap()
        .to_string();
    let key = SigningKey::from_jwk(&jwk).unwrap();
    let assertion = ClientAssertion::new(SigningKey::hs256(HS).unwrap());
    let bearer = JwtBearer::new(SigningKey::from_pem(&key_text("rsa.pem")).unwrap(), "robot");
    let shown = format!("{key:?} {key:#?} {assertion:?} {bearer:#?}");
    assert!(
        shown.contains("Es256") && shown.contains("test-ec"),
        "{shown}"
    );
    let rsa_body: String = key_text("rsa.pem").lines().skip(1).take(3).collect();
    for secret in [d.as_str(), HS, &rsa_body[..30]] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

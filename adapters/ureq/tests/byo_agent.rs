//! A caller's own ureq Agent: it is the one used (its middleware marks the
//! request), and freshen's rules still hold over its settings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{HttpRequest, Method, Transport};
use freshen_testkit::{Fault, FaultServer};
use freshen_ureq::UreqTransport;
use ureq::middleware::MiddlewareNext;
use ureq::{Agent, SendBody, http};

fn token_request(url: &str) -> HttpRequest {
    HttpRequest::new(Method::Post, url)
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_body("grant_type=client_credentials")
}

#[test]
fn the_agent_passed_in_is_the_one_used() {
    // The agent's own middleware marks every request it sends.
    let agent: Agent = Agent::config_builder()
        .middleware(
            |mut request: http::Request<SendBody<'_>>, next: MiddlewareNext<'_>| {
                request
                    .headers_mut()
                    .insert("x-agent", http::HeaderValue::from_static("mine"));
                next.handle(request)
            },
        )
        .build()
        .into();
    let server = FaultServer::start(vec![Fault::token("t", 3600)]);
    let transport = UreqTransport::from_agent(agent, TransportConfig::default());
    let response = transport.send(&token_request(&server.token_url())).unwrap();
    assert_eq!(response.status, 200);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.header("x-agent"), Some("mine"));
    // freshen's User-Agent, over the agent's default.
    assert!(seen.header("user-agent").unwrap().starts_with("freshen/"));
}

#[test]
fn freshens_rules_override_the_agents_settings() {
    // An agent that errors on 4xx and follows any redirect.
    let agent = || -> Agent {
        Agent::config_builder()
            .http_status_as_error(true)
            .max_redirects(10)
            .build()
            .into()
    };
    let server = FaultServer::start(vec![Fault::oauth_error("invalid_grant")]);
    let transport = UreqTransport::from_agent(agent(), TransportConfig::default());
    let response = transport.send(&token_request(&server.token_url())).unwrap();
    assert_eq!(
        response.status, 400,
        "the OAuth2 error comes back as a response"
    );
    assert!(String::from_utf8_lossy(&response.body).contains("invalid_grant"));

    // A redirect to another origin is refused, not followed by the agent.
    let elsewhere = FaultServer::start(vec![Fault::token("stolen", 3600)]);
    let server = FaultServer::start(vec![Fault::redirect(307, elsewhere.token_url())]);
    let transport = UreqTransport::from_agent(agent(), TransportConfig::default());
    assert!(transport.send(&token_request(&server.token_url())).is_err());
    assert_eq!(elsewhere.request_count(), 0);
}

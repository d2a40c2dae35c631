//! Many tokens per process, end to end: a keyed cache of real caches over a
//! token endpoint, keyed by ShapeKey. Each scope set gets its own token
//! (the peer bug of a cache keyed without its scopes, Duende
//! AccessTokenManagement #1396, cannot happen), and the registry makes 50
//! independently built clients for one (endpoint, client, scopes) fetch once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use freshen_cache::{KeyedCache, registry};
use freshen_oauth::{ClientAuth, OAuthSource, ShapeKey, TokenRequest};
use freshen_reqwest::ReqwestTransport;
use freshen_testkit::{Fault, FaultServer, RecordedRequest};
use freshen_tokio::{TokioCache, TokioRuntime};

type Client = TokioCache<OAuthSource<ReqwestTransport>>;

/// A token endpoint whose tokens name the scope set they were asked for.
fn server() -> FaultServer {
    FaultServer::with_fn(|request: &RecordedRequest| {
        let scope = request.form_value("scope").unwrap_or_default();
        let mut scopes: Vec<&str> = scope.split(' ').collect();
        scopes.sort_unstable();
        Fault::token(format!("tok-{}", scopes.join("+")), 3600)
    })
}

fn request(server: &FaultServer, scopes: &[&str]) -> TokenRequest {
    TokenRequest::client_credentials(server.token_url(), ClientAuth::basic("app", "secret"))
        .scopes(scopes.iter().copied())
}

fn build(request: TokenRequest) -> Client {
    TokioCache::new(
        OAuthSource::new(request, ReqwestTransport::new()),
        TokioRuntime::current(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_set_gets_its_own_token_and_one_fetch() {
    let server = server();
    let keyed: KeyedCache<ShapeKey, Client> = KeyedCache::new();
    let token_for = |scopes: &[&str]| {
        let request = request(&server, scopes);
        keyed.get_or_insert_with(&request.shape_key(), || build(request))
    };
    for _ in 0..3 {
        let read = token_for(&["read"]);
        let write = token_for(&["write"]);
        let both = token_for(&["write", "read"]);
        assert_eq!(read.token().await.unwrap().secret(), "tok-read");
        assert_eq!(write.token().await.unwrap().secret(), "tok-write");
        assert_eq!(both.token().await.unwrap().secret(), "tok-read+write");
    }
    // The same set in another order is the same key: three fetches in all.
    let reordered = token_for(&["read", "write"]);
    assert_eq!(reordered.token().await.unwrap().secret(), "tok-read+write");
    assert_eq!(server.request_count(), 3);
    assert_eq!(keyed.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_built_independently_fetch_once_through_the_registry() {
    let server = server();
    let url = server.token_url();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                // Each client builds its own request, scopes in either order.
                let scopes = if i % 2 == 0 { ["a", "b"] } else { ["b", "a"] };
                let request =
                    TokenRequest::client_credentials(url, ClientAuth::basic("app", "secret"))
                        .scopes(scopes);
                let client = registry::<ShapeKey, Client>()
                    .get_or_insert_with(&request.shape_key(), || build(request));
                client.token().await.unwrap().secret().to_owned()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "tok-a+b");
    }
    assert_eq!(server.request_count(), 1);
}

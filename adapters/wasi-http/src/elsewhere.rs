//! Every target but `wasm32-wasip2`: there is no `wasi:http` to call, so
//! each request fails at once, with a permanent error that says why.

use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::display_url;
use freshen_oauth::{HttpRequest, HttpResponse};

pub(crate) fn send(request: &HttpRequest) -> Result<HttpResponse, Error> {
    Err(Error::permanent(ErrorKind::Config(
        format!(
            "freshen-wasi-http sends requests only in a wasm32-wasip2 component \
             (wasi:http); this build targets {}-{}, so the request to {} was not sent",
            std::env::consts::ARCH,
            std::env::consts::OS,
            display_url(&request.url)
        )
        .into(),
    )))
}

#[cfg(test)]
mod tests {
    use crate::WasiHttpTransport;
    use freshen_core::ErrorKind;
    use freshen_oauth::{HttpRequest, Method, Transport};

    #[test]
    fn off_wasip2_every_request_is_a_clear_config_error() {
        let request = HttpRequest::new(Method::Post, "https://u:pw@idp.example/token?s=q-secret")
            .with_body("client_secret=s3cret");
        let error = WasiHttpTransport::new().send(&request).err();
        let error = error.as_ref();
        assert!(error.is_some_and(|e| e.is_permanent()));
        assert!(error.is_some_and(|e| matches!(e.kind(), ErrorKind::Config(_))));
        let shown = error.map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(shown.contains("wasm32-wasip2"), "{shown}");
        assert!(shown.contains("https://idp.example:443/token"), "{shown}");
        for secret in ["u:pw", "q-secret", "s3cret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

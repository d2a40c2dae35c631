//! The transport on `wasm32-wasip2`: one `wasi:http` outgoing request per
//! hop, the total timeout kept with a monotonic-clock pollable.

use std::fmt;

use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::{
    TransportConfig, check_request, display_url, is_transport_header, next_redirect, request_target,
};
use freshen_oauth::{HttpRequest, HttpResponse, Method, append_wiping};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    self as http, ErrorCode, Fields, IncomingBody, IncomingResponse, OutgoingBody, OutgoingRequest,
    RequestOptions,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::StreamError;
use zeroize::Zeroizing;

/// The most bytes asked of the host in one read of the response body.
const READ_PIECE: u64 = 16 * 1024;
/// The most bytes `blocking-write-and-flush` takes in one call (wasi:io).
const WRITE_PIECE: usize = 4096;

/// The point in monotonic time by which the whole request must be done.
struct Deadline {
    at: u64,
}

impl Deadline {
    fn after(config: &TransportConfig) -> Self {
        let nanos = u64::try_from(config.timeout().as_nanos()).unwrap_or(u64::MAX);
        Deadline {
            at: monotonic_clock::now().saturating_add(nanos),
        }
    }

    /// Nanoseconds left, or `None` once the deadline has passed.
    fn remaining(&self) -> Option<u64> {
        let left = self.at.saturating_sub(monotonic_clock::now());
        (left > 0).then_some(left)
    }

    /// Blocks until `ready` is ready or the deadline passes, whichever is
    /// first; the caller looks again at what it waited for.
    fn wait(&self, ready: &Pollable, config: &TransportConfig) -> Result<(), Error> {
        let left = self.remaining().ok_or_else(|| config.timed_out())?;
        let timer = monotonic_clock::subscribe_duration(left);
        poll(&[ready, &timer]);
        Ok(())
    }
}

pub(crate) fn send(config: &TransportConfig, request: &HttpRequest) -> Result<HttpResponse, Error> {
    let deadline = Deadline::after(config);
    let mut current = request.clone();
    let mut hops = 0;
    loop {
        check_request(&current, config)?;
        let response = send_one(config, &current, &deadline)?;
        let status = response.status();
        let headers = headers_of(&response.headers());
        let location = header(&headers, "location");
        if let Some(next) = next_redirect(&current, status, location, hops)? {
            // The redirect's own body is dropped unread.
            current = next;
            hops += 1;
            continue;
        }
        let declared = header(&headers, "content-length");
        if config.declared_too_large(declared) {
            return Err(config.too_large());
        }
        let declared = declared.and_then(|v| v.trim().parse::<usize>().ok());
        let body = read_body(config, &response, declared, &deadline, &current.url)?;
        return Ok(HttpResponse {
            status,
            headers,
            body,
        });
    }
}

/// Hands one request to the host and waits for the response head.
fn send_one(
    config: &TransportConfig,
    request: &HttpRequest,
    deadline: &Deadline,
) -> Result<IncomingResponse, Error> {
    let target = request_target(&request.url).ok_or_else(|| config_error(request, "its URL"))?;
    let fields = Fields::new();
    let mut agent = false;
    for (name, value) in &request.headers {
        if is_transport_header(name) {
            continue;
        }
        agent |= name.eq_ignore_ascii_case("user-agent");
        fields
            .append(name, value.as_bytes())
            // The name only: the value may be a credential.
            .map_err(|e| config_error(request, &format!("header {name:?} ({e:?})")))?;
    }
    if !agent {
        fields
            .append("user-agent", config.user_agent().as_bytes())
            .map_err(|_| config_error(request, "the User-Agent"))?;
    }
    let has_body = request.method == Method::Post || !request.body.is_empty();
    if has_body {
        fields
            .append("content-length", request.body.len().to_string().as_bytes())
            .map_err(|_| config_error(request, "Content-Length"))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    let method = match request.method {
        Method::Post => http::Method::Post,
        Method::Get => http::Method::Get,
    };
    let scheme = if target.https {
        http::Scheme::Https
    } else {
        http::Scheme::Http
    };
    outgoing
        .set_method(&method)
        .and_then(|()| outgoing.set_scheme(Some(&scheme)))
        .and_then(|()| outgoing.set_authority(Some(target.authority)))
        .and_then(|()| outgoing.set_path_with_query(Some(&target.path_with_query)))
        .map_err(|()| config_error(request, "its URL"))?;
    let body = outgoing
        .body()
        .map_err(|()| transport_error(request, "the host gave no request body"))?;

    let left = deadline.remaining().ok_or_else(|| config.timed_out())?;
    let options = RequestOptions::new();
    let connect = u64::try_from(config.connect_timeout().as_nanos()).unwrap_or(u64::MAX);
    // A host that does not support an option says so; the total timeout
    // below holds either way.
    let _ = options.set_connect_timeout(Some(connect.min(left)));
    let _ = options.set_first_byte_timeout(Some(left));
    let _ = options.set_between_bytes_timeout(Some(left));
    let future = outgoing_handler::handle(outgoing, Some(options))
        .map_err(|code| map_error(config, code, &request.url))?;

    if let Err(failed) = write_body(&body, request) {
        // The body stream breaks when the connection does (refused, reset),
        // and the stream's own error rarely says why: the response future
        // holds the host's reason, so it is asked first.
        drop(body);
        return Err(host_reason(config, &future, request, deadline).unwrap_or(failed));
    }
    OutgoingBody::finish(body, None).map_err(|code| map_error(config, code, &request.url))?;

    let ready = future.subscribe();
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(map_error(config, code, &request.url)),
            Some(Err(())) => {
                return Err(transport_error(request, "the host gave the response twice"));
            }
            None => deadline.wait(&ready, config)?,
        }
    }
}

/// The host's error for a request whose body could not be written, waited
/// for until the deadline; `None` when the host names none.
fn host_reason(
    config: &TransportConfig,
    future: &http::FutureIncomingResponse,
    request: &HttpRequest,
    deadline: &Deadline,
) -> Option<Error> {
    let ready = future.subscribe();
    loop {
        match future.get() {
            Some(Ok(Err(code))) => return Some(map_error(config, code, &request.url)),
            Some(_) => return None,
            None => deadline.wait(&ready, config).ok()?,
        }
    }
}

/// Writes the request body (a form of a few hundred bytes) in the pieces
/// wasi:io allows per call.
fn write_body(body: &OutgoingBody, request: &HttpRequest) -> Result<(), Error> {
    if request.body.is_empty() {
        return Ok(());
    }
    let stream = body
        .write()
        .map_err(|()| transport_error(request, "the host gave no request body stream"))?;
    for piece in request.body.chunks(WRITE_PIECE) {
        stream
            .blocking_write_and_flush(piece)
            .map_err(|e| stream_error(e, request))?;
    }
    Ok(())
}

/// Reads the body up to the cap, and one byte past it to tell "exactly the
/// cap" from "too large", into a buffer wiped on drop.
fn read_body(
    config: &TransportConfig,
    response: &IncomingResponse,
    declared: Option<usize>,
    deadline: &Deadline,
    url: &str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let limit = config.max_body();
    let incoming = response.consume().map_err(|()| {
        Error::transient(ErrorKind::Transport(format!(
            "{}: no response body",
            display_url(url)
        )))
    })?;
    let stream = incoming.stream().map_err(|()| {
        Error::transient(ErrorKind::Transport(format!(
            "{}: no response body stream",
            display_url(url)
        )))
    })?;
    let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0).min(limit)));
    let ready = stream.subscribe();
    loop {
        let want = u64::try_from(limit.saturating_add(1).saturating_sub(body.len()))
            .unwrap_or(u64::MAX)
            .clamp(1, READ_PIECE);
        match stream.read(want) {
            Ok(piece) if piece.is_empty() => deadline.wait(&ready, config)?,
            Ok(piece) => {
                let piece = Zeroizing::new(piece);
                append_wiping(&mut body, &piece);
                if body.len() > limit {
                    return Err(config.too_large());
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let error = Error::transient(ErrorKind::Transport(format!(
                    "{}: the response body broke off",
                    display_url(url)
                )));
                return Err(match http::http_error_code(&e) {
                    Some(code) => with_code(error, code),
                    None => error,
                });
            }
        }
        if deadline.remaining().is_none() {
            return Err(config.timed_out());
        }
    }
    // Resources go back in the order the host wants: the stream and its
    // pollable before the body they belong to.
    drop(ready);
    drop(stream);
    drop(IncomingBody::finish(incoming));
    Ok(body)
}

fn headers_of(fields: &Fields) -> Vec<(String, String)> {
    fields
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the host's `error-code` means for freshen: timeouts are timeouts,
/// a request the host will not make is a permanent configuration error,
/// anything else a transient transport error.
fn map_error(config: &TransportConfig, code: ErrorCode, url: &str) -> Error {
    match code {
        ErrorCode::ConnectionTimeout => Error::transient(ErrorKind::Timeout {
            after: config.connect_timeout(),
        }),
        ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => config.timed_out(),
        ErrorCode::HttpResponseBodySize(_) => config.too_large(),
        ErrorCode::HttpRequestDenied
        | ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::ConfigurationError => Error::permanent(ErrorKind::Config(
            format!(
                "the host refuses the request to {}: {code}",
                display_url(url)
            )
            .into(),
        )),
        other => with_code(
            Error::transient(ErrorKind::Transport(format!(
                "{}: {}",
                display_url(url),
                HostError(&other)
            ))),
            other,
        ),
    }
}

/// Keeps the host's `error-code` as the cause, unless it carries the host's
/// own text (an internal error's message may quote anything, the URL's
/// query included): then only its name.
fn with_code(error: Error, code: ErrorCode) -> Error {
    match code {
        ErrorCode::InternalError(Some(_)) => error.with_source(HostErrorCode("internal-error")),
        code => error.with_source(code),
    }
}

/// A host `error-code` shown without any text the host attached.
struct HostError<'a>(&'a ErrorCode);

impl fmt::Display for HostError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ErrorCode::InternalError(Some(_)) => f.write_str("the host's internal error"),
            code => write!(f, "{code}"),
        }
    }
}

/// The name of a host error whose text is withheld.
#[derive(Debug)]
struct HostErrorCode(&'static str);

impl fmt::Display for HostErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasi:http error-code {}", self.0)
    }
}

impl std::error::Error for HostErrorCode {}

fn stream_error(error: StreamError, request: &HttpRequest) -> Error {
    let base = transport_error(request, "sending the request body failed");
    match error {
        StreamError::LastOperationFailed(e) => match http::http_error_code(&e) {
            Some(code) => with_code(base, code),
            None => base,
        },
        StreamError::Closed => base,
    }
}

fn transport_error(request: &HttpRequest, what: &str) -> Error {
    Error::transient(ErrorKind::Transport(format!(
        "{}: {what}",
        display_url(&request.url)
    )))
}

fn config_error(request: &HttpRequest, what: &str) -> Error {
    Error::permanent(ErrorKind::Config(
        format!(
            "the host refuses {what} of the request to {}",
            display_url(&request.url)
        )
        .into(),
    ))
}

//! The fault-injecting token endpoint: a tiny HTTP/1.1 server on std
//! threads, bound to `127.0.0.1:0`, that answers each request as its
//! [`Script`] says and records every request it got.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::fault::Fault;
use crate::request::RecordedRequest;

/// How often blocked server threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// How long a keep-alive connection may sit idle before the server closes it.
const IDLE: Duration = Duration::from_secs(30);
/// How long one write may block (a client that stopped reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// The size of the pieces a large body is written in.
const CHUNK: usize = 64 * 1024;

/// How the server answers each request.
pub struct Script(ScriptKind);

enum ScriptKind {
    Queue(Mutex<VecDeque<Fault>>),
    Fn(Box<dyn Fn(&RecordedRequest) -> Fault + Send + Sync>),
}

impl Script {
    /// Answers the requests in order with `faults`, one each. Once the queue
    /// is empty every further request gets a 500 whose body says the script
    /// ran out (and is recorded like any other).
    pub fn queue(faults: impl IntoIterator<Item = Fault>) -> Self {
        Script(ScriptKind::Queue(Mutex::new(faults.into_iter().collect())))
    }

    /// Answers every request with `fault`.
    pub fn always(fault: Fault) -> Self {
        Self::from_fn(move |_| fault.clone())
    }

    /// Answers each request with what `f` returns for it.
    pub fn from_fn(f: impl Fn(&RecordedRequest) -> Fault + Send + Sync + 'static) -> Self {
        Script(ScriptKind::Fn(Box::new(f)))
    }

    fn next(&self, request: &RecordedRequest) -> Fault {
        match &self.0 {
            ScriptKind::Queue(queue) => lock(queue).pop_front().unwrap_or_else(|| Fault::Raw {
                status: 500,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: b"freshen-testkit: script exhausted".to_vec(),
            }),
            ScriptKind::Fn(f) => f(request),
        }
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ScriptKind::Queue(queue) => {
                f.debug_tuple("Script::Queue").field(&*lock(queue)).finish()
            }
            ScriptKind::Fn(_) => f.write_str("Script::Fn"),
        }
    }
}

impl From<Fault> for Script {
    fn from(fault: Fault) -> Self {
        Script::always(fault)
    }
}

impl From<Vec<Fault>> for Script {
    fn from(faults: Vec<Fault>) -> Self {
        Script::queue(faults)
    }
}

struct Shared {
    script: Script,
    requests: Mutex<Vec<RecordedRequest>>,
    stop: AtomicBool,
    last_token: Mutex<Option<(String, i64)>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A scripted HTTP/1.1 token endpoint on `127.0.0.1`, for tests.
///
/// Every request is recorded ([`requests`](Self::requests)) before it is
/// answered. Connections are kept alive as HTTP/1.1 clients expect, each on
/// its own thread. Dropping the server stops the accept loop and every
/// connection thread (within a few tens of milliseconds, or a second for a
/// connection stuck writing to a client that stopped reading) and waits for
/// them.
///
/// ```
/// use freshen_testkit::{Fault, FaultServer};
///
/// let server = FaultServer::start(vec![Fault::status(503), Fault::token("tok-1", 3600)]);
/// let url = server.token_url(); // http://127.0.0.1:<port>/token
/// assert!(url.starts_with("http://127.0.0.1:"));
/// assert_eq!(server.request_count(), 0);
/// ```
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultServer")
            .field("addr", &self.addr)
            .field("requests", &self.request_count())
            .finish()
    }
}

impl FaultServer {
    /// Starts a server on `127.0.0.1` (a free port) that answers as
    /// `script` says: a [`Script`], one [`Fault`] for every request, or a
    /// `Vec<Fault>` answered in order.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound or the accept thread cannot be
    /// started: a test cannot go on without its server.
    #[allow(clippy::panic)]
    pub fn start(script: impl Into<Script>) -> Self {
        match Self::try_start(script.into()) {
            Ok(server) => server,
            Err(e) => panic!("freshen-testkit: cannot start the fault server: {e}"),
        }
    }

    /// Starts a server whose reply to each request is `f(request)`.
    pub fn with_fn(f: impl Fn(&RecordedRequest) -> Fault + Send + Sync + 'static) -> Self {
        Self::start(Script::from_fn(f))
    }

    /// Like [`start`](Self::start), returning the I/O error instead of
    /// panicking.
    pub fn try_start(script: Script) -> io::Result<Self> {
        Self::try_start_on(0, script)
    }

    /// Like [`try_start`](Self::try_start), on `port` of `127.0.0.1` (0: a
    /// free one): a server that comes up where connections were refused
    /// until now ([`closed_port`]), as a metadata server does at pod start.
    pub fn try_start_on(port: u16, script: Script) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            last_token: Mutex::new(None),
            connections: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("fault-server-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &accept_shared))?;
        Ok(FaultServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address the server listens on (always `127.0.0.1`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` with no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` on this server (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URL of `/token` on this server.
    pub fn token_url(&self) -> String {
        self.url("/token")
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// The last request received, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Waits until at least `n` requests were received, or `timeout`
    /// passes. Returns whether `n` were reached.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.request_count() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for connection in connections {
            let _ = connection.join();
        }
    }
}

/// The port of a loopback socket that was bound and closed again: a
/// connection to it is refused (barring the rare reuse of the port by
/// another test in the meantime).
pub fn closed_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        // Port 1 (tcpmux) is closed on any sane test machine.
        .unwrap_or(1)
}

/// A token URL on `127.0.0.1` where nothing listens: connecting is refused.
pub fn refused_url() -> String {
    format!("http://127.0.0.1:{}/token", closed_port())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, _)) => {
                let conn_shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name("fault-server-conn".into())
                    .spawn(move || serve_connection(stream, &conn_shared));
                if let Ok(handle) = spawned {
                    let mut connections = lock(&shared.connections);
                    connections.retain(|h| !h.is_finished());
                    connections.push(handle);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// A connection with its unparsed input.
struct Conn<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    shared: &'a Shared,
}

enum Head {
    Request(RecordedRequest, bool),
    Closed,
}

impl Conn<'_> {
    /// Reads more input. `Ok(false)` when the peer closed, the server is
    /// stopping, or the connection sat idle too long.
    fn fill(&mut self, idle_since: Instant) -> io::Result<bool> {
        let mut chunk = [0_u8; 8192];
        loop {
            if self.shared.stopping() || idle_since.elapsed() > IDLE {
                return Ok(false);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let rest = self.buf.split_off(n.min(self.buf.len()));
        std::mem::replace(&mut self.buf, rest)
    }

    /// Reads up to and including the next CRLF.
    fn line(&mut self, since: Instant) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let mut line = self.take(i + 2);
                line.truncate(i);
                return Ok(Some(line));
            }
            if self.buf.len() > MAX_HEAD || !self.fill(since)? {
                return Ok(None);
            }
        }
    }

    fn exact(&mut self, n: usize, since: Instant) -> io::Result<Option<Vec<u8>>> {
        while self.buf.len() < n {
            if !self.fill(since)? {
                return Ok(None);
            }
        }
        Ok(Some(self.take(n)))
    }

    fn read_request(&mut self) -> io::Result<Head> {
        let since = Instant::now();
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD || !self.fill(since)? {
                return Ok(Head::Closed);
            }
        };
        let head = self.take(head_end);
        let head = String::from_utf8_lossy(&head);
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let version = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let chunked =
            find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let keep_alive = version.eq_ignore_ascii_case("HTTP/1.1")
            && !find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let Some(size) = self.line(since)? else {
                    return Ok(Head::Closed);
                };
                let size = String::from_utf8_lossy(&size);
                let size = size.split(';').next().unwrap_or("").trim();
                let Ok(size) = usize::from_str_radix(size, 16) else {
                    return Ok(Head::Closed);
                };
                if size == 0 {
                    // Trailers, up to the empty line.
                    while let Some(line) = self.line(since)? {
                        if line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                if body.len() + size > MAX_BODY {
                    return Ok(Head::Closed);
                }
                let Some(data) = self.exact(size + 2, since)? else {
                    return Ok(Head::Closed);
                };
                body.extend_from_slice(data.get(..size).unwrap_or(&[]));
            }
            body
        } else {
            let len = find("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if len > MAX_BODY {
                return Ok(Head::Closed);
            }
            match self.exact(len, since)? {
                Some(body) => body,
                None => return Ok(Head::Closed),
            }
        };
        let request = RecordedRequest {
            method,
            path,
            headers,
            body,
            received_at: Instant::now(),
        };
        Ok(Head::Request(request, keep_alive))
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
        .and_then(|()| stream.set_nodelay(true));
    if setup.is_err() {
        return;
    }
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        shared,
    };
    while let Ok(Head::Request(request, keep_alive)) = conn.read_request() {
        let fault = shared.script.next(&request);
        lock(&shared.requests).push(request);
        match answer(&mut conn.stream, fault, keep_alive, shared) {
            Ok(true) if !shared.stopping() => {}
            _ => break,
        }
    }
    let _ = conn.stream.shutdown(Shutdown::Both);
}

/// Writes the reply. `Ok(true)` if the connection may serve another request.
fn answer(
    stream: &mut TcpStream,
    fault: Fault,
    keep_alive: bool,
    shared: &Shared,
) -> io::Result<bool> {
    match fault {
        Fault::Slow { delay, then } => {
            let until = Instant::now() + delay;
            while Instant::now() < until {
                if shared.stopping() {
                    return Ok(false);
                }
                thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
            }
            // The client has probably given up; answer anyway and close.
            answer(stream, *then, false, shared)?;
            Ok(false)
        }
        Fault::Hangup => Ok(false),
        Fault::Huge { bytes, chunked } => {
            write_huge(stream, bytes, chunked, shared)?;
            Ok(false)
        }
        Fault::SameToken => {
            let last = lock(&shared.last_token).clone();
            let (token, expires_in) = last.unwrap_or_else(|| ("same-token".into(), 3600));
            let reply = Fault::Token {
                access_token: token,
                expires_in,
            };
            answer(stream, reply, keep_alive, shared)
        }
        other => {
            if let Fault::Token {
                access_token,
                expires_in,
            } = &other
            {
                *lock(&shared.last_token) = Some((access_token.clone(), *expires_in));
            }
            let (status, headers, body) = other.into_parts();
            write_head(
                stream,
                status,
                &headers,
                Some(body.len() as u64),
                keep_alive,
            )?;
            stream.write_all(&body)?;
            stream.flush()?;
            Ok(keep_alive)
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    content_length: Option<u64>,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match content_length {
        Some(len) => head.push_str(&format!("Content-Length: {len}\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

fn write_huge(
    stream: &mut TcpStream,
    bytes: u64,
    chunked: bool,
    shared: &Shared,
) -> io::Result<()> {
    let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    write_head(stream, 200, &headers, (!chunked).then_some(bytes), false)?;
    // A JSON string that never ends: `{"access_token":"xxxx…`.
    let opening = br#"{"access_token":""#;
    let filler = [b'x'; CHUNK];
    let mut left = bytes;
    let mut first = true;
    while left > 0 {
        if shared.stopping() {
            return Ok(());
        }
        let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let mut piece = Vec::with_capacity(n);
        if first {
            piece.extend_from_slice(opening.get(..n.min(opening.len())).unwrap_or(&[]));
            first = false;
        }
        piece.extend_from_slice(filler.get(..n - piece.len()).unwrap_or(&[]));
        if chunked {
            stream.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
            stream.write_all(&piece)?;
            stream.write_all(b"\r\n")?;
        } else {
            stream.write_all(&piece)?;
        }
        left -= n as u64;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n")?;
    }
    stream.flush()
}

//! Runs the component from a native test, in one of two WASI 0.2 hosts:
//! Node with jco's transpilation and the preview2 shim (host/run.mjs, the
//! default), or Wasmtime's own host through pip's `wasmtime` package
//! (host/run_wasmtime.py), when `FRESHEN_WASI_WASMTIME` names the python
//! that has it. .ci/wasip2.sh runs the tests in both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::Mutex;

use freshen_core::Error;
use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{HttpRequest, HttpResponse, Transport};
use freshen_wasi_http_example::{decode_outcome, encode_send};

/// The directory jco transpiled the component into; .ci/wasip2.sh sets it.
pub fn component_dir() -> PathBuf {
    match std::env::var_os("FRESHEN_WASI_COMPONENT") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "FRESHEN_WASI_COMPONENT is not set: these tests run the wasm32-wasip2 component \
             in Node; run them with `bash .ci/wasip2.sh`, which builds, transpiles and points \
             this variable at the result"
        ),
    }
}

/// The component itself (the `.wasm`), for Wasmtime; .ci/wasip2.sh sets it.
pub fn component_wasm() -> PathBuf {
    match std::env::var_os("FRESHEN_WASI_COMPONENT_WASM") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "FRESHEN_WASI_COMPONENT_WASM is not set: with FRESHEN_WASI_WASMTIME, these tests \
             run the wasm32-wasip2 component in Wasmtime; run them with `bash .ci/wasip2.sh`"
        ),
    }
}

fn host() -> Command {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("host");
    if let Some(python) = std::env::var_os("FRESHEN_WASI_WASMTIME") {
        let mut command = Command::new(python);
        command
            .arg(dir.join("run_wasmtime.py"))
            .arg(component_wasm());
        return command;
    }
    let mut command = Command::new("node");
    command
        .arg("--no-warnings")
        .arg(dir.join("run.mjs"))
        .arg(component_dir());
    command
}

/// Runs the component once with `args` and returns what it printed.
pub fn run(args: &[&str]) -> Output {
    host()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the host runs")
}

/// `WasiHttpTransport` inside the component, one `serve` process per
/// transport: each `send` is one line to it and one line back.
pub struct InHost {
    config: TransportConfig,
    io: Mutex<(Child, ChildStdin, BufReader<ChildStdout>)>,
}

impl InHost {
    pub fn start(config: TransportConfig) -> Self {
        let mut child = host()
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the host starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut ready = String::new();
        stdout.read_line(&mut ready).expect("the component starts");
        assert_eq!(ready.trim_end(), "ready", "the component did not start");
        InHost {
            config,
            io: Mutex::new((child, stdin, stdout)),
        }
    }
}

impl Transport for InHost {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, Error> {
        let mut io = self.io.lock().unwrap();
        let (_, stdin, stdout) = &mut *io;
        writeln!(stdin, "{}", encode_send(&self.config, request)).expect("the component reads");
        stdin.flush().expect("the component reads");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the component answers");
        assert!(!line.is_empty(), "the component exited without answering");
        decode_outcome(line.trim_end()).unwrap_or_else(|e| panic!("{e}: {line:.200}"))
    }
}

impl Drop for InHost {
    fn drop(&mut self) {
        if let Ok(io) = self.io.get_mut() {
            let _ = io.0.kill();
            let _ = io.0.wait();
        }
    }
}

/// Drives a future made of ready futures (the suite over a blocking
/// transport) to its end.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

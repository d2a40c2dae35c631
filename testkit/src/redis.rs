//! A Redis server for tests: the one `REDIS_URL` names, or a
//! `redis-server` of our own on a free loopback port, killed on drop.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::server::closed_port;

/// A Redis for a test. [`RedisServer::shared_or_start`] uses the server
/// `REDIS_URL` names when set (CI starts one), else starts one;
/// [`RedisServer::start`] always starts one (for tests that kill it).
pub struct RedisServer {
    url: String,
    port: u16,
    child: Option<Child>,
    own: bool,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("own", &self.own)
            .field("running", &self.child.is_some())
            .finish()
    }
}

impl RedisServer {
    /// The server `REDIS_URL` names, or a new one.
    pub fn shared_or_start() -> io::Result<Self> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.is_empty() => {
                let port = url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(6379);
                Ok(RedisServer {
                    url,
                    port,
                    child: None,
                    own: false,
                })
            }
            _ => Self::start(),
        }
    }

    /// A new `redis-server` on a free loopback port, without persistence,
    /// answering `PING` when this returns.
    pub fn start() -> io::Result<Self> {
        let port = closed_port();
        let mut server = RedisServer {
            url: format!("redis://127.0.0.1:{port}/0"),
            port,
            child: None,
            own: true,
        };
        server.restart()?;
        Ok(server)
    }

    /// The URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills our server (a crash: no shutdown). No-op for a shared one.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts our server again on the same port, empty, and waits for it.
    pub fn restart(&mut self) -> io::Result<()> {
        if !self.own {
            return Ok(());
        }
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot start redis-server (is it installed?): {e}"),
                )
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port).is_ok() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "redis-server did not answer PING",
        ))
    }

    /// Freezes our server (SIGSTOP): connections stay open, nothing is
    /// answered, as with a server stuck in a long command.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("STOP")
    }

    /// Thaws a server frozen by [`RedisServer::pause`].
    pub fn resume(&self) -> io::Result<()> {
        self.signal("CONT")
    }

    fn signal(&self, name: &str) -> io::Result<()> {
        let Some(child) = &self.child else {
            return Err(io::Error::other("not our server"));
        };
        let status = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other("kill failed"))
        }
    }
}

fn ping(port: u16) -> io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.write_all(b"PING\r\n")?;
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf)?;
    if &buf == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(io::Error::other("unexpected reply"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

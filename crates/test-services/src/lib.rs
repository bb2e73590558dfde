#![doc = include_str!("../README.md")]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether tests must fail rather than skip when a service is missing
/// (`ELIG_REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    std::env::var("ELIG_REQUIRE_SERVICES").is_ok_and(|value| value == "1")
}

/// Where `program` is on `PATH`, if it is.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// Says why a test is skipped, or fails it when services are required.
fn unavailable(service: &str, why: &str) {
    assert!(!services_required(), "{service} is required (ELIG_REQUIRE_SERVICES=1) but {why}");
    eprintln!("skipped: {service} {why} (install it, or set ELIG_REQUIRE_SERVICES=1 to fail instead)");
}

fn free_port() -> Option<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    Some(listener.local_addr().ok()?.port())
}

/// A `redis-server` on a loopback port, without persistence; stopped when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
}

impl RedisServer {
    /// A fresh server, or `None` (having said why) when `redis-server` is not installed.
    pub fn start() -> Option<RedisServer> {
        RedisServer::start_with(None)
    }

    /// A fresh server that requires `password` (AUTH).
    pub fn start_with_password(password: &str) -> Option<RedisServer> {
        RedisServer::start_with(Some(password.to_owned()))
    }

    fn start_with(password: Option<String>) -> Option<RedisServer> {
        if on_path("redis-server").is_none() {
            unavailable("redis-server", "is not on PATH");
            return None;
        }
        let port = free_port().expect("a free loopback port");
        let mut server = RedisServer { child: None, port, password };
        server.restart();
        Some(server)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (as a crash would: no shutdown save, connections cut).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty; waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command.spawn().expect("redis-server starts");
        self.child = Some(child);
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {address} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

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

/// Whether `program` can be run (on `PATH`); when not, says so, or fails the test
/// when services are required.
pub fn available(program: &str) -> bool {
    if on_path(program).is_some() {
        return true;
    }
    unavailable(program, "is not on PATH");
    false
}

/// A loopback port free now.
pub fn free_port() -> Option<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    Some(listener.local_addr().ok()?.port())
}

/// A `redis-server` on a loopback port, without persistence; stopped when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    tls: Option<TlsFiles>,
}

/// A private certificate authority and a server certificate for 127.0.0.1
/// signed by it, made with `openssl` in a folder of their own.
struct TlsFiles {
    dir: PathBuf,
}

impl TlsFiles {
    fn make(port: u16) -> Option<TlsFiles> {
        if on_path("openssl").is_none() {
            unavailable("openssl", "is not on PATH (needed to make the TLS test certificates)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("elig-redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for the test certificates");
        let extensions = dir.join("server.ext");
        std::fs::write(
            &extensions,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("the certificate extensions");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=elig test CA"],
            ]
            .concat(),
            [&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat(),
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        ];
        for step in steps {
            let status = Command::new("openssl")
                .args(&step)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl runs");
            assert!(status.success(), "openssl {} failed", step.join(" "));
        }
        Some(TlsFiles { dir })
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

    /// A fresh server that speaks only TLS, with a certificate for
    /// 127.0.0.1 signed by a private authority ([`RedisServer::ca_file`]).
    pub fn start_tls() -> Option<RedisServer> {
        RedisServer::start_with_tls(None, true)
    }

    fn start_with(password: Option<String>) -> Option<RedisServer> {
        RedisServer::start_with_tls(password, false)
    }

    fn start_with_tls(password: Option<String>, tls: bool) -> Option<RedisServer> {
        if on_path("redis-server").is_none() {
            unavailable("redis-server", "is not on PATH");
            return None;
        }
        let port = free_port().expect("a free loopback port");
        let tls = if tls { Some(TlsFiles::make(port)?) } else { None };
        let mut server = RedisServer { child: None, port, password, tls };
        server.restart();
        Some(server)
    }

    /// With TLS: the PEM file of the authority that signed the server's certificate.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|tls| tls.dir.join("ca.pem"))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0` (`rediss://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
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
        let port = self.port.to_string();
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(tls) => command.args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"]).args([
                "--tls-cert-file",
                &tls.dir.join("server.pem").to_string_lossy(),
                "--tls-key-file",
                &tls.dir.join("server.key").to_string_lossy(),
                "--tls-ca-cert-file",
                &tls.dir.join("ca.pem").to_string_lossy(),
            ]),
        };
        command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
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

/// A `chromedriver` on a loopback port, driving headless Chromium; stopped when dropped.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
}

impl ChromeDriver {
    /// A running driver, or `None` (having said why) when `chromedriver` or
    /// `chromium` is not installed.
    pub fn start() -> Option<ChromeDriver> {
        let Some(driver) = on_path("chromedriver") else {
            unavailable("chromedriver", "is not on PATH (Debian package chromium-driver)");
            return None;
        };
        let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"].into_iter().find_map(on_path) else {
            unavailable("chromium", "is not on PATH (Debian package chromium)");
            return None;
        };
        // Tests start drivers side by side: a port found free may be taken by another driver
        // before this one binds it (this one then exits while the other answers), so a driver
        // counts as started only if it still runs once its port answers.
        for _ in 0..5 {
            let port = free_port().expect("a free loopback port");
            let mut child = Command::new(&driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() {
                if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                    if child.try_wait().ok().flatten().is_none() {
                        return Some(ChromeDriver { child, port, chromium });
                    }
                    break;
                }
                assert!(Instant::now() < deadline, "chromedriver did not listen on {address} within 20 s");
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("chromedriver exited at each of five starts (ports taken?)");
    }

    /// The WebDriver endpoint, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The Chromium binary the session should run.
    pub fn chromium(&self) -> &std::path::Path {
        &self.chromium
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh private key in PKCS#8 PEM made by `openssl genpkey`: `algorithm`
/// is `RSA` (2048 bits), `EC` (P-256) or `ED25519`. `None` (the test skips)
/// when `openssl` is missing and services are not required.
pub fn openssl_private_key(algorithm: &str) -> Option<Vec<u8>> {
    if on_path("openssl").is_none() {
        unavailable("openssl", "is not on PATH (needed to make test signing keys)");
        return None;
    }
    let options: &[&str] = match algorithm {
        "RSA" => &["-pkeyopt", "rsa_keygen_bits:2048"],
        "EC" => &["-pkeyopt", "ec_paramgen_curve:P-256"],
        _ => &[],
    };
    let output = Command::new("openssl")
        .args(["genpkey", "-algorithm", algorithm])
        .args(options)
        .output()
        .expect("openssl runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openssl genpkey -algorithm {algorithm} failed: {said}");
    Some(output.stdout)
}

//! TLS against a real tierd: certificates made in the test by a test CA (rcgen), the
//! `redis` crate over `rediss://` (certificates checked or not), redis-cli `--tls`
//! and redis-py `ssl=True`, mutual TLS required and optional, a TLS-only server
//! (`port 0`), certificates reloaded by CONFIG SET while an old connection stays up,
//! the per-connection limits on TLS connections, and a handshake that never finishes.

use crate::harness::*;
use redis::{ClientTlsConfig, Commands, TlsCertificates};
use rustls::crypto::ring;
use rustls::pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// A certificate and its private key, in PEM.
pub struct Issued {
    pub cert: String,
    pub key: String,
}

/// A test CA that signs server and client certificates.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-signed CA");
        TestCa { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `localhost` and 127.0.0.1, for a server or a client.
    pub fn issue(&self, server: bool) -> Issued {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("params");
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            if server { "tier server" } else { "tier client" },
        );
        params.extended_key_usages = vec![if server {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("signed");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// A CA, a server certificate and a client certificate, written to a temporary
/// directory as `ca.crt`, `server.crt`, `server.key`, `client.crt`, `client.key`.
pub struct Pki {
    pub ca: TestCa,
    pub server: Issued,
    pub client: Issued,
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let ca = TestCa::new("Tier test CA");
        let pki = Pki {
            server: ca.issue(true),
            client: ca.issue(false),
            ca,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        pki.write("ca.crt", &pki.ca.pem());
        pki.write("server.crt", &pki.server.cert);
        pki.write("server.key", &pki.server.key);
        pki.write("client.crt", &pki.client.cert);
        pki.write("client.key", &pki.client.key);
        pki
    }

    /// Writes `text` to the file `name` and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a PEM file");
        path
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// tierd's flags for this PKI's server certificate, client certificates checked
    /// against its CA as `auth_clients` says.
    pub fn flags(&self, auth_clients: &str) -> Vec<String> {
        [
            ("--tls-cert-file", self.path("server.crt")),
            ("--tls-key-file", self.path("server.key")),
            ("--tls-ca-cert-file", self.path("ca.crt")),
            ("--tls-auth-clients", auth_clients.to_owned()),
        ]
        .into_iter()
        .flat_map(|(name, value)| [name.to_owned(), value])
        .collect()
    }
}

impl Pki {
    /// Starts tierd with a plain port and a TLS one serving this PKI's server
    /// certificate, `auth_clients` as `tls-auth-clients`, and `extra` flags.
    pub fn start_server(&self, auth_clients: &str, extra: &[&str]) -> TestServer {
        let mut flags = self.flags(auth_clients);
        flags.extend(extra.iter().map(|f| f.to_string()));
        TestServer::start_tls(true, &strs(&flags))
    }
}

/// `flags` as the harness takes them.
fn strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

/// A `redis` crate client for `rediss://localhost:port`, trusting `ca_pem`, showing
/// `client` if given.
pub fn rediss(
    port: u16,
    ca_pem: &str,
    client: Option<&Issued>,
) -> redis::RedisResult<redis::Connection> {
    let certs = TlsCertificates {
        client_tls: client.map(|c| ClientTlsConfig {
            client_cert: c.cert.as_bytes().to_vec(),
            client_key: c.key.as_bytes().to_vec(),
        }),
        root_cert: Some(ca_pem.as_bytes().to_vec()),
    };
    let client = redis::Client::build_with_tls(format!("rediss://localhost:{port}/"), certs)?;
    let mut con = client.get_connection_with_timeout(Duration::from_secs(5))?;
    con.set_read_timeout(Some(Duration::from_secs(5)))?;
    // TLS 1.3 lets the client finish its handshake before the server has checked its
    // certificate: a refusal shows on the first command.
    redis::cmd("PING").query::<String>(&mut con)?;
    Ok(con)
}

/// A TLS session to tierd made by rustls, for raw RESP.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A raw RESP connection over TLS, trusting `ca_pem`, showing `client` if given.
pub fn raw_tls(port: u16, ca_pem: &str, client: Option<&Issued>) -> RawClient<TlsStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots);
    let config = match client {
        Some(issued) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(issued.cert.as_bytes())
                    .collect::<Result<_, _>>()
                    .expect("client chain"),
                PrivateKeyDer::from_pem_slice(issued.key.as_bytes()).expect("client key"),
            )
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").expect("name");
    let session = rustls::ClientConnection::new(Arc::new(config), name).expect("session");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    RawClient::over(rustls::StreamOwned::new(session, tcp))
}

fn pong() -> Frame {
    Frame::Simple("PONG".into())
}

/// Runs tierd with `args` and returns its exit status and what it printed.
fn run_tierd(args: &[&str]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tierd"))
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run tierd");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status, text)
}

#[test]
fn rediss_with_and_without_certificate_checks() {
    let pki = Pki::new();
    let server = pki.start_server("no", &[]);
    let mut con = rediss(server.tls_port, &pki.ca.pem(), None).expect("rediss with the CA");
    let () = con.set("k", "over tls").expect("SET");
    // The plain port serves the same data.
    let mut plain = server.client();
    let got: String = plain.get("k").expect("GET");
    assert_eq!(got, "over tls");
    // `#insecure`: the certificate is not checked.
    let insecure = redis::Client::open(format!("rediss://127.0.0.1:{}/#insecure", server.tls_port))
        .expect("url");
    let mut unchecked = insecure.get_connection().expect("insecure rediss");
    let got: String = unchecked.get("k").expect("GET");
    assert_eq!(got, "over tls");
    // Checked against a CA that did not sign the server's certificate: refused.
    let stranger = TestCa::new("another CA");
    assert!(rediss(server.tls_port, &stranger.pem(), None).is_err());
    // CLIENT LIST shows the TLS port as laddr; INFO's tcp_port stays the plain one.
    let mut raw = raw_tls(server.tls_port, &pki.ca.pem(), None);
    let id = id_of(&mut raw).to_string();
    let Frame::Bulk(list) = raw.cmd(&["CLIENT", "LIST", "ID", &id]) else {
        panic!("CLIENT LIST is a bulk string");
    };
    let list = String::from_utf8_lossy(&list).into_owned();
    assert!(
        list.contains(&format!(" laddr=127.0.0.1:{} ", server.tls_port)),
        "{list}"
    );
    let text = info(&mut raw, &["server"]);
    assert_eq!(number(&text, "tcp_port"), u64::from(server.port));
}

fn id_of<S: std::io::Read + std::io::Write>(raw: &mut RawClient<S>) -> i64 {
    match raw.cmd(&["CLIENT", "ID"]) {
        Frame::Integer(id) => id,
        other => panic!("CLIENT ID replied {other:?}"),
    }
}

/// Runs `program` with `args`; its standard output, trimmed, if it succeeded.
fn run_client(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (tests/run installs it): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(stdout + &String::from_utf8_lossy(&out.stderr))
    }
}

/// redis-py over TLS: the script connects as `connect` says (Python keyword
/// arguments of `redis.Redis`, or a `redis.from_url(...)` call) and prints the reply
/// to `GET k`.
fn redis_py_get(connect: &str) -> Result<String, String> {
    let script = format!("import redis\nr = {connect}\nprint(r.get('k').decode())\n");
    run_client("python3", &["-c", &script])
}

/// The clients users copy their snippets from: redis-cli `--tls` (the CA checked, or
/// `--insecure`; with a client certificate under mutual TLS) and redis-py with
/// `ssl=True` (certificates checked or not) and a `rediss://` URL.
#[test]
fn redis_cli_and_redis_py_connect_over_tls() {
    let pki = Pki::new();
    let server = pki.start_server("optional", &[]);
    let port = server.tls_port.to_string();
    let ca = pki.path("ca.crt");
    let cli = |extra: &[&str], command: &[&str]| {
        let mut args = vec!["-h", "localhost", "-p", &port, "--tls"];
        args.extend_from_slice(extra);
        args.extend_from_slice(command);
        run_client("redis-cli", &args)
    };
    assert_eq!(
        cli(&["--cacert", &ca], &["SET", "k", "from redis-cli"]),
        Ok("OK".into())
    );
    assert_eq!(
        cli(&["--insecure"], &["GET", "k"]),
        Ok("from redis-cli".into())
    );
    let (cert, key) = (pki.path("client.crt"), pki.path("client.key"));
    assert_eq!(
        cli(
            &["--cacert", &ca, "--cert", &cert, "--key", &key],
            &["PING"]
        ),
        Ok("PONG".into())
    );
    // A CA that did not sign the server's certificate: redis-cli refuses to go on.
    let stranger = pki.write("stranger.crt", &TestCa::new("another CA").pem());
    assert!(cli(&["--cacert", &stranger], &["PING"]).is_err());

    let checked =
        format!("redis.Redis(host='localhost', port={port}, ssl=True, ssl_ca_certs='{ca}')");
    assert_eq!(redis_py_get(&checked), Ok("from redis-cli".into()));
    let unchecked =
        format!("redis.Redis(host='127.0.0.1', port={port}, ssl=True, ssl_cert_reqs=None)");
    assert_eq!(redis_py_get(&unchecked), Ok("from redis-cli".into()));
    let url = format!("redis.from_url('rediss://localhost:{port}/0?ssl_ca_certs={ca}')");
    assert_eq!(redis_py_get(&url), Ok("from redis-cli".into()));
    let stranger_checked =
        format!("redis.Redis(host='localhost', port={port}, ssl=True, ssl_ca_certs='{stranger}')");
    assert!(redis_py_get(&stranger_checked).is_err());
}

#[test]
fn mutual_tls_requires_a_client_certificate() {
    let pki = Pki::new();
    let server = pki.start_server("yes", &[]);
    let mut con =
        rediss(server.tls_port, &pki.ca.pem(), Some(&pki.client)).expect("with a certificate");
    let () = con.set("k", "v").expect("SET");
    assert!(
        rediss(server.tls_port, &pki.ca.pem(), None).is_err(),
        "a client without a certificate got in"
    );
    let stranger = TestCa::new("another CA").issue(false);
    assert!(
        rediss(server.tls_port, &pki.ca.pem(), Some(&stranger)).is_err(),
        "a client with a certificate of another CA got in"
    );
    // The refused clients took nothing from the admitted one.
    let got: String = con.get("k").expect("GET");
    assert_eq!(got, "v");
}

#[test]
fn optional_client_certificates_are_checked_when_given() {
    let pki = Pki::new();
    let server = pki.start_server("optional", &[]);
    rediss(server.tls_port, &pki.ca.pem(), None).expect("no certificate is fine");
    rediss(server.tls_port, &pki.ca.pem(), Some(&pki.client)).expect("a good certificate");
    let stranger = TestCa::new("another CA").issue(false);
    assert!(
        rediss(server.tls_port, &pki.ca.pem(), Some(&stranger)).is_err(),
        "a bad certificate is refused"
    );
}

/// `port 0`: TLS only. With no listener at all, or TLS without what it needs, tierd
/// does not start, and says why.
#[test]
fn tls_only_and_servers_that_cannot_start() {
    let pki = Pki::new();
    let server = TestServer::start_tls(false, &strs(&pki.flags("no")));
    assert_eq!(server.port, 0);
    let mut raw = raw_tls(server.tls_port, &pki.ca.pem(), None);
    wait_until_loaded(&mut raw, Duration::from_secs(30));
    assert_eq!(raw.cmd(&["PING"]), pong());
    assert_eq!(
        number(&info(&mut raw, &["server"]), "tcp_port"),
        u64::from(server.tls_port),
        "INFO's tcp_port is the TLS port when there is no plain one, as Redis"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "port"]),
        array(vec![bulk("port"), bulk("0")])
    );

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--port".into(), "0".into()],
            "Configured to not listen anywhere, exiting.",
        ),
        (
            vec!["--port".into(), "0".into(), "--tls-port".into(), "0".into()],
            "Configured to not listen anywhere, exiting.",
        ),
        (
            vec!["--port".into(), "0".into(), "--tls-port".into(), "1".into()],
            "No tls-cert-file configured!",
        ),
        (
            [
                vec!["--port".into(), "0".into(), "--tls-port".into(), "1".into()],
                vec![
                    "--tls-cert-file".into(),
                    pki.path("server.crt"),
                    "--tls-key-file".into(),
                    pki.path("server.key"),
                ],
            ]
            .concat(),
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified",
        ),
        (
            [
                vec!["--port".into(), "0".into(), "--tls-port".into(), "1".into()],
                pki.flags("yes"),
                vec!["--tls-key-file-pass".into(), "secret".into()],
            ]
            .concat(),
            "Tier reads only unencrypted private keys",
        ),
    ];
    for (args, why) in cases {
        let (status, text) = run_tierd(&strs(&args));
        assert!(!status.success(), "{args:?} started");
        assert!(text.contains(why), "{args:?}: {text}");
    }
}

/// CONFIG SET of the certificate files: new connections get the new certificate, an
/// open one stays up, and a file that cannot be used is refused with Redis's text
/// while the certificate in use stays.
#[test]
fn config_set_reloads_certificates_for_new_connections() {
    let pki = Pki::new();
    let server = pki.start_server("no", &[]);
    let mut old = raw_tls(server.tls_port, &pki.ca.pem(), None);
    assert_eq!(old.cmd(&["SET", "k", "v"]), ok());

    let next_ca = TestCa::new("next CA");
    let next = next_ca.issue(true);
    let next_cert = pki.write("next.crt", &next.cert);
    let next_key = pki.write("next.key", &next.key);
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &next_cert,
            "tls-key-file",
            &next_key
        ]),
        ok()
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "tls-cert-file"]),
        array(vec![bulk("tls-cert-file"), bulk(&next_cert)])
    );
    assert!(
        rediss(server.tls_port, &pki.ca.pem(), None).is_err(),
        "a new connection still got the old certificate"
    );
    let mut renewed = rediss(server.tls_port, &next_ca.pem(), None).expect("the new certificate");
    let got: String = renewed.get("k").expect("GET");
    assert_eq!(got, "v");
    assert_eq!(
        old.cmd(&["GET", "k"]),
        bulk("v"),
        "the old connection dropped"
    );

    // Files that cannot be used: refused as Redis words it; nothing changes.
    let unmatched_key = pki.path("server.key");
    let broken = pki.write("broken.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n");
    for (name, value) in [
        ("tls-cert-file", "/nonexistent/server.crt"),
        ("tls-key-file", unmatched_key.as_str()),
        ("tls-cert-file", broken.as_str()),
        ("tls-ca-cert-file", "/nonexistent/ca.crt"),
        ("tls-protocols", "TLSv1.2 TLSv9"),
        ("tls-ciphersuites", "NOPE"),
    ] {
        // tls-ca-cert-file is read only when client certificates are checked.
        let set: Vec<&str> = if name == "tls-ca-cert-file" {
            vec!["CONFIG", "SET", "tls-auth-clients", "optional", name, value]
        } else {
            vec!["CONFIG", "SET", name, value]
        };
        let blamed = set[2];
        assert_eq!(
            admin.cmd(&set),
            err(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{blamed}') - Unable to \
                 update TLS configuration. Check server logs."
            )),
            "{name} {value}"
        );
    }
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "tls-key-file"]),
        array(vec![bulk("tls-key-file"), bulk(&next_key)])
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "tls-auth-clients"]),
        array(vec![bulk("tls-auth-clients"), bulk("no")])
    );
    rediss(server.tls_port, &next_ca.pem(), None).expect("the certificate in use stayed");
    // A file rewritten in place is read again when set to the same path.
    std::fs::write(&next_cert, &pki.server.cert).expect("rewrite");
    std::fs::write(&next_key, &pki.server.key).expect("rewrite");
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "tls-cert-file", &next_cert]),
        ok()
    );
    rediss(server.tls_port, &pki.ca.pem(), None).expect("the rewritten certificate");
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "tls-port", "1"]),
        err("ERR CONFIG SET failed (possibly related to argument 'tls-port') - can't set immutable config")
    );
}

/// The limits of a plain connection hold on a TLS one: a protocol error closes it
/// with Redis's text, CLIENT KILL closes it, and the idle timeout closes it.
#[test]
fn tls_connections_keep_every_limit() {
    let pki = Pki::new();
    let server = pki.start_server("no", &["--timeout", "2"]);
    let ca = pki.ca.pem();

    let mut bad = raw_tls(server.tls_port, &ca, None);
    bad.send(b"*1\r\n$-5\r\n");
    assert_eq!(
        bad.read_frame(),
        Some(err("ERR Protocol error: invalid bulk length"))
    );
    assert!(bad.is_closed());

    let mut victim = raw_tls(server.tls_port, &ca, None);
    let victim_id = id_of(&mut victim);
    let mut admin = raw_tls(server.tls_port, &ca, None);
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ID", &victim_id.to_string()]),
        int(1)
    );
    assert!(victim.is_closed());

    let mut idle = raw_tls(server.tls_port, &ca, None);
    assert_eq!(idle.cmd(&["PING"]), pong());
    let started = Instant::now();
    assert!(idle.is_closed());
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(raw_tls(server.tls_port, &ca, None).cmd(&["PING"]), pong());
}

/// A client that opens a TLS connection and never finishes the handshake is closed
/// after the handshake deadline (here the idle timeout, 1 s), while other clients
/// are served.
#[test]
fn an_unfinished_handshake_is_closed() {
    let pki = Pki::new();
    let server = pki.start_server("no", &["--timeout", "1"]);
    let mut silent = TcpStream::connect(("127.0.0.1", server.tls_port)).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let started = Instant::now();
    let mut meanwhile = raw_tls(server.tls_port, &pki.ca.pem(), None);
    assert_eq!(meanwhile.cmd(&["PING"]), pong());
    let mut byte = [0u8; 1];
    let read = silent.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the server sent {read:?} before any handshake"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    assert_eq!(server.raw().cmd(&["PING"]), pong());
}

/// The example of docs/SECURITY.md, exactly: a TLS-only server requiring client
/// certificates, its files named as the doc names them.
#[test]
fn the_documented_tls_configuration_works() {
    let pki = Pki::new();
    let example = security_doc_block("## Running Tier with TLS", "```conf\n");
    // The doc's paths point into this test's PKI.
    let conf = example.replace("/etc/tier/tls/", &format!("{}/", pki.dir().display()));
    let dir = tempfile::tempdir().expect("temp dir");
    let conf_path: PathBuf = dir.path().join("tier.conf");
    std::fs::write(&conf_path, &conf).expect("write the config file");
    assert!(
        conf.lines().any(|l| l.starts_with("tls-port ")),
        "the example sets tls-port"
    );
    // A free port in place of the doc's, so that tests can run side by side.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tierd"))
        .arg(&conf_path)
        .args(["--tls-port", &port.to_string()])
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn tierd");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut con = loop {
        match rediss(port, &pki.ca.pem(), Some(&pki.client)) {
            Ok(con) => break con,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the documented configuration does not serve: {e}");
            }
        }
    };
    let pong: redis::RedisResult<String> = redis::cmd("PING").query(&mut con);
    let refused = rediss(port, &pki.ca.pem(), None).is_err();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(pong.expect("PING"), "PONG");
    assert!(
        refused,
        "the documented configuration admits clients without certificates"
    );
}

//! TLS for client connections (`tls-port`): builds rustls's server configuration from
//! the `tls-*` options ([`server_config`]), keeps the current one for the TLS listener
//! ([`TlsContext`], swapped whole on CONFIG SET so that open connections keep the
//! session they began with), and runs each connection's handshake under a deadline
//! before [`conn::serve`] serves it exactly as a plain one.
//!
//! rustls (with the *ring* provider) speaks TLS 1.2 and 1.3 only, with AEAD cipher
//! suites; the options that name OpenSSL features Tier does not have are refused with
//! a reason in the log.

use crate::config::{Config, TlsAuthClients, TlsConfig};
use crate::conn::{self, Peer};
use crate::shared::Shared;
use arc_swap::ArcSwapOption;
use rustls::crypto::{ring, CryptoProvider};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// The longest a TLS handshake may take (less if the idle `timeout` is shorter): a
/// client that starts one and never finishes gives its slot back by then.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Redis's reply when CONFIG SET cannot apply a TLS option (the reason is logged).
const UPDATE_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

/// The TLS state the server shares: the configuration new handshakes use, and how
/// many handshakes are under way (they count toward `maxclients`).
#[derive(Default)]
pub struct TlsContext {
    current: ArcSwapOption<ServerConfig>,
    handshaking: AtomicUsize,
}

impl TlsContext {
    /// Makes `config` the one new TLS connections get.
    pub fn install(&self, config: Arc<ServerConfig>) {
        self.current.store(Some(config));
    }

    /// Whether TLS is configured.
    pub fn is_on(&self) -> bool {
        self.current.load().is_some()
    }
}

/// A TLS version of `tls-protocols`, and whether rustls has it.
const PROTOCOLS: [(&str, Option<&SupportedProtocolVersion>); 4] = [
    ("TLSv1", None),
    ("TLSv1.1", None),
    ("TLSv1.2", Some(&rustls::version::TLS12)),
    ("TLSv1.3", Some(&rustls::version::TLS13)),
];

/// The cipher suites Tier has, by their OpenSSL names (TLS 1.3 ones for
/// `tls-ciphersuites`, TLS 1.2 ones for `tls-ciphers`).
fn cipher_suites() -> [(&'static str, SupportedCipherSuite); 9] {
    use ring::cipher_suite::*;
    [
        ("TLS_AES_256_GCM_SHA384", TLS13_AES_256_GCM_SHA384),
        ("TLS_AES_128_GCM_SHA256", TLS13_AES_128_GCM_SHA256),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ]
}

/// Builds the server's TLS configuration from the `tls-*` options, reading the
/// certificate and key files (blocking: call it off the runtime, or in
/// `block_in_place`). The error is the reason, for the log.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, String> {
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Err(if tls.cert_file.is_none() {
            "No tls-cert-file configured!".into()
        } else {
            "No tls-key-file configured!".into()
        });
    };
    if tls.key_file_pass.is_some() {
        return Err(
            "tls-key-file-pass is set, but Tier reads only unencrypted private keys: \
                    decrypt the key (openssl pkey -in key.pem -out plain.pem), point \
                    tls-key-file at it and leave tls-key-file-pass empty"
                .into(),
        );
    }
    let chain = read_certificates(cert_file)?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert_file.display()));
    }
    let key = read_private_key(key_file)?;
    let provider = Arc::new(CryptoProvider {
        cipher_suites: chosen_cipher_suites(tls)?,
        ..ring::default_provider()
    });
    let versions = chosen_protocols(&tls.protocols)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("the TLS protocols and cipher suites do not fit: {e}"))?;
    let verifier = match tls.auth_clients {
        TlsAuthClients::No => WebPkiClientVerifier::no_client_auth(),
        auth => {
            let roots = read_ca_certificates(tls)?;
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let builder = if auth == TlsAuthClients::Optional {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| format!("cannot check client certificates: {e}"))?
        }
    };
    let mut config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "the certificate in {} does not go with the key in {}: {e}",
                cert_file.display(),
                key_file.display()
            )
        })?;
    config.ignore_client_order = tls.prefer_server_ciphers;
    if tls.session_caching && tls.session_cache_size > 0 {
        config.session_storage = ServerSessionMemoryCache::new(tls.session_cache_size as usize);
    } else {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// The certificates of a PEM file, in order.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate in {}: {e}", path.display()))
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
        if encrypted {
            format!(
                "the private key in {} is encrypted: Tier reads only unencrypted keys",
                path.display()
            )
        } else {
            format!("no private key in {}: {e}", path.display())
        }
    })
}

/// The CAs of `tls-ca-cert-file` and of every PEM file in `tls-ca-cert-dir`.
fn read_ca_certificates(tls: &TlsConfig) -> Result<RootCertStore, String> {
    let mut files = Vec::new();
    if let Some(file) = &tls.ca_cert_file {
        files.push(file.clone());
    }
    if let Some(dir) = &tls.ca_cert_dir {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .path();
            if path.is_file() {
                files.push(path);
            }
        }
        files.sort();
    }
    if files.is_empty() {
        return Err(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
                    tls-auth-clients is enabled (or set tls-auth-clients no)"
                .into(),
        );
    }
    let mut roots = RootCertStore::empty();
    for file in &files {
        for cert in read_certificates(file)? {
            roots
                .add(cert)
                .map_err(|e| format!("bad CA certificate in {}: {e}", file.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate in tls-ca-cert-file or tls-ca-cert-dir".into());
    }
    Ok(roots)
}

/// `tls-protocols`: space-separated versions, any case; empty means TLS 1.2 and 1.3.
fn chosen_protocols(protocols: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    if protocols.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS12, &rustls::version::TLS13]);
    }
    let mut versions = Vec::new();
    for word in protocols.split_whitespace() {
        let Some((name, version)) = PROTOCOLS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
        else {
            return Err(
                "Invalid tls-protocols specified. Use a combination of 'TLSv1', \
                        'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                    .into(),
            );
        };
        match version {
            Some(version) => versions.push(*version),
            None => {
                tracing::warn!("tls-protocols: {name} is not offered, only TLSv1.2 and TLSv1.3")
            }
        }
    }
    if versions.is_empty() {
        return Err("tls-protocols names no version Tier has (TLSv1.2, TLSv1.3)".into());
    }
    Ok(versions)
}

/// `tls-ciphersuites` (TLS 1.3) and `tls-ciphers` (TLS 1.2): `:`-separated names, as
/// OpenSSL's lists. A name Tier does not have is skipped with a warning; a list
/// left with none is an error. Empty: every suite of that version.
fn chosen_cipher_suites(tls: &TlsConfig) -> Result<Vec<SupportedCipherSuite>, String> {
    let all = cipher_suites();
    let mut chosen = Vec::new();
    for (option, list, tls13) in [
        ("tls-ciphersuites", &tls.ciphersuites, true),
        ("tls-ciphers", &tls.ciphers, false),
    ] {
        let of_version = all
            .iter()
            .filter(|(_, suite)| matches!(suite, SupportedCipherSuite::Tls13(_)) == tls13);
        if list.trim().is_empty() {
            chosen.extend(of_version.map(|(_, suite)| *suite));
            continue;
        }
        let before = chosen.len();
        for name in list.split([':', ',', ' ']).filter(|n| !n.is_empty()) {
            match of_version
                .clone()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
            {
                Some((_, suite)) => chosen.push(*suite),
                None => tracing::warn!("{option}: no cipher suite {name} in Tier; skipped"),
            }
        }
        if chosen.len() == before {
            let known: Vec<&str> = of_version.map(|(name, _)| *name).collect();
            return Err(format!(
                "Failed to configure {}: {list} (Tier has {})",
                if tls13 { "ciphersuites" } else { "ciphers" },
                known.join(":")
            ));
        }
    }
    Ok(chosen)
}

/// CONFIG SET's check of the `tls-*` options: while TLS runs, any of them set (even
/// to its old value, to reload a certificate file rewritten in place) builds a new
/// configuration for new connections; one that cannot be built is refused with
/// Redis's text, and the old one stays.
pub fn reconfigure(
    shared: &Shared,
    next: &Config,
    named: &[&'static str],
) -> Result<(), (&'static str, String)> {
    let Some(&option) = named.iter().find(|name| name.starts_with("tls-")) else {
        return Ok(());
    };
    if !shared.tls.is_on() {
        return Ok(());
    }
    match tokio::task::block_in_place(|| server_config(&next.tls)) {
        Ok(config) => {
            shared.tls.install(config);
            tracing::info!("TLS configuration reloaded ({option})");
            Ok(())
        }
        Err(why) => {
            tracing::warn!("{why}");
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new {option} setting. \
                 Restoring previous settings."
            );
            Err((option, UPDATE_FAILED.to_owned()))
        }
    }
}

/// Serves one connection accepted on the TLS port: refused at once if `maxclients`
/// is reached (with handshakes under way counted), else the handshake, bounded by
/// [`HANDSHAKE_TIMEOUT`] or the idle `timeout`, then the connection as any other.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let config = shared.config.load_full();
    let Some(server_config) = shared.tls.current.load_full() else {
        return;
    };
    let handshaking = &shared.tls.handshaking;
    if conn::maxclients_reached(&shared, &config, handshaking.load(Ordering::Relaxed)) {
        // No TLS session to send the error in yet, as Redis: the client is closed.
        tracing::debug!(%addr, "TLS client refused: max number of clients reached");
        return;
    }
    let peer = Peer::prepare(&stream, addr, &config);
    handshaking.fetch_add(1, Ordering::Relaxed);
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
    let limit = match config.timeout {
        0 => HANDSHAKE_TIMEOUT,
        idle => HANDSHAKE_TIMEOUT.min(Duration::from_secs(u64::from(idle))),
    };
    let handshake = tokio::time::timeout(limit, acceptor.accept(stream)).await;
    handshaking.fetch_sub(1, Ordering::Relaxed);
    match handshake {
        Ok(Ok(session)) => conn::serve(shared, session, peer).await,
        Ok(Err(e)) => tracing::debug!(%addr, "Error accepting a client connection: {e}"),
        Err(_) => tracing::debug!(%addr, "TLS handshake not finished in {limit:?}: closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suites(ciphersuites: &str, ciphers: &str) -> Result<Vec<String>, String> {
        let tls = TlsConfig {
            ciphersuites: ciphersuites.into(),
            ciphers: ciphers.into(),
            ..TlsConfig::default()
        };
        chosen_cipher_suites(&tls)
            .map(|list| list.iter().map(|s| format!("{:?}", s.suite())).collect())
    }

    #[test]
    fn protocols_as_redis_names_them() {
        assert_eq!(chosen_protocols("").expect("both").len(), 2);
        assert_eq!(
            chosen_protocols("tlsv1.3").expect("1.3"),
            [&rustls::version::TLS13]
        );
        // Versions rustls lacks are skipped, as long as one is left.
        assert_eq!(
            chosen_protocols("TLSv1.1 TLSv1.2").expect("1.2"),
            [&rustls::version::TLS12]
        );
        assert!(chosen_protocols("TLSv1 TLSv1.1")
            .expect_err("none left")
            .contains("no version"));
        assert!(chosen_protocols("TLSv1.2 foo")
            .expect_err("unknown")
            .starts_with("Invalid tls-protocols specified."));
    }

    #[test]
    fn cipher_lists_pick_by_openssl_name() {
        let all = suites("", "").expect("defaults");
        assert_eq!(all.len(), 9);
        assert_eq!(
            suites(
                "TLS_CHACHA20_POLY1305_SHA256",
                "ECDHE-RSA-AES128-GCM-SHA256:NOPE"
            )
            .expect("one each"),
            [
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        let err = suites("NOPE", "").expect_err("none left");
        assert!(
            err.starts_with("Failed to configure ciphersuites: NOPE"),
            "{err}"
        );
        // A TLS 1.2 name is no TLS 1.3 suite.
        assert!(suites("ECDHE-RSA-AES128-GCM-SHA256", "").is_err());
    }

    #[test]
    fn missing_files_are_reasons_not_panics() {
        let none = TlsConfig::default();
        assert_eq!(
            server_config(&none).expect_err("no cert"),
            "No tls-cert-file configured!"
        );
        let missing = TlsConfig {
            cert_file: Some("/nonexistent/cert.pem".into()),
            key_file: Some("/nonexistent/key.pem".into()),
            ..TlsConfig::default()
        };
        assert!(server_config(&missing)
            .expect_err("no file")
            .starts_with("cannot read /nonexistent/cert.pem"));
        let with_pass = TlsConfig {
            key_file_pass: Some(b"secret".to_vec()),
            ..missing
        };
        assert!(server_config(&with_pass)
            .expect_err("encrypted keys")
            .contains("unencrypted"));
    }
}

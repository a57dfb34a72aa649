//! The listener side of `tierd`: binds the configured addresses (plain and TLS),
//! accepts connections (one tokio task each), runs the cron thread (active expiry, resizing, ops/sec
//! sampling), and shuts down gracefully on SIGTERM, SIGINT or SHUTDOWN.

use crate::config::Config;
use crate::conn;
use crate::shared::Shared;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The sockets tierd listens on: plain RESP on `port`, TLS on `tls-port`.
pub struct Listeners {
    pub plain: Vec<std::net::TcpListener>,
    pub tls: Vec<std::net::TcpListener>,
}

/// Binds every `bind` address on `port` and on `tls-port` (0 means no such listener).
/// A configuration with no listener at all is refused, as Redis refuses it.
pub fn bind(config: &Config) -> anyhow::Result<Listeners> {
    let on = |port: u16| match port {
        0 => Ok(Vec::new()),
        port => bind_port(&config.bind, port),
    };
    let listeners = Listeners {
        plain: on(config.port)?,
        tls: on(config.tls.port)?,
    };
    if listeners.plain.is_empty() && listeners.tls.is_empty() {
        anyhow::bail!(
            "Configured to not listen anywhere, exiting. (Set port, or tls-port with \
             tls-cert-file and tls-key-file, and at least one bind address.)"
        );
    }
    Ok(listeners)
}

/// Binds every address of `addrs` on `port` (a leading `-` on an address, as in
/// Redis's default `-::1`, means "skip it if it cannot be bound").
fn bind_port(addrs: &[String], port: u16) -> anyhow::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::new();
    for addr in addrs {
        let (optional, host) = match addr.strip_prefix('-') {
            Some(host) => (true, host),
            None => (false, addr.as_str()),
        };
        let ip: std::net::IpAddr = host
            .parse()
            .with_context(|| format!("invalid bind address '{host}'"))?;
        match std::net::TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(l) => {
                l.set_nonblocking(true)?;
                listeners.push(l);
            }
            Err(e) if optional => {
                tracing::warn!("could not bind optional address {host}:{port}: {e}")
            }
            Err(e) => return Err(e).with_context(|| format!("could not bind {host}:{port}")),
        }
    }
    Ok(listeners)
}

/// Serves clients on `listeners` until a shutdown, loading the dataset meanwhile
/// (clients get `-LOADING` until it is in), then waits briefly for the connections
/// to close and makes the AOF durable. A dataset that cannot be loaded shuts the
/// server down with that error.
pub async fn run(shared: Arc<Shared>, listeners: Listeners) -> anyhow::Result<()> {
    // INFO's tcp_port, as Redis: the plain port, else the TLS one.
    if let Some(l) = listeners.plain.first().or(listeners.tls.first()) {
        shared.port.store(
            u64::from(l.local_addr()?.port()),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    // Loading from the first client on, until the loader says it is done.
    shared.persistence.set_loading(true);
    let cron = spawn_cron(shared.clone()).context("could not start the cron thread")?;
    let mut accepts = Vec::new();
    for (kind, list) in [(Kind::Plain, listeners.plain), (Kind::Tls, listeners.tls)] {
        let any = !list.is_empty();
        for l in list {
            let listener = TcpListener::from_std(l)?;
            tracing::info!("listening on {} ({})", listener.local_addr()?, kind.name());
            accepts.push(tokio::spawn(accept_loop(shared.clone(), listener, kind)));
        }
        if any {
            tracing::info!("Ready to accept connections {}", kind.name());
        }
    }
    tokio::spawn(watch_signals(shared.clone()));
    let mut loading = Some(tokio::spawn(crate::persist::load_at_start(shared.clone())));
    let mut failure = None;
    let mut shutdown = shared.shutdown_signal();
    while !*shutdown.borrow_and_update() {
        tokio::select! {
            changed = shutdown.changed() => if changed.is_err() {
                break;
            },
            loaded = async { loading.as_mut().expect("guarded").await }, if loading.is_some() => {
                loading = None;
                let error = match loaded {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(e) => anyhow::anyhow!("the loader panicked: {e}"),
                };
                failure = Some(error.context("cannot load the dataset"));
                shared.shutdown();
            }
        }
    }
    tracing::info!("shutting down: closing listeners and connections");
    for a in &accepts {
        a.abort();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.clients.count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = tokio::task::spawn_blocking(move || cron.join()).await;
    if let Some(error) = failure {
        return Err(error);
    }
    let persistence = shared.persistence.clone();
    tokio::task::spawn_blocking(move || persistence.sync_aof())
        .await?
        .context("cannot make the AOF durable")?;
    tracing::info!("Tier is now ready to exit, bye bye...");
    Ok(())
}

/// What a listener speaks.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Tls,
}

impl Kind {
    /// As Redis's log names it.
    fn name(self) -> &'static str {
        match self {
            Kind::Plain => "tcp",
            Kind::Tls => "tls",
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, kind: Kind) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => match kind {
                Kind::Plain => {
                    let peer = conn::Peer::prepare(&stream, addr, &shared.config.load());
                    tokio::spawn(conn::serve(shared.clone(), stream, peer));
                }
                Kind::Tls => {
                    tokio::spawn(crate::tls::serve(shared.clone(), stream, addr));
                }
            },
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn watch_signals(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("could not install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
        _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
    }
    let save = !shared.config.load().save.is_empty() && !shared.persistence.is_loading();
    if save {
        tracing::info!("Saving the final snapshot before exiting.");
        let saver = shared.clone();
        match tokio::task::spawn_blocking(move || crate::persist::save_now(&saver)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("Error trying to save the DB: {e}. Exit anyway."),
            Err(e) => tracing::warn!("the final save panicked: {e}"),
        }
    }
    shared.shutdown();
}

/// The background thread for housekeeping that must not run on the async runtime.
fn spawn_cron(shared: Arc<Shared>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tier-cron".into())
        .spawn(move || {
            while !shared.is_shutting_down() {
                let hz = shared.config.load().hz.max(1);
                let period = Duration::from_millis(1000 / u64::from(hz));
                std::thread::sleep(period);
                // As Redis's active expiry: at most a quarter of each period; none
                // while the dataset loads (a replayed command may need a key whose
                // deadline passed since it first ran).
                let loading = shared.persistence.is_loading();
                shared
                    .keyspace
                    .cron(tier_engine::now_ms(), period / 4, !loading);
                crate::persist::cron_jobs(&shared);
                shared.stats.sample_ops(Instant::now());
            }
        })
}

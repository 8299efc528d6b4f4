//! `madoguchi serve` and `madoguchi demo`: assemble the configuration, open the store, bind
//! the listeners and run the SIP core.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use madoguchi_sip::registrar::RegistrarConfig;
use madoguchi_store::{Store, UserRecord};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::info;

use crate::acl::Acl;
use crate::config::{listener_from_flag, Config, TransportKind};
use crate::core::engine::{Engine, IvrSetup, ListenerInfo};
use crate::core::media::MediaCalls;
use crate::core::queue_history::QueueHistory;
use crate::core::registry::Registry;
use crate::ivr::setup::{build_queues, IvrParts, QUEUE_FALLBACK_TO_SCENARIO};
use crate::transport::{self, EdgeStats, Sender};
use madoguchi_rtp::{MediaConfig, MediaRuntime};

/// Flags shared by `serve` and `demo`; they override the config file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A SIP listener, `udp:ADDR:PORT`, `tcp:ADDR:PORT` or `tls:ADDR:PORT`; repeatable.
    /// Replaces the file's. A `tls` one without `[tls]` files uses the self-signed
    /// certificate in DATA/tls/.
    #[arg(long = "sip")]
    sip: Vec<String>,
    /// Admin API address.
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// Admin API over HTTPS as well, on this address (`[tls]` certificate, else self-signed).
    #[arg(long)]
    https: Option<std::net::SocketAddr>,
    /// Data directory (embedded store, recordings, plugin artifacts).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Digest algorithms offered, most preferred first (default `MD5`; `SHA-256,MD5` where
    /// every phone handles RFC 8760 SHA-256).
    #[arg(long, value_delimiter = ',')]
    digest_algorithms: Vec<String>,
    /// Test clock: the time scenarios and schedules see, e.g. `2027-01-04T10:00:00+09:00`
    /// (fixed; change it with `PUT /api/v1/test/clock`).
    #[arg(long)]
    clock: Option<String>,
    /// Where transfers to the external destination `callcenter` go, e.g.
    /// `sip:callcenter@127.0.0.1:5090`.
    #[arg(long)]
    callcenter_uri: Option<String>,
    /// Install every `*.wasm` of this directory as a plugin at start (demo: the bundled
    /// plugins, `target/plugins`).
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Install and publish this scenario file (with its prompt files) at start (demo: the
    /// Zama hotline, `examples/zama-mynumber/scenario.json`).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Where compiled plugins are kept, by SHA-256 (default: DATA/plugin-cache). Servers
    /// may share one: writes are atomic, and an artifact from another wasmtime is ignored.
    #[arg(long, env = "MADOGUCHI_PLUGIN_CACHE")]
    plugin_cache: Option<PathBuf>,
}

/// Demo staff: extension, name, password (demo only; the demo binds to loopback).
const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("1001", "マイナンバー係 1", "zama1001"),
    ("1002", "マイナンバー係 2", "zama1002"),
    ("1003", "マイナンバー係 3", "zama1003"),
];

pub fn run(args: ServeArgs, demo: bool) -> Result<()> {
    init_logging();
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if !args.sip.is_empty() {
        cfg.listeners = args
            .sip
            .iter()
            .map(|f| listener_from_flag(f))
            .collect::<Result<_>>()?;
    }
    if let Some(h) = args.http {
        cfg.server.http = h;
    }
    if let Some(h) = args.https {
        cfg.server.https = Some(h);
    }
    if let Some(d) = args.data {
        cfg.server.data_dir = d;
    }
    if !args.digest_algorithms.is_empty() {
        cfg.server.digest_algorithms = args.digest_algorithms;
    }
    cfg.check("command line")?;
    cfg.limits.apply_descriptor_limit();
    if cfg.listeners.is_empty() {
        cfg.listeners
            .push(listener_from_flag("udp:127.0.0.1:5060")?);
        cfg.listeners
            .push(listener_from_flag("tcp:127.0.0.1:5060")?);
        if demo {
            // SIP over TLS with the demo's self-signed certificate (sips:1001@127.0.0.1:5061).
            cfg.listeners
                .push(listener_from_flag("tls:127.0.0.1:5061")?);
        }
    }
    let store = crate::protect::open_store(&cfg.server.data_dir, &cfg.security)?;
    if demo {
        ensure_demo_users(&store, &cfg.server.realm)?;
        ensure_demo_token(&store, &cfg.server.data_dir)?;
        crate::api::demo::ensure_console_admin(&store, &cfg.server.data_dir, cfg.server.http)?;
    }
    let plugin_cache = args
        .plugin_cache
        .clone()
        .unwrap_or_else(|| cfg.server.data_dir.join("plugin-cache"));
    let ivr = IvrParts::open(
        &store,
        &cfg.server.data_dir,
        &plugin_cache,
        args.clock.as_deref(),
    )?;
    let plugins = args
        .plugins
        .or_else(|| demo.then(|| bundled("target/plugins")));
    if let Some(dir) = plugins {
        let n = ivr.install_plugins(&dir)?;
        info!(dir = %dir.display(), new = n, "plugins installed");
    }
    let scenario = args
        .scenario
        .or_else(|| demo.then(|| bundled("examples/zama-mynumber/scenario.json")));
    if let Some(file) = scenario {
        ivr.install_scenario(&file, "madoguchi serve --scenario")?;
    }
    let mut ivr = ivr;
    ivr.ready = match ivr.ivr.refresh() {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "some published scenarios are not live");
            false
        }
    };
    // The demo's call center, unless told otherwise, is staff user 1003 on this server, so
    // a softphone registered as 1003 plays the outsourced call center.
    let demo_callcenter = demo
        .then(|| {
            cfg.listeners
                .iter()
                .find(|l| l.transport == TransportKind::Udp)
        })
        .flatten()
        .map(|l| format!("sip:1003@{}", l.address));
    let callcenter = match args.callcenter_uri.or(demo_callcenter).as_deref() {
        Some(u) => Some(
            madoguchi_sip::parse::parse_uri(u)
                .map_err(|e| anyhow::anyhow!("--callcenter-uri {u:?}: {e}"))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(cfg, store, demo, ivr, callcenter))
}

/// A path of the source tree the demo uses: relative to the working directory, else to the
/// binary (`target/{debug,release}/madoguchi` → the checkout).
fn bundled(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        return here;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(|root| root.join(rel)))
        .filter(|p| p.exists())
        .unwrap_or(here)
}

async fn serve(
    cfg: Config,
    store: Store,
    demo: bool,
    ivr: IvrParts,
    callcenter: Option<madoguchi_sip::message::Uri>,
) -> Result<()> {
    crate::observe::metrics::install();
    metrics::gauge!("madoguchi_up").set(1.0);
    let recordings_dir = cfg.server.data_dir.join("recordings");
    std::fs::create_dir_all(&recordings_dir)
        .with_context(|| format!("cannot create {}", recordings_dir.display()))?;
    crate::observe::metrics::watch_disk(recordings_dir.clone());
    let readiness = crate::observe::health::Readiness::new(
        store.clone(),
        recordings_dir,
        cfg.observe.min_free_disk_mb.saturating_mul(1024 * 1024),
    );
    readiness
        .plugins_loaded
        .store(ivr.ready, std::sync::atomic::Ordering::Relaxed);
    let trace = Arc::new(crate::observe::trace::SipTrace::new(
        cfg.observe.trace_limits(),
    ));
    let stats = Arc::new(EdgeStats::default());
    let conn_gate = transport::conn_limits::ConnGate::new((&cfg.limits).into());
    let (core_tx, core_rx) = mpsc::channel(16_384);
    let mut udp_sockets = Vec::new();
    let mut infos = Vec::new();
    let sender =
        Sender::new(stats.clone()).with_tap(crate::observe::sip_tap::Tap::new(trace.clone()));
    let mut streams = Vec::new();
    let mut certs = crate::tls_setup::TlsCerts::new(&cfg);
    if demo {
        certs.demo_certificate()?;
    }
    for (i, l) in cfg.listeners.iter().enumerate() {
        let acl = Acl::new(&l.allow);
        match l.transport {
            TransportKind::Udp => {
                let sock = Arc::new(
                    UdpSocket::bind(l.address)
                        .await
                        .with_context(|| format!("cannot bind SIP udp:{}", l.address))?,
                );
                let local = sock.local_addr()?;
                info!(listener = %l.name, %local, "SIP listening (udp)");
                udp_sockets.push((local, sock.clone()));
                infos.push(ListenerInfo { local });
                tokio::spawn(transport::udp::run(
                    i,
                    sock,
                    acl,
                    core_tx.clone(),
                    stats.clone(),
                ));
            }
            TransportKind::Tcp => {
                let sock = TcpListener::bind(l.address)
                    .await
                    .with_context(|| format!("cannot bind SIP tcp:{}", l.address))?;
                let local = sock.local_addr()?;
                info!(listener = %l.name, %local, "SIP listening (tcp)");
                infos.push(ListenerInfo { local });
                streams.push((madoguchi_sip::message::Transport::Tcp, local));
                tokio::spawn(transport::tcp::run(
                    i,
                    sock,
                    acl,
                    core_tx.clone(),
                    sender.tcp_table(),
                    stats.clone(),
                    conn_gate.clone(),
                ));
            }
            TransportKind::Ws => {
                let sock = TcpListener::bind(l.address)
                    .await
                    .with_context(|| format!("cannot bind SIP ws:{}", l.address))?;
                let local = sock.local_addr()?;
                info!(listener = %l.name, %local, "SIP listening (ws)");
                infos.push(ListenerInfo { local });
                streams.push((madoguchi_sip::message::Transport::Ws, local));
                tokio::spawn(transport::ws::run(
                    i,
                    sock,
                    acl,
                    core_tx.clone(),
                    sender.tcp_table(),
                    stats.clone(),
                ));
            }
            TransportKind::Tls => {
                let tls = certs.sip_acceptor(l)?;
                let sock = TcpListener::bind(l.address)
                    .await
                    .with_context(|| format!("cannot bind SIP tls:{}", l.address))?;
                let local = sock.local_addr()?;
                info!(listener = %l.name, %local, "SIP listening (tls)");
                infos.push(ListenerInfo { local });
                streams.push((madoguchi_sip::message::Transport::Tls, local));
                tokio::spawn(transport::tls::run(
                    i,
                    sock,
                    acl,
                    tls,
                    core_tx.clone(),
                    sender.tcp_table(),
                    stats.clone(),
                ));
            }
            TransportKind::Wss => {
                let tls = certs.sip_acceptor(l)?;
                let sock = TcpListener::bind(l.address)
                    .await
                    .with_context(|| format!("cannot bind SIP wss:{}", l.address))?;
                let local = sock.local_addr()?;
                info!(listener = %l.name, %local, "SIP listening (wss)");
                infos.push(ListenerInfo { local });
                streams.push((madoguchi_sip::message::Transport::Wss, local));
                tokio::spawn(transport::wss::run(
                    i,
                    sock,
                    acl,
                    tls,
                    core_tx.clone(),
                    sender.tcp_table(),
                    stats.clone(),
                ));
            }
        }
    }
    if udp_sockets.is_empty() {
        bail!("no UDP listener configured: at least one is needed to reach phones");
    }
    let udp_locals: Vec<std::net::SocketAddr> = udp_sockets.iter().map(|(a, _)| *a).collect();
    let trunks = crate::trunks::TrunkHandle::build(&cfg, udp_locals)?;
    readiness
        .listeners_bound
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let sender = sender.with_udp(udp_sockets).with_streams(streams);
    let reg_cfg = RegistrarConfig {
        max_contacts: cfg.registrar.max_contacts,
        default_expires: cfg.registrar.default_expires,
        min_expires: cfg.registrar.min_expires,
        max_expires: cfg.registrar.max_expires,
    };
    let algorithms = cfg
        .server
        .digest_algorithms
        .iter()
        .filter_map(|a| madoguchi_sip::auth::Algorithm::from_token(a))
        .collect();
    let media_store = store.clone();
    let queue_cfgs = if cfg.queues.is_empty() && demo {
        vec![demo_queue()]
    } else {
        cfg.queues.clone()
    };
    let queues = build_queues(&queue_cfgs, &store)?;
    crate::recordings::spawn_reindex(store.clone());
    let call_log = crate::core::call_log::CallLog::new(Some(store.clone()));
    let mut api_state = ivr.api_state(store.clone(), queues.clone());
    api_state.trace = Some(trace.clone());
    api_state.live = Some(call_log.live());
    let acd = queues.acd.clone();
    crate::observe::metrics::on_scrape(Box::new(move || {
        let acd = acd.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        for name in acd.queue_names() {
            if let Some(snap) = acd.snapshot(name, now) {
                let q = snap.queue.clone();
                metrics::gauge!("madoguchi_queue_waiting", "queue" => q.clone())
                    .set(snap.waiting as f64);
                metrics::gauge!("madoguchi_queue_longest_wait_seconds", "queue" => q)
                    .set(snap.longest_wait_ms as f64 / 1000.0);
            }
        }
    }));
    let queue_history =
        QueueHistory::start(store.clone()).context("cannot start the queue history")?;
    let mut registry = Registry::load(
        store,
        &cfg.server.realm,
        algorithms,
        reg_cfg,
        cfg.registrar.guard.guard_config(),
    )?;
    let mut trusted = cfg.sip.trusted_sources.clone();
    trusted.extend(
        cfg.listeners
            .iter()
            .map(|l| ipnet::IpNet::from(l.address.ip())),
    );
    registry.set_trusted(trusted);
    let media = if cfg.media.anchor {
        let (dir, recordings) = crate::protect::recordings_dir(&cfg.server.data_dir)?;
        let ports = cfg.media.rtp_port_min..=cfg.media.rtp_port_max;
        let mut media_cfg = MediaConfig::new(ports.clone(), recordings);
        if cfg.recordings.encrypt {
            media_cfg.recording.seal =
                Some(crate::protect::recording_key(media_store.master_key()));
        }
        let runtime = MediaRuntime::new(media_cfg).context("cannot start the media runtime")?;
        info!(?ports, recordings = %dir.display(), sealed = cfg.recordings.encrypt, "media anchored in the host");
        let mut calls = MediaCalls::new(runtime, media_store);
        calls.srtp =
            crate::core::srtp_rules::SrtpRules::new(cfg.media.srtp, &cfg.media.srtp_required_users);
        Some(calls)
    } else {
        None
    };
    let engine = Engine::new(
        registry,
        sender,
        infos,
        cfg.server.user_agent.clone(),
        cfg.sip.max_transactions,
        media,
        Some(cfg.services.line_test.clone()).filter(|n| !n.is_empty()),
        Some(IvrSetup {
            ivr: ivr.ivr.clone(),
            callcenter,
            acd: queues.acd.clone(),
            queue_kick: queues.kick.clone(),
            queue_login: cfg.services.queue_login.clone(),
            queue_pause: cfg.services.queue_pause.clone(),
            queue_history: Some(queue_history),
        }),
        call_log,
    );
    let api_trunks = trunks.clone();
    let mut engine = engine.with_trunks(trunks);
    engine.set_call_limits(cfg.limits.call_limits());
    let http = TcpListener::bind(cfg.server.http)
        .await
        .with_context(|| format!("cannot bind the admin API on {}", cfg.server.http))?;
    info!(addr = %cfg.server.http, "admin API listening");
    if let Some(addr) = cfg.observe.health_http {
        let probes = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind observe.health_http on {addr}"))?;
        info!(%addr, "health, readiness and metrics listening");
        let app = crate::observe::health::router(readiness.clone());
        tokio::spawn(async move {
            let _ = axum::serve(probes, app).await;
        });
    }
    let phone_ws = cfg
        .listeners
        .iter()
        .find(|l| l.transport == TransportKind::Ws)
        .map(|l| l.address);
    let phone_state = api_state.clone();
    let app = {
        axum::Router::new()
            .route(
                "/api/v1/health",
                axum::routing::get(|| async {
                    axum::Json(
                        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
                    )
                }),
            )
            .merge(crate::observe::health::router(readiness))
            .merge(crate::api::router(api_state))
            .merge(crate::console::router())
            .merge(crate::phone::router(phone_ws, None, phone_state))
            .layer(axum::Extension(api_trunks))
    };
    if let Some(addr) = cfg.server.https {
        crate::tls_setup::serve_https(addr, &mut certs, app.clone()).await?;
    }
    certs.watch();
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(http, app).await;
    });
    if demo {
        info!(
            "demo ready: users 1001, 1002, 1003 (passwords zama1001, zama1002, zama1003) on {}",
            cfg.listeners
                .iter()
                .map(|l| format!("{:?}:{}", l.transport, l.address))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    engine.run(core_rx).await;
    Ok(())
}

/// The demo's city hall section: staff 1001 and 1002, longest idle first; after two
/// minutes the caller goes back to the scenario (its call-center route).
fn demo_queue() -> madoguchi_acd::QueueConfig {
    let mut q =
        madoguchi_acd::QueueConfig::new("mynumber", &["1001", "1002"], QUEUE_FALLBACK_TO_SCENARIO);
    q.max_wait_ms = 120_000;
    q
}

/// The demo's admin API token, in `DATA/admin-token` (owner-only), created once.
fn ensure_demo_token(store: &Store, data_dir: &std::path::Path) -> Result<()> {
    let path = data_dir.join("admin-token");
    if path.exists() {
        return Ok(());
    }
    let (secret, _) = store.create_token(
        madoguchi_store::tokens::Role::Admin,
        "demo",
        "madoguchi demo",
    )?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(&path)?, secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    info!(file = %path.display(), "demo admin API token written");
    Ok(())
}

fn ensure_demo_users(store: &Store, realm: &str) -> Result<()> {
    use madoguchi_sip::auth::{ha1_md5, ha1_sha256};
    for (ext, name, pass) in DEMO_USERS {
        if store.get_user(ext)?.is_none() {
            store.add_user(&UserRecord {
                extension: ext.into(),
                display_name: name.into(),
                realm: realm.into(),
                ha1_md5: ha1_md5(ext, realm, pass),
                ha1_sha256: ha1_sha256(ext, realm, pass),
                created_unix: 0,
                disabled: false,
            })?;
        }
    }
    Ok(())
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: logs are files and pipes in production and tests.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

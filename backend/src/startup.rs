//! Building and running the server: bind, migrate, print the setup link, serve until stopped.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse};
use anyhow::Context as _;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::Db;
use crate::limits::{RedisLimits, SharedLimit};
use crate::realtime::{Hub, LiveVisitors};
use crate::routes;
use crate::services::pageviews::PageViewQueue;
use crate::services::sites::SiteCache;
use crate::services::visitors::{self, GuestDirectory};
use crate::services::{invitations, setup};
use crate::state::AppState;

/// Largest accepted form or JSON body on console and API routes (uploads get their own limit).
const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A bound, ready-to-run Beckon server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    setup_link: Option<String>,
    signals: ShutdownSignals,
    pageview_flusher: tokio::task::JoinHandle<()>,
}

/// SIGTERM and SIGINT, registered when the application is built, so a signal that arrives as soon as
/// the "listening" line is printed already leads to a graceful stop.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> std::io::Result<ShutdownSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

impl Application {
    /// Opens the database (applying migrations), binds the listener and builds the server. Nothing
    /// is served until [`Application::run_until_stopped`].
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        let db = open_database(&settings).await?;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        settings.adopt_bound_address(listener.local_addr()?);
        let port = settings.listen.port();

        let ttl = settings.setup_link_ttl;
        let setup_token = db
            .run(move |conn| Ok(setup::issue_token_if_unset(conn, ttl)))
            .await?
            .context("cannot issue the setup link")?;
        let setup_link = setup_token.map(|t| format!("{}/setup?token={t}", settings.base()));

        let (pageviews, pageview_flusher) = PageViewQueue::start(
            db.clone(),
            settings.pageview_buffer,
            settings.pageview_flush,
        );
        let outbound = Arc::new(
            crate::outbound::worker::Outbound::new(
                settings.outbound.clone(),
                &settings.data_dir,
                db.clone(),
            )
            .context("cannot set up outgoing mail")?,
        );
        let cluster = match &settings.redis_url {
            Some(url) => Some(Arc::new(
                crate::realtime::cluster::ClusterLink::new(url)
                    .context("cannot use the Redis URL")?,
            )),
            None => None,
        };
        // Connected later (`connect_shared_limits`): start-up never waits for Redis.
        let shared_limits = cluster.as_ref().map(|_| Arc::new(RedisLimits::new()));
        let state = AppState {
            cluster,
            availability: Arc::new(crate::services::availability::Availability::new(
                settings.outbound.away_after,
            )),
            outbound,
            socket_caps: Arc::new(crate::realtime::caps::SocketCaps::new(
                settings.max_sockets_per_guest,
                settings.max_sockets_per_ip,
            )),
            login_limit: Arc::new(SharedLimit::per_minute(
                "login",
                settings.login_attempts_per_minute,
                shared_limits.clone(),
            )),
            guest_limit: Arc::new(SharedLimit::per_minute(
                "guest",
                settings.guests_per_minute,
                shared_limits.clone(),
            )),
            offline_limit: Arc::new(SharedLimit::per_hour(
                "offline",
                settings.outbound.offline_messages_per_hour,
                shared_limits.clone(),
            )),
            chat_limits: Arc::new(crate::limits::ChatLimits::new(
                &settings.floods,
                settings.outbound.offline_messages_per_hour,
                shared_limits.clone(),
            )),
            shared_limits,
            settings: Arc::new(settings),
            db,
            hub: Arc::new(Hub::default()),
            live: Arc::new(LiveVisitors::default()),
            guests: Arc::new(GuestDirectory::default()),
            sites: Arc::new(SiteCache::default()),
            pageviews,
            refused_origins: Arc::default(),
        };
        if let Some(link) = &state.cluster {
            tracing::info!(node = %link.node(), "cluster mode: events between nodes go through Redis");
            state.live.attach(link.clone());
            state.availability.attach(link.clone());
        }
        let data = web::Data::new(state.clone());
        let shutdown_timeout = state.settings.shutdown_timeout_secs;
        let app = move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::FormConfig::default().limit(BODY_LIMIT_BYTES))
                .app_data(web::JsonConfig::default().limit(BODY_LIMIT_BYTES))
                .app_data(web::PayloadConfig::default().limit(BODY_LIMIT_BYTES))
                // Inside the logger, so a panic's 500 is logged in the request's span like any other.
                .wrap(crate::panic_guard::CatchPanic)
                .wrap(TracingLogger::<crate::request_span::RequestSpan>::new())
                .configure(routes::configure)
                .default_service(web::to(|| async {
                    HttpResponse::NotFound()
                        .content_type("text/plain; charset=utf-8")
                        .body("not found")
                }))
        };
        let server = crate::edge::serve(listener, app, state.clone(), shutdown_timeout)?;
        let signals = ShutdownSignals::register()?;
        Ok(Application {
            port,
            server,
            state,
            setup_link,
            signals,
            pageview_flusher,
        })
    }

    /// The port actually bound (useful when listening on port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://ADDR:PORT` of the bound socket (may differ from the public base URL behind a proxy).
    pub fn listen_url(&self) -> String {
        let addr = self.state.settings.listen;
        match addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                format!("http://127.0.0.1:{}", addr.port())
            }
            _ => format!("http://{addr}"),
        }
    }

    /// The public base URL in effect.
    pub fn base_url(&self) -> &str {
        self.state.settings.base()
    }

    /// The one-time setup link, when no owner exists yet.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    /// Serves until SIGINT/SIGTERM (graceful: open requests get the shutdown timeout to finish).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            state,
            mut signals,
            pageview_flusher,
            ..
        } = self;
        if let Some(addr) = state.settings.outbound.inbound_smtp_listen {
            if let Err(e) = crate::smtp_listener::start(Arc::new(state.clone()), addr) {
                tracing::error!(error = %e, "mailed replies will not be received");
            }
        }
        let maintenance = tokio::spawn(run_maintenance(state.clone()));
        let domain_checks = tokio::spawn(run_domain_checks(state.clone()));
        let call_timeouts = tokio::spawn(run_call_timeouts(state.clone()));
        let coalescer = tokio::spawn(run_live_updates(state.clone()));
        let trimmer = tokio::spawn(crate::memory::trim_free_memory_periodically());
        let deliveries = tokio::spawn(state.outbound.clone().run());
        let statuses = tokio::spawn(
            state
                .availability
                .clone()
                .watch(state.hub.clone(), state.db.clone()),
        );
        let cluster = state
            .cluster
            .clone()
            .map(|link| tokio::spawn(crate::services::cluster::run(state.clone(), link)));
        let limits_link = match (&state.cluster, &state.shared_limits) {
            (Some(link), Some(limits)) => Some(tokio::spawn(connect_shared_limits(
                link.clone(),
                limits.clone(),
            ))),
            _ => None,
        };
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            signal = signals.recv() => {
                tracing::info!(signal, "shutting down gracefully");
                // Sockets never finish on their own: tell every one to reconnect elsewhere.
                state.hub.close_all_going_away();
                // The stop only completes while the server future is polled, so drive both.
                let (_, result) = tokio::join!(handle.stop(true), server);
                result
            }
        };
        maintenance.abort();
        domain_checks.abort();
        call_timeouts.abort();
        coalescer.abort();
        trimmer.abort();
        // An attempt cut off here keeps its claim until the lease lapses; it is then retried.
        deliveries.abort();
        statuses.abort();
        if let Some(task) = limits_link {
            task.abort();
        }
        if let Some(task) = cluster {
            crate::services::cluster::leave(&state).await;
            task.abort();
        }
        state.pageviews.stop();
        if let Err(e) = pageview_flusher.await {
            tracing::error!(error = %e, "page-view flusher failed");
        }
        result
    }
}

/// Connects to the configured database, creating the data directory for SQLite, and migrates it.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let url = settings.database_url.clone();
    let pool_size = settings.db_pool_size;
    let timeout = settings.db_timeout;
    tokio::task::spawn_blocking(move || {
        let db = Db::connect_with_timeout(&url, pool_size, timeout)?;
        db.migrate()?;
        Ok::<_, anyhow::Error>(db)
    })
    .await
    .context("database start-up task failed")?
}

/// Sends consoles their coalesced visitor-list changes, about once a second.
async fn run_live_updates(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.live.flush(&state.hub);
    }
}

/// Ends calls that rang unanswered for the ring time; a second's tick keeps "missed" close to it.
async fn run_call_timeouts(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        crate::services::calls::end_unanswered(&state).await;
    }
}

/// Checks pending custom-domain claims by themselves now and then, so an owner who put the file in
/// place need not come back to press "Verify now".
async fn run_domain_checks(state: AppState) {
    let options = crate::services::domains::CheckOptions::of(&state.settings.outbound);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match crate::services::domains::check_due(&state.db, options).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(verified = n, "custom domains verified");
                // The site cache holds sites by key; their domain changed.
                state.sites.clear();
            }
            Err(e) => tracing::warn!(error = %e, "could not check custom domains"),
        }
    }
}

/// Cluster mode: opens the shared limits' Redis connection, retrying until Redis answers (the
/// connection then reconnects by itself). Until then every node applies its own limits.
async fn connect_shared_limits(
    link: Arc<crate::realtime::cluster::ClusterLink>,
    limits: Arc<RedisLimits>,
) {
    let mut warned = false;
    loop {
        match link.commands().await {
            Ok(conn) => {
                limits.attach(conn);
                return;
            }
            Err(e) => {
                if !warned {
                    warned = true;
                    tracing::warn!(error = %e, "shared limits: cannot reach Redis; retrying, per-node limits meanwhile");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Periodic housekeeping: forget recovered rate-limit keys, delete expired console sessions,
/// deactivate idle guests, expire ignored invitations and prune stale used identify signatures.
async fn run_maintenance(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tick.tick().await;
        state.login_limit.forget_idle_keys();
        state.guest_limit.forget_idle_keys();
        state.offline_limit.forget_idle_keys();
        state.chat_limits.forget_idle_keys();
        let connected = state.live.connected_visitor_ids();
        let guest_idle = state.settings.guest_idle;
        let deactivated = crate::services::run(&state.db, move |conn| {
            visitors::deactivate_idle_guests(conn, guest_idle, &connected)
        })
        .await;
        match deactivated {
            Ok(n) if n > 0 => {
                tracing::info!(deactivated = n, "idle guest ids deactivated");
                state.guests.clear();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not deactivate idle guests"),
        }
        invitations::expire_and_announce(&state).await;
        let idle = state.settings.session_idle;
        let result = state
            .db
            .write(move |conn| {
                let now = crate::domain::now();
                Ok(crate::db::models::ConsoleSession::delete_expired(
                    conn,
                    now,
                    now - idle,
                )?)
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        let pruned = state
            .db
            .write(|conn| Ok(crate::services::identity::prune_used_signatures(conn)?))
            .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "could not prune used identify signatures");
        }
    }
}

//! `beckon-loadgen`: drives a Beckon server with real HTTP and WebSocket clients over loopback and
//! prints one JSON line per scenario, each figure checked against its target (docs/benchmarks.md).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use beckon_tests::loadgen::guest::GUEST_RETRIES;
use beckon_tests::loadgen::scenarios::{beacon, chat, console, idle, storm};
use beckon_tests::loadgen::target::{self, Target};
use beckon_tests::loadgen::worker::{run_worker, WorkerSpec};
use beckon_tests::loadgen::Env;
use beckon_tests::TestDatabase;
use clap::{Args, Parser, Subcommand};

/// Load generator for Beckon: idle guests, page views, chat, consoles, reconnect storms.
#[derive(Parser)]
#[command(name = "beckon-loadgen")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args)]
struct ServerArgs {
    /// A running Beckon (`http://127.0.0.1:8080`); without it one is started on a fresh
    /// database (the same as `--spawn`).
    #[arg(long, global = true, conflicts_with = "spawn")]
    url: Option<String>,
    /// Start Beckon (the `beckon` binary of this workspace, or `BECKON_BIN`) on a fresh database,
    /// with guest limits lifted, and set it up.
    #[arg(long, global = true)]
    spawn: bool,
    /// With `--spawn`: a PostgreSQL server URL (`postgres://postgres@127.0.0.1:5432/postgres`) on
    /// which a fresh database is created and dropped afterwards. Default: a fresh SQLite file.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// With `--spawn`: one more argument for the server (repeat it: `--server-arg=--db-pool-size=32`).
    #[arg(long, global = true, allow_hyphen_values = true, value_name = "ARG")]
    server_arg: Vec<String>,
    /// With `--url`: the site's public key.
    #[arg(long, global = true)]
    site_key: Option<String>,
    /// With `--url`: the site's id (console `watch` and `conversations` need it).
    #[arg(long, global = true)]
    site_id: Option<String>,
    /// With `--url`: an allowed widget origin of the site.
    #[arg(long, global = true, default_value = target::SHOP_ORIGIN)]
    origin: String,
    /// With `--url`: an operator of the site (console and chat scenarios).
    #[arg(long, global = true, default_value = target::OWNER_EMAIL)]
    email: String,
    /// With `--url`: that operator's password.
    #[arg(long, global = true, env = "BECKON_LOADGEN_PASSWORD", default_value = target::OWNER_PASSWORD)]
    password: String,
    /// With `--url`: the server's process id, for its memory and CPU figures.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Loopback source addresses per process (127.0.0.2, 127.0.0.3, …).
    #[arg(long, global = true, default_value_t = 16)]
    sources: u32,
    /// Worker processes holding idle guests. Default: one per 10 000 guests.
    #[arg(long, global = true)]
    processes: Option<usize>,
    /// Guests set up at a time per process.
    #[arg(long, global = true, default_value_t = 64)]
    concurrency: usize,
}

#[derive(Subcommand)]
enum Scenario {
    /// Guests that each obtain a guest id, send a page view and hold the presence socket.
    Idle {
        /// Guests.
        #[arg(long, default_value_t = 19_000)]
        guests: usize,
        /// Seconds to hold them all (past the server's 25 s ping) before counting drops.
        #[arg(long, default_value_t = 30.0)]
        hold_secs: f64,
    },
    /// Page views over kept-alive connections: back to back (the most the server takes), or at a
    /// fixed total rate (`--rate`: the latency at that load).
    Beacon {
        /// Concurrent connections.
        #[arg(long, default_value_t = 256)]
        connections: usize,
        /// Page views per second over all connections, each connection on its own schedule;
        /// 0 sends back to back.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// Unmeasured seconds before.
        #[arg(long, default_value_t = 2.0)]
        warmup_secs: f64,
    },
    /// Conversations between guests and operator consoles, with idle guests and page views.
    Chat {
        /// Concurrent conversations.
        #[arg(long, default_value_t = 100)]
        conversations: usize,
        /// Messages each side sends.
        #[arg(long, default_value_t = 20)]
        messages: usize,
        /// Milliseconds between two messages of one side.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
        /// Idle guests connected meanwhile.
        #[arg(long, default_value_t = 10_000)]
        idle: usize,
        /// Page views per second meanwhile.
        #[arg(long, default_value_t = 5000.0)]
        page_views_per_sec: f64,
    },
    /// Consoles watching the live visitor list while guests arrive and leave.
    Console {
        /// Console tabs.
        #[arg(long, default_value_t = 50)]
        consoles: usize,
        /// Arrivals plus leaves per second.
        #[arg(long, default_value_t = 200.0)]
        changes_per_sec: f64,
        /// Seconds of arrivals.
        #[arg(long, default_value_t = 20.0)]
        secs: f64,
        /// Milliseconds each guest stays.
        #[arg(long, default_value_t = 1000)]
        stay_ms: u64,
    },
    /// Guests connected, then all reconnect at once.
    Storm {
        /// Guests.
        #[arg(long, default_value_t = 10_000)]
        guests: usize,
        /// Storms in a row; the server's memory is read after each.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Seconds to wait before each memory reading (the server trims its heap every 10 s).
        #[arg(long, default_value_t = 12)]
        memory_settle_secs: u64,
    },
    /// (internal) A worker process holding idle guests; commands on stdin.
    #[command(hide = true)]
    Worker {
        /// The worker's spec as JSON.
        spec: String,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Some(url) = cli.server.database_url.as_deref() {
        // The test harness makes fresh PostgreSQL databases on the server this names.
        std::env::set_var("BECKON_TEST_PG_URL", url);
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    if let Scenario::Worker { spec } = &cli.scenario {
        let result = serde_json::from_str::<WorkerSpec>(spec)
            .context("worker spec")
            .and_then(|spec| runtime.block_on(run_worker(spec)));
        if let Err(e) = result {
            eprintln!("beckon-loadgen worker: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    match runtime.block_on(run(cli)) {
        Ok(result) => println!("{result}"),
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"error": format!("{e:#}"), "pass": false})
            );
            std::process::exit(1);
        }
    }
    // Worker processes and sockets go with the runtime; do not wait for stragglers.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn run(cli: Cli) -> anyhow::Result<serde_json::Value> {
    let s = cli.server;
    let (spawned, target, database) = match &s.url {
        Some(url) => {
            let cookie = match &s.site_id {
                Some(_) => Some(target::login(url, &s.email, &s.password).await?),
                None => None,
            };
            let target = Target::new(
                url,
                s.site_key.as_deref().context("--url needs --site-key")?,
                s.site_id.as_deref().unwrap_or_default(),
                &s.origin,
                cookie,
            )?;
            (None, target, "external")
        }
        None => {
            let (db, label) = match &s.database_url {
                Some(url) if url.starts_with("postgres") => (
                    TestDatabase::postgres("beckon-loadgen")
                        .with_context(|| format!("PostgreSQL at {url} is unavailable"))?,
                    "postgres",
                ),
                Some(other) => bail!("--database-url must be a postgres:// URL, not {other}"),
                None => (TestDatabase::sqlite(), "sqlite"),
            };
            let (server, target) = target::spawn(db, s.server_arg.clone()).await?;
            (Some(server), target, label)
        }
    };
    let env = Env {
        target: Arc::new(target),
        server_pid: spawned.as_ref().map(|p| p.pid).or(s.server_pid),
        sources: s.sources,
        processes: s.processes,
        concurrency: s.concurrency,
    };
    if matches!(
        cli.scenario,
        Scenario::Chat { .. } | Scenario::Console { .. }
    ) && env.target.cookie.is_none()
    {
        bail!("the chat and console scenarios need an operator: give --site-id (and --email/--password)");
    }
    let secs = Duration::from_secs_f64;
    let result = match cli.scenario {
        Scenario::Idle { guests, hold_secs } => {
            idle::run(
                &env,
                &idle::IdleOpts {
                    guests,
                    hold: secs(hold_secs),
                },
            )
            .await
        }
        Scenario::Beacon {
            connections,
            rate,
            secs: s,
            warmup_secs,
        } => {
            let opts = beacon::BeaconOpts {
                connections,
                rate: (rate > 0.0).then_some(rate),
                duration: secs(s),
                warmup: secs(warmup_secs),
            };
            beacon::run(&env, &opts).await
        }
        Scenario::Chat {
            conversations,
            messages,
            interval_ms,
            idle,
            page_views_per_sec,
        } => {
            let opts = chat::ChatOpts {
                conversations,
                messages,
                interval: Duration::from_millis(interval_ms),
                idle,
                page_views_per_sec,
            };
            chat::run(&env, &opts).await
        }
        Scenario::Console {
            consoles,
            changes_per_sec,
            secs: s,
            stay_ms,
        } => {
            let opts = console::ConsoleOpts {
                consoles,
                changes_per_sec,
                duration: secs(s),
                stay: Duration::from_millis(stay_ms),
            };
            console::run(&env, &opts).await
        }
        Scenario::Storm {
            guests,
            rounds,
            memory_settle_secs,
        } => {
            let opts = storm::StormOpts {
                guests,
                rounds,
                memory_settle: Duration::from_secs(memory_settle_secs),
            };
            storm::run(&env, &opts).await
        }
        Scenario::Worker { .. } => unreachable!("handled in main"),
    };
    let mut result = result.inspect_err(|_| {
        if let Some(server) = &spawned {
            let log = server.stderr();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("server stderr (last lines):");
            for line in tail.into_iter().rev() {
                eprintln!("  {line}");
            }
        }
    })?;
    result["database"] = database.into();
    let retries =
        result["guest_retries"].as_u64().unwrap_or(0) + GUEST_RETRIES.load(Ordering::SeqCst);
    result["guest_retries"] = retries.into();
    if let Some(server) = &spawned {
        // Errors the server logged are part of the result: a clean run has none.
        let log = server.stderr();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
        for line in errors.iter().take(5) {
            eprintln!("server: {line}");
        }
        result["server_errors_logged"] = errors.len().into();
    }
    Ok(result)
}

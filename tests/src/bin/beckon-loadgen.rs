//! `beckon-loadgen`: drives a Beckon server with real HTTP and WebSocket clients over loopback and
//! prints one JSON line per scenario, each figure checked against its target (docs/benchmarks.md).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use beckon_tests::loadgen::cluster;
use beckon_tests::loadgen::guest::GUEST_RETRIES;
use beckon_tests::loadgen::scenarios::cluster as cluster_scenario;
use beckon_tests::loadgen::scenarios::{beacon, chat, console, idle, storm};
use beckon_tests::loadgen::target::{self, SpawnedServer, Target};
use beckon_tests::loadgen::worker::{run_worker, WorkerSpec};
use beckon_tests::loadgen::Env;
use beckon_tests::TestDatabase;
use clap::{Args, Parser, Subcommand};

/// Load generator for Beckon: idle guests, page views, chat, consoles, reconnect storms, and chat
/// across the nodes of a cluster.
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
    Chat(ChatArgs),
    /// The `chat` load over several nodes in cluster mode (a Redis between them, one PostgreSQL
    /// database), each guest answered by a console on another node: cross-node latency, and the
    /// CPU per message of the nodes and of Redis. Without `--node-url` it starts its own Redis
    /// (`redis-server` on a free port) and nodes on a fresh PostgreSQL database (`--database-url`
    /// names the server; default `postgres://postgres@127.0.0.1:5432/test`).
    Cluster {
        #[command(flatten)]
        chat: ChatArgs,
        /// Nodes to start.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// A running node (repeat it; with --site-key, --site-id, --email, --password) instead of
        /// starting them.
        #[arg(long, value_name = "URL", conflicts_with = "nodes")]
        node_url: Vec<String>,
        /// With `--node-url`: each node's process id, in the same order, for CPU figures.
        #[arg(long, value_name = "PID")]
        node_pid: Vec<u32>,
        /// With `--node-url`: the Redis server's process id, for its CPU figures.
        #[arg(long, value_name = "PID")]
        redis_pid: Option<u32>,
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

/// The load of `chat` and `cluster`.
#[derive(Args)]
struct ChatArgs {
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
    /// Seconds of background load alone (idle guests, page views) before the messages, for the
    /// server's CPU without them; 0 skips it.
    #[arg(long, default_value_t = 5.0)]
    baseline_secs: f64,
}

impl ChatArgs {
    fn opts(&self) -> chat::ChatOpts {
        chat::ChatOpts {
            conversations: self.conversations,
            messages: self.messages,
            interval: Duration::from_millis(self.interval_ms),
            idle: self.idle,
            page_views_per_sec: self.page_views_per_sec,
            baseline: Duration::from_secs_f64(self.baseline_secs),
        }
    }
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
    if matches!(cli.scenario, Scenario::Cluster { .. }) {
        return run_cluster(cli).await;
    }
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
    if matches!(cli.scenario, Scenario::Chat(_) | Scenario::Console { .. })
        && env.target.cookie.is_none()
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
        Scenario::Chat(args) => chat::run(&env, &args.opts()).await,
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
        Scenario::Worker { .. } | Scenario::Cluster { .. } => unreachable!("handled before"),
    };
    let spawned: Vec<&SpawnedServer> = spawned.iter().collect();
    finish(result, database, &spawned)
}

/// Runs `cluster` on nodes it starts (with their Redis and database) or is given.
async fn run_cluster(cli: Cli) -> anyhow::Result<serde_json::Value> {
    let s = cli.server;
    let Scenario::Cluster {
        chat: args,
        nodes,
        node_url,
        node_pid,
        redis_pid,
    } = cli.scenario
    else {
        unreachable!("called for cluster only")
    };
    if s.url.is_some() {
        bail!("cluster: give the nodes with --node-url, not --url");
    }
    let (spawned, targets, database) = if node_url.is_empty() {
        if s.database_url
            .as_deref()
            .is_some_and(|u| !u.starts_with("postgres"))
        {
            bail!("--database-url must be a postgres:// URL");
        }
        let db = TestDatabase::postgres("beckon-loadgen cluster")
            .context("cluster mode needs PostgreSQL, which is unavailable")?;
        let (cluster, targets) = cluster::spawn(db, nodes, &s.server_arg).await?;
        (Some(cluster), targets, "postgres")
    } else {
        let site_key = s
            .site_key
            .as_deref()
            .context("--node-url needs --site-key")?;
        let site_id = s.site_id.as_deref().context("--node-url needs --site-id")?;
        let cookie = target::login(&node_url[0], &s.email, &s.password).await?;
        let targets = node_url
            .iter()
            .map(|url| Target::new(url, site_key, site_id, &s.origin, Some(cookie.clone())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (None, targets, "external")
    };
    let targets: Vec<Arc<Target>> = targets.into_iter().map(Arc::new).collect();
    let nodes = cluster_scenario::Nodes {
        pids: match &spawned {
            Some(c) => c.node_pids().into_iter().map(Some).collect(),
            None => node_pid.into_iter().map(Some).collect(),
        },
        redis_pid: spawned.as_ref().map(|c| c.redis.pid).or(redis_pid),
        frames: spawned.as_ref().map(|c| {
            Box::new(c.redis.publish_counter()) as Box<dyn Fn() -> Option<u64> + Send + Sync>
        }),
        targets,
    };
    let env = Env {
        target: nodes.targets[0].clone(),
        server_pid: nodes.pids.first().copied().flatten(),
        sources: s.sources,
        processes: s.processes,
        concurrency: s.concurrency,
    };
    let result = cluster_scenario::run(&env, &nodes, &args.opts()).await;
    let servers: Vec<&SpawnedServer> = spawned.iter().flat_map(|c| c.nodes.iter()).collect();
    finish(result, database, &servers)
}

/// Adds what every result carries (database, guest retries, errors the spawned servers logged),
/// or prints the servers' last log lines with an error.
fn finish(
    result: anyhow::Result<serde_json::Value>,
    database: &str,
    servers: &[&SpawnedServer],
) -> anyhow::Result<serde_json::Value> {
    let mut result = result.inspect_err(|_| {
        for server in servers {
            let log = server.stderr();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("server {} stderr (last lines):", server.address);
            for line in tail.into_iter().rev() {
                eprintln!("  {line}");
            }
        }
    })?;
    result["database"] = database.into();
    let retries =
        result["guest_retries"].as_u64().unwrap_or(0) + GUEST_RETRIES.load(Ordering::SeqCst);
    result["guest_retries"] = retries.into();
    if !servers.is_empty() {
        // Errors the servers logged are part of the result: a clean run has none.
        let mut errors = 0;
        for server in servers {
            let log = server.stderr();
            for (i, line) in log.lines().filter(|l| l.contains(" ERROR ")).enumerate() {
                if i < 5 {
                    eprintln!("server {}: {line}", server.address);
                }
                errors += 1;
            }
        }
        result["server_errors_logged"] = errors.into();
    }
    Ok(result)
}

//! Idle guests held by worker processes (the generator re-executing itself), so no process —
//! neither a worker nor the parent — comes near its file-descriptor limit.
//!
//! The parent writes one command per line to each worker's stdin; the worker answers each with
//! one JSON line on stdout:
//! - `add N` → `{"event": "added", "held", "setup_errors", "dropped"}` after adding N guests;
//! - `reconnect` → `{"event": "reconnected", "elapsed_ms", "back", "lost", "reconnect_errors"}`;
//! - `report` → `{"event": "report", …counters}`;
//! - `stop` (or end of input) → `{"event": "stopped", …counters}`, then it exits.

use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::guest::{IdleCounters, IdleSet, GUEST_RETRIES};
use super::net::Sources;
use super::target::Target;

/// What one worker process is given (as JSON on its command line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// The server and site.
    pub target: Target,
    /// First source address, as an offset from 127.0.0.2.
    pub source_offset: u32,
    /// How many source addresses this worker uses.
    pub sources: u32,
    /// Guests set up at a time.
    pub concurrency: usize,
}

/// Runs a worker: reads commands from stdin until `stop` or end of input.
pub async fn run_worker(spec: WorkerSpec) -> anyhow::Result<()> {
    let sources = Sources::loopback(spec.source_offset, spec.sources);
    let mut set = IdleSet::new(Arc::new(spec.target));
    let mut commands = stdin_lines();
    loop {
        let line = commands.recv().await.unwrap_or_else(|| "stop".to_owned());
        let mut words = line.split_whitespace();
        let reply = match words.next() {
            Some("add") => {
                let n: usize = words.next().context("add N")?.parse()?;
                set.add(n, &sources, spec.concurrency).await;
                counters_json("added", set.counters())
            }
            Some("reconnect") => {
                let elapsed = set.reconnect_all().await;
                let c = set.counters();
                json!({
                    "event": "reconnected",
                    "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
                    "back": c.back.load(Ordering::SeqCst),
                    "lost": c.lost.load(Ordering::SeqCst),
                    "reconnect_errors": c.reconnect_errors.load(Ordering::SeqCst),
                })
            }
            Some("report") => counters_json("report", set.counters()),
            Some("stop") => {
                let last = counters_json("stopped", set.counters());
                set.stop().await;
                return answer(&last);
            }
            _ => json!({"event": "error", "message": format!("unknown command {line:?}")}),
        };
        answer(&reply)?;
    }
}

/// Lines of stdin, read on a thread of their own (tokio's stdin needs a feature this crate
/// does not enable, and a blocking read must not hold a runtime thread).
fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Writes one answer line to stdout.
fn answer(value: &Value) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")?;
    out.flush()?;
    Ok(())
}

fn counters_json(event: &str, c: &IdleCounters) -> Value {
    json!({
        "event": event,
        "held": c.held.load(Ordering::SeqCst),
        "setup_errors": c.setup_errors.load(Ordering::SeqCst),
        "dropped": c.dropped.load(Ordering::SeqCst),
        "reconnect_errors": c.reconnect_errors.load(Ordering::SeqCst),
        "guest_retries": GUEST_RETRIES.load(Ordering::SeqCst),
    })
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// Worker processes holding idle guests between them.
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// Starts `processes` workers of this executable against `target`, each with its own
    /// `sources_each` source addresses (after `source_base`).
    pub fn spawn(
        target: &Target,
        processes: usize,
        source_base: u32,
        sources_each: u32,
        concurrency: usize,
    ) -> anyhow::Result<Workers> {
        let exe = std::env::current_exe().context("own executable")?;
        let mut workers = Vec::new();
        for i in 0..processes.max(1) {
            let spec = WorkerSpec {
                target: target.clone(),
                source_offset: source_base + i as u32 * sources_each,
                sources: sources_each,
                concurrency,
            };
            let mut child = tokio::process::Command::new(&exe)
                .arg("worker")
                .arg(serde_json::to_string(&spec)?)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .context("start a worker process")?;
            let stdin = child.stdin.take().context("worker stdin")?;
            let stdout = BufReader::new(child.stdout.take().context("worker stdout")?).lines();
            workers.push(Worker {
                child,
                stdin,
                stdout,
            });
        }
        Ok(Workers { workers })
    }

    /// How many workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Sends `command(i)` to worker `i` (all first, so they work at once) and collects their answers.
    pub async fn each(&mut self, command: impl Fn(usize) -> String) -> anyhow::Result<Vec<Value>> {
        for (i, w) in self.workers.iter_mut().enumerate() {
            w.stdin
                .write_all(format!("{}\n", command(i)).as_bytes())
                .await?;
            w.stdin.flush().await?;
        }
        let mut answers = Vec::new();
        for w in &mut self.workers {
            let Some(line) = w.stdout.next_line().await? else {
                bail!("a worker process ended unexpectedly");
            };
            answers.push(serde_json::from_str(&line).context("worker answer")?);
        }
        Ok(answers)
    }

    /// Splits `total` guests over the workers and adds them; the workers' answers.
    pub async fn add(&mut self, total: usize) -> anyhow::Result<Vec<Value>> {
        let n = self.workers.len();
        self.each(|i| format!("add {}", total / n + usize::from(i < total % n)))
            .await
    }

    /// Stops every worker; their last counters.
    pub async fn stop(mut self) -> anyhow::Result<Vec<Value>> {
        let answers = self.each(|_| "stop".to_owned()).await?;
        for w in &mut self.workers {
            let _ = w.child.wait().await;
        }
        Ok(answers)
    }
}

/// Sums the field `key` over worker answers.
pub fn sum(answers: &[Value], key: &str) -> u64 {
    answers.iter().filter_map(|a| a[key].as_u64()).sum()
}

/// The largest `key` over worker answers.
pub fn max(answers: &[Value], key: &str) -> f64 {
    answers
        .iter()
        .filter_map(|a| a[key].as_f64())
        .fold(0.0, f64::max)
}

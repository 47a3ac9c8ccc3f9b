//! What the server process costs, read from `/proc`: resident memory and CPU time.

use std::time::Instant;

/// Resident set size of `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// The anonymous part of the resident set (`RssAnon`: heap and stacks, what the process itself
/// allocated) in KiB. The rest of `VmRSS` is file pages mapped in (the binary, and SQLite's
/// database file read through mmap), which the kernel's page cache holds either way.
pub fn rss_anon_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "RssAnon")
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User plus system CPU time of `pid` in seconds (`utime` + `stime` of `/proc/PID/stat`).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted from `state` (field 3) at index 0.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The machine's count of connections dropped because a listen queue was full
/// (`TcpExt: ListenOverflows` of `/proc/net/netstat`; system-wide).
pub fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let i = names
            .split_whitespace()
            .position(|n| n == "ListenOverflows")?;
        return values.split_whitespace().nth(i)?.parse().ok();
    }
    None
}

/// Measures the server's CPU use over an interval, as a percentage of one core.
pub struct CpuMeter {
    pid: Option<u32>,
    start: Option<(Instant, f64)>,
}

impl CpuMeter {
    /// Starts measuring `pid` (nothing is measured without one).
    pub fn start(pid: Option<u32>) -> CpuMeter {
        let start = pid.and_then(cpu_seconds).map(|s| (Instant::now(), s));
        CpuMeter { pid, start }
    }

    /// Percent of one core used since the start.
    pub fn percent(&self) -> Option<f64> {
        let (at, before) = self.start?;
        let now = cpu_seconds(self.pid?)?;
        let wall = at.elapsed().as_secs_f64();
        (wall > 0.0).then(|| (now - before) / wall * 100.0)
    }

    /// CPU seconds used since the start (user plus system).
    pub fn seconds(&self) -> Option<f64> {
        let (_, before) = self.start?;
        Some(cpu_seconds(self.pid?)? - before)
    }
}

/// The machine's CPU time stolen by the hypervisor over an interval, as a percentage of all CPU
/// time: on a shared virtual machine a latency tail can be the neighbours', and a figure measured
/// while much was stolen says more about them than about the server.
pub struct StealMeter {
    start: Option<CpuTimes>,
}

/// `(steal, total)` jiffies from the first line of `/proc/stat`.
type CpuTimes = (u64, u64);

fn cpu_times() -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_times(stat.lines().next()?)
}

/// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`: guest time is already
/// counted in user time, so the total is the first eight.
fn parse_cpu_times(line: &str) -> Option<CpuTimes> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let steal = *values.get(7)?;
    Some((steal, values.iter().sum()))
}

impl StealMeter {
    /// Starts measuring (nothing is measured where `/proc/stat` cannot be read).
    pub fn start() -> StealMeter {
        StealMeter { start: cpu_times() }
    }

    /// Percent of the machine's CPU time stolen since the start.
    pub fn percent(&self) -> Option<f64> {
        let (steal0, total0) = self.start?;
        let (steal1, total1) = cpu_times()?;
        let total = total1.checked_sub(total0)?;
        (total > 0).then(|| steal1.saturating_sub(steal0) as f64 / total as f64 * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_eighth_field_of_the_cpu_line() {
        let line = "cpu  100 0 50 800 10 0 5 35 20 0";
        assert_eq!(parse_cpu_times(line), Some((35, 1000)));
        assert_eq!(parse_cpu_times("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse_cpu_times("cpu  1 2 3"), None);
    }

    #[test]
    fn this_machine_reports_steal() {
        let meter = StealMeter::start();
        // Long enough for the kernel's 100 Hz counters to move on a machine at rest.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let stolen = meter.percent().expect("/proc/stat is readable on Linux");
        assert!((0.0..=100.0).contains(&stolen));
    }
}

//! Latency samples, and results checked against their targets.

use std::time::Duration;

use serde_json::{json, Value};

/// Latency samples in microseconds; percentiles are exact (the samples are sorted on demand).
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u32>,
}

impl Latencies {
    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        self.micros
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds another set of samples.
    pub fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The `p`-th percentile (0–100) in milliseconds, nearest-rank; `None` without samples.
    pub fn percentile_ms(&mut self, p: f64) -> Option<f64> {
        if self.micros.is_empty() {
            return None;
        }
        self.micros.sort_unstable();
        let rank = ((p / 100.0) * self.micros.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.micros.len()) - 1;
        Some(round3(f64::from(self.micros[i]) / 1000.0))
    }

    /// `{"p50_ms", "p99_ms", "max_ms", "samples"}`.
    pub fn summary(&mut self) -> Value {
        json!({
            "samples": self.len(),
            "p50_ms": self.percentile_ms(50.0),
            "p99_ms": self.percentile_ms(99.0),
            "max_ms": self.percentile_ms(100.0),
        })
    }
}

/// Rounds to one decimal for printing.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to three decimals for printing.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Whether a measured value must stay at least or at most its target.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// value ≥ target.
    AtLeast,
    /// value ≤ target.
    AtMost,
}

/// The checks of one result.
#[derive(Debug, Default)]
pub struct Targets {
    checks: Vec<Value>,
    all_pass: bool,
    any: bool,
}

impl Targets {
    /// Checks `value` (missing counts as a failure) against `target`.
    pub fn check(&mut self, metric: &str, value: Option<f64>, bound: Bound, target: f64) {
        let pass = value.is_some_and(|v| match bound {
            Bound::AtLeast => v >= target,
            Bound::AtMost => v <= target,
        });
        let op = match bound {
            Bound::AtLeast => ">=",
            Bound::AtMost => "<=",
        };
        self.all_pass = if self.any {
            self.all_pass && pass
        } else {
            pass
        };
        self.any = true;
        self.checks.push(json!({
            "metric": metric,
            "value": value.map(round3),
            "target": format!("{op} {target}"),
            "pass": pass,
        }));
    }

    /// Adds `targets` (the list) and `pass` (all of them held) to a result object.
    pub fn into_result(self, mut result: Value) -> Value {
        result["targets"] = Value::Array(self.checks);
        result["pass"] = Value::Bool(self.any && self.all_pass);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile_ms(50.0), Some(50.0));
        assert_eq!(l.percentile_ms(99.0), Some(99.0));
        assert_eq!(l.percentile_ms(100.0), Some(100.0));
    }

    #[test]
    fn one_failed_check_fails_the_result() {
        let mut t = Targets::default();
        t.check("a", Some(5.0), Bound::AtMost, 10.0);
        t.check("b", Some(5.0), Bound::AtLeast, 10.0);
        let r = t.into_result(json!({}));
        assert_eq!(r["pass"], false);
        assert_eq!(r["targets"][0]["pass"], true);
    }
}

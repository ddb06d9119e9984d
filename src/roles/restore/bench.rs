//! `--bench N`: median and minimum per stage over N runs after one warm-up, in the JSON
//! shape and table layout of the reference's `--bench`.

use facefix_worker::pipeline::{Restored, Timings};
use serde::Serialize;
use std::collections::BTreeMap;

/// `--bench` results: median and minimum per stage, ms.
#[derive(Debug, Clone, Serialize)]
pub struct Bench {
    pub runs: usize,
    pub warmup: usize,
    pub stages_ms: BTreeMap<&'static str, StageStat>,
}

/// Median and minimum of one stage.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StageStat {
    pub median: f64,
    pub min: f64,
}

const STAGES: [&str; 7] = [
    "decode", "detect", "align", "restore", "paste", "encode", "total",
];

fn stage(t: &Timings, name: &str) -> f64 {
    match name {
        "decode" => t.decode,
        "detect" => t.detect,
        "align" => t.align,
        "restore" => t.restore,
        "paste" => t.paste,
        "encode" => t.encode,
        _ => t.total,
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

impl Bench {
    pub fn from_runs(runs: &[Timings]) -> Self {
        let stages_ms = STAGES
            .iter()
            .map(|name| {
                let mut v: Vec<f64> = runs.iter().map(|t| stage(t, name)).collect();
                v.sort_by(f64::total_cmp);
                let stat = StageStat {
                    median: median(&v),
                    min: v.first().copied().unwrap_or(0.0),
                };
                (*name, stat)
            })
            .collect();
        Self {
            runs: runs.len(),
            warmup: 1,
            stages_ms,
        }
    }

    /// The same table `facefix_ref.py --bench` prints.
    pub fn table(&self, input_name: &str, r: &Restored) -> String {
        let mut s = format!(
            "bench: {} runs after 1 warm-up, {input_name}, {} face(s), {}x{} -> {}x{}\n{:<8} {:>10} {:>10}\n",
            self.runs,
            r.faces.len(),
            r.input_width,
            r.input_height,
            r.width,
            r.height,
            "stage",
            "median ms",
            "min ms"
        );
        for name in STAGES {
            if let Some(st) = self.stages_ms.get(name) {
                s.push_str(&format!("{name:<8} {:>10.2} {:>10.2}\n", st.median, st.min));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_minimum_per_stage() {
        let run = |total| Timings {
            total,
            ..Timings::default()
        };
        let bench = Bench::from_runs(&[run(30.0), run(10.0), run(20.0), run(40.0)]);
        let total = bench.stages_ms["total"];
        assert_eq!((total.median, total.min), (25.0, 10.0));
        assert_eq!(bench.runs, 4);
    }
}

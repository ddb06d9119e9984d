//! Wall-time measurement in the unit job records, logs and benchmarks report.

use std::time::Instant;

/// Milliseconds since `start`, with sub-millisecond precision.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_milliseconds() {
        let start = Instant::now() - Duration::from_millis(250);
        let ms = elapsed_ms(start);
        assert!((250.0..10_000.0).contains(&ms), "{ms}");
    }
}

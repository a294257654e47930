//! The run history: one [`RunRecord`] per `qa-pipe run` in an append-only log in the store
//! (`artifacts/runs/log.jsonl`), the runs a user pinned, what two runs differ in, and the
//! set of artifacts `gc` must keep because a pipeline, a recent run or a pin references them.

pub mod compare;
pub mod keep;
pub mod log;
pub mod pins;
pub mod record;
pub mod refs;

pub use keep::{keep_set, KeepRules, KeepSet, Reason};
pub use log::RunLog;
pub use pins::Pins;
pub use record::{RunRecord, StageEntry};

use std::path::{Path, PathBuf};

/// Where the history lives in a store: `artifacts/runs/`.
pub fn dir(store_root: &Path) -> PathBuf {
    store_root.join("runs")
}

/// `2026-12-02 00:19:06` (UTC) for a Unix time, without a date crate: the days-to-civil
/// conversion of Howard Hinnant's `chrono`-compatible algorithm.
pub fn utc(unix: f64) -> String {
    let secs = unix.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `3.2 s`, `4 min 5 s`, `2 h 3 min`, `5 d` for an age or a duration.
pub fn human_duration(s: f64) -> String {
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else if s < 86_400.0 {
        format!(
            "{} h {} min",
            (s / 3600.0) as u64,
            (s % 3600.0 / 60.0) as u64
        )
    } else {
        format!("{} d", (s / 86_400.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_like_date() {
        // `date -u -d @1764634746 '+%F %T'` prints 2025-12-02 00:19:06.
        assert_eq!(utc(1_764_634_746.0), "2025-12-02 00:19:06");
        assert_eq!(utc(0.0), "1970-01-01 00:00:00");
        // A leap day: `date -u -d @1709164800 '+%F %T'` -> 2024-02-29 00:00:00.
        assert_eq!(utc(1_709_164_800.0), "2024-02-29 00:00:00");
    }
}

//! What a run shows while it works: bars on a terminal (indicatif), plain lines otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::outcome::Status;

pub enum Event<'a> {
    Start {
        stage: &'a str,
    },
    Unit {
        stage: &'a str,
        done: usize,
        total: usize,
    },
    Finish {
        stage: &'a str,
        status: &'a Status,
        duration_s: f64,
        units_run: usize,
        units_total: usize,
    },
}

pub trait Progress: Sync {
    fn event(&self, e: Event<'_>);
}

pub struct Quiet;
impl Progress for Quiet {
    fn event(&self, _: Event<'_>) {}
}

/// One line per finished stage on stderr; with `verbose`, starts and units too.
pub struct Lines {
    pub verbose: bool,
}

impl Progress for Lines {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::Start { stage } if self.verbose => eprintln!("{:>8} {stage}", "running"),
            Event::Unit { stage, done, total } if self.verbose => {
                eprintln!("{:>8} {stage} [{done}/{total}]", "unit")
            }
            Event::Finish {
                stage,
                status,
                duration_s,
                units_run,
                units_total,
            } => eprintln!(
                "{}",
                line(stage, status, duration_s, units_run, units_total)
            ),
            _ => {}
        }
    }
}

pub fn line(
    stage: &str,
    status: &Status,
    duration_s: f64,
    units_run: usize,
    units_total: usize,
) -> String {
    let units = if units_total > 0 {
        format!(" ({units_run}/{units_total} units computed)")
    } else {
        String::new()
    };
    match status {
        Status::Cached => format!("{:>8} {stage}", "cached"),
        Status::Ran => format!("{:>8} {stage} in {}{units}", "done", secs(duration_s)),
        Status::Failed(msg) => format!("{:>8} {stage} after {}: {msg}", "FAILED", secs(duration_s)),
        Status::Skipped(why) => format!("{:>8} {stage}: {why}", "skipped"),
        Status::NotSelected => format!("{:>8} {stage} (not selected)", "-"),
        Status::WouldRun(why) => format!("{:>8} {stage}: {why}", "would run"),
    }
}

pub fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.1} s")
    }
}

/// A spinner per running stage; finished stages leave a line above them.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bars {
    fn event(&self, e: Event<'_>) {
        let mut bars = self.bars.lock().expect("bars lock");
        match e {
            Event::Start { stage } => {
                let pb = self.multi.add(ProgressBar::new_spinner());
                pb.set_style(
                    ProgressStyle::with_template("{spinner} running {msg} {elapsed}")
                        .expect("template"),
                );
                pb.set_message(stage.to_string());
                pb.enable_steady_tick(Duration::from_millis(120));
                bars.insert(stage.to_string(), pb);
            }
            Event::Unit { stage, done, total } => {
                if let Some(pb) = bars.get(stage) {
                    pb.set_message(format!("{stage} [{done}/{total}]"));
                }
            }
            Event::Finish {
                stage,
                status,
                duration_s,
                units_run,
                units_total,
            } => {
                if let Some(pb) = bars.remove(stage) {
                    pb.finish_and_clear();
                    self.multi.remove(&pb);
                }
                let _ = self
                    .multi
                    .println(line(stage, status, duration_s, units_run, units_total));
            }
        }
    }
}

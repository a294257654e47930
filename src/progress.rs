//! What a run shows while it works: on a terminal a bar per running stage (its units or
//! the stage's own count of work, with an ETA) and a total line; plain lines otherwise.
//! Stages report their own work through [`Ticks`], which knows nothing of what it counts.

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
    /// A stage's own count of work ([`Ticks`]) in one piece of it: unit `piece`, or the
    /// stage's own step (`None`).
    Work {
        stage: &'a str,
        piece: Option<usize>,
        what: &'static str,
        done: u64,
        total: u64,
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

/// How a running stage says how far it is, in its own units of work (`what`: "epochs",
/// "sentences", "iterations"): `done` of `total` in the piece it is running (one unit, or
/// the stage's own step). Called as often as is natural; the display rate-limits itself.
pub trait Ticks: Sync {
    fn tick(&self, what: &'static str, done: u64, total: u64);
}

/// For running a piece with nobody watching (`exec`, tests).
pub struct NoTicks;
impl Ticks for NoTicks {
    fn tick(&self, _: &'static str, _: u64, _: u64) {}
}

/// The ticks of one piece of a stage, passed on to the run's progress as [`Event::Work`].
pub struct PieceTicks<'a> {
    pub progress: &'a dyn Progress,
    pub stage: &'a str,
    pub piece: Option<usize>,
}

impl Ticks for PieceTicks<'_> {
    fn tick(&self, what: &'static str, done: u64, total: u64) {
        self.progress.event(Event::Work {
            stage: self.stage,
            piece: self.piece,
            what,
            done,
            total,
        });
    }
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

/// How far a running stage is, from the scheduler's unit counts and the stage's ticks.
#[derive(Debug, Default, Clone)]
pub struct Work {
    pub units_done: usize,
    pub units_total: usize,
    /// Each ticking piece's latest (done, total).
    pieces: BTreeMap<Option<usize>, (u64, u64)>,
    what: &'static str,
}

impl Work {
    pub fn tick(&mut self, piece: Option<usize>, what: &'static str, done: u64, total: u64) {
        self.what = what;
        self.pieces.insert(piece, (done.min(total), total));
    }

    /// (done, total, what) for the bar: in the stage's own units of work once a piece has
    /// ticked, else in units; `None` for a stage that reports neither. Units that have not
    /// ticked yet are assumed to weigh what the ticking ones do on average; units done
    /// without ticking (found in the store) count for nothing.
    pub fn count(&self) -> Option<(u64, u64, &'static str)> {
        if self.pieces.is_empty() {
            return (self.units_total > 0).then_some((
                self.units_done as u64,
                self.units_total as u64,
                "units",
            ));
        }
        let done: u64 = self.pieces.values().map(|p| p.0).sum();
        let total: u64 = self.pieces.values().map(|p| p.1).sum();
        let ticked_units = self.pieces.keys().filter(|k| k.is_some()).count();
        let finished_ticking = self
            .pieces
            .iter()
            .filter(|(k, (d, t))| k.is_some() && d == t)
            .count();
        let done_silently = self.units_done.saturating_sub(finished_ticking);
        let left = self
            .units_total
            .saturating_sub(ticked_units + done_silently) as u64;
        let mean = if ticked_units > 0 {
            self.pieces
                .iter()
                .filter(|(k, _)| k.is_some())
                .map(|(_, p)| p.1)
                .sum::<u64>()
                / ticked_units as u64
        } else {
            0
        };
        Some((done, total + left * mean, self.what))
    }
}

/// The total line's count, after the elapsed time: `3/11 stages done`.
pub fn stages_done(done: usize, total: usize) -> String {
    format!("{done}/{total} stages done")
}

/// A bar per running stage (units or its own ticks, with an ETA, or a spinner when it
/// reports neither) and the total line below them; finished stages leave a line above.
pub struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    state: Mutex<BarsState>,
}

#[derive(Default)]
struct BarsState {
    running: BTreeMap<String, (ProgressBar, Work)>,
    done: usize,
    stages: usize,
}

impl Bars {
    /// Bars on stderr for a run of `stages` stages.
    pub fn new(stages: usize) -> Bars {
        Bars::with_target(ProgressDrawTarget::stderr(), stages)
    }

    pub fn with_target(target: ProgressDrawTarget, stages: usize) -> Bars {
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(ProgressBar::new_spinner());
        total.set_style(
            ProgressStyle::with_template("   total {elapsed}, {msg}").expect("template"),
        );
        total.enable_steady_tick(Duration::from_millis(500));
        let bars = Bars {
            multi,
            total,
            state: Mutex::new(BarsState {
                stages,
                ..Default::default()
            }),
        };
        bars.draw_total(&bars.state.lock().expect("bars lock"));
        bars
    }

    fn draw_total(&self, st: &BarsState) {
        self.total.set_message(stages_done(st.done, st.stages));
    }

    fn spinner_style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner} {prefix} {elapsed}").expect("template")
    }

    fn bar_style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:24}] {pos}/{len} {msg}, {elapsed}, ETA {eta}",
        )
        .expect("template")
        .progress_chars("=> ")
    }

    fn show(pb: &ProgressBar, work: &Work) {
        if let Some((done, total, what)) = work.count() {
            if pb.length().is_none() {
                pb.set_style(Bars::bar_style());
            }
            pb.set_length(total);
            pb.set_position(done);
            pb.set_message(what);
        }
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Progress for Bars {
    fn event(&self, e: Event<'_>) {
        let mut st = self.state.lock().expect("bars lock");
        match e {
            Event::Start { stage } => {
                // Above the total line, which stays last.
                let pb = self
                    .multi
                    .insert_before(&self.total, ProgressBar::no_length());
                pb.set_style(Bars::spinner_style());
                pb.set_prefix(stage.to_string());
                pb.enable_steady_tick(Duration::from_millis(120));
                st.running.insert(stage.to_string(), (pb, Work::default()));
            }
            Event::Unit { stage, done, total } => {
                if let Some((pb, work)) = st.running.get_mut(stage) {
                    (work.units_done, work.units_total) = (done, total);
                    Bars::show(pb, work);
                }
            }
            Event::Work {
                stage,
                piece,
                what,
                done,
                total,
            } => {
                if let Some((pb, work)) = st.running.get_mut(stage) {
                    work.tick(piece, what, done, total);
                    Bars::show(pb, work);
                }
            }
            Event::Finish {
                stage,
                status,
                duration_s,
                units_run,
                units_total,
            } => {
                if let Some((pb, _)) = st.running.remove(stage) {
                    pb.finish_and_clear();
                    self.multi.remove(&pb);
                }
                st.done += 1;
                let _ = self
                    .multi
                    .println(line(stage, status, duration_s, units_run, units_total));
            }
        }
        self.draw_total(&st);
        if st.stages > 0 && st.done == st.stages {
            self.total.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn work_counts_units_until_a_stage_ticks() {
        let mut w = Work {
            units_done: 2,
            units_total: 5,
            ..Default::default()
        };
        assert_eq!(w.count(), Some((2, 5, "units")));
        assert_eq!(Work::default().count(), None);
        // One piece of a stage without units: its own count.
        let mut single = Work::default();
        single.tick(None, "sentences", 96, 400);
        assert_eq!(single.count(), Some((96, 400, "sentences")));

        // Two of five units were found in the store (done without ticking); two run, one
        // has not started: it is assumed as long as the running ones on average.
        w.tick(Some(2), "epochs", 30, 100);
        w.tick(Some(3), "epochs", 10, 100);
        assert_eq!(w.count(), Some((40, 300, "epochs")));
        // A finished ticking unit is not counted twice once the scheduler counts it done.
        w.tick(Some(2), "epochs", 100, 100);
        w.units_done = 3;
        assert_eq!(w.count(), Some((110, 300, "epochs")));
    }

    /// A terminal that keeps what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.write_line(s)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bars_show_a_stage_count_with_eta_and_the_total_line() {
        let screen = Screen::default();
        let bars = Bars::with_target(
            ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), 200),
            2,
        );
        bars.event(Event::Start { stage: "train" });
        bars.event(Event::Unit {
            stage: "train",
            done: 0,
            total: 2,
        });
        for done in [10, 20, 30] {
            std::thread::sleep(Duration::from_millis(20));
            bars.event(Event::Work {
                stage: "train",
                piece: Some(0),
                what: "epochs",
                done,
                total: 100,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
        bars.event(Event::Finish {
            stage: "data",
            status: &Status::Cached,
            duration_s: 0.0,
            units_run: 0,
            units_total: 0,
        });
        let text = screen.0.lock().unwrap().join("\n");
        assert!(
            text.contains("train [") && text.contains("30/200 epochs") && text.contains("ETA"),
            "{text}"
        );
        assert!(text.contains("  cached data"), "{text}");
        assert!(text.contains("   total 0s, 1/2 stages done"), "{text}");
    }
}

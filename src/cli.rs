//! The command line, as one clap derive.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "qa-pipe", version, about = "Declarative, cached ML experiment pipelines", long_about = None)]
pub struct Cli {
    /// Run as if started in DIR (the project folder holding pipelines/, stages/, artifacts/).
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail: why each stage runs, unit progress.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// The shared store behind artifacts/: s3://bucket/prefix, gs://, az://, file:///path,
    /// or `local` for none (default: `store:` in qa-pipe.yaml). Credentials come from the
    /// environment (README "The shared store").
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a pipeline: stages whose key has a verified artifact are reused, the rest computed.
    Run {
        /// Pipeline file (default: pipelines/report.yaml, or the only file in pipelines/).
        pipeline: Option<PathBuf>,
        /// Only these stages (and what they need).
        #[arg(long, num_args = 1.., value_name = "STAGE")]
        only: Vec<String>,
        /// Recompute these stages (and their dependents) even when cached.
        #[arg(long, num_args = 1.., value_name = "STAGE")]
        force: Vec<String>,
        /// Show what would run and why, without running it.
        #[arg(long)]
        dry_run: bool,
        /// Worker threads (default: number of cores).
        #[arg(short, long, value_name = "N")]
        jobs: Option<usize>,
        /// Override a pipeline variable: NAME=VALUE (YAML, e.g. seeds=[1,2]).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Override a stage param: STAGE.PARAM=VALUE (YAML; dotted paths into nested params, e.g. grid.base.epochs=40).
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        sets: Vec<String>,
        /// A JSON summary on stdout, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Which stages would run and exactly why.
    Status {
        pipeline: Option<PathBuf>,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Override a stage param: STAGE.PARAM=VALUE (YAML; dotted paths into nested params, e.g. grid.base.epochs=40).
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the stage graph.
    Dag {
        pipeline: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// Print a stage's artifact as a table, or its path.
    Show {
        /// Stage name.
        stage: String,
        /// Pipeline the stage belongs to.
        #[arg(short, long)]
        pipeline: Option<PathBuf>,
        /// Which table (default: the first).
        #[arg(short, long)]
        table: Option<String>,
        /// Rows to print.
        #[arg(long, default_value_t = 10)]
        head: usize,
        /// Print the artifact's directory instead.
        #[arg(long)]
        path: bool,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Override a stage param: STAGE.PARAM=VALUE (YAML; dotted paths into nested params, e.g. grid.base.epochs=40).
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        sets: Vec<String>,
    },
    /// List the pipeline as jobs addressed by key (every unit and stage, with the keys it
    /// needs and its wave), for running them one process at a time (`exec`).
    Jobs {
        pipeline: Option<PathBuf>,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Override a stage param: STAGE.PARAM=VALUE (YAML; dotted paths into nested params, e.g. grid.base.epochs=40).
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        sets: Vec<String>,
        /// Only jobs without a verified artifact.
        #[arg(long)]
        todo: bool,
        /// JSON on stdout, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run one job (a unit or a stage) by key; its inputs must already be in the store.
    /// Prints the artifact's directory.
    Exec {
        /// The job's key, as `qa-pipe jobs` lists it.
        key: String,
        /// Pipeline the job belongs to.
        #[arg(short, long)]
        pipeline: Option<PathBuf>,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Override a stage param: STAGE.PARAM=VALUE (YAML; dotted paths into nested params, e.g. grid.base.epochs=40).
        #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
        sets: Vec<String>,
    },
    /// Remove artifacts that nothing keeps, from artifacts/ and from the shared store
    /// (`--store`), if any: the pipelines under pipelines/ (default vars), the last N runs
    /// of the run log and pinned runs keep theirs.
    Gc {
        /// List what would be removed (stage, pipeline, size, age) without removing it.
        #[arg(long)]
        dry_run: bool,
        /// How many of the latest runs in the log keep their artifacts.
        #[arg(long, value_name = "N", default_value_t = 10)]
        keep_runs: usize,
        /// Spare artifacts written less than this many minutes ago (writers to a shared
        /// store hold no lock). Default: 60 in a shared store, 0 in artifacts/ (which `gc`
        /// locks).
        #[arg(long, value_name = "MINUTES")]
        grace: Option<u64>,
    },
    /// The run history: one row per run, the params that differ between them as columns,
    /// headline metrics, time and commit.
    Runs {
        /// Only runs of this pipeline (its file or name).
        pipeline: Option<String>,
        /// Show the last N runs (default 20; 0: every run).
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// Every variable, --set value and metric as a column, not just those that differ.
        #[arg(long)]
        all: bool,
        /// The records as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two runs: params (from what to what), stages whose key changed,
    /// metrics side by side with the delta. Default: the last two runs of the pipeline.
    Diff {
        /// A run: its id (or a unique prefix), a pin's name, or last, last~1, ... With one run
        /// given, it is compared with the run of its pipeline before it.
        run_a: Option<String>,
        /// The second run (default: the latest).
        run_b: Option<String>,
        /// Pipeline whose runs `last` and the defaults mean (default: the default pipeline).
        #[arg(short, long)]
        pipeline: Option<PathBuf>,
        /// JSON on stdout, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Write an HTML report comparing two runs: both runs' curves on the same axes, the
    /// params diff and the metrics diff. Prints its path.
    Report {
        /// The two runs (ids, unique prefixes, pin names, last, last~1, ...).
        #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"], required = true)]
        compare: Vec<String>,
        /// Where to write it (default: artifacts/compare/RUN_A-RUN_B.html).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Keep a run's artifacts through every gc.
    Pin {
        /// The run (id, unique prefix, last, last~1, ...).
        run: String,
        /// A name to refer to it by (default: its id).
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a pin (by the pin's name or the run).
    Unpin { run: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFormat {
    Text,
    Dot,
    Mermaid,
}

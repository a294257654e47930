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
        /// A JSON summary on stdout, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Which stages would run and exactly why.
    Status {
        pipeline: Option<PathBuf>,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
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
    },
    /// List the pipeline as jobs addressed by key (every unit and stage, with the keys it
    /// needs and its wave), for running them one process at a time (`exec`).
    Jobs {
        pipeline: Option<PathBuf>,
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
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
    },
    /// Remove artifacts that no pipeline under pipelines/ references, from artifacts/ and
    /// from the shared store (`--store`), if any.
    Gc {
        #[arg(long)]
        dry_run: bool,
        /// Spare artifacts written less than this many minutes ago (writers to a shared
        /// store hold no lock). Default: 60 in a shared store, 0 in artifacts/ (which `gc`
        /// locks).
        #[arg(long, value_name = "MINUTES")]
        grace: Option<u64>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFormat {
    Text,
    Dot,
    Mermaid,
}

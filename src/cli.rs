//! The command line, as one clap derive. Argument groups that several subcommands take
//! (the pipeline and its values, `--json`) are declared once and flattened into each.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `qa-pipe --version`: the package version, and the commit when built from a git
/// checkout (build.rs; empty from a tarball).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("QA_PIPE_VERSION_COMMIT"));

#[derive(Parser, Debug)]
#[command(name = "qa-pipe", version = VERSION, about = "Declarative, cached ML experiment pipelines", long_about = None)]
pub struct Cli {
    /// Run as if started in DIR (the project folder holding pipelines/, stages/, artifacts/).
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only errors (and, for `run`, the report's path).
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

/// The values a pipeline is loaded with: `--var` and `--set`.
#[derive(Args, Debug, Clone, Default)]
pub struct Overrides {
    /// Override a pipeline variable: NAME=VALUE (YAML, e.g. seeds=[1,2]).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Override a stage param: STAGE.PARAM=VALUE (YAML; dotted paths into nested params,
    /// e.g. grid.base.epochs=40).
    #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
    pub sets: Vec<String>,
}

/// A pipeline named by position, with its values.
#[derive(Args, Debug, Clone, Default)]
pub struct PipelineArgs {
    /// Pipeline file (default: pipelines/report.yaml, or the only file in pipelines/).
    #[arg(value_name = "PIPELINE")]
    pub pipeline: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// A pipeline named by `-p` (for commands whose position names a stage or a key), with
/// its values.
#[derive(Args, Debug, Clone, Default)]
pub struct PipelineOpt {
    /// Pipeline file (default: pipelines/report.yaml, or the only file in pipelines/).
    #[arg(short, long, value_name = "PIPELINE")]
    pub pipeline: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// `--json`, for the commands that can print JSON.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct Json {
    /// JSON on stdout instead of text, for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a pipeline: stages whose key has a verified artifact are reused, the rest computed.
    Run {
        #[command(flatten)]
        pipeline: PipelineArgs,
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
        #[command(flatten)]
        json: Json,
    },
    /// Which stages would run and exactly why.
    Status {
        #[command(flatten)]
        pipeline: PipelineArgs,
        #[command(flatten)]
        json: Json,
    },
    /// Print the stage graph.
    Dag {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// Output format: an indented text tree, Graphviz dot or Mermaid.
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// Print a stage's artifact as a table (or CSV, JSON), or its path.
    Show {
        /// Stage name.
        stage: String,
        #[command(flatten)]
        pipeline: PipelineOpt,
        /// Which table (default: the first).
        #[arg(short, long)]
        table: Option<String>,
        /// Rows to print (default: 10 in a table, every row in CSV and JSON; 0: every row).
        #[arg(long, value_name = "N")]
        head: Option<usize>,
        /// Only these columns, in this order (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "A,B")]
        columns: Vec<String>,
        /// Output format: a table with rounded numbers, or CSV or JSON rows at full
        /// precision.
        #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
        format: ShowFormat,
        /// Print the artifact's directory instead.
        #[arg(long)]
        path: bool,
    },
    /// List the pipeline as jobs addressed by key (every unit and stage, with the keys it
    /// needs and its wave), for running them one process at a time (`exec`).
    Jobs {
        #[command(flatten)]
        pipeline: PipelineArgs,
        /// Only jobs without a verified artifact.
        #[arg(long)]
        todo: bool,
        #[command(flatten)]
        json: Json,
    },
    /// Run one job (a unit or a stage) by key; its inputs must already be in the store.
    /// Prints the artifact's directory.
    Exec {
        /// The job's key, as `qa-pipe jobs` lists it.
        key: String,
        #[command(flatten)]
        pipeline: PipelineOpt,
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
        #[command(flatten)]
        json: Json,
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
        #[command(flatten)]
        json: Json,
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
    Unpin {
        /// The pin's name, or the run (id, unique prefix, last, ...).
        run: String,
    },
    /// Print a shell completion script, e.g. `source <(qa-pipe completions bash)`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `qa-pipe man | man -l -`; with --out-dir, write
    /// one page per command there.
    Man {
        /// Write qa-pipe.1 and a page per subcommand (qa-pipe-run.1, ...) into DIR.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

impl Command {
    /// The `--var`/`--set` values this command was given, if it takes them.
    pub fn overrides(&self) -> Option<&Overrides> {
        match self {
            Command::Run { pipeline, .. }
            | Command::Status { pipeline, .. }
            | Command::Dag { pipeline, .. }
            | Command::Jobs { pipeline, .. } => Some(&pipeline.overrides),
            Command::Show { pipeline, .. } | Command::Exec { pipeline, .. } => {
                Some(&pipeline.overrides)
            }
            _ => None,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFormat {
    /// Stages in run order, each with its inputs.
    Text,
    /// Graphviz dot.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowFormat {
    /// An ASCII table, numbers rounded.
    Table,
    /// CSV with a header row, numbers at full precision.
    Csv,
    /// A JSON array of row objects, numbers at full precision.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every (sub)command, by path, that has no help text.
    fn missing_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            if sub.get_about().is_none() {
                out.push(format!("{path} {} (the command itself)", sub.get_name()));
            }
            missing_help(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_has_help() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        missing_help(&cmd, "qa-pipe", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }

    #[test]
    fn possible_values_have_help() {
        let mut missing = Vec::new();
        for sub in Cli::command().get_subcommands() {
            for arg in sub
                .get_arguments()
                .filter(|a| a.get_action().takes_values())
            {
                for v in arg.get_possible_values() {
                    if v.get_help().is_none() && sub.get_name() != "completions" {
                        missing.push(format!(
                            "{} --{} {}",
                            sub.get_name(),
                            arg.get_id(),
                            v.get_name()
                        ));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "values without help: {missing:#?}");
    }
}

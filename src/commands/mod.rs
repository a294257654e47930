//! The subcommands, and what they share: finding the project, its pipelines and its store.

mod compare;
mod dag;
mod diff;
mod docs;
mod gc;
mod jobs;
mod pin;
mod record;
mod rerun;
mod run;
mod runs;
mod show;
mod status;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::cache::Cache;
use crate::cli::{Cli, Command};
use crate::config;
use crate::error::{Error, Result};
use crate::graph::{self, Plan};
use crate::hash::{FileHashes, Material};
use crate::keyed::KeyedPlan;
use crate::progress::{Bars, Lines, Progress, Quiet};
use crate::store::{self, Store};

pub fn dispatch(cli: Cli) -> Result<()> {
    let root = match &cli.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(|e| Error::Other(e.into()))?,
    };
    // `--set` applies to every pipeline the command loads (see [`Project::plan`]).
    let sets = cli
        .command
        .overrides()
        .map(|o| o.sets.clone())
        .unwrap_or_default();
    let project = Project {
        root,
        quiet: cli.quiet,
        verbose: cli.verbose,
        sets,
        store_flag: cli.store,
        store: OnceLock::new(),
    };
    let result = command(&project, cli.command);
    // What the shared store was asked, for `-v` (and the tests that count requests).
    if project.verbose {
        if let Some(Some(s)) = project.store.get() {
            eprintln!("{}", s.stats());
        }
    }
    result
}

fn command(project: &Project, command: Command) -> Result<()> {
    match command {
        Command::Run {
            pipeline,
            only,
            force,
            dry_run,
            jobs,
            json,
        } => run::run(
            project,
            pipeline.pipeline,
            &only,
            &force,
            dry_run,
            jobs,
            &pipeline.overrides.vars,
            json.json,
        ),
        Command::Status { pipeline, json } => status::status(
            project,
            pipeline.pipeline,
            &pipeline.overrides.vars,
            json.json,
        ),
        Command::Dag { pipeline, format } => {
            dag::dag(project, pipeline.pipeline, &pipeline.overrides.vars, format)
        }
        Command::Show {
            stage,
            pipeline,
            table,
            head,
            columns,
            format,
            path,
        } => show::show(
            project,
            pipeline.pipeline,
            &pipeline.overrides.vars,
            &stage,
            &show::Shown {
                table: table.as_deref(),
                head,
                columns: &columns,
                format,
                path_only: path,
            },
        ),
        Command::Gc {
            dry_run,
            keep_runs,
            grace,
        } => gc::gc(project, dry_run, keep_runs, grace),
        Command::Runs {
            pipeline,
            last,
            all,
            json,
        } => runs::runs(project, pipeline.as_deref(), last, all, json.json),
        Command::Diff {
            run_a,
            run_b,
            pipeline,
            json,
        } => diff::diff(project, run_a, run_b, pipeline, json.json),
        Command::Report { compare, output } => {
            compare::compare(project, &compare[0], &compare[1], output)
        }
        Command::Pin { run, name } => pin::pin(project, &run, name),
        Command::Unpin { run } => pin::unpin(project, &run),
        Command::Jobs {
            pipeline,
            todo,
            json,
        } => jobs::list(
            project,
            pipeline.pipeline,
            &pipeline.overrides.vars,
            todo,
            json.json,
        ),
        Command::Exec { key, pipeline } => {
            jobs::exec(project, pipeline.pipeline, &pipeline.overrides.vars, &key)
        }
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out_dir } => docs::man(out_dir),
    }
}

pub struct Project {
    pub root: PathBuf,
    pub quiet: bool,
    pub verbose: bool,
    /// `--set STAGE.PARAM=VALUE` overrides of this command, applied by [`Project::plan`].
    pub sets: Vec<String>,
    /// `--store`, if given.
    pub store_flag: Option<String>,
    /// The shared store, opened once per process.
    store: OnceLock<Option<Arc<dyn Store>>>,
}

/// The values a run was given, as the run log records them.
#[derive(Debug, Default, Clone)]
pub struct Values {
    /// Every declared variable's value (defaults and `--var`).
    pub vars: BTreeMap<String, serde_json::Value>,
    /// `--set` values by `STAGE.PATH`.
    pub sets: BTreeMap<String, serde_json::Value>,
}

impl Project {
    /// The pipeline named on the command line, or the default one.
    pub fn pipeline_path(&self, arg: Option<PathBuf>) -> Result<PathBuf> {
        if let Some(p) = arg {
            return Ok(if p.is_absolute() {
                p
            } else {
                self.root.join(p)
            });
        }
        let report = self.root.join("pipelines/report.yaml");
        if report.is_file() {
            return Ok(report);
        }
        let all = self.pipelines();
        match all.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::Usage(format!("no pipeline given and no pipelines/*.yaml under {}", self.root.display()))),
            _ => Err(Error::Usage("several pipelines under pipelines/: name one, e.g. `qa-pipe run pipelines/NAME.yaml`".into())),
        }
    }

    pub fn pipelines(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.root.join("pipelines"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        v.sort();
        v
    }

    /// The pipeline at `path` with `vars` and this command's `--set` values, checked.
    pub fn plan(&self, path: &Path, vars: &[String]) -> Result<Plan> {
        Ok(self.plan_values(path, vars)?.0)
    }

    /// As [`Project::plan`], with the variable and `--set` values it used.
    pub fn plan_values(&self, path: &Path, vars: &[String]) -> Result<(Plan, Values)> {
        let overrides = parse_vars(vars)?;
        let pipeline = config::load_with(path, &self.root, &overrides, &self.sets)?;
        let json = |n: &marked_yaml::Node| {
            serde_json::to_value(config::params::to_value(n)).unwrap_or(serde_json::Value::Null)
        };
        let values = Values {
            vars: pipeline
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), json(v)))
                .collect(),
            sets: pipeline
                .sets
                .iter()
                .map(|(k, v)| (k.clone(), json(v)))
                .collect(),
        };
        Ok((graph::build(&pipeline, &self.root)?, values))
    }

    /// The same project without `--set` values (gc's keep rules load pipelines as written).
    pub fn without_sets(&self) -> Project {
        Project {
            root: self.root.clone(),
            quiet: self.quiet,
            verbose: self.verbose,
            sets: Vec::new(),
            store_flag: self.store_flag.clone(),
            store: self.store.clone(),
        }
    }

    /// The pipeline (default rules as [`Project::pipeline_path`]) with every key computed,
    /// and the store: what the read-only commands start from.
    pub fn open(&self, pipeline: Option<PathBuf>, vars: &[String]) -> Result<(KeyedPlan, Cache)> {
        let path = self.pipeline_path(pipeline)?;
        let plan = self.plan(&path, vars)?;
        let cache = self.cache()?;
        let kp = self.keyed(plan, &cache)?;
        Ok((kp, cache))
    }

    /// The project's artifacts/, as the read-through cache of the shared store if one is
    /// named (`--store`, or `store:` in qa-pipe.yaml).
    pub fn cache(&self) -> Result<Cache> {
        Ok(Cache::open(&self.root.join("artifacts"))?.with_remote(self.store()?))
    }

    /// The shared store, if any.
    pub fn store(&self) -> Result<Option<Arc<dyn Store>>> {
        if let Some(s) = self.store.get() {
            return Ok(s.clone());
        }
        let s = store::choose(self.store_flag.as_deref(), &self.root)?;
        Ok(self.store.get_or_init(|| s).clone())
    }

    /// Every stage's and unit's key, input files hashed through the store's memory of them.
    pub fn keyed(&self, plan: Plan, cache: &Cache) -> Result<KeyedPlan> {
        let mut hashes = FileHashes::load(&cache.root().join("state").join("files.memo"));
        let kp = KeyedPlan::new(plan, &mut hashes, &self.root)?;
        hashes.save();
        Ok(kp)
    }

    /// What a run of `stages` stages shows while it works.
    pub fn progress(&self, stages: usize) -> Box<dyn Progress> {
        if self.quiet {
            Box::new(Quiet)
        } else if std::io::stderr().is_terminal() && !self.verbose {
            Box::new(Bars::new(stages))
        } else {
            Box::new(Lines {
                verbose: self.verbose,
            })
        }
    }
}

fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>> {
    vars.iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) => Ok((k.trim().to_string(), val.to_string())),
            None => Err(Error::Usage(format!("--var {v}: expected NAME=VALUE"))),
        })
        .collect()
}

/// What each stage's key was made of when this pipeline last ran, for `status`.
pub fn load_state(cache: &Cache, plan: &Plan) -> BTreeMap<String, Material> {
    std::fs::read_to_string(cache.state_path(&plan.name))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub fn stage_index(plan: &Plan, name: &str) -> Result<usize> {
    plan.index(name).ok_or_else(|| {
        let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
        let hint = crate::error::did_you_mean(name, names.iter().copied())
            .map(|s| format!(" did you mean `{s}`?"))
            .unwrap_or_default();
        Error::Usage(format!(
            "no stage `{name}` in {}.{hint} stages: {}",
            plan.path.display(),
            names.join(", ")
        ))
    })
}

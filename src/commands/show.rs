//! `qa-pipe show`: a stage's artifact as a table, CSV or JSON, or where it is.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::ShowFormat;
use crate::error::{did_you_mean, Error, Result};

use super::{stage_index, Project};

/// What `show` prints of the artifact.
pub struct Shown<'a> {
    pub table: Option<&'a str>,
    /// Rows; `None`: 10 in a table, every row in CSV and JSON; 0: every row.
    pub head: Option<usize>,
    /// Only these columns, in this order (empty: all).
    pub columns: &'a [String],
    pub format: ShowFormat,
    /// Print the artifact's directory instead.
    pub path_only: bool,
}

pub fn show(
    project: &Project,
    pipeline: Option<PathBuf>,
    vars: &[String],
    stage: &str,
    shown: &Shown<'_>,
) -> Result<()> {
    let path = project.pipeline_path(pipeline)?;
    let plan = project.plan(&path, vars)?;
    let i = stage_index(&plan, stage)?;
    let cache = project.cache()?;
    let kp = project.keyed(plan, &cache)?;
    let plan = &kp.plan;
    let art = cache
        .lookup(kp.key(i).as_str())
        .map_err(|m| Error::Usage(format!("stage `{stage}` has no usable artifact ({m}): run `qa-pipe run {} --only {stage}` first", plan.path.display())))?;
    if shown.path_only {
        println!("{}", art.dir.display());
        return Ok(());
    }
    let names = art.table_names();
    let name = match shown.table {
        Some(t) => t.to_string(),
        None => match names.first() {
            Some(t) => t.clone(),
            None => {
                println!(
                    "stage `{stage}` has no tables; its files are in {}",
                    art.dir.display()
                );
                return Ok(());
            }
        },
    };
    let all = art.table(&name)?;
    let batch = select(&all, shown.columns, stage, &name)?;
    let head = match (shown.head, shown.format) {
        (Some(0), _) | (None, ShowFormat::Csv | ShowFormat::Json) => batch.num_rows(),
        (Some(n), _) => n,
        (None, ShowFormat::Table) => 10,
    };
    let rows = batch.slice(0, head.min(batch.num_rows()));
    let bytes = match shown.format {
        ShowFormat::Table => {
            println!(
                "{stage} / {name}: {} rows x {} columns (tables: {})",
                all.num_rows(),
                all.num_columns(),
                names.join(", ")
            );
            format!("{}\n", crate::table::pretty(&rows)?).into_bytes()
        }
        ShowFormat::Csv => crate::table::csv(&rows)?,
        ShowFormat::Json => {
            let mut b = crate::table::json(&rows)?;
            b.push(b'\n');
            b
        }
    };
    std::io::stdout()
        .write_all(&bytes)
        .map_err(|e| Error::Other(e.into()))
}

/// The columns asked for, in that order; an unknown name is an error that lists them.
fn select(
    batch: &arrow::array::RecordBatch,
    columns: &[String],
    stage: &str,
    table: &str,
) -> Result<arrow::array::RecordBatch> {
    if columns.is_empty() {
        return Ok(batch.clone());
    }
    let schema = batch.schema();
    let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let indices = columns
        .iter()
        .map(|c| {
            have.iter().position(|h| h == c).ok_or_else(|| {
                let hint = did_you_mean(c, have.iter().copied())
                    .map(|s| format!(" did you mean `{s}`?"))
                    .unwrap_or_default();
                Error::Usage(format!(
                    "--columns: table `{table}` of stage `{stage}` has no column `{c}`.{hint} columns: {}",
                    have.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    batch.project(&indices).map_err(|e| Error::Other(e.into()))
}

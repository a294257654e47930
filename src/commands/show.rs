//! `qa-pipe show`: a stage's artifact as a table, or where it is.

use std::path::PathBuf;

use crate::error::{Error, Result};

use super::{stage_index, Project};

pub fn show(
    project: &Project,
    pipeline: Option<PathBuf>,
    stage: &str,
    table: Option<&str>,
    head: usize,
    path_only: bool,
    vars: &[String],
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
    if path_only {
        println!("{}", art.dir.display());
        return Ok(());
    }
    let names = art.table_names();
    let name = match table {
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
    let batch = art.table(&name)?;
    println!(
        "{stage} / {name}: {} rows x {} columns (tables: {})",
        batch.num_rows(),
        batch.num_columns(),
        names.join(", ")
    );
    println!("{}", crate::table::pretty(&batch, head)?);
    Ok(())
}

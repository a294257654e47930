//! `qa-pipe status`: which stages would run, and exactly why.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Result;
use crate::explain;
use crate::hash::Key;

use super::{key_names, load_state, Project};

#[derive(Serialize)]
struct Row {
    stage: String,
    kind: String,
    key: Key,
    fresh: bool,
    reasons: Vec<String>,
}

pub fn status(
    project: &Project,
    pipeline: Option<PathBuf>,
    vars: &[String],
    json: bool,
) -> Result<()> {
    let (kp, cache) = project.open(pipeline, vars)?;
    let plan = &kp.plan;
    let prev = load_state(&cache, plan);
    let names = key_names(&kp);
    let mut rows = Vec::new();
    let mut stale = vec![false; plan.nodes.len()];
    for &i in &plan.order {
        let node = &plan.nodes[i];
        let key = kp.key(i).clone();
        let (fresh, reasons) = match cache.lookup(key.as_str()) {
            Ok(_) => (true, Vec::new()),
            Err(miss) => {
                stale[i] = true;
                (
                    false,
                    explain::reasons(
                        prev.get(&node.name),
                        &kp.stages[i].material,
                        Some(&miss),
                        &names,
                    ),
                )
            }
        };
        rows.push(Row {
            stage: node.name.clone(),
            kind: node.kind.name.to_string(),
            key,
            fresh,
            reasons,
        });
    }
    if json {
        let out = serde_json::json!({ "pipeline": plan.path, "stages": rows });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
    } else {
        for r in &rows {
            if r.fresh {
                println!("{:>6}  {}", "fresh", r.stage);
            } else {
                println!("{:>6}  {}: {}", "stale", r.stage, r.reasons.join("; "));
            }
        }
        let n = rows.iter().filter(|r| !r.fresh).count();
        println!("{n} of {} stages would run", rows.len());
    }
    Ok(())
}

//! `qa-pipe status`: which stages would run, and exactly why.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Result;
use crate::explain;
use crate::hash::Key;

use super::{load_state, Project};

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
    let mut rows = Vec::new();
    for &i in &plan.order {
        let node = &plan.nodes[i];
        let key = kp.key(i).clone();
        let material = &kp.stages[i].material;
        let before = prev.get(&node.name);
        let names = explain::upstream_names(plan, i);
        let (fresh, reasons) = match cache.lookup(key.as_str()) {
            // Fresh, but not what ran last time: say what changed, and whose artifact it is.
            Ok(_) if before.is_some_and(|b| b != material) => {
                let mut why = explain::reasons(before, material, None, &names);
                let twin = (0..plan.nodes.len())
                    .find(|&j| j != i && kp.key(j) == &key)
                    .map(|j| format!(" (the key of stage `{}`)", plan.nodes[j].name))
                    .unwrap_or_default();
                why.push(format!("its new key{twin} is already in the store"));
                (true, why)
            }
            Ok(_) => (true, Vec::new()),
            Err(miss) => (
                false,
                explain::reasons(before, material, Some(&miss), &names),
            ),
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
            if r.fresh && r.reasons.is_empty() {
                println!("{:>6}  {}", "fresh", r.stage);
            } else if r.fresh {
                println!("{:>6}  {}: {}", "fresh", r.stage, r.reasons.join("; "));
            } else {
                println!("{:>6}  {}: {}", "stale", r.stage, r.reasons.join("; "));
            }
        }
        let n = rows.iter().filter(|r| !r.fresh).count();
        println!("{n} of {} stages would run", rows.len());
    }
    Ok(())
}

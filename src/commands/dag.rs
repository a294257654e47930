//! `qa-pipe dag`: the stage graph as text, Graphviz dot or Mermaid.

use std::path::PathBuf;

use crate::cli::DagFormat;
use crate::error::Result;
use crate::graph::Plan;

use super::Project;

pub fn dag(
    project: &Project,
    pipeline: Option<PathBuf>,
    vars: &[String],
    format: DagFormat,
) -> Result<()> {
    let path = project.pipeline_path(pipeline)?;
    let plan = project.plan(&path, vars)?;
    print!("{}", render(&plan, format));
    Ok(())
}

pub fn render(plan: &Plan, format: DagFormat) -> String {
    let mut s = String::new();
    let edges = || {
        plan.nodes.iter().enumerate().flat_map(move |(i, n)| {
            n.inputs
                .iter()
                .flat_map(move |(role, ups)| ups.iter().map(move |&u| (u, i, role.as_str())))
        })
    };
    match format {
        DagFormat::Text => {
            for &i in &plan.order {
                let n = &plan.nodes[i];
                let ins: Vec<String> = n
                    .inputs
                    .iter()
                    .flat_map(|(role, ups)| {
                        ups.iter()
                            .map(move |&u| format!("{role}={}", plan.nodes[u].name))
                    })
                    .collect();
                let from = if ins.is_empty() {
                    String::new()
                } else {
                    format!(" <- {}", ins.join(", "))
                };
                s.push_str(&format!("{} ({}){from}\n", n.name, n.kind.name));
            }
        }
        DagFormat::Dot => {
            s.push_str("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
            for n in &plan.nodes {
                s.push_str(&format!(
                    "  \"{}\" [label=\"{}\\n({})\"];\n",
                    n.name, n.name, n.kind.name
                ));
            }
            for (u, d, role) in edges() {
                s.push_str(&format!(
                    "  \"{}\" -> \"{}\" [label=\"{role}\"];\n",
                    plan.nodes[u].name, plan.nodes[d].name
                ));
            }
            s.push_str("}\n");
        }
        DagFormat::Mermaid => {
            s.push_str("flowchart LR\n");
            for (i, n) in plan.nodes.iter().enumerate() {
                s.push_str(&format!("  s{i}[\"{}<br/>({})\"]\n", n.name, n.kind.name));
            }
            for (u, d, role) in edges() {
                s.push_str(&format!("  s{u} -->|{role}| s{d}\n"));
            }
        }
    }
    s
}

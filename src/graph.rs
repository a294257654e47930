//! The pipeline as a petgraph DAG: kinds resolved, references and roles checked, cycles
//! named, every stage built from its params. A `Plan` is the sealed result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::config::{Pipeline, StageDecl};
use crate::error::{did_you_mean, ConfigError};
use crate::stages::{self, BuildCx, Kind, Stage};

pub struct PlanNode {
    pub name: String,
    pub kind: &'static Kind,
    pub stage: Box<dyn Stage>,
    /// The typed params with defaults filled in: what the key hashes.
    pub params: serde_json::Value,
    pub files: Vec<PathBuf>,
    /// role -> upstream node indices, in the order the pipeline lists them.
    pub inputs: BTreeMap<String, Vec<usize>>,
}

/// A checked pipeline: nodes in file order, edges upstream -> downstream, a topological order.
pub struct Plan {
    pub name: String,
    pub path: PathBuf,
    pub nodes: Vec<PlanNode>,
    pub graph: DiGraph<usize, String>,
    pub order: Vec<usize>,
    /// The files the plan was read from: the pipeline, then each preset it uses.
    pub sources: Vec<PathBuf>,
}

impl Plan {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Stages that read `i`'s output directly.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing)
            .map(|n| n.index())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// `i` and everything upstream of it.
    pub fn with_ancestors(&self, i: usize, out: &mut Vec<bool>) {
        if out[i] {
            return;
        }
        out[i] = true;
        for ups in self.nodes[i].inputs.values() {
            for &u in ups {
                self.with_ancestors(u, out);
            }
        }
    }

    /// `i` and everything downstream of it.
    pub fn with_descendants(&self, i: usize, out: &mut Vec<bool>) {
        if out[i] {
            return;
        }
        out[i] = true;
        for d in self.dependents(i) {
            self.with_descendants(d, out);
        }
    }
}

pub fn build(p: &Pipeline, root: &Path) -> Result<Plan, ConfigError> {
    let src = &p.sources;
    let kinds: Vec<&'static Kind> = p
        .stages
        .iter()
        .map(|d| {
            stages::kind(&d.kind).ok_or_else(|| {
                let names: Vec<&str> = stages::KINDS.iter().map(|k| k.name).collect();
                let e = src.error_at(&d.kind_node, format!("unknown stage kind `{}`", d.kind));
                match did_you_mean(&d.kind, names.iter().copied()) {
                    Some(s) => e.help(format!(
                        "did you mean `{s}`? known kinds: {}",
                        names.join(", ")
                    )),
                    None => e.help(format!("known kinds: {}", names.join(", "))),
                }
            })
        })
        .collect::<Result<_, _>>()?;

    let index: BTreeMap<&str, usize> = p
        .stages
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let mut graph = DiGraph::new();
    for i in 0..p.stages.len() {
        graph.add_node(i);
    }
    let mut all_inputs = Vec::new();
    for (i, d) in p.stages.iter().enumerate() {
        let inputs = resolve_inputs(p, d, kinds[i], &index)?;
        for (role, ups) in &inputs {
            for &u in ups {
                graph.add_edge(NodeIndex::new(u), NodeIndex::new(i), role.clone());
            }
        }
        all_inputs.push(inputs);
    }

    let order = match toposort(&graph, None) {
        Ok(o) => o.into_iter().map(|n| n.index()).collect::<Vec<_>>(),
        Err(cycle) => {
            // Start from the stage written first, so the message does not depend on the sort.
            let scc = tarjan_scc(&graph)
                .into_iter()
                .find(|c| c.contains(&cycle.node_id()))
                .unwrap_or_default();
            let at = scc.iter().copied().min().unwrap_or(cycle.node_id());
            let names = cycle_path(&graph, &scc, at)
                .into_iter()
                .map(|n| p.stages[n].name.clone())
                .collect::<Vec<_>>();
            let first = &p.stages[at.index()];
            return Err(src
                .error_at(&first.name_node, format!("the stages form a cycle: {}", names.join(" -> ")))
                .help("a stage cannot read, directly or through others, its own output: remove one of these inputs"));
        }
    };

    let mut nodes = Vec::new();
    for (i, ((d, kind), inputs)) in p.stages.iter().zip(&kinds).zip(&all_inputs).enumerate() {
        let upstream = || lineage(p, &all_inputs, i);
        let mut cx = BuildCx::new(&d.name, kind.name, root, &d.params, src).with_lineage(&upstream);
        let stage = (kind.build)(&mut cx)?;
        let (canonical, files) = cx.finish();
        nodes.push(PlanNode {
            name: d.name.clone(),
            kind,
            stage,
            params: canonical.unwrap_or(serde_json::Value::Null),
            files,
            inputs: inputs.clone(),
        });
    }
    Ok(Plan {
        name: p.name.clone(),
        path: p.path.clone(),
        nodes,
        sources: src.paths().map(|f| root.join(f)).collect(),
        graph,
        order,
    })
}

/// Stage `i` and its ancestors by name, each with its inputs by role as names.
fn lineage(p: &Pipeline, inputs: &[BTreeMap<String, Vec<usize>>], i: usize) -> stages::Lineage {
    let mut out = stages::Lineage::new();
    let mut todo = vec![i];
    while let Some(j) = todo.pop() {
        let name = &p.stages[j].name;
        if out.contains_key(name) {
            continue;
        }
        let roles = inputs[j]
            .iter()
            .map(|(role, ups)| {
                todo.extend(ups);
                let names = ups.iter().map(|&u| p.stages[u].name.clone()).collect();
                (role.clone(), names)
            })
            .collect();
        out.insert(name.clone(), roles);
    }
    out
}

fn resolve_inputs(
    p: &Pipeline,
    d: &StageDecl,
    kind: &Kind,
    index: &BTreeMap<&str, usize>,
) -> Result<BTreeMap<String, Vec<usize>>, ConfigError> {
    let src = &p.sources;
    let roles: Vec<&str> = kind.inputs.iter().map(|r| r.name).collect();
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for input in &d.inputs {
        let role = match &input.role {
            Some(r) => {
                if !roles.contains(&r.as_str()) {
                    let e = src.error_at(
                        &input.node,
                        format!("stage kind `{}` has no input `{r}`", kind.name),
                    );
                    let hint = did_you_mean(r, roles.iter().copied())
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    return Err(e.help(format!(
                        "{hint}its inputs: {}",
                        if roles.is_empty() {
                            "(none)".into()
                        } else {
                            roles.join(", ")
                        }
                    )));
                }
                r.clone()
            }
            None if roles.len() == 1 => roles[0].to_string(),
            None => {
                return Err(src
                    .error_at(
                        &input.node,
                        format!(
                            "stage kind `{}` has several inputs; name the role",
                            kind.name
                        ),
                    )
                    .help(format!(
                        "write `inputs: {{ROLE: {}}}` with ROLE one of: {}",
                        input.stage,
                        roles.join(", ")
                    )))
            }
        };
        let Some(&up) = index.get(input.stage.as_str()) else {
            let e = src.error_at(
                &input.node,
                format!("stage `{}` reads unknown stage `{}`", d.name, input.stage),
            );
            let names = p.stages.iter().map(|s| s.name.as_str());
            return Err(match did_you_mean(&input.stage, names) {
                Some(s) => e.help(format!("did you mean `{s}`?")),
                None => e.help(format!(
                    "stages in this pipeline: {}",
                    p.stages
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
        };
        out.entry(role).or_default().push(up);
    }
    for r in kind.inputs {
        match out.get(r.name) {
            None if r.required => {
                return Err(src
                    .error_at(
                        &d.name_node,
                        format!(
                            "stage `{}` (kind `{}`) needs input `{}`",
                            d.name, kind.name, r.name
                        ),
                    )
                    .help(format!("add `inputs: {{{}: STAGE}}`", r.name)))
            }
            Some(v) if v.len() > 1 && !r.many => {
                return Err(src
                    .error_at(
                        &d.name_node,
                        format!(
                            "input `{}` of stage `{}` takes one stage, got {}",
                            r.name,
                            d.name,
                            v.len()
                        ),
                    )
                    .help("list a single stage for this input"))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A readable cycle through the strongly connected component, starting and ending at `start`.
fn cycle_path(graph: &DiGraph<usize, String>, scc: &[NodeIndex], start: NodeIndex) -> Vec<usize> {
    // Breadth-first search inside the component for the shortest way back to `start`.
    let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in graph.neighbors(n) {
            if !scc.contains(&m) {
                continue;
            }
            if m == start {
                let mut path = vec![n.index()];
                let mut cur = n;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur.index());
                }
                path.reverse();
                path.push(start.index());
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start.index(), start.index()]
}

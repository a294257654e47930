//! `report`: one self-contained HTML file (`report.html` in the artifact): the figures of
//! the `plots` inputs, final-metric tables (mean ± std over seeds at the last epoch) of the
//! `metrics` inputs, the t-SNE summary, and the provenance of everything upstream, read
//! from the artifacts' manifests: the DAG, and per stage its key, params and duration.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};

use super::claims_table;
use super::columns::Named;
use super::curves::{self, by_optimizer, read_runs};
use super::evidence::{measure, Evidence};
use super::evidence_sections::{
    accuracy_section, claims_section, defect_section, flags, fmt_interval, paired_section,
    Names as Labels,
};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Manifest, Output};
use crate::error::ConfigError;
use crate::viz::figures::mean_std;
use crate::viz::report::{
    fmt_mean_std, render_html, Dag, DagNode, EmbeddedFigure, Report, Section, StageInfo, Table,
};
use crate::viz::Format;

const fn role(name: &'static str) -> Role {
    Role {
        name,
        many: true,
        required: false,
    }
}

pub const KIND: Kind = Kind {
    name: "report",
    // 2: stage names come from the pipeline (and are in the key), not from old manifests;
    // (a parallel 2 added the claims and evidence sections); 3: both; 4: `description`,
    // the model section, evaluate tables, collapsed params, the layered DAG, ms times.
    version: 4,
    summary: "self-contained HTML report: figures, final metrics, DAG and provenance",
    inputs: &[
        role("plots"),
        role("metrics"),
        role("tsne"),
        role("claims"),
        role("evidence"),
    ],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Embed {
    #[default]
    Png,
    Svg,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "default_title")]
    pub title: String,
    /// The introduction at the top of the page (blank lines separate paragraphs).
    #[serde(default, alias = "intro")]
    pub description: Option<String>,
    /// Caption of each `metrics` input's table, in order (default: the stage's name).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Which file of each figure to embed.
    #[serde(default)]
    pub embed: Embed,
    /// Table of each `metrics` input holding the curves.
    #[serde(default = "default_metrics_table")]
    pub metrics_table: String,
}

fn default_title() -> String {
    "qa-pipe report".into()
}
fn default_metrics_table() -> String {
    "curves".into()
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.title.trim().is_empty() {
            return Err(cx.error("title", "the report needs a title"));
        }
        // The report shows stage names, which no key covers: put them in this one, so a
        // renamed stage recomputes the report instead of reusing one with the old name.
        let names = Names {
            this: cx.stage.to_string(),
            stages: cx.lineage(),
        };
        let mut key = serde_json::to_value(&self).map_err(|e| ConfigError::new(e.to_string()))?;
        key["names"] = serde_json::to_value(&names).map_err(|e| ConfigError::new(e.to_string()))?;
        cx.set_canonical(key);
        Ok(Box::new(ReportStage { p: self, names }))
    }
}

/// The names the report shows: its own and its upstream stages' with how they connect
/// ([`crate::stages::Lineage`]), so each upstream key can be given its current name.
#[derive(Debug, Clone, Default, Serialize)]
struct Names {
    this: String,
    stages: crate::stages::Lineage,
}

impl Names {
    /// Key -> current stage name for every manifest upstream of the report's `inputs`
    /// (role -> artifacts), matching the pipeline's wiring by name to the manifests' wiring
    /// by key. Keys the wiring does not reach (a report built without a pipeline) keep the
    /// name they were recorded under.
    fn of_keys(
        &self,
        inputs: &BTreeMap<String, Vec<Arc<Artifact>>>,
        manifests: &BTreeMap<String, Manifest>,
    ) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        let mut queue: VecDeque<(String, String)> = VecDeque::new();
        let pair = |wired: Option<&BTreeMap<String, Vec<String>>>,
                    keys: Vec<(&String, Vec<String>)>,
                    queue: &mut VecDeque<(String, String)>| {
            for (role, keys) in keys {
                let names = wired.and_then(|w| w.get(role));
                for (k, n) in keys.into_iter().zip(names.into_iter().flatten()) {
                    queue.push_back((k, n.clone()));
                }
            }
        };
        let direct = inputs
            .iter()
            .map(|(r, arts)| (r, arts.iter().map(|a| a.key().to_string()).collect()))
            .collect();
        pair(self.stages.get(&self.this), direct, &mut queue);
        while let Some((key, name)) = queue.pop_front() {
            if out.contains_key(&key) {
                continue;
            }
            if let Some(m) = manifests.get(&key) {
                let ups = m.inputs.iter().map(|(r, k)| (r, k.clone())).collect();
                pair(self.stages.get(&name), ups, &mut queue);
            }
            out.insert(key, name);
        }
        for (k, m) in manifests {
            out.entry(k.clone()).or_insert_with(|| m.stage.clone());
        }
        out
    }
}

struct ReportStage {
    p: Params,
    names: Names,
}

/// Final metrics per optimizer, mean ± std over the runs at their last epoch.
pub(crate) fn metrics_table(batch: &RecordBatch, what: String, caption: String) -> Result<Table> {
    let t = Named::new(batch, what);
    let optional = [
        curves::TRAIN_ACC,
        curves::TRAIN_MSE,
        curves::TEST_MSE,
        curves::ELAPSED_S,
    ];
    let runs = read_runs(&t, &[curves::TEST_ACC], &optional)?;
    let shown: Vec<(&str, &str, usize)> = [
        (curves::TEST_ACC, "Test accuracy", 3),
        (curves::TRAIN_ACC, "Train accuracy", 3),
        (curves::TRAIN_MSE, "Train MSE", 4),
        (curves::TEST_MSE, "Test MSE", 4),
        (curves::ELAPSED_S, "Time (s)", 2),
    ]
    .into_iter()
    .filter(|(c, _, _)| *c == curves::TEST_ACC || t.has(c))
    .collect();
    let mut columns = vec![
        "Optimizer".to_string(),
        "Runs".to_string(),
        "Epochs".to_string(),
    ];
    columns.extend(shown.iter().map(|(_, h, _)| h.to_string()));
    let rows = by_optimizer(&runs, None)
        .into_iter()
        .map(|(opt, rs)| {
            let epochs = rs.iter().map(|r| r.epoch.len()).max().unwrap_or(0);
            let mut row = vec![opt, rs.len().to_string(), epochs.to_string()];
            for (c, _, digits) in &shown {
                let finals: Vec<f64> = rs.iter().map(|r| r.last(c)).collect();
                let (m, s) = mean_std(&finals);
                row.push(fmt_mean_std(m, s, *digits));
            }
            row
        })
        .collect();
    Ok(Table {
        caption,
        columns,
        rows,
    })
}

/// Adds "Test accuracy [95%, questions]" and flags beside a final-metrics table's test
/// accuracy, from the evaluate stage that measured the same training stage.
fn add_intervals(t: &mut Table, source: &str, evidence: &[Evidence]) {
    let found: Vec<Option<&super::evidence::IntervalRow>> = t
        .rows
        .iter()
        .map(|row| {
            evidence
                .iter()
                .find_map(|e| e.interval(source, &row[0], measure::ACCURACY))
        })
        .collect();
    if found.iter().all(Option::is_none) {
        return;
    }
    let at = t
        .columns
        .iter()
        .position(|c| c == "Test accuracy")
        .map_or(t.columns.len(), |i| i + 1);
    t.columns
        .insert(at, "Test accuracy [95%, over questions]".into());
    t.columns.push("Flags".into());
    let unit = found.iter().flatten().next().map(|r| r.method.clone());
    for (row, f) in t.rows.iter_mut().zip(&found) {
        row.insert(at, f.map_or("–".into(), fmt_interval));
        row.push(f.map_or(String::new(), flags));
    }
    if let Some(m) = unit {
        t.caption.push_str(&format!("; interval: {m}"));
    }
}

/// The models upstream stages used: every manifest whose params name a `model`, with the
/// path and, for a folder or file on disk, the blake3 content hash of its files (the same
/// content the stage's key covers).
fn models_section(
    root: &Path,
    manifests: &BTreeMap<String, Manifest>,
    names: &BTreeMap<String, String>,
) -> Option<Section> {
    let mut rows = Vec::new();
    for (k, m) in manifests {
        // A model folder the stage hashed into its key (e5: `model.onnx` and its tokenizer):
        // named with the hashes the key was made of, no file read again.
        let onnx = m.files.keys().find_map(|f| f.strip_suffix("/model.onnx"));
        if let Some(dir) = onnx {
            let mut all = blake3::Hasher::new();
            let mut listed = Vec::new();
            for (f, hex) in m.files.range(format!("{dir}/")..) {
                let Some(name) = f.strip_prefix(&format!("{dir}/")) else {
                    break;
                };
                all.update(format!("{name}\0{hex}\n").as_bytes());
                listed.push(format!("{name} ({})", &hex[..hex.len().min(16)]));
            }
            rows.push(vec![
                names.get(k).cloned().unwrap_or_else(|| m.stage.clone()),
                m.kind.clone(),
                dir.to_string(),
                listed.join(", "),
                all.finalize().to_hex().to_string(),
            ]);
            continue;
        }
        let Some(model) = m.params.get("model").and_then(|v| v.as_str()) else {
            continue;
        };
        let path = root.join(model);
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            let mut f: Vec<_> = ["model.onnx", "model.onnx_data", "tokenizer.json"]
                .iter()
                .map(|n| path.join(n))
                .filter(|p| p.is_file())
                .collect();
            f.sort();
            f
        } else if path.is_file() {
            vec![path.clone()]
        } else {
            Vec::new()
        };
        let (listed, hash) = if files.is_empty() {
            (
                "–".to_string(),
                "not a file here (a server-side model name)".to_string(),
            )
        } else {
            let mut all = blake3::Hasher::new();
            let mut listed = Vec::new();
            for f in &files {
                let mut h = blake3::Hasher::new();
                let hex = match h.update_mmap_rayon(f) {
                    Ok(_) => h.finalize().to_hex().to_string(),
                    Err(e) => format!("unreadable: {e}"),
                };
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                all.update(format!("{name}\0{hex}\n").as_bytes());
                listed.push(format!("{name} ({})", &hex[..hex.len().min(16)]));
            }
            (listed.join(", "), all.finalize().to_hex().to_string())
        };
        rows.push(vec![
            names.get(k).cloned().unwrap_or_else(|| m.stage.clone()),
            m.kind.clone(),
            model.to_string(),
            listed,
            hash,
        ]);
    }
    (!rows.is_empty()).then(|| Section {
        title: "Model".into(),
        text: Some(
            "The model each stage used: its path (relative to the project folder) and the blake3 hash of its files' contents, which the stage's cache key covers.".into(),
        ),
        figures: Vec::new(),
        tables: vec![Table {
            caption: "Models used".into(),
            columns: ["Stage", "Kind", "Model", "Files (blake3, first 16 hex)", "Content hash (blake3 over the files)"]
                .map(String::from)
                .to_vec(),
            rows,
        }],
    })
}

/// Each `evaluate` stage's per-configuration metrics: accuracy, precision, recall, F1 and
/// ROC AUC, mean ± std over seeds (its `comparison` table).
fn evaluate_tables(
    evidence: &[Arc<Artifact>],
    names: &BTreeMap<String, String>,
    labels: &Labels,
) -> Result<Vec<Table>> {
    let mut out = Vec::new();
    for a in evidence {
        let stage = &names[a.key()];
        let rows = super::eval_tables::comparison_from_batch(
            &a.table(super::eval_tables::COMPARISON)?,
            &format!("stage `{stage}`"),
        )?;
        let mut columns: Vec<String> = ["Trained by", "Configuration", "Seeds"]
            .map(String::from)
            .to_vec();
        columns.extend(
            ["Accuracy", "Precision", "Recall", "F1", "ROC AUC"]
                .iter()
                .map(|c| c.to_string()),
        );
        let rows = rows
            .iter()
            .map(|r| {
                let mut row = vec![
                    labels
                        .get(&r.source)
                        .cloned()
                        .unwrap_or_else(|| r.source.clone()),
                    crate::viz::figures::display_name(&r.config),
                    r.seeds.to_string(),
                ];
                row.extend(r.metrics.iter().map(|&(m, s)| fmt_mean_std(m, s, 3)));
                row
            })
            .collect();
        out.push(Table {
            caption: format!(
                "Stage `{stage}`: test-set metrics per configuration, mean ± std over seeds"
            ),
            columns,
            rows,
        });
    }
    Ok(out)
}

/// Every manifest upstream of `inputs` (inclusive), read from the store next to them.
fn upstream(inputs: &[&Artifact]) -> Result<BTreeMap<String, Manifest>> {
    let mut out: BTreeMap<String, Manifest> = BTreeMap::new();
    let mut queue: VecDeque<(Option<&Path>, String)> = VecDeque::new();
    for a in inputs {
        out.insert(a.key().to_string(), a.manifest.clone());
        for keys in a.manifest.inputs.values() {
            for k in keys {
                queue.push_back((a.dir.parent(), k.clone()));
            }
        }
    }
    while let Some((objects, key)) = queue.pop_front() {
        if out.contains_key(&key) {
            continue;
        }
        let Some(objects) = objects else { continue };
        let path = objects.join(&key).join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading upstream manifest {}", path.display()))?;
        let m: Manifest =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        for keys in m.inputs.values() {
            for k in keys {
                queue.push_back((Some(objects), k.clone()));
            }
        }
        out.insert(key, m);
    }
    Ok(out)
}

/// The DAG and stage list of the run, upstream first, this stage last. `names`: each
/// manifest's stage name (see [`Names::of_keys`]).
fn provenance(
    this: &str,
    inputs: &[&Artifact],
    manifests: &BTreeMap<String, Manifest>,
    names: &BTreeMap<String, String>,
) -> Result<(Dag, Vec<StageInfo>)> {
    // A name used by two different keys gets the key's prefix.
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for k in manifests.keys() {
        *count.entry(names[k].as_str()).or_default() += 1;
    }
    let name_of = |key: &str| -> String {
        let n = &names[key];
        if count[n.as_str()] > 1 {
            format!("{n} [{}]", &key[..key.len().min(8)])
        } else {
            n.clone()
        }
    };
    // Topological order: a stage after everything it reads, ties by name.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<&str> = Vec::new();
    while order.len() < manifests.len() {
        let mut ready: Vec<&str> = manifests
            .iter()
            .filter(|(k, m)| {
                !done.contains(k.as_str())
                    && m.inputs
                        .values()
                        .flatten()
                        .all(|u| done.contains(u.as_str()) || !manifests.contains_key(u))
            })
            .map(|(k, _)| k.as_str())
            .collect();
        if ready.is_empty() {
            // Only a corrupt store could have a cycle; list the rest as they are.
            ready = manifests
                .keys()
                .map(String::as_str)
                .filter(|k| !done.contains(k))
                .collect();
        }
        ready.sort_by_key(|k| name_of(k));
        for k in ready {
            done.insert(k);
            order.push(k);
        }
    }
    let mut dag = Dag::default();
    let mut stages = Vec::new();
    for k in &order {
        let m = &manifests[*k];
        dag.nodes.push(DagNode {
            name: name_of(k),
            kind: m.kind.clone(),
        });
        for u in m.inputs.values().flatten() {
            if manifests.contains_key(u) {
                dag.edges.push((name_of(u), name_of(k)));
            }
        }
        stages.push(StageInfo {
            name: name_of(k),
            kind: m.kind.clone(),
            key: k.to_string(),
            params: serde_json::to_string_pretty(&m.params).unwrap_or_default(),
            duration_s: Some(m.duration_s),
            cached: None,
        });
    }
    dag.nodes.push(DagNode {
        name: this.to_string(),
        kind: "report".into(),
    });
    for a in inputs {
        dag.edges.push((name_of(a.key()), this.to_string()));
    }
    dag.edges.sort();
    dag.edges.dedup();
    Ok((dag, stages))
}

impl ReportStage {
    fn figures(
        &self,
        plots: &[Arc<Artifact>],
        names: &BTreeMap<String, String>,
    ) -> Result<Vec<Section>> {
        let mut sections = Vec::new();
        let (want, other) = match self.p.embed {
            Embed::Png => ("png", "svg"),
            Embed::Svg => ("svg", "png"),
        };
        for a in plots {
            let stage = &names[a.key()];
            let table = a.table("figures")?;
            let t = Named::new(&table, format!("table `figures` of stage `{stage}`"));
            let names = t.strings("name")?;
            let titles = t.strings("title")?;
            let captions = if t.has("caption") {
                t.strings("caption")?
            } else {
                vec![String::new(); names.len()]
            };
            for ((name, title), note) in names.iter().zip(&titles).zip(&captions) {
                let pick = [want, other].into_iter().find_map(|ext| {
                    let file = format!("{name}.{ext}");
                    a.file_path(&file).map(|p| (ext, p))
                });
                let Some((ext, path)) = pick else { continue };
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("reading figure {}", path.display()))?;
                let format = if ext == "png" {
                    Format::Png
                } else {
                    Format::Svg
                };
                sections.push(Section {
                    title: title.clone(),
                    text: None,
                    figures: vec![EmbeddedFigure {
                        caption: if note.is_empty() {
                            format!("{title} ({name}.{ext}, stage `{stage}`)")
                        } else {
                            format!("{title}. {note}. ({name}.{ext}, stage `{stage}`)")
                        },
                        format,
                        bytes,
                    }],
                    tables: Vec::new(),
                });
            }
        }
        Ok(sections)
    }

    fn tsne_table(
        &self,
        arts: &[Arc<Artifact>],
        names: &BTreeMap<String, String>,
    ) -> Result<Option<Table>> {
        let mut rows = Vec::new();
        for a in arts {
            let stage = &names[a.key()];
            let b = a.table("summary")?;
            let t = Named::new(&b, format!("table `summary` of stage `{stage}`"));
            let num = |c: &str| -> Result<String> {
                let v = t.f64s(c)?.first().copied().unwrap_or(f64::NAN);
                Ok(if !v.is_finite() {
                    "n/a".into()
                } else if v.fract() == 0.0 && v.abs() < 1e15 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.4}")
                })
            };
            rows.push(vec![
                stage.clone(),
                num("points")?,
                num("weights")?,
                num("pca_dims")?,
                t.strings("method")?.first().cloned().unwrap_or_default(),
                num("iterations_run")?,
                num("kl_divergence")?,
                num("trustworthiness_5")?,
            ]);
        }
        Ok((!rows.is_empty()).then(|| Table {
            caption: "t-SNE of the weight snapshots".into(),
            columns: [
                "Stage",
                "Points",
                "Weights",
                "PCA dims",
                "Method",
                "Iterations",
                "KL divergence",
                "Trustworthiness (k=5)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }))
    }
}

impl Stage for ReportStage {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let plots = cx.input_all("plots");
        let metrics = cx.input_all("metrics");
        let tsne = cx.input_all("tsne");
        let all: Vec<&Artifact> = plots
            .iter()
            .chain(metrics)
            .chain(tsne)
            .chain(cx.input_all("claims"))
            .chain(cx.input_all("evidence"))
            .map(|a| a.as_ref())
            .collect();
        let manifests = upstream(&all)?;
        let names = self.names.of_keys(cx.inputs, &manifests);
        let mut sections = self.figures(plots, &names)?;
        let mut tables = Vec::new();
        for (i, a) in metrics.iter().enumerate() {
            let stage = &names[a.key()];
            let caption = self.p.labels.get(i).unwrap_or(stage).clone();
            let batch = a.table(&self.p.metrics_table)?;
            let what = format!("table `{}` of stage `{stage}`", self.p.metrics_table);
            tables.push(metrics_table(
                &batch,
                what,
                format!("{caption}: final epoch, mean ± std over seeds"),
            )?);
        }
        // Question-level intervals beside the seed spread, where an `evidence` input has them.
        let evidence: Vec<Evidence> = cx
            .input_all("evidence")
            .iter()
            .map(|a| Evidence::read(a))
            .collect::<Result<_>>()?;
        for (t, a) in tables.iter_mut().zip(metrics) {
            add_intervals(t, &a.manifest.stage, &evidence);
        }
        let labels: Labels = metrics
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                self.p
                    .labels
                    .get(i)
                    .map(|l| (a.manifest.stage.clone(), l.clone()))
            })
            .collect();
        if !tables.is_empty() {
            sections.insert(
                0,
                Section {
                    title: "Final metrics".into(),
                    text: None,
                    figures: Vec::new(),
                    tables,
                },
            );
        }
        let eval_tables = evaluate_tables(cx.input_all("evidence"), &names, &labels)?;
        if !eval_tables.is_empty() {
            sections.insert(
                1.min(sections.len()),
                Section {
                    title: "Precision, recall, F1 and ROC AUC".into(),
                    text: Some(
                        "From each evaluate stage's per-run metrics on the test set (a positive is a good answer, +1); ROC AUC ranks the scores.".into(),
                    ),
                    figures: Vec::new(),
                    tables: eval_tables,
                },
            );
        }
        // The claims open the report; the model used sits after the evidence.
        let mut front: Vec<Section> = Vec::new();
        for a in cx.input_all("claims") {
            let b = a.table(claims_table::CLAIMS)?;
            let rows = claims_table::from_batch(&b, &format!("stage `{}`", names[a.key()]))?;
            front.push(claims_section(&rows));
        }
        front.extend(accuracy_section(&evidence, &labels));
        front.extend(paired_section(&evidence, &labels));
        front.extend(defect_section(&evidence, &labels));
        front.extend(models_section(cx.root, &manifests, &names));
        sections.splice(0..0, front);
        if let Some(t) = self.tsne_table(tsne, &names)? {
            sections.push(Section {
                title: "t-SNE".into(),
                text: None,
                figures: Vec::new(),
                tables: vec![t],
            });
        }
        let (dag, stages) = provenance(cx.stage, &all, &manifests, &names)?;
        let report = Report {
            title: self.p.title.clone(),
            intro: self.p.description.clone(),
            sections,
            dag,
            stages,
        };
        let html = render_html(&report);
        let provenance_table = RecordBatch::try_from_iter(vec![
            (
                "stage",
                Arc::new(StringArray::from_iter_values(
                    report.stages.iter().map(|s| s.name.clone()),
                )) as ArrayRef,
            ),
            (
                "kind",
                Arc::new(StringArray::from_iter_values(
                    report.stages.iter().map(|s| s.kind.clone()),
                )) as ArrayRef,
            ),
            (
                "key",
                Arc::new(StringArray::from_iter_values(
                    report.stages.iter().map(|s| s.key.clone()),
                )) as ArrayRef,
            ),
            (
                "duration_s",
                Arc::new(Float64Array::from_iter(
                    report.stages.iter().map(|s| s.duration_s),
                )) as ArrayRef,
            ),
        ])?;
        let mut out = Output::default();
        out.notes.push(format!(
            "report.html: {} sections, {} upstream stages ({} KB)",
            report.sections.len(),
            report.stages.len(),
            html.len() / 1024
        ));
        Ok(out
            .file("report.html", html.into_bytes())
            .table("provenance", provenance_table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::testkit::{curves, test_acc, Store};
    use crate::viz::figures::{Band, OptimizerCurves, OptimizerPanels};

    #[test]
    fn report_holds_figures_final_metrics_and_full_provenance() {
        let store = Store::new();
        let features = store.put("features", "tfidf", &[], Output::default());
        let train = store.put(
            "train",
            "train",
            &[&features],
            Output::default().table("curves", curves(30, &[])),
        );
        let fig = OptimizerPanels {
            title: "Core".into(),
            curves: vec![OptimizerCurves {
                name: "adam".into(),
                label: "ADAM".into(),
                epoch: vec![1.0, 2.0],
                time_s: vec![0.1, 0.2],
                loss: Band::exact(vec![1.0, 0.5]),
                accuracy: Band::exact(vec![0.6, 0.8]),
            }],
        };
        let png = crate::viz::render(&fig, Format::Png).unwrap();
        let figures = RecordBatch::try_from_iter(vec![
            (
                "name",
                Arc::new(StringArray::from(vec!["core"])) as ArrayRef,
            ),
            (
                "type",
                Arc::new(StringArray::from(vec!["optimizers"])) as ArrayRef,
            ),
            (
                "title",
                Arc::new(StringArray::from(vec!["Core optimizers"])) as ArrayRef,
            ),
            (
                "files",
                Arc::new(StringArray::from(vec!["core.png"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let plots = store.put(
            "plot",
            "plot",
            &[&train],
            Output::default()
                .table("figures", figures)
                .file("core.png", png.clone()),
        );
        let p: Params =
            serde_json::from_value(serde_json::json!({ "title": "Study", "labels": ["TF-IDF"] }))
                .unwrap();
        let out = store
            .run(
                &ReportStage {
                    p,
                    names: Names::default(),
                },
                "report",
                &[("plots", vec![plots]), ("metrics", vec![train.clone()])],
            )
            .unwrap();
        let html = String::from_utf8(out.files[0].1.clone()).unwrap();
        assert_eq!(out.files[0].0, "report.html");
        if let Ok(dir) = std::env::var("QA_PIPE_FIGURE_DIR") {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/stage_report.html"), &html).unwrap();
        }
        use base64::Engine;
        assert!(
            html.contains(&base64::engine::general_purpose::STANDARD.encode(&png)),
            "figure embedded"
        );
        assert!(html.contains("<h2>Core optimizers</h2>"));
        // Adam's final test accuracy over the three seeds, computed independently.
        let finals: Vec<f64> = (0..3).map(|s| test_acc(2, s, 30)).collect();
        let (m, sd) = mean_std(&finals);
        assert!(
            html.contains(&fmt_mean_std(m, sd, 3)),
            "adam {}",
            fmt_mean_std(m, sd, 3)
        );
        assert!(html.contains("TF-IDF: final epoch, mean ± std over seeds"));
        // Provenance reaches `features`, which the report does not read directly.
        for edge in [
            ("features", "train"),
            ("train", "plot"),
            ("plot", "report"),
            ("train", "report"),
        ] {
            assert!(
                html.contains(&format!("<tr><td>{}</td><td>{}</td></tr>", edge.0, edge.1)),
                "edge {edge:?}"
            );
        }
        assert!(
            html.contains(train.key())
                && html.contains("1.50 s")
                && html.contains("&quot;made_by&quot;: &quot;testkit&quot;")
        );
        let prov = &out.tables[0].1;
        assert_eq!(
            Named::new(prov, "p").strings("stage").unwrap(),
            vec!["features", "train", "plot"]
        );
    }
}

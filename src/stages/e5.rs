//! `e5`: E5 sentence embeddings of each question ("query: " + q) and answer ("passage: " +
//! a), laid out as `[q, a, 1]` (the study's rows) or `[q, a, q*a, |q-a|, 1]`, in the same
//! feature table as `tfidf`, so `train` takes either. The model directory's files (and the
//! ONNX Runtime library) are declared inputs: their content hashes are in the stage key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use ndarray::{s, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::features;
use super::qa_table::{self, QaRow};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::embed::{model_files, resolve_runtime_path, E5Model, E5Options, ModelDir};
use crate::error::ConfigError;

pub const KIND: Kind = Kind {
    name: "e5",
    version: 1,
    summary: "E5 sentence embeddings [e5(q), e5(a), 1] (ONNX Runtime), same table as tfidf",
    inputs: &[Role::one("data")],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Folder with model.onnx (+ model.onnx_data) and tokenizer.json, relative to the
    /// project folder; scripts/setup-models.sh builds the default.
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default = "default_query_prefix")]
    pub query_prefix: String,
    #[serde(default = "default_passage_prefix")]
    pub passage_prefix: String,
    /// No effect, accepted so older pipelines load: texts are batched by exact token length
    /// (embed/batching.rs), so the vectors are the same bits on every machine.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Tokens per text, special tokens included; longer texts are truncated.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// ONNX Runtime threads, 0 = every core; speed only (not in the stage key).
    #[serde(default)]
    pub threads: usize,
    /// `qa`: [q, a, 1] (the study's); `qa_prod_diff`: [q, a, q*a, |q-a|, 1].
    #[serde(default = "default_features")]
    pub features: String,
    /// The ONNX Runtime library; default: $QA_PIPE_ORT_LIB, $ORT_DYLIB_PATH, then
    /// models/onnxruntime/libonnxruntime.so. Its content is in the stage key.
    #[serde(default)]
    pub ort_lib: Option<String>,
}

fn default_model() -> String {
    "models/multilingual-e5-small".into()
}
fn default_query_prefix() -> String {
    "query: ".into()
}
fn default_passage_prefix() -> String {
    "passage: ".into()
}
fn default_batch_size() -> usize {
    32
}
fn default_max_length() -> usize {
    512
}
fn default_features() -> String {
    "qa".into()
}

/// What decides the vectors; `batch_size`, `threads` and the paths are left out of the key
/// (the files' contents are in it instead), so moving the model or tuning speed reuses the
/// cache. That is sound because the vectors are bit-identical whatever those say: texts run
/// in batches of one length (embed/batching.rs), and tests/e5_batching.rs checks every
/// vector bit for bit against the text embedded alone, with 1 and 2 threads.
#[derive(Serialize)]
struct KeyParams<'a> {
    query_prefix: &'a str,
    passage_prefix: &'a str,
    max_length: usize,
    features: &'a str,
}

struct E5Stage {
    p: Params,
    dir: PathBuf,
    ort_lib: PathBuf,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if !["qa", "qa_prod_diff"].contains(&self.features.as_str()) {
            return Err(cx
                .error("features", format!("unknown features `{}`", self.features))
                .help("use `qa` ([q, a, 1]) or `qa_prod_diff` ([q, a, q*a, |q-a|, 1])"));
        }
        if self.max_length < 2 {
            return Err(cx.error(
                "max_length",
                "max_length must be at least 2 (room for the special tokens)",
            ));
        }
        let dir = cx.root.join(&self.model);
        let model = ModelDir::open(&dir).map_err(|e| located(cx, "model", &e))?;
        let explicit = self.ort_lib.as_ref().map(|p| cx.root.join(p));
        let ort_lib = resolve_runtime_path(explicit.as_deref(), Some(&model.dir)).map_err(|e| {
            located(
                cx,
                if self.ort_lib.is_some() {
                    "ort_lib"
                } else {
                    "model"
                },
                &e,
            )
        })?;
        for f in model_files(&model.dir) {
            cx.add_file(f);
        }
        cx.add_file(ort_lib.clone());
        cx.set_canonical(
            serde_json::to_value(KeyParams {
                query_prefix: &self.query_prefix,
                passage_prefix: &self.passage_prefix,
                max_length: self.max_length,
                features: &self.features,
            })
            .map_err(|e| ConfigError::new(e.to_string()))?,
        );
        Ok(Box::new(E5Stage {
            p: self,
            dir: model.dir,
            ort_lib,
        }))
    }
}

/// An engine error at a param: its first line as the message, the rest (what to do) as help.
fn located(cx: &BuildCx<'_>, field: &str, e: &crate::embed::EmbedError) -> ConfigError {
    let msg = e.to_string();
    match msg.split_once('\n') {
        Some((what, todo)) => cx.error(field, what).help(todo.replace('\n', "\n    ")),
        None => cx.error(field, msg),
    }
}

/// Distinct texts in order of first appearance, and each input's index among them: every
/// question appears once per answer, so this halves the question work.
fn distinct<'a>(texts: impl Iterator<Item = &'a str>) -> (Vec<&'a str>, Vec<usize>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut unique = Vec::new();
    let index = texts
        .map(|t| {
            *seen.entry(t).or_insert_with(|| {
                unique.push(t);
                unique.len() - 1
            })
        })
        .collect();
    (unique, index)
}

/// One feature row per QA row: `[q, a, 1]` or `[q, a, q*a, |q-a|, 1]`, in f64.
pub fn pair_features(
    q: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    prod_diff: bool,
) -> Array2<f64> {
    let (n, d) = q.dim();
    let blocks = if prod_diff { 4 } else { 2 };
    let mut x = Array2::<f64>::zeros((n, blocks * d + 1));
    x.slice_mut(s![.., 0..d]).assign(&q.mapv(f64::from));
    x.slice_mut(s![.., d..2 * d]).assign(&a.mapv(f64::from));
    if prod_diff {
        let (qf, af) = (q.mapv(f64::from), a.mapv(f64::from));
        x.slice_mut(s![.., 2 * d..3 * d]).assign(&(&qf * &af));
        x.slice_mut(s![.., 3 * d..4 * d])
            .assign(&(&qf - &af).mapv(f64::abs));
    }
    x.column_mut(blocks * d).fill(1.0);
    x
}

impl E5Stage {
    /// The texts' vectors and how many were truncated; `embedded(n)` after each batch.
    fn embed(
        &self,
        model: &E5Model,
        prefix: &str,
        texts: &[&str],
        embedded: impl FnMut(usize),
    ) -> Result<(Array2<f32>, usize)> {
        let prefixed: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let truncated = model
            .token_ids(&prefixed)?
            .iter()
            .filter(|ids| ids.len() >= self.p.max_length)
            .count();
        Ok((model.embed_counting(&prefixed, embedded)?, truncated))
    }
}

impl Stage for E5Stage {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let data = cx.input("data")?;
        let (train, train_groups) = qa_table::from_batch(&data.table("train")?)?;
        let (test, test_groups) = qa_table::from_batch(&data.table("test")?)?;
        let opts = E5Options {
            max_length: self.p.max_length,
            threads: self.p.threads,
            ort_lib: Some(self.ort_lib.clone()),
        };
        let model = E5Model::load(&self.dir, opts)
            .with_context(|| format!("loading the E5 model {}", self.dir.display()))?;

        let all: Vec<&QaRow> = train.iter().chain(&test).collect();
        let (questions, q_index) = distinct(all.iter().map(|r| r.question.as_str()));
        let (answers, a_index) = distinct(all.iter().map(|r| r.answer.as_str()));
        let (nq, total) = (
            questions.len() as u64,
            (questions.len() + answers.len()) as u64,
        );
        cx.tick("sentences", 0, total);
        let (q_emb, q_cut) = self
            .embed(&model, &self.p.query_prefix, &questions, |n| {
                cx.tick("sentences", n as u64, total)
            })
            .context("embedding the questions")?;
        let (a_emb, a_cut) = self
            .embed(&model, &self.p.passage_prefix, &answers, |n| {
                cx.tick("sentences", nq + n as u64, total)
            })
            .context("embedding the answers")?;
        if q_cut + a_cut > 0 {
            cx.warn(format!(
                "{q_cut} questions and {a_cut} answers reached max_length {} tokens and were truncated",
                self.p.max_length
            ));
        }

        let prod_diff = self.p.features == "qa_prod_diff";
        let mut out = Output::default();
        let mut offset = 0;
        for (name, rows, groups) in [
            ("train", &train, &train_groups),
            ("test", &test, &test_groups),
        ] {
            let range = offset..offset + rows.len();
            offset += rows.len();
            let q = q_emb.select(ndarray::Axis(0), &q_index[range.clone()]);
            let a = a_emb.select(ndarray::Axis(0), &a_index[range]);
            let x = pair_features(q.view(), a.view(), prod_diff);
            let labels: Vec<i8> = rows.iter().map(|r| r.label).collect();
            out = out.table(name, features::dense_to_batch(&x, &labels, groups)?);
        }
        let d = model.dim();
        out.notes.push(format!(
            "{}: {} distinct questions, {} distinct answers, {d}-d vectors; {} features per row ({})",
            self.dir.display(),
            questions.len(),
            answers.len(),
            if prod_diff { 4 * d + 1 } else { 2 * d + 1 },
            if prod_diff { "[q, a, q*a, |q-a|, 1]" } else { "[q, a, 1]" },
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn qa_rows_are_q_then_a_then_one() {
        let q = array![[1.0f32, 2.0], [3.0, 4.0]];
        let a = array![[5.0f32, 6.0], [7.0, 8.0]];
        let x = pair_features(q.view(), a.view(), false);
        assert_eq!(
            x,
            array![[1.0, 2.0, 5.0, 6.0, 1.0], [3.0, 4.0, 7.0, 8.0, 1.0]]
        );
    }

    #[test]
    fn prod_diff_rows_add_product_and_absolute_difference() {
        let q = array![[1.0f32, -2.0]];
        let a = array![[0.5f32, 3.0]];
        let x = pair_features(q.view(), a.view(), true);
        assert_eq!(x, array![[1.0, -2.0, 0.5, 3.0, 0.5, -6.0, 0.5, 5.0, 1.0]]);
    }

    #[test]
    fn distinct_keeps_first_appearance_order() {
        let (u, i) = distinct(["b", "a", "b", "c", "a"].into_iter());
        assert_eq!(u, ["b", "a", "c"]);
        assert_eq!(i, [0, 1, 0, 2, 1]);
    }
}

//! `tfidf`: linfa-preprocessing's TF-IDF fitted on the training rows only, question and answer
//! vectorised separately, each row laid out as `[tfidf(q), tfidf(a), 1]` like the study's E5
//! rows. Rows are L2-normalised per part (as scikit-learn's TfidfVectorizer does).

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use linfa_preprocessing::tf_idf_vectorization::{FittedTfIdfVectorizer, TfIdfVectorizer};
use ndarray::Array1;
use serde::{Deserialize, Serialize};

use super::features::{self, SparseRow};
use super::qa_table::{self, QaRow};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;

pub const KIND: Kind = Kind {
    name: "tfidf",
    version: 1,
    summary: "TF-IDF features [tfidf(q), tfidf(a), 1], fitted on train only",
    inputs: &[Role::one("data")],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `separate`: one vocabulary for questions, one for answers (the study's layout);
    /// `joint`: one vocabulary fitted on both.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Keep only the most frequent terms (per vocabulary).
    #[serde(default)]
    pub max_features: Option<usize>,
    /// Smallest and largest n-gram length.
    #[serde(default = "default_ngram")]
    pub ngram: [usize; 2],
    /// Drop terms in fewer than this fraction of training documents.
    #[serde(default)]
    pub min_df: f32,
    /// Drop terms in more than this fraction of training documents.
    #[serde(default = "one")]
    pub max_df: f32,
    /// L2-normalise each part of the row.
    #[serde(default = "yes")]
    pub l2: bool,
    /// Append the constant 1 column (the study's bias).
    #[serde(default = "yes")]
    pub bias: bool,
}

fn default_mode() -> String {
    "separate".into()
}
fn default_ngram() -> [usize; 2] {
    [1, 1]
}
fn one() -> f32 {
    1.0
}
fn yes() -> bool {
    true
}

/// idf is linfa's smooth form, ln((1+n)/(1+df)) + 1, scikit-learn's default.
struct Tfidf {
    p: Params,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if !["separate", "joint"].contains(&self.mode.as_str()) {
            return Err(cx
                .error("mode", format!("unknown mode `{}`", self.mode))
                .help("use `separate` or `joint`"));
        }
        if self.ngram[0] == 0 || self.ngram[0] > self.ngram[1] {
            return Err(cx.error("ngram", "ngram must be [min, max] with 1 <= min <= max"));
        }
        if !(0.0..=1.0).contains(&self.min_df)
            || !(0.0..=1.0).contains(&self.max_df)
            || self.min_df > self.max_df
        {
            return Err(cx.error(
                "min_df",
                "min_df and max_df are fractions with 0 <= min_df <= max_df <= 1",
            ));
        }
        Ok(Box::new(Tfidf { p: self }))
    }
}

impl Tfidf {
    fn fit(&self, docs: &[String]) -> Result<FittedTfIdfVectorizer> {
        let v = TfIdfVectorizer::default()
            .convert_to_lowercase(true)
            .normalize(false)
            .n_gram_range(self.p.ngram[0], self.p.ngram[1])
            .document_frequency(self.p.min_df, self.p.max_df)
            .max_features(self.p.max_features);
        v.fit(&Array1::from(docs.to_vec()))
            .context("fitting TF-IDF on the training rows")
    }

    fn transform(&self, v: &FittedTfIdfVectorizer, docs: &[String]) -> Result<Vec<SparseRow>> {
        let m = v.transform(&Array1::from(docs.to_vec()))?;
        let m = m.to_csr();
        Ok(m.outer_iterator()
            .map(|row| {
                let mut pairs: Vec<(u32, f64)> = row.iter().map(|(c, v)| (c as u32, *v)).collect();
                pairs.sort_by_key(|p| p.0);
                let norm = if self.p.l2 {
                    pairs.iter().map(|p| p.1 * p.1).sum::<f64>().sqrt()
                } else {
                    1.0
                };
                let norm = if norm > 0.0 { norm } else { 1.0 };
                (
                    pairs.iter().map(|p| p.0).collect(),
                    pairs.iter().map(|p| p.1 / norm).collect(),
                )
            })
            .collect())
    }
}

/// `[q | a | 1]`: answer indices shifted past the question block, the bias last.
fn assemble(
    q: Vec<SparseRow>,
    a: Vec<SparseRow>,
    qdim: usize,
    adim: usize,
    bias: bool,
) -> Vec<SparseRow> {
    q.into_iter()
        .zip(a)
        .map(|((mut qi, mut qv), (ai, av))| {
            qi.extend(ai.iter().map(|i| i + qdim as u32));
            qv.extend(av);
            if bias {
                qi.push((qdim + adim) as u32);
                qv.push(1.0);
            }
            (qi, qv)
        })
        .collect()
}

fn vocab_batch(parts: &[(&str, &FittedTfIdfVectorizer, usize)]) -> Result<RecordBatch> {
    let mut part = Vec::new();
    let mut index = Vec::new();
    let mut term = Vec::new();
    for (name, v, offset) in parts {
        for (i, t) in v.vocabulary().iter().enumerate() {
            part.push(*name);
            index.push((offset + i) as u32);
            term.push(t.as_str());
        }
    }
    let schema = Schema::new(vec![
        Field::new("part", DataType::Utf8, false),
        Field::new("column", DataType::UInt32, false),
        Field::new("term", DataType::Utf8, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(part)),
            Arc::new(UInt32Array::from(index)),
            Arc::new(StringArray::from(term)),
        ],
    )?)
}

impl Stage for Tfidf {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let data = cx.input("data")?;
        let (train, train_groups) = qa_table::from_batch(&data.table("train")?)?;
        let (test, test_groups) = qa_table::from_batch(&data.table("test")?)?;
        let qs = |rows: &[QaRow]| rows.iter().map(|r| r.question.clone()).collect::<Vec<_>>();
        let as_ = |rows: &[QaRow]| rows.iter().map(|r| r.answer.clone()).collect::<Vec<_>>();
        let (vq, va) = if self.p.mode == "separate" {
            (self.fit(&qs(&train))?, self.fit(&as_(&train))?)
        } else {
            let both: Vec<String> = qs(&train).into_iter().chain(as_(&train)).collect();
            let v = self.fit(&both)?;
            (v.clone(), v)
        };
        let (qdim, adim) = (vq.nentries(), va.nentries());
        let dim = qdim + adim + usize::from(self.p.bias);
        let mut out = Output::default();
        for (name, rows, groups) in [
            ("train", &train, &train_groups),
            ("test", &test, &test_groups),
        ] {
            let x = assemble(
                self.transform(&vq, &qs(rows))?,
                self.transform(&va, &as_(rows))?,
                qdim,
                adim,
                self.p.bias,
            );
            let labels: Vec<i8> = rows.iter().map(|r| r.label).collect();
            out = out.table(name, features::to_batch(&x, &labels, groups, dim)?);
        }
        out.notes.push(format!(
            "vocabulary: {qdim} question terms, {adim} answer terms; {dim} features per row"
        ));
        Ok(out.table(
            "vocab",
            vocab_batch(&[("question", &vq, 0), ("answer", &va, qdim)])?,
        ))
    }
}

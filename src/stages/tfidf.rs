//! `tfidf`: linfa-preprocessing's TF-IDF fitted on the training rows only, question and answer
//! vectorised separately, each row laid out as `[tfidf(q), tfidf(a), 1]` like the study's E5
//! rows. Rows are L2-normalised per part (as scikit-learn's TfidfVectorizer does).

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use linfa_preprocessing::{CountVectorizer, CountVectorizerParams};
use ndarray::Array1;
use serde::{Deserialize, Serialize};

use super::features::{self, SparseRow};
use super::qa_table::{self, QaRow};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;

pub const KIND: Kind = Kind {
    name: "tfidf",
    version: 2,
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

/// linfa-preprocessing tokenises and counts; the idf is computed here from the *training*
/// document frequencies, ln((1+n)/(1+df)) + 1 as scikit-learn does. (linfa's own TF-IDF
/// transform recomputes document frequencies from whatever it transforms, which would let
/// the test rows shape their own weights.) Columns are in sorted term order, so keys and
/// numbers do not depend on hash-map iteration order.
struct Tfidf {
    p: Params,
}

/// A vocabulary fitted on training documents: sorted terms, their idf weights, and where each
/// of linfa's columns goes in the sorted order.
struct Fitted {
    counter: CountVectorizer,
    column: Vec<u32>,
    terms: Vec<String>,
    idf: Vec<f64>,
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
    fn params(&self) -> CountVectorizerParams {
        CountVectorizer::params()
            // Lowercased beforehand, the Turkish way (see `fold`).
            .convert_to_lowercase(false)
            .normalize(false)
            .n_gram_range(self.p.ngram[0], self.p.ngram[1])
            .document_frequency(self.p.min_df, self.p.max_df)
    }

    fn fit(&self, docs: &[String]) -> Result<Fitted> {
        let docs = fold(docs);
        let all = self
            .params()
            .fit(&docs)
            .context("fitting the vocabulary on the training rows")?;
        let mut terms: Vec<String> = all.vocabulary().clone();
        if let Some(k) = self.p.max_features {
            // Most frequent first, ties by term, so the cut is deterministic.
            let counts = all.transform(&docs)?;
            let mut total = vec![0usize; terms.len()];
            for row in counts.outer_iterator() {
                for (c, n) in row.iter() {
                    total[c] += *n;
                }
            }
            let mut order: Vec<usize> = (0..terms.len()).collect();
            order.sort_by(|&a, &b| {
                total[b]
                    .cmp(&total[a])
                    .then_with(|| terms[a].cmp(&terms[b]))
            });
            terms = order
                .into_iter()
                .take(k)
                .map(|i| terms[i].clone())
                .collect();
        }
        terms.sort();
        let counter = self
            .params()
            .fit_vocabulary(&terms)
            .context("building the vocabulary")?;
        // linfa's column order follows its hash map; map each of its columns to the sorted one.
        let column: Vec<u32> = counter
            .vocabulary()
            .iter()
            .map(|t| terms.binary_search(t).expect("vocabulary term") as u32)
            .collect();
        let counts = counter.transform(&docs)?;
        let mut df = vec![0usize; terms.len()];
        for row in counts.outer_iterator() {
            for (c, _) in row.iter() {
                df[column[c] as usize] += 1;
            }
        }
        let n = docs.len() as f64;
        let idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f64)).ln() + 1.0)
            .collect();
        Ok(Fitted {
            counter,
            column,
            terms,
            idf,
        })
    }

    fn transform(&self, f: &Fitted, docs: &[String]) -> Result<Vec<SparseRow>> {
        let counts = f.counter.transform(&fold(docs))?;
        Ok(counts
            .outer_iterator()
            .map(|row| {
                let mut pairs: Vec<(u32, f64)> = row
                    .iter()
                    .map(|(c, n)| {
                        let col = f.column[c];
                        (col, *n as f64 * f.idf[col as usize])
                    })
                    .collect();
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

/// Documents lowercased with Turkish dotted and dotless i (`İ` -> `i`, `I` -> `ı`), where
/// scikit-learn (and linfa's own lowercasing) map `İ` to `i` + U+0307 and `I` to `i`.
/// A deliberate difference: scikit-learn cuts `İstanbul` into `stanbul` (its `\w` does not
/// match the combining dot) and makes `IŞIK` and `ışık` two terms; here both are one term.
/// Text without `İ` or `I` gives scikit-learn's terms and numbers exactly.
fn fold(docs: &[String]) -> Array1<String> {
    docs.iter()
        .map(|d| crate::text::turkish_lowercase(d))
        .collect()
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

fn vocab_batch(parts: &[(&str, &Fitted, usize)]) -> Result<RecordBatch> {
    let mut part = Vec::new();
    let mut index = Vec::new();
    let mut term = Vec::new();
    for (name, v, offset) in parts {
        for (i, t) in v.terms.iter().enumerate() {
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
            (self.fit(&both)?, self.fit(&both)?)
        };
        let (qdim, adim) = (vq.idf.len(), va.idf.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> Tfidf {
        let p: Params = serde_json::from_str("{}").unwrap();
        Tfidf { p }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Values from tests/fixtures/tfidf/sklearn_reference.py (scikit-learn 1.9.1).
    #[test]
    fn matches_scikit_learn() {
        let t = stage();
        let train = s(&[
            "Türkiye'nin başkenti nedir?",
            "Suyun formülü nedir?",
            "En büyük gezegen hangisidir?",
            "Başkent Ankara mı, başkent Kars mı?",
        ]);
        let test = s(&["Ankara nedir?", "Gezegen ve su nedir nedir?", "hiçbiri yok"]);
        let f = t.fit(&train).unwrap();
        let terms = [
            "ankara",
            "başkent",
            "başkenti",
            "büyük",
            "en",
            "formülü",
            "gezegen",
            "hangisidir",
            "kars",
            "mı",
            "nedir",
            "nin",
            "suyun",
            "türkiye",
        ];
        assert_eq!(f.terms, s(&terms));
        let want_train: Vec<Vec<(u32, f64)>> = vec![
            vec![
                (2, 0.5254727492640658),
                (10, 0.41428875116588965),
                (11, 0.5254727492640658),
                (13, 0.5254727492640658),
            ],
            vec![
                (5, 0.6176143709756019),
                (10, 0.48693426407352264),
                (12, 0.6176143709756019),
            ],
            vec![(3, 0.5), (4, 0.5), (6, 0.5), (7, 0.5)],
            vec![
                (0, 0.31622776601683794),
                (1, 0.6324555320336759),
                (8, 0.31622776601683794),
                (9, 0.6324555320336759),
            ],
        ];
        let want_test: Vec<Vec<(u32, f64)>> = vec![
            vec![(0, 0.7852882757103967), (10, 0.6191302964899972)],
            vec![(6, 0.5355662725381126), (10, 0.8444932017012523)],
            vec![],
        ];
        for (docs, want) in [(&train, want_train), (&test, want_test)] {
            let got = t.transform(&f, docs).unwrap();
            assert_eq!(got.len(), want.len());
            for ((gi, gv), w) in got.iter().zip(&want) {
                assert_eq!(gi, &w.iter().map(|p| p.0).collect::<Vec<_>>());
                for (a, b) in gv.iter().zip(w.iter().map(|p| p.1)) {
                    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
                }
            }
        }
    }

    fn check_rows(got: &[SparseRow], want: &[Vec<(u32, f64)>]) {
        assert_eq!(got.len(), want.len());
        for ((gi, gv), w) in got.iter().zip(want) {
            assert_eq!(gi, &w.iter().map(|p| p.0).collect::<Vec<_>>());
            for (a, b) in gv.iter().zip(w.iter().map(|p| p.1)) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }
    }

    /// tests/fixtures/tfidf/sklearn_turkish.py, scikit-learn 1.9.1, printed:
    ///
    /// ```text
    /// vocabulary ['irmak', 'istanbul', 'işik', 'stanbul', 'zmi', 'ılık', 'ırmak', 'ışık']
    /// plain vocabulary ['batar', 'büyük', 'doğar', 'güneş', 'güzel', 've', 'şehir', 'şehirler']
    /// [(1, 0.4020402441612698), (4, 0.5286346066596935), (6, 0.5286346066596935), (7, 0.5286346066596935)]
    /// [(0, 0.4338160942155483), (2, 0.4338160942155483), (3, 0.6598566429147316), (5, 0.4338160942155483)]
    /// [(1, 0.7071067811865476), (3, 0.7071067811865476)]
    /// folded vocabulary ['istanbul', 'izmir', 'ılık', 'ırmak', 'ışık']
    /// [(0, 0.5178561161676974), (2, 0.680918560398684), (4, 0.5178561161676974)]
    /// [(0, 0.7071067811865476), (4, 0.7071067811865476)]
    /// [(1, 0.4472135954999579), (3, 0.8944271909999159)]
    /// ```
    ///
    /// Issue 12 item 3: tokens were lowercased with `to_lowercase`, `İstanbul` becoming
    /// `i̇stanbul` (with a combining dot) and `IŞIK` becoming `işik`.
    #[test]
    #[allow(clippy::approx_constant)] // scikit-learn's printed values, pasted as printed
    fn i12_3_turkish_tokens_fold_i_unlike_scikit_learn() {
        let t = stage();
        // Without İ/I: scikit-learn's terms and weights.
        let plain = s(&[
            "Şehirler güzel, şehir büyük",
            "Güneş doğar ve güneş batar",
            "büyük güneş",
        ]);
        let f = t.fit(&plain).unwrap();
        let terms = [
            "batar",
            "büyük",
            "doğar",
            "güneş",
            "güzel",
            "ve",
            "şehir",
            "şehirler",
        ];
        assert_eq!(f.terms, s(&terms));
        check_rows(
            &t.transform(&f, &plain).unwrap(),
            &[
                vec![
                    (1, 0.4020402441612698),
                    (4, 0.5286346066596935),
                    (6, 0.5286346066596935),
                    (7, 0.5286346066596935),
                ],
                vec![
                    (0, 0.4338160942155483),
                    (2, 0.4338160942155483),
                    (3, 0.6598566429147316),
                    (5, 0.4338160942155483),
                ],
                vec![(1, 0.7071067811865476), (3, 0.7071067811865476)],
            ],
        );
        // With İ/I: not scikit-learn's vocabulary (which holds `stanbul`, `zmi` and both
        // `işik` and `ışık`), but scikit-learn's numbers on Turkish-lowercased text.
        let docs = s(&["İstanbul IŞIK ılık", "istanbul ışık", "IRMAK İZMİR ırmak"]);
        let f = t.fit(&docs).unwrap();
        assert_eq!(f.terms, s(&["istanbul", "izmir", "ılık", "ırmak", "ışık"]));
        check_rows(
            &t.transform(&f, &docs).unwrap(),
            &[
                vec![
                    (0, 0.5178561161676974),
                    (2, 0.680918560398684),
                    (4, 0.5178561161676974),
                ],
                vec![(0, 0.7071067811865476), (4, 0.7071067811865476)],
                vec![(1, 0.4472135954999579), (3, 0.8944271909999159)],
            ],
        );
    }

    #[test]
    fn layout_is_question_then_answer_then_bias() {
        let rows = assemble(
            vec![(vec![1], vec![0.5])],
            vec![(vec![0, 2], vec![0.25, 0.75])],
            3,
            4,
            true,
        );
        assert_eq!(rows, vec![(vec![1, 3, 5, 7], vec![0.5, 0.25, 0.75, 1.0])]);
    }

    #[test]
    fn max_features_keeps_the_most_frequent_terms() {
        let mut t = stage();
        t.p.max_features = Some(2);
        let f = t
            .fit(&s(&["nedir nedir su", "su nedir ankara", "kars"]))
            .unwrap();
        assert_eq!(f.terms, s(&["nedir", "su"]));
    }
}

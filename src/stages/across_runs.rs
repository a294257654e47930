//! How an `evaluate` artifact's headline accuracies changed between two runs, with the
//! paired-bootstrap interval of each change over the test questions both runs evaluated.
//!
//! Two runs' accuracies on the same questions are not independent samples: the question
//! mix is shared, so the interval of the difference is far narrower than the two runs'
//! own intervals suggest. Pairing resamples questions once for both runs (as `evaluate`
//! pairs two configurations of one run); it applies only when both evaluated exactly the
//! same questions (same texts, same rows per question), and says nothing otherwise.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::evaluate::{accuracy_metric, Params};
use super::evidence::{self, measure, QuestionRow};
use crate::cache::Artifact;
use crate::ml::stats::{bootstrap_indices, bootstrap_mean};

/// Per (source, optimizer): each question's (text, value, weight).
type ByConfig = BTreeMap<(String, String), Vec<(String, f64, f64)>>;

/// The change of one headline metric from run A to run B on the same questions.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedChange {
    /// The headline metric's name, as `evaluate` declares it.
    pub metric: String,
    /// b − a.
    pub difference: f64,
    /// 95% paired-bootstrap interval of the difference.
    pub lo: f64,
    pub hi: f64,
    /// Test questions resampled.
    pub questions: usize,
}

/// Each configuration (source, optimizer) that both artifacts evaluated on the same
/// questions, with its accuracy change b − a. Resampling uses B's `seed` and `resamples`.
pub fn accuracy_changes(a: &Artifact, b: &Artifact) -> Result<Vec<PairedChange>> {
    let rows = |x: &Artifact| -> Result<Vec<QuestionRow>> {
        let what = format!("stage `{}`", x.manifest.stage);
        let t = x.table(evidence::PER_QUESTION).with_context(|| {
            format!("{what} has no per-question table (an artifact of an older qa-pipe)")
        })?;
        evidence::per_question_from_batch(&t, &what)
    };
    let (ra, rb) = (rows(a)?, rows(b)?);
    let p: Params = serde_json::from_value(b.manifest.params.clone())
        .context("reading the evaluation's params")?;
    let by_config = |rows: &[QuestionRow]| {
        let mut m: ByConfig = BTreeMap::new();
        for r in rows.iter().filter(|r| r.measure == measure::ACCURACY) {
            m.entry((r.source.clone(), r.config.clone()))
                .or_default()
                .push((r.question.clone(), r.value, r.weight));
        }
        m
    };
    let (ca, cb) = (by_config(&ra), by_config(&rb));
    let mut out = Vec::new();
    // In B's order: the order `evaluate` wrote its configurations.
    let mut seen = Vec::new();
    for r in &rb {
        let c = (r.source.clone(), r.config.clone());
        if seen.contains(&c) || r.measure != measure::ACCURACY {
            continue;
        }
        seen.push(c.clone());
        let (Some(qa), Some(qb)) = (ca.get(&c), cb.get(&c)) else {
            continue;
        };
        let a_of: BTreeMap<&str, (f64, f64)> =
            qa.iter().map(|(q, v, w)| (q.as_str(), (*v, *w))).collect();
        if a_of.len() != qb.len() {
            continue;
        }
        let mut d = Vec::with_capacity(qb.len());
        let mut w = Vec::with_capacity(qb.len());
        for (q, vb, wb) in qb {
            match a_of.get(q.as_str()) {
                Some(&(va, wa)) if wa == *wb => {
                    d.push(vb - va);
                    w.push(*wb);
                }
                _ => break,
            }
        }
        // One question shows no spread: no interval rather than a zero-width one.
        if d.len() != qb.len() || d.len() < 2 {
            continue;
        }
        let draws = bootstrap_indices(p.seed, d.len(), p.resamples);
        let iv = bootstrap_mean(&d, &w, &draws);
        out.push(PairedChange {
            metric: accuracy_metric(&c.0, &c.1),
            difference: iv.estimate,
            lo: iv.lo,
            hi: iv.hi,
            questions: d.len(),
        });
    }
    Ok(out)
}

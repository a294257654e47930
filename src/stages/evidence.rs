//! The uncertainty tables `evaluate` writes and `claims`, `plot` and `report` read:
//! `intervals` (one row per configuration and measure: estimate, 95% interval, how it was
//! obtained) and `paired` (one row per pair of configurations and measure: difference,
//! paired-bootstrap interval, permutation p-value), and `per_question` (one row per
//! configuration, measure and test question: the value the intervals resample, so two
//! runs' evaluations can be paired question by question). Column names are the constants
//! below.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};

use super::columns::Named;
use super::train::batch;

pub const INTERVALS: &str = "intervals";
pub const PAIRED: &str = "paired";
pub const PER_QUESTION: &str = "per_question";

pub const SOURCE: &str = "source";
pub const CONFIG: &str = "config";
pub const MEASURE: &str = "measure";
pub const DEFECT: &str = "defect";
pub const ESTIMATE: &str = "estimate";
pub const LO: &str = "lo";
pub const HI: &str = "hi";
pub const UNITS: &str = "units";
pub const UNIT: &str = "unit";
pub const SEEDS: &str = "seeds";
pub const SATURATED: &str = "saturated_runs";
pub const DIVERGED: &str = "diverged_runs";
pub const METHOD: &str = "method";
pub const RESAMPLES: &str = "resamples";

pub const SOURCE_A: &str = "source_a";
pub const CONFIG_A: &str = "config_a";
pub const SOURCE_B: &str = "source_b";
pub const CONFIG_B: &str = "config_b";
pub const A: &str = "a";
pub const B: &str = "b";
pub const DIFFERENCE: &str = "difference";
pub const P_VALUE: &str = "p_value";
pub const TEST: &str = "test";

pub const QUESTION: &str = "question";
pub const VALUE: &str = "value";
pub const WEIGHT: &str = "weight";

/// Measures in `intervals`. Question-level ones resample test questions; the training ones
/// (there are no per-row training outputs) resample seeds.
pub mod measure {
    /// Share of test rows classified right (an output above 0 means +1).
    pub const ACCURACY: &str = "accuracy";
    /// Share of test questions whose good answer scores above its bad one (ties count half).
    pub const PAIRWISE: &str = "pairwise_accuracy";
    /// Share of the bad answers of one defect type classified bad (`defect` names the type).
    pub const BAD_ANSWERS: &str = "bad_answer_accuracy";
    /// Final training accuracy.
    pub const TRAIN_ACCURACY: &str = "train_accuracy";
    /// Final training MSE.
    pub const TRAIN_MSE: &str = "final_train_mse";
    /// Training MSE averaged over the epochs: the area under the loss curve, per epoch;
    /// lower means the loss fell faster.
    pub const TRAIN_LOSS_AREA: &str = "train_loss_area";
}

/// One row of `intervals`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRow {
    pub source: String,
    pub config: String,
    pub measure: String,
    /// The defect type for `bad_answer_accuracy`, else empty.
    pub defect: String,
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
    /// How many units were resampled, and what they are (`questions`, `seeds`).
    pub units: u32,
    pub unit: String,
    pub seeds: u32,
    pub saturated_runs: u32,
    pub diverged_runs: u32,
    /// In words, e.g. "percentile bootstrap over 120 test questions, 2000 resamples".
    pub method: String,
    pub resamples: u32,
}

/// One row of `paired`: a - b on the same questions.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedRow {
    pub measure: String,
    pub source_a: String,
    pub config_a: String,
    pub source_b: String,
    pub config_b: String,
    pub a: f64,
    pub b: f64,
    pub difference: f64,
    pub lo: f64,
    pub hi: f64,
    pub p_value: f64,
    pub units: u32,
    /// In words, e.g. "paired sign-flip permutation, exact (2^12)".
    pub test: String,
    pub resamples: u32,
}

/// One row of `per_question`: a configuration's value of a question-level measure on one
/// test question (pooled over seeds), and the question's weight (its rows).
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionRow {
    pub source: String,
    pub config: String,
    pub measure: String,
    /// The question's text (or `row N` when rows are not grouped into questions): what
    /// identifies it across runs.
    pub question: String,
    pub value: f64,
    pub weight: f64,
}

fn text<T>(rows: &[T], f: impl Fn(&T) -> &str) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
}
fn num<T>(rows: &[T], f: impl Fn(&T) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(rows.iter().map(f)))
}
fn count<T>(rows: &[T], f: impl Fn(&T) -> u32) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(rows.iter().map(f)))
}

pub fn intervals_to_batch(rows: &[IntervalRow]) -> Result<RecordBatch> {
    batch(vec![
        (SOURCE, text(rows, |r| &r.source)),
        (CONFIG, text(rows, |r| &r.config)),
        (MEASURE, text(rows, |r| &r.measure)),
        (DEFECT, text(rows, |r| &r.defect)),
        (ESTIMATE, num(rows, |r| r.estimate)),
        (LO, num(rows, |r| r.lo)),
        (HI, num(rows, |r| r.hi)),
        (UNITS, count(rows, |r| r.units)),
        (UNIT, text(rows, |r| &r.unit)),
        (SEEDS, count(rows, |r| r.seeds)),
        (SATURATED, count(rows, |r| r.saturated_runs)),
        (DIVERGED, count(rows, |r| r.diverged_runs)),
        (METHOD, text(rows, |r| &r.method)),
        (RESAMPLES, count(rows, |r| r.resamples)),
    ])
}

pub fn intervals_from_batch(b: &RecordBatch, what: &str) -> Result<Vec<IntervalRow>> {
    let t = Named::new(b, format!("table `{INTERVALS}` of {what}"));
    let s = |c: &str| t.strings(c);
    let f = |c: &str| t.f64s(c);
    let (source, config, measure, defect, unit, method) = (
        s(SOURCE)?,
        s(CONFIG)?,
        s(MEASURE)?,
        s(DEFECT)?,
        s(UNIT)?,
        s(METHOD)?,
    );
    let (estimate, lo, hi) = (f(ESTIMATE)?, f(LO)?, f(HI)?);
    let (units, seeds, sat, div, res) = (
        f(UNITS)?,
        f(SEEDS)?,
        f(SATURATED)?,
        f(DIVERGED)?,
        f(RESAMPLES)?,
    );
    Ok((0..b.num_rows())
        .map(|i| IntervalRow {
            source: source[i].clone(),
            config: config[i].clone(),
            measure: measure[i].clone(),
            defect: defect[i].clone(),
            estimate: estimate[i],
            lo: lo[i],
            hi: hi[i],
            units: units[i] as u32,
            unit: unit[i].clone(),
            seeds: seeds[i] as u32,
            saturated_runs: sat[i] as u32,
            diverged_runs: div[i] as u32,
            method: method[i].clone(),
            resamples: res[i] as u32,
        })
        .collect())
}

pub fn paired_to_batch(rows: &[PairedRow]) -> Result<RecordBatch> {
    batch(vec![
        (MEASURE, text(rows, |r| &r.measure)),
        (SOURCE_A, text(rows, |r| &r.source_a)),
        (CONFIG_A, text(rows, |r| &r.config_a)),
        (SOURCE_B, text(rows, |r| &r.source_b)),
        (CONFIG_B, text(rows, |r| &r.config_b)),
        (A, num(rows, |r| r.a)),
        (B, num(rows, |r| r.b)),
        (DIFFERENCE, num(rows, |r| r.difference)),
        (LO, num(rows, |r| r.lo)),
        (HI, num(rows, |r| r.hi)),
        (P_VALUE, num(rows, |r| r.p_value)),
        (UNITS, count(rows, |r| r.units)),
        (TEST, text(rows, |r| &r.test)),
        (RESAMPLES, count(rows, |r| r.resamples)),
    ])
}

pub fn paired_from_batch(b: &RecordBatch, what: &str) -> Result<Vec<PairedRow>> {
    let t = Named::new(b, format!("table `{PAIRED}` of {what}"));
    let s = |c: &str| t.strings(c);
    let f = |c: &str| t.f64s(c);
    let (measure, sa, ca, sb, cb, test) = (
        s(MEASURE)?,
        s(SOURCE_A)?,
        s(CONFIG_A)?,
        s(SOURCE_B)?,
        s(CONFIG_B)?,
        s(TEST)?,
    );
    let (a, bv, d, lo, hi, p, units, res) = (
        f(A)?,
        f(B)?,
        f(DIFFERENCE)?,
        f(LO)?,
        f(HI)?,
        f(P_VALUE)?,
        f(UNITS)?,
        f(RESAMPLES)?,
    );
    Ok((0..b.num_rows())
        .map(|i| PairedRow {
            measure: measure[i].clone(),
            source_a: sa[i].clone(),
            config_a: ca[i].clone(),
            source_b: sb[i].clone(),
            config_b: cb[i].clone(),
            a: a[i],
            b: bv[i],
            difference: d[i],
            lo: lo[i],
            hi: hi[i],
            p_value: p[i],
            units: units[i] as u32,
            test: test[i].clone(),
            resamples: res[i] as u32,
        })
        .collect())
}

pub fn per_question_to_batch(rows: &[QuestionRow]) -> Result<RecordBatch> {
    batch(vec![
        (SOURCE, text(rows, |r| &r.source)),
        (CONFIG, text(rows, |r| &r.config)),
        (MEASURE, text(rows, |r| &r.measure)),
        (QUESTION, text(rows, |r| &r.question)),
        (VALUE, num(rows, |r| r.value)),
        (WEIGHT, num(rows, |r| r.weight)),
    ])
}

pub fn per_question_from_batch(b: &RecordBatch, what: &str) -> Result<Vec<QuestionRow>> {
    let t = Named::new(b, format!("table `{PER_QUESTION}` of {what}"));
    let (source, config, measure, question) = (
        t.strings(SOURCE)?,
        t.strings(CONFIG)?,
        t.strings(MEASURE)?,
        t.strings(QUESTION)?,
    );
    let (value, weight) = (t.f64s(VALUE)?, t.f64s(WEIGHT)?);
    Ok((0..b.num_rows())
        .map(|i| QuestionRow {
            source: source[i].clone(),
            config: config[i].clone(),
            measure: measure[i].clone(),
            question: question[i].clone(),
            value: value[i],
            weight: weight[i],
        })
        .collect())
}

/// Both tables of an `evaluate` artifact, with the artifact's stage name.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub stage: String,
    pub intervals: Vec<IntervalRow>,
    pub paired: Vec<PairedRow>,
}

impl Evidence {
    pub fn read(a: &crate::cache::Artifact) -> Result<Evidence> {
        let what = format!("stage `{}`", a.manifest.stage);
        Ok(Evidence {
            stage: a.manifest.stage.clone(),
            intervals: intervals_from_batch(&a.table(INTERVALS)?, &what)?,
            paired: paired_from_batch(&a.table(PAIRED)?, &what)?,
        })
    }

    /// The interval of (source, config, measure) for the whole test set (no defect).
    pub fn interval(&self, source: &str, config: &str, measure: &str) -> Option<&IntervalRow> {
        self.intervals.iter().find(|r| {
            r.source == source && r.config == config && r.measure == measure && r.defect.is_empty()
        })
    }

    /// The comparison of a with b on `measure`, whichever way round it was stored (a row
    /// stored as b - a is returned negated).
    pub fn pair(&self, a: (&str, &str), b: (&str, &str), measure: &str) -> Option<PairedRow> {
        self.paired.iter().find_map(|r| {
            if r.measure != measure {
                return None;
            }
            let ra = (r.source_a.as_str(), r.config_a.as_str());
            let rb = (r.source_b.as_str(), r.config_b.as_str());
            if ra == a && rb == b {
                Some(r.clone())
            } else if ra == b && rb == a {
                Some(PairedRow {
                    source_a: r.source_b.clone(),
                    config_a: r.config_b.clone(),
                    source_b: r.source_a.clone(),
                    config_b: r.config_a.clone(),
                    a: r.b,
                    b: r.a,
                    difference: -r.difference,
                    lo: -r.hi,
                    hi: -r.lo,
                    ..r.clone()
                })
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_and_pairs_read_either_way() {
        let iv = IntervalRow {
            source: "optimizers".into(),
            config: "adam".into(),
            measure: measure::ACCURACY.into(),
            defect: String::new(),
            estimate: 0.6,
            lo: 0.5,
            hi: 0.7,
            units: 120,
            unit: "questions".into(),
            seeds: 5,
            saturated_runs: 0,
            diverged_runs: 1,
            method: "m".into(),
            resamples: 2000,
        };
        let back =
            intervals_from_batch(&intervals_to_batch(std::slice::from_ref(&iv)).unwrap(), "t")
                .unwrap();
        assert_eq!(back, vec![iv.clone()]);
        let pr = PairedRow {
            measure: measure::ACCURACY.into(),
            source_a: "s".into(),
            config_a: "adam".into(),
            source_b: "s".into(),
            config_b: "gd".into(),
            a: 0.6,
            b: 0.5,
            difference: 0.1,
            lo: -0.02,
            hi: 0.2,
            p_value: 0.1,
            units: 120,
            test: "t".into(),
            resamples: 2000,
        };
        let back =
            paired_from_batch(&paired_to_batch(std::slice::from_ref(&pr)).unwrap(), "t").unwrap();
        assert_eq!(back, vec![pr.clone()]);
        let e = Evidence {
            stage: "e".into(),
            intervals: vec![iv],
            paired: vec![pr],
        };
        let flipped = e
            .pair(("s", "gd"), ("s", "adam"), measure::ACCURACY)
            .unwrap();
        assert_eq!(
            (flipped.difference, flipped.lo, flipped.hi),
            (-0.1, -0.2, 0.02)
        );
        assert_eq!(flipped.config_a, "gd");
        assert!(e
            .interval("optimizers", "adam", measure::ACCURACY)
            .is_some());
    }
}

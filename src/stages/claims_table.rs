//! The `claims` table the `claims` stage writes and `report` reads: one row per claim of the
//! study, its words in Turkish and English, what was measured (estimate, 95% interval,
//! p-value where it is a comparison), the rule that decided it and the verdict.

use std::sync::Arc;

use anyhow::{bail, Result};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};

use super::columns::Named;
use super::train::batch;

pub const CLAIMS: &str = "claims";

pub const ID: &str = "id";
pub const TR: &str = "study_tr";
pub const EN: &str = "study_en";
pub const FORM: &str = "form";
pub const STAGE: &str = "stage";
pub const MEASURE: &str = "measure";
pub const SUBJECT: &str = "subject";
pub const ESTIMATE: &str = "estimate";
pub const LO: &str = "lo";
pub const HI: &str = "hi";
pub const P_VALUE: &str = "p_value";
pub const MEASURED: &str = "measured";
pub const RULE: &str = "rule";
pub const VERDICT: &str = "verdict";

/// A claim's verdict, decided from 95% intervals only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Contradicted,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    pub fn parse(s: &str) -> Result<Verdict> {
        Ok(match s {
            "supported" => Verdict::Supported,
            "contradicted" => Verdict::Contradicted,
            "inconclusive" => Verdict::Inconclusive,
            other => bail!("unknown verdict `{other}`"),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRow {
    pub id: String,
    pub study_tr: String,
    pub study_en: String,
    /// `range`, `greater`, `lowest`, `highest` or `best_among`.
    pub form: String,
    pub stage: String,
    pub measure: String,
    /// What was measured, e.g. `optimizers/adam` or `optimizers/adam - optimizers_tfidf/adam`.
    pub subject: String,
    /// The value the verdict rests on (a level, or a difference), its interval, and the
    /// p-value of the comparison (NaN when none).
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
    pub p_value: f64,
    /// The numbers behind the verdict, in words.
    pub measured: String,
    /// The decision rule, in words.
    pub rule: String,
    pub verdict: Verdict,
}

pub fn to_batch(rows: &[ClaimRow]) -> Result<RecordBatch> {
    let text = |f: fn(&ClaimRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let num = |f: fn(&ClaimRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(f)))
    };
    batch(vec![
        (ID, text(|r| &r.id)),
        (TR, text(|r| &r.study_tr)),
        (EN, text(|r| &r.study_en)),
        (FORM, text(|r| &r.form)),
        (STAGE, text(|r| &r.stage)),
        (MEASURE, text(|r| &r.measure)),
        (SUBJECT, text(|r| &r.subject)),
        (ESTIMATE, num(|r| r.estimate)),
        (LO, num(|r| r.lo)),
        (HI, num(|r| r.hi)),
        (P_VALUE, num(|r| r.p_value)),
        (MEASURED, text(|r| &r.measured)),
        (RULE, text(|r| &r.rule)),
        (VERDICT, text(|r| r.verdict.as_str())),
    ])
}

pub fn from_batch(b: &RecordBatch, what: &str) -> Result<Vec<ClaimRow>> {
    let t = Named::new(b, format!("table `{CLAIMS}` of {what}"));
    let s = |c: &str| t.strings(c);
    let f = |c: &str| t.f64s(c);
    let (id, tr, en, form, stage, measure, subject) = (
        s(ID)?,
        s(TR)?,
        s(EN)?,
        s(FORM)?,
        s(STAGE)?,
        s(MEASURE)?,
        s(SUBJECT)?,
    );
    let (est, lo, hi, p) = (f(ESTIMATE)?, f(LO)?, f(HI)?, f(P_VALUE)?);
    let (measured, rule, verdict) = (s(MEASURED)?, s(RULE)?, s(VERDICT)?);
    (0..b.num_rows())
        .map(|i| {
            Ok(ClaimRow {
                id: id[i].clone(),
                study_tr: tr[i].clone(),
                study_en: en[i].clone(),
                form: form[i].clone(),
                stage: stage[i].clone(),
                measure: measure[i].clone(),
                subject: subject[i].clone(),
                estimate: est[i],
                lo: lo[i],
                hi: hi[i],
                p_value: p[i],
                measured: measured[i].clone(),
                rule: rule[i].clone(),
                verdict: Verdict::parse(&verdict[i])?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip() {
        let r = ClaimRow {
            id: "adam".into(),
            study_tr: "ADAM neredeyse 1".into(),
            study_en: "Adam nearly 1".into(),
            form: "range".into(),
            stage: "eval".into(),
            measure: "accuracy".into(),
            subject: "optimizers/adam".into(),
            estimate: 0.5,
            lo: 0.4,
            hi: 0.6,
            p_value: f64::NAN,
            measured: "0.500 [0.400, 0.600]".into(),
            rule: "r".into(),
            verdict: Verdict::Contradicted,
        };
        let back = from_batch(&to_batch(std::slice::from_ref(&r)).unwrap(), "t").unwrap();
        assert_eq!(back[0].verdict, Verdict::Contradicted);
        assert!(back[0].p_value.is_nan());
        assert_eq!(back[0].measured, r.measured);
    }
}

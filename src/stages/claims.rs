//! `claims`: the study's claims, declared in YAML, decided from the intervals of `evaluate`
//! stages (the `evidence` inputs). Each claim names a measure of one evaluate stage and
//! states one of:
//!
//! - `value: {source, config}` with `range: [lo, hi]`: supported when the 95% interval lies
//!   inside the range, contradicted when it lies wholly outside, else inconclusive;
//! - `greater: [{source, config}, {source, config}]`: the first beats the second on the
//!   same questions: supported when the paired difference's interval lies above 0,
//!   contradicted when below, else inconclusive (the permutation p-value is shown beside);
//! - `lowest` / `highest: {source, config}`: the config's interval lies below (above) the
//!   interval of every other config of its source (`among` narrows that set): supported
//!   when it does, contradicted when another config's interval lies wholly on the wrong
//!   side, else inconclusive;
//! - `best_among: {source, configs}`: the best of `configs` beats the best of the rest of
//!   the source, by the paired difference as for `greater`.
//!
//! Nothing in a verdict is written by hand: change the data and the verdicts change.
//! Table `claims` (see [`super::claims_table`]).

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::claims_table::{self, ClaimRow, Verdict};
use super::evidence::{Evidence, IntervalRow};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;

pub const KIND: Kind = Kind {
    name: "claims",
    version: 1,
    summary: "the study's claims decided supported / contradicted / inconclusive from evaluate's intervals",
    inputs: &[Role::many("evidence")],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub claims: Vec<Claim>,
}

/// A configuration of an evaluate stage: the training stage it came from and its
/// optimizer (or sweep cell label).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ref {
    pub source: String,
    pub config: String,
}

impl Ref {
    fn key(&self) -> (&str, &str) {
        (&self.source, &self.config)
    }
    fn name(&self) -> String {
        format!("{}/{}", self.source, self.config)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BestAmong {
    pub source: String,
    pub configs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    /// The study's words, in Turkish (quoted from the report) and in English.
    pub tr: String,
    pub en: String,
    /// The `evaluate` stage holding the numbers.
    pub stage: String,
    #[serde(default = "default_measure")]
    pub measure: String,
    #[serde(default)]
    pub value: Option<Ref>,
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    #[serde(default)]
    pub greater: Option<[Ref; 2]>,
    #[serde(default)]
    pub lowest: Option<Ref>,
    #[serde(default)]
    pub highest: Option<Ref>,
    /// For `lowest`/`highest`: the configs compared against (default: all of the source).
    #[serde(default)]
    pub among: Option<Vec<String>>,
    #[serde(default)]
    pub best_among: Option<BestAmong>,
}

fn default_measure() -> String {
    "accuracy".into()
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.claims.is_empty() {
            return Err(cx.error("claims", "declare at least one claim"));
        }
        for (i, c) in self.claims.iter().enumerate() {
            let at = format!("claims[{i}]");
            if self.claims[..i].iter().any(|o| o.id == c.id) {
                return Err(cx.error(
                    &format!("{at}.id"),
                    format!("claim id `{}` is used twice", c.id),
                ));
            }
            let forms = [
                c.value.is_some(),
                c.greater.is_some(),
                c.lowest.is_some(),
                c.highest.is_some(),
                c.best_among.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if forms != 1 {
                return Err(cx
                    .error(&at, "a claim states exactly one of `value` (with `range`), `greater`, `lowest`, `highest`, `best_among`")
                    .help("e.g. value: {source: optimizers, config: adam}\n      range: [0.85, 1.0]"));
            }
            match (&c.value, c.range) {
                (Some(_), None) => {
                    return Err(cx.error(&at, "`value` needs `range: [lo, hi]`"));
                }
                (None, Some(_)) => {
                    return Err(cx.error(&format!("{at}.range"), "`range` goes with `value`"));
                }
                (_, Some([lo, hi])) if lo.partial_cmp(&hi).is_none_or(|o| o.is_gt()) => {
                    return Err(cx.error(&format!("{at}.range"), "the range needs lo <= hi"));
                }
                _ => {}
            }
            if c.among.is_some() && c.lowest.is_none() && c.highest.is_none() {
                return Err(cx.error(
                    &format!("{at}.among"),
                    "`among` goes with `lowest` or `highest`",
                ));
            }
        }
        Ok(Box::new(Claims { p: self }))
    }
}

struct Claims {
    p: Params,
}

fn iv_text(r: &IntervalRow) -> String {
    let mut s = super::evidence_sections::fmt_interval(r);
    if r.saturated_runs > 0 {
        s.push_str(&format!(
            " ({} of {} runs saturated)",
            r.saturated_runs, r.seeds
        ));
    }
    s
}

fn signed(x: f64) -> String {
    // `+ 0.0` turns -0.0 into 0.0, so a zero difference never prints as "-0.000".
    format!("{:+.3}", x + 0.0)
}

/// Verdict of a difference whose interval is [lo, hi], claimed to be above 0.
fn above_zero(lo: f64, hi: f64) -> Verdict {
    if lo > 0.0 {
        Verdict::Supported
    } else if hi < 0.0 {
        Verdict::Contradicted
    } else {
        Verdict::Inconclusive
    }
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

impl Claims {
    fn decide(&self, c: &Claim, ev: &Evidence) -> Result<ClaimRow> {
        let find = |r: &Ref| -> Result<&IntervalRow> {
            ev.interval(&r.source, &r.config, &c.measure)
                .with_context(|| {
                    let have: Vec<String> = ev
                        .intervals
                        .iter()
                        .filter(|x| x.measure == c.measure && x.defect.is_empty())
                        .map(|x| format!("{}/{}", x.source, x.config))
                        .collect();
                    format!(
                        "claim `{}`: stage `{}` has no `{}` for {} (it has: {})",
                        c.id,
                        ev.stage,
                        c.measure,
                        r.name(),
                        have.join(", ")
                    )
                })
        };
        let mut row = ClaimRow {
            id: c.id.clone(),
            study_tr: c.tr.clone(),
            study_en: c.en.clone(),
            form: String::new(),
            stage: ev.stage.clone(),
            measure: c.measure.clone(),
            subject: String::new(),
            estimate: f64::NAN,
            lo: f64::NAN,
            hi: f64::NAN,
            p_value: f64::NAN,
            measured: String::new(),
            rule: String::new(),
            verdict: Verdict::Inconclusive,
        };
        let compare = |row: &mut ClaimRow, a: &Ref, b: &Ref| -> Result<()> {
            let pr = ev.pair(a.key(), b.key(), &c.measure).with_context(|| {
                format!(
                    "claim `{}`: stage `{}` has no paired `{}` comparison of {} with {}",
                    c.id,
                    ev.stage,
                    c.measure,
                    a.name(),
                    b.name()
                )
            })?;
            row.subject = format!("{} - {}", a.name(), b.name());
            row.estimate = pr.difference;
            row.lo = pr.lo;
            row.hi = pr.hi;
            row.p_value = pr.p_value;
            row.verdict = above_zero(pr.lo, pr.hi);
            row.measured = format!(
                "{} {:.3} vs {} {:.3}: difference {} [{}, {}], {} ({} questions)",
                a.config,
                pr.a,
                b.config,
                pr.b,
                signed(pr.difference),
                signed(pr.lo),
                signed(pr.hi),
                p_text(pr.p_value),
                pr.units
            );
            Ok(())
        };
        if let (Some(r), Some([lo, hi])) = (&c.value, c.range) {
            let iv = find(r)?;
            row.form = "range".into();
            row.subject = r.name();
            (row.estimate, row.lo, row.hi) = (iv.estimate, iv.lo, iv.hi);
            row.verdict = if iv.lo >= lo && iv.hi <= hi {
                Verdict::Supported
            } else if iv.hi < lo || iv.lo > hi {
                Verdict::Contradicted
            } else {
                Verdict::Inconclusive
            };
            row.measured = format!(
                "{} over {} {}, {} seed{}",
                iv_text(iv),
                iv.units,
                iv.unit,
                iv.seeds,
                if iv.seeds == 1 { "" } else { "s" }
            );
            row.rule = format!(
                "supported if the 95% interval lies within [{lo:.2}, {hi:.2}], contradicted if it lies wholly outside, else inconclusive"
            );
        } else if let Some([a, b]) = &c.greater {
            row.form = "greater".into();
            compare(&mut row, a, b)?;
            row.rule = format!(
                "{} > {}: supported if the 95% interval of the paired difference lies above 0, contradicted if below, else inconclusive",
                a.config, b.config
            );
        } else if let Some((r, lowest)) = c
            .lowest
            .as_ref()
            .map(|r| (r, true))
            .or(c.highest.as_ref().map(|r| (r, false)))
        {
            let me = find(r)?;
            let others: Vec<&IntervalRow> = ev
                .intervals
                .iter()
                .filter(|x| {
                    x.source == r.source
                        && x.config != r.config
                        && x.measure == c.measure
                        && x.defect.is_empty()
                        && c.among.as_ref().is_none_or(|a| a.contains(&x.config))
                })
                .collect();
            if others.is_empty() {
                bail!(
                    "claim `{}`: {} has nothing to be compared with",
                    c.id,
                    r.name()
                );
            }
            // Below every other (for `lowest`), or above.
            let beats = |o: &IntervalRow| if lowest { me.hi < o.lo } else { me.lo > o.hi };
            let loses = |o: &IntervalRow| if lowest { o.hi < me.lo } else { o.lo > me.hi };
            row.form = if lowest { "lowest" } else { "highest" }.into();
            row.subject = r.name();
            (row.estimate, row.lo, row.hi) = (me.estimate, me.lo, me.hi);
            row.verdict = if others.iter().all(|o| beats(o)) {
                Verdict::Supported
            } else if others.iter().any(|o| loses(o)) {
                Verdict::Contradicted
            } else {
                Verdict::Inconclusive
            };
            let mut sorted = others.clone();
            sorted.sort_by(|x, y| x.estimate.total_cmp(&y.estimate));
            if !lowest {
                sorted.reverse();
            }
            row.measured = format!(
                "{} {}; {} (over {} {})",
                r.config,
                iv_text(me),
                sorted
                    .iter()
                    .map(|o| format!("{} {}", o.config, iv_text(o)))
                    .collect::<Vec<_>>()
                    .join("; "),
                me.units,
                me.unit
            );
            row.rule = format!(
                "supported if {}'s 95% interval lies {} every other one, contradicted if another lies wholly {}, else inconclusive",
                r.config,
                if lowest { "below" } else { "above" },
                if lowest { "below it" } else { "above it" }
            );
        } else if let Some(b) = &c.best_among {
            let all: Vec<&IntervalRow> = ev
                .intervals
                .iter()
                .filter(|x| x.source == b.source && x.measure == c.measure && x.defect.is_empty())
                .collect();
            for name in &b.configs {
                if !all.iter().any(|x| &x.config == name) {
                    bail!(
                        "claim `{}`: stage `{}` has no config `{name}` in source `{}` (it has: {})",
                        c.id,
                        ev.stage,
                        b.source,
                        all.iter()
                            .map(|x| x.config.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            let best = |inside: bool| {
                all.iter()
                    .filter(|x| b.configs.contains(&x.config) == inside)
                    .max_by(|x, y| x.estimate.total_cmp(&y.estimate))
                    .copied()
            };
            let (Some(bin), Some(bout)) = (best(true), best(false)) else {
                bail!(
                    "claim `{}`: `best_among` needs configs both in and out of the list",
                    c.id
                );
            };
            row.form = "best_among".into();
            let a = Ref {
                source: b.source.clone(),
                config: bin.config.clone(),
            };
            let o = Ref {
                source: b.source.clone(),
                config: bout.config.clone(),
            };
            compare(&mut row, &a, &o)?;
            row.measured = format!(
                "best claimed {}; best other {}",
                iv_text(bin),
                iv_text(bout)
            ) + &format!(": {}", row.measured);
            row.rule = format!(
                "the best of [{}] minus the best of the other cells: supported if the 95% interval of the paired difference lies above 0, contradicted if below, else inconclusive",
                b.configs.join("; ")
            );
        }
        Ok(row)
    }
}

impl Stage for Claims {
    /// How many claims each verdict got.
    fn headline(&self, a: &Artifact) -> Result<Vec<crate::headline::Metric>> {
        let rows = claims_table::from_batch(&a.table(claims_table::CLAIMS)?, "claims")?;
        Ok([
            Verdict::Supported,
            Verdict::Contradicted,
            Verdict::Inconclusive,
        ]
        .into_iter()
        .map(|v| {
            let n = rows.iter().filter(|r| r.verdict == v).count();
            crate::headline::Metric::new(v.as_str(), n as f64)
        })
        .collect())
    }

    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let evidence: Vec<Evidence> = cx
            .input_all("evidence")
            .iter()
            .map(|a| Evidence::read(a))
            .collect::<Result<_>>()?;
        let mut rows = Vec::new();
        for c in &self.p.claims {
            let ev = evidence
                .iter()
                .find(|e| e.stage == c.stage)
                .with_context(|| {
                    format!(
                    "claim `{}` names stage `{}`, which is not an `evidence` input (inputs: {})",
                    c.id,
                    c.stage,
                    evidence.iter().map(|e| e.stage.clone()).collect::<Vec<_>>().join(", ")
                )
                })?;
            rows.push(self.decide(c, ev)?);
        }
        let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
        let mut out = Output::default().table(claims_table::CLAIMS, claims_table::to_batch(&rows)?);
        out.notes.push(format!(
            "{} claims: {} supported, {} contradicted, {} inconclusive",
            rows.len(),
            count(Verdict::Supported),
            count(Verdict::Contradicted),
            count(Verdict::Inconclusive)
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::evidence::{measure, PairedRow};

    fn iv(config: &str, m: &str, est: f64, lo: f64, hi: f64) -> IntervalRow {
        IntervalRow {
            source: "optimizers".into(),
            config: config.into(),
            measure: m.into(),
            defect: String::new(),
            estimate: est,
            lo,
            hi,
            units: 120,
            unit: "test questions".into(),
            seeds: 5,
            saturated_runs: 0,
            diverged_runs: 0,
            method: "percentile bootstrap".into(),
            resamples: 2000,
        }
    }

    fn evidence() -> Evidence {
        let acc = measure::ACCURACY;
        let loss = measure::TRAIN_LOSS_AREA;
        Evidence {
            stage: "eval".into(),
            intervals: vec![
                iv("adam", acc, 0.90, 0.86, 0.94),
                iv("sgd", acc, 0.80, 0.72, 0.88),
                iv("gd", acc, 0.50, 0.44, 0.56),
                iv("adam", loss, 0.2, 0.18, 0.22),
                iv("sgd", loss, 0.5, 0.45, 0.55),
                iv("gd", loss, 0.9, 0.88, 0.92),
            ],
            paired: vec![PairedRow {
                measure: acc.into(),
                source_a: "optimizers".into(),
                config_a: "gd".into(),
                source_b: "optimizers".into(),
                config_b: "adam".into(),
                a: 0.5,
                b: 0.9,
                difference: -0.4,
                lo: -0.47,
                hi: -0.33,
                p_value: 0.0001,
                units: 120,
                test: "paired sign-flip permutation".into(),
                resamples: 2000,
            }],
        }
    }

    fn claim(yaml: &str) -> Claim {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn verdict(yaml: &str) -> ClaimRow {
        Claims {
            p: Params { claims: vec![] },
        }
        .decide(&claim(yaml), &evidence())
        .unwrap()
    }

    const HEAD: &str = "{id: c, tr: t, en: e, stage: eval, ";

    #[test]
    fn ranges_decide_by_where_the_interval_lies() {
        let r = |cfg: &str, lo: f64, hi: f64| {
            verdict(&format!(
                "{HEAD}value: {{source: optimizers, config: {cfg}}}, range: [{lo}, {hi}]}}"
            ))
            .verdict
        };
        assert_eq!(r("adam", 0.85, 1.0), Verdict::Supported);
        assert_eq!(r("gd", 0.57, 0.67), Verdict::Contradicted);
        assert_eq!(r("sgd", 0.75, 0.85), Verdict::Inconclusive);
        let row = verdict(&format!(
            "{HEAD}value: {{source: optimizers, config: adam}}, range: [0.85, 1.0]}}"
        ));
        assert!(
            row.measured.starts_with("0.900 [0.860, 0.940]"),
            "{}",
            row.measured
        );
        assert_eq!((row.estimate, row.lo, row.hi), (0.90, 0.86, 0.94));
    }

    #[test]
    fn comparisons_use_the_paired_difference_either_way_round() {
        let g = |a: &str, b: &str| {
            verdict(&format!(
                "{HEAD}greater: [{{source: optimizers, config: {a}}}, {{source: optimizers, config: {b}}}]}}"
            ))
        };
        let row = g("adam", "gd");
        assert_eq!(row.verdict, Verdict::Supported);
        assert_eq!((row.estimate, row.lo, row.hi), (0.4, 0.33, 0.47));
        assert!(row.measured.contains("p < 0.001"), "{}", row.measured);
        assert_eq!(g("gd", "adam").verdict, Verdict::Contradicted);
    }

    #[test]
    fn lowest_and_highest_compare_every_other_interval() {
        let l = |form: &str, cfg: &str, extra: &str| {
            verdict(&format!(
                "{HEAD}measure: train_loss_area, {form}: {{source: optimizers, config: {cfg}}}{extra}}}"
            ))
            .verdict
        };
        assert_eq!(l("lowest", "adam", ""), Verdict::Supported);
        assert_eq!(l("highest", "gd", ""), Verdict::Supported);
        assert_eq!(l("lowest", "gd", ""), Verdict::Contradicted);
        assert_eq!(l("lowest", "sgd", ", among: [gd]"), Verdict::Supported);
    }

    #[test]
    fn best_among_compares_the_best_inside_with_the_best_outside() {
        let row = verdict(&format!(
            "{HEAD}best_among: {{source: optimizers, configs: [adam, sgd]}}}}"
        ));
        // Best inside: adam (0.90); best outside: gd; adam - gd from the stored gd - adam.
        assert_eq!(row.verdict, Verdict::Supported);
        assert_eq!(row.subject, "optimizers/adam - optimizers/gd");
        let err = Claims {
            p: Params { claims: vec![] },
        }
        .decide(
            &claim(&format!(
                "{HEAD}best_among: {{source: optimizers, configs: [nope]}}}}"
            )),
            &evidence(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no config `nope`"), "{err}");
    }
}

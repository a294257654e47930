//! The report's evidence sections, generated from the `claims` and `evaluate` tables:
//! the verdict on each of the study's claims, test accuracy with its 95% interval over
//! questions, accuracy on the bad answers by defect type, and the paired comparisons, with
//! sentences that say which results are distinguishable from chance and from each other.
//! Nothing here is written by hand: every sentence is chosen by the numbers.

use std::collections::BTreeMap;

use super::claims_table::{ClaimRow, Verdict};
use super::evidence::{measure, Evidence, IntervalRow, PairedRow};
use crate::viz::report::{Section, Table};

/// Accuracy at chance: half the rows are good answers.
pub const CHANCE: f64 = 0.5;

/// Display names of source stages (the report's labels of its `metrics` inputs).
pub type Names = BTreeMap<String, String>;

fn name(names: &Names, source: &str) -> String {
    names
        .get(source)
        .cloned()
        .unwrap_or_else(|| source.to_string())
}

/// "0.612 [0.571, 0.650]".
pub fn fmt_interval(r: &IntervalRow) -> String {
    if !r.estimate.is_finite() {
        return "n/a".into();
    }
    if !r.lo.is_finite() || !r.hi.is_finite() {
        return format!("{:.3} (no interval: {} {})", r.estimate, r.units, r.unit);
    }
    format!("{:.3} [{:.3}, {:.3}]", r.estimate, r.lo, r.hi)
}

/// "+0.012 [-0.030, +0.055]", zero printed unsigned-safe.
pub fn fmt_difference(d: f64, lo: f64, hi: f64) -> String {
    let s = |x: f64| format!("{:+.3}", x + 0.0);
    if lo.is_finite() && hi.is_finite() {
        format!("{} [{}, {}]", s(d), s(lo), s(hi))
    } else {
        format!("{} (no interval)", s(d))
    }
}

/// "saturated 5/5", "diverged 1/5", or "".
pub fn flags(r: &IntervalRow) -> String {
    let mut f = Vec::new();
    if r.saturated_runs > 0 {
        f.push(format!("saturated {}/{}", r.saturated_runs, r.seeds));
    }
    if r.diverged_runs > 0 {
        f.push(format!("diverged {}/{}", r.diverged_runs, r.seeds));
    }
    f.join(", ")
}

/// Where an accuracy interval lies relative to chance.
pub fn versus_chance(r: &IntervalRow) -> &'static str {
    if r.lo > CHANCE {
        "above chance"
    } else if r.hi < CHANCE {
        "below chance"
    } else {
        "not distinguishable from chance"
    }
}

fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "–".into()
    } else if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// The opening section: one row per claim.
pub fn claims_section(rows: &[ClaimRow]) -> Section {
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    let text = format!(
        "{} claims of the study, each decided from this run's 95% intervals: {} supported, {} contradicted, {} inconclusive. \
         A level claim (\"Adam reaches about 0.85–1.0\") is supported when the measured interval lies inside the study's range and contradicted when it lies wholly outside; \
         a comparison (\"BERT beats TF-IDF\") is supported when the paired difference's interval lies above 0 and contradicted when below; anything else is inconclusive. \
         Intervals are percentile bootstraps over test questions (a question's two answers resampled together, pooled over seeds); training measures resample seeds; p-values are from a paired sign-flip permutation test. \
         The rule and the numbers behind each verdict are in the last columns.",
        rows.len(),
        count(Verdict::Supported),
        count(Verdict::Contradicted),
        count(Verdict::Inconclusive)
    );
    let table = Table {
        caption: "The study's claims and this run's verdicts".into(),
        columns: [
            "Claim",
            "The study (Turkish)",
            "The study (English)",
            "Measured: estimate [95% interval]",
            "p",
            "Verdict",
            "Numbers behind it",
            "Rule",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.study_tr.clone(),
                    r.study_en.clone(),
                    if !r.estimate.is_finite() {
                        "n/a".into()
                    } else if r.lo.is_finite() && r.hi.is_finite() {
                        format!(
                            "{:.3} [{:.3}, {:.3}]",
                            r.estimate + 0.0,
                            r.lo + 0.0,
                            r.hi + 0.0
                        )
                    } else {
                        format!("{:.3} (no interval)", r.estimate)
                    },
                    p_text(r.p_value),
                    r.verdict.as_str().to_string(),
                    r.measured.clone(),
                    r.rule.clone(),
                ]
            })
            .collect(),
    };
    Section {
        title: "What this run says about the study's claims".into(),
        text: Some(text),
        figures: Vec::new(),
        tables: vec![table],
    }
}

fn overall<'a>(ev: &'a Evidence, m: &str) -> Vec<&'a IntervalRow> {
    ev.intervals
        .iter()
        .filter(|r| r.measure == m && r.defect.is_empty())
        .collect()
}

/// Test accuracy and pairwise accuracy with intervals: one row per configuration, each once
/// (the same training stage measured by two evaluate stages has the same intervals: the
/// resampling depends only on the seed and the number of questions), and what they say
/// about chance.
pub fn accuracy_section(evidence: &[Evidence], names: &Names) -> Option<Section> {
    let (mut above, mut below, mut level) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    let mut method = None;
    for ev in evidence {
        for r in overall(ev, measure::ACCURACY) {
            if !seen.insert((r.source.clone(), r.config.clone())) {
                continue;
            }
            method.get_or_insert_with(|| r.method.clone());
            let pw = ev.interval(&r.source, &r.config, measure::PAIRWISE);
            let ta = ev.interval(&r.source, &r.config, measure::TRAIN_ACCURACY);
            rows.push(vec![
                name(names, &r.source),
                r.config.clone(),
                fmt_interval(r),
                pw.map_or("–".into(), fmt_interval),
                versus_chance(r).to_string(),
                ta.map_or("–".into(), fmt_interval),
                r.seeds.to_string(),
                flags(r),
            ]);
            let who = format!("{} {}", name(names, &r.source), r.config);
            match versus_chance(r) {
                "above chance" => above.push(who),
                "below chance" => below.push(who),
                _ => level.push(who),
            }
        }
    }
    let method = method?;
    let total = above.len() + below.len() + level.len();
    let words = [
        format!(
            "Of {total} configurations, {} {} a test accuracy whose 95% interval lies above chance (0.5); {} below{}; {} cannot be told apart from chance on this test set{}.",
            above.len(),
            if above.len() == 1 { "has" } else { "have" },
            below.len(),
            list(&below),
            level.len(),
            list(&level)
        ),
        format!("Intervals: {method}. Train accuracy has no per-row outputs to resample, so its interval is over seeds."),
        "Pairwise accuracy is the share of test questions whose good answer scores above its bad answer (ties count half); chance is 0.5 there too. \
         \"saturated\" marks runs whose output is one constant for every test row: their accuracy is the share of one class, not a measurement."
            .to_string(),
    ];
    Some(Section {
        title: "Test accuracy with 95% intervals over test questions".into(),
        text: Some(words.join("\n\n")),
        figures: Vec::new(),
        tables: vec![Table {
            caption: "Test accuracy and pairwise accuracy with 95% intervals over test questions; train accuracy over seeds".into(),
            columns: [
                "Configuration",
                "Optimizer / cell",
                "Test accuracy [95%]",
                "Pairwise accuracy [95%]",
                "Versus chance (0.5)",
                "Train accuracy [95%, seeds]",
                "Seeds",
                "Flags",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
    })
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else if v.len() <= 8 {
        format!(" ({})", v.join(", "))
    } else {
        format!(" ({}, and {} more)", v[..8].join(", "), v.len() - 8)
    }
}

/// Accuracy on the bad answers by defect type: which kinds of bad answer the judge catches.
pub fn defect_section(evidence: &[Evidence], names: &Names) -> Option<Section> {
    let mut tables = Vec::new();
    let mut caught: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for ev in evidence {
        let rows: Vec<&IntervalRow> = ev
            .intervals
            .iter()
            .filter(|r| r.measure == measure::BAD_ANSWERS && !r.defect.is_empty())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut defects: Vec<String> = rows.iter().map(|r| r.defect.clone()).collect();
        defects.sort();
        defects.dedup();
        let mut configs: Vec<(String, String)> = Vec::new();
        for r in &rows {
            let k = (r.source.clone(), r.config.clone());
            if !configs.contains(&k) {
                configs.push(k);
            }
        }
        let mut columns = vec!["Configuration".to_string(), "Optimizer / cell".to_string()];
        columns.extend(defects.iter().map(|d| {
            let n = rows.iter().find(|r| &r.defect == d).map_or(0, |r| r.units);
            format!("{d} (n={n})")
        }));
        let body = configs
            .iter()
            .map(|(s, c)| {
                let mut row = vec![name(names, s), c.clone()];
                for d in &defects {
                    let r = rows
                        .iter()
                        .find(|r| &r.source == s && &r.config == c && &r.defect == d);
                    row.push(r.map_or("–".into(), |r| fmt_interval(r)));
                    if let Some(r) = r {
                        let e = caught.entry(d.clone()).or_default();
                        e.1 += 1;
                        if r.lo > CHANCE {
                            e.0 += 1;
                        }
                    }
                }
                row
            })
            .collect();
        tables.push(Table {
            caption: format!(
                "{}: share of the bad answers of each defect type judged bad, 95% interval ({})",
                ev.stage, rows[0].method
            ),
            columns,
            rows: body,
        });
    }
    if tables.is_empty() {
        return None;
    }
    let text = caught
        .iter()
        .map(|(d, (k, n))| format!("`{d}`: caught above chance by {k} of {n}"))
        .collect::<Vec<_>>()
        .join("; ");
    Some(Section {
        title: "Which bad answers are caught: accuracy by defect type".into(),
        text: Some(format!(
            "Each bad answer of the test set carries one defect type; a cell is the share of that type's bad answers the model scores as bad. \
             Chance is not 0.5 here (a model that calls everything bad scores 1.0), so read the columns against each other and against the good answers' accuracy. \
             Configurations whose interval lies above 0.5, per type: {text}."
        )),
        figures: Vec::new(),
        tables,
    })
}

/// Every paired comparison once (evaluate stages that share configurations share their
/// comparisons), with which pairs differ and which do not.
pub fn paired_section(evidence: &[Evidence], names: &Names) -> Option<Section> {
    let mut tables = Vec::new();
    let mut words = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for ev in evidence {
        let acc: Vec<&PairedRow> = ev
            .paired
            .iter()
            .filter(|r| r.measure == measure::ACCURACY)
            .filter(|r| {
                let (a, b) = (
                    (r.source_a.clone(), r.config_a.clone()),
                    (r.source_b.clone(), r.config_b.clone()),
                );
                let key = if a <= b { (a, b) } else { (b, a) };
                seen.insert(key)
            })
            .collect();
        let Some(first) = acc.first() else { continue };
        let pw = |r: &PairedRow| {
            ev.pair(
                (&r.source_a, &r.config_a),
                (&r.source_b, &r.config_b),
                measure::PAIRWISE,
            )
        };
        let who = |s: &str, c: &str| format!("{} {c}", name(names, s));
        let (mut differ, mut same) = (Vec::new(), Vec::new());
        for r in &acc {
            if r.lo > 0.0 || r.hi < 0.0 {
                let (w, l) = if r.difference > 0.0 {
                    (who(&r.source_a, &r.config_a), who(&r.source_b, &r.config_b))
                } else {
                    (who(&r.source_b, &r.config_b), who(&r.source_a, &r.config_a))
                };
                differ.push(format!("{w} > {l}"));
            } else {
                same.push(format!(
                    "{} vs {}",
                    who(&r.source_a, &r.config_a),
                    who(&r.source_b, &r.config_b)
                ));
            }
        }
        // Name the smaller of the two sets; the table has them all.
        let detail = if differ.len() <= same.len() {
            format!("those that differ:{}", list(&differ))
        } else {
            format!("those that do not:{}", list(&same))
        };
        words.push(format!(
            "{}: {} of {} pairs differ in test accuracy (the 95% interval of the paired difference excludes 0), {} cannot be told apart on these questions; {detail}.",
            ev.stage,
            differ.len(),
            acc.len(),
            same.len(),
        ));
        let rows = acc
            .iter()
            .map(|r| {
                let p = pw(r);
                vec![
                    who(&r.source_a, &r.config_a),
                    who(&r.source_b, &r.config_b),
                    format!("{:.3} − {:.3}", r.a, r.b),
                    fmt_difference(r.difference, r.lo, r.hi),
                    p_text(r.p_value),
                    p.as_ref()
                        .map_or("–".into(), |p| fmt_difference(p.difference, p.lo, p.hi)),
                    p.as_ref().map_or("–".into(), |p| p_text(p.p_value)),
                ]
            })
            .collect();
        tables.push(Table {
            caption: format!(
                "{}: paired comparisons on the same {} test questions (difference a − b, paired bootstrap, {} resamples; p from a {})",
                ev.stage, first.units, first.resamples, first.test
            ),
            columns: [
                "a",
                "b",
                "Test accuracy a − b",
                "Difference [95%]",
                "p",
                "Pairwise accuracy difference [95%]",
                "p (pairwise)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    }
    if tables.is_empty() {
        return None;
    }
    words.push(
        "p-values are two-sided, from swapping the two configurations' results within each question (sign flips of the per-question differences), \
         not corrected for the many comparisons shown: with 20 comparisons, one p below 0.05 is expected by chance alone."
            .into(),
    );
    Some(Section {
        title: "Paired comparisons: which configurations differ".into(),
        text: Some(words.join("\n\n")),
        figures: Vec::new(),
        tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(config: &str, est: f64, lo: f64, hi: f64) -> IntervalRow {
        IntervalRow {
            source: "optimizers".into(),
            config: config.into(),
            measure: measure::ACCURACY.into(),
            defect: String::new(),
            estimate: est,
            lo,
            hi,
            units: 120,
            unit: "test questions".into(),
            seeds: 5,
            saturated_runs: if config == "gd" { 5 } else { 0 },
            diverged_runs: 0,
            method: "percentile bootstrap over 120 test questions".into(),
            resamples: 2000,
        }
    }

    #[test]
    fn words_follow_the_intervals() {
        let ev = Evidence {
            stage: "eval".into(),
            intervals: vec![
                iv("adam", 0.7, 0.62, 0.78),
                iv("sgd", 0.52, 0.45, 0.59),
                iv("gd", 0.5, 0.5, 0.5),
            ],
            paired: Vec::new(),
        };
        let names = Names::from([("optimizers".to_string(), "E5".to_string())]);
        let s = accuracy_section(&[ev], &names).unwrap();
        let text = s.text.unwrap();
        assert!(
            text.contains("Of 3 configurations, 1 has a test accuracy whose 95% interval lies above chance (0.5); 0 below; 2 cannot be told apart from chance on this test set (E5 sgd, E5 gd)."),
            "{text}"
        );
        let row = &s.tables[0].rows[2];
        assert_eq!(row[0], "E5");
        assert_eq!(row[7], "saturated 5/5");
    }
}

//! Classification metrics for +1/-1 labels, as scikit-learn computes them.
//!
//! The positive class is +1. A score above 0 predicts +1 (the study's
//! `np.where(y_pred > 0, 1, -1)`). Where scikit-learn would divide by zero (precision with
//! no predicted positives, recall with no positives) the value is 0, its
//! `zero_division` default; ROC AUC is `None` when only one class is present (scikit-learn
//! raises). Spreads over seeds are the **population** standard deviation (ddof = 0, numpy's
//! `np.std` default, the study's `acc_std`) unless a `ddof` says otherwise.

use serde::{Deserialize, Serialize};

/// Counts of a binary confusion matrix (positive = +1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

impl Confusion {
    /// From true labels (+1/-1; anything > 0 counts as +1) and raw scores.
    pub fn from_scores(y_true: &[f64], scores: &[f64]) -> Self {
        assert_eq!(
            y_true.len(),
            scores.len(),
            "labels and scores differ in length"
        );
        let mut c = Confusion::default();
        for (&t, &s) in y_true.iter().zip(scores) {
            match (t > 0.0, s > 0.0) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }

    pub fn total(&self) -> usize {
        self.tp + self.fp + self.tn + self.fn_
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total())
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// `2 tp / (2 tp + fp + fn)`, equal to the harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (what scikit-learn's `roc_auc_score` gives, since its
/// curve joins tied scores by one straight segment). `None` without both classes.
///
/// Not linfa's `BinaryClassification::roc`: it takes `Pr` probabilities in [0, 1] and
/// silently drops every score below 0, while these scores are the network's tanh outputs
/// in (-1, 1), so the rows it would keep are roughly the predicted positives only.
pub fn roc_auc(y_true: &[f64], scores: &[f64]) -> Option<f64> {
    assert_eq!(
        y_true.len(),
        scores.len(),
        "labels and scores differ in length"
    );
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann–Whitney U with average ranks over ties.
    let (mut rank_sum_pos, mut n_pos) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y_true[k] > 0.0 {
                rank_sum_pos += avg_rank;
                n_pos += 1;
            }
        }
        i = j + 1;
    }
    let n_neg = scores.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// The per-run metrics the evaluate stage reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryReport {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub roc_auc: Option<f64>,
    pub confusion: Confusion,
}

impl BinaryReport {
    pub fn new(y_true: &[f64], scores: &[f64]) -> Self {
        let c = Confusion::from_scores(y_true, scores);
        BinaryReport {
            accuracy: c.accuracy(),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            roc_auc: roc_auc(y_true, scores),
            confusion: c,
        }
    }
}

/// Mean and standard deviation with `ddof` degrees of freedom (0 = population, numpy's
/// default; 1 = sample). The std is NaN when there are not more than `ddof` values.
pub fn mean_std(xs: &[f64], ddof: usize) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    let std = if n > ddof {
        (ss / (n - ddof) as f64).sqrt()
    } else {
        f64::NAN
    };
    (mean, std)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from scikit-learn 1.9.1 / numpy 2.4.6:
    //
    //   import numpy as np
    //   from sklearn.metrics import (accuracy_score, precision_score, recall_score,
    //                                f1_score, roc_auc_score, confusion_matrix)
    //   y = np.array([1,1,1,1,-1,-1,-1,-1,-1,1])
    //   s = np.array([0.9,0.3,0.3,-0.2,0.3,-0.5,0.1,-0.9,-0.2,0.0])
    //   p = np.where(s > 0, 1, -1)
    //   print(accuracy_score(y,p), precision_score(y,p), recall_score(y,p), f1_score(y,p),
    //         roc_auc_score(y,s), confusion_matrix(y,p,labels=[1,-1]).ravel())
    //   a = np.array([0.62, 0.8, 0.97, 0.55, 0.71]); print(a.mean(), a.std(), a.std(ddof=1))
    //
    // prints 0.6 0.6 0.6 0.6 0.78 [3 2 2 3]
    //        0.7299999999999999 0.14656056768449008 0.1638596960817394
    const Y: [f64; 10] = [1., 1., 1., 1., -1., -1., -1., -1., -1., 1.];
    const S: [f64; 10] = [0.9, 0.3, 0.3, -0.2, 0.3, -0.5, 0.1, -0.9, -0.2, 0.0];

    #[test]
    fn matches_sklearn() {
        let r = BinaryReport::new(&Y, &S);
        approx::assert_abs_diff_eq!(r.accuracy, 0.6, epsilon = 1e-15);
        approx::assert_abs_diff_eq!(r.precision, 0.6, epsilon = 1e-15);
        approx::assert_abs_diff_eq!(r.recall, 0.6, epsilon = 1e-15);
        approx::assert_abs_diff_eq!(r.f1, 0.6, epsilon = 1e-15);
        approx::assert_abs_diff_eq!(r.roc_auc.unwrap(), 0.78, epsilon = 1e-15);
        let c = r.confusion;
        assert_eq!((c.tp, c.fn_, c.fp, c.tn), (3, 2, 2, 3));
        let (m, sd) = mean_std(&[0.62, 0.8, 0.97, 0.55, 0.71], 0);
        approx::assert_abs_diff_eq!(m, 0.7299999999999999, epsilon = 1e-15);
        approx::assert_abs_diff_eq!(sd, 0.14656056768449008, epsilon = 1e-15);
        let (_, sd1) = mean_std(&[0.62, 0.8, 0.97, 0.55, 0.71], 1);
        approx::assert_abs_diff_eq!(sd1, 0.1638596960817394, epsilon = 1e-15);
    }

    #[test]
    fn auc_matches_pairwise_definition() {
        // Brute force over all (pos, neg) pairs, ties 1/2.
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &yi) in Y.iter().enumerate() {
            for (j, &yj) in Y.iter().enumerate() {
                if yi > 0.0 && yj < 0.0 {
                    pairs += 1.0;
                    wins += if S[i] > S[j] {
                        1.0
                    } else if S[i] == S[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        approx::assert_abs_diff_eq!(roc_auc(&Y, &S).unwrap(), wins / pairs, epsilon = 1e-15);
    }

    #[test]
    fn degenerate_cases() {
        assert_eq!(roc_auc(&[1.0, 1.0], &[0.1, 0.2]), None);
        // Negative scores rank like any others (linfa's `roc` would drop them all).
        assert_eq!(
            roc_auc(&[1.0, -1.0, 1.0, -1.0], &[-0.1, -0.9, -0.2, -0.5]),
            Some(1.0)
        );
        let c = Confusion::from_scores(&[-1.0, -1.0], &[-0.5, -0.1]);
        assert_eq!(
            (c.precision(), c.recall(), c.f1(), c.accuracy()),
            (0.0, 0.0, 0.0, 1.0)
        );
        assert!(mean_std(&[1.0], 1).1.is_nan());
    }
}

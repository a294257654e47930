//! Input-space affinities P: per-point Gaussian bandwidths found by binary search on the
//! perplexity (scikit-learn's `_binary_search_perplexity`), then symmetrised.

use ndarray::ArrayView2;
use rayon::prelude::*;

/// sklearn's `MACHINE_EPSILON` (float64 eps), the floor for P and Q.
pub(super) const MACHINE_EPSILON: f64 = f64::EPSILON;
const PERPLEXITY_TOLERANCE: f64 = 1e-5;
const BINARY_SEARCH_STEPS: usize = 100;
/// What sklearn substitutes for a zero normaliser (its `EPSILON_DBL`).
const EPSILON_DBL: f64 = 1e-8;

/// Squared Euclidean distance between two rows.
pub(super) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Conditional probabilities p_{j|i} over the candidates whose squared distances are
/// `sqd` (entry `skip`, the point itself, is left at zero), with the Gaussian precision
/// chosen so that the row's perplexity matches `perplexity`.
pub(super) fn conditional_row(sqd: &[f64], skip: Option<usize>, perplexity: f64) -> Vec<f64> {
    let desired_entropy = perplexity.ln();
    let mut p = vec![0.0; sqd.len()];
    let mut beta = 1.0f64;
    let mut beta_min = f64::NEG_INFINITY;
    let mut beta_max = f64::INFINITY;
    for _ in 0..BINARY_SEARCH_STEPS {
        let mut sum_p = 0.0;
        for (j, (pj, &d)) in p.iter_mut().zip(sqd).enumerate() {
            if Some(j) != skip {
                *pj = (-d * beta).exp();
                sum_p += *pj;
            }
        }
        if sum_p == 0.0 {
            sum_p = EPSILON_DBL;
        }
        let mut sum_disti_pi = 0.0;
        for (pj, &d) in p.iter_mut().zip(sqd) {
            *pj /= sum_p;
            sum_disti_pi += d * *pj;
        }
        let entropy = sum_p.ln() + beta * sum_disti_pi;
        let diff = entropy - desired_entropy;
        if diff.abs() <= PERPLEXITY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            beta_min = beta;
            beta = if beta_max == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + beta_max) / 2.0
            };
        } else {
            beta_max = beta;
            beta = if beta_min == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + beta_min) / 2.0
            };
        }
    }
    p
}

/// Dense joint probabilities for the exact gradient: row-major n x n, symmetric,
/// summing to 1 over ordered pairs, floored at machine epsilon off the diagonal.
pub(super) fn joint_dense(x: ArrayView2<f64>, perplexity: f64) -> Vec<f64> {
    let n = x.nrows();
    let rows: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = x.row(i);
            let xi = xi.as_slice().expect("standard layout");
            let sqd: Vec<f64> = (0..n)
                .map(|j| sq_dist(xi, x.row(j).as_slice().expect("standard layout")))
                .collect();
            conditional_row(&sqd, Some(i), perplexity)
        })
        .collect();
    let mut p = vec![0.0; n * n];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..n {
            let v = rows[i][j] + rows[j][i];
            p[i * n + j] = v;
            total += v;
        }
    }
    let total = total.max(MACHINE_EPSILON);
    for i in 0..n {
        for j in 0..n {
            let v = &mut p[i * n + j];
            *v = if i == j {
                0.0
            } else {
                (*v / total).max(MACHINE_EPSILON)
            };
        }
    }
    p
}

/// Sparse symmetric P in CSR form, built on each point's nearest neighbours.
#[derive(Debug, Clone)]
pub(super) struct SparseP {
    pub indptr: Vec<usize>,
    pub indices: Vec<usize>,
    pub values: Vec<f64>,
}

/// The `k` nearest neighbours of every row (self excluded), nearest first, ties by index:
/// (indices, squared distances), each n x k row-major.
pub(super) fn knn(x: ArrayView2<f64>, k: usize) -> (Vec<usize>, Vec<f64>) {
    let n = x.nrows();
    let per_row: Vec<Vec<(f64, usize)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = x.row(i);
            let xi = xi.as_slice().expect("standard layout");
            let mut cand: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        sq_dist(xi, x.row(j).as_slice().expect("standard layout")),
                        j,
                    )
                })
                .collect();
            let cmp = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if k < cand.len() {
                cand.select_nth_unstable_by(k, cmp);
                cand.truncate(k);
            }
            cand.sort_by(cmp);
            cand
        })
        .collect();
    let mut idx = Vec::with_capacity(n * k);
    let mut d = Vec::with_capacity(n * k);
    for row in per_row {
        for (dist, j) in row {
            idx.push(j);
            d.push(dist);
        }
    }
    (idx, d)
}

/// Joint probabilities on the k-nearest-neighbour graph, as sklearn's
/// `_joint_probabilities_nn`: P = (C + C^T) / sum(C + C^T).
pub(super) fn joint_sparse(x: ArrayView2<f64>, perplexity: f64, k: usize) -> SparseP {
    let n = x.nrows();
    let (nbr, sqd) = knn(x, k);
    let cond: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| conditional_row(&sqd[i * k..(i + 1) * k], None, perplexity))
        .collect();
    let mut triplets: Vec<(usize, usize, f64)> = Vec::with_capacity(2 * n * k);
    for i in 0..n {
        for (t, &j) in nbr[i * k..(i + 1) * k].iter().enumerate() {
            let v = cond[i][t];
            triplets.push((i, j, v));
            triplets.push((j, i, v));
        }
    }
    triplets.sort_by_key(|t| (t.0, t.1));
    let mut indptr = vec![0usize; n + 1];
    let mut indices = Vec::with_capacity(triplets.len());
    let mut values: Vec<f64> = Vec::with_capacity(triplets.len());
    let mut last: Option<(usize, usize)> = None;
    for (i, j, v) in triplets {
        if last == Some((i, j)) {
            *values.last_mut().expect("a previous entry") += v;
        } else {
            indices.push(j);
            values.push(v);
            indptr[i + 1] += 1;
            last = Some((i, j));
        }
    }
    for i in 0..n {
        indptr[i + 1] += indptr[i];
    }
    let total: f64 = values.iter().sum::<f64>().max(MACHINE_EPSILON);
    for v in &mut values {
        *v /= total;
    }
    SparseP {
        indptr,
        indices,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::Array2;

    fn perplexity_of(p: &[f64]) -> f64 {
        let h: f64 = p.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
        h.exp()
    }

    #[test]
    fn binary_search_reaches_the_requested_perplexity() {
        let sqd: Vec<f64> = (0..60).map(|j| (j as f64 * 0.37).powi(2) % 7.0).collect();
        for &target in &[2.0, 5.0, 20.0] {
            let p = conditional_row(&sqd, Some(3), target);
            assert_eq!(p[3], 0.0);
            assert_abs_diff_eq!(p.iter().sum::<f64>(), 1.0, epsilon = 1e-12);
            assert_abs_diff_eq!(perplexity_of(&p), target, epsilon = 1e-3 * target);
        }
    }

    #[test]
    fn sparse_and_dense_p_agree_when_every_point_is_a_neighbour() {
        let x = Array2::from_shape_fn((12, 3), |(i, j)| {
            ((i * 7 + j * 3) % 5) as f64 + 0.1 * i as f64
        });
        let dense = joint_dense(x.view(), 3.0);
        let sparse = joint_sparse(x.view(), 3.0, 11);
        let n = 12;
        for i in 0..n {
            let row = sparse.indptr[i]..sparse.indptr[i + 1];
            assert_eq!(row.len(), n - 1);
            for t in row {
                let j = sparse.indices[t];
                assert_abs_diff_eq!(sparse.values[t], dense[i * n + j], epsilon = 1e-15);
            }
        }
        let total: f64 = dense.iter().sum();
        assert_abs_diff_eq!(total, 1.0, epsilon = 1e-12);
    }

    #[test]
    fn knn_returns_nearest_first_without_self() {
        let x = ndarray::array![[0.0], [1.0], [3.0], [7.0]];
        let (idx, d) = knn(x.view(), 2);
        assert_eq!(&idx[..], &[1, 2, 0, 2, 1, 0, 2, 1]);
        assert_eq!(&d[..2], &[1.0, 9.0]);
    }
}

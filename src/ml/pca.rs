//! Principal component analysis: centre the rows, keep the directions of largest variance.
//!
//! Used twice by the t-SNE stage: to reduce flattened weight snapshots (tens of thousands
//! of columns, a few thousand rows) to 50 dimensions, and to initialise the embedding.
//! Whichever of X^T X (d x d) and X X^T (n x n) is smaller is decomposed, so a wide
//! snapshot matrix never needs a d x d matrix; faer's self-adjoint eigendecomposition does
//! the decomposing (measured faster than the hand-written Jacobi/subspace solver it
//! replaced, and maintained). Signs follow scikit-learn's `svd_flip`
//! (`u_based_decision=False`): in each component the entry of largest magnitude is
//! positive, so results are comparable with sklearn's `PCA` and stable across runs.

use faer::linalg::evd::EvdError;
use faer::{Mat, Side};
use ndarray::{s, Array1, Array2, ArrayView2, Axis, LinalgScalar};
use rayon::prelude::*;

/// Matrix element types PCA accepts: snapshots are stored as f32, fixtures as f64.
pub trait Element: LinalgScalar + Send + Sync + Into<f64> {
    fn from_f64(v: f64) -> Self;
}

impl Element for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Element for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A fitted PCA together with the projection of the data it was fitted on.
#[derive(Debug, Clone)]
pub struct Pca {
    /// Column means that were subtracted (length d).
    pub mean: Array1<f64>,
    /// Principal axes as unit rows (k x d), by decreasing variance.
    pub components: Array2<f64>,
    /// Variance along each axis, with the n - 1 denominator as sklearn.
    pub explained_variance: Array1<f64>,
    /// The centred data projected on the axes (n x k).
    pub scores: Array2<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcaError {
    #[error("PCA needs at least 2 rows, got {0}")]
    TooFewRows(usize),
    #[error(
        "cannot keep {wanted} principal components of a {rows} x {cols} matrix (at most \
         {max}); lower the number of components"
    )]
    TooManyComponents {
        wanted: usize,
        rows: usize,
        cols: usize,
        max: usize,
    },
    #[error("PCA input holds a non-finite value (NaN or infinity) at row {row}, column {col}")]
    NonFinite { row: usize, col: usize },
    #[error("PCA's eigendecomposition did not converge on a {0} x {0} matrix")]
    NoConvergence(usize),
}

/// Rows per block of the parallel Gram product; fixed so that the arithmetic, and hence
/// the result, does not depend on the number of threads.
const GRAM_BLOCK: usize = 64;

/// Fits PCA with `n_components` axes on the rows of `x` and projects them.
pub fn fit_transform<A: Element>(x: ArrayView2<A>, n_components: usize) -> Result<Pca, PcaError> {
    let (n, d) = x.dim();
    if n < 2 {
        return Err(PcaError::TooFewRows(n));
    }
    let max = n.min(d);
    if n_components == 0 || n_components > max {
        return Err(PcaError::TooManyComponents {
            wanted: n_components,
            rows: n,
            cols: d,
            max,
        });
    }
    let mut mean = Array1::<f64>::zeros(d);
    for (row, r) in x.outer_iter().enumerate() {
        for (col, (m, &v)) in mean.iter_mut().zip(r.iter()).enumerate() {
            let v: f64 = v.into();
            if !v.is_finite() {
                return Err(PcaError::NonFinite { row, col });
            }
            *m += v;
        }
    }
    mean /= n as f64;
    let mean_a = mean.mapv(A::from_f64);
    let xc = &x - &mean_a.view().insert_axis(Axis(0));

    let k = n_components;
    let (eigvals, mut components, mut scores) = if d <= n {
        let cov = gram(xc.t());
        let (vals, vecs) = top_eigen(cov.view(), k)?;
        let scores = xc.dot(&vecs.mapv(A::from_f64)).mapv(Into::<f64>::into);
        (vals, vecs.reversed_axes(), scores)
    } else {
        // X = U S V^T: the Gram matrix gives U and S^2, then V^T = S^-1 U^T X.
        let g = gram(xc.view());
        let (vals, u) = top_eigen(g.view(), k)?;
        let sing = vals.mapv(|v| v.max(0.0).sqrt());
        let mut comps = u.t().mapv(A::from_f64).dot(&xc).mapv(Into::<f64>::into);
        for (mut row, &sv) in comps.outer_iter_mut().zip(sing.iter()) {
            if sv > 1e-12 * sing[0] {
                row /= sv;
            } else {
                row.fill(0.0);
            }
        }
        // Projecting (rather than U S) keeps scores exactly consistent with the axes,
        // whatever rounding the eigenvectors carry.
        let scores = xc.dot(&comps.t().mapv(A::from_f64)).mapv(Into::<f64>::into);
        (vals, comps, scores)
    };
    for j in 0..k {
        let row = components.row(j);
        let mut best = 0;
        for (i, v) in row.iter().enumerate() {
            if v.abs() > row[best].abs() {
                best = i;
            }
        }
        if row[best] < 0.0 {
            components.row_mut(j).mapv_inplace(|v| -v);
            scores.column_mut(j).mapv_inplace(|v| -v);
        }
    }
    let explained_variance = eigvals.mapv(|v| v.max(0.0) / (n - 1) as f64);
    Ok(Pca {
        mean,
        components,
        explained_variance,
        scores,
    })
}

/// The `k` largest eigenvalues (descending) of the symmetric matrix `a` and their unit
/// eigenvectors (as columns). Only the lower triangle is read.
fn top_eigen(a: ArrayView2<f64>, k: usize) -> Result<(Array1<f64>, Array2<f64>), PcaError> {
    let n = a.nrows();
    let m = Mat::from_fn(n, n, |i, j| a[[i, j]]);
    let evd = m.self_adjoint_eigen(Side::Lower).map_err(|e| match e {
        EvdError::NoConvergence => PcaError::NoConvergence(n),
    })?;
    // faer sorts eigenvalues ascending: the largest are the last columns.
    let (s, u) = (evd.S().column_vector(), evd.U());
    let vals = Array1::from_shape_fn(k, |j| s[n - 1 - j]);
    let vecs = Array2::from_shape_fn((n, k), |(i, j)| u[(i, n - 1 - j)]);
    Ok((vals, vecs))
}

/// `m m^T` in f64, computed by row blocks in parallel; only the upper triangle is
/// multiplied, then mirrored.
fn gram<A: Element>(m: ArrayView2<A>) -> Array2<f64> {
    let n = m.nrows();
    let starts: Vec<usize> = (0..n).step_by(GRAM_BLOCK).collect();
    let blocks: Vec<Array2<f64>> = starts
        .par_iter()
        .map(|&start| {
            let end = (start + GRAM_BLOCK).min(n);
            let rows = m.slice(s![start..end, ..]);
            let rest = m.slice(s![start.., ..]);
            rows.dot(&rest.t()).mapv(Into::<f64>::into)
        })
        .collect();
    let mut g = Array2::<f64>::zeros((n, n));
    for (&start, block) in starts.iter().zip(&blocks) {
        for (bi, row) in block.outer_iter().enumerate() {
            let i = start + bi;
            for (off, &v) in row.iter().enumerate().skip(bi) {
                let j = start + off;
                g[[i, j]] = v;
                g[[j, i]] = v;
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    /// Rows drawn with a known, well separated covariance spectrum plus an offset.
    fn sample(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |(_, j)| {
            let z: f64 = StandardNormal.sample(&mut rng);
            z * 4.0 / (1.0 + j as f64) + 0.3 * j as f64
        })
    }

    /// The defining properties: orthonormal axes, scores = centred data times axes,
    /// axes are eigenvectors of the sample covariance with the reported variances.
    fn check_pca(x: &Array2<f64>, p: &Pca) {
        let n = x.nrows() as f64;
        let xc = x - &p.mean.view().insert_axis(Axis(0));
        let gram = p.components.dot(&p.components.t());
        for i in 0..gram.nrows() {
            for j in 0..gram.ncols() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert_abs_diff_eq!(gram[[i, j]], want, epsilon = 1e-8);
            }
        }
        let proj = xc.dot(&p.components.t());
        for (a, b) in proj.iter().zip(p.scores.iter()) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-8 * (1.0 + a.abs()));
        }
        let cov = xc.t().dot(&xc) / (n - 1.0);
        for (j, axis) in p.components.outer_iter().enumerate() {
            let cv = cov.dot(&axis);
            let lam = p.explained_variance[j];
            for (a, b) in cv.iter().zip(axis.iter()) {
                assert_abs_diff_eq!(*a, lam * b, epsilon = 1e-7 * p.explained_variance[0]);
            }
            let row = axis.to_vec();
            let big = row
                .iter()
                .cloned()
                .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            assert!(big > 0.0, "sign convention: largest entry positive");
        }
    }

    #[test]
    fn tall_matrix_uses_the_covariance_and_satisfies_pca() {
        let x = sample(120, 8, 3);
        let p = fit_transform(x.view(), 3).unwrap();
        check_pca(&x, &p);
        // The sample variance along axis 1 is at least that of any single column after it.
        assert!(p.explained_variance[0] >= p.explained_variance[1]);
    }

    #[test]
    fn wide_matrix_uses_the_gram_route_and_agrees_with_the_tall_route() {
        // 30 x 80: the Gram route. Its transpose-free check is the PCA definition itself.
        let x = sample(30, 80, 4);
        let p = fit_transform(x.view(), 5).unwrap();
        check_pca(&x, &p);
        // Same data with enough duplicated rows to be tall gives the same axes.
        let tall = ndarray::concatenate(Axis(0), &[x.view(), x.view(), x.view()]).unwrap();
        let q = fit_transform(tall.view(), 5).unwrap();
        for (a, b) in p.components.iter().zip(q.components.iter()) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-7);
        }
    }

    #[test]
    fn large_gram_route_satisfies_pca() {
        let x = sample(300, 400, 5);
        let p = fit_transform(x.view(), 10).unwrap();
        check_pca(&x, &p);
    }

    #[test]
    fn f32_input_matches_f64_input() {
        let x = sample(50, 6, 6);
        let p64 = fit_transform(x.view(), 2).unwrap();
        let p32 = fit_transform(x.mapv(|v| v as f32).view(), 2).unwrap();
        for (a, b) in p64.scores.iter().zip(p32.scores.iter()) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-4);
        }
    }

    #[test]
    fn rejects_bad_shapes_and_values() {
        let x = sample(5, 3, 7);
        assert_eq!(
            fit_transform(x.view(), 4).unwrap_err(),
            PcaError::TooManyComponents {
                wanted: 4,
                rows: 5,
                cols: 3,
                max: 3
            }
        );
        assert_eq!(
            fit_transform(x.slice(s![..1, ..]), 1).unwrap_err(),
            PcaError::TooFewRows(1)
        );
        let mut bad = x.clone();
        bad[[2, 1]] = f64::NAN;
        assert_eq!(
            fit_transform(bad.view(), 1).unwrap_err(),
            PcaError::NonFinite { row: 2, col: 1 }
        );
    }
}

//! Leading eigenpairs of a symmetric positive semi-definite matrix, in pure ndarray.
//!
//! Small matrices get cyclic Jacobi (exact to rounding); large ones get block subspace
//! iteration with Rayleigh-Ritz, which only needs matrix products and so scales to the
//! N x N Gram matrix of a few thousand weight snapshots.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Above this size Jacobi's O(n^3) sweeps cost more than subspace iteration.
const JACOBI_MAX_N: usize = 256;
/// Residual tolerance relative to the largest eigenvalue.
const SUBSPACE_TOL: f64 = 1e-9;
const SUBSPACE_MAX_ITER: usize = 500;

/// The `k` largest eigenvalues (descending) and their unit eigenvectors (as columns).
pub(crate) fn top_eigen(a: ArrayView2<f64>, k: usize) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "top_eigen needs a square matrix");
    assert!(k <= n, "cannot take {k} eigenpairs of a {n} x {n} matrix");
    if n <= JACOBI_MAX_N || 2 * k >= n {
        let (vals, vecs) = jacobi(a.to_owned());
        (
            vals.slice(s![..k]).to_owned(),
            vecs.slice(s![.., ..k]).to_owned(),
        )
    } else {
        subspace_iteration(a, k)
    }
}

/// Cyclic Jacobi rotations until the off-diagonal mass vanishes. Returns all eigenpairs,
/// sorted by descending eigenvalue.
pub(crate) fn jacobi(mut a: Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let mut off = 0.0;
        let mut diag = 0.0;
        for p in 0..n {
            diag += a[[p, p]] * a[[p, p]];
            for q in (p + 1)..n {
                off += a[[p, q]] * a[[p, q]];
            }
        }
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                let app = a[[p, p]];
                let aqq = a[[q, q]];
                // Rotation angle chosen so that a[p][q] becomes zero (Golub & Van Loan 8.5).
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * c;
                for r in 0..n {
                    let arp = a[[r, p]];
                    let arq = a[[r, q]];
                    a[[r, p]] = c * arp - sn * arq;
                    a[[r, q]] = sn * arp + c * arq;
                }
                for r in 0..n {
                    let apr = a[[p, r]];
                    let aqr = a[[q, r]];
                    a[[p, r]] = c * apr - sn * aqr;
                    a[[q, r]] = sn * apr + c * aqr;
                }
                for r in 0..n {
                    let vrp = v[[r, p]];
                    let vrq = v[[r, q]];
                    v[[r, p]] = c * vrp - sn * vrq;
                    v[[r, q]] = sn * vrp + c * vrq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[[j, j]].total_cmp(&a[[i, i]]).then(i.cmp(&j)));
    let vals = Array1::from_iter(order.iter().map(|&i| a[[i, i]]));
    let vecs = v.select(Axis(1), &order);
    (vals, vecs)
}

/// Block subspace iteration with a Rayleigh-Ritz step each round; the block is wider
/// than `k` so the wanted eigenvalues converge at rate lambda_{p+1}/lambda_k.
fn subspace_iteration(a: ArrayView2<f64>, k: usize) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let p = (k + k.max(16)).min(n);
    // A fixed seed: the start block only has to be generic, and results must not vary.
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_e16e);
    let mut q = Array2::from_shape_fn((n, p), |_| StandardNormal.sample(&mut rng));
    orthonormalize(&mut q);
    let mut vals = Array1::zeros(p);
    for _ in 0..SUBSPACE_MAX_ITER {
        let z = a.dot(&q);
        let h = q.t().dot(&z);
        let h = (&h + &h.t()) * 0.5;
        let (theta, w) = jacobi(h);
        let ritz = q.dot(&w);
        let az = z.dot(&w);
        vals = theta;
        let scale = vals[0].abs().max(f64::MIN_POSITIVE);
        let converged = (0..k).all(|j| {
            let r = &az.column(j) - &(&ritz.column(j) * vals[j]);
            r.dot(&r).sqrt() <= SUBSPACE_TOL * scale
        });
        if converged {
            q = ritz;
            break;
        }
        q = az;
        orthonormalize(&mut q);
    }
    (
        vals.slice(s![..k]).to_owned(),
        q.slice(s![.., ..k]).to_owned(),
    )
}

/// Modified Gram-Schmidt, twice for stability; a column that collapses is replaced by a
/// unit vector orthogonal to the others so the block keeps full rank.
fn orthonormalize(q: &mut Array2<f64>) {
    let (n, p) = q.dim();
    for j in 0..p {
        for _pass in 0..2 {
            for i in 0..j {
                let (left, mut right) = q.view_mut().split_at(Axis(1), j);
                let qi = left.column(i);
                let mut qj = right.column_mut(0);
                let d = qi.dot(&qj);
                qj.scaled_add(-d, &qi);
            }
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        if norm > 1e-300 {
            q.column_mut(j).mapv_inplace(|x| x / norm);
        } else {
            let mut e = Array1::zeros(n);
            e[j % n] = 1.0;
            q.column_mut(j).assign(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn random_psd(n: usize, rank: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let b = Array2::from_shape_fn((n, rank), |(_, j)| {
            let x: f64 = StandardNormal.sample(&mut rng);
            // Spread the spectrum so eigenvalues are distinct.
            x * (1.0 + j as f64).recip().sqrt() * 3.0
        });
        b.dot(&b.t())
    }

    fn check_eigenpairs(a: &Array2<f64>, vals: &Array1<f64>, vecs: &Array2<f64>, tol: f64) {
        for j in 0..vals.len() {
            let v = vecs.column(j);
            assert_abs_diff_eq!(v.dot(&v), 1.0, epsilon = 1e-9);
            let r = a.dot(&v) - &v * vals[j];
            assert!(r.dot(&r).sqrt() <= tol * vals[0], "residual of pair {j}");
            if j > 0 {
                assert!(vals[j - 1] >= vals[j]);
            }
        }
    }

    #[test]
    fn jacobi_solves_a_known_2x2() {
        // [[2,1],[1,2]] has eigenvalues 3 and 1 with eigenvectors (1,1)/sqrt2, (1,-1)/sqrt2.
        let (vals, vecs) = jacobi(ndarray::array![[2.0, 1.0], [1.0, 2.0]]);
        assert_abs_diff_eq!(vals[0], 3.0, epsilon = 1e-12);
        assert_abs_diff_eq!(vals[1], 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(vecs[[0, 0]].abs(), 0.5f64.sqrt(), epsilon = 1e-12);
        assert_abs_diff_eq!(vecs[[0, 0]], vecs[[1, 0]], epsilon = 1e-12);
    }

    #[test]
    fn jacobi_eigenpairs_satisfy_the_eigen_equation() {
        let a = random_psd(40, 40, 1);
        let (vals, vecs) = top_eigen(a.view(), 40);
        check_eigenpairs(&a, &vals, &vecs, 1e-10);
        let trace: f64 = a.diag().sum();
        assert_abs_diff_eq!(vals.sum(), trace, epsilon = 1e-8 * trace);
    }

    #[test]
    fn subspace_iteration_agrees_with_jacobi() {
        let n = JACOBI_MAX_N + 44;
        let a = random_psd(n, 60, 2);
        let (vals, vecs) = top_eigen(a.view(), 10);
        check_eigenpairs(&a, &vals, &vecs, 1e-8);
        let (jv, _) = jacobi(a.clone());
        for j in 0..10 {
            assert_abs_diff_eq!(vals[j], jv[j], epsilon = 1e-8 * jv[0]);
        }
    }
}

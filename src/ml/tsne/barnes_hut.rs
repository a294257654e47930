//! The Barnes-Hut t-SNE gradient: attraction over the sparse nearest-neighbour P,
//! repulsion from a quadtree, O(N log N) per iteration (van der Maaten 2014), with the
//! KL divergence over P's non-zero entries as sklearn's `_barnes_hut_tsne.gradient`.

use super::affinity::SparseP;
use super::quadtree::QuadTree;
use rayon::prelude::*;

/// sklearn's floor inside the BH error (float32 tiny).
const FLOAT32_TINY: f64 = f32::MIN_POSITIVE as f64;

/// Fills `grad` with the approximate dKL/dy; returns KL(P || Q) when `compute_error`,
/// else NaN. `sq_theta` is theta squared (0 makes the repulsion exact).
pub(super) fn gradient(
    p: &SparseP,
    y: &[[f64; 2]],
    sq_theta: f64,
    exaggeration: f64,
    compute_error: bool,
    grad: &mut [[f64; 2]],
) -> f64 {
    let n = y.len();
    let tree = QuadTree::build(y);
    let neg: Vec<([f64; 2], f64)> = (0..n)
        .into_par_iter()
        .map(|i| tree.repulsion(y[i], sq_theta))
        .collect();
    let z = neg.iter().map(|r| r.1).sum::<f64>().max(f64::EPSILON);
    let pos: Vec<([f64; 2], f64)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let yi = y[i];
            let mut f = [0.0; 2];
            let mut err = 0.0;
            for t in p.indptr[i]..p.indptr[i + 1] {
                let yj = y[p.indices[t]];
                let dx = yi[0] - yj[0];
                let dy = yi[1] - yj[1];
                let q = 1.0 / (1.0 + dx * dx + dy * dy);
                let pij = p.values[t] * exaggeration;
                let pq = pij * q;
                f[0] += pq * dx;
                f[1] += pq * dy;
                if compute_error {
                    err += pij * (pij.max(FLOAT32_TINY) / (q / z).max(FLOAT32_TINY)).ln();
                }
            }
            (f, err)
        })
        .collect();
    for ((g, (pf, _)), (nf, _)) in grad.iter_mut().zip(&pos).zip(&neg) {
        g[0] = 4.0 * (pf[0] - nf[0] / z);
        g[1] = 4.0 * (pf[1] - nf[1] / z);
    }
    if compute_error {
        pos.iter().map(|r| r.1).sum()
    } else {
        f64::NAN
    }
}

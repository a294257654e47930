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
    // One parallel pass per iteration: repulsion and attraction per point. Z is only
    // known once every point's share is in, so the division and the error come after.
    let forces: Vec<Forces> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (neg, z_part) = tree.repulsion(y[i], sq_theta);
            let yi = y[i];
            let mut pos = [0.0; 2];
            for t in p.indptr[i]..p.indptr[i + 1] {
                let yj = y[p.indices[t]];
                let dx = yi[0] - yj[0];
                let dy = yi[1] - yj[1];
                let q = 1.0 / (1.0 + dx * dx + dy * dy);
                let pq = p.values[t] * exaggeration * q;
                pos[0] += pq * dx;
                pos[1] += pq * dy;
            }
            Forces { pos, neg, z_part }
        })
        .collect();
    let z = forces
        .iter()
        .map(|f| f.z_part)
        .sum::<f64>()
        .max(f64::EPSILON);
    for (g, f) in grad.iter_mut().zip(&forces) {
        g[0] = 4.0 * (f.pos[0] - f.neg[0] / z);
        g[1] = 4.0 * (f.pos[1] - f.neg[1] / z);
    }
    if !compute_error {
        return f64::NAN;
    }
    let errors: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let yi = y[i];
            let mut err = 0.0;
            for t in p.indptr[i]..p.indptr[i + 1] {
                let yj = y[p.indices[t]];
                let dx = yi[0] - yj[0];
                let dy = yi[1] - yj[1];
                let q = 1.0 / (1.0 + dx * dx + dy * dy);
                let pij = p.values[t] * exaggeration;
                err += pij * (pij.max(FLOAT32_TINY) / (q / z).max(FLOAT32_TINY)).ln();
            }
            err
        })
        .collect();
    errors.iter().sum()
}

struct Forces {
    pos: [f64; 2],
    neg: [f64; 2],
    z_part: f64,
}

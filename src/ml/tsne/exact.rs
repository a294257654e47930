//! The exact t-SNE gradient and KL divergence, O(N^2) per iteration.
//!
//! One pass over all pairs gathers, per point, the attractive sum, the unnormalised
//! repulsive sum and its share of the normaliser Z; Z is only known after the pass, so
//! the repulsion is divided by it afterwards. sklearn also floors each q_ij at machine
//! epsilon; with q_ij >= 1 / ((1 + d^2) N^2) that floor only binds for distances beyond
//! 1e7 at N = 1000, which an embedding never reaches, so it is left out.

use super::affinity::MACHINE_EPSILON;
use rayon::prelude::*;

struct RowSums {
    attract: [f64; 2],
    repel: [f64; 2],
    z: f64,
    /// sum_j p_ij (ln max(p_ij, eps) - ln num_ij), only when the error is wanted.
    kl_part: f64,
    p_sum: f64,
}

/// Fills `grad` with dKL/dy for the dense joint probabilities `p` (row-major n x n)
/// multiplied by `exaggeration`; returns KL(P || Q) when `compute_error`, else NaN.
pub(super) fn gradient(
    p: &[f64],
    y: &[[f64; 2]],
    exaggeration: f64,
    compute_error: bool,
    grad: &mut [[f64; 2]],
) -> f64 {
    let n = y.len();
    let rows: Vec<RowSums> = (0..n)
        .into_par_iter()
        .map(|i| {
            let yi = y[i];
            let prow = &p[i * n..(i + 1) * n];
            let mut s = RowSums {
                attract: [0.0; 2],
                repel: [0.0; 2],
                z: 0.0,
                kl_part: 0.0,
                p_sum: 0.0,
            };
            for (j, (yj, &pij)) in y.iter().zip(prow).enumerate() {
                if j == i {
                    continue;
                }
                let dx = yi[0] - yj[0];
                let dy = yi[1] - yj[1];
                let num = 1.0 / (1.0 + dx * dx + dy * dy);
                let pn = pij * exaggeration * num;
                s.attract[0] += pn * dx;
                s.attract[1] += pn * dy;
                let nn = num * num;
                s.repel[0] += nn * dx;
                s.repel[1] += nn * dy;
                s.z += num;
                if compute_error {
                    let pe = pij * exaggeration;
                    s.kl_part += pe * (pe.max(MACHINE_EPSILON).ln() - num.ln());
                    s.p_sum += pe;
                }
            }
            s
        })
        .collect();
    let z: f64 = rows.iter().map(|r| r.z).sum();
    for (g, r) in grad.iter_mut().zip(&rows) {
        g[0] = 4.0 * (r.attract[0] - r.repel[0] / z);
        g[1] = 4.0 * (r.attract[1] - r.repel[1] / z);
    }
    if compute_error {
        let kl: f64 = rows.iter().map(|r| r.kl_part).sum();
        let p_sum: f64 = rows.iter().map(|r| r.p_sum).sum();
        kl + z.ln() * p_sum
    } else {
        f64::NAN
    }
}

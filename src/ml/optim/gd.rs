//! Full-batch gradient descent: `w -= lr * g`, lr 0.01 as in the study.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{slices, Optimizer};
use crate::ml::real::Real;
use crate::ml::simd::vectorized;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GdConfig {
    pub lr: f64,
}

impl Default for GdConfig {
    fn default() -> Self {
        GdConfig { lr: 0.01 }
    }
}

/// The study's `params[i] -= self.lr * grads[i]`. Full batch is the trainer's business;
/// the update is the same as [`super::Sgd`]'s.
#[derive(Debug, Clone)]
pub struct Gd {
    cfg: GdConfig,
}

impl Gd {
    pub fn new(cfg: GdConfig) -> Self {
        Gd { cfg }
    }
}

/// `w -= lr * g`, shared by GD and SGD.
pub(crate) fn descend<T: Real>(params: &mut [Array2<T>], grads: &[Array2<T>], lr: f64) {
    let lr = T::from_f64(lr);
    for (p, g) in params.iter_mut().zip(grads) {
        let (w, g) = (slices(p), g.as_slice().expect("contiguous gradient"));
        vectorized(|| {
            for (w, &g) in w.iter_mut().zip(g) {
                *w -= lr * g;
            }
        });
    }
}

impl<T: Real> Optimizer<T> for Gd {
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]) {
        descend(params, grads, self.cfg.lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn close(w: &Array2<f64>, want: &[f64]) {
        for (a, b) in w.iter().zip(want) {
            approx::assert_abs_diff_eq!(a, b, epsilon = 1e-15);
        }
    }

    #[test]
    fn two_steps_by_hand() {
        // w = [1, -2]; g1 = [0.5, -1]; lr = 0.01
        // step 1: w = [1 - 0.005, -2 + 0.01] = [0.995, -1.99]
        // step 2 with g2 = [2, 4]: w = [0.995 - 0.02, -1.99 - 0.04] = [0.975, -2.03]
        let mut opt = Gd::new(GdConfig::default());
        let mut w = vec![array![[1.0_f64, -2.0]]];
        opt.step(&mut w, &[array![[0.5, -1.0]]]);
        close(&w[0], &[0.995, -1.99]);
        opt.step(&mut w, &[array![[2.0, 4.0]]]);
        close(&w[0], &[0.975, -2.03]);
    }
}

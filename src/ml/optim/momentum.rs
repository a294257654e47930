//! SGD with (heavy-ball) momentum, not in the study: `v = mu*v + g; w -= lr*v`.
//!
//! This is PyTorch's form (dampening 0, no Nesterov); with `mu = 0` it is plain SGD.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{slices, zeros_like, Optimizer};
use crate::ml::real::Real;
use crate::ml::simd::vectorized;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MomentumConfig {
    pub lr: f64,
    pub momentum: f64,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        MomentumConfig {
            lr: 0.01,
            momentum: 0.9,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Momentum<T> {
    cfg: MomentumConfig,
    velocity: Vec<Array2<T>>,
}

impl<T: Real> Momentum<T> {
    pub fn new(cfg: MomentumConfig) -> Self {
        Momentum {
            cfg,
            velocity: Vec::new(),
        }
    }
}

impl<T: Real> Optimizer<T> for Momentum<T> {
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]) {
        if self.velocity.is_empty() {
            self.velocity = zeros_like(params);
        }
        let (lr, mu) = (T::from_f64(self.cfg.lr), T::from_f64(self.cfg.momentum));
        for ((p, g), v) in params.iter_mut().zip(grads).zip(&mut self.velocity) {
            let (w, v, g) = (slices(p), slices(v), g.as_slice().expect("contiguous"));
            vectorized(|| {
                for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
                    *v = mu * *v + g;
                    *w -= lr * *v;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_steps_by_hand() {
        // lr = 0.01, mu = 0.9, w = 1, v = 0
        // g1 = 2:  v = 0.9*0 + 2 = 2;        w = 1 - 0.01*2 = 0.98
        // g2 = 1:  v = 0.9*2 + 1 = 2.8;      w = 0.98 - 0.01*2.8 = 0.952
        let mut opt = Momentum::new(MomentumConfig::default());
        let mut w = vec![array![[1.0_f64]]];
        opt.step(&mut w, &[array![[2.0]]]);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], 0.98, epsilon = 1e-15);
        opt.step(&mut w, &[array![[1.0]]]);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], 0.952, epsilon = 1e-15);
    }
}

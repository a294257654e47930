//! AdaGrad as in the numpy reference: `G += g^2; w -= lr*g / (sqrt(G) + eps)`, lr 0.001.
//!
//! eps is added after the square root (the reference's form, like PyTorch), not inside it.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{slices, zeros_like, Optimizer};
use crate::ml::real::Real;
use crate::ml::simd::vectorized;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaGradConfig {
    pub lr: f64,
    pub eps: f64,
}

impl Default for AdaGradConfig {
    fn default() -> Self {
        AdaGradConfig {
            lr: 0.001,
            eps: 1e-8,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AdaGrad<T> {
    cfg: AdaGradConfig,
    sum_sq: Vec<Array2<T>>,
}

impl<T: Real> AdaGrad<T> {
    pub fn new(cfg: AdaGradConfig) -> Self {
        AdaGrad {
            cfg,
            sum_sq: Vec::new(),
        }
    }
}

impl<T: Real> Optimizer<T> for AdaGrad<T> {
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]) {
        if self.sum_sq.is_empty() {
            self.sum_sq = zeros_like(params);
        }
        let (lr, eps) = (T::from_f64(self.cfg.lr), T::from_f64(self.cfg.eps));
        for ((p, g), s) in params.iter_mut().zip(grads).zip(&mut self.sum_sq) {
            let (w, s, g) = (slices(p), slices(s), g.as_slice().expect("contiguous"));
            vectorized(|| {
                for ((w, s), &g) in w.iter_mut().zip(s.iter_mut()).zip(g) {
                    *s += g * g;
                    *w -= lr * g / (s.sqrt() + eps);
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
        // lr=0.001, eps=1e-8, w=1
        // g1=3: G=9,  w = 1 - 0.001*3/(3+1e-8)      = 1 - 0.000999999996666...
        // g2=4: G=25, w = w1 - 0.001*4/(5+1e-8)     = w1 - 0.000799999998400...
        let mut opt = AdaGrad::new(AdaGradConfig::default());
        let mut w = vec![array![[1.0_f64]]];
        opt.step(&mut w, &[array![[3.0]]]);
        let w1 = 1.0 - 0.003 / (3.0 + 1e-8);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], w1, epsilon = 1e-16);
        approx::assert_abs_diff_eq!(w1, 0.99900000000333, epsilon = 1e-13);
        opt.step(&mut w, &[array![[4.0]]]);
        let w2 = w1 - 0.004 / (5.0 + 1e-8);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], w2, epsilon = 1e-16);
        approx::assert_abs_diff_eq!(w2, 0.99820000000493, epsilon = 1e-13);
    }
}

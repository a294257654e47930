//! RMSProp as in the numpy reference: `v = rho*v + (1-rho)*g^2; w -= lr*g / (sqrt(v) + eps)`,
//! lr 0.001, rho 0.9 (Hinton's/Keras' value), eps added after the square root.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{slices, zeros_like, Optimizer};
use crate::ml::real::Real;
use crate::ml::simd::vectorized;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 0.001,
            rho: 0.9,
            eps: 1e-8,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RmsProp<T> {
    cfg: RmsPropConfig,
    mean_sq: Vec<Array2<T>>,
}

impl<T: Real> RmsProp<T> {
    pub fn new(cfg: RmsPropConfig) -> Self {
        RmsProp {
            cfg,
            mean_sq: Vec::new(),
        }
    }
}

impl<T: Real> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]) {
        if self.mean_sq.is_empty() {
            self.mean_sq = zeros_like(params);
        }
        let f = T::from_f64;
        let c = &self.cfg;
        let (lr, rho, omr, eps) = (f(c.lr), f(c.rho), f(1.0 - c.rho), f(c.eps));
        for ((p, g), s) in params.iter_mut().zip(grads).zip(&mut self.mean_sq) {
            let (w, s, g) = (slices(p), slices(s), g.as_slice().expect("contiguous"));
            vectorized(|| {
                for ((w, s), &g) in w.iter_mut().zip(s.iter_mut()).zip(g) {
                    *s = rho * *s + omr * (g * g);
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
        // lr=0.001, rho=0.9, eps=1e-8, w=0
        // g1=1:  v = 0.1*1 = 0.1;                 w = -0.001*1/(sqrt(0.1)+1e-8)
        //        sqrt(0.1) = 0.31622776601683794 -> w1 = -0.0031622775601683...
        // g2=-2: v = 0.9*0.1 + 0.1*4 = 0.49;      w = w1 + 0.002/(0.7+1e-8)
        //        0.002/0.70000001 = 0.00285714281632653 -> w2 = -0.00030513474...
        let mut opt = RmsProp::new(RmsPropConfig::default());
        let mut w = vec![array![[0.0_f64]]];
        opt.step(&mut w, &[array![[1.0]]]);
        let w1 = -0.001 / (0.1_f64.sqrt() + 1e-8);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], w1, epsilon = 1e-16);
        approx::assert_abs_diff_eq!(w1, -0.0031622775601683, epsilon = 1e-15);
        opt.step(&mut w, &[array![[-2.0]]]);
        let w2 = w1 + 0.002 / (0.7 + 1e-8);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], w2, epsilon = 1e-15);
        approx::assert_abs_diff_eq!(w2, -0.00030513474384, epsilon = 1e-13);
    }
}

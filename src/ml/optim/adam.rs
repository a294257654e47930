//! Adam (Kingma & Ba), the study's code: lr 0.001, beta 0.9/0.999, eps 1e-8, eps added
//! after the square root of the bias-corrected second moment.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{slices, zeros_like, Optimizer};
use crate::ml::real::Real;
use crate::ml::simd::vectorized;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Adam<T> {
    cfg: AdamConfig,
    t: i32,
    m: Vec<Array2<T>>,
    v: Vec<Array2<T>>,
}

impl<T: Real> Adam<T> {
    pub fn new(cfg: AdamConfig) -> Self {
        Adam {
            cfg,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl<T: Real> Optimizer<T> for Adam<T> {
    /// One fused pass per array, in the study's order of operations:
    /// `m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; m_hat = m/(1-b1^t);
    /// v_hat = v/(1-b2^t); w -= lr*m_hat / (sqrt(v_hat) + eps)`.
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]) {
        if self.m.is_empty() {
            self.m = zeros_like(params);
            self.v = zeros_like(params);
        }
        self.t += 1;
        let c = &self.cfg;
        let t = f64::from(self.t);
        // Python's `1 - beta1` and `beta1 ** t` (C pow), computed in f64 like numpy.
        let f = T::from_f64;
        let (b1, b2, omb1, omb2) = (f(c.beta1), f(c.beta2), f(1.0 - c.beta1), f(1.0 - c.beta2));
        let (bc1, bc2) = (f(1.0 - c.beta1.powf(t)), f(1.0 - c.beta2.powf(t)));
        let (lr, eps) = (f(c.lr), f(c.eps));
        for ((p, g), (m, v)) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            let (w, m, v) = (slices(p), slices(m), slices(v));
            let g = g.as_slice().expect("contiguous gradient");
            vectorized(|| {
                for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                    let mi = b1 * *m + omb1 * g;
                    let vi = b2 * *v + omb2 * (g * g);
                    *m = mi;
                    *v = vi;
                    let m_hat = mi / bc1;
                    let v_hat = vi / bc2;
                    *w -= lr * m_hat / (v_hat.sqrt() + eps);
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
        // lr=0.001, b1=0.9, b2=0.999, eps=1e-8, w=0.5
        // g1=0.2: m=0.02, v=0.00004; m_hat=0.02/0.1=0.2, v_hat=0.00004/0.001=0.04
        //         w = 0.5 - 0.001*0.2/(0.2+1e-8) = 0.5 - 0.00099999995 = 0.49900000005
        // g2=-0.4: m=0.9*0.02-0.04=-0.022, v=0.999*0.00004+0.001*0.16=0.00019996
        //         m_hat=-0.022/0.19=-0.11578947368421053,
        //         v_hat=0.00019996/0.001999=0.10003001500750511, sqrt=0.3162752204...
        //         -> w2 = 0.49936610356546...
        //         w += 0.001*0.11578947368421053/(0.3162752205...+1e-8)
        let mut opt = Adam::new(AdamConfig::default());
        let mut w = vec![array![[0.5_f64]]];
        opt.step(&mut w, &[array![[0.2]]]);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], 0.49900000005, epsilon = 1e-14);
        opt.step(&mut w, &[array![[-0.4]]]);
        let v_hat: f64 = 0.00019996 / (1.0 - 0.999_f64 * 0.999);
        let expect = 0.49900000005 + 0.001 * (0.022 / 0.19) / (v_hat.sqrt() + 1e-8);
        approx::assert_abs_diff_eq!(v_hat, 0.10003001500750511, epsilon = 1e-12);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], expect, epsilon = 1e-14);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], 0.49936610356546, epsilon = 1e-13);
    }

    #[test]
    fn first_step_is_lr_times_sign() {
        // The study's selftest: Adam's first step moves each weight by lr*g/(|g|+eps).
        let mut opt = Adam::new(AdamConfig::default());
        let g = array![[3.0_f64, -0.001, 1e-3]];
        let mut w = vec![Array2::zeros((1, 3))];
        opt.step(&mut w, std::slice::from_ref(&g));
        for (wi, gi) in w[0].iter().zip(g.iter()) {
            approx::assert_abs_diff_eq!(*wi, -0.001 * gi / (gi.abs() + 1e-8), epsilon = 1e-15);
        }
    }
}

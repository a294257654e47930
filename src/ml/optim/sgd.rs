//! Mini-batch stochastic gradient descent: `w -= lr * g`, lr 0.1 as in the study.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::gd::descend;
use super::Optimizer;
use crate::ml::real::Real;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    pub lr: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 0.1 }
    }
}

/// Plain SGD; the mini-batches (32 rows by default) come from the trainer.
#[derive(Debug, Clone)]
pub struct Sgd {
    cfg: SgdConfig,
}

impl Sgd {
    pub fn new(cfg: SgdConfig) -> Self {
        Sgd { cfg }
    }
}

impl<T: Real> Optimizer<T> for Sgd {
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]) {
        descend(params, grads, self.cfg.lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_steps_by_hand() {
        // w = [0.3]; lr = 0.1
        // g1 = 2   -> w = 0.3 - 0.2 = 0.1
        // g2 = -1  -> w = 0.1 + 0.1 = 0.2
        let mut opt = Sgd::new(SgdConfig::default());
        let mut w = vec![array![[0.3_f64]]];
        opt.step(&mut w, &[array![[2.0]]]);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], 0.1, epsilon = 1e-15);
        opt.step(&mut w, &[array![[-1.0]]]);
        approx::assert_abs_diff_eq!(w[0][[0, 0]], 0.2, epsilon = 1e-15);
    }
}

//! The first layer kept in the span of the training rows, for GD, SGD and momentum.
//!
//! With these optimizers every update of the first weight matrix is a fixed combination of
//! gradients `X_b^T delta`, so `W1 = W1_0 + X_train^T C` for a small coefficient matrix
//! `C` (training rows x hidden). The first layer's pre-activations of all evaluation
//! rows, `Z = X_eval W1`, are kept and updated by `K dC` with the kernel
//! `K = X_eval X_train^T`, computed once per run. A step then costs
//! O(eval rows x batch x hidden) instead of O(batch x features x hidden), and evaluating
//! needs no product with the features at all; `W1` itself is formed only when asked for
//! (snapshots, the result). It is the study's arithmetic up to rounding: the replay test
//! holds it to numpy's curves at 1e-9.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

use super::mlp::{BiasMode, Mlp, Workspace};
use super::optim::{Optimizer, OptimizerSpec};
use super::real::Real;
use super::train::{all_finite, Engine};

enum Update {
    /// GD and SGD: `W1 -= lr * G`.
    Plain { lr: f64 },
    /// `V = mu V + G; W1 -= lr V`, with `V = X^T Cv`.
    Momentum { lr: f64, mu: f64 },
}

pub(crate) struct RowSpace<'a, T: Real> {
    update: Update,
    x_train: ArrayView2<'a, T>,
    y_train: ArrayView1<'a, T>,
    full_batch: bool,
    w1_0: Array2<T>,
    c: Array2<T>,
    /// Momentum's velocity coefficients (empty otherwise) and its full-size `dC`.
    cv: Array2<T>,
    dc_full: Array2<T>,
    k: Array2<T>,
    z: Array2<T>,
    upper: Mlp<T>,
    upper_opt: Box<dyn Optimizer<T>>,
    ws: Workspace<T>,
    ws_eval: Workspace<T>,
    grads: Vec<Array2<T>>,
    a1: Array2<T>,
    a1_eval: Array2<T>,
    delta1: Array2<T>,
    dc: Array2<T>,
    kb: Array2<T>,
    yb: Array1<T>,
    /// `[W1, upper weights...]`, formed on demand; `fresh` while it matches `C`.
    weights: Vec<Array2<T>>,
    fresh: bool,
    /// `0..n_train`, GD's batch.
    all_rows: Vec<usize>,
}

impl<'a, T: Real> RowSpace<'a, T> {
    /// `x_eval` starts with the training rows. Panics on an optimizer that is not linear
    /// or a network without a hidden layer (the caller checks).
    pub(crate) fn new(
        mlp: Mlp<T>,
        spec: &OptimizerSpec,
        x_eval: ArrayView2<'a, T>,
        y_train: ArrayView1<'a, T>,
        batch: usize,
    ) -> Self {
        let update = match spec {
            OptimizerSpec::Gd(c) => Update::Plain { lr: c.lr },
            OptimizerSpec::Sgd(c) => Update::Plain { lr: c.lr },
            OptimizerSpec::Momentum(c) => Update::Momentum {
                lr: c.lr,
                mu: c.momentum,
            },
            _ => panic!("row-space first layer needs a linear optimizer"),
        };
        let sizes = mlp.sizes().to_vec();
        let (h, n_train, n_eval) = (sizes[1], y_train.len(), x_eval.nrows());
        let mut weights = mlp.into_weights();
        let upper_w = weights.split_off(1);
        let w1_0 = weights.pop().expect("first layer");
        let upper = Mlp::from_weights(&sizes[1..], BiasMode::InputColumn, upper_w)
            .expect("upper layers keep their shapes");
        let x_train = x_eval.slice_move(s![..n_train, ..]);
        let mut k = Array2::zeros((n_eval, n_train));
        general_mat_mul(T::one(), &x_eval, &x_train.t(), T::zero(), &mut k);
        let mut z = Array2::zeros((n_eval, h));
        general_mat_mul(T::one(), &x_eval, &w1_0, T::zero(), &mut z);
        let momentum = matches!(update, Update::Momentum { .. });
        let full = |on: bool| {
            if on {
                Array2::zeros((n_train, h))
            } else {
                Array2::zeros((0, h))
            }
        };
        RowSpace {
            full_batch: spec.full_batch(),
            upper_opt: spec.build::<T>(),
            ws: Workspace::new(&upper, batch),
            ws_eval: Workspace::new(&upper, n_eval),
            grads: upper.zero_grads(),
            weights: Vec::new(),
            fresh: false,
            all_rows: (0..n_train).collect(),
            c: Array2::zeros((n_train, h)),
            cv: full(momentum),
            dc_full: full(momentum),
            a1: Array2::zeros((batch, h)),
            a1_eval: Array2::zeros((n_eval, h)),
            delta1: Array2::zeros((batch, h)),
            dc: Array2::zeros((batch, h)),
            kb: Array2::zeros((n_eval, batch)),
            yb: Array1::zeros(batch),
            update,
            x_train,
            y_train,
            w1_0,
            k,
            z,
            upper,
        }
    }

    fn step(&mut self, rows: &[usize]) {
        let b = rows.len();
        for (i, &r) in rows.iter().enumerate() {
            self.a1
                .row_mut(i)
                .zip_mut_with(&self.z.row(r), |a, &z| *a = z.tanh_act());
            self.yb[i] = self.y_train[r];
        }
        let a1 = self.a1.slice(s![..b, ..]);
        self.upper.forward(a1, &mut self.ws);
        self.upper
            .backward(a1, self.yb.slice(s![..b]), &mut self.ws, &mut self.grads);
        // delta1 = (delta2 @ W2^T) * (1 - a1^2), the study's backward.
        let mut delta1 = self.delta1.slice_mut(s![..b, ..]);
        self.upper.input_grad(&self.ws, &mut delta1);
        delta1.zip_mut_with(&a1, |d, &a| *d *= T::one() - a * a);

        match self.update {
            Update::Plain { lr } => {
                // W1 -= lr * X_b^T delta1  <=>  C[r] -= lr * delta1[i]; Z += K[:, b] dC.
                let lr = T::from_f64(lr);
                let mut dc = self.dc.slice_mut(s![..b, ..]);
                dc.zip_mut_with(&delta1, |d, &g| *d = -(lr * g));
                for (i, &r) in rows.iter().enumerate() {
                    self.c
                        .row_mut(r)
                        .zip_mut_with(&delta1.row(i), |c, &g| *c -= lr * g);
                    self.kb.column_mut(i).assign(&self.k.column(r));
                }
                let kb = self.kb.slice(s![.., ..b]);
                general_mat_mul(T::one(), &kb, &dc, T::one(), &mut self.z);
            }
            Update::Momentum { lr, mu } => {
                let (lr, mu) = (T::from_f64(lr), T::from_f64(mu));
                // Cv = mu Cv + S (S: delta1 in the batch rows); dC = -lr Cv.
                self.cv.mapv_inplace(|v| mu * v);
                for (i, &r) in rows.iter().enumerate() {
                    self.cv
                        .row_mut(r)
                        .zip_mut_with(&delta1.row(i), |v, &g| *v += g);
                }
                self.dc_full.zip_mut_with(&self.cv, |d, &v| *d = -(lr * v));
                self.c.zip_mut_with(&self.cv, |c, &v| *c -= lr * v);
                general_mat_mul(T::one(), &self.k, &self.dc_full, T::one(), &mut self.z);
            }
        }
        self.upper_opt.step(self.upper.weights_mut(), &self.grads);
        self.fresh = false;
    }
}

impl<T: Real> Engine<T> for RowSpace<'_, T> {
    fn train_epoch(&mut self, order: &[usize]) {
        if self.full_batch {
            let all = std::mem::take(&mut self.all_rows);
            self.step(&all);
            self.all_rows = all;
        } else {
            let batch = self.a1.nrows();
            for chunk in order.chunks(batch) {
                self.step(chunk);
            }
        }
    }

    fn evaluate(&mut self) -> ArrayView1<'_, T> {
        self.a1_eval
            .zip_mut_with(&self.z, |a, &z| *a = z.tanh_act());
        self.upper.forward(self.a1_eval.view(), &mut self.ws_eval);
        self.ws_eval.output()
    }

    fn finite(&self) -> bool {
        // Z can overflow while C stays finite: check both.
        self.c.iter().all(|v| v.is_finite())
            && self.z.iter().all(|v| v.is_finite())
            && all_finite(self.upper.weights())
    }

    fn weights(&mut self) -> &[Array2<T>] {
        if !self.fresh {
            let mut w1 = self.w1_0.clone();
            general_mat_mul(T::one(), &self.x_train.t(), &self.c, T::one(), &mut w1);
            self.weights.clear();
            self.weights.push(w1);
            self.weights.extend(self.upper.weights().iter().cloned());
            self.fresh = true;
        }
        &self.weights
    }

    fn into_weights(mut self: Box<Self>) -> Vec<Array2<T>> {
        self.weights();
        self.weights
    }
}

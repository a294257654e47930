//! A fully connected tanh network of any depth, with the study's forward and backward.
//!
//! Layer sizes are `[in, h1, ..., 1]` and tanh follows every layer, the output included,
//! exactly as the study's `TwoLayerMLP`/`RecursiveMLP`. `[in, 1]` is its `OneLayerModel`.
//! The loss is MSE; [`Mlp::backward`] returns the gradient of **0.5·MSE** averaged over
//! the batch (the study's backward drops the factor 2), with the study's order of
//! operations so a replay against numpy agrees to rounding.
//!
//! The study's bias is a trailing column of ones in the input ([`BiasMode::InputColumn`]:
//! the model adds nothing). [`BiasMode::PerLayer`] instead gives every layer a bias
//! vector, stored as one extra last row of that layer's weight matrix so optimizers see
//! one parameter array per layer.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::real::Real;
use super::simd::vectorized;

/// Where the network's bias comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiasMode {
    /// The input already ends in a column of ones (the study's layout): no bias terms.
    #[default]
    InputColumn,
    /// One bias vector per layer (last row of each weight matrix), initialised to zero.
    PerLayer,
}

/// Errors building a network from given sizes or weights.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MlpError {
    #[error("an MLP needs at least an input and an output size, got {0:?}")]
    TooFewLayers(Vec<usize>),
    #[error("layer sizes must be positive, got {0:?}")]
    ZeroSize(Vec<usize>),
    #[error("the output layer must have size 1 (one tanh score per row), got {0}")]
    OutputNotOne(usize),
    #[error("weight {index} has shape {got:?}, expected {expected:?}")]
    WeightShape {
        index: usize,
        got: (usize, usize),
        expected: (usize, usize),
    },
}

/// The network: one weight matrix per layer, `(n_in [+1 bias row], n_out)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp<T> {
    sizes: Vec<usize>,
    bias: BiasMode,
    weights: Vec<Array2<T>>,
}

fn check_sizes(sizes: &[usize]) -> Result<(), MlpError> {
    if sizes.len() < 2 {
        return Err(MlpError::TooFewLayers(sizes.to_vec()));
    }
    if sizes.contains(&0) {
        return Err(MlpError::ZeroSize(sizes.to_vec()));
    }
    let out = *sizes.last().unwrap_or(&0);
    if out != 1 {
        return Err(MlpError::OutputNotOne(out));
    }
    Ok(())
}

fn weight_shape(sizes: &[usize], bias: BiasMode, layer: usize) -> (usize, usize) {
    let extra = usize::from(bias == BiasMode::PerLayer);
    (sizes[layer] + extra, sizes[layer + 1])
}

impl<T: Real> Mlp<T> {
    /// The study's initialisation: `randn(n_in, n_out) * sqrt(1 / n_in)` per layer, drawn
    /// row-major in f64 (so f32 and f64 networks start from the same values); bias rows 0.
    pub fn init<R: Rng + ?Sized>(
        sizes: &[usize],
        bias: BiasMode,
        rng: &mut R,
    ) -> Result<Self, MlpError> {
        check_sizes(sizes)?;
        let weights = (0..sizes.len() - 1)
            .map(|l| {
                let (rows, cols) = weight_shape(sizes, bias, l);
                let scale = (1.0 / sizes[l] as f64).sqrt();
                let mut w = Array2::zeros((rows, cols));
                for v in w.slice_mut(s![..sizes[l], ..]).iter_mut() {
                    let z: f64 = rng.sample(StandardNormal);
                    *v = T::from_f64(z * scale);
                }
                w
            })
            .collect();
        Ok(Mlp {
            sizes: sizes.to_vec(),
            bias,
            weights,
        })
    }

    /// A network with the given weights (e.g. injected initial weights for a replay).
    pub fn from_weights(
        sizes: &[usize],
        bias: BiasMode,
        weights: Vec<Array2<T>>,
    ) -> Result<Self, MlpError> {
        check_sizes(sizes)?;
        let n_layers = sizes.len() - 1;
        for index in 0..n_layers.max(weights.len()) {
            let expected = weight_shape(sizes, bias, index.min(n_layers - 1));
            let got = weights.get(index).map_or((0, 0), |w| w.dim());
            if index >= n_layers || got != expected {
                return Err(MlpError::WeightShape {
                    index,
                    got,
                    expected,
                });
            }
        }
        Ok(Mlp {
            sizes: sizes.to_vec(),
            bias,
            weights: weights
                .into_iter()
                .map(|w| w.as_standard_layout().into_owned())
                .collect(),
        })
    }

    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    pub fn bias(&self) -> BiasMode {
        self.bias
    }
    pub fn n_layers(&self) -> usize {
        self.weights.len()
    }
    pub fn weights(&self) -> &[Array2<T>] {
        &self.weights
    }
    /// Mutable weights, for optimizers. Shapes must not change.
    pub fn weights_mut(&mut self) -> &mut [Array2<T>] {
        &mut self.weights
    }
    pub fn into_weights(self) -> Vec<Array2<T>> {
        self.weights
    }
    /// Number of scalar parameters (all weight matrices, bias rows included).
    pub fn n_params(&self) -> usize {
        self.weights.iter().map(|w| w.len()).sum()
    }
    /// Gradient buffers with the shape of every weight matrix.
    pub fn zero_grads(&self) -> Vec<Array2<T>> {
        self.weights
            .iter()
            .map(|w| Array2::zeros(w.raw_dim()))
            .collect()
    }
    /// All weights, flattened layer after layer in row-major order (the study's
    /// `flat_params`).
    pub fn flat_params(&self) -> Vec<T> {
        self.weights
            .iter()
            .flat_map(|w| w.iter().copied())
            .collect()
    }

    fn linear(&self, layer: usize) -> ArrayView2<'_, T> {
        self.weights[layer].slice(s![..self.sizes[layer], ..])
    }

    /// Forward pass over the rows of `x`, keeping every layer's activation in `ws`.
    /// Returns nothing; the output column is [`Workspace::output`].
    pub fn forward(&self, x: ArrayView2<'_, T>, ws: &mut Workspace<T>) {
        let b = x.nrows();
        assert_eq!(
            x.ncols(),
            self.sizes[0],
            "input width does not match the MLP"
        );
        assert!(b <= ws.capacity, "batch larger than the workspace");
        ws.rows = b;
        for l in 0..self.n_layers() {
            let (done, rest) = ws.acts.split_at_mut(l);
            let out = &mut rest[0];
            let mut z = out.slice_mut(s![..b, ..]);
            let input = if l == 0 {
                x.view()
            } else {
                done[l - 1].slice(s![..b, ..])
            };
            general_mat_mul(T::one(), &input, &self.linear(l), T::zero(), &mut z);
            self.activate(l, &mut z);
        }
    }

    /// Adds the bias row (if any) and applies tanh in place.
    fn activate(&self, layer: usize, z: &mut ArrayViewMut2<'_, T>) {
        if self.bias == BiasMode::PerLayer {
            let b = self.weights[layer].row(self.sizes[layer]);
            *z += &b;
        }
        match z.as_slice_memory_order_mut() {
            Some(v) => vectorized(|| v.iter_mut().for_each(|x| *x = x.tanh_act())),
            None => z.mapv_inplace(|v| v.tanh_act()),
        }
    }

    /// The study's backward: gradients of 0.5·MSE averaged over the batch, for the batch
    /// `x`/`y` whose activations [`Mlp::forward`] just left in `ws`.
    pub fn backward(
        &self,
        x: ArrayView2<'_, T>,
        y: ArrayView1<'_, T>,
        ws: &mut Workspace<T>,
        grads: &mut [Array2<T>],
    ) {
        let b = ws.rows;
        assert_eq!(
            x.nrows(),
            b,
            "backward on a batch other than the last forward"
        );
        assert_eq!(y.len(), b);
        let n_layers = self.n_layers();
        let n = T::from_f64(b as f64);
        {
            // delta_L = ((y_pred - y_true) / N) * (1 - y_pred^2), in numpy's order.
            let out = ws.acts[n_layers - 1].slice(s![..b, 0]);
            let mut delta = ws.deltas[n_layers - 1].slice_mut(s![..b, 0]);
            for ((d, &o), &t) in delta.iter_mut().zip(out.iter()).zip(y.iter()) {
                *d = ((o - t) / n) * (T::one() - o * o);
            }
        }
        for l in (0..n_layers).rev() {
            let n_in = self.sizes[l];
            let (lower, upper) = ws.deltas.split_at_mut(l);
            let delta = upper[0].slice(s![..b, ..]);
            let a_in = if l == 0 {
                x.view()
            } else {
                ws.acts[l - 1].slice(s![..b, ..])
            };
            let mut g = grads[l].slice_mut(s![..n_in, ..]);
            general_mat_mul(T::one(), &a_in.t(), &delta, T::zero(), &mut g);
            if self.bias == BiasMode::PerLayer {
                let sum = delta.sum_axis(Axis(0));
                grads[l].row_mut(n_in).assign(&sum);
            }
            if l > 0 {
                // delta_{l-1} = (delta_l @ W_l^T) * (1 - a_{l-1}^2)
                let mut prev = lower[l - 1].slice_mut(s![..b, ..]);
                general_mat_mul(T::one(), &delta, &self.linear(l).t(), T::zero(), &mut prev);
                prev.zip_mut_with(&a_in, |d, &a| *d *= T::one() - a * a);
            }
        }
    }

    /// After [`Mlp::backward`], the gradient of the loss with respect to this network's
    /// input rows, `delta_0 @ W_0^T`, into `out` (batch x n_in). A network stacked below
    /// multiplies it by its own activation derivative.
    pub fn input_grad(&self, ws: &Workspace<T>, out: &mut ArrayViewMut2<'_, T>) {
        let delta = ws.deltas[0].slice(s![..ws.rows, ..]);
        general_mat_mul(T::one(), &delta, &self.linear(0).t(), T::zero(), out);
    }

    /// Outputs for `x` (allocates; for evaluation outside the training loop).
    pub fn predict(&self, x: ArrayView2<'_, T>) -> Array1<T> {
        let mut ws = Workspace::new(self, x.nrows());
        self.forward(x, &mut ws);
        ws.output().to_owned()
    }

    /// The study's loss: `mean((y - y_pred)^2)`.
    pub fn mse(&self, x: ArrayView2<'_, T>, y: ArrayView1<'_, T>) -> T {
        mse(self.predict(x).view(), y)
    }
}

/// `mean((y - y_pred)^2)`.
pub fn mse<T: Real>(pred: ArrayView1<'_, T>, y: ArrayView1<'_, T>) -> T {
    let n = pred.len();
    let sum = pred
        .iter()
        .zip(y.iter())
        .fold(T::zero(), |acc, (&p, &t)| acc + (t - p) * (t - p));
    sum / T::from_f64(n as f64)
}

/// Preallocated activations and deltas for batches of up to `capacity` rows, so the
/// training loop does not allocate.
#[derive(Debug, Clone)]
pub struct Workspace<T> {
    capacity: usize,
    rows: usize,
    acts: Vec<Array2<T>>,
    deltas: Vec<Array2<T>>,
}

impl<T: Real> Workspace<T> {
    pub fn new(mlp: &Mlp<T>, capacity: usize) -> Self {
        let bufs = || {
            mlp.sizes[1..]
                .iter()
                .map(|&n| Array2::zeros((capacity, n)))
                .collect::<Vec<_>>()
        };
        Workspace {
            capacity,
            rows: 0,
            acts: bufs(),
            deltas: bufs(),
        }
    }
    /// The network's output for the rows of the last forward pass.
    pub fn output(&self) -> ArrayView1<'_, T> {
        self.acts[self.acts.len() - 1].slice(s![..self.rows, 0])
    }
    /// Takes the activations of `rows` of another workspace's last forward pass (same
    /// network, same weights) as this one's forward pass, instead of recomputing them.
    pub fn gather(&mut self, from: &Workspace<T>, rows: &[usize]) {
        assert!(rows.len() <= self.capacity);
        for (dst, src) in self.acts.iter_mut().zip(&from.acts) {
            for (k, &r) in rows.iter().enumerate() {
                assert!(r < from.rows, "row outside the other forward pass");
                dst.row_mut(k).assign(&src.row(r));
            }
        }
        self.rows = rows.len();
    }

    /// Keeps only the first `rows` rows of the last forward pass, so a backward pass can
    /// use a prefix of an evaluation batch computed with the same weights.
    pub fn truncate(&mut self, rows: usize) {
        assert!(rows <= self.rows, "cannot grow a forward pass");
        self.rows = rows;
    }
    /// Activation of layer `l` (0 = first hidden layer) for the last forward pass.
    pub fn activation(&self, l: usize) -> ArrayView2<'_, T> {
        self.acts[l].slice(s![..self.rows, ..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn data(rows: usize, cols: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((rows, cols), |_| rng.sample::<f64, _>(StandardNormal));
        let y = Array1::from_shape_fn(rows, |i| if i % 2 == 0 { 1.0 } else { -1.0 });
        (x, y)
    }

    fn half_mse(m: &Mlp<f64>, x: &Array2<f64>, y: &Array1<f64>) -> f64 {
        0.5 * m.mse(x.view(), y.view())
    }

    /// Central differences of 0.5*MSE against `backward`, every weight.
    fn grad_check(sizes: &[usize], bias: BiasMode) -> f64 {
        let (x, y) = data(7, sizes[0], 3);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut m = Mlp::<f64>::init(sizes, bias, &mut rng).unwrap();
        if bias == BiasMode::PerLayer {
            // Non-zero biases, so their gradient path is exercised away from 0.
            for w in m.weights_mut() {
                let last = w.nrows() - 1;
                w.row_mut(last).fill(0.1);
            }
        }
        let mut ws = Workspace::new(&m, 7);
        let mut grads = m.zero_grads();
        m.forward(x.view(), &mut ws);
        m.backward(x.view(), y.view(), &mut ws, &mut grads);
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for (l, g) in grads.iter().enumerate() {
            let (rows, cols) = g.dim();
            for idx in 0..rows * cols {
                let (r, c) = (idx / cols, idx % cols);
                let old = m.weights()[l][[r, c]];
                m.weights_mut()[l][[r, c]] = old + h;
                let lp = half_mse(&m, &x, &y);
                m.weights_mut()[l][[r, c]] = old - h;
                let lm = half_mse(&m, &x, &y);
                m.weights_mut()[l][[r, c]] = old;
                let num = (lp - lm) / (2.0 * h);
                worst = worst.max((num - g[[r, c]]).abs());
            }
        }
        worst
    }

    #[test]
    fn gradient_matches_finite_differences_no_hidden_layer() {
        assert!(grad_check(&[5, 1], BiasMode::InputColumn) < 1e-8);
    }

    #[test]
    fn gradient_matches_finite_differences_one_hidden_layer() {
        assert!(grad_check(&[5, 4, 1], BiasMode::InputColumn) < 1e-8);
    }

    #[test]
    fn gradient_matches_finite_differences_three_hidden_layers() {
        assert!(grad_check(&[6, 5, 4, 3, 1], BiasMode::InputColumn) < 1e-8);
    }

    #[test]
    fn gradient_matches_finite_differences_with_bias_vectors() {
        assert!(grad_check(&[5, 4, 3, 1], BiasMode::PerLayer) < 1e-8);
    }

    #[test]
    fn init_scale_and_determinism() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Mlp::<f64>::init(&[400, 50, 1], BiasMode::InputColumn, &mut rng).unwrap()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        assert_ne!(a, draw(2));
        // randn * sqrt(1/400): the sample std of 20000 draws is within 3% of 0.05.
        let w = &a.weights()[0];
        let std = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
        assert!((std - 0.05).abs() < 0.0015, "std {std}");
    }

    #[test]
    fn f32_and_f64_start_from_the_same_values() {
        let mut r1 = ChaCha8Rng::seed_from_u64(5);
        let mut r2 = ChaCha8Rng::seed_from_u64(5);
        let a = Mlp::<f64>::init(&[10, 3, 1], BiasMode::PerLayer, &mut r1).unwrap();
        let b = Mlp::<f32>::init(&[10, 3, 1], BiasMode::PerLayer, &mut r2).unwrap();
        for (wa, wb) in a.weights().iter().zip(b.weights()) {
            for (x, y) in wa.iter().zip(wb.iter()) {
                assert_eq!(*x as f32, *y);
            }
        }
    }

    #[test]
    fn rejects_bad_sizes_and_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(matches!(
            Mlp::<f64>::init(&[3], BiasMode::InputColumn, &mut rng),
            Err(MlpError::TooFewLayers(_))
        ));
        assert_eq!(
            Mlp::<f64>::init(&[3, 2], BiasMode::InputColumn, &mut rng).unwrap_err(),
            MlpError::OutputNotOne(2)
        );
        let err = Mlp::<f64>::from_weights(
            &[3, 2, 1],
            BiasMode::InputColumn,
            vec![Array2::zeros((3, 2)), Array2::zeros((3, 1))],
        )
        .unwrap_err();
        assert!(matches!(err, MlpError::WeightShape { index: 1, .. }));
    }
}

//! The float types the learning code runs in: `f64` (exact replay of the numpy study) or `f32`.

use ndarray::NdFloat;

/// A float the MLP and its optimizers can be computed in.
///
/// Hyper-parameters stay `f64` everywhere and are converted once per step, so the
/// same configuration drives both precisions.
pub trait Real: NdFloat + Default + Send + Sync + 'static {
    /// `"f32"` or `"f64"`, as written in configs and artifacts.
    const NAME: &'static str;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

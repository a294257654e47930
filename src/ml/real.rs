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
    /// The activation. f64: libm's `tanh` (the study's precision). f32: a rational
    /// approximation that vectorises (Eigen's `generic_fast_tanh_float`, within a few
    /// ulp of the exact value; `tests` below checks it against f64 `tanh`).
    fn tanh_act(self) -> Self;
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
    // The coefficients as Eigen publishes them.
    #[allow(clippy::excessive_precision)]
    #[inline(always)]
    fn tanh_act(self) -> Self {
        // Beyond ±7.905 the fraction rounds to ±1 in f32.
        let x = self.clamp(-7.905_311, 7.905_311);
        let x2 = x * x;
        let mut p = x2 * -2.760_768_5e-16 + 2.000_187_9e-13;
        p = x2 * p + -8.604_672e-11;
        p = x2 * p + 5.122_297e-8;
        p = x2 * p + 1.485_722_4e-5;
        p = x2 * p + 6.372_619_3e-4;
        p = x2 * p + 4.893_524_6e-3;
        p *= x;
        let mut q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
        q = x2 * q + 2.268_434_6e-3;
        q = x2 * q + 4.893_525e-3;
        if x.abs() < 4e-4 {
            x
        } else {
            p / q
        }
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
    #[inline(always)]
    fn tanh_act(self) -> Self {
        self.tanh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_tanh_is_within_a_few_ulp() {
        let mut worst: f64 = 0.0;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // [-20, 20]
            let exact = (x as f64).tanh();
            let err = (x.tanh_act() as f64 - exact).abs();
            worst = worst.max(err / exact.abs().clamp(1e-30, 1.0));
            assert!(x.tanh_act().abs() <= 1.0);
        }
        // f32 epsilon is 1.2e-7.
        assert!(worst < 6e-7, "worst relative error {worst:e}");
        assert_eq!(0.0f32.tanh_act(), 0.0);
        assert!(f32::NAN.tanh_act().is_nan());
    }
}

//! Optimizers: one trait, one file and one `Config: Default` (the study's values) each.
//!
//! A stage names an optimizer in YAML either by name (`adam`) or as a map with any of its
//! values overridden (`{name: adam, lr: 0.01}`); [`OptimizerSpec`] reads both and always
//! serialises the full form, so the two spellings hash to the same cache key.

pub mod adagrad;
pub mod adam;
pub mod gd;
pub mod momentum;
pub mod rmsprop;
pub mod sgd;

use std::fmt;

use ndarray::Array2;
use serde::{Deserialize, Deserializer, Serialize};

pub use adagrad::{AdaGrad, AdaGradConfig};
pub use adam::{Adam, AdamConfig};
pub use gd::{Gd, GdConfig};
pub use momentum::{Momentum, MomentumConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use sgd::{Sgd, SgdConfig};

use super::real::Real;

/// Updates parameters in place from their gradients, keeping any per-parameter state.
pub trait Optimizer<T: Real>: Send {
    /// One update of every parameter array from the gradient of the same shape.
    fn step(&mut self, params: &mut [Array2<T>], grads: &[Array2<T>]);
}

/// Which optimizer, with all of its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerSpec {
    Gd(GdConfig),
    Sgd(SgdConfig),
    Momentum(MomentumConfig),
    Adam(AdamConfig),
    Adagrad(AdaGradConfig),
    Rmsprop(RmsPropConfig),
}

/// Names accepted in configs, in the order shown in error messages.
pub const OPTIMIZER_NAMES: [&str; 6] = ["gd", "sgd", "momentum", "adam", "adagrad", "rmsprop"];

impl OptimizerSpec {
    /// The optimizer with the study's defaults, by name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "gd" => Self::Gd(GdConfig::default()),
            "sgd" => Self::Sgd(SgdConfig::default()),
            "momentum" => Self::Momentum(MomentumConfig::default()),
            "adam" => Self::Adam(AdamConfig::default()),
            "adagrad" => Self::Adagrad(AdaGradConfig::default()),
            "rmsprop" => Self::Rmsprop(RmsPropConfig::default()),
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Gd(_) => "gd",
            Self::Sgd(_) => "sgd",
            Self::Momentum(_) => "momentum",
            Self::Adam(_) => "adam",
            Self::Adagrad(_) => "adagrad",
            Self::Rmsprop(_) => "rmsprop",
        }
    }

    pub fn lr(&self) -> f64 {
        match self {
            Self::Gd(c) => c.lr,
            Self::Sgd(c) => c.lr,
            Self::Momentum(c) => c.lr,
            Self::Adam(c) => c.lr,
            Self::Adagrad(c) => c.lr,
            Self::Rmsprop(c) => c.lr,
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        match self {
            Self::Gd(c) => c.lr = lr,
            Self::Sgd(c) => c.lr = lr,
            Self::Momentum(c) => c.lr = lr,
            Self::Adam(c) => c.lr = lr,
            Self::Adagrad(c) => c.lr = lr,
            Self::Rmsprop(c) => c.lr = lr,
        }
    }

    /// The study's GD is full batch; every other optimizer iterates mini-batches.
    pub fn full_batch(&self) -> bool {
        matches!(self, Self::Gd(_))
    }

    /// True when every update is a fixed linear combination of past gradients (GD, SGD,
    /// momentum), so a layer's weights stay `W0 + X^T C` for its input `X`.
    pub fn is_linear(&self) -> bool {
        matches!(self, Self::Gd(_) | Self::Sgd(_) | Self::Momentum(_))
    }

    /// A fresh optimizer (no state yet) for parameters of precision `T`.
    pub fn build<T: Real>(&self) -> Box<dyn Optimizer<T>> {
        match self {
            Self::Gd(c) => Box::new(Gd::new(c.clone())),
            Self::Sgd(c) => Box::new(Sgd::new(c.clone())),
            Self::Momentum(c) => Box::new(Momentum::new(c.clone())),
            Self::Adam(c) => Box::new(Adam::new(c.clone())),
            Self::Adagrad(c) => Box::new(AdaGrad::new(c.clone())),
            Self::Rmsprop(c) => Box::new(RmsProp::new(c.clone())),
        }
    }

    /// Hyper-parameters that make no sense (lr <= 0, decay outside [0, 1), eps < 0).
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name();
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("{name}: lr must be a positive number, got {lr}"));
        }
        let unit = |what: &str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name}: {what} must be in [0, 1), got {v}"))
            }
        };
        let eps = |v: f64| {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name}: eps must be >= 0, got {v}"))
            }
        };
        match self {
            Self::Gd(_) | Self::Sgd(_) => Ok(()),
            Self::Momentum(c) => unit("momentum", c.momentum),
            Self::Adam(c) => unit("beta1", c.beta1)
                .and(unit("beta2", c.beta2))
                .and(eps(c.eps)),
            Self::Adagrad(c) => eps(c.eps),
            Self::Rmsprop(c) => unit("rho", c.rho).and(eps(c.eps)),
        }
    }
}

impl fmt::Display for OptimizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(lr={})", self.name(), self.lr())
    }
}

/// Mirror of [`OptimizerSpec`] for the map form; serde's derive gives good messages
/// (unknown field, expected one of ...) that an untagged enum would lose.
#[derive(Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
enum Tagged {
    Gd(GdConfig),
    Sgd(SgdConfig),
    Momentum(MomentumConfig),
    Adam(AdamConfig),
    Adagrad(AdaGradConfig),
    Rmsprop(RmsPropConfig),
}

impl From<Tagged> for OptimizerSpec {
    fn from(t: Tagged) -> Self {
        match t {
            Tagged::Gd(c) => Self::Gd(c),
            Tagged::Sgd(c) => Self::Sgd(c),
            Tagged::Momentum(c) => Self::Momentum(c),
            Tagged::Adam(c) => Self::Adam(c),
            Tagged::Adagrad(c) => Self::Adagrad(c),
            Tagged::Rmsprop(c) => Self::Rmsprop(c),
        }
    }
}

impl<'de> Deserialize<'de> for OptimizerSpec {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OptimizerSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "an optimizer name ({}) or a map like {{name: adam, lr: 0.01}}",
                    OPTIMIZER_NAMES.join(", ")
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                OptimizerSpec::from_name(s).ok_or_else(|| E::unknown_variant(s, &OPTIMIZER_NAMES))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                Tagged::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Into::into)
            }
        }
        de.deserialize_any(V)
    }
}

/// Applies `f` to every (parameter, gradient, state...) element of every array, inside
/// the AVX2 copy of the loop when the CPU has it. The arrays are standard layout (the
/// optimizers allocate their state that way and [`super::mlp::Mlp`] keeps its weights so).
pub(crate) fn slices<T: Real>(a: &mut Array2<T>) -> &mut [T] {
    a.as_slice_mut()
        .expect("optimizer arrays are contiguous and in standard layout")
}

/// One zeroed state array per parameter, created at the first step.
pub(crate) fn zeros_like<T: Real>(params: &[Array2<T>]) -> Vec<Array2<T>> {
    params.iter().map(|p| Array2::zeros(p.raw_dim())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_name_or_a_map_and_writes_the_full_form() {
        let a: OptimizerSpec = serde_yaml::from_str("adam").unwrap();
        assert_eq!(a, OptimizerSpec::Adam(AdamConfig::default()));
        let b: OptimizerSpec = serde_yaml::from_str("{name: adam, lr: 0.01}").unwrap();
        assert_eq!(b.lr(), 0.01);
        let OptimizerSpec::Adam(c) = &b else { panic!() };
        assert_eq!((c.beta1, c.beta2, c.eps), (0.9, 0.999, 1e-8));
        let full = serde_json::to_value(&a).unwrap();
        assert_eq!(full["name"], "adam");
        assert_eq!(full["lr"], 0.001);
        let back: OptimizerSpec = serde_json::from_value(full).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn study_defaults() {
        let lr = |n| OptimizerSpec::from_name(n).unwrap().lr();
        assert_eq!(lr("gd"), 0.01);
        assert_eq!(lr("sgd"), 0.1);
        assert_eq!(lr("adam"), 0.001);
        assert_eq!(lr("adagrad"), 0.001);
        assert_eq!(lr("rmsprop"), 0.001);
        let OptimizerSpec::Rmsprop(r) = OptimizerSpec::from_name("rmsprop").unwrap() else {
            panic!()
        };
        assert_eq!(r.rho, 0.9);
    }

    #[test]
    fn clear_errors_for_unknown_names_and_fields() {
        let e = serde_yaml::from_str::<OptimizerSpec>("adamw")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown variant `adamw`") && e.contains("rmsprop"),
            "{e}"
        );
        let e = serde_yaml::from_str::<OptimizerSpec>("{name: adam, lrr: 0.1}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `lrr`"), "{e}");
        let mut s = OptimizerSpec::from_name("adam").unwrap();
        s.set_lr(-1.0);
        assert!(s.validate().unwrap_err().contains("lr must be a positive"));
    }
}

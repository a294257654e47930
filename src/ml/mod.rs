//! Pure-ndarray machine learning: the MLP, its optimizers, metrics, t-SNE. No I/O here.

pub mod metrics;
pub mod mlp;
pub mod optim;
pub mod pca;
pub mod real;
pub mod rng;
pub mod rowspace;
pub mod simd;
pub mod snapshot;
pub mod stats;
pub mod sweep;
pub mod train;
pub mod tsne;

//! Pure-ndarray machine learning: the MLP, its optimizers, metrics, t-SNE. No I/O here.
pub mod pca;
pub mod tsne;

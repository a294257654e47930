//! E5 sentence embeddings: tokenizers + ONNX Runtime, mean pooling and L2 norm in Rust.

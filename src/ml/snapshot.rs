//! A seeded sparse random projection that shrinks weight snapshots for the t-SNE stage.
//!
//! 1500 snapshots (3 optimizers x 5 seeds x 100 epochs) of a 2049 x 64 network are
//! ~800 MB in f32. A dense Gaussian projection to 1024 dimensions would itself be a
//! 1024 x 131 k matrix, so this is a sparse Johnson–Lindenstrauss sketch instead
//! (Kane & Nelson): every input coordinate adds `±x / sqrt(k)` to `k` output
//! coordinates chosen at random. Squared norms, hence distances, are preserved in
//! expectation, it costs `k` additions per weight, and the same seed gives the same
//! projection in every run, so trajectories of different runs can be embedded jointly.

use ndarray::Array2;
use rand::Rng;

use super::real::Real;
use super::rng::stream;

/// Non-zeros per input coordinate: 4 keeps the distortion close to a dense projection's
/// at 1024 outputs while staying cheap.
const NONZEROS: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct SparseProjection {
    dim: usize,
    out: usize,
    /// `NONZEROS` (bucket, sign) pairs per input coordinate.
    buckets: Vec<u32>,
    signs: Vec<bool>,
}

impl SparseProjection {
    /// A projection from `dim` to `out` dimensions drawn from `seed`.
    pub fn new(dim: usize, out: usize, seed: u64) -> Self {
        assert!(
            out > 0 && out <= u32::MAX as usize,
            "projection size out of range"
        );
        let mut rng = stream(seed, "snapshot-projection");
        let n = dim * NONZEROS;
        let mut buckets = Vec::with_capacity(n);
        let mut signs = Vec::with_capacity(n);
        for _ in 0..n {
            buckets.push(rng.gen_range(0..out as u32));
            signs.push(rng.gen::<bool>());
        }
        SparseProjection {
            dim,
            out,
            buckets,
            signs,
        }
    }

    pub fn input_dim(&self) -> usize {
        self.dim
    }
    pub fn output_dim(&self) -> usize {
        self.out
    }

    /// Projects the concatenation of `parts` (flattened row-major, in order) into `dst`.
    pub fn project<T: Real>(&self, parts: &[Array2<T>], dst: &mut [f32]) {
        assert_eq!(dst.len(), self.out);
        let mut acc = vec![0.0f64; self.out];
        let scale = 1.0 / (NONZEROS as f64).sqrt();
        let mut i = 0;
        for part in parts {
            for &v in part.iter() {
                let x = Real::to_f64(v) * scale;
                for j in i * NONZEROS..(i + 1) * NONZEROS {
                    let b = self.buckets[j] as usize;
                    acc[b] += if self.signs[j] { x } else { -x };
                }
                i += 1;
            }
        }
        assert_eq!(i, self.dim, "snapshot size does not match the projection");
        for (d, a) in dst.iter_mut().zip(acc) {
            *d = a as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn randn(n: usize, seed: u64) -> Array2<f64> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((1, n), |_| r.sample(StandardNormal))
    }

    #[test]
    fn preserves_distances_roughly_and_is_linear() {
        let dim = 20_000;
        let p = SparseProjection::new(dim, 1024, 7);
        assert_eq!(p, SparseProjection::new(dim, 1024, 7));
        let (a, b) = (randn(dim, 1), randn(dim, 2));
        let (mut pa, mut pb, mut pd) = (vec![0f32; 1024], vec![0f32; 1024], vec![0f32; 1024]);
        p.project(std::slice::from_ref(&a), &mut pa);
        p.project(std::slice::from_ref(&b), &mut pb);
        p.project(&[&a - &b], &mut pd);
        let d_true = (&a - &b).mapv(|v| v * v).sum().sqrt();
        let d_proj = pa
            .iter()
            .zip(&pb)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        // JL with 1024 outputs: relative distortion ~ sqrt(2/1024) = 4.4%; allow 4 sigma.
        assert!((d_proj / d_true - 1.0).abs() < 0.18, "{d_proj} vs {d_true}");
        for ((x, y), d) in pa.iter().zip(&pb).zip(&pd) {
            assert!((x - y - d).abs() < 1e-3);
        }
    }

    #[test]
    fn parts_are_concatenated() {
        let p = SparseProjection::new(6, 3, 1);
        let whole = Array2::from_shape_vec((1, 6), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let a = Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Array2::from_shape_vec((2, 1), vec![5.0, 6.0]).unwrap();
        let (mut x, mut y) = (vec![0f32; 3], vec![0f32; 3]);
        p.project(&[whole], &mut x);
        p.project(&[a, b], &mut y);
        assert_eq!(x, y);
        assert_ne!(x, vec![0.0; 3]);
    }
}

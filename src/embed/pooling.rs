//! Mean pooling over the attention mask and L2 normalisation, as E5's model card prescribes.

use ndarray::{ArrayView3, ArrayViewMut1};

/// Mean of the token vectors whose mask is 1, for one sequence of `hidden` ([tokens, dim]
/// flattened row-major). Padding never enters the sum. A sequence with no real token
/// (cannot happen with special tokens) gives zeros rather than NaN.
pub fn mean_pool(hidden: &[f32], mask: &[i64], dim: usize, out: &mut [f32]) {
    debug_assert_eq!(hidden.len(), mask.len() * dim);
    debug_assert_eq!(out.len(), dim);
    out.fill(0.0);
    let mut count = 0usize;
    for (row, &m) in hidden.chunks_exact(dim).zip(mask) {
        if m != 0 {
            count += 1;
            for (o, h) in out.iter_mut().zip(row) {
                *o += h;
            }
        }
    }
    if count > 0 {
        let inv = 1.0 / count as f32;
        out.iter_mut().for_each(|o| *o *= inv);
    }
}

/// Scale `v` to unit Euclidean length; a zero vector stays zero.
pub fn l2_normalize(mut v: ArrayViewMut1<'_, f32>) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.mapv_inplace(|x| x / norm);
    }
}

/// Pool a whole batch: `hidden` is [batch, tokens, dim], `mask` is [batch, tokens].
pub(crate) fn pool_batch(hidden: ArrayView3<'_, f32>, mask: &[i64], out: &mut [f32]) {
    let (b, s, d) = hidden.dim();
    let flat = hidden.as_slice().expect("ORT output is contiguous");
    for i in 0..b {
        mean_pool(
            &flat[i * s * d..(i + 1) * s * d],
            &mask[i * s..(i + 1) * s],
            d,
            &mut out[i * d..(i + 1) * d],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    #[test]
    fn mean_pool_skips_padding() {
        // tokens: [1,2], [3,4], pad [100,100]; mean of the first two is [2,3].
        let hidden = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        let mut out = [0.0; 2];
        mean_pool(&hidden, &[1, 1, 0], 2, &mut out);
        assert_eq!(out, [2.0, 3.0]);
    }

    #[test]
    fn mean_pool_of_all_padding_is_zero() {
        let mut out = [9.0; 2];
        mean_pool(&[1.0, 2.0], &[0], 2, &mut out);
        assert_eq!(out, [0.0, 0.0]);
    }

    #[test]
    fn l2_normalize_gives_unit_length() {
        let mut v = array![3.0f32, 4.0];
        l2_normalize(v.view_mut());
        assert_abs_diff_eq!(v[0], 0.6, epsilon = 1e-7);
        assert_abs_diff_eq!(v[1], 0.8, epsilon = 1e-7);
        let mut z = array![0.0f32, 0.0];
        l2_normalize(z.view_mut());
        assert_eq!(z, array![0.0, 0.0]);
    }

    #[test]
    fn pool_batch_pools_each_row_with_its_own_mask() {
        let hidden = ndarray::Array3::from_shape_vec((2, 2, 1), vec![1.0, 3.0, 5.0, 7.0]).unwrap();
        let mut out = [0.0; 2];
        pool_batch(hidden.view(), &[1, 1, 1, 0], &mut out);
        assert_eq!(out, [2.0, 5.0]);
    }
}

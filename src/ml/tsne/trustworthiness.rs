//! Trustworthiness (Venna & Kaski 2001): how far the embedding's nearest neighbours
//! were from each point in the input space, 1 meaning no intruders. Same formula and
//! Euclidean ranks as `sklearn.manifold.trustworthiness`.

use super::affinity::{knn, sq_dist};
use ndarray::ArrayView2;
use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrustworthinessError {
    #[error("trustworthiness: the input has {input} rows but the embedding has {embedded}")]
    RowMismatch { input: usize, embedded: usize },
    #[error(
        "trustworthiness: n_neighbors ({k}) must be at least 1 and below half the number of \
         points ({n} / 2)"
    )]
    BadNeighbours { k: usize, n: usize },
}

/// T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k^emb(i)} max(0, r(i, j) - k),
/// where r(i, j) is j's rank among i's input-space neighbours (1 = nearest).
pub fn trustworthiness(
    x: ArrayView2<f64>,
    embedded: ArrayView2<f64>,
    n_neighbors: usize,
) -> Result<f64, TrustworthinessError> {
    let n = x.nrows();
    if embedded.nrows() != n {
        return Err(TrustworthinessError::RowMismatch {
            input: n,
            embedded: embedded.nrows(),
        });
    }
    let k = n_neighbors;
    if k == 0 || 2 * k >= n {
        return Err(TrustworthinessError::BadNeighbours { k, n });
    }
    let x = x.as_standard_layout();
    let e = embedded.as_standard_layout();
    let (emb_nbr, _) = knn(e.view(), k);
    let penalties: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = x.row(i);
            let xi = xi.as_slice().expect("standard layout");
            let mut order: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        sq_dist(xi, x.row(j).as_slice().expect("standard layout")),
                        j,
                    )
                })
                .collect();
            order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut rank = vec![0usize; n];
            for (r, &(_, j)) in order.iter().enumerate() {
                rank[j] = r + 1;
            }
            emb_nbr[i * k..(i + 1) * k]
                .iter()
                .map(|&j| rank[j].saturating_sub(k) as f64)
                .sum()
        })
        .collect();
    let t: f64 = penalties.iter().sum();
    let (nf, kf) = (n as f64, k as f64);
    Ok(1.0 - t * 2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::{array, Array2};

    #[test]
    fn an_isometric_embedding_is_fully_trustworthy() {
        let x = Array2::from_shape_fn((20, 3), |(i, j)| (i * i) as f64 * 0.1 + j as f64);
        let emb = x.slice(ndarray::s![.., ..2]).to_owned();
        assert_abs_diff_eq!(trustworthiness(x.view(), emb.view(), 3).unwrap(), 1.0);
    }

    #[test]
    fn hand_computed_intruder_penalty() {
        // Input: points on a line with distinct gaps (no ties); the embedding swaps 0 and 5.
        let x = array![[0.0], [1.0], [3.0], [7.0], [15.0], [31.0]];
        let e = array![[31.0], [1.0], [3.0], [7.0], [15.0], [0.0]];
        // k = 1. Embedded nearest neighbours and their input ranks: 0->4 (rank 4, penalty
        // 3), 1->5 (rank 5, penalty 4), 2->1, 3->2, 4->3 (rank 1), 5->1 (rank 4, penalty
        // 3). T = 1 - 10 * 2 / (6 * 1 * (12 - 3 - 1)) = 1 - 20/48; sklearn 1.9.1 agrees.
        let t = trustworthiness(x.view(), e.view(), 1).unwrap();
        assert_abs_diff_eq!(t, 1.0 - 20.0 / 48.0, epsilon = 1e-12);
    }

    #[test]
    fn rejects_too_many_neighbours() {
        let x = Array2::<f64>::zeros((6, 2));
        assert_eq!(
            trustworthiness(x.view(), x.view(), 3).unwrap_err(),
            TrustworthinessError::BadNeighbours { k: 3, n: 6 }
        );
    }
}

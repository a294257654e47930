//! Grouping texts into batches. The grouping depends on the texts' token lengths only, never
//! on a batch-size setting or the machine: every batch holds texts of one exact length, so
//! nothing is padded and no text's attention ever reduces over another's padding. A text
//! thus meets the same arithmetic wherever and however it is embedded, and the vectors are
//! the same bits on every run (callers scatter results back through `Batch::indices`).

/// A batch of input positions (indices into the caller's text list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub indices: Vec<usize>,
}

/// At most this many texts per batch (the old default `batch_size`)...
pub const MAX_ROWS: usize = 32;
/// ...and about this many tokens: long texts go in smaller batches, which bounds the
/// attention matrices' memory (rows x 12 heads x length² floats) to ~200 MB at 512 tokens.
pub const MAX_TOKENS: usize = 8192;

/// Rows per batch for texts of `len` tokens.
pub fn rows_for(len: usize) -> usize {
    (MAX_TOKENS / len.max(1)).clamp(1, MAX_ROWS)
}

/// Splits `lengths.len()` items into batches of equal length (shortest length first, items
/// in input order within a length), each at most [`rows_for`] its length.
pub fn equal_length_batches(lengths: &[usize]) -> Vec<Batch> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    order
        .chunk_by(|&a, &b| lengths[a] == lengths[b])
        .flat_map(|same| same.chunks(rows_for(lengths[same[0]])))
        .map(|c| Batch {
            indices: c.to_vec(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn batches_hold_one_length_each_in_input_order() {
        let b = equal_length_batches(&[3, 10, 3, 9, 10, 3]);
        let idx: Vec<_> = b.iter().map(|b| b.indices.clone()).collect();
        assert_eq!(idx, vec![vec![0, 2, 5], vec![3], vec![1, 4]]);
    }

    #[test]
    fn long_texts_go_in_smaller_batches() {
        assert_eq!(rows_for(1), MAX_ROWS);
        assert_eq!(rows_for(512), 16);
        assert_eq!(rows_for(100_000), 1);
        let b = equal_length_batches(&[512; 40]);
        let sizes: Vec<_> = b.iter().map(|b| b.indices.len()).collect();
        assert_eq!(sizes, vec![16, 16, 8]);
    }

    proptest! {
        #[test]
        fn batches_cover_every_index_once_with_one_length_each(
            lengths in proptest::collection::vec(0usize..600, 0..200),
        ) {
            let batches = equal_length_batches(&lengths);
            for b in &batches {
                prop_assert!(!b.indices.is_empty() && b.indices.len() <= rows_for(lengths[b.indices[0]]));
                prop_assert!(b.indices.iter().all(|&i| lengths[i] == lengths[b.indices[0]]));
            }
            let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.iter().copied()).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        }
    }
}

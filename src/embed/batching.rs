//! Grouping texts into batches, optionally by token length, so short texts do not pay for
//! the padding of long ones; callers scatter results back through `Batch::indices`.

/// A batch of input positions (indices into the caller's text list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub indices: Vec<usize>,
}

/// Split `lengths.len()` items into batches of at most `batch_size`. With `sort`, items are
/// ordered by length (longest first, ties by position, so the grouping is deterministic);
/// otherwise they keep their input order. `batch_size` 0 is treated as 1.
pub fn length_sorted_batches(lengths: &[usize], batch_size: usize, sort: bool) -> Vec<Batch> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    if sort {
        // Longest first: the first batch has the largest tensors, so a memory problem shows
        // up at once rather than at the end of a long run.
        order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    }
    order
        .chunks(batch_size.max(1))
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
    fn sorted_batches_group_similar_lengths() {
        let b = length_sorted_batches(&[3, 10, 1, 9, 2], 2, true);
        let idx: Vec<_> = b.iter().map(|b| b.indices.clone()).collect();
        assert_eq!(idx, vec![vec![1, 3], vec![0, 4], vec![2]]);
    }

    #[test]
    fn unsorted_batches_keep_input_order() {
        let b = length_sorted_batches(&[3, 10, 1], 2, false);
        let idx: Vec<_> = b.iter().map(|b| b.indices.clone()).collect();
        assert_eq!(idx, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn ties_are_broken_by_position() {
        let b = length_sorted_batches(&[5, 5, 5], 1, true);
        let idx: Vec<_> = b.iter().map(|b| b.indices[0]).collect();
        assert_eq!(idx, vec![0, 1, 2]);
    }

    proptest! {
        #[test]
        fn batches_cover_every_index_once(
            lengths in proptest::collection::vec(0usize..600, 0..200),
            bs in 0usize..70,
            sort: bool,
        ) {
            let batches = length_sorted_batches(&lengths, bs, sort);
            let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.iter().copied()).collect();
            prop_assert!(batches.iter().all(|b| !b.indices.is_empty() && b.indices.len() <= bs.max(1)));
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        }
    }
}

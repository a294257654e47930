//! Train/test split by question, and the leakage check (no question on both sides).

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use super::reason::Split;

/// How questions are assigned to train or test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum SplitMode {
    /// The study's layout: each answer holds the training rows first, then the test rows.
    /// A section line ("Test kümesi:") marks the boundary when the model wrote one;
    /// otherwise a question is train when its first row is among the answer's first
    /// `train_rows` data lines.
    Layout { train_rows: usize },
    /// Shuffle questions with a seeded RNG; `test_fraction` of them (rounded) go to test.
    Seeded { test_fraction: f64, seed: u64 },
}

impl Default for SplitMode {
    fn default() -> Self {
        SplitMode::Layout { train_rows: 100 }
    }
}

/// Where a question's first row sits in its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 0-based count of data lines (rows and rejected data-like lines) before it.
    pub data_index: usize,
    /// The last section marker above it, if any.
    pub section: Option<Split>,
    /// Whether its response has any section marker.
    pub response_has_sections: bool,
}

/// Split for each question, given in order of first appearance.
pub fn assign(mode: &SplitMode, positions: &[Position]) -> Vec<Split> {
    match mode {
        SplitMode::Layout { train_rows } => positions
            .iter()
            .map(|p| {
                if p.response_has_sections {
                    p.section.unwrap_or(Split::Train)
                } else if p.data_index < *train_rows {
                    Split::Train
                } else {
                    Split::Test
                }
            })
            .collect(),
        SplitMode::Seeded {
            test_fraction,
            seed,
        } => {
            let n = positions.len();
            let n_test = ((n as f64) * test_fraction.clamp(0.0, 1.0)).round() as usize;
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(*seed));
            let mut out = vec![Split::Train; n];
            for &i in &order[..n_test] {
                out[i] = Split::Test;
            }
            out
        }
    }
}

/// The key questions are compared by: case (folded the Turkish way, see
/// [`crate::text::turkish_lowercase`]), spacing and final punctuation do not make a
/// question new.
pub fn question_key(q: &str) -> String {
    let lower = crate::text::turkish_lowercase(q);
    let words: Vec<&str> = lower.split_whitespace().collect();
    words
        .join(" ")
        .trim_end_matches(['?', '？', '.', '!', ' '])
        .to_string()
}

/// Questions (by [`question_key`]) found in both train and test; empty means no leakage.
pub fn leaked_questions<'a>(rows: impl IntoIterator<Item = (&'a str, Split)>) -> Vec<String> {
    let mut seen: BTreeMap<String, BTreeSet<Split>> = BTreeMap::new();
    for (q, s) in rows {
        seen.entry(question_key(q)).or_default().insert(s);
    }
    seen.into_iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|(q, _)| q)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(data_index: usize) -> Position {
        Position {
            data_index,
            section: None,
            response_has_sections: false,
        }
    }

    #[test]
    fn layout_splits_at_train_rows() {
        let got = assign(
            &SplitMode::Layout { train_rows: 4 },
            &[at(0), at(2), at(4), at(6)],
        );
        assert_eq!(got, [Split::Train, Split::Train, Split::Test, Split::Test]);
    }

    #[test]
    fn section_markers_override_the_row_count() {
        let p = |section| Position {
            data_index: 0,
            section,
            response_has_sections: true,
        };
        let got = assign(
            &SplitMode::Layout { train_rows: 100 },
            &[p(None), p(Some(Split::Train)), p(Some(Split::Test))],
        );
        assert_eq!(got, [Split::Train, Split::Train, Split::Test]);
    }

    #[test]
    fn seeded_split_is_reproducible_and_sized() {
        let pos: Vec<_> = (0..50).map(at).collect();
        let mode = SplitMode::Seeded {
            test_fraction: 0.3,
            seed: 7,
        };
        let a = assign(&mode, &pos);
        assert_eq!(a, assign(&mode, &pos));
        assert_eq!(a.iter().filter(|s| **s == Split::Test).count(), 15);
        let b = assign(
            &SplitMode::Seeded {
                test_fraction: 0.3,
                seed: 8,
            },
            &pos,
        );
        assert_ne!(a, b);
    }

    #[test]
    fn leakage_is_found_through_case_and_spacing() {
        let rows = [
            ("ROC eğrisi nedir?", Split::Train),
            ("roc  eğrisi nedir ?", Split::Test),
            ("F1 nedir?", Split::Train),
            ("F1 nedir?", Split::Train),
        ];
        assert_eq!(leaked_questions(rows), vec!["roc eğrisi nedir".to_string()]);
        assert!(leaked_questions([("a?", Split::Train), ("b?", Split::Test)]).is_empty());
    }
}

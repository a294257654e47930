//! Uncertainty over test questions: percentile bootstrap intervals of weighted means (one
//! value and weight per question, so the two answers of a question are resampled together),
//! paired differences between two configurations on the same questions, and a paired
//! sign-flip permutation test.
//!
//! Random numbers come from SplitMix64 (a 64-bit counter through a fixed mixer), chosen
//! because a reference script reproduces the exact index stream in a few lines of numpy
//! (`scripts/stats_reference.py`), so every interval can be checked number for number.
//! Quantiles interpolate linearly between order statistics, numpy's default.

/// SplitMix64 (Steele, Lea, Flood 2014), as in `java.util.SplittableRandom`.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index in `0..n`. The modulo bias is below n / 2^64, far under anything measured.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `resamples` bootstrap draws of `n` indices with replacement, draw after draw.
pub fn bootstrap_indices(seed: u64, n: usize, resamples: usize) -> Vec<Vec<u32>> {
    let mut rng = SplitMix64::new(seed);
    (0..resamples)
        .map(|_| (0..n).map(|_| rng.below(n) as u32).collect())
        .collect()
}

/// The q-quantile (0..=1) of `values`, linear between order statistics (numpy's default).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Weighted mean of `values` (one per question) with `weights`; NaN when the weights sum to 0.
pub fn weighted_mean(values: &[f64], weights: &[f64]) -> f64 {
    let (mut s, mut w) = (0.0, 0.0);
    for (v, x) in values.iter().zip(weights) {
        s += v * x;
        w += x;
    }
    if w > 0.0 {
        s / w
    } else {
        f64::NAN
    }
}

/// A point estimate and its 95% percentile-bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    fn from_draws(estimate: f64, draws: &[f64]) -> Interval {
        Interval {
            estimate,
            lo: quantile(draws, 0.025),
            hi: quantile(draws, 0.975),
        }
    }
}

/// The weighted mean of per-question `values` and its interval over the resampled questions
/// `draws` (from [`bootstrap_indices`] with n = values.len()); with fewer than two values
/// there is no interval (NaN bounds).
pub fn bootstrap_mean(values: &[f64], weights: &[f64], draws: &[Vec<u32>]) -> Interval {
    let stats: Vec<f64> = draws
        .iter()
        .map(|idx| {
            let (mut s, mut w) = (0.0, 0.0);
            for &i in idx {
                s += values[i as usize] * weights[i as usize];
                w += weights[i as usize];
            }
            if w > 0.0 {
                s / w
            } else {
                f64::NAN
            }
        })
        .collect();
    if values.len() < 2 {
        // One unit cannot show any spread: no interval rather than a zero-width one.
        return Interval {
            estimate: weighted_mean(values, weights),
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    Interval::from_draws(weighted_mean(values, weights), &stats)
}

/// A paired comparison of two configurations on the same questions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Weighted mean of a - b and its paired-bootstrap interval.
    pub difference: Interval,
    /// Two-sided p-value of the sign-flip permutation test.
    pub p_value: f64,
    /// Whether every sign assignment was enumerated (else `permutations` random ones).
    pub exact: bool,
    pub permutations: usize,
}

/// At most this many questions with a non-zero difference are enumerated exactly (2^k sign
/// assignments); beyond, random sign flips are drawn.
pub const EXACT_LIMIT: usize = 16;

/// `a` and `b` per question (same order, same weights): the difference of their weighted
/// means with a paired-bootstrap interval (the same resampled questions for both), and the
/// p-value of swapping a and b within questions (sign flips of the per-question
/// differences). The permutation stream is seeded with `seed + 1`, apart from the bootstrap.
pub fn paired(
    a: &[f64],
    b: &[f64],
    weights: &[f64],
    draws: &[Vec<u32>],
    permutations: usize,
    seed: u64,
) -> Paired {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let difference = bootstrap_mean(&d, weights, draws);
    let (p_value, exact) = sign_flip_p(&d, weights, permutations, seed.wrapping_add(1));
    Paired {
        difference,
        p_value,
        exact,
        permutations: if exact {
            1 << d.iter().filter(|x| **x != 0.0).count()
        } else {
            permutations
        },
    }
}

/// Two-sided p-value of the paired sign-flip test of the weighted mean of `d`: exact when
/// at most [`EXACT_LIMIT`] differences are non-zero, else (1 + hits) / (1 + permutations)
/// over random flips (sign of question g in each permutation: the top bit of one draw).
pub fn sign_flip_p(d: &[f64], weights: &[f64], permutations: usize, seed: u64) -> (f64, bool) {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return (f64::NAN, true);
    }
    let observed = (d.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() / total).abs();
    // Ties: a flipped statistic equal to the observed one up to rounding counts as extreme.
    let at_least = |t: f64| t.abs() >= observed * (1.0 - 1e-9) - 1e-15;
    let nonzero: Vec<usize> = (0..d.len()).filter(|&i| d[i] != 0.0).collect();
    if nonzero.len() <= EXACT_LIMIT {
        let k = nonzero.len();
        let mut hits = 0u64;
        for mask in 0u64..(1 << k) {
            let t: f64 = nonzero
                .iter()
                .enumerate()
                .map(|(j, &i)| {
                    let s = if mask >> j & 1 == 1 { -1.0 } else { 1.0 };
                    s * d[i] * weights[i]
                })
                .sum::<f64>()
                / total;
            if at_least(t) {
                hits += 1;
            }
        }
        return (hits as f64 / (1u64 << k) as f64, true);
    }
    let mut rng = SplitMix64::new(seed);
    let mut hits = 0usize;
    for _ in 0..permutations {
        let mut t = 0.0;
        for (x, w) in d.iter().zip(weights) {
            let s = if rng.next_u64() >> 63 == 1 { -1.0 } else { 1.0 };
            t += s * x * w;
        }
        if at_least(t / total) {
            hits += 1;
        }
    }
    ((1 + hits) as f64 / (1 + permutations) as f64, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // First outputs for seed 1234567, from the reference C code (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            vec![
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        // np.percentile([3, 1, 4, 1, 5], [2.5, 50, 97.5]) = [1.0, 3.0, 4.9]
        let v = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert!((quantile(&v, 0.025) - 1.0).abs() < 1e-12);
        assert!((quantile(&v, 0.5) - 3.0).abs() < 1e-12);
        assert!((quantile(&v, 0.975) - 4.9).abs() < 1e-12);
    }
}

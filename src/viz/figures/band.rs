//! A curve summarised over seeds: the mean and a +/-1 standard deviation band.

/// Element-wise mean and standard deviation of several runs of the same curve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Band {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// The 95% interval of the last point over test questions (from `evaluate`), drawn
    /// as a whisker at the end of the curve; the band stays the spread over seeds.
    pub final_interval: Option<(f64, f64)>,
}

impl Band {
    /// Mean and population standard deviation (numpy's default, ddof = 0, as the study's
    /// `np.std`) at each position, over the runs; runs are cut to the shortest one.
    pub fn from_runs(runs: &[Vec<f64>]) -> Band {
        let len = runs.iter().map(Vec::len).min().unwrap_or(0);
        let mut band = Band {
            mean: Vec::with_capacity(len),
            std: Vec::with_capacity(len),
            final_interval: None,
        };
        for i in 0..len {
            let column: Vec<f64> = runs.iter().map(|r| r[i]).collect();
            let (m, s) = mean_std(&column);
            band.mean.push(m);
            band.std.push(s);
        }
        band
    }

    /// A band of zero width, for a curve with a single run.
    pub fn exact(values: Vec<f64>) -> Band {
        let std = vec![0.0; values.len()];
        Band {
            mean: values,
            std,
            final_interval: None,
        }
    }

    pub fn len(&self) -> usize {
        self.mean.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }
}

/// Mean and population standard deviation (ddof = 0); NaN for an empty slice.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_matches_numpy_mean_and_std() {
        // numpy: np.mean([[1,2],[3,6]], axis=0) = [2, 4]; np.std(..., axis=0) = [1, 2]
        let b = Band::from_runs(&[vec![1.0, 2.0, 9.0], vec![3.0, 6.0]]);
        assert_eq!(b.mean, vec![2.0, 4.0]);
        assert_eq!(b.std, vec![1.0, 2.0]);
        assert!(mean_std(&[]).0.is_nan());
    }
}

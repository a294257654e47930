#!/usr/bin/env python3
"""Independent reference for qa-pipe's question-level statistics (src/ml/stats.rs and the
`evaluate` stage): recomputes, with numpy and scipy from the raw rows, the numbers that
`evaluate`'s tests assert. The bootstrap uses the same SplitMix64 index stream (a few lines
below), so intervals match number for number; the permutation p-values are checked against
scipy.stats.permutation_test (exact enumeration) and a brute-force enumeration.

Run: python3 scripts/stats_reference.py   (numpy, scipy; output pasted in the Rust tests)
"""
import itertools

import numpy as np
import scipy
from scipy import stats

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def indices(seed, n, resamples):
    r = SplitMix64(seed)
    return np.array([[r.next() % n for _ in range(n)] for _ in range(resamples)])


# The synthetic test set of the Rust tests: 8 questions, rows (good, bad) per question,
# bad answers' defect types, and two configurations x two seeds of raw scores.
G = 8
group = np.repeat(np.arange(G), 2)
label = np.tile([1.0, -1.0], G)
defect = ["", "vague", "", "off_topic", "", "vague", "", "wrong_fact",
          "", "off_topic", "", "vague", "", "wrong_fact", "", "off_topic"]
A = np.array([
    [0.9, -0.2, 0.4, 0.3, -0.1, -0.5, 0.3, 0.6, 0.2, -0.9, 0.7, 0.1, -0.3, -0.4, 0.5, -0.6],
    [0.6, -0.1, 0.2, -0.3, 0.3, -0.2, 0.9, 0.7, -0.4, -0.8, 0.2, 0.2, 0.1, -0.5, 0.4, 0.3],
])
B = np.array([
    [0.1, 0.2, -0.4, -0.3, 0.5, 0.6, -0.2, -0.1, 0.3, 0.4, -0.6, 0.2, 0.7, 0.8, -0.1, 0.1],
    [0.2, 0.1, 0.3, 0.4, -0.5, -0.6, 0.1, -0.2, 0.6, 0.5, 0.2, 0.3, -0.1, -0.3, 0.4, 0.2],
])
SEED, RESAMPLES = 7, 200


def per_question_accuracy(scores, rows):
    """Per question: share of (row in `rows`, seed) classified right, and its row count."""
    correct = ((scores > 0) == (label > 0)).astype(float)  # seeds x rows
    qs = sorted(set(group[rows]))
    vals = np.array([correct[:, rows & (group == g)].mean() for g in qs])
    wts = np.array([float((rows & (group == g)).sum()) for g in qs])
    return vals, wts


def pooled(vals, wts, idx):
    return np.array([(vals[i] * wts[i]).sum() / wts[i].sum() for i in idx])


def interval(vals, wts):
    draws = pooled(vals, wts, indices(SEED, len(vals), RESAMPLES))
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return (vals * wts).sum() / wts.sum(), lo, hi


def pairwise(scores):
    good, bad = scores[:, label > 0], scores[:, label < 0]
    return ((good > bad) + 0.5 * (good == bad)).mean(axis=0), np.ones(G)


everything = np.ones(len(label), bool)
print("numpy", np.__version__, "scipy", scipy.__version__)
accA = per_question_accuracy(A, everything)
accB = per_question_accuracy(B, everything)
# The pooled accuracy straight from the rows, as a check of the per-question route.
print("accuracy A (rows)", repr(((A > 0) == (label > 0)).mean()))
print("accuracy A", [repr(float(x)) for x in interval(*accA)])
print("accuracy B", [repr(float(x)) for x in interval(*accB)])
print("pairwise A", [repr(float(x)) for x in interval(*pairwise(A))])
for d in ["off_topic", "vague", "wrong_fact"]:
    rows = np.array([x == d for x in defect])
    print("bad answers", d, "A", [repr(float(x)) for x in interval(*per_question_accuracy(A, rows))])

# Paired A - B on accuracy: the same resampled questions for both.
d = accA[0] - accB[0]
w = accA[1]
print("paired accuracy A-B", [repr(float(x)) for x in interval(d, w)])
obs = (d * w).sum() / w.sum()
nz = np.flatnonzero(d)
hits = sum(abs((np.array(s) * d[nz] * w[nz]).sum() / w.sum()) >= abs(obs) * (1 - 1e-9) - 1e-15
           for s in itertools.product([1.0, -1.0], repeat=len(nz)))
print("exact sign-flip p", repr(hits / 2 ** len(nz)), "over", 2 ** len(nz))
# scipy: paired samples permutation (swap A and B within each question), exact.
res = stats.permutation_test((accA[0], accB[0]), lambda x, y: np.mean(x - y),
                             permutation_type="samples", n_resamples=np.inf,
                             alternative="two-sided")
print("scipy permutation_test p", repr(float(res.pvalue)))

# Random sign flips (more than 16 differing questions): the same SplitMix64 stream,
# seeded with seed + 1, one draw per question per permutation, its top bit the sign.
rng = np.random.default_rng(3)
dd = np.round(rng.normal(0.05, 0.3, 40), 3)
ww = np.ones(40)
r = SplitMix64(SEED + 1)
obs = abs(dd.mean())
perms = 999
hits = 0
for _ in range(perms):
    s = np.array([-1.0 if r.next() >> 63 else 1.0 for _ in range(40)])
    if abs((s * dd).mean()) >= obs * (1 - 1e-9) - 1e-15:
        hits += 1
print("d40", ",".join(repr(float(x)) for x in dd))
print("random sign-flip p", repr((1 + hits) / (1 + perms)))
# Its Monte Carlo estimate should be near scipy's (which draws other flips).
res = stats.permutation_test((dd, np.zeros(40)), lambda x, y: np.mean(x - y),
                             permutation_type="samples", n_resamples=99999,
                             alternative="two-sided", random_state=0)
print("scipy permutation_test p (99999 random)", repr(float(res.pvalue)))

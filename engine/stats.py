"""Intervals, paired comparisons, accuracy-on-the-line fits and OOD-detection metrics.

Pure numpy/scipy; everything seeded is reproducible for a given seed and input.

Bootstrap conventions
---------------------
* Percentile bootstrap over examples (or over clusters), ``n_resamples`` resamples (1,000 by
  default), ``numpy.random.default_rng(seed)``. ``n_resamples=0`` gives ``low == high == value``.
* The interval is the (α/2, 1−α/2) quantiles of the resampled statistic (numpy's linear
  interpolation), **widened if needed to contain the full-sample value**. This only matters for
  statistics whose bootstrap distribution is shifted (ECE and worst-group accuracy at small N are
  biased upward/downward on resamples): an interval drawn next to its value never excludes it.
* ``bootstrap_metrics`` draws one ``(R, N)`` matrix of resample indices (in chunks of resamples),
  turns it into resample counts with one ``bincount`` and evaluates every metric on the same
  resamples with one sparse product (``engine.metrics.WeightedMetrics``). Cost O(R·N): about 5 ms
  for N = 360, K = 10, R = 1,000; about 1 s for N = 50,000, K = 1,000. For a plain mean over
  millions of rows use ``bootstrap_mean`` on a per-example array.
* ``bootstrap_mean`` draws the resample counts from their exact distribution instead of indices
  when that is cheaper: resampling N values with replacement puts Multinomial(N, f) counts on the
  distinct values (f = their frequencies), so 0/1 correctness over 1M rows needs R draws of a
  2-category multinomial (no subsampling, no Poisson approximation). Paths:
  (1) R·N ≤ 2**23: resample indices, exact;
  (2) at most 4,096 distinct values: multinomial over the distinct values, exact;
  (3) otherwise the sorted values are cut into 2,048 equal-count strata; stratum counts are exact
      multinomial draws and the sum of the c draws inside a stratum is approximated by
      c·mean + √c·sd·Z (the bootstrap variance is kept exactly; only the shape within a stratum is
      approximated, which is negligible at the sizes where this path runs).
  With clusters of equal size the cluster means go through the same paths; with unequal sizes
  the (sum, size) patterns are resampled with a multinomial when there are at most 4,096 distinct
  ones, else cluster indices are resampled directly (exact, O(R·C)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special as _sp

from engine.metrics import WeightedMetrics, compute, ood_scores

PROBIT_EPS = 1e-4
OOD_CONVENTION = (
    "OOD detection treats the shifted (out-of-distribution) examples as the POSITIVE class and "
    "orients every score so that higher means more likely OOD: the MSP score is −MSP (ranked by "
    "−log MSP, the same order without rounding to 1.0) and the energy score is the energy "
    "E(x) = −T·logsumexp(f(x)/T) itself (in-distribution inputs get lower energy). AUROC is exact and "
    "rank-based (ties count one half); AUPR is average precision with OOD as positive; FPR95 is the "
    "fraction of in-distribution examples flagged as OOD at the highest threshold that still flags "
    "at least 95% of the OOD examples. Papers that take in-distribution as positive (e.g. Liu et "
    "al. 2020, energy) report a different FPR95: the fraction of OOD examples accepted when 95% of "
    "in-distribution examples are accepted."
)

# Resamples are processed in chunks of about this many (resample, example) cells, at least
# _CHUNK_MIN resamples: small blocks are reused from the allocator's free lists instead of being
# freshly mapped (page faults made 4M-cell blocks ~2x slower than 64k-cell blocks at N = 360).
_CHUNK_ELEMS = 1 << 16
_CHUNK_MIN = 8
_DIRECT_LIMIT = 1 << 23  # bootstrap_mean: index resampling up to this many draws
_ATOM_LIMIT = 4096  # bootstrap_mean: multinomial over at most this many distinct values
_STRATA = 2048


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class SeedSpread:
    mean: float
    std: float
    min: float
    max: float
    n_seeds: int


@dataclass(frozen=True)
class PairedComparison:
    diff: float  # accuracy(A) − accuracy(B)
    low: float
    high: float
    p_value: float  # two-sided paired bootstrap
    mcnemar_p: float
    n: int
    b: int  # A right, B wrong
    c: int  # A wrong, B right
    within_noise: bool  # the interval contains 0


# --------------------------------------------------------------------------------------------
# helpers


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}.")
    return float(level)


def _check_resamples(n_resamples: int) -> int:
    r = int(n_resamples)
    if r < 0 or r != n_resamples:
        raise ValueError(f"n_resamples must be a non-negative integer, got {n_resamples}.")
    return r


def _interval(value: float, dist: np.ndarray, level: float, n: int) -> Interval:
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(dist, [a, 1.0 - a])
    return Interval(float(value), float(min(lo, value)), float(max(hi, value)), int(n))


def _resample_weights(n: int, n_resamples: int, rng: np.random.Generator):
    """Yield (R_chunk, n) float matrices of bootstrap resample counts (rows sum to n)."""
    chunk = max(_CHUNK_MIN, _CHUNK_ELEMS // n)
    for start in range(0, n_resamples, chunk):
        rc = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(rc, n))
        idx += (np.arange(rc, dtype=idx.dtype) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=rc * n).reshape(rc, n).astype(np.float64)


def _finite_1d(values, what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError(f"{what} is empty.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains NaN or infinite values.")
    return x


# --------------------------------------------------------------------------------------------
# bootstrap


def bootstrap_metrics(
    names: Sequence[str],
    probs,
    labels,
    groups=None,
    n_resamples: int = 1000,
    seed: int | None = 0,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Percentile-bootstrap interval of each named metric, all metrics on the same resamples."""
    level = _check_level(level)
    r = _check_resamples(n_resamples)
    wm = WeightedMetrics(names, probs, labels, groups)
    point = compute(wm.names, probs, labels, groups)
    if r == 0:
        return {k: Interval(v, v, v, wm.n) for k, v in point.items()}
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in point}
    for w in _resample_weights(wm.n, r, rng):
        for k, v in wm(w).items():
            parts[k].append(v)
    return {k: _interval(point[k], np.concatenate(parts[k]), level, wm.n) for k in point}


def _bootstrap_means(x: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """R bootstrap replicates of the mean of x (see the module docstring for the three paths)."""
    n = len(x)
    if n * r <= _DIRECT_LIMIT:
        out = np.empty(r)
        chunk = max(_CHUNK_MIN, _CHUNK_ELEMS // n)
        for s in range(0, r, chunk):
            rc = min(chunk, r - s)
            out[s : s + rc] = x[rng.integers(0, n, size=(rc, n))].mean(axis=1)
        return out
    xs = np.sort(x)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    if len(starts) <= _ATOM_LIMIT:
        counts = np.diff(np.append(starts, n))
        c = rng.multinomial(n, counts / n, size=r)
        return (c @ xs[starts]) / n
    starts = (np.arange(_STRATA) * n) // _STRATA
    sizes = np.diff(np.append(starts, n))
    means = np.add.reduceat(xs, starts) / sizes
    sd = np.sqrt(np.add.reduceat((xs - np.repeat(means, sizes)) ** 2, starts) / sizes)
    c = rng.multinomial(n, sizes / n, size=r)
    z = rng.standard_normal(c.shape)
    return (c @ means + (np.sqrt(c) * z) @ sd) / n


def _bootstrap_ratios(sums: np.ndarray, sizes: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """R replicates of Σ sums / Σ sizes over clusters resampled with replacement (unequal sizes)."""
    k = len(sums)
    if k * r > _DIRECT_LIMIT:
        pairs, freq = np.unique(np.stack([sums, sizes.astype(np.float64)], axis=1), axis=0, return_counts=True)
        if len(pairs) <= _ATOM_LIMIT:
            c = rng.multinomial(k, freq / k, size=r)
            return (c @ pairs[:, 0]) / (c @ pairs[:, 1])
    out = np.empty(r)
    chunk = max(_CHUNK_MIN, _CHUNK_ELEMS // k)
    for s in range(0, r, chunk):
        rc = min(chunk, r - s)
        idx = rng.integers(0, k, size=(rc, k))
        out[s : s + rc] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return out


def bootstrap_mean(
    values,
    n_resamples: int = 1000,
    seed: int | None = 0,
    level: float = 0.95,
    clusters=None,
) -> Interval:
    """Mean of per-example values with a percentile-bootstrap interval.

    With ``clusters`` (one id per value) whole clusters are resampled: e.g. correctness pooled over
    seeds with the example id as cluster resamples examples and keeps all seeds of each. ``n`` is
    the number of resampled units (values, or clusters when given).
    """
    level = _check_level(level)
    r = _check_resamples(n_resamples)
    x = _finite_1d(values, "values")
    value = float(x.mean())
    if clusters is None:
        units = len(x)
    else:
        cl = np.asarray(clusters).reshape(-1)
        if cl.shape != x.shape:
            raise ValueError(f"clusters must have one id per value ({len(x)}), got {cl.size}.")
        _, inv = np.unique(cl, return_inverse=True)
        inv = inv.reshape(-1)
        sizes = np.bincount(inv)
        sums = np.bincount(inv, weights=x)
        units = len(sizes)
    if r == 0:
        return Interval(value, value, value, units)
    rng = np.random.default_rng(seed)
    if clusters is None:
        dist = _bootstrap_means(x, r, rng)
    elif np.all(sizes == sizes[0]):
        dist = _bootstrap_means(sums / sizes[0], r, rng)
    else:
        dist = _bootstrap_ratios(sums, sizes, r, rng)
    return _interval(value, dist, level, units)


def seed_spread(values: Sequence[float]) -> SeedSpread:
    """Mean, sample standard deviation (ddof=1; 0 for one seed), min and max over seeds."""
    x = _finite_1d(values, "seed values")
    return SeedSpread(
        mean=float(x.mean()),
        std=float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        min=float(x.min()),
        max=float(x.max()),
        n_seeds=len(x),
    )


# --------------------------------------------------------------------------------------------
# paired comparison


def _as_correct(v, what: str) -> np.ndarray:
    a = np.asarray(v).reshape(-1)
    if a.dtype != bool:
        if not np.all((a == 0) | (a == 1)):
            raise ValueError(f"{what} must hold booleans or 0/1 values.")
        a = a.astype(bool)
    return a


def mcnemar_p(b: int, c: int) -> float:
    """Two-sided McNemar test on the discordant counts b and c: exact binomial (p = ½) when
    b + c < 25, else chi-square with continuity correction, (max(|b − c| − 1, 0))² / (b + c)."""
    n = b + c
    if n == 0:
        return 1.0
    if n < 25:
        return float(min(1.0, 2.0 * _sp.bdtr(min(b, c), n, 0.5)))
    stat = max(abs(b - c) - 1, 0) ** 2 / n
    return float(_sp.chdtrc(1, stat))


def paired_comparison(
    correct_a, correct_b, n_resamples: int = 1000, seed: int | None = 0, level: float = 0.95
) -> PairedComparison:
    """Accuracy difference A − B on the same examples (same order), with a paired-bootstrap
    interval and p-value and McNemar's test.

    p_value = min(1, 2·(k + 1)/(R + 1)) where k counts resampled differences on the other side of 0
    (≤ 0 when the observed difference is positive, ≥ 0 when negative); 1 when the difference is 0.
    With ``n_resamples=0`` there is no interval: p_value is NaN and within_noise falls back to
    mcnemar_p ≥ 1 − level.
    """
    level = _check_level(level)
    r = _check_resamples(n_resamples)
    a = _as_correct(correct_a, "correct_a")
    bb = _as_correct(correct_b, "correct_b")
    if len(a) != len(bb):
        raise ValueError(f"Paired arms must cover the same examples: {len(a)} vs {len(bb)} predictions.")
    n = len(a)
    if n == 0:
        raise ValueError("Paired comparison of zero examples.")
    b = int(np.count_nonzero(a & ~bb))
    c = int(np.count_nonzero(~a & bb))
    diff = (b - c) / n
    mp = mcnemar_p(b, c)
    if r == 0:
        return PairedComparison(diff, diff, diff, float("nan"), mp, n, b, c, mp >= 1.0 - level)
    rng = np.random.default_rng(seed)
    d = a.astype(np.float64) - bb.astype(np.float64)
    dist = _bootstrap_means(d, r, rng)
    iv = _interval(diff, dist, level, n)
    if diff > 0:
        p = min(1.0, 2.0 * (np.count_nonzero(dist <= 0) + 1) / (r + 1))
    elif diff < 0:
        p = min(1.0, 2.0 * (np.count_nonzero(dist >= 0) + 1) / (r + 1))
    else:
        p = 1.0
    return PairedComparison(diff, iv.low, iv.high, float(p), mp, n, b, c, bool(iv.low <= 0.0 <= iv.high))


# --------------------------------------------------------------------------------------------
# accuracy on the line


def probit(p):
    """Φ⁻¹(clip(p, 1e-4, 1 − 1e-4)); a float for a scalar, an array otherwise."""
    out = _sp.ndtri(np.clip(np.asarray(p, dtype=np.float64), PROBIT_EPS, 1.0 - PROBIT_EPS))
    return float(out) if np.ndim(out) == 0 else out


def _back(z):
    out = _sp.ndtr(z)
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class LineFit:
    """probit(shifted) = slope · probit(id) + intercept."""

    slope: float
    intercept: float
    r2: float
    n: int

    def predict(self, id_acc):
        return _back(self.slope * probit(id_acc) + self.intercept)


@dataclass(frozen=True)
class CurveFit:
    """probit(shifted) = a · probit(id)² + b · probit(id) + c."""

    a: float
    b: float
    c: float
    r2: float
    n: int

    def predict(self, id_acc):
        z = probit(id_acc)
        return _back((self.a * z + self.b) * z + self.c)


def _fit_xy(id_acc, shifted_acc, min_distinct: int) -> tuple[np.ndarray, np.ndarray]:
    x = _finite_1d(id_acc, "id_acc")
    y = _finite_1d(shifted_acc, "shifted_acc")
    if x.shape != y.shape:
        raise ValueError(f"id_acc and shifted_acc differ in length: {len(x)} vs {len(y)}.")
    if np.any((x < 0) | (x > 1) | (y < 0) | (y > 1)):
        raise ValueError("Accuracies must lie in [0, 1].")
    px, py = probit(x), probit(y)
    if len(np.unique(px)) < min_distinct:
        raise ValueError(f"The fit needs at least {min_distinct} points with distinct in-distribution accuracy.")
    return np.atleast_1d(px), np.atleast_1d(py)


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - fitted) ** 2))
    return 1.0 if ss_tot == 0.0 else 1.0 - ss_res / ss_tot


def fit_on_the_line(id_acc: Sequence[float], shifted_acc: Sequence[float]) -> LineFit:
    """Least-squares line in probit space (Miller et al. 2021, 'accuracy on the line')."""
    x, y = _fit_xy(id_acc, shifted_acc, 2)
    xc = x - x.mean()
    slope = float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))
    intercept = float(y.mean() - slope * x.mean())
    return LineFit(slope, intercept, _r2(y, slope * x + intercept), len(x))


def fit_curve(id_acc: Sequence[float], shifted_acc: Sequence[float]) -> CurveFit:
    """Least-squares quadratic in probit space ('accuracy on the curve'); ≥ 3 distinct x."""
    x, y = _fit_xy(id_acc, shifted_acc, 3)
    a, b, c = (float(v) for v in np.polyfit(x, y, 2))
    return CurveFit(a, b, c, _r2(y, (a * x + b) * x + c), len(x))


def effective_robustness(fit: LineFit | CurveFit, id_acc, shifted_acc):
    """Shifted accuracy minus the fit's prediction at the same in-distribution accuracy."""
    out = np.asarray(shifted_acc, dtype=np.float64) - np.asarray(fit.predict(id_acc), dtype=np.float64)
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------------------------
# OOD detection


def _pos_neg(scores_pos, scores_neg) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(scores_pos, dtype=np.float64).reshape(-1)
    q = np.asarray(scores_neg, dtype=np.float64).reshape(-1)
    if p.size == 0 or q.size == 0:
        raise ValueError("Both positive and negative scores are needed.")
    if np.isnan(p).any() or np.isnan(q).any():
        raise ValueError("Scores contain NaN.")
    return p, q


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as scipy.stats.rankdata 'average')."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    counts = np.diff(np.r_[starts, len(x)])
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(starts + (counts + 1) / 2.0, counts)
    return ranks


def auroc(scores_pos, scores_neg) -> float:
    """P(score_pos > score_neg) + ½ P(tie): exact, from average ranks (Mann–Whitney U), float64."""
    p, q = _pos_neg(scores_pos, scores_neg)
    ranks = _average_ranks(np.concatenate([p, q]))
    n1, n2 = len(p), len(q)
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n2))


def aupr(scores_pos, scores_neg) -> float:
    """Average precision with scores_pos as the positive class: Σ_n (R_n − R_{n−1}) P_n over
    distinct thresholds, high to low (ties share one threshold)."""
    p, q = _pos_neg(scores_pos, scores_neg)
    s = np.concatenate([p, q])
    is_pos = np.concatenate([np.ones(len(p)), np.zeros(len(q))])
    order = np.argsort(-s, kind="stable")
    s, is_pos = s[order], is_pos[order]
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    tp = np.cumsum(is_pos)[last]
    precision = tp / (last + 1)
    recall = tp / len(p)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def fpr_at_tpr(scores_pos, scores_neg, tpr: float = 0.95) -> float:
    """Fraction of negatives with score ≥ t, for the highest threshold t whose TPR
    (fraction of positives with score ≥ t) is at least ``tpr``."""
    if not 0.0 < tpr <= 1.0:
        raise ValueError("tpr must lie in (0, 1].")
    p, q = _pos_neg(scores_pos, scores_neg)
    n1 = len(p)
    ps = np.sort(p)[::-1]
    k = int(np.argmax(np.arange(1, n1 + 1) / n1 >= tpr))
    t = ps[k]
    qs = np.sort(q)
    return float((len(q) - np.searchsorted(qs, t, side="left")) / len(q))


def ood_detection(in_logits, out_logits, T: float = 1.0) -> dict[str, dict[str, float]]:
    """AUROC, AUPR and FPR95 of the MSP and energy scores; see OOD_CONVENTION (OOD is positive)."""
    a = np.asarray(in_logits)
    b = np.asarray(out_logits)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"in_logits and out_logits must be (N, K) with the same K, got {a.shape} and {b.shape}.")
    si, so = ood_scores(a, T), ood_scores(b, T)
    oriented = {
        "msp": (-so["log_msp"], -si["log_msp"]),
        "energy": (so["energy"], si["energy"]),
    }
    return {
        name: {"auroc": auroc(pos, neg), "aupr": aupr(pos, neg), "fpr95": fpr_at_tpr(pos, neg, 0.95)}
        for name, (pos, neg) in oriented.items()
    }


# --------------------------------------------------------------------------------------------
# flips between two models on the same examples


@dataclass(frozen=True)
class Flips:
    """Negative and positive flips of a new model against a reference (Yan et al., CVPR 2021).

    A negative flip is an example the reference got right and the new model gets wrong; a positive
    flip the reverse. Rates are over all ``n`` examples (NFR = negatives / n), with intervals.
    """

    n: int
    negative: int
    positive: int
    negative_rate: Interval
    positive_rate: Interval
    new_error_rate: float


def wilson_interval(k: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a proportion k / n (stays inside [0, 1], sensible at k = 0)."""
    level = _check_level(level)
    if n <= 0:
        raise ValueError("A proportion needs at least one example.")
    if not 0 <= k <= n:
        raise ValueError(f"k must lie between 0 and n ({n}), got {k}.")
    p = k / n
    z = float(_sp.ndtri(1.0 - (1.0 - level) / 2.0))
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, float(max(0.0, center - half)), float(min(1.0, center + half)), int(n))


def flips(
    reference_correct, new_correct, level: float = 0.95, clusters=None, n_resamples: int = 1000, seed: int | None = 0
) -> Flips:
    """Flips of ``new`` against ``reference`` on the same examples (same order).

    Wilson intervals; with ``clusters`` (e.g. the example id when seeds are pooled) a cluster
    bootstrap of the per-example flip indicators instead, so repeated examples are not counted as
    independent.
    """
    ref = _as_correct(reference_correct, "reference_correct")
    new = _as_correct(new_correct, "new_correct")
    if len(ref) != len(new):
        raise ValueError(f"Flips compare the same examples: {len(ref)} vs {len(new)} predictions.")
    n = len(ref)
    if n == 0:
        raise ValueError("Flips of zero examples.")
    neg = ref & ~new
    pos = ~ref & new
    if clusters is None:
        neg_iv = wilson_interval(int(neg.sum()), n, level)
        pos_iv = wilson_interval(int(pos.sum()), n, level)
    else:
        neg_iv = bootstrap_mean(neg.astype(np.float64), n_resamples, seed, level, clusters)
        pos_iv = bootstrap_mean(pos.astype(np.float64), n_resamples, seed, level, clusters)
    return Flips(n, int(neg.sum()), int(pos.sum()), neg_iv, pos_iv, float(1.0 - new.mean()))

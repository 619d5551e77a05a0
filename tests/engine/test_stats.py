"""engine.stats: bootstrap intervals, paired comparisons, probit fits and OOD metrics."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats as st
from scipy.special import softmax
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from engine import metrics as M
from engine import stats as S

NAMES = ["accuracy", "macro_f1", "nll", "ece", "brier"]


def _case(seed: int, n: int = 360, k: int = 10, signal: float = 2.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    z = rng.normal(size=(n, k)) * 2.0
    z[np.arange(n), y] += signal
    return softmax(z, axis=1), y, rng.integers(0, 4, size=n)


# ------------------------------------------------------------------------------------------
# bootstrap_metrics


def test_bootstrap_metrics_contains_value_and_is_reproducible():
    p, y, g = _case(0)
    names = [*NAMES, "worst_group_accuracy"]
    a = S.bootstrap_metrics(names, p, y, g, n_resamples=500, seed=3)
    b = S.bootstrap_metrics(names, p, y, g, n_resamples=500, seed=3)
    c = S.bootstrap_metrics(names, p, y, g, n_resamples=500, seed=4)
    point = M.compute(names, p, y, g)
    assert list(a) == names
    for name in names:
        iv = a[name]
        assert iv.value == pytest.approx(point[name], abs=1e-12)
        assert iv.low <= iv.value <= iv.high and iv.low < iv.high
        assert iv.n == len(y)
        assert a[name] == b[name]
    assert any(a[n] != c[n] for n in names)


def test_bootstrap_metrics_zero_resamples():
    p, y, _ = _case(1)
    out = S.bootstrap_metrics(NAMES, p, y, n_resamples=0)
    for name, iv in out.items():
        assert iv.low == iv.value == iv.high


def test_bootstrap_metrics_shrinks_with_n():
    width = {}
    for n in (200, 3200):
        p, y, _ = _case(2, n=n)
        out = S.bootstrap_metrics(NAMES, p, y, n_resamples=400, seed=0)
        width[n] = {k: v.high - v.low for k, v in out.items()}
    for name in NAMES:
        assert width[3200][name] < 0.6 * width[200][name], name


def test_bootstrap_metrics_spread_matches_binomial():
    p, y, _ = _case(5, n=2000)
    iv = S.bootstrap_metrics(["accuracy"], p, y, n_resamples=2000, seed=1)["accuracy"]
    se = np.sqrt(iv.value * (1 - iv.value) / len(y))
    assert (iv.high - iv.low) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_resample_weights_are_bootstrap_counts():
    rng = np.random.default_rng(0)
    ws = list(S._resample_weights(50, 300, rng))
    w = np.concatenate(ws)
    assert w.shape == (300, 50)
    assert (w.sum(axis=1) == 50).all() and (w >= 0).all() and (w == np.round(w)).all()
    assert w.mean() == pytest.approx(1.0)
    assert w.var() == pytest.approx(1 - 1 / 50, rel=0.1)  # multinomial(n, 1/n) variance


def test_bootstrap_metrics_chunked_matches_unchunked(monkeypatch):
    p, y, _ = _case(6, n=100)
    whole = S.bootstrap_metrics(NAMES, p, y, n_resamples=50, seed=9)
    monkeypatch.setattr(S, "_CHUNK_ELEMS", 100 * 7)  # 8 resamples per chunk (_CHUNK_MIN)
    chunked = S.bootstrap_metrics(NAMES, p, y, n_resamples=50, seed=9)
    for name in NAMES:
        assert chunked[name].low == pytest.approx(whole[name].low, abs=0.25 * (whole[name].high - whole[name].low))


def test_bootstrap_metrics_is_fast():
    p, y, _ = _case(0)
    S.bootstrap_metrics(NAMES, p, y)
    t = time.perf_counter()
    S.bootstrap_metrics(NAMES, p, y)
    assert time.perf_counter() - t < 0.5  # ~10 ms in practice; a Python loop over resamples takes seconds


# ------------------------------------------------------------------------------------------
# coverage


def test_coverage_bootstrap_mean_bernoulli():
    rng = np.random.default_rng(123)
    true_p, n, trials = 0.3, 200, 300
    hits = 0
    for t in range(trials):
        x = (rng.random(n) < true_p).astype(float)
        iv = S.bootstrap_mean(x, n_resamples=1000, seed=t)
        hits += iv.low <= true_p <= iv.high
    assert 0.91 <= hits / trials <= 0.98


def test_coverage_bootstrap_metrics_accuracy():
    rng = np.random.default_rng(7)
    trials, n, k = 150, 150, 3
    true_acc = 0.7
    hits = 0
    for t in range(trials):
        y = rng.integers(0, k, size=n)
        right = rng.random(n) < true_acc
        pred = np.where(right, y, (y + 1 + rng.integers(0, k - 1, size=n)) % k)
        p = np.full((n, k), 0.1)
        p[np.arange(n), pred] = 0.8
        iv = S.bootstrap_metrics(["accuracy"], p, y, n_resamples=500, seed=t)["accuracy"]
        hits += iv.low <= true_acc <= iv.high
    assert 0.89 <= hits / trials <= 0.99


def test_coverage_bootstrap_mean_continuous():
    rng = np.random.default_rng(11)
    hits = 0
    trials = 200
    for t in range(trials):
        x = rng.normal(1.0, 2.0, size=100)
        iv = S.bootstrap_mean(x, n_resamples=1000, seed=t)
        hits += iv.low <= 1.0 <= iv.high
    assert 0.90 <= hits / trials <= 0.99


# ------------------------------------------------------------------------------------------
# bootstrap_mean paths and clusters


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_bootstrap_mean_paths_agree(monkeypatch, kind):
    """Index resampling, multinomial over distinct values and the stratified path give the same
    bootstrap distribution (centre and spread)."""
    rng = np.random.default_rng(0)
    n = 20_000
    x = (rng.random(n) < 0.2).astype(float) if kind == "binary" else rng.exponential(size=n)
    direct = S._bootstrap_means(x, 1000, np.random.default_rng(1))
    monkeypatch.setattr(S, "_DIRECT_LIMIT", 0)
    if kind == "continuous":
        monkeypatch.setattr(S, "_ATOM_LIMIT", 10)
    other = S._bootstrap_means(x, 1000, np.random.default_rng(1))
    se = x.std() / np.sqrt(n)
    for d in (direct, other):
        assert d.mean() == pytest.approx(x.mean(), abs=0.15 * se)
        assert d.std() == pytest.approx(se, rel=0.1)


def test_bootstrap_mean_million_rows_is_fast():
    x = (np.random.default_rng(0).random(1_000_000) < 0.7).astype(float)
    t = time.perf_counter()
    iv = S.bootstrap_mean(x)
    assert time.perf_counter() - t < 1.0
    assert iv.low < iv.value < iv.high and iv.n == 1_000_000
    assert iv.high - iv.low == pytest.approx(2 * 1.96 * np.sqrt(0.21 / 1e6), rel=0.1)


def test_bootstrap_mean_basics():
    x = np.random.default_rng(0).normal(size=400)
    a = S.bootstrap_mean(x, seed=5)
    assert a == S.bootstrap_mean(x, seed=5)
    assert a.value == pytest.approx(x.mean())
    z = S.bootstrap_mean(x, n_resamples=0)
    assert z.low == z.value == z.high
    with pytest.raises(ValueError):
        S.bootstrap_mean([])
    with pytest.raises(ValueError):
        S.bootstrap_mean(x, level=1.5)
    with pytest.raises(ValueError):
        S.bootstrap_mean([1.0, np.nan])


def test_bootstrap_mean_clusters():
    rng = np.random.default_rng(3)
    n_examples, n_seeds = 300, 5
    per_example = (rng.random(n_examples) < 0.6).astype(float)
    pooled = np.repeat(per_example, n_seeds)  # all seeds agree: no extra information
    ids = np.repeat(np.arange(n_examples), n_seeds)
    clustered = S.bootstrap_mean(pooled, seed=2, clusters=ids)
    naive = S.bootstrap_mean(pooled, seed=2)
    single = S.bootstrap_mean(per_example, seed=2)
    assert clustered.n == n_examples and naive.n == n_examples * n_seeds
    assert clustered == single  # resampling examples of identical seeds == resampling one seed
    assert (naive.high - naive.low) < 0.6 * (clustered.high - clustered.low)


@pytest.mark.parametrize("direct_limit", [S._DIRECT_LIMIT, 0])
def test_bootstrap_mean_unequal_clusters(monkeypatch, direct_limit):
    monkeypatch.setattr(S, "_DIRECT_LIMIT", direct_limit)
    rng = np.random.default_rng(4)
    sizes = rng.integers(1, 6, size=400)
    ids = np.repeat(np.arange(400), sizes)
    x = (rng.random(len(ids)) < 0.4).astype(float)
    iv = S.bootstrap_mean(x, seed=0, clusters=ids, n_resamples=2000)
    assert iv.value == pytest.approx(x.mean()) and iv.n == 400
    # reference: loop bootstrap over clusters
    sums, cnt = np.bincount(ids, weights=x), np.bincount(ids)
    ref_rng = np.random.default_rng(99)
    ref = []
    for _ in range(2000):
        pick = ref_rng.integers(0, 400, 400)
        ref.append(sums[pick].sum() / cnt[pick].sum())
    lo, hi = np.quantile(ref, [0.025, 0.975])
    assert iv.low == pytest.approx(lo, abs=0.15 * (hi - lo))
    assert iv.high == pytest.approx(hi, abs=0.15 * (hi - lo))


def test_seed_spread():
    v = [0.81, 0.79, 0.84, 0.80]
    s = S.seed_spread(v)
    assert s.mean == pytest.approx(np.mean(v)) and s.std == pytest.approx(np.std(v, ddof=1))
    assert (s.min, s.max, s.n_seeds) == (0.79, 0.84, 4)
    one = S.seed_spread([0.5])
    assert one.std == 0.0 and one.n_seeds == 1 and one.mean == one.min == one.max == 0.5
    with pytest.raises(ValueError):
        S.seed_spread([])


# ------------------------------------------------------------------------------------------
# paired comparison


def test_paired_identical_arms():
    a = np.random.default_rng(0).random(360) < 0.7
    pc = S.paired_comparison(a, a.copy())
    assert pc.diff == 0 and pc.low == 0 and pc.high == 0
    assert pc.within_noise and pc.p_value == 1.0 and pc.mcnemar_p == 1.0
    assert (pc.b, pc.c, pc.n) == (0, 0, 360)


def test_paired_clearly_better_arm():
    rng = np.random.default_rng(1)
    b = rng.random(500) < 0.6
    a = b | (rng.random(500) < 0.5)  # A fixes half of B's errors, never breaks anything
    pc = S.paired_comparison(a, b)
    assert pc.diff == pytest.approx(a.mean() - b.mean())
    assert pc.p_value < 0.01 and pc.mcnemar_p < 0.01
    assert pc.low > 0 and not pc.within_noise
    assert pc.c == 0 and pc.b == int((a & ~b).sum())
    rev = S.paired_comparison(b, a)
    assert rev.diff == pytest.approx(-pc.diff) and rev.high < 0 and rev.p_value < 0.01


def test_paired_noise_and_reproducibility():
    rng = np.random.default_rng(2)
    a = rng.random(300) < 0.7
    b = rng.random(300) < 0.7
    p1 = S.paired_comparison(a, b, seed=4)
    assert p1 == S.paired_comparison(a, b, seed=4)
    assert p1.low <= p1.diff <= p1.high
    assert p1.within_noise == (p1.low <= 0 <= p1.high)
    assert 0 < p1.p_value <= 1
    # the bootstrap p-value agrees with the interval about 0
    assert (p1.p_value < 0.05) == (not p1.within_noise) or abs(p1.p_value - 0.05) < 0.02


def test_paired_errors():
    with pytest.raises(ValueError):
        S.paired_comparison(np.ones(5, bool), np.ones(6, bool))
    with pytest.raises(ValueError):
        S.paired_comparison(np.array([0.5, 1.0]), np.array([1, 0]))


def test_paired_zero_resamples():
    a = np.array([1, 1, 1, 0, 1, 1] * 10)
    b = np.array([0, 1, 0, 0, 1, 1] * 10)
    pc = S.paired_comparison(a, b, n_resamples=0)
    assert pc.low == pc.high == pc.diff and np.isnan(pc.p_value)
    assert pc.within_noise == (pc.mcnemar_p >= 0.05)


def test_mcnemar_exact_matches_binomtest():
    for b in range(0, 25):
        for c in range(0, 25 - b):
            if b + c == 0:
                assert S.mcnemar_p(b, c) == 1.0
                continue
            ref = st.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
            assert S.mcnemar_p(b, c) == pytest.approx(ref, rel=1e-9, abs=1e-12), (b, c)


def test_mcnemar_chi_square_branch():
    for b, c in [(20, 5), (15, 15), (40, 10), (13, 12), (100, 70)]:
        stat = max(abs(b - c) - 1, 0) ** 2 / (b + c)
        assert S.mcnemar_p(b, c) == pytest.approx(st.chi2.sf(stat, 1))
    # a paired comparison routes through the same test
    a = np.array([1] * 30 + [0] * 10 + [1] * 50, bool)
    bb = np.array([0] * 30 + [1] * 10 + [1] * 50, bool)
    pc = S.paired_comparison(a, bb)
    assert (pc.b, pc.c) == (30, 10)
    assert pc.mcnemar_p == pytest.approx(st.chi2.sf(19**2 / 40, 1))


# ------------------------------------------------------------------------------------------
# accuracy on the line


def test_probit():
    assert S.probit(0.5) == pytest.approx(0.0)
    assert S.probit(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert S.probit(0.0) == pytest.approx(st.norm.ppf(1e-4))
    assert S.probit(1.0) == pytest.approx(st.norm.ppf(1 - 1e-4))
    assert isinstance(S.probit(0.3), float) and S.probit([0.3, 0.4]).shape == (2,)


def test_fit_on_the_line_recovers_slope_and_intercept():
    x = np.linspace(0.55, 0.97, 12)
    y = st.norm.cdf(1.3 * st.norm.ppf(x) - 0.6)
    fit = S.fit_on_the_line(x, y)
    assert fit.slope == pytest.approx(1.3, abs=1e-9) and fit.intercept == pytest.approx(-0.6, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0) and fit.n == 12
    assert fit.predict(0.8) == pytest.approx(st.norm.cdf(1.3 * st.norm.ppf(0.8) - 0.6))
    assert S.effective_robustness(fit, 0.8, fit.predict(0.8)) == pytest.approx(0.0, abs=1e-12)
    assert S.effective_robustness(fit, 0.8, fit.predict(0.8) + 0.05) == pytest.approx(0.05)
    er = S.effective_robustness(fit, x, y)
    np.testing.assert_allclose(er, 0.0, atol=1e-9)


def test_fit_on_the_line_noisy_matches_polyfit():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 0.95, 30)
    y = st.norm.cdf(0.9 * st.norm.ppf(x) - 0.3 + rng.normal(0, 0.05, 30))
    fit = S.fit_on_the_line(x, y)
    slope, intercept = np.polyfit(st.norm.ppf(x), st.norm.ppf(y), 1)
    assert fit.slope == pytest.approx(slope) and fit.intercept == pytest.approx(intercept)
    assert 0.8 < fit.r2 < 1.0


def test_fit_errors():
    with pytest.raises(ValueError):
        S.fit_on_the_line([0.8], [0.6])
    with pytest.raises(ValueError):
        S.fit_on_the_line([0.8, 0.8, 0.8], [0.6, 0.5, 0.7])
    with pytest.raises(ValueError):
        S.fit_on_the_line([0.8, 0.9], [0.6])
    with pytest.raises(ValueError):
        S.fit_on_the_line([0.8, 1.2], [0.6, 0.7])
    with pytest.raises(ValueError):
        S.fit_curve([0.7, 0.8], [0.6, 0.7])


def test_fit_curve():
    x = np.linspace(0.5, 0.98, 15)
    z = st.norm.ppf(x)
    y = st.norm.cdf(-0.4 * z**2 + 1.1 * z - 0.2)
    fit = S.fit_curve(x, y)
    assert (fit.a, fit.b, fit.c) == pytest.approx((-0.4, 1.1, -0.2), abs=1e-8)
    assert fit.r2 == pytest.approx(1.0) and fit.n == 15
    np.testing.assert_allclose(S.effective_robustness(fit, x, y), 0.0, atol=1e-9)
    line = S.fit_on_the_line(x, y)
    assert line.r2 < fit.r2
    # on straight data the curve has no curvature
    flat = S.fit_curve(x, st.norm.cdf(0.7 * z + 0.1))
    assert flat.a == pytest.approx(0.0, abs=1e-9) and flat.b == pytest.approx(0.7)


# ------------------------------------------------------------------------------------------
# OOD detection


def _scores(seed: int, ties: bool):
    rng = np.random.default_rng(seed)
    pos = rng.normal(0.8, 1.0, size=rng.integers(20, 300))
    neg = rng.normal(0.0, 1.0, size=rng.integers(20, 300))
    if ties:
        pos, neg = np.round(pos, 1), np.round(neg, 1)
    return pos, neg


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_auroc_aupr_fpr95_match_sklearn(seed, ties):
    pos, neg = _scores(seed, ties)
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    assert S.auroc(pos, neg) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert S.aupr(pos, neg) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    for target in (0.95, 0.8, 0.5, 1.0):
        ref = fpr[np.argmax(tpr >= target)]
        assert S.fpr_at_tpr(pos, neg, target) == pytest.approx(ref, abs=1e-12), target


def test_auroc_exact_with_saturated_float32_and_all_ties():
    assert S.auroc([1.0, 1.0], [1.0, 1.0]) == 0.5
    assert S.auroc([3.0], [1.0, 2.0]) == 1.0 and S.auroc([0.0], [1.0, 2.0]) == 0.0
    n = 200_000
    rng = np.random.default_rng(0)
    pos = rng.normal(1, 1, n).astype(np.float32)
    neg = rng.normal(0, 1, n).astype(np.float32)
    y = np.r_[np.ones(n), np.zeros(n)]
    assert S.auroc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]), abs=1e-12)
    with pytest.raises(ValueError):
        S.auroc([], [1.0])
    with pytest.raises(ValueError):
        S.auroc([np.nan], [1.0])


def test_ood_detection_orientation():
    rng = np.random.default_rng(0)
    k = 10
    n_in, n_out = 400, 300
    in_logits = rng.normal(size=(n_in, k))
    in_logits[np.arange(n_in), rng.integers(0, k, n_in)] += 4.0  # confident
    out_logits = rng.normal(size=(n_out, k))  # diffuse
    res = S.ood_detection(in_logits, out_logits)
    assert set(res) == {"msp", "energy"}
    for name in res:
        assert set(res[name]) == {"auroc", "aupr", "fpr95"}
        assert res[name]["auroc"] > 0.8 and res[name]["fpr95"] < 0.6
    si, so = M.ood_scores(in_logits), M.ood_scores(out_logits)
    y = np.r_[np.ones(n_out), np.zeros(n_in)]  # OOD is positive
    assert res["msp"]["auroc"] == pytest.approx(roc_auc_score(y, -np.r_[so["msp"], si["msp"]]))
    assert res["energy"]["auroc"] == pytest.approx(roc_auc_score(y, np.r_[so["energy"], si["energy"]]))
    fpr, tpr, _ = roc_curve(y, np.r_[so["energy"], si["energy"]], drop_intermediate=False)
    assert res["energy"]["fpr95"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)])
    assert "POSITIVE" in S.OOD_CONVENTION and "out-of-distribution" in S.OOD_CONVENTION
    swapped = S.ood_detection(out_logits, in_logits)
    assert swapped["energy"]["auroc"] == pytest.approx(1 - res["energy"]["auroc"])


def test_ood_detection_saturated_msp_still_ranks():
    """MSP rounds to 1.0 for large logit gaps; ranking by log-MSP keeps the order."""
    in_logits = np.array([[60.0, 0.0], [70.0, 0.0], [80.0, 0.0]])
    out_logits = np.array([[40.0, 0.0], [45.0, 0.0]])
    assert (M.ood_scores(in_logits)["msp"] == 1.0).all()
    assert S.ood_detection(in_logits, out_logits)["msp"]["auroc"] == 1.0

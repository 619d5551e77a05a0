"""engine.metrics against scikit-learn references and direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from sklearn.metrics import accuracy_score, f1_score, log_loss

from engine import metrics as M

SEEDS = [0, 1, 2, 3, 4]


def _random_case(seed: int, n: int = 300, k: int = 7, absent: bool = False, groups: bool = False):
    """Probabilities with a class-dependent signal; with ``absent`` some classes never occur in the
    labels and one never gets predicted, so macro-F1's class set matters."""
    rng = np.random.default_rng(seed)
    classes = np.arange(k)
    if absent:
        classes = rng.choice(k, size=max(2, k - 3), replace=False)
    y = rng.choice(classes, size=n)
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 3.0)
    logits[np.arange(n), y] += rng.uniform(0.0, 2.5)
    if absent:
        logits[:, classes[0]] -= 15.0  # a present label class that is never predicted (p stays > 1e-12)
    p = softmax(logits, axis=1)
    g = rng.integers(0, 5, size=n) if groups else None
    return p, y, g


def _ece_loop(p: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    conf = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for i in range(n_bins):
        lo, hi = edges[i], edges[i + 1]
        inside = (conf > lo) & (conf <= hi) if i > 0 else (conf >= lo) & (conf <= hi)
        if inside.any():
            total += inside.sum() / len(y) * abs(correct[inside].mean() - conf[inside].mean())
    return total


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("absent", [False, True])
def test_compute_matches_sklearn(seed, absent):
    p, y, _ = _random_case(seed, absent=absent)
    k = p.shape[1]
    pred = p.argmax(axis=1)
    out = M.compute(["accuracy", "macro_f1", "nll", "ece", "brier"], p, y)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    present = np.union1d(y, pred)
    ref_f1 = f1_score(y, pred, average="macro", labels=present, zero_division=0)
    assert out["macro_f1"] == pytest.approx(ref_f1, abs=1e-12)
    assert out["nll"] == pytest.approx(log_loss(y, p, labels=np.arange(k)), rel=1e-9)
    assert out["ece"] == pytest.approx(_ece_loop(p, y), abs=1e-12)
    onehot = np.eye(k)[y]
    assert out["brier"] == pytest.approx(np.mean(np.sum((p - onehot) ** 2, axis=1)), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_macro_f1_absent_classes_and_ties(seed):
    rng = np.random.default_rng(seed)
    k = 12
    y = rng.choice([0, 2, 3, 7], size=80)
    q = rng.choice([0, 2, 5, 7, 11], size=80)
    present = np.union1d(y, q)
    ref = f1_score(y, q, average="macro", labels=present, zero_division=0)
    assert M.macro_f1(y, q, k) == pytest.approx(ref, abs=1e-12)
    # sklearn's default (labels=None) uses the same class set
    assert M.macro_f1(y, q, k) == pytest.approx(f1_score(y, q, average="macro", zero_division=0), abs=1e-12)


def test_argmax_ties_go_to_lowest_index():
    p = np.array([[0.5, 0.5], [0.5, 0.5]])
    y = np.array([0, 1])
    pe = M.per_example(p, y)
    assert pe["pred"].tolist() == [0, 0]
    assert pe["correct"].tolist() == [True, False]


def test_ece_hand_computed():
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.35, 0.65], [0.25, 0.75]])
    y = np.array([0, 1, 1, 1])
    # bin of 0.9: n=2, acc .5, conf .9 -> .2 ; 0.65: |1-.65|/4 ; 0.75: |1-.75|/4
    expected = 2 / 4 * 0.4 + 1 / 4 * 0.35 + 1 / 4 * 0.25
    assert M.ece(p, y) == pytest.approx(expected, abs=1e-12)
    assert M.compute(["ece"], p, y)["ece"] == pytest.approx(expected, abs=1e-12)


def test_ece_bin_edges_follow_the_convention():
    edges = np.linspace(0.0, 1.0, 16)
    e9 = edges[9]  # exactly on an edge -> the lower bin (lo, hi]
    p = np.vstack([np.full(15, 1 / 15), [e9, 1 - e9] + [0.0] * 13, [1.0] + [0.0] * 14])
    y = np.array([0, 0, 0])
    rel = M.reliability(p, y)
    assert p[0].max() == edges[1]
    assert rel["count"][0] == 1  # conf == 1/15 closes the first bin [0, 1/15]
    assert rel["count"][8] == 1 and rel["count"][9] == 0
    assert rel["count"][14] == 1  # conf == 1 in the last bin
    assert rel["count"].sum() == 3
    assert M.ece(p, y) == pytest.approx(_ece_loop(p, y), abs=1e-15)
    assert "(lo, hi]" in M.ECE_CONVENTION and "15" in M.ECE_CONVENTION


@pytest.mark.parametrize("seed", SEEDS)
def test_ece_matches_loop_with_other_bin_counts(seed):
    p, y, _ = _random_case(seed, k=4)
    for b in (1, 5, 10, 20):
        assert M.ece(p, y, n_bins=b) == pytest.approx(_ece_loop(p, y, b), abs=1e-12)


def test_brier_formula_and_range():
    p, y, _ = _random_case(7, k=5)
    pe = M.per_example(p, y)
    direct = np.sum((p - np.eye(5)[y]) ** 2, axis=1)
    np.testing.assert_allclose(pe["brier"], direct, atol=1e-12)
    assert (pe["brier"] >= 0).all() and (pe["brier"] <= 2).all()
    worst = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert M.compute(["brier"], worst, np.array([0, 1]))["brier"] == pytest.approx(2.0)
    best = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert M.compute(["brier"], best, np.array([0, 1]))["brier"] == pytest.approx(0.0)


def test_nll_clips_at_1e_12():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    pe = M.per_example(p, np.array([1, 0]))
    assert pe["nll"][0] == pytest.approx(-np.log(1e-12))
    assert pe["nll"][1] == pytest.approx(np.log(2))
    assert np.isfinite(M.compute(["nll"], p, np.array([1, 0]))["nll"])


def test_per_example_float32_input():
    p, y, _ = _random_case(3)
    a = M.per_example(p.astype(np.float32), y)
    b = M.per_example(p, y)
    assert a["nll"].dtype == np.float64
    np.testing.assert_allclose(a["nll"], b["nll"], rtol=1e-5)
    np.testing.assert_array_equal(a["correct"], b["correct"])


def test_group_accuracy_and_worst_group():
    correct = np.array([1, 0, 1, 1, 0, 0, 1, 1], dtype=bool)
    groups = np.array([10, 2, 2, 10, 3, 3, 2, 10])
    stats = M.group_accuracy(correct, groups)
    assert [s.group for s in stats] == ["2", "3", "10"]  # numeric order, not string order
    assert [s.count for s in stats] == [3, 2, 3]
    assert [s.accuracy for s in stats] == pytest.approx([2 / 3, 0.0, 1.0])
    assert M.worst_group(stats).group == "3"
    with_empty = [M.GroupStat("empty", 0.0, 0), *stats[:1], M.GroupStat("x", 0.5, 4)]
    assert M.worst_group(with_empty).group == "x"
    names = M.group_accuracy(correct, np.array(list("bbaabbab"), dtype=object))
    assert [s.group for s in names] == ["a", "b"]
    with pytest.raises(ValueError):
        M.worst_group([M.GroupStat("e", 0.0, 0)])


def test_compute_worst_group_accuracy():
    p, y, g = _random_case(11, groups=True)
    correct = p.argmax(1) == y
    ref = min(correct[g == v].mean() for v in np.unique(g))
    assert M.compute(["worst_group_accuracy"], p, y, g)["worst_group_accuracy"] == pytest.approx(ref)
    with pytest.raises(ValueError, match="group"):
        M.compute(["worst_group_accuracy"], p, y)


def test_registry():
    required = {"accuracy", "macro_f1", "nll", "ece", "brier", "worst_group_accuracy"}
    assert required <= set(M.METRICS)
    for name, m in M.METRICS.items():
        assert m.name == name and m.label and m.description.endswith(".")
        assert m.description.count(". ") == 0  # one sentence
    assert not M.METRICS["nll"].higher_is_better and M.METRICS["accuracy"].higher_is_better
    assert not M.METRICS["ece"].higher_is_better and not M.METRICS["brier"].higher_is_better


def test_input_errors():
    p, y, _ = _random_case(0, n=10, k=3)
    with pytest.raises(ValueError, match="Unknown"):
        M.compute(["accuracy", "auc"], p, y)
    with pytest.raises(ValueError):
        M.compute(["accuracy"], p, np.append(y, 0))
    with pytest.raises(ValueError):
        M.compute(["accuracy"], p, np.full(10, 3))
    with pytest.raises(ValueError):
        M.compute(["accuracy"], p[0], y[:1])
    with pytest.raises(ValueError):
        M.compute(["accuracy"], p, y + 0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_metrics_equal_compute_on_repeated_rows(seed):
    """Integer weights == compute() on the data with each row repeated that many times."""
    p, y, g = _random_case(seed, n=120, k=6, absent=True, groups=True)
    names = list(M.METRICS)
    rng = np.random.default_rng(seed + 100)
    w = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=6)
    w[0] = 1
    got = M.compute_weighted(names, p, y, w, groups=g)
    for r in range(len(w)):
        rep = np.repeat(np.arange(len(y)), w[r])
        ref = M.compute(names, p[rep], y[rep], g[rep])
        for name in names:
            assert got[name][r] == pytest.approx(ref[name], abs=1e-12), (name, r)


def test_energy_matches_naive_and_survives_large_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 10)) * 3
    for T in (1.0, 2.0, 0.5):
        s = M.ood_scores(z, T)
        naive = -T * np.log(np.sum(np.exp(z / T), axis=1))
        np.testing.assert_allclose(s["energy"], naive, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s["msp"], softmax(z, axis=1).max(axis=1), rtol=1e-12)
    big = z * 1000.0 + 5000.0  # exp overflows in the naive formula
    with np.errstate(over="ignore"):
        naive_big = -np.log(np.sum(np.exp(big), axis=1))
    assert np.isinf(naive_big).all()
    s = M.ood_scores(big.astype(np.float32))
    assert np.all(np.isfinite(s["energy"])) and np.all(np.isfinite(s["msp"]))
    np.testing.assert_allclose(s["energy"], -logsumexp(big.astype(np.float32).astype(np.float64), axis=1), rtol=1e-12)
    # shift identity: E(z + c) = E(z) - c
    np.testing.assert_allclose(M.ood_scores(z + 1e4)["energy"], M.ood_scores(z)["energy"] - 1e4, rtol=1e-10)


def test_log_msp_keeps_resolution_where_msp_rounds_to_one():
    z = np.array([[50.0, 0.0], [60.0, 0.0]])
    s = M.ood_scores(z)
    assert (s["msp"] == 1.0).all()
    assert s["log_msp"][0] < s["log_msp"][1] < 0

"""Resampling shifts: realised priors, imbalance ratios, group shares, determinism and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.conditions.resample import (
    Resampled,
    class_imbalance,
    dirichlet_label_shift,
    group_shift,
    tweak_one_label_shift,
)


def balanced_labels(k: int = 10, per_class: int = 300) -> np.ndarray:
    labels = np.repeat(np.arange(k), per_class)  # deliberately class-sorted, like many test sets
    return labels


def uneven_labels() -> np.ndarray:
    sizes = [400, 250, 200, 900, 320]
    return np.repeat(np.arange(len(sizes)), sizes)


def check_common(r: Resampled, n_rows: int) -> None:
    assert isinstance(r, Resampled)
    assert r.indices.dtype == np.int64 and r.indices.ndim == 1
    assert r.indices.min() >= 0 and r.indices.max() < n_rows
    json.dumps(r.info)  # must be plain JSON


# --------------------------------------------------------------------------------------------------
# Dirichlet label shift


def test_dirichlet_realised_priors_approach_target_for_large_n():
    labels = balanced_labels()
    r = dirichlet_label_shift(labels, 10, alpha=1.0, seed=3, n=200_000)
    check_common(r, len(labels))
    assert len(r.indices) == 200_000
    target = np.array(r.info["target_priors"])
    realised = np.bincount(labels[r.indices], minlength=10) / len(r.indices)
    assert np.allclose(realised, r.info["realised_priors"], atol=1e-4)
    assert np.max(np.abs(realised - target)) < 0.006
    assert r.info["target_priors"] == r.info["effective_priors"]
    assert r.info["renormalised"] is False
    assert sum(r.info["counts"]) == 200_000
    assert r.info["seed"] == 3 and r.info["parameters"]["alpha"] == 1.0


def test_smaller_alpha_gives_stronger_shift_over_many_seeds():
    labels = balanced_labels(k=5, per_class=100)
    k = 5
    uniform = np.full(k, 1 / k)
    mean_tv, mean_kl = [], []
    for alpha in (0.1, 1.0, 10.0, 100.0):
        tvs, kls = [], []
        for seed in range(150):
            p = np.array(dirichlet_label_shift(labels, k, alpha, seed, n=500).info["realised_priors"])
            tvs.append(0.5 * np.abs(p - uniform).sum())
            nz = p > 0
            kls.append(float(np.sum(p[nz] * np.log(p[nz] / uniform[nz]))))
        mean_tv.append(np.mean(tvs))
        mean_kl.append(np.mean(kls))
    assert all(a > b for a, b in zip(mean_tv, mean_tv[1:])), mean_tv
    assert all(a > b for a, b in zip(mean_kl, mean_kl[1:])), mean_kl


def test_dirichlet_renormalises_over_present_classes_and_says_so():
    labels = np.repeat([0, 1, 3], 200)  # class 2 absent
    r = dirichlet_label_shift(labels, 4, alpha=5.0, seed=0, n=1000)
    check_common(r, len(labels))
    assert r.info["counts"][2] == 0
    assert r.info["renormalised"] is True and "[2]" in r.info["notes"][0]
    eff = np.array(r.info["effective_priors"])
    assert eff[2] == 0 and abs(eff.sum() - 1) < 1e-3
    target = np.array(r.info["target_priors"])
    assert np.allclose(eff[[0, 1, 3]], target[[0, 1, 3]] / target[[0, 1, 3]].sum(), atol=2e-4)


def test_dirichlet_default_n_and_order_not_class_sorted():
    labels = balanced_labels()
    r = dirichlet_label_shift(labels, 10, alpha=50.0, seed=1)
    assert len(r.indices) == len(labels)
    y = labels[r.indices]
    assert np.any(np.diff(y) < 0), "indices must be shuffled, not grouped by class"


# --------------------------------------------------------------------------------------------------
# tweak-one


def test_tweak_one_realised_share_close_to_rho():
    labels = balanced_labels(k=6, per_class=200)
    r = tweak_one_label_shift(labels, 6, rho=0.7, seed=5, cls=2, n=60_000)
    check_common(r, len(labels))
    counts = np.bincount(labels[r.indices], minlength=6)
    assert abs(counts[2] / 60_000 - 0.7) < 0.01
    assert abs(r.info["realised_share"] - 0.7) < 0.01
    others = np.delete(counts, 2) / 60_000
    assert np.allclose(others, 0.3 / 5, atol=0.005)
    assert r.info["target_priors"][2] == 0.7


def test_tweak_one_default_class_is_seeded_and_present():
    labels = np.repeat([0, 2, 4], 100)  # classes 1 and 3 absent
    chosen = {tweak_one_label_shift(labels, 5, 0.5, seed=s).info["parameters"]["cls"] for s in range(30)}
    assert chosen <= {0, 2, 4} and len(chosen) > 1
    a = tweak_one_label_shift(labels, 5, 0.5, seed=7)
    b = tweak_one_label_shift(labels, 5, 0.5, seed=7)
    assert a.info == b.info and np.array_equal(a.indices, b.indices)
    # the absent classes' share went to the present ones: cls keeps rho
    assert a.info["effective_priors"][a.info["parameters"]["cls"]] == 0.5
    assert a.info["notes"]


# --------------------------------------------------------------------------------------------------
# class imbalance


@pytest.mark.parametrize("ratio", [1.0, 2.0, 5.0, 10.0, 50.0])
def test_class_imbalance_realises_ratio_without_replacement(ratio):
    labels = uneven_labels()
    r = class_imbalance(labels, 5, ratio=ratio, seed=11)
    check_common(r, len(labels))
    assert len(np.unique(r.indices)) == len(r.indices), "subsampling must be without replacement"
    counts = np.bincount(labels[r.indices], minlength=5)
    n_max = 200  # smallest class
    assert counts.max() == n_max
    assert counts.min() == max(1, int(np.floor(n_max / ratio + 0.5)))
    assert abs(counts.max() / counts.min() - ratio) <= ratio * 0.5 / (n_max / ratio) + 1e-9
    assert r.info["realised_ratio"] == round(counts.max() / counts.min(), 4)
    # geometric profile along the seeded class order
    ordered = counts[r.info["class_order"]]
    assert np.all(np.diff(ordered) <= 0)
    expected = np.maximum(1, np.floor(n_max * ratio ** (-np.arange(5) / 4) + 0.5))
    assert np.array_equal(ordered, expected)


def test_class_imbalance_order_depends_on_seed_and_is_deterministic():
    labels = uneven_labels()
    orders = {tuple(class_imbalance(labels, 5, 10.0, seed=s).info["class_order"]) for s in range(10)}
    assert len(orders) > 1
    a, b = class_imbalance(labels, 5, 10.0, seed=4), class_imbalance(labels, 5, 10.0, seed=4)
    assert np.array_equal(a.indices, b.indices) and a.info == b.info


def test_class_imbalance_ratio_beyond_smallest_class_is_noted():
    labels = np.repeat([0, 1, 2], [5, 40, 40])
    r = class_imbalance(labels, 4, ratio=100.0, seed=0)
    counts = np.bincount(labels[r.indices], minlength=4)
    assert counts[:3].min() == 1 and counts.max() == 5 and counts[3] == 0
    assert r.info["realised_ratio"] == 5.0
    assert any("exceeds" in n for n in r.info["notes"])
    assert any("[3]" in n for n in r.info["notes"])  # absent class listed


# --------------------------------------------------------------------------------------------------
# group shift


def test_group_shift_realises_share_and_keeps_other_proportions():
    groups = np.repeat(np.array(["a", "b", "c", "d"]), [500, 300, 150, 50])
    r = group_shift(groups, "d", share=0.6, seed=2, n=10_000)
    check_common(r, len(groups))
    g = groups[r.indices]
    assert np.sum(g == "d") == 6000
    assert r.info["realised_share"] == 0.6
    rest = np.array([np.sum(g == x) for x in "abc"])
    exact = 4000 * np.array([500, 300, 150]) / 950  # the remaining 4000 split 500:300:150
    assert rest.sum() == 4000 and np.all(np.abs(rest - exact) < 1)
    assert r.info["group_counts"] == {"a": 2105, "b": 1263, "c": 632, "d": 6000}
    # within a group, rows are drawn with replacement from that group's rows
    assert set(r.indices[g == "d"]) <= set(np.flatnonzero(groups == "d"))


def test_group_shift_defaults_and_non_string_groups():
    groups = np.array([0, 1] * 100)
    r = group_shift(groups, "1", share=0.25, seed=0)
    assert len(r.indices) == 200
    assert np.sum(groups[r.indices] == 1) == 50


# --------------------------------------------------------------------------------------------------
# determinism and errors


@pytest.mark.parametrize(
    "make",
    [
        lambda s: dirichlet_label_shift(balanced_labels(), 10, 0.5, s),
        lambda s: tweak_one_label_shift(balanced_labels(), 10, 0.5, s),
        lambda s: class_imbalance(uneven_labels(), 5, 10.0, s),
        lambda s: group_shift(np.array(list("abc") * 50), "b", 0.5, s),
    ],
)
def test_same_seed_same_rows_different_seed_different_rows(make):
    a, b, c = make(0), make(0), make(1)
    assert np.array_equal(a.indices, b.indices) and a.info == b.info
    assert not np.array_equal(a.indices, c.indices)


LABELS = np.array([0, 1, 2, 1, 0])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: dirichlet_label_shift(LABELS, 3, 0.0, 0), "alpha"),
        (lambda: dirichlet_label_shift(LABELS, 3, float("nan"), 0), "alpha"),
        (lambda: dirichlet_label_shift(LABELS, 3, 1.0, -1), "seed"),
        (lambda: dirichlet_label_shift(LABELS, 3, 1.0, 1.5), "seed"),
        (lambda: dirichlet_label_shift(LABELS, 2, 1.0, 0), "labels must lie in 0..1"),
        (lambda: dirichlet_label_shift(LABELS, 0, 1.0, 0), "num_classes"),
        (lambda: dirichlet_label_shift(np.array([]), 3, 1.0, 0), "empty"),
        (lambda: dirichlet_label_shift(LABELS.reshape(5, 1), 3, 1.0, 0), "1-D"),
        (lambda: dirichlet_label_shift(np.array(["a", "b"]), 3, 1.0, 0), "integer"),
        (lambda: dirichlet_label_shift(LABELS, 3, 1.0, 0, n=0), "n must be a positive integer"),
        (lambda: tweak_one_label_shift(LABELS, 3, 1.5, 0), "rho"),
        (lambda: tweak_one_label_shift(LABELS, 3, 0.5, 0, cls=3), "cls"),
        (lambda: tweak_one_label_shift(LABELS, 4, 0.5, 0, cls=3), "no rows"),
        (lambda: tweak_one_label_shift(np.zeros(4, int), 1, 0.5, 0), "at least 2"),
        (lambda: class_imbalance(LABELS, 3, 0.5, 0), "ratio"),
        (lambda: group_shift(np.array(["x", "y"]), "z", 0.5, 0), "'z' does not occur.*x, y"),
        (lambda: group_shift(np.array(["x", "y"]), "x", -0.1, 0), "share"),
        (lambda: group_shift(np.array(["x", "x"]), "x", 0.5, 0), "only group"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_parameter(call, words):
    with pytest.raises(ValueError, match=words):
        call()

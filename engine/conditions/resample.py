"""Shifts that change *which* test examples are seen, not what they look like.

Label shift, class imbalance and subpopulation shift are simulated by resampling rows of an existing
test set. Each function returns row indices into that test set plus a JSON-serialisable record of
the realised facts (seed, parameters, target and realised priors, counts), because a study must
report the shift that actually happened, not only the one that was asked for.

Every draw comes from ``np.random.default_rng(seed)``, so a (data, parameters, seed) triple always
gives the same rows. Returned indices are in a seeded random order, never grouped by class, so a
streaming consumer (e.g. test-time adaptation) does not see a class-sorted stream by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

__all__ = [
    "Resampled",
    "dirichlet_label_shift",
    "tweak_one_label_shift",
    "class_imbalance",
    "group_shift",
]


@dataclass
class Resampled:
    """Row indices (int64) into the test set, and the realised facts of the shift as plain JSON."""

    indices: np.ndarray
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# argument checks


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def _check_labels(labels: object, num_classes: object) -> tuple[np.ndarray, int]:
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or int(num_classes) < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    k = int(num_classes)
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices, got an array of shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError("labels is empty; resampling needs at least one test example.")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"labels must hold integer class indices, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= k:
        raise ValueError(
            f"labels must lie in 0..{k - 1} for num_classes={k}, but they range from {lo} to {hi}."
        )
    return arr, k


def _check_n(n: object, default: int) -> int:
    if n is None:
        return default
    if isinstance(n, bool) or not isinstance(n, Integral) or int(n) < 1:
        raise ValueError(f"n must be a positive integer (the number of rows to draw) or None, got {n!r}.")
    return int(n)


def _check_real(name: str, value: object, lo: float, hi: float | None, *, lo_open: bool = False, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number ({what}), got {value!r}.")
    v = float(value)
    if (v <= lo if lo_open else v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must be {what}, got {v!r}.")
    return v


# --------------------------------------------------------------------------------------------------
# shared machinery


def _draw_rows(codes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ``counts[c]`` rows with replacement from the rows whose code is ``c``, in random order.

    Vectorised: rows are sorted by code once, and each output slot picks a uniform offset into its
    code's block. Every code with a positive count must have at least one row.
    """
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=len(counts))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    slot_code = np.repeat(np.arange(len(counts)), counts)
    offsets = starts[slot_code] + rng.integers(0, np.maximum(sizes[slot_code], 1))
    picked = order[offsets].astype(np.int64)
    return picked[rng.permutation(len(picked))]


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in values]


def _realised(labels: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(labels[indices], minlength=k)
    return counts, counts / max(len(indices), 1)


def _sample_by_priors(
    labels: np.ndarray,
    k: int,
    priors: np.ndarray,
    n: int,
    rng: np.random.Generator,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Counts ~ Multinomial(n, priors) over present classes, then rows with replacement per class.

    A class with prior mass but no rows in the test set cannot supply examples; its mass is removed
    and the priors are renormalised over the present classes (noted). Returns (indices, effective
    priors).
    """
    present = np.bincount(labels, minlength=k) > 0
    effective = np.where(present, priors, 0.0)
    absent_mass = float(priors[~present].sum())
    if absent_mass > 0:
        missing = _ints(np.flatnonzero(~present & (priors > 0)))
        notes.append(
            f"Classes {missing} have no rows in the test set; their prior mass ({absent_mass:.4f}) was "
            "removed and the priors renormalised over the present classes."
        )
    total = float(effective.sum())
    if total <= 0:
        raise ValueError("The target priors put no mass on any class present in the test set.")
    effective = effective / total
    counts = rng.multinomial(n, effective)
    return _draw_rows(labels, counts, rng), effective


def _label_info(
    shift: str,
    seed: int,
    parameters: dict,
    labels: np.ndarray,
    k: int,
    indices: np.ndarray,
    target: np.ndarray,
    effective: np.ndarray,
    notes: list[str],
) -> dict:
    counts, realised = _realised(labels, indices, k)
    return {
        "shift": shift,
        "seed": seed,
        "parameters": parameters,
        "n": int(len(indices)),
        "num_classes": k,
        "target_priors": _rounded(target),
        "effective_priors": _rounded(effective),
        "realised_priors": _rounded(realised),
        "counts": _ints(counts),
        "source_counts": _ints(np.bincount(labels, minlength=k)),
        "renormalised": bool(notes),
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------------
# label shift


def dirichlet_label_shift(
    labels: np.ndarray, num_classes: int, alpha: float, seed: int, n: int | None = None
) -> Resampled:
    """Resample the test set to class priors drawn from a symmetric Dirichlet(alpha).

    Target priors ``p ~ Dirichlet(alpha * 1_K)``; class counts ``~ Multinomial(n, p)`` (``n``
    defaults to the test-set size); rows are drawn with replacement within each class. Smaller
    ``alpha`` gives priors further from uniform, i.e. a stronger shift. If ``p`` puts mass on a class
    with no rows in the test set, ``p`` is renormalised over the present classes before the counts
    are drawn (equivalent in distribution to a Dirichlet over the present classes only) and
    ``info["notes"]`` says so.
    """
    labels, k = _check_labels(labels, num_classes)
    alpha = _check_real("alpha", alpha, 0.0, None, lo_open=True, what="a concentration greater than 0")
    seed = _check_seed(seed)
    n = _check_n(n, len(labels))
    rng = np.random.default_rng(seed)

    target = rng.dirichlet(np.full(k, alpha))
    if not np.all(np.isfinite(target)) or target.sum() <= 0:  # pathological underflow at tiny alpha
        target = np.zeros(k)
        target[rng.integers(k)] = 1.0
    notes: list[str] = []
    present = np.bincount(labels, minlength=k) > 0
    if target[present].sum() <= 0:
        # All mass underflowed onto absent classes: by the Dirichlet aggregation property, a fresh
        # Dirichlet over the present classes has the distribution the renormalisation would give.
        sub = rng.dirichlet(np.full(int(present.sum()), alpha))
        effective_in = np.zeros(k)
        effective_in[present] = sub
        notes.append(
            "The drawn priors put all their mass on classes absent from the test set; priors over the "
            "present classes were redrawn from the same Dirichlet."
        )
        indices, effective = _sample_by_priors(labels, k, effective_in, n, rng, notes)
    else:
        indices, effective = _sample_by_priors(labels, k, target, n, rng, notes)
    info = _label_info(
        "dirichlet_label_shift", seed, {"alpha": alpha, "n": n}, labels, k, indices, target, effective, notes
    )
    return Resampled(indices=indices, info=info)


def tweak_one_label_shift(
    labels: np.ndarray,
    num_classes: int,
    rho: float,
    seed: int,
    cls: int | None = None,
    n: int | None = None,
) -> Resampled:
    """Resample so that one class has prior ``rho`` and the others share ``1 - rho`` equally.

    This is the "tweak-one" shift of Lipton et al. (2018). ``cls`` defaults to a class chosen by the
    seed among the classes present in the test set. Counts ``~ Multinomial(n, p)``, rows drawn with
    replacement. If some other classes are absent from the test set, their share goes to the other
    present classes (so ``cls`` keeps exactly ``rho``) and ``info["notes"]`` says so.
    """
    labels, k = _check_labels(labels, num_classes)
    if k < 2:
        raise ValueError(f"num_classes must be at least 2 for a tweak-one shift, got {k}.")
    rho = _check_real("rho", rho, 0.0, 1.0, what="a prior between 0 and 1")
    seed = _check_seed(seed)
    n = _check_n(n, len(labels))
    rng = np.random.default_rng(seed)

    source_counts = np.bincount(labels, minlength=k)
    present = source_counts > 0
    if cls is None:
        cls = int(rng.choice(np.flatnonzero(present)))
    else:
        if isinstance(cls, bool) or not isinstance(cls, Integral) or not 0 <= int(cls) < k:
            raise ValueError(f"cls must be a class index in 0..{k - 1} or None, got {cls!r}.")
        cls = int(cls)
        if rho > 0 and not present[cls]:
            raise ValueError(f"cls={cls} has no rows in the test set, so it cannot be given prior rho={rho}.")

    target = np.full(k, (1.0 - rho) / (k - 1))
    target[cls] = rho
    others = present.copy()
    others[cls] = False
    notes: list[str] = []
    if rho < 1 and not others.any():
        raise ValueError(
            f"rho must be 1 when class {cls} is the only class present in the test set, got rho={rho}."
        )
    if rho < 1 and not others[np.arange(k) != cls].all():
        missing = _ints(np.flatnonzero(~present & (np.arange(k) != cls)))
        notes.append(
            f"Classes {missing} have no rows in the test set; the share 1 - rho was split equally over "
            "the other present classes instead."
        )
    effective = np.where(others, (1.0 - rho) / max(int(others.sum()), 1), 0.0)
    effective[cls] = rho
    indices, effective = _sample_by_priors(labels, k, effective, n, rng, [])
    info = _label_info(
        "tweak_one_label_shift", seed, {"rho": rho, "cls": cls, "n": n}, labels, k, indices, target, effective, notes
    )
    counts, _ = _realised(labels, indices, k)
    info["realised_share"] = round(float(counts[cls]) / n, 4)
    return Resampled(indices=indices, info=info)


# --------------------------------------------------------------------------------------------------
# class imbalance


def class_imbalance(labels: np.ndarray, num_classes: int, ratio: float, seed: int) -> Resampled:
    """Long-tail subsampling of the test set, without replacement, with imbalance ratio ``ratio``.

    The exact rule: let the K' classes present in the test set be put in a seed-dependent random
    order (rank ``r = 0 .. K'-1``), and let ``n_max`` be the size of the *smallest* present class,
    so that every class can supply its quota without replacement. The class at rank ``r`` keeps

        ``quota_r = max(1, floor(n_max * ratio ** (-r / (K' - 1)) + 0.5))``

    rows, chosen uniformly at random without replacement (with K' = 1 the single class keeps
    ``n_max`` rows). The head class keeps ``n_max`` rows and the tail class about ``n_max / ratio``,
    so the realised ratio (recorded) equals ``ratio`` up to rounding, and is smaller than asked only
    when ``ratio > n_max`` (the tail keeps its one row; ``info["notes"]`` says so). Classes absent
    from the test set are left out and listed. ``ratio = 1`` gives a class-balanced subsample.
    """
    labels, k = _check_labels(labels, num_classes)
    ratio = _check_real("ratio", ratio, 1.0, None, what="an imbalance ratio of at least 1")
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)

    source_counts = np.bincount(labels, minlength=k)
    present = np.flatnonzero(source_counts > 0)
    kp = len(present)
    class_order = present[rng.permutation(kp)]
    n_max = int(source_counts[present].min())
    ranks = np.arange(kp)
    exponent = -ranks / (kp - 1) if kp > 1 else np.zeros(kp)
    quotas_ranked = np.maximum(1, np.floor(n_max * ratio**exponent + 0.5)).astype(np.int64)
    quotas = np.zeros(k, dtype=np.int64)
    quotas[class_order] = quotas_ranked

    # Random order within each class, grouped by class; keep the first quota rows of each class.
    keys = rng.random(len(labels))
    order = np.lexsort((keys, labels))
    starts = np.concatenate(([0], np.cumsum(source_counts)[:-1]))
    sorted_labels = labels[order]
    rank_in_class = np.arange(len(labels)) - starts[sorted_labels]
    kept = order[rank_in_class < quotas[sorted_labels]].astype(np.int64)
    indices = kept[rng.permutation(len(kept))]

    notes: list[str] = []
    absent = np.flatnonzero(source_counts == 0)
    if len(absent):
        notes.append(f"Classes {_ints(absent)} have no rows in the test set and were left out.")
    realised_ratio = float(quotas_ranked.max() / quotas_ranked.min())
    if kp > 1 and ratio > n_max:
        notes.append(
            f"ratio={ratio} exceeds the smallest class size ({n_max}), so the tail class keeps one row "
            f"and the realised ratio is {realised_ratio:.4f}."
        )
    counts, realised = _realised(labels, indices, k)
    info = {
        "shift": "class_imbalance",
        "seed": seed,
        "parameters": {"ratio": ratio},
        "rule": "quota_r = max(1, floor(n_max * ratio**(-r/(K'-1)) + 0.5)), n_max = smallest present class size",
        "n": int(len(indices)),
        "num_classes": k,
        "n_max": n_max,
        "class_order": _ints(class_order),
        "quotas": _ints(quotas),
        "realised_ratio": round(realised_ratio, 4),
        "realised_priors": _rounded(realised),
        "counts": _ints(counts),
        "source_counts": _ints(source_counts),
        "notes": notes,
    }
    return Resampled(indices=indices, info=info)


# --------------------------------------------------------------------------------------------------
# subpopulation shift


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder, stable ties)."""
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    left = total - int(base.sum())
    if left > 0:
        base[np.argsort(-(exact - base), kind="stable")[:left]] += 1
    return base


def group_shift(
    groups: np.ndarray, group: str, share: float, seed: int, n: int | None = None
) -> Resampled:
    """Resample (with replacement) so that ``group`` makes up ``share`` of the examples.

    ``group`` gets ``round(share * n)`` rows (``n`` defaults to the test-set size); the rest are
    split over the other groups in proportion to their sizes in the test set (largest-remainder
    rounding), so the other groups keep their relative proportions. Groups are compared as strings.
    """
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"groups must be a non-empty 1-D array of group names, got shape {arr.shape}.")
    names, codes = np.unique(arr.astype(str), return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    group = str(group)
    share = _check_real("share", share, 0.0, 1.0, what="a fraction between 0 and 1")
    seed = _check_seed(seed)
    n = _check_n(n, len(arr))
    hit = np.flatnonzero(names == group)
    if len(hit) == 0:
        shown = ", ".join(map(str, names[:10])) + (", ..." if len(names) > 10 else "")
        raise ValueError(f"group '{group}' does not occur in groups; present groups are: {shown}.")
    g = int(hit[0])
    source_counts = np.bincount(codes, minlength=len(names))
    n_group = int(np.floor(share * n + 0.5))
    others = np.arange(len(names)) != g
    if n_group < n and not others.any():
        raise ValueError(f"share must be 1 when '{group}' is the only group present, got share={share}.")
    counts = np.zeros(len(names), dtype=np.int64)
    counts[g] = n_group
    if n_group < n:
        counts[others] = _apportion(n - n_group, source_counts[others].astype(float))
    rng = np.random.default_rng(seed)
    indices = _draw_rows(codes, counts, rng)

    realised_counts = np.bincount(codes[indices], minlength=len(names))
    info = {
        "shift": "group_shift",
        "seed": seed,
        "parameters": {"group": group, "share": share, "n": n},
        "n": int(len(indices)),
        "target_share": round(share, 4),
        "realised_share": round(float(realised_counts[g]) / n, 4),
        "group_counts": {str(name): int(c) for name, c in zip(names, realised_counts)},
        "source_group_counts": {str(name): int(c) for name, c in zip(names, source_counts)},
        "notes": [],
    }
    return Resampled(indices=indices, info=info)

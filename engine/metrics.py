"""Metrics computed from predicted class probabilities: per example, aggregate and weighted.

Pure numpy (scipy.sparse for the weighted sums). ``probs`` is an ``(N, K)`` float array whose rows sum to 1 and ``labels`` holds ``N``
integer class indices in ``[0, K)``. The predicted class is the argmax of a row; ties go to the
lowest class index (numpy's ``argmax``), as with ``labels == probs.argmax(1)`` anywhere else.

Conventions pinned here (and shown in reports):

* NLL is the mean of ``-log p_true`` with ``p_true`` clipped to ``[NLL_CLIP, 1]`` (``1e-12``), so a
  confidently wrong example costs at most ``-log(1e-12) ≈ 27.6`` nats instead of infinity.
* Brier is the mean over examples of ``Σ_k (p_k − y_k)²`` with ``y`` one-hot, so it lies in ``[0, 2]``.
* ECE follows ``ECE_CONVENTION``.
* Macro-F1 averages the per-class F1 over the classes present in the labels or the predictions.
* Worst-group accuracy is the minimum accuracy over groups with at least one example.

``compute_weighted`` evaluates the same metrics under many rows of example weights at once (integer
resample counts give bootstrap replicates); ``engine.stats`` builds its intervals on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NLL_CLIP = 1e-12
ECE_BINS = 15
ECE_CONVENTION = (
    "ECE uses 15 equal-width bins on the top-label confidence (the maximum probability) over [0, 1], "
    "with edges linspace(0, 1, 16); every bin is (lo, hi] except the first, which is [0, 1/15]; "
    "ECE = Σ_b (n_b / N)·|acc_b − conf_b| over the non-empty bins, where the predicted class is the "
    "argmax (ties to the lowest class index)."
)

@dataclass(frozen=True)
class MetricDef:
    name: str
    label: str
    description: str
    higher_is_better: bool
    percent: bool = False  # a proportion, shown in percent (accuracy 0.613 -> 61.3%)


METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef(
            "accuracy",
            "Accuracy",
            "Fraction of examples whose highest-probability class is the true class.",
            True,
            percent=True,
        ),
        MetricDef(
            "macro_f1",
            "Macro F1",
            "Unweighted mean of the per-class F1 scores over the classes that occur in the labels "
            "or the predictions.",
            True,
            percent=True,
        ),
        MetricDef(
            "nll",
            "NLL",
            "Mean negative log-probability given to the true class (cross-entropy, in nats), with "
            "probabilities clipped at 1e-12.",
            False,
        ),
        MetricDef(
            "ece",
            "ECE",
            "Expected calibration error: the gap between confidence and accuracy in 15 equal-width "
            "confidence bins, averaged with weights proportional to the bin sizes.",
            False,
            percent=True,
        ),
        MetricDef(
            "brier",
            "Brier score",
            "Mean squared distance between the predicted probabilities and the one-hot true label, "
            "from 0 (perfect) to 2.",
            False,
        ),
        MetricDef(
            "worst_group_accuracy",
            "Worst-group accuracy",
            "Lowest accuracy over the groups (for example class × attribute) that have at least one "
            "example.",
            True,
            percent=True,
        ),
    )
}
PERCENT_METRICS = frozenset(m.name for m in METRICS.values() if m.percent)


@dataclass(frozen=True)
class GroupStat:
    group: str
    accuracy: float
    count: int


# --------------------------------------------------------------------------------------------
# input checks


def _as_probs_labels(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty (N, K) array, got shape {p.shape}.")
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    y = _as_labels(labels, p.shape[0])
    k = p.shape[1]
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got values from {y.min()} to {y.max()}.")
    return p, y


def _as_labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        if y.dtype == bool or not np.issubdtype(y.dtype, np.number) or not np.all(y == np.round(y)):
            raise ValueError("labels must be integer class indices.")
    return y.astype(np.int64, copy=False)


def _check_names(names: Sequence[str], groups) -> list[str]:
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; known: {sorted(METRICS)}.")
    if "worst_group_accuracy" in names and groups is None:
        raise ValueError("worst_group_accuracy needs a group for every example.")
    return names


def _group_codes(groups, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct groups and each example's index into them."""
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {g.shape}.")
    if g.dtype == object:
        g = g.astype(str)
    uniq, codes = np.unique(g, return_inverse=True)
    return uniq, codes.reshape(-1)


# --------------------------------------------------------------------------------------------
# per example and aggregate


def per_example(probs, labels) -> dict[str, np.ndarray]:
    """Per-example arrays: 'correct' (bool), 'confidence' (max prob), 'nll', 'brier', 'pred'."""
    p, y = _as_probs_labels(probs, labels)
    rows = np.arange(len(y))
    pred = p.argmax(axis=1)
    p_true = p[rows, y].astype(np.float64)
    conf = p[rows, pred].astype(np.float64)
    sq = np.einsum("ij,ij->i", p, p, dtype=np.float64)
    return {
        "correct": pred == y,
        "confidence": conf,
        "nll": -np.log(np.clip(p_true, NLL_CLIP, 1.0)),
        "brier": np.clip(sq - 2.0 * p_true + 1.0, 0.0, 2.0),
        "pred": pred,
    }


def _ece_bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each confidence under ECE_CONVENTION: (lo, hi], the first bin closed at 0."""
    inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.searchsorted(inner, conf, side="left")


def _ece_from(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    # Σ_b (n_b/N)|acc_b − conf_b| = (1/N) Σ_b |Σ_{i∈b} (correct_i − conf_i)|
    b = _ece_bin_index(conf, n_bins)
    gap = np.bincount(b, weights=correct.astype(np.float64) - conf, minlength=n_bins)
    return float(np.abs(gap).sum() / len(conf))


def ece(probs, labels, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error under ``ECE_CONVENTION`` (``n_bins`` equal-width bins)."""
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1.")
    p, y = _as_probs_labels(probs, labels)
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(y)), pred].astype(np.float64)
    return _ece_from(conf, pred == y, n_bins)


def reliability(probs, labels, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Reliability-diagram table under ``ECE_CONVENTION``: per bin 'lo', 'hi', 'count',
    'accuracy' and 'confidence' (NaN for empty bins)."""
    p, y = _as_probs_labels(probs, labels)
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(y)), pred].astype(np.float64)
    b = _ece_bin_index(conf, n_bins)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(b, weights=(pred == y).astype(np.float64), minlength=n_bins) / count
        mean_conf = np.bincount(b, weights=conf, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {"lo": edges[:-1], "hi": edges[1:], "count": count, "accuracy": acc, "confidence": mean_conf}


def macro_f1(labels, preds, num_classes: int) -> float:
    """Macro-averaged F1 over the classes present in ``labels`` or ``preds``.

    Equals scikit-learn's ``f1_score(labels, preds, average='macro', labels=present)``.
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    q = np.asarray(preds, dtype=np.int64).reshape(-1)
    if y.shape != q.shape or y.size == 0:
        raise ValueError("labels and preds must be non-empty and of the same length.")
    lo, hi = min(y.min(), q.min()), max(y.max(), q.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"labels and preds must lie in [0, {num_classes}).")
    n_true = np.bincount(y, minlength=num_classes)
    n_pred = np.bincount(q, minlength=num_classes)
    tp = np.bincount(y[y == q], minlength=num_classes)
    denom = n_true + n_pred
    present = denom > 0
    return float(np.mean(2.0 * tp[present] / denom[present]))


def group_accuracy(correct, groups) -> list[GroupStat]:
    """Accuracy and example count of every group, sorted by group value (numeric order for numbers)."""
    c = np.asarray(correct).reshape(-1)
    uniq, codes = _group_codes(groups, len(c))
    count = np.bincount(codes, minlength=len(uniq))
    hits = np.bincount(codes, weights=c.astype(np.float64), minlength=len(uniq))
    return [
        GroupStat(group=str(g), accuracy=float(h / n), count=int(n))
        for g, h, n in zip(uniq.tolist(), hits, count)
    ]


def worst_group(stats: Sequence[GroupStat]) -> GroupStat:
    """The group with the lowest accuracy among groups with count > 0 (first one on ties)."""
    present = [s for s in stats if s.count > 0]
    if not present:
        raise ValueError("No group has any example.")
    return min(present, key=lambda s: s.accuracy)


def compute(names: Sequence[str], probs, labels, groups=None) -> dict[str, float]:
    """The named metrics (keys of ``METRICS``) over all examples."""
    names = _check_names(names, groups)
    p, y = _as_probs_labels(probs, labels)
    pe = per_example(p, y)
    out: dict[str, float] = {}
    for name in names:
        if name == "accuracy":
            out[name] = float(pe["correct"].mean())
        elif name == "nll":
            out[name] = float(pe["nll"].mean())
        elif name == "brier":
            out[name] = float(pe["brier"].mean())
        elif name == "ece":
            out[name] = _ece_from(pe["confidence"], pe["correct"], ECE_BINS)
        elif name == "macro_f1":
            out[name] = macro_f1(y, pe["pred"], p.shape[1])
        elif name == "worst_group_accuracy":
            out[name] = worst_group(group_accuracy(pe["correct"], groups)).accuracy
    return out


# --------------------------------------------------------------------------------------------
# OOD scores


def _max_and_rest(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row max m and s = Σ_{j≠argmax} exp(z_j − m), so logsumexp = m + log1p(s) without the
    cancellation of computing Σ exp(z − m) − 1."""
    rows = np.arange(z.shape[0])
    arg = z.argmax(axis=1)
    m = z[rows, arg]
    e = np.exp(z - m[:, None])
    e[rows, arg] = 0.0
    return m, e.sum(axis=1)


def ood_scores(logits, T: float = 1.0) -> dict[str, np.ndarray]:
    """Per-example 'msp' (max softmax probability), 'log_msp' (its log, which keeps resolution
    where msp rounds to 1.0) and 'energy' = −T·logsumexp(logits / T), all float64 and overflow-free."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"logits must be a non-empty (N, K) array, got shape {z.shape}.")
    if not T > 0:
        raise ValueError("The temperature T must be positive.")
    m, s = _max_and_rest(z)
    log_msp = -np.log1p(s)
    zt = z / T
    mt, st = _max_and_rest(zt)
    energy = -T * (mt + np.log1p(st))
    return {"msp": np.exp(log_msp), "log_msp": log_msp, "energy": energy}


# --------------------------------------------------------------------------------------------
# weighted (vectorised bootstrap)


class WeightedMetrics:
    """Prepared per-example statistics of one prediction set; ``self(W)`` returns each metric under
    every row of the example-weight matrix ``W`` (R, N), all rows at once.

    A row of resample counts gives the metric on that bootstrap resample; a row of ones gives the
    plain metric. A class (or group) counts as present in a row when it has positive weight.
    Every metric is a function of weighted sums over examples, so all sums come from one product
    ``W @ F`` with a sparse ``F`` (N, D): columns for the total weight, correctness, NLL and Brier,
    then one-hot blocks (ECE bin × (correct − confidence), true class, predicted class, true class ×
    correct, group, group × correct). Cost O(R·N) whatever the number of classes.
    """

    def __init__(self, names: Sequence[str], probs, labels, groups=None, n_bins: int = ECE_BINS):
        self.names = _check_names(names, groups)
        p, y = _as_probs_labels(probs, labels)
        self.n = n = len(y)
        pe = per_example(p, y)
        correct = pe["correct"].astype(np.float64)
        self._block: dict[str, tuple[int, int]] = {}
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        width = 0

        def add(key: str, codes: np.ndarray, n_codes: int, values: np.ndarray | None = None) -> None:
            nonlocal width
            self._block[key] = (width, width + n_codes)
            cols.append(codes.astype(np.int64, copy=False) + width)
            vals.append(np.ones(n) if values is None else values)
            width += n_codes

        zeros = np.zeros(n, dtype=np.int64)
        add("total", zeros, 1)
        for name, v in (("accuracy", correct), ("nll", pe["nll"]), ("brier", pe["brier"])):
            if name in self.names:
                add(name, zeros, 1, v)
        if "ece" in self.names:
            add("ece", _ece_bin_index(pe["confidence"], n_bins), n_bins, correct - pe["confidence"])
        if "macro_f1" in self.names:
            k = p.shape[1]
            add("f1_true", y, k)
            add("f1_pred", pe["pred"], k)
            add("f1_tp", y, k, correct)
        if "worst_group_accuracy" in self.names:
            uniq, codes = _group_codes(groups, n)
            add("g_count", codes, len(uniq))
            add("g_hits", codes, len(uniq), correct)
        rows = np.tile(np.arange(n), len(cols))
        from scipy import sparse as _sparse  # imported on first use: keeps app start-up light

        f = _sparse.csr_array((np.concatenate(vals), (rows, np.concatenate(cols))), shape=(n, width))
        self._ft = f.T.tocsc()  # (D, N); Ft @ W.T is the fastest layout for scipy's sparse × dense

    def _sums(self, y: np.ndarray, key: str) -> np.ndarray:
        lo, hi = self._block[key]
        return y[:, lo:hi]

    def __call__(self, w) -> dict[str, np.ndarray]:
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 1:
            w = w[None, :]
        if w.ndim != 2 or w.shape[1] != self.n:
            raise ValueError(f"weights must have shape (R, {self.n}), got {w.shape}.")
        y = np.asarray(self._ft @ w.T).T  # (R, D)
        total = self._sums(y, "total")[:, 0]
        out: dict[str, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in self.names:
                if name in ("accuracy", "nll", "brier"):
                    out[name] = self._sums(y, name)[:, 0] / total
                elif name == "ece":
                    out[name] = np.abs(self._sums(y, "ece")).sum(axis=1) / total
                elif name == "macro_f1":
                    denom = self._sums(y, "f1_true") + self._sums(y, "f1_pred")
                    present = denom > 0
                    tp = self._sums(y, "f1_tp")
                    f1 = np.where(present, 2.0 * tp / np.where(present, denom, 1.0), 0.0)
                    out[name] = f1.sum(axis=1) / present.sum(axis=1)
                elif name == "worst_group_accuracy":
                    count = self._sums(y, "g_count")
                    hits = self._sums(y, "g_hits")
                    acc = np.where(count > 0, hits / np.where(count > 0, count, 1.0), np.inf)
                    res = acc.min(axis=1)
                    res[~np.isfinite(res)] = np.nan
                    out[name] = res
        return out


def compute_weighted(names: Sequence[str], probs, labels, weights, groups=None) -> dict[str, np.ndarray]:
    """The named metrics under each row of example weights ``weights`` (R, N); see WeightedMetrics."""
    return WeightedMetrics(names, probs, labels, groups)(weights)

"""Simulated shifts of tabular features: noise, missing values and calibration drift.

Each perturbation takes a standardised severity 1..5 so tables sit beside image corruptions in the
same study grid. Randomness comes from a counter-based hash of (seed, shift, dataset row index,
column), not from a stateful generator, so a row is perturbed identically whether it is processed
alone, in any batch, or in any order, and the same draws are reused at every severity (severities
are nested: a larger severity only scales the noise up or masks a superset of entries).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from numbers import Integral
from typing import Callable

import numpy as np

from engine.conditions.catalog import SEVERITIES

__all__ = ["ShiftDef", "TABULAR_SHIFTS", "perturb_table", "hash_uniform", "hash_normal"]


@dataclass(frozen=True)
class ShiftDef:
    """A named synthetic shift: what it does, its severity parameter and the five values it takes."""

    name: str
    description: str
    parameter: str
    values: tuple[float, float, float, float, float]
    fn: Callable[..., object]

    def value(self, severity: int) -> float:
        return self.values[check_severity(severity) - 1]


def check_severity(severity: object) -> int:
    if isinstance(severity, bool) or not isinstance(severity, Integral) or int(severity) not in SEVERITIES:
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r}.")
    return int(severity)


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def check_index(index: object, n: int) -> np.ndarray:
    """The dataset row index of each input row: non-negative integers, one per row."""
    arr = np.asarray(index)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"index must be a 1-D array with one dataset row index per input row ({n}), got shape {arr.shape}.")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"index must hold integer row indices, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    if n and int(arr.min()) < 0:
        raise ValueError("index must hold non-negative row indices; found a negative value.")
    return arr


def salt_for(name: str) -> int:
    """A stable per-shift salt (CRC-32 of the name), so different shifts use unrelated draws."""
    return zlib.crc32(name.encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# counter-based randomness (splitmix64 finaliser on uint64, wrapping arithmetic)

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _C1
    z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def _hash(seed: int, salt: int, index: np.ndarray, column: np.ndarray, stream: int) -> np.ndarray:
    """uint64 hash of (seed, salt, index[:, None], column[None, :], stream), shape (len(index), len(column))."""
    with np.errstate(over="ignore"):
        key = _mix(np.array([(seed * 0x9E3779B97F4A7C15 + salt) & _M64], dtype=np.uint64))
        key = _mix(key ^ np.uint64((salt * 0xD1B54A32D192ED03 + stream) & _M64))
        rows = _mix(key ^ _mix(np.asarray(index).astype(np.uint64) * _GOLDEN + np.uint64(1)))
        cols = np.asarray(column).astype(np.uint64) * _C2 + np.uint64(0x632BE59BD9B4E019)
        return _mix(rows[:, None] + cols[None, :])


def hash_uniform(seed: int, salt: int, index: np.ndarray, column: np.ndarray, stream: int = 0) -> np.ndarray:
    """Uniforms in the open interval (0, 1), float64, one per (index, column)."""
    h = _hash(seed, salt, index, column, stream)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def hash_normal(seed: int, salt: int, index: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Standard normals (Box-Muller on two independent hash streams), float64, one per (index, column)."""
    u1 = hash_uniform(seed, salt, index, column, stream=1)
    u2 = hash_uniform(seed, salt, index, column, stream=2)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# --------------------------------------------------------------------------------------------------
# the shifts (x is float32 (N, F); value is the severity parameter)


def _feature_noise(x, value, seed, index, feature_mean, feature_std, salt):
    z = hash_normal(seed, salt, index, np.arange(x.shape[1]))
    return x + (value * feature_std[None, :] * z).astype(np.float32)


def _missing_features(x, value, seed, index, feature_mean, feature_std, salt):
    u = hash_uniform(seed, salt, index, np.arange(x.shape[1]))
    return np.where(u < value, feature_mean[None, :].astype(np.float32), x)


def _scale_drift(x, value, seed, index, feature_mean, feature_std, salt):
    # One factor per column, seeded by (seed, column) only: the whole deployment drifts alike.
    z = hash_normal(seed, salt, np.zeros(1, dtype=np.int64), np.arange(x.shape[1]))[0]
    return x * np.exp(value * z).astype(np.float32)[None, :]


TABULAR_SHIFTS: dict[str, ShiftDef] = {
    d.name: d
    for d in (
        ShiftDef(
            "feature_noise",
            "Adds Gaussian noise to every feature with a standard deviation of s times that feature's training standard deviation.",
            "s",
            (0.1, 0.2, 0.4, 0.6, 1.0),
            _feature_noise,
        ),
        ShiftDef(
            "missing_features",
            "Marks a fraction p of entries as missing and fills them with the training mean, as a deployed pipeline would impute them.",
            "p",
            (0.05, 0.1, 0.2, 0.3, 0.5),
            _missing_features,
        ),
        ShiftDef(
            "scale_drift",
            "Multiplies each feature by its own factor exp(N(0, s^2)), shared by all rows, mimicking unit or calibration drift.",
            "s",
            (0.05, 0.1, 0.2, 0.3, 0.5),
            _scale_drift,
        ),
    )
}


def _check_stat(name: str, value: object, f: int, *, nonneg: bool) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (f,):
        raise ValueError(f"{name} must be a 1-D array with one value per feature ({f}), got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers; found NaN or infinity.")
    if nonneg and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative (it is a standard deviation); found a negative value.")
    return arr


def perturb_table(
    x: np.ndarray,
    name: str,
    severity: int,
    seed: int,
    index: np.ndarray,
    feature_mean: np.ndarray,
    feature_std: np.ndarray,
) -> np.ndarray:
    """Return a perturbed float32 copy of the ``(N, F)`` feature matrix ``x``.

    ``index`` holds each row's index in the full dataset (``Dataset.index``); the perturbation of a
    row depends only on (seed, name, severity, that index, the row's values), never on the batch.
    ``feature_mean`` and ``feature_std`` are training-set statistics per feature.
    """
    if name not in TABULAR_SHIFTS:
        raise ValueError(f"Unknown tabular shift {name!r}; valid choices are: {', '.join(TABULAR_SHIFTS)}.")
    shift = TABULAR_SHIFTS[name]
    value = shift.value(severity)
    seed = check_seed(seed)
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"x must be a 2-D (rows, features) array, got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"x must hold real numbers, got dtype {arr.dtype}.")
    arr = arr.astype(np.float32)  # always a copy: the input is never modified
    n, f = arr.shape
    idx = check_index(index, n)
    mean = _check_stat("feature_mean", feature_mean, f, nonneg=False)
    std = _check_stat("feature_std", feature_std, f, nonneg=True)
    if n == 0:
        return arr
    out = shift.fn(arr, value, seed, idx, mean, std, salt_for(name))
    return np.ascontiguousarray(out, dtype=np.float32)

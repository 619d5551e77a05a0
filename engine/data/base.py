"""The in-memory dataset every source loads into, and seeded stratified splits."""

from __future__ import annotations

import hashlib
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import numpy as np

from engine.core.errors import DataError

Modality = Literal["image", "tabular", "text"]


@dataclass
class Dataset:
    """A labelled dataset held in memory.

    ``x`` is float32 ``(N, C, H, W)`` in [0, 1] for images, float32 ``(N, F)`` for tables and a list
    of ``N`` strings for text. ``y`` holds int64 class indices into ``class_names``. ``index`` maps
    each row back to its row in the full source, so predictions can always be joined to the data.
    """

    source: str
    modality: Modality
    x: np.ndarray | list[str]
    y: np.ndarray
    class_names: list[str]
    groups: np.ndarray | None = None
    feature_names: list[str] | None = None
    index: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.index is None:
            self.index = np.arange(n, dtype=np.int64)
        if len(self.x) != n:
            raise DataError(f"Dataset {self.source} has {len(self.x)} inputs but {n} labels.")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (without the batch axis); ``()`` for text."""
        if self.modality == "text":
            return ()
        return tuple(np.asarray(self.x).shape[1:])

    def summary(self) -> "DataSummary":
        return DataSummary(self.source, self.modality, self.input_shape, list(self.class_names))

    def subset(self, idx: np.ndarray) -> "Dataset":
        idx = np.asarray(idx, dtype=np.int64)
        x = [self.x[i] for i in idx] if self.modality == "text" else self.x[idx]
        return Dataset(
            source=self.source,
            modality=self.modality,
            x=x,
            y=self.y[idx],
            class_names=self.class_names,
            groups=None if self.groups is None else self.groups[idx],
            feature_names=self.feature_names,
            index=self.index[idx],
            meta=dict(self.meta),
        )

    def fingerprint(self) -> str:
        """Content hash of inputs, labels, groups and class names (what a result depends on)."""
        h = hashlib.sha256()
        h.update(self.modality.encode())
        h.update("\x1f".join(self.class_names).encode())
        if self.modality == "text":
            for s in self.x:
                h.update(s.encode("utf-8", "surrogatepass"))
                h.update(b"\x1e")
        else:
            arr = np.ascontiguousarray(self.x)
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
        if self.groups is not None:
            h.update("\x1f".join(map(str, self.groups)).encode())
        return h.hexdigest()

    def check(self) -> None:
        """Reject data no study can use, with a message naming the source and the problem."""
        if len(self) == 0:
            raise DataError(f"Dataset {self.source} has zero rows; a study needs at least one labelled example.")
        if self.modality != "text":
            arr = np.asarray(self.x)
            if not np.isfinite(arr).all():
                bad = np.argwhere(~np.isfinite(arr.reshape(len(arr), -1)))
                row, col = int(bad[0][0]), int(bad[0][1])
                where = self.feature_names[col] if self.feature_names and self.modality == "tabular" else f"feature {col}"
                raise DataError(
                    f"Dataset {self.source} has a missing or non-numeric value (NaN) in column '{where}' "
                    f"at row {int(self.index[row])}; fill or drop it before using the file."
                )
        if self.y.min(initial=0) < 0 or self.y.max(initial=0) >= self.num_classes:
            raise DataError(f"Dataset {self.source} has label indices outside its {self.num_classes} classes.")


@contextmanager
def image_size_guard(what: str) -> Iterator[None]:
    """Pillow's decompression-bomb guard as one plain sentence naming the image (``what``).

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` and raises above twice that; either way the image
    is refused: as float32 arrays such images would take gigabytes each.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found.group(1)):,} pixels)" if found else ""
        raise DataError(
            f"{what} is too large{size}; Juxta reads images of up to {Image.MAX_IMAGE_PIXELS:,} pixels. "
            "Make it smaller (or remove it) and try again."
        ) from None


@dataclass(frozen=True)
class DataSummary:
    """What validation compares a model against (modality, example shape, classes), without the examples."""

    source: str
    modality: Modality
    input_shape: tuple[int, ...]
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def stratified_split(
    y: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Split row indices per class in the given fractions, reproducibly for a seed.

    Every class with enough rows appears in every split; the split is recorded by the caller.
    """
    rng = np.random.default_rng(seed)
    names = list(fractions)
    total = sum(fractions.values())
    out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        rows = rows[rng.permutation(len(rows))]
        cuts = np.cumsum([fractions[n] / total for n in names])[:-1]
        bounds = np.round(cuts * len(rows)).astype(int)
        for name, part in zip(names, np.split(rows, bounds)):
            out[name].append(part)
    return {n: np.sort(np.concatenate(parts)).astype(np.int64) for n, parts in out.items()}


@dataclass(frozen=True)
class DataOptions:
    """How to read a source's columns (from the study file's ``[data]`` table)."""

    label_column: str = "label"
    text_column: str | None = None  # set for text data in CSV/Parquet/HF
    image_column: str | None = None  # HF image datasets; default: the first Image feature
    group_column: str | None = None
    feature_columns: tuple[str, ...] | None = None  # tabular; default: all numeric columns but label/group
    hf_split: str | None = None  # HF datasets: which split to load (default: all splits concatenated)
    hf_config: str | None = None
    image_size: int | None = None  # resize images to a square of this side (folders, HF); default: keep
    grayscale: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "DataOptions":
        """Options as a cell's spec stores them (a plain dict; unknown keys ignored)."""
        raw = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        if raw.get("feature_columns"):
            raw["feature_columns"] = tuple(raw["feature_columns"])
        return cls(**raw)


def split_rows(data: Dataset, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The recorded split of a dataset: row positions per split name ("train", "validation", "test",
    "all"), seeded and stratified, each capped at ``max_examples`` (a spec from ``engine.data.spec.data_spec``)."""
    parts = stratified_split(data.y, spec["splits"], spec["split_seed"])
    parts["all"] = np.arange(len(data), dtype=np.int64)
    if spec.get("max_examples"):
        rng = np.random.default_rng(spec["split_seed"])
        for name in list(parts):
            rows = parts[name]
            if len(rows) > spec["max_examples"]:
                parts[name] = np.sort(rng.choice(rows, spec["max_examples"], replace=False))
    return parts

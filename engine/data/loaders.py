"""Open a dataset source string into a ``Dataset`` (built-in, image folder, CSV/Parquet, Hugging Face)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.base import DataOptions, Dataset, image_size_guard, split_rows
from engine.core.errors import DataError, SourceError, os_reason
from engine.core.sources import Source, parse_source

BUILTIN_DATASETS = {
    "digits": "Handwritten digits 0–9 as 8×8 grey images (scikit-learn, 1,797 examples).",
    "wine": "Wine cultivars from 13 chemical measurements (scikit-learn, 178 rows, table).",
    "breast-cancer": "Benign vs malignant tumours from 30 cell measurements (scikit-learn, 569 rows, table).",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def load_data(source: str | Source, root: Path, opts: DataOptions | None = None) -> Dataset:
    """Load a dataset source; relative paths resolve inside the project folder ``root``."""
    src = parse_source(source, kind="data") if isinstance(source, str) else source
    opts = opts or DataOptions()
    if src.scheme == "builtin":
        data = _builtin(src.value)
    elif src.scheme == "folder":
        data = _image_folder(src, _existing(src, root), opts)
    elif src.scheme in ("csv", "parquet"):
        data = _table_file(src, _existing(src, root), opts)
    elif src.scheme == "hf":
        from engine.data.hf import load_hf_dataset

        data = load_hf_dataset(src, root, opts)
    else:  # parse_source already refused other schemes
        raise SourceError(f"Data source scheme '{src.scheme}' is not supported.")
    data.check()
    return data


@lru_cache(maxsize=16)
def load_data_cached(source: str, root: str, opts: DataOptions) -> Dataset:
    """Per-process cache: workers evaluate many cells on the same data."""
    return load_data(source, Path(root), opts)


def load_split(spec: dict[str, Any], root: Path, split: str) -> tuple[Dataset, Dataset]:
    """The full dataset a cell's data spec names (``engine.data.spec.data_spec``) and one of its recorded
    splits, both cached per process."""
    opts = DataOptions.from_dict(spec.get("options") or {})
    full = load_data_cached(spec["source"], str(root), opts)
    rows = _split_rows(spec["source"], str(root), opts, json.dumps(spec["splits"], sort_keys=True), spec["split_seed"],
                       spec.get("max_examples"))
    return full, full.subset(rows[split])


@lru_cache(maxsize=16)
def _split_rows(source: str, root: str, opts: DataOptions, splits: str, seed: int, max_examples: int | None) -> dict:
    full = load_data_cached(source, root, opts)
    return split_rows(full, {"splits": json.loads(splits), "split_seed": seed, "max_examples": max_examples})


def _existing(src: Source, root: Path) -> Path:
    path = src.path(root)
    if not path.exists():
        raise SourceError(f"Dataset '{src}' not found: {path} does not exist.")
    return path


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (images 8×8 in 0…16, labels), read from the file the package ships, as its
    ``load_digits`` does: importing scikit-learn costs seconds, and a re-run with nothing to compute only
    plans (reads and fingerprints the data). Falls back to ``load_digits`` if the file has moved."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without running its __init__
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(f) / "datasets" / "data" / "digits.csv.gz" for f in folders
                 if (Path(f) / "datasets" / "data" / "digits.csv.gz").is_file()), None)
    if path is None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.images, bunch.target
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


def _builtin(name: str) -> Dataset:
    if name == "digits":
        images, target = _digits()
        x = (images.astype(np.float32) / 16.0)[:, None, :, :]
        return Dataset(f"builtin:{name}", "image", x, target.astype(np.int64), [str(c) for c in range(10)])
    from sklearn import datasets as skd

    if name in ("wine", "breast-cancer"):
        bunch = skd.load_wine() if name == "wine" else skd.load_breast_cancer()
        return Dataset(
            f"builtin:{name}",
            "tabular",
            bunch.data.astype(np.float32),
            bunch.target.astype(np.int64),
            [str(c) for c in bunch.target_names],
            feature_names=[str(f) for f in bunch.feature_names],
        )
    raise SourceError(f"Unknown built-in dataset '{name}'; expected one of {', '.join(BUILTIN_DATASETS)}.")


def _image_folder(src: Source, path: Path, opts: DataOptions) -> Dataset:
    """One sub-folder per class; images converted to float32 [0, 1], all one size."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_dir():
        raise SourceError(f"Dataset '{src}' should be a folder with one sub-folder per class, but {path} is a file.")
    try:
        classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        files = {cls: sorted((path / cls).iterdir()) for cls in classes}
    except OSError as exc:
        raise DataError(f"Dataset '{src}': cannot read {exc.filename or path}: {os_reason(exc)}.") from None
    if not classes:
        raise DataError(f"Dataset '{src}' has no class sub-folders in {path}; put each class's images in its own folder.")
    images, labels, shapes = [], [], set()
    for k, cls in enumerate(classes):
        for f in files[cls]:
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with image_size_guard(f"Dataset '{src}': the image {f}"), Image.open(f) as im:
                    im = im.convert("L" if opts.grayscale else "RGB")
                    if opts.image_size:
                        im = im.resize((opts.image_size, opts.image_size), Image.BILINEAR)
                    arr = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"Dataset '{src}': {f} is not a readable image ({exc}).") from None
            arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
            shapes.add(arr.shape)
            images.append(arr)
            labels.append(k)
    if not images:
        raise DataError(f"Dataset '{src}' has zero rows: no image files found under {path}.")
    if len(shapes) > 1:
        raise DataError(
            f"Dataset '{src}' mixes image sizes {sorted(shapes)[:3]}; set image_size in [data] to resize them to one square size."
        )
    x = np.ascontiguousarray(np.stack(images))
    return Dataset(str(src), "image", x, np.asarray(labels, dtype=np.int64), classes, meta={"path": str(path)})


def _table_file(src: Source, path: Path, opts: DataOptions) -> Dataset:
    import pandas as pd

    try:
        frame = pd.read_csv(path) if src.scheme == "csv" else pd.read_parquet(path)
    except Exception as exc:  # pandas raises many parser error types
        raise DataError(f"Dataset '{src}' could not be read as {src.scheme.upper()}: {exc}") from None
    return frame_to_dataset(frame, str(src), opts)


def frame_to_dataset(frame, source: str, opts: DataOptions) -> Dataset:
    """Turn a table into a tabular or text dataset following the column options."""
    import pandas as pd

    if len(frame) == 0:
        raise DataError(f"Dataset {source} has zero rows; a study needs at least one labelled example.")
    columns = [str(c) for c in frame.columns]
    if opts.label_column not in frame.columns:
        raise DataError(
            f"Dataset {source} has no label column '{opts.label_column}'; its columns are {', '.join(columns)}. "
            "Set label_column in [data]."
        )
    for name in (opts.group_column, opts.text_column):
        if name and name not in frame.columns:
            raise DataError(f"Dataset {source} has no column '{name}'; its columns are {', '.join(columns)}.")
    raw_labels = frame[opts.label_column]
    if raw_labels.isna().any():
        row = int(np.flatnonzero(raw_labels.isna().to_numpy())[0])
        raise DataError(f"Dataset {source} has an empty label in column '{opts.label_column}' at row {row}.")
    if pd.api.types.is_integer_dtype(raw_labels):
        class_names = [str(v) for v in sorted(raw_labels.unique())]
    else:
        class_names = sorted(raw_labels.astype(str).unique())
    lookup = {name: i for i, name in enumerate(class_names)}
    y = np.asarray([lookup[str(v)] for v in raw_labels], dtype=np.int64)
    groups = frame[opts.group_column].astype(str).to_numpy() if opts.group_column else None
    if opts.text_column:
        texts = frame[opts.text_column].fillna("").astype(str).tolist()
        return Dataset(source, "text", texts, y, class_names, groups=groups)
    reserved = {opts.label_column, opts.group_column}
    if opts.feature_columns:
        missing = [c for c in opts.feature_columns if c not in frame.columns]
        if missing:
            raise DataError(f"Dataset {source} has no feature column '{missing[0]}'; its columns are {', '.join(columns)}.")
        features = list(opts.feature_columns)
    else:
        features = [c for c in frame.columns if c not in reserved and pd.api.types.is_numeric_dtype(frame[c])]
        text_like = [c for c in frame.columns if c not in reserved and c not in features]
        if not features and text_like:
            raise DataError(
                f"Dataset {source} has no numeric feature columns; for text data set text_column = '{text_like[0]}' in [data]."
            )
        if not features:
            raise DataError(f"Dataset {source} has no feature columns besides the label.")
    try:
        x = frame[features].to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        bad = next(c for c in features if not pd.api.types.is_numeric_dtype(frame[c]))
        raise DataError(f"Dataset {source} has non-numeric values in feature column '{bad}'.") from None
    return Dataset(source, "tabular", x, y, class_names, groups=groups, feature_names=[str(f) for f in features])

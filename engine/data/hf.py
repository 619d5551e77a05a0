"""Hugging Face datasets: ``hf:org/name[@revision]`` from the hub cache, or a local folder.

A local ``hf:./path`` is either a folder written by ``Dataset.save_to_disk`` /
``DatasetDict.save_to_disk`` or data files that ``datasets.load_dataset`` understands (a folder of
parquet / csv / json files, or one such file). A hub id goes through ``datasets.load_dataset`` and
works offline once cached; ``offline`` defaults to the environment (``HF_DATASETS_OFFLINE`` /
``HF_HUB_OFFLINE``), read when the function is called.

All splits are concatenated in their stored order unless ``DataOptions.hf_split`` names one;
``meta['hf_splits']`` maps each split to its ``[start, stop)`` rows of the returned dataset. Rows
without a label (``None``, or -1 in a ``ClassLabel`` column, as in GLUE test splits) are dropped and
counted in ``meta['dropped_unlabelled']``; ``index`` keeps each row's position in the concatenated
source.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from engine.data.base import Dataset, DataOptions, image_size_guard
from engine.core.errors import DataError, SourceError
from engine.core.sources import Source

_TRUE = {"1", "ON", "YES", "TRUE"}
_TEXT_NAMES = ("text", "sentence")
_FILE_BUILDERS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".arrow": "arrow",
}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_OFFLINE_LOCK = threading.Lock()


def load_hf_dataset(
    src: Source,
    root: Path,
    opts: DataOptions,
    *,
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
) -> Dataset:
    """Load a labelled dataset from a local HF folder/files or the hub (cache).

    ``cache_dir`` overrides the datasets cache (default: ``HF_DATASETS_CACHE``).
    """
    if src.scheme != "hf":
        raise SourceError(f"Dataset source '{src}' is not a Hugging Face source (expected 'hf:org/name').")
    meta: dict[str, Any] = {}
    if src.is_local_path:
        path = src.path(Path(root))
        obj = _load_local(src, path, cache_dir)
        meta["path"] = str(path)
    else:
        obj = _load_hub(src, opts, offline, cache_dir)
        meta["hf_id"] = src.value
    meta["revision"] = src.revision
    meta["config"] = opts.hf_config
    parts = _select_splits(obj, src, opts)
    meta["split"] = opts.hf_split
    return _to_dataset(src, parts, opts, meta)


# --------------------------------------------------------------------------------------------
# opening


def _is_offline(offline: bool | None) -> bool:
    if offline is not None:
        return bool(offline)
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return True
    try:
        import datasets.config

        return bool(datasets.config.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def _datasets_offline(flag: bool) -> Iterator[None]:
    """``datasets`` reads offline mode at import; switch it on for this call when asked now."""
    import datasets.config as dconfig

    if not flag or dconfig.HF_HUB_OFFLINE:
        yield
        return
    with _OFFLINE_LOCK:
        old = (dconfig.HF_HUB_OFFLINE, getattr(dconfig, "HF_DATASETS_OFFLINE", None))
        dconfig.HF_HUB_OFFLINE = True
        dconfig.HF_DATASETS_OFFLINE = True
        try:
            yield
        finally:
            dconfig.HF_HUB_OFFLINE, dconfig.HF_DATASETS_OFFLINE = old


def _is_connection_error(exc: BaseException) -> bool:
    e: BaseException | None = exc
    for _ in range(8):
        if e is None:
            return False
        name = type(e).__name__
        if isinstance(e, (ConnectionError, TimeoutError)) or "Connect" in name or "Timeout" in name or name == "OfflineModeIsEnabled":
            return True
        e = e.__cause__ or e.__context__
    return False


def _load_local(src: Source, path: Path, cache_dir: str | Path | None) -> Any:
    import datasets

    if not path.exists():
        raise SourceError(f"Dataset path {path} (from '{src}') does not exist.")
    cache = str(cache_dir) if cache_dir else None
    try:
        if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
            return _load_saved(path)
        if path.is_file():
            builder = _FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise SourceError(
                    f"Dataset file {path} (from '{src}') is not a format datasets can read "
                    f"(expected one of {', '.join(sorted(_FILE_BUILDERS))})."
                )
            kw = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
            return datasets.load_dataset(builder, data_files=str(path), cache_dir=cache, **kw)
        return datasets.load_dataset(str(path), cache_dir=cache)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - any datasets failure is a source the user must fix
        raise SourceError(
            f"Dataset {path} (from '{src}') cannot be read as a Hugging Face dataset: "
            f"expected a folder saved with save_to_disk or parquet/csv/json data files ({_first_line(exc)})."
        ) from exc


def _has_no_shards(folder: Path) -> bool:
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("_data_files") == []


def _empty_saved(folder: Path) -> Any:
    """An empty saved dataset (``datasets`` writes no shard and cannot load it back)."""
    import datasets

    info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    features = datasets.Features.from_dict(info.get("features") or {})
    return datasets.Dataset.from_dict({name: [] for name in features}, features=features)


def _load_saved(path: Path) -> Any:
    """``datasets.load_from_disk``, tolerating empty splits so they can be reported as zero rows."""
    import datasets

    if (path / "dataset_dict.json").is_file():
        names = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
        if not any(_has_no_shards(path / n) for n in names):
            return datasets.load_from_disk(str(path))
        return datasets.DatasetDict(
            {n: _empty_saved(path / n) if _has_no_shards(path / n) else datasets.load_from_disk(str(path / n)) for n in names}
        )
    if _has_no_shards(path):
        return _empty_saved(path)
    return datasets.load_from_disk(str(path))


def _hub_unreachable(src: Source) -> bool:
    """One quick metadata request: True only when it fails for lack of a connection."""
    try:
        from huggingface_hub import HfApi

        HfApi().dataset_info(src.value, revision=src.revision, timeout=10)
    except Exception as exc:  # noqa: BLE001 - not found, gated, bad id: left to load_dataset to report
        return _is_connection_error(exc)
    return False


def _load_hub(src: Source, opts: DataOptions, offline: bool | None, cache_dir: str | Path | None) -> Any:
    import datasets

    try:
        from datasets.exceptions import DatasetNotFoundError
    except ImportError:  # pragma: no cover - very old datasets
        DatasetNotFoundError = FileNotFoundError  # type: ignore[misc,assignment]

    off = _is_offline(offline)
    if not off and _hub_unreachable(src):
        off = True  # go straight to the cache instead of letting datasets retry for half a minute
    not_cached = SourceError(
        f"Dataset '{src}' is not in the local Hugging Face cache and the hub cannot be reached; "
        "connect once to download it, or use a local folder."
    )
    try:
        with _datasets_offline(off):
            return datasets.load_dataset(
                src.value,
                name=opts.hf_config,
                revision=src.revision,
                cache_dir=str(cache_dir) if cache_dir else None,
            )
    except DatasetNotFoundError as exc:
        if off or _is_connection_error(exc):
            raise not_cached from exc
        raise SourceError(
            f"Dataset '{src.value}' does not exist on the Hugging Face hub or cannot be accessed "
            f"(private or gated datasets need a login) ({_first_line(exc)})."
        ) from exc
    except (ConnectionError, TimeoutError) as exc:
        raise not_cached from exc
    except FileNotFoundError as exc:
        if off or _is_connection_error(exc):
            raise not_cached from exc
        raise SourceError(f"Dataset '{src}' could not be found ({_first_line(exc)}).") from exc
    except ValueError as exc:  # unknown config name, bad repo id, ...
        raise SourceError(f"Dataset '{src}' cannot be opened (config {opts.hf_config!r}): {_first_line(exc)}.") from exc
    except Exception as exc:  # noqa: BLE001
        if _is_connection_error(exc):
            raise not_cached from exc
        raise SourceError(f"Dataset '{src}' could not be loaded ({_first_line(exc)}).") from exc


def _select_splits(obj: Any, src: Source, opts: DataOptions) -> list[tuple[str, Any]]:
    import datasets

    if isinstance(obj, datasets.DatasetDict):
        names = list(obj.keys())
        if opts.hf_split is not None:
            if opts.hf_split not in obj:
                raise DataError(
                    f"Dataset {src} has no split '{opts.hf_split}'; its splits are {', '.join(names) or 'none'}."
                )
            return [(opts.hf_split, obj[opts.hf_split])]
        if not names:
            raise DataError(f"Dataset {src} has zero rows; it holds no splits.")
        return [(n, obj[n]) for n in names]
    if isinstance(obj, datasets.Dataset):
        name = str(obj.split) if obj.split is not None else (opts.hf_split or "train")
        if opts.hf_split is not None and obj.split is not None and str(obj.split) != opts.hf_split:
            raise DataError(f"Dataset {src} has no split '{opts.hf_split}'; it holds only the split '{obj.split}'.")
        return [(name, obj)]
    raise SourceError(f"Dataset '{src}' is a {type(obj).__name__}, not a Dataset or DatasetDict.")


# --------------------------------------------------------------------------------------------
# converting


def _arrow_column(part: Any, name: str) -> Any:
    """One column as a pyarrow ChunkedArray, respecting any indices mapping, without decoding."""
    table = part.select_columns([name]).with_format("arrow")[:]
    return table.column(name)


def _kind(feature: Any) -> str:
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return "classlabel"
    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, datasets.Value):
        dt = str(feature.dtype)
        if dt in ("string", "large_string"):
            return "string"
        if dt == "bool":
            return "bool"
        if dt.startswith(("int", "uint", "float")) or dt in ("double", "halffloat"):
            return "number"
        return dt
    return type(feature).__name__.lower()


def _to_dataset(src: Source, parts: list[tuple[str, Any]], opts: DataOptions, meta: dict) -> Dataset:
    first = parts[0][1]
    features = first.features
    columns = list(first.column_names)
    label_col = opts.label_column

    for split, part in parts:
        if label_col not in part.column_names:
            where = f" (split '{split}')" if len(parts) > 1 else ""
            raise DataError(
                f"Dataset {src}{where} has no label column '{label_col}'; its columns are {', '.join(part.column_names)}."
            )
    for opt_name, col in (("group_column", opts.group_column), ("text_column", opts.text_column), ("image_column", opts.image_column)):
        if col is not None and col not in columns:
            raise DataError(
                f"Dataset {src} has no column '{col}' (set as {opt_name}); its columns are {', '.join(columns)}."
            )
    if sum(len(p) for _, p in parts) == 0:
        raise DataError(f"Dataset {src} has zero rows; a study needs at least one labelled example.")

    # labels
    y, class_names, keep = _labels(src, parts, features[label_col], label_col)
    kept_parts: list[tuple[str, Any, np.ndarray]] = []
    hf_splits: dict[str, list[int]] = {}
    index_parts = []
    offset = pos = 0
    for (split, part), k in zip(parts, keep):
        rows = np.flatnonzero(k)
        sel = part if len(rows) == len(part) else part.select(rows)
        kept_parts.append((split, sel, rows))
        hf_splits[split] = [pos, pos + len(rows)]
        index_parts.append(rows + offset)
        offset += len(part)
        pos += len(rows)
    n = pos
    dropped = offset - n
    if n == 0:
        raise DataError(f"Dataset {src} has zero labelled rows; every row's '{label_col}' is missing.")
    index = np.concatenate(index_parts).astype(np.int64)

    # modality
    exclude = {label_col, opts.group_column}
    image_cols = [c for c in columns if _kind(features[c]) == "image"]
    text_col = opts.text_column
    image_col = opts.image_column
    if text_col is None and image_col is None:
        auto_text = [c for c in _TEXT_NAMES if c in columns and _kind(features[c]) == "string" and c not in exclude]
        if auto_text:
            text_col = auto_text[0]
        elif image_cols:
            image_col = image_cols[0]

    groups = None
    if opts.group_column is not None:
        vals: list[Any] = []
        for _, part, _ in kept_parts:
            vals.extend(_arrow_column(part, opts.group_column).to_pylist())
        groups = np.array(["" if v is None else str(v) for v in vals], dtype=str)

    feature_names = None
    if text_col is not None:
        modality = "text"
        x: Any = _texts(src, kept_parts, text_col)
        meta["text_column"] = text_col
    elif image_col is not None:
        modality = "image"
        x = _images(src, kept_parts, image_col, opts)
        meta["image_column"] = image_col
    else:
        modality = "tabular"
        x, feature_names = _table(src, kept_parts, features, columns, opts, exclude)

    meta["hf_splits"] = hf_splits
    meta["label_column"] = label_col
    if dropped:
        meta["dropped_unlabelled"] = int(dropped)
    fps = [(s, getattr(p, "_fingerprint", None)) for s, p in parts]
    if all(fp for _, fp in fps):
        if len(fps) == 1:
            meta["fingerprint"] = fps[0][1]
        else:
            meta["fingerprint"] = hashlib.sha256("\x1f".join(f"{s}={fp}" for s, fp in fps).encode()).hexdigest()[:16]

    return Dataset(
        source=str(src),
        modality=modality,
        x=x,
        y=y,
        class_names=class_names,
        groups=groups,
        feature_names=feature_names,
        index=index,
        meta=meta,
    )


def _labels(src: Source, parts: list[tuple[str, Any]], feature: Any, col: str) -> tuple[np.ndarray, list[str], list[np.ndarray]]:
    """Return (y over kept rows, class names, per-split keep masks)."""
    import datasets

    kind = _kind(feature)
    if kind == "classlabel":
        names = [str(n) for n in feature.names]
        ys, keeps = [], []
        for split, part in parts:
            f = part.features[col]
            if not isinstance(f, datasets.ClassLabel) or list(f.names) != list(feature.names):
                raise DataError(f"Dataset {src} labels its splits differently: split '{split}' has other class names in '{col}'.")
            raw = _arrow_column(part, col).to_numpy(zero_copy_only=False)
            vals = np.asarray(raw, dtype=np.float64)  # None -> NaN
            keep = np.isfinite(vals) & (vals >= 0)
            ys.append(vals[keep].astype(np.int64))
            keeps.append(keep)
        return np.concatenate(ys), names, keeps

    if kind not in ("string", "number", "bool"):
        raise DataError(
            f"Dataset {src} has a '{col}' column of type {feature}; Juxta needs one class per row "
            "(a class-label, string or integer column)."
        )
    values_per_split = [_arrow_column(p, col).to_pylist() for _, p in parts]
    keeps = [np.array([v is not None for v in vals], dtype=bool) for vals in values_per_split]
    flat = [v for vals in values_per_split for v in vals if v is not None]
    if kind == "string":
        names = sorted({str(v) for v in flat})
        lookup = {nm: i for i, nm in enumerate(names)}
        y = np.array([lookup[str(v)] for v in flat], dtype=np.int64)
        return y, names, keeps
    arr = np.asarray([float(v) for v in flat], dtype=np.float64)
    if len(arr) and (not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr))):
        raise DataError(
            f"Dataset {src} has non-integer values in the label column '{col}'; classes must be whole numbers or names."
        )
    if len(arr) and arr.min() < 0:
        raise DataError(f"Dataset {src} has negative values in the label column '{col}'; classes must be 0 or more.")
    y = arr.astype(np.int64)
    k = int(y.max()) + 1 if len(y) else 0
    names = ["False", "True"] if kind == "bool" else [str(i) for i in range(k)]
    return y, names, keeps


def _texts(src: Source, parts: list[tuple[str, Any, np.ndarray]], col: str) -> list[str]:
    out: list[str] = []
    for split, part, rows in parts:
        vals = _arrow_column(part, col).to_pylist()
        for i, v in enumerate(vals):
            if v is None:
                raise DataError(f"Dataset {src} has no text in column '{col}' at row {int(rows[i])} of split '{split}'.")
            out.append(v if isinstance(v, str) else str(v))
    return out


def _table(
    src: Source,
    parts: list[tuple[str, Any, np.ndarray]],
    features: Any,
    columns: list[str],
    opts: DataOptions,
    exclude: set,
) -> tuple[np.ndarray, list[str]]:
    if opts.feature_columns:
        names = list(opts.feature_columns)
        missing = [c for c in names if c not in columns]
        if missing:
            raise DataError(
                f"Dataset {src} has no column '{missing[0]}' (listed in feature_columns); its columns are {', '.join(columns)}."
            )
        bad = [c for c in names if _kind(features[c]) not in ("number", "bool", "classlabel")]
        if bad:
            raise DataError(f"Dataset {src} column '{bad[0]}' is not numeric ({features[bad[0]]}); feature columns must be numbers.")
    else:
        names = [c for c in columns if c not in exclude and _kind(features[c]) in ("number", "bool")]
        if not names:
            raise DataError(
                f"Dataset {src} has no image, text or numeric feature columns (columns: {', '.join(columns)}); "
                "set text_column, image_column or feature_columns in the [data] table."
            )
    blocks = []
    for _, part, _ in parts:
        cols = [np.asarray(_arrow_column(part, c).to_numpy(zero_copy_only=False), dtype=np.float32) for c in names]
        blocks.append(np.stack(cols, axis=1) if cols else np.zeros((len(part), 0), np.float32))
    return np.concatenate(blocks).astype(np.float32, copy=False), names


def _images(src: Source, parts: list[tuple[str, Any, np.ndarray]], col: str, opts: DataOptions) -> np.ndarray:
    import datasets
    from PIL import Image as PILImage

    side = opts.image_size
    arrays: list[np.ndarray] = []
    all_gray = True
    first: tuple[tuple[int, int], str] | None = None
    for split, part, rows in parts:
        feat = part.features[col]
        if not isinstance(feat, datasets.Image) or not feat.decode:
            try:
                part = part.cast_column(col, datasets.Image())
            except Exception as exc:  # noqa: BLE001
                raise DataError(f"Dataset {src} column '{col}' does not hold images ({_first_line(exc)}).") from exc
        i = 0
        with image_size_guard(f"Dataset {src}: an image in column '{col}' of split '{split}'"):
            for batch in part.select_columns([col]).iter(batch_size=256):
                for img in batch[col]:
                    where = f"row {int(rows[i])} of split '{split}'"
                    i += 1
                    if img is None:
                        raise DataError(f"Dataset {src} has no image in column '{col}' at {where}.")
                    if not isinstance(img, PILImage.Image):
                        raise DataError(f"Dataset {src} column '{col}' holds {type(img).__name__} at {where}, not an image.")
                    gray = opts.grayscale or img.mode in _GRAY_MODES
                    all_gray &= gray
                    if gray:
                        arr = _gray_array(img, side)
                    else:
                        rgb = img.convert("RGB")
                        if side and rgb.size != (side, side):
                            rgb = rgb.resize((side, side), PILImage.Resampling.BILINEAR)
                        arr = np.asarray(rgb, dtype=np.uint8)
                    hw = (arr.shape[0], arr.shape[1])
                    if first is None:
                        first = (hw, where)
                    elif hw != first[0]:
                        raise DataError(
                            f"Dataset {src} has images of different sizes ({first[0][1]}x{first[0][0]} at {first[1]}, "
                            f"{hw[1]}x{hw[0]} at {where}); set image_size in the [data] table to resize them to one square size."
                        )
                    arrays.append(arr)
    if all_gray:
        x = np.stack(arrays)[:, None, :, :]
    else:
        x = np.stack([a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255.0)


def _gray_array(img: Any, side: int | None) -> np.ndarray:
    from PIL import Image as PILImage

    if img.mode.startswith("I;16"):
        arr16 = np.asarray(img, dtype=np.uint16)
        img = PILImage.fromarray((arr16 >> 8).astype(np.uint8))
    elif img.mode != "L":
        img = img.convert("L")
    if side and img.size != (side, side):
        img = img.resize((side, side), PILImage.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")

"""The models of a merge study inside a cell: where each one's weights are, loading them (cached per
worker process), their state dicts, and which tensors are a task's own head.

A model is the plain dict a cell's spec records: ``{"id", "source", "identity", "trust_remote_code",
"cell"}``; ``identity`` says where the weights are (``train:<key>`` and ``tune:<key>``: what that cell
saved; ``artifact:<path>``; ``file:<sha256>``: the source's path; ``hf:<id>@<commit>``: the hub cache).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from engine.core.cells import Cell
from engine.core.errors import JuxtaError
from engine.core.sources import parse_source


def weights_path(model: Mapping[str, Any], cell: Cell) -> str | None:
    """The project-relative path of a model's weights when a cell or an artifact holds them, else None."""
    ident = str(model["identity"])
    if ident.startswith(("train:", "tune:")):
        path = cell.inputs.get("artifacts", {}).get(model.get("cell") or ident.split(":", 1)[1])
        if not path:
            raise JuxtaError(f"Model '{model['id']}' ({model['source']}) has no weights yet: the cell that makes it did not finish.")
        return path
    if ident.startswith("artifact:"):
        return ident.split(":", 1)[1]
    return None


@lru_cache(maxsize=16)
def _load(source: str, identity: str, path: str | None, root: str, trust_remote_code: bool):
    """A classifier, cached per worker process (``identity`` keys the cache: a changed file is another model)."""
    from engine.models.loaders import load_juxta_file, load_model_file

    if path is not None:
        return load_juxta_file(Path(root) / path, source)
    src = parse_source(source, kind="model")
    if src.scheme == "file":
        return load_model_file(src, Path(root), trust_remote_code=trust_remote_code)
    from engine.models.hf import load_hf_model

    return load_hf_model(src, Path(root), trust_remote_code=trust_remote_code)


def load_classifier(model: Mapping[str, Any], cell: Cell, root: Path):
    """The model's classifier (shared within the worker: never change its weights; see :func:`scratch_copy`)."""
    return _load(str(model["source"]), str(model["identity"]), weights_path(model, cell), str(root),
                 bool(model.get("trust_remote_code", False)))


@lru_cache(maxsize=16)
def _state(source: str, identity: str, path: str | None, root: str, trust_remote_code: bool):
    clf = _load(source, identity, path, root, trust_remote_code)
    return {k: v.detach().clone() for k, v in clf.module.state_dict().items()}


def state_dict(model: Mapping[str, Any], cell: Cell, root: Path) -> dict:
    """The model's tensors on the CPU (cached per worker; treat as read-only)."""
    return _state(str(model["source"]), str(model["identity"]), weights_path(model, cell), str(root),
                  bool(model.get("trust_remote_code", False)))


_SCRATCH: dict[str, Any] = {}


def scratch_copy(model: Mapping[str, Any], cell: Cell, root: Path):
    """A private copy of the model's classifier (one per model per worker) whose weights a cell may overwrite."""
    key = str(model["identity"])
    if key not in _SCRATCH:
        if len(_SCRATCH) >= 8:
            _SCRATCH.pop(next(iter(_SCRATCH)))
        _SCRATCH[key] = copy.deepcopy(load_classifier(model, cell, root))
    return _SCRATCH[key]


def forget_models() -> None:
    """Drop every model, state dict and scratch copy this process keeps."""
    _load.cache_clear()
    _state.cache_clear()
    _SCRATCH.clear()


def head_names(shapes: Mapping[str, Sequence[int]], n_classes: int, declared: Sequence[str] | None = None) -> list[str]:
    """The tensors of a model's task head, in the state dict's order.

    Declared name pieces win. Otherwise the final classification layer: the weight (and its bias) of a
    ``classifier``/``score``/``head`` module, or else the one 2-D weight with one row per class. Raises
    JuxtaError when neither finds exactly one layer (then the study declares ``[merge].heads``).
    """
    from engine.kinds.merge.checks import HEAD_PARTS

    names = list(shapes)
    if declared:
        return [n for n in names if any(piece in n for piece in declared)]
    weights = [n for n in names if n.endswith(".weight") and len(shapes[n]) == 2]
    named = [n for n in weights if HEAD_PARTS & set(n.split(".")[:-1]) and shapes[n][0] == n_classes]
    rows = [n for n in weights if shapes[n][0] == n_classes]
    found = named if len(named) == 1 else rows
    if len(found) != 1:
        what = "no 2-D weight has" if not found else f"{len(found)} weights ({', '.join(found[:4])}) have"
        raise JuxtaError(f"Cannot tell which layer is the task head: {what} one row per class ({n_classes}); "
                         "name it in [merge].heads (e.g. heads = [\"classifier\"]).")
    prefix = found[0][: -len("weight")]
    return [n for n in names if n in (found[0], prefix + "bias")]

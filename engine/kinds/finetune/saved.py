"""A tuned model as a tuning cell's artifact folder, and back.

``artifacts/finetune/<cell key>/`` holds:

* the tuned function as a plain model, loadable like any model (adapters merged into the weights):
  ``model.safetensors``, a Juxta model file, for Juxta's built-in architectures (``file:`` or
  ``artifact:`` in any study, a shift study included); ``model/``, a Hugging Face folder, for
  transformers models; ``model.safetensors`` with the weights alone for other models (loaded onto the
  base);
* ``adapter/``: PEFT's adapter folder, for adapter methods (LoRA, IA3, …);
* ``tune.json``: what was tuned and how well it did on validation, read by the selection cell and by
  evaluation (which format the model is in).

The folder is written under a temporary name and renamed when complete, so a cancelled or crashed
cell never leaves a half-written model under its key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import ModelError
from engine.models.base import Classifier
from engine.models.recipes import ARCHITECTURES

if TYPE_CHECKING:
    from engine.kinds.finetune.tune import Tuned

RECORD = "tune.json"
RECORD_FORMAT = "juxta-tune-1"


def save_tuned(tuned: "Tuned", folder: Path, root: Path, extra: dict[str, Any]) -> dict[str, Any]:
    """Write the folder (see the module docstring); returns the record written to ``tune.json``, whose
    ``model`` and ``adapter`` entries give paths relative to ``root`` with their bytes and sha256."""
    from engine.kinds.finetune.export import provenance_of, save_adapter, save_hf_folder, save_weights

    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    provenance = provenance_of(tuned)
    model = tuned.model
    if model.info.architecture in ARCHITECTURES:
        fmt, name = "juxta", "model.safetensors"
        save_weights(model, tmp / name, provenance)
    elif _is_transformers(model):
        fmt, name = "hf", "model"
        save_hf_folder(model, tmp / name)
    else:
        fmt, name = "weights", "model.safetensors"
        save_weights(model, tmp / name, provenance)
    adapter = None
    if tuned.method.saves == "adapter":
        save_adapter(model, tmp / "adapter", provenance)
        adapter = "adapter"
    record = {
        "format": RECORD_FORMAT, "model_format": fmt, **provenance, **extra,
        "class_names": list(model.info.class_names),
        "model": _entry(tmp / name, folder / name, root),
        "adapter": _entry(tmp / adapter, folder / adapter, root) if adapter else None,
    }
    (tmp / RECORD).write_text(json.dumps(record, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return record


def read_record(model_path: Path) -> dict[str, Any]:
    """The ``tune.json`` next to a tuned model (``model_path``: its file or folder)."""
    path = Path(model_path).parent / RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The tuned model at {model_path} has no readable {RECORD} ({exc}); run its study again.") from None
    if record.get("format") != RECORD_FORMAT:
        raise ModelError(f"{path} was not written by this Juxta's fine-tuning (format {record.get('format')!r}).")
    return record


def load_tuned(model_path: Path, base: Classifier | None, source: str) -> Classifier:
    """A tuned model back from its artifact folder, as a plain classifier (``base``: for weights-only files)."""
    from engine.kinds.finetune.export import load_weights

    fmt = read_record(model_path)["model_format"]
    if fmt == "juxta":
        from engine.models.loaders import load_juxta_file

        return load_juxta_file(Path(model_path), source)
    if fmt == "hf":
        from engine.core.sources import Source
        from engine.models.hf import load_hf_model

        clf = load_hf_model(Source("file", str(model_path)), Path(model_path).parent)
        clf.info.source = source
        return clf
    return load_weights(Path(model_path), base)


def _is_transformers(model: Classifier) -> bool:
    from engine.kinds.finetune.wrapping import base_module

    plain = base_module(model.module)
    return hasattr(plain, "save_pretrained") and getattr(plain, "config", None) is not None


def _entry(written: Path, final: Path, root: Path) -> dict[str, Any]:
    """Where a file or folder will be (relative to the project), its total bytes and sha256 (a folder's
    over its files' names and contents), measured where it was ``written``."""
    from engine.core.sources import hash_path

    files = [written] if written.is_file() else sorted(p for p in written.rglob("*") if p.is_file())
    digest = hashlib.sha256(written.read_bytes()).hexdigest() if written.is_file() else hash_path(written)
    return {"path": final.relative_to(root).as_posix(), "bytes": sum(p.stat().st_size for p in files), "sha256": digest}

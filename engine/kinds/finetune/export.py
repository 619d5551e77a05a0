"""Tuned models as files: safetensors, a Hugging Face folder, or a PEFT adapter folder; and back.

* ``save_weights``: the tuned function as one safetensors file (adapters merged into the weights).
  For Juxta's built-in architectures it is a Juxta model file, usable as ``file:`` model in any
  study; for other models it holds the weights only (load it onto its base with ``load_weights``).
  The header is written with sorted keys, so the same weights give the same bytes.
* ``save_hf_folder``: ``save_pretrained`` of the merged model, plus the base's tokenizer or image
  processor files: a folder any Hugging Face tool (and Juxta's ``file:`` source) opens.
* ``save_adapter``: PEFT's ``save_pretrained`` (``adapter_config.json`` + ``adapter_model.safetensors``)
  for adapter methods, plus ``juxta.json`` (base, method, classes, whether the head was replaced).

Loading reads safetensors only: nothing is unpickled. ``juxta.json`` and the metadata are written
with sorted keys.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import ModelError
from engine.kinds.finetune.head import replace_head
from engine.kinds.finetune.layout import layout_of
from engine.kinds.finetune.wrapping import base_module, copy_classifier, is_peft, merged_copy
from engine.models.base import Classifier
from engine.models.recipes import ARCHITECTURES
from engine.models.train import JUXTA_FORMAT, canonical_safetensors

if TYPE_CHECKING:
    from engine.kinds.finetune.tune import Tuned

ADAPTER_FORMAT = "juxta-adapter-1"
WEIGHTS_FORMAT = "juxta-weights-1"  # weights of a non-built-in model, loaded onto its base
SIDE_CAR = "juxta.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def provenance_of(tuned: "Tuned") -> dict[str, Any]:
    """What a tuned model came from, stored next to its weights."""
    return {
        "base": tuned.model.info.source,
        "method": tuned.method.name,
        "params": tuned.params.model_dump(mode="json", by_alias=True),
        "lr": tuned.config.lr,
        "epochs": tuned.config.epochs,
        "seed": tuned.config.seed,
        "head_replaced": tuned.head.replaced,
    }


def save_weights(model: Classifier, path: Path, provenance: dict[str, Any] | None = None) -> Path:
    """One safetensors file of the tuned function (byte-reproducible)."""
    from safetensors.torch import save

    plain = merged_copy(model.module)
    info = model.info
    builtin = info.architecture in ARCHITECTURES
    meta = {
        "format": JUXTA_FORMAT if builtin else WEIGHTS_FORMAT,
        "arch": info.architecture,
        "modality": info.modality,
        "input_shape": json.dumps(list(info.input_shape or [])),
        "class_names": json.dumps(list(info.class_names)),
        "recipe": json.dumps(None),
        "source": info.source,
        "tuned": json.dumps(provenance or {}, sort_keys=True),
    }
    state = {k: v.detach().cpu().contiguous().clone() for k, v in plain.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(canonical_safetensors(save(state, metadata=meta)))
    tmp.replace(path)
    return path


def load_weights(path: Path, base: Classifier | None = None) -> Classifier:
    """A saved tuned model: a Juxta model file on its own, or other weights onto a copy of ``base``."""
    from safetensors.torch import load_file

    from engine.models.loaders import load_juxta_file, read_juxta_header

    path = Path(path)
    meta = read_juxta_header(path)
    if meta.get("format") == JUXTA_FORMAT:
        return load_juxta_file(path, f"file:{path}")
    if meta.get("format") != WEIGHTS_FORMAT:
        raise ModelError(f"Model file {path} is not a tuned model Juxta saved (no Juxta metadata).")
    if base is None:
        raise ModelError(f"Model file {path} holds the weights of a {meta.get('arch')} model; load it onto its base model.")
    out = copy_classifier(base)
    classes = json.loads(meta["class_names"])
    if list(classes) != list(out.info.class_names):
        replace_head(out, layout_of(out), classes)
    try:
        out.module.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise ModelError(f"Model file {path} does not fit base '{base.info.source}': {str(exc).splitlines()[0]}") from None
    out.module.eval()
    return out


def save_hf_folder(model: Classifier, folder: Path) -> Path:
    """``save_pretrained`` of the merged model with the base's tokenizer / image-processor files."""
    plain = merged_copy(model.module)
    if not hasattr(plain, "save_pretrained") or getattr(plain, "config", None) is None:
        raise ModelError(
            f"A Hugging Face folder needs a transformers model; '{model.info.source}' is a {model.info.architecture} "
            "model. Export it as safetensors instead."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(str(folder), safe_serialization=True)
    source = Path(str(model.info.extra.get("path", "")))
    copied = False
    if source.is_dir():
        from engine.models.hf_files import PROCESSOR_FILES, TOKENIZER_FILES

        for name in (*PROCESSOR_FILES, *TOKENIZER_FILES):
            if (source / name).is_file():
                shutil.copyfile(source / name, folder / name)
                copied = True
    tokenizer = getattr(model, "tokenizer", None)
    if not copied and tokenizer is not None:
        tokenizer.save_pretrained(str(folder))
    for weights in folder.glob("*.safetensors"):
        weights.write_bytes(canonical_safetensors(weights.read_bytes()))
    return folder


def save_adapter(model: Classifier, folder: Path, provenance: dict[str, Any] | None = None) -> Path:
    """PEFT's adapter folder (safetensors) plus ``juxta.json``."""
    if not is_peft(model.module):
        raise ModelError("Only adapter methods (LoRA, IA3, …) save an adapter folder; save the weights instead.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.module.save_pretrained(str(folder), safe_serialization=True)
    weights = folder / ADAPTER_WEIGHTS
    weights.write_bytes(canonical_safetensors(weights.read_bytes()))
    side = {
        "format": ADAPTER_FORMAT,
        "class_names": list(model.info.class_names),
        "architecture": model.info.architecture,
        "tuned": provenance or {},
    }
    (folder / SIDE_CAR).write_text(json.dumps(side, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    return folder


def load_adapter(base: Classifier, folder: Path) -> Classifier:
    """An adapter folder Juxta saved, applied to a copy of ``base`` (safetensors only)."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise ModelError(
            f"Adapter folder {folder} has no {ADAPTER_WEIGHTS}; Juxta loads adapters from safetensors only."
        )
    try:
        side = json.loads((folder / SIDE_CAR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError(f"Adapter folder {folder} has no readable {SIDE_CAR}; it was not saved by Juxta.") from None
    out = copy_classifier(base)
    classes = list(side.get("class_names", []))
    if classes and classes != list(out.info.class_names):
        replace_head(out, layout_of(out), classes)
    try:
        out.module = PeftModel.from_pretrained(base_module(out.module), str(folder), is_trainable=False)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"Adapter folder {folder} does not fit base '{base.info.source}': {str(exc).splitlines()[0]}") from None
    out.module.eval()
    return out

"""What a saved model can be handed out as, read from its files alone: one safetensors file, a Hugging Face
folder, or a PEFT adapter folder (a fine-tuning cell keeps ``adapter/`` beside its model).

``juxta export-model`` copies the chosen one where the user asks; nothing is loaded or unpickled."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.core.errors import JuxtaError

FORMATS = {
    "safetensors": "one .safetensors file (a Juxta model file for built-in models: a file: model in any study)",
    "hf": "a Hugging Face folder (config.json and weights; opens with from_pretrained)",
    "adapter": "a PEFT adapter folder (adapter_config.json; load onto its base with PeftModel.from_pretrained)",
}


def model_exports(path: Path) -> dict[str, Path]:
    """Format name -> the file or folder that holds the model in that format (only those it has)."""
    out: dict[str, Path] = {}
    if path.is_file() and path.suffix == ".safetensors":
        out["safetensors"] = path
    elif path.is_dir() and (path / "config.json").is_file():
        out["hf"] = path
    adapter = path.parent / "adapter"
    if (adapter / "adapter_config.json").is_file():
        out["adapter"] = adapter
    return out


def export_model(path: Path, out: Path, fmt: str | None, name: str) -> tuple[str, Path]:
    """Copy the model at ``path`` (artifact ``name``) to ``out`` as ``fmt`` (None: the model itself, as saved).

    ``out``: a folder (the copy is named after the artifact) or, for one file, a path ending in .safetensors.
    Refuses, naming what there is, a format the model does not have and anything already at the target."""
    have = model_exports(path)
    if not have:
        raise JuxtaError(f"Model '{name}' at {path} is neither a safetensors file nor a model folder; run its study again.")
    if fmt is None:
        fmt = next(f for f in ("safetensors", "hf", "adapter") if f in have)
    if fmt not in have:
        raise JuxtaError(f"Model '{name}' has no {fmt} form ({FORMATS.get(fmt, fmt)}); it can be exported as "
                         f"{' or '.join(have)}.")
    source = have[fmt]
    stem = name.replace("/", "-")
    if source.is_file():
        target = out if out.suffix == ".safetensors" else out / f"{stem}.safetensors"
    else:
        target = out / (stem if fmt == "hf" else f"{stem}-adapter")
    if target.exists():
        raise JuxtaError(f"{target} already exists; choose another place or remove it first (nothing was written).")
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_file():
        shutil.copy2(source, target)
    else:
        shutil.copytree(source, target)
    return fmt, target

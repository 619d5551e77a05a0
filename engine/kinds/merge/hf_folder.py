"""The rest of a Hugging Face model folder around merged weights: config, tokenizer, a README that
states how the model was made, the mergekit YAML that reproduces it, and Juxta's record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from engine.models.hf_files import CONFIG_NAME, TOKENIZER_FILES

EXTRA_FILES = ("generation_config.json", "chat_template.jinja", "chat_template.json")
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers")


def write_config(donor: Path | None, out: Path, dtype: str | None, num_layers: int | None) -> bool:
    """Copy the donor's config.json with the output dtype (and layer count, for slices); False if it has none."""
    if donor is None or not (donor / CONFIG_NAME).is_file():
        return False
    config: dict[str, Any] = json.loads((donor / CONFIG_NAME).read_text())
    if dtype:
        keys = [k for k in ("dtype", "torch_dtype") if k in config] or ["torch_dtype"]
        for k in keys:
            config[k] = dtype
    if num_layers is not None:
        for k in LAYER_KEYS:
            if k in config:
                config[k] = num_layers
                break
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return True


def copy_tokenizer(donor: Path | None, out: Path) -> list[str]:
    """Copy the donor's tokenizer (and generation/chat template files); the names copied."""
    if donor is None or not donor.is_dir():
        return []
    copied = []
    for name in (*TOKENIZER_FILES, *EXTRA_FILES):
        src = donor / name
        if src.is_file():
            shutil.copy2(src, out / name)
            copied.append(name)
    return copied


def write_readme(out: Path, record: dict[str, Any], yaml_text: str | None) -> None:
    conv = record.get("conventions_text", [])
    lines = ["---", "tags: [merge, juxta]", "---", "", f"# {out.name}", "",
             f"Merged with Juxta using **{record['method']}**.", ""]
    if conv:
        lines += ["Conventions:", ""] + [f"- {k}: {v}" for k, v in conv] + [""]
    for note in record.get("notes", []):
        lines.append(f"- {note}")
    if yaml_text:
        lines += ["", "Configuration (mergekit YAML):", "", "```yaml", yaml_text.rstrip(), "```", ""]
    (out / "README.md").write_text("\n".join(lines) + "\n")

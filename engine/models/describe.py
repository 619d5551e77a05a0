"""What a model picker shows (architecture, parameter count, classes) without running anything."""

from __future__ import annotations

from pathlib import Path

from engine.errors import SourceError
from engine.models.base import ModelInfo
from engine.sources import parse_source


def describe_model(source: str, root: Path, artifacts: dict[str, str] | None = None) -> ModelInfo:
    """Read headers and configs only; built-in models are described by building them untrained."""
    src = parse_source(source, kind="model")
    if src.scheme == "builtin":
        import torch

        from engine.models.builtin import build
        from engine.models.recipes import parse_builtin

        data, arch = parse_builtin(src.value)
        if arch == "bow":
            shape, modality, classes = (), "text", 2
        elif data in ("wine", "breast-cancer"):
            shape, modality, classes = ((13,) if data == "wine" else (30,)), "tabular", (3 if data == "wine" else 2)
        else:
            shape, modality, classes = (1, 8, 8), "image", 10
        module = build(arch, shape if shape else (1,), classes, torch.zeros(1), torch.ones(1))
        n = sum(p.numel() for p in module.parameters())
        names = [str(i) for i in range(classes)] if data else []
        return ModelInfo(source, arch, int(n), names, modality, shape or None,
                         extra={"note": "trained on demand" + ("" if data else " on the study's data")})
    if src.scheme == "artifact":
        if not artifacts or src.value not in artifacts:
            raise SourceError(f"Artifact '{src.value}' does not exist yet; run the study that makes it first.")
        from engine.models.loaders import describe_file

        return describe_file(root / artifacts[src.value], source)
    path = src.path(root)
    if src.scheme == "file" and path.is_file():
        from engine.models.loaders import describe_file, refuse_unsafe

        if path.suffix.lower() != ".safetensors":
            refuse_unsafe(path)
        return describe_file(path, source)
    from engine.models.hf import describe_hf_model

    return describe_hf_model(src, root)

"""What a model picker shows (architecture, parameter count, classes), and what validation can know
about a model (what it takes, whether it will load), without running anything."""

from __future__ import annotations

from pathlib import Path

from engine.core.errors import ModelError, SourceError
from engine.models.base import ModelInfo
from engine.core.sources import parse_source


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


def inspect_model(source: str, root: Path, artifacts: dict[str, str] | None = None, *,
                  trust_remote_code: bool = False) -> ModelInfo | None:
    """What validation can know about a model without running it, raising what loading it would raise.

    Reads headers and configs only: safetensors headers and tensor shapes against the declared
    architecture, pickles refused (PyTorch files are refused in any case), HF folders and hub cache
    entries (config.json, task, remote code, weights present when offline). Returns ``None`` for a
    built-in model trained on the study's own data, which has no classes or input shape of its own.
    """
    src = parse_source(source, kind="model")
    if src.scheme == "builtin":
        from engine.models.recipes import parse_builtin

        data, arch = parse_builtin(src.value)
        if data is None:
            return None
        from engine.data.loaders import load_data

        trained_on = load_data(f"builtin:{data}", root)
        check_architecture(arch, trained_on.modality, trained_on.source)
        return ModelInfo(source, arch, -1, list(trained_on.class_names), trained_on.modality,
                         trained_on.input_shape or None, extra={"note": "trained on demand"})
    from engine.models.loaders import inspect_juxta_file, refuse_unsafe

    if src.scheme == "artifact":
        if not artifacts or src.value not in artifacts:
            raise SourceError(f"Artifact '{src.value}' does not exist yet; run the study that makes it first.")
        return inspect_juxta_file(root / artifacts[src.value], source)
    path = src.path(root)
    if src.scheme == "file" and path.is_file():
        if path.suffix.lower() == ".safetensors":
            return inspect_juxta_file(path, source)
        refuse_unsafe(path)
        raise ModelError(f"Model file {path} has an unknown format '{path.suffix}'; expected .safetensors or a model folder.")
    from engine.models.hf import inspect_hf_model

    return inspect_hf_model(src, root, trust_remote_code=trust_remote_code)


def check_architecture(arch: str, modality: str, data_source: str) -> None:
    """Refuse a built-in architecture on data it cannot take (a CNN on a table, an MLP on text)."""
    from engine.models.recipes import ARCHITECTURES

    takes = ARCHITECTURES[arch][0].split("|")
    if modality not in takes:
        suggest = {"tabular": "'mlp'", "text": "'bow'", "image": "'cnn', 'vit' or 'mlp'"}[modality]
        raise ModelError(f"The built-in '{arch}' architecture takes {' or '.join(takes)} data, but {data_source} holds "
                         f"{modality} data; use {suggest} for {modality} data.")

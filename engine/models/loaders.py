"""Open model files safely: Juxta safetensors, Hugging Face folders; pickles are refused.

Nothing here unpickles arbitrary objects: safetensors is read as data, and ``.pt``/``.bin`` files
only through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from engine.core.errors import ModelError, SourceError, UnsafeModelError
from engine.models.base import Classifier, ModelInfo
from engine.core.sources import Source

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".dill"}
TORCH_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt"}
TORCH_PROBE_BYTES = 64 * 2**20  # larger PyTorch files are refused without reading them


def read_juxta_header(path: Path) -> dict[str, str]:
    """Metadata of a safetensors file, with clear errors for corrupt or foreign files."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"Model file {path} is not a valid safetensors file ({exc}); it may be truncated or corrupt.") from None
    return meta


def inspect_juxta_file(path: Path, source: str) -> ModelInfo:
    """Check a Juxta safetensors file from its header alone: the format, the metadata, and that every
    tensor has the shape the declared architecture needs. No weights are read."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"Model file {path} is not a valid safetensors file ({exc}); it may be truncated or corrupt.") from None
    if meta.get("format") != _juxta_format():
        raise ModelError(
            f"Model file {path} holds weights but no Juxta architecture metadata; use a model Juxta saved, "
            "or a Hugging Face model folder (config.json + model.safetensors)."
        )
    from engine.models.recipes import ARCHITECTURES

    try:
        arch = meta["arch"]
        input_shape = tuple(int(d) for d in json.loads(meta["input_shape"]))
        classes = [str(c) for c in json.loads(meta["class_names"])]
        modality = meta["modality"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"Model file {path} has damaged Juxta metadata ({type(exc).__name__}: {exc}).") from None
    if arch not in ARCHITECTURES or modality not in ("image", "tabular", "text") or not classes:
        raise ModelError(f"Model file {path} has damaged Juxta metadata (architecture '{arch}', modality '{modality}', "
                         f"{len(classes)} classes).")
    expected = _expected_shapes(arch, input_shape, len(classes), shapes)
    for key in sorted(set(expected) | set(shapes)):
        if expected.get(key) != shapes.get(key):
            what = ("is missing" if key not in shapes else "is not part of it" if key not in expected
                    else f"has shape {list(shapes[key])}, not {list(expected[key])}")
            raise ModelError(f"Model file {path} does not match the '{arch}' architecture it declares: tensor '{key}' {what}.")
    n_params = sum(math.prod(shape) for key, shape in shapes.items() if not key.startswith("norm."))
    return ModelInfo(source=source, architecture=arch, n_params=int(n_params), class_names=classes, modality=modality,
                     input_shape=input_shape or None, extra={"path": str(path)})


def _juxta_format() -> str:
    from engine.models.train import JUXTA_FORMAT

    return JUXTA_FORMAT


def _expected_shapes(arch: str, input_shape: tuple[int, ...], n_classes: int, shapes: dict) -> dict[str, tuple[int, ...]]:
    """Tensor shapes of an untrained ``arch`` for this input and class count (the norm buffers as stored)."""
    import torch

    from engine.models.builtin import build

    mean = torch.zeros(shapes.get("norm.mean", (1,)))
    std = torch.ones(shapes.get("norm.std", (1,)))
    try:
        module = build(arch, input_shape, n_classes, mean, std)
    except (SourceError, RuntimeError, ValueError) as exc:
        raise ModelError(f"The '{arch}' architecture cannot take inputs of shape {list(input_shape)} ({exc}).") from None
    return {key: tuple(t.shape) for key, t in module.state_dict().items()}


def load_juxta_file(path: Path, source: str) -> Classifier:
    """Rebuild a built-in architecture from a Juxta safetensors file."""
    from safetensors.torch import load_file

    from engine.models.builtin import build
    from engine.models.train import JUXTA_FORMAT

    meta = read_juxta_header(path)
    if meta.get("format") != JUXTA_FORMAT:
        raise ModelError(
            f"Model file {path} holds weights but no Juxta architecture metadata; use a model Juxta saved, "
            "or a Hugging Face model folder (config.json + model.safetensors)."
        )
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for damaged payloads
        raise ModelError(f"Model file {path} could not be read ({exc}); it may be truncated or corrupt.") from None
    import torch

    shape = tuple(json.loads(meta["input_shape"]))
    classes = json.loads(meta["class_names"])
    mean = state.get("norm.mean", torch.zeros(1))
    std = state.get("norm.std", torch.ones(1))
    module = build(meta["arch"], shape, len(classes), mean, std)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"Model file {path} does not match the '{meta['arch']}' architecture it declares: {exc}") from None
    module.eval()
    info = ModelInfo(
        source=source,
        architecture=meta["arch"],
        n_params=int(sum(p.numel() for p in module.parameters())),
        class_names=classes,
        modality=meta["modality"],
        input_shape=shape or None,
        extra={"recipe": json.loads(meta.get("recipe") or "null"), "path": str(path)},
    )
    return Classifier(module, info)


def refuse_unsafe(path: Path) -> None:
    """Refuse pickle files before anything reads them; check torch files with weights_only."""
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise UnsafeModelError(
            f"Model file {path} is a Python pickle, which can run arbitrary code when opened; Juxta refuses it. "
            "Save the weights as safetensors instead."
        )
    if suffix in TORCH_SUFFIXES:
        import pickle

        from engine.models.hf_files import torch_load_weights_only

        size = path.stat().st_size
        if size > TORCH_PROBE_BYTES:  # refused either way; not worth reading gigabytes to say why
            raise ModelError(
                f"Model file {path} is a PyTorch file ({size / 2**20:,.0f} MB); Juxta does not load PyTorch files, which "
                "hold weights without an architecture and may hold pickled code. Save the model as safetensors "
                "(a model Juxta saved) or as a Hugging Face folder (config.json + model.safetensors)."
            )

        try:
            torch_load_weights_only(path)
        except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError) as exc:
            raise UnsafeModelError(
                f"Model file {path} contains pickled Python objects beyond plain tensors, which could run code; "
                f"Juxta refused to load it ({type(exc).__name__}). Save the weights as safetensors instead."
            ) from None
        raise ModelError(
            f"Model file {path} holds plain weights but no architecture; Juxta reads Juxta safetensors files "
            "or Hugging Face folders (config.json + weights)."
        )


def load_model_file(src: Source, root: Path, *, trust_remote_code: bool = False) -> Classifier:
    """``file:`` sources: a Juxta safetensors file or a Hugging Face format folder."""
    path = src.path(root)
    if not path.exists():
        raise SourceError(f"Model '{src}' not found: {path} does not exist.")
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"Model folder {path} has no config.json; expected a Hugging Face model folder.")
        from engine.models.hf import load_hf_model

        return load_hf_model(src, root, trust_remote_code=trust_remote_code)
    if path.suffix.lower() == ".safetensors":
        return load_juxta_file(path, str(src))
    refuse_unsafe(path)
    raise ModelError(f"Model file {path} has an unknown format '{path.suffix}'; expected .safetensors or a model folder.")


def describe_file(path: Path, source: str) -> ModelInfo:
    """Picker information for a Juxta safetensors file, from its header only."""
    from safetensors import safe_open

    meta = read_juxta_header(path)
    with safe_open(str(path), framework="pt") as f:
        n = 0
        for key in f.keys():
            shape = f.get_slice(key).get_shape()
            if not key.startswith("norm."):
                count = 1
                for d in shape:
                    count *= d
                n += count
    return ModelInfo(
        source=source,
        architecture=meta.get("arch", "unknown"),
        n_params=n,
        class_names=json.loads(meta.get("class_names", "[]")),
        modality=meta.get("modality", "image"),
        input_shape=tuple(json.loads(meta.get("input_shape", "[]"))) or None,
    )

"""Engine-backed implementations of what views ask for (``views.providers.StudyProviders``).

Heavy modules (torch, transformers) are imported inside the functions, which views run off the GUI
thread, so the window opens without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from views.providers import DatasetPreview, ModelChoice, StudyProviders


def builtin_models() -> list[ModelChoice]:
    from engine.data.loaders import BUILTIN_DATASETS
    from engine.models.recipes import ARCHITECTURES

    out = []
    for arch, (modality, text) in ARCHITECTURES.items():
        label = {"mlp": "MLP", "cnn": "CNN", "vit": "Tiny ViT", "bow": "Bag-of-words"}[arch]
        out.append(ModelChoice(f"builtin:{arch}", f"{label} (trained on the study's data)", text))
        if "image" in modality:
            out.append(ModelChoice(f"builtin:digits-{arch}", f"{label} (trained on digits)", f"{text} Trained on {BUILTIN_DATASETS['digits']}"))
    return out


def builtin_datasets() -> list[ModelChoice]:
    from engine.data.loaders import BUILTIN_DATASETS

    return [ModelChoice(f"builtin:{name}", name, text) for name, text in BUILTIN_DATASETS.items()]


def _data_options(options: dict[str, Any]):
    from engine.data.spec import DataColumns

    known = {k: v for k, v in (options or {}).items() if k in DataColumns.model_fields and v not in (None, "")}
    return DataColumns(**known).options()


def make_providers(root_getter) -> StudyProviders:
    """Providers for the project whose folder ``root_getter()`` returns."""

    def root() -> Path:
        return Path(root_getter())

    def describe_model(source: str) -> dict[str, Any]:
        from engine.models.describe import describe_model as describe

        info = describe(source, root())
        return {"architecture": info.architecture, "n_params": info.n_params, "class_names": info.class_names,
                "modality": info.modality}

    def preview_dataset(source: str, options: dict[str, Any]) -> DatasetPreview:
        from engine.data.loaders import load_data

        data = load_data(source, root(), _data_options(options))
        counts = np.bincount(data.y, minlength=data.num_classes).tolist()
        rng = np.random.default_rng(0)
        picks = rng.choice(len(data), size=min(12, len(data)), replace=False)
        samples: list[tuple[Any, str]] = []
        for i in picks:
            label = data.class_names[int(data.y[i])]
            if data.modality == "image":
                samples.append((_to_uint8(np.asarray(data.x[i])), label))
            elif data.modality == "text":
                samples.append((str(data.x[i]), label))
            else:
                names = data.feature_names or [f"x{j}" for j in range(np.asarray(data.x).shape[1])]
                samples.append(({n: float(v) for n, v in zip(names, np.asarray(data.x[i]))}, label))
        return DatasetPreview(source, data.modality, len(data), list(data.class_names), counts, samples,
                              has_groups=data.groups is not None)

    def corruption_gallery(source: str, options: dict[str, Any], names: list[str], severities: list[int]) -> dict[str, list[np.ndarray]]:
        import torch

        from engine.data.loaders import load_data
        from engine.conditions.corruptions import corrupt

        data = load_data(source, root(), _data_options(options))
        if data.modality != "image":
            return {}
        first = int(np.flatnonzero(data.y == data.y[0])[0])
        x = torch.from_numpy(np.asarray(data.x[first : first + 1]))
        index = torch.tensor([int(data.index[first])])
        out = {}
        for name in names:
            images = [_to_uint8(x[0].numpy())]
            for sev in severities:
                images.append(_to_uint8(corrupt(x, name, sev, 0, index)[0].numpy()))
            out[name] = images
        return out

    def validate(text: str) -> list[str]:
        from engine.core.errors import StudyFileError
        from engine.kinds import get_kind, parse_study_text

        try:
            study = parse_study_text(text, "study")
            get_kind(study.kind).check_files(study, root(), "study", text)
        except StudyFileError as exc:
            return list(exc.problems)
        return []

    return StudyProviders(
        builtin_models=builtin_models,
        builtin_datasets=builtin_datasets,
        describe_model=describe_model,
        preview_dataset=preview_dataset,
        corruption_gallery=corruption_gallery,
        validate=validate,
        project_root=lambda: str(root()),
    )


def _to_uint8(chw: np.ndarray) -> np.ndarray:
    """(C, H, W) float [0, 1] -> (H, W) or (H, W, 3) uint8 for display."""
    arr = np.clip(np.asarray(chw, dtype=np.float32), 0, 1)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    return (arr * 255 + 0.5).astype(np.uint8)

"""What views ask the rest of the application for, as plain callables and plain data.

Views never import torch (nor engine modules that do): the app module that builds a view passes
these callables in, backed by the engine. Tests pass fakes. Slow callables are run by the caller
off the GUI thread (see ``views.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class ModelChoice:
    source: str  # e.g. "builtin:digits-cnn"
    label: str  # e.g. "CNN (digits)"
    description: str  # one plain sentence
    n_params: int | None = None


@dataclass
class DatasetPreview:
    source: str
    modality: str  # "image" | "tabular" | "text"
    n_rows: int
    class_names: list[str]
    class_counts: list[int]
    # up to ~12 samples: (uint8 image HxW or HxWx3 | text | {column: value}, class name)
    samples: list[tuple[Any, str]] = field(default_factory=list)
    has_groups: bool = False


@dataclass
class StudyProviders:
    """Everything the study wizard and the study page need from the engine."""

    builtin_models: Callable[[], list[ModelChoice]]
    builtin_datasets: Callable[[], list[ModelChoice]]  # same shape: source, label, description
    describe_model: Callable[[str], dict[str, Any]]  # source -> {architecture, n_params, class_names, modality}; raises JuxtaError
    preview_dataset: Callable[[str, dict[str, Any]], DatasetPreview]  # (source, [data] options) -> preview; raises JuxtaError
    # (source, options, corruption names, severities) -> {name: [clean, sev1, ..., sevN] uint8 images}
    corruption_gallery: Callable[[str, dict[str, Any], list[str], list[int]], dict[str, list[np.ndarray]]]
    validate: Callable[[str], list[str]]  # study TOML text -> problems (empty when valid)
    project_root: Callable[[], str]

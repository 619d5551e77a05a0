"""What views ask the rest of the application for, as plain callables and plain data.

Views never import torch (nor engine modules that do): the app module that builds a view passes
these callables in, backed by the engine. Tests pass fakes (``describe`` defaults to the engine's own:
it reads nothing but the text). Slow callables are run by the caller
off the GUI thread (see ``views.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from engine.kinds.base import Description


def describe_study_text(text: str) -> Description | None:
    """A study file's ``Description`` as its kind gives it (``StudyKind.describe``: from the file alone, no data
    read, cheap enough for the GUI thread); None when the text is not a valid study file."""
    from engine.core.errors import JuxtaError
    from engine.kinds import get_kind, parse_study_text

    try:
        study = parse_study_text(text, "study")
    except JuxtaError:
        return None
    return get_kind(study.kind).describe(study)


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
    # study TOML text -> its kind's Description (counts, cells sentence, summary rows), None when not a valid study
    describe: Callable[[str], "Description | None"] = describe_study_text


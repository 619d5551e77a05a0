"""Juxta's merge plan: what to merge, how, and under which conventions — what a mergekit YAML or a
merge study becomes before any tensor is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.kinds.merge.conventions import PRESETS, Conventions
from engine.kinds.merge.params import Setting, to_plain


@dataclass
class ModelInput:
    """One input model: a path (or a Hugging Face id already in the local cache) and its parameters."""

    model: str
    parameters: dict[str, Setting] = field(default_factory=dict)


@dataclass
class SliceSource:
    model: str
    layer_range: tuple[int, int]
    parameters: dict[str, Setting] = field(default_factory=dict)


@dataclass
class OutputSlice:
    """A run of output layers taken (or merged) from the same layer range of each source."""

    sources: list[SliceSource]
    base_model: str | None = None
    parameters: dict[str, Setting] = field(default_factory=dict)


@dataclass
class MergePlan:
    method: str
    models: list[ModelInput] = field(default_factory=list)
    base_model: str | None = None
    parameters: dict[str, Setting] = field(default_factory=dict)
    slices: list[OutputSlice] | None = None
    dtype: str | None = None
    out_dtype: str | None = None
    conventions: Conventions = field(default_factory=lambda: PRESETS["mergekit"])
    seed: int = 0
    heads: list[str] = field(default_factory=list)  # name pieces of declared task-specific heads
    embeddings: Literal["error", "submatrix"] = "error"

    def model_names(self) -> list[str]:
        """Every model the plan reads, base first, each once."""
        names: list[str] = [self.base_model] if self.base_model else []
        for m in self.models:
            names.append(m.model)
        for s in self.slices or []:
            if s.base_model:
                names.append(s.base_model)
            names += [src.model for src in s.sources]
        return list(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for records (the parameters as written, the conventions in full)."""
        out: dict[str, Any] = {"method": self.method, "base_model": self.base_model, "seed": self.seed,
                               "dtype": self.dtype, "out_dtype": self.out_dtype, "embeddings": self.embeddings,
                               "heads": list(self.heads), "conventions": self.conventions.model_dump(),
                               "parameters": {k: to_plain(v) for k, v in self.parameters.items()},
                               "models": [{"model": m.model, "parameters": {k: to_plain(v) for k, v in m.parameters.items()}}
                                          for m in self.models]}
        if self.slices:
            out["slices"] = [{"base_model": s.base_model, "parameters": {k: to_plain(v) for k, v in s.parameters.items()},
                              "sources": [{"model": src.model, "layer_range": list(src.layer_range),
                                           "parameters": {k: to_plain(v) for k, v in src.parameters.items()}}
                                          for src in s.sources]} for s in self.slices]
        return out

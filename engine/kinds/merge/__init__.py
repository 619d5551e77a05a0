"""Model merging: the study kind (``MergeKind``), and the merge library beneath it.

Importing this package loads neither torch nor pandas (the kind registry is imported at start-up);
the library's names below load on first use (PEP 562).

The library::

    METHODS, get_method                       # the registry (engine.kinds.merge.methods)
    Conventions, PRESETS, conventions          # recorded switches, 'mergekit' and 'paper' presets
    MergePlan, ModelInput, OutputSlice, SliceSource
    merge_to_folder(plan, out_dir, ...)        # files → Hugging Face folder, streaming
    merge_state_dicts(method, base, experts, ...)
    read_mergekit_yaml(path), plan_from_yaml(text), plan_to_yaml(plan)
    task_vector_similarity, sign_conflicts, update_norms   # diagnostics

The study kind lives in ``kind`` and ``study/`` (see ``engine.kinds.merge.kind``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded eagerly (it needs no torch): the function ``conventions`` shares its name with its module, and a
# lazily loaded module would shadow the function once any other module imported it.
from engine.kinds.merge.conventions import PRESETS, Conventions, conventions
from engine.kinds.merge.kind import MergeKind

_LIBRARY = {
    "MergeError": "checks",
    "sign_conflicts": "diagnostics", "task_vector_similarity": "diagnostics", "update_norms": "diagnostics",
    "MergeResult": "merging", "merge_state_dicts": "merging", "merge_to_folder": "merging",
    "plan_from_yaml": "mergekit", "plan_to_yaml": "mergekit", "read_mergekit_yaml": "mergekit",
    "METHODS": "methods", "Method": "methods", "get_method": "methods",
    "MergePlan": "plan", "ModelInput": "plan", "OutputSlice": "plan", "SliceSource": "plan",
    "MergeReport": "streaming",
}

__all__ = ["PRESETS", "Conventions", "MergeKind", "conventions", *_LIBRARY]


def __getattr__(name: str) -> Any:
    if name in _LIBRARY:
        value = getattr(import_module(f"engine.kinds.merge.{_LIBRARY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine.kinds.merge' has no attribute {name!r}")

"""Model merging: the method registry, the conventions, streaming merges of model files, in-memory
merges of state dicts, diagnostics, and mergekit YAML interop. See docs in each module.

Public API::

    METHODS, get_method                       # the registry (engine.kinds.merge.methods)
    Conventions, PRESETS, conventions          # recorded switches, 'mergekit' and 'paper' presets
    MergePlan, ModelInput, OutputSlice, SliceSource
    merge_to_folder(plan, out_dir, ...)        # files → Hugging Face folder, streaming
    merge_state_dicts(method, base, experts, ...)
    read_mergekit_yaml(path), plan_from_yaml(text), plan_to_yaml(plan)
    task_vector_similarity, sign_conflicts, update_norms   # diagnostics
"""

from engine.kinds.merge.checks import MergeError
from engine.kinds.merge.conventions import PRESETS, Conventions, conventions
from engine.kinds.merge.diagnostics import sign_conflicts, task_vector_similarity, update_norms
from engine.kinds.merge.merging import MergeResult, merge_state_dicts, merge_to_folder
from engine.kinds.merge.mergekit import plan_from_yaml, plan_to_yaml, read_mergekit_yaml
from engine.kinds.merge.methods import METHODS, Method, get_method
from engine.kinds.merge.plan import MergePlan, ModelInput, OutputSlice, SliceSource
from engine.kinds.merge.streaming import MergeReport

__all__ = [
    "METHODS", "PRESETS", "Conventions", "MergeError", "MergePlan", "MergeReport", "MergeResult", "Method",
    "ModelInput", "OutputSlice", "SliceSource", "conventions", "get_method", "merge_state_dicts", "merge_to_folder",
    "plan_from_yaml", "plan_to_yaml", "read_mergekit_yaml", "sign_conflicts", "task_vector_similarity", "update_norms",
]

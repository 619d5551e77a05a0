"""What may be merged, and the one clear message when something may not.

* Integer and boolean tensors (``num_batches_tracked``, position ids) are never averaged: they are
  copied from the base (or the first model) and stay integers.
* A tensor whose kind differs between models (floating point in one, integer in another) is an
  error naming it.
* Task-specific heads — tensors declared as heads, or under a ``classifier``/``score``/``head(s)``
  module whose shapes differ between models — are not merged: each model keeps its own head.
* Any other shape mismatch is an error naming the tensor and each model's shape (mergekit skips the
  model for that tensor with a log line).
* Embeddings (input embeddings, ``lm_head``) of different vocabulary sizes are an error unless the
  plan asks for mergekit's submatrix rule, which is then applied and reported.
* Models whose config.json names different architectures are an error; so is a tensor missing from
  a model (a tied ``lm_head`` falls back to that model's input embedding, as mergekit does).
"""

from __future__ import annotations

import re
from typing import Iterable, Protocol, TYPE_CHECKING


from engine.core.errors import JuxtaError

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch

EMBED_NAMES = re.compile(r"(^|\.)(embed_tokens|wte|word_embeddings|embed_in|embed_out|lm_head|shared|tok_embeddings)\.weight$")
INPUT_EMBED = re.compile(r"(^|\.)(embed_tokens|wte|word_embeddings|embed_in|shared|tok_embeddings)\.weight$")
HEAD_PARTS = frozenset({"classifier", "score", "head", "heads"})


class MergeError(JuxtaError):
    """A merge that cannot be done as asked; the message names the model, tensor or parameter."""


class TensorSource(Protocol):
    label: str

    def names(self) -> list[str]: ...
    def __contains__(self, name: str) -> bool: ...
    def entry(self, name: str) -> tuple[torch.dtype, tuple[int, ...]]: ...
    def read(self, name: str) -> torch.Tensor: ...
    def architecture(self) -> str | None: ...


def is_embedding(name: str) -> bool:
    return bool(EMBED_NAMES.search(name))


def is_head(name: str, declared: Iterable[str] = ()) -> bool:
    """Declared (a piece of the name) or under a head-named module."""
    if any(piece and piece in name for piece in declared):
        return True
    return bool(HEAD_PARTS & set(name.split(".")[:-1]))


def is_float(dtype: torch.dtype) -> bool:
    return dtype.is_floating_point


def check_architectures(sources: list[TensorSource]) -> None:
    """Models whose config.json names different architectures cannot be merged."""
    known = [(s.label, s.architecture()) for s in sources if s.architecture()]
    kinds = {a for _, a in known}
    if len(kinds) > 1:
        listed = "; ".join(f"{label}: {arch}" for label, arch in known)
        raise MergeError(f"The models have different architectures ({listed}); only models of one architecture "
                         "(fine-tuned from the same base) can be merged.")


def tied_alias(source: TensorSource, name: str) -> str | None:
    """For a missing ``lm_head.weight``, the model's input embedding (tied weights), if it has one."""
    if not name.endswith("lm_head.weight"):
        return None
    for other in source.names():
        if INPUT_EMBED.search(other):
            return other
    return None


def shapes_text(shapes: list[tuple[str, tuple[int, ...]]]) -> str:
    return ", ".join(f"{label} {'×'.join(map(str, s)) or 'scalar'}" for label, s in shapes)


def vocab_message(name: str, shapes: list[tuple[str, tuple[int, ...]]]) -> str:
    return (f"Vocabulary sizes differ at '{name}' ({shapes_text(shapes)}): these models use different tokenizers. "
            "Merge models that share a tokenizer, or ask for mergekit's rule (merge the common submatrix: "
            "--submatrix-embeddings) knowing that the extra tokens are dropped.")

"""Which layers an adapter method wraps: a visible default per architecture, checked user choices.

The default is what a study file shows and a user may change (``target_modules``):

* built-in MLP: its hidden linear layers (``body.0``, ``body.2``); built-in text model: ``body.0``;
* built-in CNN: its three convolutions (``features.0``, ``features.3``, ``features.7``);
* built-in ViT: the feed-forward layers of each encoder block (``linear1``, ``linear2``); its
  attention is one ``nn.MultiheadAttention`` per block, which only LoRA can wrap (``self_attn``);
* transformers models (BERT-like, ViT, …): PEFT's own per-model default for the method (e.g.
  ``query``, ``value`` for BERT with LoRA), or the attention's query and value projections by their
  usual names when PEFT has none for that model type (or its names are not in the model);
* any other model (e.g. a CNN from the hub): every layer the method can wrap, except the head.

Names follow PEFT's rule: a full module name, or its last parts (``linear1`` matches
``encoder.layers.0.linear1``). The head is never a target: it is trained whole (``modules_to_save``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from engine.core.errors import ModelError
from engine.kinds.finetune.layout import Layout

if TYPE_CHECKING:
    from torch import nn

# Layer types by name; a method lists the ones its PEFT tuner wraps.
LAYER_TYPES = ("Linear", "Conv1D", "Conv1d", "Conv2d", "Conv3d", "Embedding", "MultiheadAttention")
_BUILTIN_DEFAULTS = {
    "mlp": ["body.0", "body.2"],
    "cnn": ["features.0", "features.3", "features.7"],
    "vit": ["linear1", "linear2"],
    "bow": ["body.0"],
}
# Query and value projections by their usual names, for transformers PEFT has no default for.
_ATTENTION_NAMES = ("query", "value", "q_proj", "v_proj", "q_lin", "v_lin", "query_proj", "value_proj")
_LISTED = 40


def layer_type(module: "nn.Module") -> str | None:
    """The name in LAYER_TYPES this module counts as, or None for anything else."""
    from torch import nn

    if isinstance(module, nn.MultiheadAttention):
        return "MultiheadAttention"
    for cls in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding):
        if isinstance(module, cls):
            return cls.__name__
    if type(module).__name__ == "Conv1D" and type(module).__module__.startswith("transformers"):
        return "Conv1D"
    return None


def default_targets(module: "nn.Module", layout: Layout, peft_type: str, supports: tuple[str, ...]) -> list[str]:
    """The default ``target_modules`` for this architecture and PEFT method (names as a user writes them).

    ``peft_type`` is PEFT's name for the tuner ("LORA", "IA3", "ADALORA", "VERA", "LOHA", "LOKR").
    """
    if layout.family in _BUILTIN_DEFAULTS:
        names = _BUILTIN_DEFAULTS[layout.family]
        return [n for n in names if any(_supported(m, supports) for _, m in _matches(module, layout, n))]
    if layout.family == "transformers":
        mapped = _peft_mapping(peft_type).get(layout.model_type or "")
        if isinstance(mapped, list):  # PEFT's names, when this model (version) still has them
            present = [n for n in mapped if any(_supported(m, supports) for _, m in _matches(module, layout, n))]
            if present:
                return present
        found = sorted({name.rsplit(".", 1)[-1] for name, m in _layers(module, layout)
                        if name.rsplit(".", 1)[-1] in _ATTENTION_NAMES and _supported(m, supports)})
        if found:
            return found
    return [name for name, m in _layers(module, layout) if _supported(m, supports)]


def default_feedforward(layout: Layout, targets: list[str]) -> list[str]:
    """IA3's ``feedforward_modules`` (layers whose *input* is scaled rather than their output).

    For transformers, PEFT's default for the model type. For the others, every target: a
    convolution followed by batch norm would have an output scale undone by the normalisation, so
    IA3 scales what goes into each layer instead.
    """
    if layout.family == "transformers":
        mapped = _peft_mapping("IA3_FEEDFORWARD").get(layout.model_type or "")
        if isinstance(mapped, list):
            return [m for m in mapped if m in targets]
        return []
    return list(targets)


def resolve_targets(
    module: "nn.Module",
    layout: Layout,
    requested: list[str],
    method: str,
    supports: tuple[str, ...],
    rank: int | None = None,
) -> list[str]:
    """Full names of the layers ``requested`` names, after checking each can be wrapped.

    Raises a ModelError naming the architecture and its layers when a name matches nothing (PEFT
    would ignore it), when a layer is of a type the method cannot wrap, or when ``rank`` exceeds a
    layer's width (the rank of its weight).
    """
    where = layout.describe()
    if not requested:
        kinds = " or ".join(supports[:3])
        raise ModelError(
            f"{method} has no layer to adapt in {where}: it wraps {kinds} layers and the model has none besides "
            f"its head. Its layers are: {list_layers(module, layout)}."
        )
    unmatched = [n for n in requested if not _matches(module, layout, n)]
    if unmatched:
        raise ModelError(
            f"target_modules {unmatched} match no layer of {where}. Name layers by their full name or last "
            f"part; its layers are: {list_layers(module, layout)}."
        )
    chosen: dict[str, "nn.Module"] = {}
    for name in requested:
        for full, m in _matches(module, layout, name):
            chosen[full] = m
    inside_attention = _inside_attention(module)
    for full, m in chosen.items():
        if full in inside_attention:
            raise ModelError(
                f"target_modules names '{full}' in {where}, which sits inside an attention layer "
                f"('{inside_attention[full]}', nn.MultiheadAttention) that reads its weights directly, so an "
                f"adapter there would have no effect. Name the attention layer itself ('{inside_attention[full]}', "
                "LoRA only) or other layers."
            )
        kind = layer_type(m)
        if kind is None:
            raise ModelError(
                f"target_modules names '{full}' in {where}, a {type(m).__name__} block rather than a layer; name "
                f"its layers instead. The model's layers are: {list_layers(module, layout)}."
            )
        if kind not in supports:
            able = [n for n, x in _layers(module, layout) if _supported(x, supports)]
            which = f"the layers it can adapt are: {', '.join(able)}" if able else "the model has none besides its head"
            raise ModelError(
                f"{method} cannot adapt '{full}' in {where}: it is a {kind} layer and {method} wraps only "
                f"{', '.join(supports)} layers; {which}."
            )
    if rank is not None:
        widths = {full: layer_width(m) for full, m in chosen.items()}
        too_small = {full: w for full, w in widths.items() if w is not None and rank > w}
        if too_small:
            full = min(too_small, key=too_small.get)
            w = too_small[full]
            raise ModelError(
                f"rank {rank} is larger than layer '{full}' of {where} allows ({describe_layer(chosen[full])}: its "
                f"weight has rank at most {w}). Choose a rank of at most {w}, or leave '{full}' out of target_modules."
            )
    order = {name: i for i, (name, _) in enumerate(module.named_modules())}
    return sorted(chosen, key=order.__getitem__)


def layer_width(m: "nn.Module") -> int | None:
    """The largest rank a change to this layer's weight can have."""
    from torch import nn

    kind = layer_type(m)
    if kind == "Linear":
        return min(m.in_features, m.out_features)
    if kind in ("Conv1d", "Conv2d", "Conv3d"):
        return min(m.out_channels, (m.in_channels // m.groups) * math.prod(m.kernel_size))
    if kind == "Conv1D":
        return min(m.weight.shape)
    if kind == "Embedding":
        return min(m.num_embeddings, m.embedding_dim)
    if isinstance(m, nn.MultiheadAttention):
        return m.embed_dim
    return None


def describe_layer(m: "nn.Module") -> str:
    kind = layer_type(m) or type(m).__name__
    if kind == "Linear":
        return f"Linear {m.in_features}→{m.out_features}"
    if kind in ("Conv1d", "Conv2d", "Conv3d"):
        return f"{kind} {m.in_channels}→{m.out_channels}, {'×'.join(map(str, m.kernel_size))}"
    if kind == "Embedding":
        return f"Embedding {m.num_embeddings}×{m.embedding_dim}"
    if kind == "MultiheadAttention":
        return f"MultiheadAttention width {m.embed_dim}"
    if kind == "Conv1D":
        return f"Conv1D {m.weight.shape[0]}→{m.weight.shape[1]}"
    return kind


def list_layers(module: "nn.Module", layout: Layout) -> str:
    """'body.0 (Linear 64→128), body.2 (Linear 128→64), body.4 (head, Linear 64→10)' — at most 40 shown."""
    rows = [f"{name} ({describe_layer(m)})" for name, m in _layers(module, layout)]
    head = module.get_submodule(layout.head)
    rows.append(f"{layout.head} (head, {describe_layer(head)})")
    shown = ", ".join(rows[:_LISTED])
    return shown + (f", … ({len(rows)} in all)" if len(rows) > _LISTED else "")


def _layers(module: "nn.Module", layout: Layout) -> list[tuple[str, "nn.Module"]]:
    """Layers outside the head, in order (attention blocks count as one layer)."""
    inside = _inside_attention(module)
    return [
        (name, m) for name, m in module.named_modules()
        if name and layer_type(m) is not None and name not in inside and not _in_head(name, layout)
    ]


def _matches(module: "nn.Module", layout: Layout, name: str) -> list[tuple[str, "nn.Module"]]:
    return [
        (full, m) for full, m in module.named_modules()
        if full and (full == name or full.endswith("." + name)) and not _in_head(full, layout)
    ]


def _in_head(name: str, layout: Layout) -> bool:
    return any(name == h or name.startswith(h + ".") for h in (layout.head, layout.head_module))


def _inside_attention(module: "nn.Module") -> dict[str, str]:
    """Sub-layers of nn.MultiheadAttention (its out_proj) -> the attention layer's name."""
    from torch import nn

    out: dict[str, str] = {}
    for name, m in module.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            for sub, _ in m.named_modules():
                if sub:
                    out[f"{name}.{sub}" if name else sub] = name
    return out


def _supported(m: "nn.Module", supports: tuple[str, ...]) -> bool:
    return layer_type(m) in supports


def _peft_mapping(peft_type: str) -> dict:
    from peft.utils import constants

    names = {
        "IA3_FEEDFORWARD": "TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING",
        "LORA": "TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING",
        "IA3": "TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING",
        "ADALORA": "TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING",
        "VERA": "TRANSFORMERS_MODELS_TO_VERA_TARGET_MODULES_MAPPING",
        "LOHA": "TRANSFORMERS_MODELS_TO_LOHA_TARGET_MODULES_MAPPING",
        "LOKR": "TRANSFORMERS_MODELS_TO_LOKR_TARGET_MODULES_MAPPING",
    }
    return getattr(constants, names[peft_type], {}) or {}

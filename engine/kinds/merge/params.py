"""Parameter values as mergekit writes them: scalars, layer gradients and filtered lists.

A value may be a scalar, a *gradient* (a list of numbers, interpolated piecewise-linearly over the
layer index: ``t = layer / (layers − 1)``), or a list of ``{filter, value}`` conditionals where the
first filter that is a substring of the tensor name wins (``filter`` missing or ``"*"`` matches all).
Tensors outside the numbered layers (embeddings, final norm, heads) are evaluated at ``t = 0``, so
they take a gradient's first value — mergekit's rule. A layer is the first integer component of a
tensor's dotted name (``model.layers.3.mlp…`` → layer 3 of the ``model.layers`` stack), so any
Hugging Face model works without an architecture table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

from engine.core.errors import JuxtaError

Scalar = Union[float, int, bool, str]


@dataclass(frozen=True)
class Conditional:
    """One ``{filter, value}`` entry: ``value`` applies to tensors whose name contains ``filter``."""

    value: "Setting"
    filter: str | None = None

    def matches(self, tensor: str) -> bool:
        return self.filter is None or self.filter == "*" or self.filter in tensor


Setting = Union[Scalar, tuple[float, ...], tuple[Conditional, ...]]


def parse_setting(raw: Any, where: str) -> Setting:
    """A YAML/JSON value → a Setting; ``where`` names it in the error (``models[1].parameters.density``)."""
    if isinstance(raw, (bool, int, float, str)):
        return raw
    if isinstance(raw, dict):
        return (_conditional(raw, where),)
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise JuxtaError(f"{where}: an empty list is not a value; give a number, a list of numbers "
                             "(a gradient over the layers) or a list of {filter, value} entries.")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            return tuple(float(v) for v in raw)
        if all(isinstance(v, dict) for v in raw):
            return tuple(_conditional(v, f"{where}[{i}]") for i, v in enumerate(raw))
    raise JuxtaError(f"{where}: expected a number, a list of numbers (a gradient over the layers) or a list "
                     f"of {{filter, value}} entries, got {raw!r}.")


def _conditional(raw: dict, where: str) -> Conditional:
    unknown = sorted(set(raw) - {"filter", "value"})
    if unknown:
        raise JuxtaError(f"{where}: unknown key {', '.join(map(repr, unknown))}; a conditional value has only "
                         "'filter' and 'value'.")
    if "value" not in raw:
        raise JuxtaError(f"{where}: a conditional value needs 'value' (and optionally 'filter').")
    filt = raw.get("filter")
    if filt is not None and not isinstance(filt, str):
        raise JuxtaError(f"{where}.filter: expected a piece of a tensor name (text), got {filt!r}.")
    value = parse_setting(raw["value"], f"{where}.value")
    return Conditional(value=value, filter=filt)


def evaluate(setting: Setting, tensor: str, t: float) -> Any:
    """The value for ``tensor`` at relative depth ``t`` in [0, 1]; ``None`` when no filter matches."""
    if isinstance(setting, tuple) and setting and isinstance(setting[0], Conditional):
        for cond in setting:
            if cond.matches(tensor):
                return evaluate(cond.value, tensor, t)
        return None
    if isinstance(setting, tuple):
        scaled = t * (len(setting) - 1)
        i0 = int(scaled)
        i1 = min(len(setting) - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * setting[i0] + frac * setting[i1]
    return setting


def to_plain(setting: Setting) -> Any:
    """A Setting back to plain YAML/JSON data (the inverse of :func:`parse_setting`)."""
    if isinstance(setting, tuple) and setting and isinstance(setting[0], Conditional):
        out = []
        for cond in setting:
            item: dict[str, Any] = {} if cond.filter is None else {"filter": cond.filter}
            item["value"] = to_plain(cond.value)
            out.append(item)
        return out
    if isinstance(setting, tuple):
        return list(setting)
    return setting


_INDEX = re.compile(r"(?:^|\.)(\d+)(?=\.|$)")


def layer_of(tensor: str) -> tuple[str, int] | None:
    """``("model.layers", 3)`` for ``model.layers.3.mlp.up_proj.weight``; ``None`` outside numbered layers."""
    m = _INDEX.search(tensor)
    if not m:
        return None
    return tensor[: m.start(1)].rstrip("."), int(m.group(1))


def depth_positions(names: list[str]) -> dict[str, float]:
    """Relative depth ``t`` of every tensor: ``layer / (layers − 1)`` in its stack (1 when the stack has
    one layer, as mergekit does), 0 outside numbered layers."""
    stacks: dict[str, int] = {}
    found = {n: layer_of(n) for n in names}
    for hit in found.values():
        if hit:
            stacks[hit[0]] = max(stacks.get(hit[0], 0), hit[1] + 1)
    out: dict[str, float] = {}
    for name, hit in found.items():
        if hit is None:
            out[name] = 0.0
        else:
            n = stacks[hit[0]]
            out[name] = hit[1] / (n - 1) if n > 1 else 1.0
    return out

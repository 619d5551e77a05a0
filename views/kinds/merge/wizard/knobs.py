"""The knobs of each merge method, as the wizard shows them, and grid values typed as text.

The methods' typed parameters live in the engine's method registry (``engine.kinds.merge.methods``: each a
pydantic field with a default, bounds and a one-line description). That registry loads torch, so
:func:`method_knobs` is only ever called off the GUI thread (``KindWizard.background``) and hands back plain
data. Everything else here is plain text handling: ``"0.1, 0.2, 0.5"`` -> ``[0.1, 0.2, 0.5]`` and back, with
the knob's type deciding whether ``1`` is written ``1`` or ``1.0``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, get_args

Scalar = bool | int | float | str
FIRST = ("lambda", "density", "weight", "t")  # the knobs people sweep most, shown first

# what a new study suggests for the methods it ticks (the grids of the example)
SUGGESTED_GRIDS: dict[str, dict[str, list[Scalar]]] = {
    "task_arithmetic": {"lambda": [0.3, 0.5, 1.0]},
    "ties": {"density": [0.1, 0.2, 0.5], "lambda": [0.3, 0.5, 1.0]},
    "dare_ties": {"density": [0.1, 0.2, 0.5], "lambda": [0.3, 0.5, 1.0]},
    "dare_linear": {"density": [0.1, 0.2, 0.5], "lambda": [0.3, 0.5, 1.0]},
}


@dataclass(frozen=True)
class Knob:
    """One parameter of a merge method: its key in a study file, type, default, bounds and what it does."""

    key: str
    kind: str  # "float" | "int" | "bool" | "str"
    default: Any
    description: str
    per_model: bool  # set per expert in mergekit; a study applies one value to every expert
    low: float | None = None
    low_open: bool = False  # low < value (else low <= value)
    high: float | None = None
    high_open: bool = False

    def bounds_words(self) -> str:
        """'from 0 (excluded) to 1', '' when unbounded."""
        if self.low is None and self.high is None:
            return ""
        parts = []
        if self.low is not None:
            parts.append(f"from {_num(self.low)}{' (excluded)' if self.low_open else ''}")
        if self.high is not None:
            parts.append(f"to {_num(self.high)}{' (excluded)' if self.high_open else ''}")
        return " ".join(parts)

    def tooltip(self) -> str:
        """What the knob does, in plain words, with its range and default (the wizard's tooltip)."""
        words = self.description[:1].upper() + self.description[1:]
        words = words if words.endswith(".") else words + "."
        extra = []
        if self.bounds_words():
            extra.append(f"Values {self.bounds_words()}.")
        extra.append("Default: " + ("none" if self.default is None else value_text(self.default)) + ".")
        if self.per_model:
            extra.append("Applies to every expert alike.")
        extra.append("Several values, separated by commas, make a grid: one merged model per combination.")
        return " ".join([words, *extra])


def _num(v: float) -> str:
    return f"{v:g}"


def _kind(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    first = args[0]
    return {bool: "bool", int: "int", float: "float"}.get(first, "str")


def method_knobs() -> dict[str, list[Knob]]:
    """Every study method's knobs, read from the engine's registry. Loads torch: call it off the GUI thread."""
    from engine.kinds.merge.catalog import METHOD_KINDS
    from engine.kinds.merge.methods import METHODS
    from engine.kinds.merge.methods.base import param_key

    out: dict[str, list[Knob]] = {}
    for name, method in METHODS.items():
        if METHOD_KINDS.get(name) == "post":
            continue
        knobs = []
        for per_model, model in ((False, method.options), (True, method.model_params)):
            for field, info in model.model_fields.items():
                bounds: dict[str, Any] = {}
                for meta in info.metadata:
                    for attr, (side, open_) in {"gt": ("low", True), "ge": ("low", False), "lt": ("high", True),
                                                "le": ("high", False)}.items():
                        value = getattr(meta, attr, None)
                        if value is not None:
                            bounds[side], bounds[f"{side}_open"] = float(value), open_
                knobs.append(Knob(param_key(model, field), _kind(info.annotation), info.default,
                                  str(info.description or ""), per_model, **bounds))
        rank = {k: i for i, k in enumerate(FIRST)}
        out[name] = sorted(knobs, key=lambda k: rank.get(k.key, len(rank)))
    return out


# -- values as text ---------------------------------------------------------------------------


def value_text(v: Any) -> str:
    """A value as typed: floats keep their point (1.0), booleans are true/false."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def values_text(value: Any) -> str:
    """A study file's parameter (a value or a list of them) as the text of its field."""
    values = value if isinstance(value, list) else [value]
    return ", ".join(value_text(v) for v in values)


def parse_values(text: str, kind: str | None = None) -> tuple[list[Scalar], str | None]:
    """'0.1, 0.2, 0.5' -> ([0.1, 0.2, 0.5], None); ``kind`` (a knob's type, when known) decides what a bare number
    is; returns the error sentence instead when a value cannot be one of that kind."""
    values: list[Scalar] = []
    for part in [p for p in re.split(r"[,;\s]+", text.strip()) if p]:
        low = part.lower()
        if low in ("true", "false"):
            if kind not in (None, "bool"):
                return values, f"'{part}' is not a number"
            values.append(low == "true")
            continue
        if kind == "bool":
            return values, f"'{part}' is not true or false"
        try:
            number = int(part) if re.fullmatch(r"[+-]?\d+", part) and kind != "float" else float(part)
        except ValueError:
            if kind in ("int", "float"):
                return values, f"'{part}' is not a number"
            values.append(part)
            continue
        if isinstance(number, float) and not math.isfinite(number):
            return values, f"'{part}' is not a finite number"
        if kind == "int" and isinstance(number, float):
            if number != int(number):
                return values, f"'{part}' is not a whole number"
            number = int(number)
        values.append(number)
    return values, None


def as_setting(values: list[Scalar]) -> Scalar | list[Scalar] | None:
    """What a study file holds for these values: nothing, one value, or a list (a grid axis)."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)

"""A method's parameters and model count checked against what it accepts, with one message naming the
parameter, its bounds and what it does. Without torch: a merge study's planning checks every grid
point of its methods with this, and planning must not load torch (a re-run with nothing to compute
stays fast)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from engine.kinds.merge.checks import MergeError
from engine.kinds.merge.methods import Method
from engine.kinds.merge.methods.base import Params, param_key


def interval_words(info) -> str:
    """A field's bounds in words: 'in (0, 1]', '≥ 0', or '' when it has none."""
    lo, hi, lo_open, hi_open = None, None, False, False
    for m in info.metadata:
        for attr, is_lo, open_ in (("gt", True, True), ("ge", True, False), ("lt", False, True), ("le", False, False)):
            v = getattr(m, attr, None)
            if v is not None:
                if is_lo:
                    lo, lo_open = v, open_
                else:
                    hi, hi_open = v, open_
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f"{'>' if lo_open else '≥'} {lo:g}"
    if lo is None:
        return f"{'<' if hi_open else '≤'} {hi:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def validate_params(model: type[Params], values: dict[str, Any], method: str, who: str) -> Params:
    """``values`` checked against a method's parameter model; one MergeError naming the parameter, its
    bounds and what it does, and ``who`` (which model or tensor) otherwise."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field_name = str(err["loc"][0]) if err["loc"] else ""
        key = param_key(model, field_name) if field_name in model.model_fields else field_name
        got = values.get(key, values.get(field_name))
        if field_name in model.model_fields:
            info = model.model_fields[field_name]
            bounds = interval_words(info)
            what = f" ({info.description})" if info.description else ""
            if bounds:
                raise MergeError(f"{method}: {key} must be {bounds}{what}; got {got!r} {who}.") from None
        raise MergeError(f"{method}: {key}: {err['msg'].lower()}; got {got!r} {who}.") from None


def check_counts(method: Method, n_inputs: int, has_base: bool, total: int) -> None:
    """The method's base use and number of models against a merge's (``total``: every model it names)."""
    if method.base == "required" and not has_base:
        raise MergeError(f"{method.name} needs a base model (base_model): it merges the experts' differences from it.")
    if n_inputs < method.min_models or (method.max_models is not None and n_inputs > method.max_models):
        if method.name == "slerp":
            raise MergeError(f"slerp merges exactly two models, the base and one other; this merge has {total}. "
                             "For more models use multislerp, karcher or linear.")
        raise MergeError(f"{method.name} takes {method.model_count_text()}; this merge has {n_inputs}.")

"""Study-file problems in the field's own words, with the key path and line kept as data.

pydantic reports ``{'loc': ('shift', 'label_shift', 'tweak_one', 0), 'type': 'less_than', ...}``; a
person should read "A tweak-one share must be more than 0 and less than 1 (got 1.5)" next to that
field in a form, and ``line 14: shift.label_shift.tweak_one[0]: ...`` on the console. Both come from
one :class:`engine.core.errors.Problem`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any

import annotated_types
from pydantic import BaseModel

from engine.core.errors import Problem, key_text

Words = Mapping[str, "str | tuple[str, str]"]

# Key path (indices dropped) -> what the field is called; a pair is (the list, one of its entries). A
# key "*.name" names a field wherever its table is (the data columns of any dataset table). These are
# the header's words; a kind's spec adds its own tables' words (``StudyFile.WORDS``).
HEADER_WORDS: dict[str, str | tuple[str, str]] = {
    "schema_version": "schema_version",
    "study": "the [study] table",
    "study.name": "the study name",
    "study.kind": "the study kind",
    "study.title": "the title",
    "study.description": "the description",
    "study.seeds": ("the seeds", "a seed"),
    "metrics": "the [metrics] table",
    "metrics.names": ("the metric names", "a metric name"),
    "metrics.bootstrap": "the number of bootstrap resamples",
    "metrics.level": "the confidence level",
    "execution": "the [execution] table",
    "execution.backend": "the backend",
    "execution.workers": "the number of workers",
    "execution.address": "the scheduler address",
    "execution.device": "the device",
    "execution.batch_size": "the batch size",
}

_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text in quotes",
    "bool_type": "true or false, without quotes",
    "bool_parsing": "true or false, without quotes",
    "list_type": "a list in square brackets",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def field_words(key: tuple[str | int, ...], words: Words = HEADER_WORDS) -> str:
    """What a key is called in plain words: ``('shift', 'label_shift', 'tweak_one', 0)`` -> 'a tweak-one share'
    (with the shift kind's ``words``)."""
    names = [p for p in key if not isinstance(p, int)]
    if not names:
        return "the study file"
    found = words.get(".".join(names))
    if found is None and len(names) > 1:
        found = words.get(f"*.{names[-1]}")
    words = found
    if words is None:
        words = f"'{names[-1]}'"
    if isinstance(words, tuple):
        return words[1] if key and isinstance(key[-1], int) else words[0]
    return words


def number(v: Any) -> str:
    """1.0 -> '1', 65536 -> '65,536', 0.25 -> '0.25'."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v)


def shown(value: Any) -> str:
    """A value as the study file would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def range_words(bounds: dict[str, Any]) -> str:
    """{'ge': 0, 'le': 1} -> 'from 0 to 1'; {'gt': 0, 'lt': 1} -> 'more than 0 and less than 1'."""
    if "ge" in bounds and "le" in bounds and len(bounds) == 2:
        return f"from {number(bounds['ge'])} to {number(bounds['le'])}"
    words = {"gt": "more than", "ge": "at least", "lt": "less than", "le": "at most"}
    return " and ".join(f"{words[k]} {number(bounds[k])}" for k in ("gt", "ge", "lt", "le") if k in bounds)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def explain(err: dict[str, Any], model: type[BaseModel], text: str, words: Words | None = None) -> Problem:
    """Turn one pydantic error into a :class:`Problem` in the field's words (``words``, by default the
    model's own ``WORDS``), with its key and line."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "list[", "literal["))))
    line = line_of(text, loc)
    kind = err["type"]
    value = err.get("input")
    noun = field_words(loc, words if words is not None else getattr(model, "WORDS", HEADER_WORDS))
    if kind == "extra_forbidden":
        parent = f"[{key_text(loc[:-1])}]" if loc[:-1] else "the top level"
        allowed = allowed_keys(model, loc[:-1])
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        return Problem(f"unknown key '{loc[-1]}' in {parent}{hint}", loc, line, show_key=False)
    if kind == "missing":
        return Problem(f"{_capital(noun)} is required but missing", loc, line)
    if kind in _TYPE_WORDS:
        return Problem(f"{_capital(noun)} must be {_TYPE_WORDS[kind]} (got {shown(value)})", loc, line)
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return Problem(f"{_capital(noun)} is {shown(value)}; choose {expected}", loc, line)
    if kind == "string_pattern_mismatch":
        return Problem(f"{_capital(noun)} is {shown(value)}; use up to 64 letters, digits, '-', '_' or '.', "
                       "starting with a letter or digit", loc, line)
    if kind in _BOUNDS:
        bounds = constraints(model, loc) or {k: v for k, v in err.get("ctx", {}).items() if k in ("gt", "ge", "lt", "le")}
        return Problem(f"{_capital(noun)} must be {range_words(bounds)} (got {shown(value)})", loc, line)
    if kind == "too_short":
        n = int(err.get("ctx", {}).get("min_length", 1))
        return Problem(f"{_capital(noun)} needs at least {n} {'entry' if n == 1 else 'entries'}", loc, line)
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return Problem(msg, loc, line)


def _field(model: type[BaseModel], loc: tuple[Any, ...]):
    """The pydantic FieldInfo at a key path, or None."""
    current: Any = model
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None:
            return None
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        current = _model_of(field.annotation)
    return field


def constraints(model: type[BaseModel], loc: tuple[Any, ...]) -> dict[str, Any]:
    """Numeric bounds (gt, ge, lt, le) the schema puts on the value at ``loc`` (a list entry when loc ends in an index)."""
    field = _field(model, loc)
    if field is None:
        return {}
    metadata: list[Any] = list(field.metadata)
    if loc and isinstance(loc[-1], int):
        metadata = []
        for arg in typing.get_args(field.annotation):
            if typing.get_origin(arg) is typing.Annotated:
                for extra in typing.get_args(arg)[1:]:
                    metadata += list(getattr(extra, "metadata", [extra]))
    out: dict[str, Any] = {}
    for item in metadata:
        for name in ("gt", "ge", "lt", "le"):
            if isinstance(item, getattr(annotated_types, name.capitalize())):
                out[name] = getattr(item, name)
    return out


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a table at ``loc`` accepts, for 'unknown key' messages."""
    if not loc:
        return list(model.model_fields)
    field = _field(model, loc)
    sub = _model_of(field.annotation) if field is not None else None
    return list(sub.model_fields) if sub is not None else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of a key path in TOML text (tomllib keeps no positions).

    Tracks the current table (``[a.b]`` or the n-th ``[[a]]``) and matches ``key =`` lines; falls
    back to the line of the deepest matching table header.
    """
    want = tuple(loc)
    counts: dict[str, int] = {}
    table: tuple[Any, ...] = ()
    best: tuple[int, int] | None = None  # (matched depth, line)
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]\]?", line)
        if header:
            parts: tuple[Any, ...] = tuple(p.strip().strip('"') for p in header.group(2).split("."))
            if header.group(1) == "[[":
                key = ".".join(parts)
                counts[key] = counts.get(key, -1) + 1
                parts = (*parts, counts[key])
            table = parts
            candidate = table
        else:
            m = re.match(r"^([A-Za-z0-9_\-\"]+)\s*=", line)
            if not m:
                continue
            candidate = (*table, m.group(1).strip('"'))
        depth = len(candidate)
        if want[:depth] == candidate and (best is None or depth > best[0]):
            best = (depth, no)
    return best[1] if best else None


def problem_at(text: str | None, key: tuple[str | int, ...], message: str) -> Problem:
    """A problem about ``key``, with its line looked up in the study text when there is one."""
    return Problem(message, key, line_of(text, key) if text and key else None)

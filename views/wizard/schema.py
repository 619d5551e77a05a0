"""What a study-file model allows, read from the engine's pydantic models: choices, bounds and
defaults (the forms follow the engine instead of re-typing them)."""

from __future__ import annotations

from typing import Any, get_args


def schema_choices(model: Any, name: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[name].annotation))


def schema_bound(model: Any, name: str, which: str) -> float | None:
    for meta in model.model_fields[name].metadata:
        value = getattr(meta, which, None)
        if value is not None:
            return value
    return None


def schema_default(model: Any, name: str) -> Any:
    return model.model_fields[name].get_default(call_default_factory=True)

"""The shifts a fine-tuning study can name (its target's domain, its out-of-distribution conditions), by the
kind of data: image corruptions, table shifts or text shifts, with their display names and descriptions from
``engine.conditions.catalog``."""

from __future__ import annotations

from engine.conditions.catalog import (
    CORRUPTION_DESCRIPTIONS, CORRUPTION_NAMES, TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES, family_label,
)

FAMILIES = {"image": CORRUPTION_NAMES, "tabular": TABULAR_SHIFT_NAMES, "text": TEXT_SHIFT_NAMES}


def families_for(modality: str, keep: list[str] = ()) -> list[str]:
    """The shift families that suit ``modality``, then any of ``keep`` (read from a file) that do not."""
    own = list(FAMILIES.get(modality, CORRUPTION_NAMES))
    return own + [f for f in dict.fromkeys(keep) if f and f not in own]


def family_choices(families: list[str]) -> list[tuple[str, str, str]]:
    """(family, display name with a capital, one-line description) for pickers."""
    out = []
    for family in families:
        label = family_label(family)
        out.append((family, label[:1].upper() + label[1:], CORRUPTION_DESCRIPTIONS.get(family, label)))
    return out

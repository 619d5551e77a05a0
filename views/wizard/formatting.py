"""Numbers, ids, paths and cell counts turned into text (and typed numbers parsed back)."""

from __future__ import annotations

import math
import re
from pathlib import Path


def fmt_count(n: int | None) -> str:
    if n is None or n < 0:
        return ""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + suffix
    return str(n)


def fmt_num(x: float) -> str:
    return f"{x:g}"


def parse_numbers(text: str, *, integers: bool = False) -> tuple[list[float], str | None]:
    """'1, 0.3 0.1' -> [1.0, 0.3, 0.1]; returns (values, error sentence or None)."""
    values: list[float] = []
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        try:
            v = float(part)
        except ValueError:
            return values, f"'{part}' is not a number"
        if not math.isfinite(v):
            return values, f"'{part}' is not a finite number"
        if integers:
            if v != int(v):
                return values, f"'{part}' is not a whole number"
            v = int(v)
        values.append(v)
    return values, None


def numbers_text(values: list[float]) -> str:
    return ", ".join(fmt_num(v) for v in values)


def sanitize_id(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:64]
    return out or "model"


def project_relative(path: str, root: str) -> str:
    p = Path(path).expanduser().resolve()
    try:
        r = Path(root).expanduser().resolve()
        return p.relative_to(r).as_posix()
    except (ValueError, OSError):
        return p.as_posix()

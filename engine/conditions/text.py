"""Simulated shifts of text inputs: keyboard typos and dropped words.

Each perturbation takes a severity 1..5 like the image and table shifts. A row's randomness comes
from ``np.random.default_rng((seed, salt, row index))``, where the row index is its index in the
full dataset, so a text is perturbed identically alone or in any batch, and the same draws are
reused at every severity (a larger severity hits a superset of the positions a smaller one hits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from engine.conditions.tabular import ShiftDef, check_index, check_seed, salt_for

__all__ = ["TEXT_SHIFTS", "perturb_text", "QWERTY_NEIGHBOURS"]

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _qwerty_neighbours() -> dict[str, str]:
    """Letters adjacent on a QWERTY keyboard (same row left/right, and the touching keys above/below).

    Rows are staggered: key ``i`` of a row touches keys ``i`` and ``i + 1`` of the row above and
    keys ``i - 1`` and ``i`` of the row below.
    """
    out: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for i, c in enumerate(row):
            near: list[str] = []
            for j in (i - 1, i + 1):
                if 0 <= j < len(row):
                    near.append(row[j])
            if r > 0:
                above = _ROWS[r - 1]
                near += [above[j] for j in (i, i + 1) if 0 <= j < len(above)]
            if r + 1 < len(_ROWS):
                below = _ROWS[r + 1]
                near += [below[j] for j in (i - 1, i) if 0 <= j < len(below)]
            out[c] = "".join(sorted(set(near)))
    return out


QWERTY_NEIGHBOURS: dict[str, str] = _qwerty_neighbours()

_SWAP, _DELETE, _INSERT, _SUBSTITUTE = 0, 1, 2, 3


def _neighbour(c: str, u: float) -> str | None:
    near = QWERTY_NEIGHBOURS.get(c.lower())
    if not near:
        return None
    pick = near[min(int(u * len(near)), len(near) - 1)]
    return pick.upper() if c.isupper() else pick


def _char_typos(text: str, p: float, rng: np.random.Generator) -> str:
    """Each alphabetic character, with probability p, is swapped with the next character, deleted,
    followed by an inserted keyboard neighbour, or replaced by one (equally likely). Letters without
    a QWERTY key (e.g. accented letters) only get a swap or a deletion."""
    n = len(text)
    if n == 0:
        return text
    u = rng.random(n)
    ops = rng.integers(0, 4, n)
    pick = rng.random(n)
    out: list[str] = []
    i = 0
    while i < n:
        c = text[i]
        if not (u[i] < p and c.isalpha()):
            out.append(c)
            i += 1
            continue
        near = _neighbour(c, pick[i])
        op = int(ops[i]) if near is not None else int(ops[i]) % 2
        if op == _SWAP and i + 1 < n:
            out += [text[i + 1], c]
            i += 2
            continue
        if op == _SWAP:  # last character: nothing to swap with, so substitute (or delete)
            op = _SUBSTITUTE if near is not None else _DELETE
        if op == _INSERT:
            out += [c, near]
        elif op == _SUBSTITUTE:
            out.append(near)
        # _DELETE appends nothing
        i += 1
    return "".join(out)


_WORD = re.compile(r"\S+")


def _word_drop(text: str, p: float, rng: np.random.Generator) -> str:
    """Drop each whitespace-separated word with probability p, keeping at least one word.

    The whitespace after each kept word is kept, so line breaks and spacing survive; the text's
    leading and trailing whitespace are unchanged.
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return text
    u = rng.random(len(spans))
    keep = u >= p
    if not keep.any():
        keep[int(np.argmax(u))] = True
    if keep.all():
        return text
    kept = np.flatnonzero(keep)
    lead = text[: spans[0][0]]
    trail = text[spans[-1][1] :]
    parts = [lead]
    for j, w in enumerate(kept):
        start, end = spans[w]
        parts.append(text[start:end])
        if j + 1 < len(kept):
            gap_end = spans[w + 1][0] if w + 1 < len(spans) else len(text)
            parts.append(text[end:gap_end])
    parts.append(trail)
    return "".join(parts)


TEXT_SHIFTS: dict[str, ShiftDef] = {
    d.name: d
    for d in (
        ShiftDef(
            "char_typos",
            "Each letter, with probability p, is swapped with the next character, deleted, doubled with a neighbouring key or replaced by one on a QWERTY keyboard.",
            "p",
            (0.02, 0.05, 0.1, 0.15, 0.2),
            _char_typos,
        ),
        ShiftDef(
            "word_drop",
            "Each word is dropped with probability p, always keeping at least one word of a non-empty text.",
            "p",
            (0.05, 0.1, 0.2, 0.3, 0.5),
            _word_drop,
        ),
    )
}


def perturb_text(texts: Sequence[str], name: str, severity: int, seed: int, index: np.ndarray) -> list[str]:
    """Return a perturbed copy of ``texts``; ``index`` holds each text's row index in the full dataset."""
    if name not in TEXT_SHIFTS:
        raise ValueError(f"Unknown text shift {name!r}; valid choices are: {', '.join(TEXT_SHIFTS)}.")
    shift = TEXT_SHIFTS[name]
    value = shift.value(severity)
    seed = check_seed(seed)
    if isinstance(texts, np.ndarray) and texts.ndim == 1:
        texts = texts.tolist()
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise ValueError("texts must be a list of strings, one per row.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"texts must be a list of strings, but item {i} is a {type(t).__name__}.")
    idx = check_index(index, len(texts))
    salt = salt_for(name)
    return [shift.fn(t, value, np.random.default_rng((seed, salt, int(i)))) for t, i in zip(texts, idx)]

"""A tiny preview of what a merge knob does, on a toy example computed with numpy.

Three toy task vectors of 24 entries (seeded, so the picture stays put). For each density in the grid, the
entries each expert keeps — its largest by magnitude, or a random share for the DARE and DELLA families — are
drawn filled, coloured by sign, the dropped ones as empty outlines; methods that elect a sign (TIES and its
kin) get a last row: the elected sign per entry, the entries that disagree with it struck out. For λ, the
merged update's size at each value. Colours are the theme's (``views.theme.current``), redrawn on a switch.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.kinds.merge.catalog import RANDOM_METHODS
from views.theme import current, watch_theme

N_EXPERTS, N_ENTRIES = 3, 24
ELECTS_SIGN = frozenset({"ties", "dare_ties", "breadcrumbs_ties", "della", "sce"})
SCALES = frozenset({"lambda"})
TRIMS = frozenset({"density"})


def toy_task_vectors(seed: int = 7) -> np.ndarray:
    """Three experts' toy updates: a shared direction plus each one's own, some entries near zero."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 1, N_ENTRIES)
    own = rng.normal(0, 1, (N_EXPERTS, N_ENTRIES))
    return 0.6 * shared + own * rng.uniform(0.2, 1.4, (N_EXPERTS, N_ENTRIES))


def kept_mask(vectors: np.ndarray, density: float, random: bool, seed: int = 0) -> np.ndarray:
    """Which entries each expert keeps at ``density``: its top ⌈density·n⌉ by magnitude, or (DARE) each entry
    with probability ``density``."""
    n = vectors.shape[1]
    if random:
        return np.random.default_rng(seed).random(vectors.shape) < density
    k = max(1, math.ceil(density * n))
    order = np.argsort(-np.abs(vectors), axis=1, kind="stable")[:, :k]
    mask = np.zeros_like(vectors, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def elected_sign(vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per entry, the sign of the sum of the kept updates (a zero sum elects +1, mergekit's rule)."""
    total = np.where(mask, vectors, 0.0).sum(axis=0)
    return np.where(total >= 0, 1.0, -1.0)


class KnobPreview(QWidget):
    """Draws what the knob ``key`` of ``method`` does at each of ``values`` (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.method, self.key, self.values = "", "", []
        self.vectors = toy_task_vectors()
        self.setAccessibleName("Preview of the knob's effect")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        watch_theme(self, lambda _: self.update())

    @staticmethod
    def can_show(method: str, key: str) -> bool:
        return key in TRIMS | SCALES

    def show_knob(self, method: str, key: str, values: list) -> None:
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if key in TRIMS:
            numbers = [v for v in numbers if 0 < v <= 1]
        self.method, self.key, self.values = method, key, numbers[:6]
        self.setAccessibleDescription(self.words())
        self.updateGeometry()
        self.update()

    def words(self) -> str:
        """What the picture shows, in words (its accessible description and the tests' handle)."""
        if not self.values:
            return ""
        if self.key in TRIMS:
            rows = []
            for d in self.values:
                mask = kept_mask(self.vectors, d, self.method in RANDOM_METHODS)
                rows.append(f"density {d:g}: {int(mask.sum())} of {mask.size} entries kept")
            return "; ".join(rows)
        return "; ".join(f"λ {v:g}: the merged update ×{v:g}" for v in self.values)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        rows = N_EXPERTS + (1 if self.method in ELECTS_SIGN else 0)
        return QSize(460, 24 + rows * 12 + 8 if self.key in TRIMS else 110)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        if not self.values:
            return
        c = current()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.key in TRIMS:
            self._paint_density(p, c)
        else:
            self._paint_lambda(p, c)
        p.end()

    def _paint_density(self, p: QPainter, c) -> None:
        random = self.method in RANDOM_METHODS
        elects = self.method in ELECTS_SIGN
        n = len(self.values)
        gap = 14.0
        block_w = (self.width() - gap * (n - 1)) / n
        cell = max(3.0, min(12.0, block_w / N_ENTRIES))
        plus, minus, line, text = QColor(c.accent_fill), QColor(c.warn), QColor(c.border), QColor(c.text)
        for b, d in enumerate(self.values):
            x0 = b * (block_w + gap)
            p.setPen(text)
            mask = kept_mask(self.vectors, d, random)
            p.drawText(QRectF(x0, 0, block_w, 16), Qt.AlignmentFlag.AlignLeft,
                       f"density {d:g}: {int(mask.sum())} of {mask.size} kept")
            sign = elected_sign(self.vectors, mask)
            for r in range(N_EXPERTS):
                for i in range(N_ENTRIES):
                    rect = QRectF(x0 + i * cell, 20 + r * cell, cell - 1.5, cell - 1.5)
                    v = self.vectors[r, i]
                    if mask[r, i]:
                        p.setPen(Qt.PenStyle.NoPen)
                        p.setBrush(plus if v >= 0 else minus)
                        p.drawRect(rect)
                        if elects and np.sign(v) != sign[i]:  # kept but outvoted: not averaged in
                            p.setPen(QPen(text, 1.2))
                            p.drawLine(rect.topLeft(), rect.bottomRight())
                    else:
                        p.setPen(QPen(line, 1))
                        p.setBrush(Qt.BrushStyle.NoBrush)
                        p.drawRect(rect)
            if elects:
                y = 20 + N_EXPERTS * cell + 4
                for i in range(N_ENTRIES):
                    p.setPen(Qt.PenStyle.NoPen)
                    p.setBrush(plus if sign[i] > 0 else minus)
                    p.drawEllipse(QRectF(x0 + i * cell + cell * 0.2, y + cell * 0.2, cell * 0.5, cell * 0.5))

    def _paint_lambda(self, p: QPainter, c) -> None:
        merged = self.vectors.mean(axis=0)
        n = len(self.values)
        gap = 14.0
        block_w = (self.width() - gap * (n - 1)) / n
        top = max(self.values) * float(np.abs(merged).max()) or 1.0
        half = (self.height() - 24) / 2
        mid = 20 + half
        bar = block_w / N_ENTRIES
        plus, minus, text, line = QColor(c.accent_fill), QColor(c.warn), QColor(c.text), QColor(c.border)
        for b, lam in enumerate(self.values):
            x0 = b * (block_w + gap)
            p.setPen(text)
            p.drawText(QRectF(x0, 0, block_w, 16), Qt.AlignmentFlag.AlignLeft, f"λ {lam:g}")
            p.setPen(QPen(line, 1))
            p.drawLine(int(x0), int(mid), int(x0 + block_w), int(mid))
            p.setPen(Qt.PenStyle.NoPen)
            for i, v in enumerate(merged * lam):
                h = half * float(v) / top
                p.setBrush(plus if v >= 0 else minus)
                p.drawRect(QRectF(x0 + i * bar, mid - max(h, 0), bar - 1, abs(h)))

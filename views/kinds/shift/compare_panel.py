"""The Results page's paired comparison: its wording and the "Compare two arms" panel (a mixin of ``ResultsPage``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt

from engine.kinds.shift.results import ShiftResults
from engine.conditions.catalog import condition_label
from engine.stats import PairedComparison
from views import charts as C
from views.condition_combo import ConditionCombo
from views.tasks import run_in_background
from views.theme import set_tone


# --------------------------------------------------------------------------------------------
# wording


def _p_text(p: float) -> str:
    """Conventional p-value wording; no false precision below 0.01 (a bootstrap p-value from R
    resamples cannot be smaller than 2/(R + 1))."""
    if p is None or not np.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return "< 0.01"
    return f"= {p:.2f}"


def _num(v: float) -> str:
    return f"{100 * v:.1f}".replace("-", "−")


def describe_comparison(arm_a: str, arm_b: str, condition: str, pc: PairedComparison, level: float = 0.95) -> str:
    """One plain sentence: the difference A − B in points, its interval and whether it is beyond noise."""
    verdict = "within noise" if pc.within_noise else "beyond noise"
    tests = []
    if pc.p_value is not None and np.isfinite(pc.p_value):
        tests.append(f"paired bootstrap p {_p_text(pc.p_value)}")
    tests.append(f"McNemar p {_p_text(pc.mcnemar_p)}")
    return (f"{arm_a} − {arm_b} on {condition_label(condition)}: {C.pts(pc.diff)} points "
            f"({int(round(level * 100))}% CI {_num(pc.low)} to {_num(pc.high)}) — {verdict} ({'; '.join(tests)})")


def describe_counts(arm_a: str, arm_b: str, pc: PairedComparison) -> str:
    return (f"Paired over {pc.n:,} predictions (same examples and seeds): {arm_a} right where {arm_b} was wrong "
            f"{pc.b:,} times, the reverse {pc.c:,} times.")


# --------------------------------------------------------------------------------------------
# the panel


class ComparePanelMixin:
    """The "Compare two arms" panel of ``ResultsPage``: its widgets live on the page itself."""

    def _build_compare_panel(self) -> QtWidgets.QWidget:
        box = QtWidgets.QFrame()
        box.setObjectName("panel")
        box.setAccessibleName("Compare two arms")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(12, 8, 12, 10)
        lay.setSpacing(8)
        title = QtWidgets.QLabel("Compare two arms")
        title.setObjectName("panelTitle")
        title.setToolTip("<p>A paired comparison on the same test examples and seeds: the accuracy difference "
                         "with a paired-bootstrap 95% interval, and McNemar's test on the examples where "
                         "exactly one of the two is right. “Within noise” means the interval includes 0.</p>")
        lay.addWidget(title)
        form = QtWidgets.QGridLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(6)
        self.arm_a = QtWidgets.QComboBox()
        self.arm_b = QtWidgets.QComboBox()
        self.cmp_condition = ConditionCombo()
        self.arm_a.setAccessibleName("Arm A")
        self.arm_b.setAccessibleName("Arm B")
        self.cmp_condition.setAccessibleName("Condition to compare on")
        la, lb, lc = QtWidgets.QLabel("Arm &A"), QtWidgets.QLabel("Arm &B"), QtWidgets.QLabel("C&ondition")
        la.setBuddy(self.arm_a)
        lb.setBuddy(self.arm_b)
        lc.setBuddy(self.cmp_condition)
        self.swap_button = QtWidgets.QToolButton()
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("Swap A and B")
        self.swap_button.setAccessibleName("Swap arm A and arm B")
        self.swap_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.swap_button.clicked.connect(self._swap_arms)
        form.addWidget(la, 0, 0)
        form.addWidget(self.arm_a, 0, 1)
        form.addWidget(self.swap_button, 0, 2, 2, 1)
        form.addWidget(lb, 1, 0)
        form.addWidget(self.arm_b, 1, 1)
        form.addWidget(lc, 2, 0)
        form.addWidget(self.cmp_condition, 2, 1, 1, 2)
        form.setColumnStretch(1, 1)
        lay.addLayout(form)
        self.cmp_result = QtWidgets.QLabel()
        self.cmp_result.setObjectName("compareResult")
        self.cmp_result.setWordWrap(True)
        self.cmp_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.cmp_result.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.cmp_result.setAccessibleName("Comparison result")
        self.cmp_detail = QtWidgets.QLabel()
        self.cmp_detail.setObjectName("muted")
        self.cmp_detail.setWordWrap(True)
        lay.addWidget(self.cmp_result)
        lay.addWidget(self.cmp_detail)
        lay.addStretch(1)
        self._cmp_timer = QtCore.QTimer(self)
        self._cmp_timer.setSingleShot(True)
        self._cmp_timer.setInterval(120)
        self._cmp_timer.timeout.connect(self.compare_now)
        for combo in (self.arm_a, self.arm_b, self.cmp_condition):
            combo.currentIndexChanged.connect(self._schedule_compare)
        return box

    def compare_now(self) -> None:
        """Run the selected comparison (in the background) and show its sentence when it arrives."""
        self._cmp_timer.stop()
        r = self._results
        if r is None:
            return
        a, b, cond = self.arm_a.currentText(), self.arm_b.currentText(), self.cmp_condition.condition()
        self._cmp_generation += 1
        gen = self._cmp_generation
        self.cmp_detail.setText("")
        if not a or not b or not cond:
            self._set_compare_text("Pick two arms and a condition.", "muted")
            return
        if a == b:
            self._set_compare_text("Pick two different arms to compare.", "muted")
            return
        if self._compare is None:
            self._set_compare_text("Paired comparisons are not available here.", "muted")
            return
        self._set_compare_text(f"Comparing {a} and {b} on {condition_label(cond)}…", "muted")
        self._cmp_task = run_in_background(
            self._compare, a, b, cond,
            on_done=lambda pc, g=gen, a=a, b=b, c=cond: self._compare_done(g, a, b, c, pc),
            on_error=lambda msg, g=gen: self._compare_failed(g, msg),
            context=self.cmp_result,  # the page may close while the comparison runs
        )

    @property
    def compare_text(self) -> str:
        return self.cmp_result.text()

    def _fill_compare(self, r: ShiftResults) -> None:
        keep = (self.arm_a.currentText(), self.arm_b.currentText(), self.cmp_condition.condition())
        for combo, items in ((self.arm_a, r.arms), (self.arm_b, r.arms)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        self.cmp_condition.blockSignals(True)
        self.cmp_condition.set_conditions(list(r.conditions), keep=keep[2])
        self.cmp_condition.blockSignals(False)
        pal = C.ArmPalette(r.arms, self._theme)
        for combo in (self.arm_a, self.arm_b):
            for i, arm in enumerate(r.arms):
                combo.setItemIcon(i, pal.icon(arm, 14))
        a = keep[0] if keep[0] in r.arms else (r.arms[0] if r.arms else "")
        b = keep[1] if keep[1] in r.arms and keep[1] != a else next((x for x in r.arms if x != a), a)
        for combo, v in ((self.arm_a, a), (self.arm_b, b)):
            combo.blockSignals(True)
            combo.setCurrentText(v)
            combo.blockSignals(False)

    def _swap_arms(self) -> None:
        a, b = self.arm_a.currentText(), self.arm_b.currentText()
        self.arm_a.blockSignals(True)
        self.arm_a.setCurrentText(b)
        self.arm_a.blockSignals(False)
        self.arm_b.setCurrentText(a)

    def _schedule_compare(self, *_: Any) -> None:
        if not self._building and self._results is not None:
            self._cmp_timer.start()

    def _set_compare_text(self, text: str, kind: str) -> None:
        """kind: muted (a hint), beyond / within (a result; beyond noise in bold), error."""
        set_tone(self.cmp_result, {"muted": "muted", "error": "error"}.get(kind, ""))
        font = self.cmp_result.font()
        font.setBold(kind == "beyond")
        self.cmp_result.setFont(font)
        self.cmp_result.setText(text)

    def _compare_done(self, gen: int, a: str, b: str, cond: str, pc: PairedComparison) -> None:
        if gen != self._cmp_generation:
            return  # a newer request (or new results) superseded this one
        self._set_compare_text(describe_comparison(a, b, cond, pc), "within" if pc.within_noise else "beyond")
        self.cmp_detail.setText(describe_counts(a, b, pc))

    def _compare_failed(self, gen: int, message: str) -> None:
        if gen == self._cmp_generation:
            self._set_compare_text(f"The comparison could not be computed: {message}", "error")

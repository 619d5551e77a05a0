"""The new-study wizard: a shift study built page by page, always in step with the study schema.

Pages: Name → Models → Dataset → Conditions → Seeds & metrics → Review. Every edit regenerates the
study file (``study_toml()``, written with tomlkit) and runs the engine's validator on it
(``providers.validate``). Each problem is shown on the page it concerns and all of them on Review;
Save and "Save and Run" stay disabled until the study is valid. Choices, ranges and defaults are
read from the schema (``engine.study``) and the shift catalogue, so the forms follow the engine.

The wizard never writes files: the app reads ``study_toml()`` when ``accepted`` fires and, after
"Save and Run", also gets ``runRequested(name)``. Slow engine calls (describing a model, previewing
a dataset, rendering the corruption gallery) run off the GUI thread through ``views.tasks``.
"""

from __future__ import annotations

import html
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, get_args

import numpy as np
import pyqtgraph as pg
import tomlkit
from tomlkit.items import AoT, Table
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from engine.errors import StudyFileError
from engine.metrics import METRICS
from engine.shift.catalog import (
    CORRUPTION_DESCRIPTIONS,
    CORRUPTION_NAMES,
    SEVERITIES,
    TABULAR_SHIFT_NAMES,
    TEXT_SHIFT_NAMES,
)
from engine.shift.tabular import TABULAR_SHIFTS  # numpy only
from engine.shift.text import TEXT_SHIFTS  # numpy only
from engine.study import (
    METRIC_NAMES,
    SCHEMA_VERSION,
    STUDY_SUFFIX,
    DataSpec,
    ExecutionSpec,
    MetricsSpec,
    ShiftSpec,
    StudyMeta,
)
from views.providers import DatasetPreview, ModelChoice, StudyProviders
from views.tasks import run_in_background

__all__ = [
    "StudyWizard",
    "BarChart",
    "Thumbnail",
    "image_pixmap",
    "study_counts",
    "problem_section",
    "monospace_font",
    "cells_sentence",
]

# ------------------------------------------------------------------------------------------------
# look

BLUE = "#0072B2"  # Okabe–Ito
ORANGE = "#E69F00"
RED = "#B3261E"
GREEN = "#1B7F3B"
MUTED = "#5F6368"
# the α slider: nice values on a log scale (1–1.5–2–3–5–7 per decade), 0.05 … 100
ALPHA_VALUES = (0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0,
                70.0, 100.0)
ALPHA_MIN, ALPHA_MAX = ALPHA_VALUES[0], ALPHA_VALUES[-1]

PRETTY = {"jpeg_compression": "JPEG compression"}
BACKEND_LABELS = {
    "loky": "This computer — several processes at once",
    "sequential": "This computer — one cell at a time (simplest)",
    "dask": "A Dask cluster",
}
DEVICE_LABELS = {"auto": "Automatic (GPU if there is one)", "cpu": "CPU only", "cuda": "NVIDIA GPU (CUDA)", "mps": "Apple GPU (MPS)"}
SPLIT_LABELS = {
    "test": "Test part — held out from training (recommended)",
    "validation": "Validation part",
    "train": "Training part (what built-in models learn from)",
    "all": "All rows",
}


def pretty(name: str) -> str:
    return PRETTY.get(name, name.replace("_", " ").capitalize())


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


def _help(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {MUTED};")
    label.setTextFormat(Qt.TextFormat.RichText if "<" in text else Qt.TextFormat.PlainText)
    return label


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.08)
    label.setFont(font)
    return label


def _message_label(name: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAccessibleName(name)
    label.hide()
    return label


def _show_message(label: QLabel, text: str, kind: str = "error") -> None:
    color = {"error": RED, "ok": GREEN, "info": MUTED, "warn": "#8A5300"}[kind]
    label.setStyleSheet(f"color: {color};")
    label.setText(text)
    label.setVisible(bool(text))


def _fmt_count(n: int | None) -> str:
    if n is None or n < 0:
        return ""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + suffix
    return str(n)


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _parse_numbers(text: str, *, integers: bool = False) -> tuple[list[float], str | None]:
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


def _numbers_text(values: list[float]) -> str:
    return ", ".join(_fmt_num(v) for v in values)


def _sanitize_id(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:64]
    return out or "model"


def _schema_choices(model: Any, name: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[name].annotation))


def _schema_bound(model: Any, name: str, which: str) -> float | None:
    for meta in model.model_fields[name].metadata:
        value = getattr(meta, which, None)
        if value is not None:
            return value
    return None


def _schema_default(model: Any, name: str) -> Any:
    return model.model_fields[name].get_default(call_default_factory=True)


# ------------------------------------------------------------------------------------------------
# shared helpers (also used by views.study_page)


_SECTION_RE = re.compile(r"(?<![\w.])\[*(study|models|data|shift|metrics|execution)(\.seeds)?(?=[.\[\]':])")


def problem_section(problem: str) -> str:
    """Which wizard page an engine problem concerns: name, models, data, conditions, seeds or review."""
    text = re.sub(r"^line \d+:\s*", "", problem)
    if text.startswith("model id ") or "[[models]]" in text:
        return "models"
    m = _SECTION_RE.search(text)
    if not m:
        return "review"
    key = m.group(1)
    if key == "study":
        return "seeds" if m.group(2) else "name"
    return {"models": "models", "data": "data", "shift": "conditions", "metrics": "seeds", "execution": "seeds"}[key]


_FRIENDLY = (
    (re.compile(r"^'study\.name' is ('.*'); use (.*)$"), r"The name \1 cannot be used as a file name: use \2"),
    (re.compile(r"^'models' (is required but missing|needs at least 1 entry)\.?$"),
     "Add at least one model: tick a built-in model or add your own."),
    (re.compile(r"^'data\.source' is required but missing\.?$"), "Choose the data to test on."),
)


def _inline(problem: str) -> str:
    """An engine problem as shown on a wizard page: no line number, plainer words where we can."""
    text = re.sub(r"^line \d+:\s*", "", problem)
    for rx, replacement in _FRIENDLY:
        if rx.match(text):
            return rx.sub(replacement, text)
    return text


def study_counts(raw: dict[str, Any]) -> dict[str, Any]:
    """Models, conditions, seeds and planned cells of a parsed study file (a plain dict).

    Mirrors ``engine.plan.conditions`` without loading data: a group shift without an explicit
    group list adds one condition per group of the data, which is unknown here (``groups_unknown``).
    """
    study = raw.get("study") or {}
    models = raw.get("models") or []
    shift = raw.get("shift") or {}
    seeds = study.get("seeds") or [0]
    severities = sorted(set(shift.get("severities") or SEVERITIES))
    parts: list[str] = []
    n = 0
    if shift.get("clean", True):
        n += 1
        parts.append("clean data")
    for key, word in (("corruptions", "corruption"), ("tabular", "table shift"), ("text", "text shift")):
        names = shift.get(key) or []
        if names:
            n += len(names) * len(severities)
            parts.append(f"{len(names)} {word}{'s' if len(names) != 1 else ''} × {len(severities)} "
                         f"severit{'ies' if len(severities) != 1 else 'y'}")
    ls = shift.get("label_shift") or {}
    k = sum(len(ls.get(key) or []) for key in ("dirichlet_alpha", "tweak_one", "imbalance_ratio"))
    if k:
        n += k
        parts.append(f"{k} label shift{'s' if k != 1 else ''}")
    groups_unknown = False
    gs = shift.get("group_shift")
    if gs:
        shares = gs.get("shares") or []
        if gs.get("groups"):
            n += len(gs["groups"]) * len(shares)
            parts.append(f"{len(gs['groups']) * len(shares)} group shifts")
        else:
            groups_unknown = True
            parts.append(f"{len(shares)} group share{'s' if len(shares) != 1 else ''} per group")
    fields = shift.get("field") or []
    if fields:
        n += len(fields)
        parts.append(f"{len(fields)} field dataset{'s' if len(fields) != 1 else ''}")
    n_builtin = sum(1 for m in models if str(m.get("source", "")).startswith("builtin:"))
    return {
        "models": len(models),
        "conditions": n,
        "seeds": len(seeds),
        "eval_cells": len(models) * n * len(seeds),
        "train_cells": n_builtin * len(seeds),
        "parts": parts,
        "groups_unknown": groups_unknown,
    }


def image_pixmap(image: Any, size: int) -> QPixmap:
    """A uint8 (or [0, 1] float) HxW / HxWx3 / CxHxW image as a pixmap fitting ``size``×``size``.

    Small images are enlarged with nearest-neighbour so single pixels stay crisp (8×8 digits).
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.transpose(a, (1, 2, 0))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if a.size and np.nanmax(a) <= 1.0:
            a = a * 255.0
        a = np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8)
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 2:
        qimg = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8)
    elif a.shape[2] == 4:
        qimg = QImage(a.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    else:
        qimg = QImage(a[:, :, :3].copy().data, w, h, 3 * w, QImage.Format.Format_RGB888)
    qimg = qimg.copy()  # own the pixels
    mode = Qt.TransformationMode.FastTransformation if max(h, w) < size else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(qimg).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


class Thumbnail(QLabel):
    """A fixed-size image tile with a placeholder until its picture arrives."""

    def __init__(self, size: int, accessible_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._size = size
        self.setFixedSize(size, size)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAccessibleName(accessible_name)
        self.set_placeholder("…")

    def set_placeholder(self, text: str) -> None:
        self.clear()
        self.setText(text)
        self.setStyleSheet(f"background: #EEF0F2; color: {MUTED}; border: 1px solid #D5D8DC; border-radius: 3px;")

    def set_image(self, image: Any) -> None:
        self.setStyleSheet("background: #000; border: 1px solid #B0B4B8;")
        self.setPixmap(image_pixmap(image, self._size - 2))

    def has_image(self) -> bool:
        pm = self.pixmap()
        return pm is not None and not pm.isNull()


class BarChart(pg.PlotWidget):
    """A small read-only bar chart (class balance, class priors)."""

    def __init__(self, accessible_name: str, color: str = BLUE, y_label: str | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent=parent, background="w")
        self.setAccessibleName(accessible_name)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen("#9AA0A6"))
            axis.setTextPen(pg.mkPen("#3C4043"))
            axis.enableAutoSIPrefix(False)
        if y_label:
            item.setLabel("left", y_label, color="#3C4043")
        self._bars = pg.BarGraphItem(x=[0], height=[0], width=0.7, brush=pg.mkBrush(color), pen=pg.mkPen(None))
        self.addItem(self._bars)
        self._reference = pg.InfiniteLine(angle=0, pen=pg.mkPen("#80868B", width=1, style=Qt.PenStyle.DashLine))
        self._reference.hide()
        self.addItem(self._reference)
        self._heights = np.zeros(0)
        self.setMinimumHeight(120)

    def set_bars(self, labels: list[str], values: Any, *, reference: float | None = None,
                 y_max: float | None = None, percent: bool = False) -> None:
        values = np.asarray(values, dtype=float)
        self._heights = values.copy()
        if percent:  # drawn as percentages, kept as fractions
            values = values * 100.0
            reference = None if reference is None else reference * 100.0
            y_max = None if y_max is None else y_max * 100.0
        x = np.arange(len(values))
        self._bars.setOpts(x=x, height=values, width=0.7)
        step = max(1, math.ceil(len(labels) / 20))
        ticks = [(i, str(lbl)[:10]) for i, lbl in enumerate(labels) if i % step == 0]
        self.getPlotItem().getAxis("bottom").setTicks([ticks])
        top = y_max if y_max is not None else (float(values.max()) * 1.15 if len(values) and values.max() > 0 else 1.0)
        self.setXRange(-0.6, max(len(values), 1) - 0.4, padding=0)
        self.setYRange(0, top, padding=0)
        if reference is None:
            self._reference.hide()
        else:
            self._reference.setPos(reference)
            self._reference.show()
        fmt = (lambda v: f"{v:.0f}%") if percent else (lambda v: f"{v:g}")
        self.setAccessibleDescription("; ".join(f"{lbl}: {fmt(v)}" for lbl, v in zip(labels, values))[:1000])

    def heights(self) -> np.ndarray:
        return self._heights.copy()


def _stacked(*widgets: QWidget) -> QWidget:
    """Widgets one above the other with tight spacing (a field and its help line)."""
    host = QWidget()
    col = QVBoxLayout(host)
    col.setContentsMargins(0, 0, 0, 4)
    col.setSpacing(3)
    for w in widgets:
        col.addWidget(w)
    return host


def _set_tab_order(widgets: list[QWidget]) -> None:
    for a, b in zip(widgets, widgets[1:]):
        QWidget.setTabOrder(a, b)


def _project_relative(path: str, root: str) -> str:
    p = Path(path).expanduser().resolve()
    try:
        r = Path(root).expanduser().resolve()
        return p.relative_to(r).as_posix()
    except (ValueError, OSError):
        return p.as_posix()


# ------------------------------------------------------------------------------------------------
# pages


class _Page(QWizardPage):
    section = ""

    def __init__(self, wizard: "StudyWizard", title: str, subtitle: str):
        super().__init__()
        self.wiz = wizard
        self.plain_title = title
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(4, 4, 4, 4)
        self.outer.setSpacing(10)
        self.problems_label = _message_label(f"Problems on the {title} page")

    def finish_layout(self) -> None:
        self.outer.addWidget(self.problems_label)

    def set_step(self, step: int, total: int) -> None:
        self.setTitle(f"<span style='color:{MUTED}; font-size:9pt; font-weight:normal'>STEP {step} OF {total}</span><br>"
                      f"<span style='font-size:15pt; font-weight:600'>{html.escape(self.plain_title)}</span>")
        self.setAccessibleName(f"Step {step} of {total}: {self.plain_title}")

    def changed(self, *_: Any) -> None:
        self.wiz.schedule_validation()

    def show_problems(self, problems: list[str]) -> None:
        if problems:
            text = "\n".join(f"• {p}" for p in problems)
            _show_message(self.problems_label, "Fix before saving:\n" + text)
        else:
            _show_message(self.problems_label, "")


class NamePage(_Page):
    section = "name"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Name your study",
            "A shift study measures how much each model loses when the data moves away from what it "
            "was trained on. Start with a short name and a title for the report.",
        )
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(8)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. robustness")
        self.name_edit.setAccessibleName("Study name")
        self.name_edit.setMaxLength(64)
        self.file_label = _help("")
        self.file_label.setTextFormat(Qt.TextFormat.RichText)
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("e.g. Which digits model survives noisy scans?")
        self.title_edit.setAccessibleName("Study title")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setPlaceholderText("What is compared and why — a few sentences for the report.")
        self.description_edit.setAccessibleName("Study description")
        self.description_edit.setFixedHeight(110)
        name_label = QLabel("&Name:")
        name_label.setBuddy(self.name_edit)
        title_label = QLabel("&Title:")
        title_label.setBuddy(self.title_edit)
        desc_label = QLabel("&Description:")
        desc_label.setBuddy(self.description_edit)
        form.addRow(name_label, _stacked(self.name_edit, self.file_label))
        form.addRow(title_label, _stacked(self.title_edit, _help("Shown at the top of the results and the report. Optional.")))
        form.addRow(desc_label, self.description_edit)
        holder = QWidget()
        holder.setLayout(form)
        holder.setMaximumWidth(820)
        self.outer.addWidget(holder)
        self.outer.addSpacing(12)
        steps = QLabel(
            "<b>What comes next</b><ol style='margin-top:4px; margin-left:-20px'>"
            "<li><b>Models</b> — the models to compare: built-in, your own files, or from Hugging Face.</li>"
            "<li><b>Data</b> — the test data, with a preview.</li>"
            "<li><b>Conditions</b> — what changes in the data: noise, blur, rotation, class mix…</li>"
            "<li><b>Seeds &amp; metrics</b> — how often to repeat and what to measure.</li>"
            "<li><b>Review</b> — check, then save (and run).</li></ol>"
            f"<span style='color:{MUTED}'>Nothing is saved until you press Save on the last page. "
            "You can go back and change anything.</span>"
        )
        steps.setWordWrap(True)
        steps.setTextFormat(Qt.TextFormat.RichText)
        steps.setMaximumWidth(820)
        steps.setAccessibleName("What comes next")
        steps.setStyleSheet("QLabel { background: #F8F9FA; border: 1px solid #DADCE0; border-radius: 6px; padding: 10px 14px; }")
        self.outer.addWidget(steps)
        self.outer.addStretch(1)
        self.finish_layout()
        self.name_edit.textChanged.connect(self._on_name)
        self.title_edit.textChanged.connect(self.changed)
        self.description_edit.textChanged.connect(self.changed)
        _set_tab_order([self.name_edit, self.title_edit, self.description_edit])
        self._on_name(self.name_edit.text())

    def _on_name(self, text: str) -> None:
        shown = html.escape(text.strip() or "NAME")
        self.file_label.setText(
            f"Saved as <b>{shown}{STUDY_SUFFIX}</b> in the project folder. "
            "Use letters, digits, “-”, “_” or “.”, no spaces."
        )
        self.changed()

    def local_problems(self) -> list[str]:
        name = self.name_edit.text().strip()
        if name and name in self.wiz.existing_names and name != self.wiz.original_name:
            return [f"a study named '{name}' already exists in this project; choose another name"]
        return []


@dataclass
class _ModelRow:
    id: str
    source: str
    info: str = ""
    builtin: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # trust_remote_code, train: kept as read


def describe_text(d: dict[str, Any]) -> str:
    parts = []
    if d.get("architecture"):
        parts.append(str(d["architecture"]))
    n = d.get("n_params")
    if isinstance(n, int) and n >= 0:
        parts.append(f"{_fmt_count(n)} parameters")
    classes = d.get("class_names") or []
    if classes:
        shown = ", ".join(map(str, classes[:4])) + (", …" if len(classes) > 4 else "")
        parts.append(f"{len(classes)} classes ({shown})")
    if d.get("modality"):
        parts.append(f"{d['modality']} input")
    return " · ".join(parts)


class ModelsPage(_Page):
    section = "models"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Choose the models to compare",
            "Tick built-in models, add your own model files, or look one up on Hugging Face. "
            "Every model is tested on the same data and conditions.",
        )
        self._rows: list[_ModelRow] = []
        self._filling = False
        self._pending: set[str] = set()
        try:
            self._choices: list[ModelChoice] = list(wizard.providers.builtin_models())
        except Exception as exc:  # the list is shown empty with the reason
            self._choices = []
            self._choices_error = getattr(exc, "message", str(exc))
        else:
            self._choices_error = ""

        columns = QHBoxLayout()
        columns.setSpacing(18)
        left = QVBoxLayout()
        left.setSpacing(6)
        right = QVBoxLayout()
        right.setSpacing(6)
        columns.addLayout(left, 5)
        columns.addLayout(right, 6)
        self.outer.addLayout(columns, 1)

        left.addWidget(_heading("Built-in models"))
        left.addWidget(_help("Small models Juxta trains for you on the first run."))
        self.builtin_list = QListWidget()
        self.builtin_list.setAccessibleName("Built-in models")
        self.builtin_list.setWordWrap(True)
        self.builtin_list.setSpacing(2)
        self.builtin_list.setMinimumHeight(150)
        for choice in self._choices:
            size = f"  ·  {_fmt_count(choice.n_params)} parameters" if choice.n_params else ""
            item = QListWidgetItem(f"{choice.label}{size}\n{choice.description}")
            item.setData(Qt.ItemDataRole.UserRole, choice.source)
            item.setToolTip(f"{choice.source}\n{choice.description}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.builtin_list.addItem(item)
        left.addWidget(self.builtin_list, 1)
        if self._choices_error:
            left.addWidget(_help(f"Built-in models are unavailable: {html.escape(self._choices_error)}"))

        left.addSpacing(6)
        left.addWidget(_heading("Your own model"))
        own = QHBoxLayout()
        self.add_file_button = QPushButton("Add &file or folder…")
        self.add_file_button.setAccessibleName("Add a model file or folder")
        menu = QMenu(self.add_file_button)
        menu.addAction("Model file (.safetensors)…", self._choose_file)
        menu.addAction("Model folder (Hugging Face format, with config.json)…", self._choose_folder)
        self.add_file_button.setMenu(menu)
        own.addWidget(self.add_file_button)
        own.addStretch(1)
        left.addLayout(own)
        left.addWidget(_help("…or drop a .safetensors file or a model folder onto this window."))

        left.addSpacing(6)
        left.addWidget(_heading("From Hugging Face"))
        hf = QHBoxLayout()
        self.hf_edit = QLineEdit()
        self.hf_edit.setPlaceholderText("e.g. google/vit-base-patch16-224")
        self.hf_edit.setAccessibleName("Hugging Face model id")
        self.hf_button = QPushButton("&Look up and add")
        self.hf_button.setAccessibleName("Look up the Hugging Face model and add it")
        hf.addWidget(self.hf_edit, 1)
        hf.addWidget(self.hf_button)
        left.addLayout(hf)
        left.addWidget(_help("Needs the internet the first time; works offline once downloaded."))
        self.add_status = _message_label("Model lookup status")
        left.addWidget(self.add_status)

        right.addWidget(_heading("Models in this study"))
        right.addWidget(_help("The name is how a model appears in charts — double-click or press F2 to rename it."))
        self.table = QTableWidget(0, 3)
        self.table.setAccessibleName("Models in this study")
        self.table.setHorizontalHeaderLabels(["Name", "Source", "Details"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.table.setWordWrap(True)
        self.table.setTabKeyNavigation(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 110)
        self.table.setColumnWidth(1, 170)
        right.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("&Remove model")
        self.remove_button.setAccessibleName("Remove the selected model")
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        right.addLayout(buttons)
        self.finish_layout()

        self.builtin_list.itemChanged.connect(self._on_builtin_toggled)
        self.hf_button.clicked.connect(self._on_hf_add)
        self.hf_edit.returnPressed.connect(self._on_hf_add)
        self.remove_button.clicked.connect(self._remove_selected)
        self.table.itemChanged.connect(self._on_table_edit)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self._remove_selected)
        _set_tab_order([self.builtin_list, self.add_file_button, self.hf_edit, self.hf_button, self.table,
                        self.remove_button])
        self._refresh_table()

    # -- rows -----------------------------------------------------------------------------------

    def model_rows(self) -> list[_ModelRow]:
        return list(self._rows)

    def model_ids(self) -> list[str]:
        return [r.id for r in self._rows]

    def _unique_id(self, base: str) -> str:
        base = _sanitize_id(base)
        taken = {r.id for r in self._rows}
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def add_row(self, row: _ModelRow) -> None:
        self._rows.append(row)
        self._refresh_table()
        self.table.selectRow(len(self._rows) - 1)
        self.changed()

    def remove_model(self, index: int) -> None:
        if not 0 <= index < len(self._rows):
            return
        row = self._rows.pop(index)
        if row.builtin:
            self._set_builtin_checked(row.source, False)
        self._refresh_table()
        self.changed()

    def remove_all(self) -> None:
        while self._rows:
            self.remove_model(0)

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if rows:
            self.remove_model(rows[0])
            if self._rows:
                self.table.selectRow(min(rows[0], len(self._rows) - 1))

    def _refresh_table(self) -> None:
        self._filling = True
        self.table.setRowCount(len(self._rows))
        ids = [r.id for r in self._rows]
        pattern = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
        for i, row in enumerate(self._rows):
            name = QTableWidgetItem(row.id)
            name.setToolTip("Double-click or press F2 to rename")
            bad = ids.count(row.id) > 1 or not pattern.match(row.id)
            name.setForeground(QColor(RED) if bad else QColor("#202124"))
            source = QTableWidgetItem(row.source)
            source.setFlags(source.flags() & ~Qt.ItemFlag.ItemIsEditable)
            source.setToolTip(row.source)
            info = QTableWidgetItem(row.info or ("Reading…" if row.source in self._pending else ""))
            info.setFlags(info.flags() & ~Qt.ItemFlag.ItemIsEditable)
            info.setToolTip(row.info)
            if row.info.startswith("⚠"):
                info.setForeground(QColor("#8A5300"))
            self.table.setItem(i, 0, name)
            self.table.setItem(i, 1, source)
            self.table.setItem(i, 2, info)
        self.table.resizeRowsToContents()
        self._filling = False
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self._rows) and bool(self.table.selectedIndexes()))

    def _on_table_edit(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        r = item.row()
        if 0 <= r < len(self._rows):
            self._rows[r].id = item.text().strip()
            QTimer.singleShot(0, self._refresh_table)  # recolour duplicates / bad names
            self.changed()

    def _set_builtin_checked(self, source: str, checked: bool) -> None:
        for i in range(self.builtin_list.count()):
            item = self.builtin_list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == source:
                self._filling = True
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                self._filling = False

    def check_builtin(self, source: str, checked: bool = True) -> None:
        """Tick (or untick) a built-in model, as a click would."""
        for i in range(self.builtin_list.count()):
            item = self.builtin_list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == source:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _on_builtin_toggled(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        source = item.data(Qt.ItemDataRole.UserRole)
        checked = item.checkState() == Qt.CheckState.Checked
        existing = [i for i, r in enumerate(self._rows) if r.source == source]
        if checked and not existing:
            choice = next(c for c in self._choices if c.source == source)
            arch = source.partition(":")[2].rpartition("-")[2]
            info = choice.description + (f" · {_fmt_count(choice.n_params)} parameters" if choice.n_params else "")
            self.add_row(_ModelRow(self._unique_id(arch), source, info, builtin=True))
        elif not checked and existing:
            self._rows.pop(existing[0])
            self._refresh_table()
            self.changed()

    # -- adding local and hub models ------------------------------------------------------------

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", self.wiz.project_root(),
                                              "Model files (*.safetensors)")
        if path:
            self.add_local_model(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model folder (with config.json)", self.wiz.project_root())
        if path:
            self.add_local_model(path)

    def add_local_model(self, path: str) -> None:
        """Add a local .safetensors file or Hugging Face model folder (also what a drop does)."""
        p = Path(path)
        if p.is_dir():
            if not (p / "config.json").is_file():
                _show_message(self.add_status, f"The folder “{p.name}” has no config.json. Juxta opens Hugging Face "
                                               "model folders (config.json + weights) or .safetensors files.")
                return
        elif p.suffix.lower() in (".pkl", ".pickle", ".joblib", ".dill"):
            _show_message(self.add_status, f"“{p.name}” is a pickle file; Juxta refuses those because opening them "
                                           "can run code. Save the model as .safetensors instead.")
            return
        elif p.suffix.lower() != ".safetensors":
            _show_message(self.add_status, f"“{p.name}” is not a model Juxta can open: choose a .safetensors file or "
                                           "a model folder with config.json.")
            return
        elif not p.is_file():
            _show_message(self.add_status, f"“{p}” does not exist.")
            return
        source = "file:" + _project_relative(str(p), self.wiz.project_root())
        self._lookup_and_add(source, _sanitize_id(p.stem if p.is_file() else p.name))

    def _on_hf_add(self) -> None:
        text = self.hf_edit.text().strip()
        if not text:
            _show_message(self.add_status, "Type a Hugging Face model id first, e.g. google/vit-base-patch16-224.")
            return
        source = text if text.startswith("hf:") else f"hf:{text}"
        repo = source[3:].partition("@")[0].rstrip("/")
        self._lookup_and_add(source, repo.rpartition("/")[2] or repo, hf=True)

    def _lookup_and_add(self, source: str, base_id: str, hf: bool = False) -> None:
        if any(r.source == source for r in self._rows):
            _show_message(self.add_status, f"{source} is already in the study.", "info")
            return
        if source in self._pending:
            return
        self._pending.add(source)
        self.hf_button.setEnabled(False)
        _show_message(self.add_status, f"Looking up {source}…", "info")

        def done(info: Any, source: str = source, base_id: str = base_id) -> None:
            self._pending.discard(source)
            self.hf_button.setEnabled(True)
            details = describe_text(info if isinstance(info, dict) else {})
            self.add_row(_ModelRow(self._unique_id(base_id), source, details))
            _show_message(self.add_status, f"Added {source}" + (f" — {details}." if details else "."), "ok")
            if hf:
                self.hf_edit.clear()

        def failed(message: str, source: str = source) -> None:
            self._pending.discard(source)
            self.hf_button.setEnabled(True)
            _show_message(self.add_status, f"Could not add {source}: {message}")

        self.wiz.background(self.wiz.providers.describe_model, source, on_done=done, on_error=failed)

    def describe_existing(self) -> None:
        """Fill the Details column of rows read from a study file (errors become warnings)."""
        for row in self._rows:
            if row.builtin or row.info or row.source in self._pending:
                continue
            self._pending.add(row.source)

            def done(info: Any, source: str = row.source) -> None:
                self._pending.discard(source)
                for r in self._rows:
                    if r.source == source:
                        r.info = describe_text(info if isinstance(info, dict) else {})
                self._refresh_table()

            def failed(message: str, source: str = row.source) -> None:
                self._pending.discard(source)
                for r in self._rows:
                    if r.source == source:
                        r.info = f"⚠ {message}"
                self._refresh_table()

            self.wiz.background(self.wiz.providers.describe_model, row.source, on_done=done, on_error=failed)
        self._refresh_table()

    def set_models(self, models: list[dict[str, Any]]) -> None:
        self._rows = []
        builtin_sources = {c.source: c for c in self._choices}
        self._filling = True
        for i in range(self.builtin_list.count()):
            self.builtin_list.item(i).setCheckState(Qt.CheckState.Unchecked)
        self._filling = False
        for m in models:
            source = str(m.get("source", ""))
            extra = {k: v for k, v in m.items() if k not in ("id", "source")}
            choice = builtin_sources.get(source)
            info = choice.description if choice else ""
            self._rows.append(_ModelRow(str(m.get("id", "")), source, info, builtin=choice is not None, extra=extra))
            if choice is not None:
                self._set_builtin_checked(source, True)
        self._refresh_table()


class DatasetPage(_Page):
    section = "data"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Choose the test data",
            "Pick the data every model is tested on. The preview shows a few examples and how many "
            "there are of each class.",
        )
        self._source = ""
        self._extra: dict[str, Any] = {}  # [data] keys this page does not edit, kept as read
        self.preview: DatasetPreview | None = None
        self.preview_error = ""
        self._request = 0
        try:
            self._choices: list[ModelChoice] = list(wizard.providers.builtin_datasets())
        except Exception:
            self._choices = []

        columns = QHBoxLayout()
        columns.setSpacing(18)
        left = QVBoxLayout()
        left.setSpacing(6)
        right = QVBoxLayout()
        right.setSpacing(6)
        columns.addLayout(left, 5)
        columns.addLayout(right, 6)
        self.outer.addLayout(columns, 1)

        left.addWidget(_heading("Built-in example data"))
        self.builtin_combo = QComboBox()
        self.builtin_combo.setAccessibleName("Built-in dataset")
        self.builtin_combo.addItem("— choose a built-in dataset —", "")
        for choice in self._choices:
            self.builtin_combo.addItem(choice.label, choice.source)
            self.builtin_combo.setItemData(self.builtin_combo.count() - 1, choice.description, Qt.ItemDataRole.ToolTipRole)
        left.addWidget(self.builtin_combo)
        self.builtin_help = _help("")
        left.addWidget(self.builtin_help)

        left.addSpacing(4)
        left.addWidget(_heading("Your own data"))
        own = QHBoxLayout()
        self.folder_button = QPushButton("Image f&older…")
        self.folder_button.setAccessibleName("Choose an image folder with one sub-folder per class")
        self.table_button = QPushButton("&CSV / Parquet file…")
        self.table_button.setAccessibleName("Choose a CSV or Parquet table")
        own.addWidget(self.folder_button)
        own.addWidget(self.table_button)
        own.addStretch(1)
        left.addLayout(own)
        left.addWidget(_help("An image folder has one sub-folder per class. A table needs a column with the class."))

        left.addSpacing(4)
        left.addWidget(_heading("From Hugging Face"))
        hf = QHBoxLayout()
        self.hf_edit = QLineEdit()
        self.hf_edit.setPlaceholderText("e.g. uoft-cs/cifar10")
        self.hf_edit.setAccessibleName("Hugging Face dataset id")
        self.hf_button = QPushButton("&Use")
        self.hf_button.setAccessibleName("Use the Hugging Face dataset")
        hf.addWidget(self.hf_edit, 1)
        hf.addWidget(self.hf_button)
        left.addLayout(hf)

        self.source_label = QLabel()
        self.source_label.setStyleSheet("QLabel { background: #E8F0FE; border: 1px solid #C6DAFC; border-radius: 4px; "
                                        "padding: 5px 8px; }")
        self.source_label.setWordWrap(True)
        self.source_label.setAccessibleName("Chosen dataset")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left.addSpacing(4)
        left.addWidget(self.source_label)

        self.columns_box = QGroupBox("Columns of the table")
        cform = QFormLayout(self.columns_box)
        self.label_column = self._column_combo("Label column", "label")
        self.text_column = self._column_combo("Text column", "")
        self.group_column = self._column_combo("Group column", "")
        cform.addRow("Class (label) column:", self.label_column)
        cform.addRow("Text column:", self.text_column)
        cform.addRow("Group column:", self.group_column)
        cform.addRow(_help("Leave Text empty when the other columns are numbers. A group column "
                           "(e.g. site) enables group shift."))
        left.addWidget(self.columns_box)

        self.image_box = QGroupBox("Images")
        iform = QFormLayout(self.image_box)
        self.image_size = QSpinBox()
        self.image_size.setRange(0, int(_schema_bound(DataSpec, "image_size", "le") or 1024))
        self.image_size.setSpecialValueText("keep the original size")
        self.image_size.setSuffix(" px")
        self.image_size.setAccessibleName("Resize images to a square of this side")
        self.grayscale = QCheckBox("Convert to grey")
        iform.addRow("Resize to:", self.image_size)
        iform.addRow("", self.grayscale)
        left.addWidget(self.image_box)

        split_row = QFormLayout()
        self.split_combo = QComboBox()
        self.split_combo.setAccessibleName("Which part of the data is evaluated")
        for split in _schema_choices(DataSpec, "split"):
            self.split_combo.addItem(SPLIT_LABELS.get(split, split), split)
        self.split_combo.setCurrentIndex(max(self.split_combo.findData(_schema_default(DataSpec, "split")), 0))
        self.max_examples = QSpinBox()
        self.max_examples.setRange(0, 10_000_000)
        self.max_examples.setSingleStep(100)
        self.max_examples.setSpecialValueText("all")
        self.max_examples.setAccessibleName("Evaluate at most this many examples")
        self.max_examples.setSuffix(" examples")
        self.max_examples.setMaximumWidth(180)
        split_label = QLabel("&Evaluate on:")
        split_label.setBuddy(self.split_combo)
        max_label = QLabel("At &most:")
        max_label.setBuddy(self.max_examples)
        split_row.addRow(split_label, self.split_combo)
        split_row.addRow(max_label, self.max_examples)
        left.addLayout(split_row)
        left.addStretch(1)

        # preview
        right.addWidget(_heading("Preview"))
        self.rows_label = QLabel("Choose a dataset to see a preview.")
        self.rows_label.setWordWrap(True)
        self.rows_label.setAccessibleName("Dataset size")
        right.addWidget(self.rows_label)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Loading the preview")
        self.busy.hide()
        right.addWidget(self.busy)
        self.samples_stack = QStackedWidget()
        self.samples_stack.setAccessibleName("Example rows")
        grid_host = QWidget()
        self.samples_grid = QGridLayout(grid_host)
        self.samples_grid.setContentsMargins(0, 0, 0, 0)
        self.samples_grid.setHorizontalSpacing(8)
        self.samples_grid.setVerticalSpacing(2)
        self.samples_table = QTableWidget(0, 0)
        self.samples_table.setAccessibleName("Example rows")
        self.samples_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.samples_table.verticalHeader().setVisible(False)
        self.samples_table.setTabKeyNavigation(False)
        self.samples_stack.addWidget(grid_host)
        self.samples_stack.addWidget(self.samples_table)
        self.samples_table.setMinimumHeight(200)
        right.addWidget(self.samples_stack)
        self.thumbnails: list[Thumbnail] = []
        right.addWidget(_help("How many examples of each class:"))
        self.balance_chart = BarChart("Class balance chart", BLUE, "examples")
        self.balance_chart.setMinimumHeight(150)
        self.balance_chart.setMaximumHeight(300)
        right.addWidget(self.balance_chart, 1)
        right.addStretch(0)
        self.finish_layout()

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(400)
        self._preview_timer.timeout.connect(self.request_preview)
        self.builtin_combo.activated.connect(self._on_builtin)
        self.folder_button.clicked.connect(self._choose_folder)
        self.table_button.clicked.connect(self._choose_table)
        self.hf_button.clicked.connect(self._on_hf)
        self.hf_edit.returnPressed.connect(self._on_hf)
        for combo in (self.label_column, self.text_column, self.group_column):
            combo.editTextChanged.connect(self._options_changed)
        self.image_size.valueChanged.connect(self._options_changed)
        self.grayscale.toggled.connect(self._options_changed)
        self.split_combo.currentIndexChanged.connect(self.changed)
        self.max_examples.valueChanged.connect(self.changed)
        _set_tab_order([self.builtin_combo, self.folder_button, self.table_button, self.hf_edit, self.hf_button,
                        self.label_column, self.text_column, self.group_column, self.image_size, self.grayscale,
                        self.split_combo, self.max_examples, self.samples_table])
        self._update_source_widgets()

    def _column_combo(self, name: str, default: str) -> QComboBox:
        combo = QComboBox()
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.setAccessibleName(name)
        combo.setEditText(default)
        return combo

    # -- source ---------------------------------------------------------------------------------

    def source(self) -> str:
        return self._source

    def scheme(self) -> str:
        return self._source.partition(":")[0]

    def set_source(self, source: str, extra: dict[str, Any] | None = None) -> None:
        """Use this dataset (what the combo, the file buttons, the hub field and drops do)."""
        if source != self._source:
            old_scheme = self.scheme()
            self._source = source
            if source.partition(":")[0] != old_scheme:
                self._extra = {}
            self.preview = None
            self.preview_error = ""
        if extra is not None:
            self._extra = dict(extra)
        index = self.builtin_combo.findData(source)
        self.builtin_combo.setCurrentIndex(max(index, 0))
        if source.startswith("hf:"):
            self.hf_edit.setText(source[3:])
        self._update_source_widgets()
        self.request_preview()
        self.changed()
        self.wiz.data_changed()

    def add_local_data(self, path: str) -> bool:
        p = Path(path)
        rel = _project_relative(str(p), self.wiz.project_root())
        if p.is_dir():
            self.set_source(f"folder:{rel}")
        elif p.suffix.lower() == ".csv":
            self.set_source(f"csv:{rel}")
        elif p.suffix.lower() in (".parquet", ".pq"):
            self.set_source(f"parquet:{rel}")
        else:
            self.preview_error = f"“{p.name}” is not a folder, CSV or Parquet file."
            self._show_preview_state()
            return False
        return True

    def _on_builtin(self, index: int) -> None:
        source = self.builtin_combo.itemData(index)
        if source:
            self.set_source(source)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an image folder (one sub-folder per class)",
                                                self.wiz.project_root())
        if path:
            self.add_local_data(path)

    def _choose_table(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a table", self.wiz.project_root(),
                                              "Tables (*.csv *.parquet *.pq)")
        if path:
            self.add_local_data(path)

    def _on_hf(self) -> None:
        text = self.hf_edit.text().strip()
        if text:
            self.set_source(text if text.startswith("hf:") else f"hf:{text}")

    def _update_source_widgets(self) -> None:
        scheme = self.scheme()
        choice = next((c for c in self._choices if c.source == self._source), None)
        self.builtin_help.setText(choice.description if choice else "")
        self.builtin_help.setVisible(choice is not None)
        self.columns_box.setVisible(scheme in ("csv", "parquet", "hf"))
        self.image_box.setVisible(scheme in ("folder", "hf"))
        if self._source:
            self.source_label.setText(f"Using <b>{html.escape(self._source)}</b>")
        else:
            self.source_label.setText("<i>No dataset chosen yet.</i>")

    # -- options --------------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The [data] options that change how the source is read (passed to the providers)."""
        scheme = self.scheme()
        out: dict[str, Any] = {}
        if scheme in ("csv", "parquet", "hf"):
            out["label_column"] = self.label_column.currentText().strip() or "label"
            for key, combo in (("text_column", self.text_column), ("group_column", self.group_column)):
                if combo.currentText().strip():
                    out[key] = combo.currentText().strip()
        if scheme in ("folder", "hf"):
            if self.image_size.value():
                out["image_size"] = self.image_size.value()
            if self.grayscale.isChecked():
                out["grayscale"] = True
        for key in ("image_column", "feature_columns", "hf_split", "hf_config"):
            if key in self._extra:
                out[key] = self._extra[key]
        return out

    def set_options(self, data: dict[str, Any]) -> None:
        for combo, key, default in ((self.label_column, "label_column", "label"), (self.text_column, "text_column", ""),
                                    (self.group_column, "group_column", "")):
            combo.blockSignals(True)
            combo.setEditText(str(data.get(key) or default))
            combo.blockSignals(False)
        self.image_size.blockSignals(True)
        self.image_size.setValue(int(data.get("image_size") or 0))
        self.image_size.blockSignals(False)
        self.grayscale.blockSignals(True)
        self.grayscale.setChecked(bool(data.get("grayscale", False)))
        self.grayscale.blockSignals(False)
        index = self.split_combo.findData(data.get("split", "test"))
        self.split_combo.setCurrentIndex(max(index, 0))
        self.max_examples.setValue(int(data.get("max_examples") or 0))

    def extra_keys(self) -> dict[str, Any]:
        return dict(self._extra)

    def _options_changed(self, *_: Any) -> None:
        self.preview = None
        self._preview_timer.start()
        self.changed()
        self.wiz.data_changed()

    def group_column_name(self) -> str:
        return self.options().get("group_column", "")

    def modality(self) -> str:
        if self.preview is not None:
            return self.preview.modality
        scheme = self.scheme()
        if scheme in ("csv", "parquet"):
            return "text" if self.options().get("text_column") else "tabular"
        if scheme == "builtin":
            return "image" if self._source in ("builtin:digits",) else "tabular"
        if scheme == "hf" and self.options().get("text_column"):
            return "text"
        return "image"

    def class_names(self) -> list[str]:
        return list(self.preview.class_names) if self.preview is not None else []

    # -- preview --------------------------------------------------------------------------------

    def request_preview(self) -> None:
        if not self._source:
            return
        self._request += 1
        request = self._request
        key = self.wiz.data_key()
        cached = self.wiz.preview_cache.get(key)
        if cached is not None:
            self._preview_done(request, cached)
            return
        self.busy.show()
        self.rows_label.setText(f"Reading {self._source}…")

        def done(preview: Any, request: int = request, key: tuple = key) -> None:
            self.wiz.preview_cache[key] = preview
            self._preview_done(request, preview)

        def failed(message: str, request: int = request) -> None:
            if request != self._request:
                return
            self.busy.hide()
            self.preview = None
            self.preview_error = message
            self._show_preview_state()
            self.wiz.data_changed()

        self.wiz.background(self.wiz.providers.preview_dataset, self._source, self.options(), on_done=done, on_error=failed)

    def _preview_done(self, request: int, preview: DatasetPreview) -> None:
        if request != self._request:
            return
        self.busy.hide()
        self.preview = preview
        self.preview_error = ""
        self._show_preview_state()
        self.wiz.data_changed()

    def _show_preview_state(self) -> None:
        for thumb in self.thumbnails:
            thumb.deleteLater()
        while self.samples_grid.count():
            item = self.samples_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.thumbnails = []
        preview = self.preview
        if preview is None:
            if self.preview_error:
                self.rows_label.setText(f"<span style='color:{RED}'>Could not open the data: "
                                        f"{html.escape(self.preview_error)}</span>")
            self.balance_chart.set_bars([], [])
            self.samples_table.setRowCount(0)
            return
        k = len(preview.class_names)
        kind = {"image": "images", "tabular": "table rows", "text": "texts"}.get(preview.modality, preview.modality)
        shape = ""
        if preview.modality == "image" and preview.samples:
            img = np.asarray(preview.samples[0][0])
            shape = f" of {img.shape[1]}×{img.shape[0]} pixels" if img.ndim >= 2 else ""
        groups = " · has groups" if preview.has_groups else ""
        self.rows_label.setText(f"<b>{preview.n_rows:,}</b> {kind}{shape} · <b>{k}</b> classes{groups}")
        self.balance_chart.set_bars(list(preview.class_names), list(preview.class_counts))
        samples = list(preview.samples)[:12]
        if preview.modality == "image":
            self.samples_stack.setCurrentIndex(0)
            for i, (img, label) in enumerate(samples):
                thumb = Thumbnail(72, f"Example {i + 1}, class {label}")
                thumb.set_image(img)
                caption = QLabel(str(label))
                caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
                caption.setStyleSheet(f"color: {MUTED};")
                r, c = divmod(i, 6)
                self.samples_grid.addWidget(thumb, 2 * r, c, Qt.AlignmentFlag.AlignHCenter)
                self.samples_grid.addWidget(caption, 2 * r + 1, c, Qt.AlignmentFlag.AlignHCenter)
                self.thumbnails.append(thumb)
            self.samples_grid.setRowStretch(4, 1)
            self.samples_grid.setColumnStretch(6, 1)
        else:
            self.samples_stack.setCurrentIndex(1)
            if preview.modality == "text":
                columns = ["text", "class"]
                rows = [[str(s), str(label)] for s, label in samples]
            else:
                keys: list[str] = []
                for s, _ in samples:
                    for key in (s.keys() if isinstance(s, dict) else []):
                        if key not in keys:
                            keys.append(str(key))
                columns = [*keys, "class"]
                rows = [[_cell_text(s.get(key)) if isinstance(s, dict) else str(s) for key in keys] + [str(label)]
                        for s, label in samples]
                self._offer_columns(keys)
            self.samples_table.setColumnCount(len(columns))
            self.samples_table.setHorizontalHeaderLabels(columns)
            self.samples_table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    item = QTableWidgetItem(value)
                    item.setToolTip(value)
                    self.samples_table.setItem(r, c, item)
            self.samples_table.resizeColumnsToContents()
            for c in range(self.samples_table.columnCount()):
                self.samples_table.setColumnWidth(c, min(self.samples_table.columnWidth(c), 260))

    def _offer_columns(self, keys: list[str]) -> None:
        for combo, blank in ((self.label_column, False), (self.text_column, True), (self.group_column, True)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            if blank:
                combo.addItem("")
            combo.addItems(keys)
            combo.setEditText(current)
            combo.blockSignals(False)


def _cell_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class CorruptionGallery(QWidget):
    """One row per corruption: a checkbox, its description and the same image clean and at 1–5."""

    toggled = Signal()

    def __init__(self, names: tuple[str, ...], parent: QWidget | None = None, thumb: int = 58):
        super().__init__(parent)
        self.setAccessibleName("Corruption gallery")
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(6)
        self.header_labels: list[QLabel] = []
        for c, text in enumerate(["Original", *(f"{s}" for s in SEVERITIES)]):
            label = QLabel(text if c else text)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet(f"color: {MUTED}; font-weight: bold;")
            grid.addWidget(label, 0, c + 1)
            self.header_labels.append(label)
        self.checks: dict[str, QCheckBox] = {}
        self.images: dict[str, list[Thumbnail]] = {}
        for r, name in enumerate(names, start=1):
            desc = CORRUPTION_DESCRIPTIONS.get(name, "")
            cell = QWidget()
            col = QVBoxLayout(cell)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(1)
            check = QCheckBox(pretty(name))
            check.setToolTip(desc)
            check.setAccessibleName(pretty(name))
            check.setAccessibleDescription(desc)
            check.toggled.connect(self.toggled)
            about = QLabel(desc)
            about.setWordWrap(True)
            about.setStyleSheet(f"color: {MUTED}; font-size: 8.5pt;")
            col.addWidget(check)
            col.addWidget(about)
            col.addStretch(1)
            cell.setFixedWidth(228)
            grid.addWidget(cell, r, 0, Qt.AlignmentFlag.AlignTop)
            self.checks[name] = check
            row = []
            for c, sev in enumerate((0, *SEVERITIES)):
                where = "original" if sev == 0 else f"severity {sev}"
                t = Thumbnail(thumb, f"{pretty(name)}, {where}")
                grid.addWidget(t, r, c + 1)
                row.append(t)
            self.images[name] = row
        grid.setColumnStretch(len(SEVERITIES) + 2, 1)
        grid.setRowStretch(len(names) + 1, 1)
        _set_tab_order(list(self.checks.values()))

    def set_images(self, images: dict[str, list[Any]]) -> None:
        for name, row in self.images.items():
            pictures = images.get(name) or []
            for i, thumb in enumerate(row):
                if i < len(pictures) and pictures[i] is not None:
                    thumb.set_image(pictures[i])
                else:
                    thumb.set_placeholder("n/a")

    def set_placeholders(self, text: str = "…") -> None:
        for row in self.images.values():
            for thumb in row:
                thumb.set_placeholder(text)

    def image_count(self) -> int:
        return sum(t.has_image() for row in self.images.values() for t in row)

    def dim_severities(self, chosen: set[int]) -> None:
        for row in self.images.values():
            for i, thumb in enumerate(row[1:], start=1):
                thumb.setEnabled(i in chosen)
        for i, label in enumerate(self.header_labels[1:], start=1):
            label.setEnabled(i in chosen)

    def chosen(self) -> list[str]:
        return [n for n, c in self.checks.items() if c.isChecked()]


class _ShiftList(QWidget):
    """Checkboxes for the tabular or text shifts, with their descriptions."""

    toggled = Signal()

    def __init__(self, names: tuple[str, ...], registry: dict[str, Any], parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.checks: dict[str, QCheckBox] = {}
        for name in names:
            desc = getattr(registry.get(name), "description", "")
            check = QCheckBox(pretty(name))
            check.setToolTip(desc)
            check.setAccessibleDescription(desc)
            check.toggled.connect(self.toggled)
            layout.addWidget(check)
            layout.addWidget(_help(desc))
            self.checks[name] = check
        layout.addStretch(1)

    def chosen(self) -> list[str]:
        return [n for n, c in self.checks.items() if c.isChecked()]


class ConditionsPage(_Page):
    section = "conditions"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Choose the conditions",
            "Each condition changes the test data in one way. Tick the ones your models may meet in "
            "real use; the pictures show what each looks like at severity 1 (mild) to 5 (strong).",
        )
        self._gallery_key: tuple | None = None
        self._gallery_request = 0

        self.clean_check = QCheckBox("Include the clean, unchanged data (the reference every drop is measured from)")
        self.clean_check.setChecked(True)
        self.outer.addWidget(self.clean_check)

        columns = QHBoxLayout()
        columns.setSpacing(16)
        self.outer.addLayout(columns, 1)

        # left: image corruptions or table / text shifts
        self.left_stack = QStackedWidget()
        columns.addWidget(self.left_stack, 7)
        image_host = QWidget()
        image_col = QVBoxLayout(image_host)
        image_col.setContentsMargins(0, 0, 0, 0)
        image_col.setSpacing(6)
        top = QHBoxLayout()
        top.addWidget(_heading("Image corruptions"))
        top.addStretch(1)
        self.select_all_button = QPushButton("Select &all")
        self.select_none_button = QPushButton("Cl&ear")
        self.select_none_button.setAccessibleName("Clear all corruptions")
        top.addWidget(self.select_all_button)
        top.addWidget(self.select_none_button)
        image_col.addLayout(top)
        self.severity_row = QWidget()
        sev_row = QHBoxLayout(self.severity_row)
        sev_row.setContentsMargins(0, 0, 0, 0)
        sev_row.addWidget(QLabel("Severities to run:"))
        self.severity_checks: dict[int, QCheckBox] = {}
        for s in SEVERITIES:
            text = {1: "1 (mild)", 5: "5 (strong)"}.get(s, str(s))
            check = QCheckBox(text)
            check.setChecked(True)
            check.setAccessibleName(f"Severity {s}")
            check.toggled.connect(self._on_severities)
            sev_row.addWidget(check)
            self.severity_checks[s] = check
        sev_row.addStretch(1)
        image_col.addWidget(self.severity_row)
        self._stack_layouts = [image_col]
        status_row = QHBoxLayout()
        self.gallery_busy = QProgressBar()
        self.gallery_busy.setRange(0, 0)
        self.gallery_busy.setMaximumWidth(120)
        self.gallery_busy.setMaximumHeight(8)
        self.gallery_busy.setTextVisible(False)
        self.gallery_busy.setAccessibleName("Preparing the gallery")
        self.gallery_status = QLabel()
        self.gallery_status.setWordWrap(True)
        self.gallery_status.setStyleSheet(f"color: {MUTED};")
        status_row.addWidget(self.gallery_busy)
        status_row.addWidget(self.gallery_status, 1)
        image_col.addLayout(status_row)
        self.gallery = CorruptionGallery(CORRUPTION_NAMES)
        self.gallery.toggled.connect(self.changed)
        self.gallery_scroll = QScrollArea()
        self.gallery_scroll.setWidget(self.gallery)
        self.gallery_scroll.setWidgetResizable(True)
        self.gallery_scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self.gallery_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.gallery_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.gallery_scroll.setMinimumWidth(self.gallery.sizeHint().width() + 24)
        image_col.addWidget(self.gallery_scroll, 1)
        self.left_stack.addWidget(image_host)

        table_host = QWidget()
        table_col = QVBoxLayout(table_host)
        table_col.setContentsMargins(0, 0, 0, 0)
        table_col.addWidget(_heading("Table shifts"))
        self._stack_layouts.append(table_col)
        self.tabular_list = _ShiftList(TABULAR_SHIFT_NAMES, TABULAR_SHIFTS)
        self.tabular_list.toggled.connect(self.changed)
        table_col.addWidget(self.tabular_list, 1)
        self.left_stack.addWidget(table_host)

        text_host = QWidget()
        text_col = QVBoxLayout(text_host)
        text_col.setContentsMargins(0, 0, 0, 0)
        text_col.addWidget(_heading("Text shifts"))
        self._stack_layouts.append(text_col)
        self.text_list = _ShiftList(TEXT_SHIFT_NAMES, TEXT_SHIFTS)
        self.text_list.toggled.connect(self.changed)
        text_col.addWidget(self.text_list, 1)
        self.left_stack.addWidget(text_host)

        # right: label shift and group shift
        right = QVBoxLayout()
        right.setSpacing(8)
        columns.addLayout(right, 3)
        self.label_box = QGroupBox("Label shift — change how often each class appears")
        self.label_box.setCheckable(True)
        self.label_box.setChecked(False)
        self.label_box.setAccessibleName("Label shift")
        lform = QVBoxLayout(self.label_box)
        lform.setSpacing(6)
        lform.addWidget(_help("Resamples the test data so some classes become common and others rare. "
                              "Smaller α means a stronger shift."))
        slider_row = QHBoxLayout()
        alpha_label = QLabel("&α:")
        self.alpha_slider = QSlider(Qt.Orientation.Horizontal)
        self.alpha_slider.setRange(0, len(ALPHA_VALUES) - 1)
        self.alpha_slider.setPageStep(3)
        self.alpha_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.alpha_slider.setTickInterval(1)
        self.alpha_slider.setAccessibleName("Dirichlet alpha (log scale)")
        alpha_label.setBuddy(self.alpha_slider)
        self.alpha_value = QLabel()
        self.alpha_value.setMinimumWidth(64)
        self.alpha_value.setAccessibleName("Alpha value")
        slider_row.addWidget(alpha_label)
        slider_row.addWidget(QLabel(_fmt_num(ALPHA_MIN)))
        slider_row.addWidget(self.alpha_slider, 1)
        slider_row.addWidget(QLabel(_fmt_num(ALPHA_MAX)))
        slider_row.addWidget(self.alpha_value)
        lform.addLayout(slider_row)
        self.priors_chart = BarChart("Class priors for the chosen alpha", ORANGE, "% of test data")
        self.priors_chart.setMinimumHeight(130)
        lform.addWidget(self.priors_chart, 1)
        self.priors_caption = _help("")
        lform.addWidget(self.priors_caption)
        add_row = QHBoxLayout()
        self.add_alpha_button = QPushButton("Add α")
        self.add_alpha_button.setAccessibleName("Add this alpha value")
        add_row.addWidget(self.add_alpha_button)
        add_row.addStretch(1)
        lform.addLayout(add_row)
        values = QFormLayout()
        self.alpha_edit = QLineEdit()
        self.alpha_edit.setPlaceholderText("e.g. 1, 0.3")
        self.alpha_edit.setAccessibleName("Alpha values")
        self.tweak_edit = QLineEdit()
        self.tweak_edit.setPlaceholderText("optional, e.g. 0.5")
        self.tweak_edit.setAccessibleName("Tweak-one rho values")
        self.tweak_edit.setToolTip("One class gets this share of the test data; the others share the rest equally.")
        self.imbalance_edit = QLineEdit()
        self.imbalance_edit.setPlaceholderText("optional, e.g. 10")
        self.imbalance_edit.setAccessibleName("Long-tail imbalance ratios")
        self.imbalance_edit.setToolTip("Class frequencies fall off so the commonest class is r times the rarest.")
        values.addRow("α values:", self.alpha_edit)
        values.addRow("One class at ρ:", self.tweak_edit)
        values.addRow("Long tail, ratio:", self.imbalance_edit)
        lform.addLayout(values)
        right.addWidget(self.label_box, 1)

        self.group_box = QGroupBox("Group shift — over-represent one group at a time")
        self.group_box.setCheckable(True)
        self.group_box.setChecked(False)
        gform = QFormLayout(self.group_box)
        self.shares_edit = QLineEdit()
        self.shares_edit.setPlaceholderText("e.g. 0.1, 0.5")
        self.shares_edit.setAccessibleName("Group shares")
        gform.addRow("Shares:", self.shares_edit)
        gform.addRow(_help("The share of the test data each group is resampled to, between 0 and 1."))
        right.addWidget(self.group_box)
        self.finish_layout()

        self.clean_check.toggled.connect(self.changed)
        self.select_all_button.clicked.connect(lambda: self._select_all(True))
        self.select_none_button.clicked.connect(lambda: self._select_all(False))
        self.label_box.toggled.connect(self.changed)
        self.alpha_slider.valueChanged.connect(self._on_alpha)
        self.add_alpha_button.clicked.connect(self.add_alpha)
        for edit in (self.alpha_edit, self.tweak_edit, self.imbalance_edit, self.shares_edit):
            edit.textChanged.connect(self.changed)
        self.group_box.toggled.connect(self.changed)
        _set_tab_order([self.clean_check, self.select_all_button, self.select_none_button,
                        *self.severity_checks.values(), *self.gallery.checks.values(),
                        *self.tabular_list.checks.values(), *self.text_list.checks.values(),
                        self.label_box, self.alpha_slider, self.add_alpha_button, self.alpha_edit, self.tweak_edit,
                        self.imbalance_edit, self.group_box, self.shares_edit])
        self.set_alpha(1.0)

    # -- page life ------------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.refresh_for_data()

    def refresh_for_data(self) -> None:
        modality = self.wiz.data_page.modality()
        index = {"image": 0, "tabular": 1, "text": 2}.get(modality, 0)
        if self.left_stack.currentIndex() != index or self.severity_row.parent() is None:
            self._stack_layouts[index].insertWidget(1, self.severity_row)
        self.left_stack.setCurrentIndex(index)
        has_groups = bool(self.wiz.data_page.group_column_name())
        self.group_box.setVisible(has_groups)
        self.update_priors()
        if modality == "image":
            self.request_gallery()

    # -- corruptions ----------------------------------------------------------------------------

    def request_gallery(self) -> None:
        source = self.wiz.data_page.source()
        if not source:
            return
        key = self.wiz.data_key()
        if key == self._gallery_key:
            return
        self._gallery_key = key
        self._gallery_request += 1
        request = self._gallery_request
        cached = self.wiz.gallery_cache.get(key)
        if cached is not None:
            self._gallery_done(request, cached)
            return
        self.gallery.set_placeholders("…")
        self.gallery_busy.show()
        self.gallery_status.setText("Preparing the pictures…")

        def done(images: Any, request: int = request, key: tuple = key) -> None:
            self.wiz.gallery_cache[key] = images
            self._gallery_done(request, images)

        def failed(message: str, request: int = request) -> None:
            if request != self._gallery_request:
                return
            self.gallery_busy.hide()
            self._gallery_key = None
            self.gallery.set_placeholders("n/a")
            self.gallery_status.setText(f"Could not prepare the pictures: {message}")

        self.wiz.background(self.wiz.providers.corruption_gallery, source, self.wiz.data_page.options(),
                            list(CORRUPTION_NAMES), list(SEVERITIES), on_done=done, on_error=failed)

    def _gallery_done(self, request: int, images: dict[str, list[Any]]) -> None:
        if request != self._gallery_request:
            return
        self.gallery_busy.hide()
        self.gallery.set_images(images)
        self.gallery_status.setText("The same test image, unchanged and at each severity. Hover a name for details.")
        self.gallery.dim_severities(set(self.severities()))

    def _select_all(self, on: bool) -> None:
        for check in self.gallery.checks.values():
            check.setChecked(on)

    def corruptions(self) -> list[str]:
        return self.gallery.chosen()

    def set_corruptions(self, names: list[str]) -> None:
        for name, check in self.gallery.checks.items():
            check.setChecked(name in names)

    def severities(self) -> list[int]:
        return [s for s, c in self.severity_checks.items() if c.isChecked()]

    def set_severities(self, values: list[int]) -> None:
        for s, c in self.severity_checks.items():
            c.setChecked(s in values)

    def _on_severities(self) -> None:
        self.gallery.dim_severities(set(self.severities()))
        self.changed()

    # -- label shift ----------------------------------------------------------------------------

    def alpha(self) -> float:
        return ALPHA_VALUES[self.alpha_slider.value()]

    def set_alpha(self, value: float) -> None:
        """Move the slider to the nice value nearest ``value`` on the log scale."""
        target = math.log10(min(max(float(value), ALPHA_MIN), ALPHA_MAX))
        v = min(range(len(ALPHA_VALUES)), key=lambda i: abs(math.log10(ALPHA_VALUES[i]) - target))
        if v == self.alpha_slider.value():
            self._on_alpha(v)
        else:
            self.alpha_slider.setValue(v)

    def _on_alpha(self, _: int) -> None:
        a = self.alpha()
        self.alpha_value.setText(f"α = {_fmt_num(a)}")
        self.add_alpha_button.setText(f"Add α = {_fmt_num(a)}")
        self.alpha_slider.setAccessibleDescription(f"alpha {_fmt_num(a)}")
        self.update_priors()

    def update_priors(self) -> None:
        names = self.wiz.data_page.class_names() or [str(i) for i in range(10)]
        k = len(names)
        seed = self.wiz.first_seed()
        a = self.alpha()
        priors = np.random.default_rng(seed).dirichlet(a * np.ones(k))
        self.priors_chart.set_bars(names, priors, reference=1.0 / k, y_max=max(1.0 / k * 1.6, float(priors.max()) * 1.1),
                                   percent=True)
        strength = "strong" if a < 0.5 else "moderate" if a < 5 else "mild"
        self.priors_caption.setText(
            f"Class shares drawn for seed {seed} at α = {_fmt_num(a)} ({strength} shift); each seed draws its own "
            "mix. Dashed line: every class equally common."
        )

    def add_alpha(self) -> None:
        values, _ = _parse_numbers(self.alpha_edit.text())
        a = self.alpha()
        if a not in values:
            values.append(a)
        self.alpha_edit.setText(_numbers_text(values))
        if not self.label_box.isChecked():
            self.label_box.setChecked(True)

    def label_shift(self) -> tuple[dict[str, list[float]], list[str]]:
        """The label_shift table and problems with the typed numbers."""
        out: dict[str, list[float]] = {}
        problems: list[str] = []
        if not self.label_box.isChecked():
            return out, problems
        for key, edit, what in (("dirichlet_alpha", self.alpha_edit, "α values"), ("tweak_one", self.tweak_edit, "ρ values"),
                                ("imbalance_ratio", self.imbalance_edit, "long-tail ratios")):
            values, error = _parse_numbers(edit.text())
            if error:
                problems.append(f"label shift {what}: {error}; separate numbers with commas")
            if values:
                out[key] = values
        if not out and not problems:
            problems.append("label shift is on but has no values: press “Add α” (or type α values), or turn label shift off")
        return out, problems

    def group_shares(self) -> tuple[list[float], list[str]]:
        if not (self.group_box.isChecked() and self.wiz.data_page.group_column_name()):
            return [], []
        values, error = _parse_numbers(self.shares_edit.text())
        if error:
            return values, [f"group shift shares: {error}"]
        if not values:
            return values, ["group shift is on but has no shares: type one or more shares between 0 and 1, or turn it off"]
        return values, []

    def local_problems(self) -> list[str]:
        problems = []
        _, ls_problems = self.label_shift()
        _, g_problems = self.group_shares()
        problems += ls_problems + g_problems
        modality = self.wiz.data_page.modality()
        chosen = {"image": self.corruptions(), "tabular": self.tabular_list.chosen(), "text": self.text_list.chosen()}.get(modality, [])
        ls, _ = self.label_shift()
        shares, _ = self.group_shares()
        if not (self.clean_check.isChecked() or chosen or ls or shares or self.wiz.extra_shift_conditions()):
            problems.append("choose at least one condition: keep the clean data, tick a shift or add a label shift")
        return problems


class SeedsPage(_Page):
    section = "seeds"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Seeds, metrics and where to run",
            "Repeating a study with several seeds shows how stable each result is. Pick what to measure "
            "and where the work runs.",
        )
        columns = QHBoxLayout()
        columns.setSpacing(18)
        left = QVBoxLayout()
        left.setSpacing(12)
        right = QVBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        self.outer.addLayout(columns, 1)

        seeds_box = QGroupBox("Seeds")
        sform = QFormLayout(seeds_box)
        self.seed_count = QSpinBox()
        self.seed_count.setRange(1, 50)
        self.seed_count.setValue(3)
        self.seed_count.setAccessibleName("Number of seeds")
        self.seeds_edit = QLineEdit("0, 1, 2")
        self.seeds_edit.setAccessibleName("Seeds")
        count_label = QLabel("&How many:")
        count_label.setBuddy(self.seed_count)
        seeds_label = QLabel("See&ds:")
        seeds_label.setBuddy(self.seeds_edit)
        sform.addRow(count_label, self.seed_count)
        sform.addRow(seeds_label, self.seeds_edit)
        sform.addRow(_help("Each seed repeats everything with fresh randomness: training of built-in models, "
                           "corruptions and resampling. Three is a good start."))
        left.addWidget(seeds_box)

        metrics_box = QGroupBox("Metrics")
        mcol = QVBoxLayout(metrics_box)
        mcol.setSpacing(2)
        self.metric_checks: dict[str, QCheckBox] = {}
        defaults = _schema_default(MetricsSpec, "names")
        for name in METRIC_NAMES:
            meta = METRICS.get(name)
            label = meta.label if meta else pretty(name)
            desc = meta.description if meta else ""
            check = QCheckBox(label)
            check.setToolTip(desc)
            check.setAccessibleDescription(desc)
            check.setChecked(name in defaults)
            if name == "accuracy":
                check.setChecked(True)
                check.setEnabled(False)
                check.setToolTip(desc + " Always measured.")
            mcol.addWidget(check)
            about = _help(desc)
            about.setContentsMargins(22, 0, 0, 4)
            mcol.addWidget(about)
            check.toggled.connect(self.changed)
            self.metric_checks[name] = check
        mcol.addStretch(1)
        right.addWidget(metrics_box)
        right.addStretch(1)

        stats_box = QGroupBox("Intervals")
        tform = QFormLayout(stats_box)
        self.bootstrap = QSpinBox()
        self.bootstrap.setRange(int(_schema_bound(MetricsSpec, "bootstrap", "ge") or 0),
                                int(_schema_bound(MetricsSpec, "bootstrap", "le") or 100_000))
        self.bootstrap.setSingleStep(100)
        self.bootstrap.setValue(int(_schema_default(MetricsSpec, "bootstrap")))
        self.bootstrap.setSpecialValueText("no intervals")
        self.bootstrap.setAccessibleName("Bootstrap resamples")
        self.level = QComboBox()
        self.level.setAccessibleName("Interval level")
        for lvl in (0.9, 0.95, 0.99):
            self.level.addItem(f"{lvl:.0%}", lvl)
        self.level.setCurrentIndex(self.level.findData(_schema_default(MetricsSpec, "level")))
        boot_label = QLabel("&Resamples:")
        boot_label.setBuddy(self.bootstrap)
        level_label = QLabel("&Level:")
        level_label.setBuddy(self.level)
        tform.addRow(boot_label, self.bootstrap)
        tform.addRow(level_label, self.level)
        tform.addRow(_help("Every number gets an interval from this many bootstrap resamples of the test "
                           "examples. 1,000 is plenty."))
        left.addWidget(stats_box)

        run_box = QGroupBox("Where to run")
        rform = QFormLayout(run_box)
        self.backend = QComboBox()
        self.backend.setAccessibleName("Execution backend")
        for b in _schema_choices(ExecutionSpec, "backend"):
            self.backend.addItem(BACKEND_LABELS.get(b, b), b)
        self.backend.setCurrentIndex(self.backend.findData(_schema_default(ExecutionSpec, "backend")))
        self.workers = QSpinBox()
        self.workers.setRange(0, int(_schema_bound(ExecutionSpec, "workers", "le") or 512))
        self.workers.setSpecialValueText("automatic")
        self.workers.setAccessibleName("Workers")
        self.address = QLineEdit()
        self.address.setPlaceholderText("tcp://scheduler:8786 — empty: start a local cluster")
        self.address.setAccessibleName("Dask scheduler address")
        self.device = QComboBox()
        self.device.setAccessibleName("Device")
        for d in _schema_choices(ExecutionSpec, "device"):
            self.device.addItem(DEVICE_LABELS.get(d, d), d)
        backend_label = QLabel("Ru&n on:")
        backend_label.setBuddy(self.backend)
        workers_label = QLabel("&Workers:")
        workers_label.setBuddy(self.workers)
        self.address_label = QLabel("Sc&heduler:")
        self.address_label.setBuddy(self.address)
        device_label = QLabel("De&vice:")
        device_label.setBuddy(self.device)
        rform.addRow(backend_label, self.backend)
        rform.addRow(workers_label, self.workers)
        rform.addRow(self.address_label, self.address)
        rform.addRow(device_label, self.device)
        left.addWidget(run_box)
        left.addStretch(1)
        for spin in (self.seed_count, self.bootstrap, self.workers):
            spin.setMaximumWidth(160)
        self.level.setMaximumWidth(160)
        self.finish_layout()

        self.seed_count.valueChanged.connect(self._on_count)
        self.seeds_edit.textChanged.connect(self._on_seeds_text)
        self.bootstrap.valueChanged.connect(self.changed)
        self.level.currentIndexChanged.connect(self.changed)
        self.backend.currentIndexChanged.connect(self._on_backend)
        self.workers.valueChanged.connect(self.changed)
        self.address.textChanged.connect(self.changed)
        self.device.currentIndexChanged.connect(self.changed)
        _set_tab_order([self.seed_count, self.seeds_edit, *[c for c in self.metric_checks.values() if c.isEnabled()],
                        self.bootstrap, self.level, self.backend, self.workers, self.address, self.device])
        self._on_backend()

    def _on_count(self, n: int) -> None:
        seeds, error = _parse_numbers(self.seeds_edit.text(), integers=True)
        if error or len(seeds) != n:
            start = list(dict.fromkeys(int(s) for s in seeds if s >= 0))[:n] if not error else []
            nxt = 0
            while len(start) < n:
                if nxt not in start:
                    start.append(nxt)
                nxt += 1
            self.seeds_edit.blockSignals(True)
            self.seeds_edit.setText(", ".join(str(s) for s in start))
            self.seeds_edit.blockSignals(False)
        self.wiz.seeds_changed()
        self.changed()

    def _on_seeds_text(self, _: str) -> None:
        seeds, error = _parse_numbers(self.seeds_edit.text(), integers=True)
        if not error and seeds:
            self.seed_count.blockSignals(True)
            self.seed_count.setValue(min(max(len(seeds), 1), self.seed_count.maximum()))
            self.seed_count.blockSignals(False)
        self.wiz.seeds_changed()
        self.changed()

    def _on_backend(self, *_: Any) -> None:
        dask = self.backend.currentData() == "dask"
        self.address.setVisible(dask)
        self.address_label.setVisible(dask)
        self.changed()

    def seeds(self) -> tuple[list[int], str | None]:
        values, error = _parse_numbers(self.seeds_edit.text(), integers=True)
        if error:
            return [int(v) for v in values], f"seeds: {error}; type whole numbers separated by commas, e.g. 0, 1, 2"
        if not values:
            return [], "seeds: give at least one seed, e.g. 0"
        return [int(v) for v in values], None

    def set_seeds(self, seeds: list[int]) -> None:
        self.seeds_edit.setText(", ".join(str(s) for s in seeds))

    def metrics(self) -> list[str]:
        return [n for n, c in self.metric_checks.items() if c.isChecked()]

    def set_metrics(self, names: list[str]) -> None:
        for n, c in self.metric_checks.items():
            c.setChecked(n == "accuracy" or n in names)

    def local_problems(self) -> list[str]:
        _, error = self.seeds()
        return [error] if error else []


class ReviewPage(_Page):
    section = "review"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Review and save",
            "Check the summary. Save keeps the study in the project; “Save and Run” also starts it. "
            "The study file below is what gets saved.",
        )
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName("Study summary")
        self.outer.addWidget(self.summary)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Validation result")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outer.addWidget(self.status)
        label = _heading("Study file")
        self.outer.addWidget(label)
        self.toml_view = QPlainTextEdit()
        self.toml_view.setReadOnly(True)
        self.toml_view.setFont(monospace_font())
        self.toml_view.setAccessibleName("Study file preview")
        self.toml_view.setTabChangesFocus(True)
        self.toml_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.toml_view.setStyleSheet("QPlainTextEdit { background: #F8F9FA; }")
        from views.study_page import TomlHighlighter  # here: study_page imports this module

        self._highlighter = TomlHighlighter(self.toml_view.document())
        self.outer.addWidget(self.toml_view, 1)

    def initializePage(self) -> None:
        self.wiz.revalidate()

    def isComplete(self) -> bool:
        return self.wiz.is_valid()

    def validatePage(self) -> bool:
        self.wiz.revalidate()
        return self.wiz.is_valid()

    def show_result(self, text: str, problems: list[str], counts: dict[str, Any] | None) -> None:
        if self.toml_view.toPlainText() != text:
            bar = self.toml_view.verticalScrollBar().value()
            self.toml_view.setPlainText(text)
            self.toml_view.verticalScrollBar().setValue(bar)
        if problems:
            items = "".join(f"<li>{html.escape(p, quote=False)}</li>" for p in problems)
            n = len(problems)
            self.status.setText(f"<span style='color:{RED}'><b>✗ Not ready yet — {n} problem{'s' if n != 1 else ''} "
                                f"to fix:</b><ul style='margin-top:2px'>{items}</ul></span>")
        elif counts is not None:
            self.status.setText(f"<span style='color:{GREEN}'><b>✓ Valid — {cells_sentence(counts)}</b></span>")
        else:
            self.status.setText("")
        self.summary.setText(self.wiz.summary_html())


def cells_sentence(c: dict[str, Any]) -> str:
    def n(k: int, word: str) -> str:
        return f"{k} {word}{'' if k == 1 else 's'}"

    text = (f"{n(c['models'], 'model')} × {n(c['conditions'], 'condition')} × {n(c['seeds'], 'seed')} = "
            f"{n(c['eval_cells'], 'evaluation cell')}")
    if c.get("groups_unknown"):
        text += " (plus group shifts, one per group)"
    if c.get("train_cells"):
        text += f", plus {n(c['train_cells'], 'training run')}"
    return text


# ------------------------------------------------------------------------------------------------
# TOML writing


_MISSING = object()


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def _item(value: Any) -> Any:
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for k, v in value.items():
            table[k] = _item(v)
        return table
    if isinstance(value, list):
        arr = tomlkit.array()
        arr.extend(value)
        if len(value) > 6 and all(isinstance(v, str) for v in value):
            arr.multiline(True)
        return arr
    if isinstance(value, str) and "\n" in value:
        return tomlkit.string(value, multiline=True)
    return value


def _put(table: Any, key: str, value: Any, *, default: Any = _MISSING) -> None:
    """Set ``key``; unchanged values keep their item (and formatting); None deletes.

    A value equal to ``default`` is only written when the key is already in the file.
    """
    if value is None:
        if key in table:
            del table[key]
        return
    if key in table:
        if _plain(table[key]) == value and type(_plain(table[key])) is type(value):
            return
        table[key] = _item(value)
        return
    if default is not _MISSING and value == default:
        return
    table[key] = _item(value)


def _get_table(doc: Any, key: str) -> Any:
    if key not in doc or not isinstance(doc[key], (Table, dict)):
        if key in doc:
            del doc[key]
        doc[key] = tomlkit.table()
    return doc[key]


# ------------------------------------------------------------------------------------------------
# the wizard


class StudyWizard(QWizard):
    """Create (or edit) a shift study; the app saves ``study_toml()`` as ``study_name()`` + '.study.toml'."""

    runRequested = Signal(str)  # after "Save and Run": accepted fires first (save), then this (run)
    validityChanged = Signal(bool)

    PAGE_IDS = {"name": 0, "models": 1, "data": 2, "conditions": 3, "seeds": 4, "review": 5}

    def __init__(self, providers: StudyProviders, parent: QWidget | None = None, *,
                 existing_names: list[str] | tuple[str, ...] = (), default_name: str | None = None):
        super().__init__(parent)
        self.providers = providers
        self.existing_names = set(existing_names)
        self.original_name: str | None = None
        self._base_text: str | None = None
        self._base_raw: dict[str, Any] = {}
        self._valid = False
        self._problems: list[str] = []
        self._loading = False
        self.preview_cache: dict[tuple, DatasetPreview] = {}
        self.gallery_cache: dict[tuple, dict[str, list[Any]]] = {}
        self.run_after_save = False

        self.setWindowTitle("New shift study")
        self.setAccessibleName("New study wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.setOption(QWizard.WizardOption.IndependentPages, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Save")
        self.setButtonText(QWizard.WizardButton.CustomButton1, "Save and R&un")
        self.setButtonText(QWizard.WizardButton.NextButton, "&Next >")
        self.setButtonText(QWizard.WizardButton.BackButton, "< &Back")
        self.setButtonLayout([
            QWizard.WizardButton.Stretch, QWizard.WizardButton.CancelButton, QWizard.WizardButton.BackButton,
            QWizard.WizardButton.NextButton, QWizard.WizardButton.FinishButton, QWizard.WizardButton.CustomButton1,
        ])
        self.button(QWizard.WizardButton.CustomButton1).setAccessibleName("Save and run the study")
        self.button(QWizard.WizardButton.FinishButton).setAccessibleName("Save the study")
        self.setAcceptDrops(True)
        self.resize(1100, 750)
        self.setMinimumSize(920, 640)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.revalidate)

        self.name_page = NamePage(self)
        self.models_page = ModelsPage(self)
        self.data_page = DatasetPage(self)
        self.conditions_page = ConditionsPage(self)
        self.seeds_page = SeedsPage(self)
        self.review_page = ReviewPage(self)
        self._pages = [self.name_page, self.models_page, self.data_page, self.conditions_page, self.seeds_page,
                       self.review_page]
        for pid, page in enumerate(self._pages):
            self.setPage(pid, page)
            page.set_step(pid + 1, len(self._pages))
        self.setTitleFormat(Qt.TextFormat.RichText)

        self.customButtonClicked.connect(self._on_custom)
        self.currentIdChanged.connect(self._on_page_changed)

        self._loading = True
        self.name_page.name_edit.setText(default_name or self._free_name("shift-study"))
        datasets = self.data_page._choices
        if datasets:
            preferred = next((c.source for c in datasets if c.source == "builtin:digits"), datasets[0].source)
            self.data_page.set_source(preferred)
        self._loading = False
        self.revalidate()

    # -- construction from a study file ---------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, providers: StudyProviders, parent: QWidget | None = None, **kwargs: Any) -> "StudyWizard":
        """A wizard pre-filled from an existing study file, for editing (comments outside the edited
        keys and keys the wizard does not show are kept)."""
        wizard = cls(providers, parent, **kwargs)
        wizard.load_toml(text)
        return wizard

    def load_toml(self, text: str) -> None:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StudyFileError("<study>", [f"is not valid TOML: {exc}"]) from None
        self._loading = True
        self._base_text = text
        self._base_raw = raw
        study = raw.get("study") or {}
        self.original_name = str(study.get("name", "")) or None
        self.setWindowTitle(f"Edit study — {self.original_name}" if self.original_name else "Edit study")
        self.name_page.name_edit.setText(str(study.get("name", "")))
        self.name_page.title_edit.setText(str(study.get("title", "")))
        self.name_page.description_edit.setPlainText(str(study.get("description", "")))
        self.seeds_page.set_seeds([int(s) for s in study.get("seeds", [0])] if isinstance(study.get("seeds"), list) else [0])

        self.models_page.set_models([m for m in raw.get("models") or [] if isinstance(m, dict)])

        data = raw.get("data") or {}
        managed = {"source", "split", "label_column", "text_column", "group_column", "image_size", "grayscale", "max_examples"}
        self.data_page.set_options(data)
        self.data_page.set_source(str(data.get("source", "")), extra={k: v for k, v in data.items() if k not in managed})

        shift = raw.get("shift") or {}
        c = self.conditions_page
        c.clean_check.setChecked(bool(shift.get("clean", True)))
        c.set_corruptions(list(shift.get("corruptions") or []))
        c.set_severities(list(shift.get("severities") or SEVERITIES))
        for lst, key in ((c.tabular_list, "tabular"), (c.text_list, "text")):
            for name, check in lst.checks.items():
                check.setChecked(name in (shift.get(key) or []))
        ls = shift.get("label_shift") or {}
        c.alpha_edit.setText(_numbers_text(ls.get("dirichlet_alpha") or []))
        c.tweak_edit.setText(_numbers_text(ls.get("tweak_one") or []))
        c.imbalance_edit.setText(_numbers_text(ls.get("imbalance_ratio") or []))
        c.label_box.setChecked(bool(ls))
        if ls.get("dirichlet_alpha"):
            c.set_alpha(float(ls["dirichlet_alpha"][-1]))
        gs = shift.get("group_shift") or {}
        c.shares_edit.setText(_numbers_text(gs.get("shares") or []))
        c.group_box.setChecked(bool(gs))

        metrics = raw.get("metrics") or {}
        s = self.seeds_page
        s.set_metrics(list(metrics.get("names") or _schema_default(MetricsSpec, "names")))
        s.bootstrap.setValue(int(metrics.get("bootstrap", _schema_default(MetricsSpec, "bootstrap"))))
        index = s.level.findData(float(metrics.get("level", 0.95)))
        if index < 0:
            s.level.addItem(f"{float(metrics['level']):.1%}", float(metrics["level"]))
            index = s.level.count() - 1
        s.level.setCurrentIndex(index)
        execution = raw.get("execution") or {}
        s.backend.setCurrentIndex(max(s.backend.findData(execution.get("backend", "loky")), 0))
        s.workers.setValue(int(execution.get("workers") or 0))
        s.address.setText(str(execution.get("address") or ""))
        s.device.setCurrentIndex(max(s.device.findData(execution.get("device", "auto")), 0))
        self._loading = False
        self.models_page.describe_existing()
        self.conditions_page.refresh_for_data()
        self.revalidate()

    # -- what the pages ask the wizard ----------------------------------------------------------

    def project_root(self) -> str:
        try:
            return str(self.providers.project_root())
        except Exception:
            return str(Path.home())

    def background(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None],
                   on_error: Callable[[str], None]) -> None:
        run_in_background(fn, *args, on_done=self._guard(on_done), on_error=self._guard(on_error))

    def _guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(value: Any) -> None:
            try:
                import shiboken6

                if not shiboken6.isValid(self):
                    return
            except ImportError:  # pragma: no cover
                pass
            fn(value)

        return call

    def data_key(self) -> tuple:
        return (self.data_page.source(), json.dumps(self.data_page.options(), sort_keys=True, default=str))

    def data_changed(self) -> None:
        if self._loading:
            return
        if self.currentPage() is self.conditions_page:
            self.conditions_page.refresh_for_data()
        else:
            self.conditions_page.update_priors()
            if self.data_page.modality() == "image" and self.data_page.preview is not None:
                self.conditions_page.request_gallery()  # prefetch while the user is on other pages
        self.conditions_page.group_box.setVisible(bool(self.data_page.group_column_name()))

    def seeds_changed(self) -> None:
        if not self._loading:
            self.conditions_page.update_priors()

    def first_seed(self) -> int:
        if not hasattr(self, "seeds_page"):
            return 0
        seeds, _ = self.seeds_page.seeds()
        return seeds[0] if seeds and seeds[0] >= 0 else 0

    def extra_shift_conditions(self) -> bool:
        shift = self._base_raw.get("shift") or {}
        return bool(shift.get("field"))

    def _free_name(self, base: str) -> str:
        if base not in self.existing_names:
            return base
        n = 2
        while f"{base}-{n}" in self.existing_names:
            n += 1
        return f"{base}-{n}"

    # -- the study ------------------------------------------------------------------------------

    def study_name(self) -> str:
        return self.name_page.name_edit.text().strip()

    def study_toml(self) -> str:
        """The study file as TOML text (tomlkit), as docs/study-files.md describes it."""
        fresh = self._base_text is None
        doc = tomlkit.parse(self._base_text) if not fresh else tomlkit.document()
        if fresh:
            doc.add(tomlkit.comment("Juxta shift study — written by the new-study wizard; see docs/study-files.md"))

        def default(model: Any, key: str) -> Any:
            # a new file spells out the main settings; an edited file gains no keys it did not need
            return _MISSING if fresh else _schema_default(model, key)

        had_tables = set(doc.keys())
        _put(doc, "schema_version", SCHEMA_VERSION)

        study = _get_table(doc, "study")
        _put(study, "name", self.study_name())
        _put(study, "kind", "shift")
        _put(study, "title", self.name_page.title_edit.text().strip() or None)
        _put(study, "description", self.name_page.description_edit.toPlainText().strip() or None)
        seeds, _ = self.seeds_page.seeds()
        _put(study, "seeds", seeds if seeds else _schema_default(StudyMeta, "seeds"))

        self._write_models(doc)

        data = _get_table(doc, "data")
        dp = self.data_page
        scheme = dp.scheme()
        if dp.source():
            _put(data, "source", dp.source())
        elif "source" in data:
            del data["source"]
        _put(data, "split", dp.split_combo.currentData(), default=default(DataSpec, "split"))
        opts = dp.options()
        table_like = scheme in ("csv", "parquet", "hf")
        _put(data, "label_column", opts.get("label_column") if table_like else None)
        _put(data, "text_column", opts.get("text_column"))
        _put(data, "group_column", opts.get("group_column"))
        _put(data, "image_size", opts.get("image_size"))
        _put(data, "grayscale", True if opts.get("grayscale") else None)
        _put(data, "max_examples", dp.max_examples.value() or None)
        extra = dp.extra_keys()
        for key in list(data.keys()):
            if key not in ("source", "split", "label_column", "text_column", "group_column", "image_size", "grayscale",
                           "max_examples") and key not in extra:
                del data[key]
        for key, value in extra.items():
            if key not in data:
                data[key] = _item(value)

        self._write_shift(doc, default)

        metrics = _get_table(doc, "metrics")
        sp = self.seeds_page
        _put(metrics, "names", sp.metrics(), default=default(MetricsSpec, "names"))
        _put(metrics, "bootstrap", sp.bootstrap.value(), default=default(MetricsSpec, "bootstrap"))
        _put(metrics, "level", float(sp.level.currentData()), default=_schema_default(MetricsSpec, "level"))

        execution = _get_table(doc, "execution")
        backend = sp.backend.currentData()
        _put(execution, "backend", backend, default=default(ExecutionSpec, "backend"))
        _put(execution, "workers", sp.workers.value() or None)
        _put(execution, "address", (sp.address.text().strip() or None) if backend == "dask" else None)
        _put(execution, "device", sp.device.currentData(), default=_schema_default(ExecutionSpec, "device"))
        for key in ("shift", "metrics", "execution"):
            if key not in had_tables and key in doc and not len(doc[key]):
                del doc[key]
        return tomlkit.dumps(doc)

    def _write_models(self, doc: Any) -> None:
        wanted = []
        for row in self.models_page.model_rows():
            entry = {"id": row.id, "source": row.source}
            entry.update(row.extra)
            wanted.append(entry)
        current = doc.get("models")
        if not wanted:  # the validator then says a study needs models
            if current is not None:
                del doc["models"]
            return
        if current is not None and _plain(current) == wanted:
            return
        in_place = isinstance(current, AoT)
        if in_place:
            aot = current
            while len(aot):
                del aot[0]
        else:
            if current is not None:
                del doc["models"]
            aot = tomlkit.aot()
        for entry in wanted:
            table = tomlkit.table()
            for k, v in entry.items():
                table[k] = _item(v)
            if in_place:  # a fresh document spaces its tables itself
                table.add(tomlkit.nl())
            aot.append(table)
        if "models" not in doc:
            doc["models"] = aot

    def _write_shift(self, doc: Any, default: Callable[[Any, str], Any]) -> None:
        shift = _get_table(doc, "shift")
        c = self.conditions_page
        modality = self.data_page.modality()
        _put(shift, "clean", c.clean_check.isChecked(), default=default(ShiftSpec, "clean"))
        corruptions = c.corruptions() if modality == "image" else []
        tabular = c.tabular_list.chosen() if modality == "tabular" else []
        text = c.text_list.chosen() if modality == "text" else []
        _put(shift, "corruptions", corruptions or None)
        _put(shift, "tabular", tabular or None)
        _put(shift, "text", text or None)
        if corruptions or tabular or text:
            _put(shift, "severities", c.severities())
        else:
            _put(shift, "severities", None)
        ls, _ = c.label_shift()
        _put(shift, "label_shift", ls or None)
        shares, _ = c.group_shares()
        if shares:
            gs = {"shares": shares}
            old = (self._base_raw.get("shift") or {}).get("group_shift") or {}
            if old.get("groups"):
                gs["groups"] = old["groups"]
            _put(shift, "group_shift", gs)
        else:
            _put(shift, "group_shift", None)

    # -- validation -----------------------------------------------------------------------------

    def schedule_validation(self) -> None:
        if not self._loading:
            self._timer.start()

    def is_valid(self) -> bool:
        return self._valid

    def problems(self) -> list[str]:
        return list(self._problems)

    def revalidate(self) -> None:
        """Build the study file, run the engine's validator and show its verdict everywhere."""
        self._timer.stop()
        text = self.study_toml()
        try:
            engine_problems = [str(p) for p in self.providers.validate(text)]
        except Exception as exc:  # a validator that raises still reports, never crashes the wizard
            engine_problems = [getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"]
        local: list[tuple[str, str]] = []
        for page in (self.name_page, self.conditions_page, self.seeds_page):
            local += [(page.section, p) for p in page.local_problems()]
        per_page: dict[str, list[str]] = {p.section: [] for p in self._pages}
        for p in engine_problems:
            per_page[problem_section(p)].append(_inline(p))
        for section, p in local:
            per_page[section].append(p)
        for page in self._pages[:-1]:
            page.show_problems(per_page[page.section])
        if self.data_page.preview_error and not per_page["data"]:
            _show_message(self.data_page.problems_label,
                          f"The data could not be opened for a preview: {self.data_page.preview_error}", "warn")
        self._problems = engine_problems + [p for _, p in local]
        valid = not self._problems
        counts = None
        if valid:
            try:
                counts = study_counts(tomllib.loads(text))
            except tomllib.TOMLDecodeError:  # pragma: no cover - we wrote it
                counts = None
        self.review_page.show_result(text, self._problems, counts)
        changed = valid != self._valid
        self._valid = valid
        self._update_buttons()
        self.review_page.completeChanged.emit()
        if changed:
            self.validityChanged.emit(valid)

    def summary_html(self) -> str:
        rows = self.models_page.model_rows()
        models = ", ".join(f"<b>{html.escape(r.id)}</b>" for r in rows) or "<i>none yet</i>"
        c = self.conditions_page
        modality = self.data_page.modality()
        chosen = {"image": c.corruptions(), "tabular": c.tabular_list.chosen(), "text": c.text_list.chosen()}.get(modality, [])
        shifts = ", ".join(pretty(n) for n in chosen) or "none"
        ls, _ = c.label_shift()
        words = {"dirichlet_alpha": "Dirichlet α", "tweak_one": "one class at ρ", "imbalance_ratio": "long tail, ratio"}
        label = "; ".join(f"{words.get(k, k)} {_numbers_text(v)}" for k, v in ls.items()) or "off"
        seeds, _ = self.seeds_page.seeds()
        metrics = ", ".join(METRICS[m].label if m in METRICS else m for m in self.seeds_page.metrics())
        title = html.escape(self.name_page.title_edit.text().strip() or self.study_name() or "Untitled study")
        rows_html = [
            ("Models", models),
            ("Data", html.escape(self.data_page.source() or "none yet") + f" ({html.escape(self.data_page.split_combo.currentData())} part)"),
            ("Shifts", html.escape(shifts) + (f" at severities {', '.join(map(str, c.severities()))}" if chosen else "")),
            ("Label shift", html.escape(label)),
            ("Seeds", html.escape(", ".join(map(str, seeds)) or "—")),
            ("Metrics", html.escape(metrics)),
        ]
        body = "".join(f"<tr><td style='color:{MUTED}; padding-right:14px'>{k}</td><td>{v}</td></tr>" for k, v in rows_html)
        return f"<div style='font-size:12pt'><b>{title}</b></div><table style='margin-top:4px'>{body}</table>"

    def _update_buttons(self) -> None:
        on_review = self.currentPage() is self.review_page
        run = self.button(QWizard.WizardButton.CustomButton1)
        run.setEnabled(self._valid and on_review)
        tip = "" if self._valid else "Fix the problems listed on the pages first."
        run.setToolTip(tip or ("Save the study, then start running it." if on_review else "Available on the last page."))
        self.button(QWizard.WizardButton.FinishButton).setToolTip(tip)

    def _on_page_changed(self, _: int) -> None:
        if self.currentPage() is self.conditions_page:
            self.conditions_page.refresh_for_data()
        self.revalidate()

    def _on_custom(self, which: int) -> None:
        if which != QWizard.WizardButton.CustomButton1.value and which != QWizard.WizardButton.CustomButton1:
            return
        self.save_and_run()

    def save_and_run(self) -> None:
        self.revalidate()
        if not self._valid:
            return
        name = self.study_name()
        self.run_after_save = True
        self.accept()
        self.runRequested.emit(name)

    # -- drops ----------------------------------------------------------------------------------

    def _local_paths(self, event: Any) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: Any) -> None:
        if self._local_paths(event) and self.currentPage() in (self.models_page, self.data_page):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: Any) -> None:
        paths = self._local_paths(event)
        if not paths:
            event.ignore()
            return
        if self.currentPage() is self.data_page:
            self.data_page.add_local_data(paths[0])
        else:
            for path in paths:
                self.models_page.add_local_model(path)
        event.acceptProposedAction()

    def event(self, e: QEvent) -> bool:  # keep the Save and Run button state right after relayouts
        result = super().event(e)
        if e.type() == QEvent.Type.Show:
            self._update_buttons()
        return result

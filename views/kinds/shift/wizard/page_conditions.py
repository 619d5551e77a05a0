"""Step 4: the shift conditions — corruptions and their gallery, label, group and field shifts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.conditions.catalog import (
    CORRUPTION_DESCRIPTIONS,
    CORRUPTION_NAMES,
    SEVERITIES,
    TABULAR_SHIFT_NAMES,
    TEXT_SHIFT_NAMES,
    family_label,
)
from engine.conditions.tabular import TABULAR_SHIFTS  # numpy only
from engine.conditions.text import TEXT_SHIFTS  # numpy only
from views.wizard.formatting import fmt_num, numbers_text, parse_numbers
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.widgets import BarChart, FieldNote, Thumbnail, heading, help_label, set_tab_order

if TYPE_CHECKING:
    from views.kinds.shift.wizard.study_wizard import StudyWizard

# the α slider: nice values on a log scale (1–1.5–2–3–5–7 per decade), 0.05 … 100
ALPHA_VALUES = (0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0,
                70.0, 100.0)
ALPHA_MIN, ALPHA_MAX = ALPHA_VALUES[0], ALPHA_VALUES[-1]


def shift_name(family: str) -> str:
    """A shift family's one display name (engine.conditions.catalog), capitalised to head a checkbox or a list."""
    label = family_label(family)
    return label[:1].upper() + label[1:]


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
            label = QLabel(text)
            label.setObjectName("muted")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            font = label.font()
            font.setBold(True)
            label.setFont(font)
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
            check = QCheckBox(shift_name(name))
            check.setToolTip(desc)
            check.setAccessibleName(shift_name(name))
            check.setAccessibleDescription(desc)
            check.toggled.connect(self.toggled)
            about = help_label(desc)
            font = about.font()
            font.setPointSizeF(font.pointSizeF() * 0.92)
            about.setFont(font)
            col.addWidget(check)
            col.addWidget(about)
            col.addStretch(1)
            cell.setFixedWidth(228)
            grid.addWidget(cell, r, 0, Qt.AlignmentFlag.AlignTop)
            self.checks[name] = check
            row = []
            for c, sev in enumerate((0, *SEVERITIES)):
                where = "original" if sev == 0 else f"severity {sev}"
                t = Thumbnail(thumb, f"{shift_name(name)}, {where}")
                grid.addWidget(t, r, c + 1)
                row.append(t)
            self.images[name] = row
        grid.setColumnStretch(len(SEVERITIES) + 2, 1)
        grid.setRowStretch(len(names) + 1, 1)
        set_tab_order(list(self.checks.values()))

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
            check = QCheckBox(shift_name(name))
            check.setToolTip(desc)
            check.setAccessibleDescription(desc)
            check.toggled.connect(self.toggled)
            layout.addWidget(check)
            layout.addWidget(help_label(desc))
            self.checks[name] = check
        layout.addStretch(1)

    def chosen(self) -> list[str]:
        return [n for n, c in self.checks.items() if c.isChecked()]


class ConditionsPage(WizardPage):
    section = "conditions"

    def __init__(self, wizard: "StudyWizard"):
        super().__init__(
            wizard,
            "Choose the conditions",
            "Each condition changes the test data in one way. Tick the ones your models may meet in "
            "real use; the pictures show what each looks like at severity 1 (mild) to 5 (strong).",
        )
        self._gallery_key: tuple | None = None

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
        top.addWidget(heading("Image corruptions"))
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
        self.severity_note = self.add_note(FieldNote(name="Problems with the severities"), ("shift", "severities"))
        image_col.addWidget(self.severity_note)
        self._stack_layouts = [image_col]
        status_row = QHBoxLayout()
        self.gallery_busy = QProgressBar()
        self.gallery_busy.setRange(0, 0)
        self.gallery_busy.setMaximumWidth(120)
        self.gallery_busy.setMaximumHeight(8)
        self.gallery_busy.setTextVisible(False)
        self.gallery_busy.setAccessibleName("Preparing the gallery")
        self.gallery_status = help_label("")
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
        table_col.addWidget(heading("Table shifts"))
        self._stack_layouts.append(table_col)
        self.tabular_list = _ShiftList(TABULAR_SHIFT_NAMES, TABULAR_SHIFTS)
        self.tabular_list.toggled.connect(self.changed)
        table_col.addWidget(self.tabular_list, 1)
        self.left_stack.addWidget(table_host)

        text_host = QWidget()
        text_col = QVBoxLayout(text_host)
        text_col.setContentsMargins(0, 0, 0, 0)
        text_col.addWidget(heading("Text shifts"))
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
        lform.addWidget(help_label("Resamples the test data so some classes become common and others rare. "
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
        slider_row.addWidget(QLabel(fmt_num(ALPHA_MIN)))
        slider_row.addWidget(self.alpha_slider, 1)
        slider_row.addWidget(QLabel(fmt_num(ALPHA_MAX)))
        slider_row.addWidget(self.alpha_value)
        lform.addLayout(slider_row)
        self.priors_chart = BarChart("Class priors for the chosen alpha", "warn", "% of test data")
        self.priors_chart.setMinimumHeight(130)
        lform.addWidget(self.priors_chart, 1)
        self.priors_caption = help_label("")
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
        self.imbalance_edit.setAccessibleName("Class imbalance ratios")
        self.imbalance_edit.setToolTip("Class frequencies fall off so the commonest class is r times the rarest.")
        self.alpha_note = self.add_note(FieldNote(name="Problems with the α values"),
                                        ("shift", "label_shift", "dirichlet_alpha"))
        self.tweak_note = self.add_note(FieldNote(name="Problems with the ρ values"),
                                        ("shift", "label_shift", "tweak_one"), noun="ρ")
        self.imbalance_note = self.add_note(FieldNote(name="Problems with the imbalance ratios"),
                                            ("shift", "label_shift", "imbalance_ratio"))
        values.addRow("α values:", self.alpha_edit)
        values.addRow(self.alpha_note)
        values.addRow("One class at ρ:", self.tweak_edit)
        values.addRow(self.tweak_note)
        values.addRow("Class imbalance, ratio:", self.imbalance_edit)
        values.addRow(self.imbalance_note)
        lform.addLayout(values)
        self.label_note = self.add_note(FieldNote(name="Problems with the label shift"), ("shift", "label_shift"))
        lform.addWidget(self.label_note)
        right.addWidget(self.label_box, 1)

        self.group_box = QGroupBox("Group shift — over-represent one group at a time")
        self.group_box.setCheckable(True)
        self.group_box.setChecked(False)
        gform = QFormLayout(self.group_box)
        self.shares_edit = QLineEdit()
        self.shares_edit.setPlaceholderText("e.g. 0.1, 0.5")
        self.shares_edit.setAccessibleName("Group shares")
        gform.addRow("Shares:", self.shares_edit)
        self.shares_note = self.add_note(FieldNote("The share of the test data each group is resampled to, between 0 "
                                                   "and 1.", lines=2, name="Group shares"), ("shift", "group_shift"))
        gform.addRow(self.shares_note)
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
        set_tab_order([self.clean_check, self.select_all_button, self.select_none_button,
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
        from_cache = self.wiz.cached_load(self.wiz.gallery_loads, key, self.wiz.providers.corruption_gallery, source,
                                          self.wiz.data_page.options(), list(CORRUPTION_NAMES), list(SEVERITIES),
                                          on_done=self._gallery_done, on_error=self._gallery_failed)
        if not from_cache:
            self.gallery.set_placeholders("…")
            self.gallery_busy.show()
            self.gallery_status.setText("Preparing the pictures…")

    def _gallery_done(self, images: dict[str, list[Any]]) -> None:
        self.gallery_busy.hide()
        self.gallery.set_images(images)
        self.gallery_status.setText("The same test image, unchanged and at each severity. Hover a name for details.")
        self.gallery.dim_severities(set(self.severities()))

    def _gallery_failed(self, message: str) -> None:
        self.gallery_busy.hide()
        self._gallery_key = None
        self.gallery.set_placeholders("n/a")
        self.gallery_status.setText(f"Could not prepare the pictures: {message}")

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
        self.alpha_value.setText(f"α = {fmt_num(a)}")
        self.add_alpha_button.setText(f"Add α = {fmt_num(a)}")
        self.alpha_slider.setAccessibleDescription(f"alpha {fmt_num(a)}")
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
            f"Class shares drawn for seed {seed} at α = {fmt_num(a)} ({strength} shift); each seed draws its own "
            "mix. Dashed line: every class equally common."
        )

    def add_alpha(self) -> None:
        values, _ = parse_numbers(self.alpha_edit.text())
        a = self.alpha()
        if a not in values:
            values.append(a)
        self.alpha_edit.setText(numbers_text(values))
        if not self.label_box.isChecked():
            self.label_box.setChecked(True)

    def label_shift(self) -> tuple[dict[str, list[float]], list[FieldProblem]]:
        """The label_shift table and problems with the typed numbers."""
        out: dict[str, list[float]] = {}
        problems: list[FieldProblem] = []
        if not self.label_box.isChecked():
            return out, problems
        for key, edit in (("dirichlet_alpha", self.alpha_edit), ("tweak_one", self.tweak_edit),
                          ("imbalance_ratio", self.imbalance_edit)):
            values, error = parse_numbers(edit.text())
            if error:
                problems.append(FieldProblem(("shift", "label_shift", key), f"{error}: separate numbers with commas"))
            if values:
                out[key] = values
        if not out and not problems:
            problems.append(FieldProblem(("shift", "label_shift"), "Label shift is on but has no values: press “Add α” "
                                                                   "(or type α values), or turn label shift off"))
        return out, problems

    def group_shares(self) -> tuple[list[float], list[FieldProblem]]:
        if not (self.group_box.isChecked() and self.wiz.data_page.group_column_name()):
            return [], []
        values, error = parse_numbers(self.shares_edit.text())
        key = ("shift", "group_shift", "shares")
        if error:
            return values, [FieldProblem(key, f"{error}: separate shares with commas")]
        if not values:
            return values, [FieldProblem(key, "Group shift is on but has no shares: type one or more shares between "
                                              "0 and 1, or turn it off")]
        return values, []

    def local_problems(self) -> list[FieldProblem]:
        ls, problems = self.label_shift()
        shares, g_problems = self.group_shares()
        problems += g_problems
        modality = self.wiz.data_page.modality()
        chosen = {"image": self.corruptions(), "tabular": self.tabular_list.chosen(), "text": self.text_list.chosen()}.get(modality, [])
        if not (self.clean_check.isChecked() or chosen or ls or shares or self.wiz.extra_shift_conditions()):
            problems.append(FieldProblem(("shift",), "Choose at least one condition: keep the clean data, tick a shift "
                                                     "or add a label shift"))
        return problems

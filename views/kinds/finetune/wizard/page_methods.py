"""Step 5 of the fine-tuning wizard: the methods to compare, with their budgets (the registry of
``engine.kinds.finetune.methods``: one row per method, its one-line description as tooltip), and the training
every method shares (epochs, batch size, the learning-rate sweep)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from engine.kinds.finetune.arms import arm_id
from engine.kinds.finetune.methods import METHODS
from engine.kinds.finetune.spec import TrainingSpec
from views.wizard.formatting import numbers_text, parse_numbers
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.schema import schema_bound, schema_default
from views.wizard.widgets import FieldNote, help_label, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard

DEFAULT_METHODS = ("linear_probe", "full", "lora")  # ticked in a new study
BUDGET_WORDS = {"rank": "rank r", "k": "blocks k", "target_rank": "target rank"}
BUDGET_MARKS = {"rank": "r", "k": "k", "target_rank": "target rank"}  # as the results label arms: "LoRA r = 2, 8"
NEW = 1000  # entries added here come after the file's own, in the registry's order


@dataclass
class MethodRow:
    """One row: a ``[[methods]]`` entry of the file (its keys besides ``method`` kept as read) or a method not
    in it yet."""

    method: str
    entry: dict[str, Any] = field(default_factory=dict)
    checked: bool = False
    order: float = NEW


def budget_values(text: str) -> tuple[list[int], str | None]:
    """'2, 8' -> [2, 8]; a budget is a whole number (a rank, a number of blocks)."""
    values, error = parse_numbers(text, integers=True)
    return [int(v) for v in values], error


class MethodsPage(WizardPage):
    section = "methods"

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Methods and training",
            "Tick the ways of adapting the base to compare. A budget list (e.g. LoRA ranks 2, 8) makes one arm per "
            "value. Hover a method for what it does.",
        )
        self.rows: list[MethodRow] = []
        self._filling = False
        self.table = QTableWidget(0, 3)
        self.table.setAccessibleName("Methods to compare")
        self.table.setHorizontalHeaderLabels(["Method", "Budget", "What it does"])
        self.table.horizontalHeaderItem(1).setToolTip(
            "LoRA and other adapters: the rank r; last k blocks: how many blocks; WiSE-FT: the full-weight method whose "
            "tuned model it blends with the base. Several values, separated by commas, make one arm each.")
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(1, 190)
        self.outer.addWidget(self.table, 1)
        self.methods_note = self.add_note(FieldNote(lines=2, name="Problems with the methods"), ("methods",))
        self.outer.addWidget(self.methods_note)

        box = QGroupBox("Training, shared by every method")
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        form = QFormLayout(box)
        self.epochs = QSpinBox()
        self.epochs.setRange(int(schema_bound(TrainingSpec, "epochs", "ge") or 1),
                             int(schema_bound(TrainingSpec, "epochs", "le") or 1000))
        self.epochs.setValue(int(schema_default(TrainingSpec, "epochs")))
        self.epochs.setAccessibleName("Epochs")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(int(schema_bound(TrainingSpec, "batch_size", "ge") or 1),
                                 int(schema_bound(TrainingSpec, "batch_size", "le") or 65536))
        self.batch_size.setValue(int(schema_default(TrainingSpec, "batch_size")))
        self.batch_size.setAccessibleName("Batch size")
        self.lr_sweep = QCheckBox("Try a few &learning rates per method and keep the best on validation")
        self.lr_sweep.setChecked(bool(schema_default(TrainingSpec, "lr_sweep")))
        self.lr_sweep.setAccessibleName("Learning-rate sweep")
        self.lr_factors = QLineEdit(numbers_text(schema_default(TrainingSpec, "lr_factors")))
        self.lr_factors.setAccessibleName("Learning-rate factors")
        self.lr_factors.setToolTip("Each method's default learning rate is multiplied by each factor.")
        for spin in (self.epochs, self.batch_size):
            spin.setMaximumWidth(140)
        self.lr_factors.setMaximumWidth(220)
        form.addRow("&Epochs:", self.epochs)
        form.addRow("&Batch size:", self.batch_size)
        form.addRow("", self.lr_sweep)
        form.addRow("&Factors:", self.lr_factors)
        self.training_note = self.add_note(FieldNote(
            "The rate is chosen per method on the target's validation part (mean over seeds), never on test data; "
            "without the sweep each method uses its default rate.", lines=2, name="About the training"), ("training",))
        form.addRow(self.training_note)
        self.outer.addWidget(box)
        self.finish_layout()
        self.table.itemChanged.connect(self._item_changed)
        self.epochs.valueChanged.connect(self.changed)
        self.batch_size.valueChanged.connect(self.changed)
        self.lr_sweep.toggled.connect(self._sweep_toggled)
        self.lr_factors.textChanged.connect(self.changed)
        set_tab_order([self.table, self.epochs, self.batch_size, self.lr_sweep, self.lr_factors])
        self.set_entries([{"method": m} for m in DEFAULT_METHODS], fresh=True)

    # -- rows -----------------------------------------------------------------------------------

    def set_entries(self, entries: list[dict[str, Any]], fresh: bool = False) -> None:
        """The ``[[methods]]`` entries of a study (in a new study: the methods ticked by default)."""
        rows: list[MethodRow] = []
        unknown = [e for e in entries if str(e.get("method", "")) not in METHODS]
        for i, name in enumerate(METHODS):
            mine = [(k, e) for k, e in enumerate(entries) if e.get("method") == name]
            if mine:
                rows += [MethodRow(name, {k: v for k, v in e.items() if k != "method"}, True, NEW + i if fresh else k)
                         for k, e in mine]
            else:
                rows.append(MethodRow(name, {}, False, NEW + i))
        # a method this Juxta does not know stays in the file (the validator names it) but has no row
        self._unknown = [(k, e) for k, e in enumerate(entries) if e in unknown]
        self.rows = rows
        self._fill()
        self.changed()

    def _fill(self) -> None:
        self._filling = True
        self.table.setRowCount(len(self.rows))
        counts = {r.method: sum(1 for x in self.rows if x.method == r.method) for r in self.rows}
        for i, row in enumerate(self.rows):
            m = METHODS[row.method]
            title = m.title + (f" (id {row.entry['id']})" if counts[row.method] > 1 and row.entry.get("id") else "")
            item = QTableWidgetItem(title)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if row.checked else Qt.CheckState.Unchecked)
            item.setToolTip(m.description)
            self.table.setItem(i, 0, item)
            about = QTableWidgetItem(m.description)
            about.setFlags(Qt.ItemFlag.ItemIsEnabled)
            about.setToolTip(m.description)
            self.table.setItem(i, 2, about)
            widget = self._budget_widget(row)
            if widget is None:  # nothing to set: an empty cell
                empty = QTableWidgetItem("")
                empty.setFlags(Qt.ItemFlag.ItemIsEnabled)
                empty.setToolTip(f"{m.title} has no budget to set.")
                self.table.setItem(i, 1, empty)
            else:
                self.table.setCellWidget(i, 1, widget)
        self.table.resizeRowsToContents()
        self._filling = False
        self._refresh_sources()

    def _budget_widget(self, row: MethodRow) -> QLineEdit | QComboBox | None:
        m = METHODS[row.method]
        if not m.trains:
            combo = QComboBox()
            combo.setEditable(True)
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            combo.setAccessibleName(f"{m.title}: the method whose tuned model it blends with the base")
            combo.setToolTip("The full-weight method (arm) whose tuned model is blended with the base, α = 0 … 1.")
            combo.setEditText(str(row.entry.get("from", "")))
            combo.editTextChanged.connect(lambda text, r=row: self._set_from(r, text))
            return combo
        if m.budget is None:
            return None
        edit = QLineEdit()
        value = row.entry.get(m.budget)
        edit.setText(numbers_text(value if isinstance(value, list) else [value]) if value is not None else "")
        default = m.params.model_fields[m.budget].default
        words = BUDGET_WORDS.get(m.budget, m.budget)
        edit.setPlaceholderText(f"{words}: {default} (default)")
        edit.setAccessibleName(f"{m.title}: {words}")
        edit.setToolTip(f"{m.title}'s {words}; several values separated by commas make one arm each (e.g. 2, 8).")
        edit.textChanged.connect(lambda text, r=row: self._set_budget(r, text))
        return edit

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        self.rows[item.row()].checked = item.checkState() == Qt.CheckState.Checked
        self._refresh_sources()
        self.changed()

    def _set_budget(self, row: MethodRow, text: str) -> None:
        row.entry["_budget_text"] = text
        self._refresh_sources()
        self.changed()

    def _set_from(self, row: MethodRow, text: str) -> None:
        if not self._filling:
            row.entry["from"] = text.strip()
            self.changed()

    def _refresh_sources(self) -> None:
        """WiSE-FT starts from a full-weight arm of the study: offer the ticked ones' arm ids."""
        sources = [a for r in self.rows if r.checked and METHODS[r.method].trains and METHODS[r.method].full_weight
                   for a in self._arm_ids(r)]
        self._filling = True
        for i, row in enumerate(self.rows):
            widget = self.table.cellWidget(i, 1)
            if isinstance(widget, QComboBox):
                text = widget.currentText()
                widget.blockSignals(True)
                widget.clear()
                widget.addItems(sources)
                widget.setEditText(text or (sources[0] if sources and row.checked else ""))
                widget.blockSignals(False)
                if not text and widget.currentText():
                    row.entry["from"] = widget.currentText()
        self._filling = False

    def _arm_ids(self, row: MethodRow) -> list[str]:
        m = METHODS[row.method]
        values = self._budget(row)[0] if m.budget else None
        stem = str(row.entry.get("id") or m.name)
        if not values:
            return [stem]
        return [arm_id(stem, m, v, len(values) > 1) for v in values]

    def _budget(self, row: MethodRow) -> tuple[list[int] | None, str | None]:
        """The budget values typed (None: the method's default), or why they cannot be read."""
        m = METHODS[row.method]
        if m.budget is None:
            return None, None
        if "_budget_text" not in row.entry:
            value = row.entry.get(m.budget)
            return (None if value is None else list(value) if isinstance(value, list) else [value]), None
        values, error = budget_values(row.entry["_budget_text"])
        return (values or None), error

    # -- what the study file gets ---------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        """The ``[[methods]]`` entries: the file's own in their order (its other keys kept), then new ones."""
        out: list[tuple[float, dict[str, Any]]] = [(k, dict(e)) for k, e in self._unknown]
        for row in self.rows:
            if not row.checked:
                continue
            m = METHODS[row.method]
            entry = {"method": row.method, **{k: v for k, v in row.entry.items() if not k.startswith("_")}}
            if m.budget is not None:
                values, error = self._budget(row)
                original = row.entry.get(m.budget)
                if values is None and not error:  # the method's default
                    entry.pop(m.budget, None)
                elif values is not None and not error:  # unreadable text: local_problems says so, the file keeps its value
                    entry[m.budget] = values if len(values) > 1 or isinstance(original, list) else values[0]
            out.append((row.order, entry))
        return [e for _, e in sorted(out, key=lambda pair: pair[0])]

    def checked_rows(self) -> list[MethodRow]:
        return sorted((r for r in self.rows if r.checked), key=lambda r: r.order)

    def labels(self) -> list[str]:
        """What the study compares, in words: 'LoRA r = 2, 8', 'WiSE-FT from full'."""
        out = []
        for row in self.checked_rows():
            m = METHODS[row.method]
            values = self._budget(row)[0]
            if not m.trains:
                out.append(f"{m.title} from {row.entry.get('from') or '?'}")
            elif values:
                out.append(f"{m.title} {BUDGET_MARKS.get(m.budget or '', m.budget)} = {numbers_text(values)}")
            else:
                out.append(m.title)
        return out

    def check(self, method: str, on: bool = True) -> None:
        """Tick (or untick) the first row of ``method``, as a click would."""
        i = next(i for i, r in enumerate(self.rows) if r.method == method)
        self.table.item(i, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def budget_edit(self, method: str) -> QLineEdit | QComboBox:
        i = next(i for i, r in enumerate(self.rows) if r.method == method)
        return self.table.cellWidget(i, 1)

    def local_problems(self) -> list[FieldProblem]:
        out = []
        for index, row in enumerate(self.checked_rows()):
            m = METHODS[row.method]
            _, error = self._budget(row)
            if error:
                out.append(FieldProblem(("methods", index, m.budget or ""), f"{m.title}'s budget: {error}; type whole "
                                                                              "numbers separated by commas, e.g. 2, 8"))
        if not self.checked_rows():
            out.append(FieldProblem(("methods",), "Tick at least one method that tunes the base, e.g. Linear probe"))
        factors, error = parse_numbers(self.lr_factors.text())
        if self.lr_sweep.isChecked() and (error or not factors):
            out.append(FieldProblem(("training", "lr_factors"), f"{error or 'No factors given'}: type numbers "
                                                                  "separated by commas, e.g. 0.3, 1, 3"))
        return out

    # -- training -------------------------------------------------------------------------------

    def factors(self) -> list[float]:
        return parse_numbers(self.lr_factors.text())[0]

    def set_training(self, training: dict[str, Any]) -> None:
        self.epochs.setValue(int(training.get("epochs", schema_default(TrainingSpec, "epochs"))))
        self.batch_size.setValue(int(training.get("batch_size", schema_default(TrainingSpec, "batch_size"))))
        self.lr_sweep.setChecked(bool(training.get("lr_sweep", schema_default(TrainingSpec, "lr_sweep"))))
        self.lr_factors.setText(numbers_text(list(training.get("lr_factors", schema_default(TrainingSpec, "lr_factors")))))
        self._sweep_toggled(self.lr_sweep.isChecked())

    def _sweep_toggled(self, on: bool) -> None:
        self.lr_factors.setEnabled(on)
        self.changed()

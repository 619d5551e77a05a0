"""Step 2: the models under test — built-in, local files or folders, and Hugging Face."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)

from views.providers import ModelChoice
from views.wizard.formatting import fmt_count, project_relative, sanitize_id
from views.theme import current, watch_theme
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.widgets import FieldNote, heading, help_label, hf_row, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


@dataclass
class ModelRow:
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
        parts.append(f"{fmt_count(n)} parameters")
    classes = d.get("class_names") or []
    if classes:
        shown = ", ".join(map(str, classes[:4])) + (", …" if len(classes) > 4 else "")
        parts.append(f"{len(classes)} classes ({shown})")
    if d.get("modality"):
        parts.append(f"{d['modality']} input")
    return " · ".join(parts)


class ModelsPage(WizardPage):
    section = "models"
    ACCEPTS_DROPS = True

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Choose the models to compare",
            "Tick built-in models, add your own model files, or look one up on Hugging Face. "
            "Every model is tested on the same data and conditions.",
        )
        self._rows: list[ModelRow] = []
        self._filling = False
        self._pending: set[str] = set()
        try:
            self._choices: list[ModelChoice] = list(wizard.providers.builtin_models())
        except Exception as exc:  # the list is shown empty with the reason
            self._choices = []
            self._choices_error = getattr(exc, "message", str(exc))
        else:
            self._choices_error = ""

        left, right = self.two_columns()

        left.addWidget(heading("Built-in models"))
        left.addWidget(help_label("Small models Juxta trains for you on the first run."))
        self.builtin_list = QListWidget()
        self.builtin_list.setAccessibleName("Built-in models")
        self.builtin_list.setWordWrap(True)
        self.builtin_list.setSpacing(2)
        self.builtin_list.setMinimumHeight(150)
        for choice in self._choices:
            size = f"  ·  {fmt_count(choice.n_params)} parameters" if choice.n_params else ""
            item = QListWidgetItem(f"{choice.label}{size}\n{choice.description}")
            item.setData(Qt.ItemDataRole.UserRole, choice.source)
            item.setToolTip(f"{choice.source}\n{choice.description}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.builtin_list.addItem(item)
        left.addWidget(self.builtin_list, 1)
        if self._choices_error:
            left.addWidget(help_label(f"Built-in models are unavailable: {html.escape(self._choices_error)}"))

        left.addSpacing(6)
        left.addWidget(heading("Your own model"))
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
        left.addWidget(help_label("…or drop a .safetensors file or a model folder onto this window."))

        left.addSpacing(6)
        left.addWidget(heading("From Hugging Face"))
        hf, self.hf_edit, self.hf_button = hf_row(
            "e.g. google/vit-base-patch16-224", "Hugging Face model id", "&Look up and add",
            "Look up the Hugging Face model and add it")
        left.addLayout(hf)
        left.addWidget(help_label("Needs the internet the first time; works offline once downloaded."))
        self.add_status = FieldNote(lines=3, name="Model lookup status")
        left.addWidget(self.add_status)

        right.addWidget(heading("Models in this study"))
        right.addWidget(help_label("The name is how a model appears in charts — double-click or press F2 to rename it."))
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
        self.models_note = self.add_note(FieldNote(lines=2, name="Problems with the models"), ("models",),
                                         ("models", None, "id"), noun="The name")
        right.addWidget(self.models_note)
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
        set_tab_order([self.builtin_list, self.add_file_button, self.hf_edit, self.hf_button, self.table,
                        self.remove_button])
        self._refresh_table()
        watch_theme(self, lambda _: self._refresh_table())  # problem colours of the names

    # -- rows -----------------------------------------------------------------------------------

    def model_rows(self) -> list[ModelRow]:
        return list(self._rows)

    def model_ids(self) -> list[str]:
        return [r.id for r in self._rows]

    def local_problems(self) -> list[FieldProblem]:
        if not self._rows:
            return [FieldProblem(("models",), "Add at least one model: tick a built-in model or add your own.")]
        return []

    def _unique_id(self, base: str) -> str:
        base = sanitize_id(base)
        taken = {r.id for r in self._rows}
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def add_row(self, row: ModelRow) -> None:
        self.models_note.say("")
        self._rows.append(row)
        self._refresh_table()
        self.table.selectRow(len(self._rows) - 1)
        self.changed()

    def remove_model(self, index: int) -> None:
        if not 0 <= index < len(self._rows):
            return
        row = self._rows.pop(index)
        self.models_note.say("")
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
        colours = current()
        for i, row in enumerate(self._rows):
            name = QTableWidgetItem(row.id)
            name.setToolTip("Double-click or press F2 to rename")
            twice = ids.count(row.id) > 1
            if twice or not pattern.match(row.id):  # otherwise the table's own text colour
                name.setForeground(QColor(colours.error))
                name.setToolTip("Another model has this name: double-click to rename it." if twice else
                                "Use letters, digits, “-”, “_” or “.”: double-click to rename it.")
            source = QTableWidgetItem(row.source)
            source.setFlags(source.flags() & ~Qt.ItemFlag.ItemIsEditable)
            source.setToolTip(row.source)
            info = QTableWidgetItem(row.info or ("Reading…" if row.source in self._pending else ""))
            info.setFlags(info.flags() & ~Qt.ItemFlag.ItemIsEditable)
            info.setToolTip(row.info)
            if row.info.startswith("⚠"):
                info.setForeground(QColor(colours.warn))
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
            new = item.text().strip()
            if any(i != r and row.id == new for i, row in enumerate(self._rows)):
                self.models_note.say(f"“{new}” is already the name of another model; “{self._rows[r].id}” keeps "
                                     "its name.", "error")
            else:
                self._rows[r].id = new
                self.models_note.say("")
            QTimer.singleShot(0, self._refresh_table)  # the name as kept, recoloured
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
            info = choice.description + (f" · {fmt_count(choice.n_params)} parameters" if choice.n_params else "")
            self.add_row(ModelRow(self._unique_id(arch), source, info, builtin=True))
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

    def drop_paths(self, paths: list[str]) -> None:
        for path in paths:
            self.add_local_model(path)

    def add_local_model(self, path: str) -> None:
        """Add a local .safetensors file or Hugging Face model folder (also what a drop does)."""
        p = Path(path)
        refusal = ""
        if p.is_dir():
            if not (p / "config.json").is_file():
                refusal = (f"The folder “{p.name}” has no config.json. Juxta opens Hugging Face model folders "
                           "(config.json + weights) or .safetensors files.")
        elif p.suffix.lower() in (".pkl", ".pickle", ".joblib", ".dill"):
            refusal = (f"“{p.name}” is a pickle file; Juxta refuses those because opening them can run code. "
                       "Save the model as .safetensors instead.")
        elif p.suffix.lower() != ".safetensors":
            refusal = (f"“{p.name}” is not a model Juxta can open: choose a .safetensors file or a model folder "
                       "with config.json.")
        elif not p.is_file():
            refusal = f"“{p}” does not exist."
        if refusal:
            self.add_status.say(refusal, "error")
            return
        source = "file:" + project_relative(str(p), self.wiz.project_root())
        self._lookup_and_add(source, sanitize_id(p.stem if p.is_file() else p.name))

    def _on_hf_add(self) -> None:
        text = self.hf_edit.text().strip()
        if not text:
            self.add_status.say("Type a Hugging Face model id first, e.g. google/vit-base-patch16-224.", "error")
            return
        source = text if text.startswith("hf:") else f"hf:{text}"
        repo = source[3:].partition("@")[0].rstrip("/")
        self._lookup_and_add(source, repo.rpartition("/")[2] or repo, hf=True)

    def _lookup_and_add(self, source: str, base_id: str, hf: bool = False) -> None:
        if any(r.source == source for r in self._rows):
            self.add_status.say(f"{source} is already in the study.", "muted")
            return
        if source in self._pending:
            return
        self._pending.add(source)
        self.hf_button.setEnabled(False)
        self.add_status.say(f"Looking up {source}…", "muted")

        def done(info: Any, source: str = source, base_id: str = base_id) -> None:
            self._pending.discard(source)
            self.hf_button.setEnabled(True)
            details = describe_text(info if isinstance(info, dict) else {})
            self.add_row(ModelRow(self._unique_id(base_id), source, details))
            self.add_status.say(f"Added {source}" + (f" — {details}." if details else "."), "ok")
            if hf:
                self.hf_edit.clear()

        def failed(message: str, source: str = source) -> None:
            self._pending.discard(source)
            self.hf_button.setEnabled(True)
            self.add_status.say(f"Could not add {source}: {message}", "error")

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
            self._rows.append(ModelRow(str(m.get("id", "")), source, info, builtin=choice is not None, extra=extra))
            if choice is not None:
                self._set_builtin_checked(source, True)
        self._refresh_table()

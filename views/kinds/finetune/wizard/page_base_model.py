"""Step 2 of the fine-tuning wizard: the base model every method starts from (one model: built-in, a local file
or folder, or a Hugging Face id)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMenu, QPushButton

from views.providers import ModelChoice
from views.wizard.formatting import fmt_count, project_relative
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.page_models import describe_text
from views.wizard.widgets import FieldNote, heading, help_label, hf_row, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


class BaseModelPage(WizardPage):
    section = "base"
    ACCEPTS_DROPS = True

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Choose the base model",
            "The pretrained model every method starts from. A built-in model is trained first (and shared with "
            "other studies that name it); a model of your own or from Hugging Face is used as it is.",
        )
        self._source = ""
        self._pending = ""
        self.info: dict[str, Any] | None = None  # what describe_model said about the chosen source
        try:
            self._choices: list[ModelChoice] = list(wizard.providers.builtin_models())
            self._choices_error = ""
        except Exception as exc:  # the list is shown empty with the reason
            self._choices = []
            self._choices_error = getattr(exc, "message", str(exc))

        left, right = self.two_columns()
        left.addWidget(heading("Built-in models"))
        left.addWidget(help_label("Small models Juxta trains on the first run; “trained on digits” ones know digits already."))
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
            self.builtin_list.addItem(item)
        left.addWidget(self.builtin_list, 1)
        if self._choices_error:
            left.addWidget(help_label(f"Built-in models are unavailable: {self._choices_error}"))
        left.addSpacing(6)
        left.addWidget(heading("Your own model"))
        own = QHBoxLayout()
        self.add_file_button = QPushButton("Choose &file or folder…")
        self.add_file_button.setAccessibleName("Choose a model file or folder as the base")
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
        hf, self.hf_edit, self.hf_button = hf_row("e.g. google/vit-base-patch16-224", "Hugging Face model id", "&Use",
                                                  "Use the Hugging Face model as the base")
        left.addLayout(hf)

        right.addWidget(heading("Base model"))
        self.source_label = QLabel()
        self.source_label.setObjectName("card")
        self.source_label.setContentsMargins(8, 5, 8, 5)
        self.source_label.setWordWrap(True)
        self.source_label.setAccessibleName("Chosen base model")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.source_label)
        self.details = FieldNote(lines=2, name="About the base model")
        right.addWidget(self.details)
        self.source_note = self.add_note(FieldNote(lines=3, name="Problems with the base model"), ("base",))
        right.addWidget(self.source_note)
        right.addWidget(help_label("When the target has other classes than the base, the base's final layer is "
                                   "replaced by a new one for the target's classes; the forgetting measure then needs "
                                   "a source dataset with the base's own classes."))
        right.addStretch(1)
        self.finish_layout()

        self.builtin_list.currentItemChanged.connect(self._on_builtin)
        self.hf_button.clicked.connect(self._on_hf)
        self.hf_edit.returnPressed.connect(self._on_hf)
        set_tab_order([self.builtin_list, self.add_file_button, self.hf_edit, self.hf_button])
        self._show_source()

    # -- the source -----------------------------------------------------------------------------

    def source(self) -> str:
        return self._source

    def set_source(self, source: str) -> None:
        """Use ``source`` as the base (what the list, the file buttons, the hub field and drops do)."""
        self._source = source.strip()
        self.info = None
        self.builtin_list.blockSignals(True)
        self.builtin_list.setCurrentRow(-1)
        for i in range(self.builtin_list.count()):
            if self.builtin_list.item(i).data(Qt.ItemDataRole.UserRole) == self._source:
                self.builtin_list.setCurrentRow(i)
        self.builtin_list.blockSignals(False)
        if self._source.startswith("hf:"):
            self.hf_edit.setText(self._source[3:])
        self._show_source()
        self._describe()
        self.changed()

    def local_problems(self) -> list[FieldProblem]:
        if not self._source:
            return [FieldProblem(("base", "source"), "Choose the base model: a built-in model, your own model file or "
                                                     "folder, or a Hugging Face model")]
        return []

    def _show_source(self) -> None:
        if not self._source:
            self.source_label.setText("<i>No base model chosen yet.</i>")
            self.details.say("")
            return
        choice = next((c for c in self._choices if c.source == self._source), None)
        words = f" — {html.escape(choice.label)}" if choice else ""
        self.source_label.setText(f"Using <b>{html.escape(self._source)}</b>{words}")

    def _describe(self) -> None:
        source = self._source
        if not source or source.startswith("builtin:"):
            choice = next((c for c in self._choices if c.source == source), None)
            self.details.say(choice.description if choice else "")
            return
        self._pending = source
        self.details.say(f"Reading {source}…")

        def done(info: Any) -> None:
            if source != self._source:
                return
            self.info = info if isinstance(info, dict) else {}
            self.details.say(describe_text(self.info) or "Read.", "muted")

        def failed(message: str) -> None:
            if source == self._source:
                self.details.say(f"⚠ {message}", "warn")

        self.wiz.background(self.wiz.providers.describe_model, source, on_done=done, on_error=failed)

    def _on_builtin(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is not None:
            self.set_source(str(item.data(Qt.ItemDataRole.UserRole)))

    def _on_hf(self) -> None:
        text = self.hf_edit.text().strip()
        if not text:
            self.details.say("Type a Hugging Face model id first, e.g. google/vit-base-patch16-224.", "error")
            return
        self.set_source(text if text.startswith("hf:") else f"hf:{text}")

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the base model file", self.wiz.project_root(),
                                              "Model files (*.safetensors)")
        if path:
            self.use_local_model(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the base model folder (with config.json)",
                                                self.wiz.project_root())
        if path:
            self.use_local_model(path)

    def drop_paths(self, paths: list[str]) -> None:
        self.use_local_model(paths[0])

    def use_local_model(self, path: str) -> bool:
        """Use a local .safetensors file or Hugging Face model folder as the base (also what a drop does)."""
        p = Path(path)
        if p.is_dir() and not (p / "config.json").is_file():
            self.details.say(f"The folder “{p.name}” has no config.json. Juxta opens Hugging Face model folders "
                             "(config.json + weights) or .safetensors files.", "error")
            return False
        if not p.is_dir() and p.suffix.lower() != ".safetensors":
            self.details.say(f"“{p.name}” is not a model Juxta can open: choose a .safetensors file or a model folder "
                             "with config.json.", "error")
            return False
        self.set_source("file:" + project_relative(str(p), self.wiz.project_root()))
        return True

"""Step 5: seeds, metrics and where the study runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from engine.metrics import METRICS
from engine.core.header import ExecutionSpec, MetricsSpec
from views.wizard.formatting import parse_numbers
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.schema import schema_bound, schema_choices, schema_default
from views.wizard.widgets import BACKEND_LABELS, DEVICE_LABELS, FieldNote, help_label, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


class SeedsPage(WizardPage):
    section = "seeds"

    def __init__(self, wizard: "KindWizard"):
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
        self.seeds_note = self.add_note(FieldNote(name="Problems with the seeds"), ("study", "seeds"))
        sform.addRow("", self.seeds_note)
        sform.addRow(help_label("Each seed repeats everything with fresh randomness: training of built-in models, "
                           "corruptions and resampling. Three is a good start."))
        left.addWidget(seeds_box)

        metrics_box = QGroupBox("Metrics")
        mcol = QVBoxLayout(metrics_box)
        mcol.setSpacing(2)
        self.metric_checks: dict[str, QCheckBox] = {}
        defaults = schema_default(MetricsSpec, "names")
        for name in METRICS:
            meta = METRICS.get(name)
            label = meta.label if meta else name.replace("_", " ")
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
            about = help_label(desc)
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
        self.bootstrap.setRange(int(schema_bound(MetricsSpec, "bootstrap", "ge") or 0),
                                int(schema_bound(MetricsSpec, "bootstrap", "le") or 100_000))
        self.bootstrap.setSingleStep(100)
        self.bootstrap.setValue(int(schema_default(MetricsSpec, "bootstrap")))
        self.bootstrap.setSpecialValueText("no intervals")
        self.bootstrap.setAccessibleName("Bootstrap resamples")
        self.level = QComboBox()
        self.level.setAccessibleName("Interval level")
        for lvl in (0.9, 0.95, 0.99):
            self.level.addItem(f"{lvl:.0%}", lvl)
        self.level.setCurrentIndex(self.level.findData(schema_default(MetricsSpec, "level")))
        boot_label = QLabel("&Resamples:")
        boot_label.setBuddy(self.bootstrap)
        level_label = QLabel("&Level:")
        level_label.setBuddy(self.level)
        tform.addRow(boot_label, self.bootstrap)
        tform.addRow(level_label, self.level)
        tform.addRow(help_label("Every number gets an interval from this many bootstrap resamples of the test "
                           "examples. 1,000 is plenty."))
        left.addWidget(stats_box)

        run_box = QGroupBox("Where to run")
        rform = QFormLayout(run_box)
        self.backend = QComboBox()
        self.backend.setAccessibleName("Execution backend")
        for b in schema_choices(ExecutionSpec, "backend"):
            self.backend.addItem(BACKEND_LABELS.get(b, b), b)
        self.backend.setCurrentIndex(self.backend.findData(schema_default(ExecutionSpec, "backend")))
        self.workers = QSpinBox()
        self.workers.setRange(0, int(schema_bound(ExecutionSpec, "workers", "le") or 512))
        self.workers.setSpecialValueText("automatic")
        self.workers.setAccessibleName("Workers")
        self.address = QLineEdit()
        self.address.setPlaceholderText("tcp://scheduler:8786 — empty: start a local cluster")
        self.address.setAccessibleName("Dask scheduler address")
        self.device = QComboBox()
        self.device.setAccessibleName("Device")
        for d in schema_choices(ExecutionSpec, "device"):
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
        set_tab_order([self.seed_count, self.seeds_edit, *[c for c in self.metric_checks.values() if c.isEnabled()],
                        self.bootstrap, self.level, self.backend, self.workers, self.address, self.device])
        self._on_backend()

    def _on_count(self, n: int) -> None:
        seeds, error = parse_numbers(self.seeds_edit.text(), integers=True)
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
        seeds, error = parse_numbers(self.seeds_edit.text(), integers=True)
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
        values, error = parse_numbers(self.seeds_edit.text(), integers=True)
        if error:
            return [int(v) for v in values], f"{error}: type whole numbers separated by commas, e.g. 0, 1, 2"
        if not values:
            return [], "Give at least one seed, e.g. 0"
        return [int(v) for v in values], None

    def set_seeds(self, seeds: list[int]) -> None:
        self.seeds_edit.setText(", ".join(str(s) for s in seeds))

    def metrics(self) -> list[str]:
        return [n for n, c in self.metric_checks.items() if c.isChecked()]

    def set_metrics(self, names: list[str]) -> None:
        for n, c in self.metric_checks.items():
            c.setChecked(n == "accuracy" or n in names)

    def local_problems(self) -> list[FieldProblem]:
        _, error = self.seeds()
        return [FieldProblem(("study", "seeds"), error)] if error else []

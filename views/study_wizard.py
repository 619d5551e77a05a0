"""The new-study wizard: a shift study built page by page, always in step with the study schema.

Pages: Name → Models → Dataset → Conditions → Seeds & metrics → Review. Every edit regenerates the
study file (``study_toml()``, written with tomlkit) and runs the engine's validator on it
(``providers.validate``). Each problem is shown next to the field it concerns (found by its key path,
``engine.core.errors.Problem.key``), in the field's words, and all of them on Review; a page with problems
cannot be left with Next, and Save and "Save and Run" stay disabled until the study is valid. Choices, ranges and defaults are
read from the schema (``engine.kinds.shift.spec`` and the shared tables it uses) and the shift catalogue, so the forms follow the engine.

The wizard never writes files: the app reads ``study_toml()`` when ``accepted`` fires and, after
"Save and Run", also gets ``runRequested(name)``. Slow engine calls (describing a model, previewing
a dataset, rendering the corruption gallery) run off the GUI thread through ``views.tasks``.
"""

from __future__ import annotations

import html
import json
import tomllib
from pathlib import Path
from typing import Any, Callable

import tomlkit
from tomlkit.items import AoT
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QWidget, QWizard

from engine.core.errors import StudyFileError
from engine.metrics import METRICS
from engine.conditions.catalog import SEVERITIES, condition_label, family_label
from engine.core.header import SCHEMA_VERSION, ExecutionSpec, MetricsSpec, StudyMeta
from engine.data.spec import DataSpec
from engine.kinds.shift.spec import ShiftSpec
from views.providers import StudyProviders
from views.tasks import LatestLoad, run_in_background
from views.wizard.formatting import _numbers_text
from views.wizard.page_conditions import ConditionsPage
from views.wizard.page_data import DatasetPage
from views.wizard.page_models import ModelsPage
from views.wizard.page_name import NamePage
from views.wizard.page_review import ReviewPage
from views.wizard.page_seeds import SeedsPage
from views.wizard.page_base import SECTION_NAMES, FieldProblem, page_of
from views.wizard.schema import _schema_default, study_counts
from views.wizard.toml_build import _MISSING, _get_table, _item, _plain, _put
from views.wizard.widgets import sentence
from views.theme import current

# the public API stays here: views.study_page, the app and the tests import these from this module
from views.wizard.formatting import cells_sentence
from views.wizard.widgets import BarChart, Thumbnail, image_pixmap, monospace_font

__all__ = [
    "StudyWizard",
    "BarChart",
    "Thumbnail",
    "image_pixmap",
    "study_counts",
    "page_of",
    "monospace_font",
    "cells_sentence",
]


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
        self._ready = False  # set once built: edits before that are not the user's
        self.preview_loads = LatestLoad()  # dataset previews, by data_key()
        self.gallery_loads = LatestLoad()  # corruption galleries, by data_key()
        self.column_loads = LatestLoad()  # a table file's column names, by source
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
        self._ready = True
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
        for page in self._pages:  # an existing file's problems are the user's to fix now
            page.acted = True
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

    def cached_load(self, loads: LatestLoad, key: tuple, fn: Callable[..., Any], *args: Any,
                    on_done: Callable[[Any], None], on_error: Callable[[str], None]) -> bool:
        """Answer ``on_done`` from ``loads``' cache, or compute ``fn(*args)`` in the background; only
        the newest request of ``loads`` is answered. Returns whether the answer came from the cache."""
        request = loads.next()

        def done(value: Any) -> None:
            loads.cache[key] = value
            if loads.is_current(request):
                on_done(value)

        def failed(message: str) -> None:
            if loads.is_current(request):
                on_error(message)

        if key in loads.cache:
            done(loads.cache[key])
            return True
        self.background(fn, *args, on_done=done, on_error=failed)
        return False

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

    def add_local_model(self, path: str) -> None:
        """Add a model file or folder, as dropping it on the Models page does (the app drops onto a new wizard)."""
        self.models_page.add_local_model(path)

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

    def user_editing(self) -> bool:
        """Whether a change now comes from the person (not from building or loading the wizard)."""
        return self._ready and not self._loading

    def revalidate(self) -> None:
        """Build the study file, run the engine's validator and show its verdict everywhere.

        Each problem is shown next to its field, found by its key path; a page's own finding about a
        key (an empty model list, typed text that is not a number) replaces the engine's sentence
        about that same key. Review lists them all, each under the name of its page.
        """
        self._timer.stop()
        text = self.study_toml()
        try:
            found = list(self.providers.validate(text))
        except Exception as exc:  # a validator that raises still reports, never crashes the wizard
            found = [getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"]
        pages = {page.section: page for page in self._pages}
        local = [p for page in self._pages[:-1] for p in page.local_problems()]
        covered = {p.key for p in local}
        problems: list[FieldProblem] = []
        for p in found:
            key = tuple(getattr(p, "key", ()))
            if key in covered:
                continue
            message = getattr(p, "message", None) or str(p)
            problems.append(FieldProblem(key, pages[page_of(key)].field_text(key, message)))
        problems += local
        for page in self._pages[:-1]:
            page.show_problems([p for p in problems if page_of(p.key) == page.section])
        self._problems = [f"{SECTION_NAMES[page_of(p.key)]}: {sentence(p.text)}" for p in problems]
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
        shifts = ", ".join(family_label(n) for n in chosen) or "none"
        ls, _ = c.label_shift()
        families = {"dirichlet_alpha": "dirichlet", "tweak_one": "tweak_one", "imbalance_ratio": "imbalance"}
        label = "; ".join(condition_label(f"{families[k]}/{v:g}") for k, values in ls.items() for v in values) or "off"
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
        muted = current().muted
        body = "".join(f"<tr><td style='color:{muted}; padding-right:14px'>{k}</td><td>{v}</td></tr>" for k, v in rows_html)
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

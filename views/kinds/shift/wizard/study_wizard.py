"""The shift kind's new-study wizard: a shift study built page by page, always in step with the study schema.

Pages: Name → Models → Dataset → Conditions → Seeds & metrics → Review; all but Conditions are the shared
pages of ``views.wizard``, and :class:`~views.wizard.base.KindWizard` does the validation (each problem
next to its field, by key path; Save and "Save and Run" only when the study is valid). Choices, ranges
and defaults are read from the schema (``engine.kinds.shift.spec`` and the shared tables it uses) and
the shift catalogue, so the forms follow the engine. Slow engine calls (describing a model, previewing a
dataset, rendering the corruption gallery) run off the GUI thread through ``views.tasks``.
"""

from __future__ import annotations

import html
import tomllib
from typing import Any, Callable

import tomlkit
from PySide6.QtWidgets import QWidget

from engine.conditions.catalog import SEVERITIES, condition_label, family_label
from engine.core.errors import StudyFileError
from engine.core.header import SCHEMA_VERSION, ExecutionSpec, MetricsSpec, StudyMeta
from engine.data.spec import DataSpec
from engine.kinds.shift.spec import ShiftSpec
from engine.metrics import METRICS
from views.kinds.shift.wizard.page_conditions import ConditionsPage
from views.providers import StudyProviders
from views.tasks import LatestLoad
from views.theme import current
from views.wizard.base import KindWizard
from views.wizard.formatting import numbers_text
from views.wizard.page_base import Key, WizardPage, section_of
from views.wizard.page_data import DatasetPage
from views.wizard.page_models import ModelsPage
from views.wizard.page_name import NamePage
from views.wizard.page_review import ReviewPage
from views.wizard.page_seeds import SeedsPage
from views.wizard.schema import schema_default
from views.wizard.toml_build import MISSING, get_table, put, put_tables, toml_item

SECTIONS = {"models": "models", "data": "data", "shift": "conditions", "metrics": "seeds", "execution": "seeds"}


def page_of(key: Key) -> str:
    """Which page of the shift wizard answers for a key path: name, models, data, conditions, seeds or review."""
    return section_of(key, SECTIONS)


class StudyWizard(KindWizard):
    """Create (or edit) a shift study; the app saves ``study_toml()`` as ``study_name()`` + '.study.toml'."""

    KIND = "shift"
    INTRO = "A shift study measures how much each model loses when the data moves away from what it was trained on."
    SECTIONS = SECTIONS
    PAGE_IDS = {"name": 0, "models": 1, "data": 2, "conditions": 3, "seeds": 4, "review": 5}

    def __init__(self, providers: StudyProviders, parent: QWidget | None = None, *,
                 existing_names: list[str] | tuple[str, ...] = (), default_name: str | None = None):
        self._base_text: str | None = None
        self._base_raw: dict[str, Any] = {}
        self.gallery_loads = LatestLoad()  # corruption galleries, by the data page's key()
        super().__init__(providers, parent, existing_names=existing_names)
        self.setWindowTitle("New shift study")
        self._loading = True
        self.name_page.name_edit.setText(default_name or self.free_name("shift-study"))
        datasets = self.data_page._choices
        if datasets:
            preferred = next((c.source for c in datasets if c.source == "builtin:digits"), datasets[0].source)
            self.data_page.set_source(preferred)
        self._loading = False
        self.finish_building()

    def build_pages(self) -> list[WizardPage]:
        self.name_page = NamePage(self)
        self.models_page = ModelsPage(self)
        self.data_page = DatasetPage(self)
        self.conditions_page = ConditionsPage(self)
        self.seeds_page = SeedsPage(self)
        return [self.name_page, self.models_page, self.data_page, self.conditions_page, self.seeds_page,
                ReviewPage(self)]

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
        c.alpha_edit.setText(numbers_text(ls.get("dirichlet_alpha") or []))
        c.tweak_edit.setText(numbers_text(ls.get("tweak_one") or []))
        c.imbalance_edit.setText(numbers_text(ls.get("imbalance_ratio") or []))
        c.label_box.setChecked(bool(ls))
        if ls.get("dirichlet_alpha"):
            c.set_alpha(float(ls["dirichlet_alpha"][-1]))
        gs = shift.get("group_shift") or {}
        c.shares_edit.setText(numbers_text(gs.get("shares") or []))
        c.group_box.setChecked(bool(gs))

        metrics = raw.get("metrics") or {}
        s = self.seeds_page
        s.set_metrics(list(metrics.get("names") or schema_default(MetricsSpec, "names")))
        s.bootstrap.setValue(int(metrics.get("bootstrap", schema_default(MetricsSpec, "bootstrap"))))
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

    def data_key(self) -> tuple:
        return self.data_page.key()

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
            return MISSING if fresh else schema_default(model, key)

        had_tables = set(doc.keys())
        put(doc, "schema_version", SCHEMA_VERSION)

        study = get_table(doc, "study")
        put(study, "name", self.study_name())
        put(study, "kind", "shift")
        put(study, "title", self.name_page.title_edit.text().strip() or None)
        put(study, "description", self.name_page.description_edit.toPlainText().strip() or None)
        seeds, _ = self.seeds_page.seeds()
        put(study, "seeds", seeds if seeds else schema_default(StudyMeta, "seeds"))

        self._write_models(doc)

        data = get_table(doc, "data")
        dp = self.data_page
        scheme = dp.scheme()
        if dp.source():
            put(data, "source", dp.source())
        elif "source" in data:
            del data["source"]
        put(data, "split", dp.split_combo.currentData(), default=default(DataSpec, "split"))
        opts = dp.options()
        table_like = scheme in ("csv", "parquet", "hf")
        put(data, "label_column", opts.get("label_column") if table_like else None)
        put(data, "text_column", opts.get("text_column"))
        put(data, "group_column", opts.get("group_column"))
        put(data, "image_size", opts.get("image_size"))
        put(data, "grayscale", True if opts.get("grayscale") else None)
        put(data, "max_examples", dp.max_examples.value() or None)
        extra = dp.extra_keys()
        for key in list(data.keys()):
            if key not in ("source", "split", "label_column", "text_column", "group_column", "image_size", "grayscale",
                           "max_examples") and key not in extra:
                del data[key]
        for key, value in extra.items():
            if key not in data:
                data[key] = toml_item(value)

        self._write_shift(doc, default)

        metrics = get_table(doc, "metrics")
        sp = self.seeds_page
        put(metrics, "names", sp.metrics(), default=default(MetricsSpec, "names"))
        put(metrics, "bootstrap", sp.bootstrap.value(), default=default(MetricsSpec, "bootstrap"))
        put(metrics, "level", float(sp.level.currentData()), default=schema_default(MetricsSpec, "level"))

        execution = get_table(doc, "execution")
        backend = sp.backend.currentData()
        put(execution, "backend", backend, default=default(ExecutionSpec, "backend"))
        put(execution, "workers", sp.workers.value() or None)
        put(execution, "address", (sp.address.text().strip() or None) if backend == "dask" else None)
        put(execution, "device", sp.device.currentData(), default=schema_default(ExecutionSpec, "device"))
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
        put_tables(doc, "models", wanted)

    def _write_shift(self, doc: Any, default: Callable[[Any, str], Any]) -> None:
        shift = get_table(doc, "shift")
        c = self.conditions_page
        modality = self.data_page.modality()
        put(shift, "clean", c.clean_check.isChecked(), default=default(ShiftSpec, "clean"))
        corruptions = c.corruptions() if modality == "image" else []
        tabular = c.tabular_list.chosen() if modality == "tabular" else []
        text = c.text_list.chosen() if modality == "text" else []
        put(shift, "corruptions", corruptions or None)
        put(shift, "tabular", tabular or None)
        put(shift, "text", text or None)
        if corruptions or tabular or text:
            put(shift, "severities", c.severities())
        else:
            put(shift, "severities", None)
        ls, _ = c.label_shift()
        put(shift, "label_shift", ls or None)
        shares, _ = c.group_shares()
        if shares:
            gs = {"shares": shares}
            old = (self._base_raw.get("shift") or {}).get("group_shift") or {}
            if old.get("groups"):
                gs["groups"] = old["groups"]
            put(shift, "group_shift", gs)
        else:
            put(shift, "group_shift", None)

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

    def page_shown(self, page: WizardPage) -> None:
        if page is self.conditions_page:
            self.conditions_page.refresh_for_data()

"""The merge kind's new-study wizard: a merge study built page by page, always in step with the study schema
(``engine.kinds.merge.study.spec``).

Pages: Name → Base model → Data → Experts → Methods → Seeds & metrics → Review. Name, Data, Seeds and Review
are the shared pages of ``views.wizard``; the base, experts and methods pages are this kind's.
:class:`~views.wizard.base.KindWizard` validates on every edit with the engine (each problem next to its field,
by key path). Editing an existing file keeps its comments and every key the wizard does not show (the base's
training, an expert's own dataset, heads, …): an unchanged file is written back byte for byte.
"""

from __future__ import annotations

import html
import tomllib
from typing import Any

import tomlkit
from tomlkit.items import AoT
from PySide6.QtWidgets import QLabel, QWidget

from engine.core.errors import StudyFileError
from engine.core.header import SCHEMA_VERSION, ExecutionSpec, StudyMeta
from engine.data.spec import DataSpec
from engine.kinds.merge.study.spec import MergeMetrics, MergeSpec
from engine.metrics import METRICS
from views.kinds.merge.wizard.page_methods import MethodsPage
from views.kinds.merge.wizard.page_models import BasePage, ExpertsPage
from views.providers import StudyProviders
from views.theme import current
from views.wizard.base import KindWizard
from views.wizard.page_base import SECTION_NAMES, WizardPage
from views.wizard.page_data import DatasetPage
from views.wizard.page_name import NamePage
from views.wizard.page_review import ReviewPage
from views.wizard.page_seeds import SeedsPage
from views.wizard.schema import schema_default
from views.wizard.toml_build import MISSING, get_table, plain, put, put_tables, toml_item

SECTIONS = {"base": "base", "data": "data", "experts": "experts", "merge": "methods", "metrics": "seeds",
            "execution": "seeds"}
TITLES = {**SECTION_NAMES, "base": "Base model", "data": "Data", "experts": "Experts", "methods": "Methods"}
DATA_KEYS = ("source", "split", "label_column", "text_column", "group_column", "image_size", "grayscale", "max_examples")
NEXT_STEPS = (
    "<b>What comes next</b><ol style='margin-top:4px; margin-left:-20px'>"
    "<li><b>Base model</b> — the model every expert was fine-tuned from.</li>"
    "<li><b>Data</b> — the data the tasks are drawn from, with a preview.</li>"
    "<li><b>Experts</b> — the fine-tuned models to merge, each with its task.</li>"
    "<li><b>Methods</b> — the ways of merging to compare, and the values of their knobs to sweep.</li>"
    "<li><b>Seeds &amp; metrics</b> — how often to repeat and what to measure.</li>"
    "<li><b>Review</b> — check, then save (and run).</li></ol>"
)


class MergeNamePage(NamePage):
    """The shared name page, with this kind's steps listed under it."""

    def __init__(self, wizard: KindWizard):
        super().__init__(wizard)
        steps = next(w for w in self.findChildren(QLabel) if w.accessibleName() == "What comes next")
        steps.setText(NEXT_STEPS)
        self.name_edit.setPlaceholderText("e.g. merge")
        self.title_edit.setPlaceholderText("e.g. Which merge keeps most of the four digits experts?")


class MergeDataPage(DatasetPage):
    """The shared data page, speaking for ``[data]``: the data every expert's task is drawn from."""

    def __init__(self, wizard: KindWizard):
        super().__init__(wizard)
        self.plain_title = "Choose the data of the tasks"
        self.setSubTitle("Each expert's task is this data under the expert's condition (unless the expert names its "
                         "own data). Scores are on the part chosen below; coefficients are chosen on the validation "
                         "part.")


class MergeWizard(KindWizard):
    """Create (or edit) a merge study; the app saves ``study_toml()`` as ``study_name()`` + '.study.toml'."""

    KIND = "merge"
    INTRO = ("A merge study folds experts fine-tuned from one base into one model with several methods, and "
             "measures how much of each expert's accuracy every merge keeps.")
    SECTIONS = SECTIONS
    SECTION_TITLES = TITLES

    def __init__(self, providers: StudyProviders, parent: QWidget | None = None, *,
                 existing_names: list[str] | tuple[str, ...] = (), default_name: str | None = None):
        self._base_text: str | None = None
        self._base_raw: dict[str, Any] = {}
        super().__init__(providers, parent, existing_names=existing_names)
        self.setWindowTitle("New merge study")
        self._loading = True
        self.name_page.name_edit.setText(default_name or self.free_name("merge-study"))
        models = [c.source for c in self.base_page.choices]
        if models:
            self.base_page.set_source("builtin:digits-cnn" if "builtin:digits-cnn" in models else models[0])
        combo = self.data_page.builtin_combo
        datasets = [combo.itemData(i) for i in range(combo.count()) if combo.itemData(i)]
        if datasets:
            self.data_page.set_source("builtin:digits" if "builtin:digits" in datasets else datasets[0])
        self.seeds_page.set_seeds([0])
        self.seeds_page.set_metrics(list(schema_default(MergeMetrics, "names")))
        self._loading = False
        self.finish_building()

    def build_pages(self) -> list[WizardPage]:
        self.name_page = MergeNamePage(self)
        self.base_page = BasePage(self)
        self.data_page = MergeDataPage(self)
        self.experts_page = ExpertsPage(self)
        self.methods_page = MethodsPage(self)
        self.seeds_page = SeedsPage(self)
        return [self.name_page, self.base_page, self.data_page, self.experts_page, self.methods_page, self.seeds_page,
                ReviewPage(self)]

    # -- construction from a study file ---------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, providers: StudyProviders, parent: QWidget | None = None,
                  **kwargs: Any) -> "MergeWizard":
        """A wizard filled from an existing study file, for editing (comments and keys it does not show are kept)."""
        wizard = cls(providers, parent, **kwargs)
        wizard.load_toml(text)
        return wizard

    def load_toml(self, text: str) -> None:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StudyFileError("<study>", [f"is not valid TOML: {exc}"]) from None
        self._loading = True
        self._base_text, self._base_raw = text, raw
        study = raw.get("study") or {}
        self.original_name = str(study.get("name", "")) or None
        self.setWindowTitle(f"Edit study — {self.original_name}" if self.original_name else "Edit study")
        self.name_page.name_edit.setText(str(study.get("name", "")))
        self.name_page.title_edit.setText(str(study.get("title", "")))
        self.name_page.description_edit.setPlainText(str(study.get("description", "")))
        seeds = study.get("seeds", [0])
        self.seeds_page.set_seeds([int(s) for s in seeds] if isinstance(seeds, list) else [0])

        base = raw.get("base") or {}
        self.base_page.extra = {k: v for k, v in base.items() if k != "source"}
        self.base_page.set_source(str(base.get("source", "")))
        data = raw.get("data") or {}
        self.data_page.set_options(data)
        self.data_page.set_source(str(data.get("source", "")), extra={k: v for k, v in data.items() if k not in DATA_KEYS})
        self.experts_page.set_experts([e for e in raw.get("experts") or [] if isinstance(e, dict)])
        self.methods_page.set_merge(raw.get("merge") or {})

        metrics = raw.get("metrics") or {}
        s = self.seeds_page
        s.set_metrics(list(metrics.get("names") or schema_default(MergeMetrics, "names")))
        s.bootstrap.setValue(int(metrics.get("bootstrap", schema_default(MergeMetrics, "bootstrap"))))
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
        self.revalidate()

    # -- what the pages ask the wizard ----------------------------------------------------------

    def data_changed(self) -> None:
        """The data's source or preview changed: offer the task conditions that suit its kind of data."""
        if hasattr(self, "experts_page") and self.data_page.modality():
            self.experts_page.set_modality(self.data_page.modality())

    def add_local_model(self, path: str) -> None:
        """Add a model file or folder as an expert (what the app does with a model dropped on the window)."""
        self.experts_page.add_local_model(path)

    # -- the study ------------------------------------------------------------------------------

    def study_name(self) -> str:
        return self.name_page.name_edit.text().strip()

    def study_toml(self) -> str:
        """The study file as TOML text (tomlkit), as docs/study-files.md describes it."""
        fresh = self._base_text is None
        doc = tomlkit.parse(self._base_text) if not fresh else tomlkit.document()
        if fresh:
            doc.add(tomlkit.comment("Juxta merge study — written by the new-study wizard; see docs/study-files.md"))

        def default(model: Any, key: str) -> Any:
            # a new file spells out the main settings; an edited file gains no keys it did not need
            return MISSING if fresh else schema_default(model, key)

        had_tables = set(doc.keys())
        put(doc, "schema_version", SCHEMA_VERSION)
        study = get_table(doc, "study")
        put(study, "name", self.study_name())
        put(study, "kind", self.KIND)
        put(study, "title", self.name_page.title_edit.text().strip() or None)
        put(study, "description", self.name_page.description_edit.toPlainText().strip() or None)
        seeds, _ = self.seeds_page.seeds()
        put(study, "seeds", seeds if seeds else schema_default(StudyMeta, "seeds"))

        base = get_table(doc, "base")
        put(base, "source", self.base_page.source() or None)
        self._write_data(doc, default)
        self._write_experts(doc)
        self._write_merge(doc)

        metrics = get_table(doc, "metrics")
        sp = self.seeds_page
        put(metrics, "names", self._metric_names(), default=schema_default(MergeMetrics, "names"))
        put(metrics, "bootstrap", sp.bootstrap.value(), default=default(MergeMetrics, "bootstrap"))
        put(metrics, "level", float(sp.level.currentData()), default=schema_default(MergeMetrics, "level"))
        execution = get_table(doc, "execution")
        backend = sp.backend.currentData()
        put(execution, "backend", backend, default=default(ExecutionSpec, "backend"))
        put(execution, "workers", sp.workers.value() or None)
        put(execution, "address", (sp.address.text().strip() or None) if backend == "dask" else None)
        put(execution, "device", sp.device.currentData(), default=schema_default(ExecutionSpec, "device"))
        for key in ("metrics", "execution"):
            if key not in had_tables and key in doc and not len(doc[key]):
                del doc[key]
        return tomlkit.dumps(doc)

    def _metric_names(self) -> list[str]:
        """The ticked metrics, those the file named first in its order (a re-saved file does not reorder them)."""
        ticked = self.seeds_page.metrics()
        before = [str(n) for n in (self._base_raw.get("metrics") or {}).get("names") or []]
        return [n for n in before if n in ticked] + [n for n in ticked if n not in before]

    def _write_data(self, doc: Any, default: Any) -> None:
        data = get_table(doc, "data")
        dp = self.data_page
        put(data, "source", dp.source() or None)
        put(data, "split", dp.split_combo.currentData(), default=default(DataSpec, "split"))
        opts = dp.options()
        table_like = dp.scheme() in ("csv", "parquet", "hf")
        put(data, "label_column", opts.get("label_column") if table_like else None)
        for key in ("text_column", "group_column", "image_size"):
            put(data, key, opts.get(key))
        put(data, "grayscale", True if opts.get("grayscale") else None)
        put(data, "max_examples", dp.max_examples.value() or None)
        extra = dp.extra_keys()
        for key in list(data.keys()):
            if key not in DATA_KEYS and key not in extra:
                del data[key]
        for key, value in extra.items():
            if key not in data:
                data[key] = toml_item(value)

    def _write_experts(self, doc: Any) -> None:
        if put_tables(doc, "experts", self.experts_page.experts()) and "merge" in doc:
            merge = doc["merge"]  # [merge] after the experts, as a study file reads
            del doc["merge"]
            doc["merge"] = merge

    def _write_merge(self, doc: Any) -> None:
        merge = get_table(doc, "merge")
        mp = self.methods_page
        put(merge, "conventions", mp.conventions_value(), default=schema_default(MergeSpec, "conventions"))
        put(merge, "tuning", mp.tuning_value(), default=schema_default(MergeSpec, "tuning"))
        wanted = mp.entries()
        current_ = merge.get("methods")
        if not wanted:
            if current_ is not None:
                del merge["methods"]
            return
        if current_ is not None and plain(current_) == wanted and _same_types(plain(current_), wanted):
            return
        if isinstance(current_, AoT):  # [[merge.methods]] tables stay tables
            while len(current_):
                del current_[0]
            for entry in wanted:
                table = tomlkit.table()
                for k, v in entry.items():
                    table[k] = toml_item(v)
                current_.append(table)
            return
        array = tomlkit.array()
        for entry in wanted:
            array.append(toml_item(entry))
        array.multiline(True)
        merge["methods"] = array

    def summary_html(self) -> str:
        experts = self.experts_page.rows
        expert_words = "; ".join(f"<b>{html.escape(r.id)}</b> on {html.escape(r.condition)} "
                                 f"({html.escape(r.origin_words())})" for r in experts) or "<i>none yet</i>"
        seeds, _ = self.seeds_page.seeds()
        mp = self.methods_page
        metrics = ", ".join(METRICS[m].label if m in METRICS else m for m in self.seeds_page.metrics())
        title = html.escape(self.name_page.title_edit.text().strip() or self.study_name() or "Untitled study")
        tuning = ("on the validation split" if mp.tuning_value() == "validation"
                  else "on the test split — declared test-set tuning: optimistic")
        rows = [
            ("Base model", html.escape(self.base_page.source() or "none yet")),
            ("Data", html.escape(self.data_page.source() or "none yet")),
            ("Experts", expert_words),
            ("Methods", html.escape("; ".join(mp.labels()) or "none yet")),
            ("Coefficients", html.escape(f"chosen {tuning}; {mp.conventions_value()} conventions")),
            ("Seeds", html.escape(", ".join(map(str, seeds)) or "—")),
            ("Metrics", html.escape(metrics)),
        ]
        muted = current().muted
        body = "".join(f"<tr><td style='color:{muted}; padding-right:14px'>{k}</td><td>{v}</td></tr>" for k, v in rows)
        return f"<div style='font-size:12pt'><b>{title}</b></div><table style='margin-top:4px'>{body}</table>"


def _same_types(a: Any, b: Any) -> bool:
    """Equal plain values that also agree in type everywhere (1 and 1.0 compare equal but read differently)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b))
    return type(a) is type(b)

"""The fine-tuning kind's new-study wizard: a fine-tuning study built page by page, always in step with the
study schema (``engine.kinds.finetune.spec``).

Pages: Name → Base model → Target → Shifts & forgetting → Methods & training → Seeds & metrics → Review.
Name, Seeds and Review are the shared pages of ``views.wizard``; Target is the shared data page speaking for
``[target]``; the base, shifts and methods pages are this kind's. :class:`~views.wizard.base.KindWizard`
validates on every edit with the engine (each problem next to its field, by key path). Editing an existing
file keeps its comments and every key the wizard does not show (method parameters, split seeds, …).
"""

from __future__ import annotations

import html
import tomllib
from typing import Any

import tomlkit
from PySide6.QtWidgets import QLabel, QWidget

from engine.conditions.catalog import condition_label
from engine.core.errors import StudyFileError
from engine.core.header import SCHEMA_VERSION, ExecutionSpec, MetricsSpec, StudyMeta
from engine.data.spec import Splits
from engine.kinds.finetune.spec import SourceSpec, TrainingSpec
from engine.metrics import METRICS
from views.kinds.finetune.wizard.page_base_model import BaseModelPage
from views.kinds.finetune.wizard.page_methods import MethodsPage
from views.kinds.finetune.wizard.page_shifts import ShiftsPage
from views.kinds.finetune.wizard.page_target import TargetPage
from views.providers import StudyProviders
from views.theme import current
from views.wizard.base import KindWizard
from views.wizard.page_base import SECTION_NAMES, WizardPage
from views.wizard.page_name import NamePage
from views.wizard.page_review import ReviewPage
from views.wizard.page_seeds import SeedsPage
from views.wizard.schema import schema_default
from views.wizard.toml_build import MISSING, get_table, plain, put, put_tables, toml_item

SECTIONS = {"base": "base", "target": "data", "shifted": "conditions", "source": "conditions", "methods": "methods",
            "training": "methods", "metrics": "seeds", "execution": "seeds"}
TITLES = {**SECTION_NAMES, "base": "Base model", "data": "Target", "conditions": "Shifts & forgetting",
          "methods": "Methods & training"}
TARGET_KEYS = ("source", "domain", "splits", "max_examples", "label_column", "text_column", "group_column", "image_size",
               "grayscale")
NEXT_STEPS = (
    "<b>What comes next</b><ol style='margin-top:4px; margin-left:-20px'>"
    "<li><b>Base model</b> — the pretrained model every method starts from.</li>"
    "<li><b>Target</b> — the new data or domain to adapt it to, with a preview.</li>"
    "<li><b>Shifts &amp; forgetting</b> — shifts for out-of-distribution scores, and the base's own task.</li>"
    "<li><b>Methods &amp; training</b> — the ways of adapting to compare, their budgets, the learning rates.</li>"
    "<li><b>Seeds &amp; metrics</b> — how often to repeat and what to measure.</li>"
    "<li><b>Review</b> — check, then save (and run).</li></ol>"
)


class FinetuneNamePage(NamePage):
    """The shared name page, with this kind's steps listed under it."""

    def __init__(self, wizard: KindWizard):
        super().__init__(wizard)
        steps = next(w for w in self.findChildren(QLabel) if w.accessibleName() == "What comes next")
        steps.setText(NEXT_STEPS)
        self.name_edit.setPlaceholderText("e.g. adapt")
        self.title_edit.setPlaceholderText("e.g. How best to adapt the digits model to inverted scans?")


class FinetuneWizard(KindWizard):
    """Create (or edit) a fine-tuning study; the app saves ``study_toml()`` as ``study_name()`` + '.study.toml'."""

    KIND = "finetune"
    INTRO = ("A fine-tuning study compares ways of adapting a pretrained model to new data: what each gains, what it "
             "costs and what it forgets.")
    SECTIONS = SECTIONS
    SECTION_TITLES = TITLES

    def __init__(self, providers: StudyProviders, parent: QWidget | None = None, *,
                 existing_names: list[str] | tuple[str, ...] = (), default_name: str | None = None):
        self._base_text: str | None = None
        self._base_raw: dict[str, Any] = {}
        super().__init__(providers, parent, existing_names=existing_names)
        self.setWindowTitle("New fine-tuning study")
        self._loading = True
        self.name_page.name_edit.setText(default_name or self.free_name("finetune-study"))
        models = [c.source for c in self.base_page._choices]
        if models:
            self.base_page.set_source("builtin:digits-cnn" if "builtin:digits-cnn" in models else models[0])
        datasets = self.target_page._choices
        if datasets:
            preferred = next((c.source for c in datasets if c.source == "builtin:digits"), datasets[0].source)
            self.target_page.set_source(preferred)
            self.shifts_page.set_source({"source": preferred})
        self.seeds_page.set_seeds([0, 1, 2])
        self._loading = False
        self.finish_building()

    def build_pages(self) -> list[WizardPage]:
        self.name_page = FinetuneNamePage(self)
        self.base_page = BaseModelPage(self)
        self.target_page = TargetPage(self)
        self.shifts_page = ShiftsPage(self)
        self.methods_page = MethodsPage(self)
        self.seeds_page = SeedsPage(self)
        return [self.name_page, self.base_page, self.target_page, self.shifts_page, self.methods_page, self.seeds_page,
                ReviewPage(self)]

    # -- construction from a study file ---------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, providers: StudyProviders, parent: QWidget | None = None,
                  **kwargs: Any) -> "FinetuneWizard":
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

        self.base_page.set_source(str((raw.get("base") or {}).get("source", "")))
        target = raw.get("target") or {}
        managed = {"source", "split", "label_column", "text_column", "group_column", "image_size", "grayscale",
                   "max_examples", "domain", "splits", "split_seed"}
        self.target_page.set_options(target)
        self.target_page.set_source(str(target.get("source", "")), extra={k: v for k, v in target.items() if k not in managed})
        self.target_page.refresh_domains()
        self.target_page.set_domain(target.get("domain"))
        self.target_page.set_splits(target.get("splits"))
        self.shifts_page.set_conditions(list((raw.get("shifted") or {}).get("conditions") or []),
                                        self.target_page.modality())
        self.shifts_page.set_source(raw.get("source") if isinstance(raw.get("source"), dict) else None)
        self.methods_page.set_entries([m for m in raw.get("methods") or [] if isinstance(m, dict)])
        self.methods_page.set_training(raw.get("training") or {})

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
        self.revalidate()

    # -- what the pages ask the wizard ----------------------------------------------------------

    def data_changed(self) -> None:
        """The target's source or preview changed: offer the shifts that suit its kind of data."""
        if self._loading or not hasattr(self, "shifts_page"):  # still building the pages
            return
        self.target_page.refresh_domains()
        self.shifts_page.refresh_for_data(self.target_page.modality())

    def use_local_model(self, path: str) -> None:
        """Use a model file or folder as the base, as dropping it on the base page does."""
        self.base_page.use_local_model(path)

    # -- the study ------------------------------------------------------------------------------

    def study_name(self) -> str:
        return self.name_page.name_edit.text().strip()

    def study_toml(self) -> str:
        """The study file as TOML text (tomlkit), as docs/study-files.md describes it."""
        fresh = self._base_text is None
        doc = tomlkit.parse(self._base_text) if not fresh else tomlkit.document()
        if fresh:
            doc.add(tomlkit.comment("Juxta fine-tuning study — written by the new-study wizard; see docs/study-files.md"))

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
        self._write_target(doc)
        shifted = get_table(doc, "shifted")
        put(shifted, "conditions", self.shifts_page.conditions() or None)
        self._write_source(doc)
        self._write_methods(doc)

        training = get_table(doc, "training")
        mp = self.methods_page
        put(training, "epochs", mp.epochs.value(), default=default(TrainingSpec, "epochs"))
        put(training, "batch_size", mp.batch_size.value(), default=default(TrainingSpec, "batch_size"))
        put(training, "lr_sweep", mp.lr_sweep.isChecked(), default=default(TrainingSpec, "lr_sweep"))
        if mp.lr_sweep.isChecked() and mp.factors():
            put(training, "lr_factors", [float(f) for f in mp.factors()],
                default=[float(f) for f in schema_default(TrainingSpec, "lr_factors")])

        metrics = get_table(doc, "metrics")
        sp = self.seeds_page
        put(metrics, "names", self._metric_names(), default=default(MetricsSpec, "names"))
        put(metrics, "bootstrap", sp.bootstrap.value(), default=default(MetricsSpec, "bootstrap"))
        put(metrics, "level", float(sp.level.currentData()), default=schema_default(MetricsSpec, "level"))
        execution = get_table(doc, "execution")
        backend = sp.backend.currentData()
        put(execution, "backend", backend, default=default(ExecutionSpec, "backend"))
        put(execution, "workers", sp.workers.value() or None)
        put(execution, "address", (sp.address.text().strip() or None) if backend == "dask" else None)
        put(execution, "device", sp.device.currentData(), default=schema_default(ExecutionSpec, "device"))
        for key in ("shifted", "training", "metrics", "execution"):
            if key not in had_tables and key in doc and not len(doc[key]):
                del doc[key]
        return tomlkit.dumps(doc)

    def _metric_names(self) -> list[str]:
        """The ticked metrics, those the file named first in its order (a re-saved file does not reorder them)."""
        ticked = self.seeds_page.metrics()
        before = [str(n) for n in (self._base_raw.get("metrics") or {}).get("names") or []]
        return [n for n in before if n in ticked] + [n for n in ticked if n not in before]

    def _write_target(self, doc: Any) -> None:
        target = get_table(doc, "target")
        tp = self.target_page
        put(target, "source", tp.source() or None)
        put(target, "domain", tp.domain())
        splits = tp.splits()
        if "splits" in target or splits != Splits().model_dump():
            old = plain(target["splits"]) if "splits" in target else None
            if old is None or {k: float(old.get(k, 0)) for k in splits} != splits:
                target["splits"] = toml_item(splits)
        opts = tp.options()
        table_like = tp.scheme() in ("csv", "parquet", "hf")
        put(target, "label_column", opts.get("label_column") if table_like else None)
        for key in ("text_column", "group_column", "image_size"):
            put(target, key, opts.get(key))
        put(target, "grayscale", True if opts.get("grayscale") else None)
        put(target, "max_examples", tp.max_examples.value() or None)
        extra = tp.extra_keys()
        for key, value in extra.items():
            if key not in target:
                target[key] = toml_item(value)

    def _write_source(self, doc: Any) -> None:
        sp = self.shifts_page
        if not sp.measures_forgetting():
            if "source" in doc:
                del doc["source"]
            return
        source = get_table(doc, "source")
        put(source, "source", sp.source() or None)
        put(source, "split", sp.source_split.currentData(), default=schema_default(SourceSpec, "split"))
        put(source, "max_examples", sp.source_max.value() or None)

    def _write_methods(self, doc: Any) -> None:
        put_tables(doc, "methods", self.methods_page.entries())

    def summary_html(self) -> str:
        tp, sp = self.target_page, self.shifts_page
        target = html.escape(tp.source() or "none yet")
        if tp.domain():
            target += f" under {html.escape(tp.domain_words())}"
        shifts = ", ".join(condition_label(c) for c in sp.conditions()) or "none"
        forgetting = html.escape(sp.source() or "none yet") if sp.measures_forgetting() else "not measured"
        seeds, _ = self.seeds_page.seeds()
        mp = self.methods_page
        lrs = (f"each method's default × {', '.join(f'{f:g}' for f in mp.factors())}, best on validation"
               if mp.lr_sweep.isChecked() else "each method's default (no sweep)")
        metrics = ", ".join(METRICS[m].label if m in METRICS else m for m in self.seeds_page.metrics())
        title = html.escape(self.name_page.title_edit.text().strip() or self.study_name() or "Untitled study")
        rows = [
            ("Base model", html.escape(self.base_page.source() or "none yet")),
            ("Target", target),
            ("Out of distribution", html.escape(shifts)),
            ("Forgetting on", forgetting),
            ("Methods", html.escape("; ".join(mp.labels()) or "none yet")),
            ("Learning rates", html.escape(lrs)),
            ("Training", f"{mp.epochs.value()} epochs, batches of {mp.batch_size.value()}"),
            ("Seeds", html.escape(", ".join(map(str, seeds)) or "—")),
            ("Metrics", html.escape(metrics)),
        ]
        muted = current().muted
        body = "".join(f"<tr><td style='color:{muted}; padding-right:14px'>{k}</td><td>{v}</td></tr>" for k, v in rows)
        return f"<div style='font-size:12pt'><b>{title}</b></div><table style='margin-top:4px'>{body}</table>"

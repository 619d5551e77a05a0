"""What every kind's new-study wizard shares: the window and its buttons, background loads for the pages,
and validation — the study file rebuilt on every edit, checked by the engine's validator
(``providers.validate``), each problem shown next to its field (by key path) and all of them on the
Review page, with the planned work in the kind's own words (``providers.describe``).

A kind's wizard (``views/kinds/<kind>/wizard/``) subclasses :class:`KindWizard`: it sets ``KIND``,
``INTRO`` and ``SECTIONS`` (study-file table -> page section), builds its pages in ``build_pages`` (the
shared ones of ``views.wizard`` and its own; the last is a ``ReviewPage``), and writes the study in
``study_toml``. The wizard never writes files: the app reads ``study_name()`` and ``study_toml()`` when
``accepted`` fires and, after "Save and Run", also gets ``runRequested(name)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QWidget, QWizard

from views.providers import StudyProviders
from views.tasks import LatestLoad, run_in_background
from views.wizard.page_base import SECTION_NAMES, FieldProblem, Key, WizardPage, section_of
from views.wizard.widgets import sentence


class KindWizard(QWizard):
    """Create (or edit) a study of kind ``KIND``; the app saves ``study_toml()`` as ``study_name()`` + '.study.toml'."""

    runRequested = Signal(str)  # after "Save and Run": accepted fires first (save), then this (run)
    validityChanged = Signal(bool)

    KIND: ClassVar[str] = ""  # the engine's kind name, [study].kind
    INTRO: ClassVar[str] = ""  # what a study of this kind measures, one sentence (the Name page)
    SECTIONS: ClassVar[dict[str, str]] = {}  # study-file table -> the page section that answers for it
    SECTION_TITLES: ClassVar[dict[str, str]] = SECTION_NAMES  # section -> its page's name on Review

    def __init__(self, providers: StudyProviders, parent: QWidget | None = None, *,
                 existing_names: list[str] | tuple[str, ...] = ()):
        super().__init__(parent)
        self.providers = providers
        self.existing_names = set(existing_names)
        self.original_name: str | None = None
        self._valid = False
        self._problems: list[str] = []
        self._loading = False
        self._ready = False  # set once built: edits before that are not the user's
        self.preview_loads = LatestLoad()  # dataset previews, by the data page's key()
        self.column_loads = LatestLoad()  # a table file's column names, by source
        self.run_after_save = False

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

        self._pages: list[WizardPage] = self.build_pages()
        self.review_page = self._pages[-1]
        for pid, page in enumerate(self._pages):
            self.setPage(pid, page)
            page.set_step(pid + 1, len(self._pages))
        self.setTitleFormat(Qt.TextFormat.RichText)
        self.customButtonClicked.connect(self._on_custom)
        self.currentIdChanged.connect(self._on_page_changed)

    # -- for a kind's wizard --------------------------------------------------------------------

    def build_pages(self) -> list[WizardPage]:
        """The pages in order, the last a ``views.wizard.page_review.ReviewPage``."""
        raise NotImplementedError

    def study_name(self) -> str:
        raise NotImplementedError

    def study_toml(self) -> str:
        """The study file as TOML text, as the pages stand now."""
        raise NotImplementedError

    def summary_html(self) -> str:
        """What the study compares, as the pages stand now (the Review page's summary, HTML)."""
        raise NotImplementedError

    def page_shown(self, page: WizardPage) -> None:
        """A page came to the front (before it is validated again)."""

    def data_changed(self) -> None:
        """The data page's source, options or preview changed."""

    def seeds_changed(self) -> None:
        """The seeds page's seeds changed."""

    def finish_building(self) -> None:
        """Call at the end of a subclass's ``__init__``: from now on edits are the user's."""
        self._ready = True
        self.revalidate()

    # -- what the pages ask the wizard ----------------------------------------------------------

    def field_words(self, key: Key) -> str:
        """What a study-file key is called in this kind's words."""
        from engine.kinds import get_kind

        return get_kind(self.KIND).field_words(key)

    def section_of(self, key: Key) -> str:
        """The page section that answers for a key path."""
        return section_of(key, self.SECTIONS)

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

    def free_name(self, base: str) -> str:
        """``base``, or ``base-2``, ``base-3`` … : the first name no study of the project has."""
        if base not in self.existing_names:
            return base
        n = 2
        while f"{base}-{n}" in self.existing_names:
            n += 1
        return f"{base}-{n}"

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
            problems.append(FieldProblem(key, pages[self.section_of(key)].field_text(key, message)))
        problems += local
        for page in self._pages[:-1]:
            page.show_problems([p for p in problems if self.section_of(p.key) == page.section])
        self._problems = [f"{self.SECTION_TITLES[self.section_of(p.key)]}: {sentence(p.text)}" for p in problems]
        valid = not self._problems
        description = self.providers.describe(text) if valid else None
        self.review_page.show_result(text, self._problems, description)
        changed = valid != self._valid
        self._valid = valid
        self._update_buttons()
        self.review_page.completeChanged.emit()
        if changed:
            self.validityChanged.emit(valid)

    def _update_buttons(self) -> None:
        on_review = self.currentPage() is self.review_page
        run = self.button(QWizard.WizardButton.CustomButton1)
        run.setEnabled(self._valid and on_review)
        tip = "" if self._valid else "Fix the problems listed on the pages first."
        run.setToolTip(tip or ("Save the study, then start running it." if on_review else "Available on the last page."))
        self.button(QWizard.WizardButton.FinishButton).setToolTip(tip)

    def _on_page_changed(self, _: int) -> None:
        page = self.currentPage()
        if page is not None:
            self.page_shown(page)
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

    # -- drops: files go to the page in front, when it takes them (``WizardPage.ACCEPTS_DROPS``) -------

    def _local_paths(self, event: Any) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        page = self.currentPage()
        if self._local_paths(event) and isinstance(page, WizardPage) and page.ACCEPTS_DROPS:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        paths = self._local_paths(event)
        page = self.currentPage()
        if not paths or not isinstance(page, WizardPage) or not page.ACCEPTS_DROPS:
            event.ignore()
            return
        page.drop_paths(paths)
        event.acceptProposedAction()

    def event(self, e: QEvent) -> bool:  # keep the Save and Run button state right after relayouts
        result = super().event(e)
        if e.type() == QEvent.Type.Show:
            self._update_buttons()
        return result

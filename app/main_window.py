"""The main window: project tree, Study / Run / Results / Report pages, menus, toolbar and status bar.

It wires views to the engine: views draw and emit signals; this module opens projects, writes
study files, starts and cancels runs (``app.run_controller``) and loads results off the GUI thread.
While a study runs, its results and the tree follow the database every few seconds (partial results
are marked as such).

Nothing here knows a study kind: the Results tab shows the page ``views.kinds.VIEW_KINDS`` gives for
the current study's kind (one page per kind, built when first needed), New Study asks which kind
(``engine.kinds.KINDS``) and opens its wizard, and runs label cells through the kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QSplitter,
    QStackedWidget, QTabWidget, QToolBar, QVBoxLayout, QWidget,
)

from app import theme
from app.gui import user_demo
from app.project_status import ProjectSummary, summarise
from app.run_controller import RunController
from app.settings import Settings
from views.details_pane import DetailsPane
from views.kinds import VIEW_KINDS
from views.project_tree import ProjectTree
from views.run_page import RunPage
from views.start_page import StartPage
from views.tasks import run_in_background


NO_RESULTS = "No results yet — run the study"


class _Holder(QWidget):
    """A tab's placeholder until its page is built."""

    def __init__(self, name: str):
        super().__init__()
        self.setAccessibleName(name)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def set_page(self, page: QWidget) -> None:
        self._layout.addWidget(page)


class MainWindow(QMainWindow):
    projectOpened = Signal(str)
    resultsLoaded = Signal(str)  # study name, after the Results page got new data
    treeRefreshed = Signal()

    def __init__(self, settings: Settings | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.project = None
        self.current_study: str | None = None
        self.summary: ProjectSummary | None = None
        self._load_generation = 0
        self._wizard = None
        self.setWindowTitle("Juxta")
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self.setMinimumSize(1024, 640)

        self.start_page = StartPage()
        self.start_page.openDemo.connect(self.open_demo)
        self.start_page.openFolder.connect(self.choose_project)
        self.start_page.newProject.connect(self.new_project)
        self.start_page.openRecent.connect(self.open_project)
        self.start_page.set_recent(self.settings.recent_projects())

        self.tree = ProjectTree()
        self.tree.studySelected.connect(self.select_study)
        self.tree.entrySelected.connect(self.show_entry)
        self.details = DetailsPane()
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.tree)
        side.addWidget(self.details)
        side.setStretchFactor(0, 3)
        side.setStretchFactor(1, 2)
        side.setChildrenCollapsible(False)
        self.dock = QDockWidget("Project", self)
        self.dock.setObjectName("projectDock")
        self.dock.setWidget(side)
        self.dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.dock)
        self.resizeDocks([self.dock], [270], Qt.Orientation.Horizontal)
        self.dock.hide()

        from app.providers import make_providers
        from views.study_page import StudyPage

        self.providers = make_providers(lambda: str(self.project.root if self.project else Path.cwd()))
        self.study_page = StudyPage(self.providers)
        self.study_page.saveRequested.connect(self.save_study_text)
        self.study_page.runRequested.connect(lambda: self.run_study())
        self.study_page.editRequested.connect(self.edit_study)
        self.study_page.dirtyChanged.connect(lambda _dirty: self._update_actions())
        self.study_page.canSaveChanged.connect(lambda _can: self._update_actions())
        self.run_page = RunPage()
        # Results and Report pages pull in pandas, scipy and pyqtgraph: built on first use, after
        # the window is visible. The Results tab holds one page per study kind (``VIEW_KINDS``), in front
        # the current study's; the label stands in while no page is (no study, or a kind without one).
        self._results_holder, self._report_holder, self._report_page = _Holder("Results"), _Holder("Report"), None
        self._results_stack = QStackedWidget()
        self._results_holder.set_page(self._results_stack)
        self._results_pages: dict[str, Any] = {}
        self._no_results = QLabel(NO_RESULTS)
        self._no_results.setObjectName("emptyState")
        self._no_results.setAlignment(Qt.AlignCenter)
        self._no_results.setWordWrap(True)
        self._results_stack.addWidget(self._no_results)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.tabs.addTab(self.study_page, "Study")
        self.tabs.addTab(self.run_page, "Run")
        self.tabs.addTab(self._results_holder, "Results")
        self.tabs.addTab(self._report_holder, "Report")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

        self._build_status_bar()
        self.runs = RunController(self.run_page, self.status_text, self.status_progress, parent=self)
        self.runs.started.connect(self._on_run_started)
        self.runs.cellsSaved.connect(self._on_cells_saved)
        self.runs.curvePoints.connect(self._on_curve_points)
        self.runs.ended.connect(self._on_run_ended)
        self.runs.failed.connect(lambda message: self.show_message(message, error=True))
        self.run_page.cancelRequested.connect(self.cancel_run)
        self.run_page.resumeRequested.connect(lambda: self.run_study(self.run_page_study()))
        self._build_actions()
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._update_actions()

    @property
    def bridge(self):
        return self.runs.bridge

    @property
    def results_page(self):
        """The Results page of the current study's kind (built on first use), or None without a current
        study or when its kind has no results page."""
        return self._results_page_for(self.study_kind(self.current_study))

    def study_kind(self, name: str | None) -> str:
        """The kind a study's results are read as (the kind it was run as, else its file's); "" when unknown."""
        return self.summary.kinds.get(name, "") if self.summary is not None and name else ""

    def _results_page_for(self, kind: str):
        """The kind's results page, built (and put in the Results tab) the first time it is asked for."""
        if kind in self._results_pages:
            return self._results_pages[kind]
        views = VIEW_KINDS.get(kind)
        if views is None:
            return None
        page = views.results_page(theme.resolve(self.settings.theme()))
        page.set_export_folder(self._export_folder)
        self._results_stack.addWidget(page)
        self._results_pages[kind] = page
        return page

    def _show_results_of(self, kind: str) -> None:
        """Bring the kind's page to the front of the Results tab (its stand-in while it has none)."""
        page = self._results_pages.get(kind)
        if page is None and kind and kind not in VIEW_KINDS:
            from engine.kinds import KINDS

            title = KINDS[kind].title if kind in KINDS else kind
            self._no_results.setText(f"This Juxta has no Results page for {title.lower()} studies yet; "
                                     "`juxta results` prints their results.")
        elif page is None:
            self._no_results.setText(NO_RESULTS)
        self._results_stack.setCurrentWidget(page if page is not None else self._no_results)

    @property
    def report_page(self):
        if self._report_page is None:
            from views.report_page import ReportPage

            from app.report import ReportNotesKeeper

            self._report_page = ReportPage()
            self._report_page.exportRequested.connect(self.export_report)
            self._report_holder.set_page(self._report_page)
            # title, author, introduction and chart comments live in the project (reports/notes.json)
            self._report_notes = ReportNotesKeeper(self._report_page)
            self._report_notes.open(self.project.root if self.project else None)
        return self._report_page

    def show_tab(self, name: str) -> None:
        """Bring a page to the front: "Study", "Run", "Results" or "Report"."""
        pages = {"Study": self.study_page, "Run": self.run_page, "Results": self._results_holder,
                 "Report": self._report_holder}
        self.tabs.setCurrentWidget(pages[name])

    def run_page_study(self) -> str | None:
        return self.runs.study or self.current_study

    def _export_folder(self) -> str:
        """Where export dialogs open: the project's folder (its reports/ when there is one)."""
        if self.project is None:
            return str(Path.home())
        reports = self.project.root / "reports"
        return str(reports if reports.is_dir() else self.project.root)

    # -- actions ----------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut: Any = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{text.replace('&', '')} — {tip}")
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.act_new = self._action("&New Study…", self.new_study, QKeySequence.New, "Design a new study with the wizard")
        self.act_open = self._action("&Open Project…", self.choose_project, QKeySequence.Open, "Open a project folder")
        self.act_new_project = self._action("New &Project…", self.new_project, None, "Create a new project folder")
        self.act_demo = self._action("Open &Demo Project", self.open_demo, None,
                                     "Open your copy of the demo project (made in ~/Juxta on first use)")
        self.act_save = self._action("&Save Study", self.save_current, QKeySequence.Save, "Save the study file")
        self.act_export = self._action("&Export Results…", self.export_results, "Ctrl+E",
                                       "Save this study's results table as CSV or Parquet")
        self.act_quit = self._action("&Quit", self.close, QKeySequence.Quit)
        self.act_run = self._action("▶ &Run", lambda: self.run_study(), "Ctrl+R", "Compute the missing cells of this study")
        self.act_cancel = self._action("■ &Cancel", self.cancel_run, "Ctrl+.", "Stop the run; finished cells are kept")
        self.act_edit = self._action("&Edit Study…", self.edit_study, None, "Change the study in the wizard")
        self.act_find = self._action("&Find…", self.find, QKeySequence.Find, "Filter the table on this page")
        self.act_about = self._action("&About Juxta", self.about)
        self.act_report = self._action("Re&port…", self.report, "Ctrl+P", "Preview and export a report for stakeholders")

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (self.act_new, self.act_new_project, self.act_open, self.act_demo):
            file_menu.addAction(a)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        file_menu.addAction(self.act_save)
        file_menu.addAction(self.act_export)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        study_menu = bar.addMenu("&Study")
        study_menu.addAction(self.act_new)
        study_menu.addAction(self.act_edit)
        run_menu = bar.addMenu("&Run")
        run_menu.addAction(self.act_run)
        run_menu.addAction(self.act_cancel)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.act_find)
        self.act_project = self.dock.toggleViewAction()
        self.act_project.setText("&Project Panel")
        self.act_project.setShortcut(QKeySequence("Ctrl+0"))
        view_menu.addAction(self.act_project)
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in theme.THEMES:
            a = QAction(name.capitalize(), self, checkable=True)
            a.setChecked(self.settings.theme() == name)
            a.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(a)
            theme_menu.addAction(a)
            self.theme_actions[name] = a
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)

        tools = QToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for a in (self.act_new, self.act_open, self.act_save):
            tools.addAction(a)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding, spacer.sizePolicy().verticalPolicy())
        tools.addWidget(spacer)
        for a in (self.act_run, self.act_cancel, self.act_report):
            tools.addAction(a)
        self.addToolBar(tools)

    def _build_status_bar(self) -> None:
        self.status_text = QLabel("Ready")
        self.status_text.setAccessibleName("Status")
        self.status_progress = QProgressBar()
        self.status_progress.setMaximumWidth(260)
        self.status_progress.setMaximumHeight(16)
        self.status_progress.setTextVisible(True)
        self.status_progress.hide()
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.status_progress)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_projects():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _update_actions(self) -> None:
        has_study = self.project is not None and self.current_study is not None
        running = self.runs.running
        runnable = has_study and self.current_study not in (self.summary.invalid if self.summary else set())
        self.act_run.setEnabled(runnable and not running)
        self.act_cancel.setEnabled(running)
        self.act_save.setEnabled(has_study and self.study_page.can_save())
        self.act_edit.setEnabled(has_study and not running)
        self.act_new.setEnabled(self.project is not None)
        self.act_export.setEnabled(has_study)
        self.study_page.set_running(running)

    # -- projects and studies ---------------------------------------------------------------------

    def choose_project(self) -> None:
        start = str(self.project.root.parent if self.project else Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open a Juxta project folder", start)
        if path:
            self.open_project(path)

    def new_project(self) -> None:
        from views.new_project_dialog import NewProjectDialog

        dialog = NewProjectDialog(str(Path.home() / "Juxta"), self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.created.connect(self._open_new_project)
        dialog.open()

    def _open_new_project(self, path: str) -> None:
        if self.open_project(path):
            self.new_study()

    def open_demo(self) -> None:
        self.open_project(user_demo())

    def open_project(self, path: str | Path) -> bool:
        from engine import open_project
        from engine.core.errors import JuxtaError

        if self.runs.running:
            self.show_message("A run is in progress; cancel it before opening another project.")
            return False
        if not self._confirm_discard():
            return False
        try:
            project = open_project(path)
        except JuxtaError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.project = project
        self.current_study = None
        self.details.hide()
        if self._report_page is not None:
            self._report_page.set_model(None)
            self._report_notes.open(project.root)
        self.settings.add_recent(str(project.root))
        self.start_page.set_recent(self.settings.recent_projects())
        self.setWindowTitle(f"Juxta — {project.name}")
        self.stack.setCurrentWidget(self.tabs)
        self.dock.show()
        self.refresh_tree()
        names = list(project.study_paths())
        if names:
            # directly, not through the tree's signal: a study of the same name was perhaps selected
            # in the last project, and re-selecting the same row emits nothing
            self.select_study(names[0])
        else:  # nothing of the last project may stay on screen (or be saved into this one)
            self.study_page.show_no_study("This project has no studies yet. Design one with File ▸ New Study "
                                          "(Ctrl+N), or copy a .study.toml file into its folder.")
            for page in self._results_pages.values():
                page.set_results(None)
            self._show_results_of("")
        self.projectOpened.emit(str(project.root))
        self._update_actions()
        self.status_text.setText(f"Opened {project.root}")
        return True

    def refresh_tree(self) -> None:
        """Re-read study files and the database (a few queries; cheap enough for the GUI thread)."""
        if self.project is None:
            return
        self.summary = summarise(self.project, self.runs.info)
        self.tree.blockSignals(True)
        self.tree.set_project(self.summary.studies, self.summary.models, self.summary.datasets)
        if self.current_study:
            self.tree.select_study(self.current_study)
        self.tree.blockSignals(False)
        self._update_actions()
        self.treeRefreshed.emit()

    def show_entry(self, kind: str, source: str) -> None:
        """Facts about a model or dataset of the tree, read in the background."""
        if self.project is None or self.summary is None:
            return
        entries = self.summary.models if kind == "model" else self.summary.datasets
        entry = next((e for e in entries if e.source == source), None)
        if entry is None:
            return
        self.details.set_facts(", ".join(entry.ids) if kind == "model" else source, [("Source", source)], "Reading…")
        project = self.project

        def read():
            from app.project_status import entry_details

            return entry_details(project, entry)

        def done(facts) -> None:
            if project is self.project:
                self.details.set_facts(*facts)

        run_in_background(read, on_done=done, on_error=lambda msg: self.details.set_facts(source, [], msg), context=self)

    def select_study(self, name: str) -> None:
        if self.project is None or name == self.current_study:
            return
        if not self._confirm_discard():
            self.tree.blockSignals(True)
            self.tree.select_study(self.current_study or "")
            self.tree.blockSignals(False)
            return
        self.current_study = name
        path = self.project.study_path(name)
        self.study_page.set_study(name, path.read_text(encoding="utf-8"))
        page = self._results_pages.get(self.study_kind(name))
        if page is not None:
            page.begin_study(name)
        self._show_results_of(self.study_kind(name))
        self.tree.blockSignals(True)
        self.tree.select_study(name)
        self.tree.blockSignals(False)
        self.load_results(name)
        self._update_actions()

    def load_results(self, name: str) -> None:
        """Read the study's results off the GUI thread (``Project.results``: as its kind reads them), then hand
        them to its kind's Results page."""
        if self.project is None:
            return
        project = self.project
        self._load_generation += 1
        generation = self._load_generation
        note = self._results_note(name)
        kind = self.study_kind(name)  # "" for a broken study file never run: nothing to read

        def load():
            if not kind or not project.db_path.exists():
                return None
            return project.results(name)

        def done(results) -> None:
            if project is not self.project or name != self.current_study or generation != self._load_generation:
                return  # a newer load (after a run, for another study or project) supersedes this one
            page = self._results_pages.get(kind)
            if page is None and results is not None:  # nothing to show: build no page yet
                page = self._results_page_for(kind)
            if page is not None:
                views = VIEW_KINDS[kind]
                page.set_results(results, views.extra(project, name) if views.extra else None, note=note)
            self._show_results_of(kind)
            self.resultsLoaded.emit(name)

        run_in_background(load, on_done=done, on_error=lambda msg: self.show_message(msg, error=True), context=self)

    def _results_note(self, name: str) -> str:
        """Why the results may not be the whole story: a run in progress, or a changed study file."""
        info = self.runs.info
        if info is not None and info.study == name:
            return (f"Partial results: the study is running ({info.done} of {info.total} cells of this run done); "
                    "they update every few seconds.")
        status = self.tree.study_status(name)
        if status == "changed since run":
            return "The study file changed since these results were computed: run it to bring them up to date."
        if status.endswith("done") or status.endswith("failed"):
            return f"Not every cell is computed ({status}): these results are partial."
        return ""

    # -- the study wizard -------------------------------------------------------------------------

    def new_study(self, model: str | None = None) -> None:
        """Ask what to compare (every registered kind), then open that kind's wizard — with ``model`` (a dropped
        model file or folder) added when given — or, for a kind without a wizard, its example study file."""
        if self.project is None:
            self.show_message("Open or create a project first.")
            return
        if self._wizard is not None:
            self._wizard.raise_()
            return
        from engine.kinds import KINDS
        from views.new_study_dialog import KindChoice, NewStudyDialog

        choices = [KindChoice(k.name, k.title, k.question, bool(VIEW_KINDS.get(k.name) and VIEW_KINDS[k.name].wizard))
                   for k in KINDS.values()]
        dialog = NewStudyDialog(choices, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModal)
        dialog.chosen.connect(lambda kind: self._start_study(kind, model))
        dialog.finished.connect(lambda _result: setattr(self, "_wizard", None))
        self._wizard = dialog
        dialog.open()

    def _start_study(self, kind: str, model: str | None = None) -> None:
        self._wizard = None
        if self.project is None:
            return
        views = VIEW_KINDS.get(kind)
        if views is not None and views.wizard is not None:
            self._show_wizard(views.wizard(self.providers, self, list(self.project.study_paths()), None, model))
        else:
            self._study_from_example(kind)

    def _study_from_example(self, kind: str) -> None:
        """A new study file from the kind's example, opened as text in the Study page's editor."""
        from engine.core.header import STUDY_SUFFIX
        from engine.kinds import get_kind

        names = set(self.project.study_paths())
        name, n = f"{kind}-study", 2
        while name in names:
            name, n = f"{kind}-study-{n}", n + 1
        path = self.project.root / f"{name}{STUDY_SUFFIX}"
        path.write_text(get_kind(kind).example_study(name), encoding="utf-8")
        self.refresh_tree()
        self.select_study(name)
        self.show_tab("Study")
        self.study_page.set_text_mode(True)
        self.status_text.setText(f"Made {path.name} from the {get_kind(kind).title.lower()} example: edit it, then save.")

    def edit_study(self) -> None:
        if self.project is None or self.current_study is None or self.runs.running:
            return
        views = VIEW_KINDS.get(self.study_kind(self.current_study))
        if views is None or views.wizard is None:
            self.study_page.set_text_mode(True)
            self.show_message("This kind of study has no wizard yet: edit it as a study file.")
            return
        text = self.study_page.text()
        try:
            wizard = views.wizard(self.providers, self, list(self.project.study_paths()), text, None)
        except Exception as exc:  # an invalid file cannot fill the wizard: edit it as text instead
            self.show_message(f"The wizard cannot open this study ({getattr(exc, 'message', exc)}); edit it as a study file.")
            return
        self._show_wizard(wizard, overwrite=self.current_study)

    def _show_wizard(self, wizard, overwrite: str | None = None) -> None:
        """Window-modal and non-blocking: the event loop (runs, timers) goes on while it is open; the
        wizard is deleted when it closes, so none of its widgets outlives it."""
        if self._wizard is not None:
            self._wizard.raise_()
            return
        run_after: list[str] = []
        wizard.setAttribute(Qt.WA_DeleteOnClose)
        wizard.setWindowModality(Qt.WindowModal)
        wizard.runRequested.connect(run_after.append)
        wizard.finished.connect(lambda result: self._wizard_done(wizard, result, run_after, overwrite))
        self._wizard = wizard
        wizard.open()

    def _wizard_done(self, wizard, result: int, run_after: list[str], overwrite: str | None) -> None:
        self._wizard = None
        if not (result or run_after) or self.project is None:
            return
        name = wizard.study_name()
        from engine.core.header import STUDY_SUFFIX

        path = self.project.root / f"{name}{STUDY_SUFFIX}"
        if path.exists() and name != overwrite:
            answer = QMessageBox.question(self, "Replace study?", f"A study called “{name}” exists. Replace its file?")
            if answer != QMessageBox.Yes:
                return
        path.write_text(wizard.study_toml(), encoding="utf-8")
        self.current_study = None
        self.refresh_tree()
        self.tree.select_study(name)
        if run_after:
            self.run_study(name)

    def save_study_text(self, text: str) -> None:
        if self.project is None or self.current_study is None:
            return
        self.project.study_path(self.current_study).write_text(text, encoding="utf-8")
        self.study_page.set_study(self.current_study, text)
        self.refresh_tree()
        self.load_results(self.current_study)  # the results note may change (file edited since the run)
        self.status_text.setText(f"Saved {self.project.study_path(self.current_study).name}")
        self._update_actions()

    def save_current(self) -> bool:
        """Save (Ctrl+S) only what the Save button would: a changed study file that is valid."""
        if self.study_page.is_dirty() and not self.study_page.can_save():
            self.show_message("The study file has problems (listed under the editor); fix them before saving.")
            return False
        return self.study_page.request_save()

    def _confirm_discard(self) -> bool:
        if not self.study_page.is_dirty():
            return True
        buttons = QMessageBox.Discard | QMessageBox.Cancel
        if self.study_page.can_save():
            buttons |= QMessageBox.Save
        answer = QMessageBox.question(self, "Unsaved changes", "The study file has unsaved changes. Save them?", buttons)
        if answer == QMessageBox.Save:
            return self.save_current()
        return answer == QMessageBox.Discard

    # -- running ----------------------------------------------------------------------------------

    def run_study(self, name: str | None = None) -> None:
        name = name or self.current_study
        if self.project is None or name is None or self.runs.running:
            return
        if self.summary is not None and name in self.summary.invalid:
            self.show_message(f"“{name}” cannot run: its study file has problems (see the Study page).", error=True)
            return
        if name == self.current_study and self.study_page.is_dirty():
            if not self._confirm_discard():
                return
        from engine.core.errors import JuxtaError

        try:
            order = self.project.run_order([name])  # studies whose models it starts from, not made yet, first
        except JuxtaError as exc:
            self.show_message(str(exc), error=True)
            return
        self.tabs.setCurrentWidget(self.run_page)
        self.runs.start_in_order(self.project, order, self.study_kind)

    def cancel_run(self) -> None:
        self.runs.cancel()

    def _on_run_started(self, _study: str) -> None:
        self.refresh_tree()
        self._update_actions()

    def _on_cells_saved(self, study: str) -> None:
        """Live results: the tree's counts and, for the study on screen, its charts and table."""
        self.refresh_tree()
        if study == self.current_study and self.study_kind(study) in self._results_pages:
            self.load_results(study)

    def _on_curve_points(self, study: str, points: list) -> None:
        """Learning curves drawn as they are trained, on the page of the study on screen (if it draws curves)."""
        page = self._results_pages.get(self.study_kind(study)) if study == self.current_study else None
        if page is not None and hasattr(page, "add_live_points"):
            page.add_live_points(points)

    def _on_run_ended(self, study: str, _summary) -> None:
        self.refresh_tree()
        if study == self.current_study and study:
            self.load_results(study)
        if self.tabs.currentWidget() is self._report_holder:
            self.load_report()
        self._update_actions()

    def _tab_changed(self, _index: int) -> None:
        current = self.tabs.currentWidget()
        if current is self._results_holder:
            page = self.results_page  # builds the page on first view
            self._show_results_of(self.study_kind(self.current_study))
            if page is not None and page.results is None and self.current_study:
                self.load_results(self.current_study)
        elif current is self._report_holder and self.report_page.model() is None:
            self.load_report()

    # -- misc ------------------------------------------------------------------------------------

    def find(self) -> None:
        page = self.tabs.currentWidget()
        page = {self._results_holder: self._results_stack.currentWidget(), self._report_holder: self._report_page}.get(page, page)
        target = getattr(page, "filter", None) or getattr(page, "filter_edit", None)
        if target is not None:
            target.setFocus()
            target.selectAll()

    def report(self) -> None:
        if self.project is None:
            self.show_message("Open a project first.")
            return
        self.tabs.setCurrentWidget(self._report_holder)
        if self.report_page.model() is None:
            self.load_report()

    def load_report(self) -> None:
        """Build the report model off the GUI thread (it only reads the database)."""
        if self.project is None or not self.project.db_path.exists():
            self.report_page.set_model(None)
            return
        project = self.project
        running = self.runs.study
        self.report_page.set_busy(True, "Reading results…")

        def build():
            from engine.report.model import build_report

            return build_report(project)

        def done(model) -> None:
            self.report_page.set_busy(False)
            if project is self.project:
                self.report_page.set_model(model)
                if running:
                    self.report_page.show_message(f"“{running}” is still running: its section shows the cells "
                                                  "finished so far. Reopen the Report tab when it ends.")

        def failed(message: str) -> None:
            self.report_page.set_busy(False)
            self.report_page.show_message(message)

        run_in_background(build, on_done=done, on_error=failed, context=self)

    def export_report(self, fmt: str, options: dict) -> None:
        from app.report import default_output, main_file, write_report
        from engine.core.errors import JuxtaError

        if self.project is None or self.report_page.model() is None:
            return
        suggested = default_output(self.project.root, fmt)
        if fmt == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder for the report", str(suggested.parent))
            path = str(Path(path) / suggested.name) if path else ""
        else:
            filters = {"html": "HTML file (*.html)", "pdf": "PDF file (*.pdf)"}
            path, _ = QFileDialog.getSaveFileName(self, "Save the report", str(suggested), filters[fmt])
        if not path:
            return
        self.report_page.set_busy(True, "Writing the report…")
        QApplication.processEvents()
        try:  # charts are Qt widgets, so the report is written on the GUI thread (a few seconds)
            files = write_report(self.project, fmt, path, options=options, model=self.report_page.model(), overwrite=True)
        except JuxtaError as exc:
            self.report_page.show_message(str(exc))
            return
        finally:
            self.report_page.set_busy(False)
        target = main_file(fmt, files)
        self.report_page.show_message(f"Wrote {target}")
        self.status_text.setText(f"Report written: {target}")

    def export_results(self) -> None:
        """The current study's results table (every metric, with intervals) as CSV or Parquet."""
        if self.project is None or self.current_study is None:
            return
        self.tabs.setCurrentWidget(self._results_holder)
        page = self.results_page
        if page is None:
            self.show_message("This study has no results table to export.")
            return
        page.export_table_dialog()

    def set_theme(self, name: str) -> None:
        self.settings.set_theme(name)
        self.theme_actions[name].setChecked(True)
        resolved = theme.apply(QApplication.instance(), name)
        for page in self._results_pages.values():
            page.set_theme(resolved)

    def about(self) -> None:
        from importlib import metadata

        import PySide6

        versions = []
        for pkg in ("juxta", "torch", "duckdb", "pyqtgraph"):
            try:
                versions.append(f"{pkg} {metadata.version(pkg)}")
            except metadata.PackageNotFoundError:
                versions.append(f"{pkg} (not installed)")
        box = QMessageBox(self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.setWindowTitle("About Juxta")
        box.setText("<b>Juxta</b> — comparative model studies: distribution shift, merging, fine-tuning.")
        box.setInformativeText(" · ".join(versions) + f" · Qt {PySide6.__version__}<br>Device: detecting…")
        box.setStandardButtons(QMessageBox.Ok)

        def detected(devices) -> None:
            box.setInformativeText(" · ".join(versions) + f" · Qt {PySide6.__version__}<br>Device: {', '.join(devices)}")

        from engine.core.device import available_devices

        run_in_background(available_devices, on_done=detected, context=box,
                          on_error=lambda m: box.setInformativeText(" · ".join(versions) + f"<br>Device: unknown ({m})"))
        box.open()

    def show_message(self, text: str, error: bool = False) -> None:
        """Status-bar line; errors also get a window-modal box that never blocks the event loop."""
        self.status_text.setText(text.splitlines()[0])
        if error:
            box = QMessageBox(QMessageBox.Warning, "Juxta", text, QMessageBox.Ok, self)
            box.setAttribute(Qt.WA_DeleteOnClose)
            box.open()

    # -- window events ----------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        from engine.core.header import study_files

        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir() and any(study_files(path)):
                self.open_project(path)
                return
            if self.project is not None and (path.suffix == ".safetensors" or (path / "config.json").exists()):
                self.new_study(model=str(path))  # what to compare first, then that kind's wizard with the model
                return
        self.show_message("Drop a project folder, a .safetensors model or a Hugging Face model folder.")

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.runs.running:
            answer = QMessageBox.question(self, "Run in progress", "A study is running. Cancel it and quit? Finished cells are kept.")
            if answer != QMessageBox.Yes:
                event.ignore()
                return
            self.runs.bridge.cancel()
            self.runs.bridge.wait(30)
        if not self._confirm_discard():
            event.ignore()
            return
        if self._report_page is not None:
            self._report_notes.flush()
        self.settings.set_geometry(self.saveGeometry())
        event.accept()

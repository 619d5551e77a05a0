"""A seeded random walk through the real window (issue 8's "monkey test").

    python -m tests.gui.monkey --seed N --actions M --project DIR [--json OUT]

Builds the real application (``app.gui.create_window``) on the X server in ``$DISPLAY``, with its
settings in a temporary file, over a copy of the project DIR, then performs M actions drawn from
``random.Random(N)``: menu items, shortcuts, tab and tree clicks, theme switches, the study wizard,
runs (run, cancel, resume), Results page controls, the study file editor, resizes between 1280×720
and 1600×1000 and short waits. A person cannot click the window under a modal dialog, so while the
wizard or another dialog is open only that dialog is driven. Message boxes are dismissed with Esc
as a person would, counted and reported. Native file dialogs are replaced by stand-ins that return
nothing or a path inside the project copy. "Open Demo Project" opens a second copy of DIR (the real
demo is large and would be copied into the user's home folder).

After every action it checks: no uncaught Python exception (``sys.excepthook``, which PySide calls
for exceptions in slots, and ``threading.excepthook``), no Qt warning about a deleted or destroyed
object, and, when the Results page shows results, every chart's plot area at least
``MIN_PLOT_HEIGHT`` px tall. On a failure it prints the seed, the action's index and the actions so
far and exits 1; otherwise it closes the window as a person would (a running study is cancelled,
unsaved text discarded) and exits 0. A crash shows as the exit status (-11/139 for a segfault,
-6/134 for an abort); ``faulthandler`` prints where it happened, and the walk, printed on stdout
one action at a time (an action's line before it is done, and again with what it did), shows what
led to it.

The sequence of actions depends on the seed and, where runs and background loads finish at their
own pace, on timing: a seed replays the same choices while the application's state agrees.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QPoint, QSettings, QThreadPool, QTimer, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton, QApplication, QComboBox, QFileDialog, QLineEdit, QMenu, QMessageBox, QPlainTextEdit, QPushButton,
    QScrollBar, QTreeWidgetItemIterator, QWidget, QWizard,
)

from app import main_window
from app.gui import create_window
from tests.gui.driver import MIN_PLOT_HEIGHT, choose, click_tab, click_tree, press, pump, type_text, wait_until
from views.new_study_dialog import NewStudyDialog
from views.project_tree import KIND_ROLE

SMALLEST, LARGEST = (1280, 720), (1600, 1000)
SHORTCUTS = ("Ctrl+N", "Ctrl+R", "Ctrl+.", "Ctrl+P", "Ctrl+F", "Ctrl+S", "Ctrl+E", "Ctrl+0", "Esc")
MENUS = ("File", "Study", "Run", "View", "Help")
DELETED_WORDS = ("deleted", "destroyed", "dangling")  # Qt's words for an object used after its owner went
ACTION_HANG_S = 120  # an action that takes longer prints every thread's stack (and the run goes on)
BLOCKED_S = 5.0  # a dialog that keeps an action from returning this long (its own event loop) gets Esc
CHART_SETTLE_MS = 600  # a chart may be small for a moment while its layout catches up; not for longer
TYPED = ("fog", "cnn", "mlp contrast", "zzz", "", "0.5", "1.5", "-3", "3000000000", "a b", "é ü", "../x",
         "shift-study", "mini", "x" * 40, "7, 8", "0, 1, 2", "=", "[", "noise 5")
EDITOR_TEXT = ("# a note\n", "zzz", " = 1", "\n[data]\n", "seeds = [3]\n", "\"", "]", "\nnot_a_key = 3\n",
               "0", "\n")


def make_small_project(root: Path) -> Path:
    """Three tiny studies in ``root``: 'small' (shift) run to completion, 'fresh' (shift) never run (its own
    seed, so its models train when it runs: a few seconds, time to cancel and resume it), and 'tuned' (the
    fine-tuning kind's example) run, so the walk meets a second kind's Results page."""
    from engine import open_project
    from engine.kinds import get_kind
    from tests.conftest import write_study

    root.mkdir(parents=True, exist_ok=True)
    write_study(root, "small", corruptions=("gaussian_noise", "contrast"), severities=(1, 5))
    write_study(root, "fresh", corruptions=("fog", "pixelate"), severities=(1, 3, 5), seeds=(7,))
    (root / "tuned.study.toml").write_text(get_kind("finetune").example_study("tuned"))
    for name in ("small", "tuned"):
        result = open_project(root).run(name)
        if result.failed:
            raise RuntimeError(f"the monkey's project could not be prepared: {result.failed} cells of '{name}' failed")
    return root


# -- what is recorded ---------------------------------------------------------------------------


@dataclass
class MonkeyReport:
    seed: int
    actions: int
    actions_done: int = 0
    message_boxes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    qt_warnings: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    wall_s: float = 0.0


class Watch:
    """Uncaught Python exceptions and Qt's warnings, collected from the moment it is installed."""

    def __init__(self, report: MonkeyReport):
        self.report = report
        self.errors: list[str] = []

    def install(self) -> None:
        def excepthook(kind, value, tb) -> None:
            self.errors.append("".join(traceback.format_exception(kind, value, tb)))
            sys.__excepthook__(kind, value, tb)

        def thread_hook(args) -> None:
            text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
            self.errors.append(f"in thread {args.thread.name if args.thread else '?'}:\n{text}")
            sys.stderr.write(text)

        def qt_handler(kind, context, message) -> None:
            if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
                where = f" ({context.file}:{context.line})" if context.file else ""
                self.report.qt_warnings.append(message + where)
                sys.stderr.write(f"Qt: {message}{where}\n")
                if any(w in message.lower() for w in DELETED_WORDS):
                    self.errors.append(f"Qt warned about a deleted object: {message}{where}")

        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = excepthook
        threading.excepthook = thread_hook
        self._previous_qt = qInstallMessageHandler(qt_handler)

    def uninstall(self) -> None:
        """Put back the hooks that were there before (for a watch used inside a test)."""
        sys.excepthook, threading.excepthook = self._previous
        qInstallMessageHandler(self._previous_qt)

    def take(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors


# -- native dialogs replaced --------------------------------------------------------------------


class FileDialogs:
    """Stand-ins for QFileDialog's static functions: nothing (the person cancelled) or a path in the
    project copy, as a person would pick."""

    def __init__(self, rng: random.Random, project: Path, demo: Path, note: Callable[[str], None]):
        self.rng, self.project, self.demo, self.note = rng, project, demo, note
        self.exports = project / "exports"
        self.exports.mkdir(exist_ok=True)

    def install(self) -> None:
        QFileDialog.getExistingDirectory = staticmethod(self.existing_directory)
        QFileDialog.getSaveFileName = staticmethod(self.save_file_name)
        QFileDialog.getOpenFileName = staticmethod(self.open_file_name)

    def existing_directory(self, _parent=None, caption: str = "", _start: str = "", *_a, **_k) -> str:
        answer = self.rng.choice(["", str(self.project), str(self.demo), str(self.exports)])
        self.note(f"folder '{caption}' → {answer or 'cancelled'}")
        return answer

    def save_file_name(self, _parent=None, caption: str = "", suggested: str = "", filters: str = "", *_a, **_k):
        if self.rng.random() < 0.3:
            self.note(f"save '{caption}' → cancelled")
            return "", ""
        choices = [f for f in filters.split(";;") if f] or [""]
        chosen = self.rng.choice(choices)
        name = Path(suggested).name or "export"
        suffix = chosen[chosen.find("*.") + 1:chosen.find(")")] if "*." in chosen else Path(name).suffix
        path = self.exports / (Path(name).stem + suffix)
        self.note(f"save '{caption}' → {path}")
        return str(path), chosen

    def open_file_name(self, _parent=None, caption: str = "", *_a, **_k):
        answer = self.rng.choice(["", str(self.project / "data" / "points.csv"), str(self.project / "small.study.toml")])
        self.note(f"open '{caption}' → {answer or 'cancelled'}")
        return answer, ""


# -- the monkey ---------------------------------------------------------------------------------


class Monkey:
    """Chooses and performs actions on the window, answers what pops up, and checks after each."""

    def __init__(self, window: Any, seed: int, report: MonkeyReport, watch: Watch):
        self.window = window
        self.rng = random.Random(seed)  # what to do next
        self.answers = random.Random(seed + 1)  # what to pick in a popup menu
        self.report = report
        self.watch = watch
        self.quitting = False
        self._in_step = False  # an action has not returned yet
        self._modal_seen: float | None = None  # since when a dialog has been open during that action
        self._answerer = QTimer()
        self._answerer.setInterval(100)
        self._answerer.timeout.connect(self.answer_popups)
        self._answerer.start()
        window.runs.started.connect(lambda study: self.note(f"run of {study} started"))
        window.runs.ended.connect(lambda study, summary: self.note(
            f"run of {study} ended: {summary.status if summary is not None else 'error'}"))

    def stop(self) -> None:
        """Stop answering popups and message boxes."""
        self._answerer.stop()

    def note(self, text: str) -> None:
        """Something that happened by itself (a run ending, a box popping up): logged under the action."""
        self.report.log.append(f"    {text}")
        say(f"    {text}")

    def state(self) -> str:
        w = self.window
        tab = w.tabs.tabText(w.tabs.currentIndex()) if w.stack.currentWidget() is w.tabs else "start page"
        running = f", running {w.runs.study}" if w.runs.running else ""
        return f"[{tab}, {w.current_study}{running}, {current_theme()}]"

    # -- popups and message boxes: answered from a timer, also inside their own event loops --------

    def answer_popups(self) -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu):
            actions = [a for a in popup.actions() if a.isEnabled() and not a.isSeparator() and a.menu() is None]
            pick = self.answers.choice(actions) if actions and self.answers.random() < 0.7 else None
            popup.close()
            if pick is not None:
                self.note(f"popup menu → {pick.text()}")
                pick.trigger()
            return
        if popup is not None:
            popup.close()
            return
        modal = QApplication.activeModalWidget()
        if not self._in_step or modal is None or isinstance(modal, QMessageBox):
            self._modal_seen = None
        elif self._modal_seen is None:
            self._modal_seen = time.monotonic()
        elif time.monotonic() - self._modal_seen > BLOCKED_S:
            # open all along while one action has not returned: run in its own event loop (exec),
            # the walk cannot go on until it closes
            self.note(f"{type(modal).__name__} kept the action from returning for {BLOCKED_S:g} s: Esc")
            self._modal_seen = None
            QTest.keyClick(modal, Qt.Key.Key_Escape)
            return
        for w in QApplication.topLevelWidgets():
            if not isinstance(w, QMessageBox) or not w.isVisible():
                continue
            if not w.property("monkeySeen"):
                w.setProperty("monkeySeen", True)
                text = f"{w.windowTitle()}: {w.text().splitlines()[0] if w.text() else ''}"
                text = f"(quitting) {text}" if self.quitting else text
                self.report.message_boxes.append(text)
                self.note(f"message box: {text}")
            if self.quitting:  # closing the window: let the run be cancelled and unsaved text go
                for which in (QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Discard):
                    button = w.button(which)
                    if button is not None:
                        button.click()
                        return
            QTest.keyClick(w, Qt.Key.Key_Escape)
            if w.isVisible():
                w.reject()
            return

    # -- choosing -----------------------------------------------------------------------------------

    def choices(self) -> list[tuple[float, str, Callable[[], str]]]:
        """(weight, name, perform) for what a person could do now; perform returns what it did."""
        modal = QApplication.activeModalWidget()
        waits = [(2, "wait", self.wait)]
        if isinstance(modal, QWizard):
            return waits + [(3, "wizard next", self.wizard_next), (2, "wizard back", self.wizard_back),
                            (2, "wizard cancel", self.wizard_cancel), (1, "Esc", lambda: self.shortcut("Esc")),
                            (3, "wizard type", self.wizard_type), (3, "wizard click", self.wizard_click),
                            (1, "wizard save", self.wizard_save), (1, "shortcut", self.random_shortcut),
                            (1, "resize", self.resize)]
        if isinstance(modal, NewStudyDialog):  # New Study's first step: which kind of study
            return waits + [(3, "kind pick", lambda: self.kind_pick(modal)),
                            (3, "kind next", lambda: self.kind_next(modal)),
                            (1, "dialog cancel", lambda: self.dialog_close(modal))]
        if modal is not None:  # the new-project dialog (message boxes never wait for a choice)
            return waits + [(3, "dialog type", lambda: self.dialog_type(modal)),
                            (2, "dialog cancel", lambda: self.dialog_close(modal)),
                            (1, "dialog browse", lambda: self.dialog_browse(modal))]
        out = waits + [(3, "menu", self.menu), (3, "shortcut", self.random_shortcut), (4, "tab", self.tab),
                       (3, "tree", self.tree), (2, "theme", self.theme), (1, "resize", self.resize),
                       (1, "wizard open", lambda: self.shortcut("Ctrl+N")),
                       (3, "run", self.run), (1, "cancel", self.cancel), (1, "resume", self.resume)]
        tab = self.window.tabs.tabText(self.window.tabs.currentIndex())
        page = self.window.results_page
        if tab == "Results" and page is not None and page.results is not None and not hasattr(page, "family_combo"):
            out += [(3, "page combo", lambda: self.page_combo(page)), (1, "page scroll", lambda: self.page_scroll(page))]
        elif tab == "Results" and page is not None and page.results is not None:  # the shift kind's page
            out += [(2, "family", lambda: self.combo_keys(page.family_combo, "corruption")),
                    (2, "condition", lambda: self.combo_keys(page.condition_combo_chart, "reliability condition")),
                    (2, "metric", lambda: self.combo_keys(page.metric_combo, "metric")),
                    (2, "arm", self.arm_button), (2, "filter", self.filter_type),
                    (2, "compare", self.compare_combo), (1, "swap", self.swap),
                    (1, "chart export", self.chart_export)]
        if tab == "Report" and self.window.report_page.model() is not None:
            out += [(2, "report type", self.report_type), (2, "report item", self.report_item),
                    (1, "report export", self.report_export)]
        if tab == "Study":
            out += [(1, "text mode", self.text_mode), (2, "edit text", self.edit_text), (2, "discard", self.discard),
                    (1, "save button", self.save_button), (1, "add seed", self.add_seed)]
        return out

    def step(self, index: int) -> None:
        options = self.choices()
        weights = [w for w, _, _ in options]
        _, name, perform = self.rng.choices(options, weights=weights)[0]
        at = len(self.report.log)
        self.report.log.append(f"{index}: {name}")
        say(f"{index}: {name} …")  # said before it is done: a crash in it leaves this as the last line
        faulthandler.dump_traceback_later(ACTION_HANG_S, repeat=False)
        self._in_step = True
        try:
            did = perform()
        finally:
            self._in_step = False
            faulthandler.cancel_dump_traceback_later()
        self.report.log[at] = f"{index}: {did or name}  {self.state()}"
        say(self.report.log[at])
        pump(60)

    # -- checks -------------------------------------------------------------------------------------

    def check(self) -> list[str]:
        problems = self.watch.take()
        small = self.small_charts()
        if small:
            pump(CHART_SETTLE_MS)  # a layout may be catching up; a collapsed chart stays collapsed
            small = self.small_charts()
            if small:
                w = self.window
                problems.append(f"chart plot areas under {MIN_PLOT_HEIGHT} px on Results: {small} "
                                f"(window {w.width()}×{w.height()}, theme {current_theme()}, "
                                f"study {w.results_page.results.study if w.results_page.results else None})")
        return problems + self.watch.take()

    def small_charts(self) -> dict[str, int]:
        w = self.window
        if w.tabs.tabText(w.tabs.currentIndex()) != "Results" or not w.isVisible():
            return {}
        page = w.results_page
        results = page.results if page is not None else None
        if results is None or (results.accuracy.empty if hasattr(results, "accuracy") else results.empty):
            return {}
        out = {}
        for key, chart in getattr(page, "charts", {}).items():
            if chart.isVisible() and chart.plot is not None:
                height = chart.plot.getViewBox().sceneBoundingRect().height()
                if height < MIN_PLOT_HEIGHT:
                    out[key] = round(height)
        return out

    # -- the main window ------------------------------------------------------------------------

    def wait(self) -> str:
        ms = self.rng.choice((100, 300, 800, 1500))
        pump(ms)
        return f"wait {ms} ms"

    def menu_items(self) -> list[tuple[str, Any]]:
        items = []

        def walk(prefix: str, actions) -> None:
            for a in actions:
                if a.isSeparator() or not a.isEnabled() or a is self.window.act_quit:
                    continue
                text = a.text().replace("&", "").replace("…", "").strip()
                if a.menu() is not None:
                    a.menu().aboutToShow.emit()  # menus filled on demand (Open Recent) fill themselves
                    walk(f"{prefix}/{text}", a.menu().actions())
                else:
                    items.append((f"{prefix}/{text}", a))

        for top in self.window.menuBar().actions():
            name = top.text().replace("&", "")
            if name in MENUS:
                top.menu().aboutToShow.emit()
                walk(name, top.menu().actions())
        return items

    def menu(self) -> str:
        path, action = self.rng.choice(self.menu_items())
        action.trigger()
        pump(80)
        return f"menu {path}"

    def shortcut(self, keys: str) -> str:
        press(self.window, keys)
        return f"key {keys}"

    def random_shortcut(self) -> str:
        return self.shortcut(self.rng.choice(SHORTCUTS))

    def tab(self) -> str:
        bar = self.window.tabs.tabBar()
        name = bar.tabText(self.rng.randrange(bar.count()))
        click_tab(self.window, name)
        return f"tab {name}"

    def tree(self) -> str:
        tree = self.window.tree
        if not self.window.dock.isVisible():
            return "tree (project panel hidden: nothing to click)"
        rows = []
        for i in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(i)
            for j in range(top.childCount()):
                item = top.child(j)
                rows.append((item.data(0, KIND_ROLE), item.data(0, Qt.ItemDataRole.UserRole)))
        if not rows:
            return "tree (empty)"
        kind, key = self.rng.choice(rows)
        click_tree(self.window, kind, key)
        return f"tree {kind} {key}"

    def theme(self) -> str:
        name = self.rng.choice(("Light", "Dark", "System"))
        choose(self.window, f"View/Theme/{name}")
        return f"theme {name}"

    def resize(self) -> str:
        w = self.rng.randint(SMALLEST[0], LARGEST[0])
        h = self.rng.randint(SMALLEST[1], LARGEST[1])
        if self.rng.random() < 0.3:
            w, h = self.rng.choice((SMALLEST, LARGEST))
        self.window.resize(w, h)
        pump(100)
        return f"resize {w}×{h}"

    def run(self) -> str:
        how = self.rng.choice(("Ctrl+R", "button"))
        if how == "Ctrl+R":
            return self.shortcut("Ctrl+R")
        click_tab(self.window, "Study")
        button = self.window.study_page.run_button
        if not button.isEnabled():
            return f"run button (off: {button.toolTip()})"
        self.click(button)
        pump(80)
        return "run button"

    def cancel(self) -> str:
        if self.rng.random() < 0.5:
            return self.shortcut("Ctrl+.")
        click_tab(self.window, "Run")
        button = self.window.run_page.cancel_button
        if not button.isEnabled():
            return "cancel button (off)"
        self.click(button)
        return "cancel button"

    def resume(self) -> str:
        click_tab(self.window, "Run")
        button = self.window.run_page.resume_button
        if not button.isEnabled():
            return "resume button (off)"
        self.click(button)
        return "resume button"

    def click(self, widget: Any) -> None:
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=widget.rect().center())
        pump(60)

    # -- Results page ----------------------------------------------------------------------------

    def combo_keys(self, combo: Any, what: str) -> str:
        """Change a drop-down with the keyboard, as a person would (disabled rows are skipped)."""
        if not combo.isEnabled() or combo.count() == 0:
            return f"{what} (off)"
        combo.setFocus()
        key = self.rng.choice((Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_End, Qt.Key.Key_Home))
        for _ in range(self.rng.randint(1, 3)):
            QTest.keyClick(combo, key)
        pump(120)
        return f"{what} → {combo.currentText()}"

    def page_combo(self, page: Any) -> str:
        """Any drop-down of another kind's Results page (which chart set, which metric…)."""
        combos = self.page_widgets(page, (QComboBox,))
        if not combos:
            return "page combo (none)"
        combo = self.rng.choice(combos)
        return self.combo_keys(combo, combo.accessibleName() or combo.objectName() or "drop-down")

    def page_scroll(self, page: Any) -> str:
        bars = [b for b in page.findChildren(QScrollBar) if b.isVisible() and b.maximum() > 0]
        if not bars:
            return "page scroll (nothing to scroll)"
        bar = self.rng.choice(bars)
        bar.setValue(self.rng.randint(0, bar.maximum()))
        return f"page scroll to {bar.value()}/{bar.maximum()}"

    def kind_pick(self, dialog: Any) -> str:
        rows = dialog.list.count()
        dialog.list.setCurrentRow(self.rng.randrange(rows))
        return f"kind pick {dialog.kind()}"

    def kind_next(self, dialog: Any) -> str:
        kind = dialog.kind()
        self.click(dialog.next_button)
        pump(200)
        return f"kind next → {kind} wizard"

    def arm_button(self) -> str:
        page = self.window.results_page
        if not page.arm_buttons:
            return "arm (none)"
        arm = self.rng.choice(sorted(page.arm_buttons))
        self.click(page.arm_buttons[arm])
        return f"highlight {arm} → {page.highlighted}"

    def filter_type(self) -> str:
        edit = self.window.results_page.filter_edit
        edit.setFocus()
        edit.selectAll()
        text = self.rng.choice(TYPED)
        QTest.keyClick(edit, Qt.Key.Key_Backspace)
        type_text(edit, text)
        return f"filter '{text}' → {self.window.results_page.row_count.text()}"

    def compare_combo(self) -> str:
        page = self.window.results_page
        combo, what = self.rng.choice(((page.arm_a, "arm A"), (page.arm_b, "arm B"), (page.cmp_condition, "compare on")))
        return self.combo_keys(combo, what)

    def swap(self) -> str:
        self.click(self.window.results_page.swap_button)
        return "swap arms"

    def chart_export(self) -> str:
        page = self.window.results_page
        key = self.rng.choice(sorted(page.frames))
        actions = page.frames[key].export_button.menu().actions()
        action = self.rng.choice(actions)
        action.trigger()
        pump(100)
        return f"export {key} chart as {action.text()}"

    # -- Report page -----------------------------------------------------------------------------

    def report_type(self) -> str:
        page = self.window.report_page
        edit = self.rng.choice([page.title, page.author, page.introduction, page.comment])
        if not edit.isEnabled():
            return "report type (comment box off: no chart selected)"
        text = self.rng.choice(TYPED)
        edit.setFocus()
        if isinstance(edit, QPlainTextEdit):
            edit.moveCursor(edit.textCursor().MoveOperation.End)
        else:
            edit.end(False)
        type_text(edit, text)
        return f"report type {text!r} into {edit.placeholderText()!r}"

    def report_item(self) -> str:
        """Select a row of the report's contents; sometimes flip its tick box with the space bar."""
        tree = self.window.report_page.tree
        items = []
        it = QTreeWidgetItemIterator(tree)
        while it.value() is not None:
            items.append(it.value())
            it += 1
        if not items:
            return "report item (empty contents)"
        item = self.rng.choice(items)
        tree.scrollToItem(item)
        rect = tree.visualItemRect(item)
        QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center().x(), rect.center().y()))
        did = f"report select {item.text(0)!r}"
        if self.rng.random() < 0.5:
            QTest.keyClick(tree, Qt.Key.Key_Space)
            did += f", space → {item.checkState(0).name}"
        pump(100)
        return did

    def report_export(self) -> str:
        page = self.window.report_page
        fmt = self.rng.choice(sorted(page.buttons))
        button = page.buttons[fmt]
        if not button.isEnabled():
            return f"report export {fmt} (off)"
        self.click(button)
        return f"report export {fmt} → {page.status.text()[:80]!r}"

    # -- Study page ------------------------------------------------------------------------------

    def text_mode(self) -> str:
        page = self.window.study_page
        self.click(page.text_toggle)
        return f"study file view {'on' if page.text_mode() else 'off'}"

    def edit_text(self) -> str:
        page = self.window.study_page
        if not page.text_mode():
            self.click(page.text_toggle)
        editor = page.editor
        editor.setFocus()
        cursor = editor.textCursor()
        cursor.setPosition(self.rng.randint(0, max(0, len(editor.toPlainText()))))
        editor.setTextCursor(cursor)
        if self.rng.random() < 0.25:
            n = self.rng.randint(1, 8)
            for _ in range(n):
                QTest.keyClick(editor, Qt.Key.Key_Backspace)
            return f"study file: {n} backspaces at {cursor.position()}"
        text = self.rng.choice(EDITOR_TEXT)
        cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
        type_text(editor, text)
        return f"study file: typed {text!r}"

    def add_seed(self) -> str:
        """Give the study one more seed in its file and save (Ctrl+S): the next run has work to do."""
        page = self.window.study_page
        if not page.text_mode():
            self.click(page.text_toggle)
        text = page.editor.toPlainText()
        found = re.search(r"^seeds = \[([^\]\n]*)\]$", text, re.MULTILINE)
        if found is None:
            return "add a seed (no seeds line)"
        seed = self.rng.randint(10, 99)
        cursor = page.editor.textCursor()
        cursor.setPosition(found.start())
        cursor.setPosition(found.end(), QTextCursor.MoveMode.KeepAnchor)
        page.editor.setTextCursor(cursor)
        page.editor.setFocus()
        type_text(page.editor, f"seeds = [{found.group(1)}, {seed}]")
        press(self.window, "Ctrl+S")
        return f"add seed {seed} and Ctrl+S"

    def discard(self) -> str:
        button = self.window.study_page.revert_button
        if not button.isVisible():
            return "discard (nothing to discard)"
        self.click(button)
        return "discard changes"

    def save_button(self) -> str:
        button = self.window.study_page.save_button
        if not button.isEnabled():
            return f"save button (off: {button.toolTip()})"
        self.click(button)
        return "save button"

    # -- the wizard and other dialogs ------------------------------------------------------------

    def wizard(self) -> Any:
        return QApplication.activeModalWidget()

    def wizard_button(self, which: Any, name: str) -> str:
        button = self.wizard().button(which)
        if button is None or not button.isVisible() or not button.isEnabled():
            return f"wizard {name} (off)"
        self.click(button)
        return f"wizard {name}"

    def wizard_next(self) -> str:
        return self.wizard_button(QWizard.WizardButton.NextButton, "next")

    def wizard_back(self) -> str:
        return self.wizard_button(QWizard.WizardButton.BackButton, "back")

    def wizard_cancel(self) -> str:
        return self.wizard_button(QWizard.WizardButton.CancelButton, "cancel")

    def wizard_save(self) -> str:
        which = self.rng.choice(((QWizard.WizardButton.FinishButton, "save"),
                                 (QWizard.WizardButton.CustomButton1, "save and run")))
        return self.wizard_button(*which)

    def page_widgets(self, root: Any, kinds: tuple) -> list[Any]:
        return [w for w in root.findChildren(QWidget) if isinstance(w, kinds) and w.isVisible() and w.isEnabled()]

    def type_into(self, edits: list[Any], where: str) -> str:
        edits = [e for e in edits if not e.isReadOnly()]
        if not edits:
            return f"{where} type (no field)"
        edit = self.rng.choice(edits)
        text = self.rng.choice(TYPED)
        edit.setFocus()
        edit.selectAll()
        QTest.keyClick(edit, Qt.Key.Key_Backspace)
        type_text(edit, text)
        return f"{where} type {text!r} into {edit.accessibleName() or edit.objectName() or edit.placeholderText()!r}"

    def wizard_type(self) -> str:
        return self.type_into(self.page_widgets(self.wizard().currentPage(), (QLineEdit,)), "wizard")

    def wizard_click(self) -> str:
        """Tick a box, press a button or change a drop-down on the wizard's current page."""
        page = self.wizard().currentPage()
        widgets = self.page_widgets(page, (QAbstractButton, QComboBox))
        if not widgets:
            return "wizard click (nothing)"
        widget = self.rng.choice(widgets)
        if isinstance(widget, QComboBox):
            return "wizard " + self.combo_keys(widget, widget.accessibleName() or "drop-down")
        label = widget.text() or widget.accessibleName() or type(widget).__name__
        self.click(widget)
        return f"wizard click {label!r}"

    def dialog_type(self, dialog: Any) -> str:
        return self.type_into(self.page_widgets(dialog, (QLineEdit,)), type(dialog).__name__)

    def dialog_close(self, dialog: Any) -> str:
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        pump(60)
        return f"Esc on {type(dialog).__name__}"

    def dialog_browse(self, dialog: Any) -> str:
        buttons = [b for b in self.page_widgets(dialog, (QPushButton,)) if "Browse" in b.text()]
        if not buttons:
            return "browse (no button)"
        self.click(buttons[0])
        return f"browse on {type(dialog).__name__}"

    # -- the end ---------------------------------------------------------------------------------

    def quit(self) -> list[str]:
        """Close the window as a person would: agree to cancel a run and to lose unsaved text."""
        self.quitting = True
        for _ in range(5):  # the wizard or another dialog first (Esc), as a person would
            modal = QApplication.activeModalWidget()
            if modal is None:
                break
            self.dialog_close(modal)
        self.window.close()
        try:
            wait_until(lambda: not self.window.isVisible(), 90, "the window to close")
        except AssertionError as exc:
            return [str(exc)]
        pump(200)
        self.stop()
        QThreadPool.globalInstance().waitForDone(10000)  # background reads end before Qt objects go
        return self.watch.take()



def say(line: str) -> None:
    """One line of the walk on stdout as it happens, so that a crash's output shows what led to it."""
    print(line, flush=True)


def current_theme() -> str:
    return str(QApplication.instance().property("juxtaTheme"))


# -- the program --------------------------------------------------------------------------------


def prepare(project: Path, scratch: Path) -> tuple[Path, Path]:
    """Two copies of the project (one stands in for the demo) and a small table for the wizard."""
    copy, demo = scratch / "project", scratch / "demo"
    for target in (copy, demo):
        shutil.copytree(project, target, ignore=shutil.ignore_patterns("*.wal", "*.lock"))
    (copy / "data").mkdir(exist_ok=True)
    (copy / "data" / "points.csv").write_text("x1,x2,label\n" + "".join(
        f"{i % 7},{(i * 3) % 5},{'ab'[i % 2]}\n" for i in range(40)), encoding="utf-8")
    return copy, demo


def build_window(project: Path, demo: Path, settings_dir: Path, size: tuple[int, int]):
    """The real application over ``project``, its settings in ``settings_dir``."""

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(settings_dir))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(settings_dir / "system"))
    main_window.user_demo = lambda: demo  # "Open Demo Project" opens the second copy
    qapp, window = create_window(str(project))
    window.resize(*size)
    window.show()
    wait_until(window.isVisible, 30, "the window to show")
    window.activateWindow()  # a window manager would; Xvfb has none
    pump(200)
    return qapp, window


def fail(report: MonkeyReport, index: int, problems: list[str]) -> None:
    report.failures.extend(problems)
    print(f"\nMONKEY FAILED: seed {report.seed}, action {index} of {report.actions}", file=sys.stderr)
    for p in problems:
        print(f"--- {p}", file=sys.stderr)
    print("--- actions so far:", file=sys.stderr)
    for line in report.log:
        print(f"  {line}", file=sys.stderr)


def monkey_run(seed: int, actions: int, project: Path, scratch: Path) -> MonkeyReport:
    report = MonkeyReport(seed=seed, actions=actions)
    rng = random.Random(seed)
    copy, demo = prepare(project, scratch)
    watch = Watch(report)
    watch.install()
    size = (rng.randint(SMALLEST[0], LARGEST[0]), rng.randint(SMALLEST[1], LARGEST[1]))
    _qapp, window = build_window(copy, demo, scratch / "settings", size)
    monkey = Monkey(window, seed, report, watch)
    FileDialogs(random.Random(seed + 2), copy, demo, monkey.note).install()
    report.log.append(f"start: {copy} at {size[0]}×{size[1]}, theme {current_theme()}")
    say(report.log[-1])
    problems = monkey.check()
    if problems:
        fail(report, 0, problems)
        return report
    for index in range(1, actions + 1):
        try:
            monkey.step(index)
        except Exception:  # the monkey's own mistake, not the application's: said apart
            fail(report, index, ["the monkey itself raised (a bug in tests/gui/monkey.py):\n" + traceback.format_exc()])
            return report
        report.actions_done = index
        problems = monkey.check()
        if problems:
            fail(report, index, problems)
            return report
    report.log.append("quit")
    say("quit")
    problems = monkey.quit()
    if problems:
        fail(report, actions + 1, problems)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.gui.monkey", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--project", type=Path, required=True, help="a project folder (copied first; never changed)")
    parser.add_argument("--json", type=Path, help="write the report (actions, message boxes, failures) here")
    args = parser.parse_args(argv)
    if not any(args.project.glob("*.study.toml")):
        parser.error(f"{args.project} holds no *.study.toml: give a project folder")
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(name, "1")
    faulthandler.enable()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="juxta-monkey-", ignore_cleanup_errors=True) as scratch:
        report = monkey_run(args.seed, args.actions, args.project.resolve(), Path(scratch))
        report.wall_s = round(time.monotonic() - started, 1)
        if args.json:
            args.json.write_text(json.dumps(asdict(report), indent=1), encoding="utf-8")
        boxes = len(report.message_boxes)
        print(f"seed {report.seed}: {report.actions_done}/{report.actions} actions, {boxes} message box"
              f"{'es' if boxes != 1 else ''}, {len(report.qt_warnings)} Qt warnings, {report.wall_s} s, "
              f"{'FAILED' if report.failures else 'ok'}")
    sys.stdout.flush()
    if report.failures:  # said and written: leave without tearing down a window in a bad state
        sys.stderr.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

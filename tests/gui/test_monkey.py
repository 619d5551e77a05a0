"""The monkey test of issue 8: seeded random walks through the real window, each in its own process
on a real X server, must end without a crash, an uncaught exception, a Qt warning about a deleted
object or a collapsed chart. The checks the monkey relies on are tested here too, on a real window:
a monkey that could not see a failure would pass for nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, qWarning

from tests.conftest import needs_x_server
from tests.gui.driver import MIN_PLOT_HEIGHT, click_tab, click_tree, pump, wait_until
from tests.gui.monkey import Monkey, MonkeyReport, Watch, make_small_project

pytestmark = needs_x_server()

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (1, 2)
ACTIONS = 60
TIMEOUT_S = 240


@pytest.fixture(scope="module")
def monkey_project(tmp_path_factory) -> Path:
    """Two tiny studies: 'small' run to completion, 'fresh' never run."""
    return make_small_project(tmp_path_factory.mktemp("monkey") / "project")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_walk_ends_cleanly(seed, monkey_project, tmp_path):
    before = snapshot(monkey_project)
    out = tmp_path / "report.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "tests.gui.monkey", "--seed", str(seed), "--actions", str(ACTIONS),
             "--project", str(monkey_project), "--json", str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"seed {seed}: the monkey did not finish in {TIMEOUT_S} s\n{exc.stdout or ''}\n{exc.stderr or ''}")
    output = f"--- stdout\n{child.stdout}\n--- stderr\n{child.stderr[-20000:]}"
    assert child.returncode == 0, f"seed {seed}: exit status {child.returncode} (negative: killed by that signal)\n{output}"
    report = json.loads(out.read_text())
    assert report["actions_done"] == ACTIONS and not report["failures"], output
    assert snapshot(monkey_project) == before, "the monkey changed the project it was given (it must work on a copy)"


# -- the checks themselves ------------------------------------------------------------------------
# (pytest-qt's own capture of exceptions in slots is off for these: the monkey's hook must see them)


@pytest.fixture
def monkey(window):
    report = MonkeyReport(seed=0, actions=0)
    watch = Watch(report)
    watch.install()
    monkey = Monkey(window, 0, report, watch)
    yield monkey
    monkey.stop()
    watch.uninstall()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_a_failure(monkey):
    def broken_slot() -> None:
        raise ValueError("a slot went wrong")

    QTimer.singleShot(0, broken_slot)
    pump(100)
    problems = monkey.check()
    assert len(problems) == 1 and "ValueError: a slot went wrong" in problems[0]
    assert monkey.check() == []  # reported once


@pytest.mark.qt_no_exception_capture
def test_a_qt_warning_about_a_deleted_object_is_a_failure(monkey):
    qWarning("Internal C++ object (QLabel) already deleted.")
    qWarning("QWidget::setMinimumSize: (x) Negative sizes are not possible")  # other warnings are noted only
    problems = monkey.check()
    assert len(problems) == 1 and "already deleted" in problems[0]
    assert len(monkey.report.qt_warnings) == 2


@pytest.mark.qt_no_exception_capture
def test_a_collapsed_chart_is_a_failure(monkey, window, gui_project):
    assert window.open_project(gui_project)
    click_tree(window, "study", "mini")
    click_tab(window, "Results")
    page = window.results_page
    wait_until(lambda: page.results is not None and page.results.study == "mini", what="mini's results")
    pump(300)
    assert monkey.check() == []
    page.drop.setFixedHeight(MIN_PLOT_HEIGHT - 40)  # what the collapse looked like
    pump(300)
    problems = monkey.check()
    assert len(problems) == 1 and "'drop'" in problems[0] and "'severity'" not in problems[0]


@pytest.mark.qt_no_exception_capture
def test_message_boxes_are_dismissed_and_counted(monkey, window):
    window.show_message("Something the user must read.", error=True)
    wait_until(lambda: monkey.report.message_boxes, 5, "the box to be answered")
    pump(200)
    assert monkey.report.message_boxes == ["Juxta: Something the user must read."]
    from PySide6.QtWidgets import QApplication, QMessageBox

    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


# -- what the monkey found ------------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason="opening a project without studies leaves the last project's study on the "
                   "Study page, editable, and its Save button silently does nothing (app/main_window.py open_project)")
def test_a_project_without_studies_shows_no_study_of_the_last_project(window, gui_project, tmp_path):
    """Monkey seed 19 (File ▸ Open Project on an empty folder, then typing and Ctrl+S on the Study page)."""
    assert window.open_project(gui_project)
    click_tree(window, "study", "mini")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert window.open_project(empty)
    assert window.current_study is None
    page = window.study_page
    assert page.name() == "" and page.text() == "", f"the Study page still shows “{page.name()}” of the last project"


THEME_AFTER_REPORT = r'''
import faulthandler, gc, shutil, sys
from pathlib import Path
from PySide6.QtCore import QEvent, QObject, QSettings
from tests.gui.driver import choose, click_tab, pump, wait_until

faulthandler.enable()
project, scratch = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(project, scratch / "project")
QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(scratch / "settings"))
from app.gui import create_window
app, window = create_window(str(scratch / "project"))
window.resize(1280, 720)
window.show()
pump(300)
click_tab(window, "Report")  # the preview draws its charts offscreen
wait_until(lambda: window.report_page.model() is not None, 60, "the report")
pump(1500)
click_tab(window, "Run")


class CollectDuringRestyle(QObject):
    """Python's collector runs where it would run by itself: at an allocation in a Python event
    filter that Qt calls while it restyles every widget (the app's theme watchers are such filters)."""
    collected = False

    def eventFilter(self, _obj, event):
        if event.type() == QEvent.Type.StyleChange and gc.isenabled() and not self.collected:
            self.collected = True
            gc.collect()
        return False


watcher = CollectDuringRestyle()
app.installEventFilter(watcher)
choose(window, "View/Theme/Dark")
choose(window, "View/Theme/Light")
print("switched")
'''


@pytest.mark.xfail(strict=True, reason="segfault in QApplication.setStyleSheet (app/theme.py:34) when Python's "
                   "collector runs during a theme switch after the Report preview drew its charts: pyqtgraph's "
                   "parentless PlotItem.ctrlMenu QMenus of the offscreen charts (views/report_render.py "
                   "ReportRenderer._render, _dispose) live on in reference cycles and are freed mid-restyle")
def test_theme_switch_after_the_report_preview_survives_the_garbage_collector(monkey_project, tmp_path):
    """Monkey seeds 16, 19 and 21 (with theme switches weighted up): a segfault in set_theme some
    actions after the Report tab had been shown. Run in a child process: a segfault there is an exit
    status here, not the end of the test session."""
    child = subprocess.run([sys.executable, "-c", THEME_AFTER_REPORT, str(monkey_project), str(tmp_path)],
                           cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "xcb"}, capture_output=True, text=True,
                           timeout=180)
    assert child.returncode == 0 and "switched" in child.stdout, \
        f"exit status {child.returncode}\n{child.stdout}\n{child.stderr[-4000:]}"

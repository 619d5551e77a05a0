"""The real application on a real X server: a window per test over a copy of a small project whose
studies were run once per session. Any Qt warning about a deleted object, or an exception in a
slot, fails the test that caused it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QtMsgType, qInstallMessageHandler

from tests.conftest import write_study
from tests.gui.driver import close_dialogs, pump

# Qt messages that mean an object was used after its owner deleted it (or a paint went wrong)
BAD_MESSAGES = ("deleted", "destroyed", "dangling", "QPainter::begin", "Cannot create children", "already has a layout")


@pytest.fixture(scope="session")
def gui_project_template(tmp_path_factory) -> Path:
    """'mini' and 'second' run to completion; 'fresh' never run (it takes a few seconds to run)."""
    from engine import open_project

    root = tmp_path_factory.mktemp("gui") / "template"
    root.mkdir()
    write_study(root, "mini", corruptions=("gaussian_noise", "contrast"), severities=(1, 5))
    write_study(root, "second", corruptions=("fog",), severities=(2, 4), seeds=(0, 1))
    # its own seed: its models train when it runs (several seconds: time to watch a run live)
    write_study(root, "fresh", corruptions=("motion_blur", "pixelate", "zoom_blur"), severities=(1, 2, 3, 4, 5),
                seeds=(7, 8))
    project = open_project(root)
    for study in ("mini", "second"):
        assert project.run(study).failed == 0
    return root


@pytest.fixture
def gui_project(gui_project_template, tmp_path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(gui_project_template, target)
    return target


@pytest.fixture
def qt_messages():
    """Qt's warnings during the test; the test fails on any that says an object was deleted."""
    seen: list[str] = []

    def handler(kind, _context, message):
        if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            seen.append(message)

    previous = qInstallMessageHandler(handler)
    yield seen
    qInstallMessageHandler(previous)
    bad = [m for m in seen if any(b in m for b in BAD_MESSAGES)]
    assert not bad, "Qt warned:\n" + "\n".join(bad)


@pytest.fixture
def window(qtbot, tmp_path, qt_messages):
    from app import theme
    from app.main_window import MainWindow
    from app.settings import Settings
    from PySide6.QtWidgets import QApplication

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    theme.apply(QApplication.instance(), "light")
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()  # a window manager would; Xvfb has none
    pump(50)
    yield w
    close_dialogs()
    if w.runs.running:
        w.cancel_run()
        w.runs.bridge.wait(60)
    pump(100)
    theme.apply(QApplication.instance(), "light")

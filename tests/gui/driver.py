"""Drive the real window the way a person does: shortcuts, menus, tab and tree clicks, dialogs.

Waits go through an event loop (``QEventLoop.exec``), which lets background threads run; Qt's
``QTest.qWait`` holds the GIL and starves them, so it is never used here.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QMessageBox, QTabBar, QWidget

MIN_PLOT_HEIGHT = 150  # a chart's plot area is never smaller than this (px) on a 1280×720 window


def pump(ms: int = 50) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what or predicate}")
        pump(30)


def press(widget: QWidget, keys: str) -> None:
    """Type a shortcut (e.g. "Ctrl+N", "Esc") at the window that has it, as the keyboard would."""
    target = QApplication.activeModalWidget() or QApplication.focusWidget() or widget
    if QApplication.activeWindow() is None:  # no window manager on Xvfb gives the window focus
        target.window().activateWindow()
        pump(50)
    QTest.keySequence(target, QKeySequence(keys))
    pump(60)


def type_text(widget: QWidget, text: str) -> None:
    """Type ``text`` into ``widget`` key by key. QTest.keyClicks aborts the process (a Qt assertion)
    on a character outside printable ASCII: a line break and a tab are typed as their keys, other
    characters arrive as key events carrying their text, as an input method delivers them."""
    keys = {"\n": Qt.Key.Key_Return, "\t": Qt.Key.Key_Tab}
    for ch in text:
        if ch in keys:
            QTest.keyClick(widget, keys[ch])
            continue
        if ch.isascii() and ch.isprintable():
            QTest.keyClick(widget, ch)
            continue
        for kind in (QKeyEvent.Type.KeyPress, QKeyEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, ch))


def menu_action(window: QWidget, path: str) -> QAction:
    """The action at a menu path such as "View/Theme/Dark" (matched without '&' and '…')."""
    def clean(text: str) -> str:
        return text.replace("&", "").replace("…", "").strip()

    parts = path.split("/")
    actions = window.menuBar().actions()
    for i, part in enumerate(parts):
        match = next((a for a in actions if clean(a.text()) == part), None)
        if match is None:
            raise AssertionError(f"no menu item '{part}' in {[clean(a.text()) for a in actions]}")
        if i == len(parts) - 1:
            return match
        menu: QMenu = match.menu()
        menu.aboutToShow.emit()  # menus filled on demand (Open Recent) fill themselves
        actions = menu.actions()
    raise AssertionError(path)


def choose(window: QWidget, path: str) -> None:
    """Choose a menu item, as a click on it would."""
    action = menu_action(window, path)
    assert action.isEnabled(), f"menu item {path} is disabled"
    action.trigger()
    pump(80)


def click_tab(window, name: str) -> None:
    bar: QTabBar = window.tabs.tabBar()
    index = next(i for i in range(bar.count()) if bar.tabText(i) == name)
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    pump(80)


def click_tree(window, kind: str, key: str) -> None:
    """Click a study, model or dataset row of the project tree."""
    tree = window.tree
    item = tree.item_for(kind, key)
    assert item is not None, f"no {kind} {key} in the tree"
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 12, rect.center().y()))
    pump(80)


def modal() -> QWidget | None:
    return QApplication.activeModalWidget()


def close_dialogs() -> int:
    """Dismiss every open dialog and message box (Esc, then reject); returns how many."""
    n = 0
    for w in QApplication.topLevelWidgets():
        if isinstance(w, (QDialog, QMessageBox)) and w.isVisible():
            w.reject()
            n += 1
    pump(50)
    return n


def chart_heights(window) -> dict[str, float]:
    """Plot-area height (px) of every chart on the Results page (0 when a chart shows only a message)."""
    page = window.results_page
    out = {}
    for key, chart in page.charts.items():
        out[key] = chart.plot.getViewBox().sceneBoundingRect().height() if chart.plot is not None else 0.0
    return out

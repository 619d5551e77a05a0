"""Start the desktop application (QApplication, theme, main window)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def create_window(project: str | None = None, *, open_last: bool = True):
    """Build the application and its main window (tests and the launcher share this)."""
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.main_window import DEMO, MainWindow
    from app.settings import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Juxta")
    app.setOrganizationName("Juxta")
    settings = Settings()
    theme.apply(app, settings.theme())
    window = MainWindow(settings)
    target = project or (settings.last_project() if open_last else None)
    if target is None and open_last and not settings.recent_projects():
        target = str(DEMO)  # first start: open the demo
    if target:
        window.open_project(Path(target))
    return app, window


def launch(project: str | None = None) -> int:
    if not has_display():
        print("No display found. Use the command line instead: juxta run | results | status (see juxta --help).",
              file=sys.stderr)
        return 2
    app, window = create_window(project)
    window.show()
    return app.exec()

"""Start the desktop application (QApplication, theme, main window)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SHIPPED_DEMO = Path(__file__).resolve().parents[1] / "projects" / "digits-demo"


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def user_demo(home: Path | None = None) -> Path:
    """A copy of the shipped demo in the user's own folder (``~/Juxta/digits-demo``), made on first
    use: runs write results into the project, and the shipped copy may be read-only or inside the
    installed package. Only the study files are copied; an existing copy is left as it is."""
    target = (home or Path.home()) / "Juxta" / SHIPPED_DEMO.name
    if not target.exists():
        target.mkdir(parents=True)
        from engine.core.header import study_files

        for study in study_files(SHIPPED_DEMO):
            shutil.copy2(study, target / study.name)
    return target


def create_window(project: str | None = None, *, open_last: bool = True):
    """Build the application and its main window (tests and the launcher share this)."""
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.main_window import MainWindow
    from app.settings import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Juxta")
    app.setOrganizationName("Juxta")
    settings = Settings()
    theme.apply(app, settings.theme())
    window = MainWindow(settings)
    target = project or (settings.last_project() if open_last else None)
    if target is None and open_last and not settings.recent_projects():
        target = str(user_demo())  # first start: open the user's copy of the demo
    if target:
        window.open_project(Path(target))
    return app, window


def launch(project: str | None = None) -> int:
    if not has_display():
        print("No display found. Use the command line instead: juxta run | results | status (see juxta --help).",
              file=sys.stderr)
        return 2
    if os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb" and not os.environ.get("WAYLAND_DISPLAY"):
        from app.system_check import instruction, missing_libraries, packages_for

        missing = missing_libraries()
        if missing:  # said before Qt starts: Qt itself would abort with a misleading message
            print(instruction(packages_for(missing)), file=sys.stderr)
            return 2
    app, window = create_window(project)
    window.show()
    code = app.exec()
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(5000)  # background reads finish before Qt objects go
    return code

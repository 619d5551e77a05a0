"""Walk the app to each screen and save screenshots to docs/screenshots/ (used in the README).

Runs under Xvfb (`xvfb-run -a python scripts/screenshots.py`) or offscreen
(`QT_QPA_PLATFORM=offscreen python scripts/screenshots.py`). It uses a temporary copy of the demo
with a reduced study so the Run page can be caught mid-run; the Results page shows the real demo
results when `projects/digits-demo/juxta.duckdb` exists (run the demo first).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    import tomlkit
    from PySide6.QtCore import QSettings

    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp())
    from app.gui import create_window
    from app.settings import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    app, window = create_window(None, open_last=False)
    window.settings = Settings(QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat))
    window.resize(1400, 900)
    window.show()
    window.start_page.set_recent([str(ROOT / "projects" / "digits-demo")])
    window.stack.setCurrentWidget(window.start_page)
    window.dock.hide()
    pump(app, 0.5)
    window.grab().save(str(OUT / "app-start.png"))

    window.open_project(ROOT / "projects" / "digits-demo")
    window.tabs.setCurrentWidget(window.study_page)
    pump(app, 1.0)
    window.grab().save(str(OUT / "app-study.png"))
    window.tabs.setCurrentWidget(window._results_holder)
    deadline = time.monotonic() + 60
    while window.results_page.results is None and time.monotonic() < deadline:
        pump(app, 0.2)
    pump(app, 0.5)
    window.grab().save(str(OUT / "app-results.png"))

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "digits-demo"
        project.mkdir()
        doc = tomlkit.parse((ROOT / "projects/digits-demo/robustness.study.toml").read_text())
        doc["study"]["seeds"] = [0, 1]
        for m in doc["models"]:
            m["train"] = {"epochs": 3}
        (project / "robustness.study.toml").write_text(tomlkit.dumps(doc))
        window.open_project(project)
        window.run_study("robustness")
        while window.bridge.running and window.run_page.progress.value() < 40:
            pump(app, 0.2)
        pump(app, 0.3)
        window.grab().save(str(OUT / "app-run.png"))
        window.cancel_run()
        window.bridge.wait(60)
        pump(app, 0.5)
        window.grab().save(str(OUT / "app-run-cancelled.png"))
        shutil.rmtree(project, ignore_errors=True)
    window.open_project(ROOT / "projects" / "digits-demo")
    window.report()
    deadline = time.monotonic() + 60
    while window.report_page.model() is None and time.monotonic() < deadline:
        pump(app, 0.2)
    pump(app, 1.0)
    window.grab().save(str(OUT / "app-report.png"))
    print("saved", sorted(p.name for p in OUT.glob("app-*.png")))


if __name__ == "__main__":
    main()

"""Walk the real window to every page and save screenshots in light and dark, at 1280×720 and
1600×1000, to docs/screenshots/app-<page>-<theme>-<size>.png (the README links some of them).

    xvfb-run -a .venv/bin/python scripts/screenshots.py --project PATH_WITH_RESULTS

``--project`` is a copy of the demo that has been run (``juxta run``), so Results and Report show real
numbers; a second, throw-away copy is run briefly so the Run page is caught mid-run. The study
wizard's pages are shot by scripts/shot_wizard.py, report pages by scripts/shot_report.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
SIZES = ((1280, 720), (1600, 1000))
THEMES = ("light", "dark")


def wait(ms: int) -> None:
    """Let the event loop (and background threads) run: never QTest.qWait, which holds the GIL."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not predicate() and time.monotonic() < end:
        wait(100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a project with results (a run copy of the demo)")
    args = parser.parse_args()
    from PySide6.QtCore import QSettings

    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp())
    from app import theme
    from app.gui import create_window
    from app.settings import Settings
    from engine.core.header import study_files
    from engine.core.store import DB_NAME

    OUT.mkdir(parents=True, exist_ok=True)
    app, window = create_window(None, open_last=False)
    window.settings = Settings(QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat))
    window.show()
    window.activateWindow()
    saved: list[str] = []

    def shot(page: str, name: str, size: tuple[int, int]) -> None:
        wait(400)
        path = OUT / f"app-{page}-{name}-{size[0]}x{size[1]}.png"
        window.grab().save(str(path))
        saved.append(path.name)

    import tomlkit

    run_copy = Path(tempfile.mkdtemp()) / "digits-demo"  # quick to train: the Run page is caught mid-run
    run_copy.mkdir()
    for study in (p for p in study_files(args.project) if p.name == "robustness.study.toml"):
        doc = tomlkit.parse(study.read_text(encoding="utf-8"))
        for m in doc.get("models", []):
            m["train"] = {"epochs": 2}
        (run_copy / study.name).write_text(tomlkit.dumps(doc), encoding="utf-8")
    for size in SIZES:
        window.resize(*size)
        for name in THEMES:
            theme.apply(app, name)
            window.start_page.set_recent([str(args.project)])
            window.project = None
            window.stack.setCurrentWidget(window.start_page)
            window.dock.hide()
            shot("start", name, size)
            if not window.open_project(args.project):
                raise SystemExit(f"could not open {args.project}: {window.status_text.text()}")
            studies = list(window.project.study_paths())
            first = "robustness" if "robustness" in studies else studies[0]
            window.tree.select_study(first)
            window.show_tab("Study")
            shot("study", name, size)
            window.study_page.set_text_mode(True)
            shot("study-file", name, size)
            window.study_page.set_text_mode(False)
            window.tree.setCurrentItem(window.tree.item_for("model", window.summary.models[0].source))
            wait_until(lambda: any(k == "Parameters" for k, _ in window.details.rows), 60)
            window.show_tab("Results")
            wait_until(lambda: window.results_page.results is not None, 120)
            shot("results", name, size)
            bar = window.results_page.scroll_area.verticalScrollBar()
            bar.setValue(bar.maximum())
            shot("results-bottom", name, size)
            bar.setValue(0)
            for other in (s for s in ("adapt", "merge") if s in studies):  # the other kinds' Results pages
                window.tree.select_study(other)
                window.show_tab("Results")
                wait_until(lambda: window.results_page is not None and window.results_page.results is not None, 120)
                shot(f"results-{other}", name, size)
            window.tree.select_study(first)
            window.report()
            wait_until(lambda: window.report_page.model() is not None, 120)
            wait(1500)
            shot("report", name, size)
            (run_copy / DB_NAME).unlink(missing_ok=True)
            window.open_project(run_copy)
            window.tree.select_study(first)
            window.run_study(first)
            wait_until(lambda: window.runs.info is None or window.runs.info.done >= 30, 300)
            shot("run", name, size)
            window.cancel_run()
            wait_until(lambda: not window.runs.running, 120)
            if window.runs.running:
                raise SystemExit(f"the run did not stop 120 s after Cancel: {window.run_page.title.text()}")
    theme.apply(app, "light")
    print("saved", len(saved), "screenshots:", ", ".join(saved))


if __name__ == "__main__":
    main()

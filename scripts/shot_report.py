"""Images of the report for a person to look at: the PDF's pages, and the app's Report and Study pages.

By default writes the demo's report PDF (to a temporary folder, or --pdf PATH), then runs
``pdftoppm -png -r 60`` into ``docs/screenshots/report-page-N.png`` (old page images are removed
first). Needs poppler-utils (``apt-get install poppler-utils`` / ``brew install poppler``) and the
demo's results (``juxta run projects/digits-demo``; ``--project`` names another project).

``--app`` grabs the app's Report page instead (with the demo's title-page notes and a chart
comment) at 1280×720 in the light and dark themes: ``app-report[-dark].png`` (the top: title page,
findings, scorecard) and ``app-report-chart[-dark].png`` (the commented chart).
``--study`` grabs the Study page (the demo study: its summary, then its study file with one problem
marked) in both themes: ``study-page[-dark].png``, ``study-file[-dark].png``. Run these under a real
X server to see the fonts a person sees (``DISPLAY=:99 QT_QPA_PLATFORM=xcb``).

    QT_QPA_PLATFORM=offscreen python scripts/shot_report.py [--dpi 60] [--pdf out.pdf]
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python scripts/shot_report.py --app --study [--project PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE = (1280, 720)
THEMES = (("light", ""), ("dark", "-dark"))

DEMO_OPTIONS = {
    "author": "Juxta demo · model review",
    "introduction": "Three small handwritten-digit classifiers were tested on clean scans and on scans damaged by noise, "
                    "blur, rotation, fog and changing class mixes. This report says which model to trust under which "
                    "conditions, and how sure we can be.",
    "comments": {"robustness": {"severity:contrast": "The CNN collapses as soon as contrast drops; the MLP barely notices. "
                                                     "Worth checking before deploying on faded scans."}},
}


def _spin(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def shoot_app_report(project: str, out_dir: Path) -> None:
    """The Report page with the demo's notes, its commented chart selected, in both themes."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.report import build_model
    from views.report_page import ReportPage
    from views.report_render import slugify

    app = QApplication.instance() or QApplication([])
    model = build_model(project)
    chart = next(iter(DEMO_OPTIONS["comments"]["robustness"]))
    for name, suffix in THEMES:
        theme.apply(app, name)
        page = ReportPage()
        page.resize(*SIZE)
        page.show()
        page.set_notes(DEMO_OPTIONS)
        page.set_model(model)
        study = page.tree.topLevelItem(0)
        charts = study.child(0)
        for i in range(charts.childCount()):
            if charts.child(i).data(0, Qt.ItemDataRole.UserRole)[2] == chart:  # the commented one: its box shows
                page.tree.setCurrentItem(charts.child(i))
        page.refresh_preview()
        _spin(app, 0.5)
        page.grab().save(str(out_dir / f"app-report{suffix}.png"))
        page.preview.scrollToAnchor(f"fig-{slugify('robustness-' + chart.replace(':', '-'))}")
        _spin(app, 0.3)
        page.grab().save(str(out_dir / f"app-report-chart{suffix}.png"))
        page.close()
        page.deleteLater()
        _spin(app, 0.2)
    theme.apply(app, "light")
    print(f"app-report.png, app-report-chart.png and their -dark variants → {out_dir}")


def shoot_study_page(out_dir: Path) -> None:
    """The demo study's summary and its study file (one problem marked), in both themes."""
    from PySide6.QtWidgets import QApplication

    from app import theme
    from engine.core.errors import StudyFileError
    from engine.kinds import parse_study_text
    from views.providers import StudyProviders
    from views.study_page import StudyPage

    def validate(text: str) -> list[str]:
        try:
            parse_study_text(text, "robustness.study.toml")
        except StudyFileError as exc:
            return list(exc.problems)
        return []

    def unused(*_args):
        raise RuntimeError("the study page only validates")

    app = QApplication.instance() or QApplication([])
    text = (ROOT / "projects" / "digits-demo" / "robustness.study.toml").read_text(encoding="utf-8")
    providers = StudyProviders(unused, unused, unused, unused, unused, validate, lambda: str(ROOT))
    for name, suffix in THEMES:
        theme.apply(app, name)
        page = StudyPage(providers)
        page.resize(*SIZE)
        page.show()
        page.set_study("robustness", text)
        _spin(app, 0.4)
        page.grab().save(str(out_dir / f"study-page{suffix}.png"))
        page.set_text_mode(True)
        page.editor.setPlainText(text.replace("severities = [1, 2, 3, 4, 5]", "severities = [1, 2, 6]"))
        page.validate_now()
        _spin(app, 0.4)
        page.grab().save(str(out_dir / f"study-file{suffix}.png"))
        page.close()
        page.deleteLater()
        _spin(app, 0.2)
    theme.apply(app, "light")
    print(f"study-page.png, study-file.png and their -dark variants → {out_dir}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", default=str(ROOT / "projects" / "digits-demo"))
    ap.add_argument("--dpi", type=int, default=60)
    ap.add_argument("--pdf", help="also keep the PDF here")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--app", action="store_true", help="grab the app's Report page (light and dark) instead of the PDF")
    ap.add_argument("--study", action="store_true", help="grab the Study page (light and dark) instead of the PDF")
    args = ap.parse_args()
    if args.app or args.study:
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        if args.app:
            shoot_app_report(args.project, out_dir)
        if args.study:
            shoot_study_page(out_dir)
        return 0
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found: install poppler-utils (apt-get install poppler-utils, brew install poppler).")
        return 2
    from app.report import write_report

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="juxta-shot-") as tmp:
        pdf = Path(args.pdf).resolve() if args.pdf else Path(tmp) / "report.pdf"
        [written] = write_report(args.project, "pdf", str(pdf), options=DEMO_OPTIONS, overwrite=True)
        for old in out_dir.glob("report-page-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", str(args.dpi), str(written), str(Path(tmp) / "page")], check=True)
        pages = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
        for i, page in enumerate(pages, start=1):
            shutil.copyfile(page, out_dir / f"report-page-{i}.png")
    print(f"{len(pages)} pages → {out_dir}/report-page-1.png … report-page-{len(pages)}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

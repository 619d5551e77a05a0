"""Screenshot of the Results page on the demo project (light and dark): docs/screenshots/results*.png.

    QT_QPA_PLATFORM=offscreen python scripts/shot_results.py [--theme light|dark|both]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6 import QtGui, QtWidgets  # noqa: E402


def dark_palette() -> QtGui.QPalette:
    p = QtGui.QPalette()
    c = QtGui.QColor
    roles = QtGui.QPalette.ColorRole
    for role, color in (
        (roles.Window, "#16181D"), (roles.WindowText, "#E6EDF3"), (roles.Base, "#1E2127"),
        (roles.AlternateBase, "#23272E"), (roles.Text, "#E6EDF3"), (roles.Button, "#262A31"),
        (roles.ButtonText, "#E6EDF3"), (roles.Highlight, "#1F6FEB"), (roles.HighlightedText, "#FFFFFF"),
        (roles.ToolTipBase, "#262A31"), (roles.ToolTipText, "#E6EDF3"), (roles.PlaceholderText, "#7D8590"),
        (roles.Mid, "#30363D"), (roles.Midlight, "#30363D"), (roles.Dark, "#0D1117"),
    ):
        p.setColor(role, c(color))
    return p


def light_palette() -> QtGui.QPalette:
    p = QtWidgets.QApplication.style().standardPalette()
    p.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("#F6F8FA"))
    p.setColor(QtGui.QPalette.ColorRole.AlternateBase, QtGui.QColor("#F6F8FA"))
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--theme", default="both", choices=["light", "dark", "both"])
    ap.add_argument("--db", default=str(ROOT / "projects/digits-demo/juxta.duckdb"))
    ap.add_argument("--study", default="robustness")
    ap.add_argument("--out", default=str(ROOT / "docs/screenshots"))
    args = ap.parse_args()

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    app.setStyle("Fusion")
    font = app.font()
    font.setPointSizeF(9.5)
    app.setFont(font)

    from engine.kinds.shift.results import compare_arms, load_shift_results
    from engine.core.store import Store
    from views.kinds.shift.results_page import ResultsPage

    for attempt in range(20):  # another process may hold the write lock for a moment
        try:
            store = Store(args.db, read_only=True)
            break
        except Exception:
            time.sleep(1)
    else:
        raise SystemExit(f"cannot open {args.db}")
    results = load_shift_results(store, args.study)

    def compare(a: str, b: str, condition: str):
        return compare_arms(store, args.study, a, b, condition)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    themes = ["light", "dark"] if args.theme == "both" else [args.theme]
    for theme in themes:
        app.setPalette(dark_palette() if theme == "dark" else light_palette())
        page = ResultsPage(theme=theme)
        page.resize(1400, 900)
        page.set_results(results, compare)
        page.show()
        page.cmp_condition.set_condition("contrast/5")
        page.compare_now()
        deadline = time.time() + 20
        while "noise" not in page.compare_text and time.time() < deadline:
            app.processEvents()
            time.sleep(0.02)
        page.highlight_arm("mlp")
        for _ in range(5):
            app.processEvents()
        name = "results.png" if theme == "light" else "results-dark.png"
        page.grab().save(str(out / name))
        print("wrote", out / name)
        page.close()
        page.deleteLater()
        app.processEvents()
    store.close()


if __name__ == "__main__":
    main()

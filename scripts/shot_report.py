"""Render the demo project's report PDF to page images for a person to look at.

Writes the PDF (to a temporary folder, or --pdf PATH), then runs ``pdftoppm -png -r 60`` into
``docs/screenshots/report-page-N.png`` (old page images are removed first). Needs poppler-utils
(``apt-get install poppler-utils`` / ``brew install poppler``) and the demo's results
(``juxta run projects/digits-demo``).

    QT_QPA_PLATFORM=offscreen python scripts/shot_report.py [--dpi 60] [--pdf out.pdf]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO_OPTIONS = {
    "author": "Juxta demo · model review",
    "introduction": "Three small handwritten-digit classifiers were tested on clean scans and on scans damaged by noise, "
                    "blur, rotation, fog and changing class mixes. This report says which model to trust under which "
                    "conditions, and how sure we can be.",
    "comments": {"robustness": {"severity:contrast": "The CNN collapses as soon as contrast drops; the MLP barely notices. "
                                                     "Worth checking before deploying on faded scans."}},
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", default=str(ROOT / "projects" / "digits-demo"))
    ap.add_argument("--dpi", type=int, default=60)
    ap.add_argument("--pdf", help="also keep the PDF here")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
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

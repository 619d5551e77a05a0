"""The stakeholder report of the whole demo project, in all three formats.

Target: model built from the database, charts drawn, and the folder, the single HTML file and the
PDF written in ≤ 10 s in total (charts are drawn once and shared by the three formats).
Baseline (same run, same charts): what any report must at least do — read the results
(``load_shift_results``) and export the same charts to PNG with ``views.charts.export_png``.
Prints absolute times per stage and the ratio report / baseline. Writes only into a temporary folder.

    QT_QPA_PLATFORM=offscreen python bench/bench_report.py [--project projects/digits-demo]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", default=str(ROOT / "projects" / "digits-demo"))
    args = ap.parse_args()

    from engine import open_project
    from engine.kinds.shift.results import load_shift_results
    from engine.report.model import build_report
    from views import charts as C
    from views.report_render import ReportRenderer, chart_size, draw_chart, ensure_qapp

    project = open_project(args.project)
    if not project.db_path.exists():
        raise SystemExit(f"{project.root} has no results; run first: juxta run {args.project}")
    ensure_qapp()

    with project.store(read_only=True) as store:  # warm-up (file cache, numpy, duckdb), not timed
        for name in project.study_paths():
            load_shift_results(store, name, n_resamples=10)

    with tempfile.TemporaryDirectory(prefix="juxta-bench-report-") as tmp:
        tmp = Path(tmp)
        # -- the report: model, charts, three formats --------------------------------------------
        t0 = time.perf_counter()
        model = build_report(project)
        t_model = time.perf_counter() - t0
        t1 = time.perf_counter()
        renderer = ReportRenderer(model)
        figures = renderer.figures()
        t_charts = time.perf_counter() - t1
        times = {}
        for fmt, out in (("folder", tmp / "folder"), ("html", tmp / "report.html"), ("pdf", tmp / "report.pdf")):
            t = time.perf_counter()
            renderer.write(fmt, out)
            times[fmt] = time.perf_counter() - t
        total = time.perf_counter() - t0
        pages = _pages(tmp / "report.pdf")
        sizes = {"html": (tmp / "report.html").stat().st_size, "pdf": (tmp / "report.pdf").stat().st_size,
                 "folder": sum(p.stat().st_size for p in (tmp / "folder").rglob("*") if p.is_file())}

        # -- baseline: read the results and export the same charts to PNG -------------------------
        b0 = time.perf_counter()
        with project.store(read_only=True) as store:
            results = {s.name: load_shift_results(store, s.name, n_resamples=s.n_resamples) for s in model.included_studies}
        b_load = time.perf_counter() - b0
        for section, chart, fig in figures:
            w, h = chart_size(chart, section.kind)
            widget = draw_chart(SimpleNamespace(results=results[section.name], kind=section.kind), chart)
            C.export_png(widget, tmp / f"base-{fig.slug}.png", width=int(2 * w), size=(w, h))
        baseline = time.perf_counter() - b0

    n_charts = len(figures)
    print(f"project: {project.root.name} · studies: {', '.join(s.name for s in model.included_studies)} · "
          f"{n_charts} charts · PDF {pages} pages")
    print(f"report model (database → findings, tables)  {t_model:6.2f} s")
    print(f"charts ({n_charts}, PNG + SVG, drawn once)          {t_charts:6.2f} s")
    print(f"folder (index.html, figures, csv, manifest)  {times['folder']:6.2f} s   {sizes['folder'] / 1e6:.1f} MB")
    print(f"single HTML                                  {times['html']:6.2f} s   {sizes['html'] / 1e6:.1f} MB")
    print(f"PDF                                          {times['pdf']:6.2f} s   {sizes['pdf'] / 1e6:.1f} MB")
    print(f"all three formats                            {total:6.2f} s   (target ≤ 10 s: {'met' if total <= 10 else 'MISSED'})")
    print(f"baseline: load_shift_results {b_load:.2f} s + the same {n_charts} charts to PNG = {baseline:.2f} s")
    print(f"report / baseline = {total / baseline:.1f}x")


def _pages(path: Path) -> int:
    try:
        from pypdf import PdfReader

        return len(PdfReader(str(path)).pages)
    except Exception:
        return -1


if __name__ == "__main__":
    main()

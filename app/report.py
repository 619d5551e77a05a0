"""Writing reports from the command line and the app: output paths, then model → renderer → files.

Output path rules (docs/reports.md):

* no path: ``PROJECT/reports/<YYYYmmdd-HHMMSS>-report/`` (folder), ``…-report.html`` or ``…-report.pdf``;
* a relative path resolves inside the project folder; one that would leave it (``../x``, or a
  symlink out of the project) is refused with a plain message;
* an absolute path is the user's explicit choice (a save dialog, ``--out /somewhere``) and is used
  as given, inside or outside the project;
* HTML/PDF: a folder (existing, or given with a trailing slash) gets ``report.html``/``report.pdf``
  inside it; a missing suffix is added. An existing file is replaced only with ``overwrite=True``
  (the app's save dialog has already asked; the CLI needs ``--overwrite``);
* folder: the folder must be new or empty, or hold an earlier Juxta report (its manifest lists the
  files, which are replaced; nothing else in the folder is touched). Juxta writes nothing outside it.

Charts are drawn with Qt (offscreen), so rendering runs on the thread that owns the QApplication;
``engine.report.build_report`` (database work only) may run anywhere.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.errors import JuxtaError

FORMATS = ("folder", "html", "pdf")
SUFFIX = {"html": ".html", "pdf": ".pdf"}


def _project(project: Any):
    if isinstance(project, (str, Path)):
        from engine import open_project

        return open_project(project)
    return project


def default_output(root: Path, fmt: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / "reports"
    name = f"{stamp}-report" + SUFFIX.get(fmt, "")
    candidate, i = base / name, 2
    while candidate.exists():
        candidate = base / (f"{stamp}-report-{i}" + SUFFIX.get(fmt, ""))
        i += 1
    return candidate


def resolve_output(root: Path, fmt: str, out: str | Path | None = None, *, overwrite: bool = False,
                   now: datetime | None = None) -> Path:
    """Where a report of ``fmt`` goes, following the rules in the module docstring."""
    if fmt not in FORMATS:
        raise JuxtaError(f"Unknown report format '{fmt}'; use one of {', '.join(FORMATS)}.")
    root = Path(root).resolve()
    if out is None or str(out).strip() == "":
        return default_output(root, fmt, now)
    text = str(out)
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = root / p
        if not p.resolve().is_relative_to(root):
            raise JuxtaError(
                f"The report path '{text}' leads outside the project {root}. Relative paths stay inside the project; "
                "give an absolute path if you really mean a place outside it."
            )
    as_dir = text.endswith(("/", os.sep)) or p.is_dir()
    if fmt in SUFFIX:
        if as_dir:
            p = p / f"report{SUFFIX[fmt]}"
        elif p.suffix.lower() not in ({".html", ".htm"} if fmt == "html" else {".pdf"}):
            p = p.with_name(p.name + SUFFIX[fmt])
        if p.exists():
            if not p.is_file():
                raise JuxtaError(f"Cannot write the report to {p}: something that is not a file is in the way.")
            if not overwrite:
                raise JuxtaError(f"{p} already exists; choose another name or overwrite it (juxta report … --overwrite).")
        return p
    # folder
    if p.exists() and not p.is_dir():
        raise JuxtaError(f"Cannot write a report folder at {p}: a file of that name exists.")
    if p.resolve() == root:
        raise JuxtaError("Choose a folder for the report, not the project folder itself.")
    if p.is_dir() and any(p.iterdir()) and not _is_report_folder(p):
        raise JuxtaError(f"The folder {p} is not empty; choose a new or empty folder (Juxta only replaces an earlier "
                         "Juxta report folder).")
    return p


def _is_report_folder(folder: Path) -> bool:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == "juxta-report"


def build_model(project: Any, studies: list[str] | None = None, options: dict[str, Any] | None = None):
    from engine.report import build_report

    return build_report(_project(project), studies=studies, options=options)


def write_reports(project: Any, targets: dict[str, str | Path | None], studies: list[str] | None = None,
                  options: dict[str, Any] | None = None, *, overwrite: bool = False, model=None) -> dict[str, list[Path]]:
    """Write several formats from one model; each chart is drawn once. ``targets``: format → path (None: default)."""
    project = _project(project)
    paths = {fmt: resolve_output(project.root, fmt, out, overwrite=overwrite) for fmt, out in targets.items()}
    if model is None:
        model = build_model(project, studies, options)
    elif options:
        from engine.report import apply_options

        model = apply_options(model, options)
    from views.report_render import ReportRenderer, clear_folder_report, ensure_qapp

    ensure_qapp()
    renderer = ReportRenderer(model)
    written: dict[str, list[Path]] = {}
    for fmt, path in paths.items():
        if fmt == "folder" and path.is_dir() and _is_report_folder(path):
            clear_folder_report(path)
        written[fmt] = renderer.write(fmt, path)
    return written


def write_report(project: Any, fmt: str, out: str | Path | None = None, studies: list[str] | None = None,
                 options: dict[str, Any] | None = None, *, overwrite: bool = False, model=None) -> list[Path]:
    """Write one report format; returns the files written (the folder's files, or the one file)."""
    return write_reports(project, {fmt: out}, studies, options, overwrite=overwrite, model=model)[fmt]


def main_file(fmt: str, files: list[Path]) -> Path:
    """The file to open: the folder's index.html, or the single file."""
    if fmt == "folder":
        for f in files:
            if f.name == "index.html":
                return f
    return files[0]

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

Report notes: the title, author, introduction and chart comments typed on the Report page belong to
the project and live in ``PROJECT/reports/notes.json`` (:func:`read_notes`, :func:`write_notes`,
kept in step with the page by :class:`ReportNotesKeeper`; format in docs/reports.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from engine.core.errors import JuxtaError

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
    from engine.report.model import build_report

    return build_report(_project(project), studies=studies, options=options)


def write_reports(project: Any, targets: dict[str, str | Path | None], studies: list[str] | None = None,
                  options: dict[str, Any] | None = None, *, overwrite: bool = False, model=None) -> dict[str, list[Path]]:
    """Write several formats from one model; each chart is drawn once. ``targets``: format → path (None: default)."""
    project = _project(project)
    paths = {fmt: resolve_output(project.root, fmt, out, overwrite=overwrite) for fmt, out in targets.items()}
    if model is None:
        model = build_model(project, studies, options)
    elif options:
        from engine.report.options import apply_options

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


# ---------------------------------------------------------------------------------------------
# report notes: what a person typed for the report, kept in the project

NOTES_FILE = Path("reports") / "notes.json"
NOTES_VERSION = 1
NOTE_TEXT_KEYS = ("title", "author", "introduction")


def notes_path(root: str | Path) -> Path:
    return Path(root) / NOTES_FILE


def read_notes(root: str | Path) -> dict[str, Any]:
    """The project's report notes ({} when it has none). Raises ``JuxtaError`` naming the file and
    what is wrong with it when it cannot be read or does not hold report notes."""
    text = _notes_file_text(root)
    return {} if text is None else parse_notes(text, notes_path(root))


def _notes_file_text(root: str | Path) -> str | None:
    """The notes file's text (None: there is none); ``JuxtaError`` when it cannot be read."""
    path = notes_path(root)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise JuxtaError(f"The report notes in {path} cannot be read ({_reason(exc)}).") from None


def parse_notes(text: str, path: Path) -> dict[str, Any]:
    """Report notes from the text of ``path``; ``JuxtaError`` saying what is wrong when they are not."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise JuxtaError(f"The report notes in {path} are not valid JSON ({exc}).") from None
    return _checked_notes(data, path)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _checked_notes(data: Any, path: Path) -> dict[str, Any]:
    def bad(what: str) -> JuxtaError:
        return JuxtaError(f"The report notes in {path} are not what Juxta wrote: {what}.")

    if not isinstance(data, dict):
        raise bad(f"expected an object with {', '.join(NOTE_TEXT_KEYS)} and comments, found {type(data).__name__}")
    version = data.get("version", NOTES_VERSION)
    if version != NOTES_VERSION:
        raise bad(f"'version' is {version!r}; this Juxta reads version {NOTES_VERSION}")
    notes: dict[str, Any] = {}
    for key in NOTE_TEXT_KEYS:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise bad(f"'{key}' should be text, found {type(value).__name__}")
        notes[key] = value
    comments = data.get("comments", {})
    if not isinstance(comments, dict) or not all(
            isinstance(d, dict) and all(isinstance(t, str) for t in d.values()) for d in comments.values()):
        raise bad("'comments' should map each study to {chart id: comment text}")
    notes["comments"] = {str(s): {str(c): t for c, t in d.items()} for s, d in comments.items()}
    return notes


def notes_text(notes: dict[str, Any]) -> str:
    """The notes as the JSON text :func:`write_notes` stores."""
    data = {"version": NOTES_VERSION, **{k: str(notes.get(k) or "") for k in NOTE_TEXT_KEYS},
            "comments": notes.get("comments") or {}}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_notes(root: str | Path, notes: dict[str, Any]) -> Path:
    """Write the project's report notes (atomically: a half-written file never replaces a good one)."""
    path = notes_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".notes-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(notes_text(notes))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _free_name(path: Path) -> Path:
    candidate, i = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        i += 1
    return candidate


def _is_empty(notes: dict[str, Any]) -> bool:
    return not any(str(notes.get(k) or "").strip() for k in NOTE_TEXT_KEYS) and not any(
        t.strip() for d in (notes.get("comments") or {}).values() for t in d.values())


class ReportNotesKeeper:
    """Keeps a Report page's notes in its project's ``reports/notes.json``.

    ``open(root)`` reads the project's notes into the page (saving what is pending for the previous
    project first); every edit on the page (``notesChanged``) is written ``DEBOUNCE_MS`` after the
    last one; ``flush()`` writes a pending edit now (call it before the app quits).

    A notes file that cannot be read is ignored with a message, never a crash. It is never replaced
    unseen: before the keeper writes, a file whose content is not what it last read or wrote (one it
    could not read, or one changed on disk meanwhile) is kept beside it as
    ``notes-kept-<date>-<time>.json``, and the message says so.
    """

    DEBOUNCE_MS = 800

    def __init__(self, page: Any, report: Callable[[str], None] | None = None):
        from PySide6.QtCore import QTimer

        self.page = page
        self.report = report or page.show_message
        self.root: Path | None = None
        self._known: str | None = None  # the file's text as last read or written (None: no file)
        self._pending: dict[str, Any] | None = None
        self._timer = QTimer(page)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.flush)
        page.notesChanged.connect(self._edited)

    def open(self, root: str | Path | None) -> None:
        """Show the notes of the project at ``root`` (None: no project, empty notes)."""
        self.flush()
        self.root = Path(root) if root is not None else None
        self._known = None
        notes: dict[str, Any] = {}
        if self.root is not None:
            try:
                text = _notes_file_text(self.root)
                notes = {} if text is None else parse_notes(text, notes_path(self.root))
                self._known = text
            except JuxtaError as exc:
                self.report(f"{exc} They are ignored; the file is left as it is until you edit the notes, "
                            "then it is set aside as notes-kept-….json next to it.")
        self.page.set_notes(notes)

    def _edited(self, notes: dict[str, Any]) -> None:
        if self.root is None:
            return
        self._pending = notes
        self._timer.start()

    def flush(self) -> None:
        """Write the pending edit now (nothing to do when there is none)."""
        self._timer.stop()
        notes, self._pending = self._pending, None
        if notes is None or self.root is None:
            return
        path = notes_path(self.root)
        try:
            try:
                on_disk: str | None = _notes_file_text(self.root)
                exists = on_disk is not None
            except JuxtaError:
                on_disk, exists = None, True  # there, but unreadable: set it aside too
            if not exists and _is_empty(notes):
                return  # nothing typed, nothing to keep: no file
            kept = None
            if exists and (on_disk is None or on_disk != self._known):
                kept = _free_name(path.with_name(f"notes-kept-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"))
                os.replace(path, kept)
            write_notes(self.root, notes)
            self._known = notes_text(notes)
        except OSError as exc:
            self.report(f"Could not save the report notes to {path}: {_reason(exc)}.")
            return
        if kept is not None:
            self.report(f"Saved the report notes to {path}; the earlier file there was kept as {kept.name}.")

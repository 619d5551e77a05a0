"""A project: a folder of study files, its results database, artifacts and reports.

Above the kinds: a study file is read through its kind's spec (``engine.kinds``), planned and checked
by its kind, and run by the kind-neutral coordinator with the kind's work functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from engine.core.cells import Plan
from engine.core.errors import JuxtaError, StudyFileError
from engine.core.execute import RunControl, RunEvent, RunSummary, run_plan
from engine.core.header import STUDY_SUFFIX, StudyFile, read_study_text, study_files, study_text
from engine.core.store import DB_NAME, Store
from engine.kinds import StudyKind, get_kind, parse_study_text


class Project:
    """Open with ``open_project(path)``. Every path a project writes lies inside ``root``."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def name(self) -> str:
        return self.root.name

    def study_paths(self) -> dict[str, Path]:
        """Study name -> file. The name is the file name without ``.study.toml``."""
        return {p.name[: -len(STUDY_SUFFIX)]: p for p in study_files(self.root)}

    def study_path(self, name: str) -> Path:
        paths = self.study_paths()
        if name in paths:
            return paths[name]
        candidate = Path(name)
        if candidate.suffix == ".toml" and (self.root / candidate.name).is_file():
            return self.root / candidate.name
        raise JuxtaError(
            f"Project {self.root} has no study '{name}'; its studies are: {', '.join(paths) or 'none'}."
        )

    def load_study(self, name: str) -> StudyFile:
        """The study file, validated by its kind's spec, with its name matching the file and its local files present."""
        path = self.study_path(name)
        text = read_study_text(path)
        study = parse_study_text(text, str(path))
        stem = path.name[: -len(STUDY_SUFFIX)]
        if study.study.name != stem:
            raise StudyFileError(
                str(path), [f"[study].name is '{study.study.name}' but the file is named '{stem}{STUDY_SUFFIX}'; make them match."]
            )
        get_kind(study.kind).check_files(study, self.root, str(path), text)
        return study

    def kind(self, name: str) -> StudyKind:
        """The kind of a study (read from its file)."""
        return get_kind(self.load_study(name).kind)

    def validate(self, name: str) -> Plan:
        """Everything short of running: schema, sources, data, the cell plan, and the kind's checks (each
        model against the data, for shift)."""
        plan = self.plan(name)
        path = self.study_path(name)
        problems = get_kind(plan.study.kind).check(plan.study, self.root, plan, study_text(path))
        if problems:
            raise StudyFileError(str(path), problems)
        return plan

    def store(self, read_only: bool = False) -> Store:
        return Store(self.db_path, read_only=read_only)

    def plan(self, name: str, store: Store | None = None) -> Plan:
        study = self.load_study(name)
        artifacts: dict[str, str] = {}
        if store is not None:
            artifacts = store.artifact_index()
        elif self.db_path.exists():
            with self.store(read_only=True) as s:
                artifacts = s.artifact_index()
        try:
            return get_kind(study.kind).plan(study, self.root, artifacts)
        except StudyFileError as exc:
            raise StudyFileError(str(self.study_path(name)), exc.problems) from None

    def run(
        self,
        name: str,
        *,
        on_event: Callable[[RunEvent], None] | None = None,
        control: RunControl | None = None,
        backend: str | None = None,
        workers: int | None = None,
    ) -> RunSummary:
        """Plan a study, then compute the cells not already in the database."""
        with self.store() as store:
            plan = self.plan(name, store)
            path = self.study_path(name)
            s = plan.study.study
            store.record_study(s.name, s.kind, s.title, path.read_text(encoding="utf-8"), path.name, plan.cells)
            return run_plan(plan, self.root, store, get_kind(s.kind).work, on_event=on_event, control=control,
                            backend=backend, workers=workers)

    def results(self, name: str) -> Any:
        """A study's results as its kind reads them (shift: ``ShiftResults``); read-only. The kind is the
        one the study was run as (its file may have changed or gone since)."""
        with self.store(read_only=True) as store:
            row = store.con.execute("SELECT kind FROM studies WHERE study = ?", [name]).fetchone()
            kind = get_kind(row[0]) if row else self.kind(name)
            return kind.load_results(store, name)


def open_project(path: str | Path) -> Project:
    root = Path(path).expanduser()
    if root.is_file() and root.name.endswith(STUDY_SUFFIX):
        root = root.parent
    if not root.is_dir():
        raise JuxtaError(f"Project folder {root} does not exist.")
    return Project(root)

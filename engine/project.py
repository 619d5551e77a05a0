"""A project: a folder of study files, its results database, artifacts and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.core.errors import JuxtaError, StudyFileError
from engine.execute import RunControl, RunEvent, RunSummary, run_plan
from engine.plan import Plan, check_models, plan_study
from engine.store import DB_NAME, Store
from engine.study import STUDY_SUFFIX, Study, check_local_sources, load_study, study_files


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

    def load_study(self, name: str) -> Study:
        path = self.study_path(name)
        study = load_study(path)
        stem = path.name[: -len(STUDY_SUFFIX)]
        if study.study.name != stem:
            raise StudyFileError(
                str(path), [f"[study].name is '{study.study.name}' but the file is named '{stem}{STUDY_SUFFIX}'; make them match."]
            )
        check_local_sources(study, self.root, str(path))
        return study

    def validate(self, name: str) -> Plan:
        """Everything short of running: schema, sources, data, the cell plan, and each model against the data."""
        plan = self.plan(name)
        check_models(plan, self.root, str(self.study_path(name)))
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
            return plan_study(study, self.root, artifacts)
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
            return run_plan(plan, self.root, store, on_event=on_event, control=control, backend=backend, workers=workers)


def open_project(path: str | Path) -> Project:
    root = Path(path).expanduser()
    if root.is_file() and root.name.endswith(STUDY_SUFFIX):
        root = root.parent
    if not root.is_dir():
        raise JuxtaError(f"Project folder {root} does not exist.")
    return Project(root)

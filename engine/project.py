"""A project: a folder of study files, its results database, artifacts and reports.

Above the kinds: a study file is read through its kind's spec (``engine.kinds``), planned and checked
by its kind, and run by the kind-neutral coordinator with the kind's work functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from engine.core.cells import Plan
from engine.core.errors import JuxtaError, StudyFileError
from engine.core.execute import RunControl, RunEvent, RunSummary, run_plan
from engine.core.header import STUDY_SUFFIX, StudyFile, read_study_text, study_files, study_text
from engine.core.sources import parse_source
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
        model against the data, for shift).

        A study that starts from models other studies of the project have not made yet cannot be planned; it
        is valid when those studies are and its file is (the plan's summary says what runs first)."""
        try:
            plan = self.plan(name)
        except StudiesFirst as waiting:
            for dep in self.run_order([name], missing_only=True)[:-1]:
                self.validate(dep)
            study = self.load_study(name)
            get_kind(study.kind).check_files(study, self.root, str(self.study_path(name)))
            return Plan(study, [], summary=waiting.summary())
        path = self.study_path(name)
        problems = get_kind(plan.study.kind).check(plan.study, self.root, plan, study_text(path))
        if problems:
            raise StudyFileError(str(path), problems)
        return plan

    def uses(self, name: str) -> list[str]:
        """The project's studies whose models this study names (``artifact:<study>/<arm>``), in file order.

        Those studies make what this one starts from (a fine-tuning study's tuned experts for a merge study),
        so they run first; a name that is no study of this project is left to the artifact check."""
        study = self.load_study(name)
        studies = self.study_paths()
        out: list[str] = []
        for _key, source, kind in get_kind(study.kind).sources(study):
            if kind != "model" or not source.startswith("artifact:"):
                continue
            owner = parse_source(source, kind="model").value.split("/", 1)[0]
            if owner in studies and owner != name and owner not in out:
                out.append(owner)
        return out

    def run_order(self, names: Iterable[str], missing_only: bool = True) -> list[str]:
        """``names`` with the studies they need run first, each after the studies it needs.

        ``missing_only``: add a needed study only when the models it makes are not all in the database yet, or its
        file has changed since it last ran (an up-to-date study need not be re-planned); studies in ``names``
        always run. A study file that cannot be read adds nothing (running it reports why); studies that need
        each other are refused."""
        have = self.artifact_names() if missing_only else set()
        ran_as = self.ran_as() if missing_only else {}
        order: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in path:
                cycle = " → ".join((*path[path.index(name):], name))
                raise JuxtaError(f"Studies use each other's models in a circle ({cycle}); none of them can run first. "
                                 "Point one of them at a model file instead of another study's artifact.")
            if name in order:
                return
            try:
                needed = self.uses(name)
            except JuxtaError:
                needed = []
            for dep in needed:
                if not missing_only or not self._made(dep, name, have) or ran_as.get(dep) != self._text(dep):
                    visit(dep, (*path, name))
            order.append(name)

        for name in names:
            visit(name, ())
        return order

    def ran_as(self) -> dict[str, str]:
        """Study name -> the study file's text when it last ran (studies never run are absent)."""
        if not self.db_path.exists():
            return {}
        with self.store(read_only=True) as store:
            return dict(store.con.execute("SELECT study, spec_toml FROM studies").fetchall())

    def _text(self, name: str) -> str:
        return self.study_path(name).read_text(encoding="utf-8")

    def artifact_names(self) -> set[str]:
        """Names of the models finished cells saved (``study/arm``, ``study/arm/seedN``)."""
        if not self.db_path.exists():
            return set()
        with self.store(read_only=True) as store:
            return set(store.artifact_index())

    def _made(self, owner: str, user: str, have: set[str]) -> bool:
        """Whether every ``artifact:<owner>/…`` model that ``user`` names is in the database."""
        study = self.load_study(user)
        wanted = [parse_source(src, kind="model").value for _k, src, kind in get_kind(study.kind).sources(study)
                  if kind == "model" and src.startswith(f"artifact:{owner}/")]
        return all(w in have for w in wanted)

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
        waiting = [dep for dep in self.uses(name) if not self._made(dep, name, set(artifacts))]
        if waiting:
            raise StudiesFirst(name, waiting)
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


class StudiesFirst(JuxtaError):
    """A study starts from models that other studies of the project make and have not made yet."""

    def __init__(self, study: str, needs: list[str]):
        self.study, self.needs = study, needs
        names = ", ".join(f"'{n}'" for n in needs)
        super().__init__(f"Study '{study}' starts from models that {'study' if len(needs) == 1 else 'studies'} "
                         f"{names} {'makes' if len(needs) == 1 else 'make'}, and they are not made yet: run "
                         f"{'it' if len(needs) == 1 else 'them'} first (running '{study}' in the app or with "
                         "`juxta run` does that for you).")

    def summary(self) -> str:
        return (f"planned once {', '.join(self.needs)} {'has' if len(self.needs) == 1 else 'have'} run "
                "(its models come from there; Run runs them first)")


def open_project(path: str | Path) -> Project:
    root = Path(path).expanduser()
    if root.is_file() and root.name.endswith(STUDY_SUFFIX):
        root = root.parent
    if not root.is_dir():
        raise JuxtaError(f"Project folder {root} does not exist.")
    return Project(root)

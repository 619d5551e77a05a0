"""What the project tree says about each study, model and dataset, read from the study files and the
results database (no Qt: the window calls it off the GUI thread and hands the rows to the tree).

A study's status is one short word or count, with the whole story in its tooltip:
``invalid`` (the file has a problem), ``not run``, ``running 12/585``, ``changed since run`` (the file
differs from the one its results were computed for), ``complete``, ``3 failed`` or ``40/585 done``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from views.project_tree import TreeEntry, TreeStudy


@dataclass
class RunningInfo:
    """The run in progress in this window, if any (its counts come from engine events)."""

    study: str
    done: int = 0
    total: int = 0


@dataclass
class ProjectSummary:
    studies: list[TreeStudy]
    models: list[TreeEntry]
    datasets: list[TreeEntry]
    invalid: set[str] = field(default_factory=set)  # studies whose file cannot run as it is
    # study -> the kind its results are read as: the kind it was run as, else its file's ("" when neither is known)
    kinds: dict[str, str] = field(default_factory=dict)


def summarise(project: Any, running: RunningInfo | None = None) -> ProjectSummary:
    """Read every study file and the database once; never raises for a user's broken file."""
    from engine.core.errors import JuxtaError

    from engine.kinds import get_kind

    counts, stored, run_as = _database_facts(project)
    studies: list[TreeStudy] = []
    entries: dict[str, dict[str, TreeEntry]] = {"model": {}, "data": {}}
    invalid: set[str] = set()
    kinds = dict(run_as)
    for name, path in project.study_paths().items():
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            study = project.load_study(name)
        except JuxtaError as exc:
            invalid.add(name)
            problems = getattr(exc, "problems", None) or [str(exc)]
            studies.append(TreeStudy(name, "", "invalid", "This study file cannot run as it is:\n• " + "\n• ".join(problems)))
            continue
        kinds.setdefault(name, study.kind)
        status, tip = _status(name, text, counts.get(name), stored.get(name), running)
        studies.append(TreeStudy(name, study.study.title, status, tip))
        for key, source, what in get_kind(study.kind).sources(study):  # the kind says what its file names
            entry = entries[what].setdefault(source, TreeEntry("model" if what == "model" else "dataset", source, []))
            entry.uses.append((name, _use(study, key, what)))
            entry.keys.append((name, key))
    return ProjectSummary(studies, list(entries["model"].values()), list(entries["data"].values()), invalid, kinds)


def _owner(study: Any, key: tuple[str | int, ...]) -> Any:
    """The part of a parsed study file that holds ``key``'s last field (``("models", 0, "source")`` -> models[0])."""
    node = study
    for k in key[:-1]:
        node = node[k] if isinstance(k, int) else getattr(node, k)
    return node


def _use(study: Any, key: tuple[str | int, ...], what: str) -> str:
    """How a study names a source it uses: a model by its id ("cnn"); data by its table, and its id when it has
    one ("data", "field scanned", "target")."""
    ident = getattr(_owner(study, key), "id", None)
    table = next((str(k) for k in reversed(key[:-1]) if isinstance(k, str)), "")
    if what == "model":
        return str(ident or table)
    return f"{table} {ident}" if ident else table


def _database_facts(project: Any) -> tuple[dict[str, tuple[int, int, int]], dict[str, str], dict[str, str]]:
    """Per study: (planned, done, failed) cells of its last plan, the study file it was run with and the kind
    it was run as."""
    from engine.core.errors import JuxtaError
    from engine.core.queries import plan_counts

    if not project.db_path.exists():
        return {}, {}, {}
    try:
        with project.store(read_only=True) as store:
            counts = plan_counts(store)  # plain tuples: no pandas at start-up
            rows = store.con.execute("SELECT study, spec_toml, kind FROM studies").fetchall()
    except JuxtaError:
        return {}, {}, {}
    return counts, {study: spec for study, spec, _ in rows}, {study: kind for study, _, kind in rows}


def _status(name: str, text: str, counts: tuple[int, int, int] | None, stored: str | None,
            running: RunningInfo | None) -> tuple[str, str]:
    if running is not None and running.study == name:
        if not running.total:
            return "planning…", "The study is being planned."
        return (f"running {running.done}/{running.total}",
                f"Running: {running.done} of the {running.total} cells this run computes are finished.")
    if counts is None or stored is None:
        return "not run", "No results yet: press Run (Ctrl+R)."
    planned, done, failed = counts
    if stored.strip() != text.strip():
        return ("changed since run", "The study file changed since its results were computed "
                f"({done} of {planned} cells of the old plan are done). Run it to bring the results up to date.")
    if done == planned and planned:
        return "complete", f"All {planned} cells are computed."
    if failed:
        return f"{failed} failed", f"{done} of {planned} cells computed, {failed} failed; Run retries the failed ones."
    return f"{done}/{planned} done", f"{done} of {planned} cells computed; Run computes the rest."


def entry_details(project: Any, entry: TreeEntry) -> tuple[str, list[tuple[str, str]], str]:
    """(title, rows of (what, value), note) for a model or dataset of the project (slow: run it off
    the GUI thread; loads headers and data, never runs a model)."""
    from engine.core.errors import JuxtaError

    uses = "\n".join(f"{study} (as {what})" for study, what in entry.uses)
    rows: list[tuple[str, str]] = [("Source", entry.source)]
    note = ""
    try:
        if entry.kind == "model":
            rows += _model_rows(project, entry)
        else:
            rows += _dataset_rows(project, entry)
    except JuxtaError as exc:
        note = f"Could not read it: {exc}"
    rows.append(("Used by", uses))
    title = ", ".join(entry.ids) if entry.kind == "model" else entry.source.split(":", 1)[-1]
    return title, rows, note


def _model_rows(project: Any, entry: TreeEntry) -> list[tuple[str, str]]:
    from engine.core.sources import hash_path, parse_source
    from engine.models.describe import describe_model

    artifacts = _artifacts(project)
    info = describe_model(entry.source, project.root, {k: v for k, v in artifacts.items()})
    rows = [("Architecture", str(info.architecture)), ("Parameters", f"{info.n_params:,}"),
            ("Input", info.modality + (f" {tuple(info.input_shape)}" if getattr(info, "input_shape", None) else "")),
            ("Classes", str(len(info.class_names)) if info.class_names else "set by the data")]
    src = parse_source(entry.source, kind="model")
    if src.scheme == "builtin":
        trained = [(name, sha) for name, sha in _trained(project) if any(name.startswith(f"{s}/{i}/") for s, i in entry.uses)]
        rows.append(("Trained weights", "\n".join(f"{n}: sha256 {sha[:16]}…" for n, sha in trained) or "not trained yet"))
    elif src.is_local_path:
        rows.append(("sha256", hash_path(src.path(project.root))[:32] + "…"))
    elif src.scheme == "hf":
        rows.append(("Revision", src.revision or "main"))
    return rows


def _dataset_rows(project: Any, entry: TreeEntry) -> list[tuple[str, str]]:
    import numpy as np

    from engine.data.loaders import load_data

    name, key = entry.keys[0]
    table = _owner(project.load_study(name), key)  # the data table that names this source (its columns, size…)
    options = table.options() if hasattr(table, "options") else None
    data = load_data(entry.source, project.root, options)
    counts = np.bincount(data.y, minlength=data.num_classes)
    return [("Kind", data.modality), ("Rows", f"{len(data):,}"),
            ("Classes", f"{data.num_classes} ({', '.join(map(str, data.class_names[:8]))}{'…' if data.num_classes > 8 else ''})"),
            ("Smallest class", f"{int(counts.min()):,} rows"), ("Fingerprint", data.fingerprint()[:16] + "…")]


def _artifacts(project: Any) -> dict[str, str]:
    if not project.db_path.exists():
        return {}
    with project.store(read_only=True) as store:
        return store.artifact_index()


def _trained(project: Any) -> list[tuple[str, str]]:
    if not project.db_path.exists():
        return []
    with project.store(read_only=True) as store:
        return store.con.execute(
            "SELECT DISTINCT name, sha256 FROM artifacts JOIN cells USING (cell_key) WHERE cells.status = 'done' "
            "AND artifacts.kind = 'model' AND cell_key IN (SELECT cell_key FROM study_cells) ORDER BY name").fetchall()

"""The coordinator: plan → skip finished cells → phases → joblib workers → one DuckDB transaction per cell.

Knows no kind. Phases are the topological levels of the cells' dependencies (``Cell.depends_on``): a
cell runs once every cell it depends on has finished, in this run or an earlier one. The work
function of a cell comes from the mapping its kind gives (cell type -> function); before dispatch
the coordinator attaches ``inputs["artifacts"]`` (dependency key -> saved model path) and fails,
without running it, a cell whose dependency failed.

joblib is the one execution interface (``loky`` local processes by default, ``dask`` for a
cluster, ``sequential`` in-process). Results stream back unordered; the coordinator is the only
writer. Cancellation is soft first (workers see ``ctx.cancelled()`` between batches) and then
hard (workers are terminated); a cancelled cell is never written, so a resumed run recomputes it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

from engine.core.cells import Cell, CellContext, Plan, WorkFunction, execute_cell
from engine.core.remaining import RemainingTime
from engine.core.store import CellResult, Store

EventKind = Literal["planned", "cell_started", "cell_progress", "cell_curve", "cell_finished", "finished", "log"]


@dataclass
class RunEvent:
    """Something the GUI or CLI may show. ``done``/``failed``/``total`` count this run's cells."""

    kind: EventKind
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cell: Cell | None = None
    fraction: float = 0.0
    note: str = ""
    status: str = ""
    error: str | None = None
    device: str = ""
    duration_s: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None  # seconds left (engine.core.remaining); None while estimating
    cells: list[Cell] | None = None  # "planned" only: the cells this run will compute
    curve: tuple[int, str, float] | None = None  # "cell_curve" only: (step, series, value) as the cell measured it


@dataclass
class RunSummary:
    run_id: str | None
    study: str
    status: Literal["done", "failed", "cancelled", "up-to-date"]
    planned: int
    skipped: int
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    duration_s: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (cell label, message)


class RunControl:
    """Handed to a run so another thread (GUI, signal handler) can cancel it."""

    def __init__(self, grace_s: float = 10.0):
        self.grace_s = grace_s
        self._cancel = threading.Event()
        self._cancel_file: Path | None = None
        self._terminate: Callable[[], None] | None = None

    def cancel(self) -> None:
        """Ask workers to stop between batches; terminate them if they have not after the grace period."""
        if self._cancel.is_set():
            return
        self._cancel.set()
        if self._cancel_file is not None:
            self._cancel_file.parent.mkdir(parents=True, exist_ok=True)
            self._cancel_file.touch()
        if self._terminate is not None:
            timer = threading.Timer(self.grace_s, self._hard_stop)
            timer.daemon = True
            timer.start()

    def _hard_stop(self) -> None:
        """Terminate the workers if the run is still going: a run that stopped softly within the grace
        period has handed back its workers (the next run may be using them)."""
        terminate = self._terminate
        if terminate is not None:
            terminate()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


def _work(cell: Cell, work: WorkFunction, device: str, root: str, progress: Any, cancel_file: str,
          workers: int) -> CellResult:
    """Runs in a worker process (``work`` is a module-level function: pickled by reference)."""
    from engine.core.device import configure_worker_threads

    configure_worker_threads(workers)
    last = [0.0]

    def report(key: str, fraction: float, note: str) -> None:
        now = time.monotonic()
        if progress is not None and (now - last[0] > 0.2 or fraction >= 1.0):
            last[0] = now
            progress.put(("progress", key, fraction, note))

    def curve(key: str, step: int, series: str, value: float) -> None:  # never throttled: a point per epoch
        if progress is not None:
            progress.put(("curve", key, step, (series, value)))

    if progress is not None:
        try:
            progress.put(("started", cell.key, 0.0, device))
        except Exception:  # a queue unreachable from this worker (remote cluster): run without it
            progress = None
    ctx = CellContext(device=device, root=Path(root), progress_fn=report, cancel_file=cancel_file, curve_fn=curve)
    return execute_cell(cell, ctx, work)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("juxta", "torch", "numpy", "duckdb", "joblib", "transformers", "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def run_plan(
    plan: Plan,
    root: Path,
    store: Store,
    work: Mapping[str, WorkFunction],
    *,
    on_event: Callable[[RunEvent], None] | None = None,
    control: RunControl | None = None,
    backend: str | None = None,
    workers: int | None = None,
) -> RunSummary:
    """Run the unfinished cells of a plan with ``work`` (cell type -> work function, from the study's
    kind); returns when all are written, failed or cancelled."""
    missing = sorted({c.type for c in plan.cells} - set(work))
    if missing:
        raise ValueError(f"no work function for cell type(s) {', '.join(missing)}")
    emit = on_event or (lambda e: None)
    control = control or RunControl()
    study = plan.study
    t_start = time.perf_counter()
    finished = store.finished_keys(c.key for c in plan.cells)
    todo = [c for c in plan.cells if c.key not in finished]
    phases = _phases(todo, list(work))
    skipped = len(plan.cells) - len(todo)
    summary = RunSummary(None, study.name, "up-to-date", len(plan.cells), skipped)
    emit(RunEvent("planned", total=len(todo), skipped=skipped, cells=todo))
    if not todo:
        emit(RunEvent("finished", total=0, skipped=skipped, status="up-to-date"))
        return summary

    from engine.core.device import available_devices, default_workers

    execution = study.execution
    backend = backend or execution.backend
    devices = available_devices(execution.device)
    n_workers = workers or execution.workers or default_workers(devices)
    if backend == "sequential":
        n_workers = 1
    run_id = uuid.uuid4().hex[:12]
    summary.run_id = run_id
    cancel_file = root / ".juxta" / f"cancel-{run_id}"
    control._cancel_file = cancel_file
    store.start_run(run_id, study.name, socket.gethostname(), backend, n_workers, _versions(), len(plan.cells), skipped)
    state = {"done": 0, "failed": 0, "total": len(todo)}
    remaining = RemainingTime((_group(c) for c in todo), n_workers)
    not_run: set[str] = set()  # blocked by a failed dependency: recorded without running

    def progress_event(kind: EventKind, **kw: Any) -> RunEvent:
        cell = kw.get("cell")
        if kind == "cell_started" and cell is not None:
            remaining.started(cell.key, _group(cell))
        return RunEvent(kind, total=state["total"], done=state["done"], failed=state["failed"], skipped=skipped,
                        elapsed_s=time.perf_counter() - t_start, eta_s=remaining.seconds_left(), **kw)

    by_key = {c.key: c for c in todo}

    pending: list[tuple[Cell, CellResult]] = []
    first_pending = [0.0]

    def flush() -> None:
        """Commit buffered cells in one transaction, then announce them (done means saved)."""
        if not pending:
            return
        store.write_cells(pending, run_id)
        for cell, result in pending:
            if cell.key in not_run:
                remaining.dropped(cell.key, _group(cell))
            else:
                remaining.finished(cell.key, _group(cell), result.duration_s)
            if result.status == "done":
                state["done"] += 1
            else:
                state["failed"] += 1
                summary.errors.append((cell.label(), result.error or "failed"))
            emit(progress_event("cell_finished", cell=cell, status=result.status, error=result.error,
                                device=result.device, duration_s=result.duration_s))
        pending.clear()

    def record(cell: Cell, result: CellResult) -> None:
        if result.status == "cancelled":
            summary.cancelled += 1
            remaining.dropped(cell.key, _group(cell))
            return
        if not pending:
            first_pending[0] = time.perf_counter()
        pending.append((cell, result))
        # Fast cells are written in batches (per-transaction overhead dominates small writes);
        # a slow cell, a full batch or a quarter-second wait flushes at once.
        if len(pending) >= 32 or result.duration_s >= 0.25 or time.perf_counter() - first_pending[0] >= 0.25:
            flush()

    planned = {c.key: c for c in plan.cells}
    status = "done"
    try:
        with _Executor(backend, n_workers, execution.address, control) as ex:
            for phase in phases:
                if not phase or control.cancelled:
                    continue
                ready = []
                outcomes = store.outcomes({d for c in phase for d in c.depends_on})
                for cell in phase:
                    blocked = _attach_inputs(cell, outcomes, planned, execution.batch_size)
                    if blocked:
                        not_run.add(cell.key)
                        record(cell, CellResult(cell.key, "failed", error=blocked))
                    else:
                        ready.append(cell)
                for i, cell in enumerate(ready):
                    cell.inputs["device"] = devices[i % len(devices)]
                for result in ex.map(ready, work, str(root), cancel_file, n_workers, emit, progress_event, by_key):
                    record(by_key[result.cell_key], result)
                    if control.cancelled and ex.hard_stopped:
                        break
                flush()  # the next phase reads this one's artifacts
    except KeyboardInterrupt:
        control.cancel()
        status = "cancelled"
    except Exception:
        status = "error"  # recorded on the run, then raised to the caller
        raise
    finally:
        flush()
        if status != "error" and control.cancelled and state["done"] + state["failed"] < len(todo):
            status = "cancelled"
        elif status != "error" and state["failed"]:
            status = "failed"
        store.finish_run(run_id, status, state["done"], state["failed"], ",".join(sorted(set(devices))))
        with contextlib.suppress(OSError):  # run ids are unique: a cancel file left behind stops nothing
            cancel_file.unlink(missing_ok=True)
    summary.status = status
    summary.done, summary.failed = state["done"], state["failed"]
    summary.cancelled = len(todo) - state["done"] - state["failed"] if status == "cancelled" else summary.cancelled
    summary.duration_s = time.perf_counter() - t_start
    emit(progress_event("finished", status=status))
    return summary


def _phases(cells: list[Cell], types: list[str]) -> list[list[Cell]]:
    """The cells to run in waves: the topological levels of ``depends_on`` among ``cells`` (a dependency
    not among them has finished before or will never run; dispatch checks which). Each level is
    ordered by cell type (in the kind's order), then interleaved (``_interleaved``)."""
    todo = {c.key: c for c in cells}
    level: dict[str, int] = {}

    def depth(key: str, seen: tuple[str, ...] = ()) -> int:
        if key not in level:
            if key in seen:
                raise ValueError(f"cells depend on each other in a cycle: {', '.join(seen)}")
            deps = [d for d in todo[key].depends_on if d in todo]
            level[key] = 1 + max((depth(d, (*seen, key)) for d in deps), default=-1)
        return level[key]

    for key in todo:
        depth(key)
    rank = {t: i for i, t in enumerate(types)}
    waves: list[list[Cell]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for c in cells:
        waves[level[c.key]].append(c)
    return [[c for t in sorted({c.type for c in w}, key=rank.__getitem__) for c in _interleaved([c for c in w if c.type == t])]
            for w in waves]


def _interleaved(cells: list[Cell]) -> list[Cell]:
    """Cells of one type by seed, then condition, then arm (a plan lists them arm by arm).

    Every arm's cells then finish early in the run, so the remaining-time estimate learns each
    arm's cost from the start and live results show every arm; one seed at a time keeps the
    few models in use within each worker's model cache.
    """
    rank: dict[str, dict[Any, int]] = {"seed": {}, "condition": {}, "arm": {}}
    for c in cells:
        for name in rank:
            rank[name].setdefault(getattr(c, name), len(rank[name]))
    return sorted(cells, key=lambda c: (rank["seed"][c.seed], rank["condition"][c.condition], rank["arm"][c.arm]))


def _group(cell: Cell) -> tuple[str, str]:
    """Cells whose durations are alike, for the remaining-time estimate: same type, same arm."""
    return cell.type, cell.arm


def _attach_inputs(cell: Cell, outcomes: dict[str, tuple[str, str | None, str | None]], planned: dict[str, Cell],
                   batch_size: int) -> str | None:
    """Fill what a cell needs at dispatch time; return why it cannot run, if it cannot.

    ``outcomes``: dependency key -> (status, error, saved model path) as written so far."""
    cell.inputs["batch_size"] = batch_size
    artifacts: dict[str, str] = {}
    for dep in cell.depends_on:
        status, error, path = outcomes.get(dep, ("missing", None, None))
        if status != "done":
            what = planned[dep].label() if dep in planned else f"cell {dep}"
            if status == "missing":
                return f"Not run because {what} has not run"
            return f"Not run because {what} failed" + (f": {error}" if error else "")
        if path is not None:
            artifacts[dep] = path
    cell.inputs["artifacts"] = artifacts
    return None


class _Executor:
    """joblib.Parallel over one backend, plus a progress queue and a way to stop workers hard."""

    def __init__(self, backend: str, workers: int, address: str | None, control: RunControl):
        self.backend = backend
        self.workers = workers
        self.address = address
        self.control = control
        self.hard_stopped = False
        self._client = None
        self._cluster = None
        self._manager = None

    def __enter__(self) -> "_Executor":
        if self.backend == "dask":
            from dask.distributed import Client, LocalCluster

            if self.address:
                self._client = Client(self.address)
            else:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
        if self.backend != "sequential":
            from multiprocessing.managers import SyncManager

            from engine.core.lifeline import exit_with

            self._manager = SyncManager()
            self._manager.start(initializer=exit_with, initargs=(os.getpid(),))
        self.control._terminate = self._terminate
        return self

    def __exit__(self, *exc: Any) -> None:
        self.control._terminate = None
        if self._manager is not None:
            self._manager.shutdown()
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def _worker_options(self) -> dict[str, Any]:
        """loky workers exit with the coordinator (``engine.core.lifeline``); the same arguments every run,
        so loky keeps reusing its workers."""
        if self.backend != "loky":
            return {}
        from engine.core.lifeline import exit_with

        return {"initializer": exit_with, "initargs": (os.getpid(),)}

    def _terminate(self) -> None:
        """Hard stop after the grace period: kill workers still busy on a cancelled run."""
        self.hard_stopped = True
        if self.backend == "loky":
            kill_loky_workers()
        elif self._client is not None:
            self._client.restart(wait_for_workers=False)

    def map(self, cells: list[Cell], work: Mapping[str, WorkFunction], root: str, cancel_file: Path, workers: int,
            emit, progress_event, by_key):
        """Yield results as they finish (unordered), forwarding in-cell progress to ``emit``."""
        from joblib import Parallel, delayed, parallel_config

        if not cells:
            return
        if self.backend == "sequential":
            for cell in cells:
                if self.control.cancelled:
                    return
                emit(progress_event("cell_started", cell=cell, device=cell.inputs["device"]))
                yield _work(cell, work[cell.type], cell.inputs["device"], root, _Direct(emit, progress_event, by_key),
                            str(cancel_file), 1)
            return
        q = self._manager.Queue()
        pump = _Pump(q, emit, progress_event, by_key)
        pump.start()
        try:
            tasks = (delayed(_work)(c, work[c.type], c.inputs["device"], root, q, str(cancel_file), workers) for c in cells)
            with parallel_config(backend=self.backend, n_jobs=self.workers, **self._worker_options()):
                gen = Parallel(return_as="generator_unordered", pre_dispatch="2*n_jobs")(tasks)
                try:
                    for result in gen:
                        yield result
                        if self.control.cancelled and self.hard_stopped:
                            break
                except Exception as exc:
                    if self.control.cancelled:
                        return  # workers were terminated on purpose
                    from joblib.externals.loky.process_executor import TerminatedWorkerError

                    if isinstance(exc, TerminatedWorkerError):
                        raise RuntimeError(
                            "A worker process died (out of memory or killed); finished cells are saved, run again to resume."
                        ) from None
                    raise
                finally:
                    gen.close() if hasattr(gen, "close") else None
        finally:
            pump.stop()


def kill_loky_workers() -> None:
    """Kill the workers of the loky executor joblib uses now, busy or not.

    ``reuse=True`` matters: joblib creates its executor with arguments (reducers, environment,
    initializer) that never equal the defaults, and loky answers a mismatched request by shutting the
    executor down *waiting* for its running tasks, so the hard stop waited for every busy cell.
    """
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor(reuse=True).shutdown(wait=False, kill_workers=True)


def curve_event(progress_event, cell: Cell | None, step: int, point: tuple[str, float]) -> RunEvent:
    """A ``cell_curve`` event from a worker's curve message ``("curve", key, step, (series, value))``."""
    series, value = point
    return progress_event("cell_curve", cell=cell, curve=(int(step), str(series), float(value)))


class _Direct:
    """In-process stand-in for the progress queue (sequential backend)."""

    def __init__(self, emit, progress_event, by_key):
        self.emit, self.progress_event, self.by_key = emit, progress_event, by_key

    def put(self, item: tuple) -> None:
        kind, key, fraction, note = item
        if kind == "progress":
            self.emit(self.progress_event("cell_progress", cell=self.by_key.get(key), fraction=fraction, note=note))
        elif kind == "curve":
            self.emit(curve_event(self.progress_event, self.by_key.get(key), fraction, note))


class _Pump(threading.Thread):
    """Drains worker progress messages into events on the coordinator side."""

    def __init__(self, q, emit, progress_event, by_key):
        super().__init__(daemon=True)
        self.q, self.emit, self.progress_event, self.by_key = q, emit, progress_event, by_key
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                kind, key, fraction, note = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            except (EOFError, OSError, BrokenPipeError):
                return
            cell = self.by_key.get(key)
            if kind == "started":
                self.emit(self.progress_event("cell_started", cell=cell, device=note))
            elif kind == "curve":
                self.emit(curve_event(self.progress_event, cell, fraction, note))
            else:
                self.emit(self.progress_event("cell_progress", cell=cell, fraction=fraction, note=note))
        self._drain_curves()

    def _drain_curves(self) -> None:
        """Curve points still queued when the phase ended (a cell's last epoch, sent just before it
        returned): each is a measured point, so they are delivered; stale progress is dropped."""
        while True:
            try:
                kind, key, step, point = self.q.get_nowait()
            except (queue.Empty, EOFError, OSError, BrokenPipeError):
                return
            if kind == "curve":
                self.emit(curve_event(self.progress_event, self.by_key.get(key), step, point))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=1.0)

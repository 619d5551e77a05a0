"""Running a merge tensor by tensor: read the inputs of one output tensor, merge, write, drop.

The next tensor's inputs are read on a second thread while the current one is merged (torch spreads
the arithmetic over the cores, or runs it on the GPU with ``device="cuda"``), and the result is
written to its final place on a third while the next is merged. At most two tensors' inputs and one
output are alive at a time, so models larger than memory merge. Output shards are written in place
(see safetensors_io), so nothing waits for a whole shard.

glibc keeps freed blocks of up to 32 MiB for reuse by default, which would keep every mid-sized
tensor ever freed; before a merge the mmap threshold is fixed at 1 MiB (:func:`return_freed_memory`)
so a freed tensor goes back to the system at once.

With ``trim_scope = "task_vector"`` (the paper preset) the method sees each model's whole flattened
task vector at once, as the papers' and FusionBench's code do: that path holds every model in
memory.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from engine.kinds.merge.checks import MergeError
from engine.kinds.merge.methods.base import TensorJob
from engine.kinds.merge.safetensors_io import ShardedWriter
from engine.kinds.merge.schedule import Schedule, TensorTask

Progress = Callable[[int, int, str], None]
_M_MMAP_THRESHOLD = -3


def return_freed_memory() -> None:
    """Make glibc give large freed blocks (≥ 1 MiB) back to the system immediately (no-op elsewhere)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return


@dataclass
class MergeReport:
    """What was done, for the record: method, conventions, counts, notes (floors, submatrices, heads)."""

    method: str
    conventions: dict[str, Any]
    plan: dict[str, Any]
    merged: int = 0
    copied: int = 0
    heads: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    transductive: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _load(sched: Schedule, task: TensorTask, device: str) -> dict[str, Any]:
    def read(ref: tuple[int, str]) -> torch.Tensor:
        x = sched.sources[ref[0]].read(ref[1])
        if task.kind == "merge" and sched.compute_dtype is not None and x.dtype != sched.compute_dtype:
            x = x.to(sched.compute_dtype)
        if task.crop is not None:
            x = x[: task.crop[0], : task.crop[1]]
        return x.to(device) if device != "cpu" else x

    return {"base": read(task.base) if task.base is not None else None, "inputs": [read(r) for r in task.inputs]}


def _compute(sched: Schedule, task: TensorTask, loaded: dict[str, Any], notes: list[str]) -> torch.Tensor:
    if task.kind == "copy":
        return loaded["base"]
    if task.kind == "head":
        return loaded["inputs"][0]
    job = TensorJob(name=task.out, base=loaded["base"], tensors=loaded["inputs"], model_params=task.model_params,
                    options=task.options, conventions=sched.conventions, seed=sched.seed, is_embed=task.is_embed,
                    notes=notes, owned=sched.owned)
    out = sched.method.merge_tensor(job)
    if tuple(out.shape) != tuple(task.shape):
        raise MergeError(f"{sched.method.name} produced shape {tuple(out.shape)} for '{task.out}', expected {task.shape}.")
    return out.to(task.dtype)


def run_schedule(sched: Schedule, emit: Callable[[TensorTask, torch.Tensor], None], progress: Progress | None = None,
                 device: str = "cpu", notes: list[str] | None = None) -> None:
    """Merge every task in order, handing each result to ``emit`` (write it or keep it)."""
    return_freed_memory()
    notes = notes if notes is not None else []
    tasks = sched.tasks
    if sched.conventions.trim_scope == "task_vector" and sched.method.base != "unused":
        return _run_whole_vector(sched, emit, progress, device, notes)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="merge-read") as reader, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="merge-write") as writer:
        pending_read: Future | None = reader.submit(_load, sched, tasks[0], device) if tasks else None
        pending_write: Future | None = None
        for i, task in enumerate(tasks):
            loaded = pending_read.result()
            pending_read = reader.submit(_load, sched, tasks[i + 1], device) if i + 1 < len(tasks) else None
            out = _compute(sched, task, loaded, notes)
            del loaded
            if pending_write is not None:
                pending_write.result()
            pending_write = writer.submit(emit, task, out.to("cpu") if device != "cpu" else out)
            del out
            if progress:
                progress(i + 1, len(tasks), task.out)
        if pending_write is not None:
            pending_write.result()


def _run_whole_vector(sched: Schedule, emit, progress, device, notes) -> None:
    """The method runs once on each model's concatenated float task vector (parameters must be uniform)."""
    merge = [t for t in sched.tasks if t.kind == "merge"]
    results: dict[str, torch.Tensor] = {}
    if merge:
        first = merge[0]
        for t in merge[1:]:
            if t.options != first.options or t.model_params != first.model_params:
                raise MergeError(f"Trimming over the whole task vector needs one value per parameter for all tensors; "
                                 f"'{t.out}' gets different ones (a gradient or a filter). Use trim_scope 'tensor' for "
                                 "per-layer values.")
        loaded = [_load(sched, t, device) for t in merge]
        base = torch.cat([x["base"].reshape(-1) for x in loaded])
        inputs = [torch.cat([x["inputs"][j].reshape(-1) for x in loaded]) for j in range(len(first.inputs))]
        job = TensorJob(name="<whole task vector>", base=base, tensors=inputs, model_params=first.model_params,
                        options=first.options, conventions=sched.conventions, seed=sched.seed, notes=notes)
        flat = sched.method.merge_tensor(job)
        del base, inputs, loaded
        pos = 0
        for t in merge:
            n = 1
            for s in t.shape:
                n *= s
            results[t.out] = flat[pos:pos + n].reshape(t.shape).to(t.dtype)
            pos += n
    for i, task in enumerate(sched.tasks):
        out = results[task.out] if task.kind == "merge" else _compute(sched, task, _load(sched, task, device), notes)
        emit(task, out.to("cpu"))
        if progress:
            progress(i + 1, len(sched.tasks), task.out)


def write_folder(sched: Schedule, folder: Path, max_shard_bytes: int,
                 progress: Progress | None = None, device: str = "cpu", notes: list[str] | None = None) -> list[Path]:
    """Merge into sharded safetensors in ``folder``; every model's own head goes to heads/<n>.safetensors."""
    from safetensors.torch import save_file

    entries = [(t.out, t.dtype, t.shape) for t in sched.tasks]
    writer = ShardedWriter(folder, entries, max_shard_bytes)
    heads: list[dict[str, torch.Tensor]] = [{} for _ in sched.head_models]

    def emit(task: TensorTask, tensor: torch.Tensor) -> None:
        writer.write(task.out, tensor)

    head_tasks = [t for t in sched.tasks if t.kind == "head"]
    try:
        run_schedule(sched, emit, progress, device, notes)
    finally:
        writer.close()
    for task in head_tasks:
        for j, ref in enumerate(task.inputs):
            heads[j][task.out] = sched.sources[ref[0]].read(ref[1]).to(task.dtype).contiguous()
    files = list(writer.files)
    if head_tasks:
        (folder / "heads").mkdir(exist_ok=True)
        for j, (model_i, tensors) in enumerate(zip(sched.head_models, heads)):
            path = folder / "heads" / f"{j + 1}.safetensors"
            save_file(tensors, str(path), metadata={"model": sched.sources[model_i].label})
            files.append(path)
    return files


def collect(sched: Schedule, progress: Progress | None = None, device: str = "cpu",
            notes: list[str] | None = None) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Merge into memory: ``(state_dict, heads)``; ``heads[j]`` is input model j's own head tensors."""
    out: dict[str, torch.Tensor] = {}
    heads: list[dict[str, torch.Tensor]] = [{} for _ in sched.head_models]

    def emit(task: TensorTask, tensor: torch.Tensor) -> None:
        # copies and heads are the caller's own tensors when the sources are in memory: hand back copies
        out[task.out] = tensor if task.kind == "merge" or sched.owned else tensor.clone()
        if task.kind == "head":
            for j, ref in enumerate(task.inputs):
                heads[j][task.out] = sched.sources[ref[0]].read(ref[1]).to(task.dtype)

    run_schedule(sched, emit, progress, device, notes)
    return out, heads

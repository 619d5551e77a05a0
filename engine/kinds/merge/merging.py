"""The two ways to run a merge: files to a Hugging Face folder (streaming), or state dicts in memory.

``merge_to_folder(plan, out)`` checks everything first, writes into a hidden sibling folder and
renames it to ``out`` only when complete, so a failed or interrupted merge leaves nothing
half-written where the model should be. ``merge_state_dicts(...)`` is the same engine on tensors
already in memory (studies, tests).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from engine.kinds.merge.checks import MergeError
from engine.kinds.merge.conventions import PRESETS, Conventions
from engine.kinds.merge.hf_folder import copy_tokenizer, write_config, write_readme
from engine.kinds.merge.model_files import ModelFiles
from engine.kinds.merge.params import parse_setting
from engine.kinds.merge.plan import MergePlan, ModelInput
from engine.kinds.merge.schedule import build_schedule
from engine.kinds.merge.streaming import MergeReport, Progress, collect, write_folder

DEFAULT_SHARD_BYTES = 5 * 10**9


class StateDictSource:
    """A model already in memory, seen through the same interface as files."""

    def __init__(self, state: Mapping[str, torch.Tensor], label: str):
        self.state, self.label = state, label

    def names(self) -> list[str]:
        return list(self.state)

    def __contains__(self, name: str) -> bool:
        return name in self.state

    def entry(self, name: str) -> tuple[torch.dtype, tuple[int, ...]]:
        t = self.state[name]
        return t.dtype, tuple(t.shape)

    def read(self, name: str) -> torch.Tensor:
        return self.state[name].detach()

    def architecture(self) -> str | None:
        return None


@dataclass
class MergeResult:
    state_dict: dict[str, torch.Tensor]
    heads: list[dict[str, torch.Tensor]]  # each input model's own head tensors (empty when none)
    report: MergeReport


def resolve_model(reference: str, relative_to: Path | None = None) -> Path:
    """A model reference → a local path: as given, then next to the config file, then the local
    Hugging Face cache (nothing is downloaded)."""
    if "+" in reference:
        raise MergeError(f"Model '{reference}': 'model+adapter' (a LoRA applied on the fly) is not supported; merge the "
                         "adapter into its model first and give that folder.")
    path = Path(reference).expanduser()
    if path.exists():
        return path
    if relative_to is not None and (relative_to / path).exists():
        return relative_to / path
    if reference.count("/") == 1 and not reference.startswith((".", "/")):
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(reference, local_files_only=True))
        except Exception:  # noqa: BLE001 - not in the cache: say so plainly below
            pass
    raise MergeError(f"Model '{reference}' not found: it is not a local file or folder"
                     + (f" (looked in {Path.cwd()} and {relative_to})" if relative_to else "")
                     + " and not in the local Hugging Face cache. Download it first or give its path.")


def _report(plan: MergePlan, sched, notes: list[str], seconds: float) -> MergeReport:
    kinds = [t.kind for t in sched.tasks]
    return MergeReport(method=plan.method, conventions=plan.conventions.model_dump(), plan=plan.to_dict(),
                       merged=kinds.count("merge"), copied=kinds.count("copy"), heads=kinds.count("head"),
                       notes=list(dict.fromkeys(sched.notes + notes)), seconds=seconds)


def check_device(device: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MergeError(f"Device '{device}' was asked for, but this machine has no CUDA device torch can use; "
                         "merge on the CPU (--device cpu).")
    if not (device == "cpu" or device.startswith("cuda")):
        raise MergeError(f"Unknown device '{device}'; use cpu or cuda.")


def merge_to_folder(plan: MergePlan, out_dir: str | Path, *, progress: Progress | None = None, device: str = "cpu",
                    max_shard_bytes: int = DEFAULT_SHARD_BYTES, overwrite: bool = False,
                    relative_to: Path | None = None, yaml_text: str | None = None) -> MergeReport:
    """Merge model files into a Hugging Face folder (config, sharded safetensors, tokenizer from the base)."""
    check_device(device)
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise MergeError(f"Output folder {out} already exists and is not empty; choose another folder or pass --overwrite.")
    paths: dict[str, Path] = {}

    def open_source(name: str) -> ModelFiles:
        paths[name] = resolve_model(name, relative_to)
        return ModelFiles(paths[name], label=name)

    t0 = time.perf_counter()
    sched = build_schedule(plan, open_source)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    notes: list[str] = []
    try:
        write_folder(sched, work, max_shard_bytes, progress, device, notes)
        donor_name = plan.base_model or plan.model_names()[0]
        donor = paths.get(donor_name)
        donor = donor if donor is not None and donor.is_dir() else None
        layers = next(iter(sched.num_layers.values()), None)
        write_config(donor, work, plan.out_dtype or plan.dtype, layers)
        copied = copy_tokenizer(donor, work)
        report = _report(plan, sched, notes, time.perf_counter() - t0)
        if donor is None:
            report.notes.append("No config.json or tokenizer copied: the base is not a Hugging Face folder.")
        elif not copied:
            report.notes.append(f"The base folder {donor} has no tokenizer files; none copied.")
        record = {**report.to_dict(), "conventions_text": plan.conventions.describe()}
        (work / "juxta_merge.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        if yaml_text is not None:
            (work / "mergekit_config.yml").write_text(yaml_text)
        write_readme(work, record, yaml_text)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def merge_state_dicts(method: str, base: Mapping[str, torch.Tensor] | None, experts: Sequence[Mapping[str, torch.Tensor]],
                      *, parameters: Mapping[str, Any] | None = None,
                      model_parameters: Sequence[Mapping[str, Any]] | None = None,
                      conventions: Conventions | None = None, seed: int = 0, heads: Sequence[str] = (),
                      dtype: str | None = None, embeddings: str = "error", progress: Progress | None = None,
                      device: str = "cpu") -> MergeResult:
    """Merge in memory. Parameter values may be scalars, gradients or filter lists, as in mergekit."""
    check_device(device)
    labels = [f"expert {i + 1}" for i in range(len(experts))]
    mp = list(model_parameters or [{}] * len(experts))
    if len(mp) != len(experts):
        raise MergeError(f"model_parameters has {len(mp)} entries for {len(experts)} experts.")
    plan = MergePlan(
        method=method, base_model="base" if base is not None else None,
        models=[ModelInput(label, {k: parse_setting(v, f"{label}.{k}") for k, v in p.items()}) for label, p in zip(labels, mp)],
        parameters={k: parse_setting(v, f"parameters.{k}") for k, v in (parameters or {}).items()},
        conventions=conventions or PRESETS["mergekit"], seed=seed, heads=list(heads), dtype=dtype, embeddings=embeddings)
    states = {"base": base, **dict(zip(labels, experts))}
    t0 = time.perf_counter()
    sched = build_schedule(plan, lambda name: StateDictSource(states[name], name))
    notes: list[str] = []
    state, head_tensors = collect(sched, progress, device, notes)
    return MergeResult(state, head_tensors, _report(plan, sched, notes, time.perf_counter() - t0))

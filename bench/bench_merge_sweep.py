"""A 50-point λ × density TIES sweep over the digits demo's four experts, merged and scored on the four
tasks: Juxta's in-memory sweep against what a mergekit user scripts today, in the same run.

* **Juxta**: the merge study kind's way (``engine.kinds.merge.study``): the merge of each density is
  computed once at λ = 1 and kept per worker (``sweep.merge_in_memory``), every λ of the grid is
  ``base + λ·U``; each merged model is scored in memory.
* **mergekit, one merge at a time**: for each grid point a YAML file, ``mergekit-pytorch`` (mergekit's
  command for raw safetensors files) writing the merge to disk, the file loaded back and scored. mergekit
  runs from bench/.venv-mergekit (bench_merge.py's helper installs it there; never a Juxta dependency).
  When mergekit cannot be installed, the script says so and times the same write-each-merge-then-reload
  loop with Juxta's own TIES in this process instead (no process start per merge: a lower bound on
  the mergekit user's cost).

Both paths score with the same code (the study's ``task_inputs`` / ``task_logits``, each task through
its own expert's head, batch-norm statistics re-estimated on each merge as the demo study does unless
``--batch-norm merge``), with mergekit's conventions (TIES, ``normalize: true``). The script checks that
both give the same accuracies (to float tolerance) and prints the ratio of wall times (target ≥ 10×).
mergekit cannot merge the integer ``num_batches_tracked`` buffers (it would average them as floats); the
files it gets leave them out and the evaluation takes them from the base, for both paths alike.

    python bench/bench_merge_sweep.py [--project DIR] [--batch-norm recompute|merge] [--skip-mergekit]

``--project`` copies a project where the demo's expert studies have run (else they are run in a
temporary project first, ~30 s, not timed); nothing is written into the given project.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DENSITIES = [0.1, 0.2, 0.3, 0.5, 0.7]
LAMBDAS = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
EXPERT_STUDIES = ("expert-rotated", "expert-noisy", "expert-inverted", "expert-blurred")
SWEEP = "sweep"
TOLERANCE = 1e-9  # accuracies are counts over the same examples: equal merges give exactly equal accuracies


def sweep_study(batch_norm: str) -> str:
    """The demo's merge study, reduced to the 50-point TIES grid."""
    text = (ROOT / "projects" / "digits-demo" / "merge.study.toml").read_text()
    head = text[: text.index("[merge]")].replace('name = "merge"', f'name = "{SWEEP}"')
    grid = (f'{{ method = "ties", density = {DENSITIES}, lambda = {LAMBDAS} }}')
    return head + f'[merge]\ntuning = "validation"\nbatch_norm = "{batch_norm}"\nmethods = [{grid}]\n'


def prepare(project: Path | None, batch_norm: str) -> Path:
    """A temporary project holding the four experts (a copy of ``project``'s, or trained here) and the sweep study."""
    from engine import open_project

    root = Path(tempfile.mkdtemp(prefix="juxta-sweep-"))
    if project is not None:
        shutil.copytree(project, root, dirs_exist_ok=True)
    else:
        for name in EXPERT_STUDIES:
            shutil.copy(ROOT / "projects" / "digits-demo" / f"{name}.study.toml", root)
        t0 = time.perf_counter()
        p = open_project(root)
        for name in EXPERT_STUDIES:
            p.run(name)
        print(f"trained the four experts in {root} in {time.perf_counter() - t0:.0f} s (not timed below)", flush=True)
    (root / f"{SWEEP}.study.toml").write_text(sweep_study(batch_norm))
    return root


class Sweep:
    """The planned sweep: its evaluation cells per grid point, the models, and one scoring routine."""

    def __init__(self, root: Path):
        from engine import open_project
        from engine.kinds.merge.study.plan import EVAL

        self.root = root
        self.plan = open_project(root).plan(SWEEP)
        cells = [c for c in self.plan.cells if c.type == EVAL and c.spec["role"] == "merged"]
        self.points: dict[str, list] = {}
        for c in cells:
            self.points.setdefault(c.arm, []).append(c)
        self.tasks = [e.id for e in self.plan.study.experts]

    def model_path(self, mid: str) -> Path:
        return self.root / self.plan.models[mid]["identity"].removeprefix("artifact:")

    def score(self, clf, cell, ctx) -> float:
        """Test accuracy of a classifier holding the merged weights and the task's head (the same code
        for both paths: the study's task inputs and logits)."""
        from engine.kinds.merge.study.evaluate import accuracy, task_inputs, task_logits

        out, labels = task_logits(clf, task_inputs(cell.spec["task"], self.root, "test"), cell.arm, ctx)
        return accuracy(out, labels)


def run_juxta(s: Sweep) -> dict[tuple[str, str], float]:
    """The merge study kind's evaluation of every grid point, in one worker: merged in memory, λ last."""
    from engine.core.cells import CellContext
    from engine.kinds.merge.study.work import merged_weights

    ctx = CellContext(root=s.root)
    out = {}
    for arm, cells in s.points.items():
        for cell in cells:
            cell.inputs["artifacts"] = {}
            clf, _ = merged_weights(cell, ctx)
            out[(arm, cell.condition)] = s.score(clf, cell, ctx)
    return out


def write_inputs(s: Sweep, folder: Path) -> dict[str, Path]:
    """The base and experts as plain safetensors files without integer buffers (what mergekit can merge)."""
    from safetensors.torch import load_file, save_file

    paths = {}
    for mid in ["base", *s.tasks]:
        state = {k: v for k, v in load_file(str(s.model_path(mid))).items() if v.is_floating_point()}
        paths[mid] = folder / f"{mid}.safetensors"
        save_file(state, str(paths[mid]))
    return paths


def mergekit_yaml(s: Sweep, paths: dict[str, Path], density: float, lam: float) -> str:
    models = "".join(f"  - model: {paths[t]}\n    parameters: {{weight: 1.0, density: {density}}}\n" for t in s.tasks)
    return (f"merge_method: ties\nbase_model: {paths['base']}\nmodels:\n{models}"
            f"parameters: {{lambda: {lam}, normalize: true}}\ndtype: float32\n")


def juxta_write(s: Sweep, paths: dict[str, Path], density: float, lam: float, out: Path) -> None:
    """The fallback's merge step: Juxta's TIES (no cache, λ inside the merge) written to a folder."""
    from safetensors.torch import load_file, save_file

    from engine.kinds.merge.conventions import PRESETS
    from engine.kinds.merge.merging import merge_state_dicts

    base = load_file(str(paths["base"]))
    experts = [load_file(str(paths[t])) for t in s.tasks]
    merged = merge_state_dicts("ties", base, experts, parameters={"density": density, "lambda": lam},
                               conventions=PRESETS["mergekit"], seed=0, heads=[]).state_dict
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in merged.items()}, str(out / "model.safetensors"))


def run_on_disk(s: Sweep, mergekit: str | None, work: Path) -> dict[tuple[str, str], float]:
    """Each grid point merged to disk (mergekit-pytorch, or the fallback), loaded back and scored."""
    from safetensors.torch import load_file

    from engine.core.cells import CellContext
    from engine.kinds.merge.study.batchnorm import calibration_inputs, recompute
    from engine.kinds.merge.study.models import head_names, scratch_copy, state_dict

    ctx = CellContext(root=s.root)
    paths = write_inputs(s, work)
    base_ints = {k: v for k, v in load_file(str(s.model_path("base"))).items() if not v.is_floating_point()}
    out = {}
    for arm, cells in s.points.items():
        params = cells[0].spec["merge"]["parameters"]
        folder = work / arm.replace("[", "-").replace("]", "").replace(",", "-").replace("=", "")
        if mergekit:
            cfg = work / "config.yml"
            cfg.write_text(mergekit_yaml(s, paths, params["density"], params["lambda"]))
            done = subprocess.run([mergekit, str(cfg), str(folder)], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"mergekit-pytorch failed on {arm}:\n{(done.stderr or done.stdout)[-3000:]}")
        else:
            juxta_write(s, paths, params["density"], params["lambda"], folder)
        merged = {}
        for f in sorted(folder.glob("*.safetensors")):
            merged.update(load_file(str(f)))
        merged.update(base_ints)
        stats = None
        for cell in cells:
            head_model = next(m for m in cell.spec["merge"]["experts"] if m["id"] == cell.spec["head"])
            own = state_dict(head_model, cell, s.root)
            clf = scratch_copy(head_model, cell, s.root)
            heads = head_names({k: tuple(v.shape) for k, v in own.items()}, len(clf.info.class_names))
            clf.module.load_state_dict({**merged, **{k: own[k] for k in heads}})
            if cell.spec.get("batch_norm"):  # the same re-estimation as the study, once per merged model
                if stats is None:
                    stats = recompute(clf.module, calibration_inputs(cell.spec["batch_norm"], s.root))
                else:
                    for name, value in clf.module.named_buffers():
                        value.copy_(stats[name])
            out[(arm, cell.condition)] = s.score(clf, cell, ctx)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--project", type=Path, help="a project where the demo's four expert studies have run")
    p.add_argument("--batch-norm", choices=["recompute", "merge"], default="recompute")
    p.add_argument("--skip-mergekit", action="store_true", help="time the in-process write-and-reload loop instead")
    args = p.parse_args()

    from bench.bench_merge import install_mergekit
    from engine.kinds.merge.study.work import forget_worker_caches

    root = prepare(args.project, args.batch_norm)
    work = Path(tempfile.mkdtemp(prefix="juxta-sweep-disk-"))
    try:
        s = Sweep(root)
        n = len(s.points)
        print(f"{n} grid points (density {DENSITIES} × λ {LAMBDAS}) × {len(s.tasks)} tasks; batch-norm statistics: "
              f"{'re-estimated on each merge' if args.batch_norm == 'recompute' else 'merged'}", flush=True)
        mergekit = None
        if not args.skip_mergekit:
            exe = install_mergekit()
            mergekit = str(Path(exe).with_name("mergekit-pytorch")) if exe else None
        if mergekit is None:
            print("NOTE: mergekit is not available here; the baseline is Juxta's own TIES written to a safetensors folder, "
                  "reloaded and scored per grid point, in this process (no process start per merge: a lower bound on a "
                  "mergekit user's loop).", flush=True)
        from engine.kinds.merge.study.evaluate import task_inputs

        for cell in next(iter(s.points.values())):  # the tasks' inputs, loaded once for both paths (not timed)
            task_inputs(cell.spec["task"], root, "test")
            task_inputs(cell.spec["task"], root, "train")

        forget_worker_caches()
        t0 = time.perf_counter()
        juxta = run_juxta(s)
        t_juxta = time.perf_counter() - t0
        print(f"Juxta (in memory, λ applied last): {t_juxta:6.1f} s", flush=True)

        forget_worker_caches()
        t0 = time.perf_counter()
        disk = run_on_disk(s, mergekit, work)
        t_disk = time.perf_counter() - t0
        label = "mergekit-pytorch, one merge written per point" if mergekit else "write-and-reload loop (Juxta TIES)"
        print(f"{label}: {t_disk:6.1f} s", flush=True)

        gaps = [abs(juxta[k] - disk[k]) for k in juxta]
        worst = max(gaps)
        same = worst <= TOLERANCE and set(juxta) == set(disk)
        print(f"same accuracies on all {len(gaps)} (point, task) pairs: {'yes' if same else 'NO'} "
              f"(largest difference {worst:.2e}; tolerance {TOLERANCE:g})")
        ratio = t_disk / t_juxta
        print(f"Juxta is {ratio:.1f}× faster ({'meets' if ratio >= 10 else 'misses'} the ≥ 10× target)")
        best = max(s.points, key=lambda a: sum(juxta[(a, t)] for t in s.tasks))
        print(f"best point on test (for reference only; a study chooses on validation): {best}, average accuracy "
              f"{100 * sum(juxta[(best, t)] for t in s.tasks) / len(s.tasks):.1f}%")
        print(json.dumps({"points": n, "tasks": len(s.tasks), "batch_norm": args.batch_norm, "juxta_s": round(t_juxta, 2),
                          "baseline": "mergekit-pytorch" if mergekit else "juxta-write-reload", "baseline_s": round(t_disk, 2),
                          "ratio": round(ratio, 2), "same_accuracies": same, "largest_difference": worst}))
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

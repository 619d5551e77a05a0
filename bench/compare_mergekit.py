"""Juxta against a real `mergekit-yaml` on every deterministic method both have, tensor by tensor.

Builds tiny Llama-shaped models (base + 3 experts), runs each config through `juxta merge` and
through mergekit-yaml from bench/.venv-mergekit (installed by bench_merge.py's helper), and prints
the largest absolute difference per method (the issue's bar: 1e-6). Random methods (DARE, DELLA)
draw different random numbers in the two tools and are compared on their deterministic limit
(density 1).

    python bench/compare_mergekit.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_merge import install_mergekit  # noqa: E402
from engine.kinds.merge.model_files import ModelFiles  # noqa: E402

E = ["e1", "e2", "e3"]
GTA = "parameters: {{weight: {w}, density: {d}}}"


def configs(root: Path) -> dict[str, str]:
    b = root / "base"
    models = lambda ps: "\n".join(f"  - model: {root / e}\n    {p}" for e, p in zip(E, ps))  # noqa: E731
    gta = lambda method, dens, extra="": (  # noqa: E731
        f"merge_method: {method}\nbase_model: {b}\nmodels:\n"
        + models([GTA.format(w=w, d=d) for w, d in zip((1.0, 0.6, 0.3), dens)]) + f"\n{extra}dtype: float32\n")
    return {
        "linear": f"merge_method: linear\nmodels:\n" + models(["parameters: {weight: 1.0}", "parameters: {weight: 0.5}",
                                                               "parameters: {weight: 0.25}"]) + "\ndtype: float32\n",
        "task_arithmetic": gta("task_arithmetic", (1, 1, 1), "parameters: {lambda: 0.7}\n"),
        "ties": gta("ties", (0.5, 0.3, 0.7), "parameters: {lambda: 0.9}\n"),
        "ties_gradient": f"merge_method: ties\nbase_model: {b}\nmodels:\n" + models([
            "parameters: {weight: [1.0, 0.2], density: [{filter: mlp, value: [0.9, 0.2]}, {value: 0.5}]}",
            "parameters: {weight: 0.5, density: 0.4}", "parameters: {weight: 0.7, density: [0.3, 0.8, 0.6]}"]) + "\ndtype: float32\n",
        "ties_sum": gta("ties", (0.5, 0.5, 0.5), "parameters: {normalize: false}\n"),
        "breadcrumbs": gta("breadcrumbs", (0.5, 0.6, 0.7), "parameters: {gamma: 0.05}\n"),
        "breadcrumbs_ties": gta("breadcrumbs_ties", (0.5, 0.6, 0.7), "parameters: {gamma: 0.05}\n"),
        "dare_linear_d1": gta("dare_linear", (1, 1, 1)),
        "slerp": f"merge_method: slerp\nbase_model: {b}\nmodels:\n  - model: {b}\n  - model: {root / 'e1'}\n"
                 "parameters: {t: [0.1, 0.7]}\ndtype: float32\n",
        "nuslerp": f"merge_method: nuslerp\nmodels:\n  - model: {root / 'e1'}\n    parameters: {{weight: 0.3}}\n"
                   f"  - model: {root / 'e2'}\n    parameters: {{weight: 0.7}}\ndtype: float32\n",
        "multislerp": "merge_method: multislerp\nmodels:\n" + models(["parameters: {weight: 1.0}", "parameters: {weight: 2.0}",
                                                                      "parameters: {weight: 0.5}"]) + "\ndtype: float32\n",
        "karcher": "merge_method: karcher\nmodels:\n" + models(["parameters: {}"] * 3) + "\ndtype: float32\n",
        "model_stock": f"merge_method: model_stock\nbase_model: {b}\nmodels:\n" + models(["parameters: {}"] * 3) + "\ndtype: float32\n",
        "sce": f"merge_method: sce\nbase_model: {b}\nmodels:\n" + models(["parameters: {}"] * 3)
               + "\nparameters: {select_topk: 0.5}\ndtype: float32\n",
        "nearswap": f"merge_method: nearswap\nbase_model: {b}\nmodels:\n  - model: {root / 'e1'}\n"
                    "parameters: {t: 0.01}\ndtype: float32\n",
        "ram": f"merge_method: ram\nbase_model: {b}\nmodels:\n" + models(["parameters: {}"] * 3) + "\nparameters: {epsilon: 0.02}\ndtype: float32\n",
        "passthrough_slices": f"merge_method: passthrough\nslices:\n  - sources: [{{model: {root / 'e1'}, layer_range: [0, 2]}}]\n"
                              f"  - sources: [{{model: {root / 'e2'}, layer_range: [1, 3]}}]\ndtype: float32\n",
    }


def max_diff(a: Path, b: Path) -> float:
    ma, mb = ModelFiles(a), ModelFiles(b)
    if sorted(ma.names()) != sorted(mb.names()):
        return float("inf")
    return max(float((ma.read(n).double() - mb.read(n).double()).abs().max()) for n in ma.names())


def main() -> int:
    from tests.kinds.merge.conftest import build_llama

    mk = install_mergekit()
    if not mk:
        return 1
    root = Path(tempfile.mkdtemp(prefix="juxta-vs-mergekit-"))
    try:
        base = build_llama(root / "base", seed=0, tokenizer=False)
        for i, e in enumerate(E):
            build_llama(root / e, seed=i + 1, base=base, scale=0.05, tokenizer=False)
        worst = 0.0
        for name, text in configs(root).items():
            cfg = root / f"{name}.yml"
            cfg.write_text(text)
            j = subprocess.run([sys.executable, "-m", "app.cli", "merge", str(cfg), str(root / f"j-{name}"), "--quiet"],
                               cwd=ROOT, capture_output=True, text=True)
            m = subprocess.run([mk, str(cfg), str(root / f"m-{name}"), "--no-copy-tokenizer", "--quiet"],
                               capture_output=True, text=True)
            if j.returncode or m.returncode:
                print(f"{name:>20}: juxta exit {j.returncode}, mergekit exit {m.returncode}\n{j.stderr[-800:]}{m.stderr[-800:]}")
                continue
            diff = max_diff(root / f"j-{name}", root / f"m-{name}")
            worst = max(worst, diff)
            print(f"{name:>20}: max |juxta − mergekit| = {diff:.2e}")
        print(f"worst: {worst:.2e} ({'within' if worst <= 1e-6 else 'OUTSIDE'} 1e-6)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

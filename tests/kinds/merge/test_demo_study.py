"""The demo's merge study (projects/digits-demo/merge.study.toml) validates and plans the cells it should,
without training anything: the four experts' artifacts are stand-ins (untrained CNNs) here. And planning
a merge study loads no torch, so a re-run with nothing to compute stays fast."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from engine.kinds import KINDS, parse_study_text
from engine.kinds.merge.study.plan import DIAGNOSE, EVAL, EXPERT, FIT, configurations, plan_study
from engine.models.training_cell import TRAIN_TYPE

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "projects" / "digits-demo" / "merge.study.toml"
EXPERTS = ("rotated", "noisy", "inverted", "blurred")
CONDITIONS = {"rotated": "rotate/5", "noisy": "impulse_noise/5", "inverted": "invert/5", "blurred": "motion_blur/5"}
# method entry -> grid size, as the issue asks: averaging, task arithmetic (λ), TIES (λ × density), layer-wise
# AdaMerging, and the cheap telling ones
GRIDS = {"linear": 1, "linear-merged-bn": 1, "task_arithmetic": 8, "ties": 20, "ties-paper": 16, "dare_ties": 6,
         "consensus": 5, "adamerging": 2}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo study in a project whose four expert artifacts (and their base) are untrained digits CNNs."""
    import torch

    from engine.models.base import ModelInfo
    from engine.models.builtin import build
    from engine.models.train import save_juxta_model

    root = tmp_path_factory.mktemp("demo")
    (root / DEMO.name).write_text(DEMO.read_text())
    artifacts = {}
    for name in ["expert-rotated/base", *(f"expert-{e}/full" for e in EXPERTS)]:
        module = build("cnn", (1, 8, 8), 10, torch.zeros(1), torch.ones(1))
        path = f"artifacts/{name.replace('/', '-')}.safetensors"
        save_juxta_model(module, ModelInfo(f"artifact:{name}", "cnn", 1, [str(i) for i in range(10)], "image",
                                           (1, 8, 8)), None, root / path)
        artifacts[name] = path
    study = parse_study_text(DEMO.read_text(), str(DEMO))
    return root, study, plan_study(study, root, artifacts)


def test_the_demo_names_the_four_experts_of_the_fine_tuning_demo_and_their_domains(demo):
    _, study, _ = demo
    assert study.base.source == "artifact:expert-rotated/base"
    assert [(e.id, e.source, e.condition) for e in study.experts] == [
        (e, f"artifact:expert-{e}/full", CONDITIONS[e]) for e in EXPERTS]
    for e in EXPERTS:  # each expert's condition is the domain its fine-tuning study tuned it on
        assert f'domain = "{CONDITIONS[e]}"' in (DEMO.parent / f"expert-{e}.study.toml").read_text()


def test_the_demo_plans_its_grids_on_four_tasks_with_coefficients_chosen_on_validation(demo):
    root, study, plan = demo
    grids = Counter(c.entry for c in configurations(study))
    assert dict(grids) == GRIDS
    counts = Counter(c.type for c in plan.cells)
    n_configs = sum(GRIDS.values())
    assert counts == {EVAL: 4 * (1 + 4 + n_configs), FIT: 2, DIAGNOSE: 1}  # nothing trained: the experts exist
    assert TRAIN_TYPE not in counts and EXPERT not in counts
    assert KINDS["merge"].describe(study).counts["merge.eval"] == counts[EVAL]
    merged = [c for c in plan.cells if c.type == EVAL and c.spec["role"] == "merged"]
    assert {c.spec["selection"] for c in merged} == {"validation"} and study.data.split == "test"
    assert {c.arm for c in merged if "batch_norm" not in c.spec} == {"linear-merged-bn"}
    fits = [c for c in plan.cells if c.type == FIT]
    assert {c.spec["fit_on"] for c in fits} == {"validation"}  # not transductive
    assert all(c.spec["merge"]["parameters"].get("layer_wise", True) for c in fits)  # layer-wise AdaMerging
    assert KINDS["merge"].check(study, root, plan, DEMO.read_text()) == []
    rows = dict(KINDS["merge"].describe(study).rows)
    assert rows["Batch-norm statistics"].endswith("except linear-merged-bn (merged like the weights)")
    assert rows["Method ties-paper (ties)"].endswith("; paper conventions")


def test_planning_a_merge_study_loads_no_torch(demo):
    """Regression: planning checked each grid point against the method registry, whose modules imported
    torch: a re-run of the demo's merge study with nothing to compute took 5 s, 3.6 s of it importing torch."""
    root, study, plan = demo
    artifacts = {m["source"].removeprefix("artifact:"): m["identity"].removeprefix("artifact:")
                 for m in plan.models.values()}
    code = ("import sys; from pathlib import Path; from engine.kinds import parse_study_text; "
            "from engine.kinds.merge.study.plan import plan_study; "
            f"s = parse_study_text(Path({str(DEMO)!r}).read_text(), 'merge.study.toml'); "
            f"p = plan_study(s, Path({str(root)!r}), {artifacts!r}); "
            "print(len(p.cells), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(plan.cells)), "False"]

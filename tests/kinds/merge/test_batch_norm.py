"""Batch-norm statistics of merged models: re-estimated on the merged model when a study asks
(``batch_norm = "recompute"``), merged like weights otherwise, and refused on models without batch norm."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from engine import open_project
from engine.core.cells import CellContext
from engine.core.errors import StudyFileError
from engine.kinds.merge.study.batchnorm import BATCH, batch_statistics, recompute
from engine.kinds.merge.study.plan import EVAL, FIT

STUDY = """schema_version = 1
[study]
name = "bn"
kind = "merge"
seeds = [0]
[base]
source = "builtin:digits-{arch}"
train = {{ epochs = 1 }}
[data]
source = "builtin:digits"
max_examples = 120
[[experts]]
id = "rotated"
condition = "rotate/3"
tune = {{ epochs = 1 }}
[[experts]]
id = "inverted"
condition = "invert/5"
tune = {{ epochs = 1 }}
[merge]
batch_norm = "recompute"
methods = [{methods}]
[metrics]
bootstrap = 20
[execution]
backend = "sequential"
"""


def bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2),
                         nn.BatchNorm1d(2)).eval()


def test_recompute_measures_the_statistics_of_the_inputs_it_is_given():
    net = bn_net()
    x = torch.randn(40, 1, 4, 4) * 3 + 1
    buffers = recompute(net, [x[:20], x[20:]])
    pre = net[0](x)  # what the first batch norm sees
    assert torch.allclose(buffers["1.running_mean"], pre.mean(dim=(0, 2, 3)), atol=1e-5)
    per_batch = [net[0](b).transpose(0, 1).reshape(3, -1).var(dim=1) for b in (x[:20], x[20:])]
    assert torch.allclose(buffers["1.running_var"], sum(per_batch) / 2, atol=1e-4)  # a cumulative average
    assert not net.training and net[1].momentum == 0.1  # left as it was found


def test_batch_statistics_normalises_each_batch_by_itself_and_writes_no_buffer():
    net = bn_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batch_statistics(net)
    x = torch.randn(16, 1, 4, 4) * 5 + 2
    out = net[1](net[0](x))
    assert torch.allclose(out.mean(dim=(0, 2, 3)), net[1].bias.detach(), atol=1e-5)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())


def test_a_model_without_batch_norm_cannot_ask_to_recompute(tmp_path):
    (tmp_path / "bn.study.toml").write_text(STUDY.format(arch="mlp", methods='{ method = "linear" }'))
    with pytest.raises(StudyFileError) as info:
        open_project(tmp_path).validate("bn")
    assert ['batch_norm = "recompute" re-estimates batch-norm statistics, but the models have no batch-norm layer; '
            'remove it' in str(p) for p in info.value.problems] == [True]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A tiny CNN study run once: averaging with re-estimated and with merged statistics, and AdaMerging."""
    root = tmp_path_factory.mktemp("bn")
    methods = '{ method = "linear" }, { method = "linear", id = "kept", batch_norm = "merge" }, ' \
              '{ method = "adamerging", fit_on = "validation", steps = 2 }'
    (root / "bn.study.toml").write_text(STUDY.format(arch="cnn", methods=methods))
    project = open_project(root)
    project.run("bn")
    return root, project


def test_merged_models_get_the_statistics_of_their_own_weights(ran):
    """Regression: merged models kept the experts' merged running statistics, which do not describe the
    merged weights' activations (the demo's averaging lost 8 points to it). Now they are measured on the
    merged model, from the tasks' train inputs; an entry may keep the merged ones."""
    tmp_path, project = ran
    plan = project.plan("bn")
    evals = {(c.arm, c.condition): c for c in plan.cells if c.type == EVAL}
    assert "batch_norm" in evals[("linear", "rotated")].spec and "batch_norm" not in evals[("kept", "rotated")].spec
    assert [c.spec.get("batch_norm") for c in plan.cells if c.type == FIT] == ["recompute"]
    with project.store(read_only=True) as store:
        saved = dict(store.con.execute("SELECT cell_key, path FROM artifacts WHERE kind = 'model'").fetchall())
        info = dict(store.con.execute("SELECT arm, info FROM cells WHERE study = 'bn' AND type = ? AND condition = "
                                      "'rotated'", [EVAL]).fetchall())
    assert json.loads(info["linear"])["batch_norm"] == "recomputed" and "batch_norm" not in json.loads(info["kept"])

    from engine.kinds.merge.study.batchnorm import calibration_inputs
    from engine.kinds.merge.study.work import merged_weights

    def bn_buffers(arm: str) -> tuple[nn.Module, dict[str, torch.Tensor]]:
        cell = evals[(arm, "rotated")]
        cell.inputs["artifacts"] = {k: saved[k] for k in cell.depends_on}  # as the coordinator hands them
        clf, _ = merged_weights(cell, CellContext(root=tmp_path))
        return clf.module, {k: v.clone() for k, v in clf.module.named_buffers() if "running" in k}

    module, recomputed = bn_buffers("linear")
    x = torch.cat(calibration_inputs(evals[("linear", "rotated")].spec["batch_norm"], tmp_path))
    assert len(x) <= BATCH  # one batch: its statistics are the running ones exactly
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(layer, inputs, output) -> None:
            seen[name] = inputs[0].detach()
        return hook

    layers = {n: m for n, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)}
    hooks = [m.register_forward_hook(keep(n)) for n, m in layers.items()]
    module.train()  # one batch: every layer sees what it saw while its statistics were measured
    with torch.no_grad():
        module(x)
    module.eval()
    for h in hooks:
        h.remove()
    assert len(seen) == 3
    for name, inputs in seen.items():
        assert torch.allclose(recomputed[f"{name}.running_mean"], inputs.mean(dim=(0, 2, 3)), atol=1e-4)
    _, kept = bn_buffers("kept")
    assert any(not torch.allclose(kept[k], recomputed[k], atol=1e-3) for k in kept)



def test_the_summary_caption_marks_transductive_rows_only_when_there_are_some(ran):
    """Regression: the caption always ended '† learned from the unlabeled test inputs', even when no row had."""
    from engine.kinds.merge.study.report.tables import merge_tables

    _, project = ran
    results = project.results("bn")
    summary = next(t for t in merge_tables(results) if t.table_id == "summary")
    assert not results.summary.transductive.any() and "†" not in summary.caption
    results.summary.loc[results.summary.arm.str.startswith("adamerging"), "transductive"] = True
    summary = next(t for t in merge_tables(results) if t.table_id == "summary")
    assert summary.caption.endswith("† learned from the unlabeled test inputs.")

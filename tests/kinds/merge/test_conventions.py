"""mergekit's conventions reproduced to 1e-6 from its documented formulas (written out here with
argsort, as mergekit does), and the paper/FusionBench preset from FusionBench's formulas."""

from __future__ import annotations

import pytest
import torch

from engine.kinds.merge import PRESETS, conventions, merge_state_dicts
from engine.kinds.merge.params import Conditional, depth_positions, evaluate, parse_setting

T = lambda *v: torch.tensor(v, dtype=torch.float32)  # noqa: E731


def mergekit_ties(base, xs, weights, densities, normalize=True, lam=1.0):
    """mergekit's GTA with magnitude sparsification and sum consensus, step by step."""
    deltas = []
    for x, d in zip(xs, densities):
        delta = x - base
        if d < 1:
            k = int(d * delta.numel())
            mask = torch.zeros_like(delta)
            mask.view(-1)[torch.argsort(delta.abs().view(-1), descending=True)[:k]] = 1
            delta = delta * mask
        deltas.append(delta)
    deltas = torch.stack(deltas)
    w = torch.tensor(weights).view(-1, *([1] * base.dim()))
    weighted = deltas * w
    majority = (weighted.sum(0) >= 0).float() * 2 - 1
    mask = weighted.sign() == majority
    mixed = (weighted * mask).sum(0)
    divisor = (w * mask).sum(0)
    divisor[divisor == 0] = 1
    if normalize:
        mixed = mixed / divisor
    return base + lam * mixed


def fusionbench_ties(base, xs, density, lam):
    """FusionBench's ties_merging on the flattened task vectors (kthvalue trim, majority zero signs, sum)."""
    tv = torch.stack([x - base for x in xs])
    d = tv.shape[1]
    kth = tv.abs().kthvalue(d - int(d * density), dim=1, keepdim=True).values
    tv = tv * (tv.abs() >= kth)
    signs = torch.sign(tv.sum(0))
    signs[signs == 0] = torch.sign(signs.sum())
    keep = torch.where(signs.unsqueeze(0) > 0, tv > 0, tv < 0)
    return base + lam * (tv * keep).sum(0)


@pytest.fixture
def distinct():
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(8, 6, generator=gen)
    return base, [base + torch.randn(8, 6, generator=gen) * s for s in (0.1, 0.2, 0.15, 0.05)]


def test_mergekit_ties_per_tensor_trim_weighted_election_and_normalize(distinct):
    base, xs = distinct
    weights, dens = [1.0, 0.5, 2.0, 0.7], [0.3, 0.5, 0.21, 0.9]
    got = merge_state_dicts("ties", {"w": base}, [{"w": x} for x in xs], parameters={"lambda": 0.8},
                            model_parameters=[{"weight": w, "density": d} for w, d in zip(weights, dens)])
    assert torch.allclose(got.state_dict["w"], mergekit_ties(base, xs, weights, dens, lam=0.8), atol=1e-6, rtol=0)
    unnormalized = merge_state_dicts("ties", {"w": base}, [{"w": x} for x in xs], parameters={"normalize": False},
                                     model_parameters=[{"weight": w, "density": d} for w, d in zip(weights, dens)])
    assert torch.allclose(unnormalized.state_dict["w"], mergekit_ties(base, xs, weights, dens, normalize=False),
                          atol=1e-6, rtol=0)


def test_trim_keeps_int_density_times_numel_per_tensor(distinct):
    base, xs = distinct
    got = merge_state_dicts("ties", {"w": base}, [{"w": xs[0]}], model_parameters=[{"density": 0.3}])
    assert int((got.state_dict["w"] != base).sum()) == int(0.3 * 48)  # 14, not 15


def test_zero_sum_elects_plus_in_mergekit_and_majority_in_the_paper_preset():
    base = torch.zeros(3)
    e1, e2 = T(1.0, 2.0, 1.0), T(-1.0, 1.0, 1.0)  # element 0 sums to exactly 0
    mk = merge_state_dicts("ties", {"w": base}, [{"w": e1}, {"w": e2}]).state_dict["w"]
    assert mk.tolist() == [1.0, 1.5, 1.0]  # +1 elected: only e1's +1 is kept, divided by its weight
    paper = conventions("paper")
    got = merge_state_dicts("ties", {"w": base}, [{"w": e1}, {"w": e2}],
                            parameters={"lambda": 1.0, "density": 1.0}, conventions=paper).state_dict["w"]
    # signs of the sums: (0, +, +) -> the zero takes the majority (+): keeps e1's +1 at element 0, summed
    assert got.tolist() == [1.0, 3.0, 2.0]
    neg = merge_state_dicts("ties", {"w": base}, [{"w": T(1.0, -2.0, -1.0)}, {"w": T(-1.0, -1.0, -1.0)}],
                            parameters={"lambda": 1.0, "density": 1.0}, conventions=paper).state_dict["w"]
    assert neg.tolist() == [-1.0, -3.0, -2.0]  # majority is −: the zero-sum element keeps the −1


def test_weights_change_the_elected_sign_in_mergekit_only():
    base = torch.zeros(1)
    experts = [{"w": T(1.0)}, {"w": T(-0.6)}]
    mp = [{"weight": 1.0}, {"weight": 2.0}]
    mk = merge_state_dicts("ties", {"w": base}, experts, model_parameters=mp).state_dict["w"]
    assert mk.tolist() == pytest.approx([-0.6])  # weighted sum 1 − 1.2 < 0: −1.2 / 2
    unweighted = conventions("mergekit", sign_election="unweighted")
    got = merge_state_dicts("ties", {"w": base}, experts, model_parameters=mp, conventions=unweighted).state_dict["w"]
    assert got.tolist() == pytest.approx([1.0])  # plain sum 0.4 > 0: model 1 wins
    assert unweighted.preset == "custom"


def test_dare_rescale_conventions():
    gen = torch.Generator().manual_seed(2)
    base, e = torch.zeros(4000), torch.randn(4000, generator=gen)
    mk = merge_state_dicts("dare_linear", {"w": base}, [{"w": e}], model_parameters=[{"density": 0.4}], seed=3).state_dict["w"]
    kept = mk != 0
    assert torch.allclose(mk[kept], e[kept] * e.abs().sum() / e[kept].abs().sum(), atol=1e-5)
    paper = merge_state_dicts("dare_linear", {"w": base}, [{"w": e}], parameters={"lambda": 1.0},
                              model_parameters=[{"density": 0.4}], seed=3, conventions=conventions("paper")).state_dict["w"]
    kept = paper != 0
    assert torch.allclose(paper[kept], e[kept] / 0.4, atol=1e-5)


def test_normalize_divides_by_the_weights_that_survived_the_election():
    base = torch.zeros(2)
    xs = [T(1.0, 1.0), T(2.0, -1.0), T(4.0, 1.0)]
    got = merge_state_dicts("ties", {"w": base}, [{"w": x} for x in xs],
                            model_parameters=[{"weight": 1}, {"weight": 2}, {"weight": 3}]).state_dict["w"]
    # element 0: all agree: (1 + 4 + 12) / 6; element 1: (+1, −2, +3) sums to +2: keeps 1 and 3 → (1 + 3) / 4
    assert got.tolist() == pytest.approx([17 / 6, 1.0])


def test_paper_preset_equals_fusionbench_ties_over_the_whole_task_vector():
    gen = torch.Generator().manual_seed(5)
    base = {"a": torch.randn(7, 5, generator=gen), "b": torch.randn(11, generator=gen)}
    experts = [{k: v + 0.1 * torch.randn(v.shape, generator=gen) for k, v in base.items()} for _ in range(3)]
    got = merge_state_dicts("ties", base, experts, conventions=conventions("paper")).state_dict
    flat = lambda sd: torch.cat([sd["a"].reshape(-1), sd["b"].reshape(-1)])  # noqa: E731
    expected = fusionbench_ties(flat(base), [flat(e) for e in experts], density=0.2, lam=0.3)
    assert torch.allclose(flat(got), expected, atol=1e-6, rtol=0)
    # …and it differs from trimming each tensor on its own
    per_tensor = merge_state_dicts("ties", base, experts, conventions=conventions("paper", trim_scope="tensor")).state_dict
    assert not torch.allclose(flat(per_tensor), expected)


def test_every_switch_is_recorded_with_the_merge(distinct):
    base, xs = distinct
    report = merge_state_dicts("ties", {"w": base}, [{"w": xs[0]}], conventions=conventions("paper")).report
    assert report.conventions["preset"] == "paper"
    for switch in ("trim_scope", "trim_rule", "sign_election", "zero_sign", "dare_rescale", "aggregation"):
        assert switch in report.conventions
    assert PRESETS["mergekit"].trim_scope == "tensor" and PRESETS["paper"].trim_scope == "task_vector"
    labels = dict(PRESETS["paper"].describe())
    assert labels["λ"] == "multiplies the aggregated update"


def test_gradients_are_piecewise_linear_over_the_layer_index():
    names = ["model.embed_tokens.weight"] + [f"model.layers.{i}.mlp.weight" for i in range(5)] + ["model.norm.weight"]
    depth = depth_positions(names)
    assert [depth[n] for n in names] == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 0.0]
    grad = parse_setting([1.0, 0.5, 0.1], "density")
    assert evaluate(grad, "x", 0.0) == 1.0 and evaluate(grad, "x", 1.0) == pytest.approx(0.1)
    assert evaluate(grad, "x", 0.25) == pytest.approx(0.75)
    assert evaluate(grad, "x", 0.75) == pytest.approx(0.3)
    assert evaluate(parse_setting([0, 1, 0, 1], "t"), "x", 0.5) == pytest.approx(0.5)


def test_filters_first_match_wins_and_fall_through_when_none_matches():
    s = parse_setting([{"filter": "proj", "value": 2}, {"filter": "layers.1", "value": 3}, {"value": [0, 1]}], "weight")
    assert isinstance(s[0], Conditional)
    assert evaluate(s, "layers.1.proj.weight", 1.0) == 2
    assert evaluate(s, "layers.1.norm.weight", 1.0) == 3
    assert evaluate(s, "norm.weight", 0.5) == pytest.approx(0.5)
    assert evaluate(parse_setting([{"filter": "attn", "value": 1}], "weight"), "mlp.weight", 0) is None


def test_gradient_weights_reach_each_layer(tiny_states):
    base, experts = tiny_states
    got = merge_state_dicts("task_arithmetic", base, experts[:1], model_parameters=[{"weight": [0.0, 1.0]}]).state_dict
    # layer 0 of 2: t = 0 → weight 0; layer 1: t = 1 → weight 1; embeddings outside layers: first value (0)
    assert torch.equal(got["layers.0.proj.weight"], base["layers.0.proj.weight"])
    assert torch.allclose(got["layers.1.proj.weight"], experts[0]["layers.1.proj.weight"], atol=1e-6)
    assert torch.equal(got["embed_tokens.weight"], base["embed_tokens.weight"])
    filtered = merge_state_dicts("task_arithmetic", base, experts[:1],
                                 model_parameters=[{"weight": [{"filter": "proj", "value": 1.0}, {"value": 0.0}]}]).state_dict
    assert torch.allclose(filtered["layers.0.proj.weight"], experts[0]["layers.0.proj.weight"], atol=1e-6)
    assert torch.equal(filtered["norm.weight"], base["norm.weight"])

"""Every per-tensor method against values computed by hand (or by the method's published formula,
written out here independently of the engine) on tiny state dicts."""

from __future__ import annotations

import math

import pytest
import torch

from engine.kinds.merge import METHODS, merge_state_dicts

T = lambda *v: torch.tensor(v, dtype=torch.float32)  # noqa: E731


def run(method, base, experts, params=None, model_params=None, **kw):
    """Merge single-tensor models {'w': tensor}; returns the merged 'w'."""
    out = merge_state_dicts(method, None if base is None else {"w": base}, [{"w": e} for e in experts],
                            parameters=params, model_parameters=model_params, **kw)
    return out.state_dict["w"]


def close(a, b, tol=1e-6):
    assert torch.allclose(a.double(), torch.as_tensor(b).double(), atol=tol, rtol=0), (a, b)


def test_registry_lists_every_method_with_typed_documented_parameters():
    expected = {"linear", "task_arithmetic", "ties", "dare_linear", "dare_ties", "breadcrumbs", "breadcrumbs_ties",
                "della", "della_linear", "slerp", "nuslerp", "multislerp", "karcher", "model_stock", "sce", "nearswap",
                "ram", "passthrough", "fisher", "regmean", "adamerging", "pcb", "consensus", "lines"}
    assert set(METHODS) == expected
    for m in METHODS.values():
        assert m.description and m.title
        for model in (m.options, m.model_params):
            for name, info in model.model_fields.items():
                assert info.description, f"{m.name}.{name} has no description"
                assert not info.is_required() or m.name == "never", f"{m.name}.{name} has no default"
        assert (m.merge_tensor is not None) == (m.kind == "tensor")


def test_linear_weighted_mean_and_sum():
    a, b = T(1, 2), T(3, 6)
    close(run("linear", None, [a, b], model_params=[{"weight": 1}, {"weight": 3}]), T(2.5, 5.0))
    close(run("linear", None, [a, b], params={"normalize": False}, model_params=[{"weight": 1}, {"weight": 3}]), T(10, 20))


def test_task_arithmetic_adds_lambda_times_weighted_updates():
    base = T(1, 1, 1)
    e1, e2 = T(2, 1, 0), T(1, 3, 1)  # updates (1,0,-1) and (0,2,0)
    got = run("task_arithmetic", base, [e1, e2], params={"lambda": 0.5}, model_params=[{"weight": 1}, {"weight": 2}])
    close(got, base + 0.5 * (T(1, 0, -1) + 2 * T(0, 2, 0)))


def test_ties_trims_elects_and_takes_the_disjoint_mean():
    base = torch.zeros(4)
    e1 = T(0.9, -0.1, 0.5, -0.3)  # density 0.5 keeps 0.9, 0.5
    e2 = T(-0.2, -0.8, 0.4, 0.7)  # keeps -0.8, 0.7
    e3 = T(0.3, 0.25, -0.6, 0.1)  # keeps 0.3, -0.6
    got = run("ties", base, [e1, e2, e3], model_params=[{"weight": 1, "density": 0.5}] * 3)
    # trimmed: (0.9,0,0.5,0) (0,-0.8,0,0.7) (0.3,0,-0.6,0); sums 1.2,-0.8,-0.1,0.7 -> signs + - - +
    close(got, T((0.9 + 0.3) / 2, -0.8, -0.6, 0.7))


def test_dare_linear_keeps_a_random_subset_rescaled_to_the_l1_norm():
    gen = torch.Generator().manual_seed(3)
    base, e = torch.zeros(2000), torch.randn(2000, generator=gen)
    got = run("dare_linear", base, [e], model_params=[{"weight": 1, "density": 0.3}], seed=11)
    kept = got != 0
    assert 0.25 < kept.float().mean() < 0.35
    scale = e.abs().sum() / e[kept].abs().sum()
    close(got[kept], e[kept] * scale, 1e-5)
    close(got.abs().sum(), e.abs().sum(), 1e-3)
    again = run("dare_linear", base, [e], model_params=[{"weight": 1, "density": 0.3}], seed=11)
    other = run("dare_linear", base, [e], model_params=[{"weight": 1, "density": 0.3}], seed=12)
    assert torch.equal(got, again) and not torch.equal(got, other)


def test_dare_ties_drops_then_elects_on_weighted_deltas():
    gen = torch.Generator().manual_seed(4)
    base = torch.zeros(500)
    e1, e2 = torch.randn(500, generator=gen), torch.randn(500, generator=gen)
    got = run("dare_ties", base, [e1, e2], model_params=[{"weight": 1, "density": 0.5}, {"weight": 2, "density": 0.5}], seed=5)
    # recover each model's survivors from a dare_linear run with the same seed (same per-model generators)
    d1 = run("dare_linear", base, [e1, e2], model_params=[{"weight": 1, "density": 0.5}, {"weight": 0, "density": 0.5}], seed=5)
    d2 = run("dare_linear", base, [e1, e2], model_params=[{"weight": 0, "density": 0.5}, {"weight": 1, "density": 0.5}], seed=5)
    w1, w2 = d1, 2 * d2
    elected = torch.where(w1 + w2 >= 0, 1.0, -1.0)
    expected = w1 * (torch.sign(w1) == elected) + w2 * (torch.sign(w2) == elected)
    close(got, expected, 1e-5)


def test_breadcrumbs_keeps_the_middle_band():
    base = torch.zeros(10)
    e = T(*[0.1 * (i + 1) * (-1) ** i for i in range(10)])  # magnitudes 0.1 .. 1.0
    got = run("breadcrumbs", base, [e], model_params=[{"weight": 1, "density": 0.5, "gamma": 0.1}])
    # n_top = 1 (drop 1.0), target 5, n_bot = 4 (drop 0.1..0.4): keep magnitudes 0.5..0.9
    keep = torch.tensor([False] * 4 + [True] * 5 + [False])
    close(got, e * keep)


def test_breadcrumbs_ties_elects_among_the_bands():
    base = torch.zeros(10)
    e1 = T(*[0.1 * (i + 1) for i in range(10)])
    e2 = -e1.flip(0)
    got = run("breadcrumbs_ties", base, [e1, e2], model_params=[{"weight": 1, "density": 0.5, "gamma": 0.1}] * 2)
    b1 = e1 * torch.tensor([False] * 4 + [True] * 5 + [False])
    b2 = e2 * torch.tensor([False] + [True] * 5 + [False] * 4)
    elected = torch.where(b1 + b2 >= 0, 1.0, -1.0)
    close(got, b1 * (torch.sign(b1) == elected) + b2 * (torch.sign(b2) == elected))


def test_della_keeps_large_entries_more_often_and_rescales():
    gen = torch.Generator().manual_seed(6)
    base = torch.zeros(1, 20000)
    e = torch.randn(1, 20000, generator=gen)
    got = run("della_linear", base, [e], model_params=[{"weight": 1, "density": 0.5, "epsilon": 0.3}], seed=1)
    order = e.abs().argsort(dim=1).flatten()
    kept = (got != 0).flatten()[order].float()
    low, high = kept[:4000].mean(), kept[-4000:].mean()  # expected ≈ 0.24 and ≈ 0.76
    assert 0.19 < low < 0.29 and 0.71 < high < 0.81
    close(got.abs().sum(), e.abs().sum(), 1e-2)
    tied = run("della", base, [e, -e * 0.5], model_params=[{"weight": 1, "density": 0.5, "epsilon": 0.1}] * 2, seed=1)
    assert torch.isfinite(tied).all()


def test_slerp_formula_and_endpoints():
    v0, v1 = T(1, 0, 0), T(0, 2, 0)
    got = run("slerp", v0, [v1], params={"t": 0.25})
    theta = math.pi / 2
    close(got, math.sin(0.75 * theta) / math.sin(theta) * v0 + math.sin(0.25 * theta) / math.sin(theta) * v1)
    close(run("slerp", v0, [v1], params={"t": 0.0}), v0)
    close(run("slerp", v0, [v1], params={"t": 1.0}), v1)


def test_slerp_colinear_falls_back_to_lerp():
    v0 = T(1, 2, 3)
    v1 = 3 * v0 + T(0.001, 0, 0)  # |dot| of the directions > 0.9995
    close(run("slerp", v0, [v1], params={"t": 0.3}), 0.7 * v0 + 0.3 * v1)


def test_nuslerp_takes_t_from_the_weights_and_works_on_task_vectors():
    a, b = T(1, 0), T(0, 1)
    got = run("nuslerp", None, [a, b], model_params=[{"weight": 1}, {"weight": 1}])
    close(got, (a + b) / math.sqrt(2))
    base = T(5, 5)
    got = run("nuslerp", base, [base + a, base + b], model_params=[{"weight": 3}, {"weight": 1}])  # t = 0.25
    theta = math.pi / 2
    close(got, base + (math.sin(0.75 * theta) * a + math.sin(0.25 * theta) * b) / math.sin(theta))


def test_multislerp_and_karcher_find_the_spherical_midpoint():
    a, b = T(1, 0), T(0, 1)
    close(run("multislerp", None, [a, b], model_params=[{"weight": 1}, {"weight": 1}]), (a + b) / math.sqrt(2))
    close(run("karcher", None, [a, b]), (a + b) / math.sqrt(2), 1e-5)
    close(run("karcher", None, [2 * a, 2 * b]), 2 * (a + b) / math.sqrt(2), 1e-5)


def test_model_stock_interpolates_by_the_angle():
    base = T(0, 0)
    e1, e2 = T(1, 0), T(1, 1)
    cos = 1 / math.sqrt(2)
    t = 2 * cos / (1 + cos)
    close(run("model_stock", base, [e1, e2]), t * (e1 + e2) / 2)


def test_sce_weights_by_update_energy_after_the_sign_vote():
    base = T(0, 0)
    e1, e2 = T(2, -1), T(-1, 1)  # energies 2.5 and 1 -> weights 5/7, 2/7
    # sign sums: +1, 0 -> +1 elected for both; entry 0 keeps e1 only; entry 1 keeps e2 only
    close(run("sce", base, [e1, e2]), T(2, 1))


def test_nearswap_takes_close_values():
    base = T(0, 0, 0)
    other = T(0.00005, 0.001, 1.0)
    w = torch.clamp(0.0001 / (base - other).abs().clamp(min=1e-6), 0, 1)
    close(run("nearswap", base, [other], params={"t": 0.0001}), w * other + (1 - w) * base)


def test_ram_keeps_unique_updates_and_averages_shared_ones():
    base = T(0, 0, 0)
    close(run("ram", base, [T(1, 0, 2), T(0, 0, 4)]), T(1, 0, 3))


def test_passthrough_copies_and_scales():
    close(run("passthrough", None, [T(1, -2)], model_params=[{"scale": 0.5}]), T(0.5, -1))


def _pcb_reference(tvs: torch.Tensor, ratio: float) -> torch.Tensor:
    """The authors' PCB_merge, written out with sorts."""
    n, d = tvs.shape

    def clamp(x, lo_r, hi_r):
        s = torch.sort(x, dim=1).values
        return torch.clamp(x, s[:, int(d * lo_r)].unsqueeze(1), s[:, int(d * (1 - hi_r) - 1)].unsqueeze(1))

    def norm(x):
        lo, hi = x.min(dim=1, keepdim=True).values, x.max(dim=1, keepdim=True).values
        return (x - lo) / (hi - lo)

    mag = clamp(tvs.abs(), 0.0001, 0.0001)
    score = torch.exp(n * norm(mag) ** 2) * torch.tanh(tvs * tvs.sum(dim=0))
    scale = norm(clamp(score, 1 - ratio, 0))
    return (torch.sign(tvs) * mag * scale).sum(dim=0) / scale.sum(dim=0).clamp(min=1e-12)


def test_pcb_matches_the_authors_formula():
    gen = torch.Generator().manual_seed(7)
    base = torch.randn(40, generator=gen)
    experts = [base + 0.1 * torch.randn(40, generator=gen) for _ in range(3)]
    expected = base + _pcb_reference(torch.stack([e - base for e in experts]), 0.2)
    close(run("pcb", base, experts, params={"pcb_ratio": 0.2}), expected, 1e-5)


def test_consensus_keeps_entries_two_tasks_need():
    base = T(0, 0, 0)
    e1, e2, e3 = T(1, 0.01, 1), T(1, 0.0, -0.9), T(0.0, 1, 0.05)
    total = e1 + e2 + e3  # (2, 1.01, 0.15)
    masks = [(e.abs() >= 0.6 * (total - e).abs()) for e in (e1, e2, e3)]
    keep = torch.stack(masks).sum(0) >= 2
    close(run("consensus", base, [e1, e2, e3]), total * keep)
    assert keep.tolist() == [True, False, True]

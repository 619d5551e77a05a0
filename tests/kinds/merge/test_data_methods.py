"""The data-based methods (Fisher, RegMean, AdaMerging), TALL masks and LiNeS, on tiny models with
values computed in the test."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.kinds.merge.methods.adamerging import Options as AdaOptions
from engine.kinds.merge.methods.adamerging import adamerging, entropy
from engine.kinds.merge.methods.consensus import tall_mask_models
from engine.kinds.merge.methods.databased import functional_forward
from engine.kinds.merge.methods.fisher import fisher_information, fisher_merge, merge_with_fisher
from engine.kinds.merge.methods.lines import lines, lines_alpha
from engine.kinds.merge.methods.regmean import input_grams, merge_with_grams, regmean_merge


def linear_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def batches(seed: int, n: int = 4, size: int = 8) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(size, 3, generator=gen) for _ in range(n)]


def forward(model, batch):
    return model(batch)


def test_fisher_merge_formula_by_hand():
    s1, s2 = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 6.0])}
    f1, f2 = {"w": torch.tensor([1.0, 0.0])}, {"w": torch.tensor([3.0, 1.0])}
    out = merge_with_fisher([s1, s2], [f1, f2], normalize=False, min_fisher=0.0)
    assert torch.allclose(out["w"], torch.tensor([(1 * 1 + 3 * 3) / 4, 6.0]))
    norm = merge_with_fisher([s1, s2], [f1, f2], normalize=True, min_fisher=1e-6)
    c1 = f1["w"] / 1.0 + 1e-6
    c2 = f2["w"] / (10 ** 0.5) + 1e-6
    assert torch.allclose(norm["w"], (c1 * s1["w"] + c2 * s2["w"]) / (c1 + c2))


def test_fisher_information_is_the_mean_squared_gradient_of_sampled_log_likelihood():
    model = linear_model(0)
    data = batches(1, n=3, size=1)
    fisher = fisher_information(model, data, forward, seed=5)
    gen = torch.Generator().manual_seed(5)
    expected = {k: torch.zeros_like(p) for k, p in model.named_parameters()}
    for x in data:
        logp = torch.log_softmax(model(x), dim=-1)
        y = torch.multinomial(logp.detach().exp(), 1, generator=gen)
        grads = torch.autograd.grad(logp.gather(-1, y).mean(), list(model.parameters()))
        for (k, _), g in zip(model.named_parameters(), grads):
            expected[k] += g ** 2 / len(data)
    for k in expected:
        assert torch.allclose(fisher[k], expected[k], atol=1e-7)
    result = fisher_merge([linear_model(1), linear_model(2)], [batches(3), batches(4)], forward)
    assert result.method == "fisher" and set(result.state_dict) == set(model.state_dict())


def test_regmean_is_the_least_squares_solution_on_the_experts_inputs():
    m1, m2 = linear_model(1), linear_model(2)
    x1, x2 = batches(5, n=2), batches(6, n=2)
    grams = [input_grams(m1, x1, forward), input_grams(m2, x2, forward)]
    merged = merge_with_grams([m1.state_dict(), m2.state_dict()], grams, alpha=1.0)
    # the first layer's inputs are the data themselves: W minimises Σᵢ ‖Xᵢ Wᵀ − Xᵢ Wᵢᵀ‖² / nᵢ
    X1, X2 = torch.cat(x1).double(), torch.cat(x2).double()
    A = torch.cat([X1 / len(X1) ** 0.5, X2 / len(X2) ** 0.5])
    B = torch.cat([X1 @ m1[0].weight.double().T / len(X1) ** 0.5, X2 @ m2[0].weight.double().T / len(X2) ** 0.5])
    expected = torch.linalg.lstsq(A, B).solution.T
    assert torch.allclose(merged["0.weight"].double(), expected, atol=1e-5)
    assert torch.allclose(merged["0.bias"], (m1[0].bias + m2[0].bias) / 2)
    out = regmean_merge([m1, m2], [x1, x2], forward)
    assert out.info["linear_layers"] == 2


def _ada_setup():
    base = linear_model(0)
    experts = [linear_model(s).state_dict() for s in (1, 2)]
    return base, {k: v.detach() for k, v in base.state_dict().items()}, experts


def test_adamerging_without_steps_is_task_arithmetic_at_the_initial_coefficient():
    module, base, experts = _ada_setup()
    out = adamerging(base, experts, [batches(1), batches(2)], functional_forward(module),
                     options=AdaOptions(steps=0, init=0.3, layer_wise=False))
    for k in base:
        assert torch.allclose(out.state_dict[k], base[k] + 0.3 * ((experts[0][k] - base[k]) + (experts[1][k] - base[k])), atol=1e-6)
    assert out.transductive and out.info["granularity"] == "task-wise"


def test_adamerging_first_step_follows_the_entropy_gradient_and_entropy_falls():
    module, base, experts = _ada_setup()
    data = [batches(1), batches(2)]
    fwd = functional_forward(module)
    out = adamerging(base, experts, data, fwd, options=AdaOptions(steps=1, lr=0.01, init=0.3, layer_wise=True))
    coeffs = torch.tensor(out.info["coefficients"])
    assert coeffs.shape == (2, len(base))  # one coefficient per tensor per task
    # Adam's first step moves each coefficient by lr against the sign of its gradient
    lam = torch.full((2, len(base)), 0.3, requires_grad=True)
    keys = list(base)
    params = {k: base[k] + sum(lam[t, j] * (experts[t][k] - base[k]) for t in range(2)) for j, k in enumerate(keys)}
    loss = sum(entropy(fwd(params, data[t][0], t)) for t in range(2)) / 2
    loss.backward()
    expected = 0.3 - 0.01 * torch.sign(lam.grad)
    moved = lam.grad.abs() > 1e-6
    assert torch.allclose(coeffs[moved], expected[moved], atol=1e-5)
    long = adamerging(base, experts, data, fwd, options=AdaOptions(steps=60, lr=0.05, layer_wise=False))
    assert long.curve[-1] < long.curve[0]
    labelled = adamerging(base, experts, data, fwd, options=AdaOptions(steps=0), transductive=False)
    assert not labelled.transductive


def test_tall_mask_models_give_each_task_its_masked_sum():
    base = {"w": torch.zeros(3), "ids": torch.tensor([1, 2])}
    e1 = {"w": torch.tensor([1.0, 0.01, 1.0]), "ids": torch.tensor([1, 2])}
    e2 = {"w": torch.tensor([1.0, 0.0, -0.9]), "ids": torch.tensor([1, 2])}
    models = tall_mask_models(base, [e1, e2], mask_lambda=0.6)
    total = e1["w"] + e2["w"]
    m1 = e1["w"].abs() >= 0.6 * (total - e1["w"]).abs()
    assert torch.equal(models[0]["w"], total * m1) and torch.equal(models[0]["ids"], base["ids"])


def test_lines_scales_updates_linearly_with_depth():
    base = {f"blocks.{i}.w": torch.zeros(2) for i in range(3)} | {"embed.w": torch.zeros(2)}
    merged = {k: torch.ones(2) for k in base}
    out = lines(base, merged, alpha=0.2, beta=0.6)
    assert [float(out[f"blocks.{i}.w"][0]) for i in range(3)] == pytest.approx([0.2, 0.5, 0.8])
    assert float(out["embed.w"][0]) == pytest.approx(0.2)
    experts = [{k: torch.ones(2) for k in base}, {k: torch.full((2,), 3.0) for k in base}]
    # ‖Σ τ‖ = 4·‖1‖, ‖τ_merged‖ = ‖1‖, T = 2 → α = 2
    assert lines_alpha(base, experts, merged) == pytest.approx(2.0)


def test_adamerging_merges_batch_norm_statistics_with_their_layers_coefficient():
    """Regression: a model with batch norm failed ('native_batch_norm is not differentiable with respect to
    running_mean'); running statistics now follow their module's weight coefficient, without a gradient."""
    def bn_model(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
        m[1].running_mean.normal_()
        m[1].running_var.uniform_(0.5, 2.0)
        return m.eval()

    module = bn_model(0)
    base = {k: v.detach().clone() for k, v in module.state_dict().items()}
    experts = [{k: v.detach().clone() for k, v in bn_model(s).state_dict().items()} for s in (1, 2)]
    buffers = [k for k, v in module.named_buffers() if v.is_floating_point()]
    out = adamerging(base, experts, [batches(1), batches(2)], functional_forward(module),
                     options=AdaOptions(steps=5, lr=0.05, layer_wise=True), buffers=buffers)
    keys, coeffs = out.info["tensors"], torch.tensor(out.info["coefficients"])
    j = keys.index("1.weight")
    for name in ("1.running_mean", "1.running_var"):
        expected = base[name] + sum(coeffs[t, j] * (experts[t][name] - base[name]) for t in range(2))
        assert torch.allclose(out.state_dict[name], expected, atol=1e-6)
    assert out.state_dict["1.num_batches_tracked"].dtype == torch.int64

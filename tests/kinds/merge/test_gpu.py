"""On a CUDA device the same merge gives the same numbers as on the CPU."""

from __future__ import annotations

import pytest
import torch

from engine.kinds.merge import merge_state_dicts


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", ["ties", "task_arithmetic", "breadcrumbs_ties", "slerp"])
def test_cuda_merge_equals_cpu(tiny_states, method):
    base, experts = tiny_states
    used = experts[:1] if method == "slerp" else experts
    params = [{"density": 0.5}] * len(used) if method in ("ties", "breadcrumbs_ties") else None
    cpu = merge_state_dicts(method, base, used, model_parameters=params).state_dict
    gpu = merge_state_dicts(method, base, used, model_parameters=params, device="cuda").state_dict
    for name, value in cpu.items():
        assert gpu[name].device.type == "cpu" and gpu[name].dtype == value.dtype
        assert torch.allclose(gpu[name].double(), value.double(), atol=1e-6), name

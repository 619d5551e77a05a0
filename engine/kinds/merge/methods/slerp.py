"""SLERP: spherical interpolation between the base and one other model, tensor by tensor.

mergekit's rule: both flattened tensors are L2-normalised (norms ≤ 1e-8 left as they are); when the
|dot| of the directions exceeds 0.9995 they count as colinear and the result is the plain lerp
``(1−t)·v0 + t·v1``; otherwise ``sin((1−t)θ)/sin θ · v0 + sin(tθ)/sin θ · v1`` on the original
tensors. ``t = 0`` gives the base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch

DOT_THRESHOLD = 0.9995
NORM_EPS = 1e-8


class Options(Params):
    t: float = Field(0.5, ge=0, le=1, description="where between the base (0) and the other model (1) to land")


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    a = v0.reshape(-1).double()
    b = v1.reshape(-1).double()
    na, nb = float(a.norm()), float(b.norm())
    ua = a / na if na > NORM_EPS else a
    ub = b / nb if nb > NORM_EPS else b
    dot = float((ua * ub).sum())
    if abs(dot) > DOT_THRESHOLD:
        return ((1 - t) * v0.float() + t * v1.float()).to(v0.dtype)
    theta = math.acos(dot)
    s = math.sin(theta)
    s0 = math.sin(theta - theta * t) / s
    s1 = math.sin(theta * t) / s
    return (s0 * v0.float() + s1 * v1.float()).to(v0.dtype)


def merge_tensor(job: TensorJob) -> torch.Tensor:
    return slerp(float(job.options.t), job.base, job.tensors[0])


METHOD = Method(
    name="slerp", title="SLERP",
    description="interpolates along the sphere between the base and one other model (t = 0 is the base).",
    options=Options, model_params=NoParams, base="required", min_models=1, max_models=1,
    merge_tensor=merge_tensor, reference="https://en.wikipedia.org/wiki/Slerp",
)

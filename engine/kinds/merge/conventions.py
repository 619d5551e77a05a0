"""The conventions that make "the same" merge differ between tools and papers, as recorded switches.

Every merge records the :class:`Conventions` it used, with the preset it came from. Two presets:

* ``mergekit`` — what ``mergekit-yaml`` does: trim each tensor on its own, keeping exactly
  ``k = int(density·numel)`` largest magnitudes; elect the sign on the *weighted* deltas, an exact
  zero sum electing +1; DARE survivors rescaled so the tensor keeps its exact L1 norm; aggregation
  by the method's ``normalize`` parameter (dividing by the summed weights of the models that
  survived the election); the method's own defaults.
* ``paper`` — the TIES/DARE papers' code as FusionBench runs it: trim over the whole flattened task
  vector, keeping magnitudes at least the ``(n − k)``-th smallest; elect on unweighted deltas, zero
  sums taking the global majority sign; DARE survivors divided by the keep probability ``1 − p``;
  aggregation by sum; FusionBench's defaults (λ = 0.3, TIES density 0.2, DARE density 0.5).

In both, λ multiplies the aggregated update (``θ = θ_base + λ·merged``). Moving λ onto each task
vector instead would change nothing (trimming, election and L1 rescaling are scale-free), so it is a
stated fact, not a switch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.core.errors import JuxtaError


class Conventions(BaseModel):
    """The switches; see the module docstring for what each preset sets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str = Field("mergekit", description="the preset these switches came from ('custom' once changed)")
    trim_scope: Literal["tensor", "task_vector"] = Field(
        "tensor", description="trim each tensor on its own, or over each model's whole flattened task vector")
    trim_rule: Literal["top_k", "kth_smallest"] = Field(
        "top_k", description="keep exactly k = int(density·n) largest magnitudes, or every magnitude at least "
                             "the (n − k)-th smallest (k + 1 when magnitudes are distinct)")
    sign_election: Literal["weighted", "unweighted"] = Field(
        "weighted", description="elect each element's sign on the weighted or the plain deltas")
    zero_sign: Literal["plus", "majority"] = Field(
        "plus", description="an exact zero sum elects +1, or the majority sign of the whole elected vector")
    dare_rescale: Literal["l1_match", "inverse_keep"] = Field(
        "l1_match", description="rescale DARE survivors to the tensor's L1 norm, or divide them by the keep probability")
    aggregation: Literal["method", "mean", "sum"] = Field(
        "method", description="'method': the method's normalize parameter decides; 'mean': divide by the summed "
                              "weights of the models kept at each element; 'sum': no division")
    defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="parameter defaults this preset sets, per method")

    def default_for(self, method: str, name: str, fallback: Any) -> Any:
        return self.defaults.get(method, {}).get(name, fallback)

    def describe(self) -> list[tuple[str, str]]:
        """Plain label → value lines, for records and reports."""
        words = {
            "trim_scope": {"tensor": "per tensor", "task_vector": "over the whole task vector"},
            "trim_rule": {"top_k": "exactly k = int(density·n) largest magnitudes",
                          "kth_smallest": "magnitudes ≥ the (n − k)-th smallest (FusionBench)"},
            "sign_election": {"weighted": "on weighted deltas", "unweighted": "on unweighted deltas"},
            "zero_sign": {"plus": "a zero sum elects +1", "majority": "a zero sum takes the majority sign"},
            "dare_rescale": {"l1_match": "survivors rescaled to the tensor's L1 norm",
                             "inverse_keep": "survivors divided by the keep probability"},
            "aggregation": {"method": "as the method's normalize parameter says",
                            "mean": "mean over the models kept at each element", "sum": "sum"},
        }
        rows = [("preset", self.preset)]
        rows += [(k.replace("_", " "), words[k][getattr(self, k)]) for k in words]
        rows.append(("λ", "multiplies the aggregated update"))
        return rows


PRESETS: dict[str, Conventions] = {
    "mergekit": Conventions(preset="mergekit"),
    "paper": Conventions(
        preset="paper", trim_scope="task_vector", trim_rule="kth_smallest", sign_election="unweighted",
        zero_sign="majority", dare_rescale="inverse_keep", aggregation="sum",
        defaults={"task_arithmetic": {"lambda": 0.3}, "ties": {"lambda": 0.3, "density": 0.2},
                  "dare_linear": {"lambda": 0.3, "density": 0.5}, "dare_ties": {"lambda": 0.3, "density": 0.5}},
    ),
}


def conventions(preset: str = "mergekit", **changes: Any) -> Conventions:
    """A preset, optionally with some switches changed (then recorded as preset 'custom')."""
    if preset not in PRESETS:
        raise JuxtaError(f"Unknown conventions preset '{preset}'; the presets are: {', '.join(PRESETS)}.")
    base = PRESETS[preset]
    if not changes:
        return base
    unknown = sorted(set(changes) - set(Conventions.model_fields) - {"preset"})
    if unknown:
        raise JuxtaError(f"Unknown convention switch {', '.join(map(repr, unknown))}; the switches are: "
                         f"{', '.join(k for k in Conventions.model_fields if k not in ('preset', 'defaults'))}.")
    return Conventions.model_validate({**base.model_dump(), **changes, "preset": "custom"})

"""The arms of a fine-tuning study: each ``[[methods]]`` entry, and each value of its budget sweep, is one
arm with its own id ("lora-r8"), display label ("LoRA r=8") and parameters; WiSE-FT entries are arms
that are computed from another arm rather than trained.

Used by the study file's validation (ids, WiSE-FT's ``from``), the plan, ``describe`` and the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.kinds.finetune.methods import METHODS
from engine.kinds.finetune.methods.base import Method, MethodParams

if TYPE_CHECKING:
    from engine.kinds.finetune.spec import FinetuneStudy

_BUDGET_MARK = {"rank": "r", "k": "k"}  # lora-r8, last_k-k2


@dataclass(frozen=True)
class Arm:
    """One arm: ``index`` is its [[methods]] entry; ``budget`` the value of the method's budget parameter
    when the entry sweeps it (or sets it), else None; ``lr`` the entry's own learning rate, if any."""

    id: str
    index: int
    method: Method
    params: MethodParams
    budget: Any = None
    lr: float | None = None

    @property
    def trained(self) -> bool:
        return self.method.trains

    @property
    def label(self) -> str:
        """'LoRA r=8', 'Full fine-tuning', 'WiSE-FT (from full)'."""
        if not self.method.trains:
            return f"{self.method.title} (from {self.params.from_})"  # type: ignore[attr-defined]
        if self.budget is None:
            return self.method.title
        return f"{self.method.title} {_BUDGET_MARK.get(self.method.budget or '', self.method.budget)}={self.budget}"

    @property
    def alphas(self) -> list[float]:
        """WiSE-FT's mixing weights (empty for trained arms)."""
        return [] if self.method.trains else list(self.params.alphas)  # type: ignore[attr-defined]

    def point_id(self, alpha: float) -> str:
        """The arm id of one WiSE-FT point: 'wise_ft@0.3'."""
        return f"{self.id}@{alpha:g}"


def study_arms(study: "FinetuneStudy") -> list[Arm]:
    """Every arm of the study, in file order (budget sweeps in the order written)."""
    out: list[Arm] = []
    for i, entry in enumerate(study.methods):
        m = METHODS[entry.method]
        configs = entry.configs
        for value, params in configs:
            out.append(Arm(arm_id(entry.id or m.name, m, value, len(configs) > 1), i, m, params, value, entry.lr))
    return out


def arm_id(stem: str, method: Method, budget: Any, sweep: bool) -> str:
    """'lora' with rank 8 swept -> 'lora-r8'; an entry without a sweep keeps its id."""
    if not sweep:
        return stem
    return f"{stem}-{_BUDGET_MARK.get(method.budget or '', method.budget)}{budget}"


def arm_problems(study: "FinetuneStudy") -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, sentence) for every arm problem: repeated ids, the reserved id, WiSE-FT's ``from``."""
    from engine.kinds.finetune.spec import BASE_ARM

    problems: list[tuple[tuple[str | int, ...], str]] = []
    arms = study_arms(study)
    seen: dict[str, Arm] = {}
    for arm in arms:
        if arm.id == BASE_ARM:
            problems.append((("methods", arm.index, "id"), f"the arm id '{BASE_ARM}' is reserved for the base model's "
                             "own scores; choose another id"))
        elif arm.id in seen:
            first = seen[arm.id]
            problems.append((("methods", arm.index), f"[[methods]] entries {first.index + 1} and {arm.index + 1} both make "
                             f"the arm '{arm.id}'; give one of them its own id (id = \"...\")"))
        seen.setdefault(arm.id, arm)
    trained = {a.id: a for a in arms if a.trained}
    for arm in arms:
        if arm.trained:
            continue
        start = arm.params.from_  # type: ignore[attr-defined]
        key = ("methods", arm.index, "from")
        if start not in trained:
            names = ", ".join(a.id for a in trained.values() if a.method.full_weight) or "none"
            problems.append((key, f"WiSE-FT starts from an arm of this study, and there is no arm '{start}'; "
                             f"full-weight arms here: {names}"))
        elif not trained[start].method.full_weight:
            names = ", ".join(a.id for a in trained.values() if a.method.full_weight) or "none"
            problems.append((key, f"WiSE-FT blends whole sets of weights, and '{start}' is a {trained[start].method.title} "
                             f"arm (an adapter); start from a full-weight arm: {names}"))
    if not trained:
        problems.append((("methods",), "the study trains nothing: add a method that tunes the base (linear_probe, full, "
                         "lora, …)"))
    return problems


def lr_candidates(arm: Arm, default_lr: float, factors: list[float], sweep: bool) -> list[float]:
    """The learning rates an arm is tuned with: its own or the method's default, times each factor when
    sweeping (three significant digits, so 0.005 × 0.3 is 0.0015)."""
    center = arm.lr if arm.lr is not None else default_lr
    if not sweep:
        return [center]
    return sorted({float(f"{center * f:.3g}") for f in factors})

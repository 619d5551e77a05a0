"""The merge methods, registered in one place: ``METHODS[name]`` is a :class:`Method`."""

from __future__ import annotations

from engine.kinds.merge.methods import (
    adamerging, breadcrumbs, breadcrumbs_ties, consensus, dare_linear, dare_ties, della, della_linear, fisher, karcher,
    linear, lines, model_stock, multislerp, nearswap, nuslerp, passthrough, pcb, ram, regmean, sce, slerp,
    task_arithmetic, ties,
)
from engine.kinds.merge.methods.base import Method, TensorJob

METHODS: dict[str, Method] = {m.METHOD.name: m.METHOD for m in (
    linear, task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della, della_linear,
    slerp, nuslerp, multislerp, karcher, model_stock, sce, nearswap, ram, passthrough, pcb, consensus,
    fisher, regmean, adamerging, lines,
)}


def get_method(name: str) -> Method:
    """The method called ``name``, or one clear error listing the known methods."""
    try:
        return METHODS[name]
    except KeyError:
        from engine.kinds.merge.checks import MergeError

        raise MergeError(f"Unknown merge method '{name}'; the methods are: {', '.join(METHODS)}.") from None


__all__ = ["METHODS", "Method", "TensorJob", "get_method"]

"""Sparsifying task vectors: magnitude trim (TIES), random drop (DARE), outlier band (Breadcrumbs),
rank-dependent drop (DELLA), and the rescaling conventions.

The magnitude trim finds the k-th largest magnitude by *selection*, not by sorting: numpy's
introselect (``np.partition``) is linear and about ten times faster on the CPU than torch's
``kthvalue``, let alone mergekit's ``n log n`` argsort — the difference the TIES figure in bench/
measures.

A tensor too small to trim (``int(density·numel) == 0``, e.g. a 1-element ``logit_scale``) keeps its
single largest element instead of failing (mergekit 0.1.4 stopped with "not gonna zero out the whole
tensor"; 0.1.5 keeps one element too); :func:`trim_count` reports when that floor applied, and the
merge records it.
"""

from __future__ import annotations

import numpy as np
import torch

RESCALE_EPS = 1e-7


def trim_count(density: float, numel: int) -> tuple[int, bool]:
    """``(k, floored)``: how many elements a trim keeps, at least one; ``floored`` when that rule applied."""
    k = int(density * numel)
    return (1, True) if k < 1 and numel > 0 else (k, False)


def kth_largest(a: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th largest value of a flat non-negative tensor (1 ≤ k ≤ numel), by selection: numpy's
    introselect (``np.partition``) on the CPU — linear time, no sort — and ``kthvalue`` elsewhere."""
    n = a.numel()
    if a.device.type != "cpu" or a.dtype not in (torch.float32, torch.float64):
        return torch.kthvalue(a.float(), n - k + 1).values
    values = a.numpy()
    return torch.tensor(np.partition(values, n - k)[n - k], dtype=a.dtype)


def count_true(mask: torch.Tensor) -> int:
    """Number of True entries (numpy's count is many times faster than summing a bool tensor)."""
    return int(np.count_nonzero(mask.numpy())) if mask.device.type == "cpu" else int(torch.count_nonzero(mask))


def topk_mask(a: torch.Tensor, k: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean mask of exactly k largest entries of flat non-negative ``a``; ties at the threshold are
    kept in index order. Zeros never need keeping (they contribute nothing), so a zero threshold
    keeps only the positive entries. ``out``: a bool buffer to fill."""
    if k >= a.numel():
        return torch.ones_like(a, dtype=torch.bool) if out is None else out.fill_(True)
    thr = kth_largest(a, k)
    if thr <= 0:
        return torch.gt(a, 0, out=out) if out is not None else a > 0
    mask = torch.ge(a, thr, out=out) if out is not None else a >= thr
    extra = count_true(mask) - k
    if extra > 0:  # ties at the threshold: drop the last ones in index order
        ties = (a == thr).nonzero().flatten()
        mask[ties[ties.numel() - extra:]] = False
    return mask


def kth_smallest_mask(a: torch.Tensor, density: float) -> torch.Tensor:
    """FusionBench's rule: keep entries ≥ the (n − int(n·density))-th smallest magnitude."""
    n = a.numel()
    rank = n - int(n * density)
    if rank < 1:
        return torch.ones_like(a, dtype=torch.bool)
    return a >= kth_largest(a, n - rank + 1)


def rescale_l1(original: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """mergekit's rescale: scale ``masked`` to the L1 norm of ``original`` (skipped when either is < 1e-7)."""
    before = original.abs().sum()
    after = masked.abs().sum()
    if before < RESCALE_EPS or after < RESCALE_EPS:
        return masked
    return masked * (before / after)


def magnitude(delta: torch.Tensor, density: float, rule: str = "top_k", rescale: str | None = None,
              inplace: bool = False, scratch: torch.Tensor | None = None,
              mask_buffer: torch.Tensor | None = None) -> tuple[torch.Tensor, bool]:
    """Keep the largest magnitudes (``rule``: 'top_k' or 'kth_smallest'); returns (tensor, floored).
    ``inplace``: zero the dropped entries of ``delta`` itself (the caller owns it); ``scratch`` (float)
    and ``mask_buffer`` (bool), shaped like ``delta``, spare allocations when given."""
    if density >= 1:
        return delta, False
    flat = delta.reshape(-1)
    if flat.dtype == torch.float32 and scratch is not None:
        a = torch.abs(flat, out=scratch.reshape(-1))
    else:
        a = flat.abs() if flat.dtype == torch.float32 else flat.abs().float()
    floored = False
    mask_out = mask_buffer.reshape(-1) if mask_buffer is not None else None
    if rule == "top_k":
        k, floored = trim_count(density, flat.numel())
        mask = topk_mask(a, k, out=mask_out)
    else:
        mask = kth_smallest_mask(a, density)
    before = a.sum() if rescale == "l1_match" else None
    # multiplying by a float 0/1 mask is several times faster than by a bool one (no per-element casts)
    keep = a.copy_(mask) if a.dtype == flat.dtype else mask.to(flat.dtype)
    masked = flat.mul_(keep) if inplace and flat.data_ptr() == delta.data_ptr() else flat * keep
    del a, keep
    masked = masked.reshape(delta.shape)
    if before is not None:
        after = masked.abs().sum()
        if before >= RESCALE_EPS and after >= RESCALE_EPS:
            masked = masked * (before / after).to(masked.dtype)
    return masked, floored


def bernoulli_drop(delta: torch.Tensor, density: float, generator: torch.Generator, rescale: str | None) -> torch.Tensor:
    """DARE: keep each element with probability ``density``; rescale by L1 match or by 1/density."""
    if density >= 1:
        return delta
    work = delta if delta.dtype in (torch.float32, torch.float64) else delta.float()
    keep = torch.rand(work.shape, generator=generator, device="cpu").to(work.device) < density
    masked = work * keep
    if rescale == "l1_match":
        masked = rescale_l1(work, masked)
    elif rescale == "inverse_keep":
        masked = masked / density
    return masked.to(delta.dtype)


def outlier_band(delta: torch.Tensor, density: float, gamma: float, rescale: str | None = None) -> tuple[torch.Tensor, bool]:
    """Breadcrumbs (mergekit's rule, per tensor): drop the ``int(γ·n)`` largest magnitudes and enough of
    the smallest to keep ``int(density·n)`` (at least one). mergekit 0.1.4's slice ``[n_bot:-n_top]``
    emptied the whole tensor when ``n_top`` was 0; 0.1.5 keeps the band ``[n_bot, n_bot + k)`` as here."""
    if density >= 1:
        return delta, False
    flat = delta.reshape(-1)
    n = flat.numel()
    target, floored = trim_count(density, n)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    order = torch.sort(flat.abs().float(), stable=True).indices
    mask = torch.zeros(n, dtype=torch.bool, device=flat.device)
    mask[order[n_bot:n - n_top]] = True
    masked = (flat * mask).reshape(delta.shape)
    if rescale == "l1_match":
        masked = rescale_l1(delta, masked)
    elif rescale == "inverse_keep":
        masked = masked / density
    return masked, floored


def della_drop(delta: torch.Tensor, density: float, epsilon: float, generator: torch.Generator, rescale: str | None) -> torch.Tensor:
    """DELLA (mergekit's MagPrune): within each row, keep probability rises linearly with magnitude rank
    from ``density − ε`` to ``density + ε``; then rescale. A one-element row (where mergekit divides
    0 by 0) gets the middle probability, ``density``."""
    if density >= 1:
        return delta
    shape = delta.shape
    work = delta.float() if delta.dtype not in (torch.float32, torch.float64) else delta
    rows = work.unsqueeze(0) if work.dim() < 2 else work
    ranks = rows.abs().argsort(dim=1).argsort(dim=1).to(work.dtype) + 1
    lo = ranks.min(dim=1, keepdim=True).values
    hi = ranks.max(dim=1, keepdim=True).values
    rank_norm = torch.where(hi > lo, (ranks - lo) / (hi - lo).clamp(min=1), torch.full_like(ranks, 0.5)).clamp(0, 1)
    probs = (density - epsilon) + rank_norm * 2 * epsilon
    keep = torch.rand(probs.shape, generator=generator, device="cpu").to(probs.device) < probs
    masked = rows * keep
    if rescale == "l1_match":
        masked = rescale_l1(rows, masked)
    elif rescale == "inverse_keep":
        masked = masked / probs
    return masked.to(delta.dtype).reshape(shape)

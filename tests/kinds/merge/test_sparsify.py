"""The selection-based top-k equals an exact sort, ties included; tiny tensors keep one entry."""

from __future__ import annotations

import torch

from engine.kinds.merge.sparsify import kth_largest, magnitude, topk_mask, trim_count


def test_kth_largest_matches_sort_on_large_tensors():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(1_000_003, generator=gen).abs()
    ordered = torch.sort(a, descending=True).values
    for k in (1, 7, 1000, 200_000, 500_001, 999_999, 1_000_003):
        assert float(kth_largest(a, k)) == float(ordered[k - 1])


def test_kth_largest_with_heavy_ties_and_skew():
    a = torch.cat([torch.zeros(400_000), torch.full((300_000,), 2.0), torch.rand(300_000)])
    ordered = torch.sort(a, descending=True).values
    for k in (1, 299_999, 300_000, 300_001, 600_000, 650_000):
        assert float(kth_largest(a, k)) == float(ordered[k - 1])


def test_topk_mask_keeps_exactly_k_even_with_ties():
    a = torch.tensor([3.0, 1.0, 2.0, 2.0, 2.0, 0.5])
    mask = topk_mask(a, 3)
    assert int(mask.sum()) == 3
    assert mask.tolist() == [True, False, True, True, False, False]  # ties at 2.0 kept in index order


def test_topk_mask_large_equals_sorted_topk_set():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(700_001, generator=gen).abs()
    k = 123_456
    expected = torch.zeros_like(a, dtype=torch.bool)
    expected[torch.argsort(a, descending=True)[:k]] = True
    assert torch.equal(topk_mask(a, k), expected)


def test_too_small_to_trim_keeps_its_largest_entry():
    assert trim_count(0.2, 1) == (1, True)
    assert trim_count(0.2, 4) == (1, True)
    assert trim_count(0.5, 4) == (2, False)
    out, floored = magnitude(torch.tensor([0.3]), 0.2)
    assert floored and torch.equal(out, torch.tensor([0.3]))
    out, floored = magnitude(torch.tensor([0.1, -0.4, 0.2]), 0.2)
    assert floored and torch.equal(out, torch.tensor([0.0, -0.4, 0.0]))

"""Time Juxta's batched corruptions against the ``imagecorruptions`` package on the CPU.

    python bench/bench_corruptions.py [--n 256] [--severity 3] [--repeats 10] [--threads T]

Both sides corrupt the same N random-but-fixed 32×32×3 uint8 images: ``imagecorruptions`` one image at
a time in its own format (HWC uint8, its public ``corrupt`` function), Juxta in one call per batch on an
(N, 3, 32, 32) float tensor. Format conversion is outside both timings. After a warm-up the two are
timed in alternation, ``--repeats`` rounds, each giving Juxta as much wall-clock time as one baseline
call took; each side's best call is reported (see ``_interleaved``). Only corruption types both
implement are timed. The baseline runs at its own (ImageNet-C) parameter
values, Juxta at its CIFAR-10-C-style ones. ``--threads`` sets torch's thread count (default:
torch's own); the baseline is mostly single-threaded NumPy/OpenCV/PIL.

``imagecorruptions`` 1.1.2 predates NumPy 2, scikit-image 0.19+ and setuptools 81; the shims below
restore the three names it imports or calls (``pkg_resources.resource_filename``, ``np.float_`` and
``skimage.filters.gaussian(multichannel=...)``) without changing what it computes.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.conditions.corruptions import CORRUPTIONS, corrupt  # noqa: E402

TARGET = 20.0


def _load_baseline():
    """Import imagecorruptions with compatibility shims for current NumPy/scikit-image/setuptools."""
    if "pkg_resources" not in sys.modules:
        stub = types.ModuleType("pkg_resources")
        stub.resource_filename = lambda package, name: os.path.join(
            os.path.dirname(sys.modules[package].__file__), name
        )
        sys.modules["pkg_resources"] = stub
    if not hasattr(np, "float_"):
        np.float_ = np.float64
    import skimage.filters

    gaussian = skimage.filters.gaussian

    def gaussian_compat(image, *args, multichannel=None, **kwargs):
        if multichannel:
            kwargs.setdefault("channel_axis", -1)
        return gaussian(image, *args, **kwargs)

    skimage.filters.gaussian = gaussian_compat
    import imagecorruptions
    import imagecorruptions.corruptions as module

    module.gaussian = gaussian_compat
    return imagecorruptions


def _interleaved(baseline, ours, rounds: int) -> tuple[float, float]:
    """Best single-call times of both, measured in alternation with equal wall-clock budgets.

    Each round times one baseline call, then repeats Juxta's call for about as long (at least three
    times). Alternating exposes both to the same phases of a noisy machine, and the best of an equal
    budget is the fairest estimate of each one's undisturbed cost.
    """
    baseline()  # warm-up: first-call allocations, lazily built tables, imports
    ours()
    best_base = best_ours = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        baseline()
        spent = time.perf_counter() - start
        best_base = min(best_base, spent)
        used, calls = 0.0, 0
        while calls < 3 or used < spent:
            start = time.perf_counter()
            ours()
            elapsed = time.perf_counter() - start
            best_ours, used, calls = min(best_ours, elapsed), used + elapsed, calls + 1
    return best_base, best_ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="number of 32×32×3 images (default 256)")
    parser.add_argument("--severity", type=int, default=3, help="severity 1–5 (default 3)")
    parser.add_argument("--repeats", type=int, default=10, help="rounds of alternating timing (default 10)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    baseline = _load_baseline()
    names = [n for n in CORRUPTIONS if n in baseline.get_corruption_names("all")]
    images = np.random.default_rng(0).integers(0, 256, size=(args.n, 32, 32, 3), dtype=np.uint8)
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255).contiguous()
    index = torch.arange(args.n)

    print(f"{args.n} images 32×32×3, severity {args.severity}, torch threads {torch.get_num_threads()}")
    print(f"{'corruption':<20}{'baseline s':>12}{'ours s':>10}{'speedup':>10}")
    ratios = []
    for name in names:
        np.random.seed(0)

        def run_baseline(name=name):
            for image in images:
                baseline.corrupt(image, severity=args.severity, corruption_name=name)

        def run_ours(name=name):
            corrupt(batch, name, args.severity, 0, index)

        t_base, t_ours = _interleaved(run_baseline, run_ours, args.repeats)
        ratios.append(t_base / t_ours)
        print(f"{name:<20}{t_base:>12.4f}{t_ours:>10.4f}{ratios[-1]:>9.1f}x", flush=True)

    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"corruptions: geomean speedup {geomean:.1f}x (min {min(ratios):.1f}x, target >= {TARGET:g}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

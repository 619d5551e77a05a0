"""CIFAR-10-C-style image corruptions, computed in memory on whole batches.

``corrupt(images, name, severity, seed, index)`` applies one of the registered corruptions to a float
batch (N, C, H, W) in [0, 1] on the batch's own device. Randomness comes from a counter-based hash of
(seed, corruption, severity, example index, element position), so an example is corrupted the same
way whatever batch it arrives in; corruptions without randomness ignore the seed.

Parameters follow the CIFAR-10-C code of Hendrycks & Dietterich where it gives them and are stated
for 32×32 images: pixel-sized parameters are scaled by (shorter image side / 32). These are "-C-style"
corruptions and their numbers are never comparable with published CIFAR-10-C or mCE results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from engine.conditions._kernels import (
    Rng,
    apply_pairs,
    apply_separable,
    apply_sparse,
    average_2x2,
    cached,
    conv_matrix,
    dct8,
    fine_factor,
    gaussian_taps,
    identity_grid,
    interp_matrix,
    low_rank_terms,
    pair_weights,
    pixelate_matrix,
    quant_table,
    sample,
    separable_ops,
    shifted_copies,
    sparse_operator,
    upsample_triangle,
    zoom_matrices,
)

Fn = Callable[[torch.Tensor, Any, Rng], torch.Tensor]


@dataclass(frozen=True)
class Corruption:
    """One corruption type: what it does in words, its severity parameter and the function."""

    name: str
    description: str
    parameter: str
    values: tuple
    fn: Fn


def _scale(x: torch.Tensor) -> float:
    """Pixel-sized parameters are given for 32-px images; this maps them to this batch's size."""
    return min(x.shape[-2:]) / 32


def _fine_scale(x: torch.Tensor) -> float:
    """The factor for blur parameters laid out on the fine grid of ``_kernels.fine_factor``."""
    return _scale(x) * fine_factor(min(x.shape[-2:]))


def _per_example(x: torch.Tensor) -> int:
    return x[0].numel()


def _operators(x: torch.Tensor, key: tuple, build: Callable[[], Any]) -> Any:
    """Operators for this image size and device, built on first use for each parameter value."""
    return cached((*key, *x.shape[-2:], str(x.device)), build)


# ---------------------------------------------------------------------------------------- noise


def _gaussian_noise(x: torch.Tensor, sigma: float, rng: Rng) -> torch.Tensor:
    z = rng.normal(_per_example(x)).view_as(x)
    return torch.add(x, z, alpha=sigma, out=z)  # written over the draws: one pass, no new buffer


def _shot_noise(x: torch.Tensor, lam: float, rng: Rng) -> torch.Tensor:
    """x ← Poisson(x·λ)/λ, sampled by inverting the Poisson CDF at one uniform per value.

    The uniform is u = Φ(z) of a standard normal draw z. Means below 6 are inverted exactly at u.
    Above, the Cornish–Fisher quantile m + √(m − 1/7)·z + (z² − 1)/6, rounded, is used: the
    classic expansion has √m, whose rounding leaves the variance about 14/m % too high; shrinking
    it to √(m − 1/7) makes the variance right within 0.15% and matches the exact draw for 99.0%
    of values at m = 6 and more (the rest are off by one count).
    """
    mean = (x * lam).view(-1)
    z = rng.normal(_per_example(x)).view(-1)
    # negative counts are left for corrupt's final clamp; the NaN roots of means under 1/7 all lie
    # in the exact part, which overwrites them
    counts = torch.sub(mean, 1 / 7).sqrt_().mul_(z).addcmul_(z, z, value=1 / 6).add_(mean).sub_(1 / 6).round_()
    small = (mean < _EXACT_BELOW).nonzero().squeeze(1)
    if small.numel():
        u = torch.special.ndtr(z.index_select(0, small))
        counts.index_copy_(0, small, _poisson_inverse(mean.index_select(0, small), u))
    return counts.div_(lam).view_as(x)


_EXACT_BELOW = 6.0
_INVERSE_FACTORIALS = [1 / math.factorial(j) for j in range(41)]
_MOST_COUNTS = 41  # P(count > 40 | mean < 10) < 10⁻¹², far under the float32 resolution of u
_FEW = 1024  # values still walking below which the whole CDF at once is cheaper than more steps


def _poisson_inverse(m: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The smallest k with P(Poisson(m) ≤ k) ≥ u, by walking up the CDF (for means below 10).

    The walk carries q = e^{−m}·m^j, so each step is one product and one subtraction (p_j = q/j!).
    Every eight counts the values that have passed their u drop out; a value still walking has
    passed every step so far, so its count is the step number. Once fewer than ``_FEW`` values are
    left, their whole CDF is computed at once (``_poisson_cdf_count``).
    """
    q = torch.exp(-m)
    left = torch.sub(u, q)  # u − P(X ≤ j − 1) at the start of step j
    k, step = torch.zeros_like(m), torch.empty_like(m)
    out, where = k, None
    for j in range(1, 9):
        k += torch.gt(left, 0, out=step)
        q.mul_(m)
        left.sub_(q, alpha=_INVERSE_FACTORIALS[j])
    for j in range(9, _MOST_COUNTS + 8, 8):  # blocks of eight more steps on the values still walking
        live = (left > 0).nonzero().squeeze(1)
        if not live.numel():
            break
        where = live if where is None else where.index_select(0, live)
        m, u, q, left = (t.index_select(0, live) for t in (m, u, q, left))
        if live.numel() < _FEW or j > _MOST_COUNTS:
            out.index_copy_(0, where, _poisson_cdf_count(m, u))
            break
        k, step = torch.full_like(m, j - 1), torch.empty_like(m)
        for i in range(j, j + 8):
            k += torch.gt(left, 0, out=step)
            q.mul_(m)
            left.sub_(q, alpha=_INVERSE_FACTORIALS[i])
        out.index_copy_(0, where, k)
    return out


def _poisson_cdf_count(m: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The same smallest k from the whole CDF up to 40 counts at once, in float64 (for few values).

    Counts run down the first axis, so the running products and sums are vectorised across values.
    It runs on the CPU whatever the device: the values are few, and not every accelerator has
    float64 (Apple's MPS does not).
    """
    mean = m.to("cpu", torch.float64).unsqueeze(0)
    steps = torch.arange(1, _MOST_COUNTS, dtype=torch.float64).unsqueeze(1)
    pmf = torch.cat((torch.ones_like(mean), torch.cumprod(mean / steps, 0)), 0).mul_(torch.exp(-mean))
    below = pmf.cumsum_(0) < u.to("cpu", torch.float64).unsqueeze(0)  # p_k = e^{−m}·Π_{j≤k} m/j
    return below.sum(0).clamp_(max=_MOST_COUNTS - 1).to(m.device, m.dtype)


def _impulse_noise(x: torch.Tensor, amount: float, rng: Rng) -> torch.Tensor:
    """Each value independently becomes 0 with probability amount/2 or 1 with amount/2.

    One uniform u per value: below amount/2 is pepper, between amount/2 and amount salt. Written
    without masks (comparisons to booleans cost more than the rest together): g = ⌈2 − 2u/amount⌉,
    floored at 0, is 2 for pepper, 1 for salt and 0 otherwise, and x + g·(3 − 2g) is then x − 2,
    x + 1 or x, which the final clamp turns into 0, 1 or x.
    """
    g = rng.uniform(_per_example(x), scale=-2 / amount, shift=2.0).ceil_().clamp_min_(0).view_as(x)
    return torch.addcmul(x, g, torch.rsub(g, 3.0, alpha=2))


def _speckle_noise(x: torch.Tensor, sigma: float, rng: Rng) -> torch.Tensor:
    z = rng.normal(_per_example(x)).view_as(x)
    return torch.addcmul(x, x, z, value=sigma, out=z)  # x + σ·x·z over the draws


# ----------------------------------------------------------------------------------------- blur


def _gaussian_blur(x: torch.Tensor, sigma: float, rng: Rng) -> torch.Tensor:
    def build() -> list:
        taps = gaussian_taps(sigma * _fine_scale(x))
        return separable_ops([(taps, taps)], x.shape[-2:], x.device)

    return apply_separable(x, _operators(x, ("gaussian_blur", sigma), build))


def _defocus_blur(x: torch.Tensor, value: tuple[float, float], rng: Rng) -> torch.Tensor:
    """A flat disk (pixels whose centre lies within the radius) softened by a small Gaussian, as in
    CIFAR-10-C; the 2-D kernel is applied as a few separable terms from its SVD."""

    def build() -> list:
        radius, alias = (v * _fine_scale(x) for v in value)
        reach = math.floor(radius)
        t = torch.arange(-reach, reach + 1, dtype=torch.float64)
        disk = (t.unsqueeze(1) ** 2 + t.unsqueeze(0) ** 2 <= radius**2).to(torch.float64)
        soft = gaussian_taps(alias, truncate=3.0)
        kernel = F.conv2d(disk[None, None], torch.outer(soft, soft)[None, None], padding=soft.numel() - 1)
        return separable_ops(low_rank_terms(kernel[0, 0] / kernel.sum()), x.shape[-2:], x.device)

    return apply_separable(x, _operators(x, ("defocus_blur", value), build))


def _motion_blur(x: torch.Tensor, sigma: float, rng: Rng) -> torch.Tensor:
    """A one-sided Gaussian streak of std σ along a random angle in ±45°, truncated at 3σ: copies
    of the image shifted by whole pixels at unit steps along the streak, each step rounded to the
    nearest pixel (ImageMagick's motion blur, which CIFAR-10-C calls, also reads whole pixels), the
    edge repeated outward. Images under 32 px are blurred on the fine grid of ``fine_factor``."""
    k = fine_factor(min(x.shape[-2:]))
    fine = x if k == 1 else F.interpolate(x, scale_factor=k, mode="nearest")
    spread = sigma * _fine_scale(x)
    steps = torch.arange(1, math.floor(3 * spread) + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (torch.cat((torch.zeros(1, dtype=torch.float64), steps)) / spread) ** 2)
    weights = (weights / weights.sum()).tolist()
    angle = (rng.uniform(1) - 0.5) * (math.pi / 2)  # (N, 1)
    dx = (steps.to(x.device, torch.float32) * torch.cos(angle)).round_().long()  # (N, steps)
    dy = (steps.to(x.device, torch.float32) * torch.sin(angle)).round_().long()
    out = fine * weights[0]
    for weight, moved in zip(weights[1:], shifted_copies(fine, dy, dx)):
        out.add_(moved, alpha=weight)
    return out if k == 1 else F.avg_pool2d(out, k)


def _zoom_blur(x: torch.Tensor, max_zoom: float, rng: Rng) -> torch.Tensor:
    """The mean of the image magnified about its centre by 1, 1.01, …, max_zoom, plus the image
    itself once more (CIFAR-10-C's average), applied as one sparse operator."""

    def build() -> tuple[torch.Tensor, torch.Tensor]:
        count = round((max_zoom - 1) / 0.01)
        factors = torch.linspace(1.01, max_zoom, count, dtype=torch.float64)
        h, w = x.shape[-2:]
        terms = [(2 * torch.eye(h, dtype=torch.float64), torch.eye(w, dtype=torch.float64))]
        terms += list(zip(zoom_matrices(h, factors), zoom_matrices(w, factors)))
        cols, weights = sparse_operator(terms, h, w)
        return cols.to(x.device), (weights / (count + 2)).to(x.device, torch.float32)

    return apply_sparse(x, *_operators(x, ("zoom_blur", max_zoom), build))


# -------------------------------------------------------------------------------------- digital


def _contrast(x: torch.Tensor, factor: float, rng: Rng) -> torch.Tensor:
    """(x − mean)·c + mean with the mean of each image and channel, as CIFAR-10-C computes it."""
    mean = x.mean((2, 3), keepdim=True)
    return (x - mean).mul_(factor).add_(mean)


def _brightness(x: torch.Tensor, delta: float, rng: Rng) -> torch.Tensor:
    """V ← min(V + δ, 1) in HSV. Hue and saturation fixed mean every channel scales by V'/V, so no
    colour-space round trip is needed; a black pixel (V = 0) becomes grey V'."""
    if x.shape[1] == 1:
        return x + delta
    value = x.amax(1, keepdim=True)
    brighter = (value + delta).clamp_(max=1.0)
    scaled = x * (brighter / value.clamp_min(1e-12))
    return torch.where(value > 0, scaled, brighter)


def _pixelate(x: torch.Tensor, factor: float, rng: Rng) -> torch.Tensor:
    """PIL's BOX down-scaling then NEAREST up-scaling, per axis. Blocks span at most two pixels
    at every listed factor, so each axis replaces the pixels of each block by their mean."""
    c, h, w = x.shape[1:]

    def build() -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(
            pair_weights(pixelate_matrix(x.shape[dim + 1], factor), (c, h, w), dim).to(x.device) for dim in (1, 2)
        )

    along_h, along_w = _operators(x, ("pixelate", factor, c), build)
    return apply_pairs(apply_pairs(x, along_w, 2), along_h, 1)


# JFIF colour conversion. The level shift by 128/255 changes only luma (chroma rows sum to zero).
_TO_Y = ((0.299, 0.587, 0.114),)
_TO_CBCR = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_CHROMA_TO_RGB = ((0.0, 1.402), (-0.344136, -0.714136), (1.772, 0.0))  # with Y weighted 1 in each


def _jpeg_planes(planes: torch.Tensor, quality: int, chroma: bool, shift: float = 0.0) -> torch.Tensor:
    """Block DCT, quantise with the IJG table for this quality, dequantise, inverse DCT.

    ``planes`` (N, P, H, W) have sides of whole 8×8 blocks; ``shift`` is subtracted first and added
    back after (JPEG's level shift). The 2-D DCT D·X·Dᵀ of every block is two matrix products on the
    image as it lies: along rows with a 16×16 matrix that transforms two blocks at once (an inner
    size of 16 suits the CPU's matrix kernels far better than 8) and down columns with the same
    matrix from the left, 16 rows at a time. Planes are padded by repeating the edge to whole pairs
    of blocks and cropped after; blocks are coded independently, so the extra ones change nothing.
    """
    *lead, h, w = planes.shape
    hp, wp = -(-h // 16) * 16, -(-w // 16) * 16
    if (hp, wp) != (h, w):
        planes = F.pad(planes.reshape(-1, 1, h, w), (0, wp - w, 0, hp - h), mode="replicate").view(*lead, hp, wp)

    def build() -> tuple[torch.Tensor, ...]:
        two = torch.kron(torch.eye(2, dtype=torch.float64), dct8())
        q = (quant_table(quality, chroma) / 255).repeat(hp // 8, wp // 8)
        into = torch.zeros(16, dtype=torch.float64)
        into[[0, 8]] = -shift * math.sqrt(8)  # a flat run of 8 at s has row-DCT coefficients (s·√8, 0, …)
        out_of = torch.full((16,), shift, dtype=torch.float64)
        return tuple(m.to(planes.device, torch.float32) for m in (two, q, into, out_of))

    two, q, into, out_of = _operators(planes, ("jpeg", quality, chroma, shift, hp, wp), build)
    rows = torch.addmm(into, planes.reshape(-1, 16), two.T).view(-1, 16, wp)
    coef = torch.matmul(two, rows).view(*lead, hp, wp)
    coef = torch.div(coef, q, out=coef).round_().mul_(q)
    rows = torch.matmul(two.T, coef.view(-1, 16, wp))
    out = torch.addmm(out_of, rows.view(-1, 16), two).view(*lead, hp, wp)
    return out if (hp, wp) == (h, w) else out[..., :h, :w]


def _jpeg_compression(x: torch.Tensor, quality: int, rng: Rng) -> torch.Tensor:
    """A JPEG encode/decode in floats: JFIF YCbCr, 4:2:0 chroma, 8×8 DCT quantisation. Sample
    values are not rounded to 8 bits, so only the quantisation of DCT coefficients loses detail.

    Sides are padded to whole blocks by repeating the edge, as libjpeg does, and cropped after.
    Chroma is computed from the 2×2 means of RGB (the same as averaging chroma: both are linear)
    and enlarged back with libjpeg's triangle ("fancy") filter from its real extent.
    """
    n, c, h, w = x.shape
    unit = 8 if c == 1 else 16
    pad = (0, -w % unit, 0, -h % unit)
    padded = F.pad(x, pad, mode="replicate") if any(pad) else x
    hp, wp = padded.shape[-2:]
    if c == 1:
        return _jpeg_planes(padded, quality, chroma=False, shift=128 / 255)[..., :h, :w]
    to_y, to_cbcr, to_rgb = (torch.tensor(m, device=x.device) for m in (_TO_Y, _TO_CBCR, _CHROMA_TO_RGB))
    luma = torch.matmul(to_y, padded.view(n, 3, hp * wp)).view(n, 1, hp, wp)
    luma = _jpeg_planes(luma, quality, chroma=False, shift=128 / 255)[..., :h, :w]
    chroma = torch.matmul(to_cbcr, average_2x2(padded).view(n, 3, -1)).view(n, 2, hp // 2, wp // 2)
    # libjpeg enlarges chroma from its real extent, ⌈side/2⌉, repeating the edge from there
    chroma = _jpeg_planes(chroma, quality, chroma=True)[..., : -(-h // 2), : -(-w // 2)]
    chroma = upsample_triangle(chroma)[..., :h, :w]
    # RGB = Y·1 + (chroma terms): the luma column of the inverse colour matrix is all ones
    return torch.matmul(to_rgb, chroma.reshape(n, 2, h * w)).view(n, 3, h, w).add_(luma)


# ---------------------------------------------------------------------------- geometry, weather


def _elastic_transform(x: torch.Tensor, value: tuple[float, float], rng: Rng) -> torch.Tensor:
    """Moves every pixel along a smooth random field: white noise blurred with a unit-energy
    Gaussian of std σ, so the displacement has RMS α pixels (both scaled to the image size)."""
    n, _, h, w = x.shape

    def build() -> tuple[torch.Tensor, torch.Tensor]:
        taps = gaussian_taps(value[1] * _scale(x), truncate=3.0)
        taps = taps / taps.norm()
        return tuple(conv_matrix(taps, m).to(x.device, torch.float32) for m in (h, w))

    ah, aw = _operators(x, ("elastic", value), build)
    field = torch.matmul(ah, torch.matmul(rng.normal(2 * h * w).view(n, 2, h, w), aw.T))
    pixel = torch.tensor([2 / w, 2 / h], device=x.device) * (value[0] * _scale(x))
    return sample(x, identity_grid(h, w, x.device) + field.permute(0, 2, 3, 1) * pixel, "reflection")


def _fog(x: torch.Tensor, value: tuple[float, float], rng: Rng) -> torch.Tensor:
    """x ← (x + t·plasma)·max/(max + t) as in CIFAR-10-C. The plasma is fractal value noise: random
    grids of 3, 5, 9, … points, bilinearly enlarged, each octave 1/decay² as strong as the coarser
    one (the amplitude ratio of CIFAR-10-C's diamond-square), rescaled to [0, 1] per image."""
    thickness, decay = value
    n, _, h, w = x.shape
    sizes = [2**o + 1 for o in range(1, max(1, math.ceil(math.log2(max(h, w) - 1))) + 1)]

    def build() -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [
            tuple(
                interp_matrix(torch.arange(m) * (g - 1) / (m - 1), g).to(x.device, torch.float32)
                for m in (h, w)
            )
            for g in sizes
        ]

    enlarge = _operators(x, ("fog",), build)
    draws = rng.uniform(sum(g * g for g in sizes)).mul_(2).sub_(1)
    pattern = torch.zeros(n, h, w, device=x.device)
    start = 0
    for octave, (g, (uh, uw)) in enumerate(zip(sizes, enlarge)):
        grid = draws[:, start : start + g * g].reshape(n, g, g)
        start += g * g
        pattern.add_(torch.matmul(uh, torch.matmul(grid, uw.T)), alpha=decay ** (-2 * octave))
    low = pattern.amin((1, 2), keepdim=True)
    pattern = (pattern - low).div_((pattern.amax((1, 2), keepdim=True) - low).clamp_min_(1e-12))
    top = x.amax((1, 2, 3), keepdim=True)
    return torch.add(x, pattern.unsqueeze(1), alpha=thickness).mul_(top / (top + thickness))


def _rotate(x: torch.Tensor, degrees: float, rng: Rng) -> torch.Tensor:
    """Rotation about the centre, clockwise or anticlockwise at random; edge pixels fill the corners."""
    n, _, h, w = x.shape
    sign = torch.where(rng.uniform(1) < 0.5, -1.0, 1.0).view(n)
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees)) * sign
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = cos
    theta[:, 0, 1] = sin * (h / w)  # grid units differ per axis on non-square images
    theta[:, 1, 0] = -sin * (w / h)
    return sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), "border")


def _translate(x: torch.Tensor, fraction: float, rng: Rng) -> torch.Tensor:
    """A shift by ``fraction`` of the image size in a uniformly random direction (sub-pixel)."""
    n, _, h, w = x.shape
    heading = rng.uniform(1) * (2 * math.pi)
    shift = torch.cat((torch.cos(heading), torch.sin(heading)), 1).view(n, 1, 1, 2) * (2 * fraction)
    return sample(x, identity_grid(h, w, x.device) - shift, "border")


def _occlusion(x: torch.Tensor, fraction: float, rng: Rng) -> torch.Tensor:
    """A mid-grey square of side ``fraction`` × the shorter side, placed uniformly inside the image;
    edge pixels it covers partly are blended by the covered area."""
    n, _, h, w = x.shape
    side = fraction * min(h, w)
    corner = rng.uniform(2) * torch.tensor([h - side, w - side], device=x.device)

    def coverage(start: torch.Tensor, length: int) -> torch.Tensor:
        i = torch.arange(length, dtype=torch.float32, device=x.device)
        return (torch.minimum(i + 1, start + side) - torch.maximum(i, start)).clamp_(0, 1)

    mask = coverage(corner[:, :1], h).view(n, 1, h, 1) * coverage(corner[:, 1:], w).view(n, 1, 1, w)
    return (0.5 - x).mul_(mask).add_(x)


def _invert(x: torch.Tensor, blend: float, rng: Rng) -> torch.Tensor:
    """(1 − b)·x + b·(1 − x): at b = 1 the photographic negative."""
    return x.mul(1 - 2 * blend).add_(blend)


_PX = "px at 32 px, scaled to the image size"

CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption(
            "gaussian_noise",
            "Adds fine random grain to every pixel, like a photo taken in poor light.",
            "σ (noise std, image in [0,1])",
            (0.04, 0.06, 0.08, 0.09, 0.10),
            _gaussian_noise,
        ),
        Corruption(
            "shot_noise",
            "Adds grain that grows with brightness, like a camera sensor catching too little light.",
            "λ (x ← Poisson(x·λ)/λ)",
            (500, 250, 100, 75, 50),
            _shot_noise,
        ),
        Corruption(
            "impulse_noise",
            "Turns a random few pixel values pure black or pure white, like dead sensor pixels.",
            "fraction of values replaced (half by 0, half by 1)",
            (0.01, 0.02, 0.03, 0.05, 0.07),
            _impulse_noise,
        ),
        Corruption(
            "speckle_noise",
            "Multiplies every pixel by a random factor, so bright areas get grainier than dark ones.",
            "σ (x ← x + x·N(0, σ))",
            (0.06, 0.10, 0.12, 0.16, 0.20),
            _speckle_noise,
        ),
        Corruption(
            "gaussian_blur",
            "Softens the whole image evenly, as if seen through frosted glass.",
            f"σ (blur std, {_PX})",
            (0.4, 0.6, 0.7, 0.8, 1.0),
            _gaussian_blur,
        ),
        Corruption(
            "defocus_blur",
            "Blurs the image through a round lens opening, like a camera focused at the wrong distance.",
            f"(disk radius, anti-alias σ), {_PX}",
            ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1)),
            _defocus_blur,
        ),
        Corruption(
            "motion_blur",
            "Smears the image in one random direction, as if the camera moved during the shot.",
            f"σ of the one-sided streak, {_PX}",
            (1.0, 1.5, 2.0, 2.5, 3.0),
            _motion_blur,
        ),
        Corruption(
            "zoom_blur",
            "Smears the image outward from its centre, as if the lens zoomed during the shot.",
            "largest zoom (zooms 1, 1.01, … are averaged)",
            (1.05, 1.10, 1.15, 1.20, 1.25),
            _zoom_blur,
        ),
        Corruption(
            "contrast",
            "Pulls every pixel toward the image's average colour, so it looks flat and washed out.",
            "factor c (x ← (x − mean)·c + mean)",
            (0.75, 0.5, 0.4, 0.3, 0.15),
            _contrast,
        ),
        Corruption(
            "brightness",
            "Makes the image brighter, like an over-exposed photo.",
            "δ added to V in HSV (to the value for grey images)",
            (0.05, 0.10, 0.15, 0.20, 0.30),
            _brightness,
        ),
        Corruption(
            "pixelate",
            "Rebuilds the image from coarser square blocks, as if stored small and enlarged.",
            "resolution factor (int(side·factor) blocks per side)",
            (0.95, 0.9, 0.85, 0.75, 0.65),
            _pixelate,
        ),
        Corruption(
            "jpeg_compression",
            "Saves the image as a low-quality JPEG, adding blocky compression artefacts.",
            "JPEG quality (IJG scale)",
            (80, 65, 58, 50, 40),
            _jpeg_compression,
        ),
        Corruption(
            "elastic_transform",
            "Bends the picture with small random local stretches, like a view through rippled glass.",
            f"(α displacement RMS, σ field smoothness), {_PX}",
            ((0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.25, 1.75), (1.5, 1.5)),
            _elastic_transform,
        ),
        Corruption(
            "fog",
            "Lays a patchy veil of haze over the image and lowers its contrast.",
            "(t thickness, roughness decay)",
            ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75)),
            _fog,
        ),
        Corruption(
            "rotate",
            "Turns the image by a fixed angle, clockwise or anticlockwise at random.",
            "angle in degrees (direction random per image)",
            (5, 10, 15, 25, 35),
            _rotate,
        ),
        Corruption(
            "translate",
            "Shifts the image in a random direction, repeating its edge pixels into the gap.",
            "shift as a fraction of the image size (direction random)",
            (0.05, 0.10, 0.15, 0.20, 0.25),
            _translate,
        ),
        Corruption(
            "occlusion",
            "Covers a randomly placed square of the image with flat grey.",
            "side of the grey square as a fraction of the shorter side",
            (0.1, 0.2, 0.3, 0.4, 0.5),
            _occlusion,
        ),
        Corruption(
            "invert",
            "Blends the image toward its photographic negative; at full strength black becomes white.",
            "blend b toward 1 − x",
            (0.2, 0.4, 0.6, 0.8, 1.0),
            _invert,
        ),
    )
}


def _whole(value: object) -> int | None:
    """``value`` as an int if it is a whole number type (int, NumPy integer), else None."""
    if isinstance(value, bool):
        return None
    try:
        return value.__index__()  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        return None


def _check_batch(images: torch.Tensor, index: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise ValueError("Images must be a float tensor shaped (N, C, H, W) with values in [0, 1].")
    n, c, h, w = images.shape
    if c not in (1, 3) or min(h, w) < 8:
        raise ValueError(
            f"Images must have 1 or 3 channels and sides of at least 8 pixels, got {c}×{h}×{w}."
        )
    if (
        not isinstance(index, torch.Tensor)
        or index.shape != (n,)
        or index.is_floating_point()
        or index.dtype == torch.bool
    ):
        raise ValueError(f"The index must be an integer tensor with one dataset row number per image ({n}).")


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int, index: torch.Tensor) -> torch.Tensor:
    """Corrupt a batch; each example depends only on its pixels, name, severity, seed and index.

    ``images`` is float (N, C, H, W) in [0, 1] with C = 1 or 3 on any device; ``index`` holds each
    example's row in the full dataset. Returns a new float32 tensor of the same shape and device,
    clamped to [0, 1].
    """
    spec = CORRUPTIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"Unknown corruption {name!r}. Valid names: {', '.join(CORRUPTIONS)}.")
    level = _whole(severity)
    if level is None or not 1 <= level <= 5:
        raise ValueError(
            f"Severity for corruption {name!r} must be a whole number from 1 to 5, not {severity!r}."
        )
    if _whole(seed) is None:
        raise ValueError(f"The seed for corruption {name!r} must be a whole number, not {seed!r}.")
    _check_batch(images, index)
    x = images.detach().to(torch.float32).contiguous()
    if x.shape[0] == 0:
        return x.clone()
    rng = Rng(_whole(seed), name, level, index.to(device=x.device, dtype=torch.int64))
    with torch.no_grad():
        return spec.fn(x, spec.values[level - 1], rng).clamp_(0, 1)

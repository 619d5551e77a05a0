"""Batched building blocks for the image corruptions in ``engine.conditions.corruptions``.

Three kinds of pieces live here:

* ``Rng``: counter-based random numbers. Every draw is fixed by (seed, corruption, severity, example
  index, position), so an example's noise never depends on which other examples share its batch, on
  the batch size or on the device.
* Linear operators (blur, zoom, pixelate, resampling, JPEG's DCT and chroma filters) built from
  small 1-D matrices on the CPU in float64. Blurs are applied as matrix products along each axis,
  which on a CPU is far faster than ``conv2d`` with per-channel groups; zoom, which reads a few
  pixels per output pixel, becomes a row table applied with one weighted gather; pixelate, which
  averages neighbouring pairs, becomes ``lerp`` passes over each example as one flat row.
* Moves: ``shifted_copies`` (whole-pixel shifts per example, as row gathers) and ``identity_grid``
  with ``sample`` (bilinear resampling for the geometric corruptions).

Matrices and tables that depend only on sizes and parameters are built once and kept in ``cached``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

T = TypeVar("T")

_M64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15
_GOLDEN32 = 0x9E3779B9
_CACHE: dict[tuple, Any] = {}


def mix64(z: int) -> int:
    """splitmix64's finaliser on a Python int: a bijective 64-bit scrambler with full avalanche."""
    z &= _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def mix64_array(z: np.ndarray) -> np.ndarray:
    """``mix64`` on a uint64 array (products wrap modulo 2**64)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash32(x: np.ndarray) -> np.ndarray:
    """The lowbias32 hash (C. Wellons) of a uint32 array (products wrap modulo 2**32).

    Hashes are computed with NumPy on the CPU whatever the batch's device: they are few (one per
    run of draws, not per value), NumPy's per-call overhead is a fraction of torch's, and integers
    are then identical on every device.
    """
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def _fnv64(text: str) -> int:
    """FNV-1a of a name: a stable number per corruption (Python's ``hash`` changes per process)."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & _M64
    return h


def cached(key: tuple, build: Callable[[], T]) -> T:
    """The value built for ``key`` on first use: operators depend only on sizes and parameters."""
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


POOL_BITS = 21  # each pool holds 2**21 pre-drawn values (8 MB of float32)
RUN = 64  # draws are read from a pool in runs of this many consecutive values
_POOL_KEYS = {"normal": 0x6E6F726D616C, "uniform": 0x756E69666F726D}


def _pool(kind: str, device: torch.device) -> torch.Tensor:
    """(2**POOL_BITS / RUN, RUN) fixed i.i.d. draws: standard normals, or uniforms minus ½.

    Built once per process and device from the lowbias32 hash of each position (24 bits per value,
    so uniforms sit on a 2**-24 grid that float32 holds exactly), always on the CPU in float64 and
    then copied, so every device reads the same numbers.
    """

    def build() -> torch.Tensor:
        key = mix64(_POOL_KEYS[kind])
        pos = np.arange(1 << POOL_BITS, dtype=np.uint32) * np.uint32(_GOLDEN32) + np.uint32(key & 0xFFFFFFFF)
        top = hash32(pos ^ np.uint32(key >> 32)) >> np.uint32(8)
        u = torch.from_numpy((top.astype(np.float64) + 0.5) * 2.0**-24)  # (k + ½)/2**24: never 0 or 1
        values = torch.special.ndtri(u) if kind == "normal" else u - 0.5
        return values.to(device=device, dtype=torch.float32).view(-1, RUN)

    return cached(("pool", kind, str(device)), build)


class Rng:
    """Random numbers for one (seed, corruption, severity) and a batch of examples.

    Each example gets a 64-bit key from its dataset row index; hash ``p`` of an example is
    ``lowbias32((p·φ + key_lo) xor key_hi)``. Element-wise draws are runs of ``RUN`` consecutive
    values from a fixed pool, the run and its sign chosen by one such hash per run: hashing every
    element cost ten times more than the corruption itself. Keys are only computed when a draw is
    made, so corruptions without randomness never touch the seed.
    """

    def __init__(self, seed: int, name: str, severity: int, index: torch.Tensor):
        self._salt = mix64(mix64(mix64(seed) ^ _fnv64(name)) ^ severity)
        self._index = index
        self._keys: tuple[np.ndarray, np.ndarray] | None = None

    def _example_keys(self) -> tuple[np.ndarray, np.ndarray]:
        if self._keys is None:
            index = self._index.detach().cpu().numpy().astype(np.uint64)  # two's complement, as int64
            z = mix64_array(index * np.uint64(_GOLDEN64) + np.uint64(self._salt))
            self._keys = ((z & np.uint64(0xFFFFFFFF)).astype(np.uint32)[:, None], (z >> np.uint64(32)).astype(np.uint32)[:, None])
        return self._keys

    def bits(self, count: int) -> np.ndarray:
        """(N, count) uint32 hashes, 32 random bits each."""
        lo, hi = self._example_keys()
        pos = np.arange(count, dtype=np.uint32) * np.uint32(_GOLDEN32)
        return hash32((pos + lo) ^ hi)

    def normal(self, count: int) -> torch.Tensor:
        """(N, count) float32 standard normals: pool runs, each negated or not at random."""
        runs, sign = self._runs("normal", count)
        return self._trim(runs.mul_(sign), count)

    def uniform(self, count: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
        """(N, count) float32 ``shift + scale·u`` for uniforms u in (0, 1) on a 2**-24 grid.

        Pool runs hold u − ½ and are read as ½ ± (u − ½); the affine map rides along in the same pass.
        """
        runs, sign = self._runs("uniform", count, scale)
        return self._trim(runs.mul_(sign).add_(shift + scale / 2), count)

    def _runs(self, kind: str, count: int, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, runs, RUN) values for ``count`` draws per example and the (N, runs, 1) signs × scale.

        Bit 0 of a run's hash is its sign; the bits above pick one of the pool's runs.
        """
        device = self._index.device
        pool = _pool(kind, device)
        h = self.bits(-(-count // RUN))
        pick = torch.from_numpy(((h >> np.uint32(1)) & np.uint32(pool.shape[0] - 1)).astype(np.int64))
        sign = torch.from_numpy(np.where(h & np.uint32(1), scale, -scale).astype(np.float32))
        return pool.index_select(0, pick.view(-1).to(device)).view(*h.shape, RUN), sign.to(device).unsqueeze(2)

    @staticmethod
    def _trim(runs: torch.Tensor, count: int) -> torch.Tensor:
        flat = runs.view(runs.shape[0], -1)
        return flat if flat.shape[1] == count else flat[:, :count].contiguous()


# ----------------------------------------------------------------------------------------------
# 1-D linear operators: (n_out, n_in) float64 matrices on the CPU, moved to the device when used.


def gaussian_taps(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """A sampled, normalised Gaussian kernel of radius ceil(truncate·σ) (at least 1)."""
    radius = max(1, math.ceil(truncate * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (t / max(sigma, 1e-6)) ** 2)
    return taps / taps.sum()


def conv_matrix(taps: torch.Tensor, n: int) -> torch.Tensor:
    """The (n, n) matrix of correlating with centred ``taps``, edge pixels replicated outward."""
    radius = (taps.numel() - 1) // 2
    rows = torch.arange(n).unsqueeze(1).expand(n, taps.numel())
    cols = (rows + torch.arange(-radius, radius + 1)).clamp(0, n - 1)
    out = torch.zeros(n, n, dtype=torch.float64)
    return out.index_put_((rows, cols), taps.to(torch.float64).expand(n, -1), accumulate=True)


def interp_matrix(src: torch.Tensor, n_in: int) -> torch.Tensor:
    """Linear-interpolation weights (..., n_out, n_in) reading positions ``src``, clamped at the edges."""
    src = src.to(torch.float64).clamp(0, n_in - 1).unsqueeze(-1)
    return (1 - (src - torch.arange(n_in, dtype=torch.float64)).abs()).clamp_min(0)


def _overlap(lo: torch.Tensor, hi: torch.Tensor, n_in: int) -> torch.Tensor:
    """Length of [lo, hi] ∩ [i, i+1] for every pixel i of an axis of n_in pixels: (len(lo), n_in)."""
    i = torch.arange(n_in, dtype=torch.float64)
    return (torch.minimum(hi.unsqueeze(1), i + 1) - torch.maximum(lo.unsqueeze(1), i)).clamp_min(0)


def box_resample(n_out: int, n_in: int) -> torch.Tensor:
    """Area-average resampling of an axis from n_in to n_out pixels (both cover the same extent).

    Downsampling averages the covered pixels; upsampling spreads each pixel as a flat box, which is
    how an image is treated as a piecewise-constant picture at a finer grid.
    """
    step = n_in / n_out
    lo = torch.arange(n_out, dtype=torch.float64) * step
    weights = _overlap(lo, lo + step, n_in)
    return weights / weights.sum(1, keepdim=True)


def pixelate_matrix(n: int, factor: float) -> torch.Tensor:
    """PIL's BOX resize to int(n·factor) blocks, then its NEAREST resize back, as CIFAR-10-C does.

    PIL's BOX averages the pixels whose centres fall inside a block (whole pixels, equal weights);
    NEAREST gives each pixel the block under its centre.
    """
    blocks = max(1, int(n * factor))
    centre = torch.arange(n, dtype=torch.float64) + 0.5
    member = torch.floor(centre * blocks / n) == torch.arange(blocks).unsqueeze(1)  # (blocks, n)
    member = member.to(torch.float64)
    # the block under a pixel's centre is also the block that pixel is averaged into
    return member.T @ (member / member.sum(1, keepdim=True))


def zoom_matrices(n: int, factors: torch.Tensor) -> torch.Tensor:
    """(K, n, n) operators magnifying an axis about its centre by each factor (bilinear)."""
    centre = (n - 1) / 2
    src = centre + (torch.arange(n, dtype=torch.float64) - centre) / factors.unsqueeze(1)
    return interp_matrix(src, n)


def fine_factor(short_side: int) -> int:
    """How many times finer than the image blur kernels are laid out: enough for a 32-px short side.

    Blur parameters are given for 32-px images. A smaller image is blurred as its piecewise-constant
    enlargement by this whole factor and area-averaged back, so an 8×8 digit gets the same relative
    blur as a 32×32 image, even where the scaled kernel would be narrower than a pixel.
    """
    return max(1, math.ceil(32 / short_side))


def separable_ops(
    terms: list[tuple[torch.Tensor, torch.Tensor]], size: tuple[int, int], device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Turn 1-D kernel pairs laid out on the fine grid into (H, H) and (W, W) operators on the image."""
    k = fine_factor(min(size))

    def on_image(taps: torch.Tensor, n: int) -> torch.Tensor:
        op = conv_matrix(taps, n * k)
        return op if k == 1 else box_resample(n, n * k) @ op @ box_resample(n * k, n)

    return [
        (on_image(th, size[0]).to(device, torch.float32), on_image(tw, size[1]).to(device, torch.float32))
        for th, tw in terms
    ]


def apply_separable(x: torch.Tensor, ops: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Σᵢ Aᵢ · X · Bᵢᵀ over the last two axes: any separable or low-rank filter as matrix products."""
    out = None
    for a, b in ops:
        y = torch.matmul(a, torch.matmul(x, b.T))
        out = y if out is None else out.add_(y)
    return out


def sparse_operator(
    terms: list[tuple[torch.Tensor, torch.Tensor]], h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The operator Σᵢ Aᵢ ⊗ Bᵢ on flattened images as (H·W, J) tables of columns and weights.

    Zoom and pixelate operators touch only a few pixels per output pixel (J ≈ 4–12), however many
    terms they sum, so reading J pixels beats J-fold dense matrix products by an order of magnitude.
    """
    keys, values = [], []
    for a, b in terms:
        ra, ca = a.nonzero(as_tuple=True)
        rb, cb = b.nonzero(as_tuple=True)
        row = (ra.unsqueeze(1) * w + rb).reshape(-1)
        col = (ca.unsqueeze(1) * w + cb).reshape(-1)
        keys.append(row * (h * w) + col)
        values.append((a[ra, ca].unsqueeze(1) * b[rb, cb]).reshape(-1))
    key, inverse = torch.unique(torch.cat(keys), return_inverse=True)
    value = torch.zeros(key.numel(), dtype=torch.float64).index_add_(0, inverse, torch.cat(values))
    row, col = key // (h * w), key % (h * w)
    count = torch.bincount(row, minlength=h * w)
    slot = torch.arange(key.numel()) - (torch.cumsum(count, 0) - count)[row]
    cols = torch.zeros(h * w, int(count.max()), dtype=torch.int64)
    weights = torch.zeros(h * w, int(count.max()), dtype=torch.float64)
    cols[row, slot] = col
    weights[row, slot] = value
    return cols, weights


def apply_sparse(x: torch.Tensor, cols: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Apply a ``sparse_operator`` to a batch: one weighted row gather (embedding_bag) per pixel."""
    n, c, h, w = x.shape
    table = x.reshape(n * c, h * w).T.contiguous()
    out = F.embedding_bag(cols, table, per_sample_weights=weights, mode="sum")
    return out.T.reshape(n, c, h, w)


def pair_weights(op: torch.Tensor, shape: tuple[int, ...], dim: int) -> torch.Tensor:
    """(2, prod(shape)) weights for ``apply_pairs`` from an (n, n) operator that replaces pixels by
    the mean of disjoint runs of at most two along axis ``dim`` of one example of ``shape``.

    Row 0 is the weight a pixel takes from its next neighbour, row 1 from its previous one: ½ for
    the two members of a pair, 0 otherwise.
    """
    n = op.shape[0]
    weights = torch.zeros(2, n, dtype=torch.float64)
    weights[0, :-1], weights[1, 1:] = op.diagonal(1), op.diagonal(-1)
    expected = torch.diag(1 - weights.sum(0)) + torch.diag(weights[0, :-1], 1) + torch.diag(weights[1, 1:], -1)
    if not torch.allclose(op, expected) or not bool(((weights == 0) | (weights == 0.5)).all()):
        raise ValueError("operator is not a mean over disjoint runs of at most two pixels")
    view = [2] + [1] * len(shape)
    view[dim + 1] = n
    return weights.view(view).expand(2, *shape).reshape(2, -1).to(torch.float32)


def apply_pairs(x: torch.Tensor, weights: torch.Tensor, dim: int) -> torch.Tensor:
    """Apply ``pair_weights`` along axis ``dim`` of each example of the batch ``x``: two ``lerp``
    passes over each example as one flat row, where a neighbour sits a fixed stride away (a pixel
    with no partner takes weight 0 from both sides, so crossing into the next line changes nothing)."""
    stride = math.prod(x.shape[dim + 2 :])
    flat = x.reshape(x.shape[0], -1)
    out = torch.empty_like(flat)
    torch.lerp(flat[:, :-stride], flat[:, stride:], weights[0, :-stride], out=out[:, :-stride])
    out[:, -stride:] = flat[:, -stride:]  # the last line has no next line; its pairs lie within it
    out[:, stride:].lerp_(flat[:, :-stride], weights[1, stride:])
    return out.view_as(x)


def low_rank_terms(kernel: torch.Tensor, rel_tol: float = 1e-4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Split a 2-D kernel into separable (column, row) tap pairs by SVD, dropping negligible ranks."""
    u, s, vh = torch.linalg.svd(kernel.to(torch.float64))
    keep = int((s > rel_tol * s[0]).sum())
    return [(u[:, i] * s[i].sqrt(), vh[i] * s[i].sqrt()) for i in range(keep)]


# ----------------------------------------------------------------------------------------------
# Geometry


def identity_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(1, H, W, 2) sampling grid that reproduces the image, in grid_sample's (x, y) units."""
    return F.affine_grid(torch.eye(2, 3, device=device).unsqueeze(0), [1, 1, h, w], align_corners=False)


def shifted_copies(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> Iterator[torch.Tensor]:
    """For each column j of the (N, S) whole-pixel offsets, the batch with every example moved by its
    own offset: out[n, :, y, x] = x[n, :, y − dy[n, j], x − dx[n, j]], the edge repeated outward.

    Every output row is a contiguous run of the input with its edge columns repeated, so each move
    is one gather of rows (from an overlapping view of that batch, built once), not of pixels.
    """
    n, c, h, w = x.shape
    reach = int(dx.abs().max()) if dx.numel() else 0
    padded = x.new_empty(n, c, h, w + 2 * reach)  # edge columns repeated; rows are clamped instead
    padded[..., reach : reach + w] = x
    padded[..., :reach] = x[..., :1]
    padded[..., reach + w :] = x[..., -1:]
    wp = w + 2 * reach
    plane = torch.arange(n * c, device=x.device).view(n, c, 1) * h
    y = torch.arange(h, device=x.device).view(1, 1, h)
    runs = padded.view(-1).unfold(0, w, 1)
    for j in range(dy.shape[1]):
        rows = plane + (y - dy[:, j].view(n, 1, 1)).clamp_(0, h - 1)
        starts = rows * wp + (reach - dx[:, j]).view(n, 1, 1)
        yield runs.index_select(0, starts.view(-1)).view(n, c, h, w)


def sample(x: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear samples of ``x`` at ``grid`` (N, H, W, 2); ``padding`` says what lies outside."""
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


# ----------------------------------------------------------------------------------------------
# JPEG (ITU T.81 Annex K tables, IJG quality scaling, JFIF colour, 4:2:0 chroma like PIL's default)

_LUMA_Q = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_CHROMA_Q = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
) + ((99,) * 8,) * 4


def quant_table(quality: int, chroma: bool) -> torch.Tensor:
    """The 8×8 quantisation table the IJG library uses for a quality setting (1–100)."""
    base = torch.tensor(_CHROMA_Q if chroma else _LUMA_Q, dtype=torch.float64)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality  # integer maths, as in libjpeg
    return torch.floor((base * scale + 50) / 100).clamp(1, 255)


def dct8() -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix, which is exactly JPEG's forward DCT."""
    u = torch.arange(8, dtype=torch.float64).unsqueeze(1)
    x = torch.arange(8, dtype=torch.float64).unsqueeze(0)
    d = torch.cos((2 * x + 1) * u * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d


def upsample_triangle(x: torch.Tensor) -> torch.Tensor:
    """Double both sides with libjpeg's "fancy" filter: each new sample is ¾ of the nearest old one
    plus ¼ of the next nearest, the edge repeated.

    Down the columns each half is one ``lerp`` of whole rows. Along rows, strided ``lerp`` writes
    cost more than a product with the (W, 2W) filter matrix while rows are short, so up to 64
    samples the matrix is used.
    """
    *lead, h, w = x.shape
    if w <= 64:
        def build() -> torch.Tensor:
            src = (torch.arange(2 * w, dtype=torch.float64) + 0.5) / 2 - 0.5
            return interp_matrix(src, w).T.to(x.device, torch.float32)

        x = (x.reshape(-1, w) @ cached(("fancy", w, str(x.device)), build)).view(*lead, h, 2 * w)
        dims = (x.dim() - 2,)
    else:
        dims = (x.dim() - 1, x.dim() - 2)
    for dim in dims:
        n = x.shape[dim]
        out = x.new_empty(*x.shape[: dim + 1], 2, *x.shape[dim + 1 :])
        even, odd = out.select(dim + 1, 0), out.select(dim + 1, 1)
        inner, first, last = x.narrow(dim, 1, n - 1), x.narrow(dim, 0, n - 1), x.narrow(dim, n - 1, 1)
        torch.lerp(inner, first, 0.25, out=even.narrow(dim, 1, n - 1))  # ¾·x[i] + ¼·x[i − 1]
        torch.lerp(first, inner, 0.25, out=odd.narrow(dim, 0, n - 1))  # ¾·x[i] + ¼·x[i + 1]
        even.narrow(dim, 0, 1).copy_(x.narrow(dim, 0, 1))
        odd.narrow(dim, n - 1, 1).copy_(last)
        x = out.view(*x.shape[:dim], 2 * n, *x.shape[dim + 1 :])
    return x


def average_2x2(x: torch.Tensor) -> torch.Tensor:
    """The mean of each 2×2 block of the last two axes (sides even): two pairwise sums of views."""
    *lead, h, w = x.shape
    rows = x.reshape(*lead, h // 2, 2, w)
    rows = rows.select(-2, 0) + rows.select(-2, 1)
    cols = rows.view(*lead, h // 2, w // 2, 2)
    return torch.add(cols.select(-1, 0), cols.select(-1, 1)).mul_(0.25)

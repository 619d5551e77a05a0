"""Tests for the batched image corruptions (engine.conditions.corruptions)."""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine.conditions._kernels import Rng, hash32, mix64, mix64_array
from engine.conditions.corruptions import CORRUPTIONS, _poisson_cdf_count, _poisson_inverse, corrupt

NAMES = list(CORRUPTIONS)
RANDOM = {
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "motion_blur",
    "elastic_transform",
    "fog",
    "rotate",
    "translate",
    "occlusion",
}


def _images(n: int, c: int, side: int, seed: int = 0) -> torch.Tensor:
    """Random but fixed images with both smooth structure and fine texture, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, c, 6, 6, generator=g)
    smooth = F.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)
    return (0.85 * smooth + 0.15 * torch.rand(n, c, side, side, generator=g)).clamp(0, 1)


RGB32 = _images(12, 3, 32)
GREY8 = _images(12, 1, 8, seed=1)


def _change(x: torch.Tensor, name: str, severity: int, seed: int = 0) -> float:
    return (corrupt(x, name, severity, seed, torch.arange(len(x))) - x).abs().mean().item()


def test_registry_has_the_required_corruptions_with_five_values():
    assert NAMES == [
        "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "gaussian_blur",
        "defocus_blur", "motion_blur", "zoom_blur", "contrast", "brightness", "pixelate",
        "jpeg_compression", "elastic_transform", "fog", "rotate", "translate", "occlusion", "invert",
    ]  # fmt: skip
    for name, spec in CORRUPTIONS.items():
        assert spec.name == name and len(spec.values) == 5 and spec.parameter
        assert spec.description.endswith(".") and "_" not in spec.description


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_range_and_input_untouched(name):
    odd_sized = _images(2, 3, 11)[..., :9]
    channels_last = RGB32[:3].contiguous(memory_format=torch.channels_last)
    for x in (RGB32, GREY8, odd_sized, channels_last):
        before = x.clone()
        for severity in range(1, 6):
            y = corrupt(x, name, severity, 3, torch.arange(len(x)))
            assert y.shape == x.shape and y.dtype == torch.float32 and y.device == x.device
            assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
        assert torch.equal(x, before)


@pytest.mark.parametrize("name", NAMES)
def test_change_grows_with_severity(name):
    changes = [_change(RGB32, name, s) for s in range(1, 6)]
    assert all(b > a for a, b in zip(changes, changes[1:])), changes


@pytest.mark.parametrize("name", NAMES)
def test_eight_pixel_images_get_a_visible_effect(name):
    first, last = _change(GREY8, name, 1), _change(GREY8, name, 5)
    assert last > 0.005 and last > first


@pytest.mark.parametrize("name", NAMES)
def test_each_example_depends_only_on_its_own_index(name):
    index = torch.arange(100, 100 + len(RGB32)) * 7
    whole = corrupt(RGB32, name, 3, 11, index)
    alone = torch.cat([corrupt(RGB32[i : i + 1], name, 3, 11, index[i : i + 1]) for i in range(len(index))])
    perm = torch.randperm(len(index), generator=torch.Generator().manual_seed(5))
    shuffled = torch.empty_like(whole)
    shuffled[perm] = corrupt(RGB32[perm], name, 3, 11, index[perm])
    assert torch.allclose(whole, alone, atol=1e-6, rtol=0)
    assert torch.allclose(whole, shuffled, atol=1e-6, rtol=0)
    assert torch.equal(whole, corrupt(RGB32, name, 3, 11, index))


@pytest.mark.parametrize("name", NAMES)
def test_seed_changes_random_corruptions_only(name):
    index = torch.arange(len(RGB32))
    a, b = corrupt(RGB32, name, 4, 1, index), corrupt(RGB32, name, 4, 2, index)
    copies = corrupt(RGB32[:1].expand(8, -1, -1, -1), name, 4, 1, torch.arange(8))
    differ_by_index = any(not torch.equal(copies[0], other) for other in copies[1:])
    if name in RANDOM:
        assert not torch.equal(a, b) and differ_by_index
    else:
        assert torch.equal(a, b) and not differ_by_index


def test_gaussian_noise_residual_has_the_stated_std():
    grey = torch.full((64, 3, 32, 32), 0.5)
    for severity, sigma in enumerate(CORRUPTIONS["gaussian_noise"].values, start=1):
        residual = corrupt(grey, "gaussian_noise", severity, 0, torch.arange(64)) - grey
        assert abs(residual.mean().item()) < 0.002
        assert residual.std().item() == pytest.approx(sigma, rel=0.02)


@pytest.mark.parametrize("level", [0.3, 0.04])  # means x·λ above and below the exact-inversion limit
def test_shot_noise_is_poisson_scaled(level):
    lam = CORRUPTIONS["shot_noise"].values[4]
    x = torch.full((64, 3, 32, 32), level)
    y = corrupt(x, "shot_noise", 5, 0, torch.arange(64))
    counts = y * lam
    assert torch.allclose(counts, counts.round(), atol=1e-4)  # whole photon counts
    assert counts.mean().item() == pytest.approx(level * lam, rel=0.02)
    assert counts.var().item() == pytest.approx(level * lam, rel=0.05)


def test_shot_noise_variance_is_right_just_above_the_exact_range():
    # m = 6.5 is drawn by the Cornish–Fisher quantile; with √m instead of √(m − 1/7) its variance
    # would be about 2% high
    lam = CORRUPTIONS["shot_noise"].values[4]
    x = torch.full((64, 3, 32, 32), 6.5 / lam)
    counts = corrupt(x, "shot_noise", 5, 0, torch.arange(64)) * lam
    assert counts.mean().item() == pytest.approx(6.5, rel=0.005)
    assert counts.var().item() == pytest.approx(6.5, rel=0.012)


def test_small_mean_poisson_inversion_is_exact():
    def quantile(m: float, u: float) -> int:  # float64 reference walk up the CDF
        k, p = 0, math.exp(-m)
        cdf = p
        while cdf < u:
            k += 1
            p *= m / k
            cdf += p
        return k

    g = torch.Generator().manual_seed(0)
    m = torch.rand(3000, generator=g) * 10
    m[:20] = 0  # black pixels: always zero photons
    u = (torch.randint(0, 65536, (3000,), generator=g).float() + 0.5) / 65536
    expected = [quantile(a, b) for a, b in zip(m.tolist(), u.tolist())]
    for inverse in (_poisson_inverse, _poisson_cdf_count):  # the walk, and the whole CDF for few values
        got = inverse(m.clone(), u).tolist()
        wrong = sum(k != e for k, e in zip(got, expected))
        assert wrong <= 3  # float32 sums can differ from float64 right at a CDF step
    assert _poisson_inverse(m[:20].clone(), u[:20]).eq(0).all()


def test_poisson_walk_with_many_values_agrees_with_scipy():
    from scipy import stats

    g = torch.Generator().manual_seed(1)
    m = torch.rand(40000, generator=g) * 10  # enough that thousands are still walking after 8 counts
    u = (torch.randint(0, 2**24, (40000,), generator=g).float() + 0.5) / 2**24
    expected = torch.from_numpy(stats.poisson.ppf(u.double().numpy(), m.double().numpy())).float()
    assert (_poisson_inverse(m.clone(), u) != expected).sum().item() <= 5


def test_impulse_noise_replaces_the_stated_fraction_half_black_half_white():
    grey = torch.full((64, 3, 32, 32), 0.5)
    y = corrupt(grey, "impulse_noise", 5, 0, torch.arange(64))
    amount = CORRUPTIONS["impulse_noise"].values[4]
    assert (y == 0).float().mean().item() == pytest.approx(amount / 2, rel=0.05)
    assert (y == 1).float().mean().item() == pytest.approx(amount / 2, rel=0.05)


def test_contrast_keeps_each_image_mean():
    y = corrupt(RGB32, "contrast", 5, 0, torch.arange(len(RGB32)))
    assert torch.allclose(y.mean((1, 2, 3)), RGB32.mean((1, 2, 3)), atol=1e-5)
    assert y.std() < 0.3 * RGB32.std()


def test_invert_at_full_severity_is_the_negative():
    assert torch.allclose(corrupt(RGB32, "invert", 5, 0, torch.arange(len(RGB32))), 1 - RGB32, atol=1e-6)


def test_brightness_matches_an_hsv_round_trip():
    delta = CORRUPTIONS["brightness"].values[2]
    y = corrupt(RGB32[:2], "brightness", 3, 0, torch.arange(2))
    pixels = RGB32[:2].permute(0, 2, 3, 1).reshape(-1, 3).double()
    expected = []
    for r, g, b in pixels.tolist():
        h, s, v = colorsys.rgb_to_hsv(r, g, b)
        expected.append(colorsys.hsv_to_rgb(h, s, min(v + delta, 1.0)))
    got = y.permute(0, 2, 3, 1).reshape(-1, 3).double()
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-5)
    black = torch.zeros(1, 3, 8, 8)
    assert torch.allclose(corrupt(black, "brightness", 3, 0, torch.arange(1)), torch.full_like(black, delta))


def _pil_jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    out = []
    for image in (x * 255).round().byte().permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer)).astype(np.float32) / 255)
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def test_jpeg_matches_libjpeg_through_pil_and_loses_more_at_lower_quality():
    x = (RGB32 * 255).round() / 255  # 8-bit images, as PIL needs
    errors = {}
    for severity, quality in ((1, 80), (5, 40)):
        y = corrupt(x, "jpeg_compression", severity, 0, torch.arange(len(x)))
        reference = _pil_jpeg(x, quality)
        errors[quality] = (y - x).abs().mean().item()
        assert errors[quality] == pytest.approx((reference - x).abs().mean().item(), rel=0.1)
        assert (y - reference).abs().mean().item() < 3 / 255  # PIL also rounds to 8 bits
    assert 0.002 < errors[80] < errors[40] < 0.1


def test_pixelate_at_32_px_equals_pil_box_then_nearest():
    factor = CORRUPTIONS["pixelate"].values[2]
    y = corrupt(RGB32[:2], "pixelate", 3, 0, torch.arange(2))
    blocks = int(32 * factor)
    for n in range(2):
        for c in range(3):
            plane = Image.fromarray(RGB32[n, c].numpy(), mode="F")
            ref = plane.resize((blocks, blocks), Image.BOX).resize((32, 32), Image.NEAREST)
            assert np.allclose(np.asarray(ref), y[n, c].numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur"])
def test_blur_on_8_px_is_the_32_px_blur_of_the_enlarged_image(name):
    big = F.interpolate(GREY8, scale_factor=4, mode="nearest")
    via_big = F.avg_pool2d(corrupt(big, name, 5, 0, torch.arange(len(big))), 4)
    assert torch.allclose(corrupt(GREY8, name, 5, 0, torch.arange(len(GREY8))), via_big, atol=1e-5)


def test_rotation_by_a_quarter_turn_is_exact():
    rng = Rng(0, "rotate", 1, torch.arange(len(RGB32)))
    turned = CORRUPTIONS["rotate"].fn(RGB32, 90, rng)
    clockwise, anticlockwise = torch.rot90(RGB32, -1, (2, 3)), torch.rot90(RGB32, 1, (2, 3))
    for i in range(len(RGB32)):
        assert min((turned[i] - r[i]).abs().max().item() for r in (clockwise, anticlockwise)) < 1e-5


def test_unknown_names_and_severities_are_refused_plainly():
    x, index = RGB32[:2], torch.arange(2)
    with pytest.raises(ValueError, match="'fogg'.*gaussian_noise.*invert"):
        corrupt(x, "fogg", 1, 0, index)
    for severity in (0, 6, 2.5):
        with pytest.raises(ValueError, match="'fog'.*1 to 5"):
            corrupt(x, "fog", severity, 0, index)
    with pytest.raises(ValueError, match="one dataset row number per image"):
        corrupt(x, "fog", 1, 0, torch.arange(3))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        corrupt(torch.rand(2, 2, 8, 8), "fog", 1, 0, index)


def test_hashes_match_their_reference_definitions():
    def lowbias32(v: int) -> int:
        v ^= v >> 16
        v = (v * 0x7FEB352D) & 0xFFFFFFFF
        v ^= v >> 15
        v = (v * 0x846CA68B) & 0xFFFFFFFF
        return v ^ (v >> 16)

    values = [0, 1, 2**31 - 1, 2**31, 2**32 - 1, 123456789, 0xDEADBEEF]
    assert hash32(np.array(values, dtype=np.uint32)).tolist() == [lowbias32(v) for v in values]
    words = [0, 1, 2**63 - 1, 2**63 + 5, 2**64 - 1]
    assert mix64_array(np.array(words, dtype=np.uint64)).tolist() == [mix64(w) for w in words]


def test_uniform_draws_look_uniform_and_independent():
    u = Rng(7, "fog", 2, torch.arange(256)).uniform(4096)
    assert u.mean().item() == pytest.approx(0.5, abs=0.002)
    assert u.var().item() == pytest.approx(1 / 12, rel=0.01)
    lag = torch.corrcoef(torch.stack((u[:, :-1].reshape(-1), u[:, 1:].reshape(-1))))[0, 1]
    across = torch.corrcoef(torch.stack((u[:-1].reshape(-1), u[1:].reshape(-1))))[0, 1]
    assert abs(lag.item()) < 0.005 and abs(across.item()) < 0.005
    assert math.isclose(Rng(7, "fog", 2, torch.arange(4)).uniform(3)[2, 1].item(), u[2, 1].item())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_results_match_cpu():
    index = torch.arange(len(RGB32))
    for name in NAMES:
        cpu = corrupt(RGB32, name, 3, 0, index)
        gpu = corrupt(RGB32.cuda(), name, 3, 0, index.cuda())
        assert gpu.device.type == "cuda"
        assert (gpu.cpu() - cpu).abs().mean().item() < 1e-3, name


@pytest.mark.parametrize("width", [7, 16, 80])  # the product for short rows, strided passes for long
def test_fancy_upsampling_is_three_quarters_near_one_quarter_far_with_the_edge_repeated(width):
    from engine.conditions._kernels import upsample_triangle

    x = torch.rand(2, 3, 5, width, generator=torch.Generator().manual_seed(width), dtype=torch.float64).float()

    def along(v: torch.Tensor, dim: int) -> torch.Tensor:
        n = v.shape[dim]
        idx = torch.arange(2 * n)
        near, far = idx // 2, (idx // 2 + torch.where(idx % 2 == 0, -1, 1)).clamp(0, n - 1)
        return 0.75 * v.index_select(dim, near) + 0.25 * v.index_select(dim, far)

    assert torch.allclose(upsample_triangle(x), along(along(x, 3), 2), atol=1e-6)

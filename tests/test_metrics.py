"""The scoring conventions of papers: valid-region SSIM, 8-bit outputs, per-image means, the
published Set5 bicubic row. Known answers come from an independent numpy/scipy SSIM (Wang et
al.'s `ssim_index` written out) and from the literature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d
from torchmetrics.functional.image import structural_similarity_index_measure

from conftest import SHARED_DATA
from lowlight.baselines import bicubic, published_bicubic_y
from lowlight.data.io import list_images, read_image
from lowlight.metrics import image_metrics, image_scores, mae, psnr, shave, ssim, to_8bit
from lowlight.metrics.sr import sr_metrics, y_channel

SET5 = SHARED_DATA / "sr" / "Set5"


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s `ssim_index.m` in numpy: 11x11 Gaussian (sigma 1.5), 'valid' filtering,
    K = (0.01, 0.03), data range 1, the mean of the map. One channel (H, W)."""
    x = np.arange(11) - 5.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()

    def filt(img):
        return correlate2d(img, window, mode="valid")

    c1, c2 = 0.01**2, 0.03**2
    mu1, mu2 = filt(a), filt(b)
    s11, s22, s12 = filt(a * a) - mu1**2, filt(b * b) - mu2**2, filt(a * b) - mu1 * mu2
    num = (2 * mu1 * mu2 + c1) * (2 * s12 + c2)
    return float(np.mean(num / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))))


def _t(a: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) numpy -> (1, C, H, W) float64 tensor."""
    a = a[..., None] if a.ndim == 2 else a
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].double()


def _textured(rng, h, w):
    """A smooth image with edges (SSIM's windows see structure, not only noise)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.5 + 0.3 * np.sin(9 * xx + 4 * yy) * np.cos(6 * yy)
    return np.clip(base + 0.05 * rng.standard_normal((h, w)), 0, 1)


# ---------------------------------------------------------------- SSIM


def test_ssim_is_the_valid_region_form_on_synthetic_images():
    rng = np.random.default_rng(0)
    a = _textured(rng, 40, 52)
    b = a.copy()
    b[:6, :] = 1 - b[:6, :]  # a damaged top band: padding and no padding disagree most here
    b[10:30, 20:40] += 0.1 * rng.standard_normal((20, 20))
    ours = ssim(_t(a), _t(b)).item()
    assert ours == pytest.approx(reference_ssim(a, b), abs=1e-6)
    padded = structural_similarity_index_measure(_t(a), _t(b), data_range=1.0).item()
    assert abs(padded - ours) > 1e-3, "torchmetrics' padded default must differ here"


def test_ssim_is_torchmetrics_full_map_cropped_to_the_valid_region():
    rng = np.random.default_rng(2)
    a = torch.from_numpy(rng.random((2, 3, 30, 41)))
    b = (a + 0.2 * torch.from_numpy(rng.random((2, 3, 30, 41)))).clamp(0, 1)
    _, full = structural_similarity_index_measure(
        a, b, data_range=1.0, reduction="none", return_full_image=True
    )
    torch.testing.assert_close(ssim(a, b), full[..., 5:-5, 5:-5].mean(dim=(1, 2, 3)))


def test_ssim_of_colour_images_is_the_mean_over_channels():
    rng = np.random.default_rng(1)
    a = np.stack([_textured(rng, 32, 32) for _ in range(3)], axis=-1)
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1)
    expected = np.mean([reference_ssim(a[..., c], b[..., c]) for c in range(3)])
    assert ssim(_t(a), _t(b)).item() == pytest.approx(expected, abs=1e-6)


def test_ssim_of_an_image_too_small_for_its_window_is_a_clear_error():
    x = torch.rand(1, 3, 10, 40)
    with pytest.raises(ValueError, match="larger than 10x10.*got 40x10"):
        ssim(x, x)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["baby", "bird", "butterfly", "head", "woman"])
def test_ssim_matches_the_independent_implementation_on_set5(name):
    hr = read_image(SET5 / "HR" / f"{name}.png")
    lr = read_image(SET5 / "LR_x4" / f"{name}.png")
    hr = hr[: lr.shape[0] * 4, : lr.shape[1] * 4]
    sr = to_8bit(bicubic(_t(lr)[0], 4)[None])
    sr_y, hr_y = y_channel(sr)[0, 0].numpy(), y_channel(_t(hr))[0, 0].numpy()
    assert ssim(_t(sr_y), _t(hr_y)).item() == pytest.approx(reference_ssim(sr_y, hr_y), abs=1e-4)
    sr_rgb = sr[0].permute(1, 2, 0).numpy()
    expected = np.mean([reference_ssim(sr_rgb[..., c], hr[..., c]) for c in range(3)])
    assert ssim(sr, _t(hr)).item() == pytest.approx(expected, abs=1e-4)


# ---------------------------------------------------------------- 8 bits, per-image means


@pytest.mark.realdata
def test_float32_scores_equal_float64_ones_on_real_photos():
    """evaluate scores in float32 (NHWC convolutions on a CPU): on 8-bit Set5 and LIME
    images with outputs from nearly right to far off, within 1e-5 of float64."""
    paths = list_images(SHARED_DATA / "sr" / "Set5" / "HR")
    paths += list_images(SHARED_DATA / "lowlight" / "LIME")[:1]
    g = torch.Generator().manual_seed(0)
    worst = {}
    for path in paths:
        ref = to_8bit(torch.from_numpy(read_image(path)).permute(2, 0, 1)[None])
        for noise in (0.01, 0.05, 0.2):
            out = to_8bit(ref * 0.8 + noise * torch.randn(ref.shape, generator=g))
            exact = image_scores(out, ref)
            fast = image_scores(out, ref, dtype=torch.float32)
            for k in exact:
                worst[k] = max(worst.get(k, 0.0), abs(float(exact[k]) - float(fast[k])))
    assert set(worst) == {"psnr", "ssim", "mae"}
    assert max(worst.values()) < 1e-5, worst


def test_outputs_are_scored_as_saved_8_bit_images():
    gt = torch.full((1, 3, 16, 16), 128 / 255, dtype=torch.float64)
    out = gt + 0.4 / 255  # saved as 128: the same file as the reference
    assert torch.equal(to_8bit(out), gt)
    assert math.isinf(psnr(to_8bit(out), gt).item())
    assert psnr(out, gt).item() == pytest.approx(20 * math.log10(255 / 0.4))
    # halves go up, as MATLAB's uint8 conversion rounds them
    assert to_8bit(torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255])).mul(255).tolist() == [1, 2, 3]


def test_mae_is_the_mean_of_per_image_values_not_pixel_weighted():
    small_gt, big_gt = torch.zeros(1, 3, 12, 12), torch.zeros(1, 3, 48, 48)
    metrics = image_metrics("val/")
    metrics.update(small_gt + 0.1, small_gt)  # one small image, error 0.1
    metrics.update(big_gt + 0.3, big_gt)  # one large image, error 0.3
    result = metrics.compute()
    assert result["val/mae"].item() == pytest.approx(0.2)  # pixel-weighted would be 0.288
    assert result["val/psnr"].item() == pytest.approx((20 + -20 * math.log10(0.3)) / 2)
    assert mae(torch.full((2, 1, 4, 4), 0.5), torch.zeros(2, 1, 4, 4)).tolist() == [0.5, 0.5]


@pytest.mark.realdata
def test_mae_over_set5_images_of_different_sizes_is_the_mean_of_per_image_values():
    metrics = image_metrics(names=("mae",))
    per_image, pixels = [], []
    for lr, hr in _set5(4):
        out = to_8bit(bicubic(lr, 4))
        metrics.update(out[None], hr[None])
        per_image.append(np.abs(out.numpy() - hr.numpy()).mean())
        pixels.append(hr[0].numel())
    assert len(set(pixels)) > 1, "Set5's images differ in size"
    assert metrics.compute()["mae"].item() == pytest.approx(np.mean(per_image), rel=1e-6)
    weighted = np.average(per_image, weights=pixels)
    assert abs(np.mean(per_image) - weighted) > 1e-4, "pixel weighting would differ here"


def test_a_nan_score_shows_as_nan_instead_of_being_dropped():
    metrics = image_metrics(names=("mae",))
    metrics.update(torch.zeros(1, 3, 12, 12), torch.zeros(1, 3, 12, 12))
    metrics.update(torch.full((1, 3, 12, 12), float("nan")), torch.zeros(1, 3, 12, 12))
    assert math.isnan(metrics.compute()["mae"].item())


def test_the_system_scores_8_bit_outputs_unless_told_otherwise():
    from lowlight.systems.base import EnhancementSystem

    out = torch.full((1, 3, 16, 16), 100.3 / 255)
    levels = EnhancementSystem(torch.nn.Identity()).scored(out) * 255
    assert torch.allclose(levels, torch.full_like(out, 100.0))
    floats = EnhancementSystem(torch.nn.Identity(), score_8bit=False)
    assert torch.equal(floats.scored(out), out)


# ---------------------------------------------------------------- the published Set5 rows

PUBLISHED_BICUBIC = [(2, 33.66, 0.9299), (3, 30.39, 0.8682), (4, 28.42, 0.8104)]


def _set5(scale):
    for hr_path in list_images(SET5 / "HR"):
        lr = read_image(SET5 / f"LR_x{scale}" / hr_path.name)
        hr = read_image(hr_path)[: lr.shape[0] * scale, : lr.shape[1] * scale]
        yield _t(lr)[0], _t(hr)[0]


@pytest.mark.realdata
@pytest.mark.parametrize(("scale", "psnr_y", "ssim_y"), PUBLISHED_BICUBIC)
def test_the_published_bicubic_row_is_reproduced_to_its_printed_digits(scale, psnr_y, ssim_y):
    scores = []
    for _, hr in _set5(scale):
        out, ref = published_bicubic_y(hr, scale), y_channel(hr[None])[0]
        s = image_scores(shave(out, scale)[None], shave(ref, scale)[None], ("psnr", "ssim"))
        scores.append((s["psnr"].item(), s["ssim"].item()))
    got_psnr, got_ssim = np.mean(scores, axis=0)
    assert got_psnr == pytest.approx(psnr_y, abs=0.01)
    assert got_ssim == pytest.approx(ssim_y, abs=0.0005)


@pytest.mark.realdata
@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_of_the_lr_files_matches_an_independent_computation(scale):
    """What a model is compared with: MATLAB bicubic of the 8-bit LR files, 8-bit output,
    rounded Y, valid-region SSIM, `scale` pixels shaved; numpy/scipy on the other side."""
    ours, theirs = [], []
    for lr, hr in _set5(scale):
        ours.append(sr_metrics(bicubic(lr, scale), hr, scale))
        sr = np.floor(bicubic(lr, scale).clamp(0, 1).numpy() * 255 + 0.5)  # saved as 8 bits
        h = hr.numpy() * 255

        def y(rgb):
            return np.floor(16 + (65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]) / 255 + 0.5)

        a, b = (y(sr) / 255)[scale:-scale, scale:-scale], (y(h) / 255)[scale:-scale, scale:-scale]
        theirs.append((10 * np.log10(1 / np.mean((a - b) ** 2)), reference_ssim(a, b)))
    # 1e-4 dB: a Y exactly halfway between two levels rounds by floating-point luck
    assert np.mean([s["psnr_y"] for s in ours]) == pytest.approx(np.mean(theirs, 0)[0], abs=1e-4)
    assert np.mean([s["ssim_y"] for s in ours]) == pytest.approx(np.mean(theirs, 0)[1], abs=1e-4)
    if scale == 4:  # within the printed digits at x4; at x2 the 8-bit RGB LR costs 0.015 dB
        assert np.mean([s["psnr_y"] for s in ours]) == pytest.approx(28.42, abs=0.01)
        assert np.mean([s["ssim_y"] for s in ours]) == pytest.approx(0.8104, abs=0.0005)

"""lowlight.ops.detail: the noise estimate and the detail put back above the noise."""

from __future__ import annotations

import numpy as np
import torch

from lowlight.ops.detail import DETAIL_CAP, box_mean, noise_std, restore_detail, smoothed_gain


def test_immerkaer_recovers_the_std_of_gaussian_noise_on_a_flat_image():
    torch.manual_seed(0)
    sigma = torch.tensor([0.01, 0.05])
    x = 0.4 + sigma[:, None, None, None] * torch.randn(2, 3, 128, 128)  # one std per image
    assert torch.allclose(noise_std(x), sigma, rtol=0.05)


def test_a_smooth_ramp_has_no_noise():
    ramp = torch.linspace(0, 1, 64)[None, :].expand(64, 64)
    assert float(noise_std(ramp.expand(1, 3, 64, 64))[0]) < 1e-6


def _stripes(levels, size: int = 30) -> torch.Tensor:
    """A clean, textured photo: vertical stripes cycling through `levels` (3 columns)."""
    return torch.tensor(levels).repeat(size // 3)[None, None, None, :].expand(1, 3, size, size)


INNER = (..., slice(2, -2), slice(2, -2))  # away from the reflected edges


def test_detail_comes_back_on_a_clean_photo_and_the_gain_is_kept():
    x = _stripes([0.3, 0.4, 0.5])
    y = torch.full_like(x, 0.6)  # the model lifted the level 1.5x and smoothed the stripes
    assert float(noise_std(x)[0]) < 1e-6  # texture, not noise
    gained = x * smoothed_gain(x, y, radius=1)
    restored = restore_detail(x, y, noise_std(x), radius=1, strength=4.0)
    assert torch.allclose(gained[INNER], 1.5 * x[INNER], atol=1e-5)
    assert torch.allclose(restored[INNER], gained[INNER], atol=1e-5)


def test_detail_does_not_drive_a_pixel_to_white_that_neither_image_has_there():
    x = _stripes([0.5, 0.6, 0.7])
    y = torch.full_like(x, 0.9)  # 1.5x again: the brightest stripe would reach 1.05
    restored = restore_detail(x, y, noise_std(x), radius=1, strength=4.0)
    expected = torch.tensor([0.75, 0.9, DETAIL_CAP]).repeat(10)[2:-2]
    assert torch.allclose(restored[INNER][0, 0, 0], expected, atol=1e-5)


def test_noise_is_not_put_back_on_a_noisy_photo():
    torch.manual_seed(0)
    x = (0.05 + 0.01 * torch.randn(1, 3, 64, 64)).clamp(0, 1)  # dark, flat and noisy
    y = torch.full_like(x, 0.5)  # the model's clean, lifted answer
    gained = x * smoothed_gain(x, y, radius=3)
    restored = restore_detail(x, y, noise_std(x), radius=3, strength=4.0)
    assert gained.std() > 0.05  # the gain alone amplifies the noise ten times
    assert (restored - y).abs().mean() < 0.1 * (gained - y).abs().mean()


def test_box_mean_is_the_mean_over_the_reflected_window():
    """The separable box mean against numpy's mean over each (2r + 1)^2 window of the
    reflect-padded image (numpy's 'reflect' is torch's: the edge pixel is not repeated)."""
    r = 2
    x = torch.rand(1, 2, 7, 9, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (r, r), (r, r)), mode="reflect")
    want = np.empty_like(x.numpy())
    for i in range(7):
        for j in range(9):
            want[..., i, j] = padded[..., i : i + 2 * r + 1, j : j + 2 * r + 1].mean(axis=(-2, -1))
    np.testing.assert_allclose(box_mean(x, r).numpy(), want, rtol=1e-12)

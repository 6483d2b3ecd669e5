"""Putting an input's fine detail back into an enhanced image where it rises above the
input's noise (experiments/shipped/README.md: the smoothing that NIQE marks down).

Written here: no library offers this blend. Immerkaer's noise estimate is written out
because skimage's estimator (`estimate_sigma`) needs PyWavelets, which the suite does not
depend on, and because it has to run inside exported graphs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

DETAIL_CAP = 0.95  # below 8-bit 250, the threshold of a pixel "driven to white"


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2 radius + 1) px square around each pixel, edges reflected: the same
    size as `x` (H and W must exceed `radius`). Separable, a row mean then a column mean:
    the same mean in 2 (2 radius + 1) additions per pixel instead of (2 radius + 1)^2
    (4x faster at radius 8 on the CPU)."""
    padded = F.pad(x, (radius,) * 4, mode="reflect")
    side = 2 * radius + 1
    return F.avg_pool2d(F.avg_pool2d(padded, (1, side), stride=1), (side, 1), stride=1)


def noise_std(x: torch.Tensor) -> torch.Tensor:
    """(N,) Gaussian noise std of each (C, H, W) image of `x`, pooled over its channels
    (Immerkaer, "Fast noise variance estimation", CVIU 1996): a 3x3 mask that cancels
    smooth content, whose mean absolute response is 6 sqrt(2 / pi) times the std."""
    mask = x.new_tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
    response = F.conv2d(x.flatten(0, 1)[:, None], mask[None, None])
    return response.abs().reshape(x.shape[0], -1).mean(dim=1) * (math.sqrt(math.pi / 2) / 6)


def smoothed_gain(x: torch.Tensor, y: torch.Tensor, radius: int) -> torch.Tensor:
    """`y`'s brightness over `x`'s, each a box mean over (2 radius + 1) px."""
    return box_mean(y, radius) / box_mean(x, radius).clamp_min(1 / 255)


def restore_detail(
    x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor, radius: int, strength: float
) -> torch.Tensor:
    """`y` (the enhanced `x`) with `x`'s detail put back where it rises above the noise:
    `y + w (x G - y)`, with G the smoothed gain (`smoothed_gain`) and per pixel
    `w = max(0, 1 - k (G s)^2 / local mean of (x G - y)^2)`, k the `strength` and s the
    (N,) `noise` std of `x` (`noise_std`). On a noisy input the difference is mostly the
    noise times the gain, and w stays near 0; on a clean photo it is texture, and w near 1.
    Above DETAIL_CAP the result is capped at the brighter of `x` and `y`, so the detail put
    back drives no pixel to white that neither of them has there."""
    gain = smoothed_gain(x, y, radius)
    diff = x * gain - y
    scaled_noise = noise[:, None, None, None] * gain.mean(dim=1, keepdim=True)
    energy = box_mean(diff.pow(2).mean(dim=1, keepdim=True), radius).clamp_min(1e-12)
    weight = (1 - strength * scaled_noise.pow(2) / energy).clamp(0, 1)
    cap = torch.maximum(x, y).clamp_min(DETAIL_CAP)
    return torch.minimum(y + weight * diff, cap)

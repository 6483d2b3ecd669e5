"""Colour conversions on NCHW tensors and numpy arrays.

Written here rather than imported: they are a 3x3 matrix each, and the libraries that have
them (kornia, OpenCV) either add a dependency or work on one image at a time in numpy.
"""

from __future__ import annotations

import numpy as np
import torch

COLOR_SPACES = ("rgb", "ycrcb")

# Full-range BT.601 (JPEG / OpenCV COLOR_RGB2YCrCb): Y in [0, 1], Cr and Cb centred at 0.5.
_KR, _KG, _KB = 0.299, 0.587, 0.114
_CR_SCALE = 0.5 / (1.0 - _KR)  # 0.713
_CB_SCALE = 0.5 / (1.0 - _KB)  # 0.564


def check_color_space(name: str, key: str = "color_space") -> str:
    if name not in COLOR_SPACES:
        raise ValueError(f"{key} must be one of {COLOR_SPACES}, got {name!r}")
    return name


def rgb_to_ycrcb(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> YCrCb in [0, 1] (full-range BT.601; order Y, Cr, Cb)."""
    r, g, b = x.unbind(dim=-3)
    y = _KR * r + _KG * g + _KB * b
    cr = (r - y) * _CR_SCALE + 0.5
    cb = (b - y) * _CB_SCALE + 0.5
    return torch.stack((y, cr, cb), dim=-3)


def ycrcb_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_ycrcb`."""
    y, cr, cb = x.unbind(dim=-3)
    r = y + (cr - 0.5) / _CR_SCALE
    b = y + (cb - 0.5) / _CB_SCALE
    g = (y - _KR * r - _KB * b) / _KG
    return torch.stack((r, g, b), dim=-3)


def to_color_space(rgb: torch.Tensor, color_space: str) -> torch.Tensor:
    """RGB -> the space a network works in (`rgb` or `ycrcb`)."""
    return rgb_to_ycrcb(rgb) if color_space == "ycrcb" else rgb


def from_color_space(x: torch.Tensor, color_space: str) -> torch.Tensor:
    """The network's space (`rgb` or `ycrcb`) -> RGB."""
    return ycrcb_to_rgb(x) if color_space == "ycrcb" else x


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 1, H, W) luma as MATLAB's `rgb2ycbcr` gives it:
    ITU-R BT.601 studio range, Y in [16/255, 235/255]. The Y channel SR papers score."""
    r, g, b = x.unbind(dim=-3)
    return ((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0).unsqueeze(-3)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (IEC 61966-2-1)."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> sRGB encoding (IEC 61966-2-1)."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)

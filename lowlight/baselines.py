"""Classical baselines that a learned method must beat, as functions on (3, H, W) RGB
tensors in [0, 1]. Low-light: identity, gamma, histogram equalization and CLAHE on the HSV
V channel (scikit-image), PIL autocontrast. Super-resolution (LR -> `scale` x larger):
nearest, bilinear, MATLAB-compatible bicubic; and the published bicubic row's own protocol,
which starts from the HR image (`published_bicubic_y`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from skimage import color, exposure

from lowlight.metrics.image import to_8bit
from lowlight.metrics.noref import autocontrast
from lowlight.metrics.sr import y_channel
from lowlight.ops.imresize import imresize

GAMMA = 2.2
CLAHE_CLIP = 0.01  # scikit-image's default clip limit


def _on_value_channel(img: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """Apply `fn` to the HSV V channel only, keeping hue and saturation (no colour shift)."""
    hsv = color.rgb2hsv(img.permute(1, 2, 0).cpu().numpy().astype(np.float64))
    hsv[..., 2] = fn(hsv[..., 2])
    rgb = color.hsv2rgb(hsv).astype(np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1)


def identity(img: torch.Tensor) -> torch.Tensor:
    return img


def gamma(img: torch.Tensor, value: float = GAMMA) -> torch.Tensor:
    """x ** (1 / gamma): brightens shadows most."""
    return img.clamp(0.0, 1.0) ** (1.0 / value)


def hist_eq(img: torch.Tensor) -> torch.Tensor:
    """Global histogram equalization of V (scikit-image `equalize_hist`)."""
    return _on_value_channel(img, exposure.equalize_hist)


def clahe(img: torch.Tensor) -> torch.Tensor:
    """Contrast-limited adaptive histogram equalization of V (`equalize_adapthist`)."""
    return _on_value_channel(img, lambda v: exposure.equalize_adapthist(v, clip_limit=CLAHE_CLIP))


def pil_autocontrast(img: torch.Tensor) -> torch.Tensor:
    """PIL `ImageOps.autocontrast` (cutoff 0) on the 8-bit image."""
    return autocontrast(img[None])[0]


def _interpolate(mode: str) -> Callable[[torch.Tensor, int], torch.Tensor]:
    def upscale(img: torch.Tensor, scale: int) -> torch.Tensor:
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        return F.interpolate(img[None], scale_factor=scale, mode=mode, **kwargs)[0].clamp(0, 1)

    upscale.__doc__ = f"torch `{mode}` upscaling"
    return upscale


def bicubic(img: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB `imresize(..., 'bicubic')` upscaling (`lowlight.ops.imresize`)."""
    return imresize(img, scale).clamp(0.0, 1.0)


def published_bicubic_y(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic row of SR papers (Set5 x2 33.66 dB / 0.9299, x4 28.42 / 0.8104), computed
    the way it was: SRCNN's `Demo_SR.m` takes the HR image's 8-bit Y channel (`rgb2ycbcr`),
    shrinks and enlarges it with MATLAB bicubic in floating point, and saves the result as 8
    bits. Input (3, H, W) RGB HR (cropped to a multiple of `scale`), output (1, H, W) Y.

    Papers copy this row from table to table; a model is fed 8-bit RGB LR files instead,
    whose own bicubic upscale (`bicubic`) is the fair baseline and scores a little lower.
    """
    y = y_channel(hr[None].to(torch.float64))[0]
    return to_8bit(imresize(imresize(y, 1 / scale), scale))


LLE_BASELINES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": identity,
    "gamma": gamma,
    "hist_eq": hist_eq,
    "clahe": clahe,
    "autocontrast": pil_autocontrast,
}
SR_BASELINES: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "nearest": _interpolate("nearest"),
    "bilinear": _interpolate("bilinear"),
    "bicubic": bicubic,
}

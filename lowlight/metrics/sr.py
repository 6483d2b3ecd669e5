"""SR metrics the way SR papers report them: Y channel (BT.601), `scale` pixels shaved."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import MetricCollection

from lowlight.metrics.image import image_metrics, image_scores, to_8bit
from lowlight.ops.color import rgb_to_y


def shave(x: torch.Tensor, border: int) -> torch.Tensor:
    """Drop `border` pixels from each side of (..., H, W)."""
    return x[..., border:-border, border:-border] if border > 0 else x


def y_channel(rgb: torch.Tensor, eight_bit: bool = True) -> torch.Tensor:
    """MATLAB `rgb2ycbcr` luma of (N, 3, H, W) RGB in [0, 1]: rounded to 8 bits when scoring
    8-bit images, as `rgb2ycbcr` returns for uint8 input (the protocol of the published
    bicubic rows: Set5 x4 28.42 dB / 0.8104 needs the rounding; BasicSR's unrounded Y scores
    about 0.01 dB higher)."""
    y = rgb_to_y(rgb)
    return to_8bit(y) if eight_bit else y


def sr_views(
    sr: torch.Tensor, hr: torch.Tensor, border: int, eight_bit: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sr, hr, sr_y, hr_y), each border-shaved; RGB clipped to [0, 1] first."""
    if sr.shape != hr.shape:
        raise ValueError(f"SR output {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    sr, hr = sr.clamp(0.0, 1.0), hr.clamp(0.0, 1.0)
    views = (sr, hr, y_channel(sr, eight_bit), y_channel(hr, eight_bit))
    return tuple(shave(v, border).contiguous() for v in views)  # type: ignore[return-value]


def _batch(img: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 array, got shape {img.shape}")
        img = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
    if img.dim() == 3:
        img = img.unsqueeze(0)
    if img.dim() != 4 or img.shape[1] != 3:
        raise ValueError(f"expected a 3xHxW (or Nx3xHxW) tensor, got shape {tuple(img.shape)}")
    return img.to(torch.float64)


def sr_metrics(
    sr: np.ndarray | torch.Tensor,
    hr: np.ndarray | torch.Tensor,
    scale: int,
    eight_bit: bool = True,
    dtype: torch.dtype = torch.float64,
) -> dict[str, float]:
    """PSNR/SSIM on the Y channel and in RGB, plus MAE, with `scale` pixels shaved per side.

    Inputs: HxWx3 float arrays or 3xHxW tensors in [0, 1] (an Nx3xHxW batch gives the mean
    of per-image values). The output is rounded to 8 bits first unless `eight_bit=False`.
    Y is MATLAB's `rgb2ycbcr` luma (see `y_channel`); SSIM is the valid-region Gaussian
    form (`lowlight.metrics.image`), computed in `dtype` (see `image_scores`).
    """
    sr, hr = _batch(sr), _batch(hr)
    if eight_bit:
        sr = to_8bit(sr)
    sr_rgb, hr_rgb, sr_y, hr_y = sr_views(sr, hr, int(scale), eight_bit)
    y = image_scores(sr_y, hr_y, ("psnr", "ssim"), dtype)
    rgb = image_scores(sr_rgb, hr_rgb, dtype=dtype)
    scores = {"psnr_y": y["psnr"], "ssim_y": y["ssim"], **rgb}
    return {k: v.mean().item() for k, v in scores.items()}


def y_metrics(prefix: str = "") -> MetricCollection:
    """PSNR and SSIM for Y-channel images, logged as `<prefix>psnr_y`, `<prefix>ssim_y`."""
    return image_metrics(prefix, "_y", ("psnr", "ssim"))

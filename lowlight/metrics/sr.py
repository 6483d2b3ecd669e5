"""SR metrics the way SR papers report them: Y channel (BT.601), `scale` pixels shaved."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import MetricCollection
from torchmetrics.functional import mean_absolute_error
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from lowlight.metrics.image import psnr_ssim
from lowlight.ops.color import rgb_to_y


def shave(x: torch.Tensor, border: int) -> torch.Tensor:
    """Drop `border` pixels from each side of (..., H, W)."""
    return x[..., border:-border, border:-border] if border > 0 else x


def sr_views(
    sr: torch.Tensor, hr: torch.Tensor, border: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sr, hr, sr_y, hr_y), each border-shaved; RGB clipped to [0, 1] first."""
    if sr.shape != hr.shape:
        raise ValueError(f"SR output {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    sr, hr = sr.clamp(0.0, 1.0), hr.clamp(0.0, 1.0)
    views = (sr, hr, rgb_to_y(sr), rgb_to_y(hr))
    # contiguous: torchmetrics' MAE reshapes with .view()
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


def image_scores(out: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    """PSNR, SSIM and MAE of one (N, C, H, W) batch against `ref`, data range 1, in float64
    (PSNR and SSIM are means of per-image values)."""
    out, ref = out.to(torch.float64).contiguous(), ref.to(torch.float64).contiguous()
    return {
        "psnr": peak_signal_noise_ratio(out, ref, data_range=1.0, dim=(1, 2, 3)).item(),
        "ssim": structural_similarity_index_measure(out, ref, data_range=1.0).item(),
        "mae": mean_absolute_error(out, ref).item(),
    }


def sr_metrics(sr: np.ndarray | torch.Tensor, hr: np.ndarray | torch.Tensor, scale: int) -> dict:
    """PSNR/SSIM on the Y channel and in RGB, plus MAE, with `scale` pixels shaved per side.

    Inputs: HxWx3 float arrays or 3xHxW tensors in [0, 1] (an Nx3xHxW batch gives the mean
    of per-image values). Y is MATLAB's `rgb2ycbcr` luma, unrounded; SSIM is the Gaussian
    11x11, sigma 1.5 form of Wang et al. (2004), as in the SR literature.
    """
    sr_rgb, hr_rgb, sr_y, hr_y = sr_views(_batch(sr), _batch(hr), int(scale))
    y = image_scores(sr_y, hr_y)
    return {"psnr_y": y["psnr"], "ssim_y": y["ssim"], **image_scores(sr_rgb, hr_rgb)}


def y_metrics(prefix: str = "") -> MetricCollection:
    """PSNR and SSIM for Y-channel images, logged as `<prefix>psnr_y`, `<prefix>ssim_y`."""
    return MetricCollection(psnr_ssim(), prefix=prefix, postfix="_y")

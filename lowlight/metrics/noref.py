"""Zero-reference evaluation for images without ground truth. These are PROXIES, not
fidelity metrics: the "reference" is PIL's autocontrast of the input (the brief's
convention), and the statistics only say how bright, how grey-balanced and how close to a
target exposure the output is."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torchmetrics import MetricCollection

from lowlight.metrics.image import image_metrics


def autocontrast(images: torch.Tensor) -> torch.Tensor:
    """PIL `ImageOps.autocontrast` of each (3, H, W) image in [0, 1]: the pseudo-reference."""
    refs = []
    for img in images.detach().clamp(0, 1).cpu():
        arr = (img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        ref = np.asarray(ImageOps.autocontrast(Image.fromarray(arr)), dtype=np.float32) / 255.0
        refs.append(torch.from_numpy(ref).permute(2, 0, 1))
    return torch.stack(refs).to(images.device, images.dtype)


def no_reference_stats(images: torch.Tensor, patch: int = 16, level: float = 0.6) -> dict:
    """Per-image statistics of (N, 3, H, W) images in [0, 1]:

    - `brightness`: mean intensity;
    - `color_balance`: spread (std) of the three channel means, 0 for a grey-world image;
    - `exposure_error`: mean |mean of each `patch`-square region - `level`| (Zero-DCE's
      well-exposedness level E = 0.6).
    """
    gray = images.mean(dim=1, keepdim=True)
    size = min(patch, *images.shape[-2:])
    regions = F.avg_pool2d(gray, size)
    return {
        "brightness": images.mean(dim=(1, 2, 3)),
        "color_balance": images.mean(dim=(2, 3)).std(dim=1, unbiased=False),
        "exposure_error": (regions - level).abs().mean(dim=(1, 2, 3)),
    }


WHITE_LEVEL = 250 / 255  # a pixel "driven to white": every channel at 250 of 255 or more


def white_share(images: torch.Tensor, level: float = WHITE_LEVEL) -> torch.Tensor:
    """Per image of (N, 3, H, W) in [0, 1]: the share of pixels whose three channels are all
    >= `level` (blown to white: clipped skies, lamps blown into disks). Compare an output's
    share with its input's: what the enhancement clipped, not what the camera did."""
    return (images.amin(dim=1) >= level - 1e-6).double().mean(dim=(1, 2))


def autocontrast_metrics(prefix: str = "") -> MetricCollection:
    """PSNR and SSIM against the autocontrast pseudo-reference: `<prefix>psnr_autocontrast`."""
    return image_metrics(prefix, "_autocontrast", ("psnr", "ssim"))

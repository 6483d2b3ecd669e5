"""L1 plus an SSIM term: a pixel loss that also rewards local structure."""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure


class L1SSIMLoss(nn.Module):
    """`L1(out, ref) + ssim_weight * (1 - SSIM(out, ref))` (Zhao et al., "Loss Functions for
    Image Restoration with Neural Networks", IEEE TCI 2017, mix L1 with (MS-)SSIM).

    SSIM is torchmetrics' (Gaussian 11x11, sigma 1.5, data range 1, differentiable), on the
    batch as it comes; L1 alone cannot tell noise left in a flat wall from a brightness
    offset of the same size, SSIM's variance and covariance terms can.
    """

    def __init__(self, ssim_weight: float = 0.5) -> None:
        super().__init__()
        if not ssim_weight >= 0:
            raise ValueError(f"system.pixel_loss.ssim_weight must be >= 0, got {ssim_weight}")
        self.ssim_weight = float(ssim_weight)

    def extra_repr(self) -> str:
        return f"ssim_weight={self.ssim_weight}"

    def forward(self, out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        l1 = (out - ref).abs().mean()
        if self.ssim_weight == 0:
            return l1
        ssim = structural_similarity_index_measure(out, ref, data_range=1.0)
        return l1 + self.ssim_weight * (1.0 - ssim)

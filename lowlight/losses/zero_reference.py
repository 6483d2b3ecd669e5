"""Zero-DCE's four zero-reference losses (Guo et al., CVPR 2020), as the authors compute them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpatialConsistencyLoss(nn.Module):
    """Keeps neighbouring regions' contrast: channel means are 4x4 average pooled, and each
    region's differences to its 4 neighbours (zero beyond the border, as the authors'
    3x3 convolutions with padding 1) must match between input and enhanced image."""

    def __init__(self, pool: int = 4) -> None:
        super().__init__()
        if pool < 1:
            raise ValueError(f"spatial.pool must be >= 1, got {pool}")
        self.pool = pool
        # 3x3 kernels: centre minus left / right / up / down neighbour
        kernels = torch.zeros(4, 1, 3, 3)
        for k, (r, c) in enumerate(((1, 0), (1, 2), (0, 1), (2, 1))):
            kernels[k, 0, 1, 1] = 1.0
            kernels[k, 0, r, c] = -1.0
        self.register_buffer("kernels", kernels, persistent=False)

    def _differences(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x.mean(dim=1, keepdim=True), self.pool)
        return F.conv2d(x, self.kernels, padding=1)

    def forward(self, enhanced: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        d = self._differences(original) - self._differences(enhanced)
        return (d * d).sum(dim=1).mean()


class ExposureControlLoss(nn.Module):
    """Pulls the mean intensity of each `patch` x `patch` region towards `level` (E).

    Two options, not in Zero-DCE, for an enhancer trained with references beside this term:
    `lift_only` counts only the regions whose output is darker than the level; a region
    already brighter (a white wall, a sunset sky) is left to the other terms instead of
    being pulled down to grey. `dark_input_only` counts only the regions whose *input* is
    darker than the level (the input is then a second argument), from both sides: dark
    parts are brought to the level and not past it, parts that were bright in the photo are
    left alone. Uncounted regions add 0 to the mean over all regions."""

    def __init__(
        self,
        patch: int = 16,
        level: float = 0.6,
        lift_only: bool = False,
        dark_input_only: bool = False,
    ) -> None:
        super().__init__()
        if patch < 1 or not 0.0 < level < 1.0:
            raise ValueError(
                f"exposure.patch must be >= 1 and exposure.level in (0, 1), got {patch}, {level}"
            )
        self.patch = patch
        self.level = level
        self.lift_only = lift_only
        self.dark_input_only = dark_input_only

    def _region_means(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.mean(dim=1, keepdim=True), self.patch)

    def forward(self, enhanced: torch.Tensor, original: torch.Tensor | None = None) -> torch.Tensor:
        gap = self._region_means(enhanced) - self.level
        if self.lift_only:
            gap = gap.clamp(max=0)
        if self.dark_input_only:
            if original is None or original.shape != enhanced.shape:
                raise ValueError(
                    "exposure_loss.dark_input_only needs the input beside the output, of the "
                    f"same shape; got {None if original is None else tuple(original.shape)} "
                    f"for an output of {tuple(enhanced.shape)}"
                )
            gap = gap * (self._region_means(original) < self.level)
        return gap.pow(2).mean()


class ColorConstancyLoss(nn.Module):
    """Gray-world colour constancy: the channel means should agree. Per image
    sqrt(D_rg^2 + D_rb^2 + D_gb^2) with D_pq = (mean_p - mean_q)^2, averaged."""

    def forward(self, enhanced: torch.Tensor) -> torch.Tensor:
        r, g, b = enhanced.mean(dim=(2, 3)).unbind(dim=1)
        d_rg, d_rb, d_gb = (r - g) ** 2, (r - b) ** 2, (g - b) ** 2
        # the tiny epsilon keeps the gradient finite for a perfectly grey image (sqrt at 0)
        return torch.sqrt(d_rg**2 + d_rb**2 + d_gb**2 + 1e-16).mean()


class IlluminationSmoothnessLoss(nn.Module):
    """Total variation of the curve maps A: squared vertical and horizontal differences,
    each normalized by its count, times 2, per batch item (the authors' L_TV)."""

    def forward(self, curves: torch.Tensor) -> torch.Tensor:
        n, _, h, w = curves.shape
        dh = (curves[:, :, 1:, :] - curves[:, :, :-1, :]).pow(2).sum()
        dw = (curves[:, :, :, 1:] - curves[:, :, :, :-1]).pow(2).sum()
        return 2.0 * (dh / max((h - 1) * w, 1) + dw / max(h * (w - 1), 1)) / n

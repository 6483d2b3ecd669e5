"""Three-convolution SR generator on a same-size (already upsampled) input."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SRCNN(nn.Module):
    """SRCNN (Dong et al., ECCV 2014): patch extraction, non-linear mapping and
    reconstruction as three convolutions (9-5-5 kernels, 64 and 32 features, ReLU) on an
    input already brought to the output size: the brief's SR generator.

    Args:
        residual: predict a correction added to the input instead of the image itself.
    """

    size_multiple = 1
    scale = 1

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        widths: Sequence[int] = (64, 32),
        kernels: Sequence[int] = (9, 5, 5),
        residual: bool = False,
    ) -> None:
        super().__init__()
        if len(widths) != 2 or len(kernels) != 3 or any(k % 2 == 0 for k in kernels):
            raise ValueError(
                f"generator.widths must be two widths and generator.kernels three odd sizes, "
                f"got {widths} and {kernels}"
            )
        if residual and in_channels != out_channels:
            raise ValueError("generator.residual needs in_channels == out_channels")
        c1, c2 = widths
        k1, k2, k3 = kernels
        self.residual = residual
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, c1, k1, padding=k1 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, k2, padding=k2 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c2, out_channels, k3, padding=k3 // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return x + out if self.residual else out

"""The project brief's seed generator."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SeedUNet(nn.Module):
    """Three 3x3 convolutions (3->64->128->256) and three 3x3 transposed convolutions back
    (256->128->64->3), all at full resolution, with additive skips between mirrored
    levels and a sigmoid output: the brief's "U-Net" generator for low-light enhancement.
    """

    size_multiple = 1
    scale = 1

    def __init__(
        self, in_channels: int = 3, out_channels: int = 3, widths: Sequence[int] = (64, 128, 256)
    ) -> None:
        super().__init__()
        if len(widths) != 3 or any(w < 1 for w in widths):
            raise ValueError(f"generator.widths must be three positive integers, got {widths}")
        c1, c2, c3 = widths
        self.enc1 = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.enc2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.enc3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.dec3 = nn.ConvTranspose2d(c3, c2, 3, padding=1)
        self.dec2 = nn.ConvTranspose2d(c2, c1, 3, padding=1)
        self.dec1 = nn.ConvTranspose2d(c1, out_channels, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.act(self.enc1(x))
        e2 = self.act(self.enc2(e1))
        e3 = self.act(self.enc3(e2))
        d3 = self.act(self.dec3(e3)) + e2
        d2 = self.act(self.dec2(d3)) + e1
        return torch.sigmoid(self.dec1(d2))

"""The brief's five-convolution DCGAN-style discriminator."""

from __future__ import annotations

from torch import nn

from lowlight.models.layers import Scorer


class DCGAN5(Scorer):
    """DCGAN discriminator (Radford et al., ICLR 2016) on a fixed 64x64 view.

    The input is average-pooled to `pool_size` (64), then five 4x4 convolutions: four of
    stride 2 with widths base*(1, 2, 4, 8) (batch norm on the middle three, LeakyReLU 0.2)
    and a final one to a single score per image. Output shape (N, 1, 1, 1): logits, or
    probabilities when `sigmoid` is set.
    """

    def __init__(
        self, in_channels: int = 3, base: int = 64, pool_size: int = 64, sigmoid: bool = False
    ) -> None:
        if pool_size != 64:
            # Four stride-2 4x4 convolutions then a 4x4 valid one map exactly 64 -> 1.
            raise ValueError(f"discriminator.pool_size must be 64 for dcgan5, got {pool_size}")
        widths = [base, base * 2, base * 4, base * 8]
        layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(pool_size)]
        cin = in_channels
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(cin, w, 4, stride=2, padding=1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = w
        layers.append(nn.Conv2d(cin, 1, 4, stride=1, padding=0))
        super().__init__(layers, sigmoid)

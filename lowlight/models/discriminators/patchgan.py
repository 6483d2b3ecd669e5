"""PatchGAN discriminator."""

from __future__ import annotations

from torch import nn

from lowlight.models.layers import Scorer, norm_layer


class PatchGAN(Scorer):
    """Markovian patch discriminator from pix2pix (Isola et al., CVPR 2017).

    `num_layers` stride-2 4x4 convolutions (widths base * 2^i, capped at base * 8), one
    stride-1 convolution, then a 1-channel score map: each output scores one receptive
    field (70x70 pixels with the default 3 layers). Output (N, 1, h, w).
    """

    def __init__(
        self,
        in_channels: int = 3,
        base: int = 64,
        num_layers: int = 3,
        norm: str = "batch",
        sigmoid: bool = False,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"discriminator.num_layers must be >= 1, got {num_layers}")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        cin = base
        for i in range(1, num_layers + 1):
            cout = base * min(2**i, 8)
            stride = 2 if i < num_layers else 1
            layers += [
                nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=norm == "none"),
                norm_layer(norm, cout, "discriminator.norm"),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, stride=1, padding=1))
        super().__init__(layers, sigmoid)

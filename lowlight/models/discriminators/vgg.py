"""VGG-style discriminator of ESRGAN."""

from __future__ import annotations

from torch import nn

from lowlight.models.layers import Scorer


class VGGDiscriminator(Scorer):
    """The VGG-style discriminator used by SRGAN/ESRGAN (Ledig et al., CVPR 2017; Wang et
    al., 2018): `num_stages` stages of a 3x3 convolution and a stride-2 4x4 convolution
    (widths num_feat * (1, 2, 4, 8, 8), batch norm except on the first convolution,
    LeakyReLU 0.2), then two linear layers to one score per image. An adaptive average
    pool to 4x4 before the linear layers lets it take any HR size (128 maps to 4x4 as in
    ESRGAN). Output (N, 1).
    """

    def __init__(
        self, in_channels: int = 3, num_feat: int = 64, num_stages: int = 5, sigmoid: bool = False
    ) -> None:
        if num_stages < 1:
            raise ValueError(f"discriminator.num_stages must be >= 1, got {num_stages}")
        widths = [num_feat * min(2**i, 8) for i in range(num_stages)]
        layers: list[nn.Module] = []
        cin = in_channels
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers += [
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(w, w, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = w
        layers += [
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(cin * 16, 100),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(100, 1),
        ]
        super().__init__(layers, sigmoid)

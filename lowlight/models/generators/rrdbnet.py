"""RRDBNet, the ESRGAN generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

UPSAMPLERS = ("nearest", "pixelshuffle")


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing all earlier features (dense connections); the
    block's output is scaled by 0.2 and added to its input. No batch norm."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(num_feat + i * num_grow_ch, num_grow_ch if i < 4 else num_feat, 3, padding=1)
            for i in range(5)
        )
        self.act = nn.LeakyReLU(0.2, inplace=True)
        for conv in self.convs:
            # ESRGAN's initialization: Kaiming, scaled by 0.1, so deep stacks start stable.
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(feats, dim=1))
            if i < 4:
                feats.append(self.act(out))
        return x + 0.2 * out


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, residual scaled by 0.2."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualDenseBlock(num_feat, num_grow_ch) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class RRDBNet(nn.Module):
    """ESRGAN generator (Wang et al., ECCV Workshops 2018).

    conv -> `num_block` RRDBs -> conv (+ long skip) -> upsampling -> two convs. Upsampling
    by `scale` (1, 2, 3, 4, 8): x2 stages (x3 in one stage) of nearest-neighbour + conv
    (`upsampler: nearest`, as ESRGAN) or conv + pixel shuffle (`pixelshuffle`); scale 1
    keeps the size (for same-size inputs). The paper's model is 64 / 23 / 32.
    """

    size_multiple = 1

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        upsampler: str = "nearest",
    ) -> None:
        super().__init__()
        if scale not in (1, 2, 3, 4, 8):
            raise ValueError(f"generator.scale must be one of 1, 2, 3, 4, 8, got {scale}")
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"generator.upsampler must be one of {UPSAMPLERS}, got {upsampler!r}")
        if min(num_feat, num_block, num_grow_ch) < 1:
            raise ValueError(
                "generator.num_feat, num_block and num_grow_ch must be positive, got "
                f"{num_feat}, {num_block}, {num_grow_ch}"
            )
        self.scale = scale
        self.upsampler = upsampler
        self.conv_first = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        factors = [3] if scale == 3 else [2] * int(math.log2(scale)) if scale > 1 else []
        self.factors = factors
        width = (
            (lambda f: num_feat * f * f) if upsampler == "pixelshuffle" else (lambda f: num_feat)
        )
        self.up_convs = nn.ModuleList(nn.Conv2d(num_feat, width(f), 3, padding=1) for f in factors)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for f, conv in zip(self.factors, self.up_convs, strict=True):
            if self.upsampler == "nearest":
                feat = self.act(conv(F.interpolate(feat, scale_factor=f, mode="nearest")))
            else:
                feat = self.act(F.pixel_shuffle(conv(feat), f))
        return self.conv_last(self.act(self.conv_hr(feat)))

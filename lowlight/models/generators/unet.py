"""Encoder-decoder U-Net for image-to-image enhancement."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lowlight.models.layers import norm_layer


class _Block(nn.Sequential):
    """Two 3x3 convolutions, each followed by normalization and LeakyReLU."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1),
            norm_layer(norm, cout, "generator.norm"),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            norm_layer(norm, cout, "generator.norm"),
            nn.LeakyReLU(0.2, inplace=True),
        )


class UNet(nn.Module):
    """U-Net (Ronneberger et al., MICCAI 2015) with concatenated skips.

    Each level halves the resolution (2x2 max pooling) and uses the next width of
    `channels`; the decoder upsamples bilinearly, concatenates the mirrored encoder
    features and refines them. Input sides must divide by `size_multiple`.

    Args:
        channels: feature widths per level, shallow to deep (its length is the depth).
        out_activation: `sigmoid` keeps the output in [0, 1]; `none` leaves it raw.
        global_context: modulate the deepest features by a summary of the whole input
            (their spatial mean through a small MLP giving a per-channel scale and shift,
            as HDRNet's global path, Gharbi et al., SIGGRAPH 2017). Without it each output
            pixel sees only its receptive field (about 100 px at 4 levels), so the overall
            brightness of a dark photo is guessed region by region; with it the whole photo
            informs every pixel. The last layer starts at zero: the branch starts as the
            identity, so a plain U-Net checkpoint can initialise it (`init_optional`).
    """

    scale = 1
    init_optional: tuple[str, ...] = ()  # key prefixes a checkpoint may lack (fresh branch)

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        channels: Sequence[int] = (32, 64, 128, 256),
        norm: str = "none",
        out_activation: str = "sigmoid",
        global_context: bool = False,
    ) -> None:
        super().__init__()
        channels = list(channels)
        if len(channels) < 2 or any(c < 1 for c in channels):
            raise ValueError(
                f"generator.channels must list at least two positive widths, got {channels}"
            )
        if out_activation not in ("sigmoid", "none"):
            raise ValueError(
                f"generator.out_activation must be 'sigmoid' or 'none', got {out_activation!r}"
            )
        self.size_multiple = 2 ** (len(channels) - 1)
        self.out_activation = out_activation
        self.encoders = nn.ModuleList()
        cin = in_channels
        for c in channels:
            self.encoders.append(_Block(cin, c, norm))
            cin = c
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for deep, shallow in zip(channels[::-1][:-1], channels[::-1][1:], strict=True):
            self.ups.append(nn.Conv2d(deep, shallow, 3, padding=1))
            self.decoders.append(_Block(2 * shallow, shallow, norm))
        self.head = nn.Conv2d(channels[0], out_channels, 1)
        self.global_mlp = None
        if global_context:
            deep = channels[-1]
            self.global_mlp = nn.Sequential(
                nn.Linear(deep, deep), nn.LeakyReLU(0.2, inplace=True), nn.Linear(deep, 2 * deep)
            )
            nn.init.zeros_(self.global_mlp[-1].weight)
            nn.init.zeros_(self.global_mlp[-1].bias)
            self.init_optional = ("global_mlp.",)

    @property
    def encoder_radius(self) -> int:
        """How far (px) the deepest features read around their cell: two 3x3 convolutions
        per level at its stride, and each 2x2 pooling (37 px at 4 levels)."""
        depth = len(self.encoders)
        return 2 * (2**depth - 1) + 2 ** (depth - 1) - 1

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's features, shallow to deep (the last is what `global_context` sums)."""
        skips = []
        for i, enc in enumerate(self.encoders):
            x = enc(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        return skips

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """`context`: the (N, C) mean of the deepest features over the whole image, when `x`
        is one tile of it (tiled inference); by default `x`'s own."""
        skips = self.encode(x)
        x = skips[-1]
        if self.global_mlp is not None:
            summary = x.mean(dim=(2, 3)) if context is None else context.to(x.dtype)
            scale, shift = self.global_mlp(summary).chunk(2, dim=1)
            x = x * (1 + scale[..., None, None]) + shift[..., None, None]
        for up, dec, skip in zip(self.ups, self.decoders, skips[-2::-1], strict=True):
            x = up(F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False))
            x = dec(torch.cat((x, skip), dim=1))
        x = self.head(x)
        return torch.sigmoid(x) if self.out_activation == "sigmoid" else x

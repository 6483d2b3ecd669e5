"""Small building blocks shared by several networks."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int, key: str = "norm") -> nn.Module:
    """A 2-D normalization layer by name (`batch`, `instance`, `none`)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"{key} must be one of {NORMS}, got {kind!r}")


class Scorer(nn.Module):
    """A convolutional stack ending in raw scores, or probabilities when `sigmoid` is set
    (the common tail of the discriminators; `sigmoid` tells the adversarial loss which)."""

    def __init__(self, layers: list[nn.Module], sigmoid: bool) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return torch.sigmoid(out) if self.sigmoid else out


def through_shrunk(
    x: torch.Tensor,
    s: int,
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    shrink: str = "area",
) -> torch.Tensor:
    """`fn` (or nothing) on `x` shrunk `s` times, enlarged back to `x`'s size (bilinear).
    Shrinking is an `area` average of s x s cells or `bilinear` sampling. The edge is
    repeated to a multiple of `s` first, so that shrinking and enlarging use exactly the
    factor s: a tile aligned to `s` sees the grid the whole photo sees, and halo tiles equal
    the untiled output (lowlight.inference)."""
    h, w = x.shape[-2:]
    ph, pw = (s - h % s) % s, (s - w % s) % s
    padded = F.pad(x, (0, pw, 0, ph), mode="replicate")
    if shrink == "area":
        small = F.avg_pool2d(padded, s)
    elif shrink == "bilinear":
        small = F.interpolate(
            padded, size=((h + ph) // s, (w + pw) // s), mode="bilinear", align_corners=False
        )
    else:
        raise ValueError(f"shrink must be 'area' or 'bilinear', got {shrink!r}")
    big = F.interpolate(
        small if fn is None else fn(small),
        size=(h + ph, w + pw),
        mode="bilinear",
        align_corners=False,
    )
    return big[..., :h, :w]

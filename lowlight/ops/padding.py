"""Running a network on any image size: padding up to its size multiple and cropping back.

One path for training, validation, `enhance`, `evaluate` and `export` (`run_padded`), so
that what is scored during training is what the shipped and exported models compute.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def run_padded(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int, scale: int = 1
) -> torch.Tensor:
    """`fn` on (N, C, H, W) `x` reflect-padded bottom/right to a multiple of `multiple`, its
    output cropped back to (scale*H, scale*W).

    No branch on the size, so it exports with dynamic height and width; H and W must be at
    least `multiple` (reflection needs that much image: see `extend_to`)."""
    h, w = x.shape[-2], x.shape[-1]
    return fn(pad_to_multiple(x, multiple))[..., : h * scale, : w * scale]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """`x` reflect-padded bottom/right to a multiple of `multiple` (the padding `run_padded`
    applies)."""
    h, w = x.shape[-2], x.shape[-1]
    if multiple > 1:
        x = F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), mode="reflect")
    return x


def extend_to(x: torch.Tensor, side: int) -> torch.Tensor:
    """`x` with its bottom/right edge replicated until both sides are at least `side` (for
    images smaller than a network's size multiple); crop the output back yourself."""
    h, w = x.shape[-2], x.shape[-1]
    if min(h, w) >= side:
        return x
    return F.pad(x, (0, max(0, side - w), 0, max(0, side - h)), mode="replicate")

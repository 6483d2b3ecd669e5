"""Labelled image grids, for training (`ImageGridCallback`) and `lowlight-evaluate`.

Each tile keeps its aspect ratio and carries its caption above it; rows are left-aligned on
a white canvas, so images of different sizes sit side by side without being squashed.
(torchvision's `make_grid` needs equal sizes and has no captions; PIL draws the text.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from lowlight.data.io import to_uint

CAPTION = 16  # px of white above each tile for its caption
GAP = 4


def to_pil(img: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [0, 1] -> 8-bit RGB PIL image, rounded as saved files are."""
    return Image.fromarray(to_uint(img.detach().float().permute(1, 2, 0).cpu().numpy()))


def fit_height(pil: Image.Image, height: int) -> Image.Image:
    """`pil` at `height` px high, aspect kept (nearest when enlarging: pixels stay visible)."""
    if pil.height == height:
        return pil
    width = max(1, round(pil.width * height / pil.height))
    return pil.resize((width, height), Image.NEAREST if pil.height < height else Image.LANCZOS)


def captioned(pil: Image.Image, label: str) -> Image.Image:
    canvas = Image.new("RGB", (pil.width, pil.height + CAPTION), "white")
    canvas.paste(pil, (0, CAPTION))
    ImageDraw.Draw(canvas).text((2, 2), label, fill="black")
    return canvas


def grid_image(rows: Sequence[Sequence[tuple[str, Image.Image]]], gap: int = GAP) -> Image.Image:
    """Rows of (caption, image) tiles, each row as high as its tallest tile."""
    built = [[captioned(pil, label) for label, pil in row] for row in rows]
    widths = [sum(t.width for t in row) + gap * (len(row) - 1) for row in built]
    heights = [max(t.height for t in row) for row in built]
    canvas = Image.new("RGB", (max(widths), sum(heights) + gap * (len(built) - 1)), "white")
    y = 0
    for row, height in zip(built, heights, strict=True):
        x = 0
        for tile in row:
            canvas.paste(tile, (x, y))
            x += tile.width + gap
        y += height + gap
    return canvas


def pil_to_tensor(pil: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL -> (3, H, W) float in [0, 1] (for TensorBoard and W&B)."""
    return torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1)

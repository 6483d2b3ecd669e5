"""Training image grids: labelled columns, per-image PSNR, aspect ratios, SR at full size."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lowlight.callbacks import ImageGridCallback
from lowlight.grids import CAPTION, GAP, to_pil


class _System(nn.Module):
    """What the callback needs of a system: `device` and `enhance`."""

    def __init__(self, scale: int = 1) -> None:
        super().__init__()
        self.scale = scale
        self.device = torch.device("cpu")

    def enhance(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x, scale_factor=self.scale, mode="nearest") if self.scale > 1 else x
        return (y * 1.5).clamp(0, 1)


def _tile(grid, x, y, w, h):
    return np.asarray(grid)[y : y + h, x : x + w]


def test_an_sr_row_shows_the_output_at_full_size_with_its_psnr(tmp_path):
    g = torch.Generator().manual_seed(0)
    lq = torch.rand(3, 8, 12, generator=g) * 0.5
    gt = torch.rand(3, 32, 48, generator=g)
    grid, captions = ImageGridCallback(str(tmp_path))._grid(_System(4), [{"lq": lq, "gt": gt}])
    assert grid.size == (3 * 48 + 2 * GAP, 32 + CAPTION)
    out = _System(4).enhance(lq[None])[0]
    mse = float(np.mean((out.numpy().astype(np.float64) - gt.numpy()) ** 2))
    assert captions == [["input", f"output {10 * np.log10(1 / mse):.2f} dB", "target"]]
    # the output tile is the output itself, pixel for pixel; the input is enlarged x4
    assert np.array_equal(_tile(grid, 48 + GAP, CAPTION, 48, 32), np.asarray(to_pil(out)))
    big_lq = np.asarray(to_pil(lq)).repeat(4, 0).repeat(4, 1)
    assert np.array_equal(_tile(grid, 0, CAPTION, 48, 32), big_lq)


def test_rows_of_different_shapes_keep_their_aspect_ratio(tmp_path):
    wide, tall = torch.rand(3, 16, 40), torch.rand(3, 40, 16)
    samples = [{"lq": wide}, {"lq": tall}]  # no targets: input | output
    grid, captions = ImageGridCallback(str(tmp_path))._grid(_System(), samples)
    assert captions == [["input", "output"], ["input", "output"]]
    assert grid.size == (2 * 40 + GAP, (16 + CAPTION) + GAP + (40 + CAPTION))
    y = 16 + CAPTION + GAP + CAPTION
    expected = np.asarray(to_pil(_System().enhance(tall[None])[0]))
    assert np.array_equal(_tile(grid, 16 + GAP, y, 16, 40), expected)


def test_a_row_higher_than_max_side_is_scaled_down_with_its_aspect(tmp_path):
    lq = torch.rand(3, 64, 32)
    grid, _ = ImageGridCallback(str(tmp_path), max_side=32)._grid(_System(), [{"lq": lq}])
    assert grid.size == (2 * 16 + GAP, 32 + CAPTION)

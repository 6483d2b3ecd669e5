"""Small image operations shared by data, systems and tools."""

from lowlight.ops.color import (
    COLOR_SPACES,
    linear_to_srgb,
    rgb_to_y,
    rgb_to_ycrcb,
    srgb_to_linear,
    ycrcb_to_rgb,
)
from lowlight.ops.imresize import imresize
from lowlight.ops.padding import pad_to_multiple

__all__ = [
    "COLOR_SPACES",
    "imresize",
    "linear_to_srgb",
    "pad_to_multiple",
    "rgb_to_y",
    "rgb_to_ycrcb",
    "srgb_to_linear",
    "ycrcb_to_rgb",
]

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
from lowlight.ops.padding import extend_to, run_padded

__all__ = [
    "COLOR_SPACES",
    "imresize",
    "linear_to_srgb",
    "extend_to",
    "run_padded",
    "rgb_to_y",
    "rgb_to_ycrcb",
    "srgb_to_linear",
    "ycrcb_to_rgb",
]

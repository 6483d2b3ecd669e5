"""Physically motivated low-light synthesis from a normal-light sRGB photo.

The photo is taken back to linear light, its exposure cut, photon shot noise (Poisson) and
sensor read noise (Gaussian) added at the reduced exposure, an optional colour cast applied,
and the result re-encoded as sRGB and quantized like a camera JPEG/PNG. This follows the
usual raw-noise model used for low-light synthesis (e.g. Brooks et al., "Unprocessing
Images for Learned Raw Denoising", CVPR 2019), simplified to operate on sRGB files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lowlight.ops.color import linear_to_srgb, srgb_to_linear

ILLUMINATION_GRID = 3  # the uneven light's field: bicubic over this many random points a side


def _range(name: str, value: Sequence[float], low: float, high: float) -> tuple[float, float]:
    if len(value) != 2 or not (low <= value[0] <= value[1] <= high):
        raise ValueError(
            f"degradation.{name} must be [min, max] with {low} <= min <= max <= {high}, got {value}"
        )
    return float(value[0]), float(value[1])


class LowLightDegradation:
    """Turn a normal-light sRGB image into a plausible low-light capture of the same scene.

    Args:
        exposure: range of the exposure factor applied in linear light (log-uniform draw).
        photons: range of the photon count a linear value of 1.0 collects at full exposure
            (log-uniform); shot noise at the cut exposure follows from it.
        read_noise: range of the Gaussian read-noise std, in units of full scale.
        color_cast: largest per-channel gain deviation (log scale); 0 disables the cast.
        bits: quantization of the output (8 = an ordinary image file).
        illumination: uneven light, the largest drop of a smooth exposure field across the
            image in natural-log units (2.3: parts of it up to 10x darker than the rest); each
            image draws a drop from [0, illumination] and a field from a random
            ILLUMINATION_GRID x ILLUMINATION_GRID grid, interpolated bicubically, that spans
            it. A night scene is lit in places and dark in others, which one exposure cut of a
            daylight photo is not. 0 (the default) draws nothing: pairs stay as they were.
    """

    def __init__(
        self,
        exposure: Sequence[float] = (0.03, 0.25),
        photons: Sequence[float] = (2000.0, 20000.0),
        read_noise: Sequence[float] = (0.0005, 0.005),
        color_cast: float = 0.0,
        bits: int = 8,
        illumination: float = 0.0,
    ) -> None:
        self.exposure = _range("exposure", exposure, 1e-4, 1.0)
        self.photons = _range("photons", photons, 1.0, 1e9)
        self.read_noise = _range("read_noise", read_noise, 0.0, 1.0)
        if not 0.0 <= color_cast < 1.0:
            raise ValueError(f"degradation.color_cast must be in [0, 1), got {color_cast}")
        if bits not in (8, 16):
            raise ValueError(f"degradation.bits must be 8 or 16, got {bits}")
        if not 0.0 <= illumination <= 10.0:
            raise ValueError(f"degradation.illumination must be in [0, 10], got {illumination}")
        self.color_cast = float(color_cast)
        self.illumination = float(illumination)
        self.bits = bits

    @staticmethod
    def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
        return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))

    def _light_field(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A smooth HxW exposure field in [exp(-drop), 1], reaching both ends."""
        import cv2

        grid = rng.uniform(0.0, 1.0, size=(ILLUMINATION_GRID, ILLUMINATION_GRID))
        field = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        return np.exp(-rng.uniform(0.0, self.illumination) * field)

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`img`: HxWx3 float sRGB in [0, 1]. Returns the low-light version, same shape."""
        lin = srgb_to_linear(np.clip(img, 0.0, 1.0).astype(np.float64))
        lin = lin * self._log_uniform(rng, self.exposure)
        if self.illumination > 0:
            lin = lin * self._light_field(lin.shape[:2], rng)[..., None]
        if self.color_cast > 0:
            lin = lin * np.exp(rng.uniform(-self.color_cast, self.color_cast, size=3))
        photons = self._log_uniform(rng, self.photons)
        lin = rng.poisson(np.clip(lin, 0.0, None) * photons) / photons
        lin = lin + rng.normal(0.0, rng.uniform(*self.read_noise), size=lin.shape)
        top = (1 << self.bits) - 1
        out = np.round(linear_to_srgb(lin) * top) / top
        return out.astype(np.float32)

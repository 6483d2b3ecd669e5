"""NIQE, the no-reference "naturalness" score LLE papers report on LIME / DICM / MEF / NPE
(Mittal, Soundararajan and Bovik, "Making a completely blind image quality analyzer", 2013).
Lower is better.

Written here because no maintained Python package computes MATLAB's `niqe` without a
download: torchmetrics has none, and the packages that do fetch their model at run time. It
follows MATLAB's algorithm and reads its standard pristine model (`niqe_pris_params.npz`,
as BasicSR ships it: `mu_pris_param`, `cov_pris_param`, `gaussian_window`) from a local file:

- the image's 8-bit Y channel (MATLAB `rgb2ycbcr`, rounded), in grey levels 0..255, cropped
  to whole 96x96 blocks;
- at two scales (full, then MATLAB-bicubic half size): local mean and deviation with the
  7x7 Gaussian window (edges replicated), normalised coefficients (I - mu) / (sigma + 1);
- per block, 18 features: an asymmetric generalised Gaussian (AGGD) fit of the
  coefficients (shape, mean scale) and of their products with four neighbours (horizontal,
  vertical, two diagonals, wrapped as MATLAB's `circshift`): shape, mean, left and right
  scales;
- quality: the Mahalanobis-like distance between the pristine model and a Gaussian fitted
  to the image's block features, with the average of the two covariances.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import convolve
from scipy.special import gamma as gamma_fn

from lowlight.metrics.sr import shave, y_channel
from lowlight.ops.imresize import imresize

BLOCK = 96
_SHAPES = np.arange(0.2, 10.0 + 1e-9, 0.001)  # MATLAB: gam = 0.2:0.001:10
_RATIOS = gamma_fn(2 / _SHAPES) ** 2 / (gamma_fn(1 / _SHAPES) * gamma_fn(3 / _SHAPES))
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))


def load_niqe_model(path: str | Path) -> dict[str, np.ndarray]:
    """The pristine model from a local `niqe_pris_params.npz`; a clear error when missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"NIQE model {path} not found: NIQE needs the standard pristine-model file "
            "niqe_pris_params.npz (BasicSR's basicsr/metrics/niqe_pris_params.npz) on disk; "
            "nothing is downloaded"
        )
    with np.load(path) as data:
        missing = {"mu_pris_param", "cov_pris_param", "gaussian_window"} - set(data.files)
        if missing:
            raise ValueError(f"{path} lacks {', '.join(sorted(missing))}: not a NIQE model")
        return {k: np.asarray(data[k], dtype=np.float64) for k in data.files}


def _aggd(x: np.ndarray) -> tuple[float, float, float]:
    """(shape, left scale, right scale) of an asymmetric generalised Gaussian, by MATLAB's
    moment matching (`estimateaggdparam`).

    A side without values (a flat block, e.g. clipped white, has no negative or no positive
    coefficients) has a NaN scale, as MATLAB's `mean([])` is NaN; its shape is then the
    table's first (MATLAB's `min` over all-NaN differences picks the first). The NaN keeps
    such a block out of the image's covariance (`niqe_of_y`), as MATLAB's `nancov` does."""
    x = x.ravel()
    negative, positive = x[x < 0], x[x > 0]
    left = math.sqrt(np.mean(negative**2)) if negative.size else math.nan
    right = math.sqrt(np.mean(positive**2)) if positive.size else math.nan
    if math.isnan(left) or math.isnan(right):
        shape = float(_SHAPES[0])
    else:
        ratio = left / right
        r = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
        r_norm = r * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1) ** 2
        shape = float(_SHAPES[np.argmin((_RATIOS - r_norm) ** 2)])
    k = math.sqrt(gamma_fn(1 / shape) / gamma_fn(3 / shape))
    return shape, left * k, right * k


def _block_features(block: np.ndarray) -> list[float]:
    shape, left, right = _aggd(block)
    features = [shape, (left + right) / 2]
    for shift in _NEIGHBOURS:
        shape, left, right = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        mean = (right - left) * gamma_fn(2 / shape) / gamma_fn(1 / shape)
        features += [shape, mean, left, right]
    return features


def niqe_of_y(y: np.ndarray, model: dict[str, np.ndarray], block: int = BLOCK) -> float:
    """NIQE of an (H, W) luma image in grey levels 0..255 (MATLAB's `niqe` on it)."""
    rows, cols = y.shape[0] // block, y.shape[1] // block
    if rows < 1 or cols < 1:
        raise ValueError(
            f"NIQE needs at least {block}x{block} pixels, got {y.shape[1]}x{y.shape[0]}"
        )
    img = np.asarray(y, dtype=np.float64)[: rows * block, : cols * block]
    window = model["gaussian_window"]
    per_scale = []
    for level in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        coeffs = (img - mu) / (sigma + 1)
        side = block // level
        per_scale.append(
            [
                _block_features(coeffs[r * side : (r + 1) * side, c * side : (c + 1) * side])
                for r in range(rows)
                for c in range(cols)
            ]
        )
        if level == 1:
            img = imresize(img / 255.0, 0.5) * 255.0
    features = np.concatenate([np.array(f) for f in per_scale], axis=1)  # (blocks, 36)
    # MATLAB: nanmean over the blocks per feature, nancov over the blocks without a NaN
    finite = features[~np.isnan(features).any(axis=1)]
    if len(finite) < 2:
        raise ValueError(
            f"NIQE is undefined for this image: {len(finite)} of its {len(features)} "
            f"{block}x{block} blocks have texture on both sides of their local mean (flat "
            "blocks, e.g. clipped to one grey level, do not count), and it needs at least 2"
        )
    mu_img = np.nanmean(features, axis=0)
    cov_img = np.cov(finite, rowvar=False)
    diff = model["mu_pris_param"].ravel() - mu_img
    inv = np.linalg.pinv((model["cov_pris_param"] + cov_img) / 2)
    return float(np.sqrt(diff @ inv @ diff))


def niqe(rgb: torch.Tensor, model: dict[str, np.ndarray], border: int = 0) -> float:
    """NIQE of one (3, H, W) RGB image in [0, 1]: on its 8-bit Y channel (MATLAB
    `rgb2ycbcr`, rounded), `border` pixels shaved per side first (SR convention)."""
    y = shave(y_channel(rgb[None].to(torch.float64))[0, 0], border)
    return niqe_of_y(y.cpu().numpy() * 255.0, model)

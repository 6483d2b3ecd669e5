"""Augmentations applied identically to both images of a pair (albumentations)."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np


def _check_prob(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"augment.{name} must be a probability in [0, 1], got {value}")
    return float(value)


class PairAugment:
    """Training augmentation for an image pair.

    Geometric transforms (affine translate/scale/rotate, random crop, flips, 90-degree turns)
    are drawn once and applied to both images; the optional brightness / contrast /
    saturation / hue jitter touches the input only, so the target stays the true target.

    Args:
        crop_size: side of the square training crop; None keeps the full image.
        resize: first resize the whole image to `resize` x `resize` (area interpolation);
            with `crop_size: null` this is the Zero-DCE authors' loader (whole photos at 256).
        affine_p: probability of the small affine (translate, scale, rotate) step.
        translate: largest shift, as a fraction of the image side.
        scale: range of zoom factors.
        rotate: largest rotation in degrees (the affine step; quarter turns are `rot90`).
        jitter_p: probability of input-only colour jitter (0 = off, the default for pairs).
        pad_if_smaller: reflect-pad images smaller than the crop instead of raising.
    """

    def __init__(
        self,
        crop_size: int | None = 128,
        hflip: float = 0.5,
        vflip: float = 0.5,
        rot90: float = 0.5,
        affine_p: float = 0.3,
        translate: float = 0.05,
        scale: Sequence[float] = (0.9, 1.1),
        rotate: float = 10.0,
        jitter_p: float = 0.0,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.2,
        hue: float = 0.05,
        pad_if_smaller: bool = False,
        resize: int | None = None,
    ) -> None:
        if resize is not None and resize < 1:
            raise ValueError(f"augment.resize must be a positive integer or null, got {resize}")
        if (
            resize is not None
            and crop_size is not None
            and crop_size > resize
            and not pad_if_smaller
        ):
            raise ValueError(
                f"augment.crop_size {crop_size} is larger than augment.resize {resize}: set "
                "crop_size to null (whole resized images) or at most resize"
            )
        if crop_size is not None and crop_size < 1:
            raise ValueError(
                f"augment.crop_size must be a positive integer or null, got {crop_size}"
            )
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"augment.scale must be [low, high] with 0 < low <= high, got {scale}")
        self.crop_size = crop_size
        self.pad_if_smaller = pad_if_smaller
        self.resize = resize
        steps: list[A.BasicTransform] = []
        if resize is not None:
            steps.append(A.Resize(resize, resize, interpolation=cv2.INTER_AREA))
        if _check_prob("affine_p", affine_p) > 0:
            steps.append(
                A.Affine(
                    translate_percent=(-translate, translate),
                    scale=tuple(scale),
                    rotate=(-rotate, rotate),
                    border_mode=cv2.BORDER_REFLECT_101,
                    p=affine_p,
                )
            )
        if crop_size is not None:
            steps.append(
                A.RandomCrop(
                    crop_size,
                    crop_size,
                    pad_if_needed=pad_if_smaller,
                    border_mode=cv2.BORDER_REFLECT_101,
                )
            )
        steps += [
            A.HorizontalFlip(p=_check_prob("hflip", hflip)),
            A.VerticalFlip(p=_check_prob("vflip", vflip)),
            A.RandomRotate90(p=_check_prob("rot90", rot90)),
        ]
        self.joint = A.Compose(steps, additional_targets={"gt": "image"})
        self.jitter = None
        if _check_prob("jitter_p", jitter_p) > 0:
            self.jitter = A.Compose(
                [
                    A.ColorJitter(
                        brightness=brightness,
                        contrast=contrast,
                        saturation=saturation,
                        hue=hue,
                        p=jitter_p,
                    )
                ]
            )

    def set_seed(self, seed: int) -> None:
        """Seed the pipelines (albumentations keeps its own random state, not numpy's)."""
        self.joint.set_random_seed(seed)
        if self.jitter is not None:
            self.jitter.set_random_seed(seed + 1)

    @property
    def min_side(self) -> int | None:
        """The smallest image side this augmentation accepts (None: any)."""
        if self.pad_if_smaller or self.crop_size is None or self.resize is not None:
            return None
        return self.crop_size

    def min_size_ok(self, height: int, width: int) -> bool:
        return self.min_side is None or min(height, width) >= self.min_side

    def geometric(
        self, image: np.ndarray, gt: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The shared geometric part: one draw, applied to `image` and (if given) `gt`."""
        if gt is None:
            return self.joint(image=image)["image"], None
        out = self.joint(image=image, gt=gt)
        return out["image"], out["gt"]

    def input_only(self, image: np.ndarray) -> np.ndarray:
        """Colour jitter for the network input (identity when jitter is off)."""
        if self.jitter is None:
            return image
        return np.clip(self.jitter(image=image)["image"], 0.0, 1.0)

    def __call__(
        self, lq: np.ndarray, gt: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        lq, gt = self.geometric(lq, gt)
        return self.input_only(lq), gt


def center_crop(img: np.ndarray, size: int | None) -> np.ndarray:
    """Central `size` x `size` window (the whole image when `size` is None or larger)."""
    if size is None:
        return img
    h, w = img.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[top : top + size, left : left + size]


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    if min(h, w) < size:
        raise ValueError(f"image of {h}x{w} is smaller than the crop {size}")
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return img[top : top + size, left : left + size]

"""Datasets yielding `{"lq", "gt", "name"}` dicts of float CHW tensors in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lowlight.data.degrade import LowLightDegradation
from lowlight.data.io import ImageReadError, decode_image, read_image, to_float
from lowlight.data.pairs import check_sizes
from lowlight.data.sampling import SampleKey, sample_rng, split_key
from lowlight.data.transforms import PairAugment, center_crop, random_crop


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HxWx3 float array -> 3xHxW float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def training_rng(key: int | SampleKey) -> tuple[int, np.random.Generator]:
    """(index, generator) for a training item: drawn from its `SampleKey` (seed, epoch,
    index) as `ShardSampler` hands it over; a plain index (direct use) counts as seed 0,
    epoch 0."""
    index, sample = split_key(key)
    return index, sample_rng(sample or SampleKey(0, 0, index))


def seeded_augment(augment: PairAugment, rng: np.random.Generator) -> PairAugment:
    """`augment` with its pipelines seeded from `rng` (albumentations keeps its own state)."""
    augment.set_seed(int(rng.integers(2**31)))
    return augment


class ImageCache:
    """Decoded images kept in this process, in their file's own type (uint8 for 8-bit files:
    a 600x400 photo is 0.7 MB): worth it for a few hundred photos (decoding a WebP or JPEG
    costs more than a training crop), not for tens of thousands (memory). Returns float32.

    `preload` fills it before the loader's worker processes fork, so they share one copy.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.images: dict[Path, np.ndarray] | None = {} if enabled else None

    def __call__(self, path: Path) -> np.ndarray:
        if self.images is None:
            return read_image(path)
        if path not in self.images:
            self.images[path] = decode_image(path)
        return to_float(self.images[path])

    def preload(self, paths: Sequence[Path]) -> None:
        if self.images is not None:
            for path in paths:
                self(path)


def _too_small(path: Path, shape: tuple[int, ...], crop: int | None) -> ImageReadError:
    return ImageReadError(
        f"{path} is {shape[0]}x{shape[1]}, smaller than the crop size {crop} "
        "(lower data.augment.crop_size or set data.augment.pad_if_smaller=true)"
    )


class PairedImageDataset(Dataset):
    """Image pairs from disk; `augment` for training, else an optional centre crop.

    `cache`: decode every image once (in `__init__`) and keep it (see `ImageCache`).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        augment: PairAugment | None = None,
        crop: int | None = None,
        cache: bool = False,
    ) -> None:
        self.pairs = list(pairs)
        self.augment = augment
        self.crop = crop
        self._load = ImageCache(cache)
        self._load.preload([p for pair in self.pairs for p in pair])

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int | SampleKey) -> dict:
        index, rng = training_rng(key)
        lq_path, gt_path = self.pairs[index]
        lq, gt = self._load(lq_path), self._load(gt_path)
        check_sizes(lq_path, lq.shape, gt_path, gt.shape)
        if self.augment is not None:
            if not self.augment.min_size_ok(*lq.shape[:2]):
                raise _too_small(lq_path, lq.shape, self.augment.crop_size)
            lq, gt = seeded_augment(self.augment, rng)(lq, gt)
        else:
            lq, gt = center_crop(lq, self.crop), center_crop(gt, self.crop)
        return {"lq": to_tensor(lq), "gt": to_tensor(gt), "name": lq_path.stem}


@dataclass(frozen=True)
class Region:
    """A rectangle of a photo, rows `top:bottom`, columns `left:right`: the part of it that
    one split (train, val or test) may use."""

    path: Path
    top: int
    left: int
    bottom: int
    right: int

    @property
    def stem(self) -> str:
        return self.path.stem


class SyntheticPairDataset(Dataset):
    """Low/normal-light pairs made on the fly from normal-light photos.

    Training (`seed=None`): item (seed, epoch, index) draws its photo, crop, augmentation
    and degradation from that key, so every index, epoch and run seed gives a different
    pair (see `lowlight.data.sampling`). Evaluation (`seed` set): item i is always the same
    pair, so validation and test sets are fixed across epochs and runs.
    """

    def __init__(
        self,
        photos: Sequence[Path | Region],
        degradation: LowLightDegradation,
        length: int,
        crop_size: int,
        augment: PairAugment | None = None,
        seed: int | None = None,
        cache: bool = True,
    ) -> None:
        if not photos:
            raise ValueError("SyntheticPairDataset needs at least one photo")
        self.photos = list(photos)
        self.degradation = degradation
        self.length = int(length)
        self.crop_size = crop_size
        self.augment = augment
        self.seed = seed
        self._load = ImageCache(cache)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | SampleKey) -> dict:
        if self.seed is None:
            index, rng = training_rng(key)
            if self.augment is not None:
                seeded_augment(self.augment, rng)
            path = self.photos[int(rng.integers(len(self.photos)))]
        else:
            index = split_key(key)[0]
            rng = np.random.default_rng([self.seed, index])
            path = self.photos[index % len(self.photos)]  # every photo in turn
        if isinstance(path, Region):
            img = self._load(path.path)[path.top : path.bottom, path.left : path.right]
        else:
            img = self._load(path)
        if min(img.shape[:2]) < self.crop_size:
            raise _too_small(path, img.shape, self.crop_size)
        if self.augment is not None:
            gt, _ = self.augment.geometric(img)
        else:
            gt = random_crop(img, self.crop_size, rng)
        lq = self.degradation(gt, rng)
        if self.augment is not None:
            lq = self.augment.input_only(lq)
        return {"lq": to_tensor(lq), "gt": to_tensor(gt), "name": f"{path.stem}_{index:05d}"}

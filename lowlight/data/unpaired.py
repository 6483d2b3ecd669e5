"""Unpaired low-light images (no ground truth): zero-reference training and evaluation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from lowlight.data.base import ImageDataModule
from lowlight.data.datasets import seeded_augment, to_tensor, training_rng
from lowlight.data.io import list_images, read_image
from lowlight.data.pairs import check_pairs, check_ratios, fill_splits
from lowlight.data.sampling import SampleKey
from lowlight.data.transforms import PairAugment, center_crop

log = logging.getLogger(__name__)


class ImageFolderDataset(Dataset):
    """Single images as `{"lq", "name"}`: augmented for training, else centre-cropped.

    `length` (training only): that many items an epoch, each a photo drawn by the item's
    own random stream, so an epoch can be shorter than the folder and still see every photo
    over the run; None: each photo once, item i being photo i."""

    def __init__(
        self,
        paths: Sequence[Path],
        augment: PairAugment | None = None,
        crop: int | None = None,
        length: int | None = None,
    ) -> None:
        self.paths = list(paths)
        self.augment = augment
        self.crop = crop
        if length is not None and (length < 1 or not self.paths):
            raise ValueError(f"{length} items asked of {len(self.paths)} images")
        self.length = length

    def __len__(self) -> int:
        return len(self.paths) if self.length is None else self.length

    def __getitem__(self, key: int | SampleKey) -> dict:
        index, rng = training_rng(key)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside {len(self)} images")
        path = self.paths[index if self.length is None else int(rng.integers(len(self.paths)))]
        img = read_image(path)
        if self.augment is not None:
            img, _ = seeded_augment(self.augment, rng)(img)
        else:
            img = center_crop(img, self.crop)
        return {"lq": to_tensor(img), "name": path.stem}


class UnpairedImageDataModule(ImageDataModule):
    """Folders of low-light images without references (e.g. SICE, LIME, DICM).

    `root` is split into train/val/test by `split` unless `val_dir` / `test_dir` are given
    (e.g. train on SICE, validate on part of it, test on LIME).

    Args:
        augment: training augmentation; its `crop_size` is the training crop (Zero-DCE: 256).
        eval_crop: centre crop for validation/test images (None = whole images).
        val_samples, test_samples: use at most this many validation / test images.
        max_images: use at most this many images of `root` (the first by name).
        train_samples: training images per epoch, each drawn at random from the training
            split (None: every training image once), e.g. to set an unpaired source's share
            beside paired ones in `MixedPairsDataModule`.
    """

    def __init__(
        self,
        root: str | None = None,
        val_dir: str | None = None,
        test_dir: str | None = None,
        augment: PairAugment | None = None,
        eval_crop: int | None = None,
        val_samples: int | None = None,
        test_samples: int | None = None,
        split: Sequence[float] = (0.7, 0.2, 0.1),
        split_seed: int = 0,
        max_images: int | None = None,
        train_samples: int | None = None,
        skip_invalid: bool = False,
        batch_size: int = 8,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        color_space: str = "rgb",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, color_space)
        if root is None:
            raise ValueError("set data.root to a folder of low-light images")
        self.root = Path(root)
        self.val_dir = Path(val_dir) if val_dir else None
        self.test_dir = Path(test_dir) if test_dir else None
        self.augment = augment
        self.eval_crop = eval_crop
        self.limits = {"val": val_samples, "test": test_samples}
        self.split = check_ratios(split)
        self.split_seed = split_seed
        self.max_images = max_images
        if train_samples is not None and train_samples < 1:
            raise ValueError(f"data.train_samples must be >= 1 or null, got {train_samples}")
        self.train_samples = train_samples
        self.skip_invalid = skip_invalid
        self.paths: dict[str, list[Path]] = {}

    def _checked(self, paths: list[Path], min_side: int | None) -> list[Path]:
        if not paths:
            return []
        # Each image as a pair without an input: the header checks (readable, big enough).
        return [p for _, p in check_pairs([(None, p) for p in paths], min_side, self.skip_invalid)]

    def setup(self, stage: str | None = None) -> None:
        if self.paths:
            return
        train = list_images(self.root)[: self.max_images]
        folders = {"val": self.val_dir, "test": self.test_dir}
        given = {k: list_images(d) for k, d in folders.items() if d}
        splits = fill_splits(train, given, self.split, self.split_seed)
        splits = {k: v[: self.limits.get(k)] for k, v in splits.items()}
        train_crop = self.augment.min_side if self.augment else None
        crops = {"train": train_crop, "val": self.eval_crop, "test": self.eval_crop}
        self.paths = {k: self._checked(v, crops[k]) for k, v in splits.items()}
        if not self.paths["val"]:
            raise ValueError("no validation images: give data.val_dir or a positive val fraction")
        log.info(
            "unpaired data: %d train, %d val, %d test images",
            *(len(self.paths[s]) for s in ("train", "val", "test")),
        )
        if self.train_samples is not None and not self.paths["train"]:
            raise ValueError(f"data.train_samples={self.train_samples} but no training images")
        self.train_set = ImageFolderDataset(
            self.paths["train"], augment=self.augment, length=self.train_samples
        )
        self.val_set = ImageFolderDataset(self.paths["val"], crop=self.eval_crop)
        self.test_set = ImageFolderDataset(self.paths["test"], crop=self.eval_crop)

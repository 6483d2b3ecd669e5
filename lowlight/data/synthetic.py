"""Low/normal-light pairs synthesized from real photos: the suite's embedded default data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lowlight.data.base import ImageDataModule
from lowlight.data.datasets import SyntheticPairDataset
from lowlight.data.degrade import LowLightDegradation
from lowlight.data.io import ImageReadError, image_size, list_images
from lowlight.data.pairs import check_ratios, split_items
from lowlight.data.transforms import PairAugment

log = logging.getLogger(__name__)

# Natural colour photographs shipped inside the scikit-image wheel (no download at run
# time). Left out: motorcycle_right (the stereo twin of motorcycle_left, which would leak
# across splits), and the synthetic, astronomical and medical images.
BUNDLED_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "ihc.png",
)

# Caching decoded photos pays for a handful of them, not for a folder of thousands.
CACHE_LIMIT = 100


def bundled_photos() -> list[Path]:
    """Paths of the photos scikit-image installs with itself."""
    import skimage.data

    root = Path(skimage.data.__file__).parent
    paths = [root / name for name in BUNDLED_PHOTOS]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"scikit-image's bundled photos are missing ({missing[0]}); reinstall scikit-image "
            "or set data.source_dir to a folder of normal-light photos"
        )
    return paths


class SyntheticLowLightDataModule(ImageDataModule):
    """Paired low/normal-light crops synthesized on the fly from normal-light photos.

    The photos (scikit-image's bundled ones, or `source_dir`) are split into
    train/val/test by `split` and `seed`, so test pairs come from photos never seen in
    training. Train pairs are drawn afresh every epoch; val and test pairs are fixed.

    Args:
        source_dir: folder of normal-light photos; None uses the bundled photos.
        augment: training augmentation; its `crop_size` is the training crop.
        eval_crop: side of the validation/test crops.
        train_samples: pairs per training epoch.
        max_photos: use at most this many photos of `source_dir` (the first by name).
    """

    def __init__(
        self,
        degradation: LowLightDegradation,
        augment: PairAugment,
        source_dir: str | None = None,
        eval_crop: int = 128,
        train_samples: int = 1024,
        val_samples: int = 64,
        test_samples: int = 128,
        split: Sequence[float] = (0.7, 0.2, 0.1),
        seed: int = 0,
        max_photos: int | None = None,
        skip_invalid: bool = False,
        batch_size: int = 8,
        eval_batch_size: int = 16,
        num_workers: int = 0,
        color_space: str = "rgb",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, color_space)
        if augment.crop_size is None:
            raise ValueError("data.augment.crop_size must be set for synthetic pairs")
        for key, value in (
            ("train_samples", train_samples),
            ("val_samples", val_samples),
            ("test_samples", test_samples),
            ("eval_crop", eval_crop),
        ):
            if value < 1:
                raise ValueError(f"data.{key} must be >= 1, got {value}")
        self.degradation = degradation
        self.augment = augment
        self.source_dir = Path(source_dir) if source_dir else None
        self.eval_crop = eval_crop
        self.samples = {"train": train_samples, "val": val_samples, "test": test_samples}
        self.split = check_ratios(split)
        self.seed = seed
        self.max_photos = max_photos
        self.skip_invalid = skip_invalid
        self.photos: dict[str, list[Path]] = {}

    def _usable(self, photos: list[Path]) -> list[Path]:
        need = max(self.augment.crop_size or 0, self.eval_crop)
        good = []
        for p in photos:
            try:
                h, w = image_size(p)
                if min(h, w) < need:
                    raise ImageReadError(f"{p} is {h}x{w}, smaller than the crop size {need}")
            except ImageReadError as e:
                if not self.skip_invalid:
                    raise ImageReadError(f"{e} (set data.skip_invalid=true to leave it out)") from e
                log.warning("leaving out a photo: %s", e)
                continue
            good.append(p)
        return good

    def setup(self, stage: str | None = None) -> None:
        if self.photos:
            return
        photos = list_images(self.source_dir) if self.source_dir else bundled_photos()
        if self.max_photos is not None:
            photos = photos[: self.max_photos]
        photos = self._usable(photos)
        if len(photos) < 3:
            raise ValueError(
                f"need at least 3 photos to split into train/val/test, found {len(photos)} "
                f"in {self.source_dir or 'the bundled photos'}"
            )
        train, val, test = split_items(photos, self.split, self.seed)
        self.photos = {"train": train, "val": val, "test": test}
        log.info(
            "synthetic low-light pairs from %d/%d/%d train/val/test photos",
            len(train),
            len(val),
            len(test),
        )
        cache = len(photos) <= CACHE_LIMIT
        common = {"degradation": self.degradation, "cache": cache}
        self.train_set = SyntheticPairDataset(
            train,
            length=self.samples["train"],
            crop_size=self.augment.crop_size,
            augment=self.augment,
            **common,
        )
        self.val_set = SyntheticPairDataset(
            val, length=self.samples["val"], crop_size=self.eval_crop, seed=self.seed + 1, **common
        )
        self.test_set = SyntheticPairDataset(
            test,
            length=self.samples["test"],
            crop_size=self.eval_crop,
            seed=self.seed + 2,
            **common,
        )

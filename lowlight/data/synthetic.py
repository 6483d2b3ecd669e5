"""Low/normal-light pairs synthesized from real photos: the suite's embedded default data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lowlight.data.base import ImageDataModule
from lowlight.data.datasets import Region, SyntheticPairDataset
from lowlight.data.degrade import LowLightDegradation
from lowlight.data.io import ImageReadError, image_size, list_images
from lowlight.data.pairs import check_ratios, split_items
from lowlight.data.transforms import PairAugment

log = logging.getLogger(__name__)

# Natural colour photographs shipped inside the scikit-image wheel (no download at run
# time). Left out: motorcycle_right (the stereo twin of motorcycle_left, which would leak
# across splits), the grey textures, and the synthetic, astronomical and medical images
# (ihc.png is a microscopy slide, retina.jpg a fundus photo).
BUNDLED_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
)
SPLITS_BY = ("auto", "photos", "regions")
# With fewer photos than this, `split_by: auto` holds out regions of every photo: a split by
# photo would test on one or two photos.
REGION_SPLIT_BELOW = 20

# Caching decoded photos pays for a handful of them, not for a folder of thousands.
CACHE_LIMIT = 100


def split_regions(
    path: Path, height: int, width: int, ratios: Sequence[float], eval_crop: int, train_crop: int
) -> dict[str, Region]:
    """Train / val / test bands of one photo, side by side along its longer side: val and
    test get their share of it but at least `eval_crop` pixels, train the rest (at least
    `train_crop`). The val band lies between the other two, so no training crop touches a
    test pixel's neighbourhood."""
    length = max(height, width)
    sizes = [max(eval_crop, round(r * length)) if r > 0 else 0 for r in ratios[1:]]
    train = length - sum(sizes)
    if min(height, width) < eval_crop or train < train_crop:
        raise ImageReadError(
            f"{path} is {height}x{width}: too small to hold out val/test bands of "
            f"{eval_crop} px (data.eval_crop) and keep {train_crop} px to train on; "
            "use data.split_by=photos or smaller crops"
        )
    cuts = np.cumsum([0, train, *sizes])
    regions = {}
    for name, a, b in zip(("train", "val", "test"), cuts[:-1], cuts[1:], strict=True):
        if b > a:
            box = (0, a, height, b) if width >= height else (a, 0, b, width)
            regions[name] = Region(path, *map(int, box))
    return regions


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

    The photos (scikit-image's bundled ones, or `source_dir`) are split into train/val/test
    by `split`: whole photos (`split_by: photos`, shuffled with `seed`), so that test pairs
    come from photos never seen in training; or, for a handful of photos, regions of every
    photo (`split_by: regions`, see `split_regions`), so that validation and test cover every
    photo rather than one or two. `auto` (the default) picks regions below
    REGION_SPLIT_BELOW photos, unless a photo is too small for the bands at these crop
    sizes (Zero-DCE's 256 px crops of the bundled photos): then whole photos. Train pairs
    are drawn afresh every epoch; val and test pairs are fixed and go through the photos in
    turn.

    Args:
        source_dir: folder of normal-light photos; None uses the bundled photos.
        augment: training augmentation; its `crop_size` is the training crop.
        eval_crop: side of the validation/test crops.
        train_samples: pairs per training epoch.
        max_photos: use at most this many photos of `source_dir` (the first by name).
        split_by: auto, photos or regions (see above).
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
        split_by: str = "auto",
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
        if split_by not in SPLITS_BY:
            raise ValueError(
                f"data.split_by must be one of {', '.join(SPLITS_BY)}, got {split_by!r}"
            )
        self.split_by = split_by
        self.seed = seed
        self.max_photos = max_photos
        self.skip_invalid = skip_invalid
        self.photos: dict[str, list] = {}

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
        by = self.split_by
        if by == "auto" and len(photos) >= REGION_SPLIT_BELOW:
            by = "photos"
        bands = []
        if by in ("auto", "regions"):
            crops = (self.eval_crop, self.augment.crop_size)
            try:
                for path in photos:
                    h, w = image_size(path)
                    bands.append(split_regions(path, h, w, self.split, *crops))
                by = "regions"
            except ImageReadError as e:
                if by == "regions" or len(photos) < 3:
                    raise
                # auto: photos too small for bands at these crop sizes (e.g. Zero-DCE's
                # 256 px): hold out whole photos instead
                log.info("data.split_by=auto: splitting by photos, as %s", e)
                by = "photos"
        if by == "regions":
            if not photos:
                raise ValueError(f"no usable photos in {self.source_dir or 'the bundled photos'}")
            self.photos = {"train": [], "val": [], "test": []}
            for photo in bands:
                for name, region in photo.items():
                    self.photos[name].append(region)
            train, val, test = self.photos["train"], self.photos["val"], self.photos["test"]
            log.info(
                "synthetic low-light pairs from regions of %d photos: train/val/test bands of "
                "every photo",
                len(photos),
            )
        else:
            if len(photos) < 3:
                raise ValueError(
                    f"need at least 3 photos to split into train/val/test, found {len(photos)} "
                    f"in {self.source_dir or 'the bundled photos'} (data.split_by=regions "
                    "holds out regions of each photo instead)"
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

"""Super-resolution data: LR/HR folders, benchmark sets (Set5 layout), LR made on the fly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from lowlight.data.base import ImageDataModule
from lowlight.data.datasets import ImageCache, to_tensor, training_rng
from lowlight.data.io import list_images, to_uint
from lowlight.data.pairs import check_pairs, check_ratios, check_sizes, fill_splits, find_pairs
from lowlight.data.sampling import SampleKey, split_key
from lowlight.data.synthetic import CACHE_LIMIT, bundled_photos
from lowlight.ops.imresize import imresize

log = logging.getLogger(__name__)

SR_DEGRADATIONS = ("bicubic", "avgpool_upsample")


def _optional_range(name: str, value: Sequence[float] | None, low: float, high: float):
    if value is None:
        return None
    if len(value) != 2 or not (low <= value[0] <= value[1] <= high):
        raise ValueError(
            f"degradation.{name} must be null or [min, max] within [{low}, {high}], got {value}"
        )
    return float(value[0]), float(value[1])


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop H and W down to multiples of `scale` (how SR benchmarks pair HR with LR)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def benchmark_dirs(root: Path, scale: int) -> tuple[Path, Path]:
    """(HR folder, LR folder) of an SR test set in the benchmark layout
    `NAME/{HR,LR_x2,LR_x3,LR_x4}`; a folder without `HR/` is itself the HR folder. The LR
    folder need not exist (then LR is made from HR)."""
    hr_dir = root / "HR" if (root / "HR").is_dir() else root
    return hr_dir, root / f"LR_x{scale}"


def selfexsr_pairs(root: Path, scale: int) -> list[tuple[str, Path, Path]] | None:
    """(name, LR, HR) items of a benchmark in the layout of the widely shared SelfExSR copies
    (Huang et al., 2015): `root/image_SRF_<scale>/img_NNN_SRF_<scale>_{HR,LR}.png`, or
    `root` itself being `image_SRF_<scale>`. None when `root` is not in that layout; an HR
    file without its LR partner (or the reverse) is an error naming it."""
    folder = root if root.name == f"image_SRF_{scale}" else root / f"image_SRF_{scale}"
    if not folder.is_dir():
        return None
    tag = f"_SRF_{scale}_"
    hr = {p.name.removesuffix(p.suffix): p for p in folder.iterdir() if f"{tag}HR" in p.name}
    lr = {p.name.removesuffix(p.suffix): p for p in folder.iterdir() if f"{tag}LR" in p.name}
    items = []
    for key in sorted(hr):
        partner = key.replace(f"{tag}HR", f"{tag}LR")
        if partner not in lr:
            raise ValueError(f"{hr[key]} has no LR partner {partner}.* in {folder}")
        items.append((key.split(tag)[0], lr.pop(partner), hr[key]))
    if lr:
        raise ValueError(f"{next(iter(lr.values()))} has no HR partner in {folder}")
    if not items:
        raise FileNotFoundError(f"{folder}: no *{tag}HR.* images")
    return items


class SRDegradation:
    """HR -> LR, optionally with blur before and noise / JPEG after the downscale.

    - `bicubic`: MATLAB-compatible bicubic downscale by `scale` on 8-bit values, exactly how
      Set5/Set14 LR files are made (LR is `scale` times smaller).
    - `avgpool_upsample`: the brief's scheme: average-pool by `scale`, then bilinear back to
      the original size (LR has the HR size; use a size-keeping generator).

    Args:
        blur_sigma: range of a Gaussian blur's sigma (HR pixels), or null for none.
        noise_sigma: range of added Gaussian noise's std (fraction of full scale), or null.
        jpeg_quality: range of JPEG qualities applied last, or null.
    """

    def __init__(
        self,
        kind: str = "bicubic",
        scale: int = 4,
        blur_sigma: Sequence[float] | None = None,
        noise_sigma: Sequence[float] | None = None,
        jpeg_quality: Sequence[float] | None = None,
    ) -> None:
        if kind not in SR_DEGRADATIONS:
            raise ValueError(f"degradation.kind must be one of {SR_DEGRADATIONS}, got {kind!r}")
        if scale < 1:
            raise ValueError(f"degradation.scale must be >= 1, got {scale}")
        self.kind = kind
        self.scale = int(scale)
        self.blur_sigma = _optional_range("blur_sigma", blur_sigma, 0.0, 50.0)
        self.noise_sigma = _optional_range("noise_sigma", noise_sigma, 0.0, 1.0)
        self.jpeg_quality = _optional_range("jpeg_quality", jpeg_quality, 1, 100)

    @property
    def same_size(self) -> bool:
        return self.kind == "avgpool_upsample"

    @property
    def plain_bicubic(self) -> bool:
        """True when this is exactly how benchmark LR files are made (so they can be used)."""
        return self.kind == "bicubic" and not (
            self.blur_sigma or self.noise_sigma or self.jpeg_quality
        )

    def __call__(self, hr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`hr`: HxWx3 float in [0, 1], H and W multiples of `scale`. Returns LR float32."""
        img = hr
        if self.blur_sigma:
            sigma = rng.uniform(*self.blur_sigma)
            if sigma > 0:
                img = cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
        if self.kind == "bicubic":
            lr = imresize(to_uint(img), 1 / self.scale).astype(np.float32) / 255.0
        else:
            x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float()
            x = F.avg_pool2d(x, self.scale)
            x = F.interpolate(x, size=img.shape[:2], mode="bilinear", align_corners=False)
            lr = x[0].permute(1, 2, 0).numpy()
        if self.noise_sigma:
            lr = lr + rng.normal(0.0, rng.uniform(*self.noise_sigma), size=lr.shape)
        if self.jpeg_quality:
            quality = int(rng.integers(int(self.jpeg_quality[0]), int(self.jpeg_quality[1]) + 1))
            ok, buf = cv2.imencode(
                ".jpg", to_uint(lr)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]
            )
            lr = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
        # Like a saved LR file: 8-bit values.
        return (np.round(np.clip(lr, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def _flip_rotate(arrays: list[np.ndarray], rng: np.random.Generator, probs: tuple) -> list:
    # By hand rather than albumentations: LR and HR differ in size, so one albumentations
    # call cannot transform both, and these three operations are exact on any size.
    hflip, vflip, rot90 = probs
    if rng.random() < hflip:
        arrays = [a[:, ::-1] for a in arrays]
    if rng.random() < vflip:
        arrays = [a[::-1] for a in arrays]
    if rng.random() < rot90:
        arrays = [np.rot90(a) for a in arrays]
    return arrays


class SRDataset(Dataset):
    """(LR, HR) items from files, or LR made from HR by `degradation`.

    Training (`crop_size` set): an HR crop of `crop_size` and the LR crop at the matching
    place, flipped/rotated together; `length` random crops per epoch (default: one per
    image). Evaluation (`crop_size` None): whole images, HR cropped to a multiple of `scale`,
    and LR made with a fixed seed per image so the set is the same on every run.
    """

    def __init__(
        self,
        items: Sequence[tuple[Path | None, Path]],
        scale: int,
        degradation: SRDegradation | None = None,
        crop_size: int | None = None,
        flips: tuple[float, float, float] = (0.5, 0.5, 0.5),
        length: int | None = None,
        seed: int = 0,
        cache: bool = False,
        names: Sequence[str] | None = None,
        eval_crop: int | None = None,
    ) -> None:
        if names is not None and len(names) != len(items):
            raise ValueError(f"{len(names)} names for {len(items)} SR items")
        if crop_size is not None and crop_size % scale:
            raise ValueError(
                f"data.crop_size ({crop_size}) must be a multiple of the scale {scale}"
            )
        if degradation is None and any(lr is None for lr, _ in items):
            raise ValueError("HR images without LR files need data.degradation")
        self.items = list(items)
        self.scale = scale
        self.degradation = degradation
        self.crop_size = crop_size
        self.flips = tuple(flips)
        self.length = length
        self.seed = seed
        self.names = list(names) if names is not None else [hr.stem for _, hr in self.items]
        self._load = ImageCache(cache)
        # evaluation: the HR centre crop of this side (snapped down to the scale), None: whole
        self.eval_crop = None if eval_crop is None else max(scale, eval_crop // scale * scale)

    def __len__(self) -> int:
        return self.length if self.length is not None else len(self.items)

    def __getitem__(self, key: int | SampleKey) -> dict:
        train = self.crop_size is not None
        if train:
            index, rng = training_rng(key)
            item = int(rng.integers(len(self.items))) if self.length is not None else index
        else:
            index = split_key(key)[0]
            rng = np.random.default_rng([self.seed, index])
            item = index
        lr_path, hr_path = self.items[item]
        hr = modcrop(self._load(hr_path), self.scale)
        lr = self._load(lr_path) if lr_path is not None else None
        if lr is not None:
            check_sizes(lr_path, lr.shape, hr_path, hr.shape, self.scale)
        if train:
            size = self.crop_size
            top = int(rng.integers(0, (hr.shape[0] - size) // self.scale + 1)) * self.scale
            left = int(rng.integers(0, (hr.shape[1] - size) // self.scale + 1)) * self.scale
            hr = hr[top : top + size, left : left + size]
            if lr is not None:  # LR files are exactly 1/scale (check_sizes)
                t, l_, s = top // self.scale, left // self.scale, size // self.scale
                lr = lr[t : t + s, l_ : l_ + s]
            hr, *rest = _flip_rotate([hr] + ([lr] if lr is not None else []), rng, self.flips)
            lr = rest[0] if rest else None
        elif self.eval_crop is not None:
            hr, lr = _centre_crop(hr, lr, self.eval_crop, self.scale)
        if lr is None:
            lr = self.degradation(np.ascontiguousarray(hr), rng)  # type: ignore[misc]
        return {"lq": to_tensor(lr), "gt": to_tensor(hr), "name": self.names[item]}


def _centre_crop(hr: np.ndarray, lr: np.ndarray | None, size: int, scale: int):
    """The HR centre crop of `size` (at most the image) on the scale's grid, and LR's match."""
    h, w = min(size, hr.shape[0]), min(size, hr.shape[1])
    top = (hr.shape[0] - h) // 2 // scale * scale
    left = (hr.shape[1] - w) // 2 // scale * scale
    hr = hr[top : top + h, left : left + w]
    if lr is not None:
        t, l_ = top // scale, left // scale
        lr = lr[t : t + h // scale, l_ : l_ + w // scale]
    return hr, lr


class SRDataModule(ImageDataModule):
    """Super-resolution pairs: LR + HR folders, or HR only with LR made on the fly.

    `hr_dir` (default: the photos bundled with scikit-image) is split into train/val/test by
    `split` unless `val_dir` / `test_dir` are given. Those (and `lr_dir` pairs) follow the
    benchmark layout `NAME/{HR,LR_x2,LR_x3,LR_x4}`: their LR files are used when they exist
    and the degradation is plain bicubic (how they were made); otherwise LR is made from HR
    with a fixed seed.

    Args:
        scale: the upscaling factor (x2/x3/x4); also the border shaved for metrics.
        lr_dir: LR images with the HR file names, `scale` times smaller (paired training).
        crop_size: HR training crop (a multiple of `scale`).
        train_samples: random crops per epoch; None = one crop per training image.
        eval_crop: HR centre crop of validation and test images (None: whole images).
        val_samples, test_samples: use at most this many validation / test images.
    """

    def __init__(
        self,
        scale: int = 4,
        hr_dir: str | None = None,
        lr_dir: str | None = None,
        degradation: SRDegradation | None = None,
        val_dir: str | None = None,
        test_dir: str | None = None,
        crop_size: int = 128,
        hflip: float = 0.5,
        vflip: float = 0.5,
        rot90: float = 0.5,
        train_samples: int | None = None,
        eval_crop: int | None = None,
        val_samples: int | None = None,
        test_samples: int | None = None,
        split: Sequence[float] = (0.7, 0.2, 0.1),
        split_seed: int = 0,
        max_images: int | None = None,
        skip_invalid: bool = False,
        batch_size: int = 16,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        color_space: str = "rgb",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, color_space)
        if scale not in (1, 2, 3, 4, 8):
            raise ValueError(f"data.scale must be one of 1, 2, 3, 4, 8, got {scale}")
        if degradation is not None and degradation.scale != scale:
            raise ValueError(
                f"data.degradation.scale ({degradation.scale}) must equal data.scale ({scale})"
            )
        if lr_dir is None and degradation is None:
            raise ValueError(
                "set data.lr_dir (paired LR files) or data.degradation (LR on the fly)"
            )
        for key, p in (("hflip", hflip), ("vflip", vflip), ("rot90", rot90)):
            if not 0 <= p <= 1:
                raise ValueError(f"data.{key} must be a probability in [0, 1], got {p}")
        if crop_size % scale:
            raise ValueError(
                f"data.crop_size ({crop_size}) must be a multiple of data.scale ({scale})"
            )
        self.scale = scale
        self.hr_dir = Path(hr_dir) if hr_dir else None
        self.lr_dir = Path(lr_dir) if lr_dir else None
        self.degradation = degradation
        self.val_dir = Path(val_dir) if val_dir else None
        self.test_dir = Path(test_dir) if test_dir else None
        self.crop_size = crop_size
        self.flips = (hflip, vflip, rot90)
        self.train_samples = train_samples
        self.eval_crop = eval_crop
        self.limits = {"val": val_samples, "test": test_samples}
        self.split = check_ratios(split)
        self.split_seed = split_seed
        self.max_images = max_images
        self.skip_invalid = skip_invalid
        self.items: dict[str, list] = {}

    @property
    def same_size(self) -> bool:
        """Whether LR inputs have the HR size (the avgpool_upsample scheme)."""
        return self.degradation is not None and self.degradation.same_size

    def _train_items(self) -> list:
        if self.lr_dir is not None:
            if self.hr_dir is None:
                raise ValueError("data.lr_dir needs data.hr_dir")
            return find_pairs(self.lr_dir, self.hr_dir, skip_unpaired=self.skip_invalid)
        hr = list_images(self.hr_dir) if self.hr_dir else bundled_photos()
        return [(None, p) for p in hr]

    def _benchmark_items(self, root: Path) -> list:
        """Items of a folder in the benchmark layout (HR/ + LR_x<scale>/) or of plain HR images."""
        hr_dir, lr_dir = benchmark_dirs(root, self.scale)
        use_files = lr_dir.is_dir() and (self.degradation is None or self.degradation.plain_bicubic)
        if use_files:
            return find_pairs(lr_dir, hr_dir, skip_unpaired=self.skip_invalid)
        return [(None, p) for p in list_images(hr_dir)]

    def setup(self, stage: str | None = None) -> None:
        if self.items:
            return
        train = self._train_items()
        if self.max_images is not None:
            train = train[: self.max_images]
        given = {
            k: self._benchmark_items(d)
            for k, d in (("val", self.val_dir), ("test", self.test_dir))
            if d
        }
        splits = fill_splits(train, given, self.split, self.split_seed)
        splits = {k: v[: self.limits.get(k)] for k, v in splits.items()}
        scale = 1 if self.same_size else self.scale
        crops = {"train": self.crop_size, "val": None, "test": None}
        self.items = {
            k: check_pairs(v, crops[k], self.skip_invalid, scale) if v else []
            for k, v in splits.items()
        }
        if not self.items["val"]:
            raise ValueError("no validation images: give data.val_dir or a positive val fraction")
        log.info(
            "SR data x%d: %d train, %d val, %d test images",
            self.scale,
            *(len(self.items[s]) for s in ("train", "val", "test")),
        )
        common = {"scale": self.scale, "degradation": self.degradation}
        self.train_set = SRDataset(
            self.items["train"],
            crop_size=self.crop_size,
            flips=self.flips,
            length=self.train_samples,
            cache=len(self.items["train"]) <= CACHE_LIMIT,
            **common,
        )
        common["eval_crop"] = self.eval_crop
        self.val_set = SRDataset(self.items["val"], seed=self.split_seed + 1, **common)
        self.test_set = SRDataset(self.items["test"], seed=self.split_seed + 2, **common)

"""What `lowlight-evaluate` scores: a dataset recognised from its layout, read through the
data package's evaluation datasets (one loading path for training and evaluation)."""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from lowlight.data.datasets import PairedImageDataset
from lowlight.data.io import list_images
from lowlight.data.paired import LOL_TEST
from lowlight.data.pairs import find_pairs
from lowlight.data.sr import SRDataset, SRDegradation, benchmark_dirs, selfexsr_pairs
from lowlight.data.unpaired import ImageFolderDataset


@dataclass
class Sample:
    name: str
    lq: torch.Tensor  # (3, h, w) input
    gt: torch.Tensor | None  # (3, H, W) reference, or None (unpaired)


@dataclass
class Dataset:
    kind: str  # "lle", "sr" (LR smaller), "sr_same" (LR upsampled to HR size), "unpaired"
    description: str
    items: list  # (name, lq path or None, gt path or None)
    scale: int = 1
    degradation: SRDegradation | None = None
    benchmark: str | None = None  # a test set with published rows (evaluate.published)

    @functools.cached_property
    def source(self) -> torch.utils.data.Dataset:
        """The items as the data package's evaluation dataset, the one the DataModules'
        val/test sets use (whole images; SR: HR cropped to a multiple of the scale, LR files
        checked against it or LR made from HR): one loading path for training and evaluate."""
        names = [name for name, _, _ in self.items]
        if self.kind in ("sr", "sr_same"):
            pairs = [(lq, gt) for _, lq, gt in self.items]
            return SRDataset(pairs, self.scale, self.degradation, names=names)
        if self.kind == "unpaired":
            return ImageFolderDataset([lq for _, lq, _ in self.items])
        return PairedImageDataset([(lq, gt) for _, lq, gt in self.items])

    def load(self, index: int) -> Sample:
        sample = self.source[index]
        return Sample(self.items[index][0], sample["lq"], sample.get("gt"))


def resolve_dataset(args: argparse.Namespace, data: str | None = None) -> Dataset:
    """The dataset from `data` (one --data folder, recognised by its layout) or
    --low/--high or --hr/--lr."""
    if args.low or args.high:
        if not (args.low and args.high):
            raise ValueError("--low and --high go together")
        pairs = find_pairs(args.low, args.high)
        return Dataset("lle", f"pairs {args.low} -> {args.high}", _named(pairs))
    if args.hr or args.scale:
        if not args.scale:
            raise ValueError("super-resolution needs --scale (2, 3 or 4)")
        root = Path(args.hr or data or "")
        pairs = selfexsr_pairs(root, args.scale)
        if pairs is not None:
            return Dataset("sr", f"{root} (SelfExSR layout)", pairs, args.scale)
        hr_dir, lr_dir = benchmark_dirs(root, args.scale)
        lr_dir = Path(args.lr) if args.lr else lr_dir
        if args.degradation is None and lr_dir.is_dir():
            pairs = find_pairs(lr_dir, hr_dir)
            return Dataset("sr", f"{hr_dir} with LR files {lr_dir}", _named(pairs), args.scale)
        kind = args.degradation or "bicubic"
        items = [(p.stem, None, p) for p in list_images(hr_dir)]
        return Dataset(
            "sr" if kind == "bicubic" else "sr_same",  # avgpool_upsample keeps the HR size
            f"{hr_dir}, LR by {kind} x{args.scale}",
            items,
            args.scale,
            SRDegradation(kind, args.scale),
        )
    if not data:
        raise ValueError("give a dataset: --data DIR, --low/--high, or --hr with --scale")
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"--data {root}: no such folder")
    for sub in (LOL_TEST, "."):  # LOL: its test split; else low/ + high/ in the folder
        if (root / sub / "low").is_dir() and (root / sub / "high").is_dir():
            folder = (root / sub).resolve()
            pairs = find_pairs(folder / "low", folder / "high")
            lol = "lol_eval15" if folder.name == LOL_TEST else None
            return Dataset("lle", f"{folder} low -> high", _named(pairs), benchmark=lol)
    if (root / "HR").is_dir():
        raise ValueError(f"--data {root} holds HR/: super-resolution data, pass --scale 2|3|4")
    images = list_images(root)
    if not images:
        raise FileNotFoundError(f"--data {root}: no images, low/+high/, eval15/ or HR/ inside")
    return Dataset("unpaired", f"{root} (no ground truth)", [(p.stem, p, None) for p in images])


def _named(pairs) -> list:
    return [(lq.stem, lq, gt) for lq, gt in pairs]


class _Loading(torch.utils.data.Dataset):
    """The dataset's samples for a DataLoader: a sample, or the reason it could not be read."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset.items)

    def __getitem__(self, i: int):
        item = self.dataset.items[i]
        try:
            return item, self.dataset.load(i)
        except (OSError, ValueError) as e:
            return item, str(e)


def _as_is(sample):
    return sample


def samples(dataset: Dataset, workers: int):
    """(item, Sample or error text) in order, read ahead by `workers` processes."""
    loader = torch.utils.data.DataLoader(
        _Loading(dataset),
        batch_size=None,
        num_workers=workers if len(dataset.items) > 1 else 0,
        collate_fn=_as_is,
        prefetch_factor=2 if workers > 0 and len(dataset.items) > 1 else None,
    )
    yield from loader

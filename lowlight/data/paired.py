"""Paired low/normal-light folders: `low/` + `high/`, the LOL layout, or explicit split folders."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lowlight.data.base import ImageDataModule
from lowlight.data.datasets import PairedImageDataset
from lowlight.data.pairs import (
    Pair,
    check_pairs,
    check_ratios,
    fill_splits,
    find_pairs,
    number_blocks,
)
from lowlight.data.transforms import PairAugment

log = logging.getLogger(__name__)

# LOL (Wei et al., BMVC 2018): our485/{low,high} for training, eval15/{low,high} for test.
LOL_TRAIN, LOL_TEST = "our485", "eval15"


class PairedImageDataModule(ImageDataModule):
    """Paired images matched by file stem, split into train/val/test.

    Where the data come from, first match wins:
    - `train_dir` (and optionally `val_dir`, `test_dir`), each holding `lq_dirname/` and
      `gt_dirname/`;
    - `root` in the LOL layout (`our485/` for train+val, `eval15/` for test);
    - `root` holding `lq_dirname/` and `gt_dirname/` directly.
    A split without its own folder is cut from the training folder by `split` (fractions
    train/val/test; renormalized over the parts being cut), seeded by `split_seed`.

    Args:
        split_by: `random` (pair by pair) or `blocks`: whole blocks of `block_size`
            consecutive file numbers go to one split. LOL's neighbouring numbers often show
            one scene at another exposure; a random split would validate on scenes it trains on.
        pool_test: LOL layout only: put `eval15/` with `our485/` and cut all three splits
            from the pool by `split` (the original LLE GAN study's 70/20/10 of all pairs).
        val_samples, test_samples: use at most this many validation / test pairs.
        cache: decode every image once at setup and keep it in memory (uint8; LOL's 485
            pairs take 0.7 GB), instead of decoding each training crop's pair again.
        augment: training augmentation (crop, flips, ...); None trains on whole images.
        eval_crop: centre crop for validation/test images (None = whole images).
        skip_invalid: leave out unpaired, unreadable or too-small images with a warning
            instead of stopping with an error.
    """

    def __init__(
        self,
        root: str | None = None,
        train_dir: str | None = None,
        val_dir: str | None = None,
        test_dir: str | None = None,
        lq_dirname: str = "low",
        gt_dirname: str = "high",
        split: Sequence[float] = (0.7, 0.2, 0.1),
        split_seed: int = 0,
        split_by: str = "random",
        block_size: int = 20,
        pool_test: bool = False,
        cache: bool = False,
        augment: PairAugment | None = None,
        eval_crop: int | None = None,
        val_samples: int | None = None,
        test_samples: int | None = None,
        skip_invalid: bool = False,
        batch_size: int = 8,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        color_space: str = "rgb",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, color_space)
        if root is None and train_dir is None:
            raise ValueError("set data.root (a folder of pairs or LOL) or data.train_dir")
        self.root = Path(root) if root else None
        self.dirs = {
            "train": Path(train_dir) if train_dir else None,
            "val": Path(val_dir) if val_dir else None,
            "test": Path(test_dir) if test_dir else None,
        }
        self.lq_dirname, self.gt_dirname = lq_dirname, gt_dirname
        self.split = check_ratios(split)
        self.split_seed = split_seed
        if split_by not in ("random", "blocks"):
            raise ValueError(f"data.split_by must be 'random' or 'blocks', got {split_by!r}")
        if block_size < 1:
            raise ValueError(f"data.block_size must be >= 1, got {block_size}")
        self.split_by, self.block_size = split_by, block_size
        self.pool_test = pool_test
        self.cache = cache
        self.augment = augment
        self.eval_crop = eval_crop
        self.limits = {"val": val_samples, "test": test_samples}
        self.skip_invalid = skip_invalid
        self.pairs: dict[str, list[Pair]] = {}

    def _layout(self) -> dict[str, Path | None]:
        if self.dirs["train"] is not None:
            return dict(self.dirs)
        assert self.root is not None
        if not self.root.is_dir():
            raise FileNotFoundError(f"data.root not found: {self.root}")
        if (self.root / LOL_TRAIN).is_dir() and (self.root / LOL_TEST).is_dir():
            return {"train": self.root / LOL_TRAIN, "val": None, "test": self.root / LOL_TEST}
        if self.pool_test:
            raise ValueError(
                f"data.pool_test=true needs the LOL layout ({LOL_TRAIN}/ + {LOL_TEST}/) "
                f"in data.root={self.root}"
            )
        if (self.root / self.lq_dirname).is_dir():
            return {"train": self.root, "val": None, "test": None}
        raise FileNotFoundError(
            f"data.root={self.root} holds neither {self.lq_dirname}/ + {self.gt_dirname}/ "
            f"nor the LOL layout {LOL_TRAIN}/ + {LOL_TEST}/"
        )

    def _find(self, folder: Path) -> list[Pair]:
        return find_pairs(
            folder / self.lq_dirname, folder / self.gt_dirname, skip_unpaired=self.skip_invalid
        )

    def resolve_pairs(self) -> dict[str, list[Pair]]:
        """The train/val/test pair lists (deterministic), without reading any pixels."""
        layout = self._layout()
        train = self._find(layout["train"])  # type: ignore[arg-type]
        given = {s: self._find(d) for s in ("val", "test") if (d := layout[s]) is not None}
        if self.pool_test:
            pool = train + given.pop("test")
            names = [lq.stem for lq, _ in pool]
            if len(set(names)) != len(names):
                raise ValueError(
                    f"data.pool_test=true: {LOL_TRAIN}/ and {LOL_TEST}/ share file names; "
                    "pooled pairs must be named apart"
                )
            train = sorted(pool, key=lambda pair: (len(pair[0].stem), pair[0].stem))
        blocks = number_blocks(train, self.block_size) if self.split_by == "blocks" else None
        return fill_splits(train, given, self.split, self.split_seed, blocks)

    def setup(self, stage: str | None = None) -> None:
        if self.pairs:
            return
        pairs = {k: v[: self.limits.get(k)] for k, v in self.resolve_pairs().items()}
        train_crop = self.augment.min_side if self.augment else None
        crops = {"train": train_crop, "val": self.eval_crop, "test": self.eval_crop}
        self.pairs = {
            s: check_pairs(p, crops[s], self.skip_invalid) if p else [] for s, p in pairs.items()
        }
        if not self.pairs["val"]:
            raise ValueError(
                "no validation pairs: give data.val_dir or a positive val fraction in data.split"
            )
        log.info(
            "paired data: %d train, %d val, %d test pairs",
            *(len(self.pairs[s]) for s in ("train", "val", "test")),
        )
        cache = self.cache
        self.train_set = PairedImageDataset(self.pairs["train"], self.augment, cache=cache)
        self.val_set = PairedImageDataset(self.pairs["val"], crop=self.eval_crop, cache=cache)
        self.test_set = PairedImageDataset(self.pairs["test"], crop=self.eval_crop, cache=cache)

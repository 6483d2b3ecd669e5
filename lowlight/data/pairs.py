"""Finding image pairs on disk, checking them, and splitting them into train/val/test."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lowlight.data.io import ImageReadError, image_size, list_images, stems

log = logging.getLogger(__name__)

Pair = tuple[Path, Path]


def _listing(paths: Sequence[Path], limit: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return shown + more


def find_pairs(lq_dir: str | Path, gt_dir: str | Path, skip_unpaired: bool = False) -> list[Pair]:
    """Match the images of two folders by file stem (`low/12.png` <-> `high/12.jpg`).

    An image without a partner is an error naming it, unless `skip_unpaired` is set, in
    which case it is left out with a warning.
    """
    lq = stems(list_images(lq_dir))
    gt = stems(list_images(gt_dir))
    if not lq:
        raise FileNotFoundError(f"no images in {lq_dir}")
    lonely_lq = [lq[s] for s in sorted(lq.keys() - gt.keys())]
    lonely_gt = [gt[s] for s in sorted(gt.keys() - lq.keys())]
    if lonely_lq or lonely_gt:
        parts = []
        if lonely_lq:
            parts.append(
                f"{len(lonely_lq)} image(s) with no partner in {gt_dir}: {_listing(lonely_lq)}"
            )
        if lonely_gt:
            parts.append(
                f"{len(lonely_gt)} image(s) with no partner in {lq_dir}: {_listing(lonely_gt)}"
            )
        msg = "; ".join(parts)
        if not skip_unpaired:
            raise ValueError(
                f"unpaired images: {msg} (set data.skip_invalid=true to leave them out)"
            )
        log.warning("leaving out unpaired images: %s", msg)
    pairs = [(lq[s], gt[s]) for s in sorted(lq.keys() & gt.keys())]
    if not pairs:
        raise ValueError(f"no image in {lq_dir} has a partner with the same name in {gt_dir}")
    return pairs


def check_sizes(
    lq_path: Path, lq_hw: Sequence[int], gt_path: Path, gt_hw: Sequence[int], scale: int = 1
) -> None:
    """An input must be its target's size divided by `scale` (the target may exceed that by
    less than `scale`: SR benchmarks crop it to a multiple); else an error naming both."""
    if (gt_hw[0] // scale, gt_hw[1] // scale) != tuple(lq_hw[:2]):
        what = "sizes differ" if scale == 1 else f"sizes do not match scale {scale}"
        raise ImageReadError(
            f"pair {what}: {lq_path} is {lq_hw[0]}x{lq_hw[1]}, {gt_path} is {gt_hw[0]}x{gt_hw[1]}"
        )


def check_pairs(
    pairs: Sequence[tuple[Path | None, Path]],
    min_side: int | None = None,
    skip_invalid: bool = False,
    scale: int = 1,
) -> list:
    """Read every header and check each (input, target) pair.

    Unreadable files, an input whose size is not the target's divided by `scale` (the target
    may exceed it by less than `scale`: it is cropped to a multiple, as SR benchmarks do), and
    targets smaller than `min_side` are errors naming the file, or with `skip_invalid` are
    dropped with a warning. An input of None (made on the fly from the target) is allowed.
    """
    good = []
    for lq_path, gt_path in pairs:
        try:
            gt_hw = image_size(gt_path)
            if lq_path is not None and lq_path != gt_path:
                check_sizes(lq_path, image_size(lq_path), gt_path, gt_hw, scale)
            if min_side is not None and min(gt_hw) < min_side:
                raise ImageReadError(
                    f"{gt_path} is {gt_hw[0]}x{gt_hw[1]}, smaller than the crop size {min_side} "
                    "(lower the crop size or set pad_if_smaller / skip_invalid)"
                )
        except ImageReadError as e:
            if not skip_invalid:
                raise
            log.warning("leaving out a pair: %s", e)
            continue
        good.append((lq_path, gt_path))
    if not good:
        raise ValueError("no usable image pairs left after checking the files")
    return good


def check_ratios(ratios: Sequence[float], key: str = "data.split") -> tuple[float, ...]:
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(
            f"{key} must be three non-negative fractions [train, val, test] summing to 1, "
            f"got {list(ratios)}"
        )
    if ratios[0] == 0:
        raise ValueError(f"{key}: the train fraction must be positive, got {list(ratios)}")
    return ratios


def split_items(items: Sequence, ratios: Sequence[float], seed: int) -> tuple[list, list, list]:
    """Shuffle `items` with `seed` and cut them by `ratios` (train, val, test).

    The same items, ratios and seed give the same split on every run and machine. A part
    with a positive ratio gets at least one item when there are enough items.
    """
    ratios = check_ratios(ratios)
    n = len(items)
    order = np.random.default_rng(seed).permutation(n)
    counts = [round(n * r) for r in ratios[1:]]
    for i, r in enumerate(ratios[1:]):
        if r > 0 and counts[i] == 0 and n - sum(counts) > 1:
            counts[i] = 1
    n_val, n_test = counts
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(f"cannot split {n} item(s) by {list(ratios)}: no training items left")
    parts = np.split(order, [n_train, n_train + n_val])
    return tuple([items[i] for i in part] for part in parts)  # type: ignore[return-value]


def number_blocks(items: Sequence[Pair], block_size: int) -> list[int]:
    """The block of each pair: its file number (the stem, `12.png` -> 12) // `block_size`.

    LOL's neighbouring numbers often show one scene at another exposure, so a split that
    keeps blocks of numbers whole keeps a scene out of two splits."""
    if block_size < 1:
        raise ValueError(f"data.block_size must be >= 1, got {block_size}")
    blocks = []
    for lq_path, gt_path in items:
        path = gt_path if lq_path is None else lq_path
        if not path.stem.isdigit():
            raise ValueError(
                f"data.split_by=blocks needs numbered file names (12.png), got {path} "
                "(use data.split_by=random)"
            )
        blocks.append(int(path.stem) // block_size)
    return blocks


def split_blocks(
    items: Sequence, blocks: Sequence[int], ratios: Sequence[float], seed: int
) -> tuple[list, list, list]:
    """`split_items` for groups: whole blocks go to one part, in an order shuffled by `seed`,
    validation first, then test, until each holds its share of the items; the rest train.
    Items keep their order inside each part."""
    ratios = check_ratios(ratios)
    n = len(items)
    keys = sorted(set(blocks))
    order = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]
    wanted = {"val": round(n * ratios[1]), "test": round(n * ratios[2])}
    owner: dict[int, str] = {}
    size = {k: sum(1 for b in blocks if b == k) for k in keys}
    filled = {"val": 0, "test": 0}
    for key in order:
        part = next((p for p in ("val", "test") if filled[p] < wanted[p]), "train")
        owner[key] = part
        if part != "train":
            filled[part] += size[key]
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for item, block in zip(items, blocks, strict=True):
        parts[owner[block]].append(item)
    if not parts["train"]:
        raise ValueError(f"cannot split {n} item(s) by {list(ratios)}: no training items left")
    return parts["train"], parts["val"], parts["test"]


def fill_splits(
    train: Sequence,
    given: dict[str, list],
    ratios: Sequence[float],
    seed: int,
    blocks: Sequence[int] | None = None,
) -> dict[str, list]:
    """Train/val/test lists: `given` ones (from their own folders) are kept, the missing ones
    are cut from `train` by `ratios`, renormalized over the parts being cut; by whole
    `blocks` (one key per item, see `split_blocks`) when given, else at random."""
    missing = [s for s in ("val", "test") if s not in given]
    if not missing:
        return {"train": list(train), **given}
    share = dict(zip(("train", "val", "test"), check_ratios(ratios), strict=True))
    total = share["train"] + sum(share[s] for s in missing)
    cut = [share["train"] / total] + [
        share[s] / total if s in missing else 0.0 for s in ("val", "test")
    ]
    split = (
        split_items(train, cut, seed) if blocks is None else split_blocks(train, blocks, cut, seed)
    )
    parts = dict(zip(("train", "val", "test"), split, strict=True))
    return {"train": parts["train"], **{s: given.get(s, parts[s]) for s in ("val", "test")}}

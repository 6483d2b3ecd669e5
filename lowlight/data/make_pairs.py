"""Write a paired low/normal-light evaluation set from normal-light photos.

    python -m lowlight.data.make_pairs PHOTOS -o OUT [--part test --split 0.7 0.15 0.15]

OUT/high/NAME.png is each photo (8-bit PNG, optionally shrunk to --max-side) and
OUT/low/NAME.png its low-light version, made by the training degradation
(`data.degradation` of conf/data/synthetic_lowlight.yaml, or --config) with a fixed seed per
photo: the same command always writes the same pairs. `lowlight-evaluate --data OUT` then
scores any model on them. With --part, only that part of the photo split that
`data.source_dir=PHOTOS data.split=... data.seed=...` gives the training run is written, so
a model can be scored on whole photos it never trained on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from lowlight.data.io import ImageReadError, list_images, read_image, to_uint, write_image
from lowlight.data.pairs import split_items

PARTS = ("all", "train", "val", "test")


def _degradation(config: Path | None):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from lowlight.train import config_dir

    path = config or config_dir() / "data" / "synthetic_lowlight.yaml"
    node = OmegaConf.load(path).get("degradation")
    if node is None:
        raise ValueError(f"{path} has no `degradation` section")
    return instantiate(node)


def _seed(name: str, seed: int) -> int:
    """A per-photo seed that does not depend on the order or number of photos."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


def _shrink(img: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return img
    f = max_side / max(h, w)
    pil = Image.fromarray(to_uint(img))
    pil = pil.resize((round(w * f), round(h * f)), Image.LANCZOS)
    return np.asarray(pil, dtype=np.float32) / 255.0


def make_pairs(
    photos: Path,
    out: Path,
    part: str = "all",
    split: Sequence[float] = (0.7, 0.2, 0.1),
    split_seed: int = 0,
    seed: int = 0,
    max_side: int | None = None,
    config: Path | None = None,
) -> list[str]:
    """Write OUT/low and OUT/high; returns the names written."""
    if part not in PARTS:
        raise ValueError(f"--part must be one of {', '.join(PARTS)}, got {part!r}")
    found = list_images(photos)
    if not found:
        raise FileNotFoundError(f"no images in {photos}")
    chosen = (
        found if part == "all" else split_items(found, split, split_seed)[PARTS.index(part) - 1]
    )
    degrade = _degradation(config)
    names = []
    for path in sorted(chosen):
        high = _shrink(read_image(path), max_side)
        high = to_uint(high).astype(np.float32) / 255.0  # the reference, as saved
        low = degrade(high, np.random.default_rng(_seed(path.name, seed)))
        write_image(out / "high" / f"{path.stem}.png", high)
        write_image(out / "low" / f"{path.stem}.png", low)
        names.append(path.stem)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lowlight.data.make_pairs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("photos", help="folder of normal-light photos")
    p.add_argument("-o", "--output", required=True, help="folder for low/ and high/")
    p.add_argument("--part", choices=PARTS, default="all", help="which part of the split")
    p.add_argument("--split", nargs=3, type=float, default=[0.7, 0.2, 0.1], help="as data.split")
    p.add_argument("--split-seed", type=int, default=0, help="as data.seed of the training run")
    p.add_argument("--seed", type=int, default=0, help="seed of the degradation")
    p.add_argument("--max-side", type=int, help="shrink photos larger than this (px)")
    p.add_argument("--config", type=Path, help="a data config whose `degradation` to use")
    args = p.parse_args(argv)
    out = Path(args.output)
    if (out / "low").exists() or (out / "high").exists():
        print(f"error: {out} already holds low/ or high/: choose a new folder", file=sys.stderr)
        return 2
    try:
        names = make_pairs(
            Path(args.photos),
            out,
            args.part,
            args.split,
            args.split_seed,
            args.seed,
            args.max_side,
            args.config,
        )
    except (OSError, ValueError, ImageReadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(names)} pairs to {out}/low and {out}/high: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

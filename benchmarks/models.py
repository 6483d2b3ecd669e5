"""Milliseconds per megapixel of each shipped model through `lowlight-enhance`'s path, side
by side in one run (the figure the model cards quote).

    python benchmarks/models.py                   # make bench: every shipped model
    python benchmarks/models.py --models cand=logs/RUN zd=WEIGHTS/zero_dce_epoch99.pth

Each model enhances the same photo, 1200x900 unless --size says otherwise: the first DICM
photo resized when ../shared/data is present, else a random dark image (the cost does not
depend on content). An x4 SR model gets it shrunk 4x, so every output is the same size;
ms/MP counts input megapixels, as `lowlight-evaluate` does. The path is
`lowlight.inference.enhance_image` with its defaults (automatic tiles, channels-last,
float32, CPU). Times are medians of alternated
repeats (speed.py's `_alternate`), so a busier stretch of the machine hits every model
alike; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
PHOTOS = ROOT.parent / "shared" / "data" / "lowlight" / "DICM"


def _photo(size: tuple[int, int]) -> tuple[torch.Tensor, str]:
    from lowlight.data.datasets import to_tensor
    from lowlight.data.io import list_images, read_image

    photos = list_images(PHOTOS) if PHOTOS.is_dir() else []
    if not photos:
        g = torch.Generator().manual_seed(0)
        return torch.rand(3, *size, generator=g) * 0.3, "a random dark image"
    img = to_tensor(read_image(photos[0]))[None]
    img = F.interpolate(img, size=size, mode="bilinear", align_corners=False)[0]
    return img.clamp(0, 1), f"{photos[0].name} resized"


def _shrunk(image: torch.Tensor, scale: int) -> torch.Tensor:
    if scale == 1:
        return image
    size = (image.shape[-2] // scale, image.shape[-1] // scale)
    return F.interpolate(image[None], size=size, mode="area")[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=[], help="more models, LABEL=SPEC")
    parser.add_argument("--size", default="1200x900", help="the photo's WxH (default 1.08 MP)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from speed import _alternate

    from lowlight import zoo
    from lowlight.inference import enhance_image
    from lowlight.loading import load_model

    specs = {name: name for name in zoo.shipped_names()}
    for item in args.models:
        label, _, spec = item.rpartition("=")  # as lowlight-evaluate reads LABEL=SPEC
        specs[label or Path(spec).name] = spec
    models = {label: load_model(spec) for label, spec in specs.items()}
    width, height = (int(v) for v in args.size.split("x"))
    image, what = _photo((height, width))
    inputs = {k: _shrunk(image, m.scale) for k, m in models.items()}
    with torch.inference_mode():
        seconds = _alternate(
            {k: (lambda m=m, x=inputs[k]: enhance_image([m], x)) for k, m in models.items()},
            args.rounds,
            args.repeats,
        )
    print(
        f"\n### Enhancement speed ({what}, {image.shape[-1]}x{image.shape[-2]}, SR models "
        f"its 1/scale; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads)\n"
    )
    print("| model | parameters | ms/MP | x the fastest |")
    print("| --- | --- | --- | --- |")
    ms = {k: seconds[k] * 1000 / (inputs[k][0].numel() / 1e6) for k in models}
    for label, model in models.items():
        row = f"{model.num_params:,} | {ms[label]:.0f} | {ms[label] / min(ms.values()):.2f}"
        print(f"| {label} | {row} |")


if __name__ == "__main__":
    main()

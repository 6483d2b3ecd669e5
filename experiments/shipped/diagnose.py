"""Two diagnostics behind the shipped models' recipes (experiments/shipped/README.md).

dce-objective: Zero-DCE's training objective (the suite's four losses, weights 1/10/5/200)
    of several DCE-Nets on the same validation photos, each resized to 256x256 (the authors'
    loader) and centre-cropped to 256 (the runs' validation). It tells whether a model
    that differs from the authors' one optimizes the objective worse (too short a run) or
    better (a different optimum: then it is the data or the recipe, not the length).
lle-gain: per-image PSNR of a paired model, and the PSNR after the best single gain per
    image (least squares). A wide gap means that the errors are mostly the global
    brightness the model guessed, not the detail or the noise.
detail: fine detail kept, per photo without ground truth: the mean absolute Laplacian of
    the grey image over its mean level, for the input and each model, on the photos with a
    mean level of at least --min-level (dark photos are mostly noise). A model that
    smooths texture away (which NIQE marks down) keeps less of the input's figure.

    python experiments/shipped/diagnose.py dce-objective logs/data/sice_val \
        authors=../shared/data/weights/zero_dce_epoch99.pth ours=logs/shipped/dce/run
    python experiments/shipped/diagnose.py lle-gain logs/data/sunhays_test logs/shipped/lle/run
    python experiments/shipped/diagnose.py detail ../shared/data/lowlight/DICM \
        zero_dce=../shared/data/weights/zero_dce_epoch99.pth ours=logs/shipped/lle_iat_exposure/run
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lowlight.data.datasets import to_tensor
from lowlight.data.io import list_images, read_image
from lowlight.data.transforms import center_crop
from lowlight.loading import load_model
from lowlight.losses import (
    ColorConstancyLoss,
    ExposureControlLoss,
    IlluminationSmoothnessLoss,
    SpatialConsistencyLoss,
)
from lowlight.metrics import no_reference_stats, psnr, to_8bit
from lowlight.systems.zero_dce import DEFAULT_WEIGHTS as WEIGHTS  # the paper's 1/10/5/200


def _batch(paths: list[Path], mode: str) -> torch.Tensor:
    out = []
    for p in paths:
        img = read_image(p)
        if mode == "resize":
            x = to_tensor(img)[None]
            x = F.interpolate(x, size=(256, 256), mode="bilinear", antialias=True)
        else:
            x = to_tensor(center_crop(img, 256))[None]
        out.append(x.clamp(0, 1))
    return torch.cat(out)


@torch.no_grad()
def dce_objective(images: Path, specs: list[str], count: int) -> None:
    paths = list_images(images)[:count]
    losses = {
        "spatial": SpatialConsistencyLoss(),
        "exposure": ExposureControlLoss(),
        "color": ColorConstancyLoss(),
        "smoothness": IlluminationSmoothnessLoss(),
    }
    nets = {}
    for spec in specs:
        name, _, path = spec.rpartition("=")
        nets[name or path] = load_model(path).net.generator.eval()
    print(f"{len(paths)} images from {images}: weighted terms, their total, and the")
    print("validation's brightness and exposure error (lowlight.metrics.no_reference_stats)")
    columns = ["input", "model", *WEIGHTS, "total", "brightness", "exposure error"]
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for mode in ("resize", "crop"):
        x = _batch(paths, mode)
        for name, net in nets.items():
            sums = dict.fromkeys([*WEIGHTS, "brightness", "exposure_error"], 0.0)
            for b in x.split(8):
                out, curves = net.curves(b)
                args = {"spatial": (out, b), "smoothness": (curves,)}
                for k, fn in losses.items():
                    sums[k] += WEIGHTS[k] * fn(*args.get(k, (out,))).item() * len(b)
                for k, v in no_reference_stats(out).items():
                    if k in sums:
                        sums[k] += v.sum().item()
            v = {k: s / len(x) for k, s in sums.items()}
            total = sum(v[k] for k in WEIGHTS)
            cells = " | ".join(f"{v[k]:.4f}" for k in WEIGHTS)
            stats = f"{v['brightness']:.3f} | {v['exposure_error']:.4f}"
            print(f"| {mode} | {name} | {cells} | {total:.4f} | {stats} |")


@torch.no_grad()
def lle_gain(pairs: Path, spec: str) -> None:
    net = load_model(spec).net.eval()
    print("| image | PSNR | PSNR after the best gain | gain |")
    print("| --- | --- | --- | --- |")
    plain, gained = [], []
    for low in list_images(pairs / "low"):
        x = torch.from_numpy(read_image(low)).permute(2, 0, 1)[None]
        y = torch.from_numpy(read_image(pairs / "high" / low.name)).permute(2, 0, 1)[None]
        o = to_8bit(net(x))  # scored as saved 8-bit files, as lowlight-evaluate does
        g = ((o * y).sum() / (o * o).sum()).item()
        plain.append(psnr(o, y).item())
        gained.append(psnr((g * o).clamp(0, 1), y).item())
        print(f"| {low.stem} | {plain[-1]:.2f} | {gained[-1]:.2f} | {g:.3f} |")
    print(f"| mean | {np.mean(plain):.2f} | {np.mean(gained):.2f} | |")


def _detail(img: torch.Tensor) -> float:
    grey = img.mean(dim=1, keepdim=True)
    kernel = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])
    laplacian = F.conv2d(grey, kernel[None, None])
    return (laplacian.abs().mean() / grey.mean().clamp_min(1e-3)).item()


@torch.no_grad()
def detail(images: Path, specs: list[str], min_level: float) -> None:
    nets = {}
    for spec in specs:
        name, _, path = spec.rpartition("=")
        nets[name or path] = load_model(path).net.eval()
    print("| photo | level | input | " + " | ".join(nets) + " |")
    print("|" + " --- |" * (len(nets) + 3))
    rows = []
    for path in list_images(images):
        x = torch.from_numpy(read_image(path)).permute(2, 0, 1)[None]
        if x.mean() < min_level:
            continue
        rows.append([_detail(x)] + [_detail(to_8bit(net(x))) for net in nets.values()])
        cells = " | ".join(f"{v:.3f}" for v in rows[-1])
        print(f"| {path.stem} | {x.mean():.2f} | {cells} |")
    means = " | ".join(f"{v:.3f}" for v in np.mean(rows, axis=0))
    print(f"| mean of {len(rows)} | | {means} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dce-objective", help="Zero-DCE's objective of DCE-Nets")
    d.add_argument("images", type=Path)
    d.add_argument("models", nargs="+", help="NAME=PATH: a run, checkpoint or .pth")
    d.add_argument("--count", type=int, default=80, help="the first N images")
    g = sub.add_parser("lle-gain", help="PSNR with and without the best gain per image")
    g.add_argument("pairs", type=Path, help="a folder with low/ and high/")
    g.add_argument("model")
    t = sub.add_parser("detail", help="fine detail kept on photos without ground truth")
    t.add_argument("images", type=Path)
    t.add_argument("models", nargs="+", help="NAME=PATH: a run, checkpoint or .pth")
    t.add_argument("--min-level", type=float, default=0.15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "dce-objective":
        dce_objective(args.images, args.models, args.count)
    elif args.command == "detail":
        detail(args.images, args.models, args.min_level)
    else:
        lle_gain(args.pairs, args.model)


if __name__ == "__main__":
    main()

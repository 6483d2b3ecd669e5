"""`lowlight-evaluate` (and `python -m lowlight.evaluate`): the command line. Nothing heavy is
imported until the arguments are read, so `--help` answers at once."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from lowlight.names import ARCHS, LPIPS_NETS, SR_DEGRADATIONS

log = logging.getLogger("lowlight.evaluate")

USAGE = """Score methods side by side on one or more datasets: a table per dataset (markdown +
CSV), per-image scores, image grids, and a summary across datasets.

    lowlight-evaluate --data LOL/ --methods identity gamma clahe lle mine=logs/lle_gan/RUN
    lowlight-evaluate --data Set5 Set14 B100 Urban100 --scale 4 \\
        --methods bicubic bicubic_y RUN_SR --self-ensemble
    lowlight-evaluate --data ../shared/data/lowlight/LIME ../shared/data/lowlight/DICM \\
        --methods identity clahe ../shared/data/weights/zero_dce_epoch99.pth \\
        --niqe ../shared/data/niqe/niqe_pris_params.npz

On LOL-v1's eval15 the published rows (cited) are printed beside ours, same protocol.
`python -m lowlight.evaluate` works too. Exit status: 2 for a bad command (nothing is
written), 1 when an image could not be read or scored (the tables leave it out and say so),
0 otherwise.

The dataset is recognised from its layout:
- low-light pairs: LOL (`eval15/{low,high}` is scored), `low/` + `high/`, or --low/--high;
- super-resolution (with --scale): `HR/` + `LR_x<scale>/` (Set5 layout); the SelfExSR copies'
  `image_SRF_<scale>/img_NNN_SRF_<scale>_{HR,LR}.png`; or HR images only, the LR made with
  --degradation: `bicubic` (MATLAB, the default) or `avgpool_upsample` (the brief's same-size
  scheme, for same-size models such as sr_gan's; baseline: identity);
- anything else is a folder of images without ground truth: zero-reference PROXIES
  (PSNR/SSIM against PIL autocontrast of the input, brightness, colour balance, exposure
  error), labelled as such.
A method is a baseline name (low-light: identity gamma hist_eq clahe autocontrast;
SR: nearest bilinear bicubic, and bicubic_y: the published bicubic row's own protocol, Y
only, made from the HR image), a shipped model (listed below), a run folder or
checkpoint of `lowlight.train`, or the Zero-DCE authors' weights file; `label=SPEC` names
it in the table. --self-ensemble runs models with the x8 flips-and-turns ensemble
(labelled `+x8`).

Metrics, as papers compute them: outputs rounded to 8 bits (as saved files; --float-scores
scores floats, and the columns say `[float]`), PSNR, valid-region SSIM and MAE in RGB with
data range 1, each the mean of per-image values (LLE: no GT-mean rescaling unless --gt-mean,
whose extra columns say so); SR adds PSNR/SSIM on the 8-bit BT.601 Y channel with `scale`
pixels shaved per border. No-reference: NIQE (--niqe MODEL.npz, lower is better) and LPIPS
against the reference (--lpips BACKBONE.pth), read from local files, never downloaded. Each
method also gets its parameter count, multiply-accumulates per input megapixel (GMAC/MP,
counted by torch's FlopCounterMode) and measured milliseconds per input megapixel.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lowlight-evaluate",
        description=USAGE,
        epilog=shipped_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", nargs="+", help="dataset folder(s), layouts recognised (see above)")
    p.add_argument("--low", help="low-light input folder (with --high)")
    p.add_argument("--high", help="reference folder (with --low)")
    p.add_argument("--hr", help="HR folder for super-resolution (with --scale)")
    p.add_argument("--lr", help="LR folder matching --hr (default: LR_x<scale> beside HR)")
    p.add_argument("--scale", type=int, choices=(2, 3, 4), help="super-resolution factor")
    p.add_argument(
        "--degradation", choices=SR_DEGRADATIONS, help="make LR from HR (default: use LR files)"
    )
    p.add_argument(
        "--methods",
        nargs="+",
        help="baselines, shipped models, runs, checkpoints, weights; LABEL=SPEC names one",
    )
    p.add_argument("--arch", choices=ARCHS, default="auto", help="what a .pth file is")
    p.add_argument(
        "-o", "--output", default="eval", help="output folder (default: eval/, git-ignored here)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace the results already in the folder"
    )
    p.add_argument(
        "--grid", nargs="*", default=None, help="image names for grids (default: the first 3)"
    )
    p.add_argument("--grid-height", type=int, default=384, help="panel height in grids (px)")
    p.add_argument(
        "--save-images",
        action="store_true",
        help="write every method's output for every image: OUT/images/METHOD/IMAGE.png",
    )
    p.add_argument("--gt-mean", action="store_true", help="also score GT-mean rescaled outputs")
    p.add_argument(
        "--float-scores",
        action="store_true",
        help="score float outputs instead of 8-bit ones (columns marked [float])",
    )
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="x8 ensemble of flips and quarter turns for models (labelled +x8)",
    )
    p.add_argument("--niqe", metavar="NPZ", help="NIQE pristine model (niqe_pris_params.npz)")
    p.add_argument("--lpips", metavar="PTH", help="LPIPS backbone: a torchvision state dict")
    p.add_argument("--lpips-net", choices=LPIPS_NETS, default="alex", help="LPIPS backbone kind")
    p.add_argument("--tile", type=int, default=-1, help="tile side for models (0: never)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--half", action="store_true", help="float16 autocast for models (CUDA)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for models")
    p.add_argument(
        "--score-float64",
        action="store_true",
        help="PSNR/SSIM/MAE arithmetic in float64 (float32, the default, agrees to 1e-5)",
    )
    p.add_argument("--workers", type=int, default=2, help="processes reading images ahead")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or lines")
    return p


def _datasets(args) -> list:
    """(name, dataset) for each --data folder, or the one given by --low/--high or --hr."""
    from lowlight.evaluate.datasets import resolve_dataset

    if args.low or args.high or args.hr or not args.data or len(args.data) == 1:
        data = args.data[0] if args.data else None
        return [(Path(data).name if data else "data", resolve_dataset(args, data))]
    names = [Path(d).resolve().name for d in args.data]
    if len(set(names)) != len(names):
        raise ValueError(f"two --data folders share a name in {names}: their tables would clash")
    return [(name, resolve_dataset(args, d)) for name, d in zip(names, args.data, strict=True)]


def shipped_epilog() -> str:
    from lowlight import zoo

    names = ", ".join(zoo.shipped_names()) or "none in this installation"
    return f"shipped models (--methods NAME): {names}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    out = Path(args.output)
    # torch, the models and the metrics load once the arguments are read
    import torch

    from lowlight.evaluate.methods import baselines_for, build_methods
    from lowlight.evaluate.run import evaluate, prepare_output
    from lowlight.evaluate.scoring import Scoring
    from lowlight.evaluate.tables import write_summary
    from lowlight.inference import select_device
    from lowlight.metrics.lpips import load_lpips
    from lowlight.metrics.niqe import load_niqe_model

    try:
        if args.grid_height < 16:
            raise ValueError("--grid-height must be at least 16 px")
        device = select_device(args.device)
        scoring = Scoring(
            eight_bit=not args.float_scores,
            gt_mean=args.gt_mean,
            niqe_model=load_niqe_model(args.niqe) if args.niqe else None,
            lpips_net=load_lpips(args.lpips, args.lpips_net).to(device) if args.lpips else None,
            dtype=torch.float64 if args.score_float64 else torch.float32,
            device=device,
        )
        if args.workers < 0:
            raise ValueError(f"--workers must be >= 0, got {args.workers}")
        datasets = _datasets(args)
        several = len(datasets) > 1
        runs, loaded = [], {}
        for name, dataset in datasets:  # every method is checked before any work starts
            specs = args.methods or list(baselines_for(dataset))
            runs.append((name, dataset, build_methods(specs, dataset, args, device, loaded)))
        for name, _, _ in runs:
            prepare_output(out / name if several else out, args.overwrite)
        if several:
            for summary in ("summary.md", "summary.csv"):
                if (out / summary).exists() and not args.overwrite:
                    raise FileExistsError(f"-o {out} already holds {summary}: pass --overwrite")
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    left_out = []
    for name, dataset, methods in runs:
        grid = args.grid if args.grid is not None else [item[0] for item in dataset.items[:3]]
        log.info("%s: %d images, %d methods", dataset.description, len(dataset.items), len(methods))
        table, missing = evaluate(
            dataset,
            methods,
            out / name if several else out,
            grid,
            args.grid_height,
            scoring,
            not args.quiet,
            device,
            args.workers,
            args.save_images,
        )
        left_out += [f"{name}/{item}" if several else item for item in missing]
        print(f"## {name}\n" if several else "", end="")
        print(table.read_text())
        print(
            f"wrote {table}, {table.with_name('results.csv')}, {table.with_name('per_image.csv')}"
        )
        for folder in ("grids", "images"):
            if (table.parent / folder).is_dir():
                count = sum(1 for _ in (table.parent / folder).rglob("*.png"))
                print(f"wrote {count} image(s) under {table.parent / folder}")
    if several:
        summary = write_summary(runs, out)
        print(summary.read_text())
        print(f"wrote {summary}, {summary.with_name('summary.csv')}")
    if left_out:
        shown = ", ".join(left_out[:5]) + (" ..." if len(left_out) > 5 else "")
        print(f"error: {len(left_out)} image(s) left out of the tables: {shown}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

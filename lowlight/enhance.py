"""Enhance (and super-resolve) your own photos with shipped or trained models.

    lowlight-enhance photo.jpg -o out/                    # the default shipped model
    lowlight-enhance photos/ -o out/ --model NAME         # a shipped model by name (below)
    lowlight-enhance dark.png -o out/ --chain lle sr_x4   # enhance, then x4 super-resolve
    lowlight-enhance photos/ -o out/ --model logs/lle_gan/2026-11-22_10-00-00
    lowlight-enhance "dark/*.jpg" -o out/ --arch zero_dce \\
        --model ../shared/data/weights/zero_dce_epoch99.pth
    lowlight-enhance small_dark.png -o out/ --chain RUN_LLE RUN_SR  # brighter, then larger

Inputs: files, folders (their images) or globs. A model is a shipped name (below), a run
folder written by `lowlight.train` (its best checkpoint; the EMA weights when it kept them),
a checkpoint inside one, or the Zero-DCE authors' weights file. Large images run tile by tile
(`--tile`, automatic above ~1 MP; the progress line counts tiles). An unreadable file is
reported and skipped; existing outputs are never overwritten without `--overwrite`.
`python -m lowlight.enhance` works too. Exit status 1 when any file failed.
"""

from __future__ import annotations

import argparse
import glob
import logging
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lowlight import zoo
from lowlight.names import ARCHS, DEFAULT_OVERLAP, IMAGE_EXTENSIONS

if TYPE_CHECKING:  # torch is imported once the arguments are read: --help starts at once
    import torch

    from lowlight.loading import LoadedModel

log = logging.getLogger("lowlight.enhance")
FORMATS = {
    "same": None,
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "tif": ".tif",
    "tiff": ".tif",
}
_WRITABLE = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def collect_inputs(items: Sequence[str]) -> list[Path]:
    """Files, folders (the images directly inside) and globs -> image paths, in order and
    without repeats. A name that matches nothing is an error naming it."""
    from lowlight.data.io import list_images

    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += list_images(path)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True))
            images = [p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
            if not images:
                raise FileNotFoundError(f"no images match {item!r}")
            found += images
        else:
            raise FileNotFoundError(f"input not found: {item}")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise FileNotFoundError(f"no images in {', '.join(items)}")
    return unique


def output_paths(inputs: Sequence[Path], out_dir: Path, fmt: str, suffix: str) -> list[Path]:
    """Where each input goes: OUT/<stem><suffix><ext>; two inputs landing on one name is an
    error raised before any work."""
    ext = FORMATS[fmt]
    outs = []
    for p in inputs:
        out_ext = ext or (p.suffix.lower() if p.suffix.lower() in _WRITABLE else ".png")
        outs.append(out_dir / f"{p.stem}{suffix}{out_ext}")
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outs, strict=True):
        if dst in seen:
            raise ValueError(
                f"{seen[dst]} and {src} would both be written to {dst}: enhance them into "
                "different folders or use --suffix"
            )
        seen[dst] = src
    return outs


def shipped_epilog() -> str:
    """The shipped models and the terms of their weights, for --help."""
    lines = zoo.licence_lines()
    if not lines:
        return "No shipped models in this installation: pass --model RUN."
    wrapped = [textwrap.fill(x, 88, initial_indent="  ", subsequent_indent="    ") for x in lines]
    head = f"shipped models (--model NAME; the default is {zoo.DEFAULT_MODEL}):"
    return "\n".join([head, *wrapped])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lowlight-enhance",
        description=__doc__,
        epilog=shipped_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", help="image files, folders or globs")
    p.add_argument("-o", "--output", required=True, help="output folder (created)")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "-m",
        "--model",
        default=zoo.DEFAULT_MODEL,
        help="shipped name, run folder, checkpoint, or Zero-DCE .pth "
        f"(default: the shipped {zoo.DEFAULT_MODEL})",
    )
    which.add_argument(
        "--chain", nargs="+", metavar="MODEL", help="models applied in order (e.g. LLE then SR)"
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default="auto",
        help="what a .pth file is: zero_dce = the authors' DCE-Net weights (default: detect)",
    )
    p.add_argument("--format", choices=sorted(FORMATS), default="same", help="output format")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="16 for PNG/TIFF output")
    p.add_argument("--suffix", default="", help="appended to each output name's stem")
    p.add_argument(
        "--tile", type=int, default=-1, help="tile side in px (0: never tile; default: auto)"
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        help="tile overlap in px for networks that see the whole image (a U-Net); DCE-Net "
        "tiles carry only their 7 px halo and equal the untiled output",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--half", action="store_true", help="float16 autocast (CUDA only)")
    p.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast (CUDA, or CPUs with native bf16: ~2.6x faster DCE-Net)",
    )
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="x8: average over flips and quarter turns (8x the time)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def enhance_files(
    models: Sequence[LoadedModel],
    inputs: Sequence[Path],
    outputs: Sequence[Path],
    device: torch.device,
    tile: int | None = -1,
    overlap: int = DEFAULT_OVERLAP,
    half: bool = False,
    bits: int = 8,
    overwrite: bool = False,
    progress: bool = True,
    ensemble: bool = False,
    bf16: bool = False,
) -> dict[str, list]:
    """Enhance each input into its output; returns {"written", "skipped", "failed"} where
    failed holds (path, reason). One bad file never stops the others."""
    import numpy as np
    import torch

    from lowlight.data.io import ImageReadError, read_image, write_image
    from lowlight.inference import enhance_image
    from lowlight.progress import ImageProgress

    done: dict[str, list] = {"written": [], "skipped": [], "failed": []}
    with ImageProgress("enhance", len(inputs), progress, log) as bar:
        for src, dst in zip(inputs, outputs, strict=True):
            bar.show(src.name)
            if dst.exists() and not overwrite:
                log.warning("%s exists: skipped (pass --overwrite to replace it)", dst)
                done["skipped"].append(dst)
            else:
                try:
                    img = torch.from_numpy(read_image(src)).permute(2, 0, 1)
                    out = enhance_image(
                        models,
                        img,
                        device,
                        tile,
                        overlap,
                        half,
                        ensemble,
                        bf16=bf16,
                        progress=lambda done, total, name=src.name: bar.tiles(name, done, total),
                    )
                    write_image(dst, out.permute(1, 2, 0).numpy().astype(np.float32), bits)
                    done["written"].append(dst)
                except (ImageReadError, OSError, ValueError) as e:
                    log.error("%s: %s", src, e)
                    done["failed"].append((src, str(e)))
                except torch.OutOfMemoryError as e:
                    msg = f"out of memory ({e}); try a smaller --tile"
                    log.error("%s: %s", src, msg)
                    done["failed"].append((src, msg))
            bar.advance(src.name)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.bits == 16 and args.format not in ("png", "tif", "tiff", "same"):
            raise ValueError("--bits 16 needs PNG or TIFF output (--format png|tiff)")
        if args.half and args.bf16:
            raise ValueError("--half and --bf16 exclude each other")
        if args.tile is not None and args.tile < -1:
            raise ValueError(f"--tile must be a size in px, 0 (never) or omitted, got {args.tile}")
        specs = args.chain or [args.model]
        default = not args.chain and args.model == zoo.DEFAULT_MODEL
        if default and not zoo.is_shipped(args.model) and not Path(args.model).exists():
            raise FileNotFoundError(
                f"no --model given, and the shipped {zoo.DEFAULT_MODEL!r} model is not in this "
                "installation: pass --model with a run folder, checkpoint or shipped name "
                f"({', '.join(zoo.shipped_names()) or 'none installed'})"
            )
        for spec in specs:  # a wrong name is told at once, before torch loads
            if not Path(spec).exists() and not zoo.is_shipped(spec):
                raise zoo.model_not_found(spec)
        inputs = collect_inputs(args.inputs)
        from lowlight.inference import select_device
        from lowlight.loading import load_model

        device = select_device(args.device)
        models = [load_model(spec, args.arch) for spec in specs]
        out_dir = Path(args.output)
        outputs = output_paths(inputs, out_dir, args.format, args.suffix)
        if args.bits == 16 and any(o.suffix not in (".png", ".tif") for o in outputs):
            raise ValueError("--bits 16 needs PNG or TIFF output (--format png|tiff)")
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    chain = " -> ".join(f"{m.name} (x{m.scale})" if m.scale > 1 else m.name for m in models)
    chain += " +x8 self-ensemble" if args.self_ensemble else ""
    log.info("%d image(s) -> %s with %s on %s", len(inputs), out_dir, chain, device)
    started = time.perf_counter()
    done = enhance_files(
        models,
        inputs,
        outputs,
        device,
        tile=args.tile,
        overlap=args.overlap,
        half=args.half,
        bits=args.bits,
        overwrite=args.overwrite,
        progress=not args.quiet,
        ensemble=args.self_ensemble,
        bf16=args.bf16,
    )
    seconds = time.perf_counter() - started
    log.info(
        "%d written, %d skipped (existing), %d failed in %.1f s",
        len(done["written"]),
        len(done["skipped"]),
        len(done["failed"]),
        seconds,
    )
    for path, reason in done["failed"]:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    return 1 if done["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

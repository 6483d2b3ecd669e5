"""Score methods side by side on one or more datasets: a table per dataset (markdown +
CSV), per-image scores, image grids, and a summary across datasets.

    lowlight-evaluate --data LOL/ --methods identity gamma clahe lle mine=logs/lle_gan/RUN
    python -m lowlight.evaluate --data Set5 Set14 B100 Urban100 --scale 4 \\
        --methods bicubic bicubic_y RUN_SR --self-ensemble
    python -m lowlight.evaluate --data ../shared/data/lowlight/LIME ../shared/data/lowlight/DICM \\
        --methods identity clahe ../shared/data/weights/zero_dce_epoch99.pth \\
        --niqe ../shared/data/niqe/niqe_pris_params.npz

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
only, made from the HR image), a shipped model (lle, dce, sr_x4), a run folder or
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

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from lowlight import zoo
from lowlight.baselines import LLE_BASELINES, SR_BASELINES, published_bicubic_y
from lowlight.data.datasets import PairedImageDataset
from lowlight.data.io import list_images, write_image
from lowlight.data.paired import LOL_TEST
from lowlight.data.pairs import find_pairs
from lowlight.data.sr import (
    SR_DEGRADATIONS,
    SRDataset,
    SRDegradation,
    benchmark_dirs,
    selfexsr_pairs,
)
from lowlight.data.unpaired import ImageFolderDataset
from lowlight.grids import fit_height, grid_image, to_pil
from lowlight.inference import ARCHS, enhance_image, load_model, select_device
from lowlight.metrics.image import image_scores, to_8bit
from lowlight.metrics.lpips import LPIPS_NETS, load_lpips, lpips
from lowlight.metrics.niqe import load_niqe_model, niqe
from lowlight.metrics.noref import autocontrast, no_reference_stats
from lowlight.metrics.sr import shave, sr_metrics, y_channel
from lowlight.progress import ImageProgress

log = logging.getLogger("lowlight.evaluate")

# ------------------------------------------------------------------ the data


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
            pairs = find_pairs(root / sub / "low", root / sub / "high")
            return Dataset("lle", f"{(root / sub).resolve()} low -> high", _named(pairs))
    if (root / "HR").is_dir():
        raise ValueError(f"--data {root} holds HR/: super-resolution data, pass --scale 2|3|4")
    images = list_images(root)
    if not images:
        raise FileNotFoundError(f"--data {root}: no images, low/+high/, eval15/ or HR/ inside")
    return Dataset("unpaired", f"{root} (no ground truth)", [(p.stem, p, None) for p in images])


def _named(pairs) -> list:
    return [(lq.stem, lq, gt) for lq, gt in pairs]


# ------------------------------------------------------------------ the methods


@dataclass
class Method:
    label: str
    run: Callable[[torch.Tensor], torch.Tensor]  # (3, h, w) -> (3, H, W) on the CPU
    params: int = 0
    macs_per_mp: float | None = None  # multiply-accumulates per input megapixel
    note: str = ""
    seconds: float = 0.0
    megapixels: float = 0.0
    scores: dict = field(default_factory=dict)  # image name -> {metric: value}
    failed: dict = field(default_factory=dict)  # image name -> why it has no scores
    from_hr: bool = False  # run takes the HR image and returns its Y channel (bicubic_y)


def _count_macs(net: torch.nn.Module, device: torch.device) -> float:
    """MACs per input megapixel, counted on a 256x256 input (the networks are convolutional,
    so the count grows linearly with the pixels)."""
    side = 256
    x = torch.rand(1, 3, side, side, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    return counter.get_total_flops() / 2 / (side * side / 1e6)


def baselines_for(dataset: Dataset) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The classical methods that make sense on this data (all take the input image)."""
    if dataset.kind == "sr":
        scale = dataset.scale
        methods = {k: (lambda x, f=f: f(x, scale)) for k, f in SR_BASELINES.items()}
        return {**methods, "bicubic_y": lambda hr: published_bicubic_y(hr, scale)}
    if dataset.kind == "sr_same":  # the input already has the HR size: upscaling is done
        return {"identity": LLE_BASELINES["identity"]}
    return dict(LLE_BASELINES)


def build_methods(
    specs: Sequence[str], dataset: Dataset, args, device, loaded: dict | None = None
) -> list[Method]:
    """The methods named by `specs` for this dataset. `loaded` (spec -> (model, MACs per
    MP)) keeps models already loaded for another dataset of the same command."""
    loaded = {} if loaded is None else loaded
    methods = []
    baselines = baselines_for(dataset)
    ensemble = bool(getattr(args, "self_ensemble", False))
    for spec in specs:
        label, _, target = spec.rpartition("=") if "=" in spec else ("", "", spec)
        label = label or Path(target).name
        if target == "bicubic_y" and target in baselines:
            note = "published protocol: HR Y, bicubic down and up (SRCNN Demo_SR), Y only"
            methods.append(Method(label, baselines[target], from_hr=True, note=note))
            continue
        if target in baselines:
            methods.append(Method(label, baselines[target], note="baseline"))
            continue
        if target in SR_BASELINES or target in LLE_BASELINES or target == "bicubic_y":
            raise ValueError(
                f"{target} does not apply to this data ({dataset.kind}); "
                f"its baselines: {', '.join(baselines)}"
            )
        if not Path(target).exists() and not zoo.is_shipped(target):
            known = sorted(baselines)
            shipped = ", ".join(zoo.shipped_names()) or "none installed"
            raise FileNotFoundError(
                f"method {target!r}: neither a baseline ({', '.join(known)}), a shipped model "
                f"({shipped}) nor an existing run folder / checkpoint / weights file"
            )
        if spec not in loaded:
            model = load_model(target, args.arch, name=label if "=" in spec else None)
            loaded[spec] = model, _count_macs(model.net.to(device), device)
        model, macs = loaded[spec]
        chain, note = [model], ""
        if dataset.kind == "sr" and model.scale == 1:
            note = "input: bicubic-upscaled LR"  # a same-size SR generator (SRCNN-style)
        elif dataset.kind == "sr" and model.scale != dataset.scale:
            raise ValueError(f"{target} upscales x{model.scale}, the data is x{dataset.scale}")
        elif dataset.kind != "sr" and model.scale != 1:  # lle, sr_same, unpaired
            raise ValueError(f"{target} upscales x{model.scale}: evaluate it on SR data (--scale)")

        def run(x, chain=chain, upscale=bool(note)):
            if upscale:
                x = SR_BASELINES["bicubic"](x, dataset.scale)
            return enhance_image(
                chain, x, device, args.tile, half=args.half, ensemble=ensemble, bf16=args.bf16
            )

        name = model.name + ("+x8" if ensemble else "")
        name += " (fp16)" if args.half else " (bf16)" if args.bf16 else ""
        methods.append(Method(name, run, model.num_params, macs * (8 if ensemble else 1), note))
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two methods share a label in {labels}: name them with LABEL=SPEC")
    return methods


# ------------------------------------------------------------------ the metrics


@dataclass
class Scoring:
    """How outputs are scored: 8-bit (as saved files) or float, and the optional extras."""

    eight_bit: bool = True
    gt_mean: bool = False
    niqe_model: dict | None = None  # NIQE's pristine model (--niqe)
    lpips_net: torch.nn.Module | None = None  # LPIPS with its local backbone (--lpips)
    # PSNR/SSIM/MAE arithmetic: float32 agrees with float64 to 1e-5 at 1/4 of the CPU time
    dtype: torch.dtype = torch.float32
    device: torch.device = torch.device("cpu")  # where PSNR/SSIM/MAE are computed
    seconds: tuple[float, float] | None = None  # (scoring, whole evaluation), once run

    @property
    def suffix(self) -> str:
        return "" if self.eight_bit else " [float]"


def _floats(scores: dict) -> dict[str, float]:
    return {
        k: float(v.mean()) if isinstance(v, torch.Tensor) else float(v) for k, v in scores.items()
    }


def _scores(out: torch.Tensor, sample: Sample, dataset: Dataset, how: Scoring) -> dict:
    """The scores of one output (3, H, W) in [0, 1] (or (1, H, W) Y for a from-HR method)."""
    border = dataset.scale if dataset.kind in ("sr", "sr_same") else 0
    dt, dev = how.dtype, how.device
    if out.shape[0] == 1:  # bicubic_y: Y only, against the reference's 8-bit Y
        ref = y_channel(sample.gt[None].double())
        views = shave(out[None].double(), border).to(dev), shave(ref, border).to(dev)
        scores = _floats(image_scores(*views, ("psnr", "ssim"), dt))
        return {f"{k}_y{how.suffix}": v for k, v in scores.items()}
    o = (to_8bit(out) if how.eight_bit else out.clamp(0, 1))[None].double()
    if dataset.kind in ("sr", "sr_same"):
        scores = sr_metrics(o.to(dev), sample.gt.to(dev), dataset.scale, how.eight_bit, dt)
    elif sample.gt is None:
        ref = autocontrast(sample.lq[None])
        proxy = _floats(image_scores(o.to(dev), ref.to(dev), ("psnr", "ssim"), dt))
        stats = {k: v.item() for k, v in no_reference_stats(o).items()}
        scores = {
            "psnr_autocontrast (proxy)": proxy["psnr"],
            "ssim_autocontrast (proxy)": proxy["ssim"],
            **{f"{k} (proxy)": v for k, v in stats.items()},
        }
    else:
        g = sample.gt[None].double()
        scores = _floats(image_scores(o.to(dev), g.to(dev), dtype=dt))
        if how.gt_mean:
            # GT-mean: scale the output so its mean grey level matches the reference's (used
            # by some LLE papers to factor out global brightness); reported apart, labelled.
            rescaled = (o * (g.mean() / o.mean().clamp_min(1e-8))).clamp(0, 1)
            rescaled = to_8bit(rescaled) if how.eight_bit else rescaled
            again = _floats(image_scores(rescaled.to(dev), g.to(dev), ("psnr", "ssim"), dt))
            scores["psnr (GT-mean)"] = again["psnr"]
            scores["ssim (GT-mean)"] = again["ssim"]
    if how.lpips_net is not None and sample.gt is not None:
        a, b = shave(o, border), shave(sample.gt[None].double(), border)
        scores["lpips"] = lpips(how.lpips_net, a, b).item()
    if how.niqe_model is not None:
        scores["niqe (no-ref)"] = niqe(o[0], how.niqe_model, border)
    return {f"{k}{how.suffix}": v for k, v in scores.items()}


# ------------------------------------------------------------------ outputs


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def summarize(methods: Sequence[Method]) -> tuple[list[str], list[list]]:
    """One row per method: mean of per-image scores, then cost columns."""
    metric_keys: list[str] = []
    for m in methods:
        for scores in m.scores.values():
            metric_keys += [k for k in scores if k not in metric_keys]
    header = ["method", "images", *metric_keys, "params", "GMAC/MP", "ms/MP", "note"]
    rows = []
    for m in methods:
        values = [[s[k] for s in m.scores.values() if k in s] for k in metric_keys]
        means = [float(np.mean(v)) if v else None for v in values]
        gmac = None if m.macs_per_mp is None else round(m.macs_per_mp / 1e9, 2)
        ms = round(1000 * m.seconds / m.megapixels, 1) if m.megapixels else None
        note = m.note
        if m.failed:
            note = f"{note}; " if note else ""
            note += f"{len(m.failed)} image(s) failed: {', '.join(sorted(m.failed)[:3])}"
        rows.append([m.label, len(m.scores), *means, m.params, gmac, ms, note])
    return header, rows


OUTPUTS = ("results.md", "results.csv", "per_image.csv", "grids", "images")


def prepare_output(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that holds results unless `overwrite`; then remove exactly
    what an earlier evaluate wrote there (so no stale grid stays mixed in), nothing else."""
    old = [out / name for name in OUTPUTS if (out / name).exists()]
    if not old:
        return
    if not overwrite:
        raise FileExistsError(
            f"-o {out} already holds results ({', '.join(p.name for p in old)}): pass "
            "--overwrite to replace them, or choose another folder"
        )
    for path in old:
        if path.is_dir():  # grids/NAME.png, images/METHOD/NAME.png: only our PNGs go
            for png in path.rglob("*.png"):
                png.unlink()
            for folder in [*sorted(path.glob("*/"), reverse=True), path]:
                with contextlib.suppress(OSError):  # left when something else is inside
                    folder.rmdir()
        else:
            path.unlink()


def image_folder(label: str) -> str:
    """A method's label as a folder name (`authors (bf16)` -> `authors_bf16`)."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", label).strip("_") or "method"


def write_outputs(
    methods: Sequence[Method],
    dataset: Dataset,
    out: Path,
    device,
    unread: Sequence[str] = (),
    scoring: Scoring | None = None,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    header, rows = summarize(methods)
    with (out / "results.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    count = f"{len(dataset.items)} images"
    if unread:
        count += f", {len(unread)} unreadable and left out ({', '.join(unread[:3])})"
    lines = [
        f"Data: {dataset.description}, {count}; device: {device}.",
        _scoring_line(scoring or Scoring(), dataset),
        "`images`: how many images each method was scored on.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    if dataset.kind == "unpaired":
        lines += ["", "No ground truth: every score is a zero-reference proxy, not fidelity."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    with (out / "per_image.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        keys = header[2 : header.index("params")]
        writer.writerow(["image", "method", *keys])
        for m in methods:
            for name, scores in m.scores.items():
                writer.writerow([name, m.label, *(scores.get(k) for k in keys)])
    return out / "results.md"


def _scoring_line(how: Scoring, dataset: Dataset) -> str:
    saved = (
        "outputs rounded to 8 bits, as saved files"
        if how.eight_bit
        else "FLOAT outputs (--float-scores; papers score 8-bit files): columns marked [float]"
    )
    what = f"Scored on {saved}; SSIM over the valid region (11x11 window inside the image)"
    if dataset.kind in ("sr", "sr_same"):
        what += f"; {dataset.scale} px shaved per border, Y = MATLAB rgb2ycbcr"
    if how.niqe_model is not None:
        what += "; NIQE: no-reference, lower is better"
    if how.lpips_net is not None:
        what += "; LPIPS: lower is better"
    if how.dtype != torch.float64:
        what += "; PSNR/SSIM/MAE in float32 (--score-float64: float64)"
    if how.seconds is not None:
        spent, total = how.seconds
        what += (
            f"; scoring took {spent:.1f} s of {total:.1f} s ({100 * spent / max(total, 1e-9):.0f}%)"
        )
    return what + "."


def save_grid(path: Path, panels: Sequence[tuple[str, torch.Tensor]], max_side: int = 384):
    """Panels side by side (each resized to one height, at most `max_side`), labelled."""
    height = min(max_side, max(p.shape[1] for _, p in panels))
    row = [(label, fit_height(to_pil(img), height)) for label, img in panels]
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image([row]).save(path)


# ------------------------------------------------------------------ the command


def evaluate(
    dataset: Dataset,
    methods: Sequence[Method],
    out: Path,
    grid: Sequence[str] = (),
    grid_height: int = 384,
    scoring: Scoring | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    workers: int = 2,
    save_images: bool = False,
) -> Path:
    """Run every method on every image; write the tables and grids; return results.md.
    Images are read ahead by `workers` processes; scoring time is logged and tabled.
    `save_images` writes every method's output as images/<method>/<image>.png (8-bit)."""
    scoring = scoring or Scoring()
    failed = []
    scoring_seconds, started_all = 0.0, time.perf_counter()
    tracker = ImageProgress("evaluate", len(dataset.items), progress, log)
    with tracker:
        for i, (item, sample) in enumerate(_samples(dataset, workers)):
            tracker.show(item[0])
            if isinstance(sample, str):  # could not be read: named, left out
                log.error("%s: %s (left out)", item[0], sample)
                failed.append(item[0])
                tracker.advance(item[0])
                continue
            outputs = []
            mp = sample.lq.shape[1] * sample.lq.shape[2] / 1e6
            if i == 0:  # warm-up (allocator, kernels) outside the timing
                for m in methods:
                    if not m.from_hr:
                        m.run(sample.lq[:, :64, :64])
            for m in methods:
                try:
                    started = time.perf_counter()
                    result = m.run(sample.gt if m.from_hr else sample.lq).float().clamp(0, 1)
                    seconds = time.perf_counter() - started
                    scores = _scores(result, sample, dataset, scoring)
                    scoring_seconds += time.perf_counter() - started - seconds
                except (ValueError, RuntimeError) as e:  # one image, one method: report, go on
                    log.error("%s with %s: %s (not scored)", item[0], m.label, e)
                    m.failed[sample.name] = str(e)
                    continue
                m.seconds += seconds
                m.megapixels += mp
                m.scores[sample.name] = scores
                if save_images:
                    folder = out / "images" / image_folder(m.label)
                    folder.mkdir(parents=True, exist_ok=True)
                    write_image(folder / f"{sample.name}.png", result.permute(1, 2, 0).numpy())
                if not m.from_hr:
                    outputs.append((m.label, result))
            if sample.name in grid:
                shown = sample.lq
                if dataset.kind == "sr":
                    shown = SR_BASELINES["nearest"](sample.lq, dataset.scale)
                panels = [("input", shown), *outputs]
                if sample.gt is not None:
                    panels.append(("ground truth", sample.gt))
                save_grid(out / "grids" / f"{sample.name}.png", panels, grid_height)
            tracker.advance(item[0])
    if failed:
        log.warning("%d image(s) could not be read and are not scored: %s", len(failed), failed)
    total = time.perf_counter() - started_all
    scoring.seconds = (scoring_seconds, total)
    log.info(
        "scoring took %.1f s of %.1f s (%.0f%%)",
        scoring_seconds,
        total,
        100 * scoring_seconds / max(total, 1e-9),
    )
    return write_outputs(methods, dataset, out, device, failed, scoring)


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


def _samples(dataset: Dataset, workers: int):
    """(item, Sample or error text) in order, read ahead by `workers` processes."""
    loader = torch.utils.data.DataLoader(
        _Loading(dataset),
        batch_size=None,
        num_workers=workers if len(dataset.items) > 1 else 0,
        collate_fn=_as_is,
        prefetch_factor=2 if workers > 0 and len(dataset.items) > 1 else None,
    )
    yield from loader


HEADLINE = {  # the summary's columns per kind of data
    "sr": ("psnr_y", "ssim_y"),
    "sr_same": ("psnr_y", "ssim_y"),
    "lle": ("psnr", "ssim"),
    "unpaired": ("niqe (no-ref)", "exposure_error (proxy)"),
}


def write_summary(runs: Sequence[tuple[str, Dataset, Sequence[Method]]], out: Path) -> Path:
    """summary.md / summary.csv: one row per method, the headline metrics of every dataset
    side by side (as SR papers print Set5 / Set14 / B100 / Urban100), plus LPIPS and NIQE
    where computed. Each dataset's full table is in its own folder."""
    labels: list[str] = []
    columns: list[tuple[str, str]] = []  # (dataset name, metric key)
    for name, dataset, methods in runs:
        present = {k for m in methods for scores in m.scores.values() for k in scores}
        wanted = [*HEADLINE[dataset.kind], "lpips", "niqe (no-ref)"]
        for key in dict.fromkeys(wanted):
            # the metric, or its [float] column
            match = [k for k in present if k == key or k == f"{key} [float]"]
            columns += [(name, k) for k in match if (name, k) not in columns]
        labels += [m.label for m in methods if m.label not in labels]
    header = ["method", *(f"{name} {key}" for name, key in columns)]
    rows = []
    for label in labels:
        row: list = [label]
        for name, key in columns:
            method = next(
                (m for n, _, ms in runs if n == name for m in ms if m.label == label), None
            )
            values = [s[key] for s in method.scores.values() if key in s] if method else []
            row.append(float(np.mean(values)) if values else None)
        rows.append(row)
    with (out / "summary.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    counts = ", ".join(f"{name} ({len(d.items)} images)" for name, d, _ in runs)
    lines = [
        f"Datasets: {counts}. Means of per-image values; each dataset's full table, per-image "
        "scores and grids are in its folder.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows),
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    return out / "summary.md"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lowlight-evaluate",
        description=__doc__,
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


def _datasets(args) -> list[tuple[str, Dataset]]:
    """(name, dataset) for each --data folder, or the one given by --low/--high or --hr."""
    if args.low or args.high or args.hr or not args.data or len(args.data) == 1:
        data = args.data[0] if args.data else None
        return [(Path(data).name if data else "data", resolve_dataset(args, data))]
    names = [Path(d).resolve().name for d in args.data]
    if len(set(names)) != len(names):
        raise ValueError(f"two --data folders share a name in {names}: their tables would clash")
    return [(name, resolve_dataset(args, d)) for name, d in zip(names, args.data, strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    out = Path(args.output)
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
    for name, dataset, methods in runs:
        grid = args.grid if args.grid is not None else [item[0] for item in dataset.items[:3]]
        log.info("%s: %d images, %d methods", dataset.description, len(dataset.items), len(methods))
        table = evaluate(
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Running every method on every image of a dataset: outputs, scores, grids, timings."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from lowlight.baselines import SR_BASELINES
from lowlight.data.io import write_image
from lowlight.evaluate.datasets import Dataset, samples
from lowlight.evaluate.methods import Method
from lowlight.evaluate.scoring import Scoring, score
from lowlight.evaluate.tables import write_outputs
from lowlight.grids import fit_height, grid_image, to_pil
from lowlight.progress import ImageProgress

log = logging.getLogger("lowlight.evaluate")


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


def save_grid(path: Path, panels: Sequence[tuple[str, torch.Tensor]], max_side: int = 384):
    """Panels side by side (each resized to one height, at most `max_side`), labelled."""
    height = min(max_side, max(p.shape[1] for _, p in panels))
    row = [(label, fit_height(to_pil(img), height)) for label, img in panels]
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image([row]).save(path)


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
) -> tuple[Path, list[str]]:
    """Run every method on every image; write the tables and grids; return results.md and
    the images left out (unreadable, or a method failed on them).
    Images are read ahead by `workers` processes; scoring time is logged and tabled.
    `save_images` writes every method's output as images/<method>/<image>.png (8-bit)."""
    scoring = scoring or Scoring()
    failed = []
    scoring_seconds, started_all = 0.0, time.perf_counter()
    tracker = ImageProgress("evaluate", len(dataset.items), progress, log)
    with tracker:
        for i, (item, sample) in enumerate(samples(dataset, workers)):
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
                    scores = score(result, sample, dataset, scoring)
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
    table = write_outputs(methods, dataset, out, device, failed, scoring)
    unscored = sorted({name for m in methods for name in m.failed} - set(failed))
    return table, failed + unscored

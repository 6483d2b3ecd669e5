"""The tables `lowlight-evaluate` writes: results.md / results.csv / per_image.csv per
dataset, and summary.md / summary.csv across datasets."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lowlight.evaluate.datasets import Dataset
from lowlight.evaluate.methods import Method
from lowlight.evaluate.published import published_lines
from lowlight.evaluate.scoring import Scoring, scoring_line


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


# metrics whose worst image matters as much as their mean: a column of the largest value
WORST = ("white_added_pp (proxy)",)


def summarize(methods: Sequence[Method]) -> tuple[list[str], list[list]]:
    """One row per method: mean of per-image scores (and the worst image's value for the
    WORST metrics, as `max KEY`), then cost columns."""
    metric_keys: list[str] = []
    for m in methods:
        for scores in m.scores.values():
            metric_keys += [k for k in scores if k not in metric_keys]
    worst = [k for k in metric_keys if k.removesuffix(" [float]") in WORST]
    header = ["method", "images", *metric_keys, *(f"max {k}" for k in worst)]
    header += ["params", "GMAC/MP", "ms/MP", "note"]
    rows = []
    for m in methods:
        values = [[s[k] for s in m.scores.values() if k in s] for k in metric_keys]
        means = [float(np.mean(v)) if v else None for v in values]
        means += [max(values[metric_keys.index(k)], default=None) for k in worst]
        gmac = None if m.macs_per_mp is None else round(m.macs_per_mp / 1e9, 2)
        ms = round(1000 * m.seconds / m.megapixels, 1) if m.megapixels else None
        note = m.note
        if m.failed:
            note = f"{note}; " if note else ""
            note += f"{len(m.failed)} image(s) failed: {', '.join(sorted(m.failed)[:3])}"
        rows.append([m.label, len(m.scores), *means, m.params, gmac, ms, note])
    return header, rows


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
        scoring_line(scoring or Scoring(), dataset),
        "`images`: how many images each method was scored on.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    if dataset.kind == "unpaired":
        lines += ["", "No ground truth: every score is a zero-reference proxy, not fidelity."]
    lines += published_lines(dataset.benchmark)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    with (out / "per_image.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        keys = [k for k in header[2 : header.index("params")] if not k.startswith("max ")]
        writer.writerow(["image", "method", *keys])
        for m in methods:
            for name, scores in m.scores.items():
                writer.writerow([name, m.label, *(scores.get(k) for k in keys)])
    return out / "results.md"


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

"""The LOL study's table, grids and curves from its finished runs.

    python experiments/lol_study/table.py logs/lol_study --lol ../shared/data/lowlight/LOL

Each finished job of the study's sweeps (LOG_DIR/<stage>/<job>/results.json) is one row. Its
best checkpoint (chosen on the validation blocks of our485 by val/psnr) is scored once on
LOL-v1 eval15 with `lowlight-evaluate` (8-bit outputs; the GT-mean columns are labelled),
beside the published rows. Writes, next to this script: results.md (the table; also put
between the `<!-- table -->` markers of README.md), results.csv, grids/*.jpg (three eval15
images: input | each run | ground truth) and curves.png (validation PSNR per epoch).

Runs are not committed, only their results: a row of the committed results.csv whose run is
not under LOG_DIR (an earlier machine's) is carried over as it stands, with its tile of each
grid and its validation points from curves.csv, so a table can be completed run by run
across sessions. A row whose run is under LOG_DIR is scored again and replaces it.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

import yaml
from PIL import Image

from lowlight.grids import GAP

HERE = Path(__file__).resolve().parent
STAGES = (
    "losses",
    "mse",
    "color",
    "generator",
    "generator_best",
    "whole",
    "iat",
    "iat_long",
    "iat_ema",
    "iat_whole",
    "iat_ssim",
    "iat_norm",
    "iat_mixed",
    "iat_exposure",
    "iat_coarse",
    "iat_coarse_ssim",
    "iat_refit",
    "iat_refit_ssim",
)
GRID_IMAGES = ("1", "111", "748")  # three eval15 scenes: indoor, dark room, bright objects
# overrides every job shares (paths, data location, resume): not part of a row's name
COMMON = (
    "data.root",
    "data.sources.lol.root",
    "data.sources.synthetic.source_dir",
    "ckpt_path",
    "callbacks.",
    "paths.",
    "hydra.",
    "+experiment",
    "+sweep",
)


def finished_runs(log_dir: Path) -> list[tuple[str, str, Path, dict]]:
    """(stage, label, run folder, results) of every finished job, in stage order."""
    runs = []
    for stage in STAGES:
        for job in sorted((log_dir / stage).glob("[0-9]*"), key=lambda p: int(p.name)):
            results_file = job / "results.json"
            if not results_file.is_file():
                continue
            results = json.loads(results_file.read_text())
            if results.get("status") != "finished":
                continue
            overrides = results.get("overrides")  # older runs: Hydra's copy
            if overrides is None:
                overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
            experiment = next(o for o in overrides if o.startswith("+experiment="))
            kept = [o for o in overrides if not o.startswith(COMMON)]
            label = f"{stage}{job.name}"
            row = {**results, "experiment": experiment, "row": kept, "refit": _refit(job)}
            runs.append((stage, label, job, row))
    return runs


def order_key(stage: str, label: str) -> tuple[int, int]:
    """A row's place in the table: stage order, then job number."""
    return STAGES.index(stage), int(label.removeprefix(stage))


def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def grid_tiles(grid: Image.Image, labels: list[str], name: Path) -> dict[str, Image.Image]:
    """The tiles of an equal-width grid (input | one per label | ground truth), by caption."""
    captions = ["input", *labels, "ground truth"]
    step, extra = divmod(grid.width + GAP, len(captions))
    if extra:
        raise ValueError(
            f"{name}: {grid.width} px wide is not {len(captions)} equal tiles "
            f"(input, {len(labels)} runs of results.csv, ground truth); rebuild it from the runs"
        )
    return {
        c: grid.crop((i * step, 0, i * step + step - GAP, grid.height))
        for i, c in enumerate(captions)
    }


def merge_grid(
    new: Path, new_labels: list[str], old: Path, old_labels: list[str], order: list[str]
):
    """One grid in table order: the new runs' tiles (scored now) and the carried rows' tiles
    cut from the committed grid (both drawn by lowlight-evaluate, one tile width)."""
    with Image.open(new) as im:
        tiles = grid_tiles(im.convert("RGB"), new_labels, new)
    if any(label not in tiles for label in order):
        if not old.is_file():
            raise ValueError(f"{old} is missing: it holds the tiles of the carried rows")
        with Image.open(old) as im:
            kept = grid_tiles(im.convert("RGB"), old_labels, old)
        if next(iter(kept.values())).size != tiles["input"].size:
            raise ValueError(
                f"{old}: its tiles are not the size of {new}'s; rebuild it from the runs"
            )
        tiles = {**kept, **tiles}
    captions = ["input", *order, "ground truth"]
    width, height = tiles["input"].size
    canvas = Image.new("RGB", (len(captions) * (width + GAP) - GAP, height), "white")
    for i, caption in enumerate(captions):
        canvas.paste(tiles[caption], (i * (width + GAP), 0))
    return canvas


def _refit(run: Path) -> bool:
    """Whether the run validated on its own training pairs (data.val_dir = data.train_dir:
    a refit with settings chosen before); its validation PSNR then measures nothing that
    the table or the curves should show."""
    data = yaml.safe_load((run / "config.yaml").read_text()).get("data", {})
    return data.get("val_dir") is not None and data.get("val_dir") == data.get("train_dir")


def val_curve(run: Path) -> list[tuple[int, float]]:
    """(epoch, val/psnr) rows of the run's metrics.csv (header rows may repeat on resume)."""
    points, header = [], None
    with (run / "metrics.csv").open() as f:
        for row in csv.reader(f):
            if row and row[0] == "epoch":
                header = row
                continue
            if header and "val/psnr" in header:
                i = header.index("val/psnr")
                if i < len(row) and row[i]:
                    points.append((int(row[0]), float(row[i])))
    return points


def plot_curves(curves: dict[str, list[tuple[int, float]]], out: Path) -> None:
    """Validation PSNR against the epoch (counted from 1, as in curves.csv), a line a run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, points in curves.items():
        if points:
            ax.plot([e for e, _ in points], [p for _, p in points], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation PSNR (dB), our485 blocks")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("log_dir", type=Path, help="the study's log folder (run.sh's LOG_DIR)")
    p.add_argument("--lol", type=Path, required=True, help="the LOL folder (eval15 inside)")
    p.add_argument("--lpips", help="LPIPS backbone weights (a local torchvision state dict)")
    p.add_argument("--out", type=Path, default=HERE, help="where the table goes")
    p.add_argument("--grid", nargs="+", default=GRID_IMAGES, help="eval15 images in the grids")
    args = p.parse_args(argv)

    from lowlight.evaluate import main as evaluate

    runs = finished_runs(args.log_dir)
    if not runs:
        print(f"error: no finished runs under {args.log_dir}", file=sys.stderr)
        return 2
    fresh = {label for _, label, _, _ in runs}
    committed = read_csv(args.out / "results.csv")
    carried = [row for row in committed if row["run"] not in fresh]
    old_curves: dict[str, list[tuple[int, float]]] = {}
    for row in read_csv(args.out / "curves.csv"):
        old_curves.setdefault(row["run"], []).append((int(row["epoch"]), float(row["val_psnr"])))

    scored = args.log_dir / "eval15"
    command = ["--data", str(args.lol), "--gt-mean", "-o", str(scored), "--overwrite", "-q"]
    command += ["--grid", *args.grid, "--methods"]
    command += [f"{label}={run}" for _, label, run, _ in runs]
    command += ["--lpips", args.lpips] if args.lpips else []
    if evaluate(command) != 0:
        return 1
    table = {row["method"]: row for row in read_csv(scored / "results.csv")}

    def cell(label: str, key: str, digits: int) -> str:
        value = table.get(label, {}).get(key)
        return f"{float(value):.{digits}f}" if value not in (None, "") else ""

    rows, curves = list(carried), {}
    for row in carried:
        curves[row["run"]] = old_curves.get(row["run"], [])
    for stage, label, run, results in runs:
        curve = [(e + 1, p) for e, p in val_curve(run)]
        curves[label] = [] if results["refit"] else curve
        best_epoch = max(curve, key=lambda x: x[1])[0] if curve else None
        hours = (results.get("fit_seconds", 0) + results.get("test_seconds", 0)) / 3600
        what = results["experiment"].removeprefix("+experiment=") + " " + " ".join(results["row"])
        best = results.get("best_score")
        val = f"{best:.2f} ({best_epoch})" if best is not None else ""
        rows.append(
            {
                "run": label,
                "stage": stage,
                "what": what.strip(),
                "val": "(trains on them)" if results["refit"] else val,
                "psnr": cell(label, "psnr", 2),
                "ssim": cell(label, "ssim", 3),
                "mae": cell(label, "mae", 4),
                "lpips": cell(label, "lpips", 3),
                "psnr_gtmean": cell(label, "psnr (GT-mean)", 2),
                "ssim_gtmean": cell(label, "ssim (GT-mean)", 3),
                "params": table.get(label, {}).get("params", ""),
                "gmac": cell(label, "GMAC/MP", 1),
                "hours": f"{hours:.2f}",
            }
        )
    rows.sort(key=lambda r: order_key(r["stage"], r["run"]))

    lpips = " LPIPS |" if args.lpips else ""
    lines = [
        "| run | what | best val PSNR (epoch) | eval15 PSNR | SSIM | MAE |"
        + lpips
        + " PSNR (GT-mean) | SSIM (GT-mean) | params | GMAC/MP | CPU h |",
        "|" + " --- |" * (11 + bool(args.lpips)),
    ]
    shown = [
        k for k in rows[0] if k not in ("run", "stage", "what") and (k != "lpips" or args.lpips)
    ]
    for row in rows:
        lines.append(
            f"| {row['run']} | `{row['what']}` | " + " | ".join(row[k] for k in shown) + " |"
        )
    ident = runs[0][3]["test"]  # every run's test also scores the unenhanced input
    lines.append(
        f"| input | (no enhancement) | | {ident['test/input_psnr']:.2f} | "
        f"{ident['test/input_ssim']:.3f} | {ident['test/input_mae']:.4f} |"
        + (" |" if args.lpips else "")
        + " | | 0 | 0 | 0 |"
    )
    order = [row["run"] for row in rows]
    # the grids first: a carried row whose tile cannot be found stops here, nothing written
    try:
        merged = {
            png.stem: merge_grid(
                png,
                [label for _, label, _, _ in runs],
                args.out / "grids" / f"{png.stem}.jpg",
                [row["run"] for row in committed],
                order,
            )
            for png in sorted((scored / "grids").glob("*.png"))
        }
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if missing := sorted(set(args.grid) - set(merged)):
        print(f"error: no eval15 image named {', '.join(missing)} (--grid)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    with (args.out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (args.out / "curves.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "epoch", "val_psnr"])
        writer.writerows([label, e, f"{p:.4f}"] for label in order for e, p in curves[label])
    grids = args.out / "grids"
    shutil.rmtree(grids, ignore_errors=True)
    grids.mkdir()
    for name, grid in merged.items():
        grid.save(grids / f"{name}.jpg", quality=85)
    plot_curves({label: curves[label] for label in order}, args.out / "curves.png")
    missing = [row["run"] for row in carried if row["run"] not in old_curves]
    if missing:
        print(f"note: no validation points kept for {', '.join(missing)} (not in curves.csv)")
    readme = args.out / "README.md"
    if readme.is_file():  # the table between its markers in the write-up, kept in step
        text = readme.read_text()
        start, end = "<!-- table -->", "<!-- /table -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text = head + start + "\n" + "\n".join(lines) + "\n" + end + rest.split(end, 1)[1]
            readme.write_text(text)
    print("\n".join(lines))
    kept = f" ({len(carried)} rows carried from the committed results.csv)" if carried else ""
    print(f"wrote {args.out / 'results.md'}, results.csv, curves.csv, grids/, curves.png{kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

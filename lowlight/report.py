"""Turn a Hydra multirun (sweep) folder into one table and figures.

    lowlight-report logs/dce_net/multirun/2026-11-22_10-00-00
    lowlight-report DIR --metric test/psnr_y --out experiments/my_study

Writes `report.md` and `report.csv` (one row per job: the overrides that differ between jobs
and the job's final metrics, plus the unenhanced input when the runs scored it),
`metric_per_setting.png` and `curves.png` (train and validation curves per job).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

log = logging.getLogger(__name__)

# Preferred headline metrics, first present wins (fidelity before proxies before losses).
HEADLINE = ("test/psnr_y", "test/psnr", "test/psnr_autocontrast", "test/exposure_error", "val/loss")
TRAIN_CURVES = ("train/loss_epoch", "train/g_loss_epoch")
VAL_CURVES = ("val/psnr_y", "val/psnr", "val/loss")


class Job:
    """One finished (or failed) job folder of a multirun."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or []
        self.overrides = dict(o.split("=", 1) for o in overrides if "=" in o)
        results = folder / "results.json"
        self.results = json.loads(results.read_text()) if results.is_file() else None
        self.curves = _read_curves(folder / "metrics.csv")

    @property
    def metrics(self) -> dict[str, float]:
        if self.results is None:
            return {}
        out = {k: v for k, v in self.results.get("test", {}).items() if isinstance(v, float)}
        out.update({k: v for k, v in self.results.get("val", {}).items() if v is not None})
        out["epochs"] = self.results.get("epochs")
        out["fit_minutes"] = round(self.results.get("fit_seconds", 0) / 60, 2)
        return out


def _read_curves(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Per-epoch series from a Lightning CSV log: {column: [(epoch, value), ...]}."""
    if not path.is_file():
        return {}
    series: dict[str, dict[int, float]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            epoch = row.get("epoch")
            if not epoch:
                continue
            for key, value in row.items():
                if key in ("epoch", "step") or value in (None, "") or key.endswith("_step"):
                    continue
                series.setdefault(key, {})[int(epoch)] = float(value)
    return {k: sorted(v.items()) for k, v in series.items()}


def find_jobs(root: Path) -> list[Job]:
    folders = sorted(
        (p.parent.parent for p in root.glob("*/.hydra/overrides.yaml")),
        key=lambda p: (len(p.name), p.name),  # 0, 1, ..., 10 in job order
    )
    if not folders:
        raise FileNotFoundError(f"no multirun jobs (*/.hydra/overrides.yaml) under {root}")
    return [Job(f) for f in folders]


def varying(jobs: Sequence[Job]) -> list[str]:
    """Override keys whose values differ between jobs (what the sweep varied)."""
    keys = sorted({k for j in jobs for k in j.overrides})
    return [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1]


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


# Table columns: test metrics first, fidelity in this order, then the rest alphabetically.
FIRST = ("psnr_y", "ssim_y", "psnr", "ssim", "mae", "psnr_autocontrast", "ssim_autocontrast")


def _column_order(key: str) -> tuple:
    stage, _, name = key.rpartition("/")
    rank = FIRST.index(name) if name in FIRST else len(FIRST)
    return (stage != "test", stage == "", rank, key)


def build_table(
    jobs: Sequence[Job], columns: Sequence[str] | None = None
) -> tuple[list[str], list[list]]:
    """Header and rows: job, the swept overrides, then metrics (all, or `columns` in order)."""
    swept = varying(jobs)
    done = [j for j in jobs if j.results is not None]
    keys = sorted({k for j in done for k in j.metrics}, key=_column_order)
    metric_keys = [k for k in keys if not k.startswith("test/input_")]
    if columns:
        unknown = [c for c in columns if c not in metric_keys]
        if unknown:
            raise ValueError(
                f"--columns {', '.join(unknown)}: not in the results; have {metric_keys}"
            )
        metric_keys = list(columns)
    header = ["job", *swept, *metric_keys]
    rows = [
        [
            j.folder.name,
            *(j.overrides.get(k, "") for k in swept),
            *(j.metrics.get(k) for k in metric_keys),
        ]
        for j in jobs
    ]
    # The input baseline is the same data for every job: one extra row from the first job.
    baseline = done[0].metrics if done else {}
    if any(k.startswith("test/input_") for k in baseline):
        values = [
            baseline.get("test/input_" + k.removeprefix("test/")) if k.startswith("test/") else None
            for k in metric_keys
        ]
        setting = ["(no enhancement)"] + [""] * (len(swept) - 1) if swept else []
        rows.append(["input", *setting, *values])
    return header, rows


def write_tables(header: list[str], rows: list[list], out: Path) -> None:
    with (out / "report.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _label(job: Job, swept: Sequence[str]) -> str:
    return (
        ", ".join(
            f"{k.lstrip('+').split('.')[-1]}={job.overrides[k]}"
            for k in swept
            if k in job.overrides
        )
        or job.folder.name
    )


def plot(jobs: Sequence[Job], metric: str, out: Path) -> list[Path]:
    swept = varying(jobs)
    done = [j for j in jobs if j.results is not None]
    written = []
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(done) + 2), 3.5))
    labels = [_label(j, swept) for j in done]
    values = [j.metrics.get(metric, float("nan")) for j in done]
    ax.bar(range(len(done)), values, color="#4a7ebb")
    base = done[0].metrics.get(metric.replace("test/", "test/input_", 1)) if done else None
    if base is not None and metric.startswith("test/"):
        ax.axhline(base, color="gray", linestyle="--", label="input (no enhancement)")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xticks(range(len(done)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    finite = [v for v in values + ([base] if base is not None else []) if v == v]
    if finite:
        low, high = min(finite), max(finite)
        pad = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
        ax.set_ylim(low - pad, high + pad)
    fig.tight_layout()
    fig.savefig(out / "metric_per_setting.png", dpi=120)
    plt.close(fig)
    written.append(out / "metric_per_setting.png")

    train_key = next((k for k in TRAIN_CURVES if any(k in j.curves for j in done)), None)
    val_key = next((k for k in VAL_CURVES if any(k in j.curves for j in done)), None)
    panels = [k for k in (train_key, val_key) if k]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
        for ax, key in zip(axes[0], panels, strict=True):
            for job, label in zip(done, labels, strict=True):
                points = job.curves.get(key, [])
                if points:
                    ax.plot(
                        [e + 1 for e, _ in points], [v for _, v in points], marker=".", label=label
                    )
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "curves.png", dpi=120)
        plt.close(fig)
        written.append(out / "curves.png")
    return written


def report(
    root: str | Path,
    metric: str | None = None,
    out: str | Path | None = None,
    columns: Sequence[str] | None = None,
) -> dict:
    """Write the table and figures for the multirun at `root`; returns what was written."""
    root = Path(root)
    out = Path(out) if out else root
    out.mkdir(parents=True, exist_ok=True)
    jobs = find_jobs(root)
    failed = [j.folder.name for j in jobs if j.results is None]
    if failed:
        log.warning("jobs without results.json (failed or unfinished): %s", ", ".join(failed))
    header, rows = build_table(jobs, columns)
    write_tables(header, rows, out)
    done = [j for j in jobs if j.results is not None]
    if metric is None:
        metric = next((m for m in HEADLINE if any(m in j.metrics for j in done)), None)
    figures = plot(jobs, metric, out) if metric and done else []
    return {
        "table": out / "report.md",
        "csv": out / "report.csv",
        "figures": figures,
        "metric": metric,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lowlight-report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("multirun_dir", help="a Hydra multirun folder (holds 0/, 1/, ...)")
    parser.add_argument(
        "--metric", help=f"metric for the bar chart (default: first of {', '.join(HEADLINE)})"
    )
    parser.add_argument("--out", help="where to write (default: the multirun folder)")
    parser.add_argument("--columns", nargs="+", help="only these metric columns, in this order")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = report(args.multirun_dir, args.metric, args.out, args.columns)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(written["table"].read_text())
    for path in [written["csv"], *written["figures"]]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

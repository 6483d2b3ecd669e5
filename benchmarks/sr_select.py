"""How `make bench-sr`'s setting is chosen: equal-budget trials of esrgan_psnr x4 on
SunHays80, compared on a VALIDATION split of SunHays80 (16 of its 80 photos, never trained
on). Set5 plays no part here: it is the test set, reported once by `sr_learns.py`.

    python benchmarks/sr_select.py [--data ../shared/data] [--epochs 5]

Each trial is `python -m lowlight.train` with the test stage off; the table lists every
trial's best validation PSNR-Y (the checkpoint monitor) and the winner. A trial that already
finished in the log folder is not run again (delete `LOG_DIR/sr_select_N` to redo it).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAL_SPLIT = "data.split=[0.8,0.2,0]"  # 64 photos to train on, 16 to choose with; no test
TRIALS = {
    "96 px crops, lr 4e-4": ["data.crop_size=96", "system.optimizer_g.lr=4e-4"],
    "96 px crops, lr 1e-3": ["data.crop_size=96", "system.optimizer_g.lr=1e-3"],
    "64 px crops x2 per epoch, lr 1e-3": [
        "data.crop_size=64",
        "system.optimizer_g.lr=1e-3",
        "data.train_samples=4000",
    ],
    "wider RRDBNet 48/6/24, pixel shuffle, 64 px, lr 1e-3": [
        "data.crop_size=64",
        "system.optimizer_g.lr=1e-3",
        "system.generator.num_feat=48",
        "system.generator.num_block=6",
        "system.generator.num_grow_ch=24",
        "system.generator.upsampler=pixelshuffle",
    ],
}


def _finished(task: Path) -> dict | None:
    """The newest finished results.json of a trial's runs, if any."""
    for path in sorted(task.glob("*/results.json"), reverse=True):
        results = json.loads(path.read_text())
        if results.get("status") == "finished":
            return results
    return None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder"
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--log-dir", default=str(ROOT / "logs" / "bench"))
    args = parser.parse_args()
    hr = Path(args.data) / "sr" / "SunHays80_HR"
    if not hr.is_dir():
        print(f"missing {hr}: pass --data DIR holding sr/SunHays80_HR", file=sys.stderr)
        return 2
    rows = []
    for i, (name, overrides) in enumerate(TRIALS.items()):
        task = Path(args.log_dir) / f"sr_select_{i}"
        if _finished(task) is None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lowlight.train",
                    "+experiment=esrgan_psnr",
                    f"data.hr_dir={hr}",
                    VAL_SPLIT,
                    "data.train_samples=2000",
                    *overrides,
                    "test=false",
                    f"trainer.max_epochs={args.epochs}",
                    f"paths.log_dir={args.log_dir}",
                    f"task_name={task.name}",
                ],
                cwd=ROOT,
                check=True,
            )
        results = _finished(task)
        rows.append((name, results["best_score"], results["fit_seconds"] / 60))
    best = max(rows, key=lambda r: r[1])
    print()
    print(
        f"SR setting trials — validation: 16 SunHays80 photos (x4, Y, border 4); "
        f"{args.epochs} epochs each; {date.today()}, {platform.machine()}"
    )
    print()
    print("| trial | best val PSNR-Y (dB) | training (min) |")
    print("| --- | --- | --- |")
    for name, score, fit in rows:
        mark = " (chosen)" if name == best[0] else ""
        print(f"| {name}{mark} | {score:.2f} | {fit:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

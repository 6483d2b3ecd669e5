"""Tiled inference: peak memory and time against untiled, side by side in one run.

    python benchmarks/tiling.py            # make bench
    python benchmarks/tiling.py --sizes 1500x1000 3000x2000 6000x4000

Each case runs in its own process (peak resident memory is per process) on a random image
with DCE-Net: the Zero-DCE authors' weights when ../shared/data is present, else random
weights (same cost). Prints a markdown table: seconds, peak RSS, and both as a ratio to
untiled inference at the same size. Untiled is skipped above --max-untiled-mp megapixels
(its activations alone would exceed this machine's memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT.parent / "shared" / "data" / "weights" / "zero_dce_epoch99.pth"


def one(width: int, height: int, tile: int) -> dict:
    import torch

    from lowlight.inference import InferenceNet, enhance_image
    from lowlight.loading import LoadedModel, load_model
    from lowlight.models.dce import DCENet

    torch.manual_seed(0)
    if WEIGHTS.is_file():
        model = load_model(WEIGHTS, "zero_dce")
    else:
        model = LoadedModel("dce_net (random)", InferenceNet(DCENet()).eval(), Path("-"))
    image = torch.rand(3, height, width) * 0.3
    base = _peak_mb()
    started = time.perf_counter()
    out = enhance_image([model], image, "cpu", tile=tile)
    seconds = time.perf_counter() - started
    assert out.shape == image.shape
    return {"seconds": seconds, "peak_mb": _peak_mb(), "before_mb": base, "model": model.name}


def _peak_mb() -> float:
    """This process's peak resident memory in MB. ru_maxrss alone would do, but Linux keeps
    it across exec: a child of a large process would start at its parent's peak."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB


def measure(w: int, h: int, tile: int) -> dict:
    """`one` in a fresh process (peak RSS is per process)."""
    cmd = [sys.executable, __file__, "--one", str(w), str(h), str(tile)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1500x1000", "3000x2000", "6000x4000"])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--max-untiled-mp", type=float, default=8.0)
    parser.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return

    run = measure
    print(
        f"tile {args.tile} px (DCE-Net: disjoint tiles with its 7 px halo, equal to untiled); "
        "CPU threads as torch picks them\n"
    )
    print(
        "| image | MP | mode | seconds | peak RSS (MB) | MB/MP above start | time vs untiled "
        "| memory vs untiled |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    model = None
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        mp = w * h / 1e6
        untiled = run(w, h, 0) if mp <= args.max_untiled_mp else None
        tiled = run(w, h, args.tile)
        model = tiled["model"]
        for mode, r in (("untiled", untiled), (f"tiled {args.tile}", tiled)):
            if r is None:
                print(
                    f"| {size} | {mp:.1f} | untiled | not run (> {args.max_untiled_mp} MP) "
                    "| | | | |"
                )
                continue
            ratio_t = f"{r['seconds'] / untiled['seconds']:.2f}" if untiled else ""
            ratio_m = f"{r['peak_mb'] / untiled['peak_mb']:.2f}" if untiled else ""
            per_mp = (r["peak_mb"] - r["before_mb"]) / mp
            print(
                f"| {size} | {mp:.1f} | {mode} | {r['seconds']:.1f} | {r['peak_mb']:.0f} "
                f"| {per_mp:.0f} | {ratio_t} | {ratio_m} |"
            )
    print(f"\nmodel: {model}")


if __name__ == "__main__":
    main()

"""What scoring costs: valid-region SSIM (`lowlight.metrics.ssim`, two 11-tap passes over the
valid region) against torchmetrics' SSIM (full 11x11 kernel over the reflect-padded image),
in float64 (evaluate) and float32 (training), on one RGB image.

    python benchmarks/scoring.py [--size 1039x789] [--repeat 3]

Prints a markdown table with the ratios measured side by side in one run.
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date

import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from lowlight.metrics import ssim


def _best_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1039x789", help="WIDTHxHEIGHT (default: DICM-sized)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, h, w, generator=g, dtype=torch.float64)
    out = (ref + 0.1 * torch.rand(1, 3, h, w, generator=g, dtype=torch.float64)).clamp(0, 1)
    print(
        f"SSIM of one {w}x{h} RGB image, best of {args.repeat}; {date.today()}, "
        f"{platform.machine()}, {torch.get_num_threads()} threads"
    )
    print()
    print(
        "| dtype | lowlight (valid region) s | torchmetrics (padded) s | torchmetrics / lowlight |"
    )
    print("| --- | --- | --- | --- |")
    for dtype in (torch.float64, torch.float32):
        a, b = out.to(dtype), ref.to(dtype)
        ours = _best_seconds(lambda a=a, b=b: ssim(a, b), args.repeat)
        theirs = _best_seconds(
            lambda a=a, b=b: structural_similarity_index_measure(a, b, data_range=1.0),
            args.repeat,
        )
        print(f"| {dtype} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

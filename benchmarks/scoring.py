"""What scoring costs: valid-region SSIM (`lowlight.metrics.ssim`, two 11-tap passes over the
valid region) against torchmetrics' SSIM (full 11x11 kernel over the reflect-padded image),
in float64 and float32, on one RGB image; and the share of an `evaluate` run spent
scoring: --pairs synthetic 480x320 pairs, six methods (five classical baselines and
Zero-DCE++ with random weights, as cheap as a trained one), float32 scoring (evaluate's
default) against float64.

    python benchmarks/scoring.py [--size 1039x789] [--repeat 3] [--pairs 100]

Prints markdown tables with the ratios measured side by side in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import re
import tempfile
import time
from datetime import date
from pathlib import Path

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
    parser.add_argument("--pairs", type=int, default=100, help="images in the evaluate run")
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
    if args.pairs:
        print(f"\n`evaluate` on {args.pairs} pairs of 480x320, 6 methods\n")
        print("| scoring | total s | scoring s | scoring share |")
        print("| --- | --- | --- | --- |")
        for name, total, spent, share in evaluate_share(args.pairs):
            print(f"| {name} | {total} | {spent} | {share}% |")
    return 0


def evaluate_share(pairs: int) -> list[tuple[str, str, str, str]]:
    """`evaluate` on `pairs` 480x320 pairs with six methods: (scoring, total s, scoring s,
    share %) for float32 (the default) and float64 scoring. The model is the Zero-DCE
    authors' DCE-Net when ../shared/data is present, else Zero-DCE++ with random weights."""
    import numpy as np

    from lowlight.data.io import write_image
    from lowlight.evaluate import main as evaluate_main

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        for i in range(pairs):
            high = rng.random((40, 60, 3))
            high = np.kron(high, np.ones((8, 8, 1)))  # 320x480, smooth blocks
            write_image(root / "d" / "high" / f"{i:03d}.png", high)
            write_image(root / "d" / "low" / f"{i:03d}.png", high * 0.25)
        weights = Path(__file__).resolve().parents[2] / "shared/data/weights/zero_dce_epoch99.pth"
        if weights.is_file():
            model = f"zero_dce={weights}"
        else:
            run = root / "pp"
            run.mkdir()
            _zero_dce_pp_run(run)
            model = f"zero_dce_pp={run}"
        rows = []
        for flag in ([], ["--score-float64"]):
            out = root / f"out{len(flag)}"
            args = ["--data", str(root / "d"), "-o", str(out), "-q", "--workers", "2"]
            args += ["--methods", "identity", "gamma", "hist_eq", "clahe", "autocontrast"]
            args += [model, *flag]
            with contextlib.redirect_stdout(io.StringIO()):
                assert evaluate_main(args) == 0
            line = (out / "results.md").read_text()
            spent, total, share = re.search(
                r"scoring took ([\d.]+) s of ([\d.]+) s \((\d+)%\)", line
            ).groups()
            rows.append(("float64" if flag else "float32 (default)", total, spent, share))
    return rows


def _zero_dce_pp_run(folder: Path) -> None:
    """A Zero-DCE++ run folder (random weights) as `train` writes one, for `evaluate`."""
    import lightning as L
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("train", overrides=["+experiment=zero_dce_pp"])
    cfg.paths.output_dir = str(folder)
    OmegaConf.save(cfg, folder / "config.yaml", resolve=True)
    system = instantiate(cfg.system)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(system)
    (folder / "checkpoints").mkdir()
    trainer.save_checkpoint(folder / "checkpoints" / "last.ckpt", weights_only=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""LOL training throughput on this machine (part of `make bench`): data supply with and
without the decoded-image cache, and the training step of the LOL study's three generators in
fp32 and bf16-mixed, side by side in one run. Skips (exit 0) without the LOL data.

    python benchmarks/lol_throughput.py [--lol ../shared/data/lowlight/LOL] [--steps 8]

Prints pairs per second; the study's CPU hours are in experiments/lol_study/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLOW_STEP_S = 20.0


def supply(lol: Path, cache: bool, batches: int) -> float:
    """Training pairs per second from the DataModule's loader (one process, as measured)."""
    from lowlight.data import PairAugment, PairedImageDataModule

    dm = PairedImageDataModule(
        root=str(lol),
        split=(0.8, 0.2, 0.0),
        split_by="blocks",
        cache=cache,
        augment=PairAugment(crop_size=96),
        batch_size=8,
        num_workers=0,
    )
    dm.setup()
    loader = iter(dm.train_dataloader())
    next(loader)
    started = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return 8 * batches / (time.perf_counter() - started)


def step_rate(experiment: str, lol: Path, precision: str, steps: int) -> float:
    """Training pairs per second of the experiment's generator step (L1, Adam; batch 8 of
    96 px LOL crops, channels-last as the systems train), fp32 or under bf16 autocast."""
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"+experiment={experiment}", f"data.root={lol}"])
    g = instantiate(cfg.system.generator).to(memory_format=torch.channels_last)
    dm = instantiate(cfg.data, num_workers=0, cache=False)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    x = batch["lq"].contiguous(memory_format=torch.channels_last)
    y = batch["gt"]
    opt = torch.optim.Adam(g.parameters(), lr=1e-4)
    bf16 = precision == "bf16-mixed"

    def one() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = g(x)
        loss = (out.float() - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    started = time.perf_counter()
    one()  # warm-up; when one step takes this long (bf16 without native support), it is the rate
    first = time.perf_counter() - started
    if first > SLOW_STEP_S:
        return 8 / first
    started = time.perf_counter()
    for _ in range(steps):
        one()
    return 8 * steps / (time.perf_counter() - started)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--lol", type=Path, default=ROOT.parent / "shared" / "data" / "lowlight" / "LOL")
    p.add_argument("--steps", type=int, default=8, help="timed steps per row")
    p.add_argument("--bf16-steps", type=int, default=4, help="timed bf16 steps per row")
    args = p.parse_args()
    if not (args.lol / "our485").is_dir():
        print(f"LOL throughput: skipped ({args.lol} not found)")
        return 0
    import torch

    print(f"LOL training throughput, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'what':<58} {'pairs/s':>9}")
    for cache in (False, True):
        rate = supply(args.lol, cache, batches=20)  # of the 24 batches in an epoch
        label = "data supply, 96 px crops, " + ("cached" if cache else "decoded each time")
        print(f"{label:<58} {rate:9.1f}")
    for experiment in ("lol_gan", "lol_gan_seed", "lol_iat"):
        for precision, steps in (("32-true", args.steps), ("bf16-mixed", args.bf16_steps)):
            rate = step_rate(experiment, args.lol, precision, steps)
            label = f"generator step, {experiment}, {precision}"
            print(f"{label:<58} {rate:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training and Zero-DCE speed, each row a ratio measured side by side in this one run.

    python benchmarks/speed.py          # make bench's summary table (~8 min on 2 CPU cores)

Rows:
- the LLE GAN's training step in Lightning vs the same step in a plain PyTorch loop (the
  same networks, losses and Adam settings, written out here), on pre-made batches;
- data supply vs consumption: synthetic pairs per second from the training DataLoader
  (0 workers) vs pairs per second the GAN trains on;
- the GAN step with `system.channels_last` on vs off;
- DCE-Net at 1200x900: the authors' forward re-implemented plainly (NCHW float32) vs this
  suite's inference path (channels-last, in-place curves), bfloat16 autocast where the CPU
  has native bf16, and Zero-DCE++ with its curve estimated at 1/12 size (random weights
  unless --dce-pp RUN is given: the cost does not depend on them); parameters, GMAC/MP
  and the largest difference from the plain output.

- DCE-Net memory per megapixel untiled vs halo-tiled, and the 24 MP case (tiling.py);
- the share of an `evaluate` run spent scoring, float32 vs float64 (scoring.py).

Timings are medians of alternated repeats; the machine is printed with them.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # tiling.py, scoring.py
WEIGHTS = ROOT.parent / "shared" / "data" / "weights" / "zero_dce_epoch99.pth"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _alternate(fns: dict, rounds: int, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, run in turn `rounds` times (so that a
    slower or busier stretch of the machine hits every contender alike)."""
    for fn in fns.values():
        fn()  # warm-up
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(_median_time(fn, repeats))
    return {k: statistics.median(v) for k, v in samples.items()}


# ---------------------------------------------------------------- GAN training


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=overrides)


def _gan_parts(channels_last: bool):
    from hydra.utils import instantiate

    cfg = _compose(["+experiment=lle_gan", f"system.channels_last={channels_last}"])
    torch.manual_seed(0)
    return cfg, instantiate(cfg.system), instantiate(cfg.data)


def _batches(datamodule, n: int) -> list[dict]:
    datamodule.setup("fit")
    batches = []
    for batch in datamodule.train_dataloader():
        batches.append({k: v for k, v in batch.items() if isinstance(v, torch.Tensor)})
        if len(batches) == n:
            return batches
    raise RuntimeError("the training loader gave fewer batches than asked for")


class _Listed(torch.utils.data.Dataset):
    def __init__(self, batches: list[dict]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        return self.batches[i]


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock read after it means something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lightning_step_seconds(
    system,
    batches: list[dict],
    warmup: int = 2,
    device: torch.device | None = None,
    **trainer_kw,
) -> float:
    """Median seconds per training step of `system` in a Lightning Trainer on `device`,
    the first `warmup` steps left out; `trainer_kw` go to the Trainer (precision, ...)."""
    import lightning as L

    device = device or torch.device("cpu")
    times: list[float] = []

    class Clock(L.Callback):
        def on_train_batch_start(self, *args) -> None:
            sync(device)
            self.started = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            sync(device)
            times.append(time.perf_counter() - self.started)

    loader = torch.utils.data.DataLoader(_Listed(batches), batch_size=None)
    trainer = L.Trainer(
        accelerator="cpu" if device.type == "cpu" else "gpu",
        devices=1,
        max_epochs=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Clock()],
        **trainer_kw,
    )
    trainer.fit(system, loader)
    return statistics.median(times[warmup:])


def plain_step_seconds(cfg, batches: list[dict], channels_last: bool) -> float:
    """The GAN step of `GANSystem` (pixel + adv * adversarial; D on real and fake) written
    as a plain PyTorch loop with the same networks, losses and optimizers."""
    from hydra.utils import instantiate

    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g = instantiate(cfg.system.generator).to(memory_format=fmt)
    d = instantiate(cfg.system.discriminator).to(memory_format=fmt)
    pixel, adversarial = instantiate(cfg.system.pixel_loss), instantiate(cfg.system.adversarial)
    opt_g = instantiate(cfg.system.optimizer_g)(g.parameters())
    opt_d = instantiate(cfg.system.optimizer_d)(d.parameters())
    w_adv = cfg.system.loss_weights.adv
    times = []
    for batch in batches:
        started = time.perf_counter()
        lq = batch["lq"].contiguous(memory_format=fmt)
        real = batch["gt"].contiguous(memory_format=fmt)
        fake = g(lq)
        d_loss = adversarial.discriminator_loss(d(real), d(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = pixel(fake, real) + w_adv * adversarial.generator_loss(d(fake), None)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        times.append(time.perf_counter() - started)
    return statistics.median(times[2:])


def gan_rows(steps: int, rounds: int) -> list[tuple[str, str, str]]:
    cfg, _, datamodule = _gan_parts(True)
    batches = _batches(datamodule, steps)
    size = batches[0]["lq"].shape
    results: dict[str, list[float]] = {"lightning": [], "plain": [], "nchw": []}
    for _ in range(rounds):  # alternated: each round measures all three
        results["lightning"].append(lightning_step_seconds(_gan_parts(True)[1], batches))
        results["plain"].append(plain_step_seconds(cfg, batches, True))
        results["nchw"].append(lightning_step_seconds(_gan_parts(False)[1], batches))
    lit, plain, nchw = (statistics.median(results[k]) for k in ("lightning", "plain", "nchw"))

    # data supply: pairs per second from the training loader as the GAN gets it (0 workers)
    datamodule.num_workers = 0
    loader = datamodule.train_dataloader()
    started, pairs = time.perf_counter(), 0
    for i, batch in enumerate(loader):
        pairs += batch["lq"].shape[0]
        if i + 1 == steps:
            break
    supply = pairs / (time.perf_counter() - started)
    consume = size[0] / lit
    shape = f"batch {size[0]} x {size[-1]} px"
    return [
        (
            f"LLE GAN step, Lightning vs plain PyTorch loop ({shape})",
            f"{lit * 1e3:.0f} ms vs {plain * 1e3:.0f} ms",
            f"{lit / plain:.2f}x time",
        ),
        (
            "data supply vs GAN consumption (synthetic pairs, 0 workers)",
            f"{supply:.0f} vs {consume:.0f} pairs/s",
            f"{supply / consume:.1f}x",
        ),
        (
            "LLE GAN step, channels_last vs NCHW (Lightning)",
            f"{lit * 1e3:.0f} ms vs {nchw * 1e3:.0f} ms",
            f"{lit / nchw:.2f}x time",
        ),
    ]


# ---------------------------------------------------------------- Zero-DCE


def plain_zero_dce(state: dict, x: torch.Tensor) -> torch.Tensor:
    """The authors' DCE-Net forward written out (NCHW float32, one tensor per step)."""

    def conv(i: int, h: torch.Tensor) -> torch.Tensor:
        return F.conv2d(h, state[f"convs.{i}.weight"], state[f"convs.{i}.bias"], padding=1)

    x1 = torch.relu(conv(0, x))
    x2 = torch.relu(conv(1, x1))
    x3 = torch.relu(conv(2, x2))
    x4 = torch.relu(conv(3, x3))
    x5 = torch.relu(conv(4, torch.cat([x3, x4], 1)))
    x6 = torch.relu(conv(5, torch.cat([x2, x5], 1)))
    r = torch.tanh(conv(6, torch.cat([x1, x6], 1)))
    for a in torch.split(r, 3, dim=1):
        x = x + a * (torch.pow(x, 2) - x)
    return x


def _gmac_per_mp(net, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    return counter.get_total_flops() / 2 / 1e9 / (x.shape[-1] * x.shape[-2] / 1e6)


def dce_rows(width: int, height: int, rounds: int, dce_pp: str | None) -> list:
    from lowlight.inference import InferenceNet
    from lowlight.loading import load_model, load_zero_dce
    from lowlight.models.dce import DCENet

    torch.manual_seed(0)
    dce = (
        load_zero_dce(WEIGHTS) if WEIGHTS.is_file() else DCENet()
    ).eval()  # subnormal weights flushed: the plain forward gets the same ones
    state = {k: v.clone() for k, v in dce.state_dict().items()}
    ours = InferenceNet(dce).eval().to(memory_format=torch.channels_last)
    if dce_pp:
        pp = load_model(dce_pp).net.eval()
    else:
        pp = InferenceNet(DCENet(separable=True, shared_curve=True, scale_factor=12)).eval()
    pp = pp.to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, height, width) * 0.35
    x_cl = x.contiguous(memory_format=torch.channels_last)
    bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()

    def run_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return ours(x_cl)

    fns = {"plain": lambda: plain_zero_dce(state, x), "ours": lambda: ours(x_cl)}
    if bf16:
        fns["bf16"] = run_bf16
    fns["pp"] = lambda: pp(x_cl)
    with torch.inference_mode():
        seconds = _alternate(fns, rounds, 1)
        reference = plain_zero_dce(state, x).clamp(0, 1)
        diffs = {"ours": (ours(x_cl) - reference).abs().max().item()}
        if bf16:
            diffs["bf16"] = (run_bf16().float() - reference).abs().max().item()
        diffs["pp"] = (pp(x_cl) - reference).abs().max().item()
    mp = width * height / 1e6
    params = {
        "plain": sum(v.numel() for v in state.values()),
        "ours": sum(p.numel() for p in ours.parameters()),
        "bf16": sum(p.numel() for p in ours.parameters()),
        "pp": sum(p.numel() for p in pp.parameters()),
    }
    with torch.inference_mode():
        gmac = {"plain": _gmac_per_mp(ours, x), "pp": _gmac_per_mp(pp, x)}
    gmac["ours"] = gmac["bf16"] = gmac["plain"]
    names = {
        "plain": "DCE-Net, authors' forward re-implemented (NCHW fp32)",
        "ours": "DCE-Net, this suite (channels-last, in-place curves, fp32)",
        "bf16": "DCE-Net, this suite under bfloat16 autocast",
        "pp": "Zero-DCE++, curve estimated at 1/12 size"
        + (" (trained)" if dce_pp else " (random weights)"),
    }
    rows = []
    for key, name in names.items():
        if key not in seconds:
            rows.append((name, "not run: no native bf16 on this CPU", ""))
            continue
        diff = "" if key == "plain" else f", max diff vs plain {diffs[key]:.2g}"
        rows.append(
            (
                f"{name}, {width}x{height}",
                f"{seconds[key] / mp * 1e3:.0f} ms/MP, {params[key]:,} params, "
                f"{gmac[key]:.1f} GMAC/MP{diff}",
                f"{seconds['plain'] / seconds[key]:.1f}x faster",
            )
        )
    return rows


def memory_rows() -> list[tuple[str, str, str]]:
    """DCE-Net memory per megapixel untiled (1500x1000) and tiled (1500x1000, 6000x4000),
    each in its own process (tiling.py)."""
    from tiling import measure

    untiled, tiled = measure(1500, 1000, 0), measure(1500, 1000, 512)
    big = measure(6000, 4000, 512)

    def per_mp(r: dict, mp: float) -> float:
        return (r["peak_mb"] - r["before_mb"]) / mp

    return [
        (
            "DCE-Net memory above start, untiled vs 512 px halo tiles, 1500x1000",
            f"{per_mp(untiled, 1.5):.0f} vs {per_mp(tiled, 1.5):.0f} MB/MP "
            f"({untiled['seconds']:.1f} s vs {tiled['seconds']:.1f} s)",
            f"{per_mp(tiled, 1.5) / per_mp(untiled, 1.5):.2f}x memory, "
            f"{tiled['seconds'] / untiled['seconds']:.2f}x time",
        ),
        (
            "DCE-Net, 6000x4000 (24 MP) in 512 px halo tiles",
            f"peak RSS {big['peak_mb']:.0f} MB, {big['seconds']:.0f} s",
            f"{big['peak_mb'] / 1024:.2f} GiB peak",
        ),
    ]


def scoring_rows(pairs: int) -> list[tuple[str, str, str]]:
    from scoring import evaluate_share

    (_, t32, s32, p32), (_, t64, s64, p64) = evaluate_share(pairs)
    return [
        (
            f"evaluate, {pairs} pairs of 480x320 x 6 methods: scoring float32 vs float64",
            f"{s32} s of {t32} s vs {s64} s of {t64} s",
            f"{p32}% vs {p64}% of the time",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12, help="GAN steps per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="1200x900", help="DCE image size WxH")
    parser.add_argument("--dce-pp", help="a trained zero_dce_pp run folder or checkpoint")
    parser.add_argument("--skip-gan", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--pairs", type=int, default=100, help="evaluate run size (0: skip)")
    args = parser.parse_args()
    torch.set_float32_matmul_precision("highest")
    rows = [] if args.skip_gan else gan_rows(args.steps, args.rounds)
    w, h = (int(v) for v in args.size.split("x"))
    rows += dce_rows(w, h, args.rounds, args.dce_pp)
    if not args.skip_memory:
        rows += memory_rows()
    if args.pairs:
        rows += scoring_rows(args.pairs)
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}\n"
    )
    print("| measure | figures | ratio |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

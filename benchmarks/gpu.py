"""GPU throughput: training images/s per experiment in fp32, bf16-mixed and compiled, and
inference megapixels/s per generator, side by side in one run.

    python benchmarks/gpu.py                 # make bench-gpu (needs a CUDA device)
    python benchmarks/gpu.py --device cpu --steps 3 --experiments lle_gan --modes fp32 bf16

Training runs each experiment's real system (networks, losses, optimizers, logging) in a
Lightning Trainer on fixed random batches of `--batch` x `--crop` px (so that the data
pipeline is not what is measured; `make bench` measures it against the GAN on a CPU),
with channels-last on (the systems' default). Modes: `fp32` (precision 32-true, TF32
off), `bf16` (bf16-mixed), `compiled` (bf16-mixed + system.compile=true: the generator
through torch.compile; its compile time is excluded by the warm-up steps). Inference runs
each generator on one `--inference-size` image in fp32 and under bf16 autocast.

Paste the table into docs/benchmarks.md with the date and the device it prints.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import _compose, lightning_step_seconds, sync  # noqa: E402  (not a package)

EXPERIMENTS = ("lle_gan", "dce_net", "zero_dce_pp", "esrgan_psnr")
MODES = {
    "fp32": ("32-true", False),
    "bf16": ("bf16-mixed", False),
    "compiled": ("bf16-mixed", True),
}
GENERATORS = {  # name: (experiment whose generator it is, its upscaling factor)
    "DCE-Net": ("dce_net", 1),
    "Zero-DCE++": ("zero_dce_pp", 1),
    "U-Net (lle_gan)": ("lle_gan", 1),
    "RRDBNet x4 (esrgan_psnr)": ("esrgan_psnr", 4),
}


def _batches(scale: int, batch: int, crop: int, n: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        gt = torch.rand(batch, 3, crop, crop, generator=g)
        lq = gt[..., ::scale, ::scale].contiguous() * 0.3 if scale > 1 else gt * 0.3
        out.append({"lq": lq, "gt": gt})
    return out


def train_images_per_second(
    experiment: str, mode: str, device: torch.device, batch: int, crop: int, steps: int
) -> float:
    from hydra.utils import instantiate

    precision, compiled = MODES[mode]
    cfg = _compose([f"+experiment={experiment}", f"system.compile={compiled}"])
    torch.manual_seed(0)
    system = instantiate(cfg.system)
    scale = int(getattr(system.generator, "scale", 1))
    warmup = 3 if not compiled else 6
    seconds = lightning_step_seconds(
        system,
        _batches(scale, batch, crop, warmup + steps),
        warmup,
        device,
        precision=precision,
        benchmark=device.type == "cuda",
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        gradient_clip_algorithm=cfg.trainer.get("gradient_clip_algorithm"),
    )
    return batch / seconds


@torch.inference_mode()
def inference_mp_per_second(
    experiment: str, scale: int, device: torch.device, size: tuple[int, int], bf16: bool
) -> float:
    from hydra.utils import instantiate

    from lowlight.inference import InferenceNet

    cfg = _compose([f"+experiment={experiment}"])
    net = InferenceNet(instantiate(cfg.system.generator)).eval()
    net = net.to(device, memory_format=torch.channels_last)
    w, h = size
    x = torch.rand(1, 3, h // scale, w // scale, device=device) * 0.3
    x = x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    with autocast:
        net(x)  # warm-up (cudnn.benchmark picks its algorithms here)
        sync(device)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            net(x)
            sync(device)
            times.append(time.perf_counter() - started)
    return w * h / 1e6 / statistics.median(times)  # output megapixels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=256, help="target crop side in px")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--inference-size", default="2048x2048", help="output WxH")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("make bench-gpu needs a CUDA device; none is available here", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"\n{datetime.date.today()}, {name}, torch {torch.__version__}; "
        f"training batch {args.batch} x {args.crop} px, channels-last\n"
    )
    print("| experiment | " + " | ".join(f"{m} img/s" for m in args.modes) + " | best vs fp32 |")
    print("| --- | " + " | ".join("---" for _ in args.modes) + " | --- |")
    for experiment in args.experiments:
        rates = {
            m: train_images_per_second(experiment, m, device, args.batch, args.crop, args.steps)
            for m in args.modes
        }
        best = f"{max(rates.values()) / rates['fp32']:.2f}x" if "fp32" in rates else ""
        cells = " | ".join(f"{rates[m]:.1f}" for m in args.modes)
        print(f"| {experiment} | {cells} | {best} |", flush=True)

    size = tuple(int(v) for v in args.inference_size.split("x"))
    print(f"\ninference, {args.inference_size} output, channels-last\n")
    print("| generator | fp32 MP/s | bf16 MP/s | bf16 vs fp32 |")
    print("| --- | --- | --- | --- |")
    for label, (experiment, scale) in GENERATORS.items():
        if experiment not in args.experiments:
            continue
        fp32 = inference_mp_per_second(experiment, scale, device, size, False)
        bf16 = inference_mp_per_second(experiment, scale, device, size, True)
        print(f"| {label} | {fp32:.2f} | {bf16:.2f} | {bf16 / fp32:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

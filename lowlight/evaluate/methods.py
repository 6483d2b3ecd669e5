"""The methods `lowlight-evaluate` compares: baselines, shipped models, runs, weights files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from lowlight import zoo
from lowlight.baselines import LLE_BASELINES, SR_BASELINES, published_bicubic_y
from lowlight.evaluate.datasets import Dataset
from lowlight.inference import enhance_image
from lowlight.loading import load_model


@dataclass
class Method:
    label: str
    run: Callable[[torch.Tensor], torch.Tensor]  # (3, h, w) -> (3, H, W) on the CPU
    params: int = 0
    macs_per_mp: float | None = None  # multiply-accumulates per input megapixel
    note: str = ""
    seconds: float = 0.0
    megapixels: float = 0.0
    scores: dict = field(default_factory=dict)  # image name -> {metric: value}
    failed: dict = field(default_factory=dict)  # image name -> why it has no scores
    from_hr: bool = False  # run takes the HR image and returns its Y channel (bicubic_y)


def _count_macs(net: torch.nn.Module, device: torch.device) -> float:
    """MACs per input megapixel, counted on a 256x256 input (the networks are convolutional,
    so the count grows linearly with the pixels)."""
    side = 256
    x = torch.rand(1, 3, side, side, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    return counter.get_total_flops() / 2 / (side * side / 1e6)


def baselines_for(dataset: Dataset) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The classical methods that make sense on this data (all take the input image)."""
    if dataset.kind == "sr":
        scale = dataset.scale
        methods = {k: (lambda x, f=f: f(x, scale)) for k, f in SR_BASELINES.items()}
        return {**methods, "bicubic_y": lambda hr: published_bicubic_y(hr, scale)}
    if dataset.kind == "sr_same":  # the input already has the HR size: upscaling is done
        return {"identity": LLE_BASELINES["identity"]}
    return dict(LLE_BASELINES)


def build_methods(
    specs: Sequence[str], dataset: Dataset, args, device, loaded: dict | None = None
) -> list[Method]:
    """The methods named by `specs` for this dataset. `loaded` (spec -> (model, MACs per
    MP)) keeps models already loaded for another dataset of the same command."""
    loaded = {} if loaded is None else loaded
    methods = []
    baselines = baselines_for(dataset)
    ensemble = bool(getattr(args, "self_ensemble", False))
    for spec in specs:
        label, _, target = spec.rpartition("=") if "=" in spec else ("", "", spec)
        label = label or Path(target).name
        if target == "bicubic_y" and target in baselines:
            note = "published protocol: HR Y, bicubic down and up (SRCNN Demo_SR), Y only"
            methods.append(Method(label, baselines[target], from_hr=True, note=note))
            continue
        if target in baselines:
            methods.append(Method(label, baselines[target], note="baseline"))
            continue
        if target in SR_BASELINES or target in LLE_BASELINES or target == "bicubic_y":
            raise ValueError(
                f"{target} does not apply to this data ({dataset.kind}); "
                f"its baselines: {', '.join(baselines)}"
            )
        if not Path(target).exists() and not zoo.is_shipped(target):
            known = sorted(baselines)
            shipped = ", ".join(zoo.shipped_names()) or "none installed"
            raise FileNotFoundError(
                f"method {target!r}: neither a baseline ({', '.join(known)}), a shipped model "
                f"({shipped}) nor an existing run folder / checkpoint / weights file"
            )
        if spec not in loaded:
            model = load_model(target, args.arch, name=label if "=" in spec else None)
            loaded[spec] = model, _count_macs(model.net.to(device), device)
        model, macs = loaded[spec]
        chain, note = [model], ""
        if dataset.kind == "sr" and model.scale == 1:
            note = "input: bicubic-upscaled LR"  # a same-size SR generator (SRCNN-style)
        elif dataset.kind == "sr" and model.scale != dataset.scale:
            raise ValueError(f"{target} upscales x{model.scale}, the data is x{dataset.scale}")
        elif dataset.kind != "sr" and model.scale != 1:  # lle, sr_same, unpaired
            raise ValueError(f"{target} upscales x{model.scale}: evaluate it on SR data (--scale)")

        def run(x, chain=chain, upscale=bool(note)):
            if upscale:
                x = SR_BASELINES["bicubic"](x, dataset.scale)
            return enhance_image(
                chain, x, device, args.tile, half=args.half, ensemble=ensemble, bf16=args.bf16
            )

        name = model.name + ("+x8" if ensemble else "")
        name += " (fp16)" if args.half else " (bf16)" if args.bf16 else ""
        methods.append(Method(name, run, model.num_params, macs * (8 if ensemble else 1), note))
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two methods share a label in {labels}: name them with LABEL=SPEC")
    return methods

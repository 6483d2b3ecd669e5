"""Trained models as plain image-to-image functions: loading runs, tiling, chaining.

A *model spec* is what a user points at: a run folder written by `lowlight.train`, one of
its checkpoints, or the Zero-DCE authors' weights file. `load_model` rebuilds the
generator from the run's saved `config.yaml`, loads its weights (the EMA copy when the run
kept one) with `weights_only=True`, and wraps it in an `InferenceNet`: RGB in [0, 1] of
any size in, clamped RGB out, with the colour space and size padding the run trained with.
`enhance_image` runs a chain of such nets on one image, tile by tile when it is large.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from lowlight.models.dce import DCENet
from lowlight.models.dce.dce_net import flush_subnormal_
from lowlight.ops.color import check_color_space, from_color_space, to_color_space
from lowlight.ops.padding import extend_to, pad_to_multiple, run_padded
from lowlight.safe import build_untrusted, load_checkpoint

log = logging.getLogger(__name__)

ARCHS = ("auto", "run", "zero_dce")
AUTO_TILE = 512  # tile side when --tile is omitted and the image is larger than...
AUTO_TILE_ABOVE = 1024 * 1024  # ...this many pixels (about 1 MP)
DEFAULT_OVERLAP = 64


class InferenceNet(nn.Module):
    """A generator as a function RGB (N, 3, H, W) in [0, 1] -> RGB (N, 3, sH, sW) in [0, 1].

    Converts to the network's colour space, reflect-pads bottom/right to the generator's
    `size_multiple` (without branching on the size, so that it exports with dynamic
    height and width), runs the generator, crops back and clamps. Sides must be at least
    `size_multiple` (reflection needs that much image).
    """

    def __init__(self, generator: nn.Module, color_space: str = "rgb") -> None:
        super().__init__()
        self.generator = generator
        self.color_space = check_color_space(color_space, "system.color_space")
        self.size_multiple = int(getattr(generator, "size_multiple", 1))
        self.scale = int(getattr(generator, "scale", 1))

    @property
    def global_context(self) -> bool:
        """Whether the generator summarises the whole image (UNet's `global_context`): tiles
        then need the whole image's summary (`whole_image_context`)."""
        return getattr(self.generator, "global_mlp", None) is not None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        # the same functions as the systems' training and validation path (BaseSystem)
        x = to_color_space(x, self.color_space)
        fn = self.generator if context is None else partial(self.generator, context=context)
        y = run_padded(fn, x, self.size_multiple, self.scale)
        return from_color_space(y, self.color_space).clamp(0.0, 1.0)

    def deepest_features(self, x: torch.Tensor) -> torch.Tensor:
        """A global-context generator's deepest encoder features of RGB `x`, prepared as
        `forward` prepares it (colour space, padding): one cell per size_multiple pixels."""
        x = pad_to_multiple(to_color_space(x, self.color_space), self.size_multiple)
        return self.generator.encode(x)[-1]


@dataclass
class LoadedModel:
    """A ready-to-run model and where it came from."""

    name: str
    net: InferenceNet
    source: Path
    checkpoint: Path | None = None
    config: dict | None = None

    @property
    def scale(self) -> int:
        return self.net.scale

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())


def generator_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights from a Lightning checkpoint (`weights_only=True`): the EMA
    copy (`generator_ema.module.*`) when the run kept one, else `generator.*`."""
    state = load_checkpoint(path)
    state = state.get("state_dict", state)
    ema = "generator_ema.module."
    prefix = ema if any(k.startswith(ema) for k in state) else "generator."
    weights = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise ValueError(f"{path} holds no generator weights (keys generator.* expected)")
    return weights


def _best_in_last(run: Path) -> Path | None:
    """The best checkpoint that last.ckpt's checkpoint callback recorded (a run that stopped
    before writing results.json), if that file is in the run folder."""
    try:
        state = load_checkpoint(run / "checkpoints" / "last.ckpt")
    except ValueError:
        return None
    for key, cb in (state.get("callbacks") or {}).items():
        best = cb.get("best_model_path") if isinstance(cb, dict) else None
        if str(key).startswith(("RunCheckpoint", "ModelCheckpoint")) and best:
            path = run / "checkpoints" / Path(best).name
            if path.is_file():
                return path
    return None


def choose_checkpoint(run: Path) -> Path:
    """The checkpoint to use from a run folder: the best one the run recorded (results.json,
    else last.ckpt's record), else checkpoints/last.ckpt. Never `on_exception*.ckpt` (the
    state at a crash: random or exploded weights) nor a half-written `.part` file: those
    are used only when named explicitly."""
    results = run / "results.json"
    info = json.loads(results.read_text()) if results.is_file() else {}
    status = info.get("status", "finished" if info else "unknown")
    best = info.get("best_checkpoint")
    if best and Path(best).is_file():
        return Path(best)
    if best and (run / "checkpoints" / Path(best).name).is_file():  # a moved run folder
        return run / "checkpoints" / Path(best).name
    chosen = _best_in_last(run)
    if chosen is None and (run / "checkpoints" / "last.ckpt").is_file():
        chosen = run / "checkpoints" / "last.ckpt"
    if chosen is None:
        if not (run / "checkpoints").is_dir():
            raise FileNotFoundError(f"{run} has no checkpoints/ folder: not a run of train")
        others = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
        why = f" (it failed: {info['error']})" if info.get("error") else ""
        only = f" Found only {', '.join(others)}: pass it explicitly to use it." if others else ""
        raise FileNotFoundError(
            f"{run} holds no trained checkpoint: the run stopped before finishing an epoch"
            f"{why}.{only}"
        )
    if status != "finished":
        log.warning("%s did not finish (status: %s); using %s", run, status, chosen.name)
    return chosen


def _is_zero_dce_file(path: Path) -> bool:
    if path.suffix not in (".pth", ".pt") or not path.is_file():
        return False
    with contextlib.suppress(Exception):
        state = torch.load(path, map_location="cpu", weights_only=True)
        return any(k.removeprefix("module.").startswith("e_conv1.") for k in state)
    return False


def build_net(
    generator_cfg,
    weights: dict[str, torch.Tensor],
    color_space,
    config: Path,
    weights_file: Path,
    prefix: str = "",
) -> InferenceNet:
    """An `InferenceNet` (CPU, eval mode) from a description that may come from anyone (a run
    folder's config.yaml, a shipped NAME.yaml): only allow-listed classes are built
    (lowlight.safe); `prefix` is where the keys sit in `config` (`system.` in a run's)."""
    generator = build_untrusted(generator_cfg, f"{prefix}generator", str(config))
    try:
        generator.load_state_dict(weights)
    except RuntimeError as e:
        raise ValueError(f"{weights_file} does not fit the generator in {config}: {e}") from e
    if not isinstance(color_space, str):
        raise ValueError(f"{config}: {prefix}color_space must be a string, got {color_space!r}")
    return InferenceNet(flush_subnormal_(generator), color_space).eval()


def load_model(spec: str | Path, arch: str = "auto", name: str | None = None) -> LoadedModel:
    """Load a shipped model by name (`lowlight.zoo`: dce, lle, sr_x4), a run folder, a
    checkpoint inside one, or (`arch="zero_dce"`, or detected from the keys) the Zero-DCE
    authors' weights file, ready for inference on CPU. An existing path wins over a name."""
    from omegaconf import OmegaConf  # slow to import; only needed here

    from lowlight import zoo

    if arch not in ARCHS:
        raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    path = Path(spec)
    if not path.exists() and zoo.is_shipped(spec) and arch == "auto":
        model = zoo.load_shipped(str(spec))
        model.name = name or model.name
        return model
    if not path.exists():
        shipped = ", ".join(zoo.shipped_names()) or "none installed"
        raise FileNotFoundError(
            f"model not found: {path} (a shipped name: {shipped}; a run folder, .ckpt or .pth)"
        )
    if arch == "zero_dce" or (arch == "auto" and _is_zero_dce_file(path)):
        net = InferenceNet(DCENet.from_zero_dce(path)).eval()
        return LoadedModel(name or "zero_dce", net, path, checkpoint=path)
    if path.is_dir():
        run, checkpoint = path, choose_checkpoint(path)
    elif path.suffix == ".ckpt":
        run, checkpoint = path.parent.parent, path  # RUN/checkpoints/NAME.ckpt
    else:
        raise ValueError(
            f"{path}: not a run folder, a .ckpt or a Zero-DCE .pth (pass --arch zero_dce "
            "for the authors' weights)"
        )
    weights = generator_weights(checkpoint)  # an unreadable file: say that first
    config = run / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(
            f"{config} not found: a model must be a run folder written by lowlight.train "
            "(or a checkpoint inside its checkpoints/ folder)"
        )
    cfg = OmegaConf.load(config)
    system = cfg.get("system") or {}
    if "generator" not in system:
        raise ValueError(f"{config} has no system.generator: not a config written by train")
    net = build_net(
        system.generator, weights, system.get("color_space", "rgb"), config, checkpoint, "system."
    )
    return LoadedModel(
        name or run.name,
        net,
        path,
        checkpoint=checkpoint,
        config=OmegaConf.to_container(cfg, resolve=False),  # resolvers could run code
    )


def select_device(device: str) -> torch.device:
    """`auto` (CUDA when available), `cpu` or `cuda`; a clear error for CUDA without one."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device is available (use cpu or auto)")
    return torch.device(device)


def _spans(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    """Tile spans along one axis: starts on multiples of `multiple` (so that pooling sees
    the same grid as the whole image), overlapping by at least `overlap`, the last one
    reaching the end."""
    if length <= tile:
        return [(0, length)]
    stride = max(multiple, (tile - overlap) // multiple * multiple)
    spans, start = [], 0
    while start + tile < length:
        spans.append((start, start + tile))
        start += stride
    last = (length - tile) // multiple * multiple
    spans.append((last, length))
    return spans


def _ramp(size: int, before: bool, after: bool, width: int) -> torch.Tensor:
    """Blending weights along one tile axis: rising over `width` from an edge shared with a
    neighbour tile, flat (1) elsewhere and along the image border."""
    w = torch.ones(size)
    width = min(width, size)
    ramp = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    if before:
        w[:width] = torch.minimum(w[:width], ramp)
    if after:
        w[size - width :] = torch.minimum(w[size - width :], ramp.flip(0))
    return w


def receptive_radius(net: InferenceNet) -> int | None:
    """How many pixels around an output pixel the network reads (`receptive_radius` of the
    generator, e.g. 7 for DCE-Net), or None when it reads the whole image (a U-Net's
    pooling, a downscaled estimate) or pads to a size multiple."""
    radius = getattr(net.generator, "receptive_radius", None)
    return radius if isinstance(radius, int) and net.size_multiple == 1 else None


def _run_halo_tiles(net: InferenceNet, x: torch.Tensor, tile: int, radius: int) -> torch.Tensor:
    """Disjoint tiles, each run with `radius` pixels of surrounding image and cropped back:
    every output pixel sees exactly what it sees in the whole image, so the result equals
    the untiled one (up to float rounding), with no blending and (tile + 2r)^2 / tile^2
    of the work (1.06x for 512 px tiles and DCE-Net's 7 px)."""
    h, w = x.shape[-2:]
    s = net.scale
    m = int(getattr(net.generator, "tile_multiple", 1))  # tiles start on its grid
    out = torch.empty(1, 3, h * s, w * s)
    for (top, bottom, t0, b0), (left, right, l0, r0) in _halo_tiles(h, w, tile, radius, m):
        y = net(x[..., t0:b0, l0:r0]).float().cpu()
        out[..., top * s : bottom * s, left * s : right * s] = y[
            ..., (top - t0) * s : (bottom - t0) * s, (left - l0) * s : (right - l0) * s
        ]
        del y
    return out


def _halo_tiles(h: int, w: int, tile: int, halo: int, multiple: int = 1):
    """Disjoint `tile` px tiles of an h x w image, each as (start, end, start with halo,
    end with halo) along rows and along columns, the halo clipped at the image border.
    Tile and halo are snapped to `multiple` (the tile down, at least one multiple; the halo
    up), so every tile and every halo starts on the network's grid."""
    m = multiple
    tile, halo = max(m, tile // m * m), -(-halo // m) * m
    rows = [(a, min(a + tile, h)) for a in range(0, h, tile)]
    cols = [(a, min(a + tile, w)) for a in range(0, w, tile)]
    for a, b in rows:
        for c, d in cols:
            yield (
                (a, b, max(0, a - halo), min(h, b + halo)),
                (c, d, max(0, c - halo), min(w, d + halo)),
            )


@torch.no_grad()
def whole_image_context(net: InferenceNet, x: torch.Tensor, tile: int) -> torch.Tensor:
    """The mean of a global-context generator's deepest features over the whole (1, 3, H, W)
    image, as its untiled forward computes it, summed tile by tile: each disjoint tile is
    encoded with as much surrounding image as the encoder reads (`encoder_radius`) and its
    own cells kept, so the sum equals the untiled one up to float rounding, in a tile's
    memory. Tiles that each summarised only themselves would each guess their own
    brightness: visible blocks."""
    m = net.size_multiple
    h, w = x.shape[-2:]
    halo = net.generator.encoder_radius
    total, cells = None, 0
    for (top, bottom, t0, b0), (left, right, l0, r0) in _halo_tiles(h, w, tile, halo, m):
        deep = net.deepest_features(x[..., t0:b0, l0:r0])  # one cell per m x m pixels
        rows = slice((top - t0) // m, -(-(bottom - t0) // m))
        cols = slice((left - l0) // m, -(-(right - l0) // m))
        own = deep[..., rows, cols].float()
        total = own.sum(dim=(2, 3)) if total is None else total + own.sum(dim=(2, 3))
        cells += own.shape[-2] * own.shape[-1]
    return total / cells


@torch.no_grad()
def run_tiled(
    net: InferenceNet, x: torch.Tensor, tile: int | None, overlap: int = DEFAULT_OVERLAP
) -> torch.Tensor:
    """`net(x)` for one (1, 3, H, W) image, computed tile by tile when `tile` is set and the
    image is larger, so that memory is bounded by the tile size.

    A network that reads a bounded neighbourhood (`receptive_radius`: DCE-Net) gets disjoint
    tiles with just that halo, and the result equals the untiled one. Others (a U-Net sees
    the whole image) get tiles overlapping by `overlap` input pixels, blended with linear
    ramps: away from the seams the result equals the untiled one wherever the network's
    receptive field fits in the overlap; a generator with global context gets the whole
    image's summary in every tile (`whole_image_context`). The output is assembled in
    float32 on the CPU."""
    h, w = x.shape[-2:]
    if not tile or (h <= tile and w <= tile):
        return net(x).float().cpu()
    radius = receptive_radius(net)
    if radius is not None:
        return _run_halo_tiles(net, x, tile, radius)
    context = whole_image_context(net, x, tile) if net.global_context else None
    m, s = net.size_multiple, net.scale
    tile = max(m, tile // m * m)
    overlap = min(overlap, tile // 2)
    out = torch.zeros(1, 3, h * s, w * s)
    weight = torch.zeros(1, 1, h * s, w * s)
    rows, cols = _spans(h, tile, overlap, m), _spans(w, tile, overlap, m)
    for i, (top, bottom) in enumerate(rows):
        wy = _ramp((bottom - top) * s, i > 0, i < len(rows) - 1, overlap * s)
        for j, (left, right) in enumerate(cols):
            wx = _ramp((right - left) * s, j > 0, j < len(cols) - 1, overlap * s)
            y = net(x[..., top:bottom, left:right], context).float().cpu()
            wt = (wy[:, None] * wx[None, :])[None, None]
            out[..., top * s : bottom * s, left * s : right * s] += y * wt
            weight[..., top * s : bottom * s, left * s : right * s] += wt
    return out / weight


def auto_tile(h: int, w: int, radius: int | None = None) -> int | None:
    """The tile side used when none is given: whole images up to ~1 MP, 512 px tiles above.
    For halo tiles (a network with a `receptive_radius`, whose tiles equal the untiled
    output) tiles of max(512, 16 x radius) px whenever the image is larger: the same output
    in less memory at about the same time (DCE-Net on a CPU, `make bench`: 1.5 MP in 0.51x
    the peak memory and 1.01x the time, 6 MP in 0.20x and 0.91x); 16 x radius keeps the
    halo's extra work under 30%."""
    if radius is not None:
        tile = max(AUTO_TILE, 16 * radius)
        return tile if max(h, w) > tile else None
    return AUTO_TILE if h * w > AUTO_TILE_ABOVE else None


def self_ensemble(fn, x: torch.Tensor) -> torch.Tensor:
    """The x8 geometric self-ensemble (Lim et al., EDSR 2017): the mean of `fn` over the
    eight flips and quarter turns of (N, C, H, W) `x`, each output turned back."""
    total = None
    for turns in range(4):
        for flip in (False, True):
            t = torch.rot90(x, turns, (-2, -1))
            y = fn(t.flip(-1) if flip else t)
            y = torch.rot90(y.flip(-1) if flip else y, -turns, (-2, -1))
            total = y if total is None else total + y
    return total / 8


def enhance_image(
    models: Sequence[LoadedModel],
    image: torch.Tensor,
    device: torch.device | str = "cpu",
    tile: int | None = -1,
    overlap: int = DEFAULT_OVERLAP,
    half: bool = False,
    ensemble: bool = False,
    channels_last: bool = True,
    bf16: bool = False,
) -> torch.Tensor:
    """Run a chain of models on one (3, H, W) or (1, 3, H, W) RGB image in [0, 1].

    `tile`: -1 picks automatically per stage (`auto_tile`), 0/None never tiles, N uses N px
    tiles. `half` runs the networks under float16 autocast (CUDA only). `ensemble` averages
    the chain's outputs over the eight flips and quarter turns (`self_ensemble`, 8x the
    time). `bf16` runs them under bfloat16 autocast, on a CPU too (DCE-Net: 2.6x faster
    on a CPU with native bf16, outputs within 0.0015 of float32, `make bench`).
    `channels_last` runs the convolutions in NHWC memory (0.64-0.94x the time of NCHW for
    every generator here on a CPU; same values up to float rounding). Returns (3, H', W')
    float32 on the CPU.
    """
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    device = torch.device(device)
    if half and device.type != "cuda":
        raise ValueError("--half needs a CUDA device (float16 on CPU is slow and inexact)")
    if half and bf16:
        raise ValueError("--half and --bf16 exclude each other")
    x = image if image.dim() == 4 else image[None]

    def chain(x: torch.Tensor) -> torch.Tensor:
        for model in models:
            net = model.net.to(device, memory_format=memory_format)
            h, w = x.shape[-2:]
            x = extend_to(x, net.size_multiple)  # reflection padding needs that much image
            size = tile if tile is None or tile >= 0 else auto_tile(h, w, receptive_radius(net))
            if half or bf16:
                dtype = torch.float16 if half else torch.bfloat16
                autocast = torch.autocast(device.type, dtype=dtype)
            else:
                autocast = contextlib.nullcontext()
            with autocast:
                y = run_tiled(net, x.to(device, memory_format=memory_format), size, overlap)
            x = y[..., : h * net.scale, : w * net.scale]
        return x

    out = self_ensemble(chain, x) if ensemble else chain(x)
    return out[0].clamp(0.0, 1.0)

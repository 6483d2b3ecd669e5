"""Trained networks as plain image-to-image functions: tiling, chaining, devices.

An `InferenceNet` wraps a generator: RGB in [0, 1] of any size in, clamped RGB out, with the
colour space and size padding the run trained with (`lowlight.loading` builds them from what
a user points at). `enhance_image` runs a chain of such nets on one image, tile by tile when
it is large.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import torch
from torch import nn

from lowlight.names import DEFAULT_OVERLAP
from lowlight.ops.color import check_color_space, from_color_space, to_color_space
from lowlight.ops.padding import extend_to, pad_to_multiple, run_padded

if TYPE_CHECKING:
    from lowlight.loading import LoadedModel

log = logging.getLogger(__name__)

AUTO_TILE = 512  # tile side when --tile is omitted and the image is larger than...
AUTO_TILE_ABOVE = 1024 * 1024  # ...this many pixels (about 1 MP)


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
        """Whether the generator summarises the whole image (UNet's `global_context`, or a
        `summarize` method): tiles then need the whole image's summary."""
        has_mlp = getattr(self.generator, "global_mlp", None) is not None
        return has_mlp or hasattr(self.generator, "summarize")

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        # the same functions as the systems' training and validation path (BaseSystem)
        x = to_color_space(x, self.color_space)
        fn = self.generator if context is None else partial(self.generator, context=context)
        y = run_padded(fn, x, self.size_multiple, self.scale)
        return from_color_space(y, self.color_space).clamp(0.0, 1.0)

    def photo_summary(self, x: torch.Tensor) -> torch.Tensor | None:
        """The generator's `summarize` of the whole RGB image `x` (in its colour space), or
        None for a generator without one."""
        if not hasattr(self.generator, "summarize"):
            return None
        return self.generator.summarize(to_color_space(x, self.color_space))

    def deepest_features(self, x: torch.Tensor) -> torch.Tensor:
        """A global-context generator's deepest encoder features of RGB `x`, prepared as
        `forward` prepares it (colour space, padding): one cell per size_multiple pixels."""
        x = pad_to_multiple(to_color_space(x, self.color_space), self.size_multiple)
        return self.generator.encode(x)[-1]


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


Progress = Callable[[int, int], None]  # (tiles done, tiles in all), after each tile


def _run_halo_tiles(
    net: InferenceNet,
    x: torch.Tensor,
    tile: int,
    radius: int,
    progress: Progress | None = None,
    context: torch.Tensor | None = None,
) -> torch.Tensor:
    """Disjoint tiles, each run with `radius` pixels of surrounding image and cropped back:
    every output pixel sees exactly what it sees in the whole image, so the result equals
    the untiled one (up to float rounding), with no blending and (tile + 2r)^2 / tile^2
    of the work (1.06x for 512 px tiles and DCE-Net's 7 px). `context`: the whole image's
    summary, for a generator whose local branch is bounded but whose `summarize` is not."""
    h, w = x.shape[-2:]
    s = net.scale
    m = int(getattr(net.generator, "tile_multiple", 1))  # tiles start on its grid
    out = torch.empty(1, 3, h * s, w * s)
    tiles = list(_halo_tiles(h, w, tile, radius, m))
    for done, ((top, bottom, t0, b0), (left, right, l0, r0)) in enumerate(tiles, 1):
        part = x[..., t0:b0, l0:r0]
        y = (net(part) if context is None else net(part, context)).float().cpu()
        out[..., top * s : bottom * s, left * s : right * s] = y[
            ..., (top - t0) * s : (bottom - t0) * s, (left - l0) * s : (right - l0) * s
        ]
        del y
        if progress is not None:
            progress(done, len(tiles))
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
def whole_image_context(
    net: InferenceNet, x: torch.Tensor, tile: int, progress: Progress | None = None
) -> torch.Tensor:
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
    tiles = list(_halo_tiles(h, w, tile, halo, m))
    for done, ((top, bottom, t0, b0), (left, right, l0, r0)) in enumerate(tiles, 1):
        deep = net.deepest_features(x[..., t0:b0, l0:r0])  # one cell per m x m pixels
        rows = slice((top - t0) // m, -(-(bottom - t0) // m))
        cols = slice((left - l0) // m, -(-(right - l0) // m))
        own = deep[..., rows, cols].float()
        total = own.sum(dim=(2, 3)) if total is None else total + own.sum(dim=(2, 3))
        cells += own.shape[-2] * own.shape[-1]
        if progress is not None:
            progress(done, len(tiles))
    return total / cells


@torch.no_grad()
def run_tiled(
    net: InferenceNet,
    x: torch.Tensor,
    tile: int | None,
    overlap: int = DEFAULT_OVERLAP,
    progress: Progress | None = None,
) -> torch.Tensor:
    """`net(x)` for one (1, 3, H, W) image, computed tile by tile when `tile` is set and the
    image is larger, so that memory is bounded by the tile size.

    A network that reads a bounded neighbourhood (`receptive_radius`: DCE-Net) gets disjoint
    tiles with just that halo, and the result equals the untiled one. Others (a U-Net sees
    the whole image) get tiles overlapping by `overlap` input pixels, blended with linear
    ramps: away from the seams the result equals the untiled one wherever the network's
    receptive field fits in the overlap; a generator with global context gets the whole
    image's summary in every tile (`whole_image_context`). The output is assembled in
    float32 on the CPU. `progress(done, total)` is called after each tile (the summary's
    tiles count too)."""
    h, w = x.shape[-2:]
    if not tile or (h <= tile and w <= tile):
        return net(x).float().cpu()
    context = net.photo_summary(x)  # a whole-photo thumbnail's summary: cheap
    radius = receptive_radius(net)
    if radius is not None:
        return _run_halo_tiles(net, x, tile, radius, progress, context)
    m, s = net.size_multiple, net.scale
    snapped = max(m, tile // m * m)
    overlap = min(overlap, snapped // 2)
    rows, cols = _spans(h, snapped, overlap, m), _spans(w, snapped, overlap, m)
    total = len(rows) * len(cols)
    if context is None and net.global_context:
        first = len(list(_halo_tiles(h, w, tile, net.generator.encoder_radius, m)))
        total += first
        context = whole_image_context(
            net, x, tile, progress and (lambda done, _: progress(done, total))
        )
    done = total - len(rows) * len(cols)
    out = torch.zeros(1, 3, h * s, w * s)
    weight = torch.zeros(1, 1, h * s, w * s)
    for i, (top, bottom) in enumerate(rows):
        wy = _ramp((bottom - top) * s, i > 0, i < len(rows) - 1, overlap * s)
        for j, (left, right) in enumerate(cols):
            wx = _ramp((right - left) * s, j > 0, j < len(cols) - 1, overlap * s)
            y = net(x[..., top:bottom, left:right], context).float().cpu()
            wt = (wy[:, None] * wx[None, :])[None, None]
            out[..., top * s : bottom * s, left * s : right * s] += y * wt
            weight[..., top * s : bottom * s, left * s : right * s] += wt
            done += 1
            if progress is not None:
                progress(done, total)
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
    progress: Progress | None = None,
) -> torch.Tensor:
    """Run a chain of models on one (3, H, W) or (1, 3, H, W) RGB image in [0, 1].

    `tile`: -1 picks automatically per stage (`auto_tile`), 0/None never tiles, N uses N px
    tiles. `half` runs the networks under float16 autocast (CUDA only). `ensemble` averages
    the chain's outputs over the eight flips and quarter turns (`self_ensemble`, 8x the
    time). `bf16` runs them under bfloat16 autocast, on a CPU too (DCE-Net: 2.6x faster
    on a CPU with native bf16, outputs within 0.0015 of float32, `make bench`).
    `channels_last` runs the convolutions in NHWC memory (0.64-0.94x the time of NCHW for
    every generator here on a CPU; same values up to float rounding). `progress(done,
    total)` is called after each tile of a tiled stage. Returns (3, H', W') float32 on the
    CPU.
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
                y = run_tiled(
                    net, x.to(device, memory_format=memory_format), size, overlap, progress
                )
            x = y[..., : h * net.scale, : w * net.scale]
            if not torch.isfinite(x).all():
                # a diverged run's weights (NaN) would be saved as a black image
                raise ValueError(
                    f"model {model.name} gives non-finite values (NaN or inf): its weights are "
                    "broken (a diverged run, or on_exception.ckpt?)"
                )
        return x

    out = self_ensemble(chain, x) if ensemble else chain(x)
    return out[0].clamp(0.0, 1.0)

"""A compact illumination-adaptive generator: per-pixel gain and offset, then one colour
matrix and one gamma per photo."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lowlight.models.layers import through_shrunk
from lowlight.ops.detail import noise_std, restore_detail

LEVEL_EPS = 1e-3  # keeps the log of a black photo's level finite


def soft_knee(v: torch.Tensor, knee: float) -> torch.Tensor:
    """The identity up to `knee`, then a tanh shoulder that approaches 1:
    `knee + (1 - knee) * tanh((v - knee) / (1 - knee))`, with slope 1 at the knee.
    Highlights are compressed instead of cut at 1 (a camera's highlight roll-off): an 8-bit
    output reaches 250 only for `v` well above 1 (about 1.19 for knee 0.7)."""
    shoulder = knee + (1 - knee) * torch.tanh((v - knee) / (1 - knee))
    return torch.where(v > knee, shoulder, v)


class _ResBlock(nn.Module):
    """Two 3x3 convolutions with a LeakyReLU between, added to the input. Plain dense
    convolutions: on a CPU they run 3-4x faster per pixel than depthwise blocks with
    LayerNorm of the same width (measured on the 2-core CPU, 128 px crops)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(dim, dim, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _bins(length: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """(size, length) averaging matrix of adaptive average pooling: row i averages
    [floor(i * length / size), ceil((i + 1) * length / size))."""
    i = torch.arange(size, device=like.device)[:, None]
    j = torch.arange(length, device=like.device)[None, :]
    inside = (j >= (i * length) // size) & (j < ((i + 1) * length + size - 1) // size)
    weights = inside.to(like.dtype)
    return weights / weights.sum(dim=1, keepdim=True)


def area_thumbnail(x: torch.Tensor, size: int) -> torch.Tensor:
    """`F.interpolate(x, (size, size), mode="area")` (adaptive average pooling) as two
    matrix products. Written out because torch's pooling exports to ONNX with the bins of
    the traced size baked in (outputs off by 1e-2 at other sizes); these bins follow the
    input's size, so the exported graph takes any height and width."""
    rows = _bins(x.shape[-2], size, x)
    cols = _bins(x.shape[-1], size, x)
    return torch.einsum("ih,nchw,jw->ncij", rows, x, cols)


class IlluminationAdaptiveNet(nn.Module):
    """After IAT (Cui et al., "You Only Need 90K Parameters to Adapt Light", BMVC 2022), built
    here from the paper's description and simplified: plain convolutions, no attention.

    - **Local branch, full resolution:** a 3x3 stem and `blocks` residual blocks (reading
      `receptive_radius` = 2 * blocks + 2 px around each pixel: a 17 px neighbourhood for
      3 blocks) give a gain map `mul` (softplus, >= 0) and an offset map `add` (tanh) per
      pixel and channel; the image becomes `x * mul + add`. Each output pixel is its own
      input scaled and shifted: the photo is adjusted, not redrawn from features.
    - **Global branch, the whole photo:** a thumbnail (`global_size` px square, area-averaged)
      through three strided convolutions, mean- and max-pooled, gives one 3x3 colour matrix
      (starting as the identity) and one gamma (starting at 1) for the photo:
      `out = clamp(M @ local, 1e-8, 1) ** gamma`. The photo's white balance and overall tone
      come from all of it, not from what a pixel's neighbourhood shows.

    With `exposure_norm`, both branches see the photo divided by its mean level (taken from
    the thumbnail), and the global head also gets the log of that level: a plain
    convolution's features shrink with a dark input, so without it the gain maps come out
    nearly the same for every dark photo (on LOL's validation photos the darkest came out
    0.2-0.4 too dark); normalized, the maps work on any exposure and the head sets the
    brightness from the level explicitly. The output is then `M @ (x / level * mul + add)`.

    `summarize(x)` is the global branch alone: tiled inference computes it once on the
    whole photo and passes it to every tile (`forward(tile, context=...)`), so tiles share
    one colour matrix and gamma; each tile carries `receptive_radius` px of halo, so the
    tiled output equals the untiled one.

    With `coarse_blocks` > 0, a coarse branch reads the photo shrunk `coarse_scale` times
    (area average; the edge repeated to a multiple of the scale): a stem and that many
    residual blocks, enlarged back (bilinear) and added to the local features before the two
    heads. The gain and offset then follow a neighbourhood `coarse_scale` times wider (is
    this pixel in a shadow or on a dark object?) while staying per pixel. Tiles aligned to
    the scale (`tile_multiple`) with `receptive_radius` px of halo still equal the untiled
    output.

    With `map_scale` s > 1, the gain and offset maps are averaged over s x s cells and
    enlarged back (bilinear) before they are applied: smooth maps cannot cancel a pixel's
    difference from its neighbours, so the output keeps the photo's fine detail (and its
    noise) times the gain. The offset adds none: a model that lifts a photo mostly by the
    offset still flattens it (experiments/shipped/README.md).

    With `highlight_knee` (a level in (0, 1)), the output passes through `soft_knee`
    instead of being cut at 1: a gain that suits the shadows of a photo rolls its bright
    parts off below white rather than flattening them to white (real night photos have
    lamps and skies that LOL's photos lack).

    With `detail_strength` k, the input's fine detail is put back into the output where it
    rises above the input's noise (`lowlight.ops.detail.restore_detail`, over
    `detail_radius` px): the local branch smooths texture away on clean photos as on LOL's
    noisy ones, and this keeps it where the noise estimate says it is texture. No
    parameters; the noise std is the whole photo's (the last column of `summarize`), so
    tiles with the added halo equal the untiled output.

    With `keep_highlights` t (a level in (0, 1)), a pixel that is bright in the photo is not
    made darker: where the input's brightest channel v exceeds t, the output takes back
    (v - t) / (1 - t) of what it lost against the input, channel by channel (all of it at
    v = 1). Skies and white walls keep their brightness and colour instead of turning grey.
    Each pixel depends on itself alone, so it draws no halo, and no channel comes out
    brighter than the brighter of the input and the model's output. No parameters: it can
    be switched on for a model trained without it.
    """

    scale = 1
    size_multiple = 1

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        dim: int = 24,
        blocks: int = 3,
        global_dim: int = 32,
        global_size: int = 128,
        exposure_norm: bool = False,
        highlight_knee: float | None = None,
        coarse_blocks: int = 0,
        coarse_scale: int = 4,
        map_scale: int = 1,
        detail_strength: float | None = None,
        detail_radius: int = 8,
        keep_highlights: float | None = None,
    ) -> None:
        super().__init__()
        if in_channels != 3 or out_channels != 3:
            raise ValueError(
                "generator: IlluminationAdaptiveNet maps 3 channels to 3 "
                f"(got in_channels={in_channels}, out_channels={out_channels})"
            )
        for key, value in (("dim", dim), ("blocks", blocks), ("global_dim", global_dim)):
            if value < 1:
                raise ValueError(f"generator.{key} must be a positive integer, got {value}")
        if coarse_blocks < 0 or coarse_scale < 2:
            raise ValueError(
                "generator.coarse_blocks must be >= 0 and generator.coarse_scale >= 2, "
                f"got {coarse_blocks} and {coarse_scale}"
            )
        if map_scale < 1 or (coarse_blocks and map_scale > 1 and map_scale != coarse_scale):
            raise ValueError(
                "generator.map_scale must be >= 1 and, with a coarse branch, 1 or "
                f"generator.coarse_scale (got {map_scale}, coarse_scale {coarse_scale})"
            )
        if global_size < 8:
            raise ValueError(f"generator.global_size must be at least 8, got {global_size}")
        if highlight_knee is not None and not 0 < highlight_knee < 1:
            raise ValueError(
                "generator.highlight_knee must lie between 0 and 1 (or be null), "
                f"got {highlight_knee}"
            )
        if detail_strength is not None and not (detail_strength > 0 and detail_radius >= 1):
            raise ValueError(
                "generator.detail_strength must be positive (or null) and "
                f"generator.detail_radius at least 1, got {detail_strength} and {detail_radius}"
            )
        if keep_highlights is not None and not 0 < keep_highlights < 1:
            raise ValueError(
                "generator.keep_highlights must lie between 0 and 1 (or be null), "
                f"got {keep_highlights}"
            )
        self.highlight_knee = highlight_knee
        self.keep_highlights = keep_highlights
        self.detail_strength = detail_strength
        self.detail_radius = detail_radius
        self.global_size = global_size
        self.exposure_norm = exposure_norm
        # what the local branch reads around a pixel: the stem, two per block, the heads
        self.receptive_radius = 2 * blocks + 2
        self.coarse_scale = coarse_scale
        self.coarse = None
        if coarse_blocks:
            self.coarse = nn.Sequential(
                nn.Conv2d(3, dim, 3, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
                *(_ResBlock(dim) for _ in range(coarse_blocks)),
            )
            # coarse pixels: the shrinking cell, the stem, two per block, the enlarging,
            # and one for the heads' full-resolution pixel (a whole number of coarse pixels,
            # so that a tile's halo starts on the coarse grid)
            coarse_radius = (2 * coarse_blocks + 4) * coarse_scale
            self.receptive_radius = max(self.receptive_radius, coarse_radius)
            self.tile_multiple = coarse_scale
        self.map_scale = map_scale
        if map_scale > 1:
            # what the maps read, in whole cells, and the neighbouring cell that enlarging
            # blends in
            cells = -(-self.receptive_radius // map_scale) + 1
            self.receptive_radius = cells * map_scale
            self.tile_multiple = map_scale
        if detail_strength is not None:
            # the gain's box, then the box of the detail's energy; a whole number of the
            # tile grid's steps, so that a tile's halo still starts on it
            step = getattr(self, "tile_multiple", 1)
            self.receptive_radius = -(-(self.receptive_radius + 2 * detail_radius) // step) * step
        self.local = nn.Sequential(
            nn.Conv2d(3, dim, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            *(_ResBlock(dim) for _ in range(blocks)),
        )
        self.mul_head = nn.Conv2d(dim, 3, 3, padding=1)
        self.add_head = nn.Conv2d(dim, 3, 3, padding=1)
        g = global_dim
        self.global_stem = nn.Sequential(
            nn.Conv2d(3, g // 2 or 1, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(g // 2 or 1, g, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(g, g, 3, stride=2, padding=1),
            nn.GELU(),
            _ResBlock(g),
        )
        self.global_head = nn.Sequential(
            nn.Linear(2 * g + int(exposure_norm), g), nn.GELU(), nn.Linear(g, 10)
        )
        # the global branch starts as the identity: colour matrix I, gamma 1
        nn.init.zeros_(self.global_head[-1].weight)
        nn.init.zeros_(self.global_head[-1].bias)

    def extra_repr(self) -> str:
        """The settings that no submodule shows (so two configurations print apart)."""
        coarse = f"coarse_scale={self.coarse_scale}, " if self.coarse is not None else ""
        detail = ""
        if self.detail_strength is not None:
            detail = f", detail_strength={self.detail_strength}, detail_radius={self.detail_radius}"
        return (
            f"{coarse}map_scale={self.map_scale}, global_size={self.global_size}, "
            f"exposure_norm={self.exposure_norm}, highlight_knee={self.highlight_knee}{detail}"
            + ("" if self.keep_highlights is None else f", keep_highlights={self.keep_highlights}")
        )

    def summarize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 10) of the whole photo(s) `x`: log-gamma and the colour matrix minus I; with
        `exposure_norm`, the log of the photo's mean level next; with `detail_strength`,
        the photo's noise std last."""
        params = self._global_params(x)
        if self.detail_strength is None:
            return params
        return torch.cat((params, noise_std(x)[:, None]), dim=1)

    def _global_params(self, x: torch.Tensor) -> torch.Tensor:
        thumb = area_thumbnail(x, self.global_size)
        if self.exposure_norm:
            log_level = torch.log(thumb.mean(dim=(1, 2, 3)) + LEVEL_EPS)[:, None]
            thumb = thumb * torch.exp(-log_level)[..., None, None]
        f = self.global_stem(thumb)
        features = [f.mean(dim=(2, 3)), f.amax(dim=(2, 3))]
        if not self.exposure_norm:
            return self.global_head(torch.cat(features, dim=1))
        params = self.global_head(torch.cat((*features, log_level), dim=1))
        return torch.cat((params, log_level), dim=1)

    def _coarse_features(self, x: torch.Tensor) -> torch.Tensor:
        """The coarse branch's features at `x`'s size."""
        return through_shrunk(x, self.coarse_scale, self.coarse)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        params = self.summarize(x) if context is None else context.to(x.dtype)
        y = self._enhance(x, params)
        if self.detail_strength is not None:
            y = restore_detail(x, y, params[:, -1], self.detail_radius, self.detail_strength)
        if self.keep_highlights is None:
            return y
        t = self.keep_highlights
        share = ((x.amax(dim=1, keepdim=True) - t) / (1 - t)).clamp(0, 1)
        return y + share * (x - y).clamp_min(0)

    def _enhance(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if self.exposure_norm:
            x = x * torch.exp(-params[:, 10:11])[..., None, None]  # the photo over its level
        params = params[:, :10]  # without the level and the noise std
        f = self.local(x)
        if self.coarse is not None:
            f = f + self._coarse_features(x)
        mul = F.softplus(self.mul_head(f))
        add = torch.tanh(self.add_head(f))
        if self.map_scale > 1:
            mul, add = (through_shrunk(m, self.map_scale) for m in (mul, add))
        local = x * mul + add
        eye = torch.eye(3, dtype=x.dtype, device=x.device)
        matrix = eye + params[:, 1:].reshape(-1, 3, 3)
        y = torch.einsum("nij,njhw->nihw", matrix, local)
        gamma = params[:, :1].exp()[..., None, None]
        if self.highlight_knee is None:
            return y.clamp(1e-8, 1.0) ** gamma
        return soft_knee(y.clamp_min(1e-8) ** gamma, self.highlight_knee)

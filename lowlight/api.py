"""The one-line Python API: `lowlight.enhance_image(img)`.

    import lowlight
    out = lowlight.enhance_image(img)                  # the shipped `lle` model
    big = lowlight.enhance_image(img, model="sr_x4")   # any shipped name, run folder or checkpoint
    both = lowlight.enhance_image(img, model=["lle", "sr_x4"])   # a chain, in order

The image comes back as the kind it went in: a numpy array of the same dtype (HxWx3; uint8
and uint16 span their full range, floats must be finite and in [0, 1]; HxW gray and HxWx4
RGBA arrays are read as PIL reads its L and RGBA images), a PIL image, a tensor of the same shape
((3, H, W) or (1, 3, H, W)), dtype and device. A path (str or Path) is read (8/16-bit,
EXIF orientation applied) and the result is a PIL image. Loaded models are kept, so calling
it in a loop loads each model once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from lowlight.data.io import read_image, to_uint
from lowlight.inference import enhance_image as _run_chain
from lowlight.inference import select_device
from lowlight.loading import LoadedModel, load_model
from lowlight.names import DEFAULT_OVERLAP

_LOADED: dict[str, LoadedModel] = {}


def _model(spec: str | Path | LoadedModel) -> LoadedModel:
    if isinstance(spec, LoadedModel):
        return spec
    key = str(Path(spec).resolve()) if Path(spec).exists() else str(spec)
    if key not in _LOADED:
        _LOADED[key] = load_model(spec)
    return _LOADED[key]


# floats may stray this far outside [0, 1] by rounding (a resize, a colour conversion)
FLOAT_SLACK = 1e-3


def _checked_floats(x: np.ndarray, kind: str) -> np.ndarray:
    """Float pixels must be finite and in [0, 1] (up to rounding): 0-255 floats would come
    back nearly all white and one NaN spreads through a network."""
    finite = np.isfinite(x)
    if not finite.all():
        bad = x.size - int(finite.sum())
        raise ValueError(
            f"a float {kind} image must be finite: {bad} of {x.size} values are NaN or inf"
        )
    low, high = float(x.min()), float(x.max())
    if low < -FLOAT_SLACK or high > 1 + FLOAT_SLACK:
        hint = " (0-255 floats? divide by 255)" if high > 1.5 else ""
        raise ValueError(
            f"a float {kind} image must be in [0, 1], got values in [{low:g}, {high:g}]{hint}"
        )
    return np.clip(x, 0.0, 1.0)


def _to_tensor(img) -> tuple[torch.Tensor, str]:
    """(3, H, W) float32 in [0, 1] on the CPU, and the kind to give back."""
    from PIL import Image

    if isinstance(img, (str, Path)):
        return torch.from_numpy(read_image(Path(img))).permute(2, 0, 1), "path"
    if isinstance(img, Image.Image):
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(rgb).permute(2, 0, 1), "pil"
    if isinstance(img, np.ndarray):
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[:, :, :3]  # RGBA: alpha dropped, as PIL's convert("RGB") does
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)  # gray, as PIL's "L" -> "RGB"
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"a numpy image must be HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA), got shape "
                f"{img.shape}"
            )
        if img.dtype == np.uint8 or img.dtype == np.uint16:
            x = img.astype(np.float32) / np.iinfo(img.dtype).max
        elif np.issubdtype(img.dtype, np.floating):
            x = _checked_floats(img.astype(np.float32), "numpy")
        else:
            raise ValueError(f"a numpy image must be uint8, uint16 or float, got {img.dtype}")
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1), "numpy"
    if isinstance(img, torch.Tensor):
        shape = tuple(img.shape)
        if not (img.dim() == 3 and shape[0] == 3) and not (img.dim() == 4 and shape[:2] == (1, 3)):
            raise ValueError(f"a tensor image must be (3, H, W) or (1, 3, H, W), got {shape}")
        if not img.is_floating_point():
            raise ValueError(f"a tensor image must be float in [0, 1], got {img.dtype}")
        x = img.detach().reshape(shape[-3:]).float().cpu()
        _checked_floats(x.numpy(), "tensor")
        return x, "tensor"
    raise TypeError(
        f"enhance_image takes a path, a PIL image, an HxWx3 numpy array or a tensor, "
        f"got {type(img).__name__}"
    )


def _give_back(out: torch.Tensor, img, kind: str):
    if kind == "tensor":
        return out.reshape(out.shape[-3:] if img.dim() == 3 else (1, *out.shape)).to(
            img.device, img.dtype
        )
    hwc = out.permute(1, 2, 0).numpy()
    if kind == "numpy" and np.issubdtype(img.dtype, np.floating):
        return hwc.astype(img.dtype)
    if kind == "numpy":  # rounded as lowlight-enhance rounds what it saves
        return to_uint(hwc, 16 if img.dtype == np.uint16 else 8)
    from PIL import Image

    return Image.fromarray(to_uint(hwc))


def enhance_image(
    img,
    model: str | Path | LoadedModel | Sequence[str | Path | LoadedModel] = "lle",
    *,
    device: str = "auto",
    tile: int | None = -1,
    overlap: int = DEFAULT_OVERLAP,
    half: bool = False,
    bf16: bool = False,
    self_ensemble: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Enhance (or super-resolve) one image with a shipped model, a run or a chain of them.

    `model`: a shipped name (`lowlight.shipped_models()`), a run folder, a checkpoint, a
    Zero-DCE .pth, a `LoadedModel`, or a list of these applied in order. `device`: auto
    (CUDA when available), cpu or cuda. `tile`: -1 automatic (large images run tile by
    tile), 0 never, N px. `half`: float16 autocast (CUDA); `bf16`: bfloat16 autocast.
    `progress(done, total)`: called after each tile of a large image. Returns the same kind
    as `img` (see the module's docstring).
    """
    specs = [model] if isinstance(model, (str, Path, LoadedModel)) else list(model)
    if not specs:
        raise ValueError("model: give at least one model")
    x, kind = _to_tensor(img)
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"the image is empty (shape {tuple(x.shape)})")
    models = [_model(s) for s in specs]
    out = _run_chain(
        models,
        x,
        select_device(device),
        tile=tile,
        overlap=overlap,
        half=half,
        ensemble=self_ensemble,
        bf16=bf16,
        progress=progress,
    )
    return _give_back(out, img, kind)

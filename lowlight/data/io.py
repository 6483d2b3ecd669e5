"""Image file reading and writing: any common format in, float32 RGB in [0, 1] out."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lowlight.names import IMAGE_EXTENSIONS

# EXIF orientation tag value -> operations that bring the pixels upright.
_EXIF_ORIENTATION_TAG = 0x0112


class ImageReadError(ValueError):
    """An image file that cannot be read or converted; the message names the file."""


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _exif_orientation(path: Path) -> int:
    try:
        with Image.open(path) as im:
            return int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # no EXIF or a format PIL cannot parse: nothing to rotate
        return 1


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    # EXIF orientations 2..8 as flips and quarter turns (counter-clockwise for np.rot90).
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:
        return np.rot90(img[:, ::-1], 1)
    if orientation == 6:
        return np.rot90(img, -1)
    if orientation == 7:
        return np.rot90(img[:, ::-1], -1)
    if orientation == 8:
        return np.rot90(img, 1)
    return img


# JPEG through PIL: it raises on a truncated file, where OpenCV silently fills the missing
# rows with grey. PNG/TIFF through OpenCV: it keeps 16-bit colour, which PIL cuts to 8 bits.
_PIL_FORMATS = (".jpg", ".jpeg")


def _decode_pil(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGB")
            return np.asarray(im)
    except FileNotFoundError as e:
        raise ImageReadError(f"cannot read image file {path}: {e}") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"cannot decode image file {path}: {e}") from e


def _decode_cv2(path: Path) -> np.ndarray:
    """Decoded pixels in RGB(A) order."""
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"cannot read image file {path}: {e}") from e
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise ImageReadError(f"cannot decode image file {path}: empty, corrupt or not an image")
    if img.ndim == 3 and img.shape[2] == 3:
        img = img[:, :, ::-1]  # BGR -> RGB
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, [2, 1, 0, 3]]  # BGRA -> RGBA
    return img


def decode_image(path: str | Path, exif: bool = True) -> np.ndarray:
    """Read an image as RGB HxWx3 in its file's own type: uint8, uint16 or float32 in [0, 1].

    Grayscale is replicated to three channels; the alpha channel of RGBA files is dropped;
    EXIF orientation is applied. Raises `ImageReadError` naming the file for anything
    unreadable. Four times smaller than `read_image`'s floats for 8-bit files, which is what
    a decoded-image cache keeps.
    """
    path = Path(path)
    img = _decode_pil(path) if path.suffix.lower() in _PIL_FORMATS else _decode_cv2(path)
    if img.dtype in (np.float32, np.float64):
        if not np.isfinite(img).all():
            raise ImageReadError(f"image file {path} holds NaN or infinite pixel values")
        img = np.clip(img.astype(np.float32), 0.0, 1.0)
    elif img.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"unsupported pixel type {img.dtype} in image file {path}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] in (3, 4):
        img = img[:, :, :3]  # alpha dropped
    else:
        raise ImageReadError(f"unsupported channel count {img.shape[2]} in image file {path}")
    if exif:
        img = _apply_orientation(img, _exif_orientation(path))
    return np.ascontiguousarray(img)


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float pixels -> float32 in [0, 1] (integers scaled by their full range)."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    return img.astype(np.float32, copy=False)


def read_image(path: str | Path, exif: bool = True) -> np.ndarray:
    """Read an image as float32 RGB HxWx3 in [0, 1] (8- and 16-bit files scaled by their full
    range; see `decode_image`). Raises `ImageReadError` naming the file for anything unreadable.
    """
    return to_float(decode_image(path, exif))


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file, from its header when possible (cheap), else decoded."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1))
        return (w, h) if orientation in (5, 6, 7, 8) else (h, w)
    except Exception:
        img = read_image(path)  # raises ImageReadError naming the file
        return img.shape[0], img.shape[1]


def to_uint(img: np.ndarray, bits: int = 8) -> np.ndarray:
    """Float [0, 1] -> rounded unsigned integers of the given depth."""
    top = (1 << bits) - 1
    dtype = np.uint8 if bits == 8 else np.uint16
    return (np.clip(img, 0.0, 1.0) * top + 0.5).astype(dtype)


def write_image(path: str | Path, img: np.ndarray, bits: int = 8) -> Path:
    """Write a float RGB (HxWx3) or gray (HxW) image in [0, 1]; 16 bits for PNG/TIFF if asked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_uint(img, bits)
    if data.ndim == 3:
        data = data[:, :, ::-1]  # RGB -> BGR for OpenCV
    ok, enc = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(data))
    if not ok:
        raise ValueError(f"cannot encode image for {path}")
    # under a temporary name, then renamed: a killed write never leaves a truncated image
    # that a later run would skip as already written
    part = path.with_name(f".{path.name}.part")
    enc.tofile(part)
    os.replace(part, path)
    return path


def stems(paths: Iterable[Path]) -> dict[str, Path]:
    """Map file stem -> path; two files with one stem in a folder is an error."""
    out: dict[str, Path] = {}
    for p in paths:
        if p.stem in out:
            raise ValueError(f"two images share the name {p.stem!r}: {out[p.stem]} and {p}")
        out[p.stem] = p
    return out

"""Image reading: formats, bit depths, channel layouts, orientation, corrupt files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from lowlight.data.io import ImageReadError, image_size, read_image, write_image


def test_8bit_rgb_round_trip(tmp_path):
    img = np.random.default_rng(0).random((9, 7, 3)).astype(np.float32)
    path = write_image(tmp_path / "a.png", img)
    back = read_image(path)
    assert back.shape == (9, 7, 3) and back.dtype == np.float32
    assert np.abs(back - img).max() <= 0.5 / 255 + 1e-6
    # channel order: a red image stays red
    write_image(
        tmp_path / "red.png", np.dstack([np.ones((4, 4)), np.zeros((4, 4)), np.zeros((4, 4))])
    )
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [1.0, 0.0, 0.0]


def test_grayscale_becomes_three_equal_channels(tmp_path):
    Image.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5) * 10, mode="L").save(
        tmp_path / "g.png"
    )
    img = read_image(tmp_path / "g.png")
    assert img.shape == (4, 5, 3)
    assert np.array_equal(img[..., 0], img[..., 2])
    assert img[0, 1, 0] == pytest.approx(10 / 255)


def test_rgba_drops_alpha(tmp_path):
    rgba = np.zeros((3, 3, 4), dtype=np.uint8)
    rgba[..., 1] = 200  # green
    rgba[..., 3] = 0  # fully transparent: the colour must survive anyway
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.shape == (3, 3, 3)
    assert img[0, 0].tolist() == pytest.approx([0.0, 200 / 255, 0.0])


def test_16bit_keeps_its_precision(tmp_path):
    bgr = np.zeros((2, 2, 3), dtype=np.uint16)
    bgr[..., 2] = 1000  # red, a value 8 bits cannot hold
    cv2.imwrite(str(tmp_path / "deep.png"), bgr)
    img = read_image(tmp_path / "deep.png")
    assert img[0, 0, 0] == pytest.approx(1000 / 65535, abs=1e-7)
    gray16 = np.full((2, 2), 65535, dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    assert read_image(tmp_path / "g16.png").tolist() == np.ones((2, 2, 3)).tolist()


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), dtype=np.uint8)
    arr[0, :10] = 255  # top-left bright strip
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    im.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    img = read_image(tmp_path / "rot.jpg")
    assert img.shape[:2] == (20, 10)
    assert image_size(tmp_path / "rot.jpg") == (20, 10)
    assert img[:10, -1].mean() > 0.8, "the top strip is now the right column"
    assert read_image(tmp_path / "rot.jpg", exif=False).shape[:2] == (10, 20)


@pytest.mark.parametrize(
    "content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 30]
)
def test_corrupt_files_raise_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(path)
    with pytest.raises(ImageReadError, match="broken.png"):
        image_size(path)


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_truncated_file_is_an_error_not_grey_pixels(tmp_path, name):
    # (OpenCV alone would decode a truncated JPEG into grey rows without complaint.)
    path = write_image(tmp_path / name, np.random.default_rng(0).random((64, 64, 3)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=name):
        read_image(path)
    if name.endswith(".jpg"):
        assert image_size(path) == (64, 64)  # the header alone is fine


def test_float_tiff_is_clipped_and_nan_refused(tmp_path):
    img = np.full((3, 3, 3), 1.5, np.float32)
    cv2.imwrite(str(tmp_path / "hdr.tif"), img)
    assert read_image(tmp_path / "hdr.tif").max() == 1.0
    img[1, 1, 1] = np.nan
    cv2.imwrite(str(tmp_path / "nan.tif"), img)
    with pytest.raises(ImageReadError, match=r"nan\.tif.*NaN"):
        read_image(tmp_path / "nan.tif")


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="nothere.png"):
        read_image(tmp_path / "nothere.png")

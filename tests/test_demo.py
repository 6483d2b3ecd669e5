"""`lowlight-demo`: its action without a browser, and the page in headless chromium."""

from __future__ import annotations

import numpy as np
import pytest
from browser import CHROMIUM, drive, free_port

import lowlight
from conftest import random_image
from lowlight.data.io import write_image
from lowlight.demo import enhance_upload, main


def _photo(h=40, w=56):
    return np.rint(random_image(np.random.default_rng(3), h, w) * 0.3 * 255).astype(np.uint8)


def test_the_demo_action_is_enhance_image_and_keeps_a_png(shipped, tmp_path):
    photo = _photo()
    out, path, report = enhance_upload(photo, "sr_x4", {"sr_x4": "sr_x4"}, tmp_path)
    assert np.array_equal(out, lowlight.enhance_image(photo, model="sr_x4"))
    assert report.startswith("sr_x4: 56x40 -> 224x160 in ")
    from lowlight.data.io import read_image

    assert np.array_equal(np.rint(read_image(path) * 255).astype(np.uint8), out)
    rgba = np.concatenate([photo, np.full_like(photo[..., :1], 255)], axis=2)
    assert np.array_equal(enhance_upload(rgba, "sr_x4", {"sr_x4": "sr_x4"}, tmp_path)[0], out)
    with pytest.raises(ValueError, match="upload a photo first"):
        enhance_upload(None, "lle", {"lle": "lle"}, tmp_path)
    with pytest.raises(ValueError, match="choose one of lle"):
        enhance_upload(photo, "nope", {"lle": "lle"}, tmp_path)


def test_the_demo_refuses_a_bad_model_option(shipped, capsys):
    pytest.importorskip("gradio")
    assert main(["--model", "mine"]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_demo_page_in_a_real_browser(shipped, tmp_path):
    pytest.importorskip("gradio")
    pytest.importorskip("playwright")
    from lowlight.demo import build_demo

    photo = write_image(tmp_path / "dark.png", _photo().astype(np.float32) / 255)
    demo = build_demo({"lle": "lle", "sr_x4": "sr_x4"}, tmp_path / "out")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        seen = drive(url, photo, None, tmp_path / "page.png")
        assert seen["report"].startswith("lle: 56x40 -> 56x40 in ")
        expected = lowlight.enhance_image(_photo(), model="lle")
        assert np.array_equal(seen["after"], expected), "the page shows the model's output"
        assert np.array_equal(seen["download"], expected), "and offers it for download"
        assert (tmp_path / "page.png").stat().st_size > 10_000
        seen = drive(url, photo, "sr_x4", None)
        assert seen["after"].shape == (160, 224, 3)
        assert np.array_equal(seen["after"], lowlight.enhance_image(_photo(), model="sr_x4"))
    finally:
        demo.close()

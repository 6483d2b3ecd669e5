"""Drive `lowlight-demo` in headless Debian chromium with Playwright, as a person would.

Used by tests/test_demo.py, and to take the screenshot in docs/ with the shipped models:

    python tests/browser.py PHOTO [--model lle] [--screenshot docs/demo.png]
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking flags chromium keeps dialling out on a closed network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(url: str, photo: Path, model: str | None, screenshot: Path | None) -> dict:
    """Load the page, upload `photo`, pick `model`, press Enhance; return the report line,
    the After image and the downloadable file's bytes as the browser received them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#enhance", timeout=60_000)
            page.set_input_files("#before input[type=file]", str(photo))
            page.wait_for_selector("#before img", timeout=60_000)
            if model:
                page.click("#model input")
                page.get_by_role("option", name=model, exact=True).click()
            page.click("#enhance")
            page.wait_for_function(
                "document.querySelector('#report').innerText.includes('->')", timeout=120_000
            )
            report = page.inner_text("#report").strip()
            src = page.get_attribute("#after img", "src")
            after = page.request.get(src if "://" in src else url.rstrip("/") + src).body()
            link = page.get_attribute("#download a", "href")
            download = page.request.get(link if "://" in link else url.rstrip("/") + link).body()
            if screenshot:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {
        "report": report,
        "after": np.asarray(Image.open(io.BytesIO(after)).convert("RGB")),
        "download": np.asarray(Image.open(io.BytesIO(download)).convert("RGB")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo")
    parser.add_argument("--model")
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    from lowlight import zoo
    from lowlight.demo import build_demo

    demo = build_demo({n: n for n in zoo.shipped_names()}, Path(tempfile.mkdtemp()))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        seen = drive(f"http://127.0.0.1:{port}/", Path(args.photo), args.model, args.screenshot)
    finally:
        demo.close()
    print(seen["report"], seen["after"].shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())

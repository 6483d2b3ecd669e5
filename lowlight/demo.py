"""A small web demo of the shipped models: upload a photo, pick a model, compare, download.

    pip install 'lowlight[demo]'
    lowlight-demo                      # http://127.0.0.1:7860
    lowlight-demo --port 8000 --host 0.0.0.0

Runs on this machine only (no share link, no analytics); the page works offline. The
models are the shipped ones (`lowlight.zoo`) unless `--model NAME=SPEC` adds a run folder
or checkpoint of yours. Large photos run tile by tile, as in `lowlight-enhance`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lowlight import zoo


def enhance_upload(
    image: np.ndarray | None, model: str, choices: dict[str, str], out_dir: Path
) -> tuple[np.ndarray, str, str]:
    """The demo's action, without Gradio: the result (HxWx3 uint8), the path of its PNG
    for download, and a one-line report."""
    from lowlight.api import enhance_image
    from lowlight.data.io import write_image

    if image is None:
        raise ValueError("upload a photo first")
    if model not in choices:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(choices)}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3])  # RGBA: drop alpha
    started = time.perf_counter()
    result = enhance_image(image, model=choices[model])
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{model}_{time.strftime('%Y%m%d-%H%M%S')}_{os.getpid()}.png"
    write_image(path, result.astype(np.float32) / 255.0)
    (h, w), (oh, ow) = image.shape[:2], result.shape[:2]
    report = f"{model}: {w}x{h} -> {ow}x{oh} in {seconds:.2f} s"
    return result, str(path), report


def build_demo(choices: dict[str, str], out_dir: Path):
    """The Gradio page. `choices` maps a name shown in the menu to a model spec."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    terms = "\n".join(f"- {line}" for line in zoo.licence_lines()) or "- (none shipped)"

    def run(image, model):
        try:
            return enhance_upload(image, model, choices, out_dir)
        except (ValueError, OSError) as e:
            raise gr.Error(str(e)) from e

    with gr.Blocks(title="lowlight demo") as demo:
        listed = ", ".join(f"`{name}`" for name in choices)
        gr.Markdown(
            f"# lowlight\nEnhance a photo on this machine (nothing is uploaded elsewhere). "
            f"Models: {listed}."
        )
        with gr.Row():
            shown = {"type": "numpy", "format": "png", "height": 420}
            before = gr.Image(label="Before", elem_id="before", **shown)
            after = gr.Image(label="After", elem_id="after", interactive=False, **shown)
        with gr.Row():
            model = gr.Dropdown(
                list(choices),
                value=zoo.DEFAULT_MODEL if zoo.DEFAULT_MODEL in choices else next(iter(choices)),
                label="Model",
                elem_id="model",
            )
            go = gr.Button("Enhance", variant="primary", elem_id="enhance")
        report = gr.Markdown(elem_id="report")
        download = gr.File(label="Download the result (PNG)", elem_id="download")
        gr.Markdown(f"**Models and the terms of their weights**\n{terms}")
        go.click(run, [before, model], [after, download, report])
    return demo


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lowlight-demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: local)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="add a model: a run folder or checkpoint of yours (repeatable)",
    )
    p.add_argument("--outputs", help="where results are kept for download (default: a temp dir)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("error: the demo needs Gradio: pip install 'lowlight[demo]'", file=sys.stderr)
        return 2
    choices = {name: name for name in zoo.shipped_names()}
    for item in args.model:
        name, sep, spec = item.partition("=")
        if not sep or not name or not Path(spec).exists():
            print(
                f"error: --model {item!r}: expected NAME=PATH to a run or checkpoint",
                file=sys.stderr,
            )
            return 2
        choices[name] = spec
    if not choices:
        print("error: no shipped models and no --model given", file=sys.stderr)
        return 2
    out_dir = Path(args.outputs or tempfile.mkdtemp(prefix="lowlight-demo-"))
    build_demo(choices, out_dir).launch(server_name=args.host, server_port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export a trained generator (or DCE-Net) for deployment: ONNX or TorchScript.

    lowlight-export lle                                         # export/lle.onnx
    lowlight-export logs/lle_gan/RUN --format onnx              # RUN/export/model.onnx
    lowlight-export RUN --format torchscript -o model.pt
    lowlight-export ../shared/data/weights/zero_dce_epoch99.pth --arch zero_dce

The exported graph is the whole inference function: RGB (N, 3, H, W) float32 in [0, 1] in,
clamped RGB (N, 3, scale*H, scale*W) out, with the run's colour space conversion and the
padding its network needs inside, and dynamic batch, height and width (each side at least
the network's size multiple). ONNX goes through `torch.onnx.export(dynamo=True)` (needs
`onnxscript`); TorchScript through `torch.jit.trace`. After writing, the file is run again
(onnxruntime for ONNX) on a random image of a different size and compared with PyTorch;
a difference above 1e-4, or a network whose output is not finite, is an error. A JSON file
beside each exported file (`model.onnx.json`, `model.pt.json`) records its conventions.
Existing files are replaced only with `--overwrite`; files are written under a temporary
name and renamed, so an interrupted export never leaves a truncated model behind.
`python -m lowlight.export` works too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lowlight.names import ARCHS

if TYPE_CHECKING:  # torch loads once the arguments are read: --help answers at once
    import torch

    from lowlight.loading import LoadedModel

log = logging.getLogger("lowlight.export")
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
TOLERANCE = 1e-4
# Weights go inside the .onnx (one file that can be copied alone) unless they are too big for
# protobuf's 2 GB limit; then they go to NAME.onnx.data beside it, which must travel with it.
SELF_CONTAINED_BYTES = 1 << 30


def _example(net, extra: int = 0) -> torch.Tensor:
    import torch

    side = max(64, 4 * net.size_multiple)
    gen = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, side + extra, side + 2 * extra + 3 * (extra > 0), generator=gen)


def export_onnx(model: LoadedModel, path: Path, opset: int | None = None) -> None:
    import torch

    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as e:
        raise RuntimeError(
            "ONNX export needs onnx and onnxscript: pip install 'lowlight[export]'"
        ) from e
    net = model.net.eval()
    multiple = max(2, net.size_multiple)  # export dims must allow more than one size
    dims = {
        0: torch.export.Dim("batch", min=1, max=64),
        2: torch.export.Dim("height", min=multiple, max=16384),
        3: torch.export.Dim("width", min=multiple, max=16384),
    }
    kwargs = {"opset_version": opset} if opset else {}
    weight_bytes = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    torch.onnx.export(
        net,
        (_example(net),),
        str(path),
        dynamo=True,
        dynamic_shapes=(dims,),
        input_names=["image"],
        output_names=["output"],
        verbose=False,
        external_data=weight_bytes > SELF_CONTAINED_BYTES,
        **kwargs,
    )


def run_onnx(path: Path, x: torch.Tensor) -> torch.Tensor:
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"image": x.numpy()})[0])


def export_torchscript(model: LoadedModel, path: Path) -> None:
    import torch

    net = model.net.eval()
    with warnings.catch_warnings():
        # torch.jit.trace is deprecated in favour of torch.export; it is still what C++ and
        # mobile runtimes load, which is why users ask for this format.
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(net, _example(net), check_trace=False)
        traced.save(str(path))


def run_torchscript(path: Path, x: torch.Tensor) -> torch.Tensor:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path))(x)


def verify(model: LoadedModel, path: Path, fmt: str) -> float:
    """Max |exported - PyTorch| on a random image of another size than the one exported."""
    import torch

    x = _example(model.net, extra=13)
    with torch.no_grad():
        ref = model.net(x)
        if not torch.isfinite(ref).all():
            raise ValueError(
                f"{model.name} gives non-finite values (NaN or inf) on a random image: its "
                "weights are broken (a diverged run?); not exported"
            )
        got = run_onnx(path, x) if fmt == "onnx" else run_torchscript(path, x)
    if got.shape != ref.shape:
        raise RuntimeError(
            f"{path}: output {tuple(got.shape)} for input {tuple(x.shape)}, "
            f"PyTorch gives {tuple(ref.shape)}: the size is not dynamic"
        )
    return (got - ref).abs().max().item()


def default_output(spec: Path, fmt: str) -> Path:
    """RUN/export/model.EXT for a run, RUN/export/<ckpt>.EXT for a checkpoint, else (a
    shipped name, a .pth) export/<name>.EXT under the current folder (git-ignored here)."""
    ext = FORMATS[fmt]
    if spec.is_dir():
        return spec / "export" / f"model{ext}"
    if spec.suffix == ".ckpt":
        return spec.parent.parent / "export" / f"{spec.stem}{ext}"
    return Path("export") / f"{spec.stem}{ext}"


def sidecar(path: Path) -> Path:
    """The JSON record of one exported file: `model.onnx` -> `model.onnx.json` (so an ONNX and
    a TorchScript export of one model keep a record each)."""
    return path.with_name(f"{path.name}.json")


def written_files(path: Path) -> list[Path]:
    """The model file, any external-data file the exporter put beside it, the JSON record."""
    extra = [p for p in (path.with_name(f"{path.name}.data"),) if p.is_file()]
    return [path, *extra, sidecar(path)]


def export(
    spec: str | Path,
    fmt: str,
    out: str | Path | None = None,
    arch: str = "auto",
    opset: int | None = None,
    overwrite: bool = False,
) -> dict:
    """Export, verify and describe; returns the JSON record written beside the model."""
    from lowlight.loading import load_model

    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(out) if out else default_output(Path(spec), fmt)
    taken = [p for p in (path, sidecar(path)) if p.exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]} exists: pass --overwrite to replace it")
    model = load_model(spec, arch)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written in a private folder beside the target, then renamed into place: an interrupted
    # export leaves no truncated file under the real name (ONNX's external-data file keeps
    # the model's name, so the folder keeps it too).
    work = path.parent / f".{path.name}.part"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        staged = work / path.name
        if fmt == "onnx":
            export_onnx(model, staged, opset)
        else:
            export_torchscript(model, staged)
        verified: float | None = None
        try:
            verified = verify(model, staged, fmt)
        except ImportError:
            log.warning("onnxruntime is not installed: %s is not verified", path)
        if verified is not None and verified > TOLERANCE:
            raise RuntimeError(f"{path} differs from PyTorch by {verified:.2e} (> {TOLERANCE})")
        for item in sorted(work.iterdir(), key=lambda p: p == staged):  # the model last
            os.replace(item, path.parent / item.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record = {
        "format": fmt,
        "file": path.name,
        "source": str(model.source),
        "checkpoint": str(model.checkpoint) if model.checkpoint else None,
        "input": "image: float32 RGB (N, 3, H, W) in [0, 1], H and W >= size_multiple",
        "output": "output: float32 RGB (N, 3, scale*H, scale*W) in [0, 1]",
        "scale": model.net.scale,
        "size_multiple": model.net.size_multiple,
        "color_space_inside": model.net.color_space,
        "parameters": model.num_params,
        "max_abs_diff_vs_pytorch": verified,
    }
    files = written_files(path)
    record["files"] = [p.name for p in files]
    part = sidecar(path).with_name(sidecar(path).name + ".part")
    part.write_text(json.dumps(record, indent=2) + "\n")
    part.replace(sidecar(path))
    return {"path": path, **record, "written": files}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lowlight-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="shipped name, run folder, checkpoint, or Zero-DCE .pth")
    parser.add_argument("--format", choices=sorted(FORMATS), default="onnx")
    parser.add_argument(
        "-o",
        "--output",
        help="file to write (default: RUN/export/model.EXT; for a shipped name or a .pth, "
        "export/NAME.EXT)",
    )
    parser.add_argument("--arch", choices=ARCHS, default="auto", help="what a .pth file is")
    parser.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier export of the same file"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        done = export(args.model, args.format, args.output, args.arch, args.opset, args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    diff = done["max_abs_diff_vs_pytorch"]
    check = "not verified" if diff is None else f"max |diff| vs PyTorch {diff:.1e}"
    print(f"exported {args.model} ({done['parameters']:,} parameters; {check}):")
    for path in done["written"]:
        print(f"  wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if len(done["written"]) > 2:
        print(f"  keep {done['written'][1].name} beside {done['path'].name}: it holds the weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())

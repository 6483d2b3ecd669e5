"""Models that ship with lowlight, usable without training.

Each shipped model NAME is three files in this folder (package data of the wheel):

- `NAME.safetensors`: the generator's weights (safetensors: no pickle, nothing runs on load);
- `NAME.yaml`: how to build it (`generator`: the run's `system.generator` config,
  `color_space`) and what it is (`task`, `summary`, `data`, `licence`);
- `NAME.md`: the model card (training data and its terms, the exact commands, the figures
  measured with `lowlight-evaluate`).

`load_shipped(NAME)` gives a `LoadedModel`; `lowlight.inference.load_model` (and so
`lowlight-enhance --model`, `lowlight-evaluate --methods`, `lowlight-export`,
`lowlight.enhance_image`) accepts these names wherever it accepts a run folder.
`python -m lowlight.zoo pack RUN --name NAME ...` writes the first two files from a run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

ZOO_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "lle"
_FACTS = ("task", "summary", "data", "licence")


def _folder(folder: Path | None) -> Path:
    return ZOO_DIR if folder is None else Path(folder)


def shipped_names(folder: Path | None = None) -> list[str]:
    """The names whose weights and description are both present."""
    found = _folder(folder).glob("*.yaml")
    return sorted(p.stem for p in found if p.with_suffix(".safetensors").is_file())


def is_shipped(spec: object, folder: Path | None = None) -> bool:
    return isinstance(spec, str) and spec in shipped_names(folder)


def describe(name: str, folder: Path | None = None) -> dict:
    """The model's `NAME.yaml` as a dict."""
    folder = _folder(folder)
    path = folder / f"{name}.yaml"
    if not path.is_file() or not path.with_suffix(".safetensors").is_file():
        have = ", ".join(shipped_names(folder)) or "none"
        raise FileNotFoundError(
            f"no shipped model {name!r} in {folder} (shipped: {have}); a model is a shipped "
            "name, a run folder written by lowlight-train, or a checkpoint"
        )
    info = yaml.safe_load(path.read_text())
    if not isinstance(info, dict) or "generator" not in info:
        raise ValueError(f"{path}: not a shipped-model description (no `generator` key)")
    return info


def load_shipped(name: str, folder: Path | None = None):
    """A shipped model as a `lowlight.inference.LoadedModel` (on the CPU, eval mode)."""
    from safetensors.torch import load_file

    from lowlight.inference import LoadedModel, build_net

    folder = _folder(folder)
    info = describe(name, folder)
    weights_path = folder / f"{name}.safetensors"
    weights = {k: v.float() for k, v in load_file(weights_path).items()}
    color_space = info.get("color_space", "rgb")
    net = build_net(info["generator"], weights, color_space, folder / f"{name}.yaml", weights_path)
    return LoadedModel(name, net, weights_path, checkpoint=weights_path, config=info)


def licence_lines(folder: Path | None = None) -> list[str]:
    """One line per shipped model: name, what it does, the terms of its weights."""
    lines = []
    for name in shipped_names(folder):
        info = describe(name, folder)
        lines.append(f"{name}: {info.get('summary', '')} Terms: {info.get('licence', '?')}")
    return lines


def pack(
    spec: str | Path,
    name: str,
    facts: dict[str, str],
    folder: Path | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write `NAME.safetensors` and `NAME.yaml` from a run folder or checkpoint (its EMA
    weights when it kept them), float32, ready for `load_shipped`."""
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    from lowlight.inference import load_model

    folder = _folder(folder)
    if not name.isidentifier():
        raise ValueError(f"--name must be a plain word (letters, digits, _), got {name!r}")
    missing = [k for k in _FACTS if not facts.get(k)]
    if missing:
        raise ValueError(f"pack {name}: say {', '.join('--' + k for k in missing)}")
    model = load_model(spec)
    if model.config is None or "system" not in model.config:
        raise ValueError(f"{spec}: pack takes a run folder or a checkpoint written by train")
    targets = [folder / f"{name}.safetensors", folder / f"{name}.yaml"]
    taken = [p for p in targets if p.exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]} exists: pass --overwrite to replace it")
    system = model.config["system"]
    generator = OmegaConf.to_container(OmegaConf.create(system["generator"]), resolve=True)
    state = {
        k: v.detach().float().contiguous() for k, v in model.net.generator.state_dict().items()
    }
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, targets[0], metadata={"name": name, "source": Path(model.checkpoint).name})
    info = {
        **{k: facts[k] for k in _FACTS},
        "generator": generator,
        "color_space": system.get("color_space", "rgb"),
        "parameters": sum(v.numel() for v in state.values()),
        "source_checkpoint": Path(model.checkpoint).name,
    }
    targets[1].write_text(yaml.safe_dump(info, sort_keys=False, width=100))
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lowlight.zoo", description="List or pack the shipped models."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the shipped models and their terms")
    p = sub.add_parser("pack", help="write NAME.safetensors + NAME.yaml from a run")
    p.add_argument("run", help="a run folder or checkpoint written by lowlight-train")
    p.add_argument("--name", required=True)
    for fact in _FACTS:
        p.add_argument(f"--{fact}", required=True)
    p.add_argument("--folder", default=str(ZOO_DIR), help="where to write (default: the zoo)")
    p.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(licence_lines()) or "no shipped models")
            return 0
        facts = {k: getattr(args, k) for k in _FACTS}
        for path in pack(args.run, args.name, facts, Path(args.folder), args.overwrite):
            print(f"wrote {path}")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

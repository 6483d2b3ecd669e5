"""`python -m lowlight.zoo list | pack`: list the shipped models, or pack a run as one
(`NAME.safetensors` + `NAME.yaml` in the zoo folder)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from lowlight import zoo


def pack(
    spec: str | Path,
    name: str,
    facts: dict[str, str],
    folder: Path | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write `NAME.safetensors` and `NAME.yaml` from a run folder or checkpoint (its EMA
    weights when it kept them), float32, ready for `lowlight.loading.load_shipped`."""
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    from lowlight.loading import load_model

    folder = zoo.zoo_folder(folder)
    if not name.isidentifier():
        raise ValueError(f"--name must be a plain word (letters, digits, _), got {name!r}")
    missing = [k for k in zoo.FACTS if not facts.get(k)]
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
        **{k: facts[k] for k in zoo.FACTS},
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
    for fact in zoo.FACTS:
        p.add_argument(f"--{fact}", required=True)
    p.add_argument("--folder", default=str(zoo.ZOO_DIR), help="where to write (default: the zoo)")
    p.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(zoo.licence_lines()) or "no shipped models")
            return 0
        facts = {k: getattr(args, k) for k in zoo.FACTS}
        for path in pack(args.run, args.name, facts, Path(args.folder), args.overwrite):
            print(f"wrote {path}")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
